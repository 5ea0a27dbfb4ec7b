// A cluster member's Prometheus families (docs/CLUSTER.md, "Watching a cluster"), read from the
// member's Raft status at scrape time (O(members), no I/O), plus the latency of proposals.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PeerCheck } from './hash-check';
import type { ClusterNode } from './node';

export interface ClusterMetrics {
  /** One write's time from proposal to its applied answer (valori_raft_proposal_duration_seconds). */
  observeProposal(seconds: number): void;
}

export function registerClusterMetrics(registry: Registry, cluster: ClusterNode, hashChecks: () => readonly PeerCheck[]): ClusterMetrics {
  const registers = [registry];
  new Gauge({
    name: 'valori_cluster_hash_match',
    help: "Per peer: 1 when its state hash equals this member's at the same height in the last check, 0 when it differs (alert on it), NaN when no hash at an equal height was available",
    labelNames: ['peer'] as const,
    registers,
    collect() {
      this.reset();
      for (const c of hashChecks()) this.set({ peer: String(c.peer) }, c.result === 'match' ? 1 : c.result === 'mismatch' ? 0 : NaN);
    },
  });
  const gauge = (name: string, help: string, read: (s: ReturnType<ClusterNode['status']>) => number | null | undefined): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const v = read(cluster.status());
        this.set(v == null ? NaN : v);
      },
    });
  };
  gauge('valori_raft_term', 'Current Raft term', (s) => s.term);
  gauge('valori_raft_current_leader', 'Node id of the leader this node knows of (NaN while none is known)', (s) => s.currentLeader);
  gauge('valori_raft_is_leader', '1 on the leader, 0 elsewhere', (s) => (s.isLeader ? 1 : 0));
  gauge('valori_raft_last_log_index', "Raft index of the last entry in this node's log", (s) => s.lastLogIndex);
  gauge('valori_raft_last_applied_index', 'Raft index of the last entry applied to the state here', (s) => s.lastAppliedIndex);
  gauge('valori_raft_snapshot_index', 'Raft index the newest snapshot covers', (s) => s.snapshotIndex);
  gauge('valori_raft_purged_index', 'Raft index up to which the log was compacted', (s) => s.purgedIndex);
  gauge('valori_raft_voters', 'Voters in the membership this node holds', (s) => s.members.filter((m) => m.voter).length);
  gauge('valori_raft_learners', 'Learners (nodes catching up before they vote) in the membership this node holds', (s) => s.members.filter((m) => !m.voter).length);
  let counted = 0;
  new Counter({
    name: 'valori_raft_elections_total',
    help: 'Raft terms begun since this node started (each one an election)',
    registers,
    collect() {
      const now = cluster.status().elections;
      if (now > counted) this.inc(now - counted);
      counted = now;
    },
  });
  const proposal = new Histogram({
    name: 'valori_raft_proposal_duration_seconds',
    help: 'Time from a write proposed on the leader to its answer (committed on a quorum and applied)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  return { observeProposal: (seconds) => proposal.observe(seconds) };
}
