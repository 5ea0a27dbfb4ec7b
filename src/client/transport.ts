// One HTTP exchange with retries, redirects, auth and a timeout, on Node's built-in fetch.
//
// Retry policy (why a request may be sent twice, and when it never is):
// - Retryable failures: a connection error, or an HTTP 503 (the server, or a proxy in front of
//   it, is not taking requests right now). 4xx are never retried: repeating the same request
//   gives the same answer. Other 5xx are not retried either: they are server faults, not
//   temporary refusals.
// - Reads (GET, and the POSTs the route table in src/api/routes.ts marks `idempotent`: the
//   searches) are retried
//   on every connection error and on 503: repeating them changes nothing.
// - Writes carrying an idempotency key (every data write and collection create/drop: the client
//   sends an `Idempotency-Key` generated once per call and the same on each of its retries) are
//   retried like reads: the server answers a replay with the first outcome and writes nothing.
// - Other non-reading calls (snapshot save, upload and restore, trim, index build) are retried only
//   when the server cannot have applied them:
//   * the connection was never established (ECONNREFUSED, DNS failure, connect timeout, host
//     unreachable), so the request was never sent;
//   * HTTP 503, which Valori and ordinary proxies use to refuse a request before handling it.
//   A write that fails after the request may have reached the server (ECONNRESET, "other side
//   closed", a timeout) is NOT retried: it might have been applied, and repeating an insert would
//   create a second record. The caller gets ValoriConnectionError and decides (e.g. by checking
//   the state).
// - Timeouts are never retried, so `timeoutMs` (the client's, or the call's own) bounds each call at
//   roughly timeoutMs + the backoff of the (connection-refused / 503) retries before it.
// - A caller's AbortSignal stops the attempt in flight and any backoff wait; the call rejects with
//   the signal's reason and is never retried.
// - Backoff: backoffMs × 2^n, capped at maxBackoffMs (defaults 100, 200, 400 ms, 3 retries). A 503
//   with Retry-After (seconds or an HTTP date) waits at least that long, up to MAX_RETRY_AFTER_MS:
//   a cluster without a leader answers `Retry-After: 1`, and an election takes longer than the
//   default backoff's 700 ms in all.
//
// Redirects: fetch runs with `redirect: 'manual'`; a 307/308 with Location is re-issued with the
// same method and body (a follower answers writes with 307 to its leader). See
// ValoriClientOptions.followRedirectAuth for when the bearer token goes along.
import { ValoriConnectionError, ValoriError, ValoriTimeoutError } from './errors.js';
import type { ValoriClientOptions } from './types.js';

export interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path and query string, starting with `/`. */
  path: string;
  /** JSON body (serialized here). */
  json?: unknown;
  /** Raw body, sent as application/octet-stream. */
  bytes?: Uint8Array;
  /** Safe to send again after an ambiguous failure (the request may have reached the server). */
  idempotent: boolean;
  /** Extra request headers, the same on every attempt (e.g. Idempotency-Key). */
  headers?: Readonly<Record<string, string>>;
  /** How to read a success body. */
  read: 'json' | 'text' | 'bytes' | 'stream' | 'none';
  /** Non-2xx statuses that still count as an answer (e.g. 503 from /health when full). */
  acceptStatuses?: readonly number[];
  /** The caller's signal: aborts the attempt in flight and any backoff wait. */
  signal?: AbortSignal;
  /** This call's per-attempt limit in milliseconds (default: the client's). */
  timeoutMs?: number;
}

export interface Answer {
  status: number;
  /** Parsed JSON, text, Uint8Array, ReadableStream or undefined, according to `Call.read`. */
  body: unknown;
}

type Settings = Required<Omit<ValoriClientOptions, 'token' | 'followRedirectAuth' | 'userAgent' | 'headers'>> &
  Pick<ValoriClientOptions, 'token' | 'followRedirectAuth'> & {
    /** Sent as User-Agent where the runtime lets a script set it (not in browsers). */
    userAgent?: string;
    /** The constructor's extra headers, names in lower case (checked by the client core). */
    headers: Readonly<Record<string, string>>;
  };

