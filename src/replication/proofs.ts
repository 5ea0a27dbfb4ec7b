// GET /v1/proof/state[?height=N]: the state hash at the current height (computed fresh, and
// remembered in the proof ring) or at a past height this node remembers. Replicas compare hashes
// at the same height only (docs/reliability.md R17), so a past height must be answered exactly or not
// at all: never with the hash of another height.
import { AppError } from '../http/errors';
import type { Kernel } from '../kernel/kernel';
import type { HeightHash, ProofRing } from './proof-ring';

/** `?height=` as a number, null when absent; anything but a non-negative integer is a 400. */
export function parseHeightQuery(raw: unknown): number | null {
  if (raw === undefined) return null;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new AppError('INVALID_REQUEST', `height must be a non-negative integer, got ${JSON.stringify(String(raw).slice(0, 40))}`);
  }
  return Number(raw);
}

/**
 * The hash at the current height. Hashing covers the whole state, so it is computed once per
 * (height, restore epoch) and reused while neither changes: polling the proof is cheap
 * (docs/security.md). Every answer is still recorded in the ring, which places a proof marker in the open event
 * streams (followers compare at markers).
 */
async function currentProof(kernel: Kernel, ring: ProofRing): Promise<HeightHash> {
  const epoch = kernel.restoreEpoch;
  const cached = ring.current;
  if (cached !== null && epoch % 2 === 0 && cached.epoch === epoch && cached.height === kernel.stats().height) {
    ring.record(cached.height, cached.hash);
    return { height: cached.height, hash: cached.hash };
  }
  // Fresh: the hash and its height are read together, and remembered for later ?height asks.
  const fresh = await kernel.stateProof();
  ring.record(fresh.height, fresh.hash);
  // Cached only when no restore started or ended while hashing.
  if (epoch % 2 === 0 && kernel.restoreEpoch === epoch) ring.current = { height: fresh.height, hash: fresh.hash, epoch };
  return fresh;
}

export async function proofAt(kernel: Kernel, ring: ProofRing, height: number | null): Promise<HeightHash> {
  if (height === null || height === kernel.stats().height) {
    const fresh = await currentProof(kernel, ring);
    if (height === null || fresh.height === height) return fresh;
  }
  const hash = ring.get(height);
  if (hash !== undefined) return { height, hash };
  const current = kernel.stats().height;
  const held = ring.range();
  const why =
    height > current
      ? `this node is at height ${current} and has not reached ${height} yet`
      : `this node is at height ${current} and remembers hashes only for heights it computed a proof at${held ? ` (the last ${ring.size}, between ${held.min} and ${held.max})` : ''}`;
  throw new AppError('HEIGHT_NOT_AVAILABLE', `no state hash for height ${height}: ${why}`);
}
