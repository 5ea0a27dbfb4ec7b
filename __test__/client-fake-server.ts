// A small fake HTTP server (node:http on 127.0.0.1:0) that records what the TypeScript client sends
// and answers from a handler, so the client is tested apart from the real server.
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { ValoriClientOptions } from '../src/client';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, or undefined. */
  json: any;
}

export type Handler = (req: Seen, res: ServerResponse) => void;

export interface Fake {
  url: string;
  origin: string;
  seen: Seen[];
  /** Replaces the handler and forgets earlier requests. */
  handle(h: Handler): void;
  close(): Promise<void>;
}

export async function fakeServer(): Promise<Fake> {
  const seen: Seen[] = [];
  let handler: Handler = (_q, res) => send(res, 500, { error: 'no handler', code: 'INTERNAL' });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = undefined;
      }
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    origin: url,
    seen,
    handle(h) {
      handler = h;
      seen.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
  res.end(text);
}

/** Answers `METHOD /path` (query string included) from a table; anything else is a 404. */
export function routes(table: Record<string, [number, unknown] | ((req: Seen, res: ServerResponse) => void)>): Handler {
  return (req, res) => {
    const entry = table[`${req.method} ${req.url}`];
    if (entry === undefined) return send(res, 404, { error: `no route ${req.method} ${req.url}`, code: 'ROUTE_NOT_FOUND' });
    if (typeof entry === 'function') return entry(req, res);
    send(res, entry[0], entry[1]);
  };
}

/** A port nothing listens on: bind one, then close it. */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Fast retries so the tests do not wait on real backoff. */
export const FAST: Partial<ValoriClientOptions> = { backoffMs: 1, maxBackoffMs: 5, timeoutMs: 5_000 };
