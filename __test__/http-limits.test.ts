// Issue 9 (bounded under hostile input), shell side, in-process: search knobs, closed schemas,
// body bytes / encoding / structure / parse budget, batch vs event size, search_vector response
// size, proof caching and the follower's redirect Location. Every hostile request answers a 4xx
// (or 503 with Retry-After) naming its limit, changes nothing, and the node keeps serving.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ConfigError, loadConfig, MAX_EVENT_BYTES } from '../src/config';
import { MAX_JSON_DEPTH, ParseBudget, scanJson, type BodyLimits } from '../src/http/body';
import { checkBatchFitsEvent } from '../src/http/routes/records';
import { pathAndQuery } from '../src/replication/read-only';
import { isErrorEnvelope, request, startServer, vector, type Reply, type TestServer } from './helpers';

const EVENT_LIMIT = 64 * 1024 * 1024;

function expectError(r: Reply, status: number, code: string, names: RegExp): { error: string } {
  assert.equal(r.status, status, r.text);
  assert.ok(isErrorEnvelope(r.json, code), `expected ${code}, got ${r.text.slice(0, 300)}`);
  assert.match(r.json.error, names);
  return r.json;
}

const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

/** Raw HTTP over a socket: whatever the server writes until it closes (bounded by `ms`). */
function rawExchange(port: number, text: string, ms = 10_000): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ data, closed: false });
    }, ms);
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ data, closed: true });
    });
    sock.write(text);
  });
}

describe('search knobs and closed schemas (H1, L5, L7)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_INDEX: 'hnsw', VALORI_MAX_EF: '500', VALORI_MAX_NPROBE: '64', VALORI_MAX_BATCH_ROWS: '3' });
    await request(s.base, '/v1/vectors/batch_insert', { body: { batch: [vector(4, 1), vector(4, 2), vector(4, 3)] } });
  });
  after(() => s.stop());

  it('when ef or nprobe is above its cap (up to 2^32-1), then 400 naming VALORI_MAX_EF / VALORI_MAX_NPROBE, and the node still searches', async () => {
    for (const ef of [501, 4_294_967_295]) {
      expectError(await request(s.base, '/search', { body: { query: vector(4, 9), k: 1, ef } }), 400, 'INVALID_REQUEST', /ef must be an integer from 1 to 500 \(VALORI_MAX_EF\)/);
      expectError(await request(s.base, '/v1/memory/search_vector', { body: { query_vector: vector(4, 9), k: 1, ef } }), 400, 'INVALID_REQUEST', /VALORI_MAX_EF/);
    }
    expectError(await request(s.base, '/search', { body: { query: vector(4, 9), k: 1, nprobe: 4_294_967_295 } }), 400, 'INVALID_REQUEST', /nprobe must be an integer from 1 to 64 \(VALORI_MAX_NPROBE\)/);
    const ok = await request(s.base, '/search', { body: { query: vector(4, 1), k: 1, ef: 500, nprobe: 64 } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.results[0].id, 0);
  });

  it('when VALORI_MAX_K, VALORI_MAX_EF or VALORI_MAX_NPROBE is set above its hard range, then the config is refused', () => {
    for (const [env, value] of [['VALORI_MAX_K', '100001'], ['VALORI_MAX_EF', '1000001'], ['VALORI_MAX_NPROBE', '4294967295']]) {
      assert.throws(() => loadConfig({ [env]: value }), (e: unknown) => e instanceof ConfigError && e.variable === env);
    }
    // A body the limits accept must fit the parse budget alone, or it would get 503 for ever.
    assert.throws(() => loadConfig({ VALORI_MAX_PARSE_BYTES: '1048576' }), (e: unknown) => e instanceof ConfigError && e.variable === 'VALORI_MAX_PARSE_BYTES' && /VALORI_MAX_BATCH_BODY_BYTES/.test(e.message));
    assert.equal(loadConfig({}).maxEf, 10_000);
    assert.equal(loadConfig({}).maxNprobe, 65_536);
  });

  it('when a batch has more rows than VALORI_MAX_BATCH_ROWS, then 400 naming it and nothing is inserted', async () => {
    const before = (await request(s.base, '/health')).json.records.live;
    const rows = [1, 2, 3, 4].map((i) => vector(4, i));
    expectError(await request(s.base, '/v1/vectors/batch_insert', { body: { batch: rows } }), 400, 'INVALID_REQUEST', /more than 3 items \(VALORI_MAX_BATCH_ROWS\)/);
    assert.equal((await request(s.base, '/health')).json.records.live, before);
  });

  it('when target_id is longer than 1024 characters or tags has more than 1024 items, then 400', async () => {
    expectError(await request(s.base, '/v1/memory/meta/set', { body: { target_id: 'k'.repeat(1025), metadata: 1 } }), 400, 'INVALID_REQUEST', /target_id has more than 1024 characters/);
    expectError(await request(s.base, `/v1/memory/meta/get?target_id=${'k'.repeat(1025)}`), 400, 'INVALID_REQUEST', /1024/);
    const tags = Array.from({ length: 1025 }, () => 't');
    expectError(await request(s.base, '/v1/memory/upsert_vector', { body: { vector: vector(4, 5), tags } }), 400, 'INVALID_REQUEST', /tags has more than 1024 items/);
  });
});

