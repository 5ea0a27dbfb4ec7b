// Durability routes: snapshots (save, download, upload, restore), the event-log proof and the
// online log trim. Snapshot paths are confined to the snapshot directory (a plain file name).
import type { Request, RequestHandler } from 'express';
import { constants as bufferConstants } from 'node:buffer';
import { AppError } from '../errors';
import { check } from '../schemas';
import { defineRoute, type RouteContext } from './context';

// Stream downloads in 1 MiB writes, honouring backpressure, so a slow client does not make the
// socket buffer the whole snapshot a second time.
const CHUNK = 1 << 20;

/** Reads a raw request body of any content type, up to the largest Buffer Node can hold. */
async function rawBody(req: Request): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > bufferConstants.MAX_LENGTH) {
      throw new AppError('PAYLOAD_TOO_LARGE', `snapshot upload is larger than ${bufferConstants.MAX_LENGTH} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** A request with no body at all (no length, no chunked encoding, or length 0). */
function hasNoBody(req: Request): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (len === undefined || len === '0');
}

/** The JSON body handlers, but an empty POST is accepted as `{}` (save takes no required field). */
function optionalJson(json: RequestHandler[]): RequestHandler {
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

export function registerSnapshotRoutes(ctx: RouteContext): void {
  const { app, kernel, validators: v, json, metrics } = ctx;

  defineRoute(app, '/v1/snapshot/save', {
    post: [
      optionalJson(json),
      async (req, res) => {
        const body = check(v.snapshotSave, req.body ?? {});
        const r = await kernel.saveSnapshot(body.path ?? null);
        metrics.snapshotWritten(r.bytes);
        res.json({ success: true, path: r.path, height: r.height, bytes: r.bytes });
      },
    ],
  });

  defineRoute(app, '/v1/snapshot/download', {
    get: [
      async (_req, res) => {
        const bytes = await kernel.snapshotBytes();
        res.status(200).set({ 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) });
        for (let off = 0; off < bytes.length; off += CHUNK) {
          if (!res.write(bytes.subarray(off, Math.min(off + CHUNK, bytes.length)))) {
            await new Promise<void>((resolve) => res.once('drain', resolve));
          }
        }
        res.end();
      },
    ],
  });

  // Raw bytes of any content type; not bound by VALORI_MAX_BODY_BYTES (a snapshot can be far
  // larger than any JSON request). Fully validated by the kernel before it replaces anything.
  defineRoute(app, '/v1/snapshot/upload', {
    post: [
      async (req, res) => {
        const bytes = await rawBody(req);
        if (bytes.length === 0) throw new AppError('INVALID_REQUEST', 'snapshot upload is empty: send the VAL1 bytes as the body');
        const height = await kernel.restoreSnapshot(bytes, false);
        res.json({ success: true, height });
      },
    ],
  });

  defineRoute(app, '/v1/snapshot/restore', {
    post: [
      ...json,
      async (req, res) => {
        const body = check(v.snapshotRestore, req.body);
        const bytes = await kernel.readSnapshotFile(body.path);
        const height = await kernel.restoreSnapshot(bytes, false);
        res.json({ success: true, height });
      },
    ],
  });

  defineRoute(app, '/v1/proof/event-log', {
    get: [
      async (_req, res) => {
        const proof = kernel.logProof();
        if (proof === null) throw new AppError('NOT_ENABLED', 'Event log not enabled: set VALORI_EVENT_LOG_PATH');
        const snap = kernel.lastSnapshot();
        res.json({
          kernel_version: 1,
          event_log_hash: proof.eventLogHash,
          final_state_hash: await kernel.stateHash(),
          snapshot_hash: null,
          snapshot_height: snap?.height ?? null,
          event_count: proof.eventCount,
          committed_height: proof.height,
          first_seq: proof.firstSeq,
        });
      },
    ],
  });

  // Rebuild the search index from the records (IVF/PQ retrain on all current vectors, HNSW drops
  // deleted bridges). The index is derived state: the state hash does not change.
  defineRoute(app, '/v1/index/build', {
    post: [
      async (_req, res) => {
        const started = process.hrtime.bigint();
        const built = await kernel.buildIndex();
        const stats = kernel.stats();
        res.json({
          success: true,
          index: stats.index,
          quant: stats.quant,
          rebuilt: built,
          records: stats.records.live,
          seconds: Number(process.hrtime.bigint() - started) / 1e9,
        });
      },
    ],
  });

  // Online rotation: drop the log prefix that the newest durable snapshot covers.
  defineRoute(app, '/v1/event-log/trim', {
    post: [
      async (_req, res) => {
        if (kernel.logProof() === null) throw new AppError('NOT_ENABLED', 'Event log not enabled: set VALORI_EVENT_LOG_PATH');
        const base = await kernel.trimLog();
        const proof = kernel.logProof();
        res.json({ success: true, base_seq: base, first_seq: base + 1, committed_height: proof?.height ?? base });
      },
    ],
  });
}
