// Replication under faults (docs/reliability.md battery 6): kill -9 of the leader or the follower
// mid-stream, and a TCP fault proxy between them (cut, reset mid-event, stall). After healing the
// follower converges, and its event-log chain equals the leader's at the same height: every event
// applied exactly once, in order.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FaultProxy } from './fault-proxy';
import { assertBuilt, assertConverged, backgroundWriter, cleanup, FAST, logProof, replState, startNode, tempDir, waitFor, writeMix } from './replication-helpers';

const CAPACITY = { VALORI_MAX_RECORDS: '200000', VALORI_MAX_NODES: '1000', VALORI_MAX_EDGES: '1000' };

async function appliedAbove(base: string, height: number): Promise<number> {
  return waitFor(`follower past height ${height}`, async () => {
    const s = await replState(base);
    return s.applied_height > height ? s.applied_height : undefined;
  });
}

describe('replication faults: process kills', () => {
  before(assertBuilt);
  after(cleanup);

  it('when the leader is killed (-9) mid-stream and restarted, then the follower reconnects and converges with no event applied twice or skipped', async () => {
    const leaderLog = join(tempDir(), 'events.log');
    const leader = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: leaderLog });
    const follower = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'), VALORI_FOLLOWER_OF: leader.base });
    // Streaming from an empty leader (no bootstrap), so both logs hold every event from 1.
    await waitFor('the follower to stream', async () => ((await replState(follower.base)).status === 'Synced' ? true : undefined));
    const writer = backgroundWriter(leader.base);
    await appliedAbove(follower.base, 200);
    await leader.kill();
    await writer.stop();
    await waitFor('the follower to see the leader gone', async () => ((await replState(follower.base)).status === 'Connecting' ? true : undefined));

    const restarted = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: leaderLog }, leader.port);
    assert.equal((await writeMix(restarted.base, { batches: 5, batchSize: 20, singles: 100, seed: 9 })).failed, 0);
    await assertConverged(restarted.base, follower.base);
    // Both logs start at 1 (no bootstrap): the follower holds exactly the leader's events.
    const [l, f] = [await logProof(restarted.base), await logProof(follower.base)];
    assert.deepEqual([f.event_count, f.first_seq], [l.event_count, l.first_seq]);
    const s = await replState(follower.base);
    assert.equal(s.bootstraps, 0);
    assert.ok(s.reconnects >= 1, `${s.reconnects} reconnects`);
    await follower.stop();
    await restarted.stop();
  });

  it('when the follower is killed (-9) mid-stream and restarted, then it resumes from its own log (no re-bootstrap) and converges', async () => {
    const leader = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
    await writeMix(leader.base, { batches: 10, batchSize: 20, singles: 100 });
    const followerLog = join(tempDir(), 'events.log');
    const env = { ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: followerLog, VALORI_FOLLOWER_OF: leader.base };
    const first = await startNode(env);
    const writer = backgroundWriter(leader.base);
    const reached = await appliedAbove(first.base, 400);
    assert.equal((await replState(first.base)).bootstraps, 1, 'the first life bootstrapped from the leader');
    await first.kill();

    const second = await startNode(env);
    await writer.stop();
    await assertConverged(leader.base, second.base);
    const s = await replState(second.base);
    assert.equal(s.bootstraps, 0, 'no re-bootstrap after the restart');
    const resumed = second.messages().find((m) => m.startsWith('follower of'));
    const at = Number(/resuming from own event log at height (\d+)/.exec(resumed ?? '')?.[1]);
    assert.ok(at >= reached, `resumed at ${at} (had applied ${reached}): ${resumed}`);
    assert.ok(!second.messages().some((m) => m.startsWith('bootstrapping')), 'no snapshot download');
    await second.stop();
    await leader.stop();
  });
});

describe('replication faults: TCP fault proxy', () => {
  before(assertBuilt);
  after(cleanup);

  it('when connections are cut, reset mid-event and stalled, then the follower reconnects and converges after healing', async () => {
    const leader = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
    const proxy = new FaultProxy(leader.port);
    try {
      const via = await proxy.start();
      const follower = await startNode({ ...CAPACITY, ...FAST, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'), VALORI_FOLLOWER_OF: via });
      await waitFor('the follower to stream', async () => ((await replState(follower.base)).status === 'Synced' ? true : undefined));
      const writer = backgroundWriter(leader.base, { batchSize: 40 });
      let h = await appliedAbove(follower.base, 100);

      // Cut: every connection destroyed, twice.
      for (let i = 0; i < 2; i++) {
        proxy.cut();
        h = await appliedAbove(follower.base, h + 50);
      }
      // Reset mid-event: half of a chunk of events is forwarded, then both sides get an RST.
      proxy.resetMidChunk(1024);
      await waitFor('a mid-event reset', async () => (proxy.resets === 1 ? true : undefined));
      h = await appliedAbove(follower.base, h + 50);

      // Stall: sockets stay open and silent; the follower notices the missing heartbeats.
      proxy.stall();
      const stalled = await waitFor('the stall to be detected', async () => {
        const s = await replState(follower.base);
        return s.last_error?.message.includes('no data from the leader') ? s : undefined;
      });
      assert.notEqual(stalled.status, 'Diverged');
      proxy.heal();
      await appliedAbove(follower.base, stalled.applied_height + 50);

      await writer.stop();
      await assertConverged(leader.base, follower.base);
      const s = await replState(follower.base);
      assert.ok(s.reconnects >= 4, `${s.reconnects} reconnects`);
      assert.equal(s.bootstraps, 0);
      await follower.stop();
    } finally {
      await proxy.close();
    }
    await leader.stop();
  });
});
