// The auth matrix: every registered route x every kind of caller. The expected scopes are written
// out here from the issue's definition (read: looks; write: changes records, graph, metadata;
// admin: replaces state, maintenance, keys), independent of src/auth/scopes.ts, which must agree.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import { ROUTE_ACCESS } from '../src/auth/scopes';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

const ROOT = 'root-token-0123456789abcdef0123456789abcdef';
const KEYS = { read: 'read-key-0123456789abcdef0123456789abcd', write: 'write-key-0123456789abcdef0123456789abc', admin: 'admin-key-0123456789abcdef0123456789abc' };
const sha256 = (t: string): string => createHash('sha256').update(t).digest('hex');

const EXPECTED: Record<'public' | 'read' | 'write' | 'admin', string[]> = {
  public: ['GET /health', 'GET /livez', 'GET /readyz', 'GET /metrics'],
  read: [
    'GET /version', 'GET /openapi.json', 'GET /v1/proof/state', 'GET /v1/namespaces', 'POST /search', 'GET /graph/node/:id', 'GET /graph/edges/:id',
    'POST /v1/memory/search_vector', 'POST /v1/memory/search', 'GET /v1/memory/meta/get', 'GET /v1/snapshot/download', 'GET /v1/proof/event-log',
    'GET /v1/replication/events', 'GET /v1/replication/state',
    // valori-node 0.3.1's /v1 surface
    'GET /v1/version', 'GET /v1/records/:id', 'POST /v1/search', 'GET /v1/graph/node/:id', 'GET /v1/graph/nodes', 'GET /v1/graph/edges/:id',
    'GET /v1/graph/subgraph', 'GET /v1/graph/query', 'GET /v1/timeline', 'GET /timeline',
    // The Raft cluster's views (docs/CLUSTER.md)
    'GET /v1/cluster/status', 'GET /v1/cluster/health', 'GET /v1/cluster/role',
  ],
  write: [
    'POST /records', 'POST /v1/vectors/batch_insert', 'POST /v1/memory/insert_batch', 'POST /v1/delete', 'POST /v1/soft-delete',
    'POST /graph/node', 'POST /graph/edge', 'POST /v1/memory/upsert_vector', 'POST /v1/memory/meta/set',
    'POST /v1/records', 'PATCH /v1/records/:id/metadata', 'POST /v1/vectors/batch-insert', 'POST /v1/graph/node', 'DELETE /v1/graph/node/:id', 'POST /v1/graph/edge',
  ],
  admin: [
    'POST /v1/snapshot/save', 'POST /v1/snapshot/upload', 'POST /v1/snapshot/restore', 'POST /v1/index/build', 'POST /v1/event-log/trim',
    'POST /v1/keys', 'GET /v1/keys', 'DELETE /v1/keys/:id', 'POST /v1/namespaces', 'DELETE /v1/namespaces/:name',
    'POST /v1/cluster/add-node', 'POST /v1/cluster/remove-node',
  ],
};
const RANK = { public: 0, read: 1, write: 2, admin: 3 } as const;
type Level = keyof typeof RANK;

function registeredRoutes(app: Express): string[] {
  const out = new Set<string>();
  for (const layer of app.router.stack) {
    for (const h of layer.route?.stack ?? []) if (h.method) out.add(`${h.method.toUpperCase()} ${layer.route!.path}`);
  }
  return [...out].sort();
}

/** A request for a route: ids become 0 (or an absent key id), POSTs carry an empty JSON object. */
function call(base: string, route: string, headers: Record<string, string>, head = false) {
  const [method, pattern] = route.split(' ');
  const path = pattern === '/v1/keys/:id' ? '/v1/keys/k_0000000000000000' : pattern.replace(':id', '0');
  if (head) return request(base, path, { method: 'HEAD', headers });
  return request(base, path, { method, headers, ...(method === 'POST' || method === 'PATCH' ? { body: {} } : {}) });
}

