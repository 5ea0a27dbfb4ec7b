// What every route file receives, and the helper that registers a path with its methods plus a
// 405 (with Allow) for any other method on that path.
import type { Express, RequestHandler } from 'express';
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
  /** 415 check + express.json with VALORI_MAX_BODY_BYTES; put before POST handlers. */
  json: RequestHandler[];
}

export interface MethodHandlers {
  get?: RequestHandler[];
  post?: RequestHandler[];
}

export function defineRoute(app: Express, path: string, handlers: MethodHandlers): void {
  const route = app.route(path);
  const allow: string[] = [];
  if (handlers.get) {
    route.get(...handlers.get);
    allow.push('GET', 'HEAD');
  }
  if (handlers.post) {
    route.post(...handlers.post);
    allow.push('POST');
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
