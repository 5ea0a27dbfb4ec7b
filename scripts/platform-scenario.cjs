#!/usr/bin/env node
// One fixed, seeded workload through the native binding, printed as JSON: the state proof
// (height + BLAKE3 hash), pool counts, and the hits of exact, HNSW and scalar-quantised searches;
// then cosine and dot collections with payloads and filtered searches (their proofs, hits,
// scores and returned metadata).
// scripts/platform-test.mjs runs it with the x86-64 build and with the arm64 build (under qemu)
// of the same source tree and requires equal output: the kernel's integer arithmetic promises
// the same bits on every target, whichever SIMD path (AVX-512, AVX2, portable) runs.
//
//   node scripts/platform-scenario.cjs [path/to/native/index.js]
//
// Plain CommonJS on purpose: it runs in an install directory that has no tsx or TypeScript, under
// whatever Node the target has. The writes follow __test__/golden-state-hash.test.ts.
'use strict';
const { resolve } = require('node:path');

const loader = resolve(process.argv[2] ?? `${__dirname}/../native/index.js`);
const { Kernel } = require(loader);
const DIM = 5;

/**
 * The binding's data methods in one shape. The collection API (issue 11) puts the collection
 * first and resolves writes with { ids, height }; the earlier binding took no collection and
 * resolved with the id. Both are accepted so the script compares builds of any one tree.
 */
function api(k) {
  if (typeof k.createCollection !== 'function') {
    return {
      insert: (v, tag) => k.insert(v, tag),
      insertBatch: async (v, n) => [...(await k.insertBatch(v, n))],
      deleteRecord: (id) => k.deleteRecord(id),
      softDeleteRecord: (id) => k.softDeleteRecord(id),
      createNode: (kind, rec) => k.createNode(kind, rec),
      createEdge: (a, b, kind) => k.createEdge(a, b, kind),
      upsertMemory: (v, attach, meta) => k.upsertMemory(v, attach, meta),
      setMetadata: (key, json) => k.setMetadata(key, json),
      search: (q, n) => k.search(q, n),
      buildIndex: () => k.buildIndex(),
    };
  }
  const c = 'default';
  const first = async (p) => (await p).ids[0];
  return {
    insert: (v, tag) => first(k.insert(c, v, tag)),
    insertBatch: async (v, n) => [...(await k.insertBatch(c, v, n)).ids],
    deleteRecord: (id) => k.deleteRecord(c, id),
    softDeleteRecord: (id) => k.softDeleteRecord(c, id),
    createNode: (kind, rec) => first(k.createNode(c, kind, rec)),
    createEdge: (a, b, kind) => first(k.createEdge(c, a, b, kind)),
    upsertMemory: async (v, attach, meta) => {
      const ids = (await k.upsertMemory(c, v, attach, meta)).ids;
      return { recordId: ids[0], chunkNodeId: ids[2] };
    },
    setMetadata: (key, json) => k.setMetadata(c, key, json),
    search: (q, n) => k.search(c, q, n),
    buildIndex: () => k.buildIndex(c),
  };
}

function rng(start) {
  let seed = start >>> 0;
  return (n) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
}

/** The golden-state-hash workload: records, batches, deletes, graph, memory, metadata, churn. */
async function workload(a, rnd) {
  const vec = () => Float32Array.from({ length: DIM }, () => (rnd(20001) - 10000) / 1000);
  const recs = [];
  const nodes = [];
  for (let i = 0; i < 1500; i++) {
    const op = rnd(100);
    try {
      if (op < 30) recs.push(await a.insert(vec(), BigInt(rnd(4))));
      else if (op < 40) {
        const n = 1 + rnd(40);
        const vals = new Float32Array(n * DIM);
        for (let j = 0; j < n; j++) vals.set(vec(), j * DIM);
        for (const id of await a.insertBatch(vals, n)) recs.push(id);
      } else if (op < 55 && recs.length) await a.deleteRecord(recs.splice(rnd(recs.length), 1)[0]);
      else if (op < 62 && recs.length) await a.softDeleteRecord(recs[rnd(recs.length)]);
      else if (op < 72) nodes.push(await a.createNode(rnd(7), recs.length && rnd(2) ? recs[rnd(recs.length)] : null));
      else if (op < 82 && nodes.length > 1) await a.createEdge(nodes[rnd(nodes.length)], nodes[rnd(nodes.length)], rnd(7));
      else if (op < 92) {
        const values = vec();
        const attach = nodes.length && rnd(2) ? nodes[rnd(nodes.length)] : null;
        const meta = rnd(2) ? JSON.stringify({ i, t: 'x'.repeat(rnd(30)) }) : null;
        const r = await a.upsertMemory(values, attach, meta);
        recs.push(r.recordId);
        nodes.push(r.chunkNodeId);
      } else await a.setMetadata(`key:${rnd(50)}`, JSON.stringify({ v: rnd(1000) }));
    } catch {
      // Refusals are part of the workload: deterministic, and they change nothing.
    }
  }
  for (const id of recs.splice(0, 900)) await a.deleteRecord(id);
  for (let i = 0; i < 600; i++) {
    const r = await a.upsertMemory(vec(), null, null);
    await a.deleteRecord(r.recordId);
  }
  for (let i = 0; i < 300; i++) recs.push(await a.insert(vec(), 7n));
  return vec;
}

