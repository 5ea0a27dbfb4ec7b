// Durability and index routes over HTTP: snapshot save/download/upload/restore (validated first,
// confined to the snapshot directory), the event-log proof and trim, /health persistence fields,
// and the index rebuild route.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, vector, type TestServer } from './helpers';

const DIM = 4;

describe('durability routes (event log + snapshots)', () => {
  let s: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-dur-'));
    s = await startServer({
      VALORI_DIM: String(DIM),
      VALORI_EVENT_LOG_PATH: join(dir, 'events.log'),
      VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'),
    });
    for (let i = 0; i < 5; i++) assert.equal((await request(s.base, '/records', { body: { values: vector(DIM, i) } })).status, 200);
  });
  after(async () => {
    await s.stop();
    s.kernel.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the event log is on, then /health reports it with its height', async () => {
    const r = await request(s.base, '/health');
    assert.equal(r.json.persistence, 'event_log');
    assert.equal(r.json.event_log_height, 5);
    assert.equal(r.json.read_only, false);
  });

  it('when the event-log proof is asked, then it reports the chain hash, count and height', async () => {
    const r = await request(s.base, '/v1/proof/event-log');
    assert.equal(r.status, 200);
    assert.match(r.json.event_log_hash, /^[0-9a-f]{64}$/);
    assert.match(r.json.final_state_hash, /^[0-9a-f]{64}$/);
    assert.equal(r.json.event_count, 5);
    assert.equal(r.json.committed_height, 5);
  });

  it('when a snapshot is saved with an empty POST, then it is written at the configured path', async () => {
    const r = await request(s.base, '/v1/snapshot/save', { method: 'POST' });
    assert.equal(r.status, 200, r.text);
    // The file name only: the server's directory is not revealed.
    assert.equal(r.json.path, 'snapshot.bin');
    assert.equal(r.json.height, 5);
  });

  it('when a restore names a path outside the snapshot directory, then 400 and nothing changes', async () => {
    const before = (await request(s.base, '/v1/proof/state')).json.final_state_hash;
    for (const path of ['../events.log', '/etc/passwd', 'a/b.bin', '..']) {
      const r = await request(s.base, '/v1/snapshot/restore', { body: { path } });
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.ok(isErrorEnvelope(r.json, 'INVALID_ARGUMENT'), r.text);
    }
    const missing = await request(s.base, '/v1/snapshot/restore', { body: { path: 'nope.bin' } });
    assert.equal(missing.status, 404);
    assert.equal((await request(s.base, '/v1/proof/state')).json.final_state_hash, before);
  });

  it('when garbage is uploaded, then 400 CORRUPT_DATA and the state is unchanged', async () => {
    const before = (await request(s.base, '/v1/proof/state')).json.final_state_hash;
    const res = await fetch(`${s.base}/v1/snapshot/upload`, {
      method: 'POST',
      body: Buffer.from('VAL1 but not really a snapshot'),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { code: string; error: string };
    assert.equal(body.code, 'CORRUPT_DATA');
    // The validation reason, not a generic message.
    assert.match(body.error, /^snapshot: /);
    assert.equal((await request(s.base, '/v1/proof/state')).json.final_state_hash, before);
  });

  it('when a downloaded snapshot is uploaded after more writes, then the state returns to it', async () => {
    const snap = Buffer.from(await (await fetch(`${s.base}/v1/snapshot/download`)).arrayBuffer());
    assert.equal(snap.subarray(0, 4).toString('latin1'), 'VAL1');
    const want = (await request(s.base, '/v1/proof/state')).json.final_state_hash;
    await request(s.base, '/records', { body: { values: vector(DIM, 99) } });
    assert.notEqual((await request(s.base, '/v1/proof/state')).json.final_state_hash, want);
    const up = await fetch(`${s.base}/v1/snapshot/upload`, { method: 'POST', body: snap, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(up.status, 200);
    assert.equal((await request(s.base, '/v1/proof/state')).json.final_state_hash, want);
  });

  it('when a named snapshot is restored by name, then the state is that snapshot', async () => {
    const want = (await request(s.base, '/v1/proof/state')).json.final_state_hash;
    const saved = await request(s.base, '/v1/snapshot/save', { body: { path: 'backup.val1' } });
    assert.equal(saved.status, 200, saved.text);
    assert.equal(saved.json.path, 'backup.val1');
    assert.ok(existsSync(join(dir, 'snapshots', 'backup.val1')), 'named snapshots live in snapshots/');
    await request(s.base, '/v1/delete', { body: { id: 0 } });
    const r = await request(s.base, '/v1/snapshot/restore', { body: { path: 'backup.val1' } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await request(s.base, '/v1/proof/state')).json.final_state_hash, want);
  });

  it('when the log is trimmed after a snapshot, then its first sequence number moves past the snapshot', async () => {
    await request(s.base, '/records', { body: { values: vector(DIM, 7) } });
    const saved = await request(s.base, '/v1/snapshot/save', { body: {} });
    await request(s.base, '/records', { body: { values: vector(DIM, 8) } });
    const r = await request(s.base, '/v1/event-log/trim', { method: 'POST' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.base_seq, saved.json.height);
    const proof = (await request(s.base, '/v1/proof/event-log')).json;
    assert.equal(proof.event_count, proof.committed_height - saved.json.height);
  });
});

describe('durability routes without an event log', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: String(DIM) });
  });
  after(async () => {
    await s.stop();
    s.kernel.close();
  });

  it('when the event-log proof or trim is asked, then 400 NOT_ENABLED', async () => {
    const p = await request(s.base, '/v1/proof/event-log');
    assert.equal(p.status, 400);
    assert.ok(isErrorEnvelope(p.json, 'NOT_ENABLED'), p.text);
    assert.ok(isErrorEnvelope((await request(s.base, '/v1/event-log/trim', { method: 'POST' })).json, 'NOT_ENABLED'));
  });

  it('when a snapshot is saved with no snapshot path, then 400 naming the variable', async () => {
    const r = await request(s.base, '/v1/snapshot/save', { body: {} });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /VALORI_SNAPSHOT_PATH/);
  });

  it('when the index is rebuilt on the exact scan, then it reports nothing to rebuild', async () => {
    const r = await request(s.base, '/v1/index/build', { method: 'POST' });
    assert.equal(r.status, 200);
    assert.equal(r.json.rebuilt, false);
  });
});

describe('index routes with HNSW', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '8', VALORI_INDEX: 'hnsw' });
  });
  after(async () => {
    await s.stop();
    s.kernel.close();
  });

  it('when records are searched through HNSW, then scores are exact and the nearest comes first', async () => {
    const batch = Array.from({ length: 300 }, (_, i) => vector(8, i));
    assert.equal((await request(s.base, '/v1/vectors/batch_insert', { body: { batch } })).status, 200);
    const r = await request(s.base, '/search', { body: { query: batch[42], k: 3, ef: 64 } });
    assert.equal(r.status, 200);
    assert.equal(r.json.results[0].id, 42);
    assert.equal(r.json.results[0].score, 0);
    const h = await request(s.base, '/health');
    assert.equal(h.json.index, 'Hnsw');
  });

  it('when the index is rebuilt, then it reports the rebuild and search still answers the same', async () => {
    const before = (await request(s.base, '/search', { body: { query: vector(8, 5), k: 5 } })).json.results;
    const r = await request(s.base, '/v1/index/build', { method: 'POST' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.rebuilt, true);
    assert.equal(r.json.index, 'hnsw');
    const again = (await request(s.base, '/search', { body: { query: vector(8, 5), k: 5 } })).json.results;
    assert.deepEqual(again, before);
  });
});
