// Collections over HTTP: create/list/drop on /v1/namespaces, `collection` on every
// v0.1.0 data route, isolation between collections (search, counts, graph, metadata, hash), and
// bad input that answers 4xx naming the problem while the height stays where it was.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

describe('collections over HTTP', () => {
  let s: TestServer;
  let dir: string;
  const post = (path: string, body: unknown) => request(s.base, path, { body });
  const get = (path: string) => request(s.base, path);
  const height = async (): Promise<number> => (await get('/health')).json.event_log_height as number;
  const hashOf = async (collection?: string): Promise<string> => {
    const r = await get(collection === undefined ? '/v1/proof/state' : `/v1/proof/state?collection=${collection}`);
    assert.equal(r.status, 200, r.text);
    return r.json.final_state_hash as string;
  };
  /** Sends a request that must be refused, and checks it changed nothing. */
  const refused = async (what: string, send: () => Promise<{ status: number; json: any; text: string }>, status: number, code: string, says: RegExp) => {
    const before = await height();
    const hash = await hashOf();
    const r = await send();
    assert.equal(r.status, status, `${what}: ${r.text}`);
    assert.ok(isErrorEnvelope(r.json, code), `${what}: ${r.text}`);
    assert.match(r.json.error, says, what);
    assert.equal(await height(), before, `${what} changed the height`);
    assert.equal(await hashOf(), hash, `${what} changed the state`);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-coll-'));
    s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when collections are created, then they are listed in id order with their settings, and /health counts them', async () => {
    const a = await post('/v1/namespaces', { name: 'a', dimension: 3, metric: 'squared_l2' });
    assert.deepEqual([a.status, a.json], [200, { name: 'a', id: 1, created: true, metric: 'squared_l2' }]);
    const b = await post('/v1/namespaces', { name: 'b', dimension: 3, metric: 'l2', index: 'hnsw', max_records: 5 });
    assert.deepEqual([b.status, b.json], [200, { name: 'b', id: 2, created: true, metric: 'squared_l2' }]);
    const list = await get('/v1/namespaces');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, {
      collections: [
        { name: 'default', id: 0, dimension: 4, metric: 'squared_l2', index: 'brute', quant: 'none', record_count: 0, max_records: null },
        { name: 'a', id: 1, dimension: 3, metric: 'squared_l2', index: 'brute', quant: 'none', record_count: 0, max_records: null },
        { name: 'b', id: 2, dimension: 3, metric: 'squared_l2', index: 'hnsw', quant: 'none', record_count: 0, max_records: 5 },
      ],
    });
    assert.equal((await get('/health')).json.collections, 3);
    // Creating is an event: two so far.
    assert.equal(await height(), 2);
  });

  it('when the same records go to a and b, then ids are equal but distinct, and each search, count and hash sees its own only', async () => {
    const hashA0 = await hashOf('a');
    const a0 = await post('/records', { values: [1, 0, 0], collection: 'a' });
    const a1 = await post('/records', { values: [0, 1, 0], collection: 'a' });
    const hashA = await hashOf('a');
    assert.notEqual(hashA, hashA0, 'writes to a change its own hash');
    const wholeBefore = await hashOf();
    const b0 = await post('/records', { values: [5, 5, 5], collection: 'b' });
    assert.deepEqual([a0.json, a1.json, b0.json], [{ id: 0 }, { id: 1 }, { id: 0 }]);

    // a's hash ignores b's write; the whole state's does not.
    assert.equal(await hashOf('a'), hashA);
    assert.notEqual(await hashOf(), wholeBefore);
    assert.notEqual(await hashOf('b'), hashA);

    const inA = await post('/search', { query: [1, 0, 0], k: 10, collection: 'a' });
    assert.deepEqual(inA.json.results, [{ id: 0, score: 0 }, { id: 1, score: 2 }]);
    // b's record 0 is [5,5,5]: 16 + 25 + 25 away from the query, whatever a's record 0 is.
    const inB = await post('/search', { query: [1, 0, 0], k: 10, collection: 'b' });
    assert.deepEqual(inB.json.results, [{ id: 0, score: 66 }]);
    const inDefault = await post('/search', { query: [1, 0, 0, 0], k: 10 });
    assert.deepEqual(inDefault.json.results, []);

    const counts = Object.fromEntries((await get('/v1/namespaces')).json.collections.map((c: { name: string; record_count: number }) => [c.name, c.record_count]));
    assert.deepEqual(counts, { default: 0, a: 2, b: 1 });
    // /health keeps its v0.1.0 meaning: the node's records, all collections together.
    assert.equal((await get('/health')).json.records.live, 3);

    // Deleting a's record 0 leaves b's record 0 alone.
    assert.equal((await post('/v1/delete', { id: 0, collection: 'a' })).status, 200);
    assert.deepEqual((await post('/search', { query: [5, 5, 5], k: 10, collection: 'b' })).json.results, [{ id: 0, score: 0 }]);
    assert.deepEqual((await post('/search', { query: [1, 0, 0], k: 10, collection: 'a' })).json.results, [{ id: 1, score: 2 }]);
  });

  it('when graph nodes and edges are made in a, then b has its own node ids and sees none of them', async () => {
    const n0 = await post('/graph/node', { kind: 1, collection: 'a' });
    const n1 = await post('/graph/node', { kind: 2, record_id: 1, collection: 'a' });
    const m0 = await post('/graph/node', { kind: 3, collection: 'b' });
    assert.deepEqual([n0.json, n1.json, m0.json], [{ node_id: 0 }, { node_id: 1 }, { node_id: 0 }]);
    const e = await post('/graph/edge', { from: 0, to: 1, kind: 4, collection: 'a' });
    assert.deepEqual(e.json, { edge_id: 0 });

    assert.deepEqual((await get('/graph/node/1?collection=a')).json, { kind: 2, record_id: 1 });
    assert.deepEqual((await get('/graph/node/0?collection=b')).json, { kind: 3, record_id: null });
    assert.deepEqual((await get('/graph/edges/0?collection=a')).json, { edges: [{ edge_id: 0, to_node: 1, kind: 4 }] });
    assert.deepEqual((await get('/graph/edges/0?collection=b')).json, { edges: [] });
    const missing = await get('/graph/node/1?collection=b');
    assert.equal(missing.status, 404);
    assert.ok(isErrorEnvelope(missing.json, 'NOT_FOUND'), missing.text);
    // The default collection's graph is untouched.
    assert.equal((await get('/graph/node/0')).status, 404);
  });

  it('when memory and metadata are written in a, then they are read back in a and absent from default', async () => {
    const up = await post('/v1/memory/upsert_vector', { vector: [0, 0, 1], metadata: { note: 'in a' }, collection: 'a' });
    assert.equal(up.status, 200, up.text);
    const id = up.json.record_id as number;
    assert.equal(id, 2);
    const inA = await get(`/v1/memory/meta/get?target_id=rec:${id}&collection=a`);
    assert.deepEqual(inA.json, { target_id: `rec:${id}`, metadata: { note: 'in a' } });
    assert.deepEqual((await get(`/v1/memory/meta/get?target_id=rec:${id}`)).json, { target_id: `rec:${id}`, metadata: null });
    assert.equal((await post('/v1/memory/meta/set', { target_id: 'k', metadata: 1, collection: 'b' })).status, 200);
    assert.deepEqual((await get('/v1/memory/meta/get?target_id=k&collection=a')).json.metadata, null);
    assert.deepEqual((await get('/v1/memory/meta/get?target_id=k&collection=b')).json.metadata, 1);
    const hits = await post('/v1/memory/search_vector', { query_vector: [0, 0, 1], k: 1, collection: 'a' });
    assert.deepEqual(hits.json.results, [{ memory_id: `rec:${id}`, record_id: id, score: 0, metadata: { note: 'in a' } }]);
  });

  it('when requests are bad, then each answers 4xx naming the problem and nothing changes', async () => {
    for (const name of ['', '-a', '_a', 'x'.repeat(65), 'a b', 'é', 'a/b']) {
      await refused(`name ${JSON.stringify(name)}`, () => post('/v1/namespaces', { name, dimension: 3 }), 400, 'INVALID_ARGUMENT', /collection name/);
    }
    await refused('duplicate name', () => post('/v1/namespaces', { name: 'a', dimension: 8 }), 409, 'COLLECTION_EXISTS', /"?a"?/);
    // Unset VALORI_MAX_DIM: 4096 (VALORI_DIM is 4), which also bounds the derived snapshot size.
    await refused('dimension above VALORI_MAX_DIM', () => post('/v1/namespaces', { name: 'wide', dimension: 4097 }), 400, 'INVALID_REQUEST', /VALORI_MAX_DIM \(4096\)/);
    await refused('metric manhattan', () => post('/v1/namespaces', { name: 'c', dimension: 3, metric: 'manhattan' }), 400, 'INVALID_ARGUMENT', /"manhattan".*l2.*cosine.*dot/);
    await refused('unknown collection insert', () => post('/records', { values: [1, 2, 3], collection: 'nope' }), 404, 'COLLECTION_NOT_FOUND', /nope/);
    await refused('unknown collection batch', () => post('/v1/vectors/batch_insert', { batch: [[1, 2, 3]], collection: 'nope' }), 404, 'COLLECTION_NOT_FOUND', /nope/);
    await refused('unknown collection search', () => post('/search', { query: [1, 2, 3], k: 1, collection: 'nope' }), 404, 'COLLECTION_NOT_FOUND', /nope/);
    await refused('unknown collection node', () => post('/graph/node', { kind: 1, collection: 'nope' }), 404, 'COLLECTION_NOT_FOUND', /nope/);
    await refused('unknown collection get', () => get('/graph/node/0?collection=nope'), 404, 'COLLECTION_NOT_FOUND', /nope/);
    await refused('unknown collection meta', () => get('/v1/memory/meta/get?target_id=k&collection=nope'), 404, 'COLLECTION_NOT_FOUND', /nope/);
    await refused('bad collection field', () => post('/records', { values: [1, 2, 3], collection: 'a b' }), 400, 'INVALID_REQUEST', /collection/);
    await refused("a vector of default's dimension in a", () => post('/records', { values: [1, 2, 3, 4], collection: 'a' }), 400, 'DIMENSION_MISMATCH', /expected 3, got 4/);
    await refused("a vector of a's dimension in default", () => post('/records', { values: [1, 2, 3] }), 400, 'DIMENSION_MISMATCH', /expected 4, got 3/);
    await refused('dropping default', () => request(s.base, '/v1/namespaces/default', { method: 'DELETE' }), 409, 'COLLECTION_PROTECTED', /default/);
    await refused('dropping an unknown collection', () => request(s.base, '/v1/namespaces/nope', { method: 'DELETE' }), 404, 'COLLECTION_NOT_FOUND', /nope/);
    // Node and edge ids are per collection: b has node 0 only, so an edge to a's node 1 names nothing in b.
    await refused('an edge to a node of another collection', () => post('/graph/edge', { from: 0, to: 1, kind: 0, collection: 'b' }), 404, 'NOT_FOUND', /1/);
    await refused('a node linked to a record of another collection', () => post('/graph/node', { kind: 0, record_id: 1, collection: 'b' }), 404, 'NOT_FOUND', /1/);
    // b holds at most 5 records.
    await refused("over b's max_records", () => post('/v1/vectors/batch_insert', { batch: [[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4], [5, 5, 5]], collection: 'b' }), 507, 'CAPACITY_EXCEEDED', /b/);
  });

  it("when a collection's index is built, then it answers for that collection; an unknown one is 404", async () => {
    const r = await post('/v1/index/build', { collection: 'b' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.index, 'hnsw');
    assert.equal(r.json.records, 1);
    const unknown = await post('/v1/index/build', { collection: 'nope' });
    assert.equal(unknown.status, 404);
    assert.ok(isErrorEnvelope(unknown.json, 'COLLECTION_NOT_FOUND'));
  });

  it('when /metrics is scraped, then each collection has its record gauges, and a dropped one loses its series', async () => {
    const before = (await get('/metrics')).text;
    assert.match(before, /^valori_collection_records_live\{collection="a"\} 2$/m);
    assert.match(before, /^valori_collection_records_live\{collection="b"\} 1$/m);
    assert.match(before, /^valori_collection_records_capacity\{collection="b"\} 5$/m);
    assert.match(before, /^valori_collection_record_fill_ratio\{collection="b"\} 0\.2$/m);

    const drop = await request(s.base, '/v1/namespaces/b', { method: 'DELETE' });
    assert.deepEqual([drop.status, drop.json], [200, { success: true, name: 'b' }]);
    const after = (await get('/metrics')).text;
    assert.doesNotMatch(after, /collection="b"/);
    assert.match(after, /^valori_collection_records_live\{collection="a"\} 2$/m);
  });

  it('when a dropped name is created again with another dimension, then it is a new empty collection with a new id', async () => {
    await refused('insert into the dropped b', () => post('/records', { values: [1, 1, 1], collection: 'b' }), 404, 'COLLECTION_NOT_FOUND', /b/);
    const again = await post('/v1/namespaces', { name: 'b', dimension: 2 });
    assert.deepEqual(again.json, { name: 'b', id: 3, created: true, metric: 'squared_l2' });
    const r = await post('/records', { values: [1, 2], collection: 'b' });
    assert.deepEqual([r.status, r.json], [200, { id: 0 }]);
    assert.deepEqual((await post('/search', { query: [1, 2], k: 5, collection: 'b' })).json.results, [{ id: 0, score: 0 }]);
    assert.equal((await get('/graph/node/0?collection=b')).status, 404);
    assert.deepEqual((await get('/v1/namespaces')).json.collections.map((c: { name: string; id: number }) => [c.name, c.id]), [['default', 0], ['a', 1], ['b', 3]]);
  });

  it("when a component nears the range bound, then the collection's own dimension sets it (±13377.47998046875 at dim 3, ±11585.24 at dim 4)", async () => {
    // floor(sqrt((2^63 - 1) / (4 x 3))) / 2^16, worked out by hand from the kernel's rule.
    assert.equal((await post('/records', { values: [13_377.4, 0, 0], collection: 'a' })).status, 200);
    await refused('over the dim-3 bound', () => post('/records', { values: [13_377.6, 0, 0], collection: 'a' }), 400, 'INVALID_VECTOR', /±13377\.47998046875 at dim 3/);
    // At dim 4 (default) the same value is out of range.
    await refused('over the dim-4 bound', () => post('/records', { values: [13_377.4, 0, 0, 0] }), 400, 'INVALID_VECTOR', /±11585\.237487792969 at dim 4/);
  });
});

describe('node-wide limits across collections', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '2', VALORI_MAX_RECORDS: '3' });
  });
  after(() => s.stop());

  it('when one collection fills VALORI_MAX_RECORDS, then every collection answers 507, and dropping it frees the slots', async () => {
    assert.equal((await request(s.base, '/v1/namespaces', { body: { name: 'x', dimension: 2 } })).status, 200);
    assert.deepEqual((await request(s.base, '/v1/vectors/batch_insert', { body: { batch: [[1, 1], [2, 2], [3, 3]], collection: 'x' } })).json, { ids: [0, 1, 2] });
    const full = await request(s.base, '/records', { body: { values: [1, 1] } });
    assert.equal(full.status, 507, full.text);
    assert.ok(isErrorEnvelope(full.json, 'CAPACITY_EXCEEDED'), full.text);
    assert.equal((await request(s.base, '/health')).json.status, 'full');
    assert.equal((await request(s.base, '/v1/namespaces/x', { method: 'DELETE' })).status, 200);
    const r = await request(s.base, '/records', { body: { values: [1, 1] } });
    assert.deepEqual([r.status, r.json], [200, { id: 0 }]);
    assert.equal((await request(s.base, '/health')).json.records.live, 1);
  });
});
