// Two (or more) builds of the addon side by side in one process and one run, rounds interleaved
// (A, B, A, B, ...) so that whatever else the machine does lands on both alike:
//   1. exact search: N x DIM seeded normal vectors, one query per call, ms per call;
//   2. durable single inserts through the binding (event log + fdatasync in a temp dir) with 1
//      and 64 writes in flight, acknowledged inserts per second;
//   3. with --server: durable single inserts over HTTP (POST /records, event log on) against each
//      build's own server process, 1 and 64 closed-loop keep-alive clients.
// Each figure is the median over rounds with its min..max spread.
//
//   npx tsx scripts/bench-ab.ts --build old=/tmp/old/native/index.js --build new=native/index.js
//       [--server old=/tmp/old/dist/main.js --server new=dist/main.js]
//       [--n 100000] [--dim 384] [--queries 200] [--rounds 5] [--insert-seconds 3] [--dir /tmp]
//
// Build an old commit beside this checkout to compare with it:
//   git worktree add /tmp/old <commit> && cd /tmp/old && ln -s <this>/node_modules node_modules
//   && CARGO_TARGET_DIR=/tmp/old-target npm run build:native
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killAllServers, ServerProcess } from './lib/crash/server';
import { median, normalVectors, table } from './lib/data';
import { closedLoop } from './lib/http-load';
import { type BenchKernel, loadNative } from './lib/native';

const { values } = parseArgs({
  options: {
    server: { type: 'string', multiple: true, default: [] },
    build: { type: 'string', multiple: true, default: [] },
    n: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '384' },
    queries: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '5' },
    'insert-seconds': { type: 'string', default: '3' },
    dir: { type: 'string', default: os.tmpdir() },
  },
});
const N = Number(values.n);
const DIM = Number(values.dim);
const NQ = Number(values.queries);
const ROUNDS = Number(values.rounds);
const INSERT_S = Number(values['insert-seconds']);
const K = 10;
const log = (s: string) => process.stderr.write(s + '\n');

const labelled = (spec: string): [string, string] => {
  const eq = spec.indexOf('=');
  return eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [spec, spec];
};
const builds = values.build.map((spec) => loadNative(labelled(spec)[1], labelled(spec)[0]));
const servers = values.server.map(labelled);

const data = normalVectors(N, DIM, 1);
const queries = normalVectors(NQ, DIM, 2);
const q = (i: number) => queries.subarray(i * DIM, (i + 1) * DIM);

async function load(b: (typeof builds)[number]): Promise<BenchKernel> {
  const k = b.create({ dim: DIM, maxRecords: N, maxNodes: 0, maxEdges: 0 });
  for (let i = 0; i < N; i += 10_000) {
    const m = Math.min(10_000, N - i);
    await k.insertBatch(data.subarray(i * DIM, (i + m) * DIM), m);
  }
  return k;
}

async function searchMs(k: BenchKernel): Promise<number> {
  const t = process.hrtime.bigint();
  for (let i = 0; i < NQ; i++) await k.search(q(i), K);
  return Number(process.hrtime.bigint() - t) / 1e6 / NQ;
}

async function insertRate(b: (typeof builds)[number], inFlight: number): Promise<number> {
  const dir = mkdtempSync(join(values.dir, 'bench-ab-'));
  const k = await b.open({ dim: DIM, maxRecords: 4_000_000, maxNodes: 0, maxEdges: 0, eventLogPath: join(dir, 'events.log') });
  const rows = Array.from({ length: 2048 }, (_, i) => data.subarray(i * DIM, (i + 1) * DIM));
  let next = 0;
  let done = 0;
  const warmEnd = performance.now() + 500;
  const end = warmEnd + INSERT_S * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await k.insert(rows[next++ % rows.length]);
        if (t0 >= warmEnd) done++;
      }
    }),
  );
  k.close();
  rmSync(dir, { recursive: true, force: true });
  return done / INSERT_S;
}

