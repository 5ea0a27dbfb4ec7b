// Fashion-MNIST ANN benchmark (60k × 784 base, test images as queries, L2,
// k = 10): valori's HNSW, IVF and SQ8 brute force through the binding, next
// to hnswlib-node and usearch built with the same M / efConstruction, in the
// same run. One thread, one query per call, queries awaited one at a time.
// Ground truth is valori's exact scan (cached under target/bench-ann/).
//
//   npx tsx scripts/bench-ann.ts [--queries 10000] [--m 16] [--efc 100]
//                                [--only hnsw,peers,ivf,sq8] [--svg target/bench-ann/recall-qps.svg]
//   npx tsx scripts/bench-ann.ts --only build [--threads 1,2] [--reps 3]
//
// `--only build`: HNSW build time of the 60k base loaded one record per call
// (one-at-a-time inserts, the graph single inserts build) against 1000-record
// batches built with each of `--threads` index threads (VALORI_INDEX_THREADS),
// interleaved `--reps` times (medians), then recall@10 of each graph at ef
// 16/32/64 and whether the batch graphs are identical across thread counts.
//
// Data: Debian package dataset-fashion-mnist (or FASHION_MNIST_DIR).
// VALORI_NATIVE=<path to a loader like native/index.js> benchmarks another build.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as Native from '../native/index.js';
import { table } from './lib/data';
import { DIM, loadImages } from './lib/fashion-mnist';
import { type BenchKernel, loadNative } from './lib/native';

const { values } = parseArgs({
  options: {
    queries: { type: 'string', default: '10000' },
    m: { type: 'string', default: '16' },
    efc: { type: 'string', default: '100' },
    only: { type: 'string', default: 'hnsw,peers,ivf,sq8' },
    svg: { type: 'string', default: 'target/bench-ann/recall-qps.svg' },
    threads: { type: 'string', default: '1,2' },
    reps: { type: 'string', default: '3' },
  },
});
const M = Number(values.m);
const EFC = Number(values.efc);
const only = new Set(values.only.split(','));
const K = 10;
const EFS = [10, 16, 20, 32, 40, 64, 100];
const NPROBES = [1, 2, 3, 4, 6, 8, 12, 16];
const CACHE = 'target/bench-ann';
const log = (s: string) => process.stderr.write(s + '\n');
const native = loadNative(process.env.VALORI_NATIVE);
type Kernel = BenchKernel;

const base = loadImages('train-images-idx3-ubyte');
const allQueries = loadImages('t10k-images-idx3-ubyte');
const N = base.length / DIM;
const NQ = Math.min(Number(values.queries), allQueries.length / DIM);
const query = (i: number) => allQueries.subarray(i * DIM, (i + 1) * DIM);

type Point = { series: string; param: string; recall: number; qps: number };
const points: Point[] = [];
const summary: string[] = [];

function newKernel(opts: Partial<Native.KernelOptions>): Kernel {
  return native.create({ dim: DIM, maxRecords: N, maxNodes: 0, maxEdges: 0, ...opts });
}

/** Loads the base set in batches; returns seconds. */
async function load(kernel: Kernel): Promise<number> {
  const t = process.hrtime.bigint();
  const chunk = 1000;
  for (let b = 0; b < N; b += chunk) {
    const m = Math.min(chunk, N - b);
    await kernel.insertBatch(base.subarray(b * DIM, (b + m) * DIM), m);
  }
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** Exact top-10 ids per query from valori's brute force (cached on disk);
 *  the brute-force kernel stays open as the baseline for the ratios. */
async function groundTruth(): Promise<{ gt: Uint32Array; exact: Kernel }> {
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, `fashion-mnist-gt-${NQ}.bin`);
  const exact = newKernel({ index: 'brute' });
  await load(exact);
  const cached = fs.existsSync(file) ? new Uint32Array(fs.readFileSync(file).buffer.slice(0)) : null;
  if (cached && cached.length === NQ * K) return { gt: cached, exact };
  log(`ground truth: exact scan of ${NQ} queries...`);
  const gt = new Uint32Array(NQ * K);
  for (let q = 0; q < NQ; q++) (await exact.search(query(q), K)).forEach((h, j) => (gt[q * K + j] = h.id));
  fs.writeFileSync(file, gt);
  return { gt, exact };
}

