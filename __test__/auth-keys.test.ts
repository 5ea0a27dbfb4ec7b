// API key lifecycle (create -> use -> list masked -> revoke, across restarts), VALORI_API_KEYS,
// token hygiene at boot, and the follower's own credential for its leader (VALORI_LEADER_TOKEN).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config';
import { Kernel } from '../src/kernel/kernel';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { Replication } from '../src/replication/runtime';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

const ROOT = 'root-token-0123456789abcdef0123456789abcdef';
const sha256 = (t: string): string => createHash('sha256').update(t).digest('hex');

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(Object.keys(env))}`);
}

describe('API keys through /v1/keys with a key file', () => {
  let dir: string;
  let file: string;
  let s: TestServer;
  const env = (): Record<string, string> => ({ VALORI_AUTH_TOKEN: ROOT, VALORI_API_KEYS_FILE: file });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-keys-'));
    file = join(dir, 'keys.json');
    s = await startServer(env());
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a key is created, used, listed, the node restarts, and it is revoked, then each step behaves and only its hash is ever stored', async () => {
    const created = await request(s.base, '/v1/keys', { body: { scope: 'write', name: 'ingest', description: 'loader' }, token: ROOT });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const { token, id } = created.json as { token: string; id: string };
    assert.match(token, /^valori_[A-Za-z0-9_-]{43}$/);
    assert.match(id, /^k_[0-9a-f]{16}$/);
    assert.deepEqual({ ...created.json, token: undefined, created_at: undefined }, {
      id, name: 'ingest', scope: 'write', collection: null, description: 'loader', hint: `valori_${token.slice(7, 11)}…${token.slice(-4)}`, source: 'file', token: undefined, created_at: undefined,
    });

    // The token works at its scope, and not above it.
    assert.equal((await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, token })).status, 200);
    const save = await request(s.base, '/v1/snapshot/save', { body: {}, token });
    assert.equal(save.status, 403);
    assert.ok(isErrorEnvelope(save.json, 'FORBIDDEN'));
    assert.match(save.json.error, /"admin" scope/);
    assert.equal((await request(s.base, '/v1/keys', { token })).status, 403);

    // The list masks: neither the token nor its hash appears.
    const list = await request(s.base, '/v1/keys', { token: ROOT });
    assert.equal(list.status, 200);
    assert.equal(list.json.keys.length, 1);
    assert.equal(list.json.keys[0].id, id);
    assert.equal(list.json.keys[0].hint, created.json.hint);
    assert.equal(list.text.includes(token), false);
    assert.equal(list.text.includes(token.slice(7, 30)), false);
    assert.equal(list.text.includes(sha256(token)), false);

    // At rest: the hash, never the token; readable by the owner only.
    const onDisk = readFileSync(file, 'utf8');
    assert.ok(onDisk.includes(sha256(token)));
    assert.equal(onDisk.includes(token), false);
    assert.equal(statSync(file).mode & 0o777, 0o600);

    // The creation is logged for audit, the token never is.
    assert.ok(s.logs.some((l) => l.includes('api key created') && l.includes(id) && l.includes('VALORI_AUTH_TOKEN')));
    assert.equal(s.logs.join('').includes(token), false);

    // A restart reads the file back.
    await s.stop();
    s = await startServer(env());
    assert.equal((await request(s.base, '/version', { token })).status, 200);

    const revoked = await request(s.base, `/v1/keys/${id}`, { method: 'DELETE', token: ROOT });
    assert.deepEqual([revoked.status, revoked.json], [200, { success: true, id }]);
    const after = await request(s.base, '/version', { token });
    assert.equal(after.status, 401);
    assert.equal(after.headers.get('www-authenticate'), 'Bearer');
    assert.equal(readFileSync(file, 'utf8').includes(sha256(token)), false);
    assert.equal((await request(s.base, `/v1/keys/${id}`, { method: 'DELETE', token: ROOT })).status, 404);

    await s.stop();
    s = await startServer(env());
    assert.equal((await request(s.base, '/version', { token })).status, 401);
  });

  it('when an admin key creates keys concurrently, then every one is persisted (rewrites do not lose each other)', async () => {
    const admin = (await request(s.base, '/v1/keys', { body: { scope: 'admin', name: 'ops' }, token: ROOT })).json.token as string;
    const made = await Promise.all(
      Array.from({ length: 6 }, (_, i) => request(s.base, '/v1/keys', { body: { scope: i % 2 === 0 ? 'read_only' : 'read_write', name: `svc-${i}` }, token: admin })),
    );
    assert.deepEqual(made.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    assert.deepEqual(made.map((r) => r.json.scope), ['read', 'write', 'read', 'write', 'read', 'write']);
    await s.stop();
    s = await startServer(env());
    const names = (await request(s.base, '/v1/keys', { token: admin })).json.keys.map((k: { name: string }) => k.name).sort();
    assert.deepEqual(names, ['ops', 'svc-0', 'svc-1', 'svc-2', 'svc-3', 'svc-4', 'svc-5']);
    for (const r of made) assert.equal((await request(s.base, '/v1/proof/state', { token: r.json.token })).status, 200);
  });

  it('when a create request is malformed or a name is taken, then 400 and nothing is added', async () => {
    const count = (await request(s.base, '/v1/keys', { token: ROOT })).json.keys.length;
    for (const body of [{}, { scope: 'root' }, { scope: 'read', name: 'has space' }, { scope: 'read', collection: '-x' }, { scope: 'read', name: 'ops' }]) {
      const r = await request(s.base, '/v1/keys', { body, token: ROOT });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(isErrorEnvelope(r.json, 'INVALID_REQUEST'), r.text);
    }
    assert.equal((await request(s.base, '/v1/keys', { token: ROOT })).json.keys.length, count);
  });

  it('when the key file is not valid JSON, then the app refuses to start with a message naming the variable', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"version":1,"keys":[{"id":"nope"}]}');
    await assert.rejects(startServer({ VALORI_AUTH_TOKEN: ROOT, VALORI_API_KEYS_FILE: bad }), /VALORI_API_KEYS_FILE=.*key 1: id/);
    // A key file alone, with no key in it and no master token, would lock everyone out.
    await assert.rejects(startServer({ VALORI_API_KEYS_FILE: join(dir, 'missing.json') }), /set VALORI_AUTH_TOKEN to create the first key/);
  });
});

describe('API keys from VALORI_API_KEYS, no key file', () => {
  let s: TestServer;
  const adminToken = 'admin-from-env-0123456789abcdef0123456789ab';
  const readToken = 'read-from-env-0123456789abcdef0123456789abc';

  before(async () => {
    s = await startServer({ VALORI_API_KEYS: ` ops:admin:${sha256(adminToken).toUpperCase()} , dash:read:${sha256(readToken)}` });
  });
  after(() => s.stop());

  it('when only API keys are configured, then auth is on, the keys work at their scopes, and the list shows them without hashes', async () => {
    assert.ok(s.logs.some((l) => l.includes('Auth Enabled')));
    assert.equal((await request(s.base, '/version')).status, 401);
    assert.equal((await request(s.base, '/version', { token: readToken })).status, 200);
    assert.equal((await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, token: readToken })).status, 403);
    const list = await request(s.base, '/v1/keys', { token: adminToken });
    assert.deepEqual(list.json.keys, [
      { id: 'ops', name: 'ops', scope: 'admin', collection: null, description: null, created_at: null, hint: null, source: 'env' },
      { id: 'dash', name: 'dash', scope: 'read', collection: null, description: null, created_at: null, hint: null, source: 'env' },
    ]);
    assert.equal(list.text.toLowerCase().includes(sha256(adminToken)), false);
  });

  it('when a key is created without VALORI_API_KEYS_FILE, or an environment key is revoked, then 400 says why', async () => {
    const create = await request(s.base, '/v1/keys', { body: { scope: 'read' }, token: adminToken });
    assert.equal(create.status, 400);
    assert.ok(isErrorEnvelope(create.json, 'NOT_ENABLED'));
    assert.match(create.json.error, /VALORI_API_KEYS_FILE/);
    const revoke = await request(s.base, '/v1/keys/dash', { method: 'DELETE', token: adminToken });
    assert.equal(revoke.status, 400);
    assert.match(revoke.json.error, /VALORI_API_KEYS/);
    assert.equal((await request(s.base, '/version', { token: readToken })).status, 200);
  });
});

describe('token hygiene at boot', () => {
  const token = 'x'.repeat(40);

  it('when the token has surrounding whitespace (a secret file with a newline), then it is trimmed', () => {
    assert.equal(loadConfig({ VALORI_AUTH_TOKEN: ` ${token}\n` }).authToken, token);
  });

  it('when the token has inner whitespace or non-token68 characters, then one line refuses it without quoting it', () => {
    for (const bad of [`${token} x`, `${token}\tx`, `tok"${token}`, `t\u00f6k${token}`, `${token}=x`, '  ']) {
      const err = refusal({ VALORI_AUTH_TOKEN: bad });
      assert.equal(err.variable, 'VALORI_AUTH_TOKEN');
      assert.equal(err.message.includes('\n'), false);
      assert.equal(err.message.includes(token), false, err.message);
    }
    assert.equal(refusal({ VALORI_LEADER_TOKEN: 'a b' }).variable, 'VALORI_LEADER_TOKEN');
  });

  it('when VALORI_API_KEYS or VALORI_ALLOWED_HOSTS is malformed, then one line names the variable and the entry, never a hash', () => {
    const hash = sha256('t');
    for (const bad of [`a:read`, `a:root:${hash}`, `a:read:${hash.slice(1)}`, `a b:read:${hash}`, `a:read:${hash},a:write:${hash}`]) {
      const err = refusal({ VALORI_API_KEYS: bad });
      assert.equal(err.variable, 'VALORI_API_KEYS');
      assert.equal(err.message.includes(hash), false, err.message);
    }
    assert.equal(refusal({ VALORI_ALLOWED_HOSTS: 'http://x' }).variable, 'VALORI_ALLOWED_HOSTS');
    assert.deepEqual(loadConfig({ VALORI_ALLOWED_HOSTS: 'Node.Internal, [::2]' }).allowedHosts, ['node.internal', '[::2]']);
  });

  it('when the token is shorter than 32 characters, then the node warns but starts; a long one gives no warning', async () => {
    const short = await startServer({ VALORI_AUTH_TOKEN: 'short-token' });
    const long = await startServer({ VALORI_AUTH_TOKEN: token });
    try {
      assert.ok(short.logs.some((l) => l.includes('"level":"warn"') && l.includes('VALORI_AUTH_TOKEN is shorter than 32')));
      assert.equal((await request(short.base, '/version', { token: 'short-token' })).status, 200);
      assert.equal(long.logs.some((l) => l.includes('shorter than')), false);
    } finally {
      await short.stop();
      await long.stop();
    }
  });
});

