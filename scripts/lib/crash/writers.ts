// Concurrent closed-loop writers for the crash battery. Each writer sends one request at a
// time (single insert, batch, delete or soft delete of an acknowledged id) and books the result
// in the ledger. A writer stops at its first network failure (the server is gone) or when told.
import type { Ledger, Req } from './ledger';
import { call, sleep } from './server';

export interface WriterMix {
  /** Probabilities of a batch, a hard delete and a soft delete; the rest are single inserts. */
  batch: number;
  del: number;
  soft: number;
  /** Largest ordinary batch; with probability `bigBatch` a batch has 100..300 rows instead. */
  maxBatch: number;
  bigBatch: number;
}

export const DEFAULT_MIX: WriterMix = { batch: 0.2, del: 0.1, soft: 0.1, maxBatch: 16, bigBatch: 0.1 };
// About 0.5 rows inserted per 0.7 records deleted.
const SHRINK_MIX: WriterMix = { batch: 0.1, del: 0.45, soft: 0.25, maxBatch: 4, bigBatch: 0 };

export interface WriterRun {
  /** Asks the writers to stop sending; resolves when every request has an outcome. */
  stop(): Promise<void>;
  /** Non-2xx answers seen. */
  rejections(): string[];
}

export interface MaintenanceRun {
  stop(): Promise<void>;
  saves: number;
  trims: number;
}

/**
 * Sends one write and books it: 'acked', 'failed' (no answer: the server is gone) or the detail
 * of a non-2xx answer.
 */
export async function sendWrite(base: string, ledger: Ledger, req: Req): Promise<string> {
  let path: string;
  let body: unknown;
  switch (req.kind) {
    case 'insert':
      path = '/records';
      body = { values: req.recs[0].vec };
      break;
    case 'batch':
      path = '/v1/vectors/batch_insert';
      body = { batch: req.recs.map((r) => r.vec) };
      break;
    case 'delete':
      path = '/v1/delete';
      body = { id: req.recs[0].id };
      break;
    case 'soft':
      path = '/v1/soft-delete';
      body = { id: req.recs[0].id };
      break;
  }
  let r;
  try {
    r = await call(base, path, body);
  } catch (err) {
    ledger.unanswered(req, String((err as Error).cause ?? err), false);
    return 'failed';
  }
  if (r.status >= 200 && r.status < 300) {
    const ids = req.kind === 'insert' ? [r.json.id as number] : req.kind === 'batch' ? (r.json.ids as number[]) : null;
    ledger.acked(req, ids);
    return 'acked';
  }
  const detail = `${req.kind} answered ${r.status} ${JSON.stringify(r.json)}`;
  ledger.unanswered(req, detail, true);
  return detail;
}

/**
 * Starts `n` writers against `base`. `random` is the seeded generator; `keepLiveBelow` shifts the
 * mix towards deletes when the ledger holds more live records than that (bounds long runs).
 */
export function startWriters(base: string, ledger: Ledger, n: number, random: () => number, mix = DEFAULT_MIX, keepLiveBelow = Infinity): WriterRun {
  let stopped = false;
  const rejections: string[] = [];
  const pick = (m: number) => Math.floor(random() * m);

  const send = async (req: Req): Promise<boolean> => {
    const outcome = await sendWrite(base, ledger, req);
    if (outcome !== 'acked' && outcome !== 'failed') rejections.push(outcome);
    return outcome !== 'failed';
  };

  const writer = async () => {
    while (!stopped) {
      // Above the cap: mostly deletes and only small batches, so the live set shrinks.
      const m = ledger.live > keepLiveBelow ? SHRINK_MIX : mix;
      const x = random();
      let req: Req | null = null;
      if (x < m.del) req = ledger.newDelete('delete', pick);
      else if (x < m.del + m.soft) req = ledger.newDelete('soft', pick);
      else if (x < m.del + m.soft + m.batch) {
        const size = random() < m.bigBatch ? 100 + pick(201) : 2 + pick(m.maxBatch - 1);
        req = ledger.newInsert('batch', size);
      }
      req ??= ledger.newInsert('insert', 1);
      if (!(await send(req))) return;
    }
  };

  const all = Promise.all(Array.from({ length: n }, writer)).then(() => undefined);
  // A ledger inconsistency rejects `all`; it is reported by stop(), not as an unhandled rejection.
  all.catch(() => {});
  return {
    stop: async () => {
      stopped = true;
      await all;
    },
    rejections: () => rejections,
  };
}

/**
 * Snapshot saves and log trims at random moments while the writers run. Their outcome does not
 * change the logical state, so they are not booked; a kill may land in the middle of either.
 */
export function startMaintenance(base: string, random: () => number, rounds: number, maxGapMs: number): MaintenanceRun {
  let stopped = false;
  let failure: Error | null = null;
  const run: MaintenanceRun = { saves: 0, trims: 0, stop: async () => {} };
  const loop = (async () => {
    for (let i = 0; i < rounds && !stopped; i++) {
      await sleep(random() * maxGapMs);
      if (stopped) return;
      try {
        const s = await call(base, '/v1/snapshot/save', {});
        if (s.status !== 200) throw new Error(`snapshot/save answered ${s.status}: ${JSON.stringify(s.json)}`);
        run.saves++;
        if (random() < 0.8) {
          const t = await call(base, '/v1/event-log/trim', {});
          if (t.status !== 200) throw new Error(`event-log/trim answered ${t.status}: ${JSON.stringify(t.json)}`);
          run.trims++;
        }
      } catch (err) {
        // A network failure is the kill; a non-2xx is a finding, reported by stop().
        if (!(err instanceof TypeError) && !(err instanceof DOMException)) failure = err as Error;
        return;
      }
    }
  })();
  run.stop = async () => {
    stopped = true;
    await loop;
    if (failure) throw failure;
  };
  return run;
}
