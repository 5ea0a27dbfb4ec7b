// The TypeScript client against a fake server (client-fake-server.ts): request shapes, response
// mapping and errors. Retries, redirects and timeouts are in client-transport.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodeKind, VALORI_SERVER_ERROR_CODES, ValoriClient, ValoriError } from '../src/client';
import { STATUS_BY_CODE } from '../src/http/errors';
import { FAST, type Fake, fakeServer, routes, send } from './client-fake-server';

describe('client request shapes and response mapping', () => {
  let fake: Fake;
  let client: ValoriClient;
  before(async () => {
    fake = await fakeServer();
    client = new ValoriClient({ baseUrl: fake.url, token: 'secret', ...FAST });
  });
  after(() => fake.close());

  it('when insert gets a Float32Array and a tag, then it POSTs {values, tag} as JSON with the bearer token and resolves to the id', async () => {
    fake.handle(routes({ 'POST /records': [200, { id: 7 }] }));
    const id = await client.insert(new Float32Array([1, 0.5, -2]), { tag: 3 });
    assert.equal(id, 7);
    const [req] = fake.seen;
    assert.equal(req.headers.authorization, 'Bearer secret');
    assert.match(req.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(req.json, { values: [1, 0.5, -2], tag: 3 });
  });

  it('when insert gets number[] and no tag, then the body carries no tag key', async () => {
    fake.handle(routes({ 'POST /records': [200, { id: 0 }] }));
    await client.insert([0.25, 4]);
    assert.deepEqual(fake.seen[0].json, { values: [0.25, 4] });
  });

  it('when insertBatch and its deprecated alias insertBatchMemory get mixed vectors, then both POST {batch} to /v1/vectors/batch_insert and resolve to the ids', async () => {
    fake.handle(routes({ 'POST /v1/vectors/batch_insert': [200, { ids: [1, 2] }] }));
    assert.deepEqual(await client.insertBatch([new Float32Array([1, 2]), [3, 4]]), [1, 2]);
    assert.deepEqual(await client.insertBatchMemory([[5, 6], new Float32Array([7, 8])]), [1, 2]);
    assert.deepEqual(fake.seen.map((s) => [s.url, s.json]), [['/v1/vectors/batch_insert', { batch: [[1, 2], [3, 4]] }], ['/v1/vectors/batch_insert', { batch: [[5, 6], [7, 8]] }]]);
  });

  it('when search has options, then they are sent snake_case and hits map to {id, score}', async () => {
    fake.handle(routes({ 'POST /search': [200, { results: [{ id: 2, score: 0 }, { id: 5, score: 1.5 }] }] }));
    const hits = await client.search([1, 0], 2, { filterTag: 9, ef: 64, nprobe: 4 });
    assert.deepEqual(hits, [{ id: 2, score: 0 }, { id: 5, score: 1.5 }]);
    assert.deepEqual(fake.seen[0].json, { query: [1, 0], k: 2, filter_tag: 9, ef: 64, nprobe: 4 });
    await client.search(new Float32Array([1, 0]), 1);
    assert.deepEqual(fake.seen[1].json, { query: [1, 0], k: 1 });
  });

  it('when insert and insertBatch carry metadata and text, then the bodies carry them as given (keys untouched)', async () => {
    fake.handle(routes({ 'POST /records': [200, { id: 4 }], 'POST /v1/vectors/batch_insert': [200, { ids: [5, 6] }] }));
    const metadata = JSON.parse('{"__proto__": {"admin": true}, "source_url": "s", "year": 2024}') as Record<string, never>;
    assert.equal(await client.insert([1, 2], { metadata, text: 'héllo' }), 4);
    assert.equal(fake.seen[0].body.toString('utf8'), '{"values":[1,2],"metadata":{"__proto__":{"admin":true},"source_url":"s","year":2024},"text":"héllo"}');
    assert.deepEqual(await client.insertBatch([[1, 2], [3, 4]], { metadata: [{ a: 1 }, null], texts: [null, 't'] }), [5, 6]);
    assert.deepEqual(fake.seen[1].json, { batch: [[1, 2], [3, 4]], metadata: [{ a: 1 }, null], texts: [null, 't'] });
  });

  it('when search and searchMemory get filter and include, then they send metadata_filter and include and hits carry the payload fields', async () => {
    const metadata = JSON.parse('{"__proto__": {"x": 1}, "author": "Alice"}') as Record<string, never>;
    fake.handle(
      routes({
        'POST /search': [200, { results: [{ id: 2, score: 0.5, metadata, text: 't', vector: [1, 0] }, { id: 3, score: 0.25, metadata: null, text: null, vector: [0, 1] }] }],
        'POST /v1/memory/search_vector': [200, { results: [{ memory_id: 'rec:2', record_id: 2, score: -1, metadata, text: 't' }] }],
      }),
    );
    const filter = { author: 'Alice', year: { $gte: 2020 } };
    const hits = await client.search([1, 0], 2, { filter, include: ['metadata', 'text', 'vector'], collection: 'docs' });
    assert.deepEqual(fake.seen[0].json, { query: [1, 0], k: 2, metadata_filter: filter, include: ['metadata', 'text', 'vector'], collection: 'docs' });
    assert.deepEqual(hits, [{ id: 2, score: 0.5, metadata, text: 't', vector: [1, 0] }, { id: 3, score: 0.25, metadata: null, text: null, vector: [0, 1] }]);
    assert.equal(Object.getPrototypeOf(hits[0].metadata), Object.prototype);
    assert.deepEqual(Object.keys(hits[0].metadata ?? {}), ['__proto__', 'author']);
    const memory = await client.searchMemory([1, 0], 1, { filter, include: ['text'] });
    assert.deepEqual(fake.seen[1].json, { query_vector: [1, 0], k: 1, metadata_filter: filter, include: ['text'] });
    assert.deepEqual(memory, [{ memoryId: 'rec:2', recordId: 2, score: -1, metadata, text: 't' }]);
  });

  it('when a hit carries a payload field of the wrong type, then the call fails with INVALID_RESPONSE', async () => {
    fake.handle(routes({ 'POST /search': [200, { results: [{ id: 2, score: 0.5, metadata: [1] }] }] }));
    await assert.rejects(client.search([1, 0], 1, { include: ['metadata'] }), (e: unknown) => e instanceof ValoriError && e.code === 'INVALID_RESPONSE');
  });

  it('when updateRecordMetadata is called, then it PATCHes the metadata object to /v1/records/:id/metadata with an Idempotency-Key', async () => {
    fake.handle(routes({ 'PATCH /v1/records/7/metadata?collection=docs': [200, { ok: true, id: 7 }], 'PATCH /v1/records/8/metadata': [404, { error: 'record 8 does not exist', code: 'NOT_FOUND' }] }));
    await client.updateRecordMetadata(7, { year: 2025 }, { collection: 'docs' });
    assert.equal(fake.seen[0].method, 'PATCH');
    assert.deepEqual(fake.seen[0].json, { year: 2025 });
    assert.match(String(fake.seen[0].headers['idempotency-key']), /^[\x21-\x7e]+$/);
    await assert.rejects(client.updateRecordMetadata(8, {}), (e: unknown) => e instanceof ValoriError && e.status === 404 && e.code === 'NOT_FOUND');
  });

  it('when delete and softDelete are called, then they POST {id} to /v1/delete and /v1/soft-delete', async () => {
    fake.handle(routes({ 'POST /v1/delete': [200, { success: true }], 'POST /v1/soft-delete': [200, { success: true }] }));
    await client.delete(4);
    await client.softDelete(5);
    assert.deepEqual(fake.seen.map((s) => [s.url, s.json]), [['/v1/delete', { id: 4 }], ['/v1/soft-delete', { id: 5 }]]);
  });

  it('when graph methods are called, then bodies are snake_case and answers map to camelCase', async () => {
    fake.handle(
      routes({
        'POST /graph/node': [200, { node_id: 11 }],
        'GET /graph/node/11': [200, { kind: 5, record_id: null }],
        'GET /graph/node/12': [200, { kind: 6, record_id: 3 }],
        'POST /graph/edge': [200, { edge_id: 2 }],
        'GET /graph/edges/11': [200, { edges: [{ edge_id: 2, to_node: 12, kind: 6 }] }],
      }),
    );
    assert.equal(await client.createNode({ kind: NodeKind.Chunk, recordId: 3 }), 11);
    assert.equal(await client.createNode({ kind: NodeKind.Document }), 11);
    assert.deepEqual(await client.getNode(11), { kind: 5, recordId: null });
    assert.deepEqual(await client.getNode(12), { kind: 6, recordId: 3 });
    assert.equal(await client.createEdge({ from: 11, to: 12, kind: 6 }), 2);
    assert.deepEqual(await client.getEdges(11), [{ edgeId: 2, toNode: 12, kind: 6 }]);
    const bodies = fake.seen.filter((s) => s.method === 'POST').map((s) => s.json);
    assert.deepEqual(bodies, [{ kind: 6, record_id: 3 }, { kind: 5 }, { from: 11, to: 12, kind: 6 }]);
  });

  it('when memory methods are called, then bodies are snake_case and metadata keys are left as stored', async () => {
    const metadata = { source_url: 'https://x', nested: { page_no: 2 } };
    fake.handle(
      routes({
        'POST /v1/memory/upsert_vector': [200, { memory_id: 'rec:5', record_id: 5, document_node_id: 2, chunk_node_id: 3 }],
        'POST /v1/memory/search_vector': [200, { results: [{ memory_id: 'rec:5', record_id: 5, score: 0.25, metadata }, { memory_id: 'rec:0', record_id: 0, score: 1, metadata: null }] }],
        'POST /v1/memory/meta/set': [200, { success: true }],
        'GET /v1/memory/meta/get?target_id=node%3A1': [200, { target_id: 'node:1', metadata }],
        'GET /v1/memory/meta/get?target_id=rec%3A9': [200, { target_id: 'rec:9', metadata: null }],
      }),
    );
    const up = await client.insertMemory({ vector: new Float32Array([0.5, 1]), attachToDocumentNode: 2, tags: ['a'], metadata });
    assert.deepEqual(up, { memoryId: 'rec:5', recordId: 5, documentNodeId: 2, chunkNodeId: 3 });
    assert.deepEqual(fake.seen[0].json, { vector: [0.5, 1], attach_to_document_node: 2, tags: ['a'], metadata });
    const hits = await client.searchMemory([0.5, 1], 2, { filterTag: 1 });
    assert.deepEqual(hits, [{ memoryId: 'rec:5', recordId: 5, score: 0.25, metadata }, { memoryId: 'rec:0', recordId: 0, score: 1, metadata: null }]);
    assert.deepEqual(fake.seen[1].json, { query_vector: [0.5, 1], k: 2, filter_tag: 1 });
    await client.setMetadata('node:1', metadata);
    assert.deepEqual(fake.seen[2].json, { target_id: 'node:1', metadata });
    assert.deepEqual(await client.getMetadata('node:1'), metadata);
    assert.equal(await client.getMetadata('rec:9'), null);
  });

  it('when operational routes are called, then health, proofs and replication state come back camelCase and text routes as text', async () => {
    const pool = { live: 1, slots_used: 2, capacity: 10, fill_pct: 20 };
    const hash = 'ab'.repeat(32);
    fake.handle(
      routes({
        'GET /health': [200, { status: 'ok', version: '0.1.0', dim: 2, index: 'BruteForce', persistence: 'event_log', records: pool, nodes: pool, edges: pool, event_log_height: 4 }],
        'GET /metrics': (_q, res) => send(res, 200, '# TYPE valori_dim gauge\nvalori_dim 2\n'),
        'GET /version': (_q, res) => send(res, 200, '0.1.0'),
        'GET /v1/proof/state': [200, { kernel_version: 1, snapshot_hash: null, wal_hash: null, final_state_hash: hash }],
        'GET /v1/proof/state?height=3': [200, { kernel_version: 1, snapshot_hash: null, wal_hash: null, final_state_hash: hash, height: 3 }],
        'GET /v1/proof/event-log': [200, { kernel_version: 1, event_log_hash: hash, final_state_hash: hash, snapshot_hash: null, event_count: 4, committed_height: 4 }],
        'GET /v1/replication/state': [200, { role: 'follower', status: 'Synced', leader_url: 'http://l:3000', applied_height: 4, lag: 0 }],
      }),
    );
    const health = await client.health();
    assert.deepEqual(health.records, { live: 1, slotsUsed: 2, capacity: 10, fillPct: 20 });
    assert.equal(health.eventLogHeight, 4);
    assert.equal(await client.metrics(), '# TYPE valori_dim gauge\nvalori_dim 2\n');
    assert.equal(await client.version(), '0.1.0');
    assert.deepEqual(await client.proofState(), { kernelVersion: 1, snapshotHash: null, walHash: null, finalStateHash: hash });
    assert.equal((await client.proofState({ height: 3 })).height, 3);
    const log = await client.proofEventLog();
    assert.deepEqual([log.eventLogHash, log.eventCount, log.committedHeight], [hash, 4, 4]);
    assert.deepEqual(await client.replicationState(), { role: 'follower', status: 'Synced', leaderUrl: 'http://l:3000', appliedHeight: 4, lag: 0 });
    assert.ok(fake.seen.every((s) => s.method === 'GET' && s.headers.authorization === 'Bearer secret'));
  });

  it('when /health answers 503 with status full, then health() resolves to it without retrying', async () => {
    const pool = { live: 3, slots_used: 3, capacity: 3, fill_pct: 100 };
    fake.handle(routes({ 'GET /health': [503, { status: 'full', version: '0.1.0', dim: 2, index: 'BruteForce', persistence: 'none', records: pool, nodes: pool, edges: pool }] }));
    const health = await client.health();
    assert.equal(health.status, 'full');
    assert.equal(fake.seen.length, 1);
  });

  it('when snapshot methods are called, then save/restore send JSON, upload sends the raw bytes and download returns bytes or a stream', async () => {
    const bytes = new Uint8Array([0x56, 0x41, 0x4c, 0x31, 0, 1, 2, 255]);
    fake.handle(
      routes({
        'POST /v1/snapshot/save': (req, res) => send(res, 200, { success: true, path: req.json.path ?? '/data/snap.val', height: 4, bytes: 120 }),
        'POST /v1/snapshot/restore': [200, { success: true }],
        'POST /v1/snapshot/upload': (_q, res) => {
          res.writeHead(200);
          res.end();
        },
        'GET /v1/snapshot/download': (_q, res) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(Buffer.from(bytes));
        },
      }),
    );
    assert.deepEqual(await client.snapshotSave(), { path: '/data/snap.val', height: 4, bytes: 120 });
    assert.deepEqual(await client.snapshotSave({ path: 'b.val' }), { path: 'b.val', height: 4, bytes: 120 });
    await client.snapshotRestore('b.val');
    await client.snapshotUpload(bytes);
    assert.deepEqual(await client.snapshotDownload(), bytes);
    const stream = await client.snapshotDownload({ stream: true });
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(new Uint8Array(Buffer.concat(chunks)), bytes);
    const [save1, save2, restore, upload] = fake.seen;
    assert.deepEqual([save1.json, save2.json, restore.json], [{}, { path: 'b.val' }, { path: 'b.val' }]);
    assert.equal(upload.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(new Uint8Array(upload.body), bytes);
  });

  it('when the base URL is not http(s), then the constructor throws', () => {
    assert.throws(() => new ValoriClient({ baseUrl: 'ftp://x' }), TypeError);
    assert.throws(() => new ValoriClient({ baseUrl: 'not a url' }), TypeError);
  });
});

describe('client errors', () => {
  let fake: Fake;
  let client: ValoriClient;
  before(async () => {
    fake = await fakeServer();
    client = new ValoriClient({ baseUrl: fake.url, ...FAST });
  });
  after(() => fake.close());

  it('when the server answers 400 DIMENSION_MISMATCH, then a ValoriError carries status, code, body and request id, and nothing is retried', async () => {
    const body = { error: 'values has the wrong dimension: expected 4, got 3', code: 'DIMENSION_MISMATCH' };
    fake.handle((_q, res) => send(res, 400, body, { 'x-request-id': 'req-1' }));
    const err = await client.insert([1, 2, 3]).catch((e: unknown) => e);
    assert.ok(err instanceof ValoriError);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'DIMENSION_MISMATCH');
    assert.deepEqual(err.body, body);
    assert.equal(err.requestId, 'req-1');
    assert.match(err.message, /wrong dimension/);
    assert.equal(fake.seen.length, 1);
  });

  for (const [status, code] of [[507, 'CAPACITY_EXCEEDED'], [404, 'NOT_FOUND'], [401, 'UNAUTHORIZED'], [409, 'READ_ONLY']] as const) {
    it(`when the server answers ${status} ${code}, then the ValoriError has that code and the request is sent once`, async () => {
      fake.handle((_q, res) => send(res, status, { error: 'x', code }));
      await assert.rejects(client.getNode(1), (e: unknown) => e instanceof ValoriError && e.status === status && e.code === code);
      assert.equal(fake.seen.length, 1);
    });
  }

  it('when an error body is not the JSON envelope, then the code is HTTP_<status> and the body is the text', async () => {
    fake.handle((_q, res) => send(res, 502, '<html>Bad Gateway</html>'));
    await assert.rejects(client.version(), (e: unknown) => e instanceof ValoriError && e.code === 'HTTP_502' && e.body === '<html>Bad Gateway</html>');
  });

  it('when a success body is not JSON or lacks a field, then the ValoriError code is INVALID_RESPONSE', async () => {
    fake.handle((_q, res) => send(res, 200, 'oops'));
    await assert.rejects(client.insert([1]), (e: unknown) => e instanceof ValoriError && e.code === 'INVALID_RESPONSE');
    fake.handle((_q, res) => send(res, 200, { ids: 'no' }));
    await assert.rejects(client.insertBatch([[1]]), (e: unknown) => e instanceof ValoriError && e.code === 'INVALID_RESPONSE' && /ids/.test(e.message));
  });

  it('when the server defines its error codes, then the client lists exactly the same ones', () => {
    assert.deepEqual([...VALORI_SERVER_ERROR_CODES].sort(), Object.keys(STATUS_BY_CODE).sort());
  });
});
