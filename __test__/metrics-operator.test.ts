// The operator metrics of docs/api-reference.md "GET /metrics": build info, snapshot success time,
// failures and schedule, event-log size, errors by route and code, and the follower's lag, which
// is unknown (NaN), not a stale number, while the follower is not streaming from its leader; the
// follower's leader-reachable gauge (absent on a leader); event streams kept out of the request
// duration histogram.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { startSnapshotScheduler } from '../src/jobs/snapshots';
import type { Kernel } from '../src/kernel/kernel';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { request, startServer, vector, type TestServer } from './helpers';
import { waitFor } from './replication-helpers';

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The `# TYPE` of a family and its samples (labels parsed; values as numbers, NaN included). */
function family(text: string, name: string): { type: string | undefined; samples: Sample[] } {
  const type = new RegExp(`^# TYPE ${name} (\\S+)$`, 'm').exec(text)?.[1];
  const samples: Sample[] = [];
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ labels, value: Number(m[2]) });
  }
  return { type, samples };
}

function only(text: string, name: string, type: string): number {
  const f = family(text, name);
  assert.equal(f.type, type, `${name} is a ${type}`);
  assert.equal(f.samples.length, 1, `${name} has one sample`);
  return f.samples[0].value;
}

const servers: TestServer[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of servers.reverse()) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function server(env: Record<string, string>): Promise<TestServer> {
  const s = await startServer({ VALORI_DIM: '4', ...env });
  servers.push(s);
  return s;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'valori-metrics-op-'));
  dirs.push(d);
  return d;
}

async function scrape(s: TestServer): Promise<string> {
  const r = await request(s.base, '/metrics');
  assert.equal(r.status, 200);
  return r.text;
}

describe('build info and event-log size', () => {
  it('when scraped, then valori_build_info is 1 with the package version, kernel_version 1 and the kernel SIMD path', async () => {
    const s = await server({});
    const f = family(await scrape(s), 'valori_build_info');
    assert.equal(f.type, 'gauge');
    assert.deepEqual(f.samples, [{ labels: { version: PACKAGE_VERSION, kernel: '1', simd: s.kernel.stats().simd }, value: 1 }]);
    assert.match(f.samples[0].labels.simd, /^[a-z0-9]+$/);
  });

  it('when events are written, then valori_event_log_bytes is the size of the event-log file; 0 without a log', async () => {
    const dir = tempDir();
    const path = join(dir, 'events.log');
    const s = await server({ VALORI_EVENT_LOG_PATH: path });
    for (const seed of [1, 2, 3]) assert.equal((await request(s.base, '/records', { body: { values: vector(4, seed) } })).status, 200);
    const bytes = only(await scrape(s), 'valori_event_log_bytes', 'gauge');
    assert.equal(bytes, statSync(path).size);
    assert.ok(bytes > 0);
    const memoryOnly = await server({});
    assert.equal(only(await scrape(memoryOnly), 'valori_event_log_bytes', 'gauge'), 0);
  });
});

