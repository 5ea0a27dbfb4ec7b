// Schemathesis (from PyPI, in the repo's .venv-fuzz) against a real server process, driven from
// its own /openapi.json. Shared by __test__/fuzz-openapi.test.ts (short, in npm test) and
// scripts/fuzz-api.ts (longer runs by hand). The only check is not_a_server_error: a 5xx or a
// dropped connection is a defect whatever the input; every other answer is the API's business.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const VENV = join(ROOT, '.venv-fuzz');
export const SCHEMATHESIS = join(VENV, 'bin', 'schemathesis');
/** The pinned version .ci/run installs; README's test section names the same command. */
export const SCHEMATHESIS_VERSION = '4.32.5';
export const SETUP_COMMAND = `python3 -m venv .venv-fuzz && .venv-fuzz/bin/pip install schemathesis==${SCHEMATHESIS_VERSION}`;

/**
 * Routes left out of every run, with the reason:
 * - the replication stream answers 200 and then never ends (server-sent events), so every case
 *   would end in the client's request timeout, which schemathesis reports as an error.
 */
export const EXCLUDED_PATHS: readonly string[] = ['/v1/replication/events'];

type Json = Record<string, unknown>;

function isVectorSchema(s: Json): boolean {
  const items = s.items as Json | undefined;
  return s.type === 'array' && items !== undefined && items.type === 'number';
}

/**
 * The served document says "exactly VALORI_DIM numbers" in prose only, so generated vectors
 * would almost never have the right length and every search or insert would stop at the
 * dimension check. This copy pins vectors to `dim` components in [-1, 1] and batches to at most
 * `maxBatch` rows, so positive cases reach the kernel (and negative ones still break the rules).
 */
export function focusDocument(doc: unknown, dim: number, maxBatch = 16): unknown {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node as Json)) out[k] = walk(v);
    if (isVectorSchema(out)) {
      out.minItems = dim;
      out.maxItems = dim;
      out.items = { ...(out.items as Json), minimum: -1, maximum: 1 };
    } else if (out.type === 'array' && out.items !== undefined && isVectorSchema(out.items as Json)) {
      out.minItems = 1;
      out.maxItems = maxBatch;
    }
    return out;
  };
  return walk(doc);
}

/**
 * File names a snapshot route must refuse or keep inside its directory: the event log and the
 * files beside it, parent and absolute paths. Mixed into the generated `path` of
 * /v1/snapshot/save and /v1/snapshot/restore (the fuzzer would hardly invent them); the durable
 * test's restart then shows whether one of them damaged the log.
 */
export const HOSTILE_FILE_NAMES: readonly string[] = [
  'events.log', 'events.log.prev', 'events.log.broken-1', 'events.log.tmp', 'snapshot.bin', 'snapshot.bin.prev',
  'wal.log', '.', '..', '../events.log', './events.log', 'snapshots/../../events.log', '/tmp', '/etc/passwd', '/dev/null',
  'a\u0000b', 'snapshot.bin/', ' events.log',
];

/**
 * schemathesis.toml for a run. 5xx answers the API documents for a state, not a fault, are
 * allowed: 507 on the writes that declare it (a pool or a limit is full), and GET /health's 503
 * while a pool is full (same body as its 200). Every other 5xx, 503 READ_ONLY included, fails the
 * run. The snapshot routes draw their `path` from HOSTILE_FILE_NAMES (plus `extraNames`) half the
 * time.
 */
export function schemathesisToml(doc: unknown, extraNames: readonly string[] = []): string {
  const ok = ['2xx', '3xx', '4xx'];
  const lines = [
    '[dictionaries.hostile-file-names]',
    `values = ${JSON.stringify([...HOSTILE_FILE_NAMES, ...extraNames])}`,
    '',
  ];
  const paths = ((doc as Json).paths ?? {}) as Record<string, Record<string, Json>>;
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const responses = (op.responses ?? {}) as Json;
      const allowed = path === '/health' && method === 'get' ? ['503'] : '507' in responses ? ['507'] : [];
      const names = method === 'post' && (path === '/v1/snapshot/save' || path === '/v1/snapshot/restore');
      if (allowed.length === 0 && !names) continue;
      lines.push('[[operations]]', `include-path = ${JSON.stringify(path)}`, `include-method = ${JSON.stringify(method.toUpperCase())}`);
      if (allowed.length > 0) lines.push(`checks.not_a_server_error.expected-statuses = ${JSON.stringify([...ok, ...allowed])}`);
      if (names) lines.push('parameters = { "body.path" = { dictionary = "hostile-file-names", probability = 0.5 } }');
      lines.push('');
    }
  }
  return lines.join('\n');
}

