// In-process part of scripts/bench-filter.ts: Valori through the binding (an l2, a cosine and a
// dot HNSW collection with payloads, and an unfiltered exact-scan baseline) next to hnswlib-node's
// searchKnn with its filter callback, built and queried interleaved in one process, one thread.
import type { Filter, Payloads, Truth } from './filter-data';
import { payloadJson } from './filter-data';
import { loadNative } from './native';
import { type Contender, type Point, race } from './race';

export interface FilterBench {
  base: Float32Array;
  n: number;
  dim: number;
  k: number;
  m: number;
  efc: number;
  payloads: Payloads;
  filters: Filter[];
  queries: Float32Array[];
  truth: Truth;
  efs: number[];
  reps: number;
  log: (s: string) => void;
  /** Figures that are not points on a curve (build seconds, load seconds, …). */
  figures: Record<string, number | string>;
  points: Point[];
}

type Hit = { id: number; score: number };

/** The binding as contract 12 describes it (payloads at insert, filter and metric). */
interface PayloadKernel {
  createCollection(spec: { name: string; dim: number; metric?: string; index?: string; maxRecords?: number; hnswM?: number; hnswEfConstruction?: number }): Promise<unknown>;
  insertBatch(collection: string, values: Float32Array, count: number, opts: null, payloads?: { metadata?: Array<string | null> }): Promise<{ ids: Uint32Array }>;
  search(collection: string, query: Float32Array, k: number, options: { ef?: number; filter?: string } | null): Promise<Hit[]>;
  close(): void;
}

/**
 * Whether this build filters by payload and knows the cosine metric: a three-record probe
 * collection, searched with a filter that matches one record. Null when it does; else why not.
 */
async function missingSupport(k: PayloadKernel): Promise<string | null> {
  try {
    await k.createCollection({ name: 'probe-cosine', dim: 2, metric: 'cosine', index: 'brute' });
  } catch (e) {
    return `no cosine metric (${(e as Error).message})`;
  }
  await k.createCollection({ name: 'probe', dim: 2, index: 'brute' });
  const r = await k.insertBatch('probe', Float32Array.from([0, 0, 1, 1, 2, 2]), 3, null, { metadata: ['{"x":1}', '{"x":2}', '{"x":3}'] });
  const hits = await k.search('probe', Float32Array.from([0, 0]), 3, { filter: '{"x":2}' });
  if (hits.length !== 1 || hits[0].id !== r.ids[1]) return `search ignores "filter" (got ${hits.length} hits for a filter matching 1 record)`;
  return null;
}

