// The real server process (`node dist/main.js`) for the crash battery: spawn with an explicit
// environment, wait for the readiness line, kill, and a small JSON-over-fetch helper. Every
// spawned child is remembered so a test's `after` hook (or the script's exit handler) can
// SIGKILL whatever is still running.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const MAIN = join(__dirname, '..', '..', '..', 'dist', 'main.js');

const running = new Set<ChildProcess>();

/** SIGKILLs every child this module started that has not exited yet. */
export function killAllServers(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  running.clear();
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RecoveryLine {
  source: string;
  height: number;
  snapshotHeight: number | null;
  replayed: number;
  seconds: number;
}

export class ServerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly startedAt = performance.now();
  private out = '';
  private readonly lineListeners: ((line: string, at: number) => void)[] = [];
  private partial = '';

  /** `main`: the server entry point (another checkout's dist/main.js for side-by-side runs). */
  constructor(env: Record<string, string>, main = MAIN) {
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    // Only what we set, plus PATH: no VALORI_* leaks in from the caller's shell.
    this.child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this.child);
    this.exited = new Promise<Exit>((resolve) =>
      this.child.once('exit', (code, signal) => {
        running.delete(this.child);
        resolve({ code, signal });
      }),
    );
    const onData = (d: Buffer) => {
      const at = performance.now();
      const text = d.toString('utf8');
      this.out += text;
      const lines = (this.partial + text).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) for (const l of this.lineListeners) l(line, at);
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
  }

  /** Everything the process printed so far (stdout and stderr interleaved by arrival). */
  output(): string {
    return this.out;
  }

  /** Calls `fn` for every complete output line from now on, with its arrival time. */
  onLine(fn: (line: string, at: number) => void): void {
    this.lineListeners.push(fn);
  }

  isListening(): boolean {
    return /Listening on 127\.0\.0\.1:\d+/.test(this.out);
  }

  /** Resolves with the base URL and the time from spawn to the readiness line. */
  listening(timeoutMs: number): Promise<{ base: string; ms: number }> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: Error | null, base?: string) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve({ base: base!, ms: performance.now() - this.startedAt });
      };
      const check = () => {
        const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(this.out);
        if (m) finish(null, `http://127.0.0.1:${m[1]}`);
      };
      timer = setTimeout(() => finish(new Error(`no readiness line within ${timeoutMs} ms:\n${this.out}`)), timeoutMs);
      this.onLine(check);
      void this.exited.then((e) => finish(new Error(`server exited (${e.code ?? e.signal}) before listening:\n${this.out}`)));
      check();
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** The `recovered from ...` line of this start, parsed. */
  recovery(): RecoveryLine | null {
    const m = /recovered from (\w+): height (\d+)(?:, snapshot at (\d+))?, (\d+) events replayed in ([\d.]+) s/.exec(this.out);
    if (!m) return null;
    return {
      source: m[1],
      height: Number(m[2]),
      snapshotHeight: m[3] === undefined ? null : Number(m[3]),
      replayed: Number(m[4]),
      seconds: Number(m[5]),
    };
  }

  /** Messages of `recovery: ...` warning and error lines. */
  recoveryNotes(): string[] {
    const notes: string[] = [];
    for (const line of this.out.split('\n')) {
      const m = /"message":"(recovery: [^"]*)"/.exec(line);
      if (m) notes.push(m[1]);
    }
    return notes;
  }
}

export interface Reply {
  status: number;
  json: any;
}

/**
 * POSTs (or GETs, without a body) JSON. Throws on a network failure (the request is then
 * "unanswered": it may or may not have been applied); returns any HTTP status.
 */
export async function call(base: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<Reply> {
  const res = await fetch(base + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/** Like `call`, but anything other than a 2xx is an error naming the route. */
export async function ok(base: string, path: string, body?: unknown): Promise<any> {
  const r = await call(base, path, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${path} answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