export interface FuzzOptions {
  /** Server base URL, e.g. http://127.0.0.1:1234 */
  base: string;
  dim: number;
  token?: string;
  /** Where the focused document and the reports go. */
  workDir: string;
  maxExamples: number;
  seed: number;
  /** Kill schemathesis after this long (the run is then a failure). */
  deadlineMs: number;
  /** Extra paths to leave out, besides EXCLUDED_PATHS. */
  exclude?: readonly string[];
  /** More file names for the snapshot routes (e.g. the absolute path of the node's event log). */
  hostileNames?: readonly string[];
  /** Extra schemathesis arguments (e.g. ['--phases', 'fuzzing']). */
  extraArgs?: readonly string[];
}

export interface FuzzResult {
  exitCode: number | null;
  /** Schemathesis's console output: on a failure it prints each case with a curl command. */
  output: string;
  timedOut: boolean;
  /** JUnit report path (every operation, with failures). */
  junit: string;
}

export async function runSchemathesis(o: FuzzOptions): Promise<FuzzResult> {
  const headers: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  const res = await fetch(`${o.base}/openapi.json`, { headers });
  if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
  const doc = await res.json();
  const docPath = join(o.workDir, 'openapi.focused.json');
  writeFileSync(docPath, JSON.stringify(focusDocument(doc, o.dim)));
  const configPath = join(o.workDir, 'schemathesis.toml');
  writeFileSync(configPath, schemathesisToml(doc, o.hostileNames));
  const junit = join(o.workDir, 'junit.xml');
  const args = [
    '--config-file', configPath,
    'run', docPath,
    '--url', o.base,
    '--checks', 'not_a_server_error',
    '--max-examples', String(o.maxExamples),
    '--seed', String(o.seed),
    '--workers', '1',
    '--request-timeout', '20',
    '--no-color',
    '--suppress-health-check', 'all',
    '--generation-database', 'none',
    '--report', 'junit', '--report-junit-path', junit,
    ...[...EXCLUDED_PATHS, ...(o.exclude ?? [])].flatMap((p) => ['--exclude-path', p]),
    ...(o.token ? ['-H', `Authorization: Bearer ${o.token}`] : []),
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(SCHEMATHESIS, args, {
    cwd: o.workDir,
    // Hypothesis writes its example database and caches under the working directory.
    env: { PATH: process.env.PATH ?? '', HOME: o.workDir, LANG: 'C.UTF-8', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, o.deadlineMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearTimeout(timer);
  return { exitCode, output, timedOut, junit };
}

export function schemathesisInstalled(): boolean {
  return existsSync(SCHEMATHESIS);
}

/**
 * 5xx answers the server itself counted (valori_http_request_duration_seconds_count), less the
 * documented ones schemathesisToml allows: 507 anywhere, 503 on /health. Independent of
 * what schemathesis saw.
 */
export function unexpectedServerErrors(metricsText: string): number {
  let n = 0;
  for (const line of metricsText.split('\n')) {
    const m = /^valori_http_request_duration_seconds_count\{([^}]*)\} (\d+)/.exec(line);
    if (!m) continue;
    const status = /status="(\d+)"/.exec(m[1])?.[1] ?? '';
    const route = /route="([^"]*)"/.exec(m[1])?.[1] ?? '';
    if (!status.startsWith('5') || status === '507' || (status === '503' && route === '/health')) continue;
    n += Number(m[2]);
  }
  return n;
}

/** The failing cases in a JUnit report, one line each (operation and message head). */
export function junitFailures(path: string): string[] {
  if (!existsSync(path)) return [];
  const xml = readFileSync(path, 'utf8');
  const out: string[] = [];
  const re = /<testcase[^>]*name="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g;
  for (let m = re.exec(xml); m !== null; m = re.exec(xml)) {
    const f = /<(failure|error)[^>]*message="([^"]*)"/.exec(m[2]);
    if (f) out.push(`${m[1]}: ${f[2].slice(0, 300)}`);
  }
  return out;
}
