// kill -9 → first correct search, with only VALORI_EVENT_LOG_PATH set (plus the index and its
// dimension): Fashion-MNIST 60k × 784 loaded over HTTP in batches of 1,000 into HNSW (M 16,
// ef_construction 100), then SIGKILL and a restart on the same files, timed from spawn until a
// search for a stored vector answers that vector's id. Run with automatic checkpoints off (the
// whole log is replayed: the behaviour before checkpoints) and on (the defaults), killed right
// after the last acknowledged batch and after the node went idle.
//
//   npx tsx scripts/bench-restart.ts [--dir /tmp] [--n 60000] [--idle-ms 5000] [--only off,ack,idle]
//
// Needs `npm run build` and the Fashion-MNIST files (scripts/lib/fashion-mnist.ts).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killAllServers, ServerProcess } from './lib/crash/server';
import { DIM, loadImages } from './lib/fashion-mnist';
import { table } from './lib/data';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: os.tmpdir() },
    n: { type: 'string', default: '60000' },
    'idle-ms': { type: 'string', default: '5000' },
    only: { type: 'string', default: 'off,ack,idle' },
  },
});
const N = Number(values.n);
const BATCH = 1000;
const out = (s = '') => process.stdout.write(`${s}\n`);
const note = (s: string) => process.stderr.write(`  ${s}\n`);
process.on('exit', killAllServers);

async function post(base: string, path: string, body: unknown): Promise<any> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

/** Spawn → first search that finds `probe` (id `probeId`) at rank 1; polls every 5 ms. */
async function firstCorrectSearch(env: Record<string, string>, probe: number[], probeId: number): Promise<{ ms: number; server: ServerProcess }> {
  const server = new ServerProcess(env);
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no port within 120 s:\n${server.output()}`)), 120_000);
    const check = () => {
      const m = /(?:Recovering|Listening) on 127\.0\.0\.1:(\d+)/.exec(server.output());
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    server.onLine(check);
    check();
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100_000; i++) {
    try {
      const r = await post(base, '/search', { query: probe, k: 1 });
      if (r.results?.[0]?.id === probeId) return { ms: performance.now() - server.startedAt, server };
    } catch {
      // 503 RECOVERING, or the instant the app takes the port over.
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('no correct search');
}

async function scenario(name: string, extra: Record<string, string>, idle: boolean, data: Float32Array): Promise<string[]> {
  const dir = mkdtempSync(join(values.dir, 'valori-restart-'));
  const env = {
    VALORI_DIM: String(DIM),
    VALORI_BIND: '127.0.0.1:0',
    VALORI_LOG_FORMAT: 'json',
    VALORI_MAX_RECORDS: String(N * 2),
    VALORI_MAX_BATCH_ROWS: String(BATCH),
    VALORI_INDEX: 'hnsw',
    VALORI_EVENT_LOG_PATH: join(dir, 'events.log'),
    ...extra,
  };
  const first = new ServerProcess(env);
  const { base } = await first.listening(60_000);
  const t0 = performance.now();
  for (let b = 0; b < N; b += BATCH) {
    const rows: number[][] = [];
    for (let i = b; i < Math.min(N, b + BATCH); i++) rows.push(Array.from(data.subarray(i * DIM, (i + 1) * DIM)));
    await post(base, '/v1/vectors/batch_insert', { batch: rows });
  }
  const loadS = (performance.now() - t0) / 1000;
  if (idle) await new Promise((r) => setTimeout(r, Number(values['idle-ms'])));
  first.kill('SIGKILL');
  await first.exited;
  const checkpoints = (first.output().match(/checkpoint written \(checkpoint\)/g) ?? []).length;
  const stalls = [...first.output().matchAll(/checkpoint written[^"]*writes held ([\d.]+) ms/g)].map((m) => Number(m[1]));
  const probeId = N - 1;
  const probe = Array.from(data.subarray(probeId * DIM, N * DIM));
  const { ms, server } = await firstCorrectSearch(env, probe, probeId);
  const rec = server.recovery();
  server.kill('SIGKILL');
  await server.exited;
  const logMiB = statSync(env.VALORI_EVENT_LOG_PATH).size / 2 ** 20;
  rmSync(dir, { recursive: true, force: true });
  note(`${name}: load ${loadS.toFixed(1)} s, ${checkpoints} checkpoints (max stall ${stalls.length ? Math.max(...stalls).toFixed(1) : '-'} ms), restart ${ms.toFixed(0)} ms`);
  return [name, loadS.toFixed(1), String(checkpoints), `${logMiB.toFixed(0)} MiB`, String(rec?.snapshotHeight ?? '-'), String(rec?.replayed ?? '?'), (rec?.seconds ?? NaN).toFixed(2), (ms / 1000).toFixed(2)];
}

async function main(): Promise<void> {
  const data = loadImages('train-images-idx3-ubyte').subarray(0, N * DIM);
  out(`kill -9 → first correct search, Fashion-MNIST ${N} × ${DIM}, HNSW M 16 ef_construction 100, event log only; ${os.cpus().length} cores`);
  const only = new Set(values.only.split(','));
  const rows: string[][] = [];
  if (only.has('off')) rows.push(await scenario('checkpoints off (whole log), killed after the last ack', { VALORI_CHECKPOINT: 'off' }, false, data));
  if (only.has('ack')) rows.push(await scenario('checkpoints on (defaults), killed after the last ack', {}, false, data));
  if (only.has('idle')) rows.push(await scenario(`checkpoints on (defaults), killed after ${values['idle-ms']} ms idle`, {}, true, data));
  out(table([['run', 'load s', 'checkpoints', 'log', 'snapshot at', 'events replayed', 'kernel recovery s', 'spawn → correct search s'], ...rows]));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
