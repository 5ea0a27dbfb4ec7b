// Capacity (507), /health thresholds, atomicity of batch and upsert, and /health staying
// responsive while long kernel work runs off the JS thread.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, vector, type TestServer } from './helpers';

const servers: TestServer[] = [];
async function server(env: Record<string, string>): Promise<TestServer> {
  const s = await startServer({ VALORI_DIM: '4', ...env });
  servers.push(s);
  return s;
}
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

const post = (s: TestServer, path: string, body: unknown) => request(s.base, path, { body });
const health = (s: TestServer) => request(s.base, '/health');
const hash = async (s: TestServer) => (await request(s.base, '/v1/proof/state')).json.final_state_hash as string;

describe('capacity', () => {
  it('when the record pool is full, then inserts and batches answer 507 CAPACITY_EXCEEDED', async () => {
    const s = await server({ VALORI_MAX_RECORDS: '3' });
    const first = await post(s, '/v1/vectors/batch_insert', { batch: [vector(4, 1), vector(4, 2)] });
    assert.equal(first.status, 200);
    const overflow = await post(s, '/v1/memory/insert_batch', { batch: [vector(4, 3), vector(4, 4)] });
    assert.equal(overflow.status, 507);
    assert.ok(isErrorEnvelope(overflow.json, 'CAPACITY_EXCEEDED'));
    assert.equal(s.kernel.stats().records.used, 2, 'an overflowing batch inserts none');
    assert.equal((await post(s, '/records', { values: vector(4, 5) })).status, 200);
    const full = await post(s, '/records', { values: vector(4, 6) });
    assert.equal(full.status, 507);
    assert.ok(isErrorEnvelope(full.json, 'CAPACITY_EXCEEDED'));
    assert.match(full.json.error, /capacity|full|limit/i, 'the kernel message reaches the client');
    assert.equal((await post(s, '/v1/memory/upsert_vector', { vector: vector(4, 7) })).status, 507);
  });

  it('when the node or edge pool is full, then node and edge creation answer 507', async () => {
    const s = await server({ VALORI_MAX_NODES: '2', VALORI_MAX_EDGES: '1' });
    const a = (await post(s, '/graph/node', { kind: 0 })).json.node_id;
    const b = (await post(s, '/graph/node', { kind: 0 })).json.node_id;
    const n = await post(s, '/graph/node', { kind: 0 });
    assert.equal(n.status, 507);
    assert.ok(isErrorEnvelope(n.json, 'CAPACITY_EXCEEDED'));
    assert.equal((await post(s, '/graph/edge', { from: a, to: b, kind: 1 })).status, 200);
    const e = await post(s, '/graph/edge', { from: b, to: a, kind: 1 });
    assert.equal(e.status, 507);
    assert.ok(isErrorEnvelope(e.json, 'CAPACITY_EXCEEDED'));
  });

  it('when VALORI_MAX_NODES=0, then /health stays "ok" and node creation is always 507', async () => {
    const s = await server({ VALORI_MAX_NODES: '0', VALORI_MAX_EDGES: '0' });
    const h = await health(s);
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'ok');
    assert.deepEqual(h.json.nodes, { live: 0, slots_used: 0, capacity: 0, fill_pct: 0 });
    assert.equal((await post(s, '/graph/node', { kind: 1 })).status, 507);
    assert.equal((await health(s)).json.status, 'ok');
  });
});

describe('/health thresholds', () => {
  it('when a pool reaches 90 %, then "degraded" (200); at 100 %, then "full" (503)', async () => {
    const s = await server({ VALORI_MAX_RECORDS: '10' });
    await post(s, '/v1/vectors/batch_insert', { batch: Array.from({ length: 8 }, (_, i) => vector(4, i)) });
    let h = await health(s);
    assert.deepEqual([h.status, h.json.status, h.json.records.fill_pct], [200, 'ok', 80]);
    await post(s, '/records', { values: vector(4, 100) });
    h = await health(s);
    assert.deepEqual([h.status, h.json.status, h.json.records.fill_pct], [200, 'degraded', 90]);
    await post(s, '/records', { values: vector(4, 101) });
    h = await health(s);
    assert.deepEqual([h.status, h.json.status, h.json.records.fill_pct], [503, 'full', 100]);
    assert.equal(h.json.version, '0.1.0', 'a full node still returns the health body, not an error envelope');
  });

  it('when soft-deleted records hold slots, then they still count toward fill; hard delete frees them', async () => {
    const s = await server({ VALORI_MAX_RECORDS: '2' });
    await post(s, '/records', { values: vector(4, 1) });
    await post(s, '/records', { values: vector(4, 2) });
    await post(s, '/v1/soft-delete', { id: 0 });
    const h = await health(s);
    assert.deepEqual([h.status, h.json.status, h.json.records.live, h.json.records.slots_used], [503, 'full', 1, 2]);
    await post(s, '/v1/delete', { id: 0 });
    const freed = await health(s);
    assert.deepEqual([freed.status, freed.json.status, freed.json.records.slots_used], [200, 'ok', 1]);
  });

  it('when the node pool alone is full, then /health is "full" with fill_pct rounded to one decimal', async () => {
    const s = await server({ VALORI_MAX_NODES: '1', VALORI_MAX_EDGES: '3' });
    await post(s, '/graph/node', { kind: 1 });
    const h = await health(s);
    assert.deepEqual([h.status, h.json.status, h.json.nodes.fill_pct], [503, 'full', 100]);
    const s2 = await server({ VALORI_MAX_RECORDS: '3' });
    await post(s2, '/records', { values: vector(4, 1) });
    assert.equal((await health(s2)).json.records.fill_pct, 33.3);
  });
});

