// Replication benchmarks, with real leader and follower processes:
//   a) fdatasync latency of the disk under --dir (context: every applied event is fsynced twice,
//      once on the leader and once on the follower, group commit aside);
//   b) replication lag at a steady --rate of single inserts per second for --seconds: for each
//      event, the time from the leader's commit to the follower's commit. Both are observed the
//      same way, by this process reading each node's own GET /v1/replication/events stream (a
//      node streams an event once it is durable in its log), so client-side latency cancels out;
//   c) catch-up rate: the follower is stopped, the leader takes --behind more events, the
//      follower restarts and resumes from its own log; events/s until it has them all.
//
//   npx tsx scripts/bench-replication.ts [--dir /tmp] [--dim 384] [--rate 1000] [--seconds 20] [--behind 100000]
//       [--check-ms 5000]
//
// Needs `npm run build`. Everything runs in a temp directory under --dir, removed at the end.
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import { killAllServers, ok, ServerProcess, sleep } from './lib/crash/server';
import { median, normalVectors, percentile, table } from './lib/data';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: os.tmpdir() },
    dim: { type: 'string', default: '384' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    behind: { type: 'string', default: '100000' },
    // The follower's VALORI_REPLICATION_CHECK_INTERVAL_MS (its default is 5000).
    'check-ms': { type: 'string', default: '5000' },
  },
});
const DIM = Number(values.dim);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BEHIND = Number(values.behind);
const root = mkdtempSync(join(values.dir, 'valori-bench-repl-'));
const out = (s = '') => process.stdout.write(`${s}\n`);
const note = (s: string) => process.stderr.write(`  ${s}\n`);

const POOL = 1_000;
const vectors = normalVectors(POOL, DIM, 7);
// Request bodies are serialized once, so the load generator spends its CPU on sending.
const bodies = Array.from({ length: POOL }, (_, i) => JSON.stringify({ values: Array.from(vectors.subarray(i * DIM, (i + 1) * DIM)) }));

