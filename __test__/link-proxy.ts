// A per-link TCP fault proxy (node:net only) for the cluster's process fault tests. One LinkProxy
// stands in front of one node's Raft listener; every node binds its outgoing Raft connections to
// its own address (127.0.k.i), so the proxy tells the senders apart by `socket.remoteAddress` and
// applies each sender's rule: a fault on the directed link sender -> this node. Both directions of
// a connection follow the rule of the sender that opened it.
//
// Rules (a change applies at once to open connections as well as to new ones):
//   pass              forward unchanged.
//   blackhole         read and discard everything, in both directions; sockets stay open. Bytes
//                     are lost, so a connection that lost any can never resume intact: when its
//                     link forwards again it is reset (as a real peer would give up on it), and
//                     new connections pass. The target is not even connected while a new
//                     connection is blackholed.
//   stall             forward nothing, but hold what was read (up to HOLD_BYTES per direction,
//                     then stop reading): on heal the held bytes are delivered, in order, intact.
//   reset             destroy both sides (RST) at once; new connections are reset on accept.
//   resetAfterBytes n forward n more bytes sender -> target, then RST both sides.
//   delay ms          every chunk, both directions, leaves the proxy >= ms after it arrived;
//                     order preserved.
//   throttle B/s      each direction of each connection through a token bucket that starts
//                     empty and holds at most THROTTLE_BURST_MS worth of bytes.
// A FIN or an abort (RST) from one side is carried to the other like data: held by stall and
// blackhole, delivered after the data queued before it.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export type LinkRule =
  | { readonly kind: 'pass' }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'stall' }
  | { readonly kind: 'reset'; readonly afterBytes: number }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'throttle'; readonly bytesPerSecond: number };

