// valori-node 0.3.1's /v1 record routes and the timelines, through the real app on 127.0.0.1:0
// with an event log: what was written comes back (ids, vectors, tags, log indexes, events in
// order), replays are deduplicated, and bad input is a 4xx naming the problem that changes nothing.
// The graph routes are in v1-graph.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
/** One Q16.16 step: a stored component is within this of the value written. */
const Q = 2 ** -16;
const KEY_A = Array.from({ length: 16 }, (_, i) => i * 3);
const KEY_B = '00112233445566778899aabbccddeeff';
const ROW_KEY_1 = '0f0e0d0c0b0a09080706050403020100';
const ROW_KEY_3 = 'ffeeddccbbaa99887766554433221100';

describe('/v1 records, search and timeline (event log on)', () => {
  let s: TestServer;
  let dir: string;
  let startedMs: number;
  let endedMs: number;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => request(s.base, path, { body, headers });
  const get = (path: string) => request(s.base, path);
  const height = async (): Promise<number> => (await get('/v1/proof/state')).json.height;

  /** A refused request: the status, the code, a message matching `names`, and no new event. */
  async function refused(send: () => Promise<{ status: number; json: any }>, status: number, code: string, names: RegExp): Promise<void> {
    const h = await height();
    const r = await send();
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.ok(isErrorEnvelope(r.json, code), JSON.stringify(r.json));
    assert.match(r.json.error, names);
    assert.equal(await height(), h, 'a refused request wrote nothing');
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-v1-'));
    s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a record is inserted with a request_id, then it answers id, log_index and deduplicated, and a replay writes nothing', async () => {
    startedMs = Date.now();
    const body = { values: [0.5, -1.25, 3, 0.125], tag: 7, request_id: KEY_A };
    const r = await post('/v1/records', body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { id: 0, log_index: 1, deduplicated: false });
    const again = await post('/v1/records', body);
    assert.deepEqual(again.json, { id: 0, log_index: 1, deduplicated: true });
    assert.equal(await height(), 1);
    await refused(() => post('/v1/records', { ...body, values: [1, 1, 1, 1] }), 409, 'IDEMPOTENCY_KEY_REUSED', /./);
  });

  it("when metadata comes as 0.3.1's UTF-8 bytes with a text, then the record carries both and the hex request_id works", async () => {
    // "hi" is UTF-8, but not a JSON object.
    await refused(() => post('/v1/records', { values: [1, 0, 0, 0], metadata: [104, 105] }), 400, 'INVALID_REQUEST', /metadata.*not a JSON object/);
    const r = await post('/v1/records', { values: [1, 0, 0, 0], metadata: [...Buffer.from('{"k": "vé"}')], text: 'hello', request_id: KEY_B });
    assert.deepEqual(r.json, { id: 1, log_index: 2, deduplicated: false });
    const back = await get('/v1/records/1');
    assert.deepEqual(back.json, { id: 1, vector: [1, 0, 0, 0], metadata: { k: 'vé' }, text: 'hello', tag: 0 });
  });

  it('when a batch goes to the hyphenated path with per-row request_ids, then ids are consecutive and a replay returns them deduplicated', async () => {
    const body = { batch: [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0.1]], request_ids: [ROW_KEY_1, null, ROW_KEY_3], metadata: ['{"a":1}', null, null], texts: [null, 'x', null] };
    const r = await post('/v1/vectors/batch-insert', body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { ids: [2, 3, 4], deduplicated: false });
    // Not every row has a key: a replay cannot be recognised as one, and the kernel refuses it.
    await refused(() => post('/v1/vectors/batch-insert', body), 409, 'IDEMPOTENCY_KEY_REUSED', /./);
    const keyed = { batch: [[2, 2, 2, 2]], request_ids: ['aa'.repeat(16)] };
    const underscore = await post('/v1/vectors/batch_insert', keyed);
    assert.deepEqual(underscore.json, { ids: [5], deduplicated: false });
    const replay = await post('/v1/vectors/batch-insert', keyed);
    assert.deepEqual(replay.json, { ids: [5], deduplicated: true });
    assert.equal(await height(), 4);
  });

  it('when records are read back, then vectors round-trip within one Q16.16 step and tags are kept', async () => {
    assert.deepEqual((await get('/v1/records/0')).json, { id: 0, vector: [0.5, -1.25, 3, 0.125], metadata: null, text: null, tag: 7 });
    assert.deepEqual((await get('/v1/records/3')).json.vector, [0, 0, 1, 0]);
    const r4 = (await get('/v1/records/4')).json;
    assert.deepEqual(r4.vector.slice(0, 3), [0, 0, 0]);
    assert.ok(Math.abs(r4.vector[3] - 0.1) <= Q, `stored ${r4.vector[3]}`);
    const missing = await get('/v1/records/99');
    assert.equal(missing.status, 404);
    assert.ok(isErrorEnvelope(missing.json, 'NOT_FOUND'));
    const bad = await get('/v1/records/x');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /record id/);
  });

  it('when a second collection is written, then its ids start at 0 and neither collection sees the other', async () => {
    const c = await post('/v1/namespaces', { name: 'b', dimension: 3 });
    assert.equal(c.status, 200, c.text);
    assert.deepEqual((await post('/v1/records', { values: [1, 2, 3], collection: 'b' })).json, { id: 0, log_index: 6, deduplicated: false });
    assert.deepEqual((await post('/v1/records', { values: [3, 2, 1], collection: 'b', tag: 9 })).json, { id: 1, log_index: 7, deduplicated: false });
    assert.deepEqual((await get('/v1/records/0?collection=b')).json, { id: 0, vector: [1, 2, 3], metadata: null, text: null, tag: 0 });
    assert.deepEqual((await get('/v1/records/0')).json.vector, [0.5, -1.25, 3, 0.125]);
    assert.equal((await get('/v1/records/2?collection=b')).status, 404);
    const b = await post('/v1/search', { query: [1, 2, 3], k: 5, collection: 'b' });
    assert.deepEqual(b.json, { results: [{ id: 0, score: 0 }, { id: 1, score: 8 }] });
    const unknown = await get('/v1/records/0?collection=nope');
    assert.equal(unknown.status, 404);
    assert.ok(isErrorEnvelope(unknown.json, 'COLLECTION_NOT_FOUND'));
    await refused(() => post('/v1/records', { values: [1, 2, 3, 4], collection: 'b' }), 400, 'DIMENSION_MISMATCH', /expected 3, got 4/);
    await refused(() => post('/v1/records', { values: [1, 2, 3, 4], collection: 'nope' }), 404, 'COLLECTION_NOT_FOUND', /nope/);
  });

  it('when /v1/search is called, then hits come by (score, id) with exact squared distances', async () => {
    // From [1,0,0,0]: id 1 at 0, id 4 at 1 + 0.1^2 (as stored), ids 2 and 3 at 2 (tie by id), id 0 at 10.828125, id 5 at 13.
    const r = await post('/v1/search', { query: [1, 0, 0, 0], k: 6, rerank: true, consistency: 'local' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.results.map((h: { id: number }) => h.id), [1, 4, 2, 3, 0, 5]);
    const scores = r.json.results.map((h: { score: number }) => h.score);
    assert.deepEqual([scores[0], scores[2], scores[3], scores[4], scores[5]], [0, 2, 2, 10.828125, 13]);
    assert.ok(Math.abs(scores[1] - 1.01) < 1e-4);
    const tagged = await post('/v1/search', { query: [0, 0, 0, 0], k: 10, filter_tag: 7, metadata_filter: null });
    assert.deepEqual(tagged.json.results.map((h: { id: number }) => h.id), [0]);
  });

  it('when /v1/search carries a 0.3.1 field it cannot honour, then 400 names the field', async () => {
    const base = { query: [1, 0, 0, 0], k: 1 };
    const cases: [string, unknown][] = [
      ['as_of', '2026-01-01T00:00:00Z'],
      ['as_of_log_index', 3],
      ['decay_half_life_secs', 60],
      ['query_text', 'hello'],
      ['graph_rerank', { seed_count: 3 }],
    ];
    for (const [field, value] of cases) {
      const r = await post('/v1/search', { ...base, [field]: value });
      assert.equal(r.status, 400, field);
      assert.ok(isErrorEnvelope(r.json, 'INVALID_REQUEST'), field);
      assert.match(r.json.error, new RegExp(`^${field} is not supported`), field);
    }
    const typo = await post('/v1/search', { ...base, filter_tags: 1 });
    assert.equal(typo.status, 400);
    assert.match(typo.json.error, /"filter_tags"/);
  });

  it('when input is bad, then 4xx names the problem and nothing is written', async () => {
    await refused(() => post('/v1/records', { values: [1, 0, 0, 0], colour: 'red' }), 400, 'INVALID_REQUEST', /"colour"/);
    await refused(() => post('/v1/records', { values: [1, 0, 0, 0], request_id: KEY_A.slice(1) }), 400, 'INVALID_REQUEST', /request_id/);
    await refused(() => post('/v1/records', { values: [1, 0, 0, 0], request_id: KEY_B }, { 'Idempotency-Key': 'another' }), 400, 'INVALID_REQUEST', /Idempotency-Key/);
    await refused(() => post('/v1/vectors/batch-insert', { batch: [[1, 0, 0, 0], [1, 0, 0]] }), 400, 'DIMENSION_MISMATCH', /batch\[1\]/);
    await refused(() => post('/v1/vectors/batch-insert', { batch: [[1, 0, 0, 0]], request_ids: [null, null] }), 400, 'INVALID_REQUEST', /request_ids/);
    await refused(() => post('/v1/vectors/batch-insert', { batch: [[1, 0, 0, 0]], texts: [7] }), 400, 'INVALID_REQUEST', /texts\[0\]/);
    await refused(() => post('/v1/search', { query: [1, 0, 0], k: 1 }), 400, 'DIMENSION_MISMATCH', /query/);
  });

  it('when records are deleted through /v1, then they are gone from reads and search', async () => {
    assert.equal((await post('/v1/delete', { id: 3, request_id: Array(16).fill(1) })).status, 200);
    assert.equal((await post('/v1/soft-delete', { id: 2 })).status, 200);
    endedMs = Date.now();
    assert.equal((await get('/v1/records/3')).status, 404);
    assert.equal((await get('/v1/records/2')).status, 404, 'a soft-deleted record reads as deleted');
    const r = await post('/v1/search', { query: [1, 0, 0, 0], k: 10 });
    assert.deepEqual(r.json.results.map((h: { id: number }) => h.id), [1, 4, 0, 5]);
  });

  // Written so far, in order: 1-2 InsertRecord 0, 1; 3 InsertBatch 2..4; 4 InsertBatch 5;
  // 5 the collection b; 6-7 InsertRecord 0, 1 in b; 8 DeleteRecord 3; 9 SoftDeleteRecord 2.
  it('when /v1/timeline is read, then it lists every event in log order with its collection, ids and commit time', async () => {
    const r = await get('/v1/timeline');
    assert.equal(r.status, 200, r.text);
    const ev = r.json.events;
    assert.equal(r.json.total, 9);
    assert.deepEqual(ev.map((e: { log_index: number }) => e.log_index), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const types = ev.map((e: { event_type: string }) => e.event_type);
    assert.deepEqual([...types.slice(0, 4), ...types.slice(5)], ['InsertRecord', 'InsertRecord', 'InsertBatch', 'InsertBatch', 'InsertRecord', 'InsertRecord', 'DeleteRecord', 'SoftDeleteRecord']);
    assert.match(types[4], /Collection/);
    assert.deepEqual(ev.map((e: { record_id?: number }) => e.record_id), [0, 1, 2, 5, undefined, 0, 1, 3, 2]);
    assert.deepEqual(ev.map((e: { collection: string }) => e.collection), ['default', 'default', 'default', 'default', 'b', 'b', 'b', 'default', 'default']);
    let last = 0;
    for (const e of ev) {
      const ms = Date.parse(e.timestamp_iso);
      assert.ok(ms >= startedMs && ms <= endedMs, `${e.timestamp_iso} is within the test's writes`);
      assert.equal(e.timestamp_unix, Math.floor(ms / 1000));
      assert.ok(ms >= last, 'commit times never decrease along the log');
      last = ms;
    }
  });

  it('when /v1/timeline is paged, filtered by collection or bounded by time, then it answers exactly that slice', async () => {
    const all = (await get('/v1/timeline')).json.events as { log_index: number; timestamp_iso: string }[];
    const indexes = (r: { json: any }) => r.json.events.map((e: { log_index: number }) => e.log_index);
    const p1 = await get('/v1/timeline?limit=4');
    assert.deepEqual([indexes(p1), p1.json.next_from_index, p1.json.total], [[1, 2, 3, 4], 5, 9]);
    const p2 = await get('/v1/timeline?from_index=5&limit=4');
    assert.deepEqual([indexes(p2), p2.json.next_from_index], [[5, 6, 7, 8], 9]);
    const p3 = await get('/v1/timeline?from_index=9&limit=4');
    assert.deepEqual([indexes(p3), 'next_from_index' in p3.json], [[9], false]);
    const b = await get('/v1/timeline?collection=b');
    assert.deepEqual([indexes(b), b.json.total], [[5, 6, 7], 3]);
    // Times: everything at or after event 6's stamp, and everything at or before event 3's.
    const t6 = all[5].timestamp_iso;
    const t3 = all[2].timestamp_iso;
    const since = indexes(await get(`/v1/timeline?from=${t6}`));
    assert.deepEqual(since, all.filter((e) => Date.parse(e.timestamp_iso) >= Date.parse(t6)).map((e) => e.log_index));
    assert.ok(since.includes(6) && since.includes(9));
    const until = indexes(await get(`/v1/timeline?to=${t3}`));
    assert.deepEqual(until, all.filter((e) => Date.parse(e.timestamp_iso) <= Date.parse(t3)).map((e) => e.log_index));
    assert.ok(until.includes(1) && until.includes(3));
    // A zone offset whose + was not percent-encoded arrives as a space, and still counts as +.
    const t6Plus1h = new Date(Date.parse(t6) + 3_600_000).toISOString().replace('Z', '+01:00');
    assert.deepEqual(indexes(await get(`/v1/timeline?from=${t6Plus1h}`)), since);
    const future = await get('/v1/timeline?from=2999-01-01T00:00:00Z');
    assert.deepEqual([future.json.events, future.json.total], [[], 9]);
  });

  it('when /v1/timeline gets bad parameters, then 400 names them', async () => {
    for (const [query, names] of [
      ['from=yesterday', /^from must be an ISO-8601 time/],
      ['to=2026-13-45T00:00:00Z', /^to must be an ISO-8601 time/],
      ['from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', /from is later than to/],
      ['limit=0', /^limit must be an integer from 1 to 10000/],
      ['limit=10001', /^limit/],
      ['from_index=-1', /^from_index/],
      ['collection=bad!', /collection/],
    ] as const) {
      const r = await get(`/v1/timeline?${query}`);
      assert.equal(r.status, 400, query);
      assert.match(r.json.error, names, query);
    }
  });

  it("when v0.1.0's /timeline is read, then each event is a line in v0.1.0's format, bounded and paged by from_index", async () => {
    const r = await get('/timeline');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.length, 9);
    assert.deepEqual(r.json.slice(0, 4), [
      'Event ID 0: InsertRecord (Record 0, Tag: 7)',
      'Event ID 1: InsertRecord (Record 1, Tag: 0)',
      'Event ID 2: InsertBatch (Records 2..4)',
      'Event ID 3: InsertBatch (Record 5)',
    ]);
    assert.match(r.json[4], /^Event ID 4: \w*Collection/);
    assert.deepEqual(r.json.slice(5), [
      'Event ID 5: InsertRecord (Record 0, Tag: 0) in b',
      'Event ID 6: InsertRecord (Record 1, Tag: 9) in b',
      'Event ID 7: DeleteRecord (Record 3)',
      'Event ID 8: SoftDeleteRecord (Record 2)',
    ]);
    assert.deepEqual((await get('/timeline?from_index=8&limit=1')).json, ['Event ID 7: DeleteRecord (Record 3)']);
    assert.equal((await get('/timeline?limit=10001')).status, 400);
  });

  it('when GET /v1/version, then text/plain with the package version', async () => {
    const r = await get('/v1/version');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(r.text, VERSION);
  });
});

