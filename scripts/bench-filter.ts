// Filtered search on Fashion-MNIST (60k × 784 train images as records, test images as queries)
// with a payload per record: {"class": label 0-9, "r100": seeded 0-99, "r2": seeded 0-1}.
// Filters: 1 % {"r100": 7}, 10 % {"class": 3}, 50 % {"r2": 1}. HNSW M=16, efConstruction=100,
// k=10, one query per call; ground truth = an exact scan over the matching records computed here
// in plain JavaScript (squared L2, cosine, dot; ties by id), cached under target/bench-filter/.
// In one run, interleaved, repeated (median QPS):
//   native   Valori through the binding (l2 HNSW with payloads; unfiltered exact scan as baseline)
//   hnswlib  hnswlib-node's searchKnn with its filter callback, same M / efConstruction / ef
//   metrics  Valori cosine and dot collections beside l2
//   http     Valori over HTTP (dist/main.js, in memory) with metadata_filter
//   chroma   Chroma over HTTP (`chroma run` from .venv-chroma) with where, same client
//
//   npx tsx scripts/bench-filter.ts [--queries 1000] [--reps 3] [--ef 10,20,40,80,160]
//       [--only native,hnswlib,metrics,http,chroma] [--no-chroma] [--limit 60000]
//       [--clients 8] [--http-queries N] [--json target/bench-filter/result.json]
// --http-queries: queries per repetition over HTTP (default --queries); Chroma answers filtered
// queries slowly (tens of QPS at 60k), so a full run spends most of its time there.
//
// Data: Debian package dataset-fashion-mnist (or FASHION_MNIST_DIR). VALORI_NATIVE=<loader>
// benchmarks another build of the binding; CHROMA_BIN=<path> another chroma executable.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchHttp } from './lib/bench-filter-http';
import { benchInProcess, type FilterBench } from './lib/bench-filter-inproc';
import { table } from './lib/data';
import { DIM, loadImages, loadLabels } from './lib/fashion-mnist';
import { cachedGroundTruth, groundTruth, makeFilters, makePayloads, pickQueries } from './lib/filter-data';
import { type Point, qpsAt } from './lib/race';

const { values } = parseArgs({
  options: {
    queries: { type: 'string', default: '1000' },
    reps: { type: 'string', default: '3' },
    ef: { type: 'string', default: '10,20,40,80,160' },
    only: { type: 'string', default: 'native,hnswlib,metrics,http,chroma' },
    'no-chroma': { type: 'boolean', default: false },
    limit: { type: 'string', default: '60000' },
    clients: { type: 'string', default: '8' },
    'http-queries': { type: 'string' },
    m: { type: 'string', default: '16' },
    efc: { type: 'string', default: '100' },
    seed: { type: 'string', default: '12' },
    json: { type: 'string' },
  },
});
const only = new Set(values.only.split(','));
if (values['no-chroma']) only.delete('chroma');
const K = 10;
const TARGET_RECALL = 0.95;
const CACHE = 'target/bench-filter';
const log = (s: string) => process.stderr.write(s + '\n');
const num = (name: string, v: string, min: number) => {
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name} ${v}: expected an integer ≥ ${min}`);
  return x;
};

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Rows (filter, ef) × columns (series: recall, QPS). */
function curveTable(points: Point[], series: string[]): string {
  const shown = series.filter((s) => points.some((p) => p.series === s));
  if (shown.length === 0) return '';
  const rows: (string | number)[][] = [['filter', 'ef', ...shown.flatMap((s) => [`${s} recall`, 'QPS'])]];
  const keys = [...new Set(points.filter((p) => shown.includes(p.series)).map((p) => `${p.filter}|${p.ef}`))];
  for (const key of keys) {
    const [filter, ef] = key.split('|');
    const row: (string | number)[] = [filter, ef];
    for (const s of shown) {
      const p = points.find((x) => x.series === s && `${x.filter}|${x.ef}` === key);
      row.push(p?.recall?.toFixed(4) ?? '', p ? Math.round(p.qps) : '');
    }
    rows.push(row);
  }
  return table(rows);
}

/** The first point of `series` under `filter` (ef ascending) with recall ≥ the target. */
function firstAtTarget(points: Point[], series: string, filter: string): Point | null {
  const c = points.filter((p) => p.series === series && p.filter === filter).sort((a, b) => (a.ef ?? 0) - (b.ef ?? 0));
  return c.find((p) => (p.recall ?? 0) >= TARGET_RECALL) ?? null;
}

function summarize(points: Point[], filters: string[]): string[] {
  const out: string[] = [];
  const exact = points.find((p) => p.series === 'valori exact scan (unfiltered)');
  const versus = (ours: string, peer: string, target: (filter: string) => string) => {
    for (const f of filters) {
      const p = firstAtTarget(points, ours, f);
      if (!points.some((x) => x.series === ours && x.filter === f)) continue;
      if (!p) {
        const best = points.filter((x) => x.series === ours && x.filter === f).sort((a, b) => (b.recall ?? 0) - (a.recall ?? 0))[0];
        out.push(`${ours} ${f}: recall ${TARGET_RECALL} not reached (best ${best.recall?.toFixed(4)} at ef ${best.ef})`);
        continue;
      }
      let line = `${ours} ${f}: ef ${p.ef} recall ${p.recall!.toFixed(4)} at ${p.qps.toFixed(0)} QPS`;
      const peerAt = points.some((x) => x.series === peer && x.filter === f) ? qpsAt(points, peer, f, p.recall!) : undefined;
      if (peerAt === null) line += `; ${peer} never reaches that recall`;
      else if (peerAt) line += `; ${peer} at that recall ${peerAt.atLeast ? '≥ ' : ''}${peerAt.qps.toFixed(0)} QPS → ${peerAt.atLeast ? '≤ ' : ''}${(p.qps / peerAt.qps).toFixed(2)}×${target(f)}`;
      if (f === '1%' && exact && ours === 'valori l2') line += `; ${(p.qps / exact.qps).toFixed(1)}× the unfiltered exact scan's ${exact.qps.toFixed(1)} QPS (target ≥ 10×)`;
      out.push(line);
    }
  };
  versus('valori l2', 'hnswlib-node', (f) => (f === '1%' ? '' : ' (target ≥ 1×)'));
  for (const m of ['valori cosine', 'valori dot']) {
    for (const f of filters) {
      const l2 = firstAtTarget(points, 'valori l2', f);
      const p = l2 && points.find((x) => x.series === m && x.filter === f && x.ef === l2.ef);
      if (!l2 || !p) continue;
      out.push(`${m} ${f} at ef ${l2.ef}: recall ${p.recall!.toFixed(4)} vs l2 ${l2.recall!.toFixed(4)}, QPS ${p.qps.toFixed(0)} = ${(p.qps / l2.qps).toFixed(2)}× l2's (target within 10 %)`);
    }
  }
  versus('valori http', 'chroma http', () => ' (target ≥ 2×)');
  return out;
}

