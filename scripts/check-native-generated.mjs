#!/usr/bin/env node
// Fails when the committed napi loader (native/index.js) or types (native/index.d.ts) differ from
// what `npm run build:native` generates from the current Rust sources: both are committed and
// never hand-edited, so a difference means a binding change was committed without regenerating.
// `npm run check:native` (part of `npm test`). It generates into a temp dir and only compares, so
// the committed files are never rewritten. Cargo's cache makes it a no-op build when the addon is
// current; napi keeps its type definitions in the target dir, so they are there without a rebuild.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const FILES = ['index.js', 'index.d.ts'];

/** The first differing line of two texts, for the failure message. */
function firstDifference(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  committed: ${x[i] ?? '(end of file)'}\n  generated: ${y[i] ?? '(end of file)'}`;
  }
  return 'no line differs (line endings?)';
}

const out = mkdtempSync(join(tmpdir(), 'valori-napi-gen-'));
try {
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs'), '--output-dir', out], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.error) throw build.error;
  if (build.status !== 0) {
    console.error(`check-native-generated: the build failed (exit ${build.status})`);
    process.exit(1);
  }
  let stale = 0;
  for (const f of FILES) {
    const committed = readFileSync(join(root, 'native', f), 'utf8');
    const generated = readFileSync(join(out, f), 'utf8');
    if (committed === generated) continue;
    stale++;
    console.error(`native/${f} differs from a fresh generation, ${firstDifference(committed, generated)}`);
  }
  if (stale > 0) {
    console.error('run `npm run build:native` and commit native/index.js and native/index.d.ts');
    process.exit(1);
  }
  console.log(`native/${FILES.join(', native/')} equal a fresh generation`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
