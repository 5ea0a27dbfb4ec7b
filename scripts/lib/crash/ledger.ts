// The client-side ledger of the crash battery: every write that was sent, whether it was
// acknowledged (2xx) or left unanswered by the kill, and the exact vector of every record.
//
// Vectors identify themselves: component 1 and 2 encode a unique key (12 bits each), so a
// record found on the server can be traced back to the request that sent it, and the other
// components are key-derived noise. Every component is a multiple of 1/256, so it is exact in
// Q16.16 and an identical stored vector has squared distance exactly 0.

/** Keys fit in 24 bits (components 1 and 2). */
export const MAX_KEY = 1 << 24;
const STEP = 1 / 256;

export function vectorFor(key: number, kind: number, dim: number): number[] {
  if (dim < 3) throw new Error('the crash battery needs dim >= 3');
  if (key >= MAX_KEY) throw new Error(`key ${key} does not fit in 24 bits`);
  const v = new Array<number>(dim);
  v[0] = kind;
  v[1] = (key % 4096) * STEP - 8;
  v[2] = (Math.floor(key / 4096) % 4096) * STEP - 8;
  let x = (Math.imul(key, 2_654_435_761) ^ 0x5bd1e995) >>> 0;
  for (let i = 3; i < dim; i++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    v[i] = ((x >>> 16) % 4096) * STEP - 8;
  }
  return v;
}

/** The key a vector made by `vectorFor` carries, or null if it cannot be one of ours. */
export function keyOf(v: readonly number[]): number | null {
  const a = (v[1] + 8) / STEP;
  const b = (v[2] + 8) / STEP;
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= 4096 || b >= 4096) return null;
  return a + 4096 * b;
}

export type RecState =
  /** Insert sent, no answer yet (or never: unanswered until the next verification). */
  | 'pending'
  | 'live'
  /** A delete or soft delete of it was sent and not answered yet. */
  | 'deleting'
  | 'deleted'
  /** An unanswered insert that recovery did not keep. */
  | 'lost';

export type ReqKind = 'insert' | 'batch' | 'delete' | 'soft';

export interface Rec {
  key: number;
  vec: number[];
  id: number | null;
  state: RecState;
  /** 'soft' or 'hard' once a delete was sent. */
  deleteKind: 'hard' | 'soft' | null;
  /** The insert request. */
  insert: Req;
}

export interface Req {
  kind: ReqKind;
  recs: Rec[];
  status: 'sent' | 'acked' | 'unanswered' | 'rejected';
  /** HTTP status or error text of a non-2xx / failed request. */
  detail?: string;
}

export interface LedgerCounts {
  ackedInserts: number;
  ackedBatches: number;
  ackedBatchRecords: number;
  ackedDeletes: number;
  ackedSoftDeletes: number;
  unanswered: number;
  unansweredApplied: number;
  unansweredDropped: number;
  rejected: number;
}

export class Ledger {
  nextKey = 0;
  readonly recs = new Map<number, Rec>();
  /** Live, acknowledged, not targeted by a delete: candidates for deletes. */
  private readonly deletable: Rec[] = [];
  /** Requests since the last verification that got no 2xx. */
  open: Req[] = [];
  /** Records whose state changed since the last verification (checked one by one). */
  touched: Rec[] = [];
  /** Exact event-log height the server must report after the next recovery. */
  height = 0;
  live = 0;
  softDeleted = 0;
  readonly ids = new Map<number, Rec>();
  readonly counts: LedgerCounts = {
    ackedInserts: 0,
    ackedBatches: 0,
    ackedBatchRecords: 0,
    ackedDeletes: 0,
    ackedSoftDeletes: 0,
    unanswered: 0,
    unansweredApplied: 0,
    unansweredDropped: 0,
    rejected: 0,
  };

  constructor(readonly dim: number) {}

  newInsert(kind: 'insert' | 'batch', n: number): Req {
    const req: Req = { kind, recs: [], status: 'sent' };
    for (let i = 0; i < n; i++) {
      const key = this.nextKey++;
      const rec: Rec = { key, vec: vectorFor(key, kind === 'insert' ? 1 : 2, this.dim), id: null, state: 'pending', deleteKind: null, insert: req };
      this.recs.set(key, rec);
      req.recs.push(rec);
    }
    return req;
  }

