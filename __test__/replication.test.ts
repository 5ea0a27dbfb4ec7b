// Leader/follower replication with real processes on 127.0.0.1 (docs/reliability.md battery 6):
// convergence after a mixed 10k-record load, read-only followers (307 to the leader), and the
// shared bearer token on every leader call.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, vector } from './helpers';
import { assertBuilt, assertConverged, cleanup, DIM, FAST, MAIN, replState, startNode, tempDir, waitFor, writeMix, type NodeProcess } from './replication-helpers';

const CAPACITY = { VALORI_MAX_RECORDS: '50000', VALORI_MAX_NODES: '5000', VALORI_MAX_EDGES: '5000' };

function metric(text: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `metric ${line} is exported`);
  return Number(m[1]);
}

describe('replication: convergence and read-only follower', () => {
  let leader: NodeProcess;
  let follower: NodeProcess;

  before(async () => {
    assertBuilt();
    leader = await startNode({ ...CAPACITY, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
  });
  after(cleanup);

  it('when 10k records are written to the leader (batches, singles, deletes, graph, metadata), then the follower reaches the same hashes at the same height and lag 0', async () => {
    // Some history first, so the follower starts with a bootstrap from the leader's snapshot.
    const first = await writeMix(leader.base, { batches: 20, batchSize: 100, singles: 300, seed: 1 });
    assert.equal(first.failed, 0);
    const followerDir = tempDir();
    follower = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(followerDir, 'events.log'), VALORI_FOLLOWER_OF: leader.base });
    // The rest while the follower streams: many small events through the apply pipeline.
    const rest = await writeMix(leader.base, { batches: 40, batchSize: 100, singles: 4_000, others: 40, seed: 2 });
    assert.equal(rest.failed, 0);
    const live = (await request(leader.base, '/health')).json.records.live as number;
    assert.ok(live >= 10_000, `${live} live records`);

    const height = await assertConverged(leader.base, follower.base);
    const s = await replState(follower.base);
    assert.deepEqual([s.role, s.status, s.lag, s.bootstraps], ['follower', 'Synced', 0, 1]);
    assert.ok(height > 4_000, `height ${height}`);
    // The bootstrap snapshot was spooled beside the follower's log and removed after the restore.
    assert.ok(follower.output().includes(`spooled through ${join(followerDir, '.bootstrap-')}`), 'the bootstrap went through a file');
    assert.deepEqual(readdirSync(followerDir).filter((f) => f.includes('bootstrap')), []);
    // Reads are served by the follower and answer exactly as the leader does.
    const q = { query: vector(DIM, 7), k: 10 };
    assert.deepEqual((await request(follower.base, '/search', { body: q })).json, (await request(leader.base, '/search', { body: q })).json);
    assert.deepEqual((await request(follower.base, '/health')).json.records, (await request(leader.base, '/health')).json.records);
    const text = (await request(follower.base, '/metrics')).text;
    assert.equal(metric(text, 'valori_replication_lag_events'), 0);
    assert.equal(metric(text, 'valori_replication_status{status="Synced"}'), 1);
    assert.equal(metric(text, 'valori_replication_status{status="Diverged"}'), 0);
    assert.ok(metric(text, 'valori_replication_events_applied_total') > 4_000);
    const lt = (await request(leader.base, '/metrics')).text;
    assert.equal(metric(lt, 'valori_replication_status{status="Leading"}'), 1);
  });

  it('when a write is sent to the follower, then 307 points at the same request on the leader, and a redirect-following client lands there', async () => {
    const r = await fetch(`${follower.base}/records?x=1`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ values: vector(DIM, 1) }),
    });
    assert.equal(r.status, 307);
    assert.equal(r.headers.get('location'), `${leader.base}/records?x=1`);
    assert.equal(((await r.json()) as { code: string }).code, 'NOT_LEADER');
    // fetch follows 307 with the same method and body, as curl -L does.
    const followed = await fetch(`${follower.base}/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ values: vector(DIM, 2) }) });
    assert.equal(followed.status, 200);
    const { id } = (await followed.json()) as { id: number };
    await waitFor('the redirected write to replicate', async () => ((await request(follower.base, '/search', { body: { query: vector(DIM, 2), k: 1 } })).json.results[0]?.id === id ? true : undefined));
    // A local snapshot of the follower's own state is allowed (it changes no state).
    assert.equal((await request(follower.base, '/v1/snapshot/save', { body: {} })).status, 200);
  });

  it('when the leader gets SIGTERM with a follower streaming, then it ends the stream and exits 0 without waiting out the grace period; the follower then exits 0 too', async () => {
    assert.equal((await request(leader.base, '/v1/replication/state')).json.event_streams, 1);
    await leader.stop();
    assert.equal(leader.child.exitCode, 0);
    assert.ok(!leader.output().includes('grace period elapsed'), 'no request was left hanging');
    await waitFor('the follower to notice', async () => ((await replState(follower.base)).status === 'Connecting' ? true : undefined));
    await follower.stop();
    assert.equal(follower.child.exitCode, 0);
  });
});

describe('replication: auth', () => {
  const TOKEN = 'replication-shared-token-0123456789';
  let leader: NodeProcess;

  before(async () => {
    assertBuilt();
    leader = await startNode({ VALORI_AUTH_TOKEN: TOKEN, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
    await writeMix(leader.base, { token: TOKEN, batches: 5, batchSize: 20, singles: 50 });
  });
  after(cleanup);

  it('when the follower has the shared token, then it bootstraps, streams and converges', async () => {
    const follower = await startNode({ ...FAST, VALORI_AUTH_TOKEN: TOKEN, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'), VALORI_FOLLOWER_OF: leader.base });
    await writeMix(leader.base, { token: TOKEN, singles: 100 });
    await assertConverged(leader.base, follower.base, TOKEN);
    assert.equal((await request(follower.base, '/v1/replication/state')).status, 401, "the follower's own API is protected too");
    assert.equal(follower.output().includes(TOKEN), false, 'the token never reaches the logs');
    await follower.stop();
  });

  it('when the follower has a wrong token, then the leader refuses it (401 shown in its state) and it never reports Synced', async () => {
    const wrong = 'not-the-shared-token';
    const follower = await startNode({ ...FAST, VALORI_AUTH_TOKEN: wrong, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'), VALORI_FOLLOWER_OF: leader.base });
    const s = await waitFor('the 401 to show', async () => {
      const st = await replState(follower.base, wrong);
      return st.last_error?.message.includes('401') ? st : undefined;
    });
    assert.match(s.last_error!.message, /401 UNAUTHORIZED/);
    // Watch it for a few retry rounds (bounded): never Synced, nothing applied.
    for (let i = 0; i < 20; i++) {
      const st = await replState(follower.base, wrong);
      assert.equal(st.status, 'Connecting');
      assert.equal(st.applied_height, 0);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The guide's reconnect schedule: 0, 500 ms, 1 s, ... (the observation window holds the first three).
    const delays = follower.messages().flatMap((m) => /reconnecting in (\d+) ms/.exec(m)?.[1] ?? []).map(Number);
    assert.deepEqual(delays.slice(0, 3), [0, 500, 1000]);
    const direct = await request(leader.base, '/v1/replication/events?from=1');
    assert.equal(direct.status, 401, 'the event stream itself requires the token');
    await follower.stop();
  });
});

describe('replication: configuration', () => {
  before(assertBuilt);

  it('when VALORI_FOLLOWER_OF is set without VALORI_EVENT_LOG_PATH, then the node refuses to start with one stderr line naming both', () => {
    const r = spawnSync(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', VALORI_FOLLOWER_OF: 'http://127.0.0.1:9', VALORI_BIND: '127.0.0.1:0' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^VALORI_FOLLOWER_OF .*VALORI_EVENT_LOG_PATH/);
    assert.doesNotMatch(r.stdout, /Listening on/);
  });
});
