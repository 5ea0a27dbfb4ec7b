// The one place a request's collection and idempotency key are read (every data route calls it):
// - `collection`: a body field on POSTs, a query parameter on GETs and DELETEs; absent → the
//   collection named `default`, so v0.1.0 requests behave exactly as before. A key restricted to
//   one collection (src/auth/key-store.ts) gets 403 naming its collection for any other.
// - the idempotency key of a write: the `Idempotency-Key` header (1..255 visible ASCII
//   characters) becomes 16 bytes = the first 16 bytes of SHA-256("valori-idempotency-key\0" +
//   header) (the key only has to be unique; the kernel never recomputes it); `request_id` (16
//   integers 0..255, or 32 hex characters, as the valoricore client sends it) is used as the 16
//   bytes directly; both given and different → 400. A batch's per-item `request_ids` become the
//   kernel's itemKeys.
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { COLLECTION_NAME as NAME } from '../api/collection-name';
import { DEFAULT_COLLECTION } from '../kernel/collections';
import type { WriteOptions } from '../kernel/contract';
import { principalOf } from './auth';
import { AppError } from './errors';

const HEADER = 'idempotency-key';
const VISIBLE_ASCII = /^[\x21-\x7e]{1,255}$/;
const HEX32 = /^[0-9a-fA-F]{32}$/;

/** 403 unless the caller may touch `collection` (keys restricted to another collection may not). */
export function authorizeCollection(res: Response, collection: string): void {
  const p = principalOf(res);
  if (p?.collection != null && p.collection !== collection) {
    throw new AppError('FORBIDDEN', `the key "${p.name}" is restricted to collection "${p.collection}": it may not use collection "${collection.slice(0, 64)}"`);
  }
}

/** 403 for a key restricted to one collection on a route that spans the node (all collections). */
export function requireUnrestricted(res: Response, what: string): void {
  const p = principalOf(res);
  if (p?.collection != null) {
    throw new AppError('FORBIDDEN', `the key "${p.name}" is restricted to collection "${p.collection}": ${what} spans every collection`);
  }
}

/** The collection named by a body field or query parameter (`raw`), `default` when absent. */
export function collectionOf(res: Response, raw: unknown): string {
  if (raw === undefined || raw === null) {
    authorizeCollection(res, DEFAULT_COLLECTION);
    return DEFAULT_COLLECTION;
  }
  if (typeof raw !== 'string' || !NAME.test(raw)) {
    const shown = typeof raw === 'string' ? JSON.stringify(raw.slice(0, 80)) : Array.isArray(raw) ? 'more than one value' : JSON.stringify(raw);
    throw new AppError('INVALID_REQUEST', `collection must be a collection name (1-64 letters, digits, "_" or "-", starting with a letter or digit), got ${shown}`);
  }
  authorizeCollection(res, raw);
  return raw;
}

/** The collection of a GET or DELETE: `?collection=`, `default` when absent. */
export function queryCollection(req: Request, res: Response): string {
  return collectionOf(res, req.query.collection);
}

/** The header's 16-byte key, or null without the header. */
export function headerKey(req: Request): Buffer | null {
  const raw = req.headers[HEADER];
  if (raw === undefined) return null;
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (!VISIBLE_ASCII.test(value)) {
    throw new AppError('INVALID_REQUEST', 'Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces or control characters)');
  }
  return createHash('sha256').update('valori-idempotency-key\0', 'utf8').update(value, 'utf8').digest().subarray(0, 16);
}

/** `request_id` as 16 bytes: 16 integers 0..255 or 32 hex characters (the schema checks the shape). */
export function requestIdBytes(raw: unknown, field = 'request_id'): Buffer {
  if (typeof raw === 'string' && HEX32.test(raw)) return Buffer.from(raw, 'hex');
  if (Array.isArray(raw) && raw.length === 16 && raw.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return Buffer.from(raw as number[]);
  throw new AppError('INVALID_REQUEST', `${field} must be 16 integers from 0 to 255 or 32 hex characters`);
}

export interface WriteScope {
  collection: string;
  /** Undefined when the request carries no key. */
  opts: WriteOptions | undefined;
  /** Whether the request carried a key (then the answer says whether it was deduplicated). */
  keyed: boolean;
}

/** The idempotency key of a write: the header, `request_id`, or both when they name the same 16 bytes. */
export function writeKey(req: Request, requestId: unknown): Buffer | null {
  const fromHeader = headerKey(req);
  const fromBody = requestId === undefined || requestId === null ? null : requestIdBytes(requestId);
  if (fromHeader !== null && fromBody !== null && !fromHeader.equals(fromBody)) {
    throw new AppError('INVALID_REQUEST', 'the Idempotency-Key header and request_id name different keys: send one of them');
  }
  return fromHeader ?? fromBody;
}

/** Collection and idempotency key of a write whose body may carry `collection` and `request_id`. */
export function writeScope(req: Request, res: Response, body: { collection?: string | null; request_id?: unknown }): WriteScope {
  const collection = collectionOf(res, body.collection);
  const key = writeKey(req, body.request_id);
  return { collection, opts: key === null ? undefined : { idempotencyKey: key }, keyed: key !== null };
}

/**
 * A batch insert's scope: the whole-batch Idempotency-Key header, or per-item `request_ids`
 * (hex strings or null, one per row) as the kernel's itemKeys (17 bytes a row: flag, key).
 */
export function batchWriteScope(req: Request, res: Response, body: { collection?: string | null; request_ids?: readonly (string | null)[] | null }, rows: number): WriteScope {
  const collection = collectionOf(res, body.collection);
  const key = headerKey(req);
  const ids = body.request_ids ?? null;
  if (ids === null) return { collection, opts: key === null ? undefined : { idempotencyKey: key }, keyed: key !== null };
  if (key !== null) throw new AppError('INVALID_REQUEST', 'send either the Idempotency-Key header (the whole batch) or request_ids (per row), not both');
  if (ids.length !== rows) throw new AppError('INVALID_REQUEST', `request_ids has ${ids.length} entries but the batch has ${rows} rows: send one per row (null for none)`);
  const itemKeys = Buffer.alloc(rows * 17);
  ids.forEach((id, i) => {
    if (id === null) return;
    itemKeys[i * 17] = 1;
    requestIdBytes(id, `request_ids[${i}]`).copy(itemKeys, i * 17 + 1);
  });
  const keyed = ids.some((id) => id !== null);
  return { collection, opts: keyed ? { itemKeys } : undefined, keyed };
}

/** `deduplicated` for the answer of a keyed write (left out of v0.1.0 answers to unkeyed ones). */
export function dedupField(scope: WriteScope, deduplicated: boolean): { deduplicated?: boolean } {
  return scope.keyed ? { deduplicated } : {};
}
