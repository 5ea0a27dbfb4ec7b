// The kill -9 loop (docs/reliability.md battery 1) and the SIGTERM-under-load check, shared by
// __test__/crash.test.ts (short run) and scripts/crash-loop.ts (long runs).
//
// One iteration: (re)start the server on the same files, verify the recovered state against the
// ledger, run concurrent writers, SIGKILL at a seeded random moment. The state accumulates. Runs
// go in cycles: in the first half of a cycle nothing writes a snapshot, so each restart replays
// a longer log (the whole log, in the first cycle); in the second half some iterations kill at
// the predicted moment of an auto-snapshot and some save snapshots and trim the log while the
// writers run, so restarts load a snapshot plus a tail, from a trimmed log. Every 10th
// iteration also kills the server while it is still starting up.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../data';
import { Ledger, MAX_KEY, type LedgerCounts } from './ledger';
import { ServerProcess, sleep } from './server';
import { verifyAgainstLedger } from './verify';
import { DEFAULT_MIX, sendWrite, startMaintenance, startWriters } from './writers';

export interface LoopOptions {
  iterations: number;
  seed: number;
  /** Vector dimension (small keeps iterations short). */
  dim?: number;
  /** Empty (or new) directory for the log and snapshots; a temp dir (removed afterwards) when absent. */
  dir?: string;
  /** Keep the directory at the end (always kept on failure). */
  keep?: boolean;
  /** Kill between these many ms after the writers start (ordinary iterations). */
  killWindowMs?: [number, number];
  /** Writers per iteration, drawn from this range. */
  writers?: [number, number];
  /** Above this many live records the writers mostly delete (bounds long runs). */
  keepLiveBelow?: number;
  /** Iterations per cycle: the first half without snapshots, the second with them. */
  cycle?: number;
  /** Bound on a restart: spawn to readiness line. */
  restartTimeoutMs?: number;
  log?: (line: string) => void;
  /** Print a progress line every this many iterations. */
  progressEvery?: number;
}

export interface LoopSummary {
  seed: number;
  iterations: number;
  kills: number;
  startupKills: number;
  snapshotTimedKills: number;
  /** Snapshot-timed kills that landed after the tick and before its "snapshot written" line. */
  killsDuringSnapshot: number;
  maintenanceIterations: number;
  verifications: number;
  counts: LedgerCounts;
  exactSearches: number;
  recoveredFromSnapshot: number;
  /** Recoveries that replayed the whole log from sequence 1 (no snapshot). */
  recoveredFromLogOnly: number;
  recoveredFromTrimmedLog: number;
  leftoverTempRemoved: number;
  tornTailsCut: number;
  maxRestartMs: number;
  maxReplaySeconds: number;
  /** Most events replayed by one recovery. */
  maxReplayed: number;
  finalHeight: number;
  finalLive: number;
  logBytes: number;
  seconds: number;
}

export function baseEnv(dir: string, dim: number): Record<string, string> {
  return {
    VALORI_DIM: String(dim),
    VALORI_BIND: '127.0.0.1:0',
    VALORI_LOG_FORMAT: 'json',
    VALORI_EVENT_LOG_PATH: join(dir, 'events.log'),
    VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'),
    VALORI_MAX_RECORDS: '16000000',
    // verify.ts reads the live set back with k = live + 1, so runs stay below VALORI_MAX_K's ceiling.
    VALORI_MAX_K: '100000',
  };
}

/**
 * Follows `snapshot written (interval)` lines: `nextTick()` predicts when the auto-snapshot after
 * the next one at least `leadMs` away starts (tick start = line arrival - its duration; ticks are
 * 1 s apart).
 */
