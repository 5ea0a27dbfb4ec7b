// The follower's HTTP calls to its leader. Every call carries the shared bearer token (the
// original sent none, so replication never started against a protected leader), a deadline, and
// the follower's stop signal, so shutdown never waits on a hung leader.

import { constants as bufferConstants } from 'node:buffer';
import { KernelError } from '../kernel/errors';

/** Deadline for the small JSON calls (state, proofs). */
const JSON_TIMEOUT_MS = 10_000;
/** Deadline for the event stream's response headers (the body then has its heartbeat deadline). */
const EVENTS_HEADERS_TIMEOUT_MS = 10_000;
/** The largest JSON answer read from the leader (its state and proofs are a few hundred bytes). */
const MAX_JSON_BYTES = 1_048_576;
/** The largest error body read from the leader (only its code and message are used). */
const MAX_ERROR_BYTES = 65_536;
/** A snapshot download may be large; it fails only when no byte arrives for this long. */
const DOWNLOAD_IDLE_MS = 30_000;

/** The leader answered with an error status. `code` is its stable error code when it sent one. */
export class LeaderError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'LeaderError';
  }
}

export interface LeaderState {
  role: string;
  committedHeight: number;
  dim: number | null;
}

export interface LeaderProof {
  height: number;
  hash: string;
}

/** One line for logs and /v1/replication/state: status and code, or the network error's code. */
export function describeError(err: unknown): string {
  if (err instanceof LeaderError) return err.message;
  if (err instanceof Error) {
    const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
    if (err.name === 'TimeoutError') return 'the leader did not answer in time';
    // A refusal of this node's kernel: its code, then the kernel's own text.
    if (err instanceof KernelError) return `${err.code}: ${err.message}`;
    // fetch() fails with a bare TypeError("fetch failed"); the system error is its cause.
    if (err instanceof TypeError && cause && typeof cause.code === 'string') return `${err.message}: ${cause.code}`;
    if (err instanceof TypeError && cause && typeof cause.message === 'string') return `${err.message}: ${cause.message}`;
    return err.message;
  }
  return String(err);
}

/**
 * The body as JSON, read only up to `max` bytes: a Content-Length above it is refused before
 * reading, and the read stops as soon as more arrive (a leader is not trusted with our heap).
 */
export async function boundedJson(res: Response, max: number, what: string): Promise<unknown> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new LeaderError(res.status, 'INVALID_RESPONSE', `leader's reply to ${what} is ${declared} bytes, more than the ${max} accepted`);
  }
  if (res.body === null) return JSON.parse('');
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Uint8Array).length;
    if (total > max) {
      await res.body.cancel().catch(() => undefined);
      throw new LeaderError(res.status, 'INVALID_RESPONSE', `leader's reply to ${what} is more than the ${max} bytes accepted`);
    }
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return JSON.parse(Buffer.concat(chunks, total).toString('utf8')) as unknown;
}

async function errorFrom(method: string, path: string, res: Response): Promise<LeaderError> {
  let code = `HTTP_${res.status}`;
  let detail = '';
  try {
    const body = (await boundedJson(res, MAX_ERROR_BYTES, path)) as { code?: unknown; error?: unknown };
    if (typeof body.code === 'string') code = body.code.slice(0, 64);
    if (typeof body.error === 'string') detail = ` (${body.error.slice(0, 500)})`;
  } catch {
    // Not our JSON envelope (a proxy's page, an empty body): the status says enough.
  }
  return new LeaderError(res.status, code, `leader answered ${method} ${path} with ${res.status} ${code}${detail}`);
}

function num(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new LeaderError(200, 'INVALID_RESPONSE', `leader's reply has no valid "${key}"`);
  }
  return v;
}

