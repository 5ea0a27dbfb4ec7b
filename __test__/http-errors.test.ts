// Bad input: every case answers a 4xx JSON envelope with a stable code and changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kernel } from '../src/kernel/kernel';
import { loadNative, type NativeKernel } from '../src/kernel/native';
import { kernelOptions } from '../src/kernel/kernel';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

describe('HTTP errors', () => {
  let s: TestServer;
  const post = (path: string, body: unknown) => request(s.base, path, { body });
  const get = (path: string) => request(s.base, path);
  const stateHash = async () => (await get('/v1/proof/state')).json.final_state_hash as string;

  async function expectError(reply: Promise<{ status: number; json: unknown; headers: Headers }>, status: number, code: string) {
    const r = await reply;
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.ok(isErrorEnvelope(r.json, code), `expected ${code}, got ${JSON.stringify(r.json)}`);
    return r.json as { error: string; code: string };
  }

  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_MAX_K: '50', VALORI_MAX_BODY_BYTES: '200' });
    await post('/records', { values: [1, 2, 3, 4] });
    await post('/graph/node', { kind: 1 });
  });
  after(() => s.stop());

  it('when a vector has the wrong dimension, then 400 DIMENSION_MISMATCH naming expected and got', async () => {
    const e = await expectError(post('/records', { values: [1, 2, 3] }), 400, 'DIMENSION_MISMATCH');
    assert.match(e.error, /expected 4, got 3/);
    const q = await expectError(post('/search', { query: [1, 2, 3, 4, 5], k: 1 }), 400, 'DIMENSION_MISMATCH');
    assert.match(q.error, /expected 4, got 5/);
    await expectError(post('/v1/memory/upsert_vector', { vector: [1] }), 400, 'DIMENSION_MISMATCH');
    await expectError(post('/v1/memory/search_vector', { query_vector: [1], k: 1 }), 400, 'DIMENSION_MISMATCH');
  });

  it('when a vector holds null, a string, a bool or a nested array, then 400 INVALID_VECTOR naming the index', async () => {
    for (const bad of [null, '1', true, [1]]) {
      const e = await expectError(post('/records', { values: [1, bad, 3, 4] }), 400, 'INVALID_VECTOR');
      assert.match(e.error, /values\[1\]/);
    }
    await expectError(post('/records', { values: 'abc' }), 400, 'INVALID_VECTOR');
    await expectError(post('/search', { query: [1, 2, null, 4], k: 1 }), 400, 'INVALID_VECTOR');
  });

  it('when a component overflows f32 (1e39) or exceeds the accepted range, then 400 INVALID_VECTOR', async () => {
    const huge = await request(s.base, '/records', { raw: '{"values":[1e39,0,0,0]}', headers: { 'content-type': 'application/json' } });
    assert.equal(huge.status, 400);
    assert.ok(isErrorEnvelope(huge.json, 'INVALID_VECTOR'));
    const inf = await request(s.base, '/records', { raw: '{"values":[1e999,0,0,0]}', headers: { 'content-type': 'application/json' } });
    assert.ok(isErrorEnvelope(inf.json, 'INVALID_VECTOR'));
    await expectError(post('/records', { values: [1e6, 0, 0, 0] }), 400, 'INVALID_VECTOR');
  });

  it('when a vector is empty, then 400 EMPTY_VECTOR', async () => {
    await expectError(post('/records', { values: [] }), 400, 'EMPTY_VECTOR');
    await expectError(post('/search', { query: [], k: 1 }), 400, 'EMPTY_VECTOR');
    await expectError(post('/v1/vectors/batch_insert', { batch: [[]] }), 400, 'EMPTY_VECTOR');
  });

  it('when k is 0, negative, fractional, a string or above VALORI_MAX_K, then 400 naming the range', async () => {
    for (const k of [0, -1, 1.5, '5', 51]) {
      const e = await expectError(post('/search', { query: [1, 2, 3, 4], k }), 400, 'INVALID_REQUEST');
      assert.match(e.error, /k must be an integer from 1 to 50/);
    }
    await expectError(post('/v1/memory/search_vector', { query_vector: [1, 2, 3, 4], k: 0 }), 400, 'INVALID_REQUEST');
    assert.equal((await post('/search', { query: [1, 2, 3, 4], k: 50 })).status, 200);
  });

  it('when required fields are missing or mistyped, then 400 INVALID_REQUEST naming the field', async () => {
    const e = await expectError(post('/records', { vals: [1, 2, 3, 4] }), 400, 'INVALID_REQUEST');
    assert.match(e.error, /"values"/);
    await expectError(post('/search', { query: [1, 2, 3, 4] }), 400, 'INVALID_REQUEST');
    await expectError(post('/v1/delete', { id: -1 }), 400, 'INVALID_REQUEST');
    await expectError(post('/v1/delete', { id: 'x' }), 400, 'INVALID_REQUEST');
    await expectError(post('/v1/soft-delete', {}), 400, 'INVALID_REQUEST');
    await expectError(post('/graph/node', { kind: 256 }), 400, 'INVALID_REQUEST');
    await expectError(post('/graph/edge', { from: 0, to: 0 }), 400, 'INVALID_REQUEST');
    await expectError(post('/v1/vectors/batch_insert', { batch: 'x' }), 400, 'INVALID_REQUEST');
    await expectError(post('/v1/memory/meta/set', { target_id: 'k' }), 400, 'INVALID_REQUEST');
    await expectError(post('/records', [1, 2, 3, 4]), 400, 'INVALID_REQUEST');
    await expectError(get('/v1/memory/meta/get'), 400, 'INVALID_REQUEST');
    await expectError(post('/records', { values: [1, 2, 3, 4], tag: -3 }), 400, 'INVALID_REQUEST');
  });

  it('when a path id is not a u32, then 400 INVALID_REQUEST', async () => {
    for (const id of ['abc', '-1', '1.5', '4294967296', '1e3']) {
      await expectError(get(`/graph/node/${id}`), 400, 'INVALID_REQUEST');
      await expectError(get(`/graph/edges/${id}`), 400, 'INVALID_REQUEST');
    }
  });

  it('when ids do not exist, then 404 NOT_FOUND', async () => {
    await expectError(post('/v1/delete', { id: 999 }), 404, 'NOT_FOUND');
    await expectError(post('/v1/soft-delete', { id: 999 }), 404, 'NOT_FOUND');
    await expectError(get('/graph/node/999'), 404, 'NOT_FOUND');
    await expectError(get('/graph/edges/999'), 404, 'NOT_FOUND');
    await expectError(post('/graph/node', { kind: 1, record_id: 999 }), 404, 'NOT_FOUND');
    await expectError(post('/graph/edge', { from: 0, to: 999, kind: 1 }), 404, 'NOT_FOUND');
    await expectError(post('/v1/memory/upsert_vector', { vector: [1, 2, 3, 4], attach_to_document_node: 999 }), 404, 'NOT_FOUND');
  });

  it('when the path is unknown, then 404 ROUTE_NOT_FOUND; a wrong method is 405 with Allow', async () => {
    await expectError(get('/nope'), 404, 'ROUTE_NOT_FOUND');
    await expectError(get('/health/'), 404, 'ROUTE_NOT_FOUND');
    await expectError(request(s.base, '/records'), 405, 'METHOD_NOT_ALLOWED');
    const del = await request(s.base, '/health', { method: 'DELETE' });
    assert.equal(del.status, 405);
    assert.equal(del.headers.get('allow'), 'GET, HEAD');
  });

  it('when the Content-Type is not JSON (or missing), then 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const json = '{"values":[1,2,3,4]}';
    await expectError(request(s.base, '/records', { raw: json, headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(request(s.base, '/records', { raw: json, headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(request(s.base, '/records', { method: 'POST' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const ok = await request(s.base, '/records', { raw: json, headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' } });
    assert.equal(ok.status, 200);
  });

  it('when the JSON is malformed, then 400 INVALID_JSON', async () => {
    for (const raw of ['{"values":[1,2', '{values:1}', 'null', '"str"', '{"values":[1,2,3,4]}}']) {
      await expectError(request(s.base, '/records', { raw, headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
    }
  });

  it('when the body is exactly VALORI_MAX_BODY_BYTES, then accepted; one byte more, then 413', async () => {
    const sized = (n: number) => {
      const head = '{"target_id":"pad","metadata":"';
      return `${head}${'x'.repeat(n - head.length - 2)}"}`;
    };
    assert.equal(Buffer.byteLength(sized(200)), 200);
    const ok = await request(s.base, '/v1/memory/meta/set', { raw: sized(200), headers: { 'content-type': 'application/json' } });
    assert.equal(ok.status, 200, ok.text);
    const e = await expectError(request(s.base, '/v1/memory/meta/set', { raw: sized(201), headers: { 'content-type': 'application/json' } }), 413, 'PAYLOAD_TOO_LARGE');
    assert.match(e.error, /200 bytes/);
  });

  it('when unknown JSON fields are sent, then 400 INVALID_REQUEST names the field and nothing is stored', async () => {
    // Request objects are closed (docs/security.md): a misspelt "filter_tags" must not run an unfiltered search.
    const before = (await request(s.base, '/health')).json.records.live;
    const e = await expectError(post('/records', { values: [4, 3, 2, 1], extra: { deep: true } }), 400, 'INVALID_REQUEST');
    assert.match(e.error, /unknown field "extra"/);
    const f = await expectError(post('/search', { query: [0, 0, 0, 0], k: 1, filter_tags: 3 }), 400, 'INVALID_REQUEST');
    assert.match(f.error, /unknown field "filter_tags"/);
    assert.equal((await request(s.base, '/health')).json.records.live, before);
  });

  it('when metadata is over 64 KiB, then 400 METADATA_TOO_LARGE (413 PAYLOAD_TOO_LARGE for a record\'s payload) and nothing is stored', async () => {
    const big = { text: 'x'.repeat(70_000) };
    const s2 = await startServer({ VALORI_DIM: '4' });
    try {
      const r = await request(s2.base, '/v1/memory/meta/set', { body: { target_id: 'big', metadata: big } });
      assert.equal(r.status, 400);
      assert.ok(isErrorEnvelope(r.json, 'METADATA_TOO_LARGE'));
      assert.equal((await request(s2.base, '/v1/memory/meta/get?target_id=big')).json.metadata, null);
      // upsert_vector's metadata is the record's payload, bounded like every payload.
      const up = await request(s2.base, '/v1/memory/upsert_vector', { body: { vector: [1, 2, 3, 4], metadata: big } });
      assert.equal(up.status, 413);
      assert.ok(isErrorEnvelope(up.json, 'PAYLOAD_TOO_LARGE'));
      assert.equal(s2.kernel.stats().records.used, 0);
    } finally {
      await s2.stop();
    }
  });

  it('when any request above is rejected, then the state hash did not change', async () => {
    const before = await stateHash();
    await post('/records', { values: [1, 2, 3] });
    await post('/v1/vectors/batch_insert', { batch: [[1, 2, 3, 4], [1, null, 3, 4]] });
    await post('/graph/edge', { from: 0, to: 999, kind: 1 });
    await post('/v1/delete', { id: 999 });
    await post('/v1/memory/upsert_vector', { vector: [1, 2, 3, 4], attach_to_document_node: 999 });
    assert.equal(await stateHash(), before);
  });

  it('when the kernel fails on its side, then 500 with a generic message and the detail only in the log', async () => {
    const s3 = await startServer({ VALORI_DIM: '4' }, (config) => {
      const real = new (loadNative().Kernel)(kernelOptions(config));
      // The real handle, except that search fails the way a disk error would, and stateHash and
      // stateProof (behind GET /v1/proof/state) fail with an error that carries no code.
      const overrides: Partial<NativeKernel> = {
        search: () => Promise.reject(Object.assign(new Error('disk on fire at /secret/path'), { code: 'IO_ERROR' })),
        // The kernel's raw-body search declines every request that fails (native/kernel/src/wire),
        // leaving the error to the general path above.
        searchJson: () => Promise.resolve(null),
        stateHash: () => Promise.reject(new Error('no code at all')),
        stateProof: () => Promise.reject(new Error('no code at all')),
      };
      const failing = new Proxy(real, {
        get(target, prop) {
          if (prop in overrides) return overrides[prop as keyof NativeKernel];
          const value: unknown = Reflect.get(target, prop);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      return new Kernel(failing);
    });
    try {
      const r = await request(s3.base, '/search', { body: { query: [1, 2, 3, 4], k: 1 } });
      assert.equal(r.status, 500);
      assert.deepEqual(r.json, { error: 'internal kernel error', code: 'IO_ERROR' });
      const p = await request(s3.base, '/v1/proof/state');
      assert.deepEqual([p.status, p.json.code], [500, 'INTERNAL']);
      assert.ok(s3.logs.some((l) => l.includes('disk on fire') && l.includes('"level":"error"')));
    } finally {
      await s3.stop();
    }
  });
});
