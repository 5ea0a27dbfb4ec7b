// CORS (VALORI_CORS_ORIGINS): preflights answered before auth for listed origins, Allow-Origin on
// actual responses, nothing for other origins, nothing at all when unset; how it combines with
// the auth-off browser guard; the boot-time validation of the variable.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config';
import { isErrorEnvelope, request, startServer, type Reply, type TestServer } from './helpers';

const TOKEN = 'cors-test-token-0123456789abcdef0123';
const APP = 'https://app.example.com';
const DEV = 'http://localhost:5173';
const EVIL = 'https://evil.example';

function preflight(base: string, path: string, origin: string, extra: Record<string, string> = {}): Promise<Reply> {
  return request(base, path, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key', ...extra },
  });
}

/** The comma-separated list of a header, lower-cased, for membership checks. */
function list(r: Reply, name: string): string[] {
  return (r.headers.get(name) ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
}

function corsHeaders(r: Reply): string[] {
  return [...r.headers.keys()].filter((k) => k.startsWith('access-control-'));
}

describe('CORS with auth on and VALORI_CORS_ORIGINS listing two origins', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_AUTH_TOKEN: TOKEN, VALORI_CORS_ORIGINS: ` ${APP}, ${DEV} ` });
  });
  after(() => s.stop());

  it('when a listed origin sends a preflight without a token, then 204 with the allowed methods, headers and max-age', async () => {
    for (const origin of [APP, DEV]) {
      const r = await preflight(s.base, '/records', origin);
      assert.equal(r.status, 204, `${origin}: ${r.text}`);
      assert.equal(r.text, '');
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
      assert.ok(list(r, 'vary').includes('origin'));
      for (const m of ['get', 'post', 'delete']) assert.ok(list(r, 'access-control-allow-methods').includes(m), m);
      for (const h of ['authorization', 'content-type', 'idempotency-key', 'traceparent', 'x-request-id']) {
        assert.ok(list(r, 'access-control-allow-headers').includes(h), `${h} in ${r.headers.get('access-control-allow-headers')}`);
      }
      assert.equal(r.headers.get('access-control-max-age'), '600');
      assert.equal(r.headers.get('access-control-allow-credentials'), null, 'no cookies are involved');
    }
  });

  it('when a preflight asks for private-network access from a listed origin, then it is granted; otherwise not mentioned', async () => {
    const pna = await preflight(s.base, '/search', APP, { 'access-control-request-private-network': 'true' });
    assert.equal(pna.status, 204);
    assert.equal(pna.headers.get('access-control-allow-private-network'), 'true');
    assert.equal((await preflight(s.base, '/search', APP)).headers.get('access-control-allow-private-network'), null);
  });

  it('when an origin that is not listed sends a preflight or a request, then no CORS header is sent', async () => {
    for (const origin of [EVIL, `${APP}:8443`, 'http://app.example.com', 'null']) {
      const p = await preflight(s.base, '/records', origin);
      assert.equal(p.status, 401, 'an unlisted preflight meets auth like any request');
      assert.deepEqual(corsHeaders(p), [], origin);
      const r = await request(s.base, '/search', { body: { query: [0, 0, 0, 0], k: 1 }, token: TOKEN, headers: { origin } });
      assert.equal(r.status, 200);
      assert.deepEqual(corsHeaders(r), [], origin);
      assert.ok(list(r, 'vary').includes('origin'), 'the answer depends on Origin, so caches must know');
    }
  });

  it('when a listed origin sends the actual request, then the response carries Allow-Origin and exposes the request id, also on errors', async () => {
    const ok = await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, token: TOKEN, headers: { origin: APP } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('access-control-allow-origin'), APP);
    for (const h of ['x-request-id', 'retry-after', 'location']) assert.ok(list(ok, 'access-control-expose-headers').includes(h), h);
    // A page must be able to read why it was refused.
    const denied = await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, headers: { origin: DEV } });
    assert.equal(denied.status, 401);
    assert.ok(isErrorEnvelope(denied.json, 'UNAUTHORIZED'));
    assert.equal(denied.headers.get('access-control-allow-origin'), DEV);
    assert.ok(list(denied, 'access-control-expose-headers').includes('www-authenticate'));
  });

  it('when an OPTIONS request is not a preflight (no Access-Control-Request-Method), then it is not answered as one', async () => {
    const r = await request(s.base, '/records', { method: 'OPTIONS', headers: { origin: APP } });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('access-control-allow-methods'), null);
  });
});

describe('CORS off by default', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_AUTH_TOKEN: TOKEN });
  });
  after(() => s.stop());

  it('when VALORI_CORS_ORIGINS is unset, then neither a preflight nor a request gets any CORS header', async () => {
    const p = await preflight(s.base, '/records', APP);
    assert.equal(p.status, 401);
    assert.deepEqual(corsHeaders(p), []);
    const r = await request(s.base, '/version', { token: TOKEN, headers: { origin: APP } });
    assert.equal(r.status, 200);
    assert.deepEqual(corsHeaders(r), []);
    assert.equal(r.headers.get('vary'), null);
  });
});