/** Codes meaning the connection was never established, so the request was never sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
/** Codes of failures after the connection was up: the server may have seen the request. */
const MAYBE_SENT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The first system error code found on the error, its causes, or an AggregateError's members. */
function systemCode(err: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (NOT_SENT.has(e.code) || MAYBE_SENT.has(e.code))) return e.code;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = systemCode(inner, depth + 1);
      if (code !== undefined) return code;
    }
  }
  return systemCode(e.cause, depth + 1);
}

/** Node's fetch reports every network failure as `TypeError('fetch failed')` with a cause. */
function isNetworkError(err: unknown): boolean {
  return (err instanceof TypeError && err.message === 'fetch failed') || systemCode(err) !== undefined;
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
/** The longest wait a server's Retry-After can impose on one retry. */
export const MAX_RETRY_AFTER_MS = 10_000;

/** A 503's Retry-After in ms (delta-seconds or an HTTP date), at most MAX_RETRY_AFTER_MS; 0 when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number {
  if (value === null) return 0;
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : 0;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class Transport {
  private readonly base: string;
  /** Origins named in followRedirectAuth, normalized. */
  private readonly trusted = new Set<string>();

  constructor(private readonly s: Settings) {
    const url = new URL(s.baseUrl); // throws on a malformed base URL, at construction
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`baseUrl must be http(s), got ${s.baseUrl}`);
    this.base = url.href.replace(/\/+$/, '');
    if (Array.isArray(s.followRedirectAuth)) {
      this.trusted = new Set(s.followRedirectAuth.map((origin) => new URL(origin).origin)); // throws on a malformed origin
    }
  }

  /** The absolute URL of a path on the configured server. */
  urlOf(path: string): string {
    return this.base + path;
  }

  /** Sends `call`, retrying and following redirects as described above. */
  async send(call: Call): Promise<Answer> {
    const url = this.urlOf(call.path);
    const timeoutMs = call.timeoutMs ?? this.s.timeoutMs;
    const callerSignal = call.signal;
    // An already-aborted signal sends nothing, as fetch does.
    if (callerSignal?.aborted) throw callerSignal.reason;
    for (let attempt = 1; ; attempt++) {
      const canRetry = attempt <= this.s.retries;
      const delay = Math.min(this.s.maxBackoffMs, this.s.backoffMs * 2 ** (attempt - 1));
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      const onCallerAbort = () => controller.abort(callerSignal?.reason);
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      // A streamed body outlives this function: the caller's signal must still cancel it.
      let keepCallerSignal = false;
      try {
        const { res, at, authDropped } = await this.follow(call, url, controller.signal);
        if (res.status === 503 && canRetry && !call.acceptStatuses?.includes(503)) {
          await res.body?.cancel();
          clearTimeout(timer);
          await sleep(Math.max(delay, retryAfterMs(res.headers.get('retry-after'))), callerSignal);
          continue;
        }
        if (!res.ok && !call.acceptStatuses?.includes(res.status)) throw await toValoriError(call.method, at, res, authDropped);
        if (call.read === 'stream') {
          // The caller reads the stream at its own pace: the timeout covers the headers only
          // (`finally` clears it).
          keepCallerSignal = true;
          return { status: res.status, body: res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() }) };
        }
        return { status: res.status, body: await readBody(call, at, res) };
      } catch (err) {
        if (err instanceof ValoriError) throw err;
        // The caller's abort is theirs to handle: rejected with their reason, never retried.
        if (callerSignal?.aborted) throw callerSignal.reason;
        if (controller.signal.aborted) throw new ValoriTimeoutError({ method: call.method, url, attempts: attempt, timeoutMs });
        if (!isNetworkError(err)) throw err;
        const code = systemCode(err);
        const notSent = code !== undefined && NOT_SENT.has(code);
        if (canRetry && (notSent || call.idempotent)) {
          clearTimeout(timer);
          await sleep(delay, callerSignal);
          continue;
        }
        const reason = code ?? (err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err));
        const hint = !notSent && !call.idempotent ? ' (not retried: the server may have applied it)' : '';
        throw new ValoriConnectionError(`${call.method} ${url} failed after ${attempt} attempt(s): ${reason}${hint}`, {
          code,
          method: call.method,
          url,
          attempts: attempt,
          cause: err,
        });
      } finally {
        clearTimeout(timer);
        if (!keepCallerSignal) callerSignal?.removeEventListener('abort', onCallerAbort);
      }
    }
  }

  /** One attempt: fetch, re-issuing 307/308 to their Location with the same method and body. */
  private async follow(call: Call, start: string, signal: AbortSignal): Promise<{ res: Response; at: string; authDropped: boolean }> {
    let url = new URL(start);
    // A caller's own Authorization (extra headers, no token) is a credential too: same redirect rule.
    const { authorization: ownAuth, ...extra } = this.s.headers;
    const auth = this.s.token !== undefined ? `Bearer ${this.s.token}` : ownAuth;
    let withAuth = auth !== undefined;
    let authDropped = false;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...extra, ...call.headers, accept: call.read === 'json' ? 'application/json' : '*/*' };
      if (withAuth && auth !== undefined) headers.authorization = auth;
      if (this.s.userAgent !== undefined) headers['user-agent'] = this.s.userAgent;
      let body: string | Uint8Array | undefined;
      if (call.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(call.json);
      } else if (call.bytes !== undefined) {
        headers['content-type'] = 'application/octet-stream';
        body = call.bytes;
      }
      // Any Uint8Array is a valid body at run time; the cast only widens TS 5.9's
      // Uint8Array<ArrayBufferLike>, which BodyInit narrows to ArrayBuffer-backed views.
      const init: RequestInit = { method: call.method, headers, body: body as RequestInit['body'], redirect: 'manual', signal };
      const res = await this.s.fetch(url, init);
      const location = res.headers.get('location');
      if ((res.status !== 307 && res.status !== 308) || location === null) return { res, at: url.href, authDropped };
      await res.body?.cancel();
      if (hop >= this.s.maxRedirects) {
        throw new ValoriError({
          status: res.status,
          code: 'TOO_MANY_REDIRECTS',
          message: `${call.method} ${start}: more than ${this.s.maxRedirects} redirects (last to ${location})`,
          body: '',
          method: call.method,
          url: url.href,
        });
      }
      const next = new URL(location, url);
      if (withAuth && !this.mayCarryToken(url, next)) {
        withAuth = false;
        authDropped = true;
      }
      url = next;
    }
  }

  /** Same origin always; another origin only when followRedirectAuth allows it; never a downgrade. */
  private mayCarryToken(from: URL, to: URL): boolean {
    if (from.protocol === 'https:' && to.protocol !== 'https:') return false;
    if (from.origin === to.origin) return true;
    return this.s.followRedirectAuth === true || this.trusted.has(to.origin);
  }
}