async function searches(a, vec, queries) {
  const out = [];
  for (let q = 0; q < queries; q++) {
    const hits = await a.search(vec(), 10);
    out.push(hits.map((h) => [h.id, h.score]));
  }
  return out;
}

/** With the collection API: a second collection (other dim, IVF) with its own proof and hits. */
async function secondCollection(k, rnd) {
  const c = 'second';
  await k.createCollection({ name: c, dim: 3, index: 'ivf' });
  const v = () => Float32Array.from({ length: 3 }, () => (rnd(2001) - 1000) / 100);
  const ids = [];
  for (let i = 0; i < 400; i++) ids.push((await k.insert(c, v(), BigInt(rnd(3)))).ids[0]);
  for (let i = 0; i < 50; i++) await k.deleteRecord(c, ids[rnd(ids.length)]).catch(() => undefined);
  await k.buildIndex(c);
  const hits = [];
  for (let q = 0; q < 10; q++) hits.push((await k.search(c, v(), 5)).map((h) => [h.id, h.score]));
  return { proof: await k.stateProof(c), state: await k.stateProof(), search: hits };
}

/**
 * With payloads (issue 12): cosine and dot collections whose records carry metadata with numbers
 * of every canonical form and text, one record's metadata replaced, then filtered searches both
 * planned exactly (few matches) and walked through HNSW (most records match); the proofs, the
 * hits with their scores and the returned metadata must be the same bits on every target.
 */
async function payloadCollections(rnd) {
  const k = new Kernel({ dim: 4, maxRecords: 20000, maxNodes: 0, maxEdges: 0 });
  const out = {};
  const numbers = [0, -0, 1.0, 0.1, 1e-7, 2.5e300, -123456789012, 9007199254740993, 1 / 3];
  for (const metric of ['cosine', 'dot']) {
    const c = `p-${metric}`;
    await k.createCollection({ name: c, dim: 4, metric, index: 'hnsw', hnswM: 8, hnswEfConstruction: 32 });
    const n = 6000;
    const values = Float32Array.from({ length: n * 4 }, () => (rnd(2001) - 1000) / 100 || 0.5);
    const metadata = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ g: i % 4, x: numbers[i % numbers.length], s: `r${i % 97}`, deep: { k: [i % 5, 'a', true] } }),
    );
    const texts = Array.from({ length: n }, (_, i) => (i % 3 ? null : `text ${i} "quoted"\n`));
    for (let at = 0; at < n; at += 1000) {
      const meta = metadata.slice(at, at + 1000);
      await k.insertBatch(c, values.subarray(at * 4, (at + 1000) * 4), 1000, null, { metadata: meta, texts: texts.slice(at, at + 1000) });
    }
    await k.setRecordMetadata(c, 5, JSON.stringify({ g: 9, x: 0.30000000000000004 }));
    const filters = [
      '{"g": 9}',
      '{"s": {"$in": ["r1", "r2"]}, "deep.k": {"$gte": 3}}',
      '{"g": {"$ne": 0}}',
      '{"$or": [{"x": {"$lt": 0}}, {"deep.k": "a"}], "$not": {"g": 3}}',
    ];
    const hits = [];
    for (let q = 0; q < 6; q++) {
      const query = Float32Array.from({ length: 4 }, () => (rnd(2001) - 1000) / 100 || 1);
      for (const filter of filters) {
        const found = await k.search(c, query, 5, { ef: 16, filter, withMetadata: true, withText: true });
        hits.push(found.map((h) => [h.id, h.score, h.metadata ?? null, h.text ?? null]));
      }
    }
    out[metric] = { proof: await k.stateProof(c), record: k.getRecord(c, 5).metadata, search: hits };
  }
  out.state = await k.stateProof();
  k.close();
  return out;
}

async function main() {
  const result = { arch: process.arch, node: process.version };
  const options = { dim: DIM, maxRecords: 5000, maxNodes: 5000, maxEdges: 5000 };
  const kinds = [
    ['brute', { index: 'brute', quant: 'none' }],
    ['hnsw', { index: 'hnsw', quant: 'none' }],
    ['brute-sq8', { index: 'brute', quant: 'scalar' }],
  ];
  for (const [name, extra] of kinds) {
    const k = new Kernel({ ...options, ...extra });
    const a = api(k);
    const rnd = rng(0x9e3779b9);
    const vec = await workload(a, rnd);
    await a.buildIndex();
    const s = k.stats();
    // Which distance kernel ran differs per CPU by design; it is reported, not compared.
    result.simd = s.simd;
    result[name] = {
      proof: await k.stateProof(),
      records: { live: s.records.live, used: s.records.used, slots: s.records.slots },
      nodes: { live: s.nodes.live, slots: s.nodes.slots },
      edges: { live: s.edges.live, slots: s.edges.slots },
      search: await searches(a, vec, 20),
    };
    if (typeof k.createCollection === 'function') result[name].second = await secondCollection(k, rnd);
    k.close();
  }
  if (typeof Kernel.prototype.setRecordMetadata === 'function') result.payload = await payloadCollections(rng(0x85ebca6b));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e) => {
  console.error(`platform scenario failed: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
