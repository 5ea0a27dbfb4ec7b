// Authentication before routing, authorization per route.
//
// authenticate() runs before the router: with any credential configured (VALORI_AUTH_TOKEN,
// VALORI_API_KEYS, VALORI_API_KEYS_FILE), every request except GET/HEAD of the public routes
// (/health, /livez, /readyz, /metrics) needs `Authorization: Bearer <token>` naming a known
// credential, else 401, so unknown paths answer 401 (not 404) to a caller without one. The caller is kept in res.locals.principal.
// requireAccess() is the first handler of every route (mountRoutes adds it from the one route
// table, src/api/routes.ts): 403 naming the missing scope when the caller's scope is below the
// route's.
// With no credential configured every caller is all-powerful, behind the browser guard.
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { browserCheck } from '../auth/browser-guard';
import type { KeyStore, Principal } from '../auth/key-store';
import { allows, isPublic, type Access } from '../auth/scopes';
import { MIN_TOKEN_CHARS } from '../auth/tokens';
import type { Config } from '../config';
import type { Logger } from '../log';
import { AppError } from './errors';

/**
 * The scheme is case-insensitive (RFC 7235); one or more spaces, then exactly one credential, then
 * optional trailing spaces. A tab, a second credential or another scheme does not match.
 */
const BEARER = /^Bearer +(\S+) *$/i;

const ANONYMOUS: Principal = { name: 'anonymous', power: 'root', collection: null };

function unauthorized(message: string): AppError {
  return new AppError('UNAUTHORIZED', message, { 'WWW-Authenticate': 'Bearer' });
}

/**
 * Who a request is, or the error that refuses it (before routing, so before any scope check); null
 * for a public route with auth on (no principal).
 */
export type Authenticator = (method: string, path: string, headers: IncomingHttpHeaders) => Principal | AppError | null;

/**
 * The one authentication rule, for the middleware below and for the search lane that runs before
 * Express (src/http/search-lane.ts). Public routes get no principal (null).
 */
export function authenticator(config: Config, store: KeyStore, logger: Logger): Authenticator {
  for (const [variable, token] of [['VALORI_AUTH_TOKEN', config.authToken], ['VALORI_LEADER_TOKEN', config.leaderToken]] as const) {
    if (token !== null && token.length < MIN_TOKEN_CHARS) {
      logger.warn(`${variable} is shorter than ${MIN_TOKEN_CHARS} characters: use a random one, e.g. openssl rand -hex 32`);
    }
  }
  if (!store.enabled) {
    logger.warn(
      'Auth Disabled: no VALORI_AUTH_TOKEN or API keys configured, every route is open to this machine ' +
        '(browsers from other sites and unknown Host names are refused); set VALORI_AUTH_TOKEN (openssl rand -hex 32)',
    );
    if (config.corsOrigins.length > 0) {
      // Config refuses * with auth off; a listed page is trusted like this node's own pages.
      logger.warn(`VALORI_CORS_ORIGINS with auth off: pages from ${config.corsOrigins.join(', ')} can read and write every route of this node; set VALORI_AUTH_TOKEN`);
    }
    const guard = browserCheck({ bindHost: config.bind.host, allowedHosts: config.allowedHosts, allowedOrigins: config.corsOrigins });
    return (method, path, headers) => guard(method, path, headers) ?? ANONYMOUS;
  }
  logger.info(`Auth Enabled: Bearer token required (${config.authToken === null ? 'no master token' : 'master token'}, ${store.count} API keys)`);
  return (method, path, headers) => {
    if (isPublic(method, path)) return null;
    const match = BEARER.exec(headers.authorization ?? '');
    if (match === null) return unauthorized('missing bearer token: send "Authorization: Bearer <token>"');
    return store.match(match[1]) ?? unauthorized('invalid bearer token');
  };
}

/** The middleware form: the caller goes to res.locals.principal, a refusal to the error mapper. */
export function authenticate(check: Authenticator): RequestHandler {
  return (req, res, next) => {
    const who = check(req.method, req.path, req.headers);
    if (who instanceof AppError) return next(who);
    if (who !== null) res.locals.principal = who;
    next();
  };
}

export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

/**
 * A route's first handler: lets the caller through when its scope reaches `access`, and, for a key
 * restricted to one collection, when the route is not node-wide (`restricted` from the route
 * table; the handler then refuses other collections through src/http/scope.ts).
 */
export function requireAccess(access: Access, restricted?: 'collection' | 'any'): RequestHandler {
  if (access === 'public') return (_req, _res, next) => next();
  return (req, res, next) => {
    const refused = accessRefusal(principalOf(res), access, restricted, req.method, req.path);
    if (refused === null) next();
    else next(refused);
  };
}

/** requireAccess's rule: null lets the caller through. */
export function accessRefusal(p: Principal | undefined, access: Exclude<Access, 'public'>, restricted: 'collection' | 'any' | undefined, method: string, path: string): AppError | null {
  // No principal means authenticate() did not run for this app: refuse rather than guess.
  if (p === undefined) return new AppError('FORBIDDEN', `this route needs the "${access}" scope`);
  if (!allows(p.power, access)) return new AppError('FORBIDDEN', `this route needs the "${access}" scope; the key "${p.name}" has only "${p.power}"`);
  if (p.collection !== null && restricted === undefined) {
    return new AppError('FORBIDDEN', `the key "${p.name}" is restricted to collection "${p.collection}": ${method} ${path} spans every collection`);
  }
  return null;
}