type Search = (q: number) => Promise<ArrayLike<number | bigint>> | ArrayLike<number | bigint>;
/** `plot: false` keeps a baseline out of the table and plot. */
type Contender = { name: string; param: string; search: Search; perBlock: number; count: number; plot?: boolean };

/**
 * Runs the contenders' queries one at a time, interleaved in blocks (each
 * takes `perBlock` queries in turn until it has done `count`), so that load
 * from other processes on a shared machine falls on all of them alike.
 * Records recall@10 against `gt` and QPS for each.
 */
async function race(gt: Uint32Array, contenders: Contender[]): Promise<Point[]> {
  for (const c of contenders) for (let q = 0; q < Math.min(c.perBlock, c.count); q++) await c.search(q); // warm-up
  const secs = contenders.map(() => 0);
  const hits = contenders.map(() => 0);
  const next = contenders.map(() => 0);
  while (contenders.some((c, i) => next[i] < c.count)) {
    for (const [i, c] of contenders.entries()) {
      const end = Math.min(c.count, next[i] + c.perBlock);
      const found: ArrayLike<number | bigint>[] = [];
      const t = process.hrtime.bigint();
      for (let q = next[i]; q < end; q++) found.push(await c.search(q));
      secs[i] += Number(process.hrtime.bigint() - t) / 1e9;
      found.forEach((ids, j) => {
        const truth = gt.subarray((next[i] + j) * K, (next[i] + j + 1) * K);
        for (let x = 0; x < ids.length; x++) if (truth.includes(Number(ids[x]))) hits[i]++;
      });
      next[i] = end;
    }
  }
  return contenders.map((c, i) => {
    const p = { series: c.name, param: c.param, recall: hits[i] / (c.count * K), qps: c.count / secs[i] };
    if (c.plot !== false) points.push(p);
    log(`  ${c.name} ${c.param}: recall ${p.recall.toFixed(4)}, ${p.qps.toFixed(0)} QPS`);
    return p;
  });
}

const ids = async (hits: Promise<Native.SearchHit[]>) => (await hits).map((h) => h.id);

/** The exact scan as a baseline contender: 2 queries per block. */
function exactContender(exact: Kernel, count: number): Contender {
  return { name: 'valori exact', param: 'scan', search: (q) => ids(exact.search(query(q), K)), perBlock: 2, count, plot: false };
}

/** QPS of `series` at `recall`, interpolated on its curve (log QPS, linear recall). */
function qpsAt(series: string, recall: number): number | null {
  const c = points.filter((p) => p.series === series).sort((a, b) => a.recall - b.recall);
  for (let i = 1; i < c.length; i++) {
    const [a, b] = [c[i - 1], c[i]];
    if (a.recall <= recall && recall <= b.recall) {
      const f = b.recall === a.recall ? 0 : (recall - a.recall) / (b.recall - a.recall);
      return Math.exp(Math.log(a.qps) + f * (Math.log(b.qps) - Math.log(a.qps)));
    }
  }
  return null;
}

