// Error types thrown by ValoriClient. Two families, so callers can branch without parsing text:
// - ValoriError: the server (or something speaking HTTP in front of it) answered with a status
//   the client does not treat as success. `code` is the server's stable code; branch on it.
// - ValoriConnectionError: no usable HTTP answer at all (refused, reset, DNS, timeout), after the
//   retries the request was allowed.

import { SERVER_ERROR_CODES, type ServerErrorCode } from '../api/error-codes.js';

/** Codes the Valori server puts in its `{"error", "code"}` bodies (docs/api-reference.md). */
export type ValoriServerErrorCode = ServerErrorCode;

/** Every server code, for exhaustive checks and tests. */
export const VALORI_SERVER_ERROR_CODES: readonly ValoriServerErrorCode[] = SERVER_ERROR_CODES;

/**
 * Codes the client makes up itself when the answer carried none:
 * - `HTTP_<status>` (e.g. `HTTP_502`): an error status without a `{"error","code"}` JSON body,
 *   typically from a proxy or load balancer;
 * - `INVALID_RESPONSE`: a success status whose body is not what the route documents;
 * - `TOO_MANY_REDIRECTS`: more than `maxRedirects` 307/308 hops.
 */
export type ValoriClientErrorCode = 'INVALID_RESPONSE' | 'TOO_MANY_REDIRECTS' | `HTTP_${number}`;

/** The `(string & {})` keeps autocompletion for known codes while accepting future ones. */
export type ValoriErrorCode = ValoriServerErrorCode | ValoriClientErrorCode | (string & {});

export interface ValoriErrorInit {
  status: number;
  code: ValoriErrorCode;
  message: string;
  /** The parsed JSON body, or the raw text when it was not JSON ('' when empty). */
  body: unknown;
  method: string;
  url: string;
  /** The server's `X-Request-Id`, to find the request in its logs. */
  requestId?: string;
}

/** The server answered with an error status (4xx, 5xx) or an unusable success body. */
export class ValoriError extends Error {
  /** HTTP status of the final answer (after redirects and retries); 0 when the client refused the input before sending (INVALID_VECTOR). */
  readonly status: number;
  /** The server's stable code (see ValoriServerErrorCode), or a client code (ValoriClientErrorCode). */
  readonly code: ValoriErrorCode;
  /** The response body: parsed JSON when it was JSON, otherwise the text. */
  readonly body: unknown;
  readonly method: string;
  /** The URL that produced this answer (the leader's, when a 307 was followed). */
  readonly url: string;
  readonly requestId: string | undefined;

  constructor(init: ValoriErrorInit) {
    super(init.message);
    this.name = 'ValoriError';
    this.status = init.status;
    this.code = init.code;
    this.body = init.body;
    this.method = init.method;
    this.url = init.url;
    this.requestId = init.requestId;
  }
}

/** No HTTP answer: connection refused or reset, DNS failure, and so on, after all retries. */
export class ValoriConnectionError extends Error {
  /** The system error code when there is one (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, ...). */
  readonly code: string | undefined;
  readonly method: string;
  readonly url: string;
  /** How many times the request was tried (1 + retries used). */
  readonly attempts: number;

  constructor(message: string, init: { code?: string; method: string; url: string; attempts: number; cause?: unknown }) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ValoriConnectionError';
    this.code = init.code;
    this.method = init.method;
    this.url = init.url;
    this.attempts = init.attempts;
  }
}

/** The request did not complete within `timeoutMs`. Never retried (see transport.ts). */
export class ValoriTimeoutError extends ValoriConnectionError {
  /** The per-attempt limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;

  constructor(init: { method: string; url: string; attempts: number; timeoutMs: number }) {
    super(`${init.method} ${init.url} timed out after ${init.timeoutMs} ms`, { ...init, code: 'ETIMEDOUT' });
    this.name = 'ValoriTimeoutError';
    this.timeoutMs = init.timeoutMs;
  }
}