describe('follower credential', () => {
  /** Starts a follower's replication against a fake leader; resolves with the first request's headers. */
  async function firstLeaderHeaders(env: Record<string, string>): Promise<IncomingHttpHeaders> {
    const dir = mkdtempSync(join(tmpdir(), 'valori-follower-token-'));
    let seen!: (h: IncomingHttpHeaders) => void;
    const got = new Promise<IncomingHttpHeaders>((resolve) => (seen = resolve));
    const leader = createServer((req, res) => {
      seen(req.headers);
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"no","code":"UNAUTHORIZED"}');
    });
    await new Promise<void>((resolve) => leader.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(leader.address() as AddressInfo).port}`;
    const config = loadConfig({ VALORI_DIM: '4', VALORI_FOLLOWER_OF: url, VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), ...env });
    const kernel = await Kernel.open(config);
    const logger = createLogger({ level: 'error', format: 'json', stream: new Writable({ write: (_c, _e, done) => done() }) });
    const replication = new Replication({ config, kernel, logger, metrics: createMetrics(() => kernel.stats()) });
    replication.start();
    try {
      return await got;
    } finally {
      await replication.stop();
      kernel.close();
      leader.closeAllConnections();
      await new Promise<void>((resolve) => leader.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('when VALORI_LEADER_TOKEN is set, then the follower sends it to the leader instead of its own VALORI_AUTH_TOKEN', async () => {
    const headers = await firstLeaderHeaders({ VALORI_AUTH_TOKEN: ROOT, VALORI_LEADER_TOKEN: 'leader-read-key-0123456789abcdef0123' });
    assert.equal(headers.authorization, 'Bearer leader-read-key-0123456789abcdef0123');
  });

  it('when VALORI_LEADER_TOKEN is unset, then the follower sends VALORI_AUTH_TOKEN, as before', async () => {
    const headers = await firstLeaderHeaders({ VALORI_AUTH_TOKEN: ROOT });
    assert.equal(headers.authorization, `Bearer ${ROOT}`);
  });
});
