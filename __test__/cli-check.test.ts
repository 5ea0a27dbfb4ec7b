// `valori-node check` (dist/cli.js): validation without starting, the effective configuration with
// secrets redacted, unknown VALORI_* names with a suggestion; the same redacted configuration in
// the server's boot log; VALORI_LOG_LEVEL and its RUST_LOG alias. Needs `npm run build`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONFIG_SCHEMA, ConfigError, loadConfig } from '../src/config';
import { unknownVariables } from '../src/config-report';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const WAIT_MS = 15_000;
const TOKEN = 'check-test-master-token-0123456789abcdef';
const LEADER_TOKEN = 'check-test-leader-token-fedcba9876543210';
const KEY_HASH = 'a3f1'.repeat(16);

/** Runs the CLI to completion with only PATH from the environment (no VALORI_* leaks in). */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: WAIT_MS });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The report line of one variable: `NAME  value  [source]...`. */
function line(stdout: string, variable: string): string {
  const found = stdout.split('\n').filter((l) => l.startsWith(`${variable} `));
  assert.equal(found.length, 1, `one line for ${variable}:\n${stdout}`);
  return found[0].replace(/\s+/g, ' ');
}

const children: ChildProcess[] = [];
const cleanup: (() => void)[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const f of cleanup) f();
});

