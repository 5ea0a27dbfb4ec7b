#!/usr/bin/env node
// Builds the addon for another target into its per-platform package (npm/<platform>/) and checks
// the result with binutils/llvm tools. `npm run build:cross -- linux-arm64-gnu [--check-only]`.
//
//   linux-x64-gnu, linux-arm64-gnu   napi-rs's cross toolchain (gcc, glibc 2.17 sysroot, npm)
//   linux-*-musl, darwin-*           cargo-zigbuild + zig from PyPI, in .venv-zig/ (pinned)
//   win32-x64-msvc                   not here: cargo-xwin fetches the MSVC CRT and Windows SDK from
//                                    Microsoft, which this machine cannot reach; the release
//                                    workflow builds it on a Windows runner
//
// The committed loader and types are left alone: napi writes them into a temp directory, and only
// the binary is copied. CARGO_TARGET_DIR is honoured (use a separate one to build next to a
// running `npm run build:native`). Plain .mjs, like build-native.mjs.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** Pinned tool versions (PyPI). */
const ZIGLANG = '0.17.0';
const CARGO_ZIGBUILD = '0.24.0';
/**
 * napi-rs publishes the x64-host → aarch64 toolchain as 1.0.3 only, while the repository pins
 * @napi-rs/cross-toolchain to 1.0.0 (the version that has the x64 → x86_64 toolchain the
 * linux-x64-gnu build uses), and the CLI fetches the target toolchain at the pinned version.
 * We unpack 1.0.3 where the CLI looks, once; it skips the download when it finds it there.
 */
const AARCH64_TOOLCHAIN = '1.0.3';

export const TARGETS = {
  'linux-x64-gnu': { triple: 'x86_64-unknown-linux-gnu', via: 'napi-cross' },
  'linux-arm64-gnu': { triple: 'aarch64-unknown-linux-gnu', via: 'napi-cross' },
  'linux-x64-musl': { triple: 'x86_64-unknown-linux-musl', via: 'zig' },
  'linux-arm64-musl': { triple: 'aarch64-unknown-linux-musl', via: 'zig' },
  // The oldest macOS each Node 20 build supports; zig's linker would otherwise stamp its newest.
  'darwin-x64': { triple: 'x86_64-apple-darwin', via: 'zig', macos: '10.15' },
  'darwin-arm64': { triple: 'aarch64-apple-darwin', via: 'zig', macos: '11.0' },
  'win32-x64-msvc': { triple: 'x86_64-pc-windows-msvc', via: 'runner' },
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd} failed to start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
}

