// Builds the standalone client package (packages/client, published as valori-node-client) from
// src/client with tsc only: CommonJS into dist/cjs and ES modules into dist/esm, each with its
// own declarations, so `require` and `import` consumers get types that match the file format
// they load. A package.json marker in each output directory tells Node (and bundlers) the
// format, since both trees use the .js extension.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'packages', 'client');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(join(pkg, 'dist'), { recursive: true, force: true });
for (const [config, out, type] of [
  ['tsconfig.cjs.json', 'cjs', 'commonjs'],
  ['tsconfig.esm.json', 'esm', 'module'],
]) {
  const r = spawnSync(process.execPath, [tsc, '-p', join(pkg, config)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(join(pkg, 'dist', out, 'package.json'), `${JSON.stringify({ type })}\n`);
}

// Node's ES module loader does not guess extensions, and tsc copies import specifiers as written:
// `from './wire'` must become `from './wire.js'` or `import 'valori-node-client'` fails at run
// time. The source may name the .js file itself (preferred); whatever does not is completed
// here, and a specifier that matches no emitted file stops the build.
const unresolved = [];
function fix(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fix(path);
    else if (/\.(js|d\.ts)$/.test(entry.name)) {
      const text = readFileSync(path, 'utf8');
      const fixed = text.replace(/((?:from|import)\s*\(?\s*')(\.{1,2}\/[^']*)'/g, (whole, head, spec) => {
        const target = resolve(dirname(path), spec);
        if (spec.endsWith('.js') && (existsSync(target) || existsSync(target.replace(/\.js$/, '.d.ts')))) return whole;
        if (existsSync(`${target}.js`)) return `${head}${spec}.js'`;
        if (existsSync(join(target, 'index.js'))) return `${head}${spec}/index.js'`;
        unresolved.push(`${relative(root, path)}: '${spec}'`);
        return whole;
      });
      if (fixed !== text) writeFileSync(path, fixed);
    }
  }
}
fix(join(pkg, 'dist', 'esm'));
if (unresolved.length > 0) {
  process.stderr.write(`relative imports that match no emitted file:\n  ${unresolved.join('\n  ')}\n`);
  process.exit(1);
}
