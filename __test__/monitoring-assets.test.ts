// The shipped monitoring assets (deploy/prometheus/valori-alerts.yml with its rule tests, and
// deploy/grafana/valori-dashboard.json) stay loadable and stay true to what the node exports:
// promtool checks and unit-tests the rules, and every metric name in every PromQL expression must
// be a family (or histogram series) of a real scrape, so renaming a metric breaks this test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startServer, type TestServer } from './helpers';

const ROOT = join(__dirname, '..');
const RULES = join(ROOT, 'deploy/prometheus/valori-alerts.yml');
const RULE_TESTS = join(ROOT, 'deploy/prometheus/valori-alerts.test.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/valori-dashboard.json');

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const HAVE_PROMTOOL = promtool.error === undefined && promtool.status === 0;
// .ci/run installs promtool and sets VALORI_REQUIRE_PROMTOOL=1: there a missing promtool fails.
const REQUIRED = process.env.VALORI_REQUIRE_PROMTOOL === '1';
const SKIP_PROMTOOL = HAVE_PROMTOOL || REQUIRED ? false : 'promtool not found and VALORI_REQUIRE_PROMTOOL unset: `apt-get install prometheus` to run these checks';

function runPromtool(args: string[]): { code: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

// PromQL words that are not metric names. Functions are recognised by the `(` that follows them;
// aggregations also take a `by (...)` clause first, so they are listed.
const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset',
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'inf', 'nan',
]);

/**
 * Metric names referenced by a PromQL expression. Simple by design: drop string literals, label
 * matchers ({...}), range and subquery durations ([...]) and grouping label lists (by (...) etc.),
 * then every identifier not preceded by `$` (Grafana variables), not a number's exponent or unit,
 * not followed by `(` (a function) and not a keyword is a metric name.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1 ()');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w$.:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    const word = m[1];
    if (!KEYWORDS.has(word.toLowerCase())) names.add(word);
  }
  return [...names].sort();
}

/** Every `expr:` of a rules file: one-line values and `|` / `>` blocks (the only forms it uses). */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    if (!/^[|>]-?$/.test(m[2])) {
      exprs.push(m[2].replace(/^'(.*)'$|^"(.*)"$/, '$1$2'));
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > m[1].length)) block.push(lines[++i].trim());
    exprs.push(block.join(' ').trim());
  }
  return exprs;
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every query of the dashboard: panel targets (rows included) and query variables. */
function dashboardExpressions(json: string): { where: string; expr: string }[] {
  const dash = JSON.parse(json) as { panels: Panel[]; templating: { list: { name: string; type: string; query?: string | { query: string } }[] } };
  const out: { where: string; expr: string }[] = [];
  const visit = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      visit(p.panels ?? []);
    }
  };
  visit(dash.panels);
  for (const v of dash.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    // Grafana's label_values(metric, label) is not PromQL: its metric is the first argument.
    const lv = /^label_values\(\s*([^,]+),\s*\w+\s*\)$/.exec(q);
    out.push({ where: `variable ${v.name}`, expr: lv ? lv[1] : q });
  }
  return out;
}

