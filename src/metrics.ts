// Prometheus metrics in our own Registry (no global state, so tests can build many apps). Kernel
// gauges read the O(1) native stats inside collect(), i.e. at scrape time: they are always
// current without any write path touching them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KernelStats } from './kernel/native';

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
  /** Size of the snapshot just written (valori_snapshot_size_bytes). */
  snapshotWritten(bytes: number): void;
  /** Replication lag and status, read at scrape time (set by the replication runtime). */
  observeReplication(read: () => ReplicationGauges): void;
  /** One leader event committed by this follower (valori_replication_events_applied_total). */
  replicationApplied(): void;
}

/** Every value valori_replication_status can report; exactly one series is 1 at a time. */
export const REPLICATION_STATUSES = ['Leading', 'Connecting', 'Bootstrapping', 'CatchingUp', 'Synced', 'Diverged'] as const;
export type ReplicationStatus = (typeof REPLICATION_STATUSES)[number];

export interface ReplicationGauges {
  /** Leader height minus applied height (0 on a leader). */
  lagEvents: number;
  status: ReplicationStatus;
}

function ratio(part: number, capacity: number): number {
  return capacity === 0 ? 0 : part / capacity;
}

/**
 * `collections` is read at scrape time (O(collections)); its label set is bounded by the kernel's
 * 10,000-collection cap, and a dropped collection's series disappear at the next scrape.
 */
export function createMetrics(stats: () => KernelStats, collections: () => readonly CollectionGaugeSource[] = () => []): Metrics {
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
  gauge('valori_nodes_live', 'Number of live graph nodes', (s) => s.nodes.live);
  gauge('valori_nodes_capacity', 'Maximum nodes allowed (VALORI_MAX_NODES)', (s) => s.nodes.capacity);
  gauge('valori_node_fill_ratio', 'Graph nodes held against capacity divided by capacity (0.0-1.0)', (s) => ratio(s.nodes.used, s.nodes.capacity));
  gauge('valori_edges_live', 'Number of live graph edges', (s) => s.edges.live);
  gauge('valori_edges_capacity', 'Maximum edges allowed (VALORI_MAX_EDGES)', (s) => s.edges.capacity);
  gauge('valori_edge_fill_ratio', 'Graph edges held against capacity divided by capacity (0.0-1.0)', (s) => ratio(s.edges.used, s.edges.capacity));
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
  let readReplication: () => ReplicationGauges = () => ({ lagEvents: 0, status: 'Leading' });
  new Gauge({
    name: 'valori_replication_lag_events',
    help: 'Events the leader has committed that this follower has not applied yet (0 on a leader)',
    registers,
    collect() {
      this.set(readReplication().lagEvents);
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
    snapshotWritten: (bytes) => snapshotSize.set(bytes),
    observeReplication: (read) => {
      readReplication = read;
    },
    replicationApplied: () => replApplied.inc(),
  };
}