describe('request bodies (H2, L1)', () => {
  let s: TestServer;
  before(async () => {
    const MiB = '1048576';
    s = await startServer({ VALORI_DIM: '4', VALORI_MAX_PARSE_BYTES: MiB, VALORI_MAX_BODY_BYTES: MiB, VALORI_MAX_BATCH_BODY_BYTES: MiB });
  });
  after(() => s.stop());

  it('when the body is gzip- or br-compressed, then 415 naming Content-Encoding, and nothing is inflated', async () => {
    const body = gzipSync(JSON.stringify({ values: [1, 2, 3, 4] }));
    for (const encoding of ['gzip', 'br', 'deflate']) {
      const res = await fetch(`${s.base}/records`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body });
      const r: Reply = { status: res.status, headers: res.headers, text: await res.text(), json: undefined };
      r.json = JSON.parse(r.text);
      expectError(r, 415, 'UNSUPPORTED_MEDIA_TYPE', new RegExp(`Content-Encoding "${encoding}"`));
    }
    assert.equal((await request(s.base, '/health')).json.records.live, 0);
  });

  it(`when arrays or objects nest deeper than ${MAX_JSON_DEPTH} (in metadata, a vector or the query), then 400 naming the limit, never a 500`, async () => {
    const deepMeta = `{"target_id":"d","metadata":${nested(MAX_JSON_DEPTH)}}`;
    expectError(await request(s.base, '/v1/memory/meta/set', { raw: deepMeta, headers: { 'content-type': 'application/json' } }), 400, 'INVALID_REQUEST', /more than 64 levels deep/);
    const deepQuery = `{"query":${nested(5_000)},"k":1}`;
    expectError(await request(s.base, '/search', { raw: deepQuery, headers: { 'content-type': 'application/json' } }), 400, 'INVALID_REQUEST', /64 levels/);
    // One level less is within the limit: stored, and read back as sent.
    const okMeta = `{"target_id":"d","metadata":${nested(MAX_JSON_DEPTH - 1)}}`;
    assert.equal((await request(s.base, '/v1/memory/meta/set', { raw: okMeta, headers: { 'content-type': 'application/json' } })).status, 200);
    assert.equal(JSON.stringify((await request(s.base, '/v1/memory/meta/get?target_id=d')).json.metadata), nested(MAX_JSON_DEPTH - 1));
  });

  it('when a body holds more arrays/objects than any request needs, then 400 naming the count before it is parsed', async () => {
    const raw = `{"target_id":"x","metadata":[${Array.from({ length: 70_000 }, () => '{}').join(',')}]}`;
    expectError(await request(s.base, '/v1/memory/meta/set', { raw, headers: { 'content-type': 'application/json' } }), 400, 'INVALID_REQUEST', /more than 65536 JSON arrays and objects/);
  });

  it('when the scan meets brackets inside strings, then they do not count', () => {
    const limits: BodyLimits = {
      maxBytes: 1 << 20,
      bytesSetting: 'X',
      containers: { max: 2, code: 'INVALID_REQUEST', why: 'test' },
      elements: { max: 5, code: 'PAYLOAD_TOO_LARGE', why: 'test' },
    };
    scanJson(Buffer.from('{"a":"[[[{{{,,,,,,\\"[[[","b":[1,2]}'), limits);
    assert.throws(() => scanJson(Buffer.from('[[],[]]'), limits), /more than 2 JSON arrays and objects: test/);
    assert.throws(() => scanJson(Buffer.from('[1,2,3,4,5,6]'), limits), /more than 5 JSON values: test/);
  });

  it('when body bytes held at once would exceed VALORI_MAX_PARSE_BYTES, then 503 SERVER_BUSY with Retry-After; declaring a large body without sending it holds nothing; the budget comes back', async () => {
    const port = Number(new URL(s.base).port);
    const padded = `{"query":[0,0,0,0],"k":1}${' '.repeat(200 * 1024)}`;
    const search = () => request(s.base, '/search', { raw: padded, headers: { 'content-type': 'application/json' } });
    const head = (length: number) =>
      `POST /search HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    // Declared but not sent: a slow client must not reserve the budget with a header alone.
    const idle: Socket = connect(port, '127.0.0.1');
    idle.on('error', () => undefined);
    idle.write(head(900 * 1024));
    for (let i = 0; i < 5; i++) {
      const r = await search();
      assert.equal(r.status, 200, `a declared but unsent body holds no budget: ${r.text}`);
    }
    idle.destroy();
    // Sent but not finished: 900 KiB received of the 1 MiB budget are held until the request ends.
    // The holder's declared 1000 KiB is itself refused when it arrives while a search's bytes are
    // held (its declaration cannot fit next to them): then it gets a 503 and is sent again.
    let holder: Socket | undefined;
    let busy: Reply | undefined;
    for (let attempt = 0; attempt < 20 && busy === undefined; attempt++) {
      holder?.destroy();
      const h: Socket = connect(port, '127.0.0.1');
      holder = h;
      let refused = false;
      h.on('error', () => undefined);
      h.on('data', (d: Buffer) => {
        if (d.toString('latin1').startsWith('HTTP/1.1 503')) refused = true;
      });
      h.write(head(1000 * 1024) + `{"query":[0,0,0,0],"k":1}${' '.repeat(900 * 1024)}`);
      for (let i = 0; i < 50 && busy === undefined && !refused; i++) {
        const r = await search();
        if (r.status === 503) busy = r;
        else assert.equal(r.status, 200, r.text);
      }
    }
    assert.ok(busy, 'a 200 KiB body is refused while 900 KiB of the 1 MiB budget are held');
    expectError(busy, 503, 'SERVER_BUSY', /VALORI_MAX_PARSE_BYTES = 1048576/);
    assert.equal(busy.headers.get('retry-after'), '1');
    holder?.destroy();
    let ok: Reply | undefined;
    for (let i = 0; i < 200 && ok === undefined; i++) {
      const r = await search();
      if (r.status === 200) ok = r;
    }
    assert.ok(ok, 'the budget is released when the holder goes away');
    const budget = new ParseBudget(10);
    assert.equal(budget.tryTake(6), true);
    assert.equal(budget.tryTake(5), false);
    budget.release(6);
    assert.equal(budget.inUse, 0);
  });
});

describe('batch size against the event limit (H3, shell side)', () => {
  it('when rows x dim x 4 plus the header exceeds 64 MiB, then checkBatchFitsEvent refuses with 413 naming the limit; the largest fitting batch passes', () => {
    // 276 x 60,787 = 16,777,212 components: 67,108,848 bytes + 13 of header, 3 bytes under the limit.
    checkBatchFitsEvent(276, 60_787);
    assert.throws(() => checkBatchFitsEvent(277, 60_787), (e: { code?: string; status?: number; message: string }) => e.code === 'PAYLOAD_TOO_LARGE' && e.status === 413 && /67108864 bytes \(276 rows at this dimension\)/.test(e.message));
    assert.throws(() => checkBatchFitsEvent(10_000, 1_678), /at most 67108864 bytes/);
    checkBatchFitsEvent(10_000, 1_677);
  });

  it('when the kernel reports its event limit, then it is the one the shell enforces (TS constant, SSE cap)', async () => {
    const s = await startServer({ VALORI_DIM: '4' });
    try {
      assert.equal(s.kernel.stats().maxEventBytes, EVENT_LIMIT);
      assert.equal(MAX_EVENT_BYTES, EVENT_LIMIT);
    } finally {
      await s.stop();
    }
  });

  it('when a batch over the event limit is posted, then 413 PAYLOAD_TOO_LARGE before the kernel, and nothing is inserted', async () => {
    // 256 rows x 65,536: exactly 64 MiB of components, plus the header: one event too large.
    const s = await startServer({ VALORI_DIM: '65536' });
    try {
      const row = `[${'1,'.repeat(65_535)}1]`;
      const raw = `{"batch":[${Array.from({ length: 256 }, () => row).join(',')}]}`;
      const r = await request(s.base, '/v1/vectors/batch_insert', { raw, headers: { 'content-type': 'application/json' } });
      expectError(r, 413, 'PAYLOAD_TOO_LARGE', /256 rows x 65536 components .* at most 67108864 bytes \(255 rows/);
      const h = (await request(s.base, '/health')).json;
      assert.equal(h.records.live, 0);
      assert.equal(h.read_only, false);
    } finally {
      await s.stop();
    }
  });
});

describe('search_vector response (M2)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_MAX_RESPONSE_BYTES: '65536' });
  });
  after(() => s.stop());

  it('when k is above 1000, then 400 naming the route cap', async () => {
    expectError(await request(s.base, '/v1/memory/search_vector', { body: { query_vector: vector(4, 1), k: 1001 } }), 400, 'INVALID_REQUEST', /k must be an integer from 1 to 1000 \(VALORI_MAX_K, and at most 1000 on this route\)/);
  });

  it('when hits carry metadata, then it comes back exactly as stored; when the answer would exceed VALORI_MAX_RESPONSE_BYTES, then 413 RESPONSE_TOO_LARGE', async () => {
    const metas = [
      { text: 'é'.repeat(10_000), n: [1, 2.5, null, true], nested: { a: { b: ['ü', '\u2028'] } } },
      { text: 'x'.repeat(30_000) },
      { text: 'y'.repeat(30_000) },
    ];
    for (let i = 0; i < metas.length; i++) {
      const r = await request(s.base, '/v1/memory/upsert_vector', { body: { vector: vector(4, i), metadata: metas[i] } });
      assert.equal(r.status, 200, r.text);
    }
    const one = await request(s.base, '/v1/memory/search_vector', { body: { query_vector: vector(4, 0), k: 1 } });
    assert.equal(one.status, 200, one.text);
    assert.match(one.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(one.json.results, [{ memory_id: 'rec:0', record_id: 0, score: one.json.results[0].score, metadata: metas[0] }]);
    assert.equal(typeof one.json.results[0].score, 'number');
    expectError(await request(s.base, '/v1/memory/search_vector', { body: { query_vector: vector(4, 0), k: 3 } }), 413, 'RESPONSE_TOO_LARGE', /larger than 65536 bytes \(VALORI_MAX_RESPONSE_BYTES\)/);
  });
});

describe('proof caching (M6)', () => {
  it('when GET /v1/proof/state is polled at one height, then the state is hashed once; a write or a restore hashes again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valori-proof-'));
    const s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') });
    try {
      let hashes = 0;
      const original = s.kernel.stateProof.bind(s.kernel);
      s.kernel.stateProof = () => {
        hashes++;
        return original();
      };
      await request(s.base, '/records', { body: { values: vector(4, 1) } });
      const first = await request(s.base, '/v1/proof/state');
      for (let i = 0; i < 5; i++) assert.deepEqual((await request(s.base, '/v1/proof/state')).json, first.json);
      assert.equal(hashes, 1);
      await request(s.base, '/records', { body: { values: vector(4, 2) } });
      const second = await request(s.base, '/v1/proof/state');
      assert.equal(hashes, 2);
      assert.equal(second.json.height, first.json.height + 1);
      assert.notEqual(second.json.final_state_hash, first.json.final_state_hash);
      await s.kernel.restoreSnapshot(await s.kernel.snapshotBytes(), true);
      const third = await request(s.base, '/v1/proof/state');
      assert.equal(hashes, 3, 'a restore invalidates the cached proof');
      assert.equal(third.json.final_state_hash, second.json.final_state_hash);
    } finally {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('follower URL and redirect Location (L8)', () => {
  it('when VALORI_FOLLOWER_OF has user:pass@, then the config is refused naming it', () => {
    assert.throws(
      () => loadConfig({ VALORI_FOLLOWER_OF: 'http://u:p@leader:3000', VALORI_EVENT_LOG_PATH: '/tmp/x.log' }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'VALORI_FOLLOWER_OF' && /credentials/.test(e.message) && !e.message.includes('u:p'),
    );
  });

  it('when a write arrives in absolute form, then the 307 Location is the leader plus the path and query only', async () => {
    assert.equal(pathAndQuery('/records?x=1'), '/records?x=1');
    assert.equal(pathAndQuery('http://evil.example/records?x=1'), '/records?x=1');
    const dir = mkdtempSync(join(tmpdir(), 'valori-loc-'));
    const s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_FOLLOWER_OF: 'http://127.0.0.1:9' });
    try {
      const port = Number(new URL(s.base).port);
      const body = '{"values":[1,2,3,4]}';
      const r = await rawExchange(port, `POST http://evil.example/records?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      assert.match(r.data, /^HTTP\/1\.1 307 /);
      assert.match(r.data, /\r\nLocation: http:\/\/127\.0\.0\.1:9\/records\?x=1\r\n/i);
    } finally {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
