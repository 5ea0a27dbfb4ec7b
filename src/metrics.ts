// Prometheus metrics in our own Registry (no global state, so tests can build many apps). Kernel
// gauges read the O(1) native stats inside collect(), i.e. at scrape time: they are always
// current without any write path touching them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { KERNEL_VERSION } from './kernel/kernel';
import type { KernelStats } from './kernel/native';

// Read here rather than from the HTTP layer: metrics must not depend on a route module.
const VERSION: string = (require('../package.json') as { version: string }).version;

/** What the per-collection gauges read (the kernel's CollectionInfo has these fields). */
export interface CollectionGaugeSource {
  name: string;
  records: { live: number; used: number; capacity: number };
}

export interface Metrics {
  readonly registry: Registry;
  /** Counts GET /v1/proof/state calls (valori_proofs_generated_total). */
  proofGenerated(): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Durable commit latency of one write (valori_event_commit_duration_seconds). */
  observeCommit(seconds: number): void;
  /** Start-up recovery time (valori_replay_duration_seconds). */
  observeReplay(seconds: number): void;
  /**
   * A snapshot was written (valori_snapshot_size_bytes). `recovery` is true for the snapshot at
   * VALORI_SNAPSHOT_PATH (scheduled, shutdown or an unnamed save): only that one bounds the next
   * start-up's replay, so only it moves valori_snapshot_last_success_timestamp_seconds.
   */
  snapshotWritten(bytes: number, recovery?: boolean): void;
  /** A scheduled run found the recovery snapshot already at the current height: it is current. */
  snapshotUpToDate(): void;
  /** A snapshot save failed for a reason other than the request itself (valori_snapshot_failures_total). */
  snapshotFailed(): void;
  /** The auto-snapshot period, null when off (valori_snapshot_interval_seconds). */
  snapshotSchedule(intervalSecs: number | null): void;
  /** An automatic checkpoint ended (valori_checkpoints_total, valori_checkpoint_duration_seconds, valori_checkpoint_height). */
  checkpointDone(result: { ok: true; seconds: number; height: number } | { ok: false }): void;
  /** One error answer from the error mapper (valori_http_errors_total); `route` is the pattern. */
  httpError(route: string, code: string): void;
  /** Replication lag and status, read at scrape time (set by the replication runtime). */
  observeReplication(read: () => ReplicationGauges): void;
  /** One leader event committed by this follower (valori_replication_events_applied_total). */
  replicationApplied(): void;
}

/** Every value valori_replication_status can report; exactly one series is 1 at a time. */
export const REPLICATION_STATUSES = ['Leading', 'Connecting', 'Bootstrapping', 'CatchingUp', 'Synced', 'Diverged'] as const;
export type ReplicationStatus = (typeof REPLICATION_STATUSES)[number];

export interface ReplicationGauges {
  /**
   * Leader height minus applied height (0 on a leader); null while the follower is not streaming
   * from its leader, when the last known leader height may be long stale (exported as NaN).
   */
  lagEvents: number | null;
  status: ReplicationStatus;
  /** A follower's last contact with its leader succeeded; null on a leader (gauge absent). */
  leaderReachable: boolean | null;
}

function ratio(part: number, capacity: number): number {
  return capacity === 0 ? 0 : part / capacity;
}

/**
 * `collections` is read at scrape time (O(collections)); its label set is bounded by the kernel's
 * 10,000-collection cap, and a dropped collection's series disappear at the next scrape.
 */
