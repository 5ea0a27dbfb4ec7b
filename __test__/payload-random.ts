// Seeded random payloads and filters for the filter-oracle test, plus a JSON writer that spells
// some integers as `1.0` / `2e0` (the same numbers to the contract; a different text on the wire).
import type { Json } from './filter-oracle';

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// Small pools, so that equality and range filters hit often; types overlap on purpose
// ("1" and 1 and true are different values to the filter language).
const NUMBERS = [-7, -2.5, -1, -0.5, 0, 0.25, 1, 1.5, 2, 3, 10, 42, 1000, 123_456_789, -0.001, 2.5e-8];
const STRINGS = ['red', 'green', 'blue', '', 'Red', '1', 'true', 'a.b', 'é', 'x y'];
const TOP_KEYS = ['a', 'b', 'c', 'n', 's', 'flag', 'tags', 'o', 'd', 'd.e', 'nul', 'empty'];
const SUB_KEYS = ['x', 'y', 'p', 'q', 'n', 'e'];
/** Paths a filter may name (top-level ones twice, as they are present most often): nested, through arrays, never present. */
export const PATHS = ['a', 'b', 'c', 'n', 's', 'flag', 'tags', 'a', 'b', 'c', 'n', 's', 'flag', 'tags', 'o', 'o.x', 'o.y', 'o.p', 'o.p.q', 'o.p.n', 'o.x.e', 'd', 'd.e', 'nul', 'empty', 'missing', 'o.missing.z', 'tags.0', 'a.x'];

export function scalar(g: Gen): number | string | boolean {
  const r = g.int(10);
  if (r < 5) return g.pick(NUMBERS);
  if (r < 8) return g.pick(STRINGS);
  return g.chance(0.5);
}

function value(g: Gen, level: number): Json {
  const r = g.int(20);
  if (r < 9) return scalar(g);
  if (r < 10) return null;
  if (r < 14) {
    const arr: Json[] = Array.from({ length: g.int(5) }, () => scalar(g));
    // Elements the filter language ignores inside arrays.
    if (g.chance(0.2)) arr.push(g.pick<Json>([null, [g.pick(NUMBERS)], { x: g.pick(STRINGS) }]));
    return arr;
  }
  return level < 3 ? object(g, level + 1, SUB_KEYS) : scalar(g);
}

function object(g: Gen, level: number, keys: readonly string[]): { [k: string]: Json } {
  const out: { [k: string]: Json } = {};
  const n = level === 1 ? 2 + g.int(6) : g.int(4);
  for (let i = 0; i < n; i++) out[g.pick(keys)] = value(g, level);
  return out;
}

/** A record's metadata: an object nested at most 3 levels deep, or (rarely) none at all. */
export function payload(g: Gen): { [k: string]: Json } | null {
  if (g.chance(0.05)) return null;
  return object(g, 1, TOP_KEYS);
}

/** Operators the generator used, so the test can insist that every one was exercised. */
export const used = new Map<string, number>();
const note = (op: string) => used.set(op, (used.get(op) ?? 0) + 1);

function pathClause(g: Gen): Json {
  const r = g.int(14);
  if (r === 0) {
    note('implicit $eq');
    return scalar(g);
  }
  if (r === 1) {
    // The 0.3.1 form: a range (or eq) without `$`.
    const lo = g.pick(NUMBERS);
    note('0.3.1 form');
    return g.chance(0.3) ? { eq: scalar(g) } : { gte: lo, lte: lo + g.pick([0, 1, 3, 50]) };
  }
  const ops: { [k: string]: Json } = {};
  const count = g.chance(0.2) ? 2 : 1;
  for (let i = 0; i < count; i++) {
    const op = g.pick(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists']);
    note(op);
    if (op === '$eq' || op === '$ne') ops[op] = scalar(g);
    else if (op === '$in' || op === '$nin') ops[op] = Array.from({ length: g.int(5) }, () => scalar(g));
    else if (op === '$exists') ops[op] = g.chance(0.5);
    else ops[op] = g.pick(NUMBERS);
  }
  return ops;
}

/** A random valid filter, composed at most 3 levels deep. */
export function filter(g: Gen, level = 0): { [k: string]: Json } {
  const r = level >= 3 ? g.int(5) : g.int(10);
  if (r === 0 && g.chance(0.1)) {
    note('{}');
    return {};
  }
  if (r <= 4) {
    const out: { [k: string]: Json } = {};
    const n = g.chance(0.2) ? 2 : 1;
    for (let i = 0; i < n; i++) out[g.pick(PATHS)] = pathClause(g);
    if (Object.keys(out).length > 1) note('implicit $and');
    return out;
  }
  if (r <= 6) {
    const op = r === 5 ? '$and' : '$or';
    note(op);
    return { [op]: Array.from({ length: 1 + g.int(3) }, () => filter(g, level + 1)) };
  }
  if (r <= 8) {
    note('$not');
    return { $not: filter(g, level + 1) };
  }
  // A path clause next to a composite in the same object: AND of both.
  note('mixed keys');
  return { [g.pick(PATHS)]: pathClause(g), $or: [filter(g, level + 1), filter(g, level + 1)] };
}

/** JSON text in which some integral numbers are spelled `N.0` or `Ne0`. */
export function writeJson(v: Json, g: Gen): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Math.abs(v) < 1e15 && g.chance(0.3)) return g.chance(0.5) ? `${v}.0` : `${v}e0`;
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => writeJson(x, g)).join(',')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${writeJson(x, g)}`).join(',')}}`;
  return JSON.stringify(v);
}
