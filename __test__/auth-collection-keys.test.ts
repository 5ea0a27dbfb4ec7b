// API keys restricted to one collection (valori-node 0.3.1's POST /v1/keys {scope, collection}):
// such a key works on its collection within its scope, and gets 403 on every other collection,
// on `default` (what a request without collection uses) and on node-wide routes, whatever its
// scope. The restriction is kept in the key file across a restart.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

const ROOT = 'root-token-0123456789abcdef0123456789abcdef';

describe('API keys restricted to one collection', () => {
  let dir: string;
  let s: TestServer;
  let env: Record<string, string>;
  let writeA: string;
  let adminA: string;

  const as = (token: string, path: string, opts: { method?: string; body?: unknown } = {}) => request(s.base, path, { ...opts, token });
  const forbidden = (what: string, r: { status: number; json: any; text: string }, says = /restricted to collection "a"/) => {
    assert.equal(r.status, 403, `${what}: ${r.text}`);
    assert.ok(isErrorEnvelope(r.json, 'FORBIDDEN'), `${what}: ${r.text}`);
    assert.match(r.json.error, says, what);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-ckeys-'));
    // An event log, so the collections come back after the restart too.
    env = { VALORI_DIM: '2', VALORI_AUTH_TOKEN: ROOT, VALORI_API_KEYS_FILE: join(dir, 'keys.json'), VALORI_EVENT_LOG_PATH: join(dir, 'events.log') };
    s = await startServer(env);
    for (const name of ['a', 'b']) assert.equal((await as(ROOT, '/v1/namespaces', { body: { name, dimension: 2 } })).status, 200);
    const w = await as(ROOT, '/v1/keys', { body: { scope: 'write', name: 'tenant-a', collection: 'a' } });
    assert.equal(w.status, 200, w.text);
    assert.equal(w.json.collection, 'a');
    writeA = w.json.token;
    const ad = await as(ROOT, '/v1/keys', { body: { scope: 'admin', name: 'tenant-a-admin', collection: 'a' } });
    adminA = ad.json.token;
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a restricted key uses its own collection, then it works within its scope', async () => {
    assert.deepEqual((await as(writeA, '/records', { body: { values: [1, 2], collection: 'a' } })).json, { id: 0 });
    assert.deepEqual((await as(writeA, '/search', { body: { query: [1, 2], k: 1, collection: 'a' } })).json.results, [{ id: 0, score: 0 }]);
    assert.equal((await as(writeA, '/graph/node', { body: { kind: 1, collection: 'a' } })).status, 200);
    assert.equal((await as(writeA, '/graph/node/0?collection=a')).status, 200);
    assert.equal((await as(writeA, '/v1/proof/state?collection=a')).status, 200);
    assert.equal((await as(writeA, '/version')).status, 200);
    assert.deepEqual((await as(writeA, '/v1/namespaces')).json.collections.map((c: { name: string }) => c.name), ['a']);
    assert.equal((await as(adminA, '/v1/index/build', { body: { collection: 'a' } })).status, 200);
    // Still bounded by its scope: a write key cannot build an index.
    forbidden('write key, index build', await as(writeA, '/v1/index/build', { body: { collection: 'a' } }), /"admin" scope/);
  });

  it('when a restricted key names another collection, or none (default), then 403 and nothing is written', async () => {
    const live = (await request(s.base, '/health')).json.records.live;
    forbidden('insert into b', await as(writeA, '/records', { body: { values: [1, 2], collection: 'b' } }));
    forbidden('insert into default', await as(writeA, '/records', { body: { values: [1, 2] } }));
    forbidden('batch into b', await as(writeA, '/v1/vectors/batch_insert', { body: { batch: [[1, 2]], collection: 'b' } }));
    forbidden('search b', await as(writeA, '/search', { body: { query: [1, 2], k: 1, collection: 'b' } }));
    forbidden('node in b', await as(writeA, '/graph/node/0?collection=b'));
    forbidden('meta of default', await as(writeA, '/v1/memory/meta/get?target_id=x'));
    forbidden('hash of b', await as(writeA, '/v1/proof/state?collection=b'));
    forbidden('index build of b', await as(adminA, '/v1/index/build', { body: { collection: 'b' } }));
    forbidden('create c', await as(adminA, '/v1/namespaces', { body: { name: 'c', dimension: 2 } }));
    forbidden('drop b', await as(adminA, '/v1/namespaces/b', { method: 'DELETE' }));
    assert.equal((await request(s.base, '/health')).json.records.live, live);
    assert.deepEqual((await as(ROOT, '/v1/namespaces')).json.collections.map((c: { name: string }) => c.name), ['default', 'a', 'b']);
  });

  it('when a restricted admin key calls node-wide routes, then 403 whatever its scope', async () => {
    forbidden('whole-state hash', await as(adminA, '/v1/proof/state'), /restricted to collection "a".*every collection/);
    forbidden('snapshot save', await as(adminA, '/v1/snapshot/save', { body: {} }), /restricted to collection "a".*every collection/);
    forbidden('snapshot download', await as(adminA, '/v1/snapshot/download'));
    forbidden('log trim', await as(adminA, '/v1/event-log/trim', { method: 'POST' }));
    forbidden('key list', await as(adminA, '/v1/keys'));
    forbidden('key create', await as(adminA, '/v1/keys', { body: { scope: 'admin' } }));
    forbidden('replication state', await as(adminA, '/v1/replication/state'));
  });

  it('when the node restarts, then the key is still restricted to its collection', async () => {
    const file = JSON.parse(readFileSync(env.VALORI_API_KEYS_FILE, 'utf8')) as { keys: { name: string; collection?: string | null }[] };
    assert.deepEqual(file.keys.map((k) => [k.name, k.collection]), [['tenant-a', 'a'], ['tenant-a-admin', 'a']]);
    await s.stop();
    s = await startServer(env);
    assert.equal((await as(writeA, '/records', { body: { values: [3, 4], collection: 'a' } })).status, 200);
    forbidden('insert into b after restart', await as(writeA, '/records', { body: { values: [3, 4], collection: 'b' } }));
    const listed = (await as(ROOT, '/v1/keys')).json.keys.map((k: { name: string; collection: string | null }) => [k.name, k.collection]);
    assert.deepEqual(listed, [['tenant-a', 'a'], ['tenant-a-admin', 'a']]);
  });

  it('when a key is created for a malformed collection name, then 400 names the field', async () => {
    const r = await as(ROOT, '/v1/keys', { body: { scope: 'read', collection: '-bad' } });
    assert.equal(r.status, 400);
    assert.match(r.json.error, /collection/);
  });
});