describe('/v1 timelines without an event log', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4' });
  });
  after(() => s.stop());

  it('when either timeline is asked for, then 400 NOT_ENABLED names VALORI_EVENT_LOG_PATH', async () => {
    for (const path of ['/v1/timeline', '/timeline']) {
      const r = await request(s.base, path);
      assert.equal(r.status, 400, path);
      assert.ok(isErrorEnvelope(r.json, 'NOT_ENABLED'), path);
      assert.match(r.json.error, /VALORI_EVENT_LOG_PATH/);
    }
  });
});

describe('/v1 routes on a follower', () => {
  let s: TestServer;
  let dir: string;
  const LEADER = 'http://leader.example:3000';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-v1-ro-'));
    // In-process the follower loop never starts: only the routing is under test.
    s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_FOLLOWER_OF: LEADER });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a /v1 write reaches a follower, then 307 to the same request on the leader, and reads are served locally', async () => {
    const writes: [string, string, unknown][] = [
      ['POST', '/v1/records', { values: [1, 0, 0, 0] }],
      ['POST', '/v1/vectors/batch-insert', { batch: [] }],
      ['POST', '/v1/graph/node', { kind: 1 }],
      ['POST', '/v1/graph/edge', { from: 0, to: 0, kind: 1 }],
      ['DELETE', '/v1/graph/node/0?collection=default', undefined],
    ];
    for (const [method, path, body] of writes) {
      const r = await fetch(`${s.base}${path}`, { method, redirect: 'manual', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      assert.equal(r.status, 307, path);
      assert.equal(r.headers.get('location'), `${LEADER}${path}`);
      assert.ok(isErrorEnvelope(await r.json(), 'NOT_LEADER'), path);
    }
    assert.deepEqual((await request(s.base, '/v1/search', { body: { query: [1, 0, 0, 0], k: 1, consistency: 'local' } })).json, { results: [] });
    assert.equal((await request(s.base, '/v1/graph/nodes')).status, 200);
    assert.equal((await request(s.base, '/v1/timeline')).status, 200);
  });

  it('when a linearizable search reaches a follower, then 400 says to ask the leader', async () => {
    const r = await request(s.base, '/v1/search', { body: { query: [1, 0, 0, 0], k: 1, consistency: 'linearizable' } });
    assert.equal(r.status, 400);
    assert.ok(isErrorEnvelope(r.json, 'INVALID_REQUEST'));
    assert.match(r.json.error, /linearizable.*leader/);
  });
});
