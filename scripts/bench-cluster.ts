// Raft cluster mode against a standalone node, in one run on this machine (docs/BENCHMARKS.md,
// "Cluster"): a 3-member cluster (`node dist/main.js` × 3 on 127.0.N.1-3, default timeouts) and a
// standalone node with an event log (127.0.N.4), the same build, token and settings otherwise.
//   writes    durable writes/s and p50/p99 latency at 1 and 64 closed-loop keep-alive clients:
//             POST /v1/records with a dim-128 vector (pre-encoded JSON, 2,048 seeded vectors
//             cycled), to the cluster's leader and to the standalone node, taking turns (--reps,
//             medians); a cluster write is answered once a quorum has it fsynced and the leader
//             applied it, a standalone one once it is fsynced in the event log;
//   reads     p50/p99 of GET /v1/memory/meta/get and POST /v1/search (k 10 over a 1,000-record
//             collection), each linearizable (the default) and with consistency=local, on the
//             leader and on a follower, the standalone node as the baseline; one client, the
//             series taking turns in blocks;
//   failover  kill -9 of the leader → the first 200 to a write sent every --probe-ms to each
//             surviving node (no redirect followed), --trials times; between trials the killed
//             node is restarted and the cluster converges. Each survivor's /v1/cluster/status is
//             polled every --poll-ms to say where the time went (detection, election, first ack).
// Prints tables, then one JSON line (also written to --out). Every process it starts is SIGKILLed
// on any exit (error, Ctrl-C, the --timeout-min bound); the temp folder is removed unless --keep.
//
//   npm run bench:cluster -- [--only writes,reads,failover] [--seconds 10] [--warmup 1] [--reps 3]
//       [--clients 1,64] [--trials 5] [--read-requests 2000] [--dim 128] [--probe-ms 10]
//       [--poll-ms 20] [--dir /tmp] [--out FILE] [--keep] [--timeout-min 15] [--quick]
//       [--node-env VALORI_RAFT_ELECTION_TIMEOUT_MS=500,…]
// --quick = --seconds 2 --reps 1 --trials 1 --read-requests 100 (a smoke run of under a minute).
// --node-env: settings on top of every node's (the measured run uses none: the defaults).
// Needs `npm run build` (dist/main.js and the native addon).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { closedLoop, freePort, type LoadResult, type Status, ValoriNode } from './lib/cluster-nodes';
import { median, normalVectors, percentile, table } from './lib/data';
import { killAll, onExit, settle, sleep } from './lib/peers-proc';

const { values: v } = parseArgs({
  options: {
    only: { type: 'string', default: 'writes,reads,failover' },
    seconds: { type: 'string' },
    warmup: { type: 'string', default: '1' },
    reps: { type: 'string' },
    clients: { type: 'string', default: '1,64' },
    trials: { type: 'string' },
    'read-requests': { type: 'string' },
    dim: { type: 'string', default: '128' },
    'probe-ms': { type: 'string', default: '10' },
    'poll-ms': { type: 'string', default: '20' },
    'failover-deadline-s': { type: 'string', default: '30' },
    dir: { type: 'string', default: os.tmpdir() },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'timeout-min': { type: 'string', default: '15' },
    'node-env': { type: 'string', default: '' },
  },
});
const quick = v.quick;
const SECONDS = Number(v.seconds ?? (quick ? 2 : 10));
const WARMUP = Number(v.warmup);
const REPS = Number(v.reps ?? (quick ? 1 : 3));
const LEVELS = v.clients.split(',').map(Number);
const TRIALS = Number(v.trials ?? (quick ? 1 : 5));
const READS = Number(v['read-requests'] ?? (quick ? 100 : 2000));
const DIM = Number(v.dim);
const PROBE_MS = Number(v['probe-ms']);
const POLL_MS = Number(v['poll-ms']);
const FAILOVER_DEADLINE_MS = Number(v['failover-deadline-s']) * 1000;
const parts = new Set(v.only.split(','));
/** --node-env VALORI_X=1,VALORI_Y=2: settings on top of every node's (to try other timeouts). */
const NODE_ENV: Record<string, string> = Object.fromEntries(
  v['node-env']
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')).trim(), kv.slice(kv.indexOf('=') + 1).trim()]),
);
for (const [name, x] of Object.entries({ SECONDS, WARMUP, REPS, TRIALS, READS, DIM, PROBE_MS, POLL_MS })) {
  if (!Number.isFinite(x) || x < 0) throw new Error(`bad ${name}: ${x}`);
}

