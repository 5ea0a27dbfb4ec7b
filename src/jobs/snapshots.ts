// Background snapshots, off the event loop (freezing, encoding and the fsyncs run in the kernel on
// the libuv pool; writes wait only for the copy-on-write freeze). Two triggers share one runner,
// so only one snapshot is written at a time:
// - the interval (VALORI_SNAPSHOT_INTERVAL, with VALORI_SNAPSHOT_PATH): every N seconds;
// - checkpoints (VALORI_CHECKPOINT, with an event log): once VALORI_CHECKPOINT_EVENTS events or
//   VALORI_CHECKPOINT_BYTES bytes were logged since the last snapshot, so a restart replays only
//   that tail. The trigger polls two O(1) counters (committed height, bytes appended) on a short
//   timer in the shell: nothing is added to the write path. After a checkpoint that took T, the
//   next waits at least CHECKPOINT_PACING × T, so a bulk load spends at most about a third of its
//   time writing checkpoints whatever the thresholds. When writes pause for CHECKPOINT_IDLE_MS
//   with a tail of at least a tenth of a threshold, that tail is checkpointed too, so a node that
//   has just finished a bulk load restarts from a snapshot with (almost) nothing to replay.
// Timers are unref'd so they never keep the process alive.
import type { Kernel } from '../kernel/kernel';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';

/** How often (ms) the checkpoint trigger reads the height and the bytes appended. */
const CHECKPOINT_POLL_MS = 100;
/** A checkpoint that took T seconds is followed by at least this many T of writes before the next. */
const CHECKPOINT_PACING = 2;
/** Writes paused this long (ms) with a tail of at least IDLE_FRACTION of a threshold: checkpoint it. */
const CHECKPOINT_IDLE_MS = 1_000;
const IDLE_FRACTION = 0.1;
/** After a failed checkpoint the trigger waits this long (ms) before trying again. */
const CHECKPOINT_RETRY_MS = 10_000;

export interface CheckpointPolicy {
  /** Events since the last snapshot that trigger a checkpoint; 0: this trigger is off. */
  events: number;
  /** Bytes appended to the log since the last snapshot that trigger one; 0: this trigger is off. */
  bytes: number;
}

export interface SnapshotSchedule {
  /** VALORI_SNAPSHOT_INTERVAL in seconds; null: no periodic snapshots. */
  intervalSecs: number | null;
  /** null: no automatic checkpoints (no event log, VALORI_CHECKPOINT=off, or both thresholds 0). */
  checkpoint: CheckpointPolicy | null;
}

export interface SnapshotScheduler {
  stop(): Promise<void>;
  /** Runs one snapshot now (waits for a running one first). */
  runNow(reason: string): Promise<void>;
}

export function startSnapshotScheduler(kernel: Kernel, schedule: SnapshotSchedule, logger: Logger, metrics: Metrics): SnapshotScheduler {
  let running: Promise<void> | null = null;
  let stopped = false;
  // Height of the last snapshot on disk: an unchanged state is not written again (that would cost
  // a full write and rotate the older fallback copy away for nothing). After a restart, the
  // snapshot recovery loaded is the one the next replay starts from.
  const recovered = kernel.recovery().snapshotHeight;
  let lastHeight = kernel.lastSnapshot()?.height ?? recovered ?? -1;
  // Checkpoint baseline: the height and appended-bytes count the last snapshot covers.
  let base = { height: Math.max(lastHeight, 0), bytes: 0 };
  let notBefore = 0;
  // The height at the previous poll and since when it has not moved (the idle trigger).
  let seenHeight = -1;
  let quietSince = performance.now();
  metrics.snapshotSchedule(schedule.intervalSecs);

  const run = (reason: string): Promise<void> => {
    if (running) return running;
    if (kernel.stats().height === lastHeight) {
      // The snapshot on disk already covers the state: a success for the "no recent snapshot"
      // alert, or an idle node would page its operator.
      metrics.snapshotUpToDate();
      return Promise.resolve();
    }
    const checkpoint = reason === 'checkpoint';
    const bytesAtStart = kernel.appendedLogBytes();
    const t0 = performance.now();
    running = (async () => {
      try {
        const r = await kernel.saveSnapshot(null);
        const seconds = (performance.now() - t0) / 1000;
        metrics.snapshotWritten(r.bytes, true);
        lastHeight = r.height;
        base = { height: r.height, bytes: bytesAtStart };
        notBefore = performance.now() + CHECKPOINT_PACING * seconds * 1000;
        if (checkpoint) metrics.checkpointDone({ ok: true, seconds, height: r.height });
        logger.info(`${checkpoint ? 'checkpoint' : 'snapshot'} written (${reason}): height ${r.height}, ${r.bytes} bytes, ${r.totalMs.toFixed(0)} ms, writes held ${r.stallMs.toFixed(1)} ms`, {
          path: r.path,
        });
      } catch (err) {
        metrics.snapshotFailed();
        if (checkpoint) metrics.checkpointDone({ ok: false });
        notBefore = performance.now() + CHECKPOINT_RETRY_MS;
        logger.error(`${checkpoint ? 'checkpoint' : 'snapshot'} (${reason}) failed: ${(err as Error).message}`);
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const timer = schedule.intervalSecs === null ? null : setInterval(() => {
    if (!stopped) void run('interval');
  }, schedule.intervalSecs * 1000);
  timer?.unref();

  const policy = schedule.checkpoint;
  const poll = policy === null ? null : setInterval(() => {
    const now = performance.now();
    const height = kernel.stats().height;
    if (height !== seenHeight) {
      seenHeight = height;
      quietSince = now;
    }
    if (stopped || running || now < notBefore) return;
    const events = height - base.height;
    const bytes = kernel.appendedLogBytes() - base.bytes;
    const idle = now - quietSince >= CHECKPOINT_IDLE_MS;
    if (checkpointDue(policy, events, bytes, idle)) void run('checkpoint');
  }, CHECKPOINT_POLL_MS);
  poll?.unref();

  return {
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      if (poll) clearInterval(poll);
      if (running) await running;
    },
    runNow: (reason) => (running ? running.then(() => run(reason)) : run(reason)),
  };
}

/** The checkpoint policy a configuration asks for (null when checkpoints are off). */
export function checkpointPolicy(config: { eventLogPath: string | null; checkpoint: 'on' | 'off'; checkpointEvents: number; checkpointBytes: number }): CheckpointPolicy | null {
  if (config.eventLogPath === null || config.checkpoint === 'off') return null;
  if (config.checkpointEvents === 0 && config.checkpointBytes === 0) return null;
  return { events: config.checkpointEvents, bytes: config.checkpointBytes };
}

/**
 * Whether `events` events and `bytes` log bytes since the last snapshot call for a checkpoint: a
 * threshold reached, or, once writes paused (`idle`), a tenth of one.
 */
export function checkpointDue(policy: CheckpointPolicy, events: number, bytes: number, idle = false): boolean {
  if (events <= 0) return false;
  const scale = idle ? IDLE_FRACTION : 1;
  return (policy.events > 0 && events >= policy.events * scale) || (policy.bytes > 0 && bytes >= policy.bytes * scale);
}
