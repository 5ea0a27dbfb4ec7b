// Everything replication adds to one node, created once per process: the proof ring (hashes at
// recent heights), the leader's open event streams, and, with VALORI_FOLLOWER_OF, the follower.
// The composition root (src/valori.ts) starts it after the server listens and stops it before
// the server closes.
import { dirname } from 'node:path';
import { maxSnapshotBytes, type Config } from '../config';
import type { Kernel } from '../kernel/kernel';
import type { Logger } from '../log';
import type { Metrics, ReplicationStatus } from '../metrics';
import { EventStreams } from './event-stream';
import { Follower } from './follower';
import { ProofRing } from './proof-ring';


export interface ReplicationDeps {
  config: Config;
  kernel: Kernel;
  logger: Logger;
  metrics: Metrics;
}

export class Replication {
  readonly ring = new ProofRing();
  readonly streams: EventStreams;
  readonly follower: Follower | null;

  constructor(private readonly deps: ReplicationDeps) {
    const { config, kernel, logger, metrics } = deps;
    this.streams = new EventStreams(kernel, this.ring, config.replicationHeartbeatMs, logger, {
      maxStreams: config.maxStreams,
      idleTimeoutMs: config.idleTimeoutMs,
    });
    this.follower =
      config.followerOf === null
        ? null
        : new Follower(kernel, this.ring, logger, metrics, {
            leaderUrl: config.followerOf,
            // Its own credential for the leader: a read key is enough (src/auth/scopes.ts).
            token: config.leaderToken ?? config.authToken,
            heartbeatMs: config.replicationHeartbeatMs,
            checkIntervalMs: config.replicationCheckIntervalMs,
            maxSnapshotBytes: maxSnapshotBytes(config),
            // Beside the follower's event log (a follower always has one: config.ts).
            spoolDir: config.eventLogPath === null ? null : dirname(config.eventLogPath),
          });
    metrics.observeReplication(() => ({
      lagEvents: this.follower === null ? 0 : this.follower.knownLag(),
      status: this.status(),
      leaderReachable: this.follower?.leaderReachable() ?? null,
    }));
  }

  status(): ReplicationStatus {
    return this.follower?.status() ?? 'Leading';
  }

  /** Body of GET /v1/replication/state. */
  state(): Record<string, unknown> {
    const stats = this.deps.kernel.stats();
    const proof = this.deps.kernel.logProof();
    const common = {
      // A Raft member's role is in /v1/cluster/role; here it is neither a stream leader nor a follower.
      role: this.deps.kernel.clusterMember ? 'cluster-member' : this.follower === null ? 'leader' : 'follower',
      status: this.status(),
      committed_height: stats.eventLogHeight ?? stats.height,
      dim: stats.dim,
      // First event still in this node's log: a reader needing older events must bootstrap.
      first_seq: proof?.firstSeq ?? null,
      event_streams: this.streams.count,
    };
    return this.follower === null ? common : { ...common, ...this.follower.state() };
  }

  start(): void {
    this.follower?.start();
  }

  /** Stops the follower (in-flight applies finish) and ends open event streams. */
  async stop(): Promise<void> {
    this.streams.closeAll();
    await this.follower?.stop();
  }
}
