// The body of POST /search and POST /v1/search, which carries a whole vector: read here as bytes
// and handed to the kernel, which parses, checks, searches and writes the answer on the worker
// pool, so the event loop never parses the vector nor builds the hits (docs/api-reference.md,
// "How a search request is handled"). A request the kernel declines — any field out of the
// ordinary, every error — is parsed here and served by the route's handler as before, so answers
// and error messages are those of the general path, byte for byte.
import type { RequestHandler } from 'express';
import type { Config } from '../config';
import type { SearchRouteOptions } from '../kernel/native';
import type { Kernel } from '../kernel/kernel';
import { principalOf } from './auth';
import { kernelBody, type BodyLimits, type BodyReader, type KernelTakeFn } from './body';

export interface SearchBodyDeps {
  config: Config;
  kernel: Kernel;
  /** The route's body reader and limits (the same the JSON routes use). */
  read: BodyReader;
  limits: BodyLimits;
}

/** The kernel's part of a search: answered from the raw body, or declined to the general path. */
export function searchTake(deps: Pick<SearchBodyDeps, 'config' | 'kernel' | 'limits'>, route: 'search' | 'v1Search'): KernelTakeFn {
  const { config, kernel, limits } = deps;
  const base: SearchRouteOptions = {
    v1: route === 'v1Search',
    maxK: config.maxK,
    maxEf: config.maxEf,
    maxNprobe: config.maxNprobe,
    maxResponseBytes: config.maxResponseBytes,
    refuseLinearizable: config.followerOf !== null,
    maxContainers: limits.containers.max,
    maxElements: limits.elements.max,
  };
  // A cluster member runs a read barrier first (src/http/cluster-gate.ts), which needs the body's
  // `consistency`: the general path serves every search there.
  const cluster = config.clusterMembers !== null;
  return async (bytes, _req, res) => {
    if (cluster) return 'declined';
    const onlyCollection = principalOf(res)?.collection ?? undefined;
    const answer = await kernel.searchJson(bytes, onlyCollection == null ? base : { ...base, onlyCollection });
    if (answer === null) return 'declined';
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', answer.length);
    res.end(answer);
    return 'answered';
  };
}

export function searchBody(deps: SearchBodyDeps, route: 'search' | 'v1Search'): RequestHandler[] {
  return kernelBody(deps.read, deps.limits, searchTake(deps, route));
}
