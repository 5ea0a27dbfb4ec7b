// Who may call what. Each route's scope is declared with the route, in the one route table
// (src/api/routes.ts): mountRoutes mounts every route behind requireAccess(its access), the OpenAPI
// document shows it as x-valori-scope, and the auth matrix test checks the table by hand.
import { ROUTES } from '../api/routes.js';

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
export const ROUTE_ACCESS: Readonly<Record<string, Access>> = Object.fromEntries(ROUTES.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r.access]));

const TABLE = ROUTE_ACCESS;

/** The access of a route as registered, or an Error naming the missing entry. */
export function routeAccess(method: string, path: string): Access {
  const access = TABLE[`${method.toUpperCase()} ${path}`];
  if (access === undefined) {
    throw new Error(`route ${method.toUpperCase()} ${path} has no entry in the route table (src/api/routes.ts): declare it there`);
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
