// VALORI_INDEX_THREADS through the binding: the number of index build threads is a node-local
// setting that never changes what a search returns (docs/index-formats.md), and a value out of
// its range is refused when the kernel opens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadNative } from '../src/kernel/native';

const { Kernel } = loadNative();
const DIM = 16;
const C = 'default';
const N = 3000;

/** Seeded vectors in [-1, 1): the same data for every kernel. */
function vectors(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n * DIM);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A kernel of `index` built with `threads` index threads from batches of 1000, and its answers. */
async function answers(index: string, quant: string, threads: number): Promise<string[]> {
  const k = new Kernel({ dim: DIM, maxRecords: N, maxNodes: 0, maxEdges: 0, index, quant, indexThreads: threads });
  try {
    const data = vectors(N, 7);
    for (let b = 0; b < N; b += 1000) await k.insertBatch(C, data.subarray(b * DIM, (b + 1000) * DIM), 1000);
    const queries = vectors(20, 8);
    const out: string[] = [];
    for (let q = 0; q < 20; q++) {
      const hits = await k.search(C, queries.subarray(q * DIM, (q + 1) * DIM), 10);
      out.push(hits.map((h) => `${h.id}:${h.score}`).join(','));
    }
    return out;
  } finally {
    k.close();
  }
}

describe('index build threads', () => {
  for (const [index, quant] of [['hnsw', 'none'], ['ivf', 'product'], ['brute', 'scalar']]) {
    it(`when the same batches build a ${index}/${quant} index with 1, 2 and 8 threads, then every search returns the same hits`, async () => {
      const one = await answers(index, quant, 1);
      assert.equal(one.length, 20);
      assert.ok(one.every((a) => a.split(',').length === 10));
      for (const t of [2, 8, 0]) assert.deepEqual(await answers(index, quant, t), one, `${t} threads`);
    });
  }

  it('when indexThreads is over 1024, then opening the kernel throws INVALID_ARGUMENT', () => {
    assert.throws(
      () => new Kernel({ dim: DIM, maxRecords: 1, maxNodes: 0, maxEdges: 0, indexThreads: 1025 }),
      (err: unknown) => {
        assert.equal((err as { code?: unknown }).code, 'INVALID_ARGUMENT');
        assert.match((err as Error).message, /indexThreads/);
        return true;
      },
    );
  });
});
