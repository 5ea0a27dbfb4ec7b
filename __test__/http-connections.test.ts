// Issue 9 (M3, M4), in-process with small configured limits: a slow or silent client loses its
// socket to the request/idle timeouts while /health keeps answering; connections beyond
// VALORI_MAX_CONNECTIONS are closed on accept; replication streams beyond VALORI_MAX_STREAMS get
// 429 TOO_MANY_STREAMS naming the limit.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';
import { waitFor, withDeadline } from './replication-helpers';

interface Client {
  sock: Socket;
  /** Everything the server wrote. */
  data(): string;
  closed: Promise<void>;
}

function open(port: number): Client {
  const sock = connect(port, '127.0.0.1');
  let data = '';
  sock.on('data', (d) => (data += d.toString('latin1')));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  return { sock, data: () => data, closed };
}

const portOf = (base: string): number => Number(new URL(base).port);

describe('request and idle timeouts (M3)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_REQUEST_TIMEOUT_MS: '1000', VALORI_IDLE_TIMEOUT_MS: '400' });
  });
  after(() => s.stop());

  it('when a client trickles a body slower than the request timeout allows, then it gets 408 and its socket closes, while /health answers', async () => {
    const c = open(portOf(s.base));
    c.sock.write(`POST /records HTTP/1.1\r\nHost: ${new URL(s.base).host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    // One byte every 100 ms keeps the socket from ever being idle for 400 ms: only the
    // whole-request deadline can end it.
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent++ < 200 && !c.sock.destroyed) c.sock.write(' ');
    }, 100);
    try {
      const health = await request(s.base, '/health');
      assert.equal(health.status, 200);
      await withDeadline(c.closed, 15_000, 'the slow-body socket to close');
      assert.ok(sent < 200, 'closed before the client finished the body');
      assert.match(c.data(), /^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(trickle);
      c.sock.destroy();
    }
    assert.equal((await request(s.base, '/health')).json.records.live, 0, 'nothing was inserted');
  });

  it('when a client sends headers and then nothing, then the idle timeout closes its socket', async () => {
    const c = open(portOf(s.base));
    c.sock.write(`POST /records HTTP/1.1\r\nHost: ${new URL(s.base).host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`);
    await withDeadline(c.closed, 15_000, 'the silent socket to close');
    assert.equal(c.data(), '', 'dropped by the idle timeout, before the request deadline would answer 408');
    assert.equal((await request(s.base, '/health')).status, 200);
  });
});

describe('idle timeout while the node works (M3)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_IDLE_TIMEOUT_MS: '200' });
  });
  after(() => s.stop());

  it('when a complete request takes the node longer than the idle timeout, then the socket stays open and the answer arrives', async () => {
    // The kernel is made slow on purpose (a long index build or restore in real life): the wire
    // is quiet while the node works, which is not the client's idleness.
    const slow = <T>(work: () => Promise<T>): Promise<T> => new Promise((resolve) => setTimeout(resolve, 600)).then(work);
    const proof = s.kernel.stateProof.bind(s.kernel);
    const search = s.kernel.search.bind(s.kernel);
    s.kernel.stateProof = () => slow(proof);
    s.kernel.search = (...args) => slow(() => search(...args));
    const got = await request(s.base, '/v1/proof/state');
    assert.equal(got.status, 200, got.text);
    const posted = await request(s.base, '/search', { body: { query: [0, 0, 0, 0], k: 1 } });
    assert.equal(posted.status, 200, posted.text);
  });
});

describe('connection cap (M3)', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ VALORI_DIM: '4', VALORI_MAX_CONNECTIONS: '2' });
  });
  after(() => s.stop());

  it('when VALORI_MAX_CONNECTIONS sockets are open, then the next one is closed unanswered; once they go, requests are served again', async () => {
    const port = portOf(s.base);
    const get = `GET /health HTTP/1.1\r\nHost: ${new URL(s.base).host}\r\n\r\n`;
    const held = [open(port), open(port)];
    for (const c of held) {
      c.sock.write(get);
      // A complete answer on a keep-alive socket: the server has counted this connection.
      await waitFor('a /health answer on a held socket', async () => (/\r\n\r\n\{.*\}$/s.test(c.data()) ? true : undefined), 10_000);
    }
    const extra = open(port);
    extra.sock.write(get);
    await withDeadline(extra.closed, 10_000, 'the connection over the cap to close');
    assert.equal(extra.data(), '', 'no answer over the cap');
    for (const c of held) c.sock.destroy();
    await Promise.all(held.map((c) => c.closed));
    const ok = await waitFor('/health once the held sockets closed', async () => {
      const r = await request(s.base, '/health').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 10_000);
    assert.equal(ok.status, 200);
  });
});

describe('replication stream cap (M4)', () => {
  let s: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-streams-'));
    s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_MAX_STREAMS: '1', VALORI_REPLICATION_HEARTBEAT_MS: '2000' });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when VALORI_MAX_STREAMS streams are open, then another gets 429 TOO_MANY_STREAMS naming the limit with Retry-After; after one closes, a new one is served', async () => {
    const first = new AbortController();
    const res = await fetch(`${s.base}/v1/replication/events?from=1`, { signal: first.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read(); // the opening heartbeat: the stream is registered
    const second = await request(s.base, '/v1/replication/events?from=1');
    assert.equal(second.status, 429, second.text);
    assert.ok(isErrorEnvelope(second.json, 'TOO_MANY_STREAMS'), second.text);
    assert.match(second.json.error, /VALORI_MAX_STREAMS = 1/);
    assert.equal(second.headers.get('retry-after'), '2');
    assert.equal((await request(s.base, '/v1/replication/state')).json.event_streams, 1);
    first.abort();
    await reader.cancel().catch(() => undefined);
    const again = await waitFor('a stream once the first closed', async () => {
      const c = new AbortController();
      const r = await fetch(`${s.base}/v1/replication/events?from=1`, { signal: c.signal });
      const status = r.status;
      c.abort();
      await r.body?.cancel().catch(() => undefined);
      return status === 200 ? status : undefined;
    }, 10_000);
    assert.equal(again, 200);
  });
});
