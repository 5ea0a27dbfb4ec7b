// Batch insert bodies are parsed and checked by the kernel (src/http/batch-body.ts,
// native/kernel/src/wire/batch.rs). The general path is the oracle: the same batches through
// either path store the same vectors and answer the same ids, and every body the kernel declines
// gets the general path's answer, word for word, with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';
import { observe } from './payload-helpers';
import { Gen, prng } from './payload-random';

const DIM = 6;

describe('batch insert bodies parsed by the kernel', () => {
  let s: TestServer;
  let parsed: unknown[] = [];
  let original: TestServer['kernel']['parseBatchJson'];

  before(async () => {
    s = await startServer({ VALORI_DIM: String(DIM), VALORI_MAX_BATCH_ROWS: '50', VALORI_MAX_RECORDS: '10000' });
    original = s.kernel.parseBatchJson.bind(s.kernel);
    s.kernel.parseBatchJson = async (body, route) => {
      const r = await original(body, route);
      parsed.push(r);
      return r;
    };
    for (const name of ['fast', 'general']) {
      assert.equal((await request(s.base, '/v1/namespaces', { body: { name, dimension: DIM } })).status, 200);
    }
  });
  after(() => s.stop());

  async function post(path: string, raw: string, general: boolean) {
    parsed = [];
    const saved = s.kernel.parseBatchJson;
    if (general) s.kernel.parseBatchJson = async () => null;
    try {
      const r = await request(s.base, path, { raw, headers: { 'content-type': 'application/json' } });
      return { r, kernelParsed: parsed.length === 1 && parsed[0] !== null };
    } finally {
      s.kernel.parseBatchJson = saved;
    }
  }

  it('when ordinary batches come, then the kernel parses them and they store what the general path stores', async () => {
    const g = new Gen(prng(5));
    const paths = ['/v1/vectors/batch_insert', '/v1/memory/insert_batch', '/v1/vectors/batch-insert'];
    for (let i = 0; i < 30; i++) {
      const rows = Array.from({ length: 1 + g.int(50) }, () =>
        Array.from({ length: DIM }, () => [0, -0, 1e-9, 9000.25, (g.int(20001) - 10000) / (g.int(999) + 1), 0.1][g.int(6)]),
      );
      const path = paths[g.int(3)];
      const text = (collection: string) => (g.int(2) === 0 ? JSON.stringify({ batch: rows, collection }) : JSON.stringify({ collection, batch: rows }, null, 1));
      const fast = await post(path, text('fast'), false);
      assert.equal(fast.kernelParsed, true, 'the kernel parsed the batch');
      const general = await post(path, text('general'), true);
      assert.equal(fast.r.status, 200, fast.r.text);
      assert.equal(fast.r.text, general.r.text);
      for (const id of fast.r.json.ids as number[]) {
        const a = await request(s.base, `/v1/records/${id}?collection=fast`);
        const b = await request(s.base, `/v1/records/${id}?collection=general`);
        assert.equal(a.status, 200);
        assert.equal(a.text, b.text);
      }
    }
  });

  it('when a batch needs an error or carries more than rows, then the kernel declines it and the general path answers', async () => {
    const row = JSON.stringify(Array.from({ length: DIM }, (_, i) => i));
    const cases: [raw: string, status: number, code?: string][] = [
      [`{"batch":[${row},[1,2]]}`, 400, 'DIMENSION_MISMATCH'],
      [`{"batch":[${row},[1,2,3,4,5,"6"]]}`, 400],
      [`{"batch":[[1,2,3,4,5,1e39]]}`, 400, 'INVALID_VECTOR'],
      [`{"batch":[[1,2,3,4,5,1e400]]}`, 400, 'INVALID_VECTOR'],
      [`{"batch":[${Array(51).fill(row).join(',')}]}`, 400, 'INVALID_REQUEST'],
      [`{"batch":[${row}],"collection":"missing"}`, 404, 'COLLECTION_NOT_FOUND'],
      [`{"batch":[${row}],"collection":"bad name!"}`, 400, 'INVALID_REQUEST'],
      [`{"batch":[${row}],"extra":1}`, 400, 'INVALID_REQUEST'],
      [`{"batch":[${row}]`, 400, 'INVALID_JSON'],
      [`{"batch":[${row}],"texts":["a","b"]}`, 400, 'INVALID_REQUEST'],
    ];
    for (const [raw, status, code] of cases) {
      const before = await observe(s.base);
      const fast = await post('/v1/vectors/batch_insert', raw, false);
      assert.equal(fast.kernelParsed, false, `declined: ${raw.slice(-50)}`);
      assert.equal(fast.r.status, status, `${raw.slice(-50)}: ${fast.r.text}`);
      if (code !== undefined) assert.equal(fast.r.json.code, code, fast.r.text);
      const general = await post('/v1/vectors/batch_insert', raw, true);
      assert.equal(fast.r.text, general.r.text);
      assert.deepEqual(await observe(s.base), before, 'nothing was written');
    }
  });

  it('when a batch carries payloads, then the general path stores them', async () => {
    const row = Array.from({ length: DIM }, (_, i) => i);
    const r = await post('/v1/vectors/batch_insert', JSON.stringify({ batch: [row], collection: 'fast', metadata: [{ a: 1 }], texts: ['hello'] }), false);
    assert.equal(r.kernelParsed, false);
    assert.equal(r.r.status, 200, r.r.text);
    const rec = await request(s.base, `/v1/records/${r.r.json.ids[0]}?collection=fast`);
    assert.deepEqual([rec.json.metadata, rec.json.text], [{ a: 1 }, 'hello']);
  });
});
