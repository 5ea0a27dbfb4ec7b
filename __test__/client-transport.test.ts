// The TypeScript client's transport against a fake server (client-fake-server.ts): retries,
// redirects (follower → leader) and timeouts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ValoriClient, ValoriConnectionError, ValoriError, ValoriTimeoutError } from '../src/client';
import { MAX_RETRY_AFTER_MS, retryAfterMs } from '../src/client/transport';
import { closedPort, FAST, type Fake, fakeServer, type Handler, routes, send } from './client-fake-server';

describe('client retries', () => {
  let fake: Fake;
  before(async () => {
    fake = await fakeServer();
  });
  after(() => fake.close());

  /** Answers 503 for the first `n` requests, then `ok`. */
  const unavailableThen = (n: number, ok: unknown): Handler => {
    let count = 0;
    return (_q, res) => (count++ < n ? send(res, 503, { error: 'busy', code: 'UNAVAILABLE' }) : send(res, 200, ok));
  };

  it('when a read gets 503 twice, then it is retried and resolves', async () => {
    fake.handle(unavailableThen(2, { kind: 1, record_id: null }));
    const client = new ValoriClient({ baseUrl: fake.url, retries: 3, ...FAST });
    assert.deepEqual(await client.getNode(0), { kind: 1, recordId: null });
    assert.equal(fake.seen.length, 3);
  });

  it('when a write gets 503 once, then it is re-sent with the same body and resolves', async () => {
    fake.handle(unavailableThen(1, { id: 1 }));
    const client = new ValoriClient({ baseUrl: fake.url, retries: 3, ...FAST });
    assert.equal(await client.insert([1, 2]), 1);
    assert.deepEqual(fake.seen.map((s) => s.json), [{ values: [1, 2] }, { values: [1, 2] }]);
  });

  it('when 503 persists, then the ValoriError 503 surfaces after 1 + retries attempts', async () => {
    fake.handle(unavailableThen(Infinity, {}));
    const client = new ValoriClient({ baseUrl: fake.url, retries: 2, ...FAST });
    await assert.rejects(client.version(), (e: unknown) => e instanceof ValoriError && e.status === 503);
    assert.equal(fake.seen.length, 3);
  });

  it('when a 503 says Retry-After, then the retry waits that long even with a shorter backoff', async () => {
    // A cluster member without a leader answers 503 NO_LEADER with Retry-After: 1.
    const at: number[] = [];
    fake.handle((_q, res) => {
      at.push(performance.now());
      if (at.length === 1) send(res, 503, { error: 'no leader is known', code: 'NO_LEADER' }, { 'retry-after': '1' });
      else send(res, 200, { id: 4 });
    });
    const client = new ValoriClient({ baseUrl: fake.url, retries: 3, ...FAST });
    assert.equal(await client.insert([1, 2]), 4);
    assert.equal(at.length, 2);
    // FAST caps the backoff at 5 ms; the server asked for 1 s.
    assert.ok(at[1] - at[0] >= 1000, `retried after ${at[1] - at[0]} ms`);
  });

  it('when Retry-After is read, then seconds and HTTP dates count, anything else is ignored, and the wait is capped', () => {
    const now = Date.parse('2026-12-03T10:00:00Z');
    assert.equal(retryAfterMs(null, now), 0);
    assert.equal(retryAfterMs('1', now), 1000);
    assert.equal(retryAfterMs(' 2 ', now), 2000);
    assert.equal(retryAfterMs('0', now), 0);
    assert.equal(retryAfterMs('-1', now), 0);
    assert.equal(retryAfterMs('1.5', now), 0);
    assert.equal(retryAfterMs('soon', now), 0);
    assert.equal(retryAfterMs('Thu, 03 Dec 2026 10:00:03 GMT', now), 3000);
    assert.equal(retryAfterMs('Thu, 03 Dec 2026 09:59:00 GMT', now), 0);
    // A server (or a proxy) asking for minutes does not hold one call that long.
    assert.equal(retryAfterMs('120', now), 10_000);
    assert.equal(MAX_RETRY_AFTER_MS, 10_000);
  });

  it('when the server answers 400, then the request is not retried', async () => {
    fake.handle((_q, res) => send(res, 400, { error: 'k must be an integer', code: 'INVALID_REQUEST' }));
    const client = new ValoriClient({ baseUrl: fake.url, retries: 3, ...FAST });
    await assert.rejects(client.search([1], 0), (e: unknown) => e instanceof ValoriError && e.code === 'INVALID_REQUEST');
    assert.equal(fake.seen.length, 1);
  });

  it('when the connection is refused, then reads and writes are retried and end in ValoriConnectionError ECONNREFUSED', async () => {
    const port = await closedPort();
    let calls = 0;
    const counting: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    const client = new ValoriClient({ baseUrl: `http://127.0.0.1:${port}`, retries: 2, fetch: counting, ...FAST });
    for (const call of [() => client.health(), () => client.insert([1])]) {
      calls = 0;
      const err = await call().catch((e: unknown) => e);
      assert.ok(err instanceof ValoriConnectionError, String(err));
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.attempts, 3);
      assert.equal(calls, 3);
    }
  });

  it('when the connection is reset after a keyed write was sent, then it is re-sent with the same Idempotency-Key; an unkeyed write is not retried; a read is', async () => {
    let resets = 0;
    fake.handle((req, res) => {
      if (resets++ === 0) return void res.socket?.destroy();
      send(res, 200, req.url === '/records' ? { id: 1 } : req.url === '/v1/snapshot/restore' ? { success: true, height: 1 } : { kind: 0, record_id: null });
    });
    const client = new ValoriClient({ baseUrl: fake.url, retries: 3, ...FAST });
    assert.equal(await client.insert([1]), 1);
    assert.equal(fake.seen.length, 2);
    const [first, retry] = fake.seen.map((s) => s.headers['idempotency-key']);
    assert.match(String(first), /^[\x21-\x7e]{1,255}$/);
    assert.equal(retry, first);
    // A second call is a second logical write: a new key.
    resets = 1;
    fake.seen.length = 0;
    assert.equal(await client.insert([1]), 1);
    assert.notEqual(fake.seen[0].headers['idempotency-key'], first);

    // Snapshot restore carries no key: after a reset it may have been applied, so it is not re-sent.
    resets = 0;
    fake.seen.length = 0;
    const err = await client.snapshotRestore('snap').catch((e: unknown) => e);
    assert.ok(err instanceof ValoriConnectionError, String(err));
    assert.match(err.message, /not retried/);
    assert.equal(fake.seen.length, 1);
    assert.equal(fake.seen[0].headers['idempotency-key'], undefined);

    resets = 0;
    fake.seen.length = 0;
    assert.deepEqual(await client.getNode(0), { kind: 0, recordId: null });
    assert.equal(fake.seen.length, 2);
  });
});

