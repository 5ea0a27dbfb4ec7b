#!/usr/bin/env node
// The release workflow's per-runner test (.github/workflows/release.yml): installs the packed main
// package and this runner's platform package into an empty directory, as a user would, runs
// `npx valori-node --version` and scripts/platform-scenario.cjs through the installed package,
// and writes the scenario's result. Plain .mjs with no dependencies: it runs on every OS, in an
// Alpine container too, under the Node version under test.
//
//   node scripts/install-test.mjs --main valori-node-0.1.0.tgz --platform darwin-arm64 --out r.json
//   node scripts/install-test.mjs --compare DIR     every DIR/*.json must give the same results
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const windows = process.platform === 'win32';

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function run(cmd, args, cwd) {
  // npm and npx are .cmd scripts on Windows, which only a shell starts.
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', shell: windows && (cmd === 'npm' || cmd === 'npx'), timeout: 600_000, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} failed to start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Results without what differs by design: the machine, the Node version, the SIMD path. */
function comparable(result) {
  return JSON.stringify({ ...result, arch: undefined, node: undefined, simd: undefined });
}

function compare(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) throw new Error(`no results in ${dir}`);
  const results = files.map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8'))]);
  const [firstName, first] = results[0];
  for (const [name, r] of results) {
    if (comparable(r) !== comparable(first)) throw new Error(`${name} differs from ${firstName}`);
    console.log(`${name}: ${r.arch} Node ${r.node} (${r.simd}) brute ${r.brute.proof.hash}@${r.brute.proof.height}`);
  }
  console.log(`${files.length} results, one state: every platform computed the same proofs and hits`);
}

function test() {
  const mainTgz = resolve(arg('--main') ?? '');
  const platform = arg('--platform');
  const outFile = arg('--out');
  if (!existsSync(mainTgz) || !platform || !outFile) throw new Error('usage: --main <tgz> --platform <platform> --out <file.json>');
  const pkgDir = join(root, 'npm', platform);
  if (!existsSync(join(pkgDir, `valori-node.${platform}.node`))) throw new Error(`npm/${platform} has no binary: download the build artifact into it first`);
  const work = mkdtempSync(join(tmpdir(), 'valori-install-'));
  try {
    const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], pkgDir))[0];
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'valori-install-test', version: '0.0.0', private: true }));
    const start = process.hrtime.bigint();
    run('npm', ['install', '--no-audit', '--no-fund', mainTgz, join(work, packed.filename)], app);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const version = run('npx', ['--no', '--', 'valori-node', '--version'], app).trim();
    const expected = JSON.parse(readFileSync(join(app, 'node_modules', 'valori-node', 'package.json'), 'utf8')).version;
    if (version !== expected) throw new Error(`npx valori-node --version printed ${version}, expected ${expected}`);
    copyFileSync(join(root, 'scripts', 'platform-scenario.cjs'), join(work, 'platform-scenario.cjs'));
    const loader = join(app, 'node_modules', 'valori-node', 'native', 'index.js');
    const result = JSON.parse(run(process.execPath, [join(work, 'platform-scenario.cjs'), loader], app));
    writeFileSync(outFile, JSON.stringify(result));
    console.log(`${platform}: ${packed.filename} ${packed.size} B packed, installed in ${seconds.toFixed(1)} s, --version ${version}, brute ${result.brute.proof.hash}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  const dir = arg('--compare');
  if (dir) compare(dir);
  else test();
} catch (e) {
  console.error(`install-test: ${e.message}`);
  process.exit(1);
}
