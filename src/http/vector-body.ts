// The body of a route that carries one vector (POST /records and /v1/records `values`, upsert's
// `vector`, the memory search's `query_vector`): read here as bytes; the kernel parses and checks
// the vector on the worker pool and hands back the rest of the body as small JSON text with the
// vector as [] (native/kernel/src/wire/vector.rs), which is parsed here and validated by the
// route's schema as always; the route then uses the kernel's Float32Array (vectorOf). A body whose
// vector needs an error is declined and parsed here whole, so answers and messages are the
// general path's.
import type { RequestHandler, Response } from 'express';
import type { ClientVector, Kernel } from '../kernel/kernel';
import type { VectorRouteOptions } from '../kernel/native';
import { kernelBody, type BodyLimits, type BodyReader } from './body';

export interface VectorBodyDeps {
  kernel: Kernel;
  read: BodyReader;
  limits: BodyLimits;
}

export function vectorBody(deps: VectorBodyDeps, field: 'values' | 'vector' | 'query_vector'): RequestHandler[] {
  const { kernel, read, limits } = deps;
  const route: VectorRouteOptions = { field, maxContainers: limits.containers.max, maxElements: limits.elements.max };
  return kernelBody(read, limits, async (bytes, req, res) => {
    const parsed = await kernel.parseVectorJson(bytes, route);
    if (parsed === null) return 'declined';
    req.body = JSON.parse(parsed.rest) as unknown;
    res.locals.parsedVector = parsed.vector;
    return 'ready';
  });
}

/** The vector of the body: the kernel's Float32Array when it parsed the body, else the body's numbers. */
export function vectorOf(res: Response, fromBody: readonly unknown[]): ClientVector {
  return (res.locals.parsedVector as Float32Array | undefined) ?? fromBody;
}
