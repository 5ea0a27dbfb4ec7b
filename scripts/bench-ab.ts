// Two (or more) builds of the addon side by side in one process and one run, rounds interleaved
// (A, B, A, B, ...) so that whatever else the machine does lands on both alike:
//   1. exact search: N x DIM seeded normal vectors, one query per call, ms per call;
//   2. durable single inserts through the binding (event log + fdatasync in a temp dir) with 1
//      and 64 writes in flight, acknowledged inserts per second.
// Each figure is the median over rounds with its min..max spread.
//
//   npx tsx scripts/bench-ab.ts --build old=/tmp/old/native/index.js --build new=native/index.js
//       [--n 100000] [--dim 384] [--queries 200] [--rounds 5] [--insert-seconds 3] [--dir /tmp]
//
// Build an old commit beside this checkout to compare with it:
//   git worktree add /tmp/old <commit> && cd /tmp/old && ln -s <this>/node_modules node_modules
//   && CARGO_TARGET_DIR=/tmp/old-target npm run build:native
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median, normalVectors, table } from './lib/data';
import { type BenchKernel, loadNative } from './lib/native';

const { values } = parseArgs({
  options: {
    build: { type: 'string', multiple: true, default: [`new=${join(__dirname, '..', 'native', 'index.js')}`] },
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

const builds = values.build.map((spec) => {
  const eq = spec.indexOf('=');
  const [label, loader] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [spec, spec];
  return loadNative(loader, label);
});

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

async function main(): Promise<void> {
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
  const spread = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}..${Math.max(...xs).toFixed(digits)})`;
  const rows: (string | number)[][] = [['build', `exact search ms/query (${N} x ${DIM}, k=${K})`, 'durable inserts/s @1', 'durable inserts/s @64']];
  for (const b of builds) {
    const f = figures.get(b.label)!;
    rows.push([b.label, spread(f.search, 3), spread(f.ins1, 0), spread(f.ins64, 0)]);
  }
  process.stdout.write(`median (min..max) over ${ROUNDS} interleaved rounds; simd: ${simd}\n`);
  process.stdout.write(table(rows) + '\n');
}

main().catch((e) => {
  log(String(e?.stack ?? e));
  process.exit(1);
});
