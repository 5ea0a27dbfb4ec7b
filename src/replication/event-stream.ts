// Leader side of GET /v1/replication/events: committed events as Server-Sent Events.
//
//   id: <seq>\ndata: <standard base64 of the event payload>\n\n       one message per event
//   event: proof\ndata: {"height":H,"hash":"<hex>"}\n\n                 right after event H
//   : hb height=<committed height> interval_ms=<heartbeat period>\n\n   comment, when idle
//   event: bootstrap-required\ndata: {"first_seq":F,"error":"..."}\n\n  then the stream ends
//
// Proof markers: every state hash this node computes (GET /v1/proof/state, recorded in the proof
// ring) is sent to each open stream at its exact position, after event H and before event H + 1.
// A follower reading it has applied exactly H events at that point, so it compares hashes at
// the same height without pausing for a round trip (docs/reliability.md R17).
//
// Events are read from the log in bounded batches, and the next batch is read only after the
// socket accepted the previous writes (res.write returned true, or 'drain' fired): a slow reader
// holds at most one batch plus the socket buffer on the leader, never the backlog.
import type { Request, Response } from 'express';
import { AppError } from '../http/errors';
import { KernelError } from '../kernel/errors';
import type { Kernel, LogEvent } from '../kernel/kernel';
import type { Logger } from '../log';
import type { HeightHash, ProofRing } from './proof-ring';

/** Events per log read. */
const BATCH_EVENTS = 256;
/** Payload bytes per log read (a single larger event is still sent, alone). */
const BATCH_BYTES = 1 << 20;
/** Proof markers waiting for a slow reader to reach their height, at most (oldest dropped). */
const MAX_PENDING_MARKERS = 16;
/**
 * The longest heartbeat period a stream uses, whatever VALORI_REPLICATION_HEARTBEAT_MS says:
 * Node's fetch (undici) drops a response body that is silent for 300 s, so a follower would
 * otherwise lose an idle stream before the next heartbeat arrived.
 */
const MAX_STREAM_HEARTBEAT_MS = 100_000;

function isBootstrapRequired(err: unknown): boolean {
  return err instanceof KernelError && err.code === 'BOOTSTRAP_REQUIRED';
}

interface OpenStream {
  res: Response;
  /** Height of the last event written (from - 1 before the first). */
  sent: number;
  markers: HeightHash[];
  /** Wakes the loop when it long-polls for commits (a marker arrived, or shutdown). */
  wake: (() => void) | null;
}

export interface StreamLimits {
  /** VALORI_MAX_STREAMS: each open stream queues a log read per commit on the libuv pool. */
  maxStreams: number;
  /** VALORI_IDLE_TIMEOUT_MS: the server's socket idle timeout, restored when a stream ends. */
  idleTimeoutMs: number;
}

export class EventStreams {
  private readonly open = new Set<OpenStream>();
  private closing = false;
  /**
   * Log reads in flight, by first sequence number: streams at the same position (every caught-up
   * follower, woken by the same commit) share one read instead of one pool task each.
   */
  private readonly reads = new Map<number, Promise<LogEvent[]>>();
  /** The heartbeat period used and advertised (interval_ms). */
  private readonly heartbeatMs: number;

  constructor(
    private readonly kernel: Kernel,
    ring: ProofRing,
    heartbeatMs: number,
    private readonly logger: Logger,
    private readonly limits: StreamLimits = { maxStreams: 16, idleTimeoutMs: 30_000 },
  ) {
    this.heartbeatMs = Math.min(heartbeatMs, MAX_STREAM_HEARTBEAT_MS);
    ring.subscribe((p) => {
      for (const s of this.open) {
        // A stream already past H cannot place it (the proof's state height is never below
        // what the log has committed, so this is only a proof older than the stream itself).
        if (p.height < s.sent) continue;
        s.markers.push(p);
        if (s.markers.length > MAX_PENDING_MARKERS) s.markers.shift();
        s.wake?.();
      }
    });
  }

  /** Streams currently open (followers and other readers). */
  get count(): number {
    return this.open.size;
  }

  /** Bytes written to open streams and not yet taken by the sockets (diagnostics, tests). */
  bufferedBytes(): number {
    let total = 0;
    for (const s of this.open) total += s.res.writableLength;
    return total;
  }

  /** Ends every open stream (shutdown): the HTTP server can then close without waiting on them. */
  closeAll(): void {
    this.closing = true;
    for (const s of this.open) {
      s.res.end();
      s.wake?.();
    }
  }

