// Issue 9's closing measurements, each against real server processes (`node dist/main.js` of this
// tree, and of a baseline tree built elsewhere when --baseline is given, in the same run):
//   memory  RSS and the kernel's vector bytes after 0, 1k, 5k, 10k insert + hard-delete cycles at
//           VALORI_MAX_RECORDS=1, dim 384 (flat is the target): brute and HNSW in memory, brute
//           with an event log;
//   slow    /health latency (2,000 sequential keep-alive requests) and POST /search failures
//           alone, then while 2,000 slow-body sockets are open (POST headers with a 64 KiB, then a
//           1 MiB Content-Length; half of them trickle a byte every 5 s, half send nothing), then
//           --hold seconds later; how many sockets the server closed, and when;
//   search  HNSW search QPS over HTTP (Fashion-MNIST 60k x 784, autocannon, 8 connections, k 10),
//           alternating between the trees round by round.
//
//   npx tsx scripts/bench-hostile.ts [--baseline /tmp/base] [--only memory,slow,search]
//     [--cycles 10000] [--slow 2000] [--samples 2000] [--hold 40] [--content-length 65536,1048576] [--rounds 3] [--seconds 10] [--ef 32]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseArgs } from 'node:util';
import { median, percentile, table } from './lib/data';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    only: { type: 'string', default: 'memory,slow,search' },
    cycles: { type: 'string', default: '10000' },
    slow: { type: 'string', default: '2000' },
    samples: { type: 'string', default: '2000' },
    hold: { type: 'string', default: '40' },
    'content-length': { type: 'string', default: '65536,1048576' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    ef: { type: 'string', default: '32' },
  },
});
const ONLY = new Set(values.only!.split(','));
const CYCLES = Number(values.cycles);
const SLOW = Number(values.slow);
const SAMPLES = Number(values.samples);
const HOLD_S = Number(values.hold);
const CONTENT_LENGTHS = values['content-length']!.split(',').map(Number);
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const EF = Number(values.ef);

interface Tree {
  name: string;
  main: string;
}
const TREES: Tree[] = [{ name: 'current', main: path.join(__dirname, '..', 'dist', 'main.js') }];
if (values.baseline) TREES.push({ name: path.basename(values.baseline), main: path.join(values.baseline, 'dist', 'main.js') });

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

interface Server {
  base: string;
  port: number;
  stop(): Promise<void>;
}

async function startServer(tree: Tree, env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, [tree.main], {
    cwd: path.dirname(path.dirname(tree.main)),
    env: { PATH: process.env.PATH ?? '', VALORI_BIND: '127.0.0.1:0', VALORI_LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (children.delete(child), resolve())));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${tree.name}: no readiness line:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`${tree.name}: exited before listening:\n${out}`)));
  });
  return { base: `http://127.0.0.1:${port}`, port, stop: async () => (child.kill('SIGKILL'), await exited) };
}

