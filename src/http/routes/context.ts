// What every route file receives, and the helper that registers a path with its methods plus a
// 405 (with Allow) for any other method on that path. Each method's first handler checks the
// caller's scope against the one route table (src/auth/scopes.ts); a route missing from that
// table cannot be registered.
import type { Express, RequestHandler } from 'express';
import { routeAccess } from '../../auth/scopes';
import { requireAccess } from '../auth';
import type { Config } from '../../config';
import type { Kernel } from '../../kernel/kernel';
import type { Metrics } from '../../metrics';
import type { Replication } from '../../replication/runtime';
import { AppError } from '../errors';
import type { Validators } from '../schemas';

export interface RouteContext {
  app: Express;
  config: Config;
  kernel: Kernel;
  metrics: Metrics;
  /** Proof ring, event streams and (on a follower) the follower's state. */
  replication: Replication;
  validators: Validators;
  /** Bounded JSON body parser (http/body.ts) with VALORI_MAX_BODY_BYTES; put before POST handlers. */
  json: RequestHandler[];
  /** The same for batch inserts, with VALORI_MAX_BATCH_BODY_BYTES and batch-sized structure caps. */
  batchJson: RequestHandler[];
}

export interface MethodHandlers {
  get?: RequestHandler[];
  post?: RequestHandler[];
  delete?: RequestHandler[];
}

export function defineRoute(app: Express, path: string, handlers: MethodHandlers): void {
  const route = app.route(path);
  const allow: string[] = [];
  // Throws (at app creation) when the route has no scope in src/auth/scopes.ts.
  const guard = (method: string): RequestHandler => requireAccess(routeAccess(method, path));
  if (handlers.get) {
    route.get(guard('GET'), ...handlers.get);
    allow.push('GET', 'HEAD');
  }
  if (handlers.post) {
    route.post(guard('POST'), ...handlers.post);
    allow.push('POST');
  }
  if (handlers.delete) {
    route.delete(guard('DELETE'), ...handlers.delete);
    allow.push('DELETE');
  }
  const allowHeader = allow.join(', ');
  route.all((req, _res, next) => {
    next(new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}: use ${allowHeader}`, { Allow: allowHeader }));
  });
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