describe('atomicity', () => {
  it('when a batch holds one bad vector, then it inserts none (stats and hash unchanged)', async () => {
    const s = await server({});
    await post(s, '/records', { values: vector(4, 1) });
    const before = { stats: s.kernel.stats().records, hash: await hash(s) };
    const bad = [
      [vector(4, 2), vector(4, 3), [1, 2, 3]],
      [vector(4, 2), [1, 'x', 3, 4]],
      [vector(4, 2), [1, 2, 3, 1e39]],
      [vector(4, 2), []],
    ];
    for (const batch of bad) {
      const r = await post(s, '/v1/vectors/batch_insert', { batch });
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.match(r.json.error, /batch\[\d\]/);
    }
    assert.deepEqual(s.kernel.stats().records, before.stats);
    assert.equal(await hash(s), before.hash);
    const ok = await post(s, '/v1/vectors/batch_insert', { batch: [vector(4, 2)] });
    assert.deepEqual(ok.json, { ids: [1] }, 'ids continue where they were: nothing was allocated');
  });

  it('when node capacity cannot hold an upsert, then 507 and no record, node or edge is left behind', async () => {
    const s = await server({ VALORI_MAX_NODES: '1' });
    const before = { stats: s.kernel.stats(), hash: await hash(s) };
    const r = await post(s, '/v1/memory/upsert_vector', { vector: vector(4, 1), metadata: { a: 1 } });
    assert.equal(r.status, 507);
    assert.ok(isErrorEnvelope(r.json, 'CAPACITY_EXCEEDED'));
    const after = s.kernel.stats();
    assert.deepEqual([after.records, after.nodes, after.edges], [before.stats.records, before.stats.nodes, before.stats.edges]);
    assert.equal(await hash(s), before.hash);
    assert.equal((await request(s.base, '/v1/memory/meta/get?target_id=rec:0')).json.metadata, null);
  });

  it('when edge capacity cannot hold an upsert that attaches to a document, then 507 and nothing changes', async () => {
    const s = await server({ VALORI_MAX_EDGES: '0' });
    const doc = (await post(s, '/graph/node', { kind: 5 })).json.node_id;
    const before = await hash(s);
    const r = await post(s, '/v1/memory/upsert_vector', { vector: vector(4, 1), attach_to_document_node: doc });
    assert.equal(r.status, 507);
    assert.equal(await hash(s), before);
    assert.equal(s.kernel.stats().records.used, 0);
  });
});

describe('responsiveness', () => {
  const DIM = 512;
  const ROWS = 50_000;

  async function loaded(): Promise<TestServer> {
    const s = await server({ VALORI_DIM: String(DIM), VALORI_MAX_RECORDS: String(2 * ROWS) });
    // Loaded through the wrapper in chunks: the point is a big store, not a big HTTP body.
    for (let start = 0; start < ROWS; start += 5_000) {
      await s.kernel.insertBatch('default', Array.from({ length: 5_000 }, (_, i) => vector(DIM, start + i)));
    }
    return s;
  }

  it('when many long searches are running, then /health answers before they all finish', async () => {
    const s = await loaded();
    const total = 64;
    let finished = 0;
    const searches = Array.from({ length: total }, (_, i) =>
      request(s.base, '/search', { body: { query: vector(DIM, 1_000_000 + i), k: 10 } }).then((r) => {
        assert.equal(r.status, 200);
        finished++;
      }),
    );
    const h = await health(s);
    const finishedWhenHealthy = finished;
    await Promise.all(searches);
    assert.equal(h.status, 200);
    assert.equal(h.json.records.live, ROWS);
    assert.ok(finishedWhenHealthy < total, `health answered after ${finishedWhenHealthy}/${total} searches`);
  });

  it('when a large batch insert is running, then /health answers before it resolves', async () => {
    const s = await loaded();
    let resolved = false;
    const batch = s.kernel.insertBatch('default', Array.from({ length: 20_000 }, (_, i) => vector(DIM, 2_000_000 + i))).then((r) => {
      resolved = true;
      return r.ids;
    });
    const h = await health(s);
    const resolvedWhenHealthy = resolved;
    const ids = await batch;
    assert.equal(h.status, 200);
    assert.equal(ids.length, 20_000);
    assert.equal(resolvedWhenHealthy, false);
  });
});
