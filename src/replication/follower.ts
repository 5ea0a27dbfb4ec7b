// The follower loop (VALORI_FOLLOWER_OF): connect -> (bootstrap if the journal is empty) -> stream
// the leader's events into this node's own commit path, for ever, reconnecting with backoff on
// any error. Its own event log is the resume point: a restarted follower continues from its
// height, with no re-bootstrap, no gap and no duplicate. Only an explicit bootstrap-required from
// the leader (its log was trimmed past us) makes it download a snapshot again. Proof markers in
// the stream drive the divergence checks (checker.ts).
import { constants as bufferConstants } from 'node:buffer';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kernel } from '../kernel/kernel';
import type { Logger } from '../log';
import type { Metrics, ReplicationStatus } from '../metrics';
import { Applier, ApplyError } from './applier';
import { backoffDelay, sleep } from './backoff';
import { checkRecord, DivergenceChecker, type CheckRecord } from './checker';
import { describeError, LeaderClient } from './leader-client';
import type { ProofRing } from './proof-ring';
import { ReadAhead } from './read-ahead';
import { readEventStream, type StreamItem } from './sse-reader';

/** Events read ahead of the apply pipeline, at most (by count and by payload bytes). */
const READ_AHEAD_EVENTS = 4_096;
const READ_AHEAD_BYTES = 16 * 1024 * 1024;

export interface FollowerOptions {
  leaderUrl: string;
  token: string | null;
  heartbeatMs: number;
  checkIntervalMs: number;
  /** Largest bootstrap snapshot accepted from the leader (VALORI_MAX_SNAPSHOT_BYTES). */
  maxSnapshotBytes?: number;
  /**
   * Where a bootstrap snapshot is spooled (the node's data directory): the download goes to a
   * file there, which the kernel maps to restore, then it is removed. null: held in memory (a
   * node without persistence).
   */
  spoolDir?: string | null;
}

type Phase = 'connecting' | 'bootstrapping' | 'streaming';

