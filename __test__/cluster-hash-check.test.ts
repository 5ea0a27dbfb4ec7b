// Members compare state hashes at equal heights (src/cluster/hash-check.ts): a peer holding the
// same state at our height is a match, one holding another state a mismatch (logged as an error),
// and one with no hash at our height (never took a proof there) unknown, never a mismatch.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ClusterHashCheck } from '../src/cluster/hash-check';
import type { ClusterNode } from '../src/cluster/node';
import { loadConfig } from '../src/config';
import { Kernel } from '../src/kernel/kernel';
import { createLogger } from '../src/log';
import { ProofRing } from '../src/replication/proof-ring';
import { request, startServer, type TestServer } from './helpers';

const TOKEN = 'hash-check-token-hash-check-token-0';

async function write(s: TestServer, values: number[]): Promise<void> {
  const r = await request(s.base, '/v1/records', { method: 'POST', body: { values }, token: TOKEN });
  assert.equal(r.status, 200, r.text);
}

describe('cluster hash check', () => {
  it('when peers hold the same, another or no state at our height, then they are match, mismatch and unknown', async () => {
    const env = { VALORI_DIM: '2', VALORI_AUTH_TOKEN: TOKEN };
    const same = await startServer(env);
    const other = await startServer(env);
    const behind = await startServer(env);
    const ours = await Kernel.open(loadConfig({ VALORI_DIM: '2' }));
    try {
      await write(same, [1, 2]);
      await write(same, [3, 4]);
      await write(other, [1, 2]);
      await write(other, [3, 5]);
      await write(behind, [1, 2]);
      await ours.insert('default', [1, 2]);
      await ours.insert('default', [3, 4]);
      // The peers take their proofs (as their own checks would), at height 2 and 1.
      for (const s of [same, other, behind]) assert.equal((await request(s.base, '/v1/proof/state', { token: TOKEN })).status, 200);
      const members = [
        { id: 1, raftAddr: '127.0.0.1:1', apiAddr: '127.0.0.1:1', voter: true },
        { id: 2, raftAddr: '127.0.0.1:1', apiAddr: same.base, voter: true },
        { id: 3, raftAddr: '127.0.0.1:1', apiAddr: other.base.replace('http://', ''), voter: true },
        { id: 4, raftAddr: '127.0.0.1:1', apiAddr: behind.base, voter: false },
      ];
      const cluster = { status: () => ({ nodeId: 1, members }) } as unknown as ClusterNode;
      const logs: string[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _enc, done) {
          logs.push(chunk.toString('utf8'));
          done();
        },
      });
      const logger = createLogger({ level: 'info', format: 'json', stream });
      const check = new ClusterHashCheck({ cluster, kernel: ours, ring: new ProofRing(), logger, intervalMs: 1_000, token: TOKEN });
      const results = await check.round(new AbortController().signal);
      assert.deepEqual(
        results.map((r) => [r.peer, r.height, r.result]),
        [
          [2, 2, 'match'],
          [3, 2, 'mismatch'],
          [4, 2, 'unknown'],
        ],
      );
      assert.equal(logs.filter((l) => l.includes('holds a different state at height 2')).length, 1);
      assert.deepEqual(check.results().map((r) => r.result), ['match', 'mismatch', 'unknown']);
    } finally {
      ours.close();
      await Promise.all([same.stop(), other.stop(), behind.stop()]);
    }
  });
});
