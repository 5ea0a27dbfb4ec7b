// The native Kernel's collections and idempotency keys, called directly: results, refusals with
// their stable err.code, and that a refusal changes nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNative } from '../src/kernel/native';

const { Kernel } = loadNative();
const C = 'default';

const kernel = () => new Kernel({ dim: 2, maxRecords: 16, maxNodes: 16, maxEdges: 16, index: 'brute', quant: 'none' });
const v = (...xs: number[]) => Float32Array.from(xs);
const key = (b: number) => Buffer.alloc(16, b);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code, (err as Error).message);
    return true;
  });
}

describe('native Kernel collections', () => {
  it('when collections are created, then they list in id order with their own dimension and counts', async () => {
    const k = kernel();
    const a = await k.createCollection({ name: 'a', dim: 3, index: 'hnsw', maxRecords: 5 });
    assert.deepEqual([Array.from(a.ids), a.height, a.deduplicated], [[1], 1, false]);
    await k.insert('a', v(1, 2, 3));
    const list = k.listCollections();
    assert.deepEqual(
      list.map((c) => [c.id, c.name, c.dim, c.metric, c.index, c.maxRecords ?? null, c.records.live]),
      [
        [0, 'default', 2, 'squared_l2', 'brute', null, 0],
        [1, 'a', 3, 'squared_l2', 'hnsw', 5, 1],
      ],
    );
    assert.equal(k.stats().collections, 2);
    assert.deepEqual((await k.search('a', v(1, 2, 3), 1)).map((h) => h.id), [0]);
    assert.deepEqual(await k.search(C, v(1, 2), 1), []);
    await rejectsWith(k.insert('a', v(1, 2)), 'DIMENSION_MISMATCH');
  });

  it('when a collection is unknown, taken, protected or badly named, then the call is refused and nothing changes', async () => {
    const k = kernel();
    await k.createCollection({ name: 'a', dim: 2 });
    const before = await k.stateHash();
    await rejectsWith(k.insert('b', v(1, 2)), 'COLLECTION_NOT_FOUND');
    await rejectsWith(k.search('b', v(1, 2), 1), 'COLLECTION_NOT_FOUND');
    assert.throws(() => k.getNode('b', 0), (e: { code?: string }) => e.code === 'COLLECTION_NOT_FOUND');
    await rejectsWith(k.createCollection({ name: 'a', dim: 2 }), 'COLLECTION_EXISTS');
    await rejectsWith(k.createCollection({ name: '-a', dim: 2 }), 'INVALID_ARGUMENT');
    await rejectsWith(k.createCollection({ name: 'm', dim: 2, metric: 'euclid' }), 'INVALID_ARGUMENT');
    await rejectsWith(k.createCollection({ name: 'q', dim: 2, quant: 'tiny' }), 'INVALID_ARGUMENT');
    await rejectsWith(k.dropCollection(C), 'COLLECTION_PROTECTED');
    assert.equal(await k.stateHash(), before);
    const dropped = await k.dropCollection('a');
    assert.deepEqual(Array.from(dropped.ids), []);
    assert.deepEqual(k.listCollections().map((c) => c.name), [C]);
  });

  it('when stateProof names a collection, then its hash moves only with that collection', async () => {
    const k = kernel();
    await k.createCollection({ name: 'a', dim: 2 });
    const a = await k.stateProof('a');
    const whole = await k.stateProof();
    await k.insert(C, v(1, 1));
    assert.equal((await k.stateProof('a')).hash, a.hash);
    assert.notEqual((await k.stateProof()).hash, whole.hash);
    assert.match(a.hash, /^[0-9a-f]{64}$/);
    await rejectsWith(k.stateProof('zz'), 'COLLECTION_NOT_FOUND');
  });

  it('when a write carries an idempotency key, then a retry gets the first outcome and a changed body is refused', async () => {
    const k = kernel();
    const first = await k.insert(C, v(1, 1), null, { idempotencyKey: key(1) });
    const again = await k.insert(C, v(1, 1), null, { idempotencyKey: key(1) });
    assert.deepEqual([Array.from(again.ids), again.height, again.deduplicated], [Array.from(first.ids), first.height, true]);
    assert.equal(k.stats().records.live, 1);
    await rejectsWith(k.insert(C, v(1, 2), null, { idempotencyKey: key(1) }), 'IDEMPOTENCY_KEY_REUSED');
    await rejectsWith(k.insert(C, v(1, 2), null, { idempotencyKey: Buffer.alloc(15) }), 'INVALID_ARGUMENT');
    // Item keys: a flag byte and 16 key bytes per item.
    const items = Buffer.concat([Buffer.from([1]), key(7), Buffer.from([1]), key(8)]);
    const batch = await k.insertBatch(C, v(2, 2, 3, 3), 2, { itemKeys: items });
    const retry = await k.insertBatch(C, v(2, 2, 3, 3), 2, { itemKeys: items });
    assert.deepEqual([Array.from(retry.ids), retry.deduplicated], [Array.from(batch.ids), true]);
    await rejectsWith(k.insertBatch(C, v(2, 2, 3, 3), 2, { itemKeys: items.subarray(1) }), 'INVALID_ARGUMENT');
    const flag = Buffer.from(items);
    flag[0] = 2;
    await rejectsWith(k.insertBatch(C, v(2, 2, 3, 3), 2, { itemKeys: flag }), 'INVALID_ARGUMENT');
  });

  it('when graph nodes and edges are deleted, then they are gone and a linked record stays', async () => {
    const k = kernel();
    const [rec] = (await k.insert(C, v(1, 1))).ids;
    const [n0] = (await k.createNode(C, 1, rec)).ids;
    const [n1] = (await k.createNode(C, 1)).ids;
    const [e] = (await k.createEdge(C, n0, n1, 2)).ids;
    await k.createEdge(C, n1, n0, 2);
    await k.deleteEdge(C, e);
    assert.deepEqual(k.getEdges(C, n0), []);
    await k.deleteNode(C, n1);
    assert.equal(k.getNode(C, n1), null);
    assert.equal(k.stats().edges.live, 0);
    assert.deepEqual((await k.search(C, v(1, 1), 1)).map((h) => h.id), [rec]);
    await rejectsWith(k.deleteNode(C, n1), 'NOT_FOUND');
    await rejectsWith(k.deleteEdge(C, e), 'NOT_FOUND');
  });
});
