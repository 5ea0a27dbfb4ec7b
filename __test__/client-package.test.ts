// The standalone client package (packages/client, valori-node-client) as a user gets it: built
// with `npm run build:client`, packed with `npm pack`, installed alone into an empty folder with
// no registry access, then used from there against a real server: CommonJS and ES module
// consumers, its types under the three module resolutions people use, a browser bundle, and the
// type-level probes of __test__/client-types.ts.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { ROOT, pack, run, userEnv, type Packed } from '../scripts/pack-test';
import { startServer, type TestServer } from './helpers';

const PKG_DIR = join(ROOT, 'packages', 'client');
const NAME = 'valori-node-client';
/** Packed size the client must stay under; it was about 20 KB when this was written. */
const MAX_PACKED_BYTES = 64 * 1024;
const TSC = require.resolve('typescript/bin/tsc');

interface PackedWithSize extends Packed {
  size: number;
  unpackedSize: number;
}

/** The same scenario for both module systems; `lib` is what require() or import() returned. */
const SCENARIO = `
const { ValoriClient, ValoriError } = lib;
const client = new ValoriClient({ baseUrl: process.env.VALORI_URL });
const health = await client.health();
const collection = process.env.COLLECTION;
await client.createCollection({ name: collection, dimension: 3 });
const a = await client.insert([1, 0, 0], { collection });
const b = await client.insert([0, 1, 0], { collection });
const hits = await client.search([0, 0.9, 0], 2, { collection });
let error;
try {
  await client.insert([1, 2, 3, 4], { collection });
} catch (e) {
  error = { isValoriError: e instanceof ValoriError, status: e.status, code: e.code };
}
console.log(JSON.stringify({ dim: health.dim, ids: [a, b], hits: hits.map((h) => h.id), error }));
`;