async function benchHnsw(gt: Uint32Array, peers: boolean) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { HierarchicalNSW } = peers ? require('hnswlib-node') : { HierarchicalNSW: null };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const usearch = peers ? require('usearch') : null;
  const ours = newKernel({ index: 'hnsw', hnswM: M, hnswEfConstruction: EFC });
  let hnswlib: InstanceType<typeof HierarchicalNSW> | null = null;
  let u: InstanceType<typeof usearch.Index> | null = null;
  if (peers) {
    hnswlib = new HierarchicalNSW('l2', DIM);
    hnswlib.initIndex(N, M, EFC, 100);
    u = new usearch.Index({ dimensions: DIM, metric: 'l2sq', connectivity: M, expansion_add: EFC });
  }
  // hnswlib-node takes number[]: convert outside the timed regions.
  const rows = peers ? Array.from({ length: N }, (_, i) => Array.from(base.subarray(i * DIM, (i + 1) * DIM))) : [];
  const qArrays = peers ? Array.from({ length: NQ }, (_, q) => Array.from(query(q))) : [];
  // Build the indexes side by side, 1000 vectors each in turn (one thread,
  // in insertion order), so background load falls on all of them alike.
  log(`HNSW builds (M=${M}, efConstruction=${EFC}), interleaved...`);
  const secs = [0, 0, 0];
  const timed = async (i: number, f: () => unknown) => {
    const t = process.hrtime.bigint();
    await f();
    secs[i] += Number(process.hrtime.bigint() - t) / 1e9;
  };
  for (let b = 0; b < N; b += 1000) {
    const m = Math.min(1000, N - b);
    await timed(0, () => ours.insertBatch(base.subarray(b * DIM, (b + m) * DIM), m));
    if (!peers) continue;
    await timed(1, () => {
      for (let i = b; i < b + m; i++) hnswlib.addPoint(rows[i], i);
    });
    await timed(2, () => {
      for (let i = b; i < b + m; i++) u.add(BigInt(i), base.subarray(i * DIM, (i + 1) * DIM), 1);
    });
  }
  const builds: (string | number)[][] = [['index', 'build s', 'vs valori'], ['valori hnsw', secs[0], 1]];
  let usearchFile = '';
  if (peers) {
    usearchFile = path.join(os.tmpdir(), `bench-ann-usearch-${process.pid}.idx`);
    u.save(usearchFile);
    builds.push(['hnswlib-node', secs[1], secs[1] / secs[0]], ['usearch', secs[2], secs[2] / secs[0]]);
    summary.push(`HNSW build: valori ${secs[0].toFixed(1)} s = ${(secs[0] / secs[1]).toFixed(2)}× hnswlib-node's ${secs[1].toFixed(1)} s (target ≤ 1.5×)`);
  }
  console.log(table(builds) + '\n');
  // Interleave the three indexes per ef so machine noise hits them alike.
  for (const ef of EFS) {
    const param = `ef=${ef}`;
    const cs: Contender[] = [{ name: 'valori hnsw', param, search: (q) => ids(ours.search(query(q), K, { ef })), perBlock: 100, count: NQ }];
    if (hnswlib) {
      hnswlib.setEf(ef);
      const uv = new usearch.Index({ dimensions: DIM, metric: 'l2sq', connectivity: M, expansion_add: EFC, expansion_search: ef });
      uv.view(usearchFile);
      cs.push({ name: 'hnswlib-node', param, search: (q) => hnswlib.searchKnn(qArrays[q], K).neighbors, perBlock: 100, count: NQ });
      cs.push({ name: 'usearch', param, search: (q) => uv.search(query(q), K, 1).keys, perBlock: 100, count: NQ });
    }
    await race(gt, cs);
  }
  ours.close();
  if (usearchFile) fs.rmSync(usearchFile, { force: true });
  const first = points.filter((p) => p.series === 'valori hnsw' && p.recall >= 0.99)[0];
  if (first && peers) {
    const h = qpsAt('hnswlib-node', first.recall);
    const hs = h === null ? 'n/a (outside its curve)' : `${h.toFixed(0)} QPS → ${(first.qps / h).toFixed(2)}×`;
    summary.push(`HNSW: valori ${first.param} recall ${first.recall.toFixed(4)} at ${first.qps.toFixed(0)} QPS; hnswlib-node at that recall ${hs}`);
  }
}

