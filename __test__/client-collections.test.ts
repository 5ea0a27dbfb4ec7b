// The TypeScript client's collection support against a fake server (client-fake-server.ts):
// /v1/namespaces methods, `collection` on data calls, and the Idempotency-Key every data write
// carries. The retry of a write whose answer was lost, against the real server, is in
// idempotency-http.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ValoriClient } from '../src/client';
import { FAST, type Fake, fakeServer, routes } from './client-fake-server';

describe('client collections and idempotency keys', () => {
  let fake: Fake;
  let client: ValoriClient;
  before(async () => {
    fake = await fakeServer();
    client = new ValoriClient({ baseUrl: fake.url, token: 'secret', ...FAST });
  });
  after(() => fake.close());

  it('when collection methods are called, then they use /v1/namespaces and map the answers to camelCase', async () => {
    const listed = { name: 'docs', id: 1, dimension: 3, metric: 'squared_l2', index: 'hnsw', quant: 'none', record_count: 2, max_records: null };
    fake.handle(
      routes({
        'POST /v1/namespaces': [200, { name: 'docs', id: 1, created: true, deduplicated: false }],
        'GET /v1/namespaces': [200, { collections: [listed] }],
        'DELETE /v1/namespaces/docs': [200, { success: true, name: 'docs', deduplicated: false }],
      }),
    );
    assert.deepEqual(await client.createCollection({ name: 'docs', dimension: 3, index: 'hnsw', maxRecords: 10 }), { name: 'docs', id: 1, created: true, deduplicated: false });
    assert.deepEqual(fake.seen[0].json, { name: 'docs', dimension: 3, index: 'hnsw', max_records: 10 });
    assert.deepEqual(await client.listCollections(), [{ name: 'docs', id: 1, dimension: 3, metric: 'squared_l2', index: 'hnsw', quant: 'none', recordCount: 2, maxRecords: null }]);
    await client.dropCollection('docs');
    assert.deepEqual(fake.seen.map((s) => [s.method, s.url, typeof s.headers['idempotency-key']]), [
      ['POST', '/v1/namespaces', 'string'],
      ['GET', '/v1/namespaces', 'undefined'],
      ['DELETE', '/v1/namespaces/docs', 'string'],
    ]);
  });

  it('when data calls name a collection, then it goes in the body of POSTs and the query of GETs, and every write carries its own key', async () => {
    fake.handle(
      routes({
        'POST /records': [200, { id: 1 }],
        'POST /search': [200, { results: [] }],
        'POST /v1/vectors/batch_insert': [200, { ids: [2, 3] }],
        'GET /graph/node/4?collection=docs': [200, { kind: 1, record_id: null }],
        'GET /graph/edges/4?collection=docs': [200, { edges: [] }],
        'GET /v1/memory/meta/get?target_id=k&collection=docs': [200, { target_id: 'k', metadata: 1 }],
        'GET /v1/proof/state?collection=docs': [200, { kernel_version: 1, final_state_hash: 'ab'.repeat(32), snapshot_hash: null, wal_hash: null, height: 3, collection: 'docs' }],
      }),
    );
    const c = { collection: 'docs' };
    await client.insert([1, 2], { ...c, tag: 1 });
    await client.search([1, 2], 1, c);
    await client.insertBatch([[1, 2], [3, 4]], c);
    assert.deepEqual(fake.seen.map((s) => s.json), [
      { values: [1, 2], tag: 1, collection: 'docs' },
      { query: [1, 2], k: 1, collection: 'docs' },
      { batch: [[1, 2], [3, 4]], collection: 'docs' },
    ]);
    const keys = fake.seen.map((s) => s.headers['idempotency-key']);
    assert.equal(typeof keys[0], 'string');
    assert.equal(keys[1], undefined, 'a search is no write');
    assert.notEqual(keys[2], keys[0]);
    assert.deepEqual(await client.getNode(4, c), { kind: 1, recordId: null });
    assert.deepEqual(await client.getEdges(4, c), []);
    assert.equal(await client.getMetadata('k', c), 1);
    assert.equal((await client.proofState(c)).collection, 'docs');
  });

  it('when the caller gives its own idempotencyKey, then that key is sent; a malformed one is refused before sending', async () => {
    fake.handle(routes({ 'POST /graph/node': [200, { node_id: 3 }] }));
    const client = new ValoriClient({ baseUrl: fake.url, ...FAST });
    assert.equal(await client.createNode({ kind: 1 }, { collection: 'a', idempotencyKey: 'order-42' }), 3);
    assert.equal(fake.seen[0].headers['idempotency-key'], 'order-42');
    assert.deepEqual(fake.seen[0].json, { kind: 1, collection: 'a' });
    await assert.rejects(client.createNode({ kind: 1 }, { idempotencyKey: 'has space' }), TypeError);
    assert.equal(fake.seen.length, 1);
  });
});
