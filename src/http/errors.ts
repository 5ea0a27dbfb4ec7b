// One error type for the whole shell and one table from stable codes to HTTP statuses. Every
// error leaves the server as JSON `{"error": "<what is wrong>", "code": "<STABLE_CODE>"}`.
// Kernel errors stay domain errors (src/kernel/errors.ts) until they reach this layer.
import type { KernelErrorCode, ShellErrorCode } from '../api/error-codes';
import type { KernelError } from '../kernel/errors';

export type { KernelErrorCode, ShellErrorCode };

export type ErrorCode = ShellErrorCode | KernelErrorCode;

/** The one table from code to HTTP status. */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  // A valid credential whose scope is below the route's (src/auth/scopes.ts), or, with auth off, a
  // request a browser could have sent cross-site (foreign Origin).
  FORBIDDEN: 403,
  // With auth off: a Host header that is not this node's (DNS rebinding); see VALORI_ALLOWED_HOSTS.
  MISDIRECTED_REQUEST: 421,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  // A route whose feature is off in this configuration (e.g. /v1/proof/event-log without a log).
  NOT_ENABLED: 400,
  // A write sent to a read-only follower: 307 with Location = the same request on the leader, so
  // clients (and `curl -L`) re-send it there with the same method and body.
  NOT_LEADER: 307,
  // GET /v1/proof/state?height=N for a height this node has no hash for (not reached yet, or older
  // than its ring of recent proofs).
  HEIGHT_NOT_AVAILABLE: 404,
  // A search_vector answer (hits plus stored metadata) would exceed VALORI_MAX_RESPONSE_BYTES:
  // the client asked for too much at once and should lower k.
  RESPONSE_TOO_LARGE: 413,
  // VALORI_MAX_STREAMS replication streams are already open; retry later (Retry-After).
  TOO_MANY_STREAMS: 429,
  // The bodies being parsed right now already use VALORI_MAX_PARSE_BYTES; retry later (Retry-After).
  SERVER_BUSY: 503,
  // The node is still recovering its state at start-up (snapshot load, log replay); retry after
  // Retry-After. Only /livez answers 200 meanwhile (src/http/recovering.ts).
  RECOVERING: 503,
  // A single-flight operation (snapshot upload or download, index build) is already running on
  // this node; retry when it is done (Retry-After).
  OPERATION_IN_PROGRESS: 429,
  DIMENSION_MISMATCH: 400,
  EMPTY_VECTOR: 400,
  INVALID_VECTOR: 400,
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  CAPACITY_EXCEEDED: 507,
  // The metadata value is what is too big, not the request body, so this is a plain 400; 413
  // stays reserved for VALORI_MAX_BODY_BYTES.
  METADATA_TOO_LARGE: 400,
  // Writes are refused after an event-log write or fsync failed (until restart): nothing was
  // applied, so a client may retry elsewhere or later.
  READ_ONLY: 503,
  // The write or fsync of this request failed; it was not acknowledged and the node is now read-only.
  IO_ERROR: 500,
  // Bytes that do not decode: over HTTP only an uploaded or named snapshot can be at fault (corrupt
  // files found at start-up stop the process instead).
  CORRUPT_DATA: 400,
  // Replication asked for events this node's log no longer holds (trimmed, or re-based by a
  // restore): the follower must bootstrap from a snapshot. The event stream says so in-band.
  BOOTSTRAP_REQUIRED: 410,
  // A replicated event that does not follow the follower's height. Only the follower's own apply
  // path raises it (no route applies replicated events), so over HTTP it would be a server bug.
  SEQUENCE_GAP: 500,
  // The kernel was closed (the node is shutting down): nothing was done, retry on another node or
  // after the restart.
  CLOSED: 503,
  INTERNAL: 500,
  // A `collection` (body field, query parameter or path) that names no collection on this node.
  COLLECTION_NOT_FOUND: 404,
  // POST /v1/namespaces with a name already in use.
  COLLECTION_EXISTS: 409,
  // DELETE /v1/namespaces/default: the collection every request without `collection` uses.
  COLLECTION_PROTECTED: 409,
  // An Idempotency-Key or request_id sent again with a different request: a retry must repeat
  // its request exactly, so this is a client bug, not something to paper over.
  IDEMPOTENCY_KEY_REUSED: 409,
  // Cluster mode (docs/CLUSTER.md). No leader is known (an election, or this node is cut off from
  // the majority): nothing was proposed; retry after Retry-After, on this node or another.
  NO_LEADER: 503,
  // The write was proposed, then leadership changed or the commit did not come in time: it may or
  // may not have applied. Retry with the same Idempotency-Key: it applies once.
  LEADER_CHANGED: 503,
};

export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers, e.g. WWW-Authenticate or Allow. */
    readonly headers: Readonly<Record<string, string>> = {},
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AppError';
    this.status = STATUS_BY_CODE[code];
  }

  toBody(): { error: string; code: ErrorCode } {
    return { error: this.message, code: this.code };
  }
}

// Failures of the server itself: the client gets a generic message, the detail goes to the log.
// CORRUPT_DATA is not one: over HTTP it only comes from a snapshot the client uploaded or named,
// and the validation reason (which section, which limit) is what the client needs to fix it.
const SERVER_FAULTS: ReadonlySet<KernelErrorCode> = new Set<KernelErrorCode>(['IO_ERROR', 'SEQUENCE_GAP', 'INTERNAL']);

/**
 * The HTTP face of a kernel error. Server faults keep a generic client message; the kernel error
 * (its message carries the cause chain) stays as `cause` so the error mapper can log it.
 */
export function fromKernelError(err: KernelError): AppError {
  // Cluster refusals: nothing was done (NO_LEADER) or the outcome is unknown (LEADER_CHANGED); a
  // retry after a moment (with the same Idempotency-Key) is the answer to both.
  if (err.code === 'NO_LEADER' || err.code === 'LEADER_CHANGED') return new AppError(err.code, err.message, { 'Retry-After': '1' });
  if (!SERVER_FAULTS.has(err.code)) return new AppError(err.code, err.message);
  return new AppError(err.code, 'internal kernel error', {}, err);
}
