// Collections on a follower: creating, writing, dropping and re-creating a collection
// on the leader reach the follower through its event stream, so the follower serves the same
// searches and the same whole-state and per-collection hashes; collection writes sent to the
// follower (POST and DELETE) are redirected to the leader.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';

/** How long the follower may take to catch up before the test fails (a bound, not a timing claim). */
const CATCH_UP_MS = 10_000;

describe('collections on a follower', () => {
  let dir: string;
  let leader: TestServer;
  let follower: TestServer;

  /** Waits (on the kernel's own height signal) until the follower has applied everything the leader has. */
  const caughtUp = async (): Promise<void> => {
    const target = leader.kernel.stats().height;
    for (let i = 0; i < 1_000 && follower.kernel.stats().height < target; i++) {
      await follower.kernel.waitForHeight(follower.kernel.stats().height, CATCH_UP_MS);
    }
    assert.equal(follower.kernel.stats().height, target, 'the follower caught up');
  };
  const both = async (path: string, body?: unknown) => Promise.all([leader, follower].map((s) => request(s.base, path, body === undefined ? {} : { body })));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-coll-repl-'));
    leader = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'leader.log') });
    follower = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'follower.log'), VALORI_FOLLOWER_OF: leader.base });
  });
  after(async () => {
    await follower.stop();
    await leader.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the leader creates and fills a collection, then the follower lists it, searches it and proves the same hashes', async () => {
    assert.equal((await request(leader.base, '/v1/namespaces', { body: { name: 'a', dimension: 3 } })).status, 200);
    assert.equal((await request(leader.base, '/records', { body: { values: [1, 2, 3], collection: 'a' } })).status, 200);
    assert.equal((await request(leader.base, '/graph/node', { body: { kind: 1, collection: 'a' } })).status, 200);
    await caughtUp();
    const [l, f] = await both('/v1/namespaces');
    assert.deepEqual(f.json, l.json);
    assert.deepEqual(f.json.collections.map((c: { name: string }) => c.name), ['default', 'a']);
    const [ls, fs] = await both('/search', { query: [1, 2, 3], k: 5, collection: 'a' });
    assert.deepEqual(fs.json.results, [{ id: 0, score: 0 }]);
    assert.deepEqual(fs.json, ls.json);
    const [lh, fh] = await both('/v1/proof/state?collection=a');
    assert.equal(fh.json.final_state_hash, lh.json.final_state_hash);
    const [lw, fw] = await both('/v1/proof/state');
    assert.equal(fw.json.final_state_hash, lw.json.final_state_hash);
  });

  it('when collection writes are sent to the follower, then they are redirected to the leader (307) and nothing is applied there', async () => {
    const height = follower.kernel.stats().height;
    for (const [method, path, body] of [
      ['POST', '/v1/namespaces', { name: 'b', dimension: 2 }],
      ['POST', '/records', { values: [1, 2, 3], collection: 'a' }],
      ['DELETE', '/v1/namespaces/a', undefined],
    ] as const) {
      const res = await fetch(follower.base + path, {
        method,
        redirect: 'manual',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await res.body?.cancel();
      assert.equal(res.status, 307, `${method} ${path}`);
      assert.equal(res.headers.get('location'), leader.base + path, `${method} ${path}`);
    }
    assert.equal(follower.kernel.stats().height, height);
  });

  it('when the leader drops a collection and creates it again with another dimension, then the follower serves the new one', async () => {
    assert.equal((await request(leader.base, '/v1/namespaces/a', { method: 'DELETE' })).status, 200);
    assert.equal((await request(leader.base, '/v1/namespaces', { body: { name: 'a', dimension: 2 } })).status, 200);
    assert.equal((await request(leader.base, '/records', { body: { values: [5, 5], collection: 'a' } })).status, 200);
    await caughtUp();
    // The follower searched the old 3-dimensional `a` before: a 2-dimensional query must now fit.
    const [ls, fs] = await both('/search', { query: [5, 5], k: 5, collection: 'a' });
    assert.deepEqual(fs.json.results, [{ id: 0, score: 0 }]);
    assert.deepEqual(fs.json, ls.json);
    const [lh, fh] = await both('/v1/proof/state');
    assert.equal(fh.json.final_state_hash, lh.json.final_state_hash);
  });
});
