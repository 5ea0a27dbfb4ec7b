// Data for the filtered-search benchmark: a payload per base record, the three filters, a seeded
// query subset, and the ground truth for each (metric, filter) computed here in plain JavaScript,
// never by a system under test.
import fs from 'node:fs';
import path from 'node:path';
import { rng } from './data';

export type Metric = 'l2' | 'cosine' | 'dot';
export const METRICS: Metric[] = ['l2', 'cosine', 'dot'];

export interface Payloads {
  cls: Uint8Array;
  r100: Uint8Array;
  r2: Uint8Array;
}

export interface Filter {
  /** Its nominal selectivity, as the table shows it. */
  name: string;
  /** The same condition in the JSON shape both Valori's metadata_filter and Chroma's where take. */
  where: Record<string, number>;
  /** 1 where a base record matches. */
  mask: Uint8Array;
  matches: number;
}

/** The dataset's class label, a seeded integer 0-99 and a seeded integer 0-1 per record. */
export function makePayloads(labels: Uint8Array, seed: number): Payloads {
  const next = rng(seed);
  const n = labels.length;
  const r100 = new Uint8Array(n);
  const r2 = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    r100[i] = Math.floor(next() * 100);
    r2[i] = Math.floor(next() * 2);
  }
  return { cls: labels, r100, r2 };
}

export function payloadJson(p: Payloads, i: number): string {
  return `{"class":${p.cls[i]},"r100":${p.r100[i]},"r2":${p.r2[i]}}`;
}

/** 1 %: one value of the random 0-99; 10 %: one fixed class (not the query's own); 50 %: r2 = 1. */
export function makeFilters(p: Payloads): Filter[] {
  const mk = (name: string, key: 'class' | 'r100' | 'r2', value: number, col: Uint8Array): Filter => {
    const mask = col.map((v) => (v === value ? 1 : 0));
    return { name, where: { [key]: value }, mask, matches: mask.reduce((a, b) => a + b, 0) };
  };
  return [mk('1%', 'r100', 7, p.r100), mk('10%', 'class', 3, p.cls), mk('50%', 'r2', 1, p.r2)];
}

/** `count` distinct indices of 0..total-1 (seeded partial Fisher–Yates), in drawn order. */
export function pickQueries(total: number, count: number, seed: number): number[] {
  const next = rng(seed);
  const idx = Array.from({ length: total }, (_, i) => i);
  const n = Math.min(count, total);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(next() * (total - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, n);
}

/** Ground truth: `gt[metric][filter]` holds k ids per query (dataset indices), best first. */
export type Truth = Record<Metric, Uint32Array[]>;

/**
 * Exact top-k among each filter's matching records for every metric, from one dot product per
 * (query, record): l2 = |q|² + |b|² − 2 q·b (exact in f64 for u8 pixels), cosine = q·b / (|q| |b|)
 * descending (the order of normalised vectors), dot = q·b descending. Records are visited in id
 * order and replace a kept one only when strictly better, so ties go to the smaller id.
 */
export function groundTruth(base: Float32Array, dim: number, queries: Float32Array[], filters: Filter[], k: number, progress?: (s: string) => void): Truth {
  const n = base.length / dim;
  const norm2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = i * dim, e = d + dim; d < e; d++) s += base[d] * base[d];
    norm2[i] = s;
  }
  const any = new Uint8Array(n);
  for (const f of filters) for (let i = 0; i < n; i++) any[i] |= f.mask[i];
  const out: Truth = { l2: [], cosine: [], dot: [] };
  for (const m of METRICS) out[m] = filters.map(() => new Uint32Array(queries.length * k));
  // Per (metric, filter): the k best (cost, id) kept sorted, cost ascending.
  const cost = METRICS.map(() => filters.map(() => new Float64Array(k)));
  const ids = METRICS.map(() => filters.map(() => new Int32Array(k)));
  const started = Date.now();
  for (const [qi, q] of queries.entries()) {
    let qn2 = 0;
    for (let d = 0; d < dim; d++) qn2 += q[d] * q[d];
    const qn = Math.sqrt(qn2);
    for (const c of cost) for (const a of c) a.fill(Infinity);
    for (const a of ids) for (const b of a) b.fill(-1);
    for (let i = 0; i < n; i++) {
      if (!any[i]) continue;
      let dot = 0;
      for (let d = 0, o = i * dim; d < dim; d++) dot += q[d] * base[o + d];
      const costs = [qn2 + norm2[i] - 2 * dot, -dot / (qn * Math.sqrt(norm2[i])), -dot];
      for (let m = 0; m < METRICS.length; m++) {
        for (let f = 0; f < filters.length; f++) {
          if (!filters[f].mask[i]) continue;
          const c = cost[m][f];
          const v = costs[m];
          if (!(v < c[k - 1])) continue;
          const idv = ids[m][f];
          let j = k - 1;
          while (j > 0 && c[j - 1] > v) {
            c[j] = c[j - 1];
            idv[j] = idv[j - 1];
            j--;
          }
          c[j] = v;
          idv[j] = i;
        }
      }
    }
    for (let m = 0; m < METRICS.length; m++) for (let f = 0; f < filters.length; f++) out[METRICS[m]][f].set(ids[m][f], qi * k);
    if (progress && (qi + 1) % 100 === 0) progress(`  ground truth ${qi + 1}/${queries.length} queries (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  return out;
}

/** `groundTruth` cached under `dir` by everything it depends on. */
export function cachedGroundTruth(dir: string, key: string, compute: () => Truth, filters: number, each: number): Truth {
  const file = path.join(dir, `gt-${key}.bin`);
  if (fs.existsSync(file)) {
    const all = new Uint32Array(fs.readFileSync(file).buffer.slice(0));
    if (all.length === each * filters * METRICS.length) {
      const t = {} as Truth;
      METRICS.forEach((m, mi) => (t[m] = Array.from({ length: filters }, (_, f) => all.slice((mi * filters + f) * each, (mi * filters + f + 1) * each))));
      return t;
    }
  }
  const t = compute();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, Buffer.concat(METRICS.flatMap((m) => t[m].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)))));
  return t;
}

/** How many of query `q`'s true top-k are among `found` (dataset indices). */
export function hitsOf(truth: Uint32Array, k: number, q: number, found: ArrayLike<number>): number {
  const t = truth.subarray(q * k, (q + 1) * k);
  let hit = 0;
  for (let x = 0; x < found.length; x++) if (t.includes(found[x])) hit++;
  return hit;
}
