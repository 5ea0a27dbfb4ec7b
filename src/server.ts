// Owns the listening socket. stop() is safe to call when nothing was started, and twice.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { BindAddress, Config } from './config';

/** Connection limits (docs/security.md); see VALORI_REQUEST_TIMEOUT_MS and friends in config.ts. */
export interface ServerLimits {
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

export function serverLimits(config: Config): ServerLimits {
  return { requestTimeoutMs: config.requestTimeoutMs, idleTimeoutMs: config.idleTimeoutMs, maxConnections: config.maxConnections };
}

/** The config defaults, for callers (tests) that do not pass a config. */
const DEFAULT_LIMITS: ServerLimits = { requestTimeoutMs: 120_000, idleTimeoutMs: 30_000, maxConnections: 4_096 };
/** Headers must arrive within this (or the request timeout when shorter). */
const HEADERS_TIMEOUT_MS = 60_000;
/** An idle keep-alive connection between requests closes after this (Node's default, made explicit). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface RunningServer {
  /** Resolves with the bound address (the real port when VALORI_BIND asked for port 0). */
  start(): Promise<AddressInfo>;
  stop(): Promise<void>;
}

/** Formats an address the way the readiness line and clients write it (IPv6 in brackets). */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

// While stopping, idle keep-alive sockets are closed on this period (responses that were in
// flight when stop() began leave their socket idle afterwards).
const DRAIN_POLL_MS = 50;

/**
 * The idle timeout guards the wire: a client that stops sending its request or stops reading the
 * response. While the node itself works on a complete request (an index build or a large restore
 * can take minutes) the socket is quiet by design, so the timer is off from the end of the
 * request until the response starts, then back on.
 */
function idleOnlyOnTheWire(req: IncomingMessage, res: ServerResponse, idleMs: number): void {
  const socket = req.socket;
  const pause = (): void => {
    if (!res.headersSent && !res.writableEnded) socket.setTimeout(0);
  };
  const resume = (): void => {
    if (!socket.destroyed) socket.setTimeout(idleMs);
  };
  // A request without a body is complete at its headers (Node flags it a moment later).
  const bodyless = req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] ?? '0') === '0';
  if (req.complete || bodyless) pause();
  else req.once('end', pause);
  // Every way a response starts goes through writeHead (send, json, end, flushHeaders).
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    resume();
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
  res.once('close', resume);
}

export function createHttpServer(app: RequestListener, bind: BindAddress, limits: ServerLimits = DEFAULT_LIMITS): RunningServer {
  let server: Server | undefined;
  let stopping = false;

  return {
    start() {
      if (server !== undefined) return Promise.reject(new Error('server already started'));
      // Once stopping, every response says `Connection: close`, so a client that keeps sending on
      // a keep-alive socket gets its current answer and then the socket ends (Node would otherwise
      // keep serving busy keep-alive sockets after close(), and a drain could wait for clients).
      const headersTimeout = Math.min(HEADERS_TIMEOUT_MS, limits.requestTimeoutMs);
      const s = createServer(
        {
          // A whole request (headers and body) must arrive within the request timeout, so a client
          // trickling a body cannot hold a socket for ever; Node answers 408 and closes it. Node
          // checks these deadlines on this period, so it follows the timeout it enforces.
          requestTimeout: limits.requestTimeoutMs,
          headersTimeout,
          connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeout / 4))),
          keepAliveTimeout: Math.min(KEEP_ALIVE_TIMEOUT_MS, limits.idleTimeoutMs),
        },
        (req, res) => {
          if (stopping) res.setHeader('Connection', 'close');
          idleOnlyOnTheWire(req, res, limits.idleTimeoutMs);
          app(req, res);
        },
      );
      // No traffic either way for this long closes the socket (no 'timeout' listener: Node destroys
      // it). Replication streams raise it for their own sockets (heartbeats keep them busy).
      s.setTimeout(limits.idleTimeoutMs);
      // Beyond this many open sockets Node closes new connections on accept, so a flood of idle
      // or slow clients exhausts this budget instead of the process's file descriptors.
      s.maxConnections = limits.maxConnections;
      server = s;
      return new Promise<AddressInfo>((resolve, reject) => {
        s.once('error', reject);
        s.listen(bind.port, bind.host, () => {
          s.off('error', reject);
          resolve(s.address() as AddressInfo);
        });
      });
    },
    stop() {
      const s = server;
      server = undefined;
      if (s === undefined || !s.listening) return Promise.resolve();
      stopping = true;
      return new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => s.closeIdleConnections(), DRAIN_POLL_MS);
        s.close((err) => {
          clearInterval(poll);
          stopping = false;
          if (err) reject(err);
          else resolve();
        });
        // close() waits for open sockets; idle ones can go now, busy ones finish their current
        // response (marked Connection: close) first.
        s.closeIdleConnections();
      });
    },
  };
}