export async function benchInProcess(b: FilterBench, parts: { native: boolean; hnswlib: boolean; metrics: boolean }): Promise<void> {
  const { base, n, dim, k: K, log } = b;
  const row = (i: number) => base.subarray(i * dim, (i + 1) * dim);
  let valori: PayloadKernel | null = null;
  if (parts.native || parts.metrics) {
    const native = loadNative(process.env.VALORI_NATIVE);
    if (!native.collections) throw new Error(`${native.label}: a build without collections`);
    // Entries: room for every payload even if a build counts them (contract 12 says it does not).
    valori = native.create({ dim, maxRecords: 4 * n + 16, maxNodes: 0, maxEdges: 0, maxMetadataEntries: 4 * n + 16 }).raw as unknown as PayloadKernel;
    const why = await missingSupport(valori);
    if (why) {
      log(`valori (binding): skipped, this build has ${why}; rebuild with \`npm run build\` once the payload binding has landed`);
      b.figures['valori binding'] = `skipped: ${why}`;
      valori.close();
      valori = null;
    }
  }
  // Collections: name → metric; "exact" is the unfiltered exact-scan baseline.
  const cols: Array<{ name: string; metric: string; index: string; payload: boolean }> = [];
  if (valori && parts.native) cols.push({ name: 'l2', metric: 'l2', index: 'hnsw', payload: true }, { name: 'exact', metric: 'l2', index: 'brute', payload: false });
  if (valori && parts.metrics) cols.push({ name: 'cosine', metric: 'cosine', index: 'hnsw', payload: true }, { name: 'dot', metric: 'dot', index: 'hnsw', payload: true });
  for (const c of cols) await valori!.createCollection({ name: c.name, dim, metric: c.metric, index: c.index, maxRecords: n, hnswM: b.m, hnswEfConstruction: b.efc });
  // hnswlib-node's HierarchicalNSW (typed loosely: it is only required when asked for).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hnswlib = parts.hnswlib ? new (require('hnswlib-node').HierarchicalNSW)('l2', dim) : null;
  if (hnswlib) hnswlib.initIndex(n, b.m, b.efc, 100);
  if (cols.length === 0 && !hnswlib) return;

  // Valori ids → dataset index, per collection (ids come from the write results).
  const toIdx = new Map<string, Int32Array>(cols.map((c) => [c.name, new Int32Array(4 * n + 16).fill(-1)]));
  const secs = new Map<string, number>();
  const timed = async (name: string, f: () => unknown) => {
    const t = process.hrtime.bigint();
    await f();
    secs.set(name, (secs.get(name) ?? 0) + Number(process.hrtime.bigint() - t) / 1e9);
  };
  log(`building: ${[...cols.map((c) => `valori ${c.name} (${c.index})`), ...(hnswlib ? ['hnswlib-node'] : [])].join(', ')}; M=${b.m}, efConstruction=${b.efc}, batches of 1,000 in turn...`);
  const chunk = 1000;
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const values = base.subarray(s * dim, (s + m) * dim);
    const metadata = Array.from({ length: m }, (_, j) => payloadJson(b.payloads, s + j));
    for (const c of cols) {
      await timed(c.name, async () => {
        const r = await valori!.insertBatch(c.name, values, m, null, c.payload ? { metadata } : undefined);
        r.ids.forEach((id, j) => (toIdx.get(c.name)![id] = s + j));
      });
    }
    if (hnswlib) {
      const rows = Array.from({ length: m }, (_, j) => Array.from(row(s + j)));
      await timed('hnswlib', () => rows.forEach((r, j) => hnswlib.addPoint(r, s + j)));
    }
    if ((s / chunk) % 10 === 9) log(`  ${s + m}/${n}`);
  }
  for (const [name, t] of secs) {
    b.figures[`build s: ${name === 'hnswlib' ? 'hnswlib-node' : `valori ${name}`}`] = t;
    log(`  build ${name}: ${t.toFixed(1)} s`);
  }

  const qArrays = hnswlib ? b.queries.map((q) => Array.from(q)) : [];
  const nq = b.queries.length;
  const search = (col: string, ef: number | undefined, filter: string | undefined) => {
    const map = toIdx.get(col)!;
    return async (q: number) => (await valori!.search(col, b.queries[q], K, { ef, filter })).map((h) => map[h.id]);
  };
  for (const [fi, f] of b.filters.entries()) {
    const where = JSON.stringify(f.where);
    const mask = f.mask;
    const keep = (label: number) => mask[label] === 1;
    log(`filter ${f.name} ${where} (${f.matches} of ${n} records match)`);
    for (const [ei, ef] of b.efs.entries()) {
      const cs: Contender[] = [];
      const one = { filter: f.name, ef, count: nq, perBlock: 100 };
      if (cols.some((c) => c.name === 'l2')) cs.push({ ...one, series: 'valori l2', search: search('l2', ef, where), truth: b.truth.l2[fi] });
      if (hnswlib) {
        cs.push({
          ...one,
          series: 'hnswlib-node',
          truth: b.truth.l2[fi],
          search: (q) => hnswlib.searchKnn(qArrays[q], K, keep).neighbors as number[],
        });
        hnswlib.setEf(ef);
      }
      if (cols.some((c) => c.name === 'cosine')) {
        cs.push({ ...one, series: 'valori cosine', search: search('cosine', ef, where), truth: b.truth.cosine[fi] });
        cs.push({ ...one, series: 'valori dot', search: search('dot', ef, where), truth: b.truth.dot[fi] });
      }
      // The exact scan is slow: a twentieth of the queries, two per turn, beside the first ef of 1 %.
      if (fi === 0 && ei === 0 && cols.some((c) => c.name === 'exact')) {
        cs.push({ series: 'valori exact scan (unfiltered)', filter: 'none', ef: null, search: search('exact', undefined, undefined), truth: null, count: Math.max(5, Math.ceil(nq / 20)), perBlock: 2 });
      }
      b.points.push(...(await race(cs, b.reps, K, log)));
    }
  }
  valori?.close();
}
