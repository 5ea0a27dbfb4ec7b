// With auth off, requests only a browser acting for another site would send are refused: a
// foreign Host (DNS rebinding), a foreign Origin, and POSTs a page can send without a preflight.
// Raw node:http requests, because fetch does not let a caller choose Host.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

interface Raw {
  status: number;
  json: any;
}

function raw(base: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Raw> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const all = { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) };
    const req = httpRequest({ host: url.hostname, port: url.port, method, path: url.pathname, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('browser guard with auth off', () => {
  let s: TestServer;
  let port: string;

  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_ALLOWED_HOSTS: 'valori.internal' });
    port = new URL(s.base).port;
  });
  after(() => s.stop());

  const live = async (): Promise<number> => (await request(s.base, '/health')).json.records.live;

  it('when the Host is not loopback, the bind address or an allowed name, then 421 and nothing runs; /health stays open', async () => {
    // (A request with no Host at all is refused by Node's HTTP server itself, with a bare 400.)
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.nip.io:${port}`, `[::2]:${port}`]) {
      const r = await raw(s.base, 'GET', '/version', { host });
      assert.equal(r.status, 421, host);
      assert.ok(isErrorEnvelope(r.json, 'MISDIRECTED_REQUEST'), JSON.stringify(r.json));
    }
    const before = await live();
    const write = await raw(s.base, 'POST', '/records', { host: `evil.example:${port}`, 'content-type': 'application/json' }, '{"values":[1,2,3,4]}');
    assert.equal(write.status, 421);
    assert.equal(await live(), before);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`, `valori.internal:${port}`]) {
      assert.equal((await raw(s.base, 'GET', '/version', { host })).status, 200, host);
    }
    assert.equal((await raw(s.base, 'GET', '/health', { host: 'evil.example' })).status, 200);
  });

  it('when the Origin is another site, another port or opaque, then 403 FORBIDDEN; the same origin is served', async () => {
    const host = `127.0.0.1:${port}`;
    for (const origin of ['http://evil.example', `http://localhost:${Number(port) + 1}`, `http://127.0.0.1:${Number(port) + 1}`, 'null', `https://127.0.0.1:${port}x`]) {
      const r = await raw(s.base, 'POST', '/records', { host, origin, 'content-type': 'application/json' }, '{"values":[1,2,3,4]}');
      assert.equal(r.status, 403, origin);
      assert.ok(isErrorEnvelope(r.json, 'FORBIDDEN'));
    }
    const before = await live();
    const same = await raw(s.base, 'POST', '/records', { host, origin: `http://${host}`, 'content-type': 'application/json' }, '{"values":[1,2,3,4]}');
    assert.equal(same.status, 200);
    assert.equal(await live(), before + 1);
  });

  it('when a body-less admin route is form-POSTed or sent as text/plain, then 415; with no Content-Type and no body, or JSON, it runs', async () => {
    const host = `127.0.0.1:${port}`;
    for (const path of ['/v1/index/build', '/v1/event-log/trim', '/v1/snapshot/save']) {
      for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain']) {
        const r = await raw(s.base, 'POST', path, { host, 'content-type': type }, '');
        assert.equal(r.status, 415, `${path} ${type}`);
        assert.ok(isErrorEnvelope(r.json, 'UNSUPPORTED_MEDIA_TYPE'));
      }
      // A body with no Content-Type at all (a no-cors fetch of bytes) is refused too.
      assert.equal((await raw(s.base, 'POST', path, { host }, 'x')).status, 415, path);
    }
    const bare = await raw(s.base, 'POST', '/v1/index/build', { host });
    assert.equal(bare.status, 200);
    assert.equal((await raw(s.base, 'POST', '/v1/index/build', { host, 'content-type': 'application/json' }, '')).status, 200);
  });

  it('when a snapshot upload comes as a form, text/plain or untyped bytes, then 415 and the state is not replaced', async () => {
    const host = `127.0.0.1:${port}`;
    const before = await live();
    assert.ok(before > 0);
    const forms: Record<string, string>[] = [{ host, 'content-type': 'text/plain' }, { host, 'content-type': 'application/x-www-form-urlencoded' }, { host }];
    for (const headers of forms) {
      const r = await raw(s.base, 'POST', '/v1/snapshot/upload', headers, 'VAL1 not really');
      assert.equal(r.status, 415, JSON.stringify(headers));
    }
    assert.equal(await live(), before);
  });
});

describe('browser guard with auth on', () => {
  let s: TestServer;
  const token = 'guard-token-0123456789abcdef0123456789abcd';

  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_AUTH_TOKEN: token });
  });
  after(() => s.stop());

  it('when auth is on, then the bearer token is the defence: another Host name is served to a caller holding it', async () => {
    const port = new URL(s.base).port;
    assert.equal((await raw(s.base, 'GET', '/version', { host: `node.example:${port}`, authorization: `Bearer ${token}` })).status, 200);
    assert.equal((await raw(s.base, 'GET', '/version', { host: `node.example:${port}` })).status, 401);
  });
});