describe('client redirects (follower → leader)', () => {
  let follower: Fake;
  let leader: Fake;
  before(async () => {
    follower = await fakeServer();
    leader = await fakeServer();
  });
  after(async () => {
    await follower.close();
    await leader.close();
  });

  const redirectToLeader: Handler = (req, res) => {
    res.writeHead(307, { location: leader.url + req.url });
    res.end();
  };

  it('when a follower answers a write with 307, then it is re-sent to the leader with method and body, without the token by default', async () => {
    follower.handle(redirectToLeader);
    leader.handle(routes({ 'POST /graph/edge': [200, { edge_id: 4 }] }));
    const client = new ValoriClient({ baseUrl: follower.url, token: 't0k', ...FAST });
    assert.equal(await client.createEdge({ from: 1, to: 2, kind: 0 }), 4);
    assert.equal(follower.seen[0].headers.authorization, 'Bearer t0k');
    assert.equal(leader.seen[0].method, 'POST');
    assert.deepEqual(leader.seen[0].json, { from: 1, to: 2, kind: 0 });
    assert.equal(leader.seen[0].headers.authorization, undefined);
  });

  it('when followRedirectAuth is true or lists the leader origin, then the leader gets the token; another list does not', async () => {
    follower.handle(redirectToLeader);
    leader.handle(routes({ 'POST /records': [200, { id: 9 }] }));
    for (const [allow, expected] of [[true, 'Bearer t0k'], [[leader.origin], 'Bearer t0k'], [['http://elsewhere:1'], undefined]] as const) {
      leader.seen.length = 0;
      const client = new ValoriClient({ baseUrl: follower.url, token: 't0k', followRedirectAuth: allow, ...FAST });
      assert.equal(await client.insert([1, 2]), 9);
      assert.equal(leader.seen[0].headers.authorization, expected);
      assert.deepEqual(leader.seen[0].json, { values: [1, 2] });
    }
  });

  it('when a 307 stays on the same origin (relative Location), then the token is kept', async () => {
    follower.handle(
      routes({
        'POST /records': (_q, res) => {
          res.writeHead(307, { location: '/moved/records' });
          res.end();
        },
        'POST /moved/records': [200, { id: 2 }],
      }),
    );
    const client = new ValoriClient({ baseUrl: follower.url, token: 't0k', ...FAST });
    assert.equal(await client.insert([3]), 2);
    assert.deepEqual(follower.seen.map((s) => [s.url, s.headers.authorization, s.json]), [
      ['/records', 'Bearer t0k', { values: [3] }],
      ['/moved/records', 'Bearer t0k', { values: [3] }],
    ]);
  });

  it('when the leader rejects the dropped token with 401, then the error points at followRedirectAuth', async () => {
    follower.handle(redirectToLeader);
    leader.handle((_q, res) => send(res, 401, { error: 'missing bearer token', code: 'UNAUTHORIZED' }));
    const client = new ValoriClient({ baseUrl: follower.url, token: 't0k', ...FAST });
    await assert.rejects(client.insert([1]), (e: unknown) => e instanceof ValoriError && e.code === 'UNAUTHORIZED' && /followRedirectAuth/.test(e.message) && e.url.startsWith(leader.url));
  });

  it('when redirects loop, then it stops with TOO_MANY_REDIRECTS', async () => {
    follower.handle((req, res) => {
      res.writeHead(307, { location: req.url ?? '/' });
      res.end();
    });
    const client = new ValoriClient({ baseUrl: follower.url, maxRedirects: 3, ...FAST });
    await assert.rejects(client.insert([1]), (e: unknown) => e instanceof ValoriError && e.code === 'TOO_MANY_REDIRECTS');
    assert.equal(follower.seen.length, 4);
  });
});

describe('client timeouts', () => {
  let fake: Fake;
  before(async () => {
    fake = await fakeServer();
  });
  after(() => fake.close());

  it('when the server never answers, then the call fails with ValoriTimeoutError and is not retried', { timeout: 10_000 }, async () => {
    fake.handle(() => {
      // Hold the request open; after() closes the connection.
    });
    const client = new ValoriClient({ baseUrl: fake.url, timeoutMs: 100, retries: 3, backoffMs: 1 });
    const err = await client.getNode(0).catch((e: unknown) => e);
    assert.ok(err instanceof ValoriTimeoutError, String(err));
    assert.ok(err instanceof ValoriConnectionError);
    assert.equal(err.timeoutMs, 100);
    assert.equal(fake.seen.length, 1);
  });
});
