// metadata_filter against a plain-JavaScript oracle (filter-oracle.ts, written from the contract):
// seeded random payloads (nested objects, arrays, mixed types, missing keys, integers spelled
// 1.0) and random filters over every operator are sent over HTTP to collections small enough
// that the planner always scans the matching ids exactly, so the hits must be exactly the
// oracle's matches, ordered by (distance, id). Then hand-written bad filters: 400 naming them.
// VALORI_FILTER_SEED repeats a run's choices.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compileFilter, FilterError, resolve, valuesAt, type Json } from './filter-oracle';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';
import { filter as randomFilter, Gen, payload as randomPayload, prng, used, writeJson } from './payload-random';

const seed = process.env.VALORI_FILTER_SEED ? Number(process.env.VALORI_FILTER_SEED) : 20_261_202;
const DIM = 4;
const RECORDS = 300;
const FILTERS = 200;

describe('the filter oracle itself (hand-written cases from the contract)', () => {
  const m: Json = { a: 1, s: 'red', t: [1, 'x', true, null, [2], { y: 3 }], o: { p: { q: 2.5 }, n: null }, z: null, e: {}, 'd.e': 1 };
  const ok = (f: unknown, want: boolean, md: Json = m) => assert.equal(compileFilter(f)(md), want, JSON.stringify(f));
  /** A record without metadata. */
  const bare = (f: unknown, want: boolean) => assert.equal(compileFilter(f)(undefined), want, JSON.stringify(f));

  it('when paths resolve, then only nested objects are walked and values() takes an array\'s scalars', () => {
    assert.equal(resolve(m, 'o.p.q'), 2.5);
    assert.equal(resolve(m, 't.0'), undefined, 'arrays are not walked');
    assert.equal(resolve(m, 'd.e'), undefined, 'a literal dotted key is not a path');
    assert.deepEqual(valuesAt(m, 't'), [1, 'x', true]);
    assert.deepEqual(valuesAt(m, 'z'), []);
    assert.deepEqual(valuesAt(m, 'o'), []);
  });

  it('when operators are evaluated, then they follow the contract', () => {
    ok({}, true);
    bare({}, true);
    ok({ a: 1 }, true);
    ok({ a: true }, false, { a: 1 } as Json);
    ok({ a: '1' }, false);
    ok({ t: 'x' }, true);
    ok({ t: 2 }, false, m);
    ok({ t: 3 }, false);
    ok({ a: { $ne: 2 } }, true);
    ok({ missing: { $ne: 2 } }, false);
    ok({ z: { $ne: 2 } }, true, m);
    ok({ a: { $gt: 0.5, $lt: 1 } }, false);
    ok({ a: { $gte: 1, $lte: 1 } }, true);
    ok({ s: { $gt: -1 } }, false);
    ok({ t: { $gte: 1 } }, true);
    ok({ 'o.p.q': { gte: 2, lte: 3 } }, true);
    ok({ 'o.p.q': { eq: 2.5 } }, true);
    ok({ a: { $in: [] } }, false);
    ok({ a: { $in: ['1', 1] } }, true);
    ok({ a: { $nin: ['1'] } }, true);
    ok({ missing: { $nin: ['1'] } }, false);
    ok({ z: { $exists: true } }, true);
    ok({ e: { $exists: true } }, true);
    ok({ 'o.n': { $exists: true } }, true);
    ok({ 'o.p.missing': { $exists: false } }, true);
    ok({ $not: { a: 1 } }, false);
    bare({ $not: { a: 1 } }, true);
    bare({ a: { $exists: false } }, true);
    bare({ a: { $ne: 1 } }, false);
    ok({ $or: [{ a: 2 }, { s: 'red' }] }, true);
    ok({ $and: [{ a: 1 }, { s: 'Red' }] }, false);
    ok({ a: 1, s: 'blue' }, false);
  });

  it('when a filter breaks a rule, then the oracle refuses it naming the operator and path', () => {
    const bad: [unknown, RegExp][] = [
      [{ a: { $regex: 'x' } }, /\$regex.*"a"/],
      [{ year: { $gt: '2020' } }, /\$gt needs a number, got string at "year"/],
      [{ a: { $in: 3 } }, /\$in/],
      [{ a: { $in: [[1]] } }, /\$in/],
      [{ a: { $in: [null] } }, /\$in/],
      [{ $and: [] }, /\$and/],
      [{ $or: [1] }, /\$or/],
      [{ a: null }, /"a"/],
      [{ a: [1] }, /"a"/],
      [{ a: { $eq: { x: 1 } } }, /\$eq/],
      [{ a: {} }, /"a"/],
      [{ a: { $eq: 1, gt: 2 } }, /"a"/],
      [{ a: { ne: 1 } }, /"ne"/],
      [{ a: { $exists: 1 } }, /\$exists/],
      [{ a: { $not: { $eq: 1 } } }, /\$not/],
      [{ $nor: [{ a: 1 }] }, /\$nor/],
      [{ '': 1 }, /path/],
      [{ 'a..b': 1 }, /path/],
      [[{ a: 1 }], /object/],
      [{ $or: Array.from({ length: 1100 }, (_, i) => ({ a: i })) }, /1024/],
      [{ a: { $in: Array.from({ length: 1025 }, (_, i) => i) } }, /1024/],
      [{ a: { $in: Array.from({ length: 700, }, (_, i) => `${i}`.padEnd(100, 'x')) } }, /65536/],
    ];
    let deep: unknown = { a: 1 };
    for (let i = 0; i < 20; i++) deep = { $not: deep };
    bad.push([deep, /16/]);
    for (const [f, why] of bad) assert.throws(() => compileFilter(f), (e: unknown) => e instanceof FilterError && why.test(e.message), JSON.stringify(f).slice(0, 80));
  });
});

