// The plumbing under ValoriClient: settings, per-call options (signal, timeoutMs, requestId), the
// Idempotency-Key of data writes, and checked JSON round trips. client.ts holds one method per route.
import { findRoute, isIdempotent } from '../api/routes.js';
import { Transport, type Answer, type Call } from './transport.js';
import type { CallOptions, ValoriClientOptions, Vector } from './types.js';
import { CLIENT_VERSION } from './version.js';
import { Reader, vectorsToJson, vectorToJson } from './wire.js';

export interface JsonCall extends CallOptions {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  json?: unknown;
  acceptStatuses?: readonly number[];
  /** The caller's Idempotency-Key for a keyed write (default: a fresh one). */
  idempotencyKey?: string;
}

export type RawCall = Omit<Call, 'idempotent' | 'signal' | 'timeoutMs'> & CallOptions & { idempotencyKey?: string };

const VISIBLE_ASCII = /^[\x21-\x7e]{1,255}$/;
/** What the server keeps as a request id (src/http/request-context.ts); anything else it replaces. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An HTTP header name (RFC 9110 token) and a value without control characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

/** The constructor's extra headers, checked now (not at the first request) and lower-cased. */
function extraHeaders(given: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(given ?? {})) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`headers: ${JSON.stringify(name)} is not a valid header name`);
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) throw new TypeError(`headers: the value of ${name} must be a string without control characters`);
    const key = name.toLowerCase();
    if (out.has(key)) throw new TypeError(`headers: ${name} is given twice (names are case-insensitive)`);
    out.set(key, value);
  }
  return Object.fromEntries(out);
}

/** Browsers forbid scripts to set User-Agent; sending nothing there avoids a refused header. */
const inBrowser = typeof (globalThis as { document?: unknown }).document !== 'undefined';

export abstract class ClientCore {
  protected readonly transport: Transport;

  /** See ValoriClientOptions for every option and its default. */
  constructor(options: ValoriClientOptions) {
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('no fetch available: pass options.fetch');
    this.transport = new Transport({
      baseUrl: options.baseUrl,
      token: options.token,
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries ?? 3,
      backoffMs: options.backoffMs ?? 100,
      maxBackoffMs: options.maxBackoffMs ?? 2_000,
      maxRedirects: options.maxRedirects ?? 5,
      followRedirectAuth: options.followRedirectAuth ?? false,
      userAgent: inBrowser ? undefined : (options.userAgent ?? `valori-node-client/${CLIENT_VERSION}`),
      headers: extraHeaders(options.headers),
      fetch: fetchImpl,
    });
  }

  /** One vector as JSON, refusing NaN/±Infinity before anything is sent. */
  protected vector(v: Vector, name: string, method: string, path: string): readonly number[] {
    return vectorToJson(v, name, { method, url: this.transport.urlOf(path) });
  }

  protected vectors(vs: readonly Vector[], name: string, method: string, path: string): (readonly number[])[] {
    return vectorsToJson(vs, name, { method, url: this.transport.urlOf(path) });
  }

  /**
   * Whether a call may be re-sent after an ambiguous failure comes from the server's route table
   * (src/api/routes.ts, shipped with the client): GETs, the POSTs that only read (searches), and
   * the data writes, which carry an Idempotency-Key made here, once per call: every retry of the
   * call re-sends that same key, and the server answers a replay without writing again.
   */
  protected send(c: RawCall): Promise<Answer> {
    const { idempotencyKey, requestId, ...call } = c;
    const headers: Record<string, string> = { ...call.headers };
    if (requestId !== undefined) {
      if (!REQUEST_ID.test(requestId)) throw new TypeError('requestId must be 1 to 128 of A-Z a-z 0-9 . _ : -');
      headers['x-request-id'] = requestId;
    }
    const spec = findRoute(call.method, call.path);
    const keyed = spec?.write === true && spec.restricted === 'collection';
    if (!keyed) return this.transport.send({ ...call, headers, idempotent: isIdempotent(call.method, call.path) });
    const key = idempotencyKey ?? globalThis.crypto.randomUUID();
    if (!VISIBLE_ASCII.test(key)) throw new TypeError('idempotencyKey must be 1 to 255 visible ASCII characters');
    return this.transport.send({ ...call, headers: { ...headers, 'idempotency-key': key }, idempotent: true });
  }

  /** A JSON round trip; the answer must be a JSON object. */
  protected async json(c: JsonCall): Promise<{ r: Reader; o: Record<string, unknown> }> {
    const answer = await this.send({ ...c, read: 'json' });
    const r = new Reader(c.method, this.transport.urlOf(c.path), answer.status, answer.body);
    return { r, o: r.object() };
  }
}

/** The per-call options of `options`, for spreading into a call. */
export function callOptions(options: CallOptions): CallOptions {
  return { signal: options.signal, timeoutMs: options.timeoutMs, requestId: options.requestId };
}
