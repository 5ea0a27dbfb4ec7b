// Records client operations for the linearizability checker in this folder (README.md there):
// one clock for the whole history, one JSONL line an operation. Also builds and runs the checker.
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export type LincheckModel = 'kv' | 'insert';
export type Op = 'put' | 'get' | 'insert' | 'find';
/** What a server answered: a value (kv), an id (insert), or null. */
export type Out = string | number | null;

/** One line of a history file, exactly as the checker reads it. */
export interface HistoryLine {
  client: number;
  op: Op;
  key: string;
  value: string | null;
  call: number;
  ret: number | null;
  status: 'ok' | 'unknown';
  out: Out;
}

/** An operation in flight. Settle it once: ok, unknown or fail. */
export interface OpHandle {
  /** The server answered: the operation took effect and `out` is its answer (null if none). */
  ok(out?: Out): void;
  /** The outcome is not known (a timeout, a reset connection, 503 LEADER_CHANGED): it may have taken effect. */
  unknown(): void;
  /** A definite failure (it did not take effect): the operation is left out of the history. */
  fail(): void;
}

type Outcome = { status: 'open' } | { status: 'ok'; ret: bigint; out: Out } | { status: 'unknown' } | { status: 'failed' };

interface Entry {
  client: number;
  op: Op;
  key: string;
  value: string | null;
  call: bigint;
  outcome: Outcome;
}

const OPS: readonly Op[] = ['put', 'get', 'insert', 'find'];

export class History {
  private readonly origin = process.hrtime.bigint();
  private readonly entries: Entry[] = [];

  /** Nanoseconds since this history was created. */
  now(): bigint {
    return process.hrtime.bigint() - this.origin;
  }

  /** Starts an operation: call it right before the request is sent. `value` is for put only. */
  begin(client: number, op: Op, key: string, value?: string): OpHandle {
    if (!Number.isSafeInteger(client) || client < 0) throw new TypeError(`client must be a non-negative integer, got ${client}`);
    if (!OPS.includes(op)) throw new TypeError(`unknown op ${String(op)}`);
    if (typeof key !== 'string') throw new TypeError('key must be a string');
    if (op === 'put' ? typeof value !== 'string' : value !== undefined) {
      throw new TypeError(op === 'put' ? 'put needs a string value' : `${op} takes no value`);
    }
    const entry: Entry = { client, op, key, value: value ?? null, call: this.now(), outcome: { status: 'open' } };
    this.entries.push(entry);
    const settle = (outcome: Outcome): void => {
      if (entry.outcome.status !== 'open') throw new Error(`${op}(${key}) by client ${client} was already settled (${entry.outcome.status})`);
      entry.outcome = outcome;
    };
    return {
      ok: (out: Out = null) => {
        const ret = this.now();
        if (out !== null && typeof out !== 'string' && !Number.isSafeInteger(out)) throw new TypeError(`out must be a string, a safe integer or null, got ${String(out)}`);
        settle({ status: 'ok', ret, out });
      },
      unknown: () => settle({ status: 'unknown' }),
      fail: () => settle({ status: 'failed' }),
    };
  }

  /** The history's lines: failed operations left out, open ones written as unknown. */
  lines(): HistoryLine[] {
    const lines: HistoryLine[] = [];
    for (const e of this.entries) {
      if (e.outcome.status === 'failed') continue;
      const done = e.outcome.status === 'ok' ? e.outcome : undefined;
      lines.push({
        client: e.client,
        op: e.op,
        key: e.key,
        value: e.value,
        call: Number(e.call),
        ret: done ? Number(done.ret) : null,
        status: done ? 'ok' : 'unknown',
        out: done ? done.out : null,
      });
    }
    return lines;
  }

  toJsonl(): string {
    return this.lines().map((l) => `${JSON.stringify(l)}\n`).join('');
  }

  writeTo(path: string): void {
    writeFileSync(path, this.toJsonl());
  }
}

// ---- the checker

const SOURCE_DIR = __dirname;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The `go` command: the first on PATH, else /usr/local/go/bin/go; undefined when there is none. */
export function findGo(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, 'go'))) return join(dir, 'go');
  }
  return isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

interface Run {
  code: number | null;
  output: string;
}

function runFile(file: string, args: string[], options: { cwd?: string; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: options.cwd, timeout: options.timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      const why = error !== null && code === null ? `\n(${error.message})` : '';
      resolve({ code, output: `${stdout}${stderr}${why}` });
    });
  });
}

let built: Promise<string> | undefined;

/** Builds the checker once per process (into a temp dir removed at exit); resolves to the binary. */
export function lincheckBinary(): Promise<string> {
  built ??= (async () => {
    const go = findGo();
    if (go === undefined) throw new Error('go not found on PATH or at /usr/local/go/bin/go: the linearizability checker needs Go');
    const dir = mkdtempSync(join(tmpdir(), 'valori-lincheck-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const binary = join(dir, 'lincheck');
    const r = await runFile(go, ['build', '-o', binary, '.'], { cwd: SOURCE_DIR, timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`go build of ${SOURCE_DIR} failed (exit ${r.code}):\n${r.output}`);
    return binary;
  })();
  return built;
}

/** Runs the checker with these arguments: its exit code (0, 1, 2 or 3) and its output. */
export async function runLincheck(args: string[], timeoutMs = 600_000): Promise<Run> {
  return runFile(await lincheckBinary(), args, { timeoutMs });
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'timeout';

/**
 * Checks a history file against a model. Throws on bad input (exit 3) or when the checker
 * could not run: a broken history is a bug of the workload, not a verdict.
 */
export async function checkHistory(path: string, model: LincheckModel, options: { timeoutS?: number; html?: string } = {}): Promise<{ verdict: Verdict; output: string }> {
  const timeoutS = options.timeoutS ?? 30;
  const args = ['-history', path, '-model', model, '-timeout', `${timeoutS}s`];
  if (options.html !== undefined) args.push('-html', options.html);
  // The checker stops itself after timeoutS; naming keys and the visualization may take as long
  // again each. A timeoutS of 0 (no limit) sets no limit here either.
  const r = await runLincheck(args, timeoutS > 0 ? (3 * timeoutS + 60) * 1000 : 0);
  const verdict: Verdict | undefined = r.code === 0 ? 'linearizable' : r.code === 1 ? 'not-linearizable' : r.code === 2 ? 'timeout' : undefined;
  if (verdict === undefined) throw new Error(`lincheck ${args.join(' ')} failed (exit ${r.code}):\n${r.output}`);
  return { verdict, output: r.output };
}
