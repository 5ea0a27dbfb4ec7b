#!/usr/bin/env node
// Builds the napi addon into native/ and regenerates the committed loader (native/index.js) and
// types (native/index.d.ts). `npm run build:native`; extra arguments go to `napi build`.
//
// On x64 Linux with glibc the addon is linked with napi-rs's cross toolchain (`--use-napi-cross`: gcc
// with a glibc 2.17 sysroot, fetched once from the npm registry into ~/.napi-rs). Linking against
// the build machine's own glibc (2.36 on Debian 12) would make the binary that goes into the
// valori-node-linux-x64-gnu package refuse to load on older systems (it needed GLIBC_2.34); with
// the toolchain it needs at most GLIBC_2.14. Other hosts (macOS, musl, arm64) build with the host
// toolchain: a from-source build there is for that machine only, so portability does not apply.
// Builds for the other prebuilt targets: scripts/cross-build.mjs.
//
// Plain .mjs on purpose: `prepare` runs it on a fresh clone, before anything is compiled.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

function isGlibcLinux() {
  if (process.platform !== 'linux') return false;
  // The report's header carries glibcVersionRuntime only when Node runs on glibc.
  if (process.report) process.report.excludeNetwork = true;
  const header = process.report?.getReport?.().header;
  return typeof header?.glibcVersionRuntime === 'string';
}

const cliPkg = require.resolve('@napi-rs/cli/package.json');
const bin = require(cliPkg).bin;
const napi = join(dirname(cliPkg), typeof bin === 'string' ? bin : bin.napi);

// `--output-dir DIR` (scripts/check-native-generated.mjs) writes the addon, loader and types to
// DIR instead of native/, leaving the committed files alone.
const extra = process.argv.slice(2);
const outAt = extra.indexOf('--output-dir');
const outDir = outAt >= 0 ? extra.splice(outAt, 2)[1] : 'native';
if (!outDir) throw new Error('--output-dir needs a directory');

const args = [
  napi,
  'build',
  '--platform',
  '--release',
  '--manifest-path',
  'native/binding/Cargo.toml',
  '--output-dir',
  outDir,
  '--js',
  'index.js',
  '--dts',
  'index.d.ts',
];
// A build for another target (scripts/cross-build.mjs) chooses its own toolchain: --use-napi-cross
// for the glibc targets, zig (--cross-compile) for musl and macOS.
const ownToolchain = extra.some((a) => a === '--use-napi-cross' || a === '-x' || a === '--cross-compile' || a === '--target' || a === '-t');
// Only on x64 hosts: napi-rs publishes no toolchain that runs on an arm64 host, so there (a
// from-source install on a Graviton, or `docker build` for linux/arm64) the host linker is used.
if (!ownToolchain && isGlibcLinux() && process.arch === 'x64') args.push('--use-napi-cross');
args.push(...extra);

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
