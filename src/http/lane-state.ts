// What the search lane (src/http/search-lane.ts) did for a request before handing it to Express:
// it began the request (id, listeners), and it may have read the body already. Kept beside the
// request, not on it, so requests keep one shape.
import type { IncomingMessage } from 'node:http';
import type { HeldBody } from './body';

/** The body as the lane left it: read and held, or the error reading it raised. */
export type LaneBody = { held: HeldBody } | { error: unknown };

const begun = new WeakMap<IncomingMessage, LaneBody | null>();

/** The lane began this request; `body` once it read (or failed to read) the body. */
export function markBegun(req: IncomingMessage, body: LaneBody | null = null): void {
  begun.set(req, body);
}

export function laneBegun(req: IncomingMessage): boolean {
  return begun.has(req);
}

/** The body the lane read, once: the route's body middleware takes it instead of reading. */
export function takeLaneBody(req: IncomingMessage): LaneBody | undefined {
  const body = begun.get(req);
  if (body === null || body === undefined) return undefined;
  begun.set(req, null);
  return body;
}
