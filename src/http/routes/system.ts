// Operational routes: /health (public), /metrics (public), /version, /openapi.json, /v1/proof/state.
import { KERNEL_VERSION, type Kernel, type StateProof } from '../../kernel/kernel';
import type { PoolStats } from '../../kernel/native';
import type { Config } from '../../config';
import { type RouteContext, type RouteHandlers } from './context';
import { parseHeightQuery, proofAt } from '../../replication/proofs';
import { buildOpenApiDocument } from '../../openapi';
import { AppError } from '../errors';
import { schemaLimits } from '../schemas';
import { collectionOf, requireUnrestricted } from '../scope';

export const VERSION: string = (require('../../../package.json') as { version: string }).version;

const INDEX_NAMES: Record<Config['index'], string> = { brute: 'BruteForce', hnsw: 'Hnsw', ivf: 'Ivf' };

type HealthStatus = 'ok' | 'degraded' | 'full';

interface PoolHealth {
  live: number;
  slots_used: number;
  capacity: number;
  fill_pct: number;
}

/** Fill counts slots held against capacity (live + soft-deleted); capacity 0 means fill 0. */
function poolHealth(p: PoolStats): { body: PoolHealth; status: HealthStatus } {
  const fill = p.capacity === 0 ? 0 : (p.used / p.capacity) * 100;
  const status: HealthStatus = p.capacity > 0 && p.used >= p.capacity ? 'full' : fill >= 90 ? 'degraded' : 'ok';
  return { body: { live: p.live, slots_used: p.used, capacity: p.capacity, fill_pct: Math.round(fill * 10) / 10 }, status };
}

const RANK: Record<HealthStatus, number> = { ok: 0, degraded: 1, full: 2 };

/** Collections whose hash is remembered at once; beyond it the memory starts over. */
const MAX_CACHED_COLLECTION_PROOFS = 1_024;

/**
 * Per-collection hashes, each reused while the height and the restore epoch stay where they were
 * (as the whole-state proof is, src/replication/proofs.ts), so polling a tenant's hash costs one
 * hash per write, not one per poll.
 */
class CollectionProofs {
  private readonly known = new Map<string, { epoch: number; proof: StateProof }>();

  constructor(private readonly kernel: Kernel) {}

  async get(collection: string): Promise<StateProof> {
    const epoch = this.kernel.restoreEpoch;
    const hit = this.known.get(collection);
    if (hit !== undefined && hit.epoch === epoch && epoch % 2 === 0 && hit.proof.height === this.kernel.stats().height) return hit.proof;
    const proof = await this.kernel.stateProof(collection);
    // Only a proof taken outside a restore, in the epoch it started in, may be reused.
    if (epoch % 2 === 0 && this.kernel.restoreEpoch === epoch) {
      if (this.known.size >= MAX_CACHED_COLLECTION_PROOFS) this.known.clear();
      this.known.set(collection, { epoch, proof });
    }
    return proof;
  }
}

export function systemRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, metrics, config, replication } = ctx;
  const collectionProofs = new CollectionProofs(kernel);

  routes.health = [
    (_req, res) => {
      const stats = kernel.stats();
      const pools = { records: poolHealth(stats.records), nodes: poolHealth(stats.nodes), edges: poolHealth(stats.edges) };
      let status = Object.values(pools).reduce<HealthStatus>((worst, p) => (RANK[p.status] > RANK[worst] ? p.status : worst), 'ok');
      // A node that refuses writes after an I/O failure still serves reads: degraded, not down.
      if (stats.readOnly && status === 'ok') status = 'degraded';
      // Key order is part of the contract (deployment guide); extra keys follow it.
      const body: Record<string, unknown> = {
        status,
        version: VERSION,
        dim: stats.dim,
        index: INDEX_NAMES[config.index],
        persistence: ctx.cluster != null ? 'raft' : stats.persistence,
        records: pools.records.body,
        nodes: pools.nodes.body,
        edges: pools.edges.body,
      };
      if (stats.eventLogHeight != null) body.event_log_height = stats.eventLogHeight;
      body.read_only = stats.readOnly;
      // Why writes are refused after a fault (failed log write, committer panic); absent otherwise.
      if (stats.readOnlyReason != null) body.read_only_reason = stats.readOnlyReason;
      body.quant = stats.quant;
      // Collections on this node, default included (GET /v1/namespaces lists them).
      body.collections = stats.collections;
      if (ctx.cluster != null) {
        const c = ctx.cluster.status();
        body.cluster = { node_id: c.nodeId, role: c.role, leader: c.currentLeader ?? null, term: c.term, last_applied_index: c.lastAppliedIndex ?? null, quorum_lost: c.quorumLost };
        // A leader cut off from its quorum serves stale reads locally and commits nothing.
        if (c.quorumLost && status === 'ok') status = 'degraded';
      }
      res.status(status === 'full' ? 503 : 200).json(body);
    },
  ];

  routes.metrics = [
    async (_req, res) => {
      const text = await metrics.registry.metrics();
      res.set('Content-Type', metrics.registry.contentType).send(text);
    },
  ];

  routes.version = [(_req, res) => void res.type('text/plain').send(VERSION)];

  // Built once: it depends only on the version and the schema caps (VALORI_MAX_K, _EF, _NPROBE, _BATCH_ROWS). Protected like every route but
  // /health and /metrics: it describes the API, and anyone allowed to call the API may read it.
  const openapi = buildOpenApiDocument({ maxK: config.maxK, version: VERSION, limits: schemaLimits(config) });
  routes.openapi = [(_req, res) => void res.json(openapi)];

  routes.proofState = [
    async (req, res) => {
      const height = parseHeightQuery(req.query.height);
      if (req.query.collection !== undefined) {
        // One collection's own hash (its config and data only), so a tenant can check its data
        // without the others'. Computed now: the ring of past proofs holds whole-state hashes.
        const collection = collectionOf(res, req.query.collection);
        if (height !== null) throw new AppError('INVALID_REQUEST', 'height and collection cannot be combined: a collection hash is given for the current height only');
        const own = await collectionProofs.get(collection);
        metrics.proofGenerated();
        res.json({ kernel_version: KERNEL_VERSION, snapshot_hash: null, wal_hash: null, final_state_hash: own.hash, height: own.height, collection });
        return;
      }
      requireUnrestricted(res, 'the whole-state hash');
      // ?height=N answers from the ring of recent proofs, so replicas compare equal heights.
      const proof = await proofAt(kernel, replication.ring, height);
      metrics.proofGenerated();
      // This route proves the in-memory state only; it hashes no snapshot or WAL file, so those
      // fields are always null (never the original's zeros, which look like a real hash). The
      // event log has its own proof, GET /v1/proof/event-log.
      res.json({ kernel_version: KERNEL_VERSION, snapshot_hash: null, wal_hash: null, final_state_hash: proof.hash, height: proof.height });
    },
  ];
  return routes;
}
