// Prometheus metrics in our own Registry (no global state, so tests can build many apps). Kernel
// gauges read the O(1) native stats inside collect(), i.e. at scrape time: they are always
// current without any write path touching them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KernelStats } from './kernel/native';

export interface Metrics {
  readonly registry: Registry;
  /** Counts GET /v1/proof/state calls (valori_proofs_generated_total). */
  proofGenerated(): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

function ratio(part: number, capacity: number): number {
  return capacity === 0 ? 0 : part / capacity;
}

export function createMetrics(stats: () => KernelStats): Metrics {
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
  gauge('valori_records_live', 'Number of live (non-deleted) records in the store', (s) => s.records.live);
  gauge('valori_records_capacity', 'Maximum records allowed (VALORI_MAX_RECORDS)', (s) => s.records.capacity);
  gauge('valori_record_fill_ratio', 'Live records divided by capacity (0.0-1.0); alert above 0.9', (s) => ratio(s.records.live, s.records.capacity));
  gauge('valori_nodes_live', 'Number of live graph nodes', (s) => s.nodes.live);
  gauge('valori_nodes_capacity', 'Maximum nodes allowed (VALORI_MAX_NODES)', (s) => s.nodes.capacity);
  gauge('valori_node_fill_ratio', 'Live nodes divided by capacity (0.0-1.0)', (s) => ratio(s.nodes.live, s.nodes.capacity));
  gauge('valori_edges_live', 'Number of live graph edges', (s) => s.edges.live);
  gauge('valori_edges_capacity', 'Maximum edges allowed (VALORI_MAX_EDGES)', (s) => s.edges.capacity);
  gauge('valori_edge_fill_ratio', 'Live edges divided by capacity (0.0-1.0)', (s) => ratio(s.edges.live, s.edges.capacity));
  gauge('valori_dim', 'Configured vector dimension (VALORI_DIM)', (s) => s.dim);

  const up = new Gauge({ name: 'valori_node_up', help: 'Always 1 while the process is running', registers });
  up.set(1);

  const proofs = new Counter({ name: 'valori_proofs_generated_total', help: 'Count of GET /v1/proof/state calls', registers });

  const duration = new Histogram({
    name: 'valori_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });

  return {
    registry,
    proofGenerated: () => proofs.inc(),
    observeRequest: (method, route, status, seconds) => duration.observe({ method, route, status: String(status) }, seconds),
  };
}
