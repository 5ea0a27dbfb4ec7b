// Bearer-token guard. Every route except GET/HEAD /health and /metrics requires
// `Authorization: Bearer <token>` when VALORI_AUTH_TOKEN is set. It runs before routing, so
// unknown paths answer 401 (not 404) to a caller without the token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../log';
import { AppError } from './errors';

const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/health', '/metrics']);

function isPublic(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && PUBLIC_PATHS.has(path);
}

// Hashing both sides first gives equal-length buffers, so timingSafeEqual never throws and the
// comparison time does not depend on where (or whether) the token differs, nor on its length.
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The scheme is case-insensitive (RFC 7235); exactly one credential follows it. */
const BEARER = /^Bearer +(\S+) *$/i;

export function requireBearer(token: string | null, logger: Logger): RequestHandler {
  if (token === null) {
    logger.warn('Auth Disabled: no VALORI_AUTH_TOKEN configured, every route is open');
    return (_req, _res, next) => next();
  }
  logger.info('Auth Enabled: Bearer token required');
  const expected = digest(token);
  return (req, _res, next) => {
    if (isPublic(req.method, req.path)) return next();
    const match = BEARER.exec(req.headers.authorization ?? '');
    if (match !== null && timingSafeEqual(digest(match[1]), expected)) return next();
    const message = match === null ? 'missing bearer token: send "Authorization: Bearer <token>"' : 'invalid bearer token';
    next(new AppError('UNAUTHORIZED', message, { 'WWW-Authenticate': 'Bearer' }));
  };
}
