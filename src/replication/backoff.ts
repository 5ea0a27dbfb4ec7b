// Reconnect schedule of the deployment guide: 0, 500 ms, 1 s, 2 s, 4 s, then 8 s for ever. The
// first retry is immediate because most failures (a leader restart, a cut connection) heal at once.

export const RECONNECT_DELAYS_MS: readonly number[] = [0, 500, 1_000, 2_000, 4_000, 8_000];

/** Delay before retry number `attempt` (0-based), capped at 8 s. */
export function backoffDelay(attempt: number): number {
  return RECONNECT_DELAYS_MS[Math.min(Math.max(0, attempt), RECONNECT_DELAYS_MS.length - 1)];
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
