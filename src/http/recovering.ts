// What the node answers while it recovers its state at start-up (snapshot load, event-log replay),
// before the app exists: the socket is open so orchestrators and operators see a recovering node
// instead of a refused connection. GET /livez answers 200 (the process is alive and must not be
// restarted: that would start recovery over), GET /health 503 {"status": "recovering"}, GET /readyz
// 503, and every other request 503 RECOVERING with Retry-After. No body is read and nothing is
// touched, so this needs no authentication: it reveals only that the node is recovering.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_BY_CODE } from './errors';

/** Seconds a client is asked to wait before retrying during recovery. */
const RETRY_AFTER_SECS = 1;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    // The real server takes over the port when recovery ends: no socket may outlive this one.
    Connection: 'close',
  });
  res.end(text);
}

/** The request listener used until recovery completes; `since` is when recovery started (ms, Date.now()). */
export function recoveringListener(version: string, since: number): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && path === '/livez') return send(res, 200, { status: 'ok' });
    if (get && path === '/readyz') return send(res, 503, { status: 'unavailable' });
    if (get && path === '/health') {
      return send(res, 503, { status: 'recovering', version, recovering_for_ms: Date.now() - since });
    }
    res.setHeader('Retry-After', String(RETRY_AFTER_SECS));
    send(res, STATUS_BY_CODE.RECOVERING, { error: 'the node is recovering its state at start-up (snapshot load, event-log replay); retry shortly', code: 'RECOVERING' });
  };
}
