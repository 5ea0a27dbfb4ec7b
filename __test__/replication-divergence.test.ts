// Verifiable replication (docs/reliability.md R17, battery 6): hashes are compared at the same height,
// so an altered follower is reported Diverged at its first check, a slow but correct follower
// never is, the guide's recovery (stop, delete the follower's data, restart) works, and a
// follower whose position the leader trimmed away re-bootstraps by itself.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadNative, type NativeKernel } from '../src/kernel/native';
import { FaultProxy } from './fault-proxy';
import { request, vector } from './helpers';
import { assertBuilt, assertConverged, backgroundWriter, cleanup, DIM, FAST, logProof, replState, startNode, tempDir, waitFor, writeMix, type NodeProcess, type ReplState } from './replication-helpers';

const CAPACITY = { VALORI_MAX_RECORDS: '200000', VALORI_MAX_NODES: '1000', VALORI_MAX_EDGES: '1000' };

describe('replication divergence', () => {
  before(assertBuilt);
  after(cleanup);

  /** A synced follower, stopped, with one extra event written into its own log by a second kernel. */
  async function alteredFollower(leader: NodeProcess, alter: (k: NativeKernel) => Promise<unknown>): Promise<{ env: Record<string, string>; dataDir: string }> {
    const dataDir = tempDir();
    const env = { ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(dataDir, 'events.log'), VALORI_FOLLOWER_OF: leader.base };
    const first = await startNode(env);
    await assertConverged(leader.base, first.base);
    await first.stop();
    const k = await loadNative().openKernel({ dim: DIM, maxRecords: 200_000, maxNodes: 1000, maxEdges: 1000, eventLogPath: join(dataDir, 'events.log') });
    await alter(k);
    k.close();
    return { env, dataDir };
  }

  /** Polls until the first check that is not Pending; also returns every state seen before it. */
  async function firstVerdict(base: string): Promise<{ verdict: ReplState; seen: ReplState[] }> {
    const seen: ReplState[] = [];
    const verdict = await waitFor('the first definitive check', async () => {
      const s = await replState(base);
      seen.push(s);
      return s.last_check && s.last_check.result !== 'Pending' ? s : undefined;
    });
    return { verdict, seen };
  }

  it('when a follower state was altered behind its back (an extra metadata event), then its first check reports Diverged with different hashes at the same height (state, warn log, metric), and it stays Diverged', async () => {
    const leader = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
    await writeMix(leader.base, { batches: 5, batchSize: 20, singles: 50 });
    const { env, dataDir } = await alteredFollower(leader, (k) => k.setMetadata('default', 'intruder', '"not from the leader"'));

    const altered = await startNode(env);
    // The follower skips the leader's next event (it has that height already): make it one that
    // takes no record id either, so every later event applies and only the hashes can tell.
    assert.equal((await request(leader.base, '/v1/memory/meta/set', { body: { target_id: 'other', metadata: 1 } })).status, 200);
    const writer = backgroundWriter(leader.base);
    const { verdict, seen } = await firstVerdict(altered.base);
    await writer.stop();
    const check = verdict.last_check!;
    assert.equal(check.result, 'Diverged', JSON.stringify(check));
    assert.match(check.detail!, /state hashes differ at height/);
    assert.ok(check.leader_hash && check.follower_hash && check.leader_hash !== check.follower_hash);
    assert.equal(verdict.status, 'Diverged');
    assert.ok(!seen.some((s) => s.status === 'Synced'), 'never Synced');
    assert.ok(altered.output().includes('"level":"warn"') && altered.messages().some((m) => m.startsWith('replication check: Diverged')), 'logged at warn');
    assert.match((await request(altered.base, '/metrics')).text, /^valori_replication_status\{status="Diverged"\} 1$/m);
    // Sticky: later rounds do not make it look healthy.
    await waitFor('another check', async () => ((await replState(altered.base)).last_check!.at !== check.at ? true : undefined));
    assert.equal((await replState(altered.base)).status, 'Diverged');

    // The guide's recovery: stop, delete the follower's data (event log and its snapshot), restart.
    await altered.stop();
    for (const f of readdirSync(dataDir)) rmSync(join(dataDir, f), { recursive: true, force: true });
    const recovered = await startNode(env);
    await assertConverged(leader.base, recovered.base);
    assert.equal((await replState(recovered.base)).bootstraps, 1);
    await recovered.stop();
    await leader.stop();
  });

  it("when the leader's next event does not apply to an altered follower (its record id was taken), then the first check reports Diverged naming that event", async () => {
    const leader = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
    await writeMix(leader.base, { batches: 2, batchSize: 20 });
    const { env } = await alteredFollower(leader, (k) => k.insert('default', new Float32Array(vector(DIM, 424242))));
    const altered = await startNode(env);
    // The follower skips the leader's next event (it has that height already); the one after is
    // a batch whose first id the follower's extra record already took.
    await writeMix(leader.base, { batches: 2, batchSize: 5, concurrency: 1 });
    const { verdict } = await firstVerdict(altered.base);
    assert.equal(verdict.last_check!.result, 'Diverged', JSON.stringify(verdict.last_check));
    assert.match(verdict.last_check!.detail!, /is rejected here at the same height/);
    assert.ok(altered.messages().some((m) => /does not apply to this follower/.test(m)));
    await altered.stop();
    await leader.stop();
  });

  it('when a correct follower is slowed down (throttled link) while writes continue, then it never reports Diverged and its checks say Synced at heights below the leader', async () => {
    const leader = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
    const proxy = new FaultProxy(leader.port);
    try {
      const follower = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'), VALORI_FOLLOWER_OF: await proxy.start() });
      await waitFor('the follower to stream', async () => ((await replState(follower.base)).status === 'Synced' ? true : undefined));
      proxy.throttle(40_000);
      const writer = backgroundWriter(leader.base, { batchSize: 40 });
      let maxLag = 0;
      let syncedBehind = 0;
      const statuses = new Set<string>();
      const until = Date.now() + 4_000;
      for (let i = 0; i < 400 && Date.now() < until; i++) {
        const s = await replState(follower.base);
        const leaderHeight = (await logProof(leader.base)).committed_height;
        statuses.add(s.status);
        maxLag = Math.max(maxLag, leaderHeight - s.applied_height);
        if (s.last_check?.result === 'Synced' && s.last_check.height! < leaderHeight) syncedBehind++;
        await new Promise((r) => setTimeout(r, 50));
      }
      await writer.stop();
      proxy.heal();
      await assertConverged(leader.base, follower.base);
      assert.ok(!statuses.has('Diverged'), [...statuses].join(', '));
      assert.ok(maxLag > 50, `the follower really lagged (max lag ${maxLag})`);
      assert.ok(syncedBehind > 0, 'checks compared equal heights while the leader was ahead');
      await follower.stop();
    } finally {
      await proxy.close();
    }
    await leader.stop();
  });
});

