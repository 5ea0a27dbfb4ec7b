// What a cluster member (docs/CLUSTER.md) does before a route runs:
// - a write on a node that is not the leader answers 307 to the leader's API with the same path
//   and query (so `curl -L` and the client re-send it there), or 503 NO_LEADER while none is known;
// - a read of the state waits for the read barrier first (linearizable: it sees every write
//   acknowledged before it began), unless it asks for `consistency=local` (query) or
//   `"consistency": "local"` (body), or VALORI_READ_CONSISTENCY=local made that the default;
// - routes that would replace the state outside the Raft log (snapshot upload and restore) or cut
//   the log by hand are refused: Raft snapshots and log compaction do that.
import type { Request, RequestHandler } from 'express';
import { findRoute, type RouteSpec } from '../api/routes';
import type { ClusterNode } from '../cluster/node';
import { FOLLOWER_LOCAL_POSTS, pathAndQuery } from '../replication/read-only';
import { AppError } from './errors';

/** Routes a cluster member does not serve, with the reason. */
const CLUSTER_REFUSED: ReadonlyMap<string, string> = new Map([
  ['uploadSnapshot', 'replacing the state of one member would make it diverge from the others: restore into a standalone node, then seed a new cluster from it (docs/CLUSTER.md)'],
  ['restoreSnapshot', 'replacing the state of one member would make it diverge from the others: restore into a standalone node, then seed a new cluster from it (docs/CLUSTER.md)'],
  ['trimEventLog', 'the Raft log is compacted after each Raft snapshot (VALORI_SNAPSHOT_EVERY_EVENTS); there is nothing to trim by hand'],
]);

/** Route tags whose reads see the replicated state and so wait for the read barrier. */
const STATE_READ_TAGS: ReadonlySet<string> = new Set(['Collections', 'Records', 'Graph', 'Memory']);

function isWrite(req: Request): boolean {
  if (req.method === 'POST') return !FOLLOWER_LOCAL_POSTS.has(req.path);
  return (req.method === 'DELETE' || req.method === 'PATCH') && findRoute(req.method, req.path)?.write === true;
}

/** 307 to the leader, or 503 NO_LEADER; null when this node leads. */
export function notLeader(cluster: ClusterNode, req: Request): AppError | null {
  if (cluster.isLeader()) return null;
  const status = cluster.status();
  if (status.isLeader) return null;
  const leader = cluster.leaderUrl(status);
  if (leader === null) {
    return new AppError('NO_LEADER', 'no leader is known (an election is running, or this node is cut off from the majority): retry shortly', { 'Retry-After': '1' });
  }
  return new AppError('NOT_LEADER', `this node is not the cluster's leader: send writes to node ${status.currentLeader} at ${leader}`, {
    Location: leader + pathAndQuery(req.originalUrl),
  });
}

/** Before the routes: writes reach the leader, refused routes answer 400. */
export function clusterWrites(cluster: ClusterNode): RequestHandler {
  return (req, _res, next) => {
    const route = findRoute(req.method, req.path);
    const refused = route === undefined ? undefined : CLUSTER_REFUSED.get(route.id);
    if (refused !== undefined) return next(new AppError('NOT_ENABLED', `${req.method} ${req.path} is not served by a cluster member: ${refused}`));
    if (!isWrite(req) || req.path.startsWith('/v1/cluster/')) return next();
    next(notLeader(cluster, req) ?? undefined);
  };
}

/**
 * The query without its `consistency` parameter: routes validate their queries against closed
 * schemas, and Express re-parses req.query from req.url on every read.
 */
function withoutConsistency(req: Request): string | undefined {
  const q = req.url.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(req.url.slice(q + 1));
  const value = params.get('consistency') ?? undefined;
  if (value === undefined) return undefined;
  params.delete('consistency');
  const rest = params.toString();
  req.url = req.url.slice(0, q) + (rest === '' ? '' : `?${rest}`);
  return value;
}

/** The read barrier of one route, placed before its last handler (the body is parsed by then). */
export function readGate(cluster: ClusterNode, defaultMode: 'linearizable' | 'local'): (spec: RouteSpec) => RequestHandler | null {
  return (spec) => {
    if (spec.write === true || !STATE_READ_TAGS.has(spec.tag) || (spec.method !== 'get' && spec.method !== 'post')) return null;
    return (req, _res, next) => {
      const fromQuery = withoutConsistency(req);
      const body: unknown = req.body;
      const fromBody = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { consistency?: unknown }).consistency : undefined;
      const mode = fromQuery ?? (fromBody == null ? defaultMode : fromBody);
      if (mode === 'local') return next();
      if (mode !== 'linearizable') return next(new AppError('INVALID_REQUEST', `consistency must be "linearizable" or "local", got ${JSON.stringify(mode)}`));
      cluster.readBarrier().then(() => next(), next);
    };
  };
}