function out(cmd, args) {
  // macOS ships llvm's tools without the llvm- prefix.
  const name = process.platform === 'darwin' ? cmd.replace(/^llvm-/, '') : cmd;
  return execFileSync(name, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
}

function ensureRustTarget(triple) {
  if (!out('rustup', ['target', 'list', '--installed']).split('\n').includes(triple)) run('rustup', ['target', 'add', triple]);
}

function ensureAarch64Toolchain() {
  const cliDir = dirname(require.resolve('@napi-rs/cli/package.json'));
  const { version } = createRequire(join(cliDir, 'package.json'))('@napi-rs/cross-toolchain/package.json');
  const dest = join(homedir(), '.napi-rs', 'cross-toolchain', version, 'aarch64-unknown-linux-gnu');
  if (existsSync(join(dest, 'package.json'))) return;
  const tmp = mkdtempSync(join(tmpdir(), 'valori-toolchain-'));
  try {
    run('npm', ['pack', '--silent', `@napi-rs/cross-toolchain-x64-target-aarch64@${AARCH64_TOOLCHAIN}`, '--pack-destination', tmp]);
    run('tar', ['-xzf', join(tmp, `napi-rs-cross-toolchain-x64-target-aarch64-${AARCH64_TOOLCHAIN}.tgz`), '-C', tmp]);
    mkdirSync(dest, { recursive: true });
    run('tar', ['-xJf', join(tmp, 'package', 'aarch64-unknown-linux-gnu.tar.xz'), '-C', dest]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** .venv-zig/bin with cargo-zigbuild and zig (cargo-zigbuild finds zig through `python -m ziglang`). */
function ensureZig() {
  const venv = join(root, '.venv-zig');
  const bin = join(venv, 'bin');
  const have = spawnSync(join(bin, 'cargo-zigbuild'), ['--version'], { encoding: 'utf8' });
  if (have.status !== 0 || !have.stdout.includes(CARGO_ZIGBUILD)) {
    run('python3', ['-m', 'venv', venv]);
    run(join(bin, 'pip'), ['install', '--quiet', '--disable-pip-version-check', `ziglang==${ZIGLANG}`, `cargo-zigbuild==${CARGO_ZIGBUILD}`]);
  }
  return bin;
}

/** What the binary needs from the system, from its headers; throws on a wrong one. */
export function inspect(platform, file) {
  const facts = [];
  if (platform.startsWith('linux-')) {
    const arch = platform.includes('arm64') ? 'AArch64' : 'X86-64';
    const machine = /Machine:\s+(.+)/.exec(out('readelf', ['-h', file]))?.[1] ?? '';
    if (!machine.endsWith(arch)) throw new Error(`${file}: an ELF for ${machine}, not ${arch}`);
    const needed = [...out('readelf', ['-d', file]).matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]);
    const interp = /Requesting program interpreter: (.+?)\]/.exec(out('readelf', ['-l', file]));
    const glibc = [...out('readelf', ['--dyn-syms', '-W', file]).matchAll(/@GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    if (interp) throw new Error(`${file}: a shared object with a program interpreter (${interp[1]})`);
    facts.push(`ELF ${arch}`, 'no interpreter', `NEEDED ${needed.join(' ')}`);
    if (platform.endsWith('-musl')) {
      if (glibc.length > 0) throw new Error(`${file}: a musl build that references glibc symbol versions`);
      if (needed.some((n) => !/^libc\.so/.test(n))) throw new Error(`${file}: needs more than musl's libc: ${needed.join(' ')}`);
      facts.push('no GLIBC_ symbols');
    } else {
      // The packages promise glibc 2.17 (the cross toolchain's sysroot): a newer symbol means the
      // build linked against the build machine's glibc.
      const max = glibc.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a), [0, 0]);
      if (max[0] > 2 || (max[0] === 2 && max[1] > 17)) throw new Error(`${file}: needs GLIBC_${max.join('.')}, more than the 2.17 the package promises`);
      facts.push(`max GLIBC_${max.join('.')}`);
    }
  } else if (platform.startsWith('darwin-')) {
    const header = out('llvm-objdump', ['--macho', '--private-header', file]);
    const cpu = platform === 'darwin-arm64' ? 'ARM64' : 'X86_64';
    if (!header.includes(cpu) || !header.includes('DYLIB') && !header.includes('BUNDLE')) throw new Error(`${file}: not a ${cpu} Mach-O dylib:\n${header}`);
    const commands = out('llvm-objdump', ['--macho', '--all-headers', file]);
    const minos = /minos (\S+)/.exec(commands)?.[1];
    if (minos !== TARGETS[platform].macos) throw new Error(`${file}: built for macOS ${minos}, expected ${TARGETS[platform].macos}`);
    // Apple silicon refuses to load unsigned code; the linker must have signed it (ad hoc).
    if (platform === 'darwin-arm64' && !commands.includes('LC_CODE_SIGNATURE')) throw new Error(`${file}: no code signature`);
    // The first entry is the addon's own install name (LC_ID_DYLIB); the rest must come with macOS.
    const dylibs = [...out('llvm-objdump', ['--macho', '--dylibs-used', file]).matchAll(/^\s+(\S+) \(compatibility/gm)].map((m) => m[1]).filter((d) => !d.endsWith('libvalori_node_binding.dylib'));
    if (dylibs.some((d) => !d.startsWith('/usr/lib/') && !d.startsWith('/System/Library/'))) throw new Error(`${file}: links a library outside /usr/lib: ${dylibs.join(' ')}`);
    const exports = out('llvm-nm', ['--extern-only', '--defined-only', file]);
    if (!exports.includes('_napi_register_module_v1')) throw new Error(`${file}: does not export napi_register_module_v1`);
    const undefinedNapi = out('llvm-nm', ['--undefined-only', file]).split('\n').filter((l) => l.includes('_napi_')).length;
    facts.push(`Mach-O ${cpu}`, `macOS >= ${minos}`, `links ${dylibs.join(' ')}`, 'exports _napi_register_module_v1', `${undefinedNapi} napi_* imports left to Node (dynamic_lookup)`);
  } else {
    facts.push('PE (checked by loading it on the Windows runner)');
  }
  return facts;
}

function main() {
  const args = process.argv.slice(2);
  const checkOnly = args.includes('--check-only');
  const platform = args.find((a) => !a.startsWith('--'));
  const target = TARGETS[platform];
  if (!target) throw new Error(`usage: cross-build.mjs <${Object.keys(TARGETS).join('|')}> [--check-only]`);
  const pkgDir = join(root, 'npm', platform);
  const binary = `valori-node.${platform}.node`;
  if (!checkOnly) {
    // On a macOS or Windows runner (the release workflow) the host's own linker builds that OS's
    // targets: Apple's for both macOS architectures, MSVC for Windows.
    const host = (platform.startsWith('darwin-') && process.platform === 'darwin') || (platform.startsWith('win32-') && process.platform === 'win32');
    if (target.via === 'runner' && !host) throw new Error(`${platform} is built by .github/workflows/release.yml on its own runner, not here (see docs/platforms.md)`);
    ensureRustTarget(target.triple);
    const env = { ...process.env };
    if (target.macos) env.MACOSX_DEPLOYMENT_TARGET = target.macos;
    const extra = ['--target', target.triple];
    // On a host build napi uses the host toolchain: nothing to add.
    if (!host && target.via === 'napi-cross') {
      if (target.triple.startsWith('aarch64')) ensureAarch64Toolchain();
      extra.push('--use-napi-cross');
    } else if (!host) {
      env.PATH = `${ensureZig()}:${env.PATH}`;
      extra.push('--cross-compile');
    }
    const tmp = mkdtempSync(join(tmpdir(), 'valori-cross-'));
    try {
      run(process.execPath, [join(root, 'scripts', 'build-native.mjs'), ...extra, '--output-dir', tmp], { cwd: root, env });
      copyFileSync(join(tmp, binary), join(pkgDir, binary));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const file = join(pkgDir, binary);
  const size = readFileSync(file).length;
  console.log(`${platform}: ${file} (${size} bytes): ${inspect(platform, file).join('; ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(`cross-build: ${e.message}`);
    process.exit(1);
  }
}
