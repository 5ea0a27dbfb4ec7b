// The npm packages as a user gets them: both tarballs packed (scripts/pack-test.ts), installed
// into an empty directory with no Rust toolchain on PATH, and `npx valori-node` serving /health.
// Also: what each tarball holds, that installing compiles nothing, the glibc floor of the
// prebuilt binary, and the message when no binary matches. Needs what `npm ci` built.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BINARY, PLATFORM, PLATFORM_DIR, ROOT, packAndInstall, type PackInstall } from '../scripts/pack-test';
import { request } from './helpers';

const WAIT_MS = 20_000;
/** The oldest glibc the prebuilt binary must load on. */
const GLIBC_FLOOR = [2, 31];

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const platformPkg = JSON.parse(readFileSync(join(PLATFORM_DIR, 'package.json'), 'utf8'));

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const running: ChildProcess[] = [];

/** `npx --no valori-node` in the install directory, in its own process group (npx + node). */
function npx(r: PackInstall, args: string[], env: Record<string, string>): Run {
  // `--` so that npx leaves flags such as --help to valori-node.
  const child = spawn('npx', ['--no', '--', 'valori-node', ...args], { cwd: r.app, env: { ...r.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Signals npx and the server it started. `afterExit`: npx is gone but the server may not be. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals, afterExit = false): void {
  if (child.pid === undefined || (!afterExit && (child.exitCode !== null || child.signalCode !== null))) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function within<T>(p: Promise<T>, what: string, run: Run): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}:\n${run.output()}`)), WAIT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Highest GLIBC_x.y symbol version the binary needs, from `objdump -T`. */
function maxGlibc(file: string): number[] {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(r.error === undefined && r.status === 0, `objdump -T failed (binutils comes with the C toolchain cargo links with): ${r.error?.message ?? r.stderr}`);
  const versions = [...r.stdout.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.ok(versions.length > 0, 'the binary links against glibc');
  return versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a));
}

describe('npm packages with a prebuilt binary', () => {
  let r: PackInstall;

  before(() => {
    r = packAndInstall();
  });
  after(() => {
    for (const c of running) killGroup(c, 'SIGKILL');
    if (r) rmSync(r.work, { recursive: true, force: true });
    rmSync(join(PLATFORM_DIR, BINARY), { force: true });
  });

  it('when the main package is packed, then it holds dist/, the loader and its types, and no Rust, target/ or binary', () => {
    const files = r.main.files.map((f) => f.path);
    for (const f of ['dist/cli.js', 'dist/main.js', 'native/index.js', 'native/index.d.ts', 'package.json']) assert.ok(files.includes(f), f);
    const foreign = files.filter((f) => !/^(dist\/|native\/index\.(js|d\.ts)$|package\.json$|README\.md$|LICENSE)/.test(f));
    assert.deepEqual(foreign, []);
    assert.ok(!files.some((f) => f.endsWith('.node') || f.endsWith('.rs') || f.includes('Cargo')), 'no binary, no Rust');
  });

  it('when the platform package is packed, then it holds only the binary, with os/cpu/libc and the same version the main package depends on', () => {
    assert.deepEqual(r.platform.files.map((f) => f.path).sort(), ['README.md', BINARY, 'package.json'].sort());
    assert.equal(platformPkg.name, `valori-node-${PLATFORM}`);
    assert.deepEqual([platformPkg.os, platformPkg.cpu, platformPkg.libc, platformPkg.main], [['linux'], ['x64'], ['glibc'], BINARY]);
    assert.equal(platformPkg.version, pkg.version);
    // The checkout depends on the one package a workspace provides; the release adds the others.
    assert.deepEqual(pkg.optionalDependencies, { [platformPkg.name]: pkg.version });
  });

  it('when every napi target is read, then its package under npm/ has the matching name, os/cpu/libc, binary and version', () => {
    const expected: Record<string, [string, string, string, string | null]> = {
      'x86_64-unknown-linux-gnu': ['linux-x64-gnu', 'linux', 'x64', 'glibc'],
      'aarch64-unknown-linux-gnu': ['linux-arm64-gnu', 'linux', 'arm64', 'glibc'],
      'x86_64-unknown-linux-musl': ['linux-x64-musl', 'linux', 'x64', 'musl'],
      'aarch64-unknown-linux-musl': ['linux-arm64-musl', 'linux', 'arm64', 'musl'],
      'x86_64-apple-darwin': ['darwin-x64', 'darwin', 'x64', null],
      'aarch64-apple-darwin': ['darwin-arm64', 'darwin', 'arm64', null],
      'x86_64-pc-windows-msvc': ['win32-x64-msvc', 'win32', 'x64', null],
    };
    assert.deepEqual([...pkg.napi.targets].sort(), Object.keys(expected).sort());
    assert.deepEqual(readdirSync(join(ROOT, 'npm')).sort(), Object.values(expected).map((e) => e[0]).sort(), 'one package directory per target, no other');
    for (const [suffix, os, cpu, libc] of Object.values(expected)) {
      const p = JSON.parse(readFileSync(join(ROOT, 'npm', suffix, 'package.json'), 'utf8'));
      const binary = `valori-node.${suffix}.node`;
      assert.deepEqual(
        [p.name, p.version, p.os, p.cpu, p.libc, p.main, p.files],
        [`valori-node-${suffix}`, pkg.version, [os], [cpu], libc === null ? undefined : [libc], binary, [binary]],
        suffix,
      );
      assert.ok(existsSync(join(ROOT, 'npm', suffix, 'README.md')), `${suffix} README`);
    }
  });

  it('when the release manifest is applied to a copy, then valori-node depends on all seven packages at its version, the client is at that version, and both name the repository', () => {
    const copy = join(r.work, 'manifest');
    mkdirSync(copy);
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    cpSync(join(ROOT, 'npm'), join(copy, 'npm'), { recursive: true, filter: (f) => !f.endsWith('.node') });
    mkdirSync(join(copy, 'packages', 'client'), { recursive: true });
    cpSync(join(ROOT, 'packages', 'client', 'package.json'), join(copy, 'packages', 'client', 'package.json'));
    mkdirSync(join(copy, 'src', 'client'), { recursive: true });
    cpSync(join(ROOT, 'src', 'client', 'version.ts'), join(copy, 'src', 'client', 'version.ts'));
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts', 'release-manifest.mjs'), '--root', copy, '--tag', `v${pkg.version}`], {
      encoding: 'utf8',
      env: { ...process.env, GITHUB_REPOSITORY: 'example/valori-node' },
    });
    assert.equal(run.status, 0, run.stderr);
    const released = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8'));
    const names = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc'];
    assert.deepEqual(released.optionalDependencies, Object.fromEntries(names.map((n) => [`valori-node-${n}`, pkg.version])));
    assert.equal(released.repository.url, 'git+https://github.com/example/valori-node.git');
    assert.equal(JSON.parse(readFileSync(join(copy, 'npm', 'darwin-arm64', 'package.json'), 'utf8')).repository.url, released.repository.url);
    // The standalone client is released with it, at the same version.
    const clientFile = join(copy, 'packages', 'client', 'package.json');
    const client = JSON.parse(readFileSync(clientFile, 'utf8'));
    assert.equal(client.version, pkg.version);
    assert.deepEqual(client.repository, { ...released.repository, directory: 'packages/client' });
    writeFileSync(clientFile, JSON.stringify({ ...client, version: '9.9.9' }));
    const clientBehind = spawnSync(process.execPath, [join(ROOT, 'scripts', 'release-manifest.mjs'), '--root', copy], { encoding: 'utf8' });
    assert.notEqual(clientBehind.status, 0);
    assert.match(clientBehind.stderr, /packages\/client is at 9\.9\.9, valori-node at /);
    writeFileSync(clientFile, JSON.stringify(client));

    const wrongTag = spawnSync(process.execPath, [join(ROOT, 'scripts', 'release-manifest.mjs'), '--root', copy, '--tag', 'v9.9.9'], { encoding: 'utf8' });
    assert.notEqual(wrongTag.status, 0);
    assert.match(wrongTag.stderr, /tag v9\.9\.9 does not match package\.json version/);
  });

  it('when installed from the tarballs with no Rust on PATH, then nothing is compiled: no install scripts, no built binary in the main package', () => {
    assert.equal(spawnSync('cargo', ['--version'], { env: r.env }).error?.message.includes('ENOENT'), true, 'cargo is not on PATH');
    const installed = JSON.parse(readFileSync(join(r.app, 'node_modules', 'valori-node', 'package.json'), 'utf8'));
    // `prepare` (the build) runs for git and directory installs only, never for a registry tarball.
    for (const hook of ['preinstall', 'install', 'postinstall']) assert.equal(installed.scripts?.[hook], undefined, hook);
    assert.deepEqual(readdirSync(join(r.app, 'node_modules', 'valori-node', 'native')).sort(), ['index.d.ts', 'index.js']);
    assert.ok(existsSync(join(r.app, 'node_modules', platformPkg.name, BINARY)));
    assert.ok(existsSync(join(r.app, 'node_modules', '.bin', 'valori-node')));
  });

  it(`when the prebuilt binary is inspected, then it needs at most GLIBC_${GLIBC_FLOOR.join('.')}`, () => {
    const [major, minor] = maxGlibc(join(r.app, 'node_modules', platformPkg.name, BINARY));
    assert.ok(major < GLIBC_FLOOR[0] || (major === GLIBC_FLOOR[0] && minor <= GLIBC_FLOOR[1]), `needs GLIBC_${major}.${minor}`);
  });

  it('when the build is configured, then no global target-cpu is set (SIMD is chosen at run time)', () => {
    for (const f of ['.cargo/config.toml', '.cargo/config', 'Cargo.toml', 'native/kernel/Cargo.toml', 'native/binding/Cargo.toml']) {
      const path = join(ROOT, f);
      if (existsSync(path)) assert.doesNotMatch(readFileSync(path, 'utf8'), /target-cpu|target-feature/, f);
    }
    assert.doesNotMatch(readFileSync(join(ROOT, 'scripts', 'build-native.mjs'), 'utf8'), /target-cpu/);
  });

  it('when `npx valori-node` runs in the install directory, then the server answers /health', async () => {
    const run = npx(r, [], { VALORI_BIND: '127.0.0.1:0', VALORI_DIM: '8', VALORI_LOG_FORMAT: 'json' });
    try {
      const base = await within(
        new Promise<string>((resolve, reject) => {
          const check = () => {
            const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(run.output());
            if (m) resolve(`http://127.0.0.1:${m[1]}`);
          };
          run.child.stdout?.on('data', check);
          run.child.stderr?.on('data', check);
          run.child.once('exit', (code) => reject(new Error(`exited with ${code} before listening:\n${run.output()}`)));
        }),
        'the readiness line',
        run,
      );
      const health = await request(base, '/health');
      assert.deepEqual([health.status, health.json.status, health.json.dim, health.json.version], [200, 'ok', 8, pkg.version]);
      const insert = await request(base, '/records', { body: { values: [1, 2, 3, 4, 5, 6, 7, 8] } });
      assert.deepEqual([insert.status, insert.json], [200, { id: 0 }], 'the native kernel works, not only the HTTP shell');
    } finally {
      // The whole group: npx does not forward signals to the server it started. A clean exit on
      // SIGTERM is the CLI test's subject; here the processes only have to be gone.
      killGroup(run.child, 'SIGTERM');
      await within(run.exited, 'exit after SIGTERM', run).catch(() => undefined);
      killGroup(run.child, 'SIGKILL', true);
    }
  });

  it('when the platform package is missing, then --help still works and starting fails naming the platform and the package', async () => {
    rmSync(join(r.app, 'node_modules', platformPkg.name), { recursive: true, force: true });
    const help = npx(r, ['--help'], {});
    assert.equal(await within(help.exited, '--help', help), 0);
    assert.match(help.output(), /VALORI_DIM/);

    const run = npx(r, [], { VALORI_BIND: '127.0.0.1:0' });
    const code = await within(run.exited, 'the failed start', run);
    assert.notEqual(code, 0);
    assert.match(run.output(), new RegExp(`cannot load the native addon on ${PLATFORM}`));
    assert.ok(run.output().includes(`npm install ${platformPkg.name}@${pkg.version}`), run.output());
  });
});