/** Names a scrape can be queried by: each # TYPE family, plus a histogram's or summary's series. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

describe('the PromQL metric-name extractor', () => {
  it('when given aggregations, functions, matchers, durations and variables, then it returns only the metric names', () => {
    assert.deepEqual(
      metricNames('histogram_quantile(0.99, sum by (instance, le) (rate(valori_event_commit_duration_seconds_bucket{instance=~"$instance", status!="5.."}[$__rate_interval]))) > 0.5'),
      ['valori_event_commit_duration_seconds_bucket'],
    );
    assert.deepEqual(metricNames('valori_record_fill_ratio > 0.9'), ['valori_record_fill_ratio']);
    assert.deepEqual(metricNames('sum without (route) (rate(a_total[5m])) / on (instance) group_left b_count > bool 1e3 or c'), ['a_total', 'b_count', 'c']);
    assert.deepEqual(metricNames('valori_replay_duration_seconds_sum / valori_replay_duration_seconds_count'), ['valori_replay_duration_seconds_count', 'valori_replay_duration_seconds_sum']);
  });
});

describe('deploy/prometheus/valori-alerts.yml under promtool', { skip: SKIP_PROMTOOL }, () => {
  before(() => assert.ok(HAVE_PROMTOOL, 'VALORI_REQUIRE_PROMTOOL=1 but promtool is not installed (.ci/run installs it)'));

  it('when checked, then promtool accepts every rule', () => {
    const r = runPromtool(['check', 'rules', RULES]);
    assert.equal(r.code, 0, r.output);
    const found = /SUCCESS: (\d+) rules found/.exec(r.output);
    assert.ok(found, r.output);
    assert.equal(Number(found[1]), ruleExpressions(readFileSync(RULES, 'utf8')).length, 'every rule has an expr the extractor sees');
  });

  it('when unit-tested, then every alert fires and stays quiet as valori-alerts.test.yml expects', () => {
    const r = runPromtool(['test', 'rules', RULE_TESTS]);
    assert.equal(r.code, 0, r.output);
  });
});

describe('the alert rules and their tests', () => {
  it("when read, then the guide's alert is there unchanged and every alert has for, severity, summary and description", () => {
    const rules = readFileSync(RULES, 'utf8');
    assert.match(rules, /- alert: ValoriRecordPoolNearFull\n\s+expr: valori_record_fill_ratio > 0\.9\n\s+for: 5m\n\s+labels:\n\s+severity: warning\n/);
    const alerts = rules.split(/\n\s+- alert: /).slice(1);
    assert.ok(alerts.length >= 8, `${alerts.length} alerts`);
    for (const a of alerts) {
      const name = a.split('\n')[0];
      for (const field of [/\n\s+for: \d+[smh]\n/, /\n\s+severity: (warning|critical)\n/, /\n\s+summary: \S/, /\n\s+description: \S/]) assert.match(a, field, name);
    }
  });

  it('when the rule tests are read, then every alert of the rules file is expected to fire at least once', () => {
    const declared = new Set([...readFileSync(RULES, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]));
    const tests = readFileSync(RULE_TESTS, 'utf8');
    const fired = new Set<string>();
    // An alertname followed by a non-empty exp_alerts list (one "- exp_labels" before the next case).
    for (const m of tests.matchAll(/alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels/g)) fired.add(m[1]);
    assert.deepEqual([...fired].sort(), [...declared].sort());
  });
});

describe('metric names in the shipped rules and dashboard', () => {
  let s: TestServer;
  let follower: TestServer | undefined;
  let dir: string | undefined;
  let exported: Set<string>;
  /** A leader's scrape and a follower's (its leader unreachable): some families are follower-only. */
  let scrape: string;

  before(async () => {
    s = await startServer({ VALORI_DIM: '4' });
    dir = mkdtempSync(join(tmpdir(), 'valori-monitoring-'));
    follower = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_FOLLOWER_OF: 'http://127.0.0.1:1' });
    const texts: string[] = [];
    for (const node of [s, follower]) {
      const r = await request(node.base, '/metrics');
      assert.equal(r.status, 200);
      texts.push(r.text);
    }
    scrape = texts.join('\n');
    exported = exportedNames(scrape);
  });
  after(async () => {
    await follower?.stop();
    await s?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('when a scrape is read, then the name set holds families and histogram series (the check below is not vacuous)', () => {
    for (const n of ['valori_record_fill_ratio', 'valori_http_request_duration_seconds_bucket', 'process_cpu_seconds_total', 'valori_replication_leader_reachable']) assert.ok(exported.has(n), n);
    assert.ok(!exported.has('valori_no_such_metric'));
  });

  it("when docs/api-reference.md's GET /metrics section is read, then every valori_* family of the scrape is in its table", () => {
    const doc = readFileSync(join(ROOT, 'docs/api-reference.md'), 'utf8');
    const section = /\n## `GET \/metrics`\n([\s\S]*?)\n## /.exec(doc);
    assert.ok(section, 'the GET /metrics section');
    const documented = new Set([...section[1].matchAll(/^\|[^|]*\|/gm)].flatMap((row) => [...row[0].matchAll(/`(valori_\w+)`/g)].map((m) => m[1])));
    const families = [...scrape.matchAll(/^# TYPE (valori_\w+) /gm)].map((m) => m[1]);
    assert.ok(families.length >= 20, `${families.length} families`);
    for (const n of families) assert.ok(documented.has(n), `${n} is exported but not in the metrics table`);
  });

  it('when every alert expression is parsed, then each names at least one metric and only exported ones', () => {
    const exprs = ruleExpressions(readFileSync(RULES, 'utf8'));
    assert.ok(exprs.length >= 8);
    for (const expr of exprs) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `no metric in ${expr}`);
      for (const n of names) assert.ok(exported.has(n), `${n} (in alert expr ${expr}) is not exported by the node`);
    }
  });

  it('when every dashboard query is parsed, then each names at least one metric and only exported ones', () => {
    const text = readFileSync(DASHBOARD, 'utf8');
    const dash = JSON.parse(text) as { templating: { list: { name: string; type: string }[] } };
    assert.ok(dash.templating.list.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource'), 'datasource variable DS_PROMETHEUS');
    const queries = dashboardExpressions(text);
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    for (const { where, expr } of queries) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `no metric in ${where}: ${expr}`);
      for (const n of names) assert.ok(exported.has(n), `${n} (${where}) is not exported by the node`);
    }
  });
});
