// Collection metrics cosine and dot: scores are the cosine similarity / dot product computed here
// from the vectors written (dot exactly: components are multiples of 1/64; cosine within the
// Q16.16 normalisation's rounding), best first, ties by id; a zero vector is refused in a cosine
// collection; every index and quantization answers with those scores, with recall@10 no more
// than 10 % below l2's on the same index and data (the issue's target); and two nodes (one in
// this process, one a separate process with one libuv thread) given the same writes agree on
// the state hash and the answers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';
import { cosine, dot, exactVectors, insertRows, observe, refused, sqL2 } from './payload-helpers';
import { assertBuilt, cleanup, startNode } from './replication-helpers';

/** Q16.16 normalisation moves each unit component by at most 2^-17: the cosine by well under this. */
const COS_TOL = 1e-4;
const DIM = 8;
type Hit = { id: number; score: number };

/** Best first by `score`, ties by id: the documented order for cosine and dot. */
function expectOrder(hits: Hit[], what: string): void {
  for (let i = 1; i < hits.length; i++) {
    const [a, b] = [hits[i - 1], hits[i]];
    assert.ok(a.score > b.score || (a.score === b.score && a.id < b.id), `${what}: ${JSON.stringify(a)} before ${JSON.stringify(b)}`);
  }
}