describe('metadata_filter against the oracle, over HTTP', () => {
  let s: TestServer;
  const g = new Gen(prng(seed));
  const vectors = new Map<number, number[]>();
  const metadata = new Map<number, Json | undefined>();
  const live = new Set<number>();
  const post = (path: string, body: unknown) => request(s.base, path, { body });

  const coord = () => Math.round((g.next() * 8 - 4) * 16) / 16;
  const vec = () => Array.from({ length: DIM }, coord);
  const dist = (a: number[], b: number[]) => a.reduce((acc, x, i) => acc + (x - b[i]) ** 2, 0);

  /** Inserts `n` random records into both collections in one batch each (same ids in both). */
  async function insert(n: number): Promise<void> {
    const rows = Array.from({ length: n }, () => ({ v: vec(), md: randomPayload(g) }));
    const metaText = rows.map((r) => (r.md === null ? 'null' : writeJson(r.md, g)));
    for (const collection of ['brute', 'graph']) {
      const raw = `{"collection":${JSON.stringify(collection)},"batch":${JSON.stringify(rows.map((r) => r.v))},"metadata":[${metaText.join(',')}]}`;
      const r = await request(s.base, '/v1/vectors/batch-insert', { raw, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 200, r.text);
      if (collection === 'brute') {
        r.json.ids.forEach((id: number, i: number) => {
          vectors.set(id, rows[i].v);
          metadata.set(id, rows[i].md ?? undefined);
          live.add(id);
        });
      }
    }
  }

  /** Every filter's hits, on both collections, against the oracle. Returns how many matched some but not all. */
  async function compare(count: number): Promise<number> {
    let informative = 0;
    for (let i = 0; i < count; i++) {
      const f = randomFilter(g);
      const query = vec();
      const pred = compileFilter(f);
      const want = [...live].filter((id) => pred(metadata.get(id))).sort((x, y) => dist(vectors.get(x)!, query) - dist(vectors.get(y)!, query) || x - y);
      if (want.length > 0 && want.length < live.size) informative++;
      for (const collection of ['brute', 'graph']) {
        const r = await post('/v1/search', { query, k: vectors.size, collection, metadata_filter: f });
        assert.equal(r.status, 200, `${JSON.stringify(f)}: ${r.text}`);
        const got = r.json.results.map((h: { id: number }) => h.id);
        assert.deepEqual(got, want, `filter ${JSON.stringify(f)} on ${collection} (seed ${seed}, #${i})`);
        if (i % 5 === 0) {
          const small = await post('/v1/search', { query, k: 7, collection, metadata_filter: f });
          assert.deepEqual(small.json.results.map((h: { id: number }) => h.id), want.slice(0, 7), `k=7, filter ${JSON.stringify(f)} on ${collection}`);
        }
      }
    }
    return informative;
  }

  before(async () => {
    s = await startServer({ VALORI_DIM: String(DIM) });
    for (const [name, index] of [['brute', 'brute'], ['graph', 'hnsw']]) {
      assert.equal((await post('/v1/namespaces', { name, dimension: DIM, index })).status, 200);
    }
    await insert(RECORDS);
    // Deleted records never match, $not included.
    const ids = [...live];
    for (const [route, pick] of [['/v1/delete', ids.slice(10, 20)], ['/v1/soft-delete', ids.slice(40, 50)]] as const) {
      for (const id of pick) {
        for (const collection of ['brute', 'graph']) assert.equal((await post(route, { id, collection })).status, 200);
        live.delete(id);
      }
    }
  });
  after(async () => {
    await s.stop();
  });

  it(`when ${FILTERS} random filters are searched with k = every record, then the hits are exactly the oracle's matches by (distance, id)`, async () => {
    used.clear();
    const informative = await compare(FILTERS);
    assert.ok(informative >= FILTERS / 3, `only ${informative} filters matched some but not all records: the generator is too dull`);
    for (const op of ['implicit $eq', '0.3.1 form', '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$and', '$or', '$not', 'implicit $and']) {
      assert.ok((used.get(op) ?? 0) > 0, `the generator never used ${op}`);
    }
  });

  it('when payloads are replaced (PATCH and memory meta/set), then filters see only the new ones', async () => {
    const ids = [...live].slice(0, 60);
    for (const [i, id] of ids.entries()) {
      const md = randomPayload(g) ?? { replaced: true };
      for (const collection of ['brute', 'graph']) {
        const r =
          i % 2 === 0
            ? await request(s.base, `/v1/records/${id}/metadata?collection=${collection}`, { method: 'PATCH', body: md })
            : await post('/v1/memory/meta/set', { target_id: `rec:${id}`, metadata: md, collection });
        assert.equal(r.status, 200, r.text);
      }
      metadata.set(id, md);
    }
    await compare(FILTERS / 2);
  });

  it('when a filter is malformed, then 400 INVALID_ARGUMENT names the operator or path', async () => {
    const bad: [unknown, RegExp[]][] = [
      [{ a: { $regex: 'x' } }, [/\$regex/, /\ba\b/]],
      [{ year: { $gt: '2020' } }, [/\$gt/, /year/]],
      [{ year: { gte: 'x' } }, [/gte/, /year/]],
      [{ a: { $in: 3 } }, [/\$in/, /\ba\b/]],
      [{ a: { $in: [{ x: 1 }] } }, [/\$in/]],
      [{ $and: [] }, [/\$and/]],
      [{ $or: { a: 1 } }, [/\$or/]],
      [{ a: null }, [/\ba\b/]],
      [{ a: [1, 2] }, [/\ba\b/]],
      [{ a: { $eq: { x: 1 } } }, [/\$eq/, /\ba\b/]],
      [{ a: {} }, [/\ba\b/]],
      [{ a: { $eq: 1, gt: 2 } }, [/\ba\b/]],
      [{ a: { $exists: 'yes' } }, [/\$exists/, /\ba\b/]],
      [{ $nor: [{ a: 1 }] }, [/\$nor/]],
      [{ 'a..b': 1 }, [/path|segment/]],
      [5, [/object/]],
      [[{ a: 1 }], [/object/]],
      [{ $or: Array.from({ length: 1100 }, (_, i) => ({ a: i })) }, [/1,?024/]],
      [{ a: { $in: Array.from({ length: 700 }, (_, i) => `${i}`.padEnd(100, 'x')) } }, [/65,?536/]],
    ];
    let deep: unknown = { a: 1 };
    for (let i = 0; i < 20; i++) deep = { $not: deep };
    bad.push([deep, [/16/]]);
    for (const [f, names] of bad) {
      assert.throws(() => compileFilter(f), FilterError, 'the oracle refuses it too');
      const r = await post('/v1/search', { query: [0, 0, 0, 0], k: 3, collection: 'brute', metadata_filter: f });
      const what = JSON.stringify(f).slice(0, 100);
      assert.equal(r.status, 400, `${what}: ${r.text.slice(0, 300)}`);
      assert.ok(isErrorEnvelope(r.json, 'INVALID_ARGUMENT'), `${what}: ${r.text.slice(0, 300)}`);
      for (const re of names) assert.match(r.json.error, re, what);
    }
  });
});