describe('CORS with VALORI_CORS_ORIGINS=*', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_AUTH_TOKEN: TOKEN, VALORI_CORS_ORIGINS: '*' });
  });
  after(() => s.stop());

  it('when any page sends a preflight or a request, then Allow-Origin is *', async () => {
    const p = await preflight(s.base, '/search', EVIL);
    assert.equal(p.status, 204);
    assert.equal(p.headers.get('access-control-allow-origin'), '*');
    const r = await request(s.base, '/version', { token: TOKEN, headers: { origin: EVIL } });
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
  });
});

describe('CORS with auth off: listed origins pass the browser guard', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_CORS_ORIGINS: DEV });
  });
  after(() => s.stop());

  it('when auth is off and origins are listed, then a warning naming them is logged at boot', () => {
    const warning = s.logs.filter((l) => l.includes('VALORI_CORS_ORIGINS with auth off'));
    assert.equal(warning.length, 1, s.logs.join(''));
    assert.match(warning[0], /http:\/\/localhost:5173/);
    assert.equal(JSON.parse(warning[0]).level, 'warn');
  });

  it('when a listed origin writes, then it is served with Allow-Origin; another origin is still refused with 403 and changes nothing', async () => {
    const live = async (): Promise<number> => (await request(s.base, '/health')).json.records.live;
    const p = await preflight(s.base, '/records', DEV);
    assert.equal(p.status, 204);
    const ok = await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, headers: { origin: DEV } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('access-control-allow-origin'), DEV);
    const before = await live();
    const refused = await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, headers: { origin: EVIL } });
    assert.equal(refused.status, 403);
    assert.ok(isErrorEnvelope(refused.json, 'FORBIDDEN'));
    assert.deepEqual(corsHeaders(refused), []);
    assert.equal(await live(), before);
  });
});

describe('VALORI_CORS_ORIGINS validation', () => {
  const refusal = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.variable, 'VALORI_CORS_ORIGINS');
      assert.ok(!err.message.includes('\n'), 'one line');
      return err.message;
    }
    assert.fail(`accepted ${JSON.stringify(env)}`);
  };

  it('when the value is a list, blank or *, then it is read as such', () => {
    assert.deepEqual(loadConfig({}).corsOrigins, []);
    assert.deepEqual(loadConfig({ VALORI_CORS_ORIGINS: ' ' }).corsOrigins, []);
    assert.deepEqual(loadConfig({ VALORI_CORS_ORIGINS: `${APP},,${DEV},${APP}` }).corsOrigins, [APP, DEV]);
    assert.deepEqual(loadConfig({ VALORI_CORS_ORIGINS: '*', VALORI_AUTH_TOKEN: TOKEN }).corsOrigins, ['*']);
  });

  it('when an entry is not an exact origin, then boot stops with one line naming it and the fix', () => {
    assert.match(refusal({ VALORI_CORS_ORIGINS: `${APP}/` }), /"https:\/\/app\.example\.com\/" is not an exact origin.*did you mean "https:\/\/app\.example\.com"\?$/);
    assert.match(refusal({ VALORI_CORS_ORIGINS: 'https://App.Example.com' }), /did you mean "https:\/\/app\.example\.com"\?$/);
    assert.match(refusal({ VALORI_CORS_ORIGINS: 'https://app.example.com:443' }), /did you mean "https:\/\/app\.example\.com"\?$/);
    assert.match(refusal({ VALORI_CORS_ORIGINS: `${APP}/ui` }), /did you mean/);
    assert.match(refusal({ VALORI_CORS_ORIGINS: 'app.example.com' }), /"app\.example\.com" is not an exact origin/);
    assert.match(refusal({ VALORI_CORS_ORIGINS: 'null' }), /"null" is not an exact origin/);
    assert.match(refusal({ VALORI_CORS_ORIGINS: 'file:///tmp' }), /is not an exact origin/);
    assert.match(refusal({ VALORI_CORS_ORIGINS: `*,${APP}`, VALORI_AUTH_TOKEN: TOKEN }), /"\*" \(any origin\) cannot be combined/);
  });

  it('when * is set with auth off, then boot stops; with any credential it is accepted', () => {
    assert.match(refusal({ VALORI_CORS_ORIGINS: '*' }), /^VALORI_CORS_ORIGINS=\* while auth is off .*set VALORI_AUTH_TOKEN$/);
    assert.deepEqual(loadConfig({ VALORI_CORS_ORIGINS: '*', VALORI_API_KEYS: `reader:read:${'a'.repeat(64)}` }).corsOrigins, ['*']);
  });
});
