// Replication routes: the leader's event stream (SSE) and every node's replication state.
// Wire format and protocol: docs/verifiable-replication.md.
import type { Request } from 'express';
import { AppError } from '../errors';
import { type RouteContext, type RouteHandlers } from './context';
import { requireEventLog } from './event-log';

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

export function replicationRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, replication } = ctx;

  routes.replicationEvents = [
    async (req, res) => {
      const from = startSeq(req);
      requireEventLog(kernel, ' to serve replication');
      await replication.streams.serve(req, res, from);
    },
  ];

  routes.replicationState = [(_req, res) => void res.json(replication.state())];
  return routes;
}
