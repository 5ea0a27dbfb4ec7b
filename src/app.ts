// createApp(deps) builds the Express app without listening. Middleware order is fixed:
// request id/metrics -> auth -> (follower only: writes -> 307 to the leader) ->
// (per route: JSON body -> validation) -> routes -> 404 -> error mapper. Searches meet the same
// steps in the search lane first (src/http/search-lane.ts), which hands Express what it declines.
import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import type { Config } from './config';
import { KeyStore } from './auth/key-store';
import { authenticate, authenticator } from './http/auth';
import { batchBodyLimits, bodyLimits, bodyReader, jsonBody, ParseBudget } from './http/body';
import { cors } from './http/cors';
import { errorMapper, notFound } from './http/error-handler';
import { laneBegun } from './http/lane-state';
import { requestBeginner, requestContext } from './http/request-context';
import { mountRoutes, type RouteContext } from './http/routes/context';
import { eventLogRoutes } from './http/routes/event-log';
import { graphRoutes } from './http/routes/graph';
import { indexBuildRoutes } from './http/routes/index-build';
import { keyRoutes } from './http/routes/keys';
import { memoryRoutes } from './http/routes/memory';
import { namespaceRoutes } from './http/routes/namespaces';
import { probeRoutes } from './http/routes/probes';
import { recordRoutes } from './http/routes/records';
import { replicationRoutes } from './http/routes/replication';
import { snapshotRoutes } from './http/routes/snapshot';
import { systemRoutes } from './http/routes/system';
import { timelineRoutes } from './http/routes/timeline';
import { v1GraphRoutes } from './http/routes/v1-graph';
import { v1RecordRoutes } from './http/routes/v1-records';
import { compileValidators, schemaLimits } from './http/schemas';
import { searchTake } from './http/search-body';
import { searchLane } from './http/search-lane';
import type { Kernel } from './kernel/kernel';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import { clusterWrites, notLeader, readGate } from './http/cluster-gate';
import { clusterRoutes } from './http/routes/cluster';
import type { ClusterNode } from './cluster/node';
import { redirectWritesToLeader } from './replication/read-only';
import type { Replication } from './replication/runtime';

export interface AppDeps {
  config: Config;
  kernel: Kernel;
  logger: Logger;
  metrics: Metrics;
  /** The one the composition root (valori.ts) starts and stops. */
  replication: Replication;
  /** This node's Raft member in cluster mode (docs/CLUSTER.md), else null. */
  cluster?: ClusterNode | null;
}

/** The JSON body readers and parsers, sharing one parse budget per app (VALORI_MAX_PARSE_BYTES). */
function jsonParsers(config: Config): Pick<RouteContext, 'json' | 'readJson' | 'jsonLimits' | 'readBatchJson' | 'batchLimits'> {
  const budget = new ParseBudget(config.maxParseBytes);
  const limits = bodyLimits(config);
  const batchLimits = batchBodyLimits(config);
  return {
    json: jsonBody(limits, budget),
    readJson: bodyReader(limits, budget),
    jsonLimits: limits,
    readBatchJson: bodyReader(batchLimits, budget),
    batchLimits,
  };
}

/** The Express app, and the listener that serves it with the search lane in front (src/http/search-lane.ts). */
export interface App {
  app: Express;
  listener: RequestListener;
}

export function createApp(deps: AppDeps): App {
  const { config, kernel, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  // No ETag/304 on /health or search results: every answer reflects the state right now.
  app.set('etag', false);
  // Paths match exactly, as in the reference server ("/health/" is not "/health").
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('query parser', 'simple');

  const begin = requestBeginner(logger, metrics, { accessLog: config.accessLog === 'on' });
  app.use(requestContext(begin, laneBegun));
  // Before auth: a browser's preflight carries no token (src/http/cors.ts). Off when unset.
  if (config.corsOrigins.length > 0) app.use(cors(config.corsOrigins));
  // Reads VALORI_API_KEYS_FILE; an unusable file stops the boot with one line naming it.
  const keys = new KeyStore({ masterToken: config.authToken, configured: config.apiKeys, file: config.apiKeysFile });
  const who = authenticator(config, keys, logger);
  app.use(authenticate(who));
  // After auth: a caller without the token learns nothing, not even the leader's address.
  if (config.followerOf !== null) app.use(redirectWritesToLeader(config.followerOf));
  const cluster = deps.cluster ?? null;
  if (cluster !== null) app.use(clusterWrites(cluster));

  const ctx: RouteContext = {
    config,
    kernel,
    metrics,
    replication: deps.replication,
    cluster,
    validators: compileValidators(schemaLimits(config)),
    ...jsonParsers(config),
  };
  // Every route of the table (src/api/routes.ts), each with its handlers from the file named for it.
  // 0.3.1's /v1 files serve some v0.1.0 handlers on a second path, so those are built once.
  const records = recordRoutes(ctx);
  const graph = graphRoutes(ctx);
  mountRoutes(
    app,
    cluster === null ? null : readGate(cluster, config.readConsistency),
    systemRoutes(ctx),
    probeRoutes(ctx),
    namespaceRoutes(ctx),
    records,
    graph,
    v1RecordRoutes(ctx, records),
    v1GraphRoutes(ctx, graph),
    timelineRoutes(ctx),
    memoryRoutes(ctx),
    snapshotRoutes(ctx),
    eventLogRoutes(ctx),
    indexBuildRoutes(ctx),
    replicationRoutes(ctx),
    keyRoutes(ctx, keys),
    clusterRoutes(ctx, cluster),
  );

  app.use(notFound);
  app.use(errorMapper(logger, config.maxBodyBytes, metrics, cluster === null ? undefined : (req) => notLeader(cluster, req)));
  // With CORS on, Express's cors layer must see every request.
  if (config.corsOrigins.length > 0) return { app, listener: app };
  const searchDeps = { config, kernel, limits: ctx.jsonLimits };
  const takes = new Map([
    ['/search', searchTake(searchDeps, 'search')],
    ['/v1/search', searchTake(searchDeps, 'v1Search')],
  ]);
  return { app, listener: searchLane({ begin, authenticate: who, read: ctx.readJson, takes }, app) };
}
