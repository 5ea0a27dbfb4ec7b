// Every route's success path, through the real app on 127.0.0.1:0.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';

describe('HTTP routes (auth off)', () => {
  let s: TestServer;
  const post = (path: string, body: unknown) => request(s.base, path, { body });
  const get = (path: string) => request(s.base, path);

  before(async () => {
    s = await startServer({ VALORI_DIM: '4' });
  });
  after(() => s.stop());

  it('when GET /health on a fresh node, then 200 with the guide keys in order', async () => {
    const r = await get('/health');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json), ['status', 'version', 'dim', 'index', 'persistence', 'records', 'nodes', 'edges', 'read_only', 'quant', 'collections']);
    assert.equal(r.json.collections, 1);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.version, '0.1.0');
    assert.equal(r.json.dim, 4);
    assert.equal(r.json.index, 'BruteForce');
    assert.equal(r.json.persistence, 'none');
    assert.deepEqual(r.json.records, { live: 0, slots_used: 0, capacity: 1024, fill_pct: 0 });
    assert.deepEqual(Object.keys(r.json.nodes), ['live', 'slots_used', 'capacity', 'fill_pct']);
    assert.equal(r.json.edges.capacity, 2048);
    assert.equal('event_log_height' in r.json, false);
  });

  it('when GET /version, then text/plain 0.1.0', async () => {
    const r = await get('/version');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(r.text, '0.1.0');
  });

  it('when records are inserted, then ids are sequential and search returns them by distance', async () => {
    const a = await post('/records', { values: [0, 0, 0, 0] });
    const b = await post('/records', { values: [1, 0, 0, 0], tag: 5 });
    const c = await post('/records', { values: [3, 0, 0, 0] });
    assert.equal(a.status, 200);
    assert.deepEqual([a.json, b.json, c.json], [{ id: 0 }, { id: 1 }, { id: 2 }]);
    const r = await post('/search', { query: [0.9, 0, 0, 0], k: 2 });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.results.map((h: { id: number }) => h.id), [1, 0]);
    assert.deepEqual(Object.keys(r.json.results[0]), ['id', 'score']);
    assert.ok(Math.abs(r.json.results[0].score - 0.01) < 1e-4);
  });

  it('when search has filter_tag, then only records with that tag come back', async () => {
    const r = await post('/search', { query: [0, 0, 0, 0], k: 10, filter_tag: 5 });
    assert.deepEqual(r.json.results.map((h: { id: number }) => h.id), [1]);
  });

  it('when search sends ef and nprobe, then they are accepted', async () => {
    const r = await post('/search', { query: [0, 0, 0, 0], k: 1, ef: 32, nprobe: 2 });
    assert.equal(r.status, 200);
    assert.equal(r.json.results.length, 1);
  });

  it('when a batch is inserted on either batch route, then both return contiguous ids', async () => {
    const r1 = await post('/v1/vectors/batch_insert', { batch: [[5, 5, 5, 5], [6, 6, 6, 6]] });
    assert.equal(r1.status, 200);
    assert.equal(r1.json.ids.length, 2);
    assert.equal(r1.json.ids[1], r1.json.ids[0] + 1);
    const r2 = await post('/v1/memory/insert_batch', { batch: [[7, 7, 7, 7]] });
    assert.equal(r2.status, 200);
    assert.deepEqual(r2.json, { ids: [r1.json.ids[1] + 1] });
  });

  it('when the batch is empty, then ids is empty', async () => {
    const r = await post('/v1/vectors/batch_insert', { batch: [] });
    assert.deepEqual([r.status, r.json], [200, { ids: [] }]);
  });

  it('when a record is soft-deleted, then search no longer returns it but it still holds a slot', async () => {
    const { json } = await post('/records', { values: [9, 9, 9, 9] });
    const before = (await get('/health')).json.records;
    const r = await post('/v1/soft-delete', { id: json.id });
    assert.deepEqual([r.status, r.json], [200, { success: true }]);
    const hits = (await post('/search', { query: [9, 9, 9, 9], k: 1 })).json.results;
    assert.notEqual(hits[0]?.id, json.id);
    const after = (await get('/health')).json.records;
    assert.equal(after.live, before.live - 1);
    assert.equal(after.slots_used, before.slots_used);
  });

  it('when a record is hard-deleted, then it is gone from search and its slot is freed', async () => {
    const { json } = await post('/records', { values: [8, 8, 8, 8] });
    const before = (await get('/health')).json.records;
    const r = await post('/v1/delete', { id: json.id });
    assert.deepEqual([r.status, r.json], [200, { success: true }]);
    const hits = (await post('/search', { query: [8, 8, 8, 8], k: 1 })).json.results;
    assert.notEqual(hits[0]?.id, json.id);
    assert.equal((await get('/health')).json.records.slots_used, before.slots_used - 1);
    assert.equal((await post('/v1/delete', { id: json.id })).status, 404);
  });

  it('when graph nodes and edges are created, then they read back (edges newest first)', async () => {
    const n0 = await post('/graph/node', { kind: 5, record_id: 0 });
    const n1 = await post('/graph/node', { kind: 6 });
    const n2 = await post('/graph/node', { kind: 1, record_id: null });
    assert.equal(n0.status, 200);
    const [a, b, c] = [n0.json.node_id, n1.json.node_id, n2.json.node_id];
    assert.deepEqual((await get(`/graph/node/${a}`)).json, { kind: 5, record_id: 0 });
    assert.deepEqual((await get(`/graph/node/${b}`)).json, { kind: 6, record_id: null });
    const e1 = await post('/graph/edge', { from: a, to: b, kind: 6 });
    const e2 = await post('/graph/edge', { from: a, to: c, kind: 4 });
    assert.equal(e1.status, 200);
    const edges = await get(`/graph/edges/${a}`);
    assert.deepEqual(edges.json, {
      edges: [
        { edge_id: e2.json.edge_id, to_node: c, kind: 4 },
        { edge_id: e1.json.edge_id, to_node: b, kind: 6 },
      ],
    });
    assert.deepEqual((await get(`/graph/edges/${b}`)).json, { edges: [] });
  });

  it('when a memory is upserted with metadata, then search_vector returns it with memory_id and metadata', async () => {
    const up = await post('/v1/memory/upsert_vector', { vector: [0.25, -0.5, 0.75, 100], tags: ['a'], metadata: { title: 'doc' } });
    assert.equal(up.status, 200);
    assert.deepEqual(Object.keys(up.json), ['memory_id', 'record_id', 'document_node_id', 'chunk_node_id']);
    assert.equal(up.json.memory_id, `rec:${up.json.record_id}`);
    const chunk = await get(`/graph/node/${up.json.chunk_node_id}`);
    assert.equal(chunk.json.record_id, up.json.record_id);
    const attached = await post('/v1/memory/upsert_vector', { vector: [0.25, -0.5, 0.75, 101], attach_to_document_node: up.json.document_node_id });
    assert.equal(attached.json.document_node_id, up.json.document_node_id);
    const r = await post('/v1/memory/search_vector', { query_vector: [0.25, -0.5, 0.75, 100], k: 2 });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.results[0], { memory_id: up.json.memory_id, record_id: up.json.record_id, score: 0, metadata: { title: 'doc' } });
    assert.equal(r.json.results[1].metadata, null);
  });

  it('when a record with metadata and graph links is hard-deleted, then its nodes, edges and metadata go too', async () => {
    const up = await post('/v1/memory/upsert_vector', { vector: [7, 7, 7, 0], metadata: { gone: true } });
    const { record_id: rec, chunk_node_id: chunk, document_node_id: doc } = up.json;
    assert.equal((await post('/v1/delete', { id: rec })).status, 200);
    assert.equal((await get(`/graph/node/${chunk}`)).status, 404);
    assert.deepEqual((await get(`/graph/edges/${doc}`)).json, { edges: [] });
    assert.equal((await get(`/v1/memory/meta/get?target_id=rec:${rec}`)).json.metadata, null);
  });

  it('when metadata is set, then meta/get returns it; an unset key returns null (never 404)', async () => {
    const set = await post('/v1/memory/meta/set', { target_id: 'node:1', metadata: { n: [1, 2], s: 'x' } });
    assert.deepEqual([set.status, set.json], [200, { success: true }]);
    const got = await get('/v1/memory/meta/get?target_id=node%3A1');
    assert.deepEqual(got.json, { target_id: 'node:1', metadata: { n: [1, 2], s: 'x' } });
    const none = await get('/v1/memory/meta/get?target_id=never-set');
    assert.deepEqual([none.status, none.json], [200, { target_id: 'never-set', metadata: null }]);
  });

  it('when GET /v1/proof/state, then lowercase hex hashes that change with state, and the proof counter grows', async () => {
    const p1 = await get('/v1/proof/state');
    assert.equal(p1.status, 200);
    // `height`: the height the hash was taken at, so replicas compare equal heights.
    assert.deepEqual(Object.keys(p1.json), ['kernel_version', 'snapshot_hash', 'wal_hash', 'final_state_hash', 'height']);
    assert.equal(p1.json.kernel_version, 1);
    assert.equal(p1.json.snapshot_hash, null);
    assert.equal(p1.json.wal_hash, null);
    assert.match(p1.json.final_state_hash, /^[0-9a-f]{64}$/);
    assert.equal((await get('/v1/proof/state')).json.final_state_hash, p1.json.final_state_hash);
    await post('/records', { values: [4, 4, 4, 4] });
    assert.notEqual((await get('/v1/proof/state')).json.final_state_hash, p1.json.final_state_hash);
    const metrics = (await get('/metrics')).text;
    assert.match(metrics, /^valori_proofs_generated_total 3$/m);
  });

  it('when GET /metrics, then Prometheus text with the kernel gauges and request histogram', async () => {
    const r = await get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const health = (await get('/health')).json;
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(r.text)?.[1]);
    assert.equal(value('valori_records_live'), health.records.live);
    assert.equal(value('valori_records_capacity'), 1024);
    assert.equal(value('valori_records_used'), health.records.slots_used);
    assert.equal(value('valori_record_fill_ratio'), health.records.slots_used / 1024);
    assert.equal(value('valori_graph_nodes_capacity'), 1024);
    assert.equal(value('valori_graph_edges_capacity'), 2048);
    assert.ok(value('valori_graph_nodes_live') >= 3);
    assert.ok(value('valori_graph_nodes_fill_ratio') > 0);
    assert.ok(value('valori_graph_edges_live') >= 2);
    assert.ok(value('valori_graph_edges_fill_ratio') > 0);
    assert.equal(value('valori_dim'), 4);
    assert.equal(value('valori_node_up'), 1);
    assert.match(r.text, /valori_http_request_duration_seconds_count\{method="POST",route="\/records",status="200"\} \d+/);
    assert.match(r.text, /^process_cpu_user_seconds_total /m);
  });

  it('when a request carries X-Request-Id, then it is echoed; otherwise one is generated', async () => {
    const mine = await request(s.base, '/health', { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(mine.headers.get('x-request-id'), 'abc-123');
    const generated = await get('/health');
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('when HEAD /health, then 200 without a body', async () => {
    const r = await request(s.base, '/health', { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
  });
});
