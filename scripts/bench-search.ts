// Exact search over N × DIM seeded random vectors, one query per call through
// the binding, next to f32 scans over the same data in the same process:
// usearch's exact search (SIMD f32, one thread) and a plain JavaScript loop.
//
//   npx tsx scripts/bench-search.ts [--n 100000] [--dim 384] [--queries 200]

import { parseArgs } from 'node:util';
import { median, normalVectors, table } from './lib/data';
import { loadNative } from './lib/native';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '384' },
    queries: { type: 'string', default: '200' },
    k: { type: 'string', default: '10' },
  },
});
const n = Number(values.n);
const dim = Number(values.dim);
const nq = Number(values.queries);
const k = Number(values.k);

function timePerCall(label: string, calls: number, fn: (i: number) => void | Promise<unknown>) {
  return async (): Promise<number> => {
    const samples: number[] = [];
    // Three rounds; report the median of per-round ms/call (noisy shared machines).
    for (let round = 0; round < 3; round++) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) await fn(i);
      samples.push(Number(process.hrtime.bigint() - t) / 1e6 / calls);
      process.stderr.write(`  ${label}: round ${round + 1}/3 ${samples[round].toFixed(2)} ms/query\n`);
    }
    return median(samples);
  };
}

async function main() {
  process.stderr.write(`generating ${n} x ${dim} seeded normal vectors...\n`);
  const data = normalVectors(n, dim, 42);
  const queries = normalVectors(nq, dim, 7);
  const kernel = loadNative(process.env.VALORI_NATIVE).create({ dim, maxRecords: n, maxNodes: 0, maxEdges: 0 });
  const t0 = Date.now();
  const chunk = 10_000;
  for (let b = 0; b < n; b += chunk) {
    const m = Math.min(chunk, n - b);
    await kernel.insertBatch(data.subarray(b * dim, (b + m) * dim), m);
  }
  process.stderr.write(`loaded in ${Date.now() - t0} ms (simd: ${kernel.stats().simd})\n`);
  const q = (i: number) => queries.subarray((i % nq) * dim, ((i % nq) + 1) * dim);

  const ours = await timePerCall('valori exact int', nq, (i) => kernel.search(q(i), k))();

  let usearchMs: number | string = 'n/a';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const usearch = require('usearch');
    usearchMs = await timePerCall('usearch exact f32', nq, (i) =>
      usearch.exactSearch(data, q(i), dim, k, usearch.MetricKind.L2sq, 1),
    )();
  } catch (e) {
    process.stderr.write(`usearch unavailable: ${(e as Error).message}\n`);
  }

  const jsCalls = Math.max(3, Math.floor(nq / 20));
  const js = await timePerCall('plain JS f32', jsCalls, (i) => {
    const qq = q(i);
    let best = Infinity;
    for (let r = 0; r < n; r++) {
      let d = 0;
      const o = r * dim;
      for (let j = 0; j < dim; j++) {
        const x = data[o + j] - qq[j];
        d += x * x;
      }
      if (d < best) best = d;
    }
  })();

  const rows: (string | number)[][] = [['scan', 'ms/query (median of 3)', 'vs usearch f32']];
  const ratio = (x: number) => (typeof usearchMs === 'number' ? (x / usearchMs).toFixed(2) + 'x' : 'n/a');
  rows.push(['valori exact Q16.16 (binding, 1 thread)', ours, ratio(ours)]);
  rows.push(['usearch exactSearch f32 (1 thread)', usearchMs, typeof usearchMs === 'number' ? '1.00x' : 'n/a']);
  rows.push(['plain JavaScript f32 loop', js, ratio(js)]);
  console.log(`\nExact k=${k} search, ${n} x ${dim}, ${nq} queries, one query per call\n`);
  console.log(table(rows));
  kernel.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