describe('snapshot metrics', () => {
  it('when a save succeeds, then the success time moves; when one fails on the disk, then failures count it; a refused request counts nothing', async () => {
    const dir = tempDir();
    const snapDir = join(dir, 'snap');
    mkdirSync(snapDir);
    const s = await server({ VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_SNAPSHOT_PATH: join(snapDir, 'state.snap'), VALORI_SNAPSHOT_INTERVAL: '3600' });
    let text = await scrape(s);
    assert.equal(only(text, 'valori_snapshot_interval_seconds', 'gauge'), 3600);
    assert.equal(only(text, 'valori_snapshot_last_success_timestamp_seconds', 'gauge'), 0);
    assert.equal(only(text, 'valori_snapshot_failures_total', 'counter'), 0);

    assert.equal((await request(s.base, '/records', { body: { values: vector(4, 1) } })).status, 200);
    const before = Date.now() / 1000;
    const saved = await request(s.base, '/v1/snapshot/save', { method: 'POST' });
    const afterSave = Date.now() / 1000;
    assert.equal(saved.status, 200, saved.text);
    text = await scrape(s);
    const at = only(text, 'valori_snapshot_last_success_timestamp_seconds', 'gauge');
    assert.ok(at >= before && at <= afterSave, `${before} <= ${at} <= ${afterSave}`);
    assert.equal(only(text, 'valori_snapshot_size_bytes', 'gauge'), saved.json.bytes);

    // The snapshot's directory is gone: the write of its temporary file fails (IO_ERROR, 500).
    rmSync(snapDir, { recursive: true, force: true });
    assert.equal((await request(s.base, '/records', { body: { values: vector(4, 2) } })).status, 200);
    const failed = await request(s.base, '/v1/snapshot/save', { method: 'POST' });
    assert.equal(failed.status, 500, failed.text);
    text = await scrape(s);
    assert.equal(only(text, 'valori_snapshot_failures_total', 'counter'), 1);
    assert.equal(only(text, 'valori_snapshot_last_success_timestamp_seconds', 'gauge'), at);

    const refused = await request(s.base, '/v1/snapshot/save', { body: { path: '../escape' } });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(only(await scrape(s), 'valori_snapshot_failures_total', 'counter'), 1);
  });

  it('when scheduled snapshots are off, then the interval gauge is 0', async () => {
    assert.equal(only(await scrape(await server({})), 'valori_snapshot_interval_seconds', 'gauge'), 0);
  });

  it('when the scheduler saves, fails, or finds the snapshot current, then it reports each', async () => {
    const metrics = createMetrics(() => ({ simd: 'scalar' }) as ReturnType<Kernel['stats']>);
    const logger = createLogger({ level: 'error', format: 'json', stream: new PassThrough() });
    let height = 5;
    let fail = false;
    const kernel = {
      lastSnapshot: () => ({ height: 5 }),
      recovery: () => ({ snapshotHeight: null }),
      appendedLogBytes: () => 0,
      stats: () => ({ height }),
      saveSnapshot: async () => {
        if (fail) throw new Error('disk full');
        return { height, bytes: 1234, path: 'state.snap', stallMs: 0, totalMs: 1 };
      },
    } as unknown as Kernel;
    const scheduler = startSnapshotScheduler(kernel, { intervalSecs: 60, checkpoint: null }, logger, metrics);
    // One family at a time: the stub kernel has no pools for the other gauges to read.
    const read = async (name: string) => family(await metrics.registry.getSingleMetricAsString(name), name).samples[0].value;
    try {
      assert.equal(await read('valori_snapshot_interval_seconds'), 60);
      // Height 5 is what the last snapshot covers: nothing to write, and the snapshot is current.
      await scheduler.runNow('test');
      assert.ok((await read('valori_snapshot_last_success_timestamp_seconds')) > 0);
      assert.equal(await read('valori_snapshot_size_bytes'), 0);
      height = 6;
      fail = true;
      await scheduler.runNow('test');
      assert.equal(await read('valori_snapshot_failures_total'), 1);
      fail = false;
      await scheduler.runNow('test');
      assert.equal(await read('valori_snapshot_size_bytes'), 1234);
      assert.equal(await read('valori_snapshot_failures_total'), 1);
    } finally {
      await scheduler.stop();
    }
  });
});

describe('collection fill ratio', () => {
  it('when a collection with its own max_records is full of live and soft-deleted records, then its ratio is 1 exactly when inserts into it answer 507', async () => {
    const s = await server({});
    assert.equal((await request(s.base, '/v1/namespaces', { body: { name: 'small', dimension: 3, max_records: 2 } })).status, 200);
    const ratio = async (): Promise<number | undefined> =>
      family(await scrape(s), 'valori_collection_record_fill_ratio').samples.find((x) => x.labels.collection === 'small')?.value;
    assert.equal(await ratio(), 0);
    const first = await request(s.base, '/records', { body: { values: [1, 0, 0], collection: 'small' } });
    assert.equal(first.status, 200, first.text);
    assert.equal(await ratio(), 0.5);
    assert.equal((await request(s.base, '/v1/soft-delete', { body: { id: first.json.id, collection: 'small' } })).status, 200);
    assert.equal(await ratio(), 0.5, 'a soft-deleted record still holds its slot');
    assert.equal((await request(s.base, '/records', { body: { values: [0, 1, 0], collection: 'small' } })).status, 200);
    assert.equal(await ratio(), 1);
    const refused = await request(s.base, '/records', { body: { values: [0, 0, 1], collection: 'small' } });
    assert.equal(refused.status, 507, refused.text);
  });
});

