// A cluster member as the shell sees it (docs/CLUSTER.md): the native Raft member (Raft, its
// listener and every proposal run in Rust on napi's tokio runtime, never on the event loop) and
// the Kernel over its state machine. Writes through that Kernel go through Raft; reads are local,
// made linearizable by readBarrier().
import { clusterSettings, maxSnapshotBytes, MAX_EVENT_BYTES, type Config } from '../config';
import { call, callSync, kernelOptions } from '../kernel/boundary';
import { Kernel } from '../kernel/kernel';
import { loadNative } from '../kernel/native';
import type * as Native from '../../native/index.js';
import { apiUrl } from './members';

export type ClusterStatus = Native.ClusterStatus;

/** A frame holds at least one entry: the largest command (64 MiB and 1 KiB) plus framing. */
const MAX_FRAME_BYTES = MAX_EVENT_BYTES + 2 * 1_048_576;
/** A snapshot file holds the state plus its Raft metadata (membership, log id) and a digest. */
const SNAPSHOT_OVERHEAD_BYTES = 1_048_576;

export class ClusterNode {
  private constructor(
    private readonly native: Native.Cluster,
    readonly kernel: Kernel,
    readonly nodeId: number,
    private readonly readTimeoutMs: number,
  ) {}

  /** Opens the member's Raft log and newest snapshot, binds the Raft listener and starts Raft. */
  static async open(config: Config): Promise<ClusterNode> {
    const s = clusterSettings(config);
    if (s === null) throw new Error('not a cluster configuration');
    const { openCluster } = loadNative();
    const native = await call(() =>
      openCluster(kernelOptions(config), {
        nodeId: s.nodeId,
        members: s.members.map((m) => ({ id: m.id, raftAddr: m.raftAddr, apiAddr: m.apiAddr })),
        init: s.init,
        raftBind: s.raftBind,
        raftDir: s.raftDir,
        token: s.token,
        heartbeatMs: config.raftHeartbeatMs,
        electionTimeoutMs: config.raftElectionTimeoutMs,
        snapshotEvery: config.raftSnapshotEvery,
        keepLogs: config.raftSnapshotKeep,
        maxFrameBytes: MAX_FRAME_BYTES,
        maxSnapshotBytes: maxSnapshotBytes(config) + SNAPSHOT_OVERHEAD_BYTES,
        commitTimeoutMs: config.clusterCommitTimeoutMs,
      }),
    );
    const kernel = new Kernel(native.kernel());
    kernel.clusterMember = true;
    return new ClusterNode(native, kernel, s.nodeId, config.clusterCommitTimeoutMs);
  }

  /** What the member has to tell the operator since the last call (oldest first). */
  takeNotices(): string[] {
    return this.native.takeNotices();
  }

  /** Whether this node leads now: O(1), no I/O, for every write. */
  isLeader(): boolean {
    return this.native.isLeader();
  }

  /** O(members), no I/O: safe for /health and metric scrapes. */
  status(): ClusterStatus {
    return callSync(() => this.native.status());
  }

  /** The leader's API base URL, when a leader is known and is not this node. */
  leaderUrl(status: ClusterStatus = this.status()): string | null {
    if (status.isLeader || status.leaderApiAddr == null) return null;
    return apiUrl(status.leaderApiAddr);
  }

  /** Resolves once a read here is linearizable; rejects NO_LEADER when that cannot be had in time. */
  readBarrier(): Promise<number> {
    return call(() => this.native.readBarrier(this.readTimeoutMs));
  }

  addNode(id: number, raftAddr: string, apiAddr: string): Promise<void> {
    return call(() => this.native.addNode(id, raftAddr, apiAddr));
  }

  removeNode(id: number): Promise<void> {
    return call(() => this.native.removeNode(id));
  }

  snapshot(): Promise<void> {
    return call(() => this.native.snapshot());
  }

  /** Stops the Raft listener and core (idempotent); the kernel is closed after it. */
  shutdown(): Promise<void> {
    return call(() => this.native.shutdown());
  }
}
