// HTTP part of scripts/bench-filter.ts: a built Valori node (dist/main.js, in memory) and Chroma
// (`chroma run`), each loaded with the same records and payloads over its HTTP API, then searched
// with the same filters through the same keep-alive client, `clients` requests in flight.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FilterBench } from './bench-filter-inproc';
import { Chroma, chromaAvailable, chromaVersion, CHROMA_BIN } from './chroma';
import { payloadJson } from './filter-data';
import { JsonClient } from './http-json';
import { type Contender, race } from './race';
import { startValori, type ValoriServer } from './valori-server';

const COLLECTION = 'fmnist';

/** Loads the records; returns Valori id → dataset index. */
async function loadValori(b: FilterBench, client: JsonClient, batch: number): Promise<Map<number, number>> {
  const toIdx = new Map<number, number>();
  await client.post('/v1/namespaces', { name: COLLECTION, dimension: b.dim, index: 'hnsw' });
  for (let s = 0; s < b.n; s += batch) {
    const m = Math.min(batch, b.n - s);
    const rows: string[] = [];
    const meta: string[] = [];
    for (let i = s; i < s + m; i++) {
      rows.push(`[${b.base.subarray(i * b.dim, (i + 1) * b.dim).join(',')}]`);
      // The JSON-encoded string form of batch metadata (0.3.1's client sends it so).
      meta.push(JSON.stringify(payloadJson(b.payloads, i)));
    }
    const r = await client.post<{ ids: number[] }>('/v1/vectors/batch-insert', `{"collection":"${COLLECTION}","batch":[${rows.join(',')}],"metadata":[${meta.join(',')}]}`);
    if (r.ids.length !== m) throw new Error(`valori http: batch at ${s} answered ${r.ids.length} ids for ${m} rows`);
    r.ids.forEach((id, j) => toIdx.set(id, s + j));
  }
  return toIdx;
}

async function loadChroma(b: FilterBench, chroma: Chroma): Promise<void> {
  await chroma.createCollection(COLLECTION, b.m, b.efc, b.efs[0]);
  const batch = Math.min(1000, await chroma.maxBatch());
  for (let s = 0; s < b.n; s += batch) {
    const m = Math.min(batch, b.n - s);
    const ids: string[] = [];
    const vecs: number[][] = [];
    const metas: object[] = [];
    for (let i = s; i < s + m; i++) {
      ids.push(String(i));
      vecs.push(Array.from(b.base.subarray(i * b.dim, (i + 1) * b.dim)));
      metas.push({ class: b.payloads.cls[i], r100: b.payloads.r100[i], r2: b.payloads.r2[i] });
    }
    await chroma.add(ids, vecs, metas);
  }
  const count = await chroma.count();
  if (count !== b.n) throw new Error(`chroma holds ${count} records, expected ${b.n}`);
}

/**
 * Whether the node filters by payload over HTTP: a search with each filter must return only
 * matching records. Null when it does; else why not.
 */
async function valoriFilterProblem(b: FilterBench, client: JsonClient, qJson: string[], toIdx: Map<number, number>): Promise<string | null> {
  for (const f of b.filters) {
    let r: { results: Array<{ id: number }> };
    try {
      r = await client.post('/v1/search', `{"collection":"${COLLECTION}","query":${qJson[0]},"k":${b.k},"metadata_filter":${JSON.stringify(f.where)}}`);
    } catch (e) {
      return `metadata_filter refused: ${(e as Error).message.slice(0, 200)}`;
    }
    if (r.results.some((h) => f.mask[toIdx.get(h.id) ?? -1] !== 1)) return `metadata_filter ignored (non-matching hits for ${JSON.stringify(f.where)})`;
  }
  return null;
}

/** `count`: queries per repetition (the first of the list). */
export async function benchHttp(b: FilterBench, parts: { valori: boolean; chroma: boolean }, clients: number, count: number): Promise<void> {
  const { log } = b;
  const qJson = b.queries.map((q) => `[${q.join(',')}]`);
  let server: ValoriServer | null = null;
  let vclient: JsonClient | null = null;
  let chroma: Chroma | null = null;
  let toIdx = new Map<number, number>();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-filter-'));
  try {
    if (parts.valori) {
      if (!fs.existsSync('dist/main.js')) throw new Error('dist/main.js is missing: run `npm run build` first');
      server = await startValori({
        VALORI_MAX_RECORDS: String(b.n + 16),
        VALORI_MAX_NODES: '0',
        VALORI_MAX_EDGES: '0',
        VALORI_INDEX: 'hnsw',
        VALORI_HNSW_M: String(b.m),
        VALORI_HNSW_EF_CONSTRUCTION: String(b.efc),
      });
      vclient = new JsonClient(server.base, clients);
      log(`valori http (${server.base}): loading ${b.n} records with payloads, batches of 1,000...`);
      const t = Date.now();
      toIdx = await loadValori(b, vclient, 1000);
      b.figures['load s: valori http'] = (Date.now() - t) / 1000;
      log(`  ${((Date.now() - t) / 1000).toFixed(1)} s`);
      const why = await valoriFilterProblem(b, vclient, qJson, toIdx);
      if (why) {
        log(`valori http: skipped, the node has ${why}`);
        b.figures['valori http'] = `skipped: ${why}`;
        server.stop();
        vclient.close();
        server = null;
        vclient = null;
      }
    }
    if (parts.chroma) {
      if (!chromaAvailable()) {
        log(`chroma: skipped, ${CHROMA_BIN} is missing (python3 -m venv .venv-chroma && .venv-chroma/bin/pip install chromadb)`);
        b.figures['chroma'] = 'skipped: no .venv-chroma';
      } else {
        chroma = await Chroma.start(path.join(tmp, 'chroma'), clients);
        b.figures['chroma version'] = chromaVersion();
        log(`chroma: loading ${b.n} records with metadata, batches of 1,000...`);
        const t = Date.now();
        await loadChroma(b, chroma);
        b.figures['load s: chroma http'] = (Date.now() - t) / 1000;
        log(`  ${((Date.now() - t) / 1000).toFixed(1)} s`);
      }
    }
    if (!vclient && !chroma) return;
    for (const [ei, ef] of b.efs.entries()) {
      if (chroma && ei > 0) {
        log(`chroma: ef_search ${ef}, restarting...`);
        await chroma.setEf(ef);
      }
      for (const [fi, f] of b.filters.entries()) {
        const where = JSON.stringify(f.where);
        const one = { filter: f.name, ef, count, perBlock: Math.min(200, count), concurrency: clients, truth: b.truth.l2[fi] };
        const cs: Contender[] = [];
        if (vclient) {
          const c = vclient;
          const body = (q: number) => `{"collection":"${COLLECTION}","query":${qJson[q]},"k":${b.k},"ef":${ef},"metadata_filter":${where}}`;
          cs.push({ ...one, series: 'valori http', search: async (q) => (await c.post<{ results: Array<{ id: number }> }>('/v1/search', body(q))).results.map((h) => toIdx.get(h.id) ?? -1) });
        }
        if (chroma) {
          const c = chroma;
          cs.push({ ...one, series: 'chroma http', search: (q) => c.query(qJson[q], b.k, where) });
        }
        log(`http: filter ${f.name} ${where}, ef ${ef}`);
        b.points.push(...(await race(cs, b.reps, b.k, log)));
      }
    }
  } finally {
    vclient?.close();
    server?.stop();
    await chroma?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
