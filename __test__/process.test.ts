// The real server process (`node dist/main.js`, as `npm start` runs it): readiness line, probes,
// clean SIGTERM/SIGINT exit, and one-line refusal of bad configuration. Needs `npm run build`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from './helpers';

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'main.js');
const WAIT_MS = 15_000;

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Spawned {
  child: ChildProcess;
  output: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(env: Record<string, string>, args: string[] = []): Spawned {
  // Only what the test sets, plus PATH: no VALORI_* leaks in from the developer's shell.
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out + err, stderr: () => err, exited };
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the base URL once the readiness line appears. */
function listening(s: Spawned): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(s.output());
        if (m) resolve(`http://127.0.0.1:${m[1]}`);
      };
      s.child.stdout?.on('data', check);
      s.child.stderr?.on('data', check);
      s.child.once('exit', (code) => reject(new Error(`exited with ${code} before listening:\n${s.output()}`)));
      check();
    }),
    'the readiness line',
  );
}

describe('server process', () => {
  before(() => {
    assert.ok(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`);
  });

  it('when started, then it logs "Listening on HOST:PORT", serves requests, and exits 0 on SIGTERM', async () => {
    const s = run({ VALORI_DIM: '3', VALORI_BIND: '127.0.0.1:0', VALORI_LOG_FORMAT: 'pretty' });
    const base = await listening(s);
    assert.match(s.output(), /WARN valori_node: Auth Disabled/);
    const h = await request(base, '/health');
    assert.deepEqual([h.status, h.json.status, h.json.dim], [200, 'ok', 3]);
    const ins = await request(base, '/records', { body: { values: [0.5, 0.25, 1] } });
    assert.deepEqual(ins.json, { id: 0 });
    const found = await request(base, '/search', { body: { query: [0.5, 0.25, 1], k: 1 } });
    assert.deepEqual(found.json, { results: [{ id: 0, score: 0 }] });
    s.child.kill('SIGTERM');
    const { code, signal } = await withTimeout(s.exited, 'exit after SIGTERM');
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
  });

  it('when a token is configured, then /health is public, other routes need it, and SIGINT exits 0', async () => {
    const token = 'process-test-token';
    const s = run({ VALORI_BIND: '127.0.0.1:0', VALORI_AUTH_TOKEN: token, RUST_LOG: 'valori_node=debug,tower_http=debug' });
    const base = await listening(s);
    assert.equal((await request(base, '/health')).status, 200);
    assert.equal((await request(base, '/version')).status, 401);
    assert.equal((await request(base, '/version', { token })).text, '0.1.0');
    s.child.kill('SIGINT');
    const { code } = await withTimeout(s.exited, 'exit after SIGINT');
    assert.equal(code, 0);
    assert.equal(s.output().includes(token), false, 'the token never reaches the logs');
    assert.match(s.output(), /"route":"\/version"/, 'one access line per request (VALORI_ACCESS_LOG defaults to on)');
    assert.match(s.output(), /"service":"valori-node"/, 'JSON lines name the service');
  });

  const bad: [string, string][] = [
    ['VALORI_DIM', 'abc'],
    ['VALORI_DIM', '0'],
    ['VALORI_INDEX', 'foo'],
    ['VALORI_BIND', 'nonsense'],
    ['VALORI_MAX_RECORDS', '-1'],
    ['VALORI_AUTH_TOKEN', ''],
    ['RUST_LOG', 'valori_node=loud'],
  ];
  for (const [name, value] of bad) {
    it(`when ${name}=${JSON.stringify(value)}, then it exits non-zero with one stderr line naming ${name}`, async () => {
      const s = run({ [name]: value, VALORI_BIND: name === 'VALORI_BIND' ? value : '127.0.0.1:0' });
      const { code } = await withTimeout(s.exited, 'exit on bad config');
      assert.notEqual(code, 0);
      const lines = s.stderr().trimEnd().split('\n');
      assert.equal(lines.length, 1, s.stderr());
      assert.ok(lines[0].includes(name), lines[0]);
      assert.doesNotMatch(s.output(), /Listening on/);
    });
  }

  it('when VALORI_SNAPSHOT_INTERVAL=0, then it exits non-zero naming the variable', async () => {
    const s = run({ VALORI_SNAPSHOT_PATH: '/tmp/x.bin', VALORI_SNAPSHOT_INTERVAL: '0' });
    const { code } = await withTimeout(s.exited, 'exit on bad config');
    assert.notEqual(code, 0);
    assert.match(s.stderr(), /^VALORI_SNAPSHOT_INTERVAL[^\n]*\n$/);
  });

  it('when run with --help, then it lists every variable and exits 0', async () => {
    const s = run({}, ['--help']);
    const { code } = await withTimeout(s.exited, 'exit after --help');
    assert.equal(code, 0);
    for (const name of ['VALORI_DIM', 'VALORI_BIND', 'VALORI_AUTH_TOKEN', 'VALORI_MAX_BODY_BYTES', 'RUST_LOG']) {
      assert.ok(s.output().includes(name), name);
    }
  });
});
