// Durability benchmarks (docs/reliability.md battery 7):
//   a) fdatasync latency of the disk under the log directory (append 4 KiB + fdatasync);
//   b) acknowledged inserts/s and latency at 1, 16 and 64 closed-loop HTTP clients against the
//      real server, with the event log and, as the baseline in the same run, without it;
//   c) replay time of an N-event log at dim 384 (built with concurrent single inserts through the
//      binding, recovered by openKernel in a fresh process);
//   d) snapshot save and load at 100k x 384, and the longest write stall during a save.
//
//   npx tsx scripts/bench-durability.ts [--dir /tmp] [--only a,b,c,d] [--http-seconds 10]
//       [--replay-events 1000000] [--build-budget-s 900] [--snapshot-n 100000]
//
// Everything runs in a temp directory under --dir (removed at the end). Needs `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchKernel as Kernel, loadNative } from './lib/native';
import { killAllServers, ServerProcess } from './lib/crash/server';
import { closedLoop } from './lib/http-load';
import { median, normalVectors, percentile, table } from './lib/data';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: os.tmpdir() },
    only: { type: 'string', default: 'a,b,c,d' },
    'fsync-samples': { type: 'string', default: '1000' },
    'http-seconds': { type: 'string', default: '10' },
    'replay-events': { type: 'string', default: '1000000' },
    'build-budget-s': { type: 'string', default: '900' },
    'snapshot-n': { type: 'string', default: '100000' },
  },
});
const DIM = 384;
const parts = new Set(values.only.split(','));
const root = mkdtempSync(join(values.dir, 'valori-bench-'));
const NATIVE = join(__dirname, '..', 'native', 'index.js');
const native = loadNative(NATIVE);
const out = (s = '') => process.stdout.write(`${s}\n`);
const note = (s: string) => process.stderr.write(`  ${s}\n`);
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function machineFacts(): void {
  const cpus = os.cpus();
  let disk = '';
  try {
    disk = execFileSync('df', ['-hT', root], { encoding: 'utf8' }).trim().split('\n')[1].replace(/\s+/g, ' ');
    const dev = disk.split(' ')[0].replace('/dev/', '').replace(/\d+$/, '');
    const rot = readFileSync(`/sys/block/${dev}/queue/rotational`, 'utf8').trim();
    disk += rot === '1' ? ' (rotational)' : ' (non-rotational)';
  } catch {
    // df or /sys may be missing (containers): the facts stay partial.
  }
  out(`machine: ${cpus.length} cores (${cpus[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ` +
    `${os.type()} ${os.release()}, Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  out(`disk under ${values.dir}: ${disk || 'unknown'}`);
  out();
}

// a) ---------------------------------------------------------------------------------------------
function benchFsync(): number {
  const n = Number(values['fsync-samples']);
  const path = join(root, 'fsync.probe');
  const fd = openSync(path, 'a');
  const buf = Buffer.alloc(4096, 0x5a);
  const lat: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const t0 = process.hrtime.bigint();
    writeSync(fd, buf);
    fdatasyncSync(fd);
    if (i >= 20) lat.push(ms(t0));
  }
  closeSync(fd);
  unlinkSync(path);
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  out('a) append 4 KiB + fdatasync, same file system as the log');
  out(table([
    ['samples', 'p50 ms', 'p99 ms', 'max ms', 'mean ms', 'syncs/s (1 thread)'],
    [lat.length, percentile(lat, 50), percentile(lat, 99), Math.max(...lat), mean, Math.round(1000 / mean)],
  ]));
  out();
  return percentile(lat, 50);
}

// b) ---------------------------------------------------------------------------------------------
async function benchHttp(fsyncP50: number): Promise<void> {
  const seconds = Number(values['http-seconds']);
  const vecs = normalVectors(2048, DIM, 11);
  const bodies = Array.from({ length: 2048 }, (_, i) =>
    JSON.stringify({ values: Array.from(vecs.subarray(i * DIM, (i + 1) * DIM), (x) => Math.round(x * 1e4) / 1e4) }),
  );
  const levels = [1, 16, 64];
  const tableRows: (string | number)[][] = [['persistence', 'clients', 'acked inserts/s', 'p50 ms', 'p99 ms', 'non-2xx']];
  const rates: Record<string, number[]> = {};
  let oneP50 = NaN;
  for (const mode of ['event_log', 'none']) {
    const dir = mkdtempSync(join(root, `http-${mode}-`));
    const env: Record<string, string> = {
      VALORI_DIM: String(DIM),
      VALORI_BIND: '127.0.0.1:0',
      VALORI_LOG_FORMAT: 'json',
      VALORI_MAX_RECORDS: '4000000',
    };
    if (mode === 'event_log') env.VALORI_EVENT_LOG_PATH = join(dir, 'events.log');
    const s = new ServerProcess(env);
    const { base } = await s.listening(30_000);
    const port = Number(new URL(base).port);
    rates[mode] = [];
    for (const c of levels) {
      note(`http ${mode}: ${c} clients...`);
      const r = await closedLoop(port, c, seconds, bodies);
      rates[mode].push(r.rate);
      if (mode === 'event_log' && c === 1) oneP50 = r.p50;
      tableRows.push([`HTTP, ${mode}`, c, Math.round(r.rate), r.p50, r.p99, r.errors]);
    }
    s.kill('SIGKILL');
    await s.exited;
    rmSync(dir, { recursive: true, force: true });
  }
  // The same closed loop without HTTP: concurrent single inserts straight into the binding show
  // what group commit does when the HTTP shell is not the bottleneck.
  for (const mode of ['event_log', 'none']) {
    const dir = mkdtempSync(join(root, `binding-${mode}-`));
    const k = await native.open({ dim: DIM, maxRecords: 4_000_000, maxNodes: 0, maxEdges: 0, eventLogPath: mode === 'event_log' ? join(dir, 'events.log') : undefined });
    const rows = Array.from({ length: 2048 }, (_, i) => vecs.subarray(i * DIM, (i + 1) * DIM));
    rates[`binding ${mode}`] = [];
    for (const c of levels) {
      note(`binding ${mode}: ${c} in flight...`);
      const lat: number[] = [];
      let next = 0;
      const warmEnd = performance.now() + 1000;
      const end = warmEnd + seconds * 1000;
      await Promise.all(
        Array.from({ length: c }, async () => {
          while (performance.now() < end) {
            const t0 = performance.now();
            await k.insert(rows[next++ % rows.length]);
            if (t0 >= warmEnd) lat.push(performance.now() - t0);
          }
        }),
      );
      rates[`binding ${mode}`].push(lat.length / seconds);
      tableRows.push([`binding, ${mode}`, c, Math.round(lat.length / seconds), percentile(lat, 50), percentile(lat, 99), 0]);
    }
    k.close();
    rmSync(dir, { recursive: true, force: true });
  }
  out(`b) POST /records, dim ${DIM}, closed-loop node:http keep-alive clients in this process, ${seconds} s per row after 1 s warm-up;`);
  out('   each request one of 2,048 distinct seeded vectors (cycled); "none" = same server without the event log;');
  out('   "binding" rows: the same closed loop as concurrent kernel.insert calls in this process (no HTTP)');
  out(table(tableRows));
  const [one, , sixtyFour] = rates.event_log;
  const [b1, , b64] = rates['binding event_log'];
  out(`   binding with the event log: 64 in flight / 1 in flight = ${(b64 / b1).toFixed(1)}x`);
  out(`   HTTP with the event log: 64-client / 1-client rate = ${(sixtyFour / one).toFixed(1)}x (target >= 20x); ` +
    `1-client p50 latency ${oneP50.toFixed(2)} ms against an fdatasync p50 of ${fsyncP50.toFixed(2)} ms; ` +
    `64 clients reach ${((100 * sixtyFour) / rates.none[2]).toFixed(0)} % of the no-log rate`);
  out();
}

// c) ---------------------------------------------------------------------------------------------
/** Opens a kernel in a fresh Node process (clean heap, cold JIT) and reports the recovery. */
function recoverInChild(opts: Record<string, unknown>): { wallMs: number; rec: { source: string; replayed: number; height: number; seconds: number; snapshotHeight?: number }; rssMiB: number } {
  const code = `
    const { openKernel } = require(${JSON.stringify(NATIVE)});
    const t0 = process.hrtime.bigint();
    openKernel(${JSON.stringify(opts)}).then((k) => {
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const rec = k.recovery();
      process.stdout.write(JSON.stringify({ wallMs, rec, rssMiB: process.memoryUsage().rss / 2 ** 20 }));
      k.close();
      process.exit(0);
    }, (e) => { process.stderr.write(String(e)); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`recovery child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function benchReplay(): Promise<void> {
  const target = Number(values['replay-events']);
  const budgetMs = Number(values['build-budget-s']) * 1000;
  const dir = mkdtempSync(join(root, 'replay-'));
  const opts = { dim: DIM, maxRecords: target + 10, maxNodes: 0, maxEdges: 0, eventLogPath: join(dir, 'events.log') };
  const k = await native.open(opts);
  const pool = normalVectors(4096, DIM, 5);
  const rows = Array.from({ length: 4096 }, (_, i) => pool.subarray(i * DIM, (i + 1) * DIM));
  const inFlight = 512;
  const t0 = process.hrtime.bigint();
  let sent = 0;
  let stopAt = target;
  const worker = async () => {
    while (sent < stopAt) {
      const i = sent++;
      await k.insert(rows[i % rows.length]);
      if (i % 100_000 === 99_999) {
        const el = ms(t0);
        const projected = (el / (i + 1)) * target;
        note(`replay log: ${i + 1} events in ${(el / 1000).toFixed(1)} s (projected ${(projected / 1000).toFixed(0)} s for ${target})`);
        if (projected > budgetMs && stopAt === target) stopAt = Math.max(i + 1, Math.floor((budgetMs / el) * (i + 1) / 100_000) * 100_000);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const buildMs = ms(t0);
  const built = k.stats().eventLogHeight ?? 0;
  k.close();
  const bytes = statSync(opts.eventLogPath).size;
  note(`replaying ${built} events in a fresh process...`);
  const runs = [recoverInChild(opts), recoverInChild(opts), recoverInChild(opts)];
  const best = runs.reduce((a, b) => (a.wallMs < b.wallMs ? a : b));
  const med = median(runs.map((r) => r.wallMs));
  if (best.rec.replayed !== built || best.rec.source !== 'event_log') throw new Error(`replay did not replay the whole log: ${JSON.stringify(best.rec)}`);
  out(`c) replay of a ${built}-event log at dim ${DIM} (each event one single insert); openKernel in a fresh process, 3 runs`);
  out(table([
    ['events', 'log size', 'build s', 'build events/s', 'replay s median', 'replay s best', 'events/s (median)', 'RSS after'],
    [built, mb(bytes), buildMs / 1000, Math.round(built / (buildMs / 1000)), med / 1000, best.wallMs / 1000, Math.round(built / (med / 1000)), `${best.rssMiB.toFixed(0)} MiB`],
  ]));
  if (built < target) {
    out(`   built ${built} of ${target} events within the ${budgetMs / 1000} s budget; linear extrapolation to ${target}: ` +
      `replay ~${((med / built) * target / 1000).toFixed(1)} s, log ~${mb((bytes / built) * target)}`);
  }
  out(`   replay runs (wall): ${runs.map((r) => (r.wallMs / 1000).toFixed(2)).join(' s, ')} s; kernel-reported: ${runs.map((r) => r.rec.seconds.toFixed(2)).join(' s, ')} s`);
  out();
  rmSync(dir, { recursive: true, force: true });
}

// d) ---------------------------------------------------------------------------------------------
/** Sequential single inserts until `until()` is true; returns each write's latency and start. */
async function steadyWriter(k: Kernel, rows: Float32Array[], until: () => boolean): Promise<{ at: number; ms: number }[]> {
  const lat: { at: number; ms: number }[] = [];
  for (let i = 0; !until(); i++) {
    const t0 = performance.now();
    await k.insert(rows[i % rows.length]);
    lat.push({ at: t0, ms: performance.now() - t0 });
  }
  return lat;
}

async function benchSnapshot(): Promise<void> {
  const n = Number(values['snapshot-n']);
  const dir = mkdtempSync(join(root, 'snap-'));
  const opts = { dim: DIM, maxRecords: n + 1_000_000, maxNodes: 0, maxEdges: 0, eventLogPath: join(dir, 'events.log'), snapshotPath: join(dir, 'snapshot.bin') };
  const k = await native.open(opts);
  const data = normalVectors(n, DIM, 42);
  for (let b = 0; b < n; b += 1000) await k.insertBatch(data.subarray(b * DIM, Math.min(n, b + 1000) * DIM), Math.min(1000, n - b));
  const rows = Array.from({ length: 1024 }, (_, i) => data.subarray(i * DIM, (i + 1) * DIM));

  // Baseline: the same writer for 3 s with no snapshot running.
  const end = performance.now() + 3000;
  const base = await steadyWriter(k, rows, () => performance.now() > end);
  const baseMs = base.map((x) => x.ms);

  const saves: { totalMs: number; stallMs: number; bytes: number; maxDuring: number; p99During: number; writes: number }[] = [];
  for (let round = 0; round < 3; round++) {
    let done = false;
    let saveStart = 0;
    let saveEnd = 0;
    const writer = steadyWriter(k, rows, () => done);
    await new Promise((r) => setTimeout(r, 300));
    saveStart = performance.now();
    const r = await k.raw.saveSnapshot();
    saveEnd = performance.now();
    await new Promise((r) => setTimeout(r, 300));
    done = true;
    const lat = await writer;
    // Writes that overlapped the save (started before it ended and finished after it began).
    const during = lat.filter((x) => x.at < saveEnd && x.at + x.ms > saveStart).map((x) => x.ms);
    saves.push({ totalMs: r.totalMs, stallMs: r.stallMs, bytes: r.bytes, maxDuring: Math.max(...during), p99During: percentile(during, 99), writes: during.length });
    note(`snapshot ${round + 1}/3: ${r.totalMs.toFixed(0)} ms, stall ${r.stallMs.toFixed(1)} ms, max write during ${Math.max(...during).toFixed(1)} ms`);
  }
  // Final snapshot with nothing in flight: the log tail after it is empty.
  const last = await k.raw.saveSnapshot();
  const height = k.stats().height;
  k.close();
  const loads = [recoverInChild(opts), recoverInChild(opts), recoverInChild(opts)];
  for (const l of loads) {
    if (l.rec.snapshotHeight !== height || l.rec.replayed !== 0) throw new Error(`expected a pure snapshot load: ${JSON.stringify(l.rec)}`);
  }
  const records = n + base.length + saves.reduce((a, s) => a + s.writes, 0);
  out(`d) snapshots of ${n} x ${DIM} (+ the writer's inserts: ~${records} records, ${mb(last.bytes)} file), binding, event log on`);
  out(table([
    ['save', 'total ms', 'stallMs (lock held)', 'writes during', 'max write ms during', 'p99 write ms during'],
    ...saves.map((s, i) => [String(i + 1), s.totalMs, s.stallMs, s.writes, s.maxDuring, s.p99During]),
  ]));
  out(`   baseline (no snapshot, 3 s, ${baseMs.length} sequential inserts): max ${Math.max(...baseMs).toFixed(2)} ms, p99 ${percentile(baseMs, 99).toFixed(2)} ms, p50 ${percentile(baseMs, 50).toFixed(2)} ms`);
  out(`   load (openKernel from the snapshot, empty log tail, fresh process): ${loads.map((l) => (l.wallMs / 1000).toFixed(2)).join(' s, ')} s ` +
    `(median ${(median(loads.map((l) => l.wallMs)) / 1000).toFixed(2)} s; kernel-reported ${median(loads.map((l) => l.rec.seconds)).toFixed(2)} s)`);
  out();
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  machineFacts();
  let fsyncP50 = NaN;
  if (parts.has('a') || parts.has('b')) fsyncP50 = benchFsync();
  if (parts.has('b')) await benchHttp(fsyncP50);
  if (parts.has('c')) await benchReplay();
  if (parts.has('d')) await benchSnapshot();
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    killAllServers();
    rmSync(root, { recursive: true, force: true });
  });