const out = (s = '') => process.stdout.write(`${s}\n`);
const note = (s: string) => process.stderr.write(`  ${s}\n`);
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');

const TOKEN = 'bench-cluster-token-0123456789abcdef';
const root = fs.mkdtempSync(path.join(v.dir, 'valori-bench-cluster-'));
onExit(() => {
  if (v.keep) process.stderr.write(`kept ${root}\n`);
  else fs.rmSync(root, { recursive: true, force: true });
});
// The whole run is bounded: past --timeout-min every node is killed and the script fails.
setTimeout(() => {
  process.stderr.write(`\nbench-cluster: --timeout-min ${v['timeout-min']} reached, stopping every node\n`);
  process.exitCode = 1;
  killAll();
  process.exit(1);
}, Number(v['timeout-min']) * 60_000).unref();

// Request bodies are encoded once, so the load generator spends its CPU on sending.
const POOL = 2048;
const vecs = normalVectors(POOL, DIM, 11);
const row = (i: number) => Array.from(vecs.subarray(i * DIM, (i + 1) * DIM), (x) => Math.round(x * 1e4) / 1e4);
const bodies = Array.from({ length: POOL }, (_, i) => JSON.stringify({ values: row(i) }));

// ------------------------------------------------------------------------------------------------
// The nodes

/** 127.0.N.x: a /24 of its own per run, so no other test's 127.0.0.1 listeners are in the way. */
const NET = `127.0.${100 + (process.pid % 150)}`;

function common(dir: string): Record<string, string> {
  fs.mkdirSync(dir, { recursive: true });
  return {
    VALORI_DIM: String(DIM),
    VALORI_MAX_RECORDS: '4000000',
    VALORI_EVENT_LOG_PATH: path.join(dir, 'raft.log'),
    VALORI_AUTH_TOKEN: TOKEN,
    VALORI_LOG_FORMAT: 'json',
    ...NODE_ENV,
  };
}

async function makeCluster(): Promise<ValoriNode[]> {
  const ids = [1, 2, 3];
  const addr = await Promise.all(ids.map(async (i) => ({ i, host: `${NET}.${i}`, api: await freePort(`${NET}.${i}`), raft: await freePort(`${NET}.${i}`) })));
  const members = addr.map((a) => `${a.i}=${a.host}:${a.raft}/${a.host}:${a.api}`).join(',');
  return addr.map((a) => {
    const dir = path.join(root, `n${a.i}`);
    const env = {
      ...common(dir),
      VALORI_CLUSTER_MEMBERS: members,
      VALORI_NODE_ID: String(a.i),
      VALORI_BIND: `${a.host}:${a.api}`,
      ...(a.i === 1 ? { VALORI_CLUSTER_INIT: '1' } : {}),
    };
    return new ValoriNode(`node ${a.i}`, a.host, a.api, env, path.join(dir, 'node.log'), TOKEN);
  });
}

async function makeStandalone(): Promise<ValoriNode> {
  const host = `${NET}.4`;
  const port = await freePort(host);
  const dir = path.join(root, 'standalone');
  const env = { ...common(dir), VALORI_BIND: `${host}:${port}` };
  return new ValoriNode('standalone', host, port, env, path.join(dir, 'node.log'), TOKEN);
}

async function statusOf(n: ValoriNode): Promise<Status | null> {
  if (!n.alive()) return null;
  try {
    return await n.status();
  } catch {
    return null;
  }
}

/**
 * Waits until the live nodes agree on one leader and term and every one has applied all the
 * leader's log; resolves with the leader. Throws after `deadlineMs`.
 */