/** One-at-a-time vs batched builds at each thread count (see the header). */
async function benchBuild(gt: Uint32Array) {
  const threads = values.threads.split(',').map(Number);
  const reps = Number(values.reps);
  const opts = { index: 'hnsw', hnswM: M, hnswEfConstruction: EFC };
  const builds: { name: string; make: () => Promise<Kernel> }[] = [
    {
      name: 'one at a time',
      make: async () => {
        const k = newKernel({ ...opts, indexThreads: 1 });
        for (let i = 0; i < N; i++) await k.insert(base.subarray(i * DIM, (i + 1) * DIM));
        return k;
      },
    },
    ...threads.map((t) => ({
      name: `batch, ${t} thread${t === 1 ? '' : 's'}`,
      make: async () => {
        const k = newKernel({ ...opts, indexThreads: t });
        await load(k);
        return k;
      },
    })),
  ];
  const secs: number[][] = builds.map(() => []);
  const kept: (Kernel | null)[] = builds.map(() => null);
  for (let r = 0; r < reps; r++) {
    for (const [i, b] of builds.entries()) {
      const t = process.hrtime.bigint();
      const k = await b.make();
      secs[i].push(Number(process.hrtime.bigint() - t) / 1e9);
      log(`  ${b.name} rep ${r + 1}: ${secs[i][r].toFixed(1)} s`);
      if (kept[i] === null) kept[i] = k;
      else k.close();
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base0 = median(secs[0]);
  const rows: (string | number)[][] = [['build', 'median s', 'runs s', 'speed-up', 'recall ef=16', 'ef=32', 'ef=64']];
  const answers: string[] = [];
  for (const [i, b] of builds.entries()) {
    const k = kept[i]!;
    const recalls: string[] = [];
    let all = '';
    for (const ef of [16, 32, 64]) {
      let hits = 0;
      for (let q = 0; q < NQ; q++) {
        const found = await ids(k.search(query(q), K, { ef }));
        all += found.join(',') + ';';
        const truth = gt.subarray(q * K, (q + 1) * K);
        hits += found.filter((id) => truth.includes(id)).length;
      }
      recalls.push((hits / (NQ * K)).toFixed(4));
    }
    answers.push(all);
    const m = median(secs[i]);
    rows.push([b.name, m.toFixed(1), secs[i].map((x) => x.toFixed(1)).join(' '), (base0 / m).toFixed(2), ...recalls]);
    k.close();
  }
  console.log(table(rows) + '\n');
  const same = answers.slice(2).every((a) => a === answers[1]);
  summary.push(`batch builds at ${threads.join(', ')} threads return ${same ? 'identical' : 'DIFFERENT'} results for every query and ef`);
}

async function benchIvf(gt: Uint32Array, exact: Kernel) {
  log('valori IVF (nlist auto) build...');
  const k = newKernel({ index: 'ivf' });
  const secs = await load(k);
  log(`  ${secs.toFixed(1)} s`);
  let best: { ivf: Point; exact: Point } | null = null;
  for (const nprobe of NPROBES) {
    const n = Math.min(NQ, 2000);
    const ivf = { name: 'valori ivf', param: `nprobe=${nprobe}`, search: (q: number) => ids(k.search(query(q), K, { nprobe })), perBlock: 100, count: n };
    const [p, e] = await race(gt, [ivf, exactContender(exact, Math.ceil(n / 50))]);
    if (p.recall >= 0.95 && (!best || p.qps / e.qps > best.ivf.qps / best.exact.qps)) best = { ivf: p, exact: e };
  }
  k.close();
  if (best) {
    const { ivf, exact: e } = best;
    summary.push(`IVF: ${ivf.param} recall ${ivf.recall.toFixed(4)} at ${ivf.qps.toFixed(0)} QPS = ${(ivf.qps / e.qps).toFixed(1)}× the exact scan's ${e.qps.toFixed(0)} QPS beside it (target ≥ 10× at ≥ 0.95)`);
  }
}

async function benchSq8(gt: Uint32Array, exact: Kernel) {
  log('valori SQ8 brute force build...');
  const k = newKernel({ index: 'brute', quant: 'scalar' });
  await load(k);
  const s = k.stats();
  const n = Math.min(NQ, 2000);
  const sq8 = { name: 'valori sq8 brute', param: 'rerank=auto', search: (q: number) => ids(k.search(query(q), K)), perBlock: 20, count: n };
  const [r, e] = await race(gt, [sq8, { ...exactContender(exact, Math.ceil(n / 10)), plot: true }]);
  k.close();
  summary.push(
    `SQ8 + exact re-rank: recall ${r.recall.toFixed(4)} at ${r.qps.toFixed(0)} QPS = ${(r.qps / e.qps).toFixed(1)}× the exact scan's ${e.qps.toFixed(0)} QPS beside it; ` +
      `codes ${(s.codeBytes / 2 ** 20).toFixed(1)} MiB = ${(s.codeBytes / s.vectorBytes).toFixed(2)}× vectors (targets ≥ 0.99, ≥ 3×, ≤ 0.3×)`,
  );
}

/** Recall (x, from 0.85) vs QPS (log y) as a small self-contained SVG. */
function svg(): string {
  const W = 720, H = 460, L = 70, R = 170, T = 30, B = 50;
  const x0 = 0.85, x1 = 1;
  const shown = points.filter((p) => p.recall >= x0);
  const lq = shown.map((p) => Math.log10(p.qps));
  const y0 = Math.floor(Math.min(...lq)), y1 = Math.ceil(Math.max(...lq));
  const X = (r: number) => L + ((r - x0) / (x1 - x0)) * (W - L - R);
  const Y = (q: number) => T + (1 - (Math.log10(q) - y0) / (y1 - y0)) * (H - T - B);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`];
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  for (let e = y0; e <= y1; e++) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${Y(10 ** e)}" y2="${Y(10 ** e)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${Y(10 ** e) + 4}" text-anchor="end">${10 ** e}</text>`);
  }
  for (let r = x0; r <= x1 + 1e-9; r += 0.025) {
    out.push(`<line x1="${X(r)}" x2="${X(r)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`);
    out.push(`<text x="${X(r)}" y="${H - B + 16}" text-anchor="middle">${r.toFixed(3)}</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle">recall@10</text>`);
  out.push(`<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">queries/s (one thread, log)</text>`);
  out.push(`<text x="${L}" y="18">Fashion-MNIST 60k×784, k=10, M=${M}, efConstruction=${EFC}</text>`);
  [...new Set(shown.map((p) => p.series))].forEach((s, i) => {
    const c = colors[i % colors.length];
    const ps = shown.filter((p) => p.series === s).sort((a, b) => a.recall - b.recall);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${ps.map((p) => `${X(p.recall)},${Y(p.qps)}`).join(' ')}"/>`);
    for (const p of ps) out.push(`<circle cx="${X(p.recall)}" cy="${Y(p.qps)}" r="3" fill="${c}"><title>${s} ${p.param}</title></circle>`);
    out.push(`<rect x="${W - R + 12}" y="${T + i * 20}" width="12" height="12" fill="${c}"/>`);
    out.push(`<text x="${W - R + 30}" y="${T + i * 20 + 10}">${s}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

async function main() {
  log(`Fashion-MNIST: ${N} base × ${DIM}, ${NQ} queries; node ${process.version}`);
  const { gt, exact } = await groundTruth();
  if (only.has('build')) await benchBuild(gt);
  if (only.has('hnsw')) await benchHnsw(gt, only.has('peers'));
  if (only.has('ivf')) await benchIvf(gt, exact);
  if (only.has('sq8')) await benchSq8(gt, exact);
  exact.close();
  const rows: (string | number)[][] = [['index', 'setting', 'recall@10', 'QPS']];
  for (const p of points) rows.push([p.series, p.param, p.recall.toFixed(4), Math.round(p.qps)]);
  console.log(table(rows) + '\n');
  for (const s of summary) console.log(s);
  if (points.length === 0) return;
  fs.mkdirSync(path.dirname(values.svg), { recursive: true });
  fs.writeFileSync(values.svg, svg());
  console.log(`\nplot: ${values.svg}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
