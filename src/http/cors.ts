// CORS for the web pages listed in VALORI_CORS_ORIGINS (off when unset: no CORS header at all).
//
// Mounted after the request id and BEFORE authentication: a browser sends its preflight
// (OPTIONS with Origin and Access-Control-Request-Method) without the Authorization header, so
// a preflight that had to pass auth would always fail. A preflight only reveals which methods and
// headers the node takes, which the docs say anyway. Actual requests still go through auth, the
// browser guard and the route's scope; their responses (errors and 307s included) carry
// Access-Control-Allow-Origin for listed origins, so the page can read the error envelope.
//
// With auth off, a listed origin is by definition not foreign: the browser guard
// (src/auth/browser-guard.ts) lets it through, and the node warns at boot that those pages can do
// anything. `*` with auth off is refused at boot (src/config.ts), since it would undo the guard.
// No Access-Control-Allow-Credentials: the node reads no cookie, a page sends the bearer token itself.
import type { RequestHandler } from 'express';
import { ConfigError } from '../config-vars';

export const CORS_ALLOW_METHODS = 'GET, HEAD, POST, PATCH, DELETE';
/** Request headers a page may send: auth, JSON bodies, idempotent retries, tracing, SSE resume. */
export const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent, tracestate, Last-Event-ID';
/** Response headers a page may read besides the CORS-safelisted ones. */
export const CORS_EXPOSE_HEADERS = 'X-Request-Id, Retry-After, Location, WWW-Authenticate';
/** How long (s) a browser may cache a preflight; Chromium caps it at 7200, Firefox at 86400. */
export const CORS_MAX_AGE_SECONDS = 600;

const ENV = 'VALORI_CORS_ORIGINS';

/**
 * VALORI_CORS_ORIGINS: unset or blank -> [] (off); `*` alone -> ['*']; else exact origins as a
 * browser serialises them in the Origin header (lower-case scheme and host, no default port, no
 * path, no trailing slash), since the header is compared byte for byte.
 */
export function parseCorsOrigins(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError(ENV, `${ENV}=${JSON.stringify(raw)} is invalid: "*" (any origin) cannot be combined with a list of origins`);
    return ['*'];
  }
  const out: string[] = [];
  for (const entry of entries) {
    let url: URL | null = null;
    try {
      url = new URL(entry);
    } catch {
      // reported below
    }
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== entry) {
      const hint = url !== null && (url.protocol === 'http:' || url.protocol === 'https:') ? `; did you mean ${JSON.stringify(url.origin)}?` : '';
      throw new ConfigError(
        ENV,
        `${ENV} is invalid: ${JSON.stringify(entry.slice(0, 200))} is not an exact origin: expected scheme://host[:port] as browsers send it (http or https, lower case, no path or trailing slash), or *${hint}`,
      );
    }
    if (!out.includes(entry)) out.push(entry);
  }
  return out;
}

/** The middleware for a non-empty VALORI_CORS_ORIGINS (app.ts mounts nothing when it is empty). */
export function cors(origins: readonly string[]): RequestHandler {
  const any = origins.includes('*');
  const allowed = new Set(origins);
  return (req, res, next) => {
    // The answer depends on Origin whenever a list is configured, so caches must key on it, even
    // for requests without one or from another origin.
    if (!any) res.vary('Origin');
    const origin = req.headers.origin;
    if (origin === undefined || !(any || allowed.has(origin))) return next();
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', CORS_ALLOW_METHODS);
      res.setHeader('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS);
      res.setHeader('Access-Control-Max-Age', String(CORS_MAX_AGE_SECONDS));
      // Chromium's Private Network Access: a listed public page calling a node on a private
      // address asks first; listing the origin is the operator's consent.
      if (req.headers['access-control-request-private-network'] === 'true') res.setHeader('Access-Control-Allow-Private-Network', 'true');
      res.status(204).end();
      return;
    }
    res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
    next();
  };
}
