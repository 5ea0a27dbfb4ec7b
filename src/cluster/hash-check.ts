// Members compare their state hashes at equal heights (docs/CLUSTER.md, "Watching a cluster").
// Every VALORI_REPLICATION_CHECK_INTERVAL_MS a member takes its own proof (height h, hash; kept in
// its proof ring like any GET /v1/proof/state) and asks every other member for its hash at h
// (GET /v1/proof/state?height=h, answered from that member's ring). Equal: match; different:
// mismatch, logged as an error (two members applied the same log to different states: a bug or
// a damaged disk); not available (the peer never took a proof at h, is unreachable, or is
// elsewhere in the log): unknown. Members all take proofs on this period, so idle members meet
// at equal heights every round and busy ones whenever their heights coincide.
import type { Kernel } from '../kernel/kernel';
import type { Logger } from '../log';
import { sleep } from '../replication/backoff';
import { proofAt } from '../replication/proofs';
import type { ProofRing } from '../replication/proof-ring';
import type { ClusterNode } from './node';
import { apiUrl } from './members';

export type HashMatch = 'match' | 'mismatch' | 'unknown';

export interface PeerCheck {
  peer: number;
  height: number;
  result: HashMatch;
  detail: string | null;
}

export interface HashCheckDeps {
  cluster: ClusterNode;
  kernel: Kernel;
  ring: ProofRing;
  logger: Logger;
  intervalMs: number;
  /** Bearer token for the other members' APIs. */
  token: string | null;
}

export class ClusterHashCheck {
  private readonly last = new Map<number, PeerCheck>();
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;

  constructor(private readonly d: HashCheckDeps) {}

  /** The latest result per peer (for metrics and status). */
  results(): PeerCheck[] {
    return [...this.last.values()].sort((a, b) => a.peer - b.peer);
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      await sleep(this.d.intervalMs, signal);
      if (signal.aborted) return;
      try {
        await this.round(signal);
      } catch (err) {
        this.d.logger.warn(`cluster hash check: ${(err as Error).message}`);
      }
    }
  }

  /** One round: our proof, then each peer's hash at our height. */
  async round(signal: AbortSignal): Promise<PeerCheck[]> {
    const ours = await proofAt(this.d.kernel, this.d.ring, null);
    const status = this.d.cluster.status();
    const peers = status.members.filter((m) => m.id !== status.nodeId);
    const out: PeerCheck[] = [];
    for (const m of peers) {
      if (signal.aborted) break;
      const check = await this.ask(m.id, apiUrl(m.apiAddr), ours.height, ours.hash, signal);
      if (check.result === 'mismatch' && this.last.get(m.id)?.result !== 'mismatch') {
        this.d.logger.error(`cluster hash check: node ${m.id} holds a different state at height ${ours.height} (${check.detail})`);
      }
      this.last.set(m.id, check);
      out.push(check);
    }
    // Members removed from the cluster drop out of the results.
    for (const id of [...this.last.keys()]) if (!peers.some((m) => m.id === id)) this.last.delete(id);
    return out;
  }

  private async ask(peer: number, base: string, height: number, hash: string, signal: AbortSignal): Promise<PeerCheck> {
    const unknown = (detail: string): PeerCheck => ({ peer, height, result: 'unknown', detail });
    let res: Response;
    try {
      res = await fetch(`${base}/v1/proof/state?height=${height}`, {
        headers: this.d.token === null ? {} : { Authorization: `Bearer ${this.d.token}` },
        signal: AbortSignal.any([signal, AbortSignal.timeout(Math.min(10_000, Math.max(1_000, this.d.intervalMs)))]),
        redirect: 'manual',
      });
    } catch (err) {
      return unknown(`unreachable: ${(err as Error).message}`);
    }
    const body = (await res.json().catch(() => null)) as { final_state_hash?: unknown; height?: unknown; code?: unknown } | null;
    if (res.status !== 200 || body === null || typeof body.final_state_hash !== 'string' || body.height !== height) {
      return unknown(`no hash at height ${height} (HTTP ${res.status}${typeof body?.code === 'string' ? ` ${body.code}` : ''})`);
    }
    if (body.final_state_hash === hash) return { peer, height, result: 'match', detail: null };
    return { peer, height, result: 'mismatch', detail: `ours ${hash}, theirs ${body.final_state_hash}` };
  }
}