function followIntervalSnapshots(s: ServerProcess, timeoutMs: number): { nextTick(leadMs: number): Promise<number>; ticks: number[] } {
  let last: number | null = null;
  const ticks: number[] = [];
  const waiters: ((t: number) => void)[] = [];
  s.onLine((line, at) => {
    const m = /snapshot written \(interval\):.* (\d+) ms, writes held/.exec(line);
    if (!m) return;
    last = at - Number(m[1]);
    ticks.push(last);
    for (const w of waiters.splice(0)) w(last);
  });
  return {
    ticks,
    async nextTick(leadMs) {
      const first =
        last ??
        (await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no auto-snapshot within ${timeoutMs} ms:\n${s.output()}`)), timeoutMs);
          waiters.push((t) => {
            clearTimeout(timer);
            resolve(t);
          });
        }));
      return first + 1000 * Math.max(1, Math.ceil((performance.now() + leadMs - first) / 1000));
    },
  };
}

export async function runCrashLoop(opts: LoopOptions): Promise<LoopSummary> {
  const dim = opts.dim ?? 8;
  const log = opts.log ?? (() => {});
  const [kmin, kmax] = opts.killWindowMs ?? [5, 250];
  const [wmin, wmax] = opts.writers ?? [2, 6];
  const restartTimeoutMs = opts.restartTimeoutMs ?? 15_000;
  const cycle = opts.cycle ?? 30;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'valori-crash-'));
  // The ledger starts empty, so the files must too.
  mkdirSync(dir, { recursive: true });
  if (readdirSync(dir).length > 0) throw new Error(`${dir} is not empty: the crash loop needs a fresh directory`);
  const random = rng(opts.seed);
  const pick = (n: number) => Math.floor(random() * n);
  const ledger = new Ledger(dim);
  const env = baseEnv(dir, dim);
  const started = performance.now();
  const sum: LoopSummary = {
    seed: opts.seed,
    iterations: 0,
    kills: 0,
    startupKills: 0,
    snapshotTimedKills: 0,
    killsDuringSnapshot: 0,
    maintenanceIterations: 0,
    verifications: 0,
    counts: ledger.counts,
    exactSearches: 0,
    recoveredFromSnapshot: 0,
    recoveredFromLogOnly: 0,
    recoveredFromTrimmedLog: 0,
    leftoverTempRemoved: 0,
    tornTailsCut: 0,
    maxRestartMs: 0,
    maxReplaySeconds: 0,
    maxReplayed: 0,
    finalHeight: 0,
    finalLive: 0,
    logBytes: 0,
    seconds: 0,
  };
  log(`crash loop: seed ${opts.seed}, ${opts.iterations} iterations, dim ${dim}, dir ${dir}`);
  let failed = true;
  let lastRestartMs = 300;
  try {
    for (let i = 0; i <= opts.iterations; i++) {
      // Vectors carry a 24-bit key: stop (after a final verification) before the key space runs out.
      const exhausted = ledger.nextKey > MAX_KEY - 100_000;
      if (exhausted && i < opts.iterations) log(`key space nearly used (${ledger.nextKey} records sent): stopping after ${i} iterations`);
      const last = i === opts.iterations || exhausted;
      // First half of each cycle: no snapshots, so the log (or the tail after an old snapshot)
      // grows and every restart replays all of it. Second half: auto-snapshot kills, saves, trims.
      const snapshotPhase = i % cycle >= cycle / 2;
      const snapshotTimed = !last && snapshotPhase && i % 5 === 2;
      const maintenance = !last && snapshotPhase && (i % 2 === 1 || random() < 0.15);
      const startupKill = !last && i % 10 === 7;
      const iterEnv = snapshotTimed ? { ...env, VALORI_SNAPSHOT_INTERVAL: '1' } : env;

      if (startupKill) {
        // Kill at a uniform moment of a start-up (as long as the last one took): during Node's
        // boot, the recovery, or between recovery and the readiness line.
        const s0 = new ServerProcess(iterEnv);
        await sleep(random() * lastRestartMs);
        s0.kill('SIGKILL');
        const e = await s0.exited;
        if (e.signal !== 'SIGKILL') throw new Error(`server exited with ${e.code} before the startup kill:\n${s0.output()}`);
        sum.startupKills++;
      }

      const s = new ServerProcess(iterEnv);
      const snaps = snapshotTimed ? followIntervalSnapshots(s, restartTimeoutMs + 3_000) : null;
      const { base, ms } = await s.listening(restartTimeoutMs);
      sum.maxRestartMs = Math.max(sum.maxRestartMs, ms);
      lastRestartMs = ms;
      const rec = s.recovery();
      if (rec === null) throw new Error(`no recovery line:\n${s.output()}`);
      sum.maxReplaySeconds = Math.max(sum.maxReplaySeconds, rec.seconds);
      sum.maxReplayed = Math.max(sum.maxReplayed, rec.replayed);
      if (rec.snapshotHeight !== null) sum.recoveredFromSnapshot++;
      else if (rec.source === 'event_log') sum.recoveredFromLogOnly++;
      for (const note of s.recoveryNotes()) {
        if (note.includes('removed leftover temporary file')) sum.leftoverTempRemoved++;
        else if (note.includes('truncated to')) sum.tornTailsCut++;
        else throw new Error(`unexpected recovery note after a kill: ${note}`);
      }
      let v;
      try {
        v = await verifyAgainstLedger(base, ledger, pick);
      } catch (err) {
        (err as Error).message += `\n(iteration ${i}, seed ${opts.seed}, dir ${dir}; recovery: ${JSON.stringify(rec)})`;
        throw err;
      }
      ledger.settle();
      sum.verifications++;
      sum.exactSearches += v.exactSearches;
      if (v.firstSeq > 1) sum.recoveredFromTrimmedLog++;
      sum.finalHeight = v.height;
      sum.finalLive = v.live;

      if (last) {
        s.kill('SIGKILL');
        await s.exited;
        break;
      }

      const nWriters = wmin + pick(wmax - wmin + 1);
      let killAt: number;
      let tick: number | null = null;
      if (snaps) {
        // One write first, so the next tick has something to snapshot even if the scheduler
        // skips unchanged state. Then start writing shortly before a tick and kill inside the
        // predicted snapshot window.
        const first = await sendWrite(base, ledger, ledger.newInsert('insert', 1));
        if (first !== 'acked') throw new Error(`write before the auto-snapshot: ${first}`);
        const lead = 20 + random() * 180;
        tick = await snaps.nextTick(lead);
        await sleep(tick - performance.now() - lead);
        killAt = tick + random() * 6 - 1;
        sum.snapshotTimedKills++;
      } else {
        killAt = performance.now() + kmin + random() * (kmax - kmin);
      }
      const w = startWriters(base, ledger, nWriters, random, DEFAULT_MIX, opts.keepLiveBelow ?? 10_000);
      const m = maintenance ? startMaintenance(base, random, 3, Math.max(20, killAt - performance.now())) : null;
      if (m) sum.maintenanceIterations++;
      await sleep(Math.max(0, killAt - performance.now()));
      const killedAt = performance.now();
      s.kill('SIGKILL');
      await w.stop();
      await m?.stop();
      const e = await s.exited;
      const t = tick;
      if (snaps && t !== null && killedAt >= t && !snaps.ticks.some((x) => Math.abs(x - t) < 25)) sum.killsDuringSnapshot++;
      if (e.signal !== 'SIGKILL') throw new Error(`server exited with ${e.code} before the kill:\n${s.output()}`);
      if (w.rejections().length > 0) throw new Error(`writes answered with non-2xx: ${w.rejections().slice(0, 5).join('; ')}`);
      sum.kills++;
      sum.iterations++;
      if (opts.progressEvery && sum.iterations % opts.progressEvery === 0) {
        log(
          `  ${sum.iterations}/${opts.iterations}: height ${v.height}, live ${v.live}, ` +
            `${ledger.counts.unanswered} unanswered so far, ${((performance.now() - started) / 1000).toFixed(0)} s`,
        );
      }
    }
    const logPath = env.VALORI_EVENT_LOG_PATH;
    sum.logBytes = existsSync(logPath) ? statSync(logPath).size : 0;
    sum.seconds = (performance.now() - started) / 1000;
    failed = false;
    return sum;
  } finally {
    if (failed) log(`crash loop FAILED: seed ${opts.seed}; files kept in ${dir}`);
    else if (!opts.keep && opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

export interface ShutdownOptions {
  seed: number;
  dim?: number;
  writers?: number;
  /** SIGTERM is sent once the writers have this many acknowledged writes (and more in flight). */
  ackedBeforeSignal?: number;
  /** Give up on the process (SIGKILL, fail) when SIGTERM to exit takes longer than this: a hang guard. */
  exitBoundMs?: number;
  log?: (line: string) => void;
}

export interface ShutdownSummary {
  exitCode: number | null;
  exitMs: number;
  completedCleanly: boolean;
  acked: number;
  unanswered: number;
  applied: number;
  dropped: number;
  rejections: string[];
  height: number;
}

function ackedWrites(ledger: Ledger): number {
  const c = ledger.counts;
  return c.ackedInserts + c.ackedBatches + c.ackedDeletes + c.ackedSoftDeletes;
}

/**
 * SIGTERM while writers run, then a restart on the same files verified against the ledger (a
 * missing acknowledged write throws). The summary says how the process exited and whether it
 * drained; exitMs is for reports (scripts/crash-loop.ts), not for assertions.
 */
export async function runGracefulShutdown(opts: ShutdownOptions): Promise<ShutdownSummary> {
  const dim = opts.dim ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'valori-sigterm-'));
  const random = rng(opts.seed);
  const pick = (n: number) => Math.floor(random() * n);
  const ledger = new Ledger(dim);
  const env = baseEnv(dir, dim);
  let failed = true;
  try {
    const s = new ServerProcess(env);
    const { base } = await s.listening(15_000);
    const w = startWriters(base, ledger, opts.writers ?? 8, random);
    // Under load means: writes are being acknowledged (the writers keep more in flight).
    const want = opts.ackedBeforeSignal ?? 50;
    const loadDeadline = Date.now() + 30_000;
    while (ackedWrites(ledger) < want) {
      if (Date.now() > loadDeadline) throw new Error(`only ${ackedWrites(ledger)} of ${want} writes acknowledged within 30 s:\n${s.output().slice(-2000)}`);
      await sleep(10);
    }
    const t0 = performance.now();
    s.kill('SIGTERM');
    const bound = opts.exitBoundMs ?? 12_000;
    const timeout = sleep(bound).then(() => null);
    const e = await Promise.race([s.exited, timeout]);
    const exitMs = performance.now() - t0;
    if (e === null) {
      s.kill('SIGKILL');
      throw new Error(`no exit within ${bound} ms of SIGTERM:\n${s.output().slice(-2000)}`);
    }
    await w.stop();
    const acked = ackedWrites(ledger);
    const unanswered = ledger.open.length;
    const s2 = new ServerProcess(env);
    const { base: base2 } = await s2.listening(15_000);
    const v = await verifyAgainstLedger(base2, ledger, pick);
    s2.kill('SIGKILL');
    await s2.exited;
    failed = false;
    return {
      exitCode: e.code,
      exitMs,
      completedCleanly: s.output().includes('shutdown complete') && !s.output().includes('grace period elapsed'),
      acked,
      unanswered,
      applied: v.applied,
      dropped: v.dropped,
      rejections: w.rejections(),
      height: v.height,
    };
  } finally {
    if (failed) opts.log?.(`SIGTERM check FAILED: seed ${opts.seed}; files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
