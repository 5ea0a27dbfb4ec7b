// The search lane (src/http/search-lane.ts) serves POST /search and /v1/search before Express.
// Express is the oracle: the same request sent through Express (the lane is off while the kernel
// declines, or for a caller the lane hands over) must get the same status, headers and body, and
// leave the same metric samples and access line. These tests also check that the lane really took
// the request (Express's handle never ran) where it should, and handed it over where it should.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, type Reply, type TestServer } from './helpers';

const ROOT = 'root-token-0123456789abcdef0123456789abcdef';

/** Counts the requests Express's app handles (the lane calls the app for what it hands over). */
function countExpress(s: TestServer): { count: number } {
  const seen = { count: 0 };
  const app = s.app as unknown as { handle: (...a: unknown[]) => unknown };
  const handle = app.handle.bind(app);
  app.handle = (...a: unknown[]) => {
    seen.count++;
    return handle(...a);
  };
  return seen;
}

/** A POST through node:http, which (unlike fetch) sends the Host header it is given. */
function post(base: string, path: string, raw: string, headers: Record<string, string>): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'POST', path, headers: { 'content-length': String(Buffer.byteLength(raw)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: h, text, json });
      });
    });
    req.on('error', reject);
    req.end(raw);
  });
}

/** Headers a client sees, without the two that differ per response. */
function headersOf(r: Reply): Record<string, string> {
  const out: Record<string, string> = {};
  r.headers.forEach((v, k) => {
    if (k !== 'date' && k !== 'x-request-id') out[k] = v;
  });
  return out;
}

function accessLine(s: TestServer, requestId: string): Record<string, unknown> {
  const line = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'access' && l.requestId === requestId);
  assert.ok(line, `no access line for ${requestId}`);
  const { timestamp: _t, ms: _ms, requestId: _id, pid: _pid, ...rest } = line;
  return rest;
}

