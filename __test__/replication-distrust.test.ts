// Issue 9, M7/I6: the follower does not trust its leader. Against a fake leader (a plain
// node:http server on 127.0.0.1): oversized JSON answers are refused (declared or streamed),
// redirects are not followed, absurd sequence numbers and heartbeat periods are refused or
// clamped, and the SSE message cap admits the largest event any node accepts.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MAX_EVENT_BYTES } from '../src/config';
import { isPlainRemote } from '../src/replication/follower';
import { LeaderClient, LeaderError } from '../src/replication/leader-client';
import { MAX_MESSAGE_CHARS, readEventStream, StreamProtocolError, type StreamItem } from '../src/replication/sse-reader';

type Handler = Parameters<typeof createServer>[1];

async function listen(handler: Handler): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function streamOf(chunks: string[], closeAfterMs = 0): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(enc.encode(c));
      setTimeout(() => {
        // The reader may have cancelled already (it stops at the first protocol error).
        try {
          controller.close();
        } catch {
          // already closed
        }
      }, closeAfterMs);
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>, heartbeatMs = 10_000): Promise<StreamItem[]> {
  const out: StreamItem[] = [];
  for await (const item of readEventStream(body, heartbeatMs)) out.push(item);
  return out;
}

describe('the follower distrusts its leader (M7)', () => {
  let fake: { server: Server; base: string };
  let elsewhere: { server: Server; base: string };
  let elsewhereHits = 0;
  const big = JSON.stringify({ role: 'leader', committed_height: 1, pad: 'x'.repeat(2 * 1024 * 1024) });

  before(async () => {
    elsewhere = await listen((_req, res) => {
      elsewhereHits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"role":"leader","committed_height":5,"dim":4}');
    });
    fake = await listen((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/declared/')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) }).end(big);
      } else if (url.startsWith('/chunked/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < big.length; i += 65_536) res.write(big.slice(i, i + 65_536));
        res.end();
      } else if (url.startsWith('/redirect/')) {
        res.writeHead(302, { location: `${elsewhere.base}${url.replace('/redirect', '')}` }).end();
      } else if (url.startsWith('/huge-height/')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"role":"leader","committed_height":9007199254740993}');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  after(async () => {
    await new Promise((r) => fake.server.close(r));
    await new Promise((r) => elsewhere.server.close(r));
  });

  const refuses = async (p: Promise<unknown>, pattern: RegExp): Promise<void> => {
    await assert.rejects(p, (e: unknown) => e instanceof LeaderError && e.code === 'INVALID_RESPONSE' && pattern.test(e.message));
  };

  it('when the leader declares or streams a JSON answer over 1 MiB, then the call fails without reading it all', async () => {
    const signal = new AbortController().signal;
    await refuses(new LeaderClient(`${fake.base}/declared`, null).state(signal), /is \d+ bytes, more than the 1048576 accepted/);
    await refuses(new LeaderClient(`${fake.base}/chunked`, null).state(signal), /more than the 1048576 bytes accepted/);
  });

  it('when the leader redirects, then the follower does not follow (the target never sees a request)', async () => {
    const signal = new AbortController().signal;
    const client = new LeaderClient(`${fake.base}/redirect`, 'secret-token');
    await assert.rejects(client.state(signal));
    await assert.rejects(client.events(1, signal));
    assert.equal(elsewhereHits, 0);
  });

  it('when the leader reports a height above 2^53 - 1, then it is refused, not rounded', async () => {
    await assert.rejects(new LeaderClient(`${fake.base}/huge-height`, null).state(new AbortController().signal), /committed_height/);
  });

  it('when an event id or heartbeat height is above 2^53 - 1, then the stream fails with a protocol error', async () => {
    await assert.rejects(collect(streamOf(['id: 9007199254740993\ndata: AAAA\n\n'])), (e: unknown) => e instanceof StreamProtocolError && /2\^53-1/.test((e as Error).message));
    await assert.rejects(collect(streamOf([': hb height=99999999999999999999\n\n'])), StreamProtocolError);
    const ok = await collect(streamOf(['id: 9007199254740991\ndata: AAAA\n\n']));
    assert.deepEqual(ok, [{ kind: 'event', seq: 9_007_199_254_740_991, payload: Buffer.from([0, 0, 0]) }]);
  });

  it('when the leader advertises a heartbeat period that would overflow a timer, then it is clamped (no instant "missed heartbeats")', async () => {
    // Unclamped, 3 x 10^13 ms overflows setTimeout, which then fires after 1 ms: the 50 ms pause
    // before the stream ends would be reported as a dead leader.
    const items = await collect(streamOf([': hb height=3 interval_ms=10000000000000\n\n'], 50));
    assert.deepEqual(items, [{ kind: 'heartbeat', height: 3 }]);
  });

  it('when the SSE message cap is computed, then the base64 of the largest event plus its framing fits', () => {
    const largestEvent = Math.ceil(MAX_EVENT_BYTES / 3) * 4;
    const framing = 'id: 9007199254740991\ndata: '.length + 2;
    assert.ok(MAX_MESSAGE_CHARS >= largestEvent + framing, `${MAX_MESSAGE_CHARS} < ${largestEvent + framing}`);
    assert.ok(MAX_MESSAGE_CHARS < 2 * largestEvent, 'and a hostile leader gets no more than that');
  });

  it('when a follower URL is plain http to a remote host, then it counts as plain-remote (warned at start when a token is set)', () => {
    assert.equal(isPlainRemote('http://leader.example:3000'), true);
    assert.equal(isPlainRemote('http://10.0.0.5:3000'), true);
    for (const local of ['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000', 'https://leader.example']) {
      assert.equal(isPlainRemote(local), false, local);
    }
  });
});
