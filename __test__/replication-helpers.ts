// Plumbing for the replication suites: real `node dist/main.js` processes on 127.0.0.1 (leader
// and followers), bounded waits, and a mixed write load. Every process is tracked and killed by
// killAll() (call it in after()). Needs `npm run build` (npm test runs tsc first).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, vector, type Reply } from './helpers';

const ROOT = join(__dirname, '..');
export const MAIN = join(ROOT, 'dist', 'main.js');
export const DIM = 8;
const START_MS = 20_000;

/** Short periods so each scenario runs in seconds (defaults: 5 s checks, 10 s heartbeats). */
export const FAST = { VALORI_REPLICATION_CHECK_INTERVAL_MS: '250', VALORI_REPLICATION_HEARTBEAT_MS: '200' };

const live = new Set<ChildProcess>();
const dirs: string[] = [];
/** Background writers still running; cleanup() stops them even when a test failed midway. */
const writers = new Set<AbortController>();

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'valori-repl-'));
  dirs.push(d);
  return d;
}

/** Kills every process still running and removes temp dirs: call in after(). */
export function cleanup(): void {
  for (const w of writers) w.abort();
  writers.clear();
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  live.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function assertBuilt(): void {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`);
}

export interface NodeProcess {
  base: string;
  port: number;
  child: ChildProcess;
  /** Everything printed so far (JSON log lines). */
  output(): string;
  /** Log messages so far. */
  messages(): string[];
  exited: Promise<number | null>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

/** Starts a node and resolves once its readiness line shows the port. */
export async function startNode(env: Record<string, string>, port = 0): Promise<NodeProcess> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', VALORI_DIM: String(DIM), RUST_LOG: 'valori_node=info', VALORI_LOG_FORMAT: 'json', ...env, VALORI_BIND: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    live.delete(child);
    resolve(code);
  }));
  const bound = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no readiness line within ${START_MS} ms:\n${out}`)), START_MS);
    const check = (): void => {
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${out}`));
    });
  });
  const waitExit = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await withDeadline(exited, 15_000, `exit after ${signal}`);
  };
  return {
    base: `http://127.0.0.1:${bound}`,
    port: bound,
    child,
    output: () => out,
    messages: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => String((JSON.parse(l) as { message?: unknown }).message)),
    exited,
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
  };
}