async function main() {
  const started = Date.now();
  const reps = num('reps', values.reps, 1);
  const efs = values.ef.split(',').map((e) => num('ef', e, 1));
  const allBase = loadImages('train-images-idx3-ubyte');
  const allLabels = loadLabels('train-labels-idx1-ubyte');
  const testImages = loadImages('t10k-images-idx3-ubyte');
  const n = Math.min(num('limit', values.limit, 10), allBase.length / DIM);
  const base = allBase.subarray(0, n * DIM);
  const seed = num('seed', values.seed, 0);
  const payloads = makePayloads(allLabels.subarray(0, n), seed);
  const filters = makeFilters(payloads);
  const qIdx = pickQueries(testImages.length / DIM, num('queries', values.queries, 1), seed + 1);
  const queries = qIdx.map((i) => testImages.subarray(i * DIM, (i + 1) * DIM));
  log(`Fashion-MNIST: ${n} records × ${DIM}, ${queries.length} queries (seed ${seed}), k=${K}, ef ${efs.join(',')}, ${reps} repetitions; node ${process.version}`);
  log(`filters: ${filters.map((f) => `${f.name} ${JSON.stringify(f.where)} → ${f.matches} records`).join(', ')}`);

  log('ground truth: exact scan over the matching records (l2, cosine, dot)...');
  const t = Date.now();
  const truth = cachedGroundTruth(CACHE, `v1-${n}-${queries.length}-s${seed}`, () => groundTruth(base, DIM, queries, filters, K, log), filters.length, queries.length * K);
  log(`  ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const b: FilterBench = { base, n, dim: DIM, k: K, m: num('m', values.m, 2), efc: num('efc', values.efc, 1), payloads, filters, queries, truth, efs, reps, log, figures: {}, points: [] };
  await benchInProcess(b, { native: only.has('native'), hnswlib: only.has('hnswlib'), metrics: only.has('metrics') });
  if (only.has('http') || only.has('chroma')) {
    const httpQueries = Math.min(queries.length, num('http-queries', values['http-queries'] ?? String(queries.length), 1));
    await benchHttp(b, { valori: only.has('http'), chroma: only.has('chroma') }, num('clients', values.clients, 1), httpQueries);
  }

  const title = `Filtered search, Fashion-MNIST ${n} × ${DIM}, k=${K}, M=${b.m}, efConstruction=${b.efc}, ${queries.length} queries, median of ${reps}`;
  console.log(`\n${title}\n`);
  for (const [f, v] of Object.entries(b.figures)) console.log(`${f}: ${typeof v === 'number' ? v.toFixed(1) : v}`);
  const inproc = curveTable(b.points, ['valori l2', 'hnswlib-node', 'valori cosine', 'valori dot']);
  if (inproc) console.log(`\nIn process, one thread, one query per call:\n${inproc}`);
  const exact = b.points.find((p) => p.series === 'valori exact scan (unfiltered)');
  if (exact) console.log(`\nvalori exact scan, unfiltered (l2 brute, ${exact.queries} queries): ${exact.qps.toFixed(1)} QPS`);
  const http = curveTable(b.points, ['valori http', 'chroma http']);
  const httpCount = b.points.find((p) => p.series.endsWith(' http'))?.queries;
  if (http) console.log(`\nOver HTTP, ${values.clients} keep-alive connections, ${httpCount} queries:\n${http}`);
  const summary = summarize(b.points, filters.map((f) => f.name));
  if (summary.length) console.log(`\n${summary.join('\n')}`);
  if (values.json) {
    fs.mkdirSync(path.dirname(values.json), { recursive: true });
    const doc = {
      title,
      commit: commit(),
      node: process.version,
      date: new Date().toISOString(),
      seconds: (Date.now() - started) / 1000,
      options: { ...values, efs, reps },
      dataset: { records: n, dim: DIM, queries: queries.length, queryIndices: qIdx, filters: filters.map((f) => ({ name: f.name, where: f.where, matches: f.matches })) },
      figures: b.figures,
      points: b.points,
      summary,
    };
    fs.writeFileSync(values.json, JSON.stringify(doc, null, 2) + '\n');
    log(`figures: ${values.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
