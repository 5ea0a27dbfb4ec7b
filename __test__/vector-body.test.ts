// Bodies with one vector (POST /records, /v1/records, upsert_vector, memory search) have their
// vector parsed and checked by the kernel and the rest parsed here (src/http/vector-body.ts,
// native/kernel/src/wire/vector.rs). The general path is the oracle: the same bodies through
// either path store the same records and answer the same bytes, and bodies with errors get the
// general path's answer with nothing written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';
import { observe } from './payload-helpers';
import { Gen, prng } from './payload-random';

const DIM = 5;

describe('vector bodies parsed by the kernel', () => {
  let s: TestServer;
  let parsed: unknown[] = [];

  before(async () => {
    s = await startServer({ VALORI_DIM: String(DIM), VALORI_MAX_RECORDS: '10000', VALORI_MAX_NODES: '10000', VALORI_MAX_EDGES: '10000' });
    const original = s.kernel.parseVectorJson.bind(s.kernel);
    s.kernel.parseVectorJson = async (body, route) => {
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
    const saved = s.kernel.parseVectorJson;
    if (general) s.kernel.parseVectorJson = async () => null;
    try {
      const r = await request(s.base, path, { raw, headers: { 'content-type': 'application/json' } });
      return { r, kernelParsed: parsed.length === 1 && parsed[0] !== null };
    } finally {
      s.kernel.parseVectorJson = saved;
    }
  }

  it('when ordinary bodies come, then the kernel parses their vector and they store and answer what the general path does', async () => {
    const g = new Gen(prng(3));
    const vec = () => Array.from({ length: DIM }, () => [0, 1e-9, 9000.25, (g.int(20001) - 10000) / (g.int(999) + 1), 0.1][g.int(5)]);
    for (let i = 0; i < 40; i++) {
      const kind = g.int(4);
      const body = (collection: string): Record<string, unknown> => {
        if (kind === 0 || kind === 1) {
          const b: Record<string, unknown> = { collection, values: vec() };
          if (g.int(2) === 0) b.tag = g.int(1000);
          if (g.int(2) === 0) b.metadata = { n: i, s: `é"${i}`, nested: { a: [1, 2.5] } };
          if (g.int(2) === 0) b.text = `text ${i}\n`;
          return b;
        }
        if (kind === 2) return { collection, vector: vec(), ...(g.int(2) === 0 ? { metadata: { i } } : {}) };
        return { collection, query_vector: vec(), k: 1 + g.int(10) };
      };
      const path = ['/records', '/v1/records', '/v1/memory/upsert_vector', '/v1/memory/search'][kind];
      // The same draws for both collections: reseed per body.
      const seed = g.int(1e9);
      const raw = (collection: string) => {
        const inner = new Gen(prng(seed));
        const saved = g.next;
        (g as { next: () => number }).next = inner.next;
        try {
          return JSON.stringify(body(collection));
        } finally {
          (g as { next: () => number }).next = saved;
        }
      };
      const fast = await post(path, raw('fast'), false);
      assert.equal(fast.kernelParsed, true, `the kernel parsed ${raw('fast')}`);
      const general = await post(path, raw('general'), true);
      assert.equal(fast.r.status, 200, fast.r.text);
      // log_index is the node's height, one write apart between the two.
      if (path === '/v1/records') assert.deepEqual({ ...fast.r.json, log_index: 0 }, { ...general.r.json, log_index: 0 });
      else assert.equal(fast.r.text, general.r.text);
      const id = fast.r.json.id ?? fast.r.json.record_id;
      if (id !== undefined) {
        const a = await request(s.base, `/v1/records/${id}?collection=fast`);
        const b = await request(s.base, `/v1/records/${id}?collection=general`);
        assert.equal(a.status, 200);
        assert.equal(a.text, b.text);
      }
    }
  });

  it('when a body needs an error, then the answer is the general path\'s and nothing is written', async () => {
    const v = JSON.stringify(Array.from({ length: DIM }, (_, i) => i));
    const cases: [path: string, raw: string, status: number, code: string, kernelParses: boolean][] = [
      ['/records', `{"values":[1,2]}`, 400, 'DIMENSION_MISMATCH', false],
      ['/records', `{"values":[1,2,3,4,null]}`, 400, 'INVALID_VECTOR', false],
      ['/records', `{"values":[1,2,3,4,1e30]}`, 400, 'INVALID_VECTOR', false],
      ['/records', `{"values":${v},"collection":"missing"}`, 404, 'COLLECTION_NOT_FOUND', false],
      ['/records', `{"values":${v},"tag":-1}`, 400, 'INVALID_REQUEST', true],
      ['/records', `{"values":${v},"surprise":1,"other":2}`, 400, 'INVALID_REQUEST', true],
      ['/records', `{"values":${v},"metadata":[1]}`, 400, 'INVALID_REQUEST', true],
      ['/v1/records', `{"values":${v},"text":5}`, 400, 'INVALID_REQUEST', true],
      ['/v1/memory/upsert_vector', `{"vector":${v},"attach_to_document_node":99999}`, 404, 'NOT_FOUND', true],
      ['/v1/memory/search', `{"query_vector":${v},"k":0}`, 400, 'INVALID_REQUEST', true],
      ['/v1/memory/search', `{"query_vector":[1],"k":1}`, 400, 'DIMENSION_MISMATCH', false],
    ];
    for (const [path, raw, status, code, kernelParses] of cases) {
      const before = await observe(s.base);
      const fast = await post(path, raw, false);
      assert.equal(fast.kernelParsed, kernelParses, `${path} ${raw}`);
      assert.equal(fast.r.status, status, `${raw}: ${fast.r.text}`);
      assert.equal(fast.r.json.code, code, fast.r.text);
      const general = await post(path, raw, true);
      assert.equal(fast.r.text, general.r.text);
      assert.deepEqual(await observe(s.base), before, 'nothing was written');
    }
  });
});
