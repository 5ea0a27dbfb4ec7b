// A follower is read-only: every write answers 307 with Location = the same path and query on
// the leader, so `curl -L` and the TypeScript client re-send it there with the same method and
// body. The original accepted writes on followers, which silently made them diverge.
//
// The rule comes from the route table (src/api/routes.ts): a route marked `write` changes the
// replicated state. Every POST is a write unless the table says otherwise, so a write route added
// later, or a POST to no route at all, is redirected by default.
import type { RequestHandler } from 'express';
import { ROUTES, findRoute } from '../api/routes';
import { AppError } from '../http/errors';

/**
 * POSTs a follower serves itself: the routes the table does not mark `write` (searches, and local
 * disk, index and key maintenance that does not change the state hash or height). Snapshot upload
 * and restore replace the state: they are writes and go to the leader (whose followers then
 * re-bootstrap).
 */
export const FOLLOWER_LOCAL_POSTS: ReadonlySet<string> = new Set(
  (ROUTES as readonly { method: string; path: string; write?: true }[]).filter((r) => r.method === 'post' && r.write !== true).map((r) => r.path),
);

/**
 * The path and query of a request target. An absolute-form target ("POST http://host/x") would
 * otherwise be appended whole to the leader's URL.
 */
export function pathAndQuery(target: string): string {
  if (target.startsWith('/')) return target;
  try {
    const u = new URL(target);
    return u.pathname + u.search;
  } catch {
    return '/';
  }
}

export function redirectWritesToLeader(leaderUrl: string): RequestHandler {
  return (req, _res, next) => {
    // DELETEs and PATCHes the table marks `write` (dropping a collection, replacing a record's
    // metadata) go to the leader too; others (this node's own API keys) are served here.
    const write =
      req.method === 'POST' ? !FOLLOWER_LOCAL_POSTS.has(req.path) : (req.method === 'DELETE' || req.method === 'PATCH') && findRoute(req.method, req.path)?.write === true;
    if (!write) return next();
    next(
      new AppError('NOT_LEADER', `this node is a read-only follower: send writes to the leader at ${leaderUrl}`, {
        Location: leaderUrl + pathAndQuery(req.originalUrl),
      }),
    );
  };
}
