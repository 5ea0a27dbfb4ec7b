// Every stable error code the server can put in its `{"error", "code"}` bodies, in one list that
// the kernel wrapper (src/kernel/errors.ts), the HTTP status table (src/http/errors.ts) and the
// client (src/client/errors.ts) all take their types from. Dependency-free on purpose: the client
// imports it and must stay free of server code.

/** Codes produced by the shell itself (HTTP parsing, validation, routing, auth). */
export const SHELL_ERROR_CODES = [
  'INVALID_JSON',
  'INVALID_REQUEST',
  'UNSUPPORTED_MEDIA_TYPE',
  'PAYLOAD_TOO_LARGE',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'MISDIRECTED_REQUEST',
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'NOT_ENABLED',
  'NOT_LEADER',
  'HEIGHT_NOT_AVAILABLE',
  'RESPONSE_TOO_LARGE',
  'TOO_MANY_STREAMS',
  'SERVER_BUSY',
  'RECOVERING',
  'OPERATION_IN_PROGRESS',
] as const;

/**
 * Every code the native kernel puts on `err.code`: its one error enum (native/kernel/src/error.rs
 * `KernelError::CODES`). __test__/kernel-errors.test.ts keeps this list equal to the codes the
 * binding exports, so a new Rust variant cannot reach the shell unnamed.
 */
export const KERNEL_ERROR_CODES = [
  'DIMENSION_MISMATCH',
  'EMPTY_VECTOR',
  'INVALID_VECTOR',
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'CAPACITY_EXCEEDED',
  'PAYLOAD_TOO_LARGE',
  'METADATA_TOO_LARGE',
  'READ_ONLY',
  'IO_ERROR',
  'CORRUPT_DATA',
  'BOOTSTRAP_REQUIRED',
  'SEQUENCE_GAP',
  'CLOSED',
  'COLLECTION_NOT_FOUND',
  'COLLECTION_EXISTS',
  'COLLECTION_PROTECTED',
  'IDEMPOTENCY_KEY_REUSED',
  'INTERNAL',
  'NOT_LEADER',
  'NO_LEADER',
  'LEADER_CHANGED',
] as const;

export type ShellErrorCode = (typeof SHELL_ERROR_CODES)[number];
export type KernelErrorCode = (typeof KERNEL_ERROR_CODES)[number];
export type ServerErrorCode = ShellErrorCode | KernelErrorCode;

/** Every server code once (PAYLOAD_TOO_LARGE is both a shell and a kernel code). */
export const SERVER_ERROR_CODES: readonly ServerErrorCode[] = [
  ...new Set<ServerErrorCode>([...SHELL_ERROR_CODES, ...KERNEL_ERROR_CODES]),
];
