// The Raft cluster's routes (docs/CLUSTER.md): a member's view of the cluster, a health answer
// for load balancers, its role, and membership changes (on the leader: the cluster gate sends
// them there with a 307 like any write). On a standalone node every one answers 400 NOT_ENABLED.
import type { RequestHandler } from 'express';
import type { ClusterNode } from '../../cluster/node';
import { AppError } from '../errors';
import { check } from '../schemas';
import type { RouteContext, RouteHandlers } from './context';

function notEnabled(): RequestHandler {
  return (req, _res, next) => {
    next(new AppError('NOT_ENABLED', `${req.path} needs cluster mode (VALORI_CLUSTER_MEMBERS): this node runs standalone`));
  };
}

export function clusterRoutes(ctx: RouteContext, cluster: ClusterNode | null): RouteHandlers {
  if (cluster === null) {
    return { clusterStatus: [notEnabled()], clusterHealth: [notEnabled()], clusterRole: [notEnabled()], clusterAddNode: [notEnabled()], clusterRemoveNode: [notEnabled()] };
  }
  const { kernel, validators: v } = ctx;
  return {
    clusterStatus: [
      (_req, res) => {
        const s = cluster.status();
        res.set('Cache-Control', 'no-store').json({
          node_id: s.nodeId,
          current_leader: s.currentLeader ?? null,
          is_leader: s.isLeader,
          role: s.role,
          term: s.term,
          last_log_index: s.lastLogIndex ?? null,
          last_applied_index: s.lastAppliedIndex ?? null,
          snapshot_index: s.snapshotIndex ?? null,
          purged_index: s.purgedIndex ?? null,
          height: kernel.stats().height,
          elections: s.elections,
          quorum_ack_age_ms: s.quorumAckAgeMs ?? null,
          quorum_lost: s.quorumLost,
          members: s.members.map((m) => ({ id: m.id, raft_addr: m.raftAddr, api_addr: m.apiAddr, voter: m.voter })),
          joining: s.joining.map((j) => ({ id: j.id, state: j.state })),
        });
      },
    ],
    clusterHealth: [
      (_req, res) => {
        const s = cluster.status();
        const status = s.currentLeader == null || s.fatal != null ? 'no_leader' : s.quorumLost ? 'no_quorum' : 'ok';
        res.set('Cache-Control', 'no-store').status(status === 'ok' ? 200 : 503).json({ status, leader: s.currentLeader ?? null });
      },
    ],
    clusterRole: [
      (_req, res) => {
        const s = cluster.status();
        res.set('Cache-Control', 'no-store').json({ role: s.role, node_id: s.nodeId, current_leader: s.currentLeader ?? null });
      },
    ],
    clusterAddNode: [
      ...ctx.json,
      async (req, res) => {
        const body = check(v.clusterAddNode, req.body);
        await cluster.addNode(body.node_id, body.raft_addr, body.api_addr);
        res.json({ ok: true, node_id: body.node_id, state: 'learner' });
      },
    ],
    clusterRemoveNode: [
      ...ctx.json,
      async (req, res) => {
        const body = check(v.clusterRemoveNode, req.body);
        await cluster.removeNode(body.node_id);
        res.json({ ok: true, node_id: body.node_id, state: 'removed' });
      },
    ],
  };
}