async function post(base: string, route: string, body: unknown): Promise<any> {
  const r = await fetch(base + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${route} answered ${r.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** A metric's value from the Prometheus text (first series matching the label filter). */
function metric(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{') && line.includes(labels)) return Number(line.split(' ').pop());
  }
  return NaN;
}

const MiB = (n: number) => (Number.isFinite(n) ? (n / 1048576).toFixed(1) : 'n/a');

async function benchMemory(): Promise<void> {
  const dim = 384;
  const vec = Array.from({ length: dim }, (_, i) => Math.sin(i) / 2);
  const checkpoints = [0, 1_000, 5_000, 10_000].filter((c) => c <= CYCLES);
  if (!checkpoints.includes(CYCLES)) checkpoints.push(CYCLES);
  const rows: (string | number)[][] = [['tree', 'index (+ event log)', 'cycles', 'RSS MiB', 'heap used MiB', 'vector bytes', 'index bytes', 'slots used']];
  for (const tree of TREES) {
    for (const variant of ['brute', 'hnsw', 'brute+log']) {
      const [index, log] = variant.split('+');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'valori-bench-hostile-'));
      const s = await startServer(tree, {
        VALORI_DIM: String(dim), VALORI_MAX_RECORDS: '1', VALORI_INDEX: index,
        ...(log ? { VALORI_EVENT_LOG_PATH: path.join(dir, 'events.log') } : {}),
      });
      const sample = async (cycles: number) => {
        const m = await (await fetch(`${s.base}/metrics`)).text();
        const h = (await (await fetch(`${s.base}/health`)).json()) as { records: { slots_used: number } };
        rows.push([
          tree.name, variant, cycles,
          MiB(metric(m, 'process_resident_memory_bytes')),
          MiB(metric(m, 'nodejs_heap_size_used_bytes')),
          metric(m, 'valori_index_memory_bytes', 'part="vectors"'),
          metric(m, 'valori_index_memory_bytes', 'part="index"'),
          h.records.slots_used,
        ]);
      };
      for (let c = 0; c <= CYCLES; c++) {
        if (checkpoints.includes(c)) await sample(c);
        if (c === CYCLES) break;
        const { id } = await post(s.base, '/records', { values: vec });
        await post(s.base, '/v1/delete', { id });
      }
      await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`\n## Memory after insert + hard-delete cycles (VALORI_MAX_RECORDS=1, dim ${dim})\n`);
  console.log(table(rows));
}

/** `n` sequential requests on one keep-alive socket: latencies (ms) of the 2xx, and the others by status. */
async function sample(port: number, n: number, route = '/health', body?: string): Promise<{ ms: number[]; failed: Map<number, number> }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ms: number[] = [];
  const failed = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const status = await new Promise<number>((resolve) => {
      const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const req = http.request({ host: '127.0.0.1', port, path: route, method: body === undefined ? 'GET' : 'POST', headers, agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
      req.end(body);
    });
    if (status >= 200 && status < 300) ms.push(performance.now() - t0);
    else failed.set(status, (failed.get(status) ?? 0) + 1);
  }
  agent.destroy();
  return { ms, failed };
}

/** "0", or "12 x 503, 3 x 0" (0: no answer). */
const failures = (f: Map<number, number>) => (f.size === 0 ? '0' : [...f].map(([s, c]) => `${c} x ${s}`).join(', '));

interface SlowSockets {
  connected(): number;
  open(): number;
  /** Lifetimes (s) of the sockets the server closed. */
  closedAfter(): number[];
  destroy(): void;
}

/** Opens `n` POST /records requests that promise a `contentLength` body and never finish sending it. */
async function openSlowSockets(port: number, n: number, contentLength: number): Promise<SlowSockets> {
  const sockets: net.Socket[] = [];
  const closedAfter: number[] = [];
  let connected = 0;
  let open = 0;
  let destroying = false;
  const head = `POST /records HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n{"values":[`;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      new Promise<void>((resolve) => {
        const t0 = performance.now();
        const s = net.connect({ host: '127.0.0.1', port });
        sockets.push(s);
        let trickle: NodeJS.Timeout | undefined;
        let wasOpen = false;
        s.on('connect', () => {
          wasOpen = true;
          connected++;
          open++;
          s.write(head);
          // Half trickle a digit every 5 s (never idle), half go silent after the headers.
          if (i % 2 === 0) trickle = setInterval(() => s.write('1'), 5_000);
          resolve();
        });
        s.on('data', () => undefined);
        s.on('error', () => resolve());
        s.on('close', () => {
          clearInterval(trickle);
          if (wasOpen) open--;
          if (wasOpen && !destroying) closedAfter.push((performance.now() - t0) / 1000);
          resolve();
        });
      }),
    ),
  );
  return {
    connected: () => connected,
    open: () => open,
    closedAfter: () => closedAfter,
    destroy: () => {
      destroying = true;
      for (const s of sockets) s.destroy();
    },
  };
}

async function benchSlow(): Promise<void> {
  const rows: (string | number)[][] = [
    ['tree', 'phase', '/health p50 ms', 'p99 ms', 'max ms', '/health failed', '/search failed', 'slow open', 'closed by server (median s)'],
  ];
  const search = JSON.stringify({ query: [0.1, 0.2, 0.3, 0.4], k: 1 });
  const searches = Math.max(1, Math.round(SAMPLES / 10));
  const row = async (tree: Tree, s: Server, phase: string, slow?: SlowSockets) => {
    const h = await sample(s.port, SAMPLES);
    const q = await sample(s.port, searches, '/search', search);
    const closed = slow?.closedAfter() ?? [];
    rows.push([
      tree.name, phase, percentile(h.ms, 50), percentile(h.ms, 99), Math.max(...h.ms), failures(h.failed), `${failures(q.failed)} of ${searches}`,
      slow ? slow.open() : '', slow ? (closed.length ? `${closed.length} (${median(closed).toFixed(1)})` : '0') : '',
    ]);
  };
  for (const length of CONTENT_LENGTHS) {
    for (const tree of TREES) {
      const s = await startServer(tree, { VALORI_DIM: '4' });
      await post(s.base, '/records', { values: [0.1, 0.2, 0.3, 0.4] });
      await row(tree, s, 'no slow sockets');
      const slow = await openSlowSockets(s.port, SLOW, length);
      await row(tree, s, `${slow.connected()} x ${length} B bodies`, slow);
      // Hold on (bounded) to see the server's own timeouts at work, then measure again.
      await new Promise((r) => setTimeout(r, HOLD_S * 1000));
      await row(tree, s, `${HOLD_S} s later`, slow);
      slow.destroy();
      await s.stop();
    }
  }
  console.log(`\n## /health (${SAMPLES} sequential keep-alive GETs) and POST /search (${searches}) while ${SLOW} slow-body sockets are open (Content-Length ${CONTENT_LENGTHS.join(', ')})\n`);
  console.log(table(rows));
}

