// The tail of the middleware chain: 404 for unknown paths, then ONE mapper that turns any error
// into the JSON envelope. Express never gets to render its HTML error page.
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { KernelError } from '../kernel/errors';
import { AppError, fromKernelError } from './errors';

export const notFound: RequestHandler = (req, _res, next) => {
  next(new AppError('ROUTE_NOT_FOUND', `no route for ${req.method} ${req.path}`));
};

/** Errors raised by express.json (body-parser), recognised by their `type`. */
interface BodyParserError {
  type: string;
  status?: number;
  limit?: number;
  message: string;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return typeof err === 'object' && err !== null && typeof (err as { type?: unknown }).type === 'string';
}

function toAppError(err: unknown, limitBytes: number): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof KernelError) return fromKernelError(err);
  if (isBodyParserError(err)) {
    switch (err.type) {
      case 'entity.parse.failed':
        return new AppError('INVALID_JSON', `malformed JSON body: ${err.message}`);
      case 'entity.too.large':
        return new AppError('PAYLOAD_TOO_LARGE', `request body is larger than ${limitBytes} bytes (VALORI_MAX_BODY_BYTES)`);
      case 'encoding.unsupported':
      case 'charset.unsupported':
        return new AppError('UNSUPPORTED_MEDIA_TYPE', err.message);
      default:
        // request.aborted, request.size.invalid, ...: the client sent a broken request.
        if (err.status !== undefined && err.status >= 400 && err.status < 500) {
          return new AppError('INVALID_REQUEST', err.message);
        }
    }
  }
  return new AppError('INTERNAL', 'internal server error', {}, err);
}

/** 5xx answers the node gives on purpose (load shedding, read-only, full pools, shutting down). */
const SHED_CODES: ReadonlySet<string> = new Set(['SERVER_BUSY', 'READ_ONLY', 'CAPACITY_EXCEEDED', 'CLOSED', 'NO_LEADER', 'LEADER_CHANGED']);

/**
 * `leaderRefusal`, on a cluster member: what a write the kernel refused with NOT_LEADER answers
 * (a 307 with Location, or 503 NO_LEADER): leadership moved between the gate and the proposal.
 */
export function errorMapper(logger: Logger, limitBytes: number, metrics: Metrics, leaderRefusal?: (req: Request) => AppError | null): ErrorRequestHandler {
  return (err, req, res, next) => {
    let appError = toAppError(err, limitBytes);
    if (appError.code === 'NOT_LEADER' && appError.headers.Location === undefined) {
      appError = leaderRefusal?.(req) ?? new AppError('NO_LEADER', appError.message, { 'Retry-After': '1' });
    }
    // The route pattern, never the raw path (ids and names are in paths): the label set stays
    // bounded by the route table. Errors raised before routing (auth, unknown paths) are "unmatched".
    const route = (req.route as { path?: unknown } | undefined)?.path;
    metrics.httpError(typeof route === 'string' ? route : 'unmatched', appError.code);
    // For the access and audit lines (http/request-context.ts), written when the response ends.
    res.locals.errorCode = appError.code;
    if (SHED_CODES.has(appError.code)) {
      // A deliberate refusal under load or in a known state, not a fault: one line, no stack, so a
      // flood of them cannot flood the log with traces.
      logger.warn('request refused', { requestId: res.locals.requestId, method: req.method, path: req.path, code: appError.code });
    } else if (appError.status >= 500) {
      const cause = appError.cause ?? err;
      logger.error('request failed', {
        requestId: res.locals.requestId,
        method: req.method,
        path: req.path,
        code: appError.code,
        error: cause instanceof Error ? (cause.stack ?? cause.message) : String(cause),
      });
    }
    if (res.headersSent) {
      // Too late for an envelope; let Express end the connection.
      next(err);
      return;
    }
    res.status(appError.status).set(appError.headers).json(appError.toBody());
  };
}
