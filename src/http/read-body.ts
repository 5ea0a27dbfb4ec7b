// The one bounded reader of raw request bodies (JSON routes and the snapshot upload): bytes are
// counted as they arrive and reading stops at the first byte past the limit, so no body is ever
// held above its bound. However the request ends (end, error, abort, socket close), the promise
// settles exactly once.
import type { IncomingMessage } from 'node:http';
import { AppError } from './errors';

export interface ReadLimits {
  /** Most bytes accepted; one more rejects with `tooLarge()`. */
  max: number;
  tooLarge(): AppError;
  /**
   * Called for every chunk before it is kept; returning an error stops reading and rejects with
   * it (the JSON routes charge a shared budget here).
   */
  admit?(bytes: number): AppError | null;
  /**
   * Read into one buffer of the declared Content-Length (already checked against `max`) instead
   * of chunks plus their concatenation: the body is held once. Only for bodies that are admitted
   * whole up front (the snapshot upload, one at a time): it allocates before the bytes arrive.
   */
  preallocate?: boolean;
  /** Names the body in read errors, e.g. "request body", "snapshot upload". */
  label: string;
  /** The reason given when the client goes away before the end. */
  abortedReason: string;
}

export function readBounded(req: IncomingMessage, limits: ReadLimits): Promise<Buffer> {
  const { max } = limits;
  const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
  const into =
    limits.preallocate === true && declared !== null && Number.isSafeInteger(declared) && declared <= max
      ? Buffer.allocUnsafe(declared)
      : null;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      req.off('close', onAborted);
    };
    const stop = (err: AppError): void => {
      cleanup();
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (received + chunk.length > max) return stop(limits.tooLarge());
      const refused = limits.admit?.(chunk.length) ?? null;
      if (refused !== null) return stop(refused);
      // Node's parser never delivers more than Content-Length; the bound only guards the copy.
      if (into === null) chunks.push(chunk);
      else chunk.copy(into, received, 0, Math.min(chunk.length, into.length - received));
      received += chunk.length;
    };
    const onEnd = (): void => {
      cleanup();
      if (into !== null) resolve(into.subarray(0, Math.min(received, into.length)));
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new AppError('INVALID_REQUEST', `the ${limits.label} could not be read: ${err.message}`));
    };
    const onAborted = (): void => onError(new Error(limits.abortedReason));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    req.on('close', onAborted);
  });
}
