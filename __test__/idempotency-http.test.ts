// Idempotent writes over HTTP: the Idempotency-Key header and valoricore's request_id /
// request_ids. A replay answers the first outcome with "deduplicated": true and writes nothing; the
// same key with another request is 409 IDEMPOTENCY_KEY_REUSED; keys survive a restart (event log)
// and a snapshot restore; the TypeScript client's retry after a lost answer writes once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ValoriClient } from '../src/client';
import { FAST } from './client-fake-server';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

const KEY16 = Array.from({ length: 16 }, (_, i) => i);
const KEY16_HEX = Buffer.from(KEY16).toString('hex');
const hex = (n: number): string => n.toString(16).padStart(32, '0');

describe('idempotent writes over HTTP', () => {
  let dir: string;
  let s: TestServer;
  let env: Record<string, string>;
  const post = (path: string, body: unknown, key?: string) => request(s.base, path, { body, headers: key === undefined ? {} : { 'idempotency-key': key } });
  const health = async () => (await request(s.base, '/health')).json;
  const hash = async (): Promise<string> => (await request(s.base, '/v1/proof/state')).json.final_state_hash as string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-idem-'));
    env = { VALORI_DIM: '3', VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'), VALORI_SNAPSHOT_ON_SHUTDOWN: 'false' };
    s = await startServer(env);
    assert.equal((await post('/v1/namespaces', { name: 'a', dimension: 3 })).status, 200);
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when an insert is replayed with its Idempotency-Key, then the first id comes back deduplicated and nothing is written', async () => {
    const first = await post('/records', { values: [1, 2, 3] }, 'insert-1');
    assert.deepEqual([first.status, first.json], [200, { id: 0, deduplicated: false }]);
    const height = (await health()).event_log_height;
    const state = await hash();
    const again = await post('/records', { values: [1, 2, 3] }, 'insert-1');
    assert.deepEqual([again.status, again.json], [200, { id: 0, deduplicated: true }]);
    assert.equal((await health()).event_log_height, height);
    assert.equal((await health()).records.live, 1);
    assert.equal(await hash(), state);
    // Without a key the v0.1.0 answer is unchanged.
    assert.deepEqual((await post('/records', { values: [1, 2, 3] })).json, { id: 1 });
  });

  it("when request_id is sent as 16 integers or as the same 32 hex characters, then both name one key", async () => {
    const a = await post('/records', { values: [4, 5, 6], request_id: KEY16 });
    assert.deepEqual(a.json, { id: 2, deduplicated: false });
    const b = await post('/records', { values: [4, 5, 6], request_id: KEY16_HEX });
    assert.deepEqual(b.json, { id: 2, deduplicated: true });
    assert.equal((await health()).records.live, 3);
  });

  it('when a key is reused with another body, collection or operation, then 409 IDEMPOTENCY_KEY_REUSED and nothing changes', async () => {
    const height = (await health()).event_log_height;
    const state = await hash();
    for (const [what, path, body] of [
      ['other values', '/records', { values: [9, 9, 9] }],
      ['other collection', '/records', { values: [1, 2, 3], collection: 'a' }],
      ['other operation', '/graph/node', { kind: 1 }],
    ] as const) {
      const r = await post(path, body, 'insert-1');
      assert.equal(r.status, 409, `${what}: ${r.text}`);
      assert.ok(isErrorEnvelope(r.json, 'IDEMPOTENCY_KEY_REUSED'), r.text);
    }
    assert.equal((await health()).event_log_height, height);
    assert.equal(await hash(), state);
  });

  it('when the header and request_id disagree, or either is malformed, then 400 names it', async () => {
    const both = await post('/records', { values: [1, 1, 1], request_id: KEY16 }, 'other');
    assert.equal(both.status, 400);
    assert.ok(isErrorEnvelope(both.json, 'INVALID_REQUEST'));
    assert.match(both.json.error, /Idempotency-Key.*request_id/);
    const short = await post('/records', { values: [1, 1, 1], request_id: [1, 2, 3] });
    assert.equal(short.status, 400);
    assert.match(short.json.error, /request_id must be 16 integers 0\.\.255 or 32 hex characters/);
    const bad = await request(s.base, '/records', { body: { values: [1, 1, 1] }, headers: { 'idempotency-key': 'x'.repeat(256) } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /Idempotency-Key/);
  });

  it('when a batch is replayed with its header key, or with all its request_ids, then the same ids come back deduplicated', async () => {
    const rows = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    const first = await post('/v1/vectors/batch_insert', { batch: rows, collection: 'a' }, 'batch-1');
    assert.deepEqual(first.json, { ids: [0, 1, 2], deduplicated: false });
    const again = await post('/v1/vectors/batch_insert', { batch: rows, collection: 'a' }, 'batch-1');
    assert.deepEqual(again.json, { ids: [0, 1, 2], deduplicated: true });

    const ids = [hex(1), null, hex(3)];
    const keyed = await post('/v1/vectors/batch_insert', { batch: rows, collection: 'a', request_ids: ids });
    assert.deepEqual(keyed.json, { ids: [3, 4, 5], deduplicated: false });
    const live = (await health()).records.live;
    // Every row keyed and known: the stored ids.
    const replay = await post('/v1/vectors/batch_insert', { batch: [rows[0], rows[2]], collection: 'a', request_ids: [hex(1), hex(3)] });
    assert.deepEqual(replay.json, { ids: [3, 5], deduplicated: true });
    // Some known, some not: refused, naming the item.
    const mixed = await post('/v1/vectors/batch_insert', { batch: [rows[0], rows[1]], collection: 'a', request_ids: [hex(1), hex(2)] });
    assert.equal(mixed.status, 409, mixed.text);
    assert.ok(isErrorEnvelope(mixed.json, 'IDEMPOTENCY_KEY_REUSED'));
    assert.equal((await health()).records.live, live);
    const wrongCount = await post('/v1/vectors/batch_insert', { batch: rows, collection: 'a', request_ids: [hex(7)] });
    assert.equal(wrongCount.status, 400);
    assert.match(wrongCount.json.error, /request_ids has 1 entries but the batch has 3 rows/);
  });

  it('when graph writes, deletes and a collection create are replayed, then each answers its first outcome', async () => {
    const node = await post('/graph/node', { kind: 1, collection: 'a' }, 'node-1');
    const nodeAgain = await post('/graph/node', { kind: 1, collection: 'a' }, 'node-1');
    assert.deepEqual([node.json, nodeAgain.json], [{ node_id: 0, deduplicated: false }, { node_id: 0, deduplicated: true }]);
    const del = await post('/v1/delete', { id: 0, collection: 'a' }, 'delete-1');
    // A replayed delete does not answer 404 for the record it already deleted.
    const delAgain = await post('/v1/delete', { id: 0, collection: 'a' }, 'delete-1');
    assert.deepEqual([del.status, del.json, delAgain.status, delAgain.json], [200, { success: true, deduplicated: false }, 200, { success: true, deduplicated: true }]);
    const c = await post('/v1/namespaces', { name: 'c', dimension: 2 }, 'create-c');
    const cAgain = await post('/v1/namespaces', { name: 'c', dimension: 2 }, 'create-c');
    assert.deepEqual([c.json, cAgain.json], [{ name: 'c', id: 2, created: true, metric: 'squared_l2', deduplicated: false }, { name: 'c', id: 2, created: true, metric: 'squared_l2', deduplicated: true }]);
    // Without the key, the same create is a duplicate name.
    assert.equal((await post('/v1/namespaces', { name: 'c', dimension: 2 })).status, 409);
  });

  it('when the node restarts, then collections, data and remembered keys come back with the same hash', async () => {
    const before = await hash();
    const height = (await health()).event_log_height;
    await s.stop();
    s = await startServer(env);
    assert.equal(await hash(), before);
    assert.equal((await health()).event_log_height, height);
    assert.deepEqual((await post('/records', { values: [1, 2, 3] }, 'insert-1')).json, { id: 0, deduplicated: true });
    assert.deepEqual((await post('/v1/vectors/batch_insert', { batch: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], collection: 'a' }, 'batch-1')).json, { ids: [0, 1, 2], deduplicated: true });
    assert.equal((await post('/records', { values: [9, 9, 9] }, 'insert-1')).status, 409);
    assert.equal((await health()).event_log_height, height);
  });

  it('when a snapshot is restored, then its collections and keys are restored with it', async () => {
    const saved = await post('/v1/snapshot/save', { path: 'idem' });
    assert.equal(saved.status, 200, saved.text);
    const hashA = (await request(s.base, '/v1/proof/state?collection=a')).json.final_state_hash;
    // After the snapshot: a new collection and a new key, both gone after the restore.
    assert.equal((await post('/v1/namespaces', { name: 'later', dimension: 2 })).status, 200);
    assert.deepEqual((await post('/records', { values: [7, 7, 7] }, 'after-snapshot')).json.deduplicated, false);
    const restored = await post('/v1/snapshot/restore', { path: 'idem' });
    assert.equal(restored.status, 200, restored.text);
    assert.deepEqual((await request(s.base, '/v1/namespaces')).json.collections.map((c: { name: string }) => c.name), ['default', 'a', 'c']);
    assert.equal((await request(s.base, '/v1/proof/state?collection=a')).json.final_state_hash, hashA);
    assert.deepEqual((await post('/records', { values: [1, 2, 3] }, 'insert-1')).json, { id: 0, deduplicated: true });
    // The key written after the snapshot is unknown again: this is a new write.
    assert.equal((await post('/records', { values: [7, 7, 7] }, 'after-snapshot')).json.deduplicated, false);
  });

  it('when the answer to a client write is lost, then the client retries with the same key and the server writes once', async () => {
    const seen: { key: string | null; body: string }[] = [];
    let dropped = 0;
    // Lets the first /records request reach the server, then loses its answer, as a connection
    // reset after the request was sent would.
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (String(input).endsWith('/records')) {
        seen.push({ key: new Headers(init?.headers).get('idempotency-key'), body: String(init?.body) });
        if (dropped++ === 0) {
          await res.body?.cancel();
          throw new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
        }
      }
      return res;
    };
    const client = new ValoriClient({ baseUrl: s.base, fetch: lossy, retries: 2, ...FAST });
    const live = (await health()).records.live;
    const height = (await health()).event_log_height;
    const id = await client.insert([3, 3, 3], { collection: 'a' });
    assert.equal(seen.length, 2, 'one retry');
    assert.ok(seen[0].key !== null && seen[0].key.length > 0);
    assert.equal(seen[1].key, seen[0].key, 'the retry re-sends the same key');
    assert.equal(seen[1].body, seen[0].body);
    assert.equal((await health()).records.live, live + 1, 'one record written');
    assert.equal((await health()).event_log_height, height + 1, 'one event');
    assert.deepEqual((await post('/search', { query: [3, 3, 3], k: 1, collection: 'a' })).json.results, [{ id, score: 0 }]);
    // Two calls are two writes: each call makes its own key.
    const other = await new ValoriClient({ baseUrl: s.base, ...FAST }).insert([3, 3, 3], { collection: 'a' });
    assert.notEqual(other, id);
  });
});
