// Snapshot routes: save, download, upload, restore. Named snapshots live in
// <snapshot dir>/snapshots/ under a strict name pattern (the kernel enforces it). Everything that
// holds a whole snapshot in memory is bounded: by VALORI_MAX_SNAPSHOT_BYTES, and by how many may
// run at once.
import type { Request, RequestHandler, Response } from 'express';
import { maxSnapshotBytes } from '../../config';
import { KernelError } from '../../kernel/errors';
import { audited, auditDetails, type AuditDetails } from '../audit';
import { AppError, fromKernelError } from '../errors';
import { readBounded } from '../read-body';
import { check } from '../schemas';
import { busy, type RouteContext, type RouteHandlers } from './context';

// Downloads are written piece by piece (the kernel's 1 MiB pieces), honouring backpressure: the
// next piece is encoded only when the socket took the last, so a slow client holds no more.
// Downloads streaming at once: each keeps a copy-on-write freeze of the state (which grows with
// the writes made meanwhile) and a few MiB of pieces, so a few are served and more wait their
// turn (429).
const DOWNLOAD_SLOTS = 2;

/** Refusals sent before an upload's body is read close the connection instead of draining it. */
function refuse(code: 'UNSUPPORTED_MEDIA_TYPE' | 'PAYLOAD_TOO_LARGE', message: string): AppError {
  return new AppError(code, message, { Connection: 'close' });
}

function tooLarge(max: number): AppError {
  return refuse('PAYLOAD_TOO_LARGE', `snapshot upload is larger than ${max} bytes (VALORI_MAX_SNAPSHOT_BYTES)`);
}

/**
 * Checks an upload's headers before a byte is read: raw bytes only (a browser cannot send this
 * content type cross-site without a preflight), uncompressed, and not declared above the limit.
 */
function checkUploadHeaders(req: Request, max: number): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/octet-stream') {
    throw refuse('UNSUPPORTED_MEDIA_TYPE', 'expected the VAL1 snapshot bytes: send "Content-Type: application/octet-stream"');
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') {
    throw refuse('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding "${encoding.slice(0, 40)}" is not accepted: upload the snapshot uncompressed`);
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) throw tooLarge(max);
}

/** Resolves when the socket can take more (`drain`) or will never take more (`close`). */
function writable(res: Response): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** A request with no body at all (no length, no chunked encoding, or length 0). */
function hasNoBody(req: Request): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (len === undefined || len === '0');
}

/** The JSON body handlers, but an empty POST is accepted as `{}` (save takes no required field). */
export function optionalJson(json: RequestHandler[]): RequestHandler {
  const [first, ...rest] = json;
  return (req, res, next) => {
    if (hasNoBody(req)) {
      req.body = {};
      return next();
    }
    const chain = (i: number): void => {
      if (i === rest.length) return next();
      rest[i](req, res, (err?: unknown) => (err ? next(err) : chain(i + 1)));
    };
    first(req, res, (err?: unknown) => (err ? next(err) : chain(0)));
  };
}

export function snapshotRoutes(ctx: RouteContext): RouteHandlers {
  const routes: RouteHandlers = {};
  const { kernel, config, validators: v, json, metrics } = ctx;
  const maxBytes = maxSnapshotBytes(config);
  // Upload and named restore each hold a whole snapshot in memory: one at a time.
  let restoring = false;
  let downloads = 0;

  const oneRestoreAtATime = async <T>(work: () => Promise<T>): Promise<T> => {
    if (restoring) throw busy('a snapshot upload or restore is already in progress on this node: retry when it is done', true);
    restoring = true;
    try {
      return await work();
    } finally {
      restoring = false;
    }
  };

  // The state hash the audit line names: the one at `height` when no write has landed since.
  const hashAt = async (height: number): Promise<AuditDetails> => {
    const proof = await kernel.stateProof();
    return proof.height === height ? { stateHash: proof.hash } : { stateHash: proof.hash, hashHeight: proof.height };
  };

  routes.saveSnapshot = audited('snapshot.save', [
    optionalJson(json),
    async (req, res) => {
      const body = check(v.snapshotSave, req.body ?? {});
      const name = body.path ?? null;
      const r = await kernel.saveSnapshot(name).catch((err: unknown) => {
        // A refused request (a bad name, no snapshot configured) is the client's, not a failure.
        if (!(err instanceof KernelError) || fromKernelError(err).status >= 500) metrics.snapshotFailed();
        throw err;
      });
      metrics.snapshotWritten(r.bytes, name === null);
      auditDetails(res, { name, file: r.path, height: r.height, bytes: r.bytes, ...(await hashAt(r.height)) });
      // The file name only: the server's directory layout is none of the client's business.
      res.json({ success: true, path: r.path, height: r.height, bytes: r.bytes });
    },
  ]);

  routes.downloadSnapshot = [
    async (req, res) => {
      // HEAD answers that a snapshot can be downloaded without building one (its size is known
      // only once it is encoded).
      if (req.method === 'HEAD') {
        res.status(200).set('Content-Type', 'application/octet-stream').end();
        return;
      }
      if (downloads >= DOWNLOAD_SLOTS) {
        throw busy(`${DOWNLOAD_SLOTS} snapshot downloads are already being served by this node: retry when one is done`);
      }
      downloads++;
      try {
        // Each download streams its own copy-on-write freeze of the state, encoded a MiB at a
        // time as the client reads: the file is never held whole.
        const stream = await kernel.snapshotStream();
        try {
          res.status(200).set({ 'Content-Type': 'application/octet-stream', 'Content-Length': String(stream.length) });
          let sent = 0;
          while (!res.destroyed) {
            const piece = await stream.next();
            if (piece === null) break;
            sent += piece.length;
            if (!res.write(piece)) await writable(res);
          }
          // A failed piece throws: the error handler logs it and, the headers being out, ends the
          // connection, so the client sees a short body, never a good-looking one.
          if (sent !== stream.length && !res.destroyed) throw new Error(`snapshot download ended at ${sent} of ${stream.length} bytes`);
          res.end();
        } finally {
          stream.close();
        }
      } finally {
        downloads--;
      }
    },
  ];

  // Raw VAL1 bytes (application/octet-stream) up to VALORI_MAX_SNAPSHOT_BYTES; not bound by the
  // JSON body limits. The kernel validates everything (format, digests, capacity and metadata
  // limits, section sizes, index consistency) before it replaces anything.
  routes.uploadSnapshot = audited('snapshot.upload', [
    async (req, res) => {
      checkUploadHeaders(req, maxBytes);
      let received = 0;
      const height = await oneRestoreAtATime(async () => {
        const bytes = await readBounded(req, {
          max: maxBytes,
          tooLarge: () => tooLarge(maxBytes),
          preallocate: true,
          label: 'snapshot upload',
          abortedReason: 'the client aborted the upload',
        });
        if (bytes.length === 0) throw new AppError('INVALID_REQUEST', 'snapshot upload is empty: send the VAL1 bytes as the body');
        received = bytes.length;
        return kernel.restoreSnapshot(bytes, false);
      });
      auditDetails(res, { source: 'upload', bytes: received, height, ...(await hashAt(height)) });
      res.json({ success: true, height });
    },
  ]);

  routes.restoreSnapshot = audited('snapshot.restore', [
    ...json,
    async (req, res) => {
      const body = check(v.snapshotRestore, req.body);
      const height = await oneRestoreAtATime(async () => kernel.restoreNamedSnapshot(body.path));
      auditDetails(res, { source: 'named', name: body.path, height, ...(await hashAt(height)) });
      res.json({ success: true, height });
    },
  ]);

  return routes;
}
