// Runs several contenders over the same queries, interleaved in blocks and repeated, so that load
// from other processes on a shared machine falls on all of them alike; reports recall@k against a
// ground truth and the median QPS over the repetitions.
import { median } from './data';
import { hitsOf } from './filter-data';

/** Answers query `q` (an index into the query list) with dataset indices, best first. */
export type SearchFn = (q: number) => Promise<ArrayLike<number>> | ArrayLike<number>;

export interface Contender {
  /** e.g. "valori l2", "hnswlib-node", "chroma http". */
  series: string;
  /** The filter's name ("1%", …) or "none". */
  filter: string;
  ef: number | null;
  search: SearchFn;
  /** k ids per query; null: recall not measured. */
  truth: Uint32Array | null;
  /** Queries per repetition (the first `count` of the list). */
  count: number;
  /** Queries run back to back before the next contender's turn. */
  perBlock: number;
  /** Requests in flight at once (HTTP clients); 1 = one query per call, awaited. */
  concurrency?: number;
}

export interface Point {
  series: string;
  filter: string;
  ef: number | null;
  recall: number | null;
  /** Median over the repetitions. */
  qps: number;
  qpsReps: number[];
  queries: number;
}

async function runBlock(c: Contender, from: number, to: number): Promise<ArrayLike<number>[]> {
  const out: ArrayLike<number>[] = new Array(to - from);
  const conc = c.concurrency ?? 1;
  if (conc <= 1) {
    for (let q = from; q < to; q++) out[q - from] = await c.search(q);
    return out;
  }
  let next = from;
  const worker = async () => {
    while (next < to) {
      const q = next++;
      out[q - from] = await c.search(q);
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, to - from) }, worker));
  return out;
}

/** `reps` repetitions; in each, contenders take turns, one block each, until all are done. */
export async function race(contenders: Contender[], reps: number, k: number, log: (s: string) => void): Promise<Point[]> {
  for (const c of contenders) await runBlock(c, 0, Math.min(c.perBlock, c.count)); // warm-up
  const secs = contenders.map(() => [] as number[]);
  const hits = contenders.map(() => 0);
  for (let r = 0; r < reps; r++) {
    const spent = contenders.map(() => 0);
    const next = contenders.map(() => 0);
    while (contenders.some((c, i) => next[i] < c.count)) {
      for (const [i, c] of contenders.entries()) {
        if (next[i] >= c.count) continue;
        const end = Math.min(c.count, next[i] + c.perBlock);
        const t = process.hrtime.bigint();
        const found = await runBlock(c, next[i], end);
        spent[i] += Number(process.hrtime.bigint() - t) / 1e9;
        if (c.truth) found.forEach((ids, j) => (hits[i] += hitsOf(c.truth!, k, next[i] + j, ids)));
        next[i] = end;
      }
    }
    spent.forEach((s, i) => secs[i].push(s));
  }
  return contenders.map((c, i) => {
    const qpsReps = secs[i].map((s) => c.count / s);
    const p: Point = {
      series: c.series,
      filter: c.filter,
      ef: c.ef,
      recall: c.truth ? hits[i] / (reps * c.count * k) : null,
      qps: median(qpsReps),
      qpsReps,
      queries: c.count,
    };
    log(`  ${p.series} filter ${p.filter} ef ${p.ef ?? '-'}: recall ${p.recall?.toFixed(4) ?? '-'}, ${p.qps.toFixed(0)} QPS (${qpsReps.map((x) => x.toFixed(0)).join(' / ')})`);
    return p;
  });
}

/**
 * QPS of `series` under `filter` at `recall`, interpolated on its curve (log QPS, linear recall).
 * Below the curve's lowest recall: that point's QPS with `atLeast` (the peer would be at least
 * that fast at the lower recall); above its highest: null.
 */
export function qpsAt(points: Point[], series: string, filter: string, recall: number): { qps: number; atLeast: boolean } | null {
  const c = points.filter((p) => p.series === series && p.filter === filter && p.recall !== null).sort((a, b) => a.recall! - b.recall! || b.qps - a.qps);
  if (c.length === 0 || recall > c[c.length - 1].recall!) return null;
  if (recall <= c[0].recall!) return { qps: c[0].qps, atLeast: recall < c[0].recall! };
  for (let i = 1; i < c.length; i++) {
    const [a, b] = [c[i - 1], c[i]];
    if (a.recall! <= recall && recall <= b.recall!) {
      const f = b.recall === a.recall ? 0 : (recall - a.recall!) / (b.recall! - a.recall!);
      return { qps: Math.exp(Math.log(a.qps) + f * (Math.log(b.qps) - Math.log(a.qps))), atLeast: false };
    }
  }
  return null;
}
