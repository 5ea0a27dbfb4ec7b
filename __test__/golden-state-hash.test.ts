// The state hash is the product's promise: the same writes give the same BLAKE3 hash on every
// machine and in every version that keeps the format. This replays a fixed, seeded workload
// (records, batches, hard and soft deletes, graph nodes and edges, memory upserts with metadata,
// metadata keys, then churn that empties whole storage chunks) through the binding and compares
// the hash with the value the 730c815 build produced for the same workload, before record and
// graph storage were reorganised into chunks. A storage change that alters the canonical
// encoding fails here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNative } from '../src/kernel/native';

const { Kernel } = loadNative();
const DIM = 5;

// Computed with the 730c815 build (git worktree at that commit, `npm ci`, same workload).
const EXPECTED = {
  hash: 'a87d927150643dc590ec7748f187dd857bf150a296759f08844d8f44ece24048',
  records: { live: 2524, used: 2562, slots: 4275 },
  nodes: { live: 867, slots: 1568 },
  edges: { live: 112, slots: 866 },
};

describe('golden state hash', () => {
  it('when a fixed seeded workload is applied, then the state hash equals the one recorded before the storage change', async () => {
    let seed = 0x9e3779b9 >>> 0;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    const vec = () => Float32Array.from({ length: DIM }, () => (rnd(20001) - 10000) / 1000);
    const k = new Kernel({ dim: DIM, maxRecords: 5000, maxNodes: 5000, maxEdges: 5000, index: 'brute', quant: 'none' });
    const recs: number[] = [];
    const nodes: number[] = [];
    for (let i = 0; i < 1500; i++) {
      const op = rnd(100);
      try {
        if (op < 30) recs.push(await k.insert(vec(), BigInt(rnd(4))));
        else if (op < 40) {
          const n = 1 + rnd(40);
          const vals = new Float32Array(n * DIM);
          for (let j = 0; j < n; j++) vals.set(vec(), j * DIM);
          for (const id of await k.insertBatch(vals, n)) recs.push(id);
        } else if (op < 55 && recs.length) await k.deleteRecord(recs.splice(rnd(recs.length), 1)[0]);
        else if (op < 62 && recs.length) await k.softDeleteRecord(recs[rnd(recs.length)]);
        else if (op < 72) nodes.push(await k.createNode(rnd(7), recs.length && rnd(2) ? recs[rnd(recs.length)] : null));
        else if (op < 82 && nodes.length > 1) await k.createEdge(nodes[rnd(nodes.length)], nodes[rnd(nodes.length)], rnd(7));
        else if (op < 92) {
          const values = vec();
          const attach = nodes.length && rnd(2) ? nodes[rnd(nodes.length)] : null;
          const meta = rnd(2) ? JSON.stringify({ i, t: 'x'.repeat(rnd(30)) }) : null;
          const r = await k.upsertMemory(values, attach, meta);
          recs.push(r.recordId);
          nodes.push(r.chunkNodeId);
        } else await k.setMetadata(`key:${rnd(50)}`, JSON.stringify({ v: rnd(1000) }));
      } catch {
        // Refusals (a node deleted by a cascade, a soft-deleted record) are part of the workload:
        // they are deterministic and change nothing.
      }
    }
    for (const id of recs.splice(0, 900)) await k.deleteRecord(id);
    for (let i = 0; i < 600; i++) {
      const r = await k.upsertMemory(vec(), null, null);
      await k.deleteRecord(r.recordId);
    }
    for (let i = 0; i < 300; i++) recs.push(await k.insert(vec(), 7n));

    const s = k.stats();
    assert.deepEqual(
      { live: s.records.live, used: s.records.used, slots: s.records.slots },
      EXPECTED.records,
    );
    assert.deepEqual({ live: s.nodes.live, slots: s.nodes.slots }, EXPECTED.nodes);
    assert.deepEqual({ live: s.edges.live, slots: s.edges.slots }, EXPECTED.edges);
    assert.equal(await k.stateHash(), EXPECTED.hash);
    k.close();
  });
});
