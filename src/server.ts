// Owns the listening socket. stop() is safe to call when nothing was started, and twice.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { BindAddress } from './config';

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

export function createHttpServer(app: RequestListener, bind: BindAddress): RunningServer {
  let server: Server | undefined;
  let stopping = false;

  return {
    start() {
      if (server !== undefined) return Promise.reject(new Error('server already started'));
      // Once stopping, every response says `Connection: close`, so a client that keeps sending on
      // a keep-alive socket gets its current answer and then the socket ends (Node would otherwise
      // keep serving busy keep-alive sockets after close(), and a drain could wait for clients).
      const s = createServer((req, res) => {
        if (stopping) res.setHeader('Connection', 'close');
        app(req, res);
      });
      // Bodies up to VALORI_MAX_BODY_BYTES can take a while to arrive; Node's 5-minute default
      // request timeout would cut a slow 300 MB upload, so only headers get a deadline.
      s.requestTimeout = 0;
      s.headersTimeout = 60_000;
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