/** True for an http:// URL whose host is not this machine: a token sent there travels in clear. */
export function isPlainRemote(url: string): boolean {
  const u = new URL(url);
  if (u.protocol !== 'http:') return false;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return !(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/** What a stream ended with, when it did not fail. */
type StreamEnd = 'bootstrap-required' | 'closed';

export class Follower {
  private readonly leader: LeaderClient;
  private readonly applier: Applier;
  private readonly checker: DivergenceChecker;
  private readonly controller = new AbortController();
  private tasks: Promise<void>[] = [];

  private phase: Phase = 'connecting';
  private leaderHeight = 0;
  private lastCheck: CheckRecord | null = null;
  /** Last definitive check result; Pending rounds do not change it. */
  private verified: 'Synced' | 'Diverged' | null = null;
  private lastError: { at: string; message: string } | null = null;
  /** The last exchange with the leader succeeded (valori_replication_leader_reachable). */
  private reached = false;
  /** The last leader event reported as rejected here (reported once). */
  private reportedRejection = 0;
  private bootstraps = 0;
  private reconnects = 0;
  private applied = 0;

  constructor(
    private readonly kernel: Kernel,
    ring: ProofRing,
    private readonly logger: Logger,
    metrics: Metrics,
    private readonly options: FollowerOptions,
  ) {
    this.leader = new LeaderClient(options.leaderUrl, options.token);
    this.applier = new Applier(kernel, () => {
      this.applied++;
      metrics.replicationApplied();
    });
    this.checker = new DivergenceChecker({
      kernel,
      leader: this.leader,
      ring,
      intervalMs: options.checkIntervalMs,
      shouldCheck: () => this.phase !== 'bootstrapping',
      onLeaderHeight: (h) => this.noteLeaderHeight(h),
      onResult: (r) => this.onCheck(r),
    });
  }

  start(): void {
    if (this.tasks.length > 0) return;
    const height = this.kernel.stats().height;
    this.logger.info(
      height === 0
        ? `follower of ${this.options.leaderUrl}: empty journal, will bootstrap from the leader's snapshot if it has data`
        : `follower of ${this.options.leaderUrl}: resuming from own event log at height ${height}`,
    );
    if (this.options.token !== null && isPlainRemote(this.options.leaderUrl)) {
      this.logger.warn(
        `VALORI_FOLLOWER_OF is plain http:// to a remote host: the bearer token and every replicated event travel unencrypted; use https:// or a private network`,
      );
    }
    this.tasks = [this.run(), this.checker.run(this.controller.signal)];
  }

  /** Stops both loops and waits for in-flight applies, so the kernel can close cleanly. */
  async stop(): Promise<void> {
    this.controller.abort();
    this.applier.stop();
    await Promise.allSettled(this.tasks);
    await this.applier.drain().catch(() => undefined);
  }

  status(): ReplicationStatus {
    if (this.verified === 'Diverged') return 'Diverged';
    if (this.phase === 'connecting') return 'Connecting';
    if (this.phase === 'bootstrapping') return 'Bootstrapping';
    return this.lag() === 0 && this.verified === 'Synced' ? 'Synced' : 'CatchingUp';
  }

  /**
   * True once the leader answered (its state, or its event stream opened), false before the first
   * answer and after any failure that is not a local apply failure: refused, unreachable, timed
   * out, the stream cut or ended, or a leader this follower cannot follow (another dimension).
   */
  leaderReachable(): boolean {
    return this.reached;
  }

  lag(): number {
    return Math.max(0, this.leaderHeight - this.kernel.stats().height);
  }

  /**
   * The lag for valori_replication_lag_events: null unless streaming. Cut off from the leader,
   * the last leader height it heard of may be long stale, so a number would understate the lag.
   */
  knownLag(): number | null {
    return this.phase === 'streaming' ? this.lag() : null;
  }

  /** The follower part of GET /v1/replication/state. */
  state(): Record<string, unknown> {
    const stats = this.kernel.stats();
    const c = this.lastCheck;
    return {
      leader_url: this.options.leaderUrl,
      applied_height: stats.height,
      leader_height: Math.max(this.leaderHeight, stats.height),
      lag: this.lag(),
      connected: this.phase === 'streaming',
      last_check: c && {
        at: c.at,
        height: c.height,
        result: c.result,
        leader_hash: c.leaderHash,
        follower_hash: c.followerHash,
        detail: c.detail,
      },
      last_error: this.lastError,
      bootstraps: this.bootstraps,
      reconnects: this.reconnects,
      events_applied: this.applied,
    };
  }

  private noteLeaderHeight(h: number): void {
    if (h > this.leaderHeight) this.leaderHeight = h;
  }

  private onCheck(r: CheckRecord): void {
    const previous = this.lastCheck?.result;
    this.lastCheck = r;
    if (r.result === 'Diverged') {
      // Sticky: recovery is the operator's (stop, delete the follower's data, restart). Warned
      // once; the rounds after it repeat at debug level.
      this.verified = 'Diverged';
      const line = `replication check: Diverged at height ${r.height}: ${r.detail}`;
      const meta = { leaderHash: r.leaderHash, followerHash: r.followerHash };
      if (previous !== 'Diverged') this.logger.warn(line, meta);
      else this.logger.debug(line, meta);
      return;
    }
    if (r.result === 'Synced' && this.verified !== 'Diverged') this.verified = 'Synced';
    const line = `replication check: ${r.result}${r.height === null ? '' : ` at height ${r.height}`}${r.detail ? `: ${r.detail}` : ''}`;
    if (r.result !== previous) this.logger.info(line);
    else this.logger.debug(line);
  }

  private fail(err: unknown): void {
    this.lastError = { at: new Date().toISOString(), message: describeError(err) };
  }

  /** Connect, bootstrap when needed, stream; on any error back off (0, 0.5, 1, 2, 4, 8, 8 ... s). */
  private async run(): Promise<void> {
    const signal = this.controller.signal;
    let failures = 0;
    while (!signal.aborted) {
      if (failures > 0) {
        const delay = backoffDelay(failures - 1);
        this.logger.warn(`replication: ${this.lastError?.message ?? 'disconnected'}; reconnecting in ${delay} ms`);
        await sleep(delay, signal);
        if (signal.aborted) break;
        this.reconnects++;
      }
      this.phase = 'connecting';
      const startHeight = this.kernel.stats().height;
      try {
        const leader = await this.leader.state(signal);
        this.reached = true;
        if (leader.dim !== null && leader.dim !== this.kernel.dim) {
          throw new Error(`the leader's VALORI_DIM is ${leader.dim} but this follower's is ${this.kernel.dim}: they must match`);
        }
        this.leaderHeight = leader.committedHeight;
        if (this.kernel.stats().height === 0 && leader.committedHeight > 0) await this.bootstrap('empty journal');
        const end = await this.stream();
        if (end === 'bootstrap-required') {
          await this.bootstrap("the leader's log no longer holds the next event");
          failures = 0;
          continue;
        }
        throw new Error('the leader closed the event stream');
      } catch (err) {
        if (signal.aborted) break;
        if (!(err instanceof ApplyError)) this.reached = false;
        if (err instanceof ApplyError && err.stateDependent) await this.rejected(err);
        this.fail(err);
        // Events applied on this connection: the link works, so the next retry is immediate.
        // Otherwise (refused, rejected event, silent leader) the delay grows up to 8 s.
        if (this.kernel.stats().height > startHeight) failures = 0;
        failures++;
      }
    }
  }

  /**
   * The leader accepted event N at height N - 1 and this follower, at the same height, rejects it:
   * a deterministic kernel only does that when the states differ. Reported like a check.
   */
  private async rejected(err: ApplyError): Promise<void> {
    const mine = await this.kernel.stateProof().catch(() => null);
    if (mine === null || mine.height !== err.seq - 1 || this.reportedRejection === err.seq) return;
    this.reportedRejection = err.seq;
    this.logger.warn(`the leader's event ${err.seq} does not apply to this follower at height ${mine.height}: ${err.message}`);
    this.onCheck(checkRecord('Diverged', mine.height, null, mine.hash, `the leader's event ${err.seq} is rejected here at the same height: ${err.message}`));
  }

  private async bootstrap(reason: string): Promise<void> {
    this.phase = 'bootstrapping';
    this.logger.info(`bootstrapping from the leader's snapshot (${reason})`);
    const max = this.options.maxSnapshotBytes ?? bufferConstants.MAX_LENGTH;
    const spoolDir = this.options.spoolDir ?? null;
    let height: number;
    let size: number;
    let via = 'in memory';
    if (spoolDir === null) {
      const bytes = await this.leader.snapshot(this.controller.signal, max);
      height = await this.kernel.restoreSnapshot(bytes, true);
      size = bytes.length;
    } else {
      // Never the whole snapshot in memory: a leader's state can be larger than this node's heap.
      const path = join(spoolDir, `.bootstrap-${process.pid}.val1`);
      via = `spooled through ${path}`;
      await rm(path, { force: true });
      const file = await open(path, 'wx', 0o600);
      try {
        try {
          size = await this.leader.snapshotTo(this.controller.signal, max, async (chunk) => {
            await file.write(chunk);
          });
        } finally {
          await file.close();
        }
        height = await this.kernel.restoreSnapshotFile(path, true);
      } finally {
        await rm(path, { force: true });
      }
    }
    this.bootstraps++;
    this.noteLeaderHeight(height);
    this.logger.info(`bootstrapped from the leader's snapshot: height ${height}, ${size} bytes, ${via}`);
  }

  /** One connection: resolves when the stream ends cleanly, throws on any failure. */
  private async stream(): Promise<StreamEnd> {
    // Aborted when this connection is done (or the follower stops): ends a pending socket read.
    const connection = new AbortController();
    const abortConnection = (): void => connection.abort();
    this.controller.signal.addEventListener('abort', abortConnection, { once: true });
    const from = this.applier.reset() + 1;
    // A failed apply ends the connection at once, even when no further event would arrive.
    this.applier.onFailure = abortConnection;
    let failure: unknown = null;
    let end: StreamEnd = 'closed';
    let ahead: ReadAhead<StreamItem> | null = null;
    try {
      const res = await this.leader.events(from, connection.signal);
      this.phase = 'streaming';
      this.reached = true;
      this.logger.info(`streaming the leader's events from ${from}`);
      ahead = new ReadAhead(readEventStream(res.body!, this.options.heartbeatMs), itemBytes, READ_AHEAD_EVENTS, READ_AHEAD_BYTES);
      for (let item = await ahead.next(); item !== null; item = await ahead.next()) {
        if (item.kind === 'event') {
          this.noteLeaderHeight(item.seq);
          await this.applier.submit(item.seq, item.payload);
        } else if (item.kind === 'heartbeat') {
          if (item.height !== null) this.noteLeaderHeight(item.height);
        } else if (item.kind === 'proof') {
          this.noteLeaderHeight(item.height);
          if (this.checker.wantsMarker()) {
            // Everything up to the marker's height is submitted and nothing beyond: let it commit.
            await this.applier.drain();
            const r = await this.checker.compareAt(item);
            if (r !== null) this.onCheck(r);
          }
        } else {
          this.logger.warn(`leader says bootstrap required: ${item.detail}`);
          end = 'bootstrap-required';
          break;
        }
      }
    } catch (err) {
      failure = err;
    } finally {
      this.applier.onFailure = null;
      ahead?.stop();
      connection.abort();
      this.controller.signal.removeEventListener('abort', abortConnection);
    }
    // Whatever happened, the events already submitted finish (or fail) before the next step
    // re-reads the height: the resume point is always what this node actually committed. A
    // failed apply is the root cause of anything the stream saw after it, so it wins.
    try {
      await this.applier.drain();
    } catch (err) {
      failure = err;
    }
    this.phase = 'connecting';
    if (failure !== null) throw failure;
    return end;
  }
}

function itemBytes(item: StreamItem): number {
  return item.kind === 'event' ? item.payload.length : 0;
}
