// What the shell knows about collections without asking the kernel on every request: names and
// metrics as the contract defines them, and a cache of each collection's vector limits (dimension,
// component range) so vectors are checked with exact messages before they cross into native.
// The kernel stays the authority: a stale entry can only make the shell accept a vector the kernel
// then refuses (it checks again), never refuse one the kernel would take (a mismatch is re-checked
// against a fresh list first).
import { COLLECTION_NAME as NAME, COLLECTION_NAME_PATTERN } from '../api/collection-name';
import { KernelError } from './errors';
import { maxAbsValueFor, type VectorLimits } from './vectors';

/** The collection every request without `collection` uses; it exists from genesis (id 0). */
export const DEFAULT_COLLECTION = 'default';

export { COLLECTION_NAME_PATTERN };

/** Accepted metric names and the canonical name each stands for (docs/api-reference.md "Metrics"). */
export const METRIC_ALIASES: Readonly<Record<string, string>> = {
  squared_l2: 'squared_l2',
  l2: 'squared_l2',
  l2sq: 'squared_l2',
  cosine: 'cosine',
  dot: 'dot',
};

/** Most collections a node holds (a kernel constant; beyond it creation answers 507). */
export const MAX_COLLECTIONS = 10_000;

export function checkCollectionName(name: string): void {
  if (!NAME.test(name)) {
    throw new KernelError(
      'INVALID_ARGUMENT',
      `collection name ${JSON.stringify(name.slice(0, 80))} is invalid: use 1-64 letters, digits, "_" or "-", starting with a letter or digit`,
    );
  }
}

/** The canonical metric name, or INVALID_ARGUMENT naming the accepted ones. */
export function canonicalMetric(metric: string | undefined | null): string {
  if (metric === undefined || metric === null) return 'squared_l2';
  const canonical = METRIC_ALIASES[metric.toLowerCase()];
  if (canonical === undefined) {
    throw new KernelError(
      'INVALID_ARGUMENT',
      `metric ${JSON.stringify(metric.slice(0, 40))} is not supported: use l2 (also spelt squared_l2 or l2sq), cosine or dot`,
    );
  }
  return canonical;
}

export interface CollectionDims {
  id: number;
  name: string;
  dim: number;
}

/** What the cache holds per collection. */
export interface CachedCollection extends VectorLimits {
  id: number;
}

/**
 * name → vector limits. Filled from the kernel's list; refreshed when a lookup misses or
 * disagrees and something may have changed since the last refresh (a local create/drop/restore,
 * a replicated event, or a different collection count), so a burst of requests naming unknown
 * collections costs one list, not one each.
 */
export class CollectionLimits {
  private readonly byName = new Map<string, CachedCollection>();
  private generation = 1;
  private refreshedAt = 0;
  private refreshedCount = -1;

  constructor(
    private readonly list: () => readonly CollectionDims[],
    private readonly count: () => number,
  ) {}

  /** Something may have created or dropped a collection. */
  changed(): void {
    this.generation++;
  }

  private stale(): boolean {
    return this.refreshedAt !== this.generation || this.refreshedCount !== this.count();
  }

  private refresh(): void {
    this.byName.clear();
    this.refreshedCount = this.count();
    for (const c of this.list()) this.byName.set(c.name, { id: c.id, dim: c.dim, maxAbsValue: maxAbsValueFor(c.dim) });
    this.refreshedAt = this.generation;
  }

  /** The limits of `name`, or null when the kernel does not know it (as of the last refresh). */
  get(name: string): CachedCollection | null {
    const hit = this.byName.get(name);
    if (hit !== undefined) return hit;
    if (this.stale()) this.refresh();
    return this.byName.get(name) ?? null;
  }

  /** Like get, for a cached entry the request disagrees with: re-read once if anything changed. */
  recheck(name: string): CachedCollection | null {
    if (this.stale()) this.refresh();
    return this.byName.get(name) ?? null;
  }
}
