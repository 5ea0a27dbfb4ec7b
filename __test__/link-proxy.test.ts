// LinkProxy and Partition against plain TCP echo servers on 127.0.5.x (Linux routes all of 127/8
// to lo, so clients bind distinct source addresses and the proxy tells them apart).
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, it } from 'node:test';
import { LinkProxy, Partition, Rules, type LinkRule } from './link-proxy';

const TARGET_HOST = '127.0.5.10';
const PROXY_HOST = '127.0.5.1';
const A = '127.0.5.2';
const B = '127.0.5.3';

/** Polls `cond` every 5 ms; fails after `timeoutMs`. */
async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with `p`, or fails after `timeoutMs`. */
async function within<T>(what: string, p: Promise<T>, timeoutMs = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A deterministic payload: byte i is (i * 31 + seed) mod 251. */
function payload(n: number, seed = 7): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) % 251;
  return b;
}

interface Echo {
  server: Server;
  host: string;
  port: number;
  /** Bytes received over every connection. */
  received: number;
  accepted: number;
  sockets: Set<Socket>;
  /** Connections that have closed, and that saw a FIN first. */
  closed: number;
  ended: number;
  close(): Promise<void>;
}

async function echoServer(host = TARGET_HOST): Promise<Echo> {
  const sockets = new Set<Socket>();
  const echo: Echo = {
    server: createServer((s) => {
      echo.accepted++;
      sockets.add(s);
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        echo.received += d.length;
        s.write(d);
      });
      s.on('end', () => {
        echo.ended++;
        s.end();
      });
      s.on('close', () => {
        sockets.delete(s);
        echo.closed++;
      });
    }),
    host,
    port: 0,
    received: 0,
    accepted: 0,
    sockets,
    closed: 0,
    ended: 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => echo.server.close(() => r()));
    },
  };
  await new Promise<void>((r) => echo.server.listen(0, host, r));
  echo.port = (echo.server.address() as { port: number }).port;
  return echo;
}

interface Client {
  socket: Socket;
  data: Buffer[];
  readonly bytes: number;
  text(): Buffer;
  /** Settles when the socket closes: whether it closed with an error, and which. */
  closed: Promise<{ hadError: boolean; code: string | undefined }>;
  isClosed: boolean;
}

/** Connects from `from`; unless `awaitConnect` is false, resolves once connected. */
async function client(proxy: { host: string; port: number }, from: string, awaitConnect = true): Promise<Client> {
  const socket = connect({ host: proxy.host, port: proxy.port, localAddress: from });
  const data: Buffer[] = [];
  let code: string | undefined;
  socket.on('error', (e: NodeJS.ErrnoException) => (code = e.code));
  socket.on('data', (d: Buffer) => data.push(d));
  const c: Client = {
    socket,
    data,
    get bytes() {
      return data.reduce((n, d) => n + d.length, 0);
    },
    text: () => Buffer.concat(data),
    closed: new Promise((resolve) =>
      socket.on('close', (hadError) => {
        c.isClosed = true;
        resolve({ hadError, code });
      }),
    ),
    isClosed: false,
  };
  if (awaitConnect)
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  return c;
}

/** Everything opened by a test, torn down after it (proxies first, then servers). */
const opened: { proxies: LinkProxy[]; echoes: Echo[]; clients: Client[] } = { proxies: [], echoes: [], clients: [] };

afterEach(async () => {
  for (const c of opened.clients) c.socket.destroy();
  await Promise.all(opened.proxies.map((p) => p.close()));
  await Promise.all(opened.echoes.map((e) => e.close()));
  opened.clients = [];
  opened.proxies = [];
  opened.echoes = [];
});

async function setup(opts: { proxyHost?: string; defaultRule?: LinkRule } = {}): Promise<{ echo: Echo; proxy: LinkProxy }> {
  const echo = await echoServer();
  opened.echoes.push(echo);
  const proxy = new LinkProxy({ host: opts.proxyHost ?? PROXY_HOST, targetHost: echo.host, targetPort: echo.port, defaultRule: opts.defaultRule });
  opened.proxies.push(proxy);
  await proxy.start();
  return { echo, proxy };
}

