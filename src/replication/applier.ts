// Applies the leader's events through the follower's own commit path (kernel.applyReplicated:
// validated, appended to this node's log, fsynced), pipelined: up to MAX_IN_FLIGHT events are
// submitted without waiting for each commit, so the kernel's committer can group them into one
// fsync during catch-up. The kernel applies them in submission order, and submit() only ever
// submits the next sequence number, so nothing is applied twice or skipped.
import { toKernelError, type KernelErrorCode } from '../kernel/errors';
import type { Kernel } from '../kernel/kernel';

/** Events submitted and not yet committed, at most. */
const MAX_IN_FLIGHT = 512;
/** Payload bytes submitted and not yet committed, at most (one larger event may still go alone). */
const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

/** The stream skipped a sequence number: the connection is dropped and resumed from the height. */
export class SequenceGapError extends Error {
  constructor(expected: number, got: number) {
    super(`event ${got} arrived but ${expected} was expected: a gap in the stream`);
    this.name = 'SequenceGapError';
  }
}

/**
 * The kernel refused event `seq`. With a state-dependent code the leader's event, valid on the
 * leader at height seq - 1, does not apply to this follower at the same height: their states
 * differ (the kernel is deterministic). Other codes (I/O, read-only, capacity, SEQUENCE_GAP: a
 * missing event, not a different state) are this node's problem, not evidence of divergence.
 */
export class ApplyError extends Error {
  readonly code: KernelErrorCode;
  readonly stateDependent: boolean;

  constructor(
    readonly seq: number,
    cause: unknown,
  ) {
    const err = toKernelError(cause);
    super(`event ${seq} was not applied: ${err.code}: ${err.message}`, { cause: err });
    this.name = 'ApplyError';
    this.code = err.code;
    this.stateDependent = STATE_DEPENDENT.has(err.code);
  }
}

/** Kernel codes that depend on the state an event is applied to (see ApplyError). */
const STATE_DEPENDENT: ReadonlySet<KernelErrorCode> = new Set<KernelErrorCode>([
  'CORRUPT_DATA',
  'NOT_FOUND',
  'INVALID_ARGUMENT',
  'EMPTY_VECTOR',
  'INVALID_VECTOR',
  'METADATA_TOO_LARGE',
  // An event naming a collection this node lacks (or creating one it already has) means the two
  // states hold different collections.
  'COLLECTION_NOT_FOUND',
  'COLLECTION_EXISTS',
  'COLLECTION_PROTECTED',
  'IDEMPOTENCY_KEY_REUSED',
]);

export class ApplierStoppedError extends Error {
  constructor() {
    super('replication stopped');
    this.name = 'ApplierStoppedError';
  }
}

interface Pending {
  bytes: number;
  done: Promise<void>;
}

export class Applier {
  /** Highest sequence number handed to the kernel (or the kernel's height after reset()). */
  private submitted = 0;
  private readonly inFlight: Pending[] = [];
  private inFlightBytes = 0;
  /** The lowest-numbered event that failed (later ones fail as a consequence). */
  private failure: ApplyError | null = null;
  private stopped = false;

  /** Called once per failure, so an idle stream does not sit on a failed apply. */
  onFailure: (() => void) | null = null;

  constructor(
    private readonly kernel: Kernel,
    private readonly onApplied: () => void,
  ) {}

  /** Re-reads the kernel's height (call with nothing in flight); the next event is height + 1. */
  reset(): number {
    this.submitted = this.kernel.stats().height;
    return this.submitted;
  }

  /**
   * Submits event `seq` unless it is already applied or in flight; waits while the pipeline is
   * full. Throws the first commit failure, a gap, or after stop().
   */
  async submit(seq: number, payload: Buffer): Promise<void> {
    this.throwIfFailed();
    // A reconnect may replay events we already have: the sequence number says so.
    if (seq <= this.submitted) return;
    if (seq !== this.submitted + 1) throw new SequenceGapError(this.submitted + 1, seq);
    while (this.inFlight.length >= MAX_IN_FLIGHT || (this.inFlight.length > 0 && this.inFlightBytes + payload.length > MAX_IN_FLIGHT_BYTES)) {
      await this.settleOldest();
    }
    if (this.stopped) throw new ApplierStoppedError();
    this.throwIfFailed();
    const done = this.kernel.applyReplicated(seq, payload).then(this.onApplied, (err: unknown) => {
      const first = this.failure === null;
      if (first || seq < this.failure!.seq) this.failure = new ApplyError(seq, err);
      if (first) this.onFailure?.();
    });
    this.inFlight.push({ bytes: payload.length, done });
    this.inFlightBytes += payload.length;
    this.submitted = seq;
  }

  /** Waits for every submitted event; throws (once) the first failure among them. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.settleOldest();
    const f = this.failure;
    this.failure = null;
    if (f !== null) throw f;
  }

  /** Later submits throw (shutdown). */
  stop(): void {
    this.stopped = true;
  }

  private async settleOldest(): Promise<void> {
    const p = this.inFlight[0];
    await p.done;
    // Another caller (drain vs submit) may have settled it meanwhile.
    if (this.inFlight[0] === p) {
      this.inFlight.shift();
      this.inFlightBytes -= p.bytes;
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== null) {
      const f = this.failure;
      this.failure = null;
      throw f;
    }
  }
}
