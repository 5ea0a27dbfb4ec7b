// What every route file receives, and mountRoutes: route files give a handler per operation of
// the one route table (src/api/routes.ts), which holds each route's method, path and scope. Each
// path gets its methods, each behind the scope check of its table entry, plus a 405 (with Allow)
// for any other method. A table entry without a handler, or a handler without an entry, stops the
// app at creation.
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { ROUTES, type OperationId, type RouteSpec } from '../../api/routes';
import { requireAccess } from '../auth';
import type { Config } from '../../config';
import type { ClusterNode } from '../../cluster/node';
import type { Kernel } from '../../kernel/kernel';
import type { Metrics } from '../../metrics';
import type { Replication } from '../../replication/runtime';
import type { BodyLimits, BodyReader } from '../body';
import { AppError } from '../errors';
import type { Validators } from '../schemas';

export interface RouteContext {
  config: Config;
  kernel: Kernel;
  metrics: Metrics;
  /** Proof ring, event streams and (on a follower) the follower's state. */
  replication: Replication;
  /** This node's Raft member in cluster mode, else null (docs/CLUSTER.md). */
  cluster?: ClusterNode | null;
  validators: Validators;
  /** Bounded JSON body parser (http/body.ts) with VALORI_MAX_BODY_BYTES; put before POST handlers. */
  json: RequestHandler[];
  /** The reader under `json` and its limits, for routes that hand raw bodies to the kernel (search). */
  readJson: BodyReader;
  jsonLimits: BodyLimits;
  /** The same for batch inserts (VALORI_MAX_BATCH_BODY_BYTES, batch-sized structure caps), which hand raw bodies to the kernel. */
  readBatchJson: BodyReader;
  batchLimits: BodyLimits;
}

/** A route file's handlers, by operation id. */
export type RouteHandlers = Partial<Record<OperationId, RequestHandler[]>>;

/** What express's Route offers (router 2.x), untyped by @types/express: run its handlers for a request. */
interface Dispatchable {
  dispatch(req: Request, res: Response, done: NextFunction): void;
}

const ALLOW: Readonly<Record<RouteSpec['method'], string[]>> = { get: ['GET', 'HEAD'], post: ['POST'], patch: ['PATCH'], delete: ['DELETE'] };

/**
 * Mounts every route of the table, in table order, with the handlers the route files give. A
 * request for a path without parameters finds its route in one map lookup instead of testing the
 * path against every route before it (the hot routes, search and inserts, are all such paths);
 * the route is the same object either way, so matching, 405s and `req.route` are unchanged.
 */
export function mountRoutes(app: Express, gate: ((spec: RouteSpec) => RequestHandler | null) | null, ...files: RouteHandlers[]): void {
  const handlers = new Map<string, RequestHandler[]>();
  for (const file of files) {
    for (const [id, list] of Object.entries(file) as [string, RequestHandler[]][]) {
      if (handlers.has(id)) throw new Error(`route ${id} has two handlers`);
      handlers.set(id, list);
    }
  }
  const byPath = new Map<string, RouteSpec[]>();
  for (const spec of ROUTES as readonly RouteSpec[]) {
    byPath.set(spec.path, [...(byPath.get(spec.path) ?? []), spec]);
  }
  const fixed = new Map<string, Dispatchable>();
  app.use((req, res, next) => {
    const route = fixed.get(req.path);
    if (route === undefined) next();
    else route.dispatch(req, res, next);
  });
  for (const [path, specs] of byPath) {
    const route = app.route(path);
    if (!/[:*]/.test(path)) fixed.set(path, route as unknown as Dispatchable);
    const allow: string[] = [];
    for (const spec of specs) {
      const list = handlers.get(spec.id);
      if (list === undefined) throw new Error(`route ${spec.method.toUpperCase()} ${path} (${spec.id}) has no handler`);
      handlers.delete(spec.id);
      // A cluster member's read barrier goes just before the route's own handler, after its body
      // was read (src/http/cluster-gate.ts).
      const before = gate?.(spec) ?? null;
      const steps = before === null ? list : [...list.slice(0, -1), before, list[list.length - 1]];
      route[spec.method](requireAccess(spec.access, spec.restricted), ...steps);
      allow.push(...ALLOW[spec.method]);
    }
    const allowHeader = allow.join(', ');
    route.all((req, _res, next) => {
      next(new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}: use ${allowHeader}`, { Allow: allowHeader }));
    });
  }
  if (handlers.size > 0) throw new Error(`handlers without a route in src/api/routes.ts: ${[...handlers.keys()].join(', ')}`);
}

const U32_MAX = 4_294_967_295;

/** A path parameter that must be a u32 id; anything else is a 400 naming it. */
export function parseId(raw: unknown, what: string): number {
  const text = typeof raw === 'string' ? raw : '';
  const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(n <= U32_MAX)) {
    throw new AppError('INVALID_REQUEST', `${what} must be an integer from 0 to ${U32_MAX}, got ${JSON.stringify(String(raw))}`);
  }
  return n;
}

/** A single-flight operation is running; `close` when an unread request body must not be drained. */
export function busy(message: string, close = false): AppError {
  return new AppError('OPERATION_IN_PROGRESS', message, close ? { 'Retry-After': '1', Connection: 'close' } : { 'Retry-After': '1' });
}