describe('cosine and dot metrics', () => {
  let s: TestServer;
  const post = (path: string, body: unknown) => request(s.base, path, { body });
  const search = async (collection: string, query: number[], k: number): Promise<Hit[]> => {
    const r = await post('/v1/search', { query, k, collection });
    assert.equal(r.status, 200, r.text);
    return r.json.results;
  };

  before(async () => {
    s = await startServer({ VALORI_DIM: '4' });
    for (const [name, metric] of [['cos', 'cosine'], ['dot', 'dot'], ['l2', 'l2']]) {
      const r = await post('/v1/namespaces', { name, dimension: 4, metric, index: 'brute' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.metric, metric === 'l2' ? 'squared_l2' : metric);
    }
  });
  after(async () => {
    await s.stop();
  });

  it('when a cosine collection is searched, then scores are cosine similarities, best first, equal directions tied by id', async () => {
    const rows = [[1, 0, 0, 0], [2, 0, 0, 0], [0, 1, 0, 0], [-1, 0, 0, 0], [1, 1, 0, 0], [3, 4, 0, 0], [3, 4, 0, 0], [0.25, -0.5, 2, 1]];
    assert.deepEqual(await insertRows(s.base, 'cos', rows), rows.map((_, i) => i));
    const hits = await search('cos', [1, 0, 0, 0], rows.length);
    // [1,0,0,0] and [2,0,0,0] normalise to the same integers: a tie, by id.
    assert.deepEqual(hits.map((h) => h.id), [0, 1, 4, 5, 6, 7, 2, 3]);
    for (const h of hits) assert.ok(Math.abs(h.score - cosine(rows[h.id], [1, 0, 0, 0])) <= COS_TOL, `id ${h.id}: ${h.score}`);
    assert.equal(hits[0].score, hits[1].score);
    assert.equal(hits[3].score, hits[4].score, 'copies score the same');
    const self = await search('cos', [3, 4, 0, 0], 1);
    assert.equal(self[0].id, 5);
    assert.ok(Math.abs(self[0].score - 1) <= 1e-6, `a vector with itself: ${self[0].score}`);
    const listed = (await request(s.base, '/v1/namespaces')).json.collections.find((c: { name: string }) => c.name === 'cos');
    assert.equal(listed.metric, 'cosine');
  });

  it('when a zero vector meets a cosine collection, then 400 INVALID_ARGUMENT and nothing changes', async () => {
    await refused(s.base, () => post('/v1/records', { values: [0, 0, 0, 0], collection: 'cos' }), 400, 'INVALID_ARGUMENT', /zero/);
    await refused(s.base, () => post('/v1/vectors/batch-insert', { batch: [[1, 1, 1, 1], [0, 0, 0, 0]], collection: 'cos' }), 400, 'INVALID_ARGUMENT', /zero/);
    const q = await post('/v1/search', { query: [0, 0, 0, 0], k: 1, collection: 'cos' });
    assert.equal(q.status, 400, q.text);
    assert.equal(q.json.code, 'INVALID_ARGUMENT');
  });

  it('when a dot collection is searched, then scores are exact dot products, largest first, ties by id', async () => {
    const rows = [[1, 2, 0, 0], [2, 1, 0, 0], [0.5, 0.5, 0.5, 0.5], [-1, -1, 0, 0], [3, 0, 0, 0], [1, 2, 0, 0]];
    await insertRows(s.base, 'dot', rows);
    const hits = await search('dot', [1, 1, 0, 0], rows.length);
    assert.deepEqual(hits, [{ id: 0, score: 3 }, { id: 1, score: 3 }, { id: 4, score: 3 }, { id: 5, score: 3 }, { id: 2, score: 1 }, { id: 3, score: -2 }]);
    // The zero vector is a valid dot-product vector: every score is 0, so ids in order.
    assert.deepEqual((await search('dot', [0, 0, 0, 0], 3)).map((h) => [h.id, h.score]), [[0, 0], [1, 0], [2, 0]]);
  });

  it('when random exact vectors are searched, then dot scores are exact and cosine scores within rounding, in order', async () => {
    const rows = exactVectors(7, 200, 4);
    const base = { cos: (await insertRows(s.base, 'cos', rows))[0], dot: (await insertRows(s.base, 'dot', rows))[0] };
    for (const q of exactVectors(8, 10, 4)) {
      const d = (await search('dot', q, 10)).filter((h) => h.id >= base.dot);
      const want = rows.map((v, i) => ({ id: base.dot + i, score: dot(v, q) })).sort((a, b) => b.score - a.score || a.id - b.id);
      assert.deepEqual(d, want.slice(0, d.length));
      const c = await search('cos', q, 20);
      expectOrder(c, 'cosine');
      for (const h of c.filter((x) => x.id >= base.cos)) assert.ok(Math.abs(h.score - cosine(rows[h.id - base.cos], q)) <= COS_TOL);
    }
  });

  it('when an l2 collection is searched, then the score is still the squared distance, ascending', async () => {
    await insertRows(s.base, 'l2', [[1, 0, 0, 0], [3, 0, 0, 0]]);
    assert.deepEqual(await search('l2', [0, 0, 0, 0], 2), [{ id: 0, score: 1 }, { id: 1, score: 9 }]);
  });
});

describe('cosine and dot on every index and quantization', () => {
  let s: TestServer;
  // Above the 1,024 live vectors at which IVF and the quantizers train.
  const rows = exactVectors(11, 1_500, DIM);
  const queries = exactVectors(12, 8, DIM);
  // l2 first: its recall on the same index and data is the yardstick for cosine and dot.
  const configs = ['l2', 'cosine', 'dot'].flatMap((metric) => ['brute', 'hnsw', 'ivf'].flatMap((index) => ['none', 'scalar', 'product'].map((quant) => ({ metric, index, quant }))));
  const recallL2 = new Map<string, number>();
  /** Higher is better, for every metric. */
  const goodness = (metric: string, v: number[], q: number[]) => (metric === 'dot' ? dot(v, q) : metric === 'cosine' ? cosine(v, q) : -sqL2(v, q));

  before(async () => {
    s = await startServer({ VALORI_DIM: String(DIM), VALORI_MAX_RECORDS: String(configs.length * rows.length) });
  });
  after(async () => {
    await s.stop();
  });

  for (const c of configs) {
    it(`when ${c.metric} runs on ${c.index} with ${c.quant} quantization, then hits carry the metric's score in its order and find the true neighbours`, async (t) => {
      const name = `${c.metric}-${c.index}-${c.quant}`;
      assert.equal((await request(s.base, '/v1/namespaces', { body: { name, dimension: DIM, metric: c.metric, index: c.index, quant: c.quant } })).status, 200);
      await insertRows(s.base, name, rows);
      let found = 0;
      for (const q of queries) {
        const r = await request(s.base, '/v1/search', { body: { query: q, k: 10, collection: name } });
        assert.equal(r.status, 200, r.text);
        const hits = r.json.results as Hit[];
        assert.equal(hits.length, 10);
        if (c.metric === 'l2') expectOrder(hits.map((h) => ({ id: h.id, score: -h.score })), name);
        else expectOrder(hits, name);
        for (const h of hits) {
          const want = c.metric === 'l2' ? sqL2(rows[h.id], q) : goodness(c.metric, rows[h.id], q);
          assert.ok(c.metric === 'cosine' ? Math.abs(h.score - want) <= COS_TOL : h.score === want, `${name}: id ${h.id} scored ${h.score}, expected ${want}`);
        }
        const truth = rows.map((v, id) => ({ id, v: goodness(c.metric, v, q) })).sort((a, b) => b.v - a.v || a.id - b.id).slice(0, 10);
        if (c.index === 'brute' && c.quant === 'none' && c.metric !== 'cosine') assert.deepEqual(hits.map((h) => h.id), truth.map((x) => x.id));
        // A hit counts when it is as good as the 10th true neighbour (cosine: up to rounding, as
        // f64 here may order near-ties differently from the kernel's integers).
        const tenth = truth[9].v - (c.metric === 'cosine' ? COS_TOL : 0);
        found += hits.filter((h) => goodness(c.metric, rows[h.id], q) >= tenth).length;
      }
      const recall = found / (queries.length * 10);
      t.diagnostic(`${name}: recall@10 ${recall.toFixed(3)}`);
      if (c.metric === 'l2') recallL2.set(`${c.index}-${c.quant}`, recall);
      else {
        const base = recallL2.get(`${c.index}-${c.quant}`);
        assert.ok(base !== undefined, 'the l2 run of this configuration came first');
        assert.ok(recall >= 0.9 * base, `${name}: recall@10 ${recall.toFixed(3)} is more than 10 % below l2's ${base.toFixed(3)}`);
      }
    });
  }
});

describe('determinism of cosine, dot and payloads across nodes and thread counts', () => {
  after(cleanup);

  /** The same writes on any node: collections of each metric, HNSW and IVF, payloads and patches. */
  async function writeSame(base: string): Promise<Hit[][]> {
    const rows = exactVectors(21, 1_200, DIM);
    const answers: Hit[][] = [];
    for (const [name, metric, index, quant] of [['c', 'cosine', 'hnsw', 'none'], ['d', 'dot', 'ivf', 'scalar'], ['e', 'l2', 'hnsw', 'product']]) {
      assert.equal((await request(base, '/v1/namespaces', { body: { name, dimension: DIM, metric, index, quant } })).status, 200);
      await insertRows(base, name, rows, rows.map((_, i) => ({ i, g: `g${i % 7}`, w: i / 8 })));
      assert.equal((await request(base, `/v1/records/3/metadata?collection=${name}`, { method: 'PATCH', body: { patched: true, g: 'g1' } })).status, 200);
      for (const q of exactVectors(22, 3, DIM)) {
        for (const f of [null, { g: 'g1' }, { w: { $gt: 50 } }]) {
          const r = await request(base, '/v1/search', { body: { query: q, k: 10, collection: name, metadata_filter: f } });
          assert.equal(r.status, 200, r.text);
          answers.push(r.json.results);
        }
      }
    }
    return answers;
  }

  it('when a node in this process and a separate process with UV_THREADPOOL_SIZE=1 get the same writes, then hashes and answers agree', async () => {
    assertBuilt();
    const inProcess = await startServer({ VALORI_DIM: String(DIM), VALORI_MAX_RECORDS: '10000' });
    const child = await startNode({ VALORI_DIM: String(DIM), VALORI_MAX_RECORDS: '10000', UV_THREADPOOL_SIZE: '1' });
    try {
      const [a, b] = [await writeSame(inProcess.base), await writeSame(child.base)];
      assert.deepEqual(b, a);
      assert.equal((await observe(child.base)).hash, (await observe(inProcess.base)).hash);
    } finally {
      await child.stop();
      await inProcess.stop();
    }
  });
});