async function converged(nodes: ValoriNode[], deadlineMs = 60_000): Promise<ValoriNode> {
  const end = performance.now() + deadlineMs;
  let last = '';
  for (;;) {
    const live = nodes.filter((n) => n.alive());
    const ss = await Promise.all(live.map(statusOf));
    last = JSON.stringify(ss.map((s) => s && { id: s.node_id, leader: s.current_leader, role: s.role, term: s.term, log: s.last_log_index, applied: s.last_applied_index }));
    if (ss.every((s) => s !== null)) {
      const st = ss as Status[];
      const lead = st.find((s) => s.is_leader);
      if (
        lead !== undefined &&
        st.every((s) => s.current_leader === lead.node_id && s.term === lead.term) &&
        st.every((s) => (s.last_applied_index ?? -1) >= (lead.last_log_index ?? 0))
      ) {
        return live.find((n) => n.name === `node ${lead.node_id}`)!;
      }
    }
    if (performance.now() > end) throw new Error(`the cluster did not converge within ${deadlineMs} ms: ${last}`);
    await sleep(50);
  }
}

// ------------------------------------------------------------------------------------------------
// Machine facts

function fsyncP50(): number {
  const file = path.join(root, 'fsync.probe');
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const lat: number[] = [];
  for (let i = 0; i < 220; i++) {
    const t = performance.now();
    fs.writeSync(fd, block);
    fs.fdatasyncSync(fd);
    if (i >= 20) lat.push(performance.now() - t);
  }
  fs.closeSync(fd);
  fs.unlinkSync(file);
  return percentile(lat, 50);
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', cwd: path.join(__dirname, '..') }).trim();
  } catch {
    return 'unknown';
  }
}

// ------------------------------------------------------------------------------------------------
// Writes

interface WriteRow {
  system: 'standalone' | 'cluster';
  clients: number;
  runs: LoadResult[];
}

async function benchWrites(cluster: ValoriNode[], standalone: ValoriNode): Promise<WriteRow[]> {
  const rows: WriteRow[] = [];
  for (const clients of LEVELS) for (const system of ['standalone', 'cluster'] as const) rows.push({ system, clients, runs: [] });
  const pids = () => [...cluster, standalone].filter((n) => n.alive()).map((n) => n.proc!.pid);
  for (let rep = 0; rep < REPS; rep++) {
    for (const clients of LEVELS) {
      // Taking turns, the first one changing every repetition.
      const order = rep % 2 === 0 ? (['standalone', 'cluster'] as const) : (['cluster', 'standalone'] as const);
      for (const system of order) {
        // No node's background work (a checkpoint, a Raft snapshot) inside another's window.
        if ((await settle(pids(), undefined, 20_000)) === null) note('nodes not idle after 20 s; measuring anyway');
        const target = system === 'standalone' ? standalone : await converged(cluster);
        note(`writes rep ${rep + 1}/${REPS}: ${system}${system === 'cluster' ? ` (leader ${target.name})` : ''}, ${clients} client(s), ${WARMUP} + ${SECONDS} s...`);
        const r = await closedLoop(target.client, '/v1/records', clients, SECONDS, WARMUP, bodies);
        const errs = Object.entries(r.errors).map(([s, n]) => `${n}×${s === '0' ? 'no answer' : s}`).join(', ');
        note(`  ${r.rate.toFixed(0)} acked/s, p50 ${f2(r.p50)} ms, p99 ${f2(r.p99)} ms${errs ? `, non-200: ${errs}` : ''}`);
        rows.find((x) => x.system === system && x.clients === clients)!.runs.push(r);
      }
    }
  }
  return rows;
}

function writeSummary(rows: WriteRow[]) {
  return rows.map((r) => ({
    system: r.system,
    clients: r.clients,
    rate: median(r.runs.map((x) => x.rate)),
    rates: r.runs.map((x) => Math.round(x.rate)),
    p50: median(r.runs.map((x) => x.p50)),
    p99: median(r.runs.map((x) => x.p99)),
    max: Math.max(...r.runs.map((x) => x.max)),
    non200: r.runs.reduce((s, x) => s + Object.values(x.errors).reduce((a, b) => a + b, 0), 0),
  }));
}

// ------------------------------------------------------------------------------------------------
// Reads

