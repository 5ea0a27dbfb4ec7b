// Loads a build of the native addon for the benchmarks and gives it one shape, so one script can
// measure two builds side by side in the same run (an old commit's loader next to this one's).
// Builds from before collections take no collection argument and answer writes with bare ids;
// builds with collections take the collection first and answer a WriteResult. The benchmarks
// only use the `default` collection, which every build has.
import path from 'node:path';
import type * as Native from '../../native/index.js';

type AnyKernel = Record<string, (...args: unknown[]) => unknown>;

export interface BenchKernel {
  readonly label: string;
  /** The addon's own object, for calls that take no collection (snapshots, recovery, proofs). */
  readonly raw: Native.Kernel;
  insert(values: Float32Array): Promise<number>;
  insertBatch(values: Float32Array, count: number): Promise<void>;
  search(query: Float32Array, k: number, options?: { ef?: number; nprobe?: number }): Promise<Array<{ id: number; score: number }>>;
  stats(): Native.KernelStats;
  close(): void;
}

export interface BenchNative {
  readonly label: string;
  readonly collections: boolean;
  create(options: Native.KernelOptions): BenchKernel;
  open(options: Native.KernelOptions): Promise<BenchKernel>;
}

function wrap(label: string, k: AnyKernel, collections: boolean): BenchKernel {
  const pre = collections ? ['default'] : [];
  const idOf = (r: unknown): number => (collections ? (r as { ids: Uint32Array }).ids[0] : (r as number));
  return {
    label,
    raw: k as unknown as Native.Kernel,
    insert: async (values) => idOf(await k.insert(...pre, values)),
    insertBatch: async (values, count) => {
      await k.insertBatch(...pre, values, count);
    },
    search: (query, n, options) => k.search(...pre, query, n, options ?? null) as Promise<Array<{ id: number; score: number }>>,
    stats: () => k.stats() as Native.KernelStats,
    close: () => void k.close(),
  };
}

/** `loader`: a path to a generated loader (native/index.js of some checkout); default: this one. */
export function loadNative(loader?: string, label?: string): BenchNative {
  const file = path.resolve(loader ?? path.join(__dirname, '..', '..', 'native', 'index.js'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as { Kernel: new (o: unknown) => AnyKernel; openKernel(o: unknown): Promise<AnyKernel> };
  const collections = typeof (mod.Kernel.prototype as AnyKernel).listCollections === 'function';
  const name = label ?? file;
  return {
    label: name,
    collections,
    create: (o) => wrap(name, new mod.Kernel(o), collections),
    open: async (o) => wrap(name, await mod.openKernel(o), collections),
  };
}