describe('auth matrix', () => {
  let s: TestServer;
  const expected = new Map<string, Level>(Object.entries(EXPECTED).flatMap(([level, routes]) => routes.map((r) => [r, level as Level] as const)));

  before(async () => {
    const apiKeys = Object.entries(KEYS).map(([scope, token]) => `${scope}-key:${scope}:${sha256(token)}`).join(',');
    s = await startServer({ VALORI_DIM: '4', VALORI_AUTH_TOKEN: ROOT, VALORI_API_KEYS: apiKeys });
  });
  after(() => s.stop());

  it('when the router, the scope table and the expected matrix are compared, then they list the same routes with the same scopes', () => {
    assert.deepEqual(registeredRoutes(s.app), [...expected.keys()].sort());
    assert.deepEqual(Object.fromEntries(Object.entries(ROUTE_ACCESS).sort()), Object.fromEntries([...expected].sort()));
  });

  it('when docs/authentication.md lists the scopes, then its table is the expected one', () => {
    const text = readFileSync(join(__dirname, '..', 'docs', 'authentication.md'), 'utf8');
    const rows = [...text.matchAll(/^\| `((?:GET|POST|PATCH|DELETE) \/[^`]*)` \| (public|read|write|admin) \|$/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(Object.fromEntries(rows.sort()), Object.fromEntries([...expected].sort()));
  });

  it('when every route is called without credentials, with each scope and with the master token, then exactly the callers at or above its scope get through', async () => {
    const callers: [string, Level | 'none' | 'root', Record<string, string>][] = [
      ['no credentials', 'none', {}],
      ...Object.entries(KEYS).map(([scope, token]) => [`${scope} key`, scope as Level, { authorization: `Bearer ${token}` }] as [string, Level, Record<string, string>]),
      ['VALORI_AUTH_TOKEN', 'root', { authorization: `Bearer ${ROOT}` }],
    ];
    let checked = 0;
    for (const [route, need] of expected) {
      const heads = route.startsWith('GET ') ? [false, true] : [false];
      for (const head of heads) {
        for (const [who, power, headers] of callers) {
          const r = await call(s.base, route, headers, head);
          const what = `${head ? route.replace('GET', 'HEAD') : route} as ${who}: ${r.status} ${r.text.slice(0, 160)}`;
          checked++;
          if (need === 'public') {
            assert.equal(r.status, 200, what);
          } else if (power === 'none') {
            assert.equal(r.status, 401, what);
            assert.equal(r.headers.get('www-authenticate'), 'Bearer', what);
            if (!head) assert.ok(isErrorEnvelope(r.json, 'UNAUTHORIZED'), what);
          } else if (power === 'root' || RANK[power] >= RANK[need]) {
            assert.ok(r.status !== 401 && r.status !== 403, what);
          } else {
            assert.equal(r.status, 403, what);
            if (!head) {
              assert.ok(isErrorEnvelope(r.json, 'FORBIDDEN'), what);
              assert.match(r.json.error, new RegExp(`"${need}" scope`), what);
            }
          }
        }
      }
    }
    assert.ok(checked >= 31 * 5, `only ${checked} calls`);
  });

  it('when the Authorization header is malformed, then every protected route answers 401 with WWW-Authenticate: Bearer', async () => {
    const malformed = ['Bearer', 'Bearer ', `Basic ${Buffer.from(`u:${ROOT}`).toString('base64')}`, `Bearer\t${ROOT}`, `Bearer ${ROOT} ${ROOT}`, `Bearer Bearer ${ROOT}`, ROOT];
    for (const [route, need] of expected) {
      if (need === 'public') continue;
      for (const authorization of malformed) {
        const r = await call(s.base, route, { authorization });
        const what = `${route} with ${JSON.stringify(authorization.slice(0, 12))}`;
        assert.equal(r.status, 401, what);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer', what);
        assert.ok(isErrorEnvelope(r.json, 'UNAUTHORIZED'), what);
      }
    }
  });

  it('when a key with surrounding spaces or a lower-case scheme is sent, then it is accepted; an unknown path is 401 without a key and 404 with any', async () => {
    assert.equal((await request(s.base, '/version', { headers: { authorization: `bearer   ${KEYS.read}  ` } })).status, 200);
    assert.equal((await request(s.base, '/no/such/route')).status, 401);
    const r = await request(s.base, '/no/such/route', { token: KEYS.read });
    assert.equal(r.status, 404);
    assert.ok(isErrorEnvelope(r.json, 'ROUTE_NOT_FOUND'));
  });

  it('when a read key calls a write route, then nothing is written', async () => {
    const before = (await request(s.base, '/health')).json.records.live;
    const r = await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, token: KEYS.read });
    assert.equal(r.status, 403);
    assert.match(r.json.error, /"write" scope/);
    assert.equal((await request(s.base, '/health')).json.records.live, before);
    assert.equal((await request(s.base, '/records', { body: { values: [1, 2, 3, 4] }, token: KEYS.write })).status, 200);
    assert.equal((await request(s.base, '/health')).json.records.live, before + 1);
  });
});
