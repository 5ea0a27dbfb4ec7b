// The kernel's replication primitives as the follower uses them (through src/kernel/kernel.ts):
// pipelined applyReplicated keeps call order, readEvents refuses trimmed history with
// BOOTSTRAP_REQUIRED, waitForHeight wakes on a commit, and stateProof pairs a hash with its height.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../src/config';
import { Kernel } from '../src/kernel/kernel';
import { vector } from './helpers';

const dirs: string[] = [];
const kernels: Kernel[] = [];

async function open(): Promise<Kernel> {
  const dir = mkdtempSync(join(tmpdir(), 'valori-repl-bind-'));
  dirs.push(dir);
  const k = await Kernel.open(loadConfig({ VALORI_DIM: '4', VALORI_MAX_RECORDS: '100000', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') }));
  kernels.push(k);
  return k;
}

async function allEvents(k: Kernel): Promise<{ seq: number; payload: Buffer }[]> {
  const out: { seq: number; payload: Buffer }[] = [];
  for (let from = 1, i = 0; i < 1_000; i++) {
    const batch = await k.readEvents(from, 500, 1 << 20);
    if (batch.length === 0) break;
    out.push(...batch);
    from = batch[batch.length - 1].seq + 1;
  }
  return out;
}

describe('replication primitives', () => {
  after(() => {
    for (const k of kernels) k.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('when 3,000 applyReplicated calls are fired without awaiting each, then all apply, in call order, into the same state and log chain', async () => {
    const leader = await open();
    await Promise.all(Array.from({ length: 3_000 }, (_, i) => leader.insert('default', vector(4, i))));
    const events = await allEvents(leader);
    assert.equal(events.length, 3_000);
    const follower = await open();
    const results = await Promise.allSettled(events.map((e) => follower.applyReplicated(e.seq, e.payload)));
    assert.deepEqual(results.filter((r) => r.status === 'rejected'), []);
    assert.deepEqual(await follower.stateProof(), await leader.stateProof());
    assert.equal(follower.logProof()?.eventLogHash, leader.logProof()?.eventLogHash);
    // Idempotent: re-applying what it has changes nothing; a gap is refused.
    await follower.applyReplicated(events[10].seq, events[10].payload);
    await assert.rejects(follower.applyReplicated(3_002, events[0].payload), (err: { code?: string }) => err.code === 'SEQUENCE_GAP');
    assert.equal(follower.stats().height, 3_000);
  });

  it('when events before the log start are read, then BOOTSTRAP_REQUIRED; a snapshot restored with bootstrap keeps its height', async () => {
    const leader = await open();
    for (let i = 0; i < 5; i++) await leader.insert('default', vector(4, i));
    await leader.saveSnapshot();
    await leader.trimLog();
    await assert.rejects(leader.readEvents(1, 10, 1 << 20), (err: { code?: string }) => err.code === 'BOOTSTRAP_REQUIRED');
    assert.deepEqual(await leader.readEvents(6, 10, 1 << 20), []);
    const follower = await open();
    assert.equal(await follower.restoreSnapshot(await leader.snapshotBytes(), true), 5);
    assert.deepEqual(await follower.stateProof(), await leader.stateProof());
  });

  it('when waiting for a height, then a commit past it wakes the wait, and otherwise it returns the current height after the timeout', async () => {
    const k = await open();
    await k.insert('default', vector(4, 1));
    assert.equal(await k.waitForHeight(1, 20), 1);
    const woken = k.waitForHeight(1, 10_000);
    await k.insert('default', vector(4, 2));
    assert.equal(await woken, 2);
  });
});
