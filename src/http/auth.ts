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
import type { RequestHandler, Response } from 'express';
import { browserGuard } from '../auth/browser-guard';
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

export function authenticate(config: Config, store: KeyStore, logger: Logger): RequestHandler {
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
    const guard = browserGuard({ bindHost: config.bind.host, allowedHosts: config.allowedHosts, allowedOrigins: config.corsOrigins });
    return (req, res, next) => {
      res.locals.principal = ANONYMOUS;
      guard(req, res, next);
    };
  }
  logger.info(`Auth Enabled: Bearer token required (${config.authToken === null ? 'no master token' : 'master token'}, ${store.count} API keys)`);
  return (req, res, next) => {
    if (isPublic(req.method, req.path)) return next();
    const match = BEARER.exec(req.headers.authorization ?? '');
    if (match === null) return next(unauthorized('missing bearer token: send "Authorization: Bearer <token>"'));
    const principal = store.match(match[1]);
    if (principal === null) return next(unauthorized('invalid bearer token'));
    res.locals.principal = principal;
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
    const p = principalOf(res);
    // No principal means authenticate() did not run for this app: refuse rather than guess.
    if (p === undefined) return next(new AppError('FORBIDDEN', `this route needs the "${access}" scope`));
    if (!allows(p.power, access)) return next(new AppError('FORBIDDEN', `this route needs the "${access}" scope; the key "${p.name}" has only "${p.power}"`));
    if (p.collection !== null && restricted === undefined) {
      return next(new AppError('FORBIDDEN', `the key "${p.name}" is restricted to collection "${p.collection}": ${req.method} ${req.path} spans every collection`));
    }
    next();
  };
}
