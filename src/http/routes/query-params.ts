// Integer query parameters of the GET routes that parse their own query (the /v1 graph reads and
// the timelines). The simple query parser gives strings, or an array for a repeated parameter.
import type { Request } from 'express';
import { AppError } from '../errors';

const U32_MAX = 4_294_967_295;

/**
 * An optional integer query parameter within [min, max]; `fallback` when absent. A repeated
 * parameter or anything but digits is a 400 naming it and the accepted range.
 */
export function queryInt(req: Request, name: string, min: number, max: number, fallback: number): number;
export function queryInt(req: Request, name: string, min: number, max: number, fallback: null): number | null;
export function queryInt(req: Request, name: string, min: number, max: number, fallback: number | null): number | null {
  const raw = req.query[name];
  if (raw === undefined) return fallback;
  const n = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    const shown = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 40)) : 'more than one value';
    throw new AppError('INVALID_REQUEST', `${name} must be an integer from ${min} to ${max}, got ${shown}`);
  }
  return n;
}

/** A required u32 query parameter (a node id). */
export function queryId(req: Request, name: string): number {
  if (req.query[name] === undefined) throw new AppError('INVALID_REQUEST', `missing required query parameter "${name}"`);
  return queryInt(req, name, 0, U32_MAX, 0);
}