/** Rule constructors. Every call returns a fresh rule (a throttle bucket or reset budget restarts). */
export const Rules = {
  pass: (): LinkRule => ({ kind: 'pass' }),
  blackhole: (): LinkRule => ({ kind: 'blackhole' }),
  stall: (): LinkRule => ({ kind: 'stall' }),
  reset: (): LinkRule => ({ kind: 'reset', afterBytes: 0 }),
  resetAfterBytes: (n: number): LinkRule => {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`resetAfterBytes: ${n} is not a byte count`);
    return { kind: 'reset', afterBytes: n };
  },
  delay: (ms: number): LinkRule => {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay: ${ms} is not a duration`);
    return { kind: 'delay', ms };
  },
  throttle: (bytesPerSecond: number): LinkRule => {
    if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) throw new RangeError(`throttle: ${bytesPerSecond} is not a rate`);
    return { kind: 'throttle', bytesPerSecond };
  },
} as const;

/** A stall holds at most this much per direction of a connection before it stops reading. */
export const HOLD_BYTES = 1 << 20;
/** A throttle bucket holds at most this many milliseconds' worth of bytes. */
export const THROTTLE_BURST_MS = 20;
/** Forward records kept per sender (the oldest are dropped first). */
export const MAX_RECORDS = 10_000;

export type Direction = 'toTarget' | 'toSender';

export interface ForwardRecord {
  direction: Direction;
  bytes: number;
  /** performance.now() when the proxy read the chunk. */
  receivedAt: number;
  /** performance.now() when the proxy wrote it (or this part of it) on. */
  sentAt: number;
}

export interface LinkStats {
  /** Connections accepted from this sender. */
  connections: number;
  /** Of those, still held by the proxy. */
  open: number;
  bytesFromSender: number;
  bytesToTarget: number;
  bytesFromTarget: number;
  bytesToSender: number;
  /** Bytes a blackhole discarded, per direction. */
  droppedToTarget: number;
  droppedToSender: number;
  /** Connections the proxy reset (a reset rule, or a blackholed connection healed). */
  resets: number;
  forwards: ForwardRecord[];
}

export interface LinkProxyOptions {
  /** Where the proxy listens (e.g. 127.0.5.1); port 0 (the default) picks a free one. */
  host: string;
  port?: number;
  targetHost: string;
  targetPort: number;
  /** The rule for senders without a rule of their own; pass unless given. */
  defaultRule?: LinkRule;
}

type Item = { kind: 'data'; chunk: Buffer; receivedAt: number } | { kind: 'end' } | { kind: 'abort' };

interface Pipe {
  direction: Direction;
  queue: Item[];
  queuedBytes: number;
  waitingDrain: boolean;
  timer: NodeJS.Timeout | null;
  /** The source sent its FIN. */
  endSeen: boolean;
  bucketRule: LinkRule | null;
  tokens: number;
  refilledAt: number;
}

function newPipe(direction: Direction): Pipe {
  return { direction, queue: [], queuedBytes: 0, waitingDrain: false, timer: null, endSeen: false, bucketRule: null, tokens: 0, refilledAt: 0 };
}

function emptyStats(): LinkStats {
  return {
    connections: 0,
    open: 0,
    bytesFromSender: 0,
    bytesToTarget: 0,
    bytesFromTarget: 0,
    bytesToSender: 0,
    droppedToTarget: 0,
    droppedToSender: 0,
    resets: 0,
    forwards: [],
  };
}

/** IPv4 addresses as an IPv4-mapped IPv6 socket reports them are keyed by their IPv4 form. */
function senderKey(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Closes a socket with an RST where the kernel allows one. After our own FIN (`end()`) libuv
 * refuses the reset (EINVAL: the handle is shutting down) and Node then never closes the handle,
 * which keeps the process alive, spinning on the half-closed descriptor: such a socket, and one
 * still connecting, is destroyed plainly instead.
 */
function abortSocket(s: Socket): void {
  if (s.destroyed) return;
  if (s.writableEnded || s.connecting) s.destroy();
  else s.resetAndDestroy();
}

const forwards = (r: LinkRule): boolean => r.kind !== 'blackhole' && r.kind !== 'stall';

class Link {
  upstream: Socket | null = null;
  readonly up = newPipe('toTarget');
  readonly down = newPipe('toSender');
  /** Bytes (or a FIN) were discarded: the stream has a hole and can never be resumed. */
  tainted = false;
  done = false;
  private budgetRule: LinkRule | null = null;
  private budget = 0;
  private resetting = false;

  constructor(
    private readonly proxy: LinkProxy,
    readonly client: Socket,
    readonly sender: string,
    readonly stats: LinkStats,
  ) {
    client.on('error', () => {});
    client.on('data', (chunk: Buffer) => this.read(this.up, chunk));
    client.on('end', () => this.ended(this.up));
    client.on('close', () => this.sideClosed(this.up, this.down));
    client.on('drain', () => this.drained(this.down));
  }

  get rule(): LinkRule {
    return this.proxy.ruleFor(this.sender);
  }

  /** Brings the connection in line with its sender's current rule. */
  apply(): void {
    if (this.done) return;
    const r = this.rule;
    if (forwards(r) && this.tainted) return this.reset();
    if (r.kind === 'reset' && this.budgetRule !== r) {
      this.budgetRule = r;
      this.budget = r.afterBytes;
      if (r.afterBytes === 0) return this.reset();
    }
    if (forwards(r) && !this.upstream) this.openUpstream();
    this.pump(this.up);
    this.pump(this.down);
  }

  /** RST on both sides, now. */
  reset(): void {
    if (this.done) return;
    this.stats.resets++;
    this.finish();
  }

  /** Destroys both sides (with RST where possible) and forgets the connection. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    for (const p of [this.up, this.down]) {
      if (p.timer) clearTimeout(p.timer);
      p.timer = null;
      p.queue = [];
      p.queuedBytes = 0;
    }
    for (const s of [this.client, this.upstream]) {
      if (s) abortSocket(s);
    }
    this.stats.open--;
    this.proxy.forget(this);
  }

  private openUpstream(): void {
    const target = this.proxy.target;
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    this.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('data', (chunk: Buffer) => this.read(this.down, chunk));
    upstream.on('end', () => this.ended(this.down));
    upstream.on('close', () => this.sideClosed(this.down, this.up));
    upstream.on('drain', () => this.drained(this.up));
  }

  private source(p: Pipe): Socket | null {
    return p === this.up ? this.client : this.upstream;
  }

  private dest(p: Pipe): Socket | null {
    return p === this.up ? this.upstream : this.client;
  }

  private read(p: Pipe, chunk: Buffer): void {
    if (this.done) return;
    if (p === this.up) this.stats.bytesFromSender += chunk.length;
    else this.stats.bytesFromTarget += chunk.length;
    this.push(p, { kind: 'data', chunk, receivedAt: performance.now() });
  }

  private push(p: Pipe, item: Item): void {
    if (this.done) return;
    p.queue.push(item);
    if (item.kind === 'data') p.queuedBytes += item.chunk.length;
    this.pump(p);
  }

  private ended(p: Pipe): void {
    p.endSeen = true;
    this.push(p, { kind: 'end' });
  }

  /** One side closed: unless it had sent its FIN, an abort follows whatever it sent; the pipe toward it has nowhere to go. */
  private sideClosed(from: Pipe, toward: Pipe): void {
    if (this.done) return;
    if (!from.endSeen) from.queue.push({ kind: 'abort' });
    if (toward.timer) clearTimeout(toward.timer);
    toward.timer = null;
    toward.queue = [];
    toward.queuedBytes = 0;
    if (this.client.destroyed && (!this.upstream || this.upstream.destroyed)) return this.finish();
    this.pump(from);
  }

  private drained(p: Pipe): void {
    p.waitingDrain = false;
    this.pump(p);
  }

  private discard(p: Pipe): void {
    // Data goes; a FIN or an abort stays queued (it is all that is left after the data), so an
    // untainted connection still delivers it once the link heals.
    const kept: Item[] = [];
    for (const item of p.queue) {
      if (item.kind === 'data') {
        if (p === this.up) this.stats.droppedToTarget += item.chunk.length;
        else this.stats.droppedToSender += item.chunk.length;
        this.tainted = true;
      } else kept.push(item);
    }
    p.queue = kept;
    p.queuedBytes = 0;
  }

  private pump(p: Pipe): void {
    if (this.done) return;
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    const r = this.rule;
    if (r.kind === 'blackhole') this.discard(p);
    const dest = this.dest(p);
    while (forwards(r) && dest && !this.resetting && p.queue.length > 0) {
      const item = p.queue[0]!;
      if (item.kind === 'end') {
        p.queue.shift();
        if (!dest.destroyed) dest.end();
        continue;
      }
      if (item.kind === 'abort') {
        p.queue.shift();
        abortSocket(dest);
        continue;
      }
      if (p.waitingDrain) break;
      const now = performance.now();
      let n = item.chunk.length;
      if (r.kind === 'delay') {
        const wait = item.receivedAt + r.ms - now;
        if (wait > 0) {
          p.timer = setTimeout(() => this.pump(p), Math.ceil(wait));
          break;
        }
      } else if (r.kind === 'throttle') {
        const cap = Math.max(1, (r.bytesPerSecond * THROTTLE_BURST_MS) / 1000);
        if (p.bucketRule !== r) {
          p.bucketRule = r;
          p.tokens = 0;
          p.refilledAt = now;
        }
        p.tokens = Math.min(cap, p.tokens + ((now - p.refilledAt) * r.bytesPerSecond) / 1000);
        p.refilledAt = now;
        n = Math.min(n, Math.floor(p.tokens));
        if (n < 1) {
          const want = Math.min(item.chunk.length, Math.floor(cap));
          p.timer = setTimeout(() => this.pump(p), Math.max(1, Math.ceil(((want - p.tokens) * 1000) / r.bytesPerSecond)));
          break;
        }
        p.tokens -= n;
      } else if (r.kind === 'reset' && p === this.up) {
        n = Math.min(n, this.budget);
        if (n <= 0) break;
      }
      const part = n === item.chunk.length ? item.chunk : item.chunk.subarray(0, n);
      if (n === item.chunk.length) p.queue.shift();
      else item.chunk = item.chunk.subarray(n);
      p.queuedBytes -= n;
      if (r.kind === 'reset' && p === this.up) {
        this.budget -= n;
        if (this.budget === 0) {
          // The last of the n bytes is handed to the kernel before the RST goes out.
          this.resetting = true;
          if (n > 0 && !dest.destroyed) this.write(p, dest, part, item.receivedAt, now, () => this.reset());
          else this.reset();
          return;
        }
      }
      if (n > 0) this.write(p, dest, part, item.receivedAt, now);
    }
    this.flow(p, r);
  }

  private write(p: Pipe, dest: Socket, chunk: Buffer, receivedAt: number, sentAt: number, written?: () => void): void {
    if (dest.destroyed) return;
    if (p === this.up) this.stats.bytesToTarget += chunk.length;
    else this.stats.bytesToSender += chunk.length;
    const records = this.stats.forwards;
    records.push({ direction: p.direction, bytes: chunk.length, receivedAt, sentAt });
    if (records.length > MAX_RECORDS) records.splice(0, records.length - MAX_RECORDS);
    if (!dest.write(chunk, written)) p.waitingDrain = true;
  }

  /** Reads from a pipe's source only while there is room: TCP backpressure reaches the sender. */
  private flow(p: Pipe, r: LinkRule): void {
    const src = this.source(p);
    if (!src || src.destroyed) return;
    const full = p.waitingDrain || p.queuedBytes >= HOLD_BYTES || this.resetting;
    if (full && r.kind !== 'blackhole') src.pause();
    else src.resume();
  }
}

export class LinkProxy {
  private server: Server | null = null;
  private readonly links = new Set<Link>();
  private readonly rules = new Map<string, LinkRule>();
  private readonly counters = new Map<string, LinkStats>();
  private defaultRule: LinkRule;
  /** Where the proxy listens, once started. */
  host: string;
  port: number;
  target: { host: string; port: number };

  constructor(options: LinkProxyOptions) {
    this.host = options.host;
    this.port = options.port ?? 0;
    this.target = { host: options.targetHost, port: options.targetPort };
    this.defaultRule = options.defaultRule ?? Rules.pass();
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.server) throw new Error('LinkProxy already started');
    const server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as { port: number }).port;
    return { host: this.host, port: this.port };
  }

  /** New connections (and blackholed ones that get their upstream later) go here. */
  retarget(host: string, port: number): void {
    this.target = { host, port };
  }

  ruleFor(sender: string): LinkRule {
    return this.rules.get(sender) ?? this.defaultRule;
  }

  /** The rule for connections from `sender` (an IP address), effective before this returns. */
  setRule(sender: string, rule: LinkRule): void {
    this.rules.set(sender, rule);
    this.applyWhere((l) => l.sender === sender);
  }

  /** `sender` follows the default rule again. */
  clearRule(sender: string): void {
    this.rules.delete(sender);
    this.applyWhere((l) => l.sender === sender);
  }

  /** The rule for senders without one of their own. */
  setDefault(rule: LinkRule): void {
    this.defaultRule = rule;
    this.applyWhere((l) => !this.rules.has(l.sender));
  }

  /** Every link, and the default, passes. */
  heal(): void {
    this.rules.clear();
    this.defaultRule = Rules.pass();
    this.applyWhere(() => true);
  }

  /** A snapshot of the counters for one sender (zeros if it never connected). */
  stats(sender: string): LinkStats {
    const s = this.counters.get(sender) ?? emptyStats();
    return { ...s, forwards: s.forwards.map((r) => ({ ...r })) };
  }

  /** Senders seen so far. */
  senders(): string[] {
    return [...this.counters.keys()];
  }

  /** Connections currently held. */
  get openConnections(): number {
    return this.links.size;
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const l of [...this.links]) l.finish();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** @internal */
  forget(link: Link): void {
    this.links.delete(link);
  }

  private applyWhere(match: (l: Link) => boolean): void {
    for (const l of [...this.links]) if (match(l)) l.apply();
  }

  private accept(client: Socket): void {
    const sender = senderKey(client.remoteAddress);
    let stats = this.counters.get(sender);
    if (!stats) {
      stats = emptyStats();
      this.counters.set(sender, stats);
    }
    stats.connections++;
    stats.open++;
    const link = new Link(this, client, sender, stats);
    this.links.add(link);
    if (client.destroyed) return link.finish();
    link.apply();
  }
}

/** A node of a cluster under test: the proxy in front of its listener, and its own source address. */
export interface PartitionNode {
  proxy: LinkProxy;
  ip: string;
}

/**
 * Partitions over the proxies of several nodes. A link j -> i is the rule for sender ip(j) on
 * proxy(i): it governs the connections j opens toward i, in both directions of each.
 */
export class Partition {
  private readonly nodes: Map<string, PartitionNode>;

  constructor(nodes: Record<string, PartitionNode> | Map<string, PartitionNode>) {
    this.nodes = nodes instanceof Map ? new Map(nodes) : new Map(Object.entries(nodes));
  }

  /** Sets the rule of the directed link from -> to. */
  link(from: string, to: string, rule: LinkRule): void {
    this.node(to).proxy.setRule(this.node(from).ip, rule);
  }

  /** Every link to and from `id` gets `rule` (a blackhole unless given). */
  isolate(id: string, rule: LinkRule = Rules.blackhole()): void {
    this.node(id);
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.link(id, other, rule);
      this.link(other, id, rule);
    }
  }

  /** Every link between two different groups, both ways, gets `rule`; links inside a group are left as they are. */
  split(groups: string[][], rule: LinkRule = Rules.blackhole()): void {
    const seen = new Set<string>();
    for (const g of groups)
      for (const id of g) {
        this.node(id);
        if (seen.has(id)) throw new Error(`Partition.split: ${id} is in two groups`);
        seen.add(id);
      }
    for (let a = 0; a < groups.length; a++)
      for (let b = 0; b < groups.length; b++) {
        if (a === b) continue;
        for (const from of groups[a]!) for (const to of groups[b]!) this.link(from, to, rule);
      }
  }

  /** Only the connections `from` opens toward `to` are blackholed (an asymmetric partition). */
  oneWay(from: string, to: string, rule: LinkRule = Rules.blackhole()): void {
    this.link(from, to, rule);
  }

  /** Every proxy passes everything. */
  heal(): void {
    for (const n of this.nodes.values()) n.proxy.heal();
  }

  private node(id: string): PartitionNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`Partition: unknown node ${id}`);
    return n;
  }
}