/** Acknowledged POST /records per second against a fresh server of `main` with an event log. */
async function httpRate(main: string, clients: number, bodies: string[]): Promise<number> {
  const dir = mkdtempSync(join(values.dir, 'bench-ab-http-'));
  const s = new ServerProcess(
    { VALORI_DIM: String(DIM), VALORI_BIND: '127.0.0.1:0', VALORI_LOG_FORMAT: 'json', VALORI_MAX_RECORDS: '4000000', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') },
    main,
  );
  try {
    const { base } = await s.listening(30_000);
    const r = await closedLoop(Number(new URL(base).port), clients, INSERT_S, bodies);
    if (r.errors > 0) throw new Error(`${main}: ${r.errors} non-2xx answers`);
    return r.rate;
  } finally {
    s.kill('SIGKILL');
    await s.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchHttp(): Promise<void> {
  const bodies = Array.from({ length: 2048 }, (_, i) => JSON.stringify({ values: Array.from(data.subarray(i * DIM, (i + 1) * DIM), (x) => Math.round(x * 1e4) / 1e4) }));
  const rates = new Map(servers.map(([label]) => [label, { c1: [] as number[], c64: [] as number[] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [label, main] of r % 2 === 0 ? servers : [...servers].reverse()) {
      const f = rates.get(label)!;
      f.c1.push(await httpRate(main, 1, bodies));
      f.c64.push(await httpRate(main, 64, bodies));
      log(`round ${r + 1}/${ROUNDS} ${label} HTTP: ${Math.round(f.c1.at(-1)!)}/s @1, ${Math.round(f.c64.at(-1)!)}/s @64`);
    }
  }
  const rows: (string | number)[][] = [['server', 'HTTP durable inserts/s @1 client', 'HTTP durable inserts/s @64 clients']];
  for (const [label] of servers) rows.push([label, spread(rates.get(label)!.c1, 0), spread(rates.get(label)!.c64, 0)]);
  process.stdout.write(`POST /records, dim ${DIM}, event log on; median (min..max) over ${ROUNDS} interleaved rounds of ${INSERT_S} s\n${table(rows)}\n`);
}

const spread = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}..${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  if (servers.length > 0) await benchHttp();
  if (builds.length === 0) return;
  log(`builds: ${builds.map((b) => `${b.label}${b.collections ? ' (collections)' : ''}`).join(', ')}`);
  const kernels = new Map<string, BenchKernel>();
  for (const b of builds) {
    log(`loading ${N} x ${DIM} into ${b.label}...`);
    kernels.set(b.label, await load(b));
  }
  const figures = new Map<string, { search: number[]; ins1: number[]; ins64: number[] }>();
  for (const b of builds) figures.set(b.label, { search: [], ins1: [], ins64: [] });
  for (const b of builds) await searchMs(kernels.get(b.label)!); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
      const f = figures.get(b.label)!;
      f.search.push(await searchMs(kernels.get(b.label)!));
      f.ins1.push(await insertRate(b, 1));
      f.ins64.push(await insertRate(b, 64));
      log(`round ${r + 1}/${ROUNDS} ${b.label}: search ${f.search.at(-1)!.toFixed(3)} ms, inserts ${Math.round(f.ins1.at(-1)!)}/s @1, ${Math.round(f.ins64.at(-1)!)}/s @64`);
    }
  }
  const simd = [...kernels.values()].map((k) => `${k.label} ${k.stats().simd}`).join(', ');
  for (const k of kernels.values()) k.close();
  const rows: (string | number)[][] = [['build', `exact search ms/query (${N} x ${DIM}, k=${K})`, 'durable inserts/s @1', 'durable inserts/s @64']];
  for (const b of builds) {
    const f = figures.get(b.label)!;
    rows.push([b.label, spread(f.search, 3), spread(f.ins1, 0), spread(f.ins64, 0)]);
  }
  process.stdout.write(`median (min..max) over ${ROUNDS} interleaved rounds; simd: ${simd}\n`);
  process.stdout.write(table(rows) + '\n');
}

main().then(
  () => killAllServers(),
  (e) => {
    killAllServers();
    log(String(e?.stack ?? e));
    process.exit(1);
  },
);
