// First middleware: a request id (echoed as X-Request-Id) and one log line + one histogram sample
// per request when it finishes. Headers are never logged, so the token cannot leak here.
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';

// Accept a caller's id only if it is short and harmless to echo into headers and logs.
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The route pattern, not the raw path, keeps label cardinality bounded (ids are in paths).
      const route = (req.route as { path?: unknown } | undefined)?.path;
      metrics.observeRequest(req.method, typeof route === 'string' ? route : 'unmatched', res.statusCode, seconds);
      logger.debug('request', {
        requestId,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        ms: Math.round(seconds * 1e6) / 1e3,
      });
    });
    next();
  };
}