async function open(proxy: LinkProxy, from: string, awaitConnect = true): Promise<Client> {
  const c = await client(proxy, from, awaitConnect);
  opened.clients.push(c);
  return c;
}

/** Sends `data` and waits for the whole echo. */
async function roundTrip(c: Client, data: Buffer): Promise<void> {
  const before = c.bytes;
  c.socket.write(data);
  await waitFor(`${data.length} echoed bytes`, () => c.bytes >= before + data.length);
}

/** A fault that holds everything is proved by the counters: bytes reached the proxy and went no further. */
function assertHeld(proxy: LinkProxy, sender: string, fromSender: number, toTarget: number): void {
  const s = proxy.stats(sender);
  assert.equal(s.bytesFromSender, fromSender);
  assert.equal(s.bytesToTarget, toTarget);
}

function isResetClose(r: { hadError: boolean; code: string | undefined }): boolean {
  return r.hadError || r.code === 'ECONNRESET' || r.code === 'EPIPE';
}

describe('LinkProxy', () => {
  it('pass forwards bytes unchanged both ways and counts them per sender', async () => {
    const { echo, proxy } = await setup();
    const c = await open(proxy, A);
    const sent = payload(10_000);
    await roundTrip(c, sent);
    assert.deepEqual(c.text(), sent);
    assert.equal(echo.received, sent.length);
    const s = proxy.stats(A);
    assert.equal(s.connections, 1);
    assert.deepEqual(
      [s.bytesFromSender, s.bytesToTarget, s.bytesFromTarget, s.bytesToSender, s.droppedToTarget, s.droppedToSender, s.resets],
      [10_000, 10_000, 10_000, 10_000, 0, 0, 0],
    );
    assert.deepEqual(proxy.senders(), [A]);
  });

  it('a rule for sender A leaves sender B on the same proxy untouched', async () => {
    const { echo, proxy } = await setup();
    proxy.setRule(A, Rules.blackhole());
    const a = await open(proxy, A);
    const b = await open(proxy, B);
    a.socket.write(payload(500, 1));
    const fromB = payload(700, 2);
    await roundTrip(b, fromB);
    assert.deepEqual(b.text(), fromB);
    await waitFor('A bytes at the proxy', () => proxy.stats(A).bytesFromSender === 500);
    assertHeld(proxy, A, 500, 0);
    assert.equal(proxy.stats(A).droppedToTarget, 500);
    assert.equal(echo.received, 700, 'only B reached the target');
    assert.equal(echo.accepted, 1, 'the blackholed connection never reached the target');
    assert.equal(a.bytes, 0);
    assert.equal(a.isClosed, false, 'a blackhole keeps the socket open');
    assert.equal(proxy.stats(B).bytesToTarget, 700);
  });

  it('blackhole drops a new connection silently; after heal a new connection passes', async () => {
    const { echo, proxy } = await setup();
    proxy.setRule(A, Rules.blackhole());
    const dark = await open(proxy, A);
    dark.socket.write(payload(300));
    await waitFor('bytes at the proxy', () => proxy.stats(A).bytesFromSender === 300);
    assertHeld(proxy, A, 300, 0);
    assert.deepEqual([echo.received, dark.bytes, dark.isClosed], [0, 0, false]);

    proxy.heal();
    // The dark connection lost bytes: it cannot resume intact, so healing resets it.
    assert.ok(isResetClose(await within('the dark connection to close', dark.closed)));
    const fresh = await open(proxy, A);
    const sent = payload(400, 3);
    await roundTrip(fresh, sent);
    assert.deepEqual(fresh.text(), sent);
    assert.equal(echo.received, 400);
    assert.equal(proxy.stats(A).connections, 2);
  });

  it('an open connection switched to blackhole stops forwarding in both directions at once', async () => {
    const { echo, proxy } = await setup();
    const c = await open(proxy, A);
    await roundTrip(c, payload(100));
    await waitFor('the target side socket', () => echo.sockets.size === 1);

    proxy.setRule(A, Rules.blackhole());
    c.socket.write(payload(250, 4));
    await waitFor('sender bytes at the proxy', () => proxy.stats(A).bytesFromSender === 350);
    assertHeld(proxy, A, 350, 100);
    assert.equal(echo.received, 100);

    // target -> sender is dropped too.
    const [targetSide] = echo.sockets;
    targetSide!.write(payload(60, 5));
    await waitFor('target bytes at the proxy', () => proxy.stats(A).bytesFromTarget === 160);
    const s = proxy.stats(A);
    assert.deepEqual([s.bytesToSender, s.droppedToTarget, s.droppedToSender], [100, 250, 60]);
    assert.equal(c.bytes, 100);
    assert.equal(c.isClosed, false);
  });

  it('switching a delayed link to blackhole drops the chunks it still holds, before setRule returns', async () => {
    const { echo, proxy } = await setup();
    proxy.setRule(A, Rules.delay(60_000));
    const c = await open(proxy, A);
    c.socket.write(payload(200));
    await waitFor('bytes at the proxy', () => proxy.stats(A).bytesFromSender === 200);
    assert.equal(proxy.stats(A).bytesToTarget, 0);
    proxy.setRule(A, Rules.blackhole());
    const s = proxy.stats(A);
    assert.deepEqual([s.droppedToTarget, s.bytesToTarget], [200, 0]);
    assert.equal(echo.received, 0);
  });

  it('stall holds bytes of an open connection and delivers them intact, in order, after heal', async () => {
    const { echo, proxy } = await setup();
    const c = await open(proxy, A);
    const first = payload(100, 1);
    await roundTrip(c, first);
    proxy.setRule(A, Rules.stall());
    const held = payload(5000, 2);
    c.socket.write(held);
    await waitFor('held bytes at the proxy', () => proxy.stats(A).bytesFromSender === 5100);
    assertHeld(proxy, A, 5100, 100);
    assert.deepEqual([echo.received, c.bytes], [100, 100]);
    proxy.heal();
    await waitFor('the held bytes echoed', () => c.bytes === 5100);
    assert.deepEqual(c.text(), Buffer.concat([first, held]));
    assert.equal(proxy.stats(A).droppedToTarget, 0);
  });

  it('reset destroys a new connection at once, without touching the target', async () => {
    const { echo, proxy } = await setup();
    proxy.setRule(A, Rules.reset());
    // The RST may even beat the connect callback (connect ECONNRESET): either way the client sees a reset.
    const c = await open(proxy, A, false);
    c.socket.write(payload(10));
    const r = await within('the client to close', c.closed);
    assert.ok(isResetClose(r), `closed ${JSON.stringify(r)}`);
    assert.equal(c.bytes, 0);
    assert.equal(echo.accepted, 0);
    const s = proxy.stats(A);
    assert.deepEqual([s.connections, s.resets, s.bytesToTarget], [1, 1, 0]);
  });

  it('reset applied to an open connection destroys both sides', async () => {
    const { echo, proxy } = await setup();
    const c = await open(proxy, A);
    await roundTrip(c, payload(50));
    await waitFor('the target side socket', () => echo.sockets.size === 1);
    proxy.setRule(A, Rules.reset());
    assert.ok(isResetClose(await within('the client to close', c.closed)));
    await waitFor('the target side closed', () => echo.closed === 1);
    assert.equal(proxy.stats(A).resets, 1);
    assert.equal(proxy.openConnections, 0);
  });

  it('resetAfterBytes forwards exactly n bytes to the target, then resets', async () => {
    const { echo, proxy } = await setup();
    proxy.setRule(A, Rules.resetAfterBytes(100));
    const c = await open(proxy, A);
    c.socket.write(payload(1000));
    const r = await within('the client to close', c.closed);
    assert.ok(isResetClose(r), `closed ${JSON.stringify(r)}`);
    await waitFor('the target side closed', () => echo.accepted === 1 && echo.closed === 1);
    assert.equal(echo.received, 100);
    const s = proxy.stats(A);
    assert.deepEqual([s.bytesToTarget, s.resets], [100, 1]);
  });

  it('delay holds every chunk, both directions, at least ms; order is kept', async () => {
    const { proxy } = await setup();
    const ms = 150;
    proxy.setRule(A, Rules.delay(ms));
    const c = await open(proxy, A);
    const parts = [payload(100, 1), payload(200, 2), payload(300, 3)];
    const t0 = performance.now();
    for (const p of parts) await new Promise<void>((r) => c.socket.write(p, () => r()));
    await waitFor('the echo', () => c.bytes === 600);
    const elapsed = performance.now() - t0;
    assert.deepEqual(c.text(), Buffer.concat(parts));
    // Out through the proxy (>= ms) and back through it (>= ms); a generous lower bound only.
    assert.ok(elapsed >= 2 * ms - 10, `round trip ${elapsed} ms`);
    const records = proxy.stats(A).forwards;
    for (const dir of ['toTarget', 'toSender'] as const) {
      const rs = records.filter((r) => r.direction === dir);
      assert.equal(
        rs.reduce((n, r) => n + r.bytes, 0),
        600,
        dir,
      );
      for (const r of rs) assert.ok(r.sentAt - r.receivedAt >= ms, `${dir} chunk held ${r.sentAt - r.receivedAt} ms`);
    }
  });

  it('throttle delivers a 64 KiB payload complete, no faster than the rate', async () => {
    const { proxy } = await setup();
    const rate = 256 * 1024;
    proxy.setRule(A, Rules.throttle(rate));
    const c = await open(proxy, A);
    const sent = payload(64 * 1024);
    c.socket.write(sent);
    await waitFor('the 64 KiB echo', () => c.bytes === sent.length, 10_000);
    assert.deepEqual(c.text(), sent);
    const s = proxy.stats(A);
    assert.deepEqual([s.bytesToTarget, s.bytesToSender], [65536, 65536]);
    const up = s.forwards.filter((r) => r.direction === 'toTarget');
    assert.ok(up.length > 1, 'the payload went out in several parts');
    const span = Math.max(...up.map((r) => r.sentAt)) - Math.min(...up.map((r) => r.receivedAt));
    // 64 KiB at 256 KiB/s is 250 ms; a generous lower bound.
    assert.ok(span >= 200, `toTarget span ${span} ms`);
  });

  it('the default rule governs unknown senders; a sender rule overrides it; clearRule falls back', async () => {
    const { echo, proxy } = await setup({ defaultRule: Rules.blackhole() });
    proxy.setRule(B, Rules.pass());
    const a = await open(proxy, A);
    const b = await open(proxy, B);
    a.socket.write(payload(40));
    await roundTrip(b, payload(30));
    await waitFor('A bytes at the proxy', () => proxy.stats(A).bytesFromSender === 40);
    assertHeld(proxy, A, 40, 0);
    assert.equal(echo.received, 30);
    proxy.clearRule(B);
    b.socket.write(payload(20));
    await waitFor('B bytes at the proxy', () => proxy.stats(B).bytesFromSender === 50);
    assertHeld(proxy, B, 50, 30);
    // heal also sets the default to pass: a new connection from A passes.
    proxy.heal();
    const again = payload(25, 9);
    const a2 = await open(proxy, A);
    await roundTrip(a2, again);
    assert.deepEqual(a2.text(), again);
  });

  it('a FIN from the sender reaches the target as a FIN, an abort as an abort', async () => {
    const { echo, proxy } = await setup();
    const graceful = await open(proxy, A);
    await roundTrip(graceful, payload(20));
    graceful.socket.end();
    const r = await within('the graceful close', graceful.closed);
    assert.equal(r.hadError, false);
    assert.deepEqual([echo.ended, echo.closed], [1, 1]);

    const aborted = await open(proxy, A);
    await roundTrip(aborted, payload(20));
    aborted.socket.resetAndDestroy();
    await waitFor('the target side closed', () => echo.closed === 2);
    assert.equal(echo.ended, 1, 'no FIN for the aborted connection');
    await waitFor('the proxy to drop the connection', () => proxy.openConnections === 0);
  });

  it('close destroys every connection and stops listening', async () => {
    const { proxy } = await setup();
    const c = await open(proxy, A);
    await roundTrip(c, payload(10));
    await proxy.close();
    await within('the client to close', c.closed);
    await assert.rejects(client(proxy, A), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
  });
});

describe('Partition', () => {
  /** Three nodes a, b, c at 127.0.5.{2,3,4}, each with an echo server behind its own proxy. */
  async function cluster(): Promise<{ partition: Partition; nodes: Record<string, { proxy: LinkProxy; ip: string }> }> {
    const ips: Record<string, string> = { a: '127.0.5.2', b: '127.0.5.3', c: '127.0.5.4' };
    const nodes: Record<string, { proxy: LinkProxy; ip: string }> = {};
    for (const [id, ip] of Object.entries(ips)) nodes[id] = { proxy: (await setup({ proxyHost: ip })).proxy, ip };
    return { partition: new Partition(nodes), nodes };
  }

  /** Opens a connection from `from` to `to`'s proxy: 'pass' if it echoes, 'dropped' if the proxy discards it. */
  async function probe(nodes: Record<string, { proxy: LinkProxy; ip: string }>, from: string, to: string): Promise<'pass' | 'dropped'> {
    const { proxy } = nodes[to]!;
    const ip = nodes[from]!.ip;
    const dropped = proxy.stats(ip).droppedToTarget;
    const c = await open(proxy, ip);
    c.socket.write(payload(16));
    await waitFor(`${from} -> ${to} to echo or drop`, () => c.bytes === 16 || proxy.stats(ip).droppedToTarget === dropped + 16);
    c.socket.destroy();
    return c.bytes === 16 ? 'pass' : 'dropped';
  }

  async function matrix(nodes: Record<string, { proxy: LinkProxy; ip: string }>): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const from of Object.keys(nodes))
      for (const to of Object.keys(nodes)) if (from !== to) out[`${from}->${to}`] = await probe(nodes, from, to);
    return out;
  }

  it('oneWay(a, b) drops connections a opens toward b while b -> a passes', async () => {
    const { partition, nodes } = await cluster();
    partition.oneWay('a', 'b');
    assert.equal(await probe(nodes, 'a', 'b'), 'dropped');
    assert.equal(await probe(nodes, 'b', 'a'), 'pass');
    assert.equal(await probe(nodes, 'a', 'c'), 'pass');
    assert.equal(await probe(nodes, 'c', 'b'), 'pass');
    partition.heal();
    assert.equal(await probe(nodes, 'a', 'b'), 'pass');
  });

  it('split and isolate cut exactly the links between groups; heal restores all', async () => {
    const { partition, nodes } = await cluster();
    partition.split([['a', 'b'], ['c']]);
    const cut = { 'a->b': 'pass', 'a->c': 'dropped', 'b->a': 'pass', 'b->c': 'dropped', 'c->a': 'dropped', 'c->b': 'dropped' };
    assert.deepEqual(await matrix(nodes), cut);
    partition.heal();
    partition.isolate('a');
    assert.deepEqual(await matrix(nodes), { 'a->b': 'dropped', 'a->c': 'dropped', 'b->a': 'dropped', 'b->c': 'pass', 'c->a': 'dropped', 'c->b': 'pass' });
    partition.heal();
    const all = await matrix(nodes);
    assert.ok(Object.values(all).every((v) => v === 'pass'), JSON.stringify(all));
    assert.throws(() => partition.isolate('z'), /unknown node z/);
  });
});