export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * Polls `probe` every `everyMs` until it returns a value other than undefined; fails after
 * `ms` (bounded in time and in count). `describe` adds context to the failure message.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000, describe?: () => Promise<string>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < Math.ceil(ms / everyMs) + 1 && Date.now() <= deadline; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${describe ? `\n${await describe()}` : ''}`);
}

export interface ReplState {
  role: string;
  status: string;
  committed_height: number;
  applied_height: number;
  leader_height: number;
  lag: number;
  last_check: { at: string; height: number | null; result: string; leader_hash: string | null; follower_hash: string | null; detail: string | null } | null;
  last_error: { message: string } | null;
  bootstraps: number;
  reconnects: number;
}

export async function replState(base: string, token?: string): Promise<ReplState> {
  const r = await request(base, '/v1/replication/state', { token });
  assert.equal(r.status, 200, r.text);
  return r.json as ReplState;
}

export async function proof(base: string, token?: string, height?: number): Promise<Reply> {
  return request(base, `/v1/proof/state${height === undefined ? '' : `?height=${height}`}`, { token });
}

export async function logProof(base: string, token?: string): Promise<{ committed_height: number; event_log_hash: string; event_count: number; first_seq: number }> {
  const r = await request(base, '/v1/proof/event-log', { token });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/**
 * Waits until the follower has applied everything the (idle) leader committed and its checker
 * said Synced at that height; then checks it independently: equal state hashes and equal
 * event-log chain hashes at the same height (the chain covers every event's sequence number and
 * bytes, so a duplicated or skipped event would change it).
 */
export async function assertConverged(leader: string, follower: string, token?: string, ms = 30_000): Promise<number> {
  const target = (await logProof(leader, token)).committed_height;
  await waitFor(
    `follower Synced at height ${target}`,
    async () => {
      const s = await replState(follower, token);
      return s.applied_height === target && s.status === 'Synced' && s.last_check?.height === target && s.lag === 0 ? true : undefined;
    },
    ms,
    async () => JSON.stringify(await replState(follower, token)),
  );
  const [l, f] = [await logProof(leader, token), await logProof(follower, token)];
  assert.equal(f.committed_height, l.committed_height, 'same height');
  assert.equal(f.event_log_hash, l.event_log_hash, 'same event-log chain at the same height');
  const [pl, pf] = [await proof(leader, token), await proof(follower, token)];
  assert.deepEqual([pf.json.height, pf.json.final_state_hash], [pl.json.height, pl.json.final_state_hash], 'same state hash at the same height');
  return target;
}

export interface WriteOptions {
  token?: string;
  /** Single inserts. */
  singles?: number;
  /** Batches of `batchSize` rows. */
  batches?: number;
  batchSize?: number;
  /** Deletes, soft deletes, graph nodes + edges, metadata sets and upserts, each this many. */
  others?: number;
  concurrency?: number;
  seed?: number;
  /** Stop early (for background writers). */
  signal?: AbortSignal;
}

/**
 * A mixed write load: batches, single inserts, then hard and soft deletes, graph nodes and edges,
 * metadata and memory upserts. Resolves with the number of acknowledged writes; failed requests
 * (the leader was killed) are counted separately, not retried.
 */
export async function writeMix(base: string, o: WriteOptions = {}): Promise<{ ok: number; failed: number }> {
  const seed = o.seed ?? 1;
  const tasks: (() => Promise<Reply>)[] = [];
  const post = (path: string, body: unknown) => () => request(base, path, { body, token: o.token });
  for (let b = 0; b < (o.batches ?? 0); b++) {
    tasks.push(post('/v1/vectors/batch_insert', { batch: Array.from({ length: o.batchSize ?? 100 }, (_, i) => vector(DIM, seed * 1e6 + b * 1e3 + i)) }));
  }
  for (let i = 0; i < (o.singles ?? 0); i++) tasks.push(post('/records', { values: vector(DIM, seed * 1e7 + i) }));
  const others = o.others ?? 0;
  let ok = 0;
  let failed = 0;
  const run = async (list: (() => Promise<Reply>)[]): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length && !o.signal?.aborted) {
        const t = list[next++];
        try {
          const r = await t();
          if (r.status === 200) ok++;
          else failed++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency ?? 16 }, worker));
  };
  await run(tasks);
  if (others > 0 && !o.signal?.aborted) {
    // Ids 0..others-1 exist after the inserts above; graph writes are sequential (edges need nodes).
    const more: (() => Promise<Reply>)[] = [];
    for (let i = 0; i < others; i++) {
      more.push(post('/v1/delete', { id: 2 * i }));
      more.push(post('/v1/soft-delete', { id: 2 * i + 1 }));
      more.push(post('/v1/memory/meta/set', { target_id: `k${seed}-${i}`, metadata: { i, seed } }));
      more.push(post('/v1/memory/upsert_vector', { vector: vector(DIM, seed * 1e8 + i), metadata: { n: i } }));
    }
    await run(more);
    for (let i = 0; i < others && !o.signal?.aborted; i++) {
      const a = await request(base, '/graph/node', { body: { kind: 1 }, token: o.token });
      const b = await request(base, '/graph/node', { body: { kind: 2 }, token: o.token });
      const e = await request(base, '/graph/edge', { body: { from: a.json?.node_id, to: b.json?.node_id, kind: 3 }, token: o.token });
      for (const r of [a, b, e]) r.status === 200 ? ok++ : failed++;
    }
  }
  return { ok, failed };
}

/** Keeps writing small batches until aborted; resolves with the acknowledged count. */
export function backgroundWriter(base: string, o: { token?: string; batchSize?: number; concurrency?: number } = {}): { stop(): Promise<number> } {
  const controller = new AbortController();
  writers.add(controller);
  let ok = 0;
  const loop = (async () => {
    for (let round = 0; round < 100_000 && !controller.signal.aborted; round++) {
      const r = await writeMix(base, { token: o.token, batches: 4, batchSize: o.batchSize ?? 20, singles: 8, concurrency: o.concurrency ?? 4, seed: 1000 + round, signal: controller.signal });
      ok += r.ok;
      // A dead leader fails fast: do not spin on it.
      if (r.ok === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      controller.abort();
      writers.delete(controller);
      await loop;
      return ok;
    },
  };
}
