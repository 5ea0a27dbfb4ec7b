// The measures of scripts/bench-peers.ts, each over any contender (lib/peers-peer.ts): bulk load
// until searchable with the server's peak memory, search at 8 connections with recall, latency and
// CPU per request, durable single inserts in a closed loop, and kill -9 → first correct search.
import { median, percentile } from './data';
import { hitsOf } from './filter-data';
import type { Peer } from './peers-peer';
import { cpuMs, peakRssDuring, pollUntil, threadCpuMs, treeCpuMs, withTimeout } from './peers-proc';

export type Log = (s: string) => void;

export interface LoadFigure {
  /** Last batch acknowledged, s from the first request. */
  ackedS: number;
  /** Searchable: indexed (Qdrant) and the last record found by its own vector. */
  searchableS: number;
  peakRssMiB: number;
  startS: number;
  indexDetail?: unknown;
}

/**
 * Starts `peer` over an empty folder, creates the collection and loads rows [0, n) in batches,
 * then polls (every 50 ms, bounded) until it is searchable.
 */
export async function measureLoad(peer: Peer, n: number, batch: number, k: number, ef: number, deadlineMs: number): Promise<LoadFigure> {
  await peer.wipe();
  const startS = (await peer.start()) / 1000;
  await peer.create(ef);
  const pid = peer.pid();
  const last = peer.s.rows(n - 1);
  let indexDetail: unknown;
  const { value, peakMiB } = await peakRssDuring(pid, async () => {
    const t0 = performance.now();
    for (let s = 0; s < n; s += batch) await peer.insertBatch(s, Math.min(n, s + batch));
    const acked = performance.now() - t0;
    const ok = await pollUntil(async () => {
      const ix = await peer.indexed();
      indexDetail = ix.detail;
      return ix.done && (await peer.search(last, k, Math.max(ef, 64))).includes(n - 1);
    }, 50, deadlineMs);
    if (!ok) throw new Error(`${peer.name}: not searchable ${deadlineMs / 1000} s after loading (${JSON.stringify(indexDetail)})`);
    return { acked, searchable: performance.now() - t0 };
  });
  const count = await peer.count();
  if (count < n) throw new Error(`${peer.name} holds ${count} records after loading ${n}`);
  return { ackedS: value.acked / 1000, searchableS: value.searchable / 1000, peakRssMiB: peakMiB, startS, indexDetail };
}

export interface SearchPoint {
  peer: string;
  /** The ef asked for; for a peer that reads it from its configuration, the configured one. */
  ef: number;
  recall: number;
  qps: number;
  qpsReps: number[];
  p50Ms: number;
  p99Ms: number;
  /** CPU of the whole server process (and its children) per request. */
  cpuMsPerReq: number;
  /** Valori: CPU of the main (event-loop) thread per request. */
  mainMsPerReq?: number;
  /** Valori: CPU per request by thread name. */
  threadsMsPerReq?: Record<string, number>;
  queries: number;
}

interface Tally {
  secs: number[];
  lat: number[];
  hits: number;
  cpu: number;
  main: number;
  threads: Record<string, number>;
  requests: number;
}

/** One block of queries [from, to) at `conc` requests in flight; latencies appended to `lat`. */
async function block(peer: Peer, qs: string[], from: number, to: number, ef: number, k: number, conc: number, lat: number[] | null): Promise<number[][]> {
  const out: number[][] = new Array(to - from);
  let next = from;
  const worker = async () => {
    while (next < to) {
      const q = next++;
      const t = performance.now();
      out[q - from] = await peer.search(qs[q], k, ef);
      lat?.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, to - from) }, worker));
  return out;
}

/**
 * Searches `peer` with 8-way blocks over `qs` for `seconds` at `ef`, unmeasured. A server just
 * loaded answers its first seconds of searches at half speed or less (JIT, first touches of the
 * new index's pages), so every contender gets the same warm-up before the ef sweep.
 */
export async function warmUp(peer: Peer, qs: string[], ef: number, k: number, conc: number, seconds: number): Promise<void> {
  const end = performance.now() + seconds * 1000;
  for (let s = 0; performance.now() < end; s = (s + 200) % qs.length) await block(peer, qs, s, Math.min(qs.length, s + 200), ef, k, conc, null);
}

const addThreads = (acc: Record<string, number>, a: Record<string, number>, b: Record<string, number>) => {
  for (const [name, v] of Object.entries(b)) acc[name] = (acc[name] ?? 0) + v - (a[name] ?? 0);
};

/**
 * Every peer over the same `count` queries at one ef: a warm-up block each, then `reps`
 * repetitions in which the peers take turns one block at a time (so load from elsewhere falls on
 * all alike). CPU is read from /proc before and after each of a peer's blocks.
 */
