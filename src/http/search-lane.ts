// The search lane: POST /search and POST /v1/search, the requests a node serves most, answered
// before Express. Express costs more main-thread time per request than the rest of a search's
// handling together (it re-parents every request and response to its own prototypes, which
// defeats V8's inline caches, and walks its layers): docs/BENCHMARKS.md, "Where a request's time
// goes". The lane runs the same steps with the same functions — request id and access line,
// authentication, the route's scope check, the bounded body read, the kernel's answer — so an
// answered search is byte for byte what the route would send. Everything else goes to Express:
// a refused caller, an unreadable body or any body the kernel declines is handed over where the
// lane stopped (src/http/lane-state.ts), and the route answers it as it always has.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { tracingEnabled } from '../tracing';
import { accessRefusal, type Authenticator } from './auth';
import type { BodyReader, KernelTakeFn } from './body';
import { AppError } from './errors';
import { markBegun } from './lane-state';
import type { BeginRequest } from './request-context';

export interface SearchLaneDeps {
  begin: BeginRequest;
  authenticate: Authenticator;
  /** The search routes' body reader (the JSON routes' limits and parse budget). */
  read: BodyReader;
  /** The kernel's part of each search route, by path. */
  takes: ReadonlyMap<string, KernelTakeFn>;
}

/** What Express puts in req.route, for the request-duration metric and the access line. */
interface RouteLabel {
  path: string;
}

/** `app` with the search lane in front of it. */
export function searchLane(deps: SearchLaneDeps, app: RequestListener): RequestListener {
  const routes = new Map<string, { take: KernelTakeFn; label: RouteLabel }>();
  for (const [path, take] of deps.takes) routes.set(path, { take, label: { path } });
  return (req, res) => {
    // Traces describe requests through Express's layers: with them on, everything goes there.
    const route = req.method === 'POST' && req.url !== undefined ? routes.get(req.url) : undefined;
    if (route === undefined || tracingEnabled()) return app(req, res);
    const path = req.url!;
    const locals: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    // Express keeps a response's locals when it has some, so a handed-over request keeps these.
    (res as ServerResponse & { locals: Record<string, unknown> }).locals = locals;
    deps.begin(req, res, locals);
    markBegun(req);
    const who = deps.authenticate('POST', path, req.headers);
    // A refusal is Express's to answer: it runs the same check again and maps the error.
    if (who === null || who instanceof AppError || accessRefusal(who, 'read', 'collection', 'POST', path) !== null) return app(req, res);
    locals.principal = who;
    (req as IncomingMessage & { route?: RouteLabel }).route = route.label;
    deps.read(req).then(
      async (held) => {
        let taken = false;
        try {
          taken = (await route.take(held.bytes, req as Request, res as Response)) === 'answered';
        } catch (error) {
          markBegun(req, { error });
          held.release();
          return app(req, res);
        }
        if (taken) {
          held.release();
          return;
        }
        markBegun(req, { held });
        app(req, res);
      },
      (error: unknown) => {
        markBegun(req, { error });
        app(req, res);
      },
    );
  };
}
