// Checks a recovered server against the ledger.
//
// The whole live set is read back exactly with dim+1 searches: k = live+1 nearest to the origin
// and to C·e_j for each axis j returns every live record with its squared distances d_0 and d_j,
// and v_j = (d_0 + C² - d_j) / 2C. All components are multiples of 1/256 and the scores are the
// exact integer distances / 2^32, so this arithmetic is exact in doubles: a record whose stored
// vector differs in any bit is caught, and so is any record the ledger never sent.
import type { Ledger, Rec } from './ledger';
import { keyOf } from './ledger';
import { ok } from './server';

const C = 16;

export class LedgerMismatch extends Error {
  override name = 'LedgerMismatch';
}

function fail(msg: string): never {
  throw new LedgerMismatch(msg);
}

export interface Health {
  live: number;
  slotsUsed: number;
  height: number;
}

export interface VerifyResult extends Health {
  /** First sequence number still in the log file (> 1 after a trim). */
  firstSeq: number;
  exactSearches: number;
  applied: number;
  dropped: number;
}

/** Every live record's id and exact vector, read back through search alone. */
export async function readLiveSet(base: string, dim: number, live: number): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  if (live === 0) return out;
  if (live + 1 > 100_000) fail(`${live} live records: reading them back needs k = ${live + 1}, above VALORI_MAX_K's ceiling of 100000 (use fewer iterations)`);
  const dists: Map<number, number>[] = [];
  for (let a = 0; a <= dim; a++) {
    const query = new Array<number>(dim).fill(0);
    if (a > 0) query[a - 1] = C;
    const r = await ok(base, '/search', { query, k: live + 1 });
    const m = new Map<number, number>();
    for (const h of r.results as { id: number; score: number }[]) m.set(h.id, h.score);
    if (m.size !== r.results.length) fail(`search returned an id twice (anchor ${a})`);
    if (m.size !== live) fail(`search with k=${live + 1} returned ${m.size} records but /health says ${live} are live`);
    dists.push(m);
  }
  for (const [id, d0] of dists[0]) {
    const v = new Array<number>(dim);
    for (let j = 0; j < dim; j++) {
      const dj = dists[j + 1].get(id);
      if (dj === undefined) fail(`record ${id} missing from the search around axis ${j}`);
      v[j] = (d0 + C * C - dj) / (2 * C);
    }
    out.set(id, v);
  }
  return out;
}

async function health(base: string): Promise<Health> {
  const h = await ok(base, '/health');
  if (h.persistence !== 'event_log') fail(`/health persistence is ${h.persistence}, expected event_log`);
  if (h.read_only !== false) fail('/health says read_only after a restart');
  return { live: h.records.live, slotsUsed: h.records.slots_used, height: h.event_log_height };
}

