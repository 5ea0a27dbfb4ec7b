// Kernel errors as domain errors. src/kernel/ and src/replication/ see a KernelError with the
// kernel's stable code and its own message (cause chain included); only the HTTP layer turns it
// into a status (src/http/errors.ts), so nothing here knows about HTTP and nobody has to dig the
// kernel's text back out of an HTTP error or match on it.

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
  'INTERNAL',
] as const;

export type KernelErrorCode = (typeof KERNEL_ERROR_CODES)[number];

const KNOWN: ReadonlySet<string> = new Set(KERNEL_ERROR_CODES);

export function isKernelErrorCode(code: unknown): code is KernelErrorCode {
  return typeof code === 'string' && KNOWN.has(code);
}

/** A refusal or failure of the kernel (or of the wrapper's own checks of kernel input). */
export class KernelError extends Error {
  constructor(
    readonly code: KernelErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KernelError';
  }
}

/**
 * Turns whatever the native addon threw into a KernelError. Its code and message are kept; an
 * error without a known code (a napi argument error, a bug) becomes INTERNAL with its message.
 */
export function toKernelError(err: unknown): KernelError {
  if (err instanceof KernelError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return new KernelError(isKernelErrorCode(code) ? code : 'INTERNAL', message, { cause: err });
}
