// Record payloads over HTTP: metadata and text given at insert (single, batch with objects or
// JSON-encoded strings), read back, replaced, returned by search on request, shared with the
// memory protocol's rec:<id> metadata and upsert_vector, removed by a hard delete; canonical
// (key order and number spelling do not change the state hash); bad input is a 4xx that
// changes nothing, and __proto__/constructor keys are plain data.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';
import { observe, refused } from './payload-helpers';

const DIM = 4;
const LIMIT = 65_536;

/** Objects nested `levels` deep: 1 is `{}`, 2 is `{"a":{}}`. */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

describe('record payloads over HTTP', () => {
  let s: TestServer;
  let dir: string;
  const post = (path: string, body: unknown) => request(s.base, path, { body });
  const raw = (path: string, text: string, method = 'POST') => request(s.base, path, { method, raw: text, headers: { 'content-type': 'application/json' } });
  const get = (path: string) => request(s.base, path);
  const patch = (id: number, body: unknown, collection = 'p') => request(s.base, `/v1/records/${id}/metadata?collection=${collection}`, { method: 'PATCH', body });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-payload-'));
    s = await startServer({ VALORI_DIM: String(DIM), VALORI_EVENT_LOG_PATH: join(dir, 'events.log') });
    assert.equal((await post('/v1/namespaces', { name: 'p', dimension: DIM })).status, 200);
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a record is inserted with metadata and text, then GET returns them, canonical (keys sorted, integers plain)', async () => {
    const r = await raw('/v1/records', '{"values":[1,0,0,0],"collection":"p","metadata":{"b":1.0,"a":{"d":[1e2,0.5,"x"],"c":null},"é":true},"text":"hello \\"world\\"\\n"}');
    assert.equal(r.status, 200, r.text);
    const back = await get(`/v1/records/${r.json.id}?collection=p`);
    assert.equal(back.status, 200);
    assert.deepEqual(back.json, { id: r.json.id, vector: [1, 0, 0, 0], metadata: { a: { c: null, d: [100, 0.5, 'x'] }, b: 1, é: true }, text: 'hello "world"\n', tag: 0 });
    assert.ok(back.text.includes('"metadata":{"a":{"c":null,"d":[100,0.5,"x"]},"b":1,"é":true}'), back.text);
    const plain = await post('/records', { values: [0, 1, 0, 0], collection: 'p', metadata: { k: 'v' }, text: 't' });
    assert.equal(plain.status, 200, plain.text);
    const b2 = (await get(`/v1/records/${plain.json.id}?collection=p`)).json;
    assert.deepEqual([b2.metadata, b2.text], [{ k: 'v' }, 't']);
    const none = await post('/v1/records', { values: [0, 0, 1, 0], collection: 'p' });
    const b3 = (await get(`/v1/records/${none.json.id}?collection=p`)).json;
    assert.deepEqual([b3.metadata, b3.text], [null, null]);
  });

  it('when metadata is replaced with PATCH, then GET shows only the new object and the text is kept', async () => {
    const { id } = (await post('/v1/records', { values: [1, 1, 0, 0], collection: 'p', metadata: { old: 1, keep: 'no' }, text: 'stays' })).json;
    const r = await patch(id, { fresh: [1, 2] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { ok: true, id });
    const back = (await get(`/v1/records/${id}?collection=p`)).json;
    assert.deepEqual([back.metadata, back.text], [{ fresh: [1, 2] }, 'stays']);
    await refused(s.base, () => patch(99_999, { a: 1 }), 404, 'NOT_FOUND', /99999/);
    await refused(s.base, () => patch(id, [1, 2]), 400, 'INVALID_REQUEST', /metadata|object/);
  });

  it('when a batch carries metadata as objects, JSON-encoded strings and nulls, and texts, then each record gets its own', async () => {
    const r = await post('/v1/vectors/batch-insert', {
      collection: 'p',
      batch: [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]],
      metadata: [{ n: 1 }, '{"n":2,"s":"two"}', null],
      texts: ['one', null, 'three'],
    });
    assert.equal(r.status, 200, r.text);
    const got = await Promise.all(r.json.ids.map(async (id: number) => (await get(`/v1/records/${id}?collection=p`)).json));
    assert.deepEqual(got.map((x) => [x.metadata, x.text]), [[{ n: 1 }, 'one'], [{ n: 2, s: 'two' }, null], [null, 'three']]);
    const batch = { collection: 'p', batch: [[1, 2, 3, 4], [4, 3, 2, 1]] };
    await refused(s.base, () => post('/v1/vectors/batch-insert', { ...batch, metadata: [{ a: 1 }] }), 400, 'INVALID_REQUEST', /metadata/);
    await refused(s.base, () => post('/v1/vectors/batch-insert', { ...batch, texts: ['a', 'b', 'c'] }), 400, 'INVALID_REQUEST', /texts/);
    await refused(s.base, () => post('/v1/vectors/batch-insert', { ...batch, metadata: ['[1,2]', null] }), 400, 'INVALID_REQUEST', /metadata\[0\]/);
    await refused(s.base, () => post('/v1/vectors/batch-insert', { ...batch, metadata: [null, 'not json'] }), 400, 'INVALID_REQUEST', /metadata\[1\]/);
  });

  it('when search asks for payloads (include / with_metadata), then hits carry exactly the asked fields', async () => {
    const { id } = (await post('/v1/records', { values: [9, 9, 9, 9], collection: 'p', metadata: { tag: 'far' }, text: 'far away' })).json;
    const q = { query: [9, 9, 9, 9], k: 1, collection: 'p' };
    const all = await post('/v1/search', { ...q, include: ['metadata', 'text', 'vector'] });
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(all.json.results, [{ id, score: 0, metadata: { tag: 'far' }, text: 'far away', vector: [9, 9, 9, 9] }]);
    assert.deepEqual((await post('/v1/search', { ...q, with_metadata: true })).json.results, [{ id, score: 0, metadata: { tag: 'far' } }]);
    assert.deepEqual((await post('/v1/search', { ...q, include: ['text'] })).json.results, [{ id, score: 0, text: 'far away' }]);
    assert.deepEqual((await post('/v1/search', q)).json.results, [{ id, score: 0 }]);
    const mem = await post('/v1/memory/search_vector', { query_vector: [9, 9, 9, 9], k: 1, collection: 'p', metadata_filter: { tag: 'far' } });
    assert.equal(mem.status, 200, mem.text);
    assert.deepEqual(mem.json.results, [{ memory_id: `rec:${id}`, record_id: id, score: 0, metadata: { tag: 'far' } }]);
    // Past the bounds: an unknown field name, and more hits with payloads than the route allows.
    await refused(s.base, () => post('/v1/search', { ...q, include: ['payload'] }), 400, 'INVALID_REQUEST', /include\[0\] must be one of/);
    await refused(s.base, () => post('/v1/search', { ...q, k: 1001, include: ['metadata'] }), 400, 'INVALID_REQUEST', /k must/);
  });

  it('when the memory protocol sets rec:<id> or upserts a vector with metadata, then it is the same payload GET shows', async () => {
    const { id } = (await post('/v1/records', { values: [3, 0, 0, 3], collection: 'p', metadata: { v: 1 } })).json;
    const set = await post('/v1/memory/meta/set', { target_id: `rec:${id}`, metadata: { v: 2, via: 'meta' }, collection: 'p' });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual((await get(`/v1/records/${id}?collection=p`)).json.metadata, { v: 2, via: 'meta' });
    assert.deepEqual((await get(`/v1/memory/meta/get?target_id=rec:${id}&collection=p`)).json.metadata, { v: 2, via: 'meta' });
    await patch(id, { v: 3 });
    assert.deepEqual((await get(`/v1/memory/meta/get?target_id=rec:${id}&collection=p`)).json.metadata, { v: 3 });
    await refused(s.base, () => post('/v1/memory/meta/set', { target_id: 'rec:88888', metadata: { a: 1 }, collection: 'p' }), 404, 'NOT_FOUND', /88888/);
    await refused(s.base, () => post('/v1/memory/meta/set', { target_id: `rec:${id}`, metadata: [1], collection: 'p' }), 400, 'INVALID_ARGUMENT', /object/);
    const up = await post('/v1/memory/upsert_vector', { vector: [5, 5, 0, 0], metadata: { from: 'upsert' }, collection: 'p' });
    assert.equal(up.status, 200, up.text);
    assert.deepEqual((await get(`/v1/records/${up.json.record_id}?collection=p`)).json.metadata, { from: 'upsert' });
  });

  it('when a record is hard-deleted, then its payload is gone; a soft delete keeps it', async () => {
    const ids = (await post('/v1/vectors/batch-insert', { collection: 'p', batch: [[7, 0, 0, 1], [7, 0, 0, 2]], metadata: [{ d: 'hard' }, { d: 'soft' }], texts: ['h', 's'] })).json.ids;
    assert.equal((await post('/v1/delete', { id: ids[0], collection: 'p' })).status, 200);
    assert.equal((await post('/v1/soft-delete', { id: ids[1], collection: 'p' })).status, 200);
    assert.equal((await get(`/v1/memory/meta/get?target_id=rec:${ids[0]}&collection=p`)).json.metadata, null);
    assert.deepEqual((await get(`/v1/memory/meta/get?target_id=rec:${ids[1]}&collection=p`)).json.metadata, { d: 'soft' });
    const hits = await post('/v1/search', { query: [7, 0, 0, 1], k: 10, collection: 'p', metadata_filter: { d: { $exists: true } } });
    assert.deepEqual(hits.json.results, [], 'deleted records match no filter');
    // A soft-deleted record still owns its payload: it can be replaced; a hard-deleted one cannot.
    assert.equal((await patch(ids[1], { d: 'soft, patched' })).status, 200);
    assert.equal((await post('/v1/memory/meta/set', { target_id: `rec:${ids[1]}`, metadata: { d: 'soft, set' }, collection: 'p' })).status, 200);
    assert.deepEqual((await get(`/v1/memory/meta/get?target_id=rec:${ids[1]}&collection=p`)).json.metadata, { d: 'soft, set' });
    await refused(s.base, () => patch(ids[0], { d: 'again' }), 404, 'NOT_FOUND', new RegExp(String(ids[0])));
    await refused(s.base, () => post('/v1/memory/meta/set', { target_id: `rec:${ids[0]}`, metadata: { d: 'again' }, collection: 'p' }), 404, 'NOT_FOUND', /./);
  });

  it('when the payload is too large, too deep, not an object or has an over-long key, then 4xx and nothing changes', async () => {
    const ins = (body: Record<string, unknown>) => () => post('/v1/records', { values: [1, 2, 3, 4], collection: 'p', ...body });
    // {"s":"…"} is 8 bytes around the string: exactly the limit is accepted, one byte more is not.
    const at = await post('/v1/records', { values: [1, 2, 3, 4], collection: 'p', metadata: { s: 'x'.repeat(LIMIT - 8) } });
    assert.equal(at.status, 200, at.text.slice(0, 200));
    await refused(s.base, ins({ metadata: { s: 'x'.repeat(LIMIT - 7) } }), 413, 'PAYLOAD_TOO_LARGE', /metadata/);
    await refused(s.base, ins({ text: 'é'.repeat(LIMIT / 2) + 'x' }), 413, 'PAYLOAD_TOO_LARGE', /text/);
    await refused(s.base, () => patch(at.json.id, { s: 'x'.repeat(LIMIT) }), 413, 'PAYLOAD_TOO_LARGE', /metadata/);
    await refused(s.base, () => post('/v1/memory/meta/set', { target_id: `rec:${at.json.id}`, metadata: { s: 'x'.repeat(LIMIT) }, collection: 'p' }), 413, 'PAYLOAD_TOO_LARGE', /metadata/);
    assert.equal((await post('/v1/records', { values: [1, 2, 3, 4], collection: 'p', metadata: nested(16) })).status, 200, 'depth 16 is allowed');
    await refused(s.base, ins({ metadata: nested(17) }), 400, 'INVALID_ARGUMENT', /depth|deep|nest/);
    await refused(s.base, () => patch(at.json.id, nested(17)), 400, 'INVALID_ARGUMENT', /depth|deep|nest/);
    await refused(s.base, ins({ metadata: { ['k'.repeat(257)]: 1 } }), 400, 'INVALID_ARGUMENT', /key/);
    assert.equal((await post('/v1/records', { values: [1, 2, 3, 4], collection: 'p', metadata: { ['k'.repeat(256)]: 1 } })).status, 200, 'a 256-byte key is allowed');
    for (const bad of [[1, 2], 'text', 5, true]) await refused(s.base, ins({ metadata: bad }), 400, 'INVALID_REQUEST', /metadata/);
    await refused(s.base, () => post('/v1/vectors/batch-insert', { collection: 'p', batch: [[1, 1, 1, 1]], metadata: [{ s: 'x'.repeat(LIMIT) }] }), 413, 'PAYLOAD_TOO_LARGE', /metadata/);
    // A JSON-encoded string reaches the kernel verbatim, duplicate keys included.
    await refused(s.base, () => post('/v1/vectors/batch-insert', { collection: 'p', batch: [[1, 1, 1, 1]], metadata: ['{"a":1,"a":2}'] }), 400, 'INVALID_ARGUMENT', /"a"|duplicate/);
  });

  it('when the text is at the limit as stored (a JSON string, quotes and escapes included), then it is accepted, one byte more is not', async () => {
    // Stored as a JSON string: 'x' × 65,534 plus two quotes is exactly 65,536 bytes; each '"' is stored as two.
    for (const text of ['x'.repeat(LIMIT - 2), '"'.repeat(LIMIT / 2 - 1)]) {
      const r = await post('/v1/records', { values: [1, 2, 3, 4], collection: 'p', text });
      assert.equal(r.status, 200, r.text.slice(0, 200));
      assert.equal((await get(`/v1/records/${r.json.id}?collection=p`)).json.text, text);
    }
    for (const text of ['x'.repeat(LIMIT - 1), '"'.repeat(LIMIT / 2)]) {
      await refused(s.base, () => post('/v1/records', { values: [1, 2, 3, 4], collection: 'p', text }), 413, 'PAYLOAD_TOO_LARGE', /text/);
    }
  });

  it('when keys are __proto__ or constructor, then they are stored and returned as data and pollute nothing', async () => {
    const text = '{"values":[0,0,0,9],"collection":"p","metadata":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"toString":1}}';
    const r = await raw('/v1/records', text);
    assert.equal(r.status, 200, r.text);
    const back = await get(`/v1/records/${r.json.id}?collection=p`);
    assert.ok(back.text.includes('"metadata":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"toString":1}'), back.text);
    const md = back.json.metadata;
    assert.ok(Object.prototype.hasOwnProperty.call(md, '__proto__'), 'an own key, not a prototype');
    assert.equal(Object.getPrototypeOf(md), Object.prototype);
    const hits = await post('/v1/search', { query: [0, 0, 0, 9], k: 5, collection: 'p', metadata_filter: { '__proto__.polluted': 'yes', 'constructor.prototype.polluted': 'yes' } });
    assert.deepEqual(hits.json.results.map((h: { id: number }) => h.id), [r.json.id]);
    // The server runs in this process: its Object.prototype is ours.
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const later = await get('/v1/records/0?collection=p');
    assert.equal(later.json.polluted, undefined);
    assert.equal(Object.prototype.hasOwnProperty.call(later.json.metadata ?? {}, 'polluted'), false);
  });

  it('when two fresh nodes get the same payloads spelled differently (key order, 1 vs 1.0), then their state hashes agree', async () => {
    const spellings = ['{"b":[1,2.5],"a":{"y":1,"x":"s"},"n":100}', '{"a":{"x":"s","y":1.0},"n":1e2,"b":[1.0,25e-1]}'];
    const hashes: string[] = [];
    for (const md of spellings) {
      const node = await startServer({ VALORI_DIM: String(DIM) });
      try {
        const r = await request(node.base, '/v1/records', { raw: `{"values":[1,2,3,4],"metadata":${md},"text":"t"}`, headers: { 'content-type': 'application/json' } });
        assert.equal(r.status, 200, r.text);
        hashes.push((await observe(node.base)).hash);
      } finally {
        await node.stop();
      }
    }
    assert.equal(hashes[0], hashes[1]);
  });

  it('when payloads are counted, then they use VALORI_MAX_METADATA_BYTES and not VALORI_MAX_METADATA_ENTRIES', async () => {
    const node = await startServer({ VALORI_DIM: String(DIM), VALORI_MAX_METADATA_ENTRIES: '1', VALORI_MAX_METADATA_BYTES: '4096' });
    try {
      const ins = (md: unknown) => request(node.base, '/v1/records', { body: { values: [1, 2, 3, 4], metadata: md } });
      for (let i = 0; i < 5; i++) assert.equal((await ins({ i })).status, 200, 'five payloads with an entry limit of one');
      await refused(node.base, () => ins({ s: 'x'.repeat(5_000) }), 507, 'CAPACITY_EXCEEDED', /VALORI_MAX_METADATA_BYTES/);
    } finally {
      await node.stop();
    }
  });
});