describe('valori_http_errors_total', () => {
  it('when requests fail, then each error is counted once by route pattern and stable code; before routing the route is "unmatched"', async () => {
    const s = await server({});
    for (const id of [7, 8]) assert.equal((await request(s.base, `/graph/node/${id}`)).status, 404);
    assert.equal((await request(s.base, '/no/such/route/12345')).status, 404);
    assert.equal((await request(s.base, '/records', { raw: '{', headers: { 'content-type': 'application/json' } })).status, 400);
    const f = family(await scrape(s), 'valori_http_errors_total');
    assert.equal(f.type, 'counter');
    const byKey = new Map(f.samples.map((x) => [`${x.labels.route} ${x.labels.code}`, x.value]));
    assert.deepEqual(
      [...byKey].sort(),
      [
        ['/graph/node/:id NOT_FOUND', 2],
        ['/records INVALID_JSON', 1],
        ['unmatched ROUTE_NOT_FOUND', 1],
      ].sort(),
    );
    for (const x of f.samples) assert.deepEqual(Object.keys(x.labels).sort(), ['code', 'route']);
  });

  it('when auth refuses a request, then it counts as unmatched UNAUTHORIZED', async () => {
    const s = await server({ VALORI_AUTH_TOKEN: 'metrics-operator-token-0123456789' });
    assert.equal((await request(s.base, '/graph/node/1')).status, 401);
    const f = family(await scrape(s), 'valori_http_errors_total');
    assert.deepEqual(f.samples, [{ labels: { route: 'unmatched', code: 'UNAUTHORIZED' }, value: 1 }]);
  });
});

describe('valori_replication_lag_events on a follower', () => {
  it('when the follower streams, then the lag is a number; when its leader stops, then it is NaN, not the last value', async () => {
    const leader = await server({ VALORI_EVENT_LOG_PATH: join(tempDir(), 'leader.log'), VALORI_REPLICATION_HEARTBEAT_MS: '50' });
    for (const seed of [1, 2, 3]) assert.equal((await request(leader.base, '/records', { body: { values: vector(4, seed) } })).status, 200);
    const leaderText = await scrape(leader);
    assert.equal(only(leaderText, 'valori_replication_lag_events', 'gauge'), 0);
    assert.deepEqual(family(leaderText, 'valori_replication_leader_reachable'), { type: undefined, samples: [] }, 'absent on a leader');
    const follower = await server({ VALORI_EVENT_LOG_PATH: join(tempDir(), 'follower.log'), VALORI_FOLLOWER_OF: leader.base, VALORI_REPLICATION_HEARTBEAT_MS: '50' });
    const describeState = async () => JSON.stringify(follower.replication.state());
    await waitFor('the follower to stream and catch up', async () => (follower.replication.state().connected === true && follower.kernel.stats().height === 3 ? true : undefined), 20_000, describeState);
    const streaming = await scrape(follower);
    assert.equal(only(streaming, 'valori_replication_lag_events', 'gauge'), 0);
    assert.equal(only(streaming, 'valori_replication_leader_reachable', 'gauge'), 1);

    await leader.stop();
    servers.splice(servers.indexOf(leader), 1);
    await waitFor('the follower to stop streaming', async () => (follower.replication.state().connected === false ? true : undefined), 20_000, describeState);
    const text = await scrape(follower);
    // prom-client writes "Nan"; Prometheus parses NaN in any case (promtool checks it in metrics-format).
    assert.match(text, /^valori_replication_lag_events nan$/im);
    assert.ok(Number.isNaN(only(text, 'valori_replication_lag_events', 'gauge')));
    assert.equal(family(text, 'valori_replication_status').samples.find((x) => x.labels.status === 'Connecting')?.value, 1);
    await waitFor('the leader to count as unreachable', async () => (only(await scrape(follower), 'valori_replication_leader_reachable', 'gauge') === 0 ? true : undefined), 20_000, describeState);
  });

  it('when a follower starts with its leader down, then valori_replication_leader_reachable is 0', async () => {
    const follower = await server({ VALORI_EVENT_LOG_PATH: join(tempDir(), 'follower.log'), VALORI_FOLLOWER_OF: 'http://127.0.0.1:1' });
    assert.equal(only(await scrape(follower), 'valori_replication_leader_reachable', 'gauge'), 0);
  });
});

describe('long-lived streams and valori_http_request_duration_seconds', () => {
  it('when a replication event stream ends, then it leaves no request-duration sample (other requests do)', async () => {
    const leader = await server({ VALORI_EVENT_LOG_PATH: join(tempDir(), 'leader.log'), VALORI_REPLICATION_HEARTBEAT_MS: '50' });
    assert.equal((await request(leader.base, '/records', { body: { values: vector(4, 1) } })).status, 200);
    const res = await fetch(`${leader.base}/v1/replication/events?from=1`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    // The server ends every open stream (as at shutdown): the response finishes normally.
    leader.replication.streams.closeAll();
    await res.text();
    const samples = family(await scrape(leader), 'valori_http_request_duration_seconds_count').samples;
    assert.ok(samples.some((x) => x.labels.route === '/records' && x.value === 1), 'the insert is observed');
    assert.deepEqual(samples.filter((x) => x.labels.route === '/v1/replication/events'), []);
  });
});
