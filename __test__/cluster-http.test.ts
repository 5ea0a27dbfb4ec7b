// One node in cluster mode, in process (the process fault tests run three: cluster-faults.test.ts):
// the cluster routes and their refusals, writes through Raft with the same answers as standalone,
// idempotency through Raft, the routes a member does not serve, a stream follower of a member, and
// a restart that recovers the state and the event log from the Raft log alone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';

const TOKEN = 'cluster-http-token-cluster-http-token';
// This file's Raft addresses: 127.0.81.x.
const RAFT = '127.0.81.1:47811';

function env(dir: string): Record<string, string> {
  return {
    VALORI_DIM: '2',
    VALORI_AUTH_TOKEN: TOKEN,
    VALORI_CLUSTER_MEMBERS: `1=${RAFT}/127.0.0.1:3000`,
    VALORI_NODE_ID: '1',
    VALORI_CLUSTER_INIT: '1',
    VALORI_EVENT_LOG_PATH: join(dir, 'raft.log'),
    VALORI_RAFT_HEARTBEAT_MS: '50',
    VALORI_RAFT_ELECTION_TIMEOUT_MS: '200',
  };
}

async function untilLeader(s: TestServer): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await request(s.base, '/v1/cluster/health', { token: TOKEN });
    if (r.status === 200) return;
    assert.ok(Date.now() < deadline, `no leader: ${r.text}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('a one-node cluster over HTTP', () => {
  let dir: string;
  let s: TestServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-cluster-http-'));
    s = await startServer(env(dir));
    await untilLeader(s);
  });

  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the node leads, then status, role and health say so and name its member', async () => {
    const st = await request(s.base, '/v1/cluster/status', { token: TOKEN });
    assert.equal(st.status, 200, st.text);
    assert.equal(st.json.node_id, 1);
    assert.equal(st.json.current_leader, 1);
    assert.equal(st.json.is_leader, true);
    assert.equal(st.json.role, 'leader');
    assert.ok(st.json.term >= 1);
    // A lone voter is its own quorum: acknowledged now, never cut off.
    assert.equal(st.json.quorum_ack_age_ms, 0);
    assert.equal(st.json.quorum_lost, false);
    assert.deepEqual(st.json.members, [{ id: 1, raft_addr: RAFT, api_addr: '127.0.0.1:3000', voter: true }]);
    assert.deepEqual((await request(s.base, '/v1/cluster/role', { token: TOKEN })).json, { role: 'leader', node_id: 1, current_leader: 1 });
    const health = await request(s.base, '/health', { token: TOKEN });
    assert.equal(health.json.persistence, 'raft');
    assert.equal(health.json.cluster.role, 'leader');
    assert.equal(health.json.cluster.quorum_lost, false);
    assert.equal(health.json.status, 'ok');
    assert.equal((await request(s.base, '/readyz')).status, 200);
    // Without the token nothing of the cluster is shown.
    assert.equal((await request(s.base, '/v1/cluster/status')).status, 401);
  });

  it('when writes go through Raft, then they answer as standalone, a keyed retry applies once, and reads see them', async () => {
    const a = await request(s.base, '/v1/records', { method: 'POST', body: { values: [1, 2] }, token: TOKEN, headers: { 'Idempotency-Key': 'k-1' } });
    assert.equal(a.status, 200, a.text);
    const again = await request(s.base, '/v1/records', { method: 'POST', body: { values: [1, 2] }, token: TOKEN, headers: { 'Idempotency-Key': 'k-1' } });
    assert.equal(again.json.id, a.json.id);
    assert.equal(again.json.deduplicated, true);
    const b = await request(s.base, '/v1/records', { method: 'POST', body: { values: [3, 4] }, token: TOKEN });
    assert.equal(b.json.id, a.json.id + 1);
    const bad = await request(s.base, '/v1/records', { method: 'POST', body: { values: [1, 2, 3] }, token: TOKEN });
    assert.equal(bad.json.code, 'DIMENSION_MISMATCH');
    const set = await request(s.base, '/v1/memory/meta/set', { method: 'POST', body: { target_id: 'x', metadata: { n: 1 } }, token: TOKEN });
    assert.equal(set.status, 200, set.text);
    for (const q of ['', '&consistency=local', '&consistency=linearizable']) {
      const got = await request(s.base, `/v1/memory/meta/get?target_id=x${q}`, { token: TOKEN });
      assert.deepEqual(got.json, { target_id: 'x', metadata: { n: 1 } }, q);
    }
    const badMode = await request(s.base, '/v1/memory/meta/get?target_id=x&consistency=eventual', { token: TOKEN });
    assert.equal(badMode.status, 400);
    const hits = await request(s.base, '/v1/search', { method: 'POST', body: { query: [3, 4], k: 1, consistency: 'local' }, token: TOKEN });
    assert.deepEqual(hits.json.results.map((h: { id: number }) => h.id), [b.json.id]);
    const st = await request(s.base, '/v1/cluster/status', { token: TOKEN });
    assert.equal(st.json.height, 3);
    assert.equal(st.json.last_applied_index, st.json.last_log_index);
  });

  it('when a request would bypass the Raft log or break the membership, then it is refused and nothing changes', async () => {
    const before = (await request(s.base, '/v1/proof/state', { token: TOKEN })).json;
    for (const [path, body] of [
      ['/v1/snapshot/restore', { path: 'x' }],
      ['/v1/event-log/trim', undefined],
    ] as const) {
      const r = await request(s.base, path, { method: 'POST', body: body ?? {}, token: TOKEN });
      assert.equal(r.json.code, 'NOT_ENABLED', `${path}: ${r.text}`);
    }
    const last = await request(s.base, '/v1/cluster/remove-node', { method: 'POST', body: { node_id: 1 }, token: TOKEN });
    assert.equal(last.status, 400);
    assert.match(last.json.error, /only voter/);
    const missing = await request(s.base, '/v1/cluster/remove-node', { method: 'POST', body: { node_id: 9 }, token: TOKEN });
    assert.equal(missing.status, 404);
    for (const body of [{ node_id: 0, raft_addr: 'a:1', api_addr: 'a:2' }, { node_id: 2, raft_addr: 'nope', api_addr: 'a:2' }, { node_id: 2, raft_addr: 'a:1' }]) {
      const r = await request(s.base, '/v1/cluster/add-node', { method: 'POST', body, token: TOKEN });
      assert.equal(r.json.code, 'INVALID_REQUEST', JSON.stringify(body));
    }
    assert.deepEqual((await request(s.base, '/v1/proof/state', { token: TOKEN })).json, before);
    assert.deepEqual((await request(s.base, '/v1/cluster/status', { token: TOKEN })).json.members.map((m: { id: number }) => m.id), [1]);
  });

  it('when a stream follower follows the member, then it reaches the same height, state hash and event-log chain', async () => {
    // The member's event log is derived from its Raft log: the timeline and the log proof read it.
    const proof = await request(s.base, '/v1/proof/event-log', { token: TOKEN });
    assert.equal(proof.status, 200, proof.text);
    assert.equal(proof.json.committed_height, s.kernel.stats().height);
    const follower = await startServer({ VALORI_DIM: '2', VALORI_EVENT_LOG_PATH: join(dir, 'follower.log'), VALORI_FOLLOWER_OF: s.base, VALORI_LEADER_TOKEN: TOKEN });
    try {
      // One more write while the follower streams.
      assert.equal((await request(s.base, '/v1/records', { method: 'POST', body: { values: [5, 6] }, token: TOKEN })).status, 200);
      const target = s.kernel.stats().height;
      for (let i = 0; i < 1_000 && follower.kernel.stats().height < target; i++) {
        await follower.kernel.waitForHeight(follower.kernel.stats().height, 10_000);
      }
      assert.equal(follower.kernel.stats().height, target, 'the follower caught up');
      const [m, f] = await Promise.all([s, follower].map((n) => request(n.base, '/v1/proof/event-log', { token: TOKEN })));
      assert.equal(f.json.committed_height, m.json.committed_height);
      assert.equal(f.json.event_log_hash, m.json.event_log_hash);
      assert.equal(f.json.final_state_hash, m.json.final_state_hash);
      // The member's timeline lists every committed event, in order (a bootstrapped follower's
      // starts at its snapshot).
      const mt = (await request(s.base, '/v1/timeline', { token: TOKEN })).json;
      assert.equal(mt.total, target);
      assert.deepEqual(mt.events.map((e: { log_index: number }) => e.log_index), Array.from({ length: target }, (_, i) => i + 1));
      assert.deepEqual(mt.events.filter((e: { event_type: string }) => e.event_type === 'InsertRecord').length, 3);
    } finally {
      await follower.stop();
    }
  });

  it('when a backup is downloaded from a member, then a standalone node restored from it holds the same data', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const download = await fetch(`${s.base}/v1/snapshot/download`, { headers: auth });
    assert.equal(download.status, 200);
    const bytes = new Uint8Array(await download.arrayBuffer());
    const member = (await request(s.base, '/v1/memory/meta/get?target_id=x', { token: TOKEN })).json;
    const standalone = await startServer({ VALORI_DIM: '2', VALORI_AUTH_TOKEN: TOKEN });
    try {
      const up = await fetch(`${standalone.base}/v1/snapshot/upload`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bytes });
      assert.equal(up.status, 200, await up.text());
      assert.deepEqual((await request(standalone.base, '/v1/memory/meta/get?target_id=x', { token: TOKEN })).json, member);
      assert.equal(standalone.kernel.stats().records.live, s.kernel.stats().records.live);
    } finally {
      await standalone.stop();
    }
  });

  it('when the node restarts, then its state and its event log come back from the Raft log alone', async () => {
    const before = (await request(s.base, '/v1/proof/state', { token: TOKEN })).json;
    const chain = (await request(s.base, '/v1/proof/event-log', { token: TOKEN })).json;
    await s.stop();
    s = await startServer(env(dir));
    await untilLeader(s);
    // A linearizable read waits until the committed entries are applied again.
    const got = await request(s.base, '/v1/memory/meta/get?target_id=x', { token: TOKEN });
    assert.deepEqual(got.json.metadata, { n: 1 });
    assert.deepEqual((await request(s.base, '/v1/proof/state', { token: TOKEN })).json, before);
    // Entries re-applied with the times their leader stamped: the same bytes, so the same chain.
    const again = (await request(s.base, '/v1/proof/event-log', { token: TOKEN })).json;
    assert.equal(again.committed_height, chain.committed_height);
    assert.equal(again.event_log_hash, chain.event_log_hash);
  });
});

describe('a standalone node', () => {
  it('when a cluster route is called, then it answers 400 NOT_ENABLED', async () => {
    const s = await startServer({ VALORI_AUTH_TOKEN: TOKEN });
    try {
      for (const path of ['/v1/cluster/status', '/v1/cluster/health', '/v1/cluster/role']) {
        assert.equal((await request(s.base, path, { token: TOKEN })).json.code, 'NOT_ENABLED', path);
      }
    } finally {
      await s.stop();
    }
  });
});