function tsc(cwd: string, args: string[]): void {
  const r = spawnSync(process.execPath, [TSC, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `tsc ${args.join(' ')} in ${cwd}:\n${r.stdout}${r.stderr}`);
}

describe('the standalone client package', () => {
  let work: string;
  let app: string;
  let env: NodeJS.ProcessEnv;
  let packed: PackedWithSize;
  let server: TestServer;

  before(async () => {
    run(process.execPath, [join(ROOT, 'scripts', 'build-client.mjs')], ROOT, process.env);
    // Outside the repository, so nothing resolves from its node_modules.
    work = mkdtempSync(join(tmpdir(), 'valori-client-'));
    env = userEnv(work);
    packed = pack(PKG_DIR, work, env) as PackedWithSize;
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'client-consumer', version: '0.0.0', private: true }));
    // --offline: a package with no dependencies installs from its tarball alone.
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, packed.filename)], app, env);
    server = await startServer({ VALORI_DIM: '4' });
  });
  after(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('when packed and installed alone, then it has no dependencies, holds only dist/ and stays small', (t) => {
    const files = packed.files.map((f) => f.path);
    assert.deepEqual(files.filter((f) => !/^(dist\/(cjs|esm)\/|package\.json$|README\.md$)/.test(f)), []);
    for (const f of ['dist/cjs/client/index.js', 'dist/cjs/client/index.d.ts', 'dist/esm/client/index.js', 'dist/esm/client/index.d.ts', 'dist/cjs/package.json', 'dist/esm/package.json']) {
      assert.ok(files.includes(f), f);
    }
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', NAME, 'package.json'), 'utf8'));
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) assert.equal(installed[field], undefined, field);
    assert.deepEqual(readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.')), [NAME]);
    assert.equal(installed.version, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, 'released with the server');
    t.diagnostic(`${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${files.length} files`);
    assert.ok(packed.size < MAX_PACKED_BYTES, `${packed.size} bytes`);
  });

  for (const [kind, file, body] of [
    ['CommonJS require', 'scenario.cjs', `const lib = require('${NAME}');\n(async () => {${SCENARIO}})();`],
    ['ES module import', 'scenario.mjs', `import * as lib from '${NAME}';\n${SCENARIO}`],
  ] as const) {
    it(`when loaded with ${kind} from the install folder, then the scenario runs against a real server`, async () => {
      writeFileSync(join(app, file), body);
      // Asynchronously: the server answers from this process's event loop.
      const collection = file.replace('.', '_');
      const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: app, env: { ...env, VALORI_URL: server.base, COLLECTION: collection }, timeout: 30_000 });
      assert.deepEqual(JSON.parse(stdout), {
        dim: 4,
        // A new collection numbers its records from 0; the query is nearest to the second one.
        ids: [0, 1],
        hits: [1, 0],
        error: { isValoriError: true, status: 400, code: 'DIMENSION_MISMATCH' },
      });
    });
  }

  it('when a consumer type-checks under moduleResolution node10, node16 and bundler, then the types resolve and are not any', () => {
    // No @types/node (none above the temp folder), no skipLibCheck: the declarations must stand
    // on ES2022 + DOM alone.
    const consumer = `import { ValoriClient, ValoriError, type SearchHit } from '${NAME}';
const client = new ValoriClient({ baseUrl: 'http://127.0.0.1:3000' });
export const hits: Promise<SearchHit[]> = client.search([1, 2, 3, 4], 1);
export const isError = (e: unknown): boolean => e instanceof ValoriError;
// @ts-expect-error k is a number: fails only if the types resolved
client.search([1, 2, 3, 4], 'one');
`;
    const dir = join(app, 'types');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'consumer.ts'), consumer);
    writeFileSync(join(dir, 'consumer.mts'), consumer);
    const common = ['--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022,dom'];
    tsc(dir, [...common, '--module', 'commonjs', '--moduleResolution', 'node10', 'consumer.ts']);
    // node16: a .ts file in a CommonJS package takes the `require` types, a .mts file the `import` ones.
    tsc(dir, [...common, '--module', 'node16', '--moduleResolution', 'node16', 'consumer.ts', 'consumer.mts']);
    tsc(dir, [...common, '--module', 'esnext', '--moduleResolution', 'bundler', 'consumer.ts']);
  });

  it('when valori-node/client is imported from the server package, then it still resolves under node10 and runs', () => {
    const dir = join(work, 'server-consumer');
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    symlinkSync(ROOT, join(dir, 'node_modules', 'valori-node'), 'dir');
    writeFileSync(join(dir, 'consumer.ts'), `import { ValoriClient } from 'valori-node/client';\nexport const c = new ValoriClient({ baseUrl: 'http://127.0.0.1:3000' });\n`);
    tsc(dir, ['--noEmit', '--strict', '--skipLibCheck', '--module', 'commonjs', '--moduleResolution', 'node10', 'consumer.ts']);
    const { stdout } = run(process.execPath, ['-e', `console.log(typeof require('valori-node/client').ValoriClient)`], dir, env);
    assert.equal(stdout.trim(), 'function');
  });

  it('when bundled by esbuild for the browser, then the ES module build is used and no node: import remains', async (t) => {
    const result = await build({
      stdin: { contents: `export { ValoriClient, ValoriError } from '${NAME}';`, resolveDir: app, loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs).filter((f) => f !== '<stdin>');
    assert.ok(inputs.length > 0);
    assert.deepEqual(inputs.filter((f) => !f.includes(`node_modules/${NAME}/dist/esm/`)), [], 'only the ES module build is bundled');
    const [output] = Object.values(result.metafile.outputs);
    assert.deepEqual(output.imports, [], 'nothing is left for the browser to import');
    const text = result.outputFiles[0].text;
    assert.doesNotMatch(text, /["']node:/);
    t.diagnostic(`browser bundle: ${text.length} bytes minified`);
  });

  it('when the type-level probes are compiled, then every @ts-expect-error line fails to type-check and the rest compiles', () => {
    tsc(ROOT, ['--noEmit', '--strict', '--target', 'es2022', '--module', 'node16', '--moduleResolution', 'node16', '--skipLibCheck', join(dirname(__filename), 'client-types.ts')]);
  });
});