async function metricCount(s: TestServer, pattern: RegExp): Promise<number> {
  const text = (await request(s.base, '/metrics', { token: ROOT })).text;
  const line = text.split('\n').find((l) => pattern.test(l));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('the search lane, auth off', () => {
  let s: TestServer;
  let express: { count: number };

  before(async () => {
    s = await startServer({ VALORI_DIM: '3', VALORI_ACCESS_LOG: 'on', VALORI_MAX_BODY_BYTES: '4096' });
    express = countExpress(s);
    assert.equal((await request(s.base, '/v1/vectors/batch_insert', { body: { batch: [[1, 2, 3], [3, 2, 1], [0, 0, 1]], metadata: [{ a: 1 }, null, { a: 2 }] } })).status, 200);
  });
  after(() => s.stop());

  /** Sends `body` to `path` as the lane serves it, then with the kernel declining (Express answers). */
  async function both(path: string, raw: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
    const before = express.count;
    const lane = await post(s.base, path, raw, headers);
    const laneExpress = express.count - before;
    const saved = s.kernel.searchJson;
    s.kernel.searchJson = async () => null;
    try {
      const general = await post(s.base, path, raw, headers);
      return { lane, general, laneExpress };
    } finally {
      s.kernel.searchJson = saved;
    }
  }

  it('when a search is answered in the lane, then Express never sees it and the answer, headers, metrics and access line are the route\'s', async () => {
    for (const [path, raw] of [
      ['/search', '{"query":[1,2,3],"k":2}'],
      ['/search', '{"query":[0,0,1],"k":3,"include":["metadata"]}'],
      ['/v1/search', '{"collection":"default","query":[3,2,1],"k":1}'],
    ] as const) {
      const okBefore = await metricCount(s, new RegExp(`^valori_http_request_duration_seconds_count\\{method="POST",route="${path}",status="200"\\}`));
      const { lane, general, laneExpress } = await both(path, raw);
      assert.equal(laneExpress, 0, `${path} ${raw}: the lane answered without Express`);
      assert.equal(lane.status, 200, lane.text);
      assert.equal(lane.text, general.text, `${path} ${raw}`);
      assert.deepEqual(headersOf(lane), headersOf(general));
      assert.match(lane.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
      assert.deepEqual(accessLine(s, lane.headers.get('x-request-id')!), accessLine(s, general.headers.get('x-request-id')!));
      assert.deepEqual(accessLine(s, lane.headers.get('x-request-id')!).route, path);
      const okAfter = await metricCount(s, new RegExp(`^valori_http_request_duration_seconds_count\\{method="POST",route="${path}",status="200"\\}`));
      assert.equal(okAfter - okBefore, 2, 'one request-duration sample each, under the route');
    }
  });

  it('when the caller sends its own request id, then the lane echoes it', async () => {
    const r = await request(s.base, '/search', { raw: '{"query":[1,2,3],"k":1}', headers: { 'content-type': 'application/json', 'x-request-id': 'lane-check-1' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-request-id'), 'lane-check-1');
    assert.equal(accessLine(s, 'lane-check-1').status, 200);
  });

  it('when a body is refused (bad request, too large, wrong media type, foreign Host), then the answer is the one Express gives, under the route', async () => {
    const big = `{"query":[1,2,3],"k":1,"pad":"${'x'.repeat(5000)}"}`;
    for (const [raw, headers, status, code] of [
      ['{"query":[1,2],"k":1}', { 'content-type': 'application/json' }, 400, 'DIMENSION_MISMATCH'],
      ['{"query":[1,2,3],"k":0}', { 'content-type': 'application/json' }, 400, 'INVALID_REQUEST'],
      ['{"query":[1,2,3],"k":1', { 'content-type': 'application/json' }, 400, 'INVALID_JSON'],
      [big, { 'content-type': 'application/json' }, 413, 'PAYLOAD_TOO_LARGE'],
      ['{"query":[1,2,3],"k":1}', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['{"query":[1,2,3],"k":1}', { 'content-type': 'application/json', host: 'evil.example' }, 421, 'MISDIRECTED_REQUEST'],
    ] as const) {
      const { lane, general } = await both('/search', raw, headers);
      assert.equal(lane.status, status, `${code}: ${lane.text}`);
      assert.ok(isErrorEnvelope(lane.json, code), lane.text);
      assert.equal(lane.text, general.text);
      assert.deepEqual(headersOf(lane), headersOf(general));
      assert.deepEqual(accessLine(s, lane.headers.get('x-request-id')!), accessLine(s, general.headers.get('x-request-id')!));
    }
    // Refused inside the route, as by Express: the error counter names the route.
    assert.ok((await metricCount(s, /^valori_http_errors_total\{route="\/search",code="PAYLOAD_TOO_LARGE"\}/)) >= 2);
  });

  it('when the path has a query string or another method, then Express serves it', async () => {
    const before = express.count;
    assert.equal((await request(s.base, '/search?x=1', { raw: '{"query":[1,2,3],"k":1}', headers: { 'content-type': 'application/json' } })).status, 200);
    assert.equal((await request(s.base, '/search', { method: 'GET' })).status, 405);
    assert.equal(express.count - before, 2);
  });
});

describe('the search lane, auth on', () => {
  let dir: string;
  let s: TestServer;
  let express: { count: number };
  let readA: string;
  let writeOnly: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-lane-'));
    s = await startServer({ VALORI_DIM: '2', VALORI_AUTH_TOKEN: ROOT, VALORI_API_KEYS_FILE: join(dir, 'keys.json') });
    express = countExpress(s);
    for (const name of ['a', 'b']) assert.equal((await request(s.base, '/v1/namespaces', { body: { name, dimension: 2 }, token: ROOT })).status, 200);
    for (const collection of ['a', 'b']) assert.equal((await request(s.base, '/records', { body: { values: [1, 2], collection }, token: ROOT })).status, 200);
    readA = (await request(s.base, '/v1/keys', { body: { scope: 'read', name: 'reader-a', collection: 'a' }, token: ROOT })).json.token;
    writeOnly = (await request(s.base, '/v1/keys', { body: { scope: 'read', name: 'reader' }, token: ROOT })).json.token;
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a caller may search, then the lane answers; when it may not, Express refuses it as always', async () => {
    let before = express.count;
    const mine = await request(s.base, '/search', { body: { query: [1, 2], k: 1, collection: 'a' }, token: readA });
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(mine.json.results, [{ id: 0, score: 0 }]);
    const anyReader = await request(s.base, '/v1/search', { body: { query: [1, 2], k: 1, collection: 'b' }, token: writeOnly });
    assert.equal(anyReader.status, 200, anyReader.text);
    assert.equal(express.count - before, 0, 'both answered in the lane');

    before = express.count;
    const none = await request(s.base, '/search', { body: { query: [1, 2], k: 1 } });
    assert.equal(none.status, 401);
    assert.ok(isErrorEnvelope(none.json, 'UNAUTHORIZED'));
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    const wrong = await request(s.base, '/search', { body: { query: [1, 2], k: 1 }, token: 'not-a-token-0123456789abcdef0123456789ab' });
    assert.equal(wrong.status, 401);
    const other = await request(s.base, '/search', { body: { query: [1, 2], k: 1, collection: 'b' }, token: readA });
    assert.equal(other.status, 403, other.text);
    assert.match(other.json.error, /restricted to collection "a"/);
    assert.equal(express.count - before, 3, 'each refusal handed to Express');
  });
});

describe('the search lane with CORS on', () => {
  it('when CORS is configured, then every search goes through Express and carries its CORS headers', async () => {
    const s = await startServer({ VALORI_DIM: '2', VALORI_AUTH_TOKEN: ROOT, VALORI_CORS_ORIGINS: 'https://app.example' });
    try {
      const express = countExpress(s);
      const r = await request(s.base, '/search', { body: { query: [1, 2], k: 1 }, token: ROOT, headers: { origin: 'https://app.example' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example');
      assert.equal(express.count, 1);
    } finally {
      await s.stop();
    }
  });
});