interface ReadSeries {
  name: string;
  node: ValoriNode;
  op: 'meta' | 'search';
  mode: 'linearizable' | 'local' | 'standalone';
  lat: number[];
  errors: number;
}

const READ_KEY = 'bench:read';
const READ_COLLECTION = 'bench_reads';
const READ_ROWS = 1000;

async function seedReads(n: ValoriNode): Promise<void> {
  await n.client.json('POST', '/v1/namespaces', { name: READ_COLLECTION, dimension: DIM });
  for (let b = 0; b < READ_ROWS; b += 500) {
    const batch = Array.from({ length: 500 }, (_, i) => row((b + i) % POOL));
    await n.client.json('POST', '/v1/vectors/batch-insert', { batch, collection: READ_COLLECTION });
  }
  await n.client.json('POST', '/v1/memory/meta/set', { target_id: READ_KEY, metadata: { bench: 'cluster', n: 1 } });
}

async function benchReads(cluster: ValoriNode[], standalone: ValoriNode): Promise<ReadSeries[]> {
  const leader = await converged(cluster);
  await seedReads(leader);
  await seedReads(standalone);
  const follower = await converged(cluster).then((l) => cluster.find((n) => n !== l && n.alive())!);
  const query = (mode: string | null) => JSON.stringify({ query: row(POOL - 1), k: 10, collection: READ_COLLECTION, ...(mode === null ? {} : { consistency: mode }) });
  const bodies = { linearizable: query(null), local: query('local'), standalone: query(null) };
  const series: ReadSeries[] = [];
  for (const op of ['meta', 'search'] as const) {
    for (const [role, node] of [['leader', leader], ['follower', follower]] as const) {
      for (const mode of ['linearizable', 'local'] as const) series.push({ name: `${role}, ${mode}`, node, op, mode, lat: [], errors: 0 });
    }
    series.push({ name: 'standalone', node: standalone, op, mode: 'standalone', lat: [], errors: 0 });
  }
  await settle([...cluster, standalone].filter((n) => n.alive()).map((n) => n.proc!.pid), undefined, 20_000);
  note(`reads: ${series.length} series × ${READS} requests, one client, blocks of 50 in turn (leader ${leader.name}, follower ${follower.name})...`);
  const block = 50;
  // One untimed block per series first (connections, JIT).
  for (let round = -1; round * block < READS; round++) {
    for (const s of series) {
      const count = round < 0 ? 10 : Math.min(block, READS - round * block);
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        let ok = false;
        try {
          const r =
            s.op === 'meta'
              ? await s.node.client.send('GET', `/v1/memory/meta/get?target_id=${encodeURIComponent(READ_KEY)}${s.mode === 'local' ? '&consistency=local' : ''}`)
              : await s.node.client.send('POST', '/v1/search', bodies[s.mode]);
          ok = r.status === 200;
          if (!ok && s.errors === 0) note(`  ${s.op} ${s.name}: ${r.status} ${r.body.slice(0, 200)}`);
        } catch (e) {
          if (s.errors === 0) note(`  ${s.op} ${s.name}: ${String(e)}`);
        }
        const ms = performance.now() - t0;
        if (round < 0) continue;
        if (ok) s.lat.push(ms);
        else s.errors++;
      }
    }
  }
  return series;
}

// ------------------------------------------------------------------------------------------------
// Failover

interface Trial {
  killed: number;
  termBefore: number;
  newLeader: number | null;
  termAfter: number | null;
  /** ms from the kill to the first 200 (null: none within the deadline). */
  firstAckMs: number | null;
  /** ms from the kill to when the probe answered first was sent, and its target. */
  firstAckSentMs: number | null;
  firstAckNode: number | null;
  /** From the status polls: first survivor not following the old leader, first survivor leading. */
  firstLeftOldMs: number | null;
  firstCandidateMs: number | null;
  leaderSeenMs: number | null;
  probes: number;
  answers: Record<string, number>;
  restartMs: number;
  convergeMs: number;
  /** Each survivor's status changes (ms since the kill: role, leader, term). */
  timeline: string[];
}

function answerKey(status: number, body: string): string {
  if (status === 503) {
    const m = /"code"\s*:\s*"([A-Z_]+)"/.exec(body);
    return `503 ${m ? m[1] : ''}`.trim();
  }
  return String(status);
}

