// A follower is read-only: every write answers 307 with Location = the same path and query on
// the leader, so `curl -L` and the TypeScript client re-send it there with the same method and
// body. The original accepted writes on followers, which silently made them diverge.
//
// Every POST is a write unless listed here, so a write route added later is redirected by default.
import type { RequestHandler } from 'express';
import { AppError } from '../http/errors';

/**
 * POSTs a follower serves itself: searches (reads that take a JSON body), and local disk
 * maintenance that does not change the state (hash or height): writing a snapshot of this node's
 * state and trimming this node's own log behind it. Snapshot upload and restore replace the state:
 * they are writes and go to the leader (whose followers then re-bootstrap).
 */
export const FOLLOWER_LOCAL_POSTS: ReadonlySet<string> = new Set([
  '/search',
  '/v1/memory/search_vector',
  '/v1/snapshot/save',
  '/v1/event-log/trim',
  // The index is derived, node-local state (not in the state hash).
  '/v1/index/build',
  // API keys are this node's own credentials, never replicated.
  '/v1/keys',
]);

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
    if (req.method !== 'POST' || FOLLOWER_LOCAL_POSTS.has(req.path)) return next();
    next(
      new AppError('NOT_LEADER', `this node is a read-only follower: send writes to the leader at ${leaderUrl}`, {
        Location: leaderUrl + pathAndQuery(req.originalUrl),
      }),
    );
  };
}