  private read(from: number): Promise<LogEvent[]> {
    let pending = this.reads.get(from);
    if (pending === undefined) {
      pending = this.kernel.readEvents(from, BATCH_EVENTS, BATCH_BYTES).finally(() => this.reads.delete(from));
      this.reads.set(from, pending);
    }
    return pending;
  }

  /** Serves events from `from` (inclusive) until the client leaves or the node shuts down. */
  async serve(req: Request, res: Response, from: number): Promise<void> {
    if (this.open.size >= this.limits.maxStreams) {
      // Before any header: the error mapper answers with the JSON envelope.
      throw new AppError('TOO_MANY_STREAMS', `${this.open.size} replication streams are open, the most this node serves (VALORI_MAX_STREAMS = ${this.limits.maxStreams}): retry later`, {
        'Retry-After': String(Math.max(1, Math.ceil(this.heartbeatMs / 1000))),
      });
    }
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      // Reverse proxies (nginx) must not buffer a live stream.
      'X-Accel-Buffering': 'no',
    });
    if (req.method === 'HEAD' || this.closing) {
      res.end();
      return;
    }
    res.flushHeaders();
    const stream: OpenStream = { res, sent: from - 1, markers: [], wake: null };
    this.open.add(stream);
    // An idle stream writes a heartbeat every heartbeatMs, which may be longer than the server's
    // idle timeout: the stream's socket waits for three missed heartbeats instead. A reader that
    // stops reading still stalls the writes and is dropped after that long.
    req.socket.setTimeout(Math.max(this.limits.idleTimeoutMs, this.heartbeatMs * 3));
    let closed = false;
    let drained: (() => void) | null = null;
    const onClose = (): void => {
      closed = true;
      drained?.();
      stream.wake?.();
    };
    res.on('close', onClose);
    // Waits until the socket drains (or the client is gone): this is the backpressure.
    const send = async (text: string): Promise<void> => {
      if (closed || res.writableEnded) {
        closed = true;
        return;
      }
      if (res.write(text)) return;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          drained = null;
          resolve();
        };
        drained = done;
        res.once('drain', done);
      });
    };
    // Markers whose event has been written go out now, in height order.
    const sendMarkers = async (): Promise<void> => {
      while (stream.markers.length > 0 && stream.markers[0].height <= stream.sent) {
        const m = stream.markers.shift()!;
        if (m.height === stream.sent) await send(`event: proof\ndata: ${JSON.stringify({ height: m.height, hash: m.hash })}\n\n`);
      }
    };

    try {
      let next = from;
      await send(`: hb height=${this.kernel.stats().height} interval_ms=${this.heartbeatMs}\n\n`);
      while (!closed && !res.writableEnded) {
        await sendMarkers();
        let batch;
        try {
          batch = await this.read(next);
        } catch (err) {
          if (isBootstrapRequired(err)) {
            const firstSeq = this.kernel.logProof()?.firstSeq ?? null;
            const detail = JSON.stringify({ first_seq: firstSeq, error: (err as Error).message });
            await send(`event: bootstrap-required\ndata: ${detail}\n\n`);
          } else {
            this.logger.error(`replication stream failed at event ${next}: ${(err as Error).message}`);
            await send(`event: error\ndata: ${JSON.stringify({ error: 'the leader could not read its event log' })}\n\n`);
          }
          break;
        }
        if (batch.length === 0) {
          // Long-poll the commit path (no busy loop); a marker or shutdown wakes it early, and an
          // idle period ends with a heartbeat.
          const woken = new Promise<number>((resolve) => (stream.wake = () => resolve(-1)));
          const height = await Promise.race([this.kernel.waitForHeight(next - 1, this.heartbeatMs), woken]);
          stream.wake = null;
          if (height >= 0 && height < next) await send(`: hb height=${height}\n\n`);
          continue;
        }
        for (const e of batch) {
          if (closed) break;
          await send(`id: ${e.seq}\ndata: ${e.payload.toString('base64')}\n\n`);
          stream.sent = e.seq;
          next = e.seq + 1;
          if (stream.markers.length > 0) await sendMarkers();
        }
      }
    } finally {
      this.open.delete(stream);
      res.off('close', onClose);
      if (!res.writableEnded) res.end();
      req.socket.setTimeout(this.limits.idleTimeoutMs);
    }
  }
}
