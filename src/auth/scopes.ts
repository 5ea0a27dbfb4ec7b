// The one table of who may call what. Every route the app registers must have an entry here:
// defineRoute (src/http/routes/context.ts) looks its method and path up and refuses to register a
// route without one, so a new route cannot be added without deciding its scope. The OpenAPI
// document (src/openapi.ts) and the auth matrix test read the same table.

/** What an API key may do; each scope includes the ones before it. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A route's requirement: open to anyone, or the least scope that may call it. */
export type Access = Scope | 'public';

/**
 * The scope each route needs, keyed by "METHOD path" (the Express pattern, as registered).
 * HEAD follows GET. VALORI_AUTH_TOKEN passes every entry.
 *
 * - read: everything that only looks. The snapshot download is `read` because a read key can
 *   already page through every record by search, and a follower's bootstrap needs it; it is the
 *   whole state in one response, so hand read keys only to readers you would give a backup to.
 * - write: changes records, the graph and metadata through the event log.
 * - admin: replaces or rewrites state wholesale, or holds locks for seconds (snapshot save,
 *   upload, restore, log trim, index build), and manages keys.
 */
export const ROUTE_ACCESS = {
  'GET /health': 'public',
  'GET /metrics': 'public',
  'GET /version': 'read',
  'GET /openapi.json': 'read',
  'GET /v1/proof/state': 'read',
  'POST /records': 'write',
  'POST /v1/vectors/batch_insert': 'write',
  'POST /v1/memory/insert_batch': 'write',
  'POST /search': 'read',
  'POST /v1/delete': 'write',
  'POST /v1/soft-delete': 'write',
  'POST /graph/node': 'write',
  'GET /graph/node/:id': 'read',
  'POST /graph/edge': 'write',
  'GET /graph/edges/:id': 'read',
  'POST /v1/memory/upsert_vector': 'write',
  'POST /v1/memory/search_vector': 'read',
  'POST /v1/memory/meta/set': 'write',
  'GET /v1/memory/meta/get': 'read',
  'POST /v1/snapshot/save': 'admin',
  'GET /v1/snapshot/download': 'read',
  'POST /v1/snapshot/upload': 'admin',
  'POST /v1/snapshot/restore': 'admin',
  'GET /v1/proof/event-log': 'read',
  'POST /v1/index/build': 'admin',
  'POST /v1/event-log/trim': 'admin',
  'GET /v1/replication/events': 'read',
  'GET /v1/replication/state': 'read',
  'POST /v1/keys': 'admin',
  'GET /v1/keys': 'admin',
  'DELETE /v1/keys/:id': 'admin',
} as const satisfies Record<string, Access>;

export type RouteKey = keyof typeof ROUTE_ACCESS;

const TABLE: Readonly<Record<string, Access>> = ROUTE_ACCESS;

/** The access of a route as registered, or an Error naming the missing entry. */
export function routeAccess(method: string, path: string): Access {
  const access = TABLE[`${method.toUpperCase()} ${path}`];
  if (access === undefined) {
    throw new Error(`route ${method.toUpperCase()} ${path} has no entry in ROUTE_ACCESS (src/auth/scopes.ts): decide its scope there`);
  }
  return access;
}

/** True for the routes anyone may call (GET/HEAD of an exact public path). */
export function isPublic(method: string, path: string): boolean {
  const m = method === 'HEAD' ? 'GET' : method;
  return TABLE[`${m} ${path}`] === 'public';
}

/** A caller's power: a key's scope, or `root` for VALORI_AUTH_TOKEN (and every caller when auth is off). */
export type Power = Scope | 'root';

const RANK: Readonly<Record<Power | 'public', number>> = { public: 0, read: 1, write: 2, admin: 3, root: 4 };

/** Whether a caller with `power` may call a route that needs `access`. */
export function allows(power: Power, access: Access): boolean {
  return RANK[power] >= RANK[access];
}

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}
