// A follower holding only a read key of its leader (VALORI_LEADER_TOKEN) bootstraps, streams and
// converges: read is all replication needs. Real processes on 127.0.0.1 (needs `npm run build`).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from './helpers';
import { assertBuilt, assertConverged, cleanup, FAST, startNode, tempDir, writeMix, type NodeProcess } from './replication-helpers';

const ROOT = 'replication-master-token-0123456789abcdef';
const READ_KEY = 'valori_follower-read-key-0123456789abcdefghijklmn';
const sha256 = (t: string): string => createHash('sha256').update(t).digest('hex');

describe('replication with a read key', () => {
  let leader: NodeProcess;

  before(async () => {
    assertBuilt();
    leader = await startNode({ VALORI_AUTH_TOKEN: ROOT, VALORI_API_KEYS: `follower-1:read:${sha256(READ_KEY)}`, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log') });
    await writeMix(leader.base, { token: ROOT, batches: 3, batchSize: 20, singles: 30 });
  });
  after(cleanup);

  it('when the follower sends a read key of the leader (VALORI_LEADER_TOKEN), then it bootstraps, streams and converges, and the key cannot write', async () => {
    const follower = await startNode({
      ...FAST,
      VALORI_AUTH_TOKEN: ROOT,
      VALORI_LEADER_TOKEN: READ_KEY,
      VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'),
      VALORI_FOLLOWER_OF: leader.base,
    });
    await writeMix(leader.base, { token: ROOT, singles: 50 });
    await assertConverged(leader.base, follower.base, ROOT);
    // The follower's credential is read-only on the leader: a compromised follower cannot write.
    const write = await request(leader.base, '/records', { body: { values: [1, 2, 3, 4, 5, 6, 7, 8] }, token: READ_KEY });
    assert.equal(write.status, 403);
    assert.equal(follower.output().includes(READ_KEY), false, 'the key never reaches the logs');
    await follower.stop();
  });
});
