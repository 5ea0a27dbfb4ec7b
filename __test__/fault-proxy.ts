// A small TCP fault proxy (node:net) for replication tests: follower -> proxy -> leader. It can
// cut every connection, reset one mid-event (forward part of a response chunk, then RST), stall
// (stop forwarding in both directions, sockets stay open), throttle the leader->follower
// direction, and heal. Bytes are forwarded unchanged otherwise.
import { createServer, type Server, type Socket, connect } from 'node:net';

type Mode = { kind: 'pass' } | { kind: 'stall' } | { kind: 'throttle'; bytesPerTick: number };

/** Throttle tick: the byte budget is refilled every 50 ms. */
const TICK_MS = 50;

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class FaultProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<Pair>();
  private mode: Mode = { kind: 'pass' };
  private resetNext: { afterBytes: number } | null = null;
  private budget = Infinity;
  private ticker: NodeJS.Timeout | null = null;
  /** How many connections were reset mid-chunk (so a test can tell the fault really happened). */
  resets = 0;
  port = 0;

  constructor(private targetPort: number) {}

  async start(): Promise<string> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    return `http://127.0.0.1:${this.port}`;
  }

  /** New connections go to this port (a restarted leader may listen elsewhere). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  get connections(): number {
    return this.pairs.size;
  }

  /** Destroys every open connection (both sides). */
  cut(): void {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** The next leader->follower chunk of at least `minBytes` is forwarded only in part, then both sides are reset. */
  resetMidChunk(minBytes = 64): void {
    this.resetNext = { afterBytes: minBytes };
  }

  stall(): void {
    this.mode = { kind: 'stall' };
    for (const p of this.pairs) {
      p.client.pause();
      p.upstream.pause();
    }
  }

  /** Leader->follower at most `bytesPerSecond` (approximately, per 50 ms tick). */
  throttle(bytesPerSecond: number): void {
    this.mode = { kind: 'throttle', bytesPerTick: Math.max(1, Math.floor((bytesPerSecond * TICK_MS) / 1000)) };
    this.budget = 0;
    this.ticker ??= setInterval(() => this.refill(), TICK_MS);
  }

  heal(): void {
    this.mode = { kind: 'pass' };
    this.budget = Infinity;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    for (const p of this.pairs) {
      p.client.resume();
      p.upstream.resume();
    }
  }

  async close(): Promise<void> {
    this.heal();
    this.cut();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private refill(): void {
    if (this.mode.kind !== 'throttle') return;
    this.budget = this.mode.bytesPerTick;
    for (const p of this.pairs) p.upstream.resume();
  }

  private accept(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    const drop = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    if (this.mode.kind === 'stall') {
      client.pause();
      upstream.pause();
    }
    // follower -> leader: requests are small; only a stall holds them.
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => {
      if (this.mode.kind !== 'stall') client.resume();
    });
    // leader -> follower: where events flow, so where resets and throttling apply.
    upstream.on('data', (chunk: Buffer) => this.forward(pair, chunk));
    client.on('drain', () => {
      if (this.mode.kind === 'pass') upstream.resume();
    });
  }

  private forward(pair: Pair, chunk: Buffer): void {
    const { client, upstream } = pair;
    if (this.resetNext && chunk.length >= this.resetNext.afterBytes) {
      this.resetNext = null;
      this.resets++;
      client.write(chunk.subarray(0, Math.floor(chunk.length / 2)), () => {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      });
      return;
    }
    if (this.mode.kind === 'throttle') {
      if (chunk.length > this.budget) {
        // Over budget: send what the budget allows, hold the rest until the next tick.
        const now = Math.max(0, Math.floor(this.budget));
        if (now > 0) client.write(chunk.subarray(0, now));
        this.budget = 0;
        upstream.pause();
        upstream.unshift(chunk.subarray(now));
        return;
      }
      this.budget -= chunk.length;
    }
    if (!client.write(chunk)) upstream.pause();
  }
}
