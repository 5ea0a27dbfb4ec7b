// Reads the leader's replication stream (text/event-stream) with eventsource-parser and yields
// one item per message. It pulls the next chunk only when the consumer asks for the next item,
// so a follower that applies slowly stops reading and TCP pushes back on the leader.
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type StreamItem =
  | { kind: 'event'; seq: number; payload: Buffer }
  | { kind: 'bootstrap-required'; detail: string }
  /** The leader's state hash at `height`, sent right after event `height`. */
  | { kind: 'proof'; height: number; hash: string }
  | { kind: 'heartbeat'; height: number | null };

/** The largest message accepted, in characters of base64: a 10,000 x 1,536 batch event is ~82 M. */
const MAX_MESSAGE_CHARS = 2 ** 28;
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
    return m ? Number(m[1]) : null;
  };
  return { height: field('height'), intervalMs: field('interval_ms') };
}

function toItem(msg: EventSourceMessage): StreamItem | null {
  switch (msg.event ?? 'message') {
    case 'message': {
      const id = msg.id ?? '';
      if (!/^[1-9]\d{0,15}$/.test(id)) throw new StreamProtocolError(`event without a valid id: ${JSON.stringify(id.slice(0, 32))}`);
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
      const hb = parseHeartbeat(comment);
      if (hb === null) return;
      if (hb.intervalMs !== null && hb.intervalMs > 0) heartbeatMs = hb.intervalMs;
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
