// The native Kernel export, called directly: every method's result, and every async method's
// failure with its stable err.code.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadNative } from '../src/kernel/native';

const { Kernel } = loadNative();
const DIM = 4;
const C = 'default';

function kernel(over: Partial<{ maxRecords: number; maxNodes: number; maxEdges: number }> = {}) {
  return new Kernel({ dim: DIM, maxRecords: 8, maxNodes: 8, maxEdges: 8, index: 'brute', quant: 'none', ...over });
}

const v = (...xs: number[]) => Float32Array.from(xs);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof Error, 'a JS Error');
    assert.equal((err as { code?: unknown }).code, code, (err as Error).message);
    return true;
  });
}

describe('native Kernel', () => {
  it('when constructed with valid options, then stats report the configured pools, empty', () => {
    const s = kernel().stats();
    assert.equal(s.dim, DIM);
    for (const pool of [s.records, s.nodes, s.edges]) {
      assert.equal(pool.live, 0);
      assert.equal(pool.used, 0);
      assert.equal(pool.slots, 0);
    }
    assert.equal(s.records.capacity, 8);
    assert.equal(s.readOnly, false);
    assert.equal(s.index, 'brute');
    assert.ok(s.maxAbsValue > 0);
  });

  it('when constructed with dim 0, then it throws', () => {
    assert.throws(() => new Kernel({ dim: 0, maxRecords: 1, maxNodes: 1, maxEdges: 1 }));
  });

  it('when a vector is inserted, then it resolves with sequential ids from 0', async () => {
    const k = kernel();
    const first = await k.insert(C, v(1, 2, 3, 4));
    assert.ok(first.ids instanceof Uint32Array);
    assert.deepEqual([Array.from(first.ids), first.height, first.deduplicated], [[0], 1, false]);
    assert.deepEqual(Array.from((await k.insert(C, v(1, 2, 3, 5), 7n)).ids), [1]);
    assert.equal(k.stats().records.live, 2);
  });

  it('when a vector has the wrong dimension, then insert rejects with DIMENSION_MISMATCH', async () => {
    await rejectsWith(kernel().insert(C, v(1, 2, 3)), 'DIMENSION_MISMATCH');
  });

  it('when a component is NaN or out of range, then insert rejects with INVALID_VECTOR', async () => {
    const k = kernel();
    await rejectsWith(k.insert(C, v(1, Number.NaN, 0, 0)), 'INVALID_VECTOR');
    await rejectsWith(k.insert(C, v(1, k.stats().maxAbsValue * 2, 0, 0)), 'INVALID_VECTOR');
    assert.equal(k.stats().records.live, 0);
  });

  it('when a batch is inserted, then it resolves with contiguous ids', async () => {
    const k = kernel();
    const { ids } = await k.insertBatch(C, v(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0), 3);
    assert.ok(ids instanceof Uint32Array);
    assert.deepEqual(Array.from(ids), [0, 1, 2]);
  });

  it('when a batch holds one bad vector, then insertBatch rejects and inserts none', async () => {
    const k = kernel();
    await rejectsWith(k.insertBatch(C, v(1, 0, 0, 0, Number.POSITIVE_INFINITY, 0, 0, 0), 2), 'INVALID_VECTOR');
    assert.equal(k.stats().records.used, 0);
  });

  it('when a batch exceeds capacity, then insertBatch rejects with CAPACITY_EXCEEDED and inserts none', async () => {
    const k = kernel({ maxRecords: 2 });
    await rejectsWith(k.insertBatch(C, new Float32Array(3 * DIM), 3), 'CAPACITY_EXCEEDED');
    assert.equal(k.stats().records.used, 0);
  });

  it('when a record is hard-deleted, then it leaves search and the pool', async () => {
    const k = kernel();
    await k.insert(C, v(0, 0, 0, 0));
    await k.insert(C, v(1, 0, 0, 0));
    await k.deleteRecord(C, 0);
    const hits = await k.search(C, v(0, 0, 0, 0), 5);
    assert.deepEqual(hits.map((h) => h.id), [1]);
    assert.equal(k.stats().records.live, 1);
  });

  it('when an unknown record is deleted, then deleteRecord rejects with NOT_FOUND', async () => {
    await rejectsWith(kernel().deleteRecord(C, 42), 'NOT_FOUND');
  });

  it('when a record is soft-deleted, then search skips it but it still counts against capacity', async () => {
    const k = kernel();
    await k.insert(C, v(0, 0, 0, 0));
    await k.softDeleteRecord(C, 0);
    assert.deepEqual(await k.search(C, v(0, 0, 0, 0), 5), []);
    assert.equal(k.stats().records.live, 0);
    assert.equal(k.stats().records.used, 1);
  });

  it('when an unknown record is soft-deleted, then softDeleteRecord rejects with NOT_FOUND', async () => {
    await rejectsWith(kernel().softDeleteRecord(C, 3), 'NOT_FOUND');
  });

  it('when nodes are created, then getNode returns their kind and record link', async () => {
    const k = kernel();
    const [rec] = (await k.insert(C, v(1, 1, 1, 1))).ids;
    const [a] = (await k.createNode(C, 5, rec)).ids;
    const [b] = (await k.createNode(C, 2)).ids;
    assert.deepEqual([a, b], [0, 1]);
    assert.equal(k.getNode(C, a)?.kind, 5);
    assert.equal(k.getNode(C, a)?.recordId, rec);
    assert.equal(k.getNode(C, b)?.recordId ?? null, null);
    assert.equal(k.getNode(C, 99), null);
  });

  it('when a node links to a missing record, then createNode rejects with NOT_FOUND', async () => {
    await rejectsWith(kernel().createNode(C, 1, 7), 'NOT_FOUND');
  });

  it('when the node pool is 0, then createNode rejects with CAPACITY_EXCEEDED', async () => {
    await rejectsWith(kernel({ maxNodes: 0 }).createNode(C, 1), 'CAPACITY_EXCEEDED');
  });

  it('when edges are created, then getEdges lists outgoing edges newest first', async () => {
    const k = kernel();
    const node = async () => (await k.createNode(C, 0)).ids[0];
    const [a, b, c] = [await node(), await node(), await node()];
    const [e1] = (await k.createEdge(C, a, b, 1)).ids;
    const [e2] = (await k.createEdge(C, a, c, 2)).ids;
    assert.deepEqual(k.getEdges(C, a), [
      { edgeId: e2, toNode: c, kind: 2 },
      { edgeId: e1, toNode: b, kind: 1 },
    ]);
    assert.deepEqual(k.getEdges(C, b), []);
    assert.equal(k.getEdges(C, 50), null);
  });

  it('when an edge points at an unknown node, then createEdge rejects with NOT_FOUND', async () => {
    const k = kernel();
    const [a] = (await k.createNode(C, 0)).ids;
    await rejectsWith(k.createEdge(C, a, 9, 0), 'NOT_FOUND');
    assert.equal(k.stats().edges.used, 0);
  });

  it('when a memory is upserted, then record, document node, chunk node, edge and metadata exist', async () => {
    const k = kernel();
    const [recordId, documentNodeId, chunkNodeId, edgeId] = (
      await k.upsertMemory(C, v(0.5, 0.5, 0.5, 0.5), null, '{"title":"x"}')
    ).ids;
    assert.equal(k.getNode(C, chunkNodeId)?.recordId, recordId);
    assert.deepEqual(k.getEdges(C, documentNodeId), [{ edgeId, toNode: chunkNodeId, kind: 6 }]);
    assert.equal(k.getMetadata(C, `rec:${recordId}`), '{"title":"x"}');
    const again = await k.upsertMemory(C, v(0.5, 0.5, 0.5, 0.6), documentNodeId, null);
    assert.equal(again.ids[1], documentNodeId);
  });

  it('when node capacity cannot hold the upsert, then upsertMemory rejects and changes nothing', async () => {
    const k = kernel({ maxNodes: 1 });
    const before = await k.stateHash();
    await rejectsWith(k.upsertMemory(C, v(1, 2, 3, 4), null, null), 'CAPACITY_EXCEEDED');
    assert.equal(k.stats().records.used, 0);
    assert.equal(await k.stateHash(), before);
  });

  it('when metadata is set, then getMetadata returns the JSON text, and null for unknown keys', async () => {
    const k = kernel();
    await k.setMetadata(C, 'node:1', '{"a":[1,2]}');
    assert.equal(k.getMetadata(C, 'node:1'), '{"a":[1,2]}');
    assert.equal(k.getMetadata(C, 'nope'), null);
  });

  it('when metadata is over 64 KiB, then setMetadata rejects with METADATA_TOO_LARGE', async () => {
    await rejectsWith(kernel().setMetadata(C, 'k', JSON.stringify('x'.repeat(70_000))), 'METADATA_TOO_LARGE');
  });

  it('when searching, then hits come ordered by (score, id) with squared-L2 scores', async () => {
    const k = kernel();
    await k.insertBatch(C, v(2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0), 4);
    const hits = await k.search(C, v(0, 0, 0, 0), 3);
    assert.deepEqual(hits, [
      { id: 3, score: 0 },
      { id: 1, score: 1 },
      { id: 2, score: 1 },
    ]);
  });

  it('when searching with filterTag, then only records with that tag are returned', async () => {
    const k = kernel();
    await k.insert(C, v(0, 0, 0, 0), 1n);
    await k.insert(C, v(0, 0, 0, 0), 2n);
    const hits = await k.search(C, v(0, 0, 0, 0), 5, { filterTag: 2n });
    assert.deepEqual(hits.map((h) => h.id), [1]);
  });

  it('when the query has the wrong dimension or k is 0, then search rejects', async () => {
    const k = kernel();
    await rejectsWith(k.search(C, v(1, 2), 1), 'DIMENSION_MISMATCH');
    await rejectsWith(k.search(C, v(1, 2, 3, 4), 0), 'INVALID_ARGUMENT');
  });

  it('when two kernels see the same writes, then stateHash is equal 64-hex; any difference changes it', async () => {
    const a = kernel();
    const b = kernel();
    for (const k of [a, b]) {
      await k.insert(C, v(1, 2, 3, 4));
      await k.setMetadata(C, 'rec:0', '{"x":1}');
    }
    const ha = await a.stateHash();
    assert.match(ha, /^[0-9a-f]{64}$/);
    assert.equal(await b.stateHash(), ha);
    await b.setMetadata(C, 'rec:0', '{"x":2}');
    assert.notEqual(await b.stateHash(), ha);
  });

  it('when the kernel is closed while a write is in flight, then the write settles (durable or CLOSED) and closing again is a no-op', async () => {
    const k = kernel();
    const inFlight = k.insert(C, v(1, 1, 1, 1));
    k.close();
    // The write was converted and queued off the JS thread, so close() may come first: then it is
    // refused whole. Either way it settles; it never hangs or half-applies.
    await inFlight.then(
      (r) => assert.deepEqual(Array.from(r.ids), [0]),
      (err: unknown) => assert.equal((err as { code?: unknown }).code, 'CLOSED'),
    );
    k.close();
  });

  // The contract changed with the kernel facade: after close() every call fails with CLOSED,
  // reads included (they used to keep answering from memory).
  it('when a snapshot is streamed, then its pieces are the downloaded bytes, and a closed stream ends', async () => {
    const dim = 64;
    const k = new Kernel({ dim, maxRecords: 20_000, maxNodes: 8, maxEdges: 8, index: 'brute', quant: 'none' });
    const n = 12_000; // 12,000 × 64 × 4 bytes: several 1 MiB pieces
    const values = new Float32Array(n * dim);
    for (let i = 0; i < values.length; i++) values[i] = ((i * 7919) % 1000) / 100;
    await k.insertBatch(C, values, n);
    const whole = await k.snapshotBytes();
    const s = await k.snapshotStream();
    assert.equal(s.length, whole.length);
    assert.equal(s.height, 1);
    // Written after the stream froze the state: not in it.
    await k.insert(C, Float32Array.from({ length: dim }, () => 1));
    const pieces: Buffer[] = [];
    for (let p = await s.next(); p !== null; p = await s.next()) {
      assert.ok(p.length > 0 && p.length <= 1 << 20, `piece of ${p.length} bytes`);
      pieces.push(p);
    }
    assert.ok(pieces.length >= 3, `${pieces.length} pieces`);
    assert.ok(Buffer.concat(pieces).equals(whole), 'the pieces are the snapshot bytes');
    assert.equal(await s.next(), null, 'the end stays the end');

    const now = await k.snapshotBytes();
    const cut = await k.snapshotStream();
    const first = await cut.next();
    assert.ok(first !== null && first.equals(now.subarray(0, first.length)));
    cut.close();
    let more = 0;
    while ((await cut.next()) !== null) more++;
    assert.ok(more <= 3, `${more} pieces after close (at most those already encoded)`);
    k.close();
  });

  it('when a snapshot is restored from a file, then the state is the one restored from its bytes; a bad file changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valori-restore-file-'));
    try {
      const a = kernel();
      await a.insertBatch(C, v(1, 2, 3, 4, 5, 6, 7, 8), 2);
      await a.setMetadata(C, 'k', '"v"');
      const bytes = await a.snapshotBytes();
      const file = join(dir, 'snap.val1');
      writeFileSync(file, bytes);
      const b = kernel();
      assert.equal(await b.restoreSnapshotFile(file, true), 2);
      assert.equal(await b.stateHash(), await a.stateHash());
      const c = kernel();
      await c.insert(C, v(9, 9, 9, 9));
      const before = await c.stateHash();
      await rejectsWith(c.restoreSnapshotFile(join(dir, 'missing.val1'), true), 'IO_ERROR');
      const damaged = Buffer.from(bytes);
      damaged[damaged.length - 1] ^= 1;
      writeFileSync(file, damaged);
      await assert.rejects(c.restoreSnapshotFile(file, true));
      writeFileSync(file, Buffer.alloc(0));
      await assert.rejects(c.restoreSnapshotFile(file, true));
      assert.equal(await c.stateHash(), before, 'a refused file changes nothing');
      for (const k of [a, b, c]) k.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when the kernel is closed, then every export rejects or throws with CLOSED', async () => {
    const k = kernel();
    await k.insert(C, v(1, 1, 1, 1));
    k.close();
    const calls: Record<string, () => unknown> = {
      stats: () => k.stats(),
      insert: () => k.insert(C, v(1, 1, 1, 1)),
      insertBatch: () => k.insertBatch(C, v(1, 1, 1, 1), 1),
      deleteRecord: () => k.deleteRecord(C, 0),
      softDeleteRecord: () => k.softDeleteRecord(C, 0),
      createNode: () => k.createNode(C, 1),
      createEdge: () => k.createEdge(C, 0, 0, 1),
      deleteNode: () => k.deleteNode(C, 0),
      deleteEdge: () => k.deleteEdge(C, 0),
      upsertMemory: () => k.upsertMemory(C, v(1, 1, 1, 1)),
      setMetadata: () => k.setMetadata(C, 'a', '1'),
      setRecordMetadata: () => k.setRecordMetadata(C, 0, '{}'),
      getMetadata: () => k.getMetadata(C, 'a'),
      getNode: () => k.getNode(C, 0),
      getEdges: () => k.getEdges(C, 0),
      getRecord: () => k.getRecord(C, 0),
      listNodes: () => k.listNodes(C, 0, 1),
      graphQuery: () => k.graphQuery(C, 0, { direction: 'out', depth: 1, limit: 1 }),
      subgraph: () => k.subgraph(C, 0, 1, 1),
      timeline: () => k.timeline(1, 1),
      createCollection: () => k.createCollection({ name: 'a', dim: 2 }),
      dropCollection: () => k.dropCollection('a'),
      listCollections: () => k.listCollections(),
      search: () => k.search(C, v(1, 1, 1, 1), 1),
      stateHash: () => k.stateHash(),
      saveSnapshot: () => k.saveSnapshot(),
      snapshotBytes: () => k.snapshotBytes(),
      snapshotStream: () => k.snapshotStream(),
      readSnapshotFile: () => k.readSnapshotFile('a'),
      restoreSnapshot: () => k.restoreSnapshot(Buffer.alloc(8), false),
      restoreSnapshotFile: () => k.restoreSnapshotFile('/nonexistent', false),
      restoreNamedSnapshot: () => k.restoreNamedSnapshot('a'),
      trimLog: () => k.trimLog(),
      buildIndex: () => k.buildIndex(C),
      logProof: () => k.logProof(),
      lastSnapshot: () => k.lastSnapshot(),
      recovery: () => k.recovery(),
      readEvents: () => k.readEvents(1, 1, 1),
      waitForHeight: () => k.waitForHeight(0, 1),
      applyReplicated: () => k.applyReplicated(2, Buffer.alloc(8)),
      stateProof: () => k.stateProof(),
      appendedLogBytes: () => k.appendedLogBytes(),
      searchJson: () => k.searchJson(Buffer.from('{"query":[1,1,1,1],"k":1}'), { v1: false, maxK: 10, maxEf: 10, maxNprobe: 10, maxResponseBytes: 1e6, refuseLinearizable: false, maxContainers: 100, maxElements: 100 }),
      parseBatchJson: () => k.parseBatchJson(Buffer.from('{"batch":[[1,1,1,1]]}'), { maxRows: 10, maxContainers: 100, maxElements: 100 }),
      parseVectorJson: () => k.parseVectorJson(Buffer.from('{"values":[1,1,1,1]}'), { field: 'values', maxContainers: 100, maxElements: 100 }),
    };
    // Every method of the class is listed above (close itself aside), so a new export cannot
    // skip the closed check unnoticed.
    const methods = Object.getOwnPropertyNames(Kernel.prototype).filter((m) => m !== 'constructor' && m !== 'close');
    assert.deepEqual([...methods].sort(), Object.keys(calls).sort());
    for (const [name, call] of Object.entries(calls)) {
      let result: unknown;
      try {
        result = call();
      } catch (err) {
        assert.equal((err as { code?: unknown }).code, 'CLOSED', `${name} threw another code`);
        continue;
      }
      assert.ok(result instanceof Promise, `${name} returned instead of throwing`);
      await rejectsWith(result, 'CLOSED');
    }
  });
});
