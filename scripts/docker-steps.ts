// Replays the Dockerfile's build and runtime stages outside Docker (no engine runs on our
// machines), so the image recipe cannot silently rot: every COPY of the build stage into a fresh
// directory, the build stage's RUN commands there, every `COPY --from=build` into a runtime
// directory, then the image's CMD with its ENV, probed on /health and on its HEALTHCHECK's path.
// Exits non-zero on any failure.
//
//   npx tsx scripts/docker-steps.ts [--keep]
import { execSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

const repo = resolve(__dirname, '..');
const keep = process.argv.includes('--keep');

interface Stage {
  name: string | null;
  /** The FROM image or stage, as written (build arguments not expanded). */
  from: string;
  lines: string[];
}

/** Dockerfile → global ARG defaults and stages of logical lines (continuations joined, comments dropped). */
function stages(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') continue;
    cur += (cur ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      logical.push(cur);
      cur = '';
    }
  }
  const out: Stage[] = [];
  const args: Record<string, string> = {};
  for (const l of logical) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(l);
    const arg = /^ARG\s+(\w+)=(\S+)$/i.exec(l);
    if (from) out.push({ name: from[2] ?? null, from: from[1], lines: [] });
    else if (out.length === 0 && arg) args[arg[1]] = arg[2];
    else out[out.length - 1]?.lines.push(l);
  }
  return { args, stages: out };
}

/**
 * The stage that does the work of `name`: a stage with no instructions that only names another
 * (`FROM build-${VALORI_BUILD} AS build`) is followed, with the build arguments' defaults.
 */
function resolveStage(all: Stage[], args: Record<string, string>, name: string): Stage | undefined {
  let stage = all.find((s) => s.name === name);
  for (let hops = 0; stage && stage.lines.length === 0 && hops < all.length; hops++) {
    const target = stage.from.replace(/\$\{(\w+)\}/g, (_, v: string) => args[v] ?? '');
    stage = all.find((s) => s.name === target);
  }
  return stage;
}

function copy(srcs: string[], dest: string, fromDir: string, toDir: string): void {
  const target = join(toDir, dest);
  for (const pattern of srcs) {
    const base = basename(pattern);
    const matches = base.includes('*')
      ? readdirSync(join(fromDir, dirname(pattern))).filter((f) => new RegExp(`^${base.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`).test(f)).map((f) => join(dirname(pattern), f))
      : [pattern];
    if (matches.length === 0) throw new Error(`COPY ${pattern}: nothing matches in ${fromDir}`);
    for (const m of matches) {
      const from = join(fromDir, m);
      if (!existsSync(from)) throw new Error(`COPY ${m}: ${from} does not exist`);
      const intoDir = dest.endsWith('/') || dest === '.' || srcs.length > 1 || matches.length > 1;
      const to = intoDir ? join(target, basename(m)) : target;
      mkdirSync(dirname(to), { recursive: true });
      cpSync(from, to, { recursive: true });
    }
  }
}

async function probe(dir: string, env: Record<string, string>, cmd: string[], healthcheckPath: string): Promise<void> {
  const child = spawn(cmd[0] === 'node' ? process.execPath : cmd[0], cmd.slice(1), {
    cwd: dir,
    env: { ...process.env, ...env, VALORI_BIND: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const base = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('the image CMD did not log "Listening on" within 30 s')), 30_000);
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /Listening on ([\d.]+:\d+)/.exec(buf);
        if (m) {
          clearTimeout(timer);
          ok(`http://${m[1]}`);
        }
      });
      child.on('exit', (code) => fail(new Error(`the image CMD exited with ${code}: ${buf}`)));
    });
    const r = await fetch(`${base}/health`);
    if (r.status !== 200) throw new Error(`/health answered ${r.status}`);
    const health = (await r.json()) as { status: string };
    if (health.status !== 'ok') throw new Error(`/health status ${health.status}`);
    console.log(`runtime stage: ${cmd.join(' ')} answered /health: ${JSON.stringify(health).slice(0, 80)}...`);
    // The HEALTHCHECK runs `curl -f`: any status below 400 passes, but the probe promises 200.
    const hc = await fetch(`${base}${healthcheckPath}`);
    if (hc.status !== 200) throw new Error(`HEALTHCHECK path ${healthcheckPath} answered ${hc.status}`);
    console.log(`runtime stage: HEALTHCHECK path ${healthcheckPath} answered ${hc.status} ${await hc.text()}`);
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const { args, stages: all } = stages(readFileSync(join(repo, 'Dockerfile'), 'utf8'));
  const build = resolveStage(all, args, 'build');
  console.log(`build stage: ${build?.name ?? '(none)'} (the default build arguments: ${JSON.stringify(args)})`);
  const runtime = all[all.length - 1];
  if (!build || runtime === build) throw new Error('expected a build stage named "build" and a runtime stage after it');
  const root = mkdtempSync(join(tmpdir(), 'valori-docker-steps-'));
  const app = join(root, 'build', 'app');
  const rt = join(root, 'runtime', 'app');
  mkdirSync(app, { recursive: true });
  mkdirSync(rt, { recursive: true });
  try {
    for (const line of build.lines) {
      const copyLine = /^COPY\s+(?!--from)(.+)$/i.exec(line);
      if (copyLine) {
        const parts = copyLine[1].split(/\s+/);
        copy(parts.slice(0, -1), parts[parts.length - 1], repo, app);
        console.log(`build stage: ${line}`);
      }
      const run = /^RUN\s+(.+)$/i.exec(line);
      if (run && !/npm-cli\.js/.test(run[1])) {
        console.log(`build stage: ${line}`);
        // Reuse the repository's cargo target directory: same compiler, no 3-minute rebuild of crates.
        execSync(run[1], { cwd: app, stdio: 'inherit', env: { ...process.env, CARGO_TARGET_DIR: join(repo, 'target') } });
      }
    }
    const env: Record<string, string> = {};
    let cmd: string[] = [];
    let healthcheckPath: string | null = null;
    for (const line of runtime.lines) {
      const hc = /^HEALTHCHECK\s.*\bCMD\s+\[.*"https?:\/\/[^/"]+(\/[^"]*)"/i.exec(line);
      if (hc) healthcheckPath = hc[1];
      const from = /^COPY\s+--from=build\s+(?:--chown=\S+\s+)?(.+)$/i.exec(line);
      if (from) {
        const parts = from[1].split(/\s+/).map((p) => p.replace(/^\/app\//, ''));
        const dest = parts[parts.length - 1];
        copy(parts.slice(0, -1), dest, app, rt);
        console.log(`runtime stage: ${line}`);
      }
      const e = /^ENV\s+(.+)$/i.exec(line);
      if (e) for (const m of e[1].matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2];
      const c = /^CMD\s+(\[.+\])$/i.exec(line);
      if (c) cmd = JSON.parse(c[1]) as string[];
    }
    if (cmd.length === 0) throw new Error('runtime stage has no JSON-form CMD');
    if (healthcheckPath === null) throw new Error('runtime stage has no HEALTHCHECK with a JSON-form CMD naming a URL');
    await probe(rt, env, cmd, healthcheckPath);
    console.log('docker steps: OK');
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`docker steps FAILED: ${(e as Error).message}`);
  process.exit(1);
});