async function failoverTrial(cluster: ValoriNode[], k: number): Promise<Trial> {
  const old = await converged(cluster);
  const before = (await old.status()).term;
  const survivors = cluster.filter((n) => n !== old);
  const oldId = Number(old.name.split(' ')[1]);
  let killAt = Infinity;
  let firstAck: { at: number; sent: number; node: number } | null = null;
  const answers: Record<string, number> = {};
  let probes = 0;
  let stop = false;
  const since = (t: number) => Math.round(t - killAt);

  // Status of each survivor, every POLL_MS, recording each change.
  const timeline: string[] = [];
  let firstLeftOld: number | null = null;
  let firstCandidate: number | null = null;
  let leaderSeen: { at: number; id: number; term: number } | null = null;
  const pollers = survivors.map(async (n) => {
    let prev = '';
    while (!stop) {
      const t = performance.now();
      const s = await n.status(1_000).catch(() => null);
      if (s !== null && t >= killAt) {
        const key = `${s.role} leader=${s.current_leader} term=${s.term}`;
        if (key !== prev) timeline.push(`+${since(t)} ms ${n.name}: ${key}`);
        prev = key;
        if (firstLeftOld === null && s.current_leader !== oldId) firstLeftOld = t;
        if (firstCandidate === null && s.role === 'candidate') firstCandidate = t;
        if (leaderSeen === null && s.is_leader) leaderSeen = { at: t, id: s.node_id, term: s.term };
      }
      await sleep(POLL_MS);
    }
  });

  // Writes to every survivor every PROBE_MS, open loop (a slow answer never delays the next).
  const inflight = new Set<Promise<void>>();
  const prober = (async () => {
    let i = 0;
    while (!stop) {
      for (const n of survivors) {
        const sent = performance.now();
        const id = Number(n.name.split(' ')[1]);
        probes++;
        const p: Promise<void> = n.client
          .send('POST', '/v1/records', bodies[(k * 7919 + i++) % POOL], 15_000)
          .then((r) => {
            const key = answerKey(r.status, r.body);
            answers[key] = (answers[key] ?? 0) + 1;
            if (r.status === 200 && firstAck === null && sent >= killAt) firstAck = { at: performance.now(), sent, node: id };
          })
          .catch(() => void (answers['no answer'] = (answers['no answer'] ?? 0) + 1))
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await sleep(PROBE_MS);
    }
  })();

  // A little traffic before the kill, so the probes' connections are open and warm.
  await sleep(300);
  for (const key of Object.keys(answers)) delete answers[key];
  probes = 0;
  note(`failover trial ${k + 1}/${TRIALS}: kill -9 of the leader (${old.name}, term ${before})...`);
  killAt = await old.kill9();
  const end = killAt + FAILOVER_DEADLINE_MS;
  while (firstAck === null && performance.now() < end) await sleep(5);
  // A little longer, so the timeline shows the other survivor learning the new leader.
  await sleep(300);
  stop = true;
  await prober;
  await Promise.all(pollers);
  await Promise.allSettled([...inflight]);
  const ack = firstAck as { at: number; sent: number; node: number } | null;
  const seen = leaderSeen as { at: number; id: number; term: number } | null;
  note(`  first 200 after ${ack ? `${(ack.at - killAt).toFixed(0)} ms (node ${ack.node})` : `none within ${FAILOVER_DEADLINE_MS} ms`}; restarting ${old.name}...`);

  const restartMs = await old.start();
  const t0 = performance.now();
  await converged(cluster);
  const convergeMs = performance.now() - t0;
  return {
    killed: oldId,
    termBefore: before,
    newLeader: seen?.id ?? ack?.node ?? null,
    termAfter: seen?.term ?? null,
    firstAckMs: ack ? ack.at - killAt : null,
    firstAckSentMs: ack ? ack.sent - killAt : null,
    firstAckNode: ack?.node ?? null,
    firstLeftOldMs: firstLeftOld === null ? null : (firstLeftOld as number) - killAt,
    firstCandidateMs: firstCandidate === null ? null : (firstCandidate as number) - killAt,
    leaderSeenMs: seen ? seen.at - killAt : null,
    probes,
    answers,
    restartMs,
    convergeMs,
    timeline,
  };
}

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const cpus = os.cpus();
  const commit = gitCommit();
  const fsync = fsyncP50();
  out(`machine: ${cpus.length} cores (${cpus[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ` +
    `load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; fdatasync of 4 KiB under ${v.dir}: p50 ${fsync.toFixed(2)} ms; commit ${commit}`);
  out(`3 cluster members and 1 standalone node on this machine (${NET}.1-4), each \`node dist/main.js\` with its own event log ` +
    `on the same disk, dim ${DIM}, bearer token on, ${Object.keys(NODE_ENV).length ? `settings ${JSON.stringify(NODE_ENV)}` : 'default Raft timeouts (heartbeat 100 ms, election timeout 500 ms)'}`);
  out();

  const cluster = await makeCluster();
  const standalone = await makeStandalone();
  note('starting 3 cluster members and a standalone node...');
  const startMs = await Promise.all([...cluster, standalone].map((n) => n.start()));
  const first = await converged(cluster);
  note(`ready (spawn → listening ${startMs.map((x) => x.toFixed(0)).join(' / ')} ms; leader ${first.name})`);

  const result: Record<string, unknown> = {
    bench: 'cluster',
    commit,
    date: new Date().toISOString(),
    machine: { cores: cpus.length, model: cpus[0]?.model, node: process.version, loadavg: os.loadavg(), fsyncP50Ms: fsync },
    options: { seconds: SECONDS, warmup: WARMUP, reps: REPS, clients: LEVELS, trials: TRIALS, readRequests: READS, dim: DIM, probeMs: PROBE_MS, pollMs: POLL_MS },
  };

  if (parts.has('writes')) {
    const w = writeSummary(await benchWrites(cluster, standalone));
    result.writes = w;
    out(`Durable writes: POST /v1/records (dim ${DIM}), closed-loop keep-alive clients in this process, ${WARMUP} s warm-up + ${SECONDS} s per run, ` +
      `${REPS} run(s) per row taking turns, medians`);
    const ratios: Record<string, number> = {};
    const rows: (string | number)[][] = [['clients', 'system', 'acked writes/s', 'runs', 'p50 ms', 'p99 ms', 'max ms', 'non-200', 'cluster / standalone']];
    for (const c of LEVELS) {
      const s = w.find((x) => x.system === 'standalone' && x.clients === c)!;
      const k = w.find((x) => x.system === 'cluster' && x.clients === c)!;
      ratios[c] = k.rate / s.rate;
      rows.push([c, 'standalone (event log)', Math.round(s.rate), s.rates.join(' '), f2(s.p50), f2(s.p99), f1(s.max), s.non200, '']);
      rows.push([c, 'cluster of 3 (to the leader)', Math.round(k.rate), k.rates.join(' '), f2(k.p50), f2(k.p99), f1(k.max), k.non200, `${ratios[c].toFixed(2)}×`]);
    }
    out(table(rows));
    result.writeRatio = ratios;
    const lead = await (await converged(cluster)).status();
    result.clusterAfterWrites = lead;
    out(`cluster leader after the writes: Raft log index ${lead.last_log_index}, height ${lead.height}, ` +
      `newest Raft snapshot at ${lead.snapshot_index ?? 'none'} (one every VALORI_SNAPSHOT_EVERY_EVENTS entries, 10,000 by default)`);
    const top = Math.max(...LEVELS);
    out(`target: cluster ≥ 0.5× standalone at ${top} clients: ${ratios[top].toFixed(2)}× — ${ratios[top] >= 0.5 ? 'met' : 'missed'}`);
    out();
  }

  if (parts.has('reads')) {
    const series = await benchReads(cluster, standalone);
    const summary = series.map((s) => ({ op: s.op, series: s.name, n: s.lat.length, p50: percentile(s.lat, 50), p99: percentile(s.lat, 99), errors: s.errors }));
    result.reads = summary;
    out(`Reads: one client, ${READS} requests per series taking turns in blocks of 50; meta = GET /v1/memory/meta/get?target_id=…, ` +
      `search = POST /v1/search (k 10, ${READ_ROWS} records, dim ${DIM}, brute force); "local" = consistency=local`);
    const rows: (string | number)[][] = [['read', 'node, consistency', 'p50 ms', 'p99 ms', 'errors', 'p50 vs local']];
    for (const op of ['meta', 'search'] as const) {
      const mine = summary.filter((s) => s.op === op);
      for (const s of mine) {
        const local = mine.find((x) => x.series === s.series.replace('linearizable', 'local'));
        const ratio = s.series.includes('linearizable') && local ? `${(s.p50 / local.p50).toFixed(2)}×` : '';
        rows.push([op, s.series, f2(s.p50), f2(s.p99), s.errors, ratio]);
      }
    }
    out(table(rows));
    out();
  }

  if (parts.has('failover')) {
    const trials: Trial[] = [];
    for (let k = 0; k < TRIALS; k++) trials.push(await failoverTrial(cluster, k));
    const acks = trials.map((t) => t.firstAckMs ?? Infinity);
    const med = median(acks);
    const max = Math.max(...acks);
    result.failover = { trials, medianMs: med, maxMs: max };
    out(`Failover: kill -9 of the leader → first 200 to a write sent every ${PROBE_MS} ms to each survivor (no redirect followed); ` +
      `survivors' /v1/cluster/status polled every ${POLL_MS} ms; the killed node restarted and the cluster converged between trials`);
    const rows: (string | number)[][] = [['trial', 'killed', 'new leader (term)', 'left old leader ms', 'candidate ms', 'leader seen ms', 'first 200 ms', 'its probe sent ms', 'answers during', 'restart ms', 'converge ms']];
    trials.forEach((t, i) =>
      rows.push([
        i + 1,
        t.killed,
        t.newLeader === null ? '—' : `${t.newLeader} (${t.termAfter ?? '?'})`,
        f1(t.firstLeftOldMs ?? NaN),
        f1(t.firstCandidateMs ?? NaN),
        f1(t.leaderSeenMs ?? NaN),
        t.firstAckMs === null ? 'none' : f1(t.firstAckMs),
        f1(t.firstAckSentMs ?? NaN),
        Object.entries(t.answers).map(([a, n]) => `${a}: ${n}`).join(', '),
        Math.round(t.restartMs),
        Math.round(t.convergeMs),
      ]),
    );
    out(table(rows));
    // openraft 0.9 (native/cluster): a follower of a committed leader starts an election only once
    // leader_lease (= election_timeout_max = 1.5 E) + its random election timeout [E, 1.5 E) passed
    // since it last heard the leader, checked on a tick every 1.5 × heartbeat; the last heartbeat
    // came up to one heartbeat before the kill.
    const E = Number(NODE_ENV.VALORI_RAFT_ELECTION_TIMEOUT_MS ?? 500);
    const H = Number(NODE_ENV.VALORI_RAFT_HEARTBEAT_MS ?? 100);
    out(`expected from the timers (openraft 0.9: leader lease 1.5E + random election timeout [E, 1.5E), tick 1.5H; E = ${E} ms, H = ${H} ms): ` +
      `an election starts ${2.5 * E - H}-${3 * E + 1.5 * H} ms after the kill, plus the vote and the new leader's first commit`);
    out(`kill -9 → first acknowledged write: median ${f1(med)} ms, max ${f1(max)} ms over ${TRIALS} trial(s); target ≤ 3000 ms: ${max <= 3000 ? 'met' : 'missed'}`);
    for (const [i, t] of trials.entries()) out(`  trial ${i + 1} status changes: ${t.timeline.join('; ')}`);
    out();
  }

  result.wallS = (performance.now() - started) / 1000;
  note(`done in ${(result.wallS as number).toFixed(0)} s`);
  const line = JSON.stringify(result);
  if (v.out) {
    fs.mkdirSync(path.dirname(path.resolve(v.out)), { recursive: true });
    fs.writeFileSync(v.out, `${line}\n`);
  }
  out(line);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench-cluster failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    killAll();
    process.exit();
  });
