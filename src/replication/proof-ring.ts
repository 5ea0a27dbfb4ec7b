// A bounded ring of recent (height, state hash) pairs this node computed. Replicas compare hashes
// at the SAME height (docs/reliability.md R17): a follower that is behind asks the leader for the hash
// at the follower's own height instead of comparing against the leader's current state.
// Every GET /v1/proof/state records one pair, and so does the follower's divergence checker.

/** Default number of pairs kept: at one proof per 5 s check that is well over an hour of history. */
export const DEFAULT_PROOF_RING_SIZE = 1024;

export interface HeightHash {
  height: number;
  hash: string;
}

export class ProofRing {
  // Insertion order is height order in practice (heights only grow), but a Map keyed by height
  // keeps lookups O(1) and deduplicates repeated proofs at an idle height.
  private readonly byHeight = new Map<number, string>();
  private readonly listeners = new Set<(p: HeightHash) => void>();
  /** The last proof GET /v1/proof/state computed, with the kernel's restore epoch then (proofs.ts). */
  current: (HeightHash & { epoch: number }) | null = null;

  constructor(private readonly capacity = DEFAULT_PROOF_RING_SIZE) {
    if (!(capacity >= 1)) throw new RangeError('proof ring capacity must be at least 1');
  }

  record(height: number, hash: string): void {
    // Re-inserting moves the height to the newest end, so an idle node keeps its latest pair.
    this.byHeight.delete(height);
    this.byHeight.set(height, hash);
    while (this.byHeight.size > this.capacity) {
      const oldest = this.byHeight.keys().next().value as number;
      this.byHeight.delete(oldest);
    }
    for (const l of this.listeners) l({ height, hash });
  }

  /** Calls `listener` with every pair recorded from now on (the event streams' proof markers). */
  subscribe(listener: (p: HeightHash) => void): void {
    this.listeners.add(listener);
  }

  get(height: number): string | undefined {
    return this.byHeight.get(height);
  }

  /** Lowest and highest heights held, for error messages; null when empty. */
  range(): { min: number; max: number } | null {
    if (this.byHeight.size === 0) return null;
    let min = Infinity;
    let max = -Infinity;
    for (const h of this.byHeight.keys()) {
      if (h < min) min = h;
      if (h > max) max = h;
    }
    return { min, max };
  }

  get size(): number {
    return this.byHeight.size;
  }
}
