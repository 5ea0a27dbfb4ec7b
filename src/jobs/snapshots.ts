// Auto-snapshot task: every VALORI_SNAPSHOT_INTERVAL seconds, write a snapshot (off the event
// loop: encoding and the fsyncs run in the kernel on the libuv pool). One at a time; a run that
// is still going when the next tick comes makes that tick a no-op. The timer is unref'd so it
// never keeps the process alive.
import type { Kernel } from '../kernel/kernel';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';

export interface SnapshotScheduler {
  stop(): Promise<void>;
  /** Runs one snapshot now (waits for a running one first). */
  runNow(reason: string): Promise<void>;
}

export function startSnapshotScheduler(kernel: Kernel, intervalSecs: number | null, logger: Logger, metrics: Metrics): SnapshotScheduler {
  let running: Promise<void> | null = null;
  let stopped = false;
  // Height of the last snapshot this process wrote: an unchanged state is not written again (that
  // would cost a full write and rotate the older fallback copy away for nothing).
  let lastHeight = kernel.lastSnapshot()?.height ?? -1;
  metrics.snapshotSchedule(intervalSecs);

  const run = (reason: string): Promise<void> => {
    if (running) return running;
    if (kernel.stats().height === lastHeight) {
      // The snapshot on disk already covers the state: a success for the "no recent snapshot"
      // alert, or an idle node would page its operator.
      metrics.snapshotUpToDate();
      return Promise.resolve();
    }
    running = (async () => {
      try {
        const r = await kernel.saveSnapshot(null);
        metrics.snapshotWritten(r.bytes, true);
        lastHeight = r.height;
        logger.info(`snapshot written (${reason}): height ${r.height}, ${r.bytes} bytes, ${r.totalMs.toFixed(0)} ms, writes held ${r.stallMs.toFixed(1)} ms`, {
          path: r.path,
        });
      } catch (err) {
        metrics.snapshotFailed();
        logger.error(`snapshot (${reason}) failed: ${(err as Error).message}`);
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const timer = intervalSecs === null ? null : setInterval(() => {
    if (!stopped) void run('interval');
  }, intervalSecs * 1000);
  timer?.unref();

  return {
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      if (running) await running;
    },
    runNow: (reason) => (running ? running.then(() => run(reason)) : run(reason)),
  };
}
