// Real cluster members for the process fault tests (cluster-faults.test.ts): `node dist/main.js`
// processes on 127.0.41.i, each Raft listener behind a LinkProxy so links can be cut one
// direction at a time. Member i binds its Raft port on 127.0.41.i (its outgoing Raft connections
// leave from that address too), and the members reach it through its proxy on 127.0.41.(10+i):
// the proxy tells senders apart by their source address. The HTTP APIs are reached directly.
// Every process is SIGKILLed when the test process exits, however it exits (peers-proc's Proc).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Status, ValoriNode } from '../scripts/lib/cluster-nodes';
import { LinkProxy, Rules } from './link-proxy';

export const TOKEN = 'cluster-faults-token-cluster-faults-token';
const NET = '127.0.41';
const API_PORT = 24010;
const RAFT_PORT = 24050;

export const apiHost = (id: number): string => `${NET}.${id}`;
export const raftProxyAddr = (id: number): string => `${NET}.${10 + id}:${RAFT_PORT}`;
export const apiAddr = (id: number): string => `${apiHost(id)}:${API_PORT}`;

/** VALORI_CLUSTER_MEMBERS for these ids: Raft through each member's proxy, API direct. */
export function membersVar(ids: readonly number[]): string {
  return ids.map((i) => `${i}=${raftProxyAddr(i)}/${apiAddr(i)}`).join(',');
}

/** Polls `f` until it returns a value other than undefined, for at most `ms`. */
export async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>, everyMs = 25): Promise<T> {
  const deadline = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'valori-cluster-faults-'));
  readonly nodes = new Map<number, ValoriNode>();
  readonly proxies = new Map<number, LinkProxy>();
  /** Members that are SIGSTOPped now. */
  readonly stopped = new Set<number>();

  constructor(private readonly extraEnv: Record<string, string>) {}

  /** Starts member `id` (its proxy first); `members` is its VALORI_CLUSTER_MEMBERS. */
  async start(id: number, members: readonly number[], init: boolean): Promise<ValoriNode> {
    if (!this.proxies.has(id)) {
      const [host, port] = raftProxyAddr(id).split(':');
      const proxy = new LinkProxy({ host, port: Number(port), targetHost: apiHost(id), targetPort: RAFT_PORT });
      await proxy.start();
      this.proxies.set(id, proxy);
    }
    const nodeDir = join(this.dir, `n${id}`);
    mkdirSync(nodeDir, { recursive: true });
    const env: Record<string, string> = {
      VALORI_DIM: '4',
      VALORI_AUTH_TOKEN: TOKEN,
      VALORI_BIND: apiAddr(id),
      VALORI_CLUSTER_MEMBERS: membersVar(members),
      VALORI_NODE_ID: String(id),
      VALORI_RAFT_BIND: `${apiHost(id)}:${RAFT_PORT}`,
      VALORI_EVENT_LOG_PATH: join(nodeDir, 'raft.log'),
      VALORI_ACCESS_LOG: 'off',
      ...this.extraEnv,
    };
    if (init) env.VALORI_CLUSTER_INIT = '1';
    const node = this.nodes.get(id) ?? new ValoriNode(`node ${id}`, apiHost(id), API_PORT, env, join(nodeDir, 'node.log'), TOKEN);
    this.nodes.set(id, node);
    await node.start();
    return node;
  }

  /** Restarts a killed member on its own files (same environment). */
  async restart(id: number): Promise<void> {
    const node = this.node(id);
    await node.start();
  }

  node(id: number): ValoriNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no member ${id}`);
    return n;
  }

  /** Ids of members whose process runs and is not stopped. */
  live(): number[] {
    return [...this.nodes.entries()].filter(([id, n]) => n.alive() && !this.stopped.has(id)).map(([id]) => id);
  }

  async kill9(id: number): Promise<void> {
    this.stopped.delete(id);
    await this.node(id).kill9();
  }

  sigstop(id: number): void {
    this.node(id).proc?.child.kill('SIGSTOP');
    this.stopped.add(id);
  }

  sigcont(id: number): void {
    this.node(id).proc?.child.kill('SIGCONT');
    this.stopped.delete(id);
  }

  /** No Raft traffic between the two groups, either way. */
  partition(a: readonly number[], b: readonly number[]): void {
    for (const x of a) for (const y of b) this.cut(x, y), this.cut(y, x);
  }

  /** Connections `from` opens to `to` (both their directions) carry nothing. */
  cut(from: number, to: number): void {
    this.proxies.get(to)?.setRule(apiHost(from), Rules.blackhole());
  }

  heal(): void {
    for (const p of this.proxies.values()) p.heal();
  }

  async status(id: number): Promise<Status & { quorum_lost: boolean; members: { id: number; voter: boolean }[] }> {
    return this.node(id).client.json('GET', '/v1/cluster/status', undefined, 2_000);
  }

  /** The member that leads with a quorum behind it, as the live members see it. */
  async leader(ms = 20_000, among: readonly number[] = this.live()): Promise<number> {
    return until('a leader', ms, async () => {
      for (const id of among) {
        const s = await this.status(id).catch(() => undefined);
        if (s?.is_leader && !s.quorum_lost) return id;
      }
      return undefined;
    });
  }

  /**
   * Waits until every member in `ids` has applied the same index and answers the same state hash
   * and the same event-log chain at the same height (each member's event log is derived from its
   * Raft log and snapshot, whatever it went through: kill -9, a snapshot install, a restart).
   */
  async converged(ids: readonly number[], ms = 30_000): Promise<{ height: number; hash: string; applied: number; chain: string }> {
    const seen = await until(`members ${ids.join(', ')} to converge`, ms, async () => {
      const seen = await Promise.all(
        ids.map(async (id) => {
          const s = await this.status(id);
          const p = await this.node(id).client.json<{ final_state_hash: string; height: number }>('GET', '/v1/proof/state', undefined, 5_000);
          const e = await this.node(id).client.json<{ event_log_hash: string; committed_height: number }>('GET', '/v1/proof/event-log', undefined, 5_000);
          return { applied: s.last_applied_index ?? -1, log: s.last_log_index ?? -1, height: p.height, hash: p.final_state_hash, chain: e.event_log_hash, chainHeight: e.committed_height };
        }),
      );
      const first = seen[0];
      if (seen.some((s) => s.applied !== first.applied || s.log !== first.log || s.height !== first.height || s.hash !== first.hash || s.chainHeight !== first.height)) return undefined;
      return seen;
    }, 100);
    // Same height everywhere: the chains must agree now, or the members' logs hold different bytes.
    const first = seen[0];
    assert.deepEqual(seen.map((s) => s.chain), seen.map(() => first.chain), `event-log chains of members ${ids.join(', ')} at height ${first.height}`);
    return { height: first.height, hash: first.hash, applied: first.applied, chain: first.chain };
  }

  client(id: number): Client {
    return this.node(id).client;
  }

  /** SIGKILLs every member, closes the proxies, removes the folder (the logs stay with `keep`). */
  async close(keep = false): Promise<void> {
    for (const id of this.stopped) this.node(id).proc?.child.kill('SIGCONT');
    await Promise.all([...this.nodes.values()].map((n) => n.kill9()));
    for (const n of this.nodes.values()) n.client.close();
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
