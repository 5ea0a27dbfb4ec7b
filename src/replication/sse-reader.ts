// Reads the leader's replication stream (text/event-stream) with eventsource-parser and yields
// one item per message. It pulls the next chunk only when the consumer asks for the next item,
// so a follower that applies slowly stops reading and TCP pushes back on the leader.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { MAX_EVENT_BYTES } from '../config';

export type StreamItem =
  | { kind: 'event'; seq: number; payload: Buffer }
  | { kind: 'bootstrap-required'; detail: string }
  /** The leader's state hash at `height`, sent right after event `height`. */
  | { kind: 'proof'; height: number; hash: string }
  | { kind: 'heartbeat'; height: number | null };

/**
 * The largest message accepted, in characters: the standard base64 of the largest event any node
 * accepts (MAX_EVENT_BYTES = 64 MiB -> ceil(n / 3) * 4 = 89,478,488 chars), plus room for the
 * "id: <seq>\ndata: " framing the parser also counts. A leader only logs events up to
 * MAX_EVENT_BYTES (a bigger batch is refused before it is applied), so every event it sends fits,
 * and a hostile leader cannot make this follower buffer more than ~90 M characters per message.
 */
export const MAX_MESSAGE_CHARS = Math.ceil(MAX_EVENT_BYTES / 3) * 4 + 1_024;
/** A leader's advertised heartbeat period is clamped to this range (ms): a huge value would overflow setTimeout. */
const MIN_HEARTBEAT_MS = 10;
const MAX_HEARTBEAT_MS = 3_600_000;
/** Silence (no event, no heartbeat) longer than this many heartbeat intervals means a dead link. */
const MISSED_HEARTBEATS = 3;

/** The stream broke the protocol (bad id, unknown message, an `error` event from the leader). */
export class StreamProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamProtocolError';
  }
}

/** Heartbeat comments read `hb height=<N> interval_ms=<ms>`; both fields are optional. */
function parseHeartbeat(comment: string): { height: number | null; intervalMs: number | null } | null {
  const text = comment.trim();
  if (text !== 'hb' && !text.startsWith('hb ')) return null;
  const field = (name: string): number | null => {
    const m = new RegExp(`(?:^| )${name}=(\\d+)(?: |$)`).exec(text);
    if (!m) return null;
    const n = Number(m[1]);
    // A height above 2^53 - 1 cannot be represented exactly: refuse it rather than round it.
    if (!Number.isSafeInteger(n)) throw new StreamProtocolError(`heartbeat ${name} is not a safe integer: ${m[1].slice(0, 32)}`);
    return n;
  };
  return { height: field('height'), intervalMs: field('interval_ms') };
}

function toItem(msg: EventSourceMessage): StreamItem | null {
  switch (msg.event ?? 'message') {
    case 'message': {
      const id = msg.id ?? '';
      if (!/^[1-9]\d{0,15}$/.test(id) || !Number.isSafeInteger(Number(id))) {
        throw new StreamProtocolError(`event without a valid id (1..2^53-1): ${JSON.stringify(id.slice(0, 32))}`);
      }
      return { kind: 'event', seq: Number(id), payload: Buffer.from(msg.data, 'base64') };
    }
    case 'bootstrap-required':
      return { kind: 'bootstrap-required', detail: msg.data };
    case 'proof': {
      let p: { height?: unknown; hash?: unknown };
      try {
        p = JSON.parse(msg.data) as { height?: unknown; hash?: unknown };
      } catch {
        throw new StreamProtocolError(`proof marker is not JSON: ${msg.data.slice(0, 100)}`);
      }
      if (typeof p.height !== 'number' || !Number.isSafeInteger(p.height) || p.height < 0 || typeof p.hash !== 'string') {
        throw new StreamProtocolError(`proof marker without height and hash: ${msg.data.slice(0, 100)}`);
      }
      return { kind: 'proof', height: p.height, hash: p.hash };
    }
    case 'error':
      throw new StreamProtocolError(`leader ended the stream with an error: ${msg.data.slice(0, 500)}`);
    default:
      // Message types a newer leader may add are ignored, as EventSource would.
      return null;
  }
}

/**
 * Yields the stream's items. Throws when the body fails, the protocol is broken, or nothing
 * arrives for 3 heartbeat intervals (the leader advertises its interval; `defaultHeartbeatMs`
 * applies until it does). The silence timer only runs while waiting on the leader, never while
 * the consumer is busy, so a paused follower does not time itself out.
 */
export async function* readEventStream(body: ReadableStream<Uint8Array>, defaultHeartbeatMs: number): AsyncGenerator<StreamItem> {
  const queue: StreamItem[] = [];
  let heartbeatMs = defaultHeartbeatMs;
  let failure: Error | null = null;
  const parser = createParser({
    onEvent(msg) {
      try {
        const item = toItem(msg);
        if (item) queue.push(item);
      } catch (err) {
        failure ??= err as Error;
      }
    },
    onComment(comment) {
      let hb;
      try {
        hb = parseHeartbeat(comment);
      } catch (err) {
        failure ??= err as Error;
        return;
      }
      if (hb === null) return;
      if (hb.intervalMs !== null) heartbeatMs = Math.min(MAX_HEARTBEAT_MS, Math.max(MIN_HEARTBEAT_MS, hb.intervalMs));
      queue.push({ kind: 'heartbeat', height: hb.height });
    },
    onError(err) {
      failure ??= new StreamProtocolError(`malformed event stream: ${err.message}`);
    },
    maxBufferSize: MAX_MESSAGE_CHARS,
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      while (queue.length > 0) {
        yield queue.shift()!;
      }
      if (failure) throw failure;
      const chunk = await readWithDeadline(reader, heartbeatMs * MISSED_HEARTBEATS);
      if (chunk === null) return;
      parser.feed(decoder.decode(chunk, { stream: true }));
    }
  } finally {
    // Releases the connection whether we finished, failed or the consumer stopped early.
    reader.cancel().catch(() => undefined);
  }
}

async function readWithDeadline(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<Uint8Array | null> {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StreamProtocolError(`no data from the leader for ${ms} ms (heartbeats missed)`)), ms);
  });
  try {
    const r = await Promise.race([reader.read(), silence]);
    return r.done ? null : r.value;
  } finally {
    clearTimeout(timer);
  }
}
