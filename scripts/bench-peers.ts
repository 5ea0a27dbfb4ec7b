// Valori next to Chroma and Qdrant over HTTP, on the same data through the same client code
// (docs/BENCHMARKS.md, "Peers"): Fashion-MNIST 60k × 784 train images as records, a seeded subset
// of the 10k test images as queries, ground truth by an exact L2 scan computed here in plain
// JavaScript (cached under target/bench-peers/), HNSW M=16 efConstruction=100, k=10.
// Measures (--only, comma-separated):
//   load     bulk load over HTTP in batches of 1,000 until searchable (Qdrant: acknowledged, then
//            green with every point indexed), peak RSS of the server (VmHWM / sampled VmRSS)
//   search   8 connections, an ef sweep: recall@10, QPS, p50/p99, CPU per request (whole
//            process; Valori also its main thread and each thread by name), interleaved in blocks
//   restart  kill -9, restart over the same folder, time from spawn to the first search that
//            returns the expected top-10 (Valori with only VALORI_EVENT_LOG_PATH for durability)
//   inserts  durable single inserts/s at 1 and 32 closed-loop clients (Valori POST /records with
//            the event log; Qdrant PUT points?wait=true; Chroma add)
//   big      Valori alone at --big-n × --big-dim seeded random vectors: load, kill -9 → first
//            correct search (not in the default set: an hour of HNSW build at 1M on 2 cores)
// Every measure is repeated --reps times with the contenders interleaved; figures are medians,
// ratios are taken within the run. Servers run from a temp folder removed at the end and are
// SIGKILLed on any exit (error, SIGINT).
//
//   npm run bench:peers -- [--quick] [--only load,search,restart,inserts,big]
//       [--peers valori,chroma,qdrant] [--reps 3] [--queries 1000] [--ef 10,16,24,32,48,64,96,128]
//       [--chroma-ef LIST] [--insert-seconds 5] [--insert-clients 1,32] [--out result.json]
//       [--valori-env VALORI_X=1,UV_THREADPOOL_SIZE=2] [--big-n 1000000] [--big-dim 384] [--dir /tmp]
//       [--timeout-min 120] [--warmup-s 5]
// Qdrant: QDRANT_BIN (default /work/peers-build/qdrant/target/release/qdrant), run from QDRANT_DIR
// (default /work/peers-build/qdrant); Chroma: CHROMA_BIN (default .venv-chroma/bin/chroma). A
// missing peer is skipped with a message. Needs `npm run build` (dist/main.js).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromaAvailable, CHROMA_BIN, freePort } from './lib/chroma';
import { normalVectors } from './lib/data';
import { DIM, loadImages } from './lib/fashion-mnist';
import { cachedGroundTruth, groundTruth, pickQueries } from './lib/filter-data';
import { insertLoop, measureLoad, measureRestart, searchRace, warmUp } from './lib/peers-measure';
import { ChromaPeer, type Peer, type PeerSettings, ValoriPeer } from './lib/peers-peer';
import { killAll, onExit, settle } from './lib/peers-proc';
import { type PeerName, PEERS, type Results, summarize, summaryMarkdown, summaryTable, sweepTable } from './lib/peers-report';
import { QdrantPeer, qdrantMissing } from './lib/qdrant';

const { values: v } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: 'load,search,restart,inserts' },
    peers: { type: 'string', default: PEERS.join(',') },
    reps: { type: 'string' },
    queries: { type: 'string' },
    ef: { type: 'string' },
    'chroma-ef': { type: 'string' },
    clients: { type: 'string', default: '8' },
    batch: { type: 'string', default: '1000' },
    limit: { type: 'string', default: '60000' },
    'insert-seconds': { type: 'string' },
    'insert-clients': { type: 'string', default: '1,32' },
    'insert-max': { type: 'string', default: '50000' },
    'load-deadline-s': { type: 'string', default: '900' },
    'restart-deadline-s': { type: 'string', default: '300' },
    'probe-ef': { type: 'string', default: '128' },
    'big-n': { type: 'string', default: '1000000' },
    'big-dim': { type: 'string', default: '384' },
    'big-batch': { type: 'string', default: '10000' },
    'big-deadline-s': { type: 'string', default: '7200' },
    'valori-env': { type: 'string', default: '' },
    'warmup-s': { type: 'string', default: '5' },
    m: { type: 'string', default: '16' },
    efc: { type: 'string', default: '100' },
    seed: { type: 'string', default: '14' },
    'timeout-min': { type: 'string' },
    dir: { type: 'string', default: os.tmpdir() },
    out: { type: 'string' },
  },
});

