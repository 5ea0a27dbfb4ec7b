// First middleware: a request id (echoed as X-Request-Id), the trace id of a W3C traceparent (and,
// with traces on, the request's span continuing it), one histogram sample per request (not per
// event stream), and (VALORI_ACCESS_LOG=on) one access line when it ends.
// Headers, bodies and query strings are never logged, so a token cannot leak here: the line names
// the route template (/v1/keys/:id), not the URL.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { accessLogOf, type Logger } from '../log';
import type { Metrics } from '../metrics';
import { traceRequest, tracingEnabled, type Traceparent } from '../tracing';
import type { RequestLog } from './audit';

// Accept a caller's id only if it is short and harmless to echo into headers and logs.
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// W3C Trace Context, level 1: version-traceid-parentid-flags in lowercase hex. A later version may
// append fields after a dash; version ff is invalid, and so are all-zero trace and parent ids.
// Two traceparent headers arrive joined by ", " and so fail to match: ignored, as the spec asks.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** A valid traceparent header's trace id, parent id and sampled flag; undefined when absent or invalid (ignored). */
export function parseTraceparent(header: string | string[] | undefined): Traceparent | undefined {
  if (typeof header !== 'string') return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (m === null) return undefined;
  const [, version, traceId, parentId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/**
 * A long-lived stream (the replication event stream, text/event-stream) lasts as long as its
 * follower stays connected: one such sample would swamp the request-duration histogram.
 */
function isStream(res: Response): boolean {
  const type = res.getHeader('content-type');
  return typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream');
}

/** The route pattern (bounded, no ids or query), or "unmatched" before routing (401, 404, 307). */
function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : 'unmatched';
}

/**
 * Body bytes from Content-Length (every JSON answer and snapshot download sets it); a streamed
 * answer without one (replication event streams) counts what went out on the connection meanwhile.
 */
function bytesOf(res: Response, socketBytesAtStart: number): number {
  const declared = Number(res.getHeader('content-length'));
  if (Number.isSafeInteger(declared) && declared >= 0) return declared;
  return Math.max(0, (res.socket?.bytesWritten ?? socketBytesAtStart) - socketBytesAtStart);
}

export interface RequestContextOptions {
  /** VALORI_ACCESS_LOG: one info line per request. */
  accessLog: boolean;
}

/**
 * What requestContext does before the route, for a request and its response: the id, its header,
 * and the listeners that record the request when it ends. Returns the parsed traceparent. The
 * search lane (src/http/search-lane.ts) calls it for the requests it serves before Express.
 */
export type BeginRequest = (req: IncomingMessage, res: ServerResponse, locals: Record<string, unknown>) => Traceparent | undefined;

export function requestBeginner(logger: Logger, metrics: Metrics, options: RequestContextOptions): BeginRequest {
  const access = accessLogOf(logger);
  return (request, response, locals) => {
    const req = request as Request;
    const res = response as Response;
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
    const parent = parseTraceparent(req.headers.traceparent);
    const traceId = parent?.traceId;
    locals.requestId = requestId;
    locals.requestLog = { logger, requestId, ...(traceId === undefined ? {} : { traceId }) } satisfies RequestLog;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    const socketBytes = req.socket.bytesWritten;
    res.on('finish', () => {
      if (isStream(res)) return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The route pattern, not the raw path, keeps label cardinality bounded (ids are in paths).
      metrics.observeRequest(req.method, routeOf(req), res.statusCode, seconds);
    });
    if (options.accessLog) {
      // 'close' comes once per response: after 'finish', or alone when the client hung up first.
      res.once('close', () => {
        const code = locals.errorCode as string | undefined;
        access.write({
          requestId,
          ...(traceId === undefined ? {} : { traceId }),
          method: req.method,
          route: routeOf(req),
          status: res.statusCode,
          ...(code === undefined ? {} : { code }),
          ms: Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1e3,
          bytes: bytesOf(res, socketBytes),
          ...(res.writableFinished ? {} : { aborted: true as const }),
        });
      });
    }
    return parent;
  };
}

/** The middleware: begins the request unless the search lane already did (then it only passes it on). */
export function requestContext(begin: BeginRequest, begun: (req: IncomingMessage) => boolean): RequestHandler {
  return (req, res, next) => {
    if (begun(req)) return next();
    const parent = begin(req, res, res.locals);
    if (tracingEnabled()) traceRequest(req, res, parent, () => routeOf(req), next);
    else next();
  };
}
