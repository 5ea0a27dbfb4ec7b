// Orchestrator probes, open without a token (docs/operations.md, "Probes"):
// - GET /livez: the process serves HTTP. Nothing else: restarting a node because a pool is full or
//   a disk failed would not help, and /health (503 when full) restarted full nodes in a loop.
// - GET /readyz: this node should receive traffic now. These routes exist only once recovery is
//   done (until then src/http/recovering.ts answers on the port: /livez 200, /readyz 503), so the
//   checks here are: no snapshot restore in progress, not read-only after an I/O fault, and on a
//   follower streaming from its leader within VALORI_READY_MAX_LAG events, and on a cluster member
//   a leader known (and, on the leader, a quorum acknowledging it).
// Both bodies are one word, because anyone who can reach the port can read them: the reason a node
// is not ready is in /health, /v1/replication/state and the log, behind the token.
import type { Response } from 'express';
import type { Config } from '../../config';
import type { ClusterNode } from '../../cluster/node';
import type { Kernel } from '../../kernel/kernel';
import type { Replication } from '../../replication/runtime';
import type { RouteContext, RouteHandlers } from './context';

function answer(res: Response, ok: boolean): void {
  // A probe reads the state right now; no proxy or client may reuse an older answer.
  res.set('Cache-Control', 'no-store');
  res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable' });
}

/** Whether this node should take traffic; see the header comment for the conditions. */
export function isReady(kernel: Kernel, replication: Replication, config: Pick<Config, 'readyMaxLag'>, cluster: ClusterNode | null = null): boolean {
  // A cluster member serves linearizable reads and forwards writes only while it knows a leader.
  if (cluster !== null) {
    const s = cluster.status();
    // A leader cut off from its quorum knows a leader (itself) but can neither commit nor confirm a read.
    if (s.currentLeader == null || s.quorumLost) return false;
  }
  // Odd while a snapshot restore (or a follower's bootstrap) replaces the state.
  if (kernel.restoreEpoch % 2 !== 0) return false;
  if (kernel.stats().readOnly) return false;
  const follower = replication.follower;
  if (follower === null) return true;
  // Synced and CatchingUp are the streaming states; Connecting, Bootstrapping and Diverged are not.
  const status = follower.status();
  if (status !== 'Synced' && status !== 'CatchingUp') return false;
  return follower.lag() <= config.readyMaxLag;
}

export function probeRoutes(ctx: RouteContext): RouteHandlers {
  const { kernel, replication, config } = ctx;
  return {
    livez: [(_req, res) => answer(res, true)],
    readyz: [(_req, res) => answer(res, isReady(kernel, replication, config, ctx.cluster ?? null))],
  };
}