export async function searchRace(peers: Peer[], qs: string[], truth: Uint32Array, count: number, ef: number, k: number, conc: number, reps: number, perBlock: number, log: Log): Promise<SearchPoint[]> {
  for (const p of peers) await block(p, qs, 0, Math.min(perBlock, count), ef, k, conc, null);
  const tally: Tally[] = peers.map(() => ({ secs: [], lat: [], hits: 0, cpu: 0, main: 0, threads: {}, requests: 0 }));
  for (let r = 0; r < reps; r++) {
    const spent = peers.map(() => 0);
    // The order rotates per repetition so no peer always follows the same one.
    const order = peers.map((_, i) => (i + r) % peers.length);
    for (let s = 0; s < count; s += perBlock) {
      const e = Math.min(count, s + perBlock);
      for (const i of order) {
        const p = peers[i];
        const t = tally[i];
        const pid = p.pid();
        const valori = p.name === 'valori';
        const cpu0 = treeCpuMs(pid);
        const main0 = valori ? cpuMs(pid, pid) : 0;
        const th0 = valori ? threadCpuMs(pid) : {};
        const t0 = performance.now();
        const found = await block(p, qs, s, e, ef, k, conc, t.lat);
        spent[i] += (performance.now() - t0) / 1000;
        t.cpu += treeCpuMs(pid) - cpu0;
        if (valori) {
          t.main += cpuMs(pid, pid) - main0;
          addThreads(t.threads, th0, threadCpuMs(pid));
        }
        t.requests += e - s;
        found.forEach((ids, j) => (t.hits += hitsOf(truth, k, s + j, ids)));
      }
    }
    spent.forEach((x, i) => tally[i].secs.push(x));
  }
  return peers.map((p, i) => {
    const t = tally[i];
    const qpsReps = t.secs.map((x) => count / x);
    const pt: SearchPoint = {
      peer: p.name,
      ef,
      recall: t.hits / (reps * count * k),
      qps: median(qpsReps),
      qpsReps,
      p50Ms: percentile(t.lat, 50),
      p99Ms: percentile(t.lat, 99),
      cpuMsPerReq: t.cpu / t.requests,
      queries: count,
    };
    if (p.name === 'valori') {
      pt.mainMsPerReq = t.main / t.requests;
      pt.threadsMsPerReq = Object.fromEntries(Object.entries(t.threads).filter(([, v]) => v > 0).map(([n, v]) => [n, v / t.requests]));
    }
    const cpu = pt.mainMsPerReq === undefined ? '' : `, main thread ${pt.mainMsPerReq.toFixed(3)} ms/req`;
    log(`  ${p.name} ef ${ef}: recall ${pt.recall.toFixed(4)}, ${pt.qps.toFixed(0)} QPS (${qpsReps.map((x) => x.toFixed(0)).join(' / ')}), p50 ${pt.p50Ms.toFixed(2)} p99 ${pt.p99Ms.toFixed(2)} ms, CPU ${pt.cpuMsPerReq.toFixed(3)} ms/req${cpu}`);
    return pt;
  });
}

export interface InsertFigure {
  rate: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Seconds the server stayed busy after the run (work it deferred); undefined when over 120 s. */
  settleS?: number;
}

let insertKey = 10_000_000;

/**
 * `clients` closed-loop clients, one durable single insert in flight each, for `seconds` after a
 * 0.5 s warm-up, at most `maxCount` inserts in all (whichever ends first).
 */
export async function insertLoop(peer: Peer, vecs: string[], clients: number, seconds: number, maxCount: number): Promise<InsertFigure> {
  const warmEnd = performance.now() + 500;
  const end = warmEnd + seconds * 1000;
  const lat: number[] = [];
  let errors = 0;
  let issued = 0;
  let firstError = '';
  const client = async () => {
    while (performance.now() < end && issued < maxCount) {
      const key = insertKey++;
      issued++;
      const t0 = performance.now();
      try {
        await peer.insertOne(key, vecs[key % vecs.length]);
      } catch (e) {
        errors++;
        firstError ||= (e as Error).message.slice(0, 300);
        continue;
      }
      const t1 = performance.now();
      if (t0 >= warmEnd && t1 <= end) lat.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  if (errors > 0) throw new Error(`${peer.name}: ${errors} inserts failed, first: ${firstError}`);
  // Stopped early by the count bound: the window is what was actually measured.
  const window = Math.max(0.001, (Math.min(end, performance.now()) - warmEnd) / 1000);
  return { rate: lat.length / window, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), errors };
}

export interface RestartFigure {
  /** Spawn → first search whose top-k equals the expected set. */
  firstCorrectS: number;
  /** Valori: the `recovered from …` log line of this start. */
  recovery?: string;
}

const sameSet = (a: number[], b: number[]) => a.length === b.length && a.every((x) => b.includes(x));

/**
 * kill -9, spawn over the same folder, then one search every 10 ms (each bounded to 5 s) until
 * one answers `expected` (the peer's own answer before the kill) or `exact` (the true top-k).
 */
export async function measureRestart(peer: Peer, q: string, expected: number[], exact: number[], k: number, ef: number, deadlineMs: number): Promise<RestartFigure> {
  await peer.kill9();
  const p = peer.spawnOnly();
  let last: number[] = [];
  const ok = await pollUntil(async () => {
    if (!p.alive()) return true;
    last = await withTimeout(peer.search(q, k, ef), 5000, 'search');
    return sameSet(last, expected) || sameSet(last, exact);
  }, 10, deadlineMs);
  const ms = performance.now() - p.spawnedAt;
  if (!p.alive()) throw new Error(`${peer.name} exited during recovery (see ${peer.log})`);
  if (!ok) throw new Error(`${peer.name}: no correct search within ${deadlineMs / 1000} s of the restart (last answer ${JSON.stringify(last)}, expected ${JSON.stringify(expected)})`);
  return { firstCorrectS: ms / 1000 };
}