function loadIdx(name: string): Float32Array {
  const dir = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
  const plain = path.join(dir, name);
  const raw = fs.existsSync(plain) ? fs.readFileSync(plain) : zlib.gunzipSync(fs.readFileSync(plain + '.gz'));
  return Float32Array.from(raw.subarray(16));
}

async function benchSearch(): Promise<void> {
  const DIM = 784;
  const data = loadIdx('train-images-idx3-ubyte');
  const queries = loadIdx('t10k-images-idx3-ubyte');
  const n = data.length / DIM;
  const servers: { tree: Tree; s: Server; loadS: number }[] = [];
  for (const tree of TREES) {
    const s = await startServer(tree, {
      VALORI_DIM: String(DIM), VALORI_INDEX: 'hnsw', VALORI_HNSW_EF_SEARCH: String(EF), VALORI_MAX_RECORDS: '70000', VALORI_MAX_NODES: '0', VALORI_MAX_EDGES: '0',
    });
    const t0 = performance.now();
    for (let i = 0; i < n; i += 2000) {
      const rows: number[][] = [];
      for (let j = i; j < Math.min(n, i + 2000); j++) rows.push(Array.from(data.subarray(j * DIM, (j + 1) * DIM)));
      await post(s.base, '/v1/vectors/batch_insert', { batch: rows });
    }
    servers.push({ tree, s, loadS: (performance.now() - t0) / 1000 });
  }
  const bodies = Array.from({ length: 100 }, (_, i) => JSON.stringify({ query: Array.from(queries.subarray(i * DIM, (i + 1) * DIM)), k: 10, ef: EF }));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require('autocannon');
  const perTree = new Map<string, { qps: number[]; p50: number[]; p99: number[] }>(TREES.map((t) => [t.name, { qps: [], p50: [], p99: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { tree, s } of servers) {
      const r = await autocannon({
        url: `${s.base}/search`, connections: 8, duration: SECONDS,
        requests: bodies.map((body) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body })),
      });
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${tree.name}: non-2xx ${r.non2xx}, errors ${r.errors}`);
      const t = perTree.get(tree.name)!;
      t.qps.push(Math.round(r.requests.average));
      t.p50.push(r.latency.p50);
      t.p99.push(r.latency.p99);
    }
  }
  for (const { s } of servers) await s.stop();
  const rows: (string | number)[][] = [['tree', 'load s', 'QPS per round', 'median QPS', 'p50 ms (median)', 'p99 ms (median)']];
  for (const { tree, loadS } of servers) {
    const t = perTree.get(tree.name)!;
    rows.push([tree.name, loadS.toFixed(1), t.qps.join(' / '), median(t.qps), median(t.p50), median(t.p99)]);
  }
  console.log(`\n## HNSW search over HTTP (Fashion-MNIST ${n} x ${DIM}, k 10, ef ${EF}, autocannon 8 connections, ${ROUNDS} x ${SECONDS} s alternating)\n`);
  console.log(table(rows));
}

async function main(): Promise<void> {
  for (const t of TREES) if (!fs.existsSync(t.main)) throw new Error(`${t.main} is missing: build that tree first (npm run build)`);
  console.log(`trees: ${TREES.map((t) => `${t.name} (${t.main})`).join(', ')}`);
  if (ONLY.has('memory')) await benchMemory();
  if (ONLY.has('slow')) await benchSlow();
  if (ONLY.has('search')) await benchSearch();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
