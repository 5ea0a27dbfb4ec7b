// The `valori-node` command (dist/cli.js, package.json "bin"): --help, --version, usage errors,
// and starting the server like `node dist/main.js`. Needs `npm run build`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONFIG_SCHEMA } from '../src/config';
import { request } from './helpers';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const WAIT_MS = 15_000;

/** Runs the CLI to completion with only PATH from the environment (no VALORI_* leaks in). */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: WAIT_MS,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('valori-node CLI', () => {
  before(() => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
  });

  it('when the package is installed, then its bin "valori-node" is dist/cli.js', () => {
    assert.equal(PKG.bin['valori-node'], 'dist/cli.js');
    assert.match(readFileSync(CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'npm links the bin as an executable script');
  });

  it('when called with --help or -h, then it lists every variable with its default and meaning, and exits 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = cli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: valori-node \[--help \| --version\]/);
      for (const spec of Object.values(CONFIG_SCHEMA)) {
        const at = r.stdout.indexOf(`\n${spec.env}\n`);
        assert.ok(at >= 0, `${spec.env} is listed`);
        const entry = r.stdout.slice(at, r.stdout.indexOf('\n\n', at + 1));
        assert.ok(entry.includes(`default: ${spec.defaultText}`), `${spec.env} shows its default: ${entry}`);
        assert.ok(entry.includes(spec.doc), `${spec.env} shows its meaning`);
      }
    }
  });

  it('when called with --version or -v, then it prints the package version and exits 0', () => {
    for (const flag of ['--version', '-v']) {
      const r = cli([flag]);
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${PKG.version}\n`, '']);
    }
  });

  it('when called with an unknown flag or an argument, then it prints one line naming it and exits 2', () => {
    for (const [args, named] of [[['--bogus'], "'--bogus'"], [['-x'], "'-x'"], [['serve'], "'serve'"], [['--version=2'], '--version']] as const) {
      const r = cli([...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, r.stderr);
      assert.ok(r.stderr.startsWith('valori-node: ') && r.stderr.includes(named), r.stderr);
    }
  });

  it('when a variable is invalid, then it refuses to start with one line naming it and exits 2', () => {
    const r = cli([], { VALORI_DIM: 'zero' });
    assert.equal(r.code, 2);
    assert.match(r.stderr.trim(), /^VALORI_DIM="zero" is invalid/);
  });

  it('when called without arguments, then it starts the server from the environment and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI], {
      env: { PATH: process.env.PATH ?? '', VALORI_DIM: '3', VALORI_BIND: '127.0.0.1:0', VALORI_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no readiness line within ${WAIT_MS} ms:\n${out}`)), WAIT_MS);
      const check = () => {
        const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(`http://127.0.0.1:${m[1]}`);
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before listening:\n${out}`));
      });
    });
    const health = await request(base, '/health');
    assert.deepEqual([health.status, health.json.dim], [200, 3]);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