export class LeaderClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | null,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token === null ? extra : { ...extra, authorization: `Bearer ${this.token}` };
  }

  private async getJson(path: string, signal: AbortSignal, allow404 = false, timeoutMs = JSON_TIMEOUT_MS): Promise<Record<string, unknown> | null> {
    const res = await fetch(this.baseUrl + path, {
      headers: this.headers({ accept: 'application/json' }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      // A leader answers itself; a redirect could point this node anywhere.
      redirect: 'error',
    });
    if (allow404 && res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw await errorFrom('GET', path, res);
    const body = await boundedJson(res, MAX_JSON_BYTES, path);
    if (typeof body !== 'object' || body === null) throw new LeaderError(res.status, 'INVALID_RESPONSE', `leader's reply to ${path} is not a JSON object`);
    return body as Record<string, unknown>;
  }

  /** GET /v1/replication/state: reachability, auth, and the leader's committed height. */
  async state(signal: AbortSignal): Promise<LeaderState> {
    const o = (await this.getJson('/v1/replication/state', signal))!;
    return {
      role: typeof o.role === 'string' ? o.role : 'unknown',
      committedHeight: num(o, 'committed_height'),
      dim: typeof o.dim === 'number' ? o.dim : null,
    };
  }

  /**
   * GET /v1/proof/state, or `?height=N` for the hash at that height; null when the leader no
   * longer (or not yet) has that height (404). `timeoutMs` defaults to 10 s.
   */
  async proof(signal: AbortSignal, height?: number, timeoutMs = JSON_TIMEOUT_MS): Promise<LeaderProof | null> {
    const path = height === undefined ? '/v1/proof/state' : `/v1/proof/state?height=${height}`;
    const o = await this.getJson(path, signal, height !== undefined, timeoutMs);
    if (o === null) return null;
    const hash = o.final_state_hash;
    if (typeof hash !== 'string') throw new LeaderError(200, 'INVALID_RESPONSE', 'leader\'s proof has no "final_state_hash"');
    return { height: num(o, 'height'), hash };
  }

  /**
   * GET /v1/snapshot/download: the leader's VAL1 bytes (its state and height), at most `maxBytes`
   * (VALORI_MAX_SNAPSHOT_BYTES): a larger Content-Length is refused before reading, and the read
   * is aborted as soon as more bytes arrive, so a hostile leader cannot fill this node's memory.
   */
  async snapshot(signal: AbortSignal, maxBytes: number = bufferConstants.MAX_LENGTH): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const total = await this.snapshotTo(signal, maxBytes, (chunk) => {
      chunks.push(chunk);
    });
    return Buffer.concat(chunks, total);
  }

  /**
   * `snapshot`, each chunk handed to `write` as it arrives (awaited before the next is read, so a
   * slow disk slows the download instead of queueing it in memory); resolves with the length.
   */
  async snapshotTo(signal: AbortSignal, maxBytes: number, write: (chunk: Buffer) => Promise<void> | void): Promise<number> {
    const idle = new IdleAbort(DOWNLOAD_IDLE_MS);
    const path = '/v1/snapshot/download';
    const tooLarge = (size: string): LeaderError =>
      new LeaderError(200, 'SNAPSHOT_TOO_LARGE', `leader's snapshot is ${size} bytes, more than the ${maxBytes} accepted (VALORI_MAX_SNAPSHOT_BYTES)`);
    try {
      const res = await fetch(this.baseUrl + path, { headers: this.headers(), signal: AbortSignal.any([signal, idle.signal]), redirect: 'error' });
      if (!res.ok) throw await errorFrom('GET', path, res);
      if (res.body === null) throw new LeaderError(res.status, 'INVALID_RESPONSE', 'leader sent an empty snapshot');
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (declared > maxBytes) {
        await res.body.cancel().catch(() => undefined);
        throw tooLarge(String(declared));
      }
      let total = 0;
      for await (const chunk of res.body) {
        idle.touch();
        total += (chunk as Uint8Array).length;
        if (total > maxBytes) {
          await res.body.cancel().catch(() => undefined);
          throw tooLarge(`more than ${maxBytes}`);
        }
        await write(Buffer.from(chunk as Uint8Array));
      }
      if (Number.isFinite(declared) && total !== declared) {
        throw new LeaderError(200, 'INVALID_RESPONSE', `leader's snapshot ended at ${total} of its ${declared} bytes`);
      }
      return total;
    } finally {
      idle.clear();
    }
  }

  /** GET /v1/replication/events?from=N as a streaming response (the caller reads the body). */
  async events(from: number, signal: AbortSignal): Promise<Response> {
    const path = `/v1/replication/events?from=${from}`;
    // The deadline covers the headers only: once they arrived the stream is long-lived, and its
    // silence is bounded by the heartbeat deadline in sse-reader.ts.
    const headers = new AbortController();
    const timer = setTimeout(
      () => headers.abort(new LeaderError(0, 'TIMEOUT', `the leader sent no event-stream headers within ${EVENTS_HEADERS_TIMEOUT_MS} ms`)),
      EVENTS_HEADERS_TIMEOUT_MS,
    );
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        headers: this.headers({ accept: 'text/event-stream' }),
        signal: AbortSignal.any([signal, headers.signal]),
        redirect: 'error',
      });
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) throw await errorFrom('GET', path, res);
    const type = res.headers.get('content-type') ?? '';
    if (!type.startsWith('text/event-stream')) {
      await res.body?.cancel();
      throw new LeaderError(res.status, 'INVALID_RESPONSE', `leader's event stream has content type "${type}", not text/event-stream`);
    }
    return res;
  }
}

/** An abort signal that fires when touch() was not called for `ms`. */
export class IdleAbort {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout;

  constructor(private readonly ms: number) {
    this.timer = this.arm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private arm(): NodeJS.Timeout {
    return setTimeout(() => this.controller.abort(new Error(`no data from the leader for ${this.ms} ms`)), this.ms);
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = this.arm();
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}
