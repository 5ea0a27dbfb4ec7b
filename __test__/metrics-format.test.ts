// /metrics as Prometheus itself reads it: the whole scrape goes through promtool (Debian's
// prometheus package; .ci/run installs it), every metric of the deployment guide's "Monitoring"
// section has its documented type, and the guide's alert `valori_record_fill_ratio > 0.9` fires
// exactly when the record pool is more than 90 % full, soft-deleted records included (they hold
// their slot: the 507 counts them).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startServer, vector, type TestServer } from './helpers';

/** The guide's metrics that exist now (its graph names deprecated for valori_graph_*), with their Prometheus types. */
const DOCUMENTED: Record<string, string> = {
  valori_records_live: 'gauge',
  valori_records_capacity: 'gauge',
  valori_record_fill_ratio: 'gauge',
  valori_nodes_live: 'gauge',
  valori_nodes_capacity: 'gauge',
  valori_node_fill_ratio: 'gauge',
  valori_edges_live: 'gauge',
  valori_edges_capacity: 'gauge',
  valori_edge_fill_ratio: 'gauge',
  valori_graph_nodes_live: 'gauge',
  valori_graph_nodes_capacity: 'gauge',
  valori_graph_nodes_fill_ratio: 'gauge',
  valori_graph_edges_live: 'gauge',
  valori_graph_edges_capacity: 'gauge',
  valori_graph_edges_fill_ratio: 'gauge',
  valori_dim: 'gauge',
  valori_node_up: 'gauge',
  valori_proofs_generated_total: 'counter',
  valori_http_request_duration_seconds: 'histogram',
};

/** Event-log metrics of the guide: checked for their type as soon as they are exported. */
const DOCUMENTED_LATER: Record<string, string> = {
  valori_event_log_height: 'gauge',
  valori_events_committed_total: 'counter',
  valori_event_commit_duration_seconds: 'histogram',
  valori_snapshot_size_bytes: 'gauge',
  valori_replay_duration_seconds: 'histogram',
};

const ALERT = 'valori_record_fill_ratio > 0.9';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const HAVE_PROMTOOL = promtool.error === undefined && promtool.status === 0;
// CI must run this test: there a missing promtool is a failure, not a skip.
const SKIP = HAVE_PROMTOOL || process.env.CI === 'true' ? false : 'promtool not found: `apt-get install prometheus` (CI installs it in .ci/run)';

function runPromtool(args: string[], input?: string) {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** `# TYPE name type` lines; only read after promtool accepted the text. */
function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}

const found = (text: string, name: string): string | undefined => types(text).get(name);

