// Divergence checks: the follower compares its state hash with the leader's AT THE SAME HEIGHT
// (docs/reliability.md R17). The original compared its hash with the leader's current one, so any lag
// looked like divergence and forced a re-bootstrap.
//
// Every VALORI_REPLICATION_CHECK_INTERVAL_MS the follower asks the leader for GET
// /v1/proof/state. The leader computes (HL, hashL), remembers it in its proof ring, and places it
// in every open event stream right after event HL (a proof marker, see event-stream.ts). When the
// follower reads the marker it has submitted exactly the events up to HL: it lets them commit,
// takes its own (height, hash) atomically and compares. No pause for a round trip, and a slow
// follower compares when it gets there: lag is never mistaken for divergence.
//
// Divergence is also proven, without a hash, when the leader is below the follower's height (a
// leader's height never goes back, and the follower only has what the leader sent), and when an
// event the leader accepted at height N - 1 is rejected by the follower at N - 1 (ApplyError).
import type { Kernel } from '../kernel/kernel';
import { sleep } from './backoff';
import { describeError, type LeaderClient } from './leader-client';
import type { HeightHash, ProofRing } from './proof-ring';

export type CheckResult = 'Synced' | 'Diverged' | 'Pending';

export interface CheckRecord {
  /** ISO time of the result. */
  at: string;
  /** Height both hashes were taken at (the follower's height for the other kinds of proof). */
  height: number | null;
  result: CheckResult;
  leaderHash: string | null;
  followerHash: string | null;
  /** Why a round was Pending or Diverged. */
  detail: string | null;
}

export function checkRecord(result: CheckResult, height: number | null, leaderHash: string | null, followerHash: string | null, detail: string | null): CheckRecord {
  return { at: new Date().toISOString(), height, result, leaderHash, followerHash, detail };
}

/** The leader's proof request: the check interval, 1 s at least and 10 s at most. */
function proofTimeout(intervalMs: number): number {
  return Math.min(10_000, Math.max(1_000, intervalMs));
}

export interface CheckerDeps {
  kernel: Kernel;
  leader: LeaderClient;
  ring: ProofRing;
  intervalMs: number;
  /** False while a check cannot mean anything (the follower is replacing its state). */
  shouldCheck(): boolean;
  onLeaderHeight(height: number): void;
  onResult(record: CheckRecord): void;
}

export class DivergenceChecker {
  private lastCompared = 0;

  constructor(private readonly d: CheckerDeps) {}

  /** Asks the leader for a proof every interval until `signal` aborts. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.d.intervalMs, signal);
      if (signal.aborted || !this.d.shouldCheck()) continue;
      const r = await this.requestProof(signal);
      if (r !== null && !signal.aborted) this.d.onResult(r);
    }
  }

  /**
   * One request: the leader's answer comes back in-band as a marker (compareAt). Returns a
   * result only when this request alone decides: Pending (no answer) or Diverged (leader behind).
   */
  async requestProof(signal: AbortSignal): Promise<CheckRecord | null> {
    // Our height first, then the leader's: everything we had then, the leader had before.
    const ours = this.d.kernel.stats().height;
    let theirs;
    try {
      theirs = await this.d.leader.proof(signal, undefined, proofTimeout(this.d.intervalMs));
    } catch (err) {
      return checkRecord('Pending', null, null, null, `leader proof unavailable: ${describeError(err)}`);
    }
    if (theirs === null) return checkRecord('Pending', null, null, null, 'leader has no proof');
    this.d.onLeaderHeight(theirs.height);
    if (theirs.height < ours) {
      return checkRecord('Diverged', ours, theirs.hash, null, `the leader is at height ${theirs.height}, below this follower's ${ours}: their histories differ`);
    }
    return null;
  }

  /**
   * Compares at a proof marker. The caller has let every event up to `marker.height` commit and
   * nothing beyond it. Markers closer than half an interval to the previous comparison are
   * skipped (other clients' proof calls also produce markers), so hashing stays bounded.
   */
  async compareAt(marker: HeightHash): Promise<CheckRecord | null> {
    const now = Date.now();
    if (now - this.lastCompared < this.d.intervalMs / 2) return null;
    this.lastCompared = now;
    const mine = await this.d.kernel.stateProof();
    this.d.ring.record(mine.height, mine.hash);
    if (mine.height !== marker.height) {
      return checkRecord('Pending', mine.height, marker.hash, mine.hash, `the proof marker is for height ${marker.height} but this follower is at ${mine.height}`);
    }
    return mine.hash === marker.hash
      ? checkRecord('Synced', mine.height, marker.hash, mine.hash, null)
      : checkRecord('Diverged', mine.height, marker.hash, mine.hash, `state hashes differ at height ${mine.height}`);
  }

  /** Whether the next marker will be compared (so the caller only drains the pipeline then). */
  wantsMarker(): boolean {
    return Date.now() - this.lastCompared >= this.d.intervalMs / 2;
  }
}
