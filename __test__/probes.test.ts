// GET /livez and GET /readyz: open without a token, one-word bodies, and the conditions each
// answers 503 on (docs/operations.md, "Probes"). In-process servers on 127.0.0.1:0.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { request, startServer, vector, type Reply, type TestServer } from './helpers';
import { waitFor } from './replication-helpers';

const TOKEN = 'probe-test-master-token-0123456789abcdef';
const OK = { status: 'ok' };
const UNAVAILABLE = { status: 'unavailable' };

const servers: TestServer[] = [];
const dirs: string[] = [];
async function server(env: Record<string, string>): Promise<TestServer> {
  const s = await startServer({ VALORI_DIM: '4', ...env });
  servers.push(s);
  return s;
}
function eventLog(): string {
  const d = mkdtempSync(join(tmpdir(), 'valori-probes-'));
  dirs.push(d);
  return join(d, 'events.log');
}
after(async () => {
  // Followers first, so none reconnects to a leader that is going away.
  for (const s of servers.reverse()) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const livez = (s: TestServer): Promise<Reply> => request(s.base, '/livez');
const readyz = (s: TestServer): Promise<Reply> => request(s.base, '/readyz');

/** The body is exactly the status word, as JSON, and never cached. */
function assertProbe(r: Reply, status: number, body: typeof OK | typeof UNAVAILABLE): void {
  assert.equal(r.status, status, r.text);
  assert.deepEqual(r.json, body);
  assert.equal(r.headers.get('cache-control'), 'no-store');
}

describe('GET /livez', () => {
  it('when the record pool is full (/health answers 503), then /livez and /readyz still answer 200', async () => {
    const s = await server({ VALORI_MAX_RECORDS: '2' });
    for (const seed of [1, 2]) assert.equal((await request(s.base, '/records', { body: { values: vector(4, seed) } })).status, 200);
    const health = await request(s.base, '/health');
    assert.deepEqual([health.status, health.json.status], [503, 'full']);
    assertProbe(await livez(s), 200, OK);
    // Full is not unready: reads and deletes still work, and another replica would be just as full.
    assertProbe(await readyz(s), 200, OK);
  });

  it('when HEAD is sent, then 200 without a body; another method answers 405', async () => {
    const s = await server({});
    const head = await request(s.base, '/livez', { method: 'HEAD' });
    assert.deepEqual([head.status, head.text], [200, '']);
    const post = await request(s.base, '/livez', { method: 'POST', body: {} });
    assert.equal(post.status, 405);
  });
});

describe('GET /readyz', () => {
  it('when the node has an event log and nothing is wrong, then 200', async () => {
    const s = await server({ VALORI_EVENT_LOG_PATH: eventLog() });
    assertProbe(await readyz(s), 200, OK);
  });

  it('when the node is read-only after a fault, then 503 "unavailable" with no reason, while /livez stays 200', async () => {
    const s = await server({});
    // As in kernel-limits.test.ts: the fault itself is injected in the kernel's own tests
    // (native/kernel/tests/engine_faults.rs); here only what the route makes of the flag.
    const real = s.kernel.stats.bind(s.kernel);
    s.kernel.stats = () => ({ ...real(), readOnly: true, readOnlyReason: 'the committer panicked (boom); writes are refused until restart' });
    const r = await readyz(s);
    assertProbe(r, 503, UNAVAILABLE);
    assert.equal(r.text.includes('boom'), false);
    assertProbe(await livez(s), 200, OK);
    s.kernel.stats = real;
    assertProbe(await readyz(s), 200, OK);
  });

  it('when a snapshot restore is replacing the state (odd restore epoch), then 503', async () => {
    const s = await server({});
    Object.defineProperty(s.kernel, 'restoreEpoch', { configurable: true, get: () => 1 });
    assertProbe(await readyz(s), 503, UNAVAILABLE);
    Object.defineProperty(s.kernel, 'restoreEpoch', { configurable: true, get: () => 2 });
    assertProbe(await readyz(s), 200, OK);
  });
});

describe('GET /readyz on a follower', () => {
  it('when the follower streams from its leader it is ready; when the leader goes away, then 503 (served locally, not redirected)', async () => {
    const leader = await server({ VALORI_EVENT_LOG_PATH: eventLog(), VALORI_REPLICATION_HEARTBEAT_MS: '50' });
    for (const seed of [1, 2, 3]) assert.equal((await request(leader.base, '/records', { body: { values: vector(4, seed) } })).status, 200);
    // Lag 0: ready only when caught up, so readiness below implies height 3.
    const follower = await server({ VALORI_EVENT_LOG_PATH: eventLog(), VALORI_FOLLOWER_OF: leader.base, VALORI_REPLICATION_HEARTBEAT_MS: '50', VALORI_READY_MAX_LAG: '0' });
    await waitFor('the follower to be ready', async () => ((await readyz(follower)).status === 200 ? true : undefined), 20_000, async () => JSON.stringify(follower.replication.state()));
    assert.equal(follower.kernel.stats().height, 3, 'ready with VALORI_READY_MAX_LAG=0 means caught up');
    assertProbe(await readyz(follower), 200, OK);
    assertProbe(await livez(follower), 200, OK);

    await leader.stop();
    const cut = await waitFor('the follower to turn unready', async () => {
      const r = await readyz(follower);
      return r.status === 503 ? r : undefined;
    }, 20_000, async () => JSON.stringify(follower.replication.state()));
    assertProbe(cut, 503, UNAVAILABLE);
    assertProbe(await livez(follower), 200, OK);
  });

  it('when a streaming follower lags by more than VALORI_READY_MAX_LAG events, then 503; within it, 200', async () => {
    const leader = await server({ VALORI_EVENT_LOG_PATH: eventLog(), VALORI_REPLICATION_HEARTBEAT_MS: '50' });
    const follower = await server({ VALORI_EVENT_LOG_PATH: eventLog(), VALORI_FOLLOWER_OF: leader.base, VALORI_REPLICATION_HEARTBEAT_MS: '50', VALORI_READY_MAX_LAG: '5' });
    await waitFor('the follower to stream', async () => (follower.replication.state().connected === true ? true : undefined), 20_000);
    const f = follower.replication.follower;
    assert.ok(f !== null);
    // The lag the follower computes from the leader's heights is covered by the replication
    // suites; here only the threshold the probe applies to it.
    const realLag = f.lag.bind(f);
    f.lag = () => 6;
    assertProbe(await readyz(follower), 503, UNAVAILABLE);
    f.lag = () => 5;
    assertProbe(await readyz(follower), 200, OK);
    f.lag = realLag;
  });
});

describe('probes with auth on', () => {
  it('when no token is sent, then both answer (and /v1/proof/state answers 401), with nothing but the status', async () => {
    const s = await server({ VALORI_AUTH_TOKEN: TOKEN, VALORI_EVENT_LOG_PATH: eventLog() });
    assert.equal((await request(s.base, '/v1/proof/state')).status, 401);
    for (const path of ['/livez', '/readyz']) {
      const r = await request(s.base, path);
      assertProbe(r, 200, OK);
      assert.equal(r.text, '{"status":"ok"}', `${path} reveals nothing else`);
      // A wrong token does not turn a public probe into a 401 either.
      assert.equal((await request(s.base, path, { token: 'wrong-token-0123456789abcdef0123' })).status, 200);
    }
  });
});