const K = 10;
const log = (s: string) => process.stderr.write(s + '\n');
const int = (name: string, s: string, min: number) => {
  const x = Number(s);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name} ${s}: expected an integer ≥ ${min}`);
  return x;
};
const list = (name: string, s: string) => s.split(',').filter(Boolean).map((x) => int(name, x, 1));
const quick = v.quick;
const reps = int('reps', v.reps ?? (quick ? '1' : '3'), 1);
const nQueries = int('queries', v.queries ?? (quick ? '200' : '1000'), 1);
const efs = list('ef', v.ef ?? (quick ? '16,32,64,128' : '10,16,24,32,48,64,96,128')).sort((a, b) => a - b);
const chromaEfs = new Set(v['chroma-ef'] ? list('chroma-ef', v['chroma-ef']) : efs);
const conc = int('clients', v.clients, 1);
const insertSeconds = Number(v['insert-seconds'] ?? (quick ? '2' : '5'));
const insertClients = list('insert-clients', v['insert-clients']);
const insertMax = int('insert-max', v['insert-max'], 1);
const only = new Set(v.only.split(','));
for (const o of only) if (!['load', 'search', 'restart', 'inserts', 'big'].includes(o)) throw new Error(`--only ${o}: expected load, search, restart, inserts or big`);
const wanted = new Set(v.peers.split(','));
const valoriEnv = Object.fromEntries(
  v['valori-env'].split(',').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    if (i < 1 || !(kv.startsWith('VALORI_') || kv.startsWith('UV_THREADPOOL_SIZE='))) throw new Error(`--valori-env ${kv}: expected VALORI_NAME=value or UV_THREADPOOL_SIZE=n`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  }),
);

async function main() {
  const started = Date.now();
  // A server that stops answering would hang a request forever: the whole run is bounded too.
  const limitMin = Number(v['timeout-min'] ?? (quick ? 30 : 120) + (only.has('big') ? int('big-deadline-s', v['big-deadline-s'], 1) / 30 : 0));
  setTimeout(() => {
    log(`bench-peers: still running after ${limitMin.toFixed(0)} min (--timeout-min), stopping every server`);
    killAll();
    process.exit(2);
  }, limitMin * 60_000).unref();
  const root = fs.mkdtempSync(path.join(v.dir, 'bench-peers-'));
  onExit(() => fs.rmSync(root, { recursive: true, force: true }));
  const r: Results = {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
      loadavg: os.loadavg(),
      args: process.argv.slice(2),
      reps, queries: nQueries, k: K, m: int('m', v.m, 2), efc: int('efc', v.efc, 1), efs, clients: conc, valoriEnv,
    },
    versions: {},
    skipped: {},
    load: {},
    search: [],
    inserts: {},
    restart: {},
  };

  // ---- data and ground truth --------------------------------------------------------------
  const all = loadImages('train-images-idx3-ubyte');
  const n = Math.min(int('limit', v.limit, 100), all.length / DIM);
  const base = all.subarray(0, n * DIM);
  const test = loadImages('t10k-images-idx3-ubyte');
  const seed = int('seed', v.seed, 0);
  const qIdx = pickQueries(test.length / DIM, nQueries, seed);
  const queries = qIdx.map((i) => test.subarray(i * DIM, (i + 1) * DIM));
  const qs = queries.map((q) => `[${q.join(',')}]`);
  const rowCache: string[] = new Array(n);
  const rows = (i: number) => (rowCache[i] ??= `[${base.subarray(i * DIM, (i + 1) * DIM).join(',')}]`);
  Object.assign(r.meta, { n, dim: DIM, seed, queryIndices: qIdx });
  log(`Fashion-MNIST ${n} × ${DIM}, ${qs.length} queries (seed ${seed}), k=${K}, M=${r.meta.m} efC=${r.meta.efc}, ef ${efs.join(',')}, ${conc} connections, ${reps} repetitions; measures: ${[...only].join(',')}`);
  let truth: Uint32Array = new Uint32Array(0);
  if (only.has('search') || only.has('restart')) {
    const t = Date.now();
    const everything = { name: 'all', where: {}, mask: new Uint8Array(n).fill(1), matches: n };
    truth = cachedGroundTruth('target/bench-peers', `v1-${n}-${qs.length}-s${seed}`, () => groundTruth(base, DIM, queries, [everything], K, log), 1, qs.length * K).l2[0];
    log(`ground truth (exact L2 scan, cached): ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }

  // ---- contenders --------------------------------------------------------------------------
  const settings: PeerSettings = { dim: DIM, m: r.meta.m as number, efc: r.meta.efc as number, sockets: Math.max(conc, ...insertClients), rows };
  const maxRecords = n + insertMax * reps * insertClients.length + 1000;
  const peers: Peer[] = [];
  const skip = (p: PeerName, why: string) => {
    r.skipped[p] = why;
    log(`${p}: skipped, ${why}`);
  };
  const needsMain = ['load', 'search', 'restart', 'inserts'].some((o) => only.has(o));
  if (needsMain && wanted.has('valori')) peers.push(new ValoriPeer(root, await freePort(), settings, valoriEnv, maxRecords));
  if (needsMain && wanted.has('chroma')) {
    if (chromaAvailable()) peers.push(new ChromaPeer(root, await freePort(), settings));
    else skip('chroma', `${CHROMA_BIN} is missing (python3 -m venv .venv-chroma && .venv-chroma/bin/pip install chromadb)`);
  }
  if (needsMain && wanted.has('qdrant')) {
    const why = qdrantMissing();
    if (why) skip('qdrant', why);
    else peers.push(new QdrantPeer(root, await freePort(), await freePort(), settings));
  }
  for (const p of peers) r.versions[p.name as PeerName] = p.version;
  /** Every measure starts with every running contender idle (settle in scripts/lib/peers-proc.ts). */
  const quiet = async (): Promise<void> => {
    const running = peers.flatMap((p) => {
      try {
        return [p.pid()];
      } catch {
        return [];
      }
    });
    const waited = await settle(running, async () => (await Promise.all(peers.map((p) => p.backgroundDone().catch(() => true)))).every(Boolean));
    if (waited === null) log('warning: the servers were still busy after 120 s; measuring anyway');
    else if (waited > 1) log(`  (waited ${waited.toFixed(1)} s for the servers to go idle)`);
  };

  // ---- load (every later measure needs the 60k loaded; repeated only when measured) ----------
  if (peers.length) {
    const loadReps = only.has('load') ? reps : 1;
    for (let rep = 0; rep < loadReps; rep++) {
      for (let j = 0; j < peers.length; j++) {
        const p = peers[(j + rep) % peers.length];
        await quiet();
        log(`load ${rep + 1}/${loadReps}: ${p.name}, ${n} records in batches of ${v.batch}...`);
        const f = await measureLoad(p, n, int('batch', v.batch, 1), K, efs[0], int('load-deadline-s', v['load-deadline-s'], 1) * 1000);
        r.versions[p.name as PeerName] = p.version;
        log(`  acked ${f.ackedS.toFixed(1)} s, searchable ${f.searchableS.toFixed(1)} s, peak RSS ${f.peakRssMiB.toFixed(0)} MiB${f.indexDetail ? ` ${JSON.stringify(f.indexDetail)}` : ''}`);
        if (only.has('load')) (r.load[p.name as PeerName] ??= []).push(f);
      }
    }
  }

  // ---- search ---------------------------------------------------------------------------------
  if (only.has('search') && peers.length) {
    for (const p of peers) {
      await quiet();
      await warmUp(p, qs, efs[0], K, conc, int('warmup-s', v['warmup-s'], 0));
    }
    await quiet();
    for (const ef of efs) {
      const racing = peers.filter((p) => p.efPerRequest() || chromaEfs.has(ef));
      for (const p of racing) {
        if (p.efPerRequest()) continue;
        log(`${p.name}: ef_search ${ef} (a collection setting read when the index loads), restarting...`);
        await p.setEf(ef);
      }
      log(`search ef ${ef}: ${racing.map((p) => p.name).join(', ')}`);
      r.search.push(...(await searchRace(racing, qs, truth, qs.length, ef, K, conc, reps, Math.min(200, qs.length), log)));
    }
  }

  // ---- kill -9 → first correct search -----------------------------------------------------------
  if (only.has('restart')) {
    const probeEf = int('probe-ef', v['probe-ef'], 1);
    const exact = Array.from(truth.subarray(0, K));
    for (let rep = 0; rep < reps; rep++) {
      for (let j = 0; j < peers.length; j++) {
        const p = peers[(j + rep) % peers.length];
        await quiet();
        const expected = await p.search(qs[0], K, probeEf);
        log(`restart ${rep + 1}/${reps}: ${p.name}, kill -9 after ${await p.count()} records...`);
        const f = await measureRestart(p, qs[0], expected, exact, K, probeEf, int('restart-deadline-s', v['restart-deadline-s'], 1) * 1000);
        if (p.name === 'valori') f.recovery = lastRecoveryLine(p.log);
        log(`  first correct search ${f.firstCorrectS.toFixed(2)} s after spawn${f.recovery ? ` (${f.recovery})` : ''}`);
        (r.restart[p.name as PeerName] ??= []).push(f);
      }
    }
  }

  // ---- durable single inserts -----------------------------------------------------------------
  if (only.has('inserts')) {
    for (let rep = 0; rep < reps; rep++) {
      for (let j = 0; j < peers.length; j++) {
        const p = peers[(j + rep) % peers.length];
        for (const c of insertClients) {
          await quiet();
          const f = await insertLoop(p, qs, c, insertSeconds, insertMax);
          // What the inserts left to do in the background (Qdrant indexes what it acknowledged).
          f.settleS = (await settle([p.pid()], () => p.backgroundDone())) ?? undefined;
          log(
            `inserts ${rep + 1}/${reps}: ${p.name}, ${c} client${c === 1 ? '' : 's'}: ${f.rate.toFixed(0)}/s (p50 ${f.p50Ms.toFixed(2)} p99 ${f.p99Ms.toFixed(2)} ms)` +
              (f.settleS === undefined ? ', still busy 120 s later' : `, busy ${f.settleS.toFixed(1)} s after`),
          );
          ((r.inserts[p.name as PeerName] ??= {})[String(c)] ??= []).push(f);
        }
      }
    }
  }
  for (const p of peers) await p.wipe();

  if (only.has('big')) r.big = await bigValori(root, maxRecords);

  // ---- report ---------------------------------------------------------------------------------
  r.summary = summarize(r, insertClients);
  r.meta.seconds = (Date.now() - started) / 1000;
  console.log(`\nPeers: Fashion-MNIST ${n} × ${DIM}, ${qs.length} queries, k=${K}, ${conc} connections, ${reps} repetitions (medians); ${new Date().toISOString()}`);
  for (const [p, why] of Object.entries(r.skipped)) console.log(`${p}: skipped, ${why}`);
  const anySummary = Object.keys(r.summary).length > 0;
  if (anySummary) console.log('\n' + summaryTable(r.summary, r));
  if (r.search.length) console.log('\nef sweep (recall@10, median QPS, p99, CPU per request of the whole server):\n' + sweepTable(r.search));
  const vt = r.search.filter((x) => x.threadsMsPerReq);
  if (vt.length) {
    console.log('\nValori CPU per search request by thread (ms):');
    for (const x of vt) console.log(`  ef ${x.ef}: ${Object.entries(x.threadsMsPerReq!).sort((a, b) => b[1] - a[1]).map(([t, ms]) => `${t} ${ms.toFixed(3)}`).join(', ')}`);
  }
  if (r.big) console.log('\nValori at a larger random set:\n' + JSON.stringify(r.big, null, 2));
  if (anySummary) console.log('\nMarkdown:\n' + summaryMarkdown(r.summary, r));
  if (v.out) {
    fs.mkdirSync(path.dirname(path.resolve(v.out)), { recursive: true });
    fs.writeFileSync(v.out, JSON.stringify(r, null, 2) + '\n');
    log(`wrote ${v.out}`);
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function lastRecoveryLine(file: string): string | undefined {
  try {
    const all = [...fs.readFileSync(file, 'utf8').matchAll(/recovered from [^"\n]*/g)];
    return all.length ? all[all.length - 1][0] : undefined;
  } catch {
    return undefined;
  }
}

/** Valori alone at --big-n × --big-dim seeded normal vectors: load, then kill -9 → first correct search. */
async function bigValori(root: string, minRecords: number): Promise<Record<string, unknown>> {
  const n = int('big-n', v['big-n'], 100);
  const dim = int('big-dim', v['big-dim'], 1);
  log(`big: generating ${n} × ${dim} seeded normal vectors...`);
  // Rounded to four decimals: the JSON is a third the size of full floats, and the exact top-k
  // below is computed from the same values the node is sent.
  const round = (a: Float32Array) => a.map((x) => Math.round(x * 1e4) / 1e4);
  const data = round(normalVectors(n, dim, 1_000_003));
  const query = round(normalVectors(1, dim, 1_000_033));
  const enc = (a: Float32Array) => `[${Array.from(a, (x) => x.toFixed(4)).join(',')}]`;
  const settings: PeerSettings = { dim, m: int('m', v.m, 2), efc: int('efc', v.efc, 1), sockets: 4, rows: (i) => enc(data.subarray(i * dim, (i + 1) * dim)) };
  const peer = new ValoriPeer(root, await freePort(), settings, valoriEnv, Math.max(n + 1000, minRecords), 'valori-big');
  const deadline = int('big-deadline-s', v['big-deadline-s'], 1) * 1000;
  try {
    log(`big: loading ${n} × ${dim} into Valori in batches of ${v['big-batch']}...`);
    const load = await measureLoad(peer, n, int('big-batch', v['big-batch'], 1), K, efs[0], deadline);
    log(`  searchable ${load.searchableS.toFixed(1)} s, peak RSS ${load.peakRssMiB.toFixed(0)} MiB`);
    // The true top-k of the probe by an exact scan here.
    const q = enc(query);
    const d = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) {
        const x = data[i * dim + j] - query[j];
        s += x * x;
      }
      d[i] = s;
    }
    const exact = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[a] - d[b] || a - b).slice(0, K);
    const probeEf = int('probe-ef', v['probe-ef'], 1);
    const expected = await peer.search(q, K, probeEf);
    log('big: kill -9, restart...');
    const restart = await measureRestart(peer, q, expected, exact, K, probeEf, deadline);
    restart.recovery = lastRecoveryLine(peer.log);
    log(`  first correct search ${restart.firstCorrectS.toFixed(2)} s after spawn${restart.recovery ? ` (${restart.recovery})` : ''}`);
    return { n, dim, load, restart };
  } finally {
    await peer.wipe();
  }
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => killAll());
