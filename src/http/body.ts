// JSON body reading for POST routes, bounded before the heap is touched (docs/security.md):
//   415 unless the Content-Type is JSON (utf-8) and the body is not compressed (Content-Encoding
//       is refused rather than inflated: a few hundred KB of gzip can expand to the byte limit),
//   413 above the route's byte limit (Content-Length checked first, then every chunk),
//   503 SERVER_BUSY when the body bytes held at once (received, not declared) would exceed
//       VALORI_MAX_PARSE_BYTES,
//   400 when a linear pre-scan of the raw bytes finds the nesting too deep or too many
//       arrays/objects/elements (JSON.parse turns `[{},{},...]` into ~21x its size in heap),
// and only then JSON.parse.
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { MAX_EVENT_BYTES, type Config } from '../config';
import { AppError, type ErrorCode } from './errors';
import { tracingEnabled } from '../tracing';
import { readBounded } from './read-body';
import { takeLaneBody } from './lane-state';

/** Deepest accepted nesting of arrays and objects in a JSON body. */
export const MAX_JSON_DEPTH = 64;

/** application/json or application/*+json, parameters (charset) allowed. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const mediaType = header.split(';')[0].trim().toLowerCase();
  return mediaType === 'application/json' || /^application\/[a-z0-9.!#$%&'*^_`{|}~-]+\+json$/.test(mediaType);
}

export interface StructureCap {
  max: number;
  code: ErrorCode;
  /** Completes "request body has more than N ..." with the reason, naming the setting. */
  why: string;
}

export interface BodyLimits {
  maxBytes: number;
  /** The variable behind maxBytes, named in the 413. */
  bytesSetting: string;
  /** Arrays plus objects. */
  containers: StructureCap;
  /** Array elements plus object members. */
  elements: StructureCap;
}

/** Bytes of bodies being read and parsed at once, process-wide. */
export class ParseBudget {
  private used = 0;

  constructor(readonly max: number) {}

  tryTake(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }

  release(n: number): void {
    this.used -= n;
  }

  get inUse(): number {
    return this.used;
  }
}

// Bytes that matter to the scan.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

/**
 * One pass over the raw bytes counting nesting depth, containers and elements outside strings.
 * It does not validate JSON (JSON.parse does that next); it only bounds what parsing can build.
 */
export function scanJson(buf: Buffer, limits: BodyLimits): void {
  let depth = 0;
  let containers = 0;
  let elements = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new AppError('INVALID_REQUEST', `request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
      }
      // A non-empty container holds commas + 1 elements; counting one per container covers the last.
      if (++containers > limits.containers.max) throw structureError('JSON arrays and objects', limits.containers);
      if (++elements > limits.elements.max) throw structureError('JSON values', limits.elements);
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    } else if (c === COMMA) {
      if (++elements > limits.elements.max) throw structureError('JSON values', limits.elements);
    }
  }
}

function structureError(what: string, cap: StructureCap): AppError {
  return new AppError(cap.code, `request body has more than ${cap.max} ${what}: ${cap.why}`);
}

function charsetOf(header: string): string | null {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(header);
  return m ? m[1].toLowerCase() : null;
}

function tooLarge(max: number, setting: string): AppError {
  // The rest of the body is never read: the connection closes after the answer.
  return new AppError('PAYLOAD_TOO_LARGE', `request body is larger than ${max} bytes (${setting})`, { Connection: 'close' });
}

function busy(budget: ParseBudget): AppError {
  return new AppError('SERVER_BUSY', `too many request bodies are being read and parsed at once (VALORI_MAX_PARSE_BYTES = ${budget.max} bytes): retry shortly`, {
    'Retry-After': '1',
    Connection: 'close',
  });
}

/** A body read whole, still charged to the parse budget until `release()`. */
export interface HeldBody {
  bytes: Buffer;
  release(): void;
}

/** Reads a route's JSON body: media-type checks, then a bounded read charged to the budget. */
export type BodyReader = (req: IncomingMessage) => Promise<HeldBody>;

export function bodyReader(limits: BodyLimits, budget: ParseBudget): BodyReader {
  return (req) => {
    const type = req.headers['content-type'];
    if (!isJsonContentType(type)) {
      return Promise.reject(new AppError('UNSUPPORTED_MEDIA_TYPE', 'expected a JSON body: send "Content-Type: application/json"'));
    }
    const charset = charsetOf(type!);
    if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
      return Promise.reject(new AppError('UNSUPPORTED_MEDIA_TYPE', `unsupported charset "${charset.toUpperCase()}": send utf-8`));
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') {
      return Promise.reject(new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding "${encoding.slice(0, 40)}" is not accepted: send the JSON body uncompressed`, { Connection: 'close' }));
    }
    const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
    if (declared !== null && declared > limits.maxBytes) {
      return Promise.reject(tooLarge(limits.maxBytes, limits.bytesSetting));
    }
    // A declared body that cannot fit next to what is held now is refused before it is read;
    // the budget itself is charged by bytes received (below), never by declarations.
    if (declared !== null && budget.inUse + declared > budget.max) {
      return Promise.reject(busy(budget));
    }
    // Every chunk is charged to the shared budget as it arrives and released once the body has
    // been used, so a client holds only what it actually sent: declaring a large Content-Length
    // and trickling bytes cannot starve other requests of the budget.
    const charge = { bytes: 0 };
    const release = (): void => {
      budget.release(charge.bytes);
      charge.bytes = 0;
    };
    return readBounded(req, {
      max: limits.maxBytes,
      tooLarge: () => tooLarge(limits.maxBytes, limits.bytesSetting),
      admit: (n) => {
        if (!budget.tryTake(n)) return busy(budget);
        charge.bytes += n;
        return null;
      },
      label: 'request body',
      abortedReason: 'the client aborted the request',
    }).then(
      (bytes) => ({ bytes, release }),
      (err: unknown) => {
        release();
        throw err;
      },
    );
  };
}

