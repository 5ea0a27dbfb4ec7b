// Issue 9, process level: a leader and a follower as real `node dist/main.js` processes.
//  - H3: the largest batch the shell accepts (one event just under MAX_EVENT_BYTES) is logged,
//    streamed and applied by the follower; one row more is refused with 413 before anything is
//    applied, the leader stays writable and the follower keeps converging.
//  - H1: ef / nprobe at 2^32-1 answer 400 on the leader and on the follower, which stay alive.
//  - M4: with VALORI_MAX_STREAMS=1 held by the follower, another stream gets 429.
// Needs `npm run build` (npm test runs tsc first).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request } from './helpers';
import { assertBuilt, assertConverged, cleanup, FAST, replState, startNode, tempDir, waitFor, type NodeProcess } from './replication-helpers';

// 276 rows x 60,786 components = 16,776,936 i32 = 67,107,744 bytes, plus the 18-byte batch
// header (type, collection id, first id, count, length, key flag): 1,102 bytes under the
// 67,108,864-byte event limit (one more component per row would be 2 bytes over). 277 rows do not fit.
const DIM = 60_786;
const MAX_ROWS = 276;

function batchBody(rows: number, seed: number): string {
  const row = (i: number): string => `[${`${(i + seed) % 7},`.repeat(DIM - 1)}${i % 3}]`;
  return `{"batch":[${Array.from({ length: rows }, (_, i) => row(i)).join(',')}]}`;
}

describe('hostile input against a leader and its follower', () => {
  let leader: NodeProcess;
  let follower: NodeProcess;

  before(async () => {
    assertBuilt();
    const common = { ...FAST, VALORI_DIM: String(DIM), VALORI_MAX_RECORDS: '2048' };
    leader = await startNode({ ...common, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'), VALORI_MAX_STREAMS: '1' });
    follower = await startNode({ ...common, VALORI_EVENT_LOG_PATH: join(tempDir(), 'events.log'), VALORI_FOLLOWER_OF: leader.base });
  });
  after(cleanup);

  it('when a batch fills one event to the limit, then the leader logs it and the follower applies it and converges', async () => {
    const r = await request(leader.base, '/v1/vectors/batch_insert', { raw: batchBody(MAX_ROWS, 1), headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.json.ids.length, MAX_ROWS);
    await assertConverged(leader.base, follower.base, undefined, 120_000);
    assert.equal((await request(follower.base, '/health')).json.records.live, MAX_ROWS);
  });

  it('when a batch is one row over the event limit, then 413 naming it, nothing applied, the leader writable and the follower converged', async () => {
    const height = (await request(leader.base, '/health')).json.event_log_height;
    const r = await request(leader.base, '/v1/vectors/batch_insert', { raw: batchBody(MAX_ROWS + 1, 2), headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 413, r.text.slice(0, 300));
    assert.ok(isErrorEnvelope(r.json, 'PAYLOAD_TOO_LARGE'), r.text);
    // Refused by the body pre-scan (too many values for one event) or the rows x dim check: both name the event limit.
    assert.match(r.json.error, /67108864 bytes/);
    const health = (await request(leader.base, '/health')).json;
    assert.equal(health.read_only, false);
    assert.equal(health.event_log_height, height, 'nothing was logged');
    assert.equal(health.records.live, MAX_ROWS, 'nothing was applied');
    const small = await request(leader.base, '/records', { body: { values: Array.from({ length: DIM }, (_, i) => i % 5) } });
    assert.equal(small.status, 200, small.text);
    await assertConverged(leader.base, follower.base, undefined, 60_000);
  });

  it('when ef or nprobe is 2^32-1, then leader and follower answer 400 and stay alive', async () => {
    const query = Array.from({ length: DIM }, () => 0);
    for (const node of [leader, follower]) {
      for (const knob of [{ ef: 4_294_967_295 }, { nprobe: 4_294_967_295 }]) {
        const r = await request(node.base, '/search', { body: { query, k: 1, ...knob } });
        assert.equal(r.status, 400, r.text);
        assert.match(r.json.error, /VALORI_MAX_(EF|NPROBE)/);
      }
      assert.equal((await request(node.base, '/health')).status, 200);
      assert.equal(node.child.exitCode, null);
    }
  });

  it('when the follower holds the only stream VALORI_MAX_STREAMS allows, then another reader gets 429 TOO_MANY_STREAMS and the follower stays connected', async () => {
    await waitFor('the follower streaming', async () => ((await replState(follower.base)).status === 'Synced' ? true : undefined), 30_000);
    const c = new AbortController();
    const res = await fetch(`${leader.base}/v1/replication/events?from=1`, { signal: c.signal });
    const text = res.status === 200 ? '' : await res.text();
    c.abort();
    assert.equal(res.status, 429, text);
    const body = JSON.parse(text) as { code: string; error: string };
    assert.equal(body.code, 'TOO_MANY_STREAMS');
    assert.match(body.error, /VALORI_MAX_STREAMS = 1/);
    const s = await replState(follower.base);
    assert.equal(s.status, 'Synced');
  });
});
