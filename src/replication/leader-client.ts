// The follower's HTTP calls to its leader. Every call carries the shared bearer token (the
// original sent none, so replication never started against a protected leader), a deadline, and
// the follower's stop signal, so shutdown never waits on a hung leader.

/** Deadline for the small JSON calls (state, proofs). */
const JSON_TIMEOUT_MS = 10_000;
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
    // A kernel fault of this node (AppError): its generic message hides the kernel's own text.
    if (err.name === 'AppError' && cause instanceof Error) return `${String((err as { code?: unknown }).code)}: ${cause.message}`;
    // fetch() fails with a bare TypeError("fetch failed"); the system error is its cause.
    if (err instanceof TypeError && cause && typeof cause.code === 'string') return `${err.message}: ${cause.code}`;
    if (err instanceof TypeError && cause && typeof cause.message === 'string') return `${err.message}: ${cause.message}`;
    return err.message;
  }
  return String(err);
}

async function errorFrom(method: string, path: string, res: Response): Promise<LeaderError> {
  let code = `HTTP_${res.status}`;
  let detail = '';
  try {
    const body = (await res.json()) as { code?: unknown; error?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.error === 'string') detail = ` (${body.error})`;
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
    });
    if (allow404 && res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw await errorFrom('GET', path, res);
    const body = (await res.json()) as unknown;
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

  /** GET /v1/snapshot/download: the leader's VAL1 bytes (its state and height). */
  async snapshot(signal: AbortSignal): Promise<Buffer> {
    const idle = new IdleAbort(DOWNLOAD_IDLE_MS);
    try {
      const path = '/v1/snapshot/download';
      const res = await fetch(this.baseUrl + path, { headers: this.headers(), signal: AbortSignal.any([signal, idle.signal]) });
      if (!res.ok) throw await errorFrom('GET', path, res);
      if (res.body === null) throw new LeaderError(res.status, 'INVALID_RESPONSE', 'leader sent an empty snapshot');
      const chunks: Buffer[] = [];
      for await (const chunk of res.body) {
        idle.touch();
        chunks.push(Buffer.from(chunk as Uint8Array));
      }
      return Buffer.concat(chunks);
    } finally {
      idle.clear();
    }
  }

  /** GET /v1/replication/events?from=N as a streaming response (the caller reads the body). */
  async events(from: number, signal: AbortSignal): Promise<Response> {
    const path = `/v1/replication/events?from=${from}`;
    const res = await fetch(this.baseUrl + path, {
      headers: this.headers({ accept: 'text/event-stream' }),
      signal,
    });
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