/** The route's JSON body middleware: checks, bounded read, pre-scan, parse into req.body. */
export function jsonBody(limits: BodyLimits, budget: ParseBudget): RequestHandler[] {
  const read = bodyReader(limits, budget);
  const parse: RequestHandler = (req, _res, next) => {
    read(req)
      .then((held) => {
        try {
          (req as Request).body = parseJson(held.bytes, limits);
        } finally {
          held.release();
        }
        next();
      })
      .catch(next);
  };
  return [parse];
}

/**
 * What the kernel did with a raw body: answered the request, left the route a body to handle
 * (req.body and res.locals set), or declined (the body is then parsed here as by jsonBody).
 */
export type KernelTake = 'answered' | 'ready' | 'declined';

/** What a route does with a raw body: `take` runs on the bytes while they stay charged to the budget. */
export type KernelTakeFn = (bytes: Buffer, req: Request, res: Response) => Promise<KernelTake>;

/**
 * The body middleware of routes that hand their raw body to the kernel (src/http/search-body.ts,
 * batch-body.ts, vector-body.ts): `take` runs on the bytes, which stay charged to the parse budget
 * until it is done. With tracing on every body is declined, so the general path's spans describe it.
 */
export function kernelBody(read: BodyReader, limits: BodyLimits, take: KernelTakeFn): RequestHandler[] {
  const handler: RequestHandler = (req, res, next) => {
    // A body the search lane read and the kernel declined (or that failed to read) is used as it
    // is: the kernel is not asked twice.
    const pre = takeLaneBody(req);
    const body = pre === undefined ? read(req) : 'error' in pre ? Promise.reject(pre.error) : Promise.resolve(pre.held);
    body
      .then(async (held) => {
        try {
          const taken = pre !== undefined || tracingEnabled() ? 'declined' : await take(held.bytes, req, res);
          if (taken === 'answered') return;
          if (taken === 'declined') req.body = parseJson(held.bytes, limits);
        } finally {
          held.release();
        }
        next();
      })
      .catch(next);
  };
  return [handler];
}

export function parseJson(buf: Buffer, limits: BodyLimits): unknown {
  // An empty body is an empty object, so validation names the missing fields.
  let start = 0;
  while (start < buf.length && (buf[start] === 0x20 || buf[start] === 0x0a || buf[start] === 0x0d || buf[start] === 0x09)) start++;
  if (start === buf.length) return {};
  if (buf[start] !== OPEN_OBJECT && buf[start] !== OPEN_ARRAY) {
    throw new AppError('INVALID_JSON', 'malformed JSON body: the top level must be an object or an array');
  }
  scanJson(buf, limits);
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch (err) {
    throw new AppError('INVALID_JSON', `malformed JSON body: ${(err as Error).message}`);
  }
}

// Plain bodies carry one vector (dim <= 65,536) and at most 64 KiB of metadata once serialized:
// these caps sit well above that and far below what would strain the heap.
const PLAIN_CONTAINERS = 65_536;
const PLAIN_ELEMENTS = 1_048_576;
// Slack for the object and array around the batch rows.
const BATCH_SLACK = 64;
// Objects and arrays inside a batch's metadata[] items beyond one object per row (nested values):
// as many as a plain body may hold, so a payload batch costs at most a plain body's worth of them.
const BATCH_PAYLOAD_CONTAINERS = 1_048_576;

export function bodyLimits(config: Config): BodyLimits {
  return {
    maxBytes: config.maxBodyBytes,
    bytesSetting: 'VALORI_MAX_BODY_BYTES',
    containers: { max: PLAIN_CONTAINERS, code: 'INVALID_REQUEST', why: 'no request needs that many' },
    elements: { max: PLAIN_ELEMENTS, code: 'INVALID_REQUEST', why: 'no request but a batch insert needs that many' },
  };
}

export function batchBodyLimits(config: Config): BodyLimits {
  return {
    maxBytes: config.maxBatchBodyBytes,
    bytesSetting: 'VALORI_MAX_BATCH_BODY_BYTES',
    containers: {
      max: 2 * config.maxBatchRows + BATCH_SLACK + BATCH_PAYLOAD_CONTAINERS,
      code: 'INVALID_REQUEST',
      why: `a batch has at most ${config.maxBatchRows} rows (VALORI_MAX_BATCH_ROWS), each with one metadata object, and at most ${BATCH_PAYLOAD_CONTAINERS} nested arrays and objects in its metadata`,
    },
    elements: {
      max: MAX_EVENT_BYTES / 4 + config.maxBatchRows + BATCH_SLACK,
      code: 'PAYLOAD_TOO_LARGE',
      why: `one batch is one event of at most ${MAX_EVENT_BYTES} bytes, i.e. ${MAX_EVENT_BYTES / 4} components`,
    },
  };
}
