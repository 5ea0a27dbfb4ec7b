// Record payloads on the HTTP side (docs/api-reference.md "Payloads and filters"): request
// metadata in its three wire forms (a JSON object, 0.3.1's byte array of JSON text, 0.3.1's batch
// items as JSON-encoded strings) becomes the JSON text the kernel takes; search answers splice
// the kernel's canonical metadata text into the reply instead of parsing and re-serialising it.
// The kernel alone validates payload content (depth, key length, sizes, duplicate keys) on its
// canonical form; this file only checks what the wire forms themselves must be.
import { TextDecoder } from 'node:util';
import { payloadJson, type BatchPayloads, type RecordPayload, type SearchHit } from '../kernel/kernel';
import { AppError } from './errors';

/** Which payload fields a search returns per hit. */
export interface Include {
  metadata: boolean;
  text: boolean;
  vector: boolean;
}

/** Most hits a search may return with payload fields: each can carry 64 KiB of metadata and 64 KiB of text. */
export const MAX_PAYLOAD_SEARCH_K = 1_000;

const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `text` as JSON text of an object, verbatim (the kernel canonicalises it), or a 400 naming `field`. */
function objectText(text: string, field: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AppError('INVALID_REQUEST', `${field} is not a JSON object: ${(err as Error).message}`);
  }
  if (!isObject(parsed)) throw new AppError('INVALID_REQUEST', `${field} is not a JSON object: it holds ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`}`);
  return text;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A record's metadata as JSON object text: a JSON object, or (0.3.1's /v1/records) the UTF-8
 * bytes of such text as an array of integers 0..255 (the schema checks the integers).
 */
export function metadataText(value: unknown, field = 'metadata'): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    let text: string;
    try {
      text = utf8.decode(Uint8Array.from(value as number[]));
    } catch {
      throw new AppError('INVALID_REQUEST', `${field} bytes are not UTF-8: send a JSON object, or the UTF-8 bytes of one`);
    }
    return objectText(text, `${field} (as UTF-8 bytes)`);
  }
  if (!isObject(value)) throw new AppError('INVALID_REQUEST', `${field} must be a JSON object`);
  // JSON.parse made own `__proto__` keys ordinary data properties; stringify keeps them so.
  return payloadJson(value, field);
}

/** `metadata` and `text` of a single-record insert. */
export function recordPayload(body: { metadata?: unknown; text?: string | null }): RecordPayload | undefined {
  const metadata = metadataText(body.metadata);
  const text = body.text ?? undefined;
  return metadata === undefined && text === undefined ? undefined : { metadata, text };
}

function checkLength(field: string, items: readonly unknown[], rows: number): void {
  if (items.length !== rows) {
    throw new AppError('INVALID_REQUEST', `${field} has ${items.length} ${items.length === 1 ? 'item' : 'items'} but the batch has ${rows} rows: send one per row (null for none)`);
  }
}

/**
 * A batch's `metadata[]` (object, JSON-encoded object string or null per row) and `texts[]`
 * (string or null per row), each absent or exactly one entry per row.
 */
export function batchPayloads(body: { metadata?: readonly unknown[] | null; texts?: readonly (string | null)[] | null }, rows: number): BatchPayloads | undefined {
  const out: BatchPayloads = {};
  if (body.metadata != null) {
    checkLength('metadata', body.metadata, rows);
    out.metadata = body.metadata.map((m, i) => {
      if (m === null) return null;
      if (typeof m === 'string') return objectText(m, `metadata[${i}]`);
      if (!isObject(m)) throw new AppError('INVALID_REQUEST', `metadata[${i}] must be a JSON object, a JSON-encoded object string or null`);
      return payloadJson(m, `metadata[${i}]`);
    });
  }
  if (body.texts != null) {
    checkLength('texts', body.texts, rows);
    out.texts = [...body.texts];
  }
  return out.metadata === undefined && out.texts === undefined ? undefined : out;
}

/** What a search asked for: `include` (any of metadata, text, vector) and the `with_metadata` shorthand. */
export function includeOf(body: { include?: readonly string[] | null; with_metadata?: boolean | null }): Include {
  const asked = new Set(body.include ?? []);
  return { metadata: asked.has('metadata') || body.with_metadata === true, text: asked.has('text'), vector: asked.has('vector') };
}

export const includesAny = (inc: Include): boolean => inc.metadata || inc.text || inc.vector;

/** The kernel options that fetch what `inc` asks for. */
export function withFields(inc: Include): { withMetadata: boolean; withText: boolean; withVector: boolean } {
  return { withMetadata: inc.metadata, withText: inc.text, withVector: inc.vector };
}

/** 400 for a k that could make a payload answer huge (the kernel would build it before we could refuse it). */
export function checkPayloadK(k: number, inc: Include): void {
  if (includesAny(inc) && k > MAX_PAYLOAD_SEARCH_K) {
    throw new AppError('INVALID_REQUEST', `k must be at most ${MAX_PAYLOAD_SEARCH_K} when a search returns metadata, text or vectors (include / with_metadata), got ${k}`);
  }
}

/**
 * `{"results":[...]}` as JSON text: per hit, `head(hit)` (its own fields, as JSON members) then the
 * asked payload fields: metadata as the kernel's canonical JSON text (or null), text as a JSON
 * string (or null), the vector. 413 RESPONSE_TOO_LARGE as soon as the text would exceed
 * `maxBytes` (VALORI_MAX_RESPONSE_BYTES).
 */
export function hitsJson(hits: readonly SearchHit[], head: (h: SearchHit) => string, inc: Include, maxBytes: number): string {
  const parts: string[] = ['{"results":['];
  let bytes = parts[0].length + 2;
  for (let i = 0; i < hits.length; i++) {
    const h = hits[i];
    const fields = [head(h)];
    if (inc.metadata) fields.push(`"metadata":${h.metadata ?? 'null'}`);
    if (inc.text) fields.push(`"text":${h.text === undefined ? 'null' : JSON.stringify(h.text)}`);
    if (inc.vector) fields.push(`"vector":${JSON.stringify(h.vector === undefined ? [] : Array.from(h.vector))}`);
    const item = `${i === 0 ? '' : ','}{${fields.join(',')}}`;
    bytes += Buffer.byteLength(item, 'utf8');
    if (bytes > maxBytes) {
      throw new AppError(
        'RESPONSE_TOO_LARGE',
        `the answer to this search (${hits.length} hits with their payloads) is larger than ${maxBytes} bytes (VALORI_MAX_RESPONSE_BYTES): ask for a smaller k or fewer fields`,
      );
    }
    parts.push(item);
  }
  parts.push(']}');
  return parts.join('');
}
