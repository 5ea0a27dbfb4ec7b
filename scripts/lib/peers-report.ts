// Tables of scripts/bench-peers.ts: the summary in the shape of the peers table (Valori | Chroma |
// Qdrant | Valori/Qdrant), medians over the repetitions, ratios within the run, and the ef sweep.
import { median, table } from './data';
import type { InsertFigure, LoadFigure, RestartFigure, SearchPoint } from './peers-measure';

export const PEERS = ['valori', 'chroma', 'qdrant'] as const;
export type PeerName = (typeof PEERS)[number];

export interface Results {
  meta: Record<string, unknown>;
  versions: Partial<Record<PeerName, string>>;
  skipped: Partial<Record<PeerName, string>>;
  load: Partial<Record<PeerName, LoadFigure[]>>;
  search: SearchPoint[];
  inserts: Partial<Record<PeerName, Record<string, InsertFigure[]>>>;
  restart: Partial<Record<PeerName, RestartFigure[]>>;
  /** Valori alone at a larger random set: load and kill -9 → first correct search. */
  big?: Record<string, unknown>;
  summary?: Record<string, Partial<Record<PeerName, number | null>>>;
}

/** The first point of `peer` (ef ascending) whose recall reaches `target`. */
export function firstAt(search: SearchPoint[], peer: string, target: number): SearchPoint | null {
  return search.filter((p) => p.peer === peer).sort((a, b) => a.ef - b.ef).find((p) => p.recall >= target) ?? null;
}

const med = (xs: number[] | undefined) => (xs && xs.length ? median(xs) : null);

/** Every summary figure per peer (null: not measured); also stored in the JSON. */
export function summarize(r: Results, conc: number[]): Record<string, Partial<Record<PeerName, number | null>>> {
  const out: Record<string, Partial<Record<PeerName, number | null>>> = {};
  const put = (key: string, f: (p: PeerName) => number | null | undefined) => {
    const row: Partial<Record<PeerName, number | null>> = {};
    for (const p of PEERS) row[p] = f(p) ?? null;
    if (Object.values(row).some((v) => v !== null)) out[key] = row;
  };
  put('load until searchable s', (p) => med(r.load[p]?.map((x) => x.searchableS)));
  put('load acked s', (p) => med(r.load[p]?.map((x) => x.ackedS)));
  put('peak RSS during load MiB', (p) => med(r.load[p]?.map((x) => x.peakRssMiB)));
  for (const target of [0.95, 0.99]) {
    put(`QPS at recall ≥ ${target}`, (p) => firstAt(r.search, p, target)?.qps);
    put(`ef at recall ≥ ${target}`, (p) => firstAt(r.search, p, target)?.ef);
  }
  const at = (p: PeerName, ef: number) => r.search.find((x) => x.peer === p && x.ef === ef);
  for (const ef of [16, 32]) {
    put(`p50 ms at ef=${ef}`, (p) => at(p, ef)?.p50Ms);
    put(`p99 ms at ef=${ef}`, (p) => at(p, ef)?.p99Ms);
    put(`QPS at ef=${ef}`, (p) => at(p, ef)?.qps);
    put(`CPU ms per search, whole process, ef=${ef}`, (p) => at(p, ef)?.cpuMsPerReq);
    put(`CPU ms per search, main thread, ef=${ef}`, (p) => at(p, ef)?.mainMsPerReq);
  }
  for (const c of conc) put(`durable inserts/s, ${c} client${c === 1 ? '' : 's'}`, (p) => med(r.inserts[p]?.[String(c)]?.map((x) => x.rate)));
  // Work a server deferred past its acknowledgements (Qdrant indexes what it acknowledged).
  for (const c of conc) put(`busy after ${c}-client inserts s`, (p) => med(r.inserts[p]?.[String(c)]?.flatMap((x) => (x.settleS === undefined ? [] : [x.settleS]))));
  put('kill -9 → first correct search s', (p) => med(r.restart[p]?.map((x) => x.firstCorrectS)));
  return out;
}

function fmt(v: number | null | undefined, key: string): string {
  if (v === null || v === undefined) return '—';
  if (key.startsWith('ef ')) return String(v);
  if (key.includes('ms')) return v.toFixed(v < 1 ? 3 : 1);
  if (key.endsWith(' s')) return v.toFixed(v < 10 ? 2 : 1);
  return Math.round(v).toLocaleString('en-US');
}

/** The summary as rows: measure | valori | chroma | qdrant | valori/qdrant. */
export function summaryTable(s: Record<string, Partial<Record<PeerName, number | null>>>, r: Results): string {
  const head = ['measure', ...PEERS.map((p) => (r.versions[p] ? `${p} ${r.versions[p]}` : p)), 'valori/qdrant'];
  const rows: string[][] = [head];
  for (const [key, row] of Object.entries(s)) {
    const v = row.valori;
    const q = row.qdrant;
    const ratio = !key.startsWith('ef ') && v && q ? `${(v / q).toFixed(2)}×` : '';
    rows.push([key, ...PEERS.map((p) => fmt(row[p], key)), ratio]);
  }
  return table(rows);
}

/** Markdown of the same rows, for docs/BENCHMARKS.md. */
export function summaryMarkdown(s: Record<string, Partial<Record<PeerName, number | null>>>, r: Results): string {
  const lines = [`| measure | ${PEERS.map((p) => (r.versions[p] ? `${p} ${r.versions[p]}` : p)).join(' | ')} | Valori/Qdrant |`, `|---|${PEERS.map(() => '---').join('|')}|---|`];
  for (const [key, row] of Object.entries(s)) {
    const v = row.valori;
    const q = row.qdrant;
    const ratio = !key.startsWith('ef ') && v && q ? `${(v / q).toFixed(2)}×` : '';
    lines.push(`| ${key} | ${PEERS.map((p) => fmt(row[p], key)).join(' | ')} | ${ratio} |`);
  }
  return lines.join('\n');
}

/** The ef sweep: rows ef × columns peer (recall, QPS, p99). */
export function sweepTable(search: SearchPoint[]): string {
  const peers = PEERS.filter((p) => search.some((x) => x.peer === p));
  if (peers.length === 0) return '';
  const rows: (string | number)[][] = [['ef', ...peers.flatMap((p) => [`${p} recall`, 'QPS', 'p99 ms', 'CPU ms/req'])]];
  for (const ef of [...new Set(search.map((x) => x.ef))].sort((a, b) => a - b)) {
    const row: (string | number)[] = [ef];
    for (const p of peers) {
      const x = search.find((y) => y.peer === p && y.ef === ef);
      row.push(x ? x.recall.toFixed(4) : '', x ? Math.round(x.qps) : '', x ? x.p99Ms.toFixed(2) : '', x ? x.cpuMsPerReq.toFixed(3) : '');
    }
    rows.push(row);
  }
  return table(rows);
}