/** POST /records with a pre-serialized body; resolves with the status (throws when unanswered). */
async function insert(base: string, i: number): Promise<number> {
  const res = await fetch(`${base}/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i % POOL] });
  await res.arrayBuffer();
  return res.status;
}

function nodeEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    VALORI_DIM: String(DIM),
    VALORI_MAX_RECORDS: String(BEHIND + RATE * SECONDS * 2 + 10_000),
    VALORI_BIND: '127.0.0.1:0',
    VALORI_EVENT_LOG_PATH: join(root, name, 'events.log'),
    VALORI_LOG_FORMAT: 'json',
    ...extra,
  };
}

async function start(name: string, extra: Record<string, string> = {}): Promise<{ p: ServerProcess; base: string }> {
  mkdirSync(join(root, name), { recursive: true });
  const p = new ServerProcess(nodeEnv(name, extra));
  const { base } = await p.listening(30_000);
  return { p, base };
}

async function stop(p: ServerProcess): Promise<void> {
  p.kill('SIGTERM');
  await p.exited;
}

function fsyncP50(): number {
  const path = join(root, 'fsync.bin');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 1);
  const samples: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = process.hrtime.bigint();
    writeSync(fd, block);
    fdatasyncSync(fd);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  closeSync(fd);
  return median(samples);
}

/** Reads a node's event stream from `from`, recording when each sequence number arrived. */
function watchCommits(base: string, from: number): { seen: Map<number, number>; stop(): void } {
  const seen = new Map<number, number>();
  const controller = new AbortController();
  void (async () => {
    const res = await fetch(`${base}/v1/replication/events?from=${from}`, { signal: controller.signal });
    const parser = createParser({
      onEvent(e) {
        if (e.id !== undefined) seen.set(Number(e.id), performance.now());
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  })().catch(() => undefined);
  return { seen, stop: () => controller.abort() };
}

async function height(base: string): Promise<number> {
  return (await ok(base, '/v1/replication/state')).committed_height as number;
}

async function waitApplied(follower: string, target: number, budgetMs: number): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while ((await ok(follower, '/v1/replication/state')).applied_height < target) {
    if (Date.now() > deadline) throw new Error(`follower did not reach ${target} within ${budgetMs} ms`);
    await sleep(50);
  }
}

/** b) Open loop: request i is sent at t0 + i / rate, whether or not earlier ones were answered. */
async function steadyLag(leader: string, follower: string) {
  const from = (await height(leader)) + 1;
  const atLeader = watchCommits(leader, from);
  const atFollower = watchCommits(follower, from);
  await sleep(300);
  const total = RATE * SECONDS;
  const acks: number[] = [];
  let failed = 0;
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const sent = performance.now();
    const p: Promise<void> = insert(leader, i)
      .then((status) => (status === 200 ? void acks.push(performance.now() - sent) : void failed++))
      .catch(() => void failed++)
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - t0) / 1000;
  const last = await height(leader);
  await waitApplied(follower, last, 120_000);
  await sleep(200);
  atLeader.stop();
  atFollower.stop();
  const lags: number[] = [];
  for (const [seq, tl] of atLeader.seen) {
    const tf = atFollower.seen.get(seq);
    if (tf !== undefined) lags.push(tf - tl);
  }
  return { sent: total, achieved: acks.length / elapsed, failed, ackP50: percentile(acks, 50), ackP99: percentile(acks, 99), lags, events: last - from + 1 };
}

/** c) The follower is stopped, the leader takes `BEHIND` events, the follower resumes. */
async function catchUp(leader: string, followerProc: ServerProcess) {
  await stop(followerProc);
  const startHeight = await height(leader);
  note(`writing ${BEHIND} events to the leader while the follower is down...`);
  let next = 0;
  const writer = async () => {
    while (next < BEHIND) {
      const i = next++;
      const status = await insert(leader, i);
      if (status !== 200) throw new Error(`insert failed: ${status}`);
    }
  };
  const tw = performance.now();
  await Promise.all(Array.from({ length: 64 }, writer));
  note(`  written in ${((performance.now() - tw) / 1000).toFixed(1)} s`);
  const target = await height(leader);
  const spawned = performance.now();
  const f = await start('follower', { VALORI_FOLLOWER_OF: leader });
  const listening = performance.now();
  let firstProgress = 0;
  for (let i = 0; ; i++) {
    const s = await ok(f.base, '/v1/replication/state');
    if (firstProgress === 0 && s.applied_height > startHeight) firstProgress = performance.now();
    if (s.applied_height >= target) break;
    if (i > 20 * 600) throw new Error('catch-up did not finish within 10 minutes');
    await sleep(50);
  }
  const done = performance.now();
  const state = await ok(f.base, '/v1/replication/state');
  await stop(f.p);
  return {
    behind: target - startHeight,
    fromSpawnS: (done - spawned) / 1000,
    startupS: (listening - spawned) / 1000,
    applyS: (done - (firstProgress || listening)) / 1000,
    bootstraps: state.bootstraps as number,
  };
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  out(`machine: ${cpus.length} cores (${cpus[0]?.model ?? '?'}), Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  out(`disk under ${values.dir}: fdatasync of 4 KiB, p50 ${fsyncP50().toFixed(2)} ms`);
  out(`dim ${DIM}, single inserts (POST /records), leader and follower on this machine, each with its own event log; follower checks every ${values['check-ms']} ms`);
  out();

  const leader = await start('leader');
  const follower = await start('follower', { VALORI_FOLLOWER_OF: leader.base, VALORI_REPLICATION_CHECK_INTERVAL_MS: values['check-ms'] });
  // Some history, so the follower is streaming (not bootstrapping) when the measurement starts.
  for (let i = 0; i < 100; i++) await insert(leader.base, i);
  await waitApplied(follower.base, await height(leader.base), 30_000);

  note(`steady load: ${RATE} writes/s for ${SECONDS} s...`);
  const s = await steadyLag(leader.base, follower.base);
  out(`b) replication lag at a steady ${RATE} writes/s for ${SECONDS} s (${s.sent} sent, ${s.achieved.toFixed(0)}/s acknowledged, ${s.failed} failed; leader write ack p50 ${s.ackP50.toFixed(2)} ms, p99 ${s.ackP99.toFixed(2)} ms)`);
  out(table([
    ['events compared', 'lag p50 ms', 'lag p90 ms', 'lag p99 ms', 'lag max ms'],
    [s.lags.length, percentile(s.lags, 50), percentile(s.lags, 90), percentile(s.lags, 99), Math.max(...s.lags)],
  ]));
  out();

  const c = await catchUp(leader.base, follower.p);
  out(`c) catch-up: follower ${c.behind} events behind, restarted on its own log (bootstraps: ${c.bootstraps})`);
  out(table([
    ['events', 'process start s', 'apply s', 'events/s (apply)', 'spawn to caught up s', 'events/s (overall)'],
    [c.behind, c.startupS, c.applyS, c.behind / c.applyS, c.fromSpawnS, c.behind / c.fromSpawnS],
  ]));
  await stop(leader.p);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    killAllServers();
    rmSync(root, { recursive: true, force: true });
  });
