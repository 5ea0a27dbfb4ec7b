// Many collections in one node, through the binding:
//   1. memory per empty collection: process RSS and heap before and after creating C empty
//      collections, divided by C;
//   2. search latency in one collection of a node holding C collections of N x DIM vectors,
//      against the same N vectors alone in a node with one collection (the ratio; target ≤ 1.1x).
//      The two kernels are queried in alternating blocks so machine noise falls on both alike.
//
//   npx tsx scripts/bench-collections.ts [--collections 1000] [--n 1000] [--dim 384]
//       [--queries 2000] [--index brute|hnsw]
import { parseArgs } from 'node:util';
import { Kernel } from '../native/index.js';
import { median, normalVectors, percentile, table } from './lib/data';

const { values } = parseArgs({
  options: {
    collections: { type: 'string', default: '1000' },
    n: { type: 'string', default: '1000' },
    dim: { type: 'string', default: '384' },
    queries: { type: 'string', default: '2000' },
    index: { type: 'string', default: 'brute' },
  },
});
const C = Number(values.collections);
const N = Number(values.n);
const DIM = Number(values.dim);
const NQ = Number(values.queries);
const INDEX = values.index;
const K = 10;
const log = (s: string) => process.stderr.write(s + '\n');

function memory(): { rss: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

const name = (i: number) => `c${String(i).padStart(5, '0')}`;

async function main(): Promise<void> {
  const limits = { dim: DIM, maxRecords: C * N + N, maxNodes: 0, maxEdges: 0, index: INDEX };
  // 1. Empty collections.
  const many = new Kernel(limits);
  const before = memory();
  for (let i = 0; i < C; i++) await many.createCollection({ name: name(i), dim: DIM, index: INDEX });
  const after = memory();
  const rssPer = (after.rss - before.rss) / C;
  log(`${C} empty collections: RSS +${((after.rss - before.rss) / 2 ** 20).toFixed(1)} MiB`);

  // 2. Fill every collection with its own N vectors; the measured one gets `data`.
  const data = normalVectors(N, DIM, 7);
  const target = Math.floor(C / 2);
  const t0 = performance.now();
  for (let i = 0; i < C; i++) {
    const rows = i === target ? data : normalVectors(N, DIM, 1000 + i);
    await many.insertBatch(name(i), rows, N);
    if ((i + 1) % 100 === 0) log(`  filled ${i + 1}/${C} collections (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  const single = new Kernel({ ...limits, maxRecords: N });
  await single.insertBatch('default', data, N);

  const queries = normalVectors(NQ, DIM, 8);
  const q = (i: number) => queries.subarray(i * DIM, (i + 1) * DIM);
  // Same answers first: the collection must behave exactly like the lone pool.
  for (let i = 0; i < 20; i++) {
    const a = await many.search(name(target), q(i), K);
    const b = await single.search('default', q(i), K);
    if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`query ${i}: different hits in the collection and the single pool`);
  }
  const lat = { many: [] as number[], single: [] as number[] };
  const block = 100;
  for (let start = 0; start < NQ; start += block) {
    for (const [which, k, coll] of [
      ['many', many, name(target)],
      ['single', single, 'default'],
    ] as const) {
      for (let i = start; i < Math.min(NQ, start + block); i++) {
        const t = process.hrtime.bigint();
        await k.search(coll, q(i), K);
        lat[which].push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
  }
  many.close();
  single.close();
  const ratio = median(lat.many) / median(lat.single);
  console.log(`\n${C} collections of ${N} x ${DIM} (${INDEX}), k=${K}, ${NQ} queries in alternating blocks of ${block}\n`);
  console.log(
    table([
      ['case', 'p50 ms', 'p99 ms'],
      [`collection ${name(target)} among ${C}`, median(lat.many).toFixed(4), percentile(lat.many, 99).toFixed(4)],
      ['the same vectors alone (default)', median(lat.single).toFixed(4), percentile(lat.single, 99).toFixed(4)],
    ]),
  );
  console.log(`\nsearch latency ratio (p50): ${ratio.toFixed(3)}x (target ≤ 1.1x)`);
  console.log(`memory per empty collection: ${(rssPer / 1024).toFixed(1)} KiB RSS, ${((after.heap - before.heap) / C / 1024).toFixed(2)} KiB JS heap`);
}

main().catch((e) => {
  log(String(e?.stack ?? e));
  process.exit(1);
});
