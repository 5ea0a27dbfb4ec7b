// POST /search and /v1/search are answered by the kernel from the raw body (src/http/search-body.ts,
// native/kernel/src/wire/). The general path (JSON.parse, the schema, the JS answer writer) is the
// oracle: for ordinary requests the kernel's answer must be byte for byte what the general path
// sends, and for everything else the kernel must decline so the general path words the error.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';
import { Gen, prng } from './payload-random';

const DIM = 8;

describe('search bodies answered by the kernel', () => {
  let s: TestServer;
  let served: (Buffer | null)[] = [];
  const native = { searchJson: undefined as unknown as TestServer['kernel']['searchJson'] };

  before(async () => {
    s = await startServer({ VALORI_DIM: String(DIM), VALORI_INDEX: 'hnsw', VALORI_MAX_K: '2000' });
    native.searchJson = s.kernel.searchJson.bind(s.kernel);
    s.kernel.searchJson = async (body, route) => {
      const answer = await native.searchJson(body, route);
      served.push(answer);
      return answer;
    };
    for (const [name, metric] of [['cos', 'cosine'], ['dotc', 'dot']]) {
      assert.equal((await request(s.base, '/v1/namespaces', { body: { name, dimension: DIM, metric } })).status, 200);
    }
    const g = new Gen(prng(7));
    for (const collection of ['default', 'cos', 'dotc']) {
      const batch = Array.from({ length: 300 }, () => Array.from({ length: DIM }, () => (g.int(2001) - 1000) / 37));
      const metadata = batch.map((_, i) => ({ n: i, g: i % 5, s: `x${i}`, f: i / 7, nested: { ok: i % 2 === 0 } }));
      const texts = batch.map((_, i) => (i % 3 === 0 ? null : `line ${i}\n"quoted" \\ \u0001 é 😀 ${'€'.repeat(i % 4)}`));
      const r = await request(s.base, '/v1/vectors/batch_insert', { body: { batch, collection, metadata, texts } });
      assert.equal(r.status, 200, r.text);
    }
  });
  after(() => s.stop());

  /** Sends `raw` twice: as served (kernel first), then with the kernel declining every body. */
  async function both(path: string, raw: string) {
    served = [];
    const fast = await request(s.base, path, { raw, headers: { 'content-type': 'application/json' } });
    const kernelAnswer = served[0];
    const saved = s.kernel.searchJson;
    s.kernel.searchJson = async () => null;
    try {
      const general = await request(s.base, path, { raw, headers: { 'content-type': 'application/json' } });
      return { fast, general, kernelAnswered: kernelAnswer !== null && kernelAnswer !== undefined };
    } finally {
      s.kernel.searchJson = saved;
    }
  }

  it('when ordinary searches come, then the kernel answers each with the bytes the general path sends', async () => {
    const g = new Gen(prng(11));
    const filters = [undefined, null, { g: 2 }, { f: { $gte: 10.5 } }, { s: { $in: ['x3', 'x30', 'x299'] } }, { 'nested.ok': true }, { g: { $ne: 1.0 } }];
    const includes = [undefined, null, [], ['metadata'], ['text'], ['vector'], ['metadata', 'text', 'vector']];
    for (let i = 0; i < 120; i++) {
      const query = Array.from({ length: DIM }, () => (g.int(4001) - 2000) / (g.int(50) + 1));
      const body: Record<string, unknown> = { query, k: 1 + g.int(40) };
      if (g.int(2) === 0) body.ef = g.int(3) === 0 ? null : 1 + g.int(200);
      if (g.int(3) === 0) body.collection = ['default', 'cos', 'dotc'][g.int(3)];
      const filter = filters[g.int(filters.length)];
      if (filter !== undefined) body.metadata_filter = filter;
      const include = includes[g.int(includes.length)];
      if (include !== undefined) body.include = include;
      if (g.int(4) === 0) body.with_metadata = g.int(2) === 0;
      if (g.int(5) === 0) body.filter_tag = null;
      const v1 = g.int(2) === 0;
      if (v1 && g.int(2) === 0) Object.assign(body, { consistency: 'local', rerank: true, as_of: null });
      const raw = g.int(4) === 0 ? JSON.stringify(body, null, 2) : JSON.stringify(body);
      const { fast, general, kernelAnswered } = await both(v1 ? '/v1/search' : '/search', raw);
      assert.equal(kernelAnswered, true, `the kernel answered ${raw.slice(0, 200)}`);
      assert.equal(fast.status, 200, fast.text.slice(0, 300));
      assert.equal(fast.headers.get('content-type'), general.headers.get('content-type'));
      assert.equal(fast.text, general.text, raw.slice(0, 300));
    }
  });

  it('when a search needs an error or an unusual reading, then the kernel declines and the general path answers', async () => {
    const q = JSON.stringify(Array.from({ length: DIM }, (_, i) => i / 3));
    const cases: [path: string, raw: string, status: number, code?: string][] = [
      ['/search', `{"query":${q},"k":0}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":2001}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":1.5}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":[1,2,3],"k":3}`, 400, 'DIMENSION_MISMATCH'],
      ['/search', `{"query":[1,2,3,4,5,6,7,"8"],"k":3}`, 400, 'INVALID_VECTOR'],
      ['/search', `{"query":[1,2,3,4,5,6,7,1e400],"k":3}`, 400, 'INVALID_VECTOR'],
      ['/search', `{"query":${q},"k":3,"surprise":1}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":3,"consistency":"local"}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":3,"collection":"nope"}`, 404, 'COLLECTION_NOT_FOUND'],
      ['/search', `{"query":${q},"k":3,"collection":null}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":3,"include":["bogus"]}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":1001,"include":["metadata"]}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":3,"metadata_filter":{"$bogus":1}}`, 400],
      ['/search', `{"query":${q},"k":3,"ef":0}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":3,"filter_tag":-1}`, 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":3`, 400, 'INVALID_JSON'],
      ['/search', `[{"query":${q},"k":3}]`, 400, 'INVALID_REQUEST'],
      ['/search', '', 400, 'INVALID_REQUEST'],
      ['/search', `{"query":${q},"k":3,"metadata_filter":${'['.repeat(70)}${']'.repeat(70)}}`, 400, 'INVALID_REQUEST'],
      ['/v1/search', `{"query":${q},"k":3,"as_of":"yesterday"}`, 400, 'INVALID_REQUEST'],
      ['/v1/search', `{"query":${q},"k":3,"consistency":"eventual"}`, 400, 'INVALID_REQUEST'],
      // Readings the schema allows that the kernel leaves to the general path: still answered.
      ['/search', `{"query":${q},"k":3.0}`, 200],
      ['/search', `{"query":${q},"k":3,"k":4}`, 200],
    ];
    for (const [path, raw, status, code] of cases) {
      const { fast, general, kernelAnswered } = await both(path, raw);
      assert.equal(fast.status, status, `${raw.slice(-60)}: ${fast.text.slice(0, 200)}`);
      if (code !== undefined) assert.equal(fast.json?.code, code, fast.text.slice(0, 200));
      assert.equal(fast.text, general.text, raw.slice(-60));
      if (status !== 200) assert.equal(kernelAnswered, false, `the kernel declined ${raw.slice(-60)}`);
    }
  });

  it('when duplicate members come, then the last one counts, as in the general path', async () => {
    const q = JSON.stringify(Array.from({ length: DIM }, (_, i) => i));
    const { fast, general } = await both('/search', `{"query":${q},"k":3,"k":5}`);
    assert.equal(fast.json.results.length, 5);
    assert.equal(fast.text, general.text);
  });

  it('when a payload answer is right at VALORI_MAX_RESPONSE_BYTES, then the kernel draws the line where the general path does', async () => {
    const limit = 65_536;
    const t = await startServer({ VALORI_DIM: '2', VALORI_MAX_RESPONSE_BYTES: String(limit) });
    try {
      const saved = t.kernel.searchJson.bind(t.kernel);
      // {"results":[{"id":0,"score":0,"text":"…"}]} is 42 bytes around the text.
      const around = limit - 42;
      const statuses: number[] = [];
      for (const [i, len] of [around - 1, around, around + 1].entries()) {
        const collection = `c${i}`;
        assert.equal((await request(t.base, '/v1/namespaces', { body: { name: collection, dimension: 2 } })).status, 200);
        assert.equal((await request(t.base, '/records', { body: { values: [1, 1], collection, text: 'a'.repeat(len) } })).status, 200);
        const raw = JSON.stringify({ query: [1, 1], k: 1, collection, include: ['text'] });
        const fast = await request(t.base, '/search', { raw, headers: { 'content-type': 'application/json' } });
        t.kernel.searchJson = async () => null;
        const general = await request(t.base, '/search', { raw, headers: { 'content-type': 'application/json' } });
        t.kernel.searchJson = saved;
        assert.equal(fast.status, general.status, `text of ${len} bytes`);
        assert.equal(fast.text, general.text);
        statuses.push(fast.status);
      }
      assert.deepEqual(statuses, [200, 200, 413], 'the three answers straddle the limit');
    } finally {
      await t.stop();
    }
  });
});