  /** Takes a random live record out of the delete candidates, or null when there is none. */
  newDelete(kind: 'delete' | 'soft', pick: (n: number) => number): Req | null {
    if (this.deletable.length === 0) return null;
    const i = pick(this.deletable.length);
    const rec = this.deletable[i];
    this.deletable[i] = this.deletable[this.deletable.length - 1];
    this.deletable.pop();
    rec.state = 'deleting';
    rec.deleteKind = kind === 'soft' ? 'soft' : 'hard';
    return { kind, recs: [rec], status: 'sent' };
  }

  private bindId(rec: Rec, id: number): void {
    const prev = this.ids.get(id);
    if (prev !== undefined && prev !== rec) throw new Error(`id ${id} handed out twice: keys ${prev.key} and ${rec.key}`);
    rec.id = id;
    this.ids.set(id, rec);
  }

  private makeLive(rec: Rec): void {
    rec.state = 'live';
    this.live++;
    this.deletable.push(rec);
    this.touched.push(rec);
  }

  private makeDeleted(rec: Rec): void {
    rec.state = 'deleted';
    this.live--;
    if (rec.deleteKind === 'soft') this.softDeleted++;
    this.touched.push(rec);
  }

  /** A 2xx: `ids` are the ids the server returned for an insert or batch. */
  acked(req: Req, ids: number[] | null): void {
    req.status = 'acked';
    this.height++;
    if (req.kind === 'insert' || req.kind === 'batch') {
      if (ids === null || ids.length !== req.recs.length) throw new Error(`${req.kind} of ${req.recs.length} acknowledged with ids ${JSON.stringify(ids)}`);
      req.recs.forEach((r, i) => {
        this.bindId(r, ids[i]);
        this.makeLive(r);
      });
      if (req.kind === 'insert') this.counts.ackedInserts++;
      else {
        this.counts.ackedBatches++;
        this.counts.ackedBatchRecords += req.recs.length;
      }
    } else {
      this.makeDeleted(req.recs[0]);
      if (req.kind === 'soft') this.counts.ackedSoftDeletes++;
      else this.counts.ackedDeletes++;
    }
  }

  /** No answer (network error) or a non-2xx: the outcome is decided at the next verification. */
  unanswered(req: Req, detail: string, rejected: boolean): void {
    req.status = rejected ? 'rejected' : 'unanswered';
    req.detail = detail;
    this.open.push(req);
    this.counts.unanswered++;
    if (rejected) this.counts.rejected++;
  }

  /** Recovery kept an unanswered insert (with these ids) or applied an unanswered delete. */
  resolveApplied(req: Req, ids: number[] | null): void {
    this.height++;
    this.counts.unansweredApplied++;
    if (req.kind === 'insert' || req.kind === 'batch') {
      req.recs.forEach((r, i) => {
        this.bindId(r, ids![i]);
        this.makeLive(r);
      });
    } else this.makeDeleted(req.recs[0]);
  }

  /** Recovery did not keep it: an insert is lost for good; a deleted record is live again. */
  resolveDropped(req: Req): void {
    this.counts.unansweredDropped++;
    if (req.kind === 'insert' || req.kind === 'batch') {
      for (const r of req.recs) r.state = 'lost';
    } else {
      const r = req.recs[0];
      r.state = 'live';
      r.deleteKind = null;
      this.deletable.push(r);
      this.touched.push(r);
    }
  }

  /** Called after a successful verification. */
  settle(): void {
    this.open = [];
    this.touched = [];
  }

  /** A few random live records and a few deleted ones, for exact k=1 searches. */
  sample(n: number, pick: (n: number) => number): { live: Rec[]; deleted: Rec[] } {
    const live: Rec[] = [];
    for (let i = 0; i < n && this.deletable.length > 0; i++) live.push(this.deletable[pick(this.deletable.length)]);
    const deleted: Rec[] = [];
    const keys = this.nextKey;
    for (let tries = 0; tries < n * 20 && deleted.length < n && keys > 0; tries++) {
      const r = this.recs.get(pick(keys));
      if (r?.state === 'deleted') deleted.push(r);
    }
    return { live, deleted };
  }
}