function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Decides every unanswered request from what recovery kept, then checks every record. */
export async function verifyAgainstLedger(base: string, ledger: Ledger, pick: (n: number) => number, maxExact = 100): Promise<VerifyResult> {
  const h = await health(base);
  const liveSet = await readLiveSet(base, ledger.dim, h.live);
  const idByKey = new Map<number, number>();
  for (const [id, v] of liveSet) {
    const key = keyOf(v);
    const rec = key === null ? undefined : ledger.recs.get(key);
    if (rec === undefined) fail(`record ${id} = [${v}] was never sent`);
    if (!same(v, rec.vec)) fail(`record ${id} (key ${key}) = [${v}], sent [${rec.vec}]: not bit-identical`);
    if (idByKey.has(rec.key)) fail(`key ${rec.key} stored twice (ids ${idByKey.get(rec.key)} and ${id})`);
    idByKey.set(rec.key, id);
  }

  let applied = 0;
  let dropped = 0;
  for (const req of ledger.open) {
    if (req.kind === 'insert' || req.kind === 'batch') {
      const ids = req.recs.map((r) => idByKey.get(r.key));
      const present = ids.filter((id) => id !== undefined).length;
      if (present === 0) {
        ledger.resolveDropped(req);
        dropped++;
      } else if (present === req.recs.length) {
        const got = ids as number[];
        for (let i = 1; i < got.length; i++) {
          if (got[i] !== got[0] + i) fail(`unanswered batch of ${got.length} recovered with non-consecutive ids ${got.join(',')}`);
        }
        ledger.resolveApplied(req, got);
        applied++;
      } else {
        fail(`unanswered ${req.kind} of ${req.recs.length} recovered partially: ${present} present (${req.detail})`);
      }
    } else {
      const rec = req.recs[0];
      const id = idByKey.get(rec.key);
      if (id === undefined) {
        ledger.resolveApplied(req, null);
        applied++;
      } else {
        if (id !== rec.id) fail(`key ${rec.key} was id ${rec.id}, recovered as ${id}`);
        ledger.resolveDropped(req);
        dropped++;
      }
    }
  }

  let live = 0;
  for (const rec of ledger.recs.values()) {
    const id = idByKey.get(rec.key);
    switch (rec.state) {
      case 'live':
        live++;
        if (id === undefined) fail(`acknowledged record ${rec.id} (key ${rec.key}, ${rec.insert.kind}) is missing after recovery`);
        if (id !== rec.id) fail(`acknowledged record ${rec.id} (key ${rec.key}) came back as id ${id}`);
        break;
      case 'deleted':
        if (id !== undefined) fail(`record ${rec.id} (key ${rec.key}) was deleted (${rec.deleteKind}) but is live again as ${id}`);
        if (liveSet.has(rec.id!)) fail(`deleted id ${rec.id} is live again with another vector`);
        break;
      case 'lost':
        if (id !== undefined) fail(`unanswered insert (key ${rec.key}) dropped at an earlier recovery is present as ${id}`);
        break;
      default:
        fail(`record key ${rec.key} is still ${rec.state} after verification`);
    }
  }
  if (live !== ledger.live) fail(`ledger bookkeeping: ${live} live records, counter says ${ledger.live}`);
  if (live !== liveSet.size) fail(`${liveSet.size} records live on the server, ledger expects ${live}`);
  if (h.slotsUsed - h.live !== ledger.softDeleted) {
    fail(`${h.slotsUsed - h.live} soft-deleted records counted by the server, ledger expects ${ledger.softDeleted}`);
  }
  if (h.height !== ledger.height) fail(`event-log height ${h.height}, ledger expects exactly ${ledger.height}`);
  const proof = await ok(base, '/v1/proof/event-log');
  if (proof.committed_height !== ledger.height) fail(`proof committed_height ${proof.committed_height} != ${ledger.height}`);

  // The literal check, record by record: k=1 with the exact vector finds the same id at score 0,
  // and a deleted record's vector never finds its id.
  const exact: Rec[] = [];
  const touched = ledger.touched;
  for (let i = 0; i < Math.min(maxExact, touched.length); i++) exact.push(touched[touched.length <= maxExact ? i : pick(touched.length)]);
  const sample = ledger.sample(20, pick);
  exact.push(...sample.live, ...sample.deleted);
  for (const rec of exact) {
    const r = await ok(base, '/search', { query: rec.vec, k: 1 });
    const top = r.results[0] as { id: number; score: number } | undefined;
    if (rec.state === 'live') {
      if (top?.id !== rec.id || top.score !== 0) fail(`k=1 search for record ${rec.id} returned ${JSON.stringify(r.results)}`);
    } else if (rec.state === 'deleted') {
      if (top !== undefined && (top.id === rec.id || top.score === 0)) fail(`deleted record ${rec.id} found by k=1 search: ${JSON.stringify(top)}`);
    }
  }
  return { ...h, firstSeq: proof.first_seq, exactSearches: exact.length, applied, dropped };
}
