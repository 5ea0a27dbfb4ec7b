// Replication routes in-process: the SSE framing of GET /v1/replication/events (ids, base64
// payloads, resume, heartbeats, bootstrap-required, backpressure), proofs at a given height,
// /v1/replication/state on a leader, and a follower's write redirects (enumerated from the router,
// with the POSTs a follower serves itself listed by hand).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backoffDelay } from '../src/replication/backoff';
import { isErrorEnvelope, request, startServer, vector, type TestServer } from './helpers';

interface Message {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Parses complete SSE blocks (independently of the follower's parser). */
function parseBlocks(text: string): Message[] {
  return text
    .split('\n\n')
    .slice(0, -1)
    .map((block) => {
      const m: Message = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) m.comment = line.slice(1).trim();
        else if (line.startsWith('id: ')) m.id = line.slice(4);
        else if (line.startsWith('event: ')) m.event = line.slice(7);
        else if (line.startsWith('data: ')) m.data = line.slice(6);
      }
      return m;
    });
}

/** How long any wait on a stream may take before the test fails (a bound, not a timing claim). */
const STREAM_DEADLINE_MS = 10_000;

/** An open SSE response, read in the background; waits are on what has arrived. */
class SseStream {
  messages: Message[] = [];
  ended = false;
  private text = '';
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly status: number,
    readonly type: string | null,
    private readonly controller: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const controller = new AbortController();
    const res = await fetch(url, { headers, signal: controller.signal });
    const stream = new SseStream(res.status, res.headers.get('content-type'), controller);
    if (!res.ok || res.body === null) {
      stream.ended = true;
      controller.abort();
    } else {
      void stream.pump(res.body.getReader());
    }
    return stream;
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        this.text += decoder.decode(r.value, { stream: true });
        this.messages = parseBlocks(this.text);
        for (const w of this.waiters) w();
      }
    } catch {
      // Aborted by close(): the messages so far stay.
    } finally {
      this.ended = true;
      for (const w of this.waiters) w();
    }
  }

  /** Resolves once `done(messages)` holds or the stream has ended; rejects after the deadline. */
  next(done: (m: Message[]) => boolean, what: string): Promise<Message[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done(this.messages) && !this.ended) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(this.messages);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${what} within ${STREAM_DEADLINE_MS} ms; got ${JSON.stringify(this.messages)}`));
      }, STREAM_DEADLINE_MS);
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.controller.abort();
  }
}

/** Reads the stream until `done(messages)` holds or it ends; always closes it. */
async function readStream(url: string, done: (m: Message[]) => boolean, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; messages: Message[]; ended: boolean }> {
  const stream = await SseStream.open(url, headers);
  try {
    const messages = await stream.next(done, 'expected messages');
    return { status: stream.status, type: stream.type, messages, ended: stream.ended };
  } finally {
    stream.close();
  }
}

/** The first message of every stream: a heartbeat comment, sent once the stream is registered. */
const opened = (m: Message[]) => m.some((x) => x.comment?.startsWith('hb height='));

const events = (m: Message[]) => m.filter((x) => x.id !== undefined);

describe('GET /v1/replication/events (SSE)', () => {
  let s: TestServer;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-sse-'));
    s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_REPLICATION_HEARTBEAT_MS: '50' });
    for (let i = 0; i < 5; i++) await request(s.base, '/records', { body: { values: vector(4, i) } });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when read from ?from=1, then each committed event is one message: id = its sequence number, data = base64 of its log payload', async () => {
    const r = await readStream(`${s.base}/v1/replication/events?from=1`, (m) => events(m).length >= 5);
    assert.equal(r.status, 200);
    assert.match(r.type ?? '', /^text\/event-stream/);
    const got = events(r.messages);
    assert.deepEqual(got.map((e) => e.id), ['1', '2', '3', '4', '5']);
    const logged = await s.kernel.readEvents(1, 10, 1 << 20);
    assert.deepEqual(got.map((e) => Buffer.from(e.data!, 'base64')), logged.map((e) => e.payload));
    assert.match(r.messages[0].comment ?? '', /^hb height=5 interval_ms=50$/, 'the stream opens with the height and heartbeat period');
  });

  it('when resumed with ?from=N or Last-Event-ID (which wins), then it starts at N, or at the id after Last-Event-ID', async () => {
    const from = await readStream(`${s.base}/v1/replication/events?from=4`, (m) => events(m).length >= 2);
    assert.deepEqual(events(from.messages).map((e) => e.id), ['4', '5']);
    const last = await readStream(`${s.base}/v1/replication/events?from=1`, (m) => events(m).length >= 1, { 'last-event-id': '2' });
    assert.equal(events(last.messages)[0].id, '3');
  });

  it('when idle, then heartbeat comments carry the height, and a new commit is pushed without polling', async () => {
    const idle = await readStream(`${s.base}/v1/replication/events?from=6`, (m) => m.filter((x) => x.comment?.startsWith('hb')).length >= 3);
    assert.ok(idle.messages.every((m) => m.id === undefined));
    assert.match(idle.messages[2].comment!, /^hb height=5$/);
    // The write happens only after the stream has opened at height 5, so event 6 can reach it
    // only by being pushed on commit (not read from the log when the stream started).
    const live = await SseStream.open(`${s.base}/v1/replication/events?from=6`);
    try {
      const start = await live.next(opened, 'opening heartbeat');
      assert.match(start[0].comment ?? '', /^hb height=5 /);
      await request(s.base, '/records', { body: { values: vector(4, 99) } });
      const got = await live.next((m) => events(m).length >= 1, 'event 6');
      assert.equal(events(got)[0]?.id, '6');
    } finally {
      live.close();
    }
  });

  it('when a proof is computed on the node, then each open stream gets it as an event: proof right after that event (before the next one)', async () => {
    const height = s.kernel.stats().height;
    const live = await SseStream.open(`${s.base}/v1/replication/events?from=1`);
    try {
      // Registered for proofs once its opening heartbeat is out.
      await live.next(opened, 'opening heartbeat');
      const proof = await request(s.base, '/v1/proof/state');
      await request(s.base, '/records', { body: { values: vector(4, 100) } });
      const m = (await live.next((x) => events(x).length >= height + 1, `events 1..${height + 1}`)).filter((x) => x.comment === undefined);
      const at = m.findIndex((x) => x.event === 'proof');
      assert.ok(at > 0, JSON.stringify(m.map((x) => x.event ?? x.id)));
      assert.deepEqual(JSON.parse(m[at].data!), { height: proof.json.height, hash: proof.json.final_state_hash });
      assert.equal(m[at - 1].id, String(proof.json.height), 'after its event');
      assert.equal(m[at + 1]?.id, String(proof.json.height + 1), 'before the next one');
    } finally {
      live.close();
    }
  });

  it('when the events asked for were trimmed, then the stream says bootstrap-required (with the first kept seq) and ends', async () => {
    assert.equal((await request(s.base, '/v1/snapshot/save', { body: {} })).status, 200);
    assert.equal((await request(s.base, '/v1/event-log/trim', { method: 'POST' })).status, 200);
    const height = s.kernel.stats().height;
    const r = await readStream(`${s.base}/v1/replication/events?from=2`, () => false);
    assert.equal(r.ended, true);
    const last = r.messages[r.messages.length - 1];
    assert.equal(last.event, 'bootstrap-required');
    assert.equal(JSON.parse(last.data!).first_seq, height + 1);
    assert.equal(events(r.messages).length, 0);
  });

  it('when from or Last-Event-ID is not a sequence number, then 400 INVALID_REQUEST', async () => {
    for (const q of ['?from=0', '?from=-1', '?from=abc', '?from=1.5']) {
      const r = await request(s.base, `/v1/replication/events${q}`);
      assert.equal(r.status, 400, q);
      assert.ok(isErrorEnvelope(r.json, 'INVALID_REQUEST'), r.text);
    }
    assert.equal((await request(s.base, '/v1/replication/events', { headers: { 'last-event-id': 'x' } })).status, 400);
  });

  it('when the node has no event log, then 400 NOT_ENABLED', async () => {
    const plain = await startServer({ VALORI_DIM: '4' });
    try {
      const r = await request(plain.base, '/v1/replication/events');
      assert.ok(isErrorEnvelope(r.json, 'NOT_ENABLED'), r.text);
    } finally {
      await plain.stop();
    }
  });
});

describe('replication stream backpressure', () => {
  it('when a reader stops reading, then the leader buffers about one batch for it (not the backlog), and the reader still gets every event in order afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valori-bp-'));
    const s = await startServer({ VALORI_DIM: '4', VALORI_MAX_RECORDS: '2000000', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') });
    const { kernel, replication } = s;
    const port = Number(new URL(s.base).port);
    const socket = connect(port, '127.0.0.1');
    try {
      // 120 events of 10,000 x 4 floats: ~19 MB of payload, ~26 MB of base64 on the wire.
      const EVENTS = 120;
      const rows = 10_000;
      const batch = Array.from({ length: rows }, (_, j) => vector(4, j));
      for (let i = 0; i < EVENTS; i++) await kernel.insertBatch('default', batch);
      // A loopback Host: with auth off, other names are refused (DNS rebinding guard).
      socket.write(`GET /v1/replication/events?from=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      socket.pause();
      // Wait (bounded) until the server is blocked on this reader: its buffer stops growing.
      let last = -1;
      let stable = 0;
      for (let i = 0; i < 200 && stable < 5; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const now = replication.streams.bufferedBytes();
        stable = now === last && now > 0 ? stable + 1 : 0;
        last = now;
      }
      const wire = EVENTS * Math.ceil((rows * 4 * 4 + 20) / 3) * 4;
      assert.ok(last > 0 && last < 4 * 1024 * 1024, `buffered ${last} bytes for a paused reader (the backlog is ~${wire})`);
      // Resume: everything arrives, in order.
      socket.resume();
      const chunks: Buffer[] = [];
      // Messages end with a blank line: count them (one heartbeat comment, then the events).
      let ends = 0;
      let carry = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the stream delivered ${ends} of ${EVENTS + 1} messages`)), 30_000);
        socket.on('data', (d: Buffer) => {
          chunks.push(d);
          const text = carry + d.toString('latin1');
          ends += text.split('\n\n').length - 1;
          carry = text.endsWith('\n') ? '\n' : '';
          if (ends >= EVENTS + 1) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const ids = [...Buffer.concat(chunks).toString('latin1').matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      assert.deepEqual(ids, Array.from({ length: EVENTS }, (_, i) => i + 1));
    } finally {
      socket.destroy();
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GET /v1/proof/state?height=N', () => {
  let s: TestServer;

  before(async () => {
    s = await startServer({ VALORI_DIM: '4' });
  });
  after(() => s.stop());

  it('when asked for the current height, a remembered past height, or none, then the hash of exactly that height comes back with "height"', async () => {
    await request(s.base, '/records', { body: { values: vector(4, 1) } });
    const at1 = await request(s.base, '/v1/proof/state');
    assert.deepEqual([at1.status, at1.json.height], [200, 1]);
    assert.deepEqual(Object.keys(at1.json).sort(), ['final_state_hash', 'height', 'kernel_version', 'snapshot_hash', 'wal_hash']);
    await request(s.base, '/records', { body: { values: vector(4, 2) } });
    const current = await request(s.base, '/v1/proof/state?height=2');
    assert.equal(current.json.height, 2);
    assert.notEqual(current.json.final_state_hash, at1.json.final_state_hash);
    const past = await request(s.base, '/v1/proof/state?height=1');
    assert.deepEqual(past.json, at1.json);
  });

  it('when asked for a height with no remembered hash (never proven, or not reached), then 404 HEIGHT_NOT_AVAILABLE; a malformed height is 400', async () => {
    await request(s.base, '/records', { body: { values: vector(4, 3) } });
    await request(s.base, '/records', { body: { values: vector(4, 4) } });
    for (const h of [3, 99]) {
      const r = await request(s.base, `/v1/proof/state?height=${h}`);
      assert.equal(r.status, 404, String(h));
      assert.ok(isErrorEnvelope(r.json, 'HEIGHT_NOT_AVAILABLE'), r.text);
    }
    for (const h of ['-1', 'x', '1e3']) assert.equal((await request(s.base, `/v1/proof/state?height=${h}`)).status, 400, h);
  });

  it('when /v1/replication/state is asked on a leader, then role leader, status Leading, its committed height and the open streams', async () => {
    const r = await request(s.base, '/v1/replication/state');
    assert.equal(r.status, 200);
    assert.deepEqual([r.json.role, r.json.status, r.json.committed_height, r.json.event_streams], ['leader', 'Leading', 4, 0]);
  });
});

describe('follower write redirects', () => {
  let s: TestServer;
  let dir: string;
  const LEADER = 'http://leader.example:3000';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-ro-'));
    // In-process the follower loop never starts: only the routing is under test here.
    s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_FOLLOWER_OF: `${LEADER}/` });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // Written out here, not imported from the code under test: a POST that replaces or changes
  // state (snapshot upload or restore, any record or graph write) must never join this list.
  const SERVED_LOCALLY = [
    '/search',
    '/v1/search',
    '/v1/memory/search_vector',
    '/v1/memory/search',
    '/v1/snapshot/save',
    '/v1/event-log/trim',
    // The index is derived, node-local state; API keys are the node's own credentials.
    '/v1/index/build',
    '/v1/keys',
  ];

  it('when any POST route except searches, snapshot save, log trim, index build and API keys is called on a follower, then 307 to the same path and query on the leader with NOT_LEADER', async () => {
    const posts = new Set<string>();
    for (const layer of s.app.router.stack) {
      for (const h of layer.route?.stack ?? []) if (h.method === 'post') posts.add(layer.route!.path);
    }
    assert.ok(posts.size >= 13, [...posts].join(' '));
    for (const path of SERVED_LOCALLY) assert.ok(posts.has(path), `${path} is a POST route`);
    for (const path of posts) {
      const res = await fetch(`${s.base}${path}?q=1`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: '{}' });
      const body = (await res.json()) as unknown;
      if (SERVED_LOCALLY.includes(path)) {
        assert.notEqual(res.status, 307, `${path} is served locally`);
        assert.ok(!isErrorEnvelope(body, 'NOT_LEADER'), `${path} is served locally: ${JSON.stringify(body)}`);
        continue;
      }
      assert.equal(res.status, 307, path);
      assert.equal(res.headers.get('location'), `${LEADER}${path}?q=1`);
      assert.ok(isErrorEnvelope(body, 'NOT_LEADER'), JSON.stringify(body));
    }
  });

  it('when reads are called on a follower, then they are served locally', async () => {
    assert.equal((await request(s.base, '/search', { body: { query: [1, 2, 3, 4], k: 1 } })).status, 200);
    assert.equal((await request(s.base, '/v1/memory/meta/get?target_id=x')).status, 200);
    assert.equal((await request(s.base, '/v1/proof/state')).status, 200);
    const st = await request(s.base, '/v1/replication/state');
    assert.deepEqual([st.json.role, st.json.leader_url], ['follower', LEADER]);
  });

  it('when the reconnect schedule is read, then it is 0, 0.5, 1, 2, 4 s, then 8 s for ever', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map(backoffDelay), [0, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
  });
});