export function createMetrics(
  stats: () => KernelStats,
  collections: () => readonly CollectionGaugeSource[] = () => [],
  /** Event-log file size in bytes, null without an event log (the kernel's logProof().bytes). */
  eventLogBytes: () => number | null = () => null,
  /** VALORI_FOLLOWER_OF is set: the follower-only families are registered. */
  follower = false,
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const gauge = (name: string, help: string, read: (s: KernelStats) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(stats()));
      },
    });
  };
  // Fill ratios count what the capacity check counts (507 and /health "full"): for records that is
  // live plus soft-deleted, since only a hard delete frees a slot. So the guide's alert
  // (valori_record_fill_ratio > 0.9) also fires for a pool full of soft-deleted records.
  gauge('valori_records_live', 'Number of live (non-deleted) records in the store', (s) => s.records.live);
  gauge('valori_records_used', 'Records held against capacity: live plus soft-deleted (a hard delete frees its slot)', (s) => s.records.used);
  gauge('valori_records_capacity', 'Maximum records allowed (VALORI_MAX_RECORDS)', (s) => s.records.capacity);
  gauge('valori_record_fill_ratio', 'Records held against capacity (live + soft-deleted) divided by capacity (0.0-1.0); inserts answer 507 at 1; alert above 0.9', (s) => ratio(s.records.used, s.records.capacity));
  // Graph pools under valori_graph_*: valori_node_* reads as "this Valori node" (valori_node_up).
  // The deployment guide's names stay for one release as deprecated duplicates (same values).
  const graphGauge = (name: string, old: string, help: string, read: (s: KernelStats) => number): void => {
    gauge(name, help, read);
    gauge(old, `Deprecated, removed in the next release: use ${name}. ${help}`, read);
  };
  graphGauge('valori_graph_nodes_live', 'valori_nodes_live', 'Number of live graph nodes', (s) => s.nodes.live);
  graphGauge('valori_graph_nodes_capacity', 'valori_nodes_capacity', 'Maximum nodes allowed (VALORI_MAX_NODES)', (s) => s.nodes.capacity);
  graphGauge('valori_graph_nodes_fill_ratio', 'valori_node_fill_ratio', 'Graph nodes held against capacity divided by capacity (0.0-1.0)', (s) => ratio(s.nodes.used, s.nodes.capacity));
  graphGauge('valori_graph_edges_live', 'valori_edges_live', 'Number of live graph edges', (s) => s.edges.live);
  graphGauge('valori_graph_edges_capacity', 'valori_edges_capacity', 'Maximum edges allowed (VALORI_MAX_EDGES)', (s) => s.edges.capacity);
  graphGauge('valori_graph_edges_fill_ratio', 'valori_edge_fill_ratio', 'Graph edges held against capacity divided by capacity (0.0-1.0)', (s) => ratio(s.edges.used, s.edges.capacity));
  gauge('valori_dim', 'Configured vector dimension (VALORI_DIM)', (s) => s.dim);

  // Per collection (label `collection`), read at scrape time. Each collect() starts from a reset,
  // so a dropped collection leaves no stale series behind.
  const perCollection = (name: string, help: string, read: (c: CollectionGaugeSource) => number): void => {
    const g: Gauge<'collection'> = new Gauge({
      name,
      help,
      labelNames: ['collection'] as const,
      registers,
      collect() {
        g.reset();
        for (const c of collections()) g.set({ collection: c.name }, read(c));
      },
    });
  };
  perCollection('valori_collection_records_live', 'Live records in the collection', (c) => c.records.live);
  perCollection('valori_collection_records_used', 'Records held against the collection capacity: live plus soft-deleted', (c) => c.records.used);
  perCollection('valori_collection_records_capacity', "Records the collection may hold (its max_records, else the node's VALORI_MAX_RECORDS)", (c) => c.records.capacity);
  perCollection('valori_collection_record_fill_ratio', 'Collection records held (live + soft-deleted) divided by its capacity (0.0-1.0)', (c) => ratio(c.records.used, c.records.capacity));

  const up = new Gauge({ name: 'valori_node_up', help: 'Always 1 while the process is running', registers });
  up.set(1);
  // Constant for the process: the SIMD path is chosen once, when the addon loads.
  new Gauge({
    name: 'valori_build_info',
    help: 'Always 1; the labels name the node version, the kernel_version of its state proofs and the distance kernel in use',
    labelNames: ['version', 'kernel', 'simd'] as const,
    registers,
  }).set({ version: VERSION, kernel: String(KERNEL_VERSION), simd: stats().simd }, 1);

  const proofs = new Counter({ name: 'valori_proofs_generated_total', help: 'Count of GET /v1/proof/state calls', registers });

  // Events committed: the kernel's height only grows (restores move it forward too), so the counter
  // follows it at scrape time without any write path touching prom-client.
  let countedHeight = 0;
  new Counter({
    name: 'valori_events_committed_total',
    help: 'Monotonically increasing count of committed events',
    registers,
    collect() {
      const h = stats().height;
      if (h > countedHeight) {
        this.inc(h - countedHeight);
        countedHeight = h;
      }
    },
  });
  new Gauge({
    name: 'valori_event_log_height',
    help: 'Committed event count (height of the event log; 0 when no event log is configured)',
    registers,
    collect() {
      this.set(stats().eventLogHeight ?? 0);
    },
  });
  new Gauge({
    name: 'valori_event_log_bytes',
    help: 'Size of the event-log file in bytes (0 when no event log is configured); a trim makes it smaller',
    registers,
    collect() {
      this.set(eventLogBytes() ?? 0);
    },
  });
  const readOnly = new Gauge({
    name: 'valori_read_only',
    help: '1 after an event-log write or fsync failed (writes refused until restart), else 0',
    registers,
    collect() {
      readOnly.set(stats().readOnly ? 1 : 0);
    },
  });
  const commit = new Histogram({
    name: 'valori_event_commit_duration_seconds',
    help: 'Latency of one write from submission to durable acknowledgement (group commit included)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const replay = new Histogram({
    name: 'valori_replay_duration_seconds',
    help: 'Time spent recovering state (snapshot load and event-log or WAL replay) at start-up',
    buckets: [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
    registers,
  });
  const snapshotSize = new Gauge({ name: 'valori_snapshot_size_bytes', help: 'Size of the last written snapshot in bytes', registers });
  const snapshotSuccess = new Gauge({
    name: 'valori_snapshot_last_success_timestamp_seconds',
    help: 'Unix time the recovery snapshot (VALORI_SNAPSHOT_PATH) was last written or found current by this process; 0 before that',
    registers,
  });
  const snapshotFailures = new Counter({
    name: 'valori_snapshot_failures_total',
    help: 'Snapshot saves (scheduled, shutdown or requested) that failed for a reason other than the request itself',
    registers,
  });
  const snapshotInterval = new Gauge({
    name: 'valori_snapshot_interval_seconds',
    help: 'Auto-snapshot period (VALORI_SNAPSHOT_INTERVAL with VALORI_SNAPSHOT_PATH); 0 when scheduled snapshots are off',
    registers,
  });
  const checkpoints = new Counter({
    name: 'valori_checkpoints_total',
    help: 'Automatic checkpoints (VALORI_CHECKPOINT) by result: ok, or error (the log says why)',
    labelNames: ['result'] as const,
    registers,
  });
  const checkpointDuration = new Histogram({
    name: 'valori_checkpoint_duration_seconds',
    help: 'Wall time of one automatic checkpoint (state frozen, encoded, written, fsynced)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const checkpointHeight = new Gauge({
    name: 'valori_checkpoint_height',
    help: 'Height covered by the last automatic checkpoint this process wrote (recovery replays from it); 0 before the first',
    registers,
  });
  const httpErrors = new Counter({
    name: 'valori_http_errors_total',
    help: 'Error answers by route pattern (unmatched before routing) and stable error code',
    labelNames: ['route', 'code'] as const,
    registers,
  });
  const bytesGauge = new Gauge({
    name: 'valori_index_memory_bytes',
    help: 'Bytes held for search: Q16.16 vectors, quantized codes and index structures',
    labelNames: ['part'] as const,
    registers,
    collect() {
      const s = stats();
      bytesGauge.set({ part: 'vectors' }, s.vectorBytes);
      bytesGauge.set({ part: 'codes' }, s.codeBytes);
      bytesGauge.set({ part: 'index' }, s.indexBytes);
    },
  });

  const duration = new Histogram({
    name: 'valori_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });

  // Replication: a leader reports status Leading and lag 0. The status is a state set (one series
  // per value, the current one is 1), so an alert reads valori_replication_status{status="Diverged"} == 1.
  let readReplication: () => ReplicationGauges = () => ({ lagEvents: 0, status: 'Leading', leaderReachable: null });
  new Gauge({
    name: 'valori_replication_lag_events',
    help: 'Events the leader has committed that this follower has not applied yet (0 on a leader; NaN while the follower is not streaming from its leader)',
    registers,
    collect() {
      this.set(readReplication().lagEvents ?? Number.NaN);
    },
  });
  const replStatus = new Gauge({
    name: 'valori_replication_status',
    help: 'Replication status: 1 for the current value of the status label, 0 for the others',
    labelNames: ['status'] as const,
    registers,
    collect() {
      const current = readReplication().status;
      for (const st of REPLICATION_STATUSES) replStatus.set({ status: st }, st === current ? 1 : 0);
    },
  });
  // Follower only: a leader has no leader to reach, and a 0 there would read as an outage.
  if (follower) {
    new Gauge({
      name: 'valori_replication_leader_reachable',
      help: "1 when this follower's last contact with its leader (VALORI_FOLLOWER_OF) succeeded, 0 while it cannot reach it; absent on a leader",
      registers,
      collect() {
        this.set(readReplication().leaderReachable === true ? 1 : 0);
      },
    });
  }
  const replApplied = new Counter({
    name: 'valori_replication_events_applied_total',
    help: "Leader events committed by this follower through its own event log since the process started",
    registers,
  });

  return {
    registry,
    proofGenerated: () => proofs.inc(),
    observeRequest: (method, route, status, seconds) => duration.observe({ method, route, status: String(status) }, seconds),
    observeCommit: (seconds) => commit.observe(seconds),
    observeReplay: (seconds) => replay.observe(seconds),
    snapshotWritten: (bytes, recovery = false) => {
      snapshotSize.set(bytes);
      if (recovery) snapshotSuccess.set(Date.now() / 1000);
    },
    snapshotUpToDate: () => snapshotSuccess.set(Date.now() / 1000),
    snapshotFailed: () => snapshotFailures.inc(),
    snapshotSchedule: (intervalSecs) => snapshotInterval.set(intervalSecs ?? 0),
    checkpointDone: (r) => {
      checkpoints.inc({ result: r.ok ? 'ok' : 'error' });
      if (!r.ok) return;
      checkpointDuration.observe(r.seconds);
      checkpointHeight.set(r.height);
    },
    httpError: (route, code) => httpErrors.inc({ route, code }),
    observeReplication: (read) => {
      readReplication = read;
    },
    replicationApplied: () => replApplied.inc(),
  };
}