/** The value of an unlabelled sample. */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} has an unlabelled sample`);
  return Number(m[1]);
}

describe('GET /metrics in Prometheus text format', { skip: SKIP }, () => {
  let s: TestServer;
  let dir: string;

  before(async () => {
    assert.ok(HAVE_PROMTOOL, 'promtool is required in CI: .ci/run installs it from the prometheus Debian package');
    s = await startServer({ VALORI_DIM: '4', VALORI_MAX_RECORDS: '10', VALORI_MAX_NODES: '4', VALORI_MAX_EDGES: '4' });
    dir = mkdtempSync(join(tmpdir(), 'valori-promtool-'));
  });
  after(async () => {
    await s?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<string> => {
    const r = await request(s.base, '/metrics');
    assert.equal(r.status, 200);
    return r.text;
  };

  it('when the whole scrape is parsed by promtool, then it parses and our metrics pass its lint', async () => {
    await request(s.base, '/records', { body: { values: vector(4, 1) } });
    await request(s.base, '/graph/node', { body: { kind: 1 } });
    await request(s.base, '/v1/proof/state');
    await request(s.base, '/no/such/route');
    const text = await scrape();
    const r = runPromtool(['check', 'metrics'], text);
    // 0: clean; 3: lint findings only; anything else (1) is a parse error of the text format.
    assert.ok(r.code === 0 || r.code === 3, `promtool could not parse /metrics (exit ${r.code}):\n${r.output}`);
    // prom-client's default process metrics carry known findings (gauges named *_total); ours must not.
    const ours = r.output.split('\n').filter((l) => l.startsWith('valori_'));
    assert.deepEqual(ours, [], 'lint findings on valori_* metrics');
  });

  it('when scraped, then every documented metric is there with its documented type', async () => {
    const text = await scrape();
    const found = types(text);
    for (const [name, type] of Object.entries(DOCUMENTED)) {
      assert.equal(found.get(name), type, `${name} is a ${type}`);
      const suffix = type === 'histogram' ? '_bucket' : '';
      assert.match(text, new RegExp(`^${name}${suffix}(\\{[^}]*\\})? \\S+$`, 'm'), `${name} has a sample`);
    }
    for (const [name, type] of Object.entries(DOCUMENTED_LATER)) {
      if (found.has(name)) assert.equal(found.get(name), type, `${name} is a ${type}`);
    }
    assert.equal(sample(text, 'valori_node_up'), 1);
    assert.equal(sample(text, 'valori_dim'), 4);
    assert.ok([...found.keys()].some((n) => n.startsWith('process_')) && [...found.keys()].some((n) => n.startsWith('nodejs_')), 'default process metrics');
  });

  it('when pools fill up, then the fill ratios are held/capacity in 0..1 (held records = valori_records_used)', async () => {
    const text = await scrape();
    assert.equal(found(text, 'valori_records_used'), 'gauge');
    for (const [held, cap, ratio] of [
      ['valori_records_used', 'valori_records_capacity', 'valori_record_fill_ratio'],
      ['valori_graph_nodes_live', 'valori_graph_nodes_capacity', 'valori_graph_nodes_fill_ratio'],
      ['valori_graph_edges_live', 'valori_graph_edges_capacity', 'valori_graph_edges_fill_ratio'],
    ]) {
      const r = sample(text, ratio);
      assert.ok(r >= 0 && r <= 1, `${ratio} = ${r}`);
      assert.equal(r, sample(text, held) / sample(text, cap), ratio);
    }
  });

  it("when graph pools are scraped, then the guide's graph names are deprecated duplicates of valori_graph_*", async () => {
    assert.equal((await request(s.base, '/graph/node', { body: { kind: 1 } })).status, 200);
    const text = await scrape();
    for (const [old, current] of [
      ['valori_nodes_live', 'valori_graph_nodes_live'],
      ['valori_nodes_capacity', 'valori_graph_nodes_capacity'],
      ['valori_node_fill_ratio', 'valori_graph_nodes_fill_ratio'],
      ['valori_edges_live', 'valori_graph_edges_live'],
      ['valori_edges_capacity', 'valori_graph_edges_capacity'],
      ['valori_edge_fill_ratio', 'valori_graph_edges_fill_ratio'],
    ]) {
      assert.equal(sample(text, old), sample(text, current), `${old} = ${current}`);
      assert.match(text, new RegExp(`^# HELP ${old} Deprecated, removed in the next release: use ${current}\\. `, 'm'));
    }
    assert.ok(sample(text, 'valori_graph_nodes_live') >= 1);
  });

  it(`when the record pool is at 90 % and then at 100 %, then the guide's alert "${ALERT}" fires only at 100 %`, async () => {
    const fillTo = async (n: number): Promise<number> => {
      const live = sample(await scrape(), 'valori_records_live');
      const rows = Array.from({ length: n - live }, (_, i) => vector(4, 100 + live + i));
      if (rows.length > 0) assert.equal((await request(s.base, '/v1/vectors/batch_insert', { body: { batch: rows } })).status, 200);
      const text = await scrape();
      assert.equal(sample(text, 'valori_records_live'), n);
      return sample(text, 'valori_record_fill_ratio');
    };
    const atNinety = await fillTo(9);
    const atFull = await fillTo(10);
    assert.deepEqual([atNinety, atFull], [0.9, 1]);
    // Soft-deleting half the pool frees no slot: the next insert still answers 507, and the ratio
    // (and so the alert) stays at 1 while the live count halves.
    for (let id = 0; id < 5; id++) assert.equal((await request(s.base, '/v1/soft-delete', { body: { id } })).status, 200);
    assert.equal((await request(s.base, '/records', { body: { values: vector(4, 999) } })).status, 507);
    const softText = await scrape();
    assert.deepEqual([sample(softText, 'valori_records_live'), sample(softText, 'valori_records_used')], [5, 10]);
    const atSoftFull = sample(softText, 'valori_record_fill_ratio');
    assert.equal(atSoftFull, 1);

    // Prometheus evaluates the guide's expression over the scraped values (promtool's rule tests).
    writeFileSync(join(dir, 'rules.yml'), JSON.stringify({ groups: [{ name: 'valori', rules: [{ alert: 'ValoriRecordPoolNearFull', expr: ALERT }] }] }));
    const series = (instance: string, value: number) => ({ series: `valori_record_fill_ratio{instance="${instance}"}`, values: `${value}x3` });
    writeFileSync(
      join(dir, 'test.yml'),
      JSON.stringify({
        rule_files: ['rules.yml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [series('ninety', atNinety), series('full', atFull), series('soft-deleted', atSoftFull)],
            alert_rule_test: [
              {
                eval_time: '2m',
                alertname: 'ValoriRecordPoolNearFull',
                exp_alerts: [{ exp_labels: { instance: 'full' } }, { exp_labels: { instance: 'soft-deleted' } }],
              },
            ],
          },
        ],
      }),
    );
    const r = runPromtool(['test', 'rules', join(dir, 'test.yml')]);
    assert.equal(r.code, 0, r.output);
  });
});