describe('replication retention', () => {
  before(assertBuilt);
  after(cleanup);

  it("when the leader trimmed its log past a stopped follower's position, then the restarted follower is told bootstrap-required, re-bootstraps by itself and converges", async () => {
    const leader = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
    await writeMix(leader.base, { batches: 5, batchSize: 20, singles: 50, seed: 1 });
    const env = { ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'), VALORI_FOLLOWER_OF: leader.base };
    const first = await startNode(env);
    const stoppedAt = await assertConverged(leader.base, first.base);
    await first.stop();

    await writeMix(leader.base, { batches: 5, batchSize: 20, singles: 100, seed: 2 });
    assert.equal((await request(leader.base, '/v1/snapshot/save', { body: {} })).status, 200);
    const trim = await request(leader.base, '/v1/event-log/trim', { method: 'POST' });
    assert.equal(trim.status, 200, trim.text);
    assert.ok(trim.json.first_seq > stoppedAt + 1, `trimmed past the follower: ${trim.text}`);

    const second = await startNode(env);
    await writeMix(leader.base, { singles: 50, seed: 3 });
    await assertConverged(leader.base, second.base);
    const s = await replState(second.base);
    assert.equal(s.bootstraps, 1);
    const log = second.messages();
    assert.ok(log.some((m) => m.includes(`resuming from own event log at height ${stoppedAt}`)), 'it first resumed from its own log');
    assert.ok(log.some((m) => m.startsWith('leader says bootstrap required')), 'then the leader said bootstrap required');
    await second.stop();
    await leader.stop();
  });
});
