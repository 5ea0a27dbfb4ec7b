// Replication routes: the leader's event stream (SSE) and every node's replication state.
// Wire format and protocol: docs/verifiable-replication.md.
import type { Request } from 'express';
import { AppError } from '../errors';
import { defineRoute, type RouteContext } from './context';

const SEQ = /^\d{1,15}$/;

/**
 * First sequence number wanted: `Last-Event-ID: L` (what an EventSource sends on reconnect)
 * means L + 1 and wins over `?from=N` (N itself); neither means 1, the whole retained log.
 */
function startSeq(req: Request): number {
  const last = req.get('last-event-id');
  if (last !== undefined && last.trim() !== '') {
    if (!SEQ.test(last.trim())) throw new AppError('INVALID_REQUEST', `Last-Event-ID must be an event sequence number, got ${JSON.stringify(last.slice(0, 40))}`);
    return Number(last.trim()) + 1;
  }
  const from = req.query.from;
  if (from === undefined) return 1;
  if (typeof from !== 'string' || !SEQ.test(from) || Number(from) < 1) {
    throw new AppError('INVALID_REQUEST', `from must be an event sequence number (1 or more), got ${JSON.stringify(String(from).slice(0, 40))}`);
  }
  return Number(from);
}

export function registerReplicationRoutes(ctx: RouteContext): void {
  const { app, kernel, replication } = ctx;

  defineRoute(app, '/v1/replication/events', {
    get: [
      async (req, res) => {
        const from = startSeq(req);
        if (kernel.logProof() === null) throw new AppError('NOT_ENABLED', 'Event log not enabled: set VALORI_EVENT_LOG_PATH to serve replication');
        await replication.streams.serve(req, res, from);
      },
    ],
  });

  defineRoute(app, '/v1/replication/state', {
    get: [(_req, res) => void res.json(replication.state())],
  });
}
