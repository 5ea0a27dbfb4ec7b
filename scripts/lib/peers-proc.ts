// Server processes for scripts/bench-peers.ts: spawned with their output in a log file (a pipe
// nobody reads would stall them), remembered so that every one is SIGKILLed when the script ends
// however it ends, and read through /proc for memory (VmHWM, VmRSS) and CPU time per thread.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';

const running = new Set<ChildProcess>();
const cleanups: (() => void)[] = [];
let hooked = false;

/** SIGKILLs every server still running, then runs the cleanups (temp dirs); safe to call twice. */
export function killAll(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  running.clear();
  while (cleanups.length) cleanups.pop()!();
}

/** Runs `fn` at exit (after the servers are killed), on an error, SIGINT or SIGTERM alike. */
export function onExit(fn: () => void): void {
  cleanups.push(fn);
  hook();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\n${sig}: stopping every server\n`);
      killAll();
      process.exit(130);
    });
  }
}

export class Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  /** performance.now() just before the spawn. */
  readonly spawnedAt: number;
  readonly exited: Promise<void>;

  constructor(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; log: string }) {
    hook();
    const fd = fs.openSync(opts.log, 'a');
    this.spawnedAt = performance.now();
    this.child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    if (this.child.pid === undefined) throw new Error(`could not spawn ${cmd}`);
    this.pid = this.child.pid;
    running.add(this.child);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', () => {
        running.delete(this.child);
        resolve();
      }),
    );
    this.child.once('error', () => running.delete(this.child));
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL (the crash under test, or the fast way out) and wait for the exit. */
  async kill9(): Promise<void> {
    for (const p of descendants(this.pid)) tryKill(p);
    if (this.alive()) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    if (!this.alive()) return;
    const timer = setTimeout(() => void this.kill9(), graceMs);
    this.child.kill('SIGTERM');
    await this.exited;
    clearTimeout(timer);
  }
}

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Fields after the command name of /proc/<path>/stat (index 0 is field 3, the state). */
function statFields(path: string): string[] | null {
  try {
    const s = fs.readFileSync(`/proc/${path}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Every descendant of `pid` (children of children too), from the ppid field of /proc/<n>/stat. */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f) parent.set(Number(name), Number(f[1]));
  }
  const out: number[] = [];
  const frontier = [pid];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [c, pp] of parent) {
      if (pp === p) {
        out.push(c);
        frontier.push(c);
      }
    }
  }
  return out;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux (getconf CLK_TCK)

/** utime + stime in ms: of the process (all its threads, live and ended) or of one thread. */
export function cpuMs(pid: number, tid?: number): number {
  const f = statFields(tid === undefined ? String(pid) : `${pid}/task/${tid}`);
  return f ? (Number(f[11]) + Number(f[12])) * TICK_MS : NaN;
}

/** CPU ms of `pid` and all its descendants (Chroma runs as a tree on some versions). */
export function treeCpuMs(pid: number): number {
  return [pid, ...descendants(pid)].reduce((s, p) => s + (cpuMs(p) || 0), 0);
}

/**
 * CPU ms per thread name (comm) of `pid`'s live threads, the main thread as "main" (threads a
 * process starts inherit its name, so the main thread is told apart by its id).
 */
export function threadCpuMs(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let comm = '?';
    try {
      comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const ms = cpuMs(pid, Number(tid));
    const name = Number(tid) === pid ? 'main' : comm;
    if (!Number.isNaN(ms)) out[name] = (out[name] ?? 0) + ms;
  }
  return out;
}

/** A `VmHWM`/`VmRSS` line of /proc/<pid>/status in KiB (0 when the process is gone). */
export function statusKiB(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Peak memory while `run` runs: the larger of the root's VmHWM (its own peak, exact) and the peak
 * of the tree's summed VmRSS sampled every `everyMs` (covers helper processes).
 */
export async function peakRssDuring<T>(pid: number, run: () => Promise<T>, everyMs = 100): Promise<{ value: T; peakMiB: number }> {
  let treePeak = 0;
  const sample = () => {
    const sum = [pid, ...descendants(pid)].reduce((s, p) => s + statusKiB(p, 'VmRSS'), 0);
    treePeak = Math.max(treePeak, sum);
  };
  const timer = setInterval(sample, everyMs);
  try {
    const value = await run();
    sample();
    return { value, peakMiB: Math.max(treePeak, statusKiB(pid, 'VmHWM')) / 1024 };
  } finally {
    clearInterval(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Rejects after `ms` unless `p` settles first (the request itself is left to finish or fail). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Polls `probe` every `everyMs` until it returns true; false when `deadlineMs` passes first. */
export async function pollUntil(probe: () => Promise<boolean>, everyMs: number, deadlineMs: number): Promise<boolean> {
  const end = performance.now() + deadlineMs;
  while (performance.now() < end) {
    try {
      if (await probe()) return true;
    } catch {
      // Not up yet (refused, reset, 5xx): try again.
    }
    await sleep(everyMs);
  }
  return false;
}

/**
 * Waits until every process in `pids` (with its children) is idle: under 5 % of one core in each
 * 250 ms slice of a 1.5 s window (longer than the 1 s pause after which Valori starts an idle
 * checkpoint), so one contender's background work (Qdrant indexing what it acknowledged, a
 * checkpoint) never runs inside another's measurement; and until `done` (work a server is known to
 * start later by itself, see Peer.backgroundDone). Returns the seconds until the idle window began,
 * or null when `deadlineMs` passed first (the caller says so).
 */
export async function settle(pids: number[], done: () => Promise<boolean> = async () => true, deadlineMs = 120_000): Promise<number | null> {
  const started = performance.now();
  const sliceMs = 250;
  const slices = 6;
  let idleSince = started;
  let quietSlices = 0;
  while (performance.now() - started < deadlineMs) {
    const before = pids.map((p) => treeCpuMs(p));
    const t0 = performance.now();
    await sleep(sliceMs);
    const spent = pids.reduce((sum, p, i) => sum + (treeCpuMs(p) - before[i]), 0);
    if (spent <= 0.05 * (performance.now() - t0)) {
      if (quietSlices === 0) idleSince = t0;
      if (++quietSlices >= slices && (await done().catch(() => false))) return (idleSince - started) / 1000;
    } else {
      quietSlices = 0;
    }
  }
  return null;
}

/** The last `bytes` of a log file, for an error message. */
export function tail(file: string, bytes = 3000): string {
  try {
    const s = fs.readFileSync(file, 'utf8');
    return s.slice(-bytes);
  } catch {
    return '';
  }
}
