// Kernel errors as domain errors. src/kernel/ and src/replication/ see a KernelError with the
// kernel's stable code and its own message (cause chain included); only the HTTP layer turns it
// into a status (src/http/errors.ts), so nothing here knows about HTTP and nobody has to dig the
// kernel's text back out of an HTTP error or match on it.

import { KERNEL_ERROR_CODES, type KernelErrorCode } from '../api/error-codes';

export { KERNEL_ERROR_CODES, type KernelErrorCode };

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
