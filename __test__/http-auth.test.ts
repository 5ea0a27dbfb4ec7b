// Bearer auth: on for every registered route except /health, /livez, /readyz and /metrics, off when unset.
// Scopes, API keys and the browser guard: auth-matrix.test.ts, auth-keys.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

const TOKEN = 's3cret-token-0123456789abcdef';

const SPEC_ROUTES = [
  'GET /health', 'GET /livez', 'GET /readyz', 'GET /metrics', 'GET /version', 'POST /records', 'POST /search', 'POST /v1/delete',
  'POST /v1/soft-delete', 'POST /v1/vectors/batch_insert', 'POST /v1/memory/insert_batch', 'POST /graph/node',
  'GET /graph/node/:id', 'POST /graph/edge', 'GET /graph/edges/:id', 'POST /v1/memory/upsert_vector',
  'POST /v1/memory/search_vector', 'POST /v1/memory/meta/set', 'GET /v1/memory/meta/get', 'GET /v1/proof/state',
  // Durability.
  'POST /v1/snapshot/save', 'GET /v1/snapshot/download', 'POST /v1/snapshot/upload', 'POST /v1/snapshot/restore',
  'GET /v1/proof/event-log', 'POST /v1/event-log/trim', 'POST /v1/index/build',
  // Replication: the leader's event stream and every node's replication state.
  'GET /v1/replication/events', 'GET /v1/replication/state',
  // Operators and developers: the API description, protected like the API itself.
  'GET /openapi.json',
  // Scoped API keys, as in valori-node 0.3.1.
  'POST /v1/keys', 'GET /v1/keys', 'DELETE /v1/keys/:id',
  // Collections, on valori-node 0.3.1's paths.
  'POST /v1/namespaces', 'GET /v1/namespaces', 'DELETE /v1/namespaces/:name',
  // valori-node 0.3.1's /v1 records, graph and timeline routes, and v0.1.0's timeline.
  'GET /v1/version', 'POST /v1/records', 'GET /v1/records/:id', 'POST /v1/vectors/batch-insert', 'POST /v1/search',
  'POST /v1/graph/node', 'GET /v1/graph/node/:id', 'DELETE /v1/graph/node/:id', 'GET /v1/graph/nodes', 'POST /v1/graph/edge',
  'GET /v1/graph/edges/:id', 'GET /v1/graph/subgraph', 'GET /v1/graph/query', 'GET /v1/timeline', 'GET /timeline',
  // Payloads: a record's metadata replaced in place, and 0.3.1's memory search path.
  'PATCH /v1/records/:id/metadata', 'POST /v1/memory/search',
  // The Raft cluster's routes (400 NOT_ENABLED on a standalone node, still behind the token).
  'GET /v1/cluster/status', 'GET /v1/cluster/health', 'GET /v1/cluster/role', 'POST /v1/cluster/add-node', 'POST /v1/cluster/remove-node',
];

/** Every (method, path) the Express router has, read from the router itself. */
function registeredRoutes(app: Express): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  for (const layer of app.router.stack) {
    if (layer.route === undefined) continue;
    for (const handler of layer.route.stack) {
      if (handler.method) out.push({ method: handler.method.toUpperCase(), path: layer.route.path });
    }
  }
  // A route registers one layer per handler (body parsing + handler), so de-duplicate.
  return [...new Map(out.map((r) => [`${r.method} ${r.path}`, r])).values()];
}

describe('HTTP auth on', () => {
  let s: TestServer;

  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_AUTH_TOKEN: TOKEN });
  });
  after(() => s.stop());

  it('when any registered route except GET /health, /livez, /readyz and /metrics is called without a token, then 401 + WWW-Authenticate', async () => {
    const routes = registeredRoutes(s.app);
    // The enumeration must find exactly the issue's route list, so it cannot silently miss one.
    assert.deepEqual(routes.map((r) => `${r.method} ${r.path}`).sort(), SPEC_ROUTES.slice().sort());
    const publicRoutes = routes.filter((r) => r.method === 'GET' && ['/health', '/livez', '/readyz', '/metrics'].includes(r.path));
    assert.equal(publicRoutes.length, 4);
    for (const r of routes) {
      const path = r.path.replace(':id', '0');
      const res = await request(s.base, path, {
        method: r.method,
        ...(r.method === 'POST' ? { body: {} } : {}),
      });
      if (publicRoutes.includes(r)) {
        assert.equal(res.status, 200, `${r.method} ${r.path} is public`);
        continue;
      }
      assert.equal(res.status, 401, `${r.method} ${r.path}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.ok(isErrorEnvelope(res.json, 'UNAUTHORIZED'), JSON.stringify(res.json));
    }
  });

  it('when the right token is sent, then protected routes answer normally', async () => {
    const r = await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, token: TOKEN });
    assert.deepEqual([r.status, r.json], [200, { id: 0 }]);
    const v = await request(s.base, '/version', { token: TOKEN });
    assert.equal(v.text, '0.1.0');
    const lower = await request(s.base, '/version', { headers: { authorization: `bearer ${TOKEN}` } });
    assert.equal(lower.status, 200);
  });

  it('when the token is wrong, a prefix, doubled, or another scheme, then 401', async () => {
    const bad = [
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer Bearer ${TOKEN}`,
      `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`,
      TOKEN,
      'Bearer ',
    ];
    for (const authorization of bad) {
      const r = await request(s.base, '/version', { headers: { authorization } });
      assert.equal(r.status, 401, authorization);
    }
  });

  it('when an unknown path is called, then 401 without a token and 404 with it', async () => {
    assert.equal((await request(s.base, '/no/such/route')).status, 401);
    const r = await request(s.base, '/no/such/route', { token: TOKEN });
    assert.equal(r.status, 404);
    assert.ok(isErrorEnvelope(r.json, 'ROUTE_NOT_FOUND'));
  });

  it('when a wrong method is used on /health without a token, then 401 (only GET is public)', async () => {
    assert.equal((await request(s.base, '/health', { method: 'POST', body: {} })).status, 401);
  });

  it('when requests carry the token, then it never appears in the logs', async () => {
    await request(s.base, '/search', { body: { query: [1, 2, 3, 4], k: 1 }, token: TOKEN });
    await request(s.base, '/nope', { token: TOKEN });
    await request(s.base, '/records', { raw: '{bad', token: TOKEN, headers: { 'content-type': 'application/json' } });
    const logs = s.logs.join('');
    assert.ok(logs.includes('"route":"/search"'), 'access lines are logged');
    assert.ok(logs.includes('Auth Enabled'));
    assert.equal(logs.includes(TOKEN), false);
  });
});

describe('HTTP auth off', () => {
  let s: TestServer;

  before(async () => {
    s = await startServer({ VALORI_DIM: '4' });
  });
  after(() => s.stop());

  it('when no token is configured, then a warning says "Auth Disabled" and every route is open', async () => {
    assert.ok(s.logs.some((line) => line.includes('Auth Disabled') && line.includes('"level":"warn"')));
    assert.equal((await request(s.base, '/version')).status, 200);
    assert.equal((await request(s.base, '/records', { body: { values: [1, 2, 3, 4] } })).status, 200);
  });

  it('when a client sends an Authorization header anyway, then it is ignored', async () => {
    assert.equal((await request(s.base, '/version', { token: 'anything' })).status, 200);
  });
});
