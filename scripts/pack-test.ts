// Packs the npm packages the way they would be published and installs them where a user would:
// the main package (valori-node) and the per-platform binary package (valori-node-linux-x64-gnu,
// npm/linux-x64-gnu) are packed with `npm pack`, then installed from the two tarballs into an
// empty directory with no Rust toolchain on PATH. __test__/pack.test.ts starts the server from
// there; run this file directly to get the directory for a manual look:
//
//   npm run build && npm run pack:test
//
// Needs what `npm install` / `npm ci` built: dist/ and native/valori-node.linux-x64-gnu.node.
// The main package's runtime dependencies come from the npm cache (or the registry).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

export const ROOT = join(__dirname, '..');
export const PLATFORM = 'linux-x64-gnu';
export const PLATFORM_DIR = join(ROOT, 'npm', PLATFORM);
export const BINARY = `valori-node.${PLATFORM}.node`;

/** npm and the pack/install steps each get this long; the whole run stays bounded. */
const STEP_TIMEOUT_MS = 300_000;

export interface PackedFile {
  path: string;
}

export interface Packed {
  name: string;
  version: string;
  filename: string;
  files: PackedFile[];
}

export interface PackInstall {
  /** Temporary directory holding the tarballs and app/. */
  work: string;
  /** The empty project the tarballs were installed into. */
  app: string;
  main: Packed;
  platform: Packed;
  /** Environment for commands run in app/: PATH without cargo or rustc, no npm_* of the caller. */
  env: NodeJS.ProcessEnv;
  installLog: string;
}

export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): { stdout: string; stderr: string } {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: STEP_TIMEOUT_MS, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${command} ${args.join(' ')} failed to run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

function onPath(dir: string, names: string[]): boolean {
  return names.some((n) => existsSync(join(dir, n)));
}

/**
 * The caller's environment minus a Rust toolchain: PATH entries holding cargo or rustc are
 * dropped (node and npm are linked into a private bin directory if they lived there), and the
 * npm_* variables of an enclosing `npm test` are not passed on, so the install behaves as a
 * user's would.
 */
export function userEnv(work: string): NodeJS.ProcessEnv {
  const rust = ['cargo', 'rustc', 'rustup'];
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  const nodeDir = dirname(process.execPath);
  const kept = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '' && !onPath(d, rust));
  if (onPath(nodeDir, rust)) {
    for (const tool of ['node', 'npm', 'npx']) if (existsSync(join(nodeDir, tool))) symlinkSync(join(nodeDir, tool), join(bin, tool));
  } else if (!kept.includes(nodeDir)) {
    kept.unshift(nodeDir);
  }
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('npm_') || k === 'INIT_CWD' || /^(CARGO|RUSTUP|RUSTC|RUSTFLAGS)/.test(k) || /^VALORI_/.test(k)) continue;
    env[k] = v;
  }
  env.PATH = [bin, ...kept].join(delimiter);
  return env;
}

/** `npm pack` without lifecycle scripts: packing must not rebuild, it ships what was built. */
export function pack(dir: string, dest: string, env: NodeJS.ProcessEnv): Packed {
  const { stdout } = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], dir, env);
  const json = JSON.parse(stdout) as Packed[];
  return json[0];
}

export function packAndInstall(): PackInstall {
  const built = join(ROOT, 'native', BINARY);
  for (const f of [built, join(ROOT, 'dist', 'cli.js'), join(ROOT, 'native', 'index.js')]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm install\` (or \`npm run build\`) first`);
  }
  const work = mkdtempSync(join(tmpdir(), 'valori-pack-'));
  const env = userEnv(work);
  // What `napi artifacts` does for CI builds: the binary goes into its platform package.
  copyFileSync(built, join(PLATFORM_DIR, BINARY));

  const main = pack(ROOT, work, env);
  const platform = pack(PLATFORM_DIR, work, env);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'valori-pack-test', version: '0.0.0', private: true }));
  const install = run(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, main.filename), join(work, platform.filename)],
    app,
    env,
  );
  return { work, app, main, platform, env, installLog: `${install.stdout}${install.stderr}` };
}

if (require.main === module) {
  const r = packAndInstall();
  process.stdout.write(
    `packed ${r.main.filename} (${r.main.files.length} files) and ${r.platform.filename}\n` +
      `installed into ${r.app}: ${readdirSync(join(r.app, 'node_modules')).join(', ')}\n` +
      `try: cd ${r.app} && VALORI_BIND=127.0.0.1:0 npx --no valori-node\n`,
  );
}