async function readBody(call: Call, url: string, res: Response): Promise<unknown> {
  switch (call.read) {
    case 'none':
      await res.body?.cancel();
      return undefined;
    case 'bytes':
      return new Uint8Array(await res.arrayBuffer());
    case 'text':
      return res.text();
    default: {
      const text = await res.text();
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new ValoriError({
          status: res.status,
          code: 'INVALID_RESPONSE',
          message: `${call.method} ${url}: expected a JSON body, got ${JSON.stringify(text.slice(0, 80))}`,
          body: text,
          method: call.method,
          url,
          requestId: res.headers.get('x-request-id') ?? undefined,
        });
      }
    }
  }
}

/** Maps an error answer to ValoriError, keeping the server's `code` when the body has one. */
async function toValoriError(method: string, url: string, res: Response, authDropped: boolean): Promise<ValoriError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The body broke off; the status alone still says what happened.
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML page, an empty 401 from an older server): keep the text.
  }
  const envelope = typeof body === 'object' && body !== null ? (body as { error?: unknown; code?: unknown }) : {};
  const code = typeof envelope.code === 'string' ? envelope.code : `HTTP_${res.status}`;
  const detail = typeof envelope.error === 'string' ? envelope.error : text.slice(0, 200) || res.statusText;
  const hint =
    res.status === 401 && authDropped
      ? ' (the bearer token was not forwarded after a redirect to another origin; see the followRedirectAuth option)'
      : '';
  return new ValoriError({
    status: res.status,
    code,
    message: `${method} ${url} → ${res.status} ${code}: ${detail}${hint}`,
    body,
    method,
    url,
    requestId: res.headers.get('x-request-id') ?? undefined,
  });
}
