// The body of the batch insert routes, rows of whole vectors: read here as bytes and parsed and
// checked by the kernel on the worker pool into one Float32Array (native/kernel/src/wire/batch.rs),
// so a bulk load never parses megabytes of numbers on the event loop. A body the kernel declines —
// payloads, per-row keys, any error — is parsed here and handled as before, so every answer and
// error message is the general path's. Either way the route's handler makes the write.
import type { RequestHandler, Response } from 'express';
import type { Kernel } from '../kernel/kernel';
import type { BatchRouteOptions, ParsedBatch } from '../kernel/native';
import { kernelBody, type BodyLimits, type BodyReader } from './body';

export interface BatchBodyDeps {
  kernel: Kernel;
  maxRows: number;
  read: BodyReader;
  limits: BodyLimits;
}

export function batchBody(deps: BatchBodyDeps): RequestHandler[] {
  const { kernel, read, limits } = deps;
  const route: BatchRouteOptions = { maxRows: deps.maxRows, maxContainers: limits.containers.max, maxElements: limits.elements.max };
  return kernelBody(read, limits, async (bytes, _req, res) => {
    const parsed = await kernel.parseBatchJson(bytes, route);
    if (parsed === null) return 'declined';
    res.locals.parsedBatch = parsed;
    return 'ready';
  });
}

/** The batch the kernel parsed for this request, if it did. */
export function parsedBatchOf(res: Response): ParsedBatch | undefined {
  return res.locals.parsedBatch as ParsedBatch | undefined;
}