describe('valori-node check', () => {
  before(() => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
  });

  it('when the environment is valid, then every variable is listed once with its value in effect and its source, and it exits 0', () => {
    const r = cli(['check'], { VALORI_DIM: ' 384 ', VALORI_BIND: '0.0.0.0:8080', VALORI_INDEX: 'HNSW', VALORI_ALLOWED_HOSTS: 'Vectors.Example,db.local', RUST_LOG: 'valori_node=debug,tower_http=debug' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(line(r.stdout, 'VALORI_DIM'), 'VALORI_DIM 384 [environment]');
    assert.equal(line(r.stdout, 'VALORI_BIND'), 'VALORI_BIND 0.0.0.0:8080 [environment]');
    assert.equal(line(r.stdout, 'VALORI_INDEX'), 'VALORI_INDEX hnsw [environment]');
    assert.equal(line(r.stdout, 'VALORI_ALLOWED_HOSTS'), 'VALORI_ALLOWED_HOSTS vectors.example,db.local [environment]');
    assert.equal(line(r.stdout, 'VALORI_LOG_LEVEL'), 'VALORI_LOG_LEVEL debug [environment (RUST_LOG)]');
    assert.equal(line(r.stdout, 'VALORI_MAX_RECORDS'), 'VALORI_MAX_RECORDS 1024 [default]');
    // Unset, but derived from VALORI_DIM: the width a new collection may have.
    assert.equal(line(r.stdout, 'VALORI_MAX_DIM'), 'VALORI_MAX_DIM (unset) [default] (in effect: 4096)');
    const set = new Set(['VALORI_DIM', 'VALORI_BIND', 'VALORI_INDEX', 'VALORI_ALLOWED_HOSTS', 'VALORI_LOG_LEVEL']);
    for (const spec of Object.values(CONFIG_SCHEMA)) {
      if (set.has(spec.env)) continue;
      assert.ok(line(r.stdout, spec.env).startsWith(`${spec.env} ${spec.defaultText} [default]`), line(r.stdout, spec.env));
    }
    assert.match(r.stdout, /\nconfiguration is valid\n$/);
  });

  it('when a VALORI_* name is misspelt, then it warns naming the closest known variable, exits 0, and 3 under --strict', () => {
    const env = { VALORI_DIMS: '384', valori_index: 'hnsw', VALORI_SNAPSHOT_INTERVAL_SECS: '60', VALORI_NOTHING_LIKE_IT: '1' };
    const r = cli(['check'], env);
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.trimEnd().split('\n');
    assert.equal(warnings.length, 4, r.stderr);
    assert.match(r.stderr, /^warning: VALORI_DIMS is not a variable valori-node reads and is ignored; did you mean VALORI_DIM\?$/m);
    assert.match(r.stderr, /^warning: valori_index .*did you mean VALORI_INDEX\?$/m);
    assert.match(r.stderr, /^warning: VALORI_SNAPSHOT_INTERVAL_SECS .*did you mean VALORI_SNAPSHOT_INTERVAL\?$/m);
    assert.match(r.stderr, /^warning: VALORI_NOTHING_LIKE_IT .*ignored \(valori-node --help lists them\)$/m);
    // The typo is ignored, exactly as the server would ignore it.
    assert.equal(line(r.stdout, 'VALORI_DIM'), 'VALORI_DIM 16 [default]');
    assert.match(r.stdout, /configuration is valid, with 4 warnings\n$/);
    assert.equal(cli(['check', '--strict'], env).code, 3);
    assert.equal(cli(['check', '--strict'], { VALORI_DIM: '8' }).code, 0);
  });

  it('when a value is bad, then it prints the one-line refusal the server would and exits 1', () => {
    for (const [name, value] of [['VALORI_DIM', 'zero'], ['VALORI_BIND', 'nonsense'], ['RUST_LOG', 'valori_node=loud'], ['VALORI_LOG_LEVEL', 'chatty']]) {
      const r = cli(['check'], { [name]: value });
      assert.equal(r.code, 1, `${name}=${value}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, r.stderr);
      assert.ok(r.stderr.startsWith(`${name}=${JSON.stringify(value)} is invalid`), r.stderr);
    }
  });

  it('when tokens and key hashes are set, then no output contains them, and they show as set and redacted', () => {
    const r = cli(['check'], {
      VALORI_AUTH_TOKEN: TOKEN,
      VALORI_LEADER_TOKEN: LEADER_TOKEN,
      VALORI_API_KEYS: `ci:read:${KEY_HASH}`,
      // A misspelt secret is named in the warning, never echoed.
      VALORI_AUTH_TOKN: 'misspelt-secret-value-42',
    });
    assert.equal(r.code, 0, r.stderr);
    const all = r.stdout + r.stderr;
    for (const secret of [TOKEN, LEADER_TOKEN, KEY_HASH, KEY_HASH.slice(0, 8), 'misspelt-secret-value-42']) assert.equal(all.includes(secret), false, `${secret} leaked:\n${all}`);
    assert.equal(line(r.stdout, 'VALORI_AUTH_TOKEN'), 'VALORI_AUTH_TOKEN (set, redacted) [environment]');
    assert.equal(line(r.stdout, 'VALORI_LEADER_TOKEN'), 'VALORI_LEADER_TOKEN (set, redacted) [environment]');
    assert.equal(line(r.stdout, 'VALORI_API_KEYS'), 'VALORI_API_KEYS (set, redacted) [environment]');
    assert.match(r.stderr, /VALORI_AUTH_TOKN .*did you mean VALORI_AUTH_TOKEN\?/);
  });

  it('when the port is taken and the data paths do not exist yet, then check still passes: it binds nothing and opens nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valori-check-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as { port: number }).port;
      const log = join(dir, 'events.log');
      const snap = join(dir, 'snapshot.bin');
      const r = cli(['check'], { VALORI_BIND: `127.0.0.1:${port}`, VALORI_EVENT_LOG_PATH: log, VALORI_SNAPSHOT_PATH: snap });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(line(r.stdout, 'VALORI_EVENT_LOG_PATH'), `VALORI_EVENT_LOG_PATH ${log} [environment]`);
      assert.deepEqual([existsSync(log), existsSync(snap)], [false, false], 'no kernel was opened');
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('when asked for help, then check and --strict are described; stray arguments are refused', () => {
    const help = cli(['--help']);
    assert.match(help.stdout, /^\s+valori-node check \[--strict\]$/m);
    assert.match(help.stdout, /^\s+check\s+Validate the environment/m);
    assert.match(help.stdout, /^\s+doctor\s+Check what the node needs/m);
    for (const args of [['check', 'now'], ['--strict'], ['chek']]) {
      const r = cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.ok(r.stderr.startsWith('valori-node: '), r.stderr);
    }
  });
});

describe('VALORI_LOG_LEVEL and its alias RUST_LOG', () => {
  it('when either is set, then it sets the level; VALORI_LOG_LEVEL wins when both are', () => {
    assert.equal(loadConfig({ VALORI_LOG_LEVEL: 'warn' }).logLevel, 'warn');
    assert.equal(loadConfig({ RUST_LOG: 'valori_node=debug' }).logLevel, 'debug');
    assert.equal(loadConfig({ VALORI_LOG_LEVEL: 'error', RUST_LOG: 'debug' }).logLevel, 'error');
    assert.equal(loadConfig({ VALORI_LOG_LEVEL: '', RUST_LOG: 'debug' }).logLevel, 'debug', 'an empty variable counts as unset');
  });

  it('when the value is bad, then the refusal names the variable it came from', () => {
    for (const [name, env] of [['VALORI_LOG_LEVEL', { VALORI_LOG_LEVEL: 'valori_node=loud' }], ['RUST_LOG', { RUST_LOG: 'valori_node=loud' }]] as const) {
      assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && err.variable === name && err.message.startsWith(`${name}=`));
    }
  });

  it('when RUST_LOG is set, then it is not reported as an unknown variable', () => {
    assert.deepEqual(unknownVariables({ RUST_LOG: 'info', VALORI_LOG_LEVEL: 'info', PATH: '/bin' }), []);
  });
});

describe('the boot log', () => {
  it('when the server starts with secrets and a typo, then one line carries the redacted configuration and one warns about the typo', async () => {
    const child = spawn(process.execPath, [CLI], {
      env: { PATH: process.env.PATH ?? '', VALORI_DIM: '3', VALORI_DIMS: '4', VALORI_BIND: '127.0.0.1:0', VALORI_LOG_FORMAT: 'json', VALORI_AUTH_TOKEN: TOKEN, VALORI_API_KEYS: `ci:read:${KEY_HASH}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no readiness line within ${WAIT_MS} ms:\n${out}`)), WAIT_MS);
      const check = () => {
        if (/Listening on 127\.0\.0\.1:\d+/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before listening:\n${out}`));
      });
    });
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: string; message: string; config?: Record<string, string> });
    const configLines = lines.filter((l) => l.config !== undefined);
    assert.equal(configLines.length, 1, out);
    const [boot] = configLines;
    assert.equal(boot.level, 'info');
    assert.match(boot.message, /^configuration: set in the environment: .*VALORI_DIM\b/);
    assert.equal(boot.config?.VALORI_DIM, '3');
    assert.equal(boot.config?.VALORI_AUTH_TOKEN, '(set, redacted)');
    assert.equal(boot.config?.VALORI_API_KEYS, '(set, redacted)');
    assert.deepEqual(Object.keys(boot.config ?? {}).sort(), Object.values(CONFIG_SCHEMA).map((s) => s.env).sort());
    assert.equal(lines.filter((l) => l.level === 'warn' && /VALORI_DIMS .*did you mean VALORI_DIM\?/.test(l.message)).length, 1, out);
    for (const secret of [TOKEN, KEY_HASH]) assert.equal(out.includes(secret), false, `${secret} reached the logs`);
  });
});
