// A longer schemathesis run than the one in npm test (__test__/fuzz-openapi.test.ts), over several
// server configurations; prints each run's verdict, every 5xx the server counted, and whether the
// process survived with /health 200 and writable. Needs `npm run build` and the fuzz venv
// (python3 -m venv .venv-fuzz && .venv-fuzz/bin/pip install schemathesis==<SCHEMATHESIS_VERSION>).
//
//   npx tsx scripts/fuzz-api.ts [--examples 200] [--seed 1] [--mode all|positive|negative] [--minutes 10] [--profile memory,durable-hnsw,ivf,pq,keys,open]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { killAllServers, ServerProcess } from './lib/crash/server';
import { junitFailures, runSchemathesis, schemathesisInstalled, unexpectedServerErrors, SETUP_COMMAND } from './lib/fuzz-api';

const { values } = parseArgs({
  options: {
    examples: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    profile: { type: 'string', default: 'memory,durable-hnsw,ivf,pq,keys,open' },
    minutes: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'all' },
  },
});
const DIM = 4;
const TOKEN = 'fuzz-token';

/** Server environments by name (`dir` is a fresh temp directory); all but `open` use TOKEN. */
const PROFILES: Record<string, (dir: string) => Record<string, string>> = {
  memory: () => ({ VALORI_MAX_RECORDS: '48', VALORI_MAX_NODES: '48', VALORI_MAX_EDGES: '48' }),
  'durable-hnsw': (dir) => ({
    VALORI_INDEX: 'hnsw',
    VALORI_EVENT_LOG_PATH: join(dir, 'events.log'),
    VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'),
  }),
  ivf: (dir) => ({ VALORI_INDEX: 'ivf', VALORI_QUANT: 'scalar', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') }),
  pq: (dir) => ({ VALORI_INDEX: 'hnsw', VALORI_QUANT: 'product', VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin') }),
  // Scoped keys through the API (/v1/keys) when this build has them; unknown variables are ignored by older builds.
  keys: (dir) => ({ VALORI_API_KEYS_FILE: join(dir, 'keys.json'), VALORI_EVENT_LOG_PATH: join(dir, 'events.log') }),
  // Auth off: the browser and Host guards are in the path instead.
  open: () => ({}),
};

const authed = (env: Record<string, string>): Record<string, string> => (env.VALORI_AUTH_TOKEN ? { authorization: `Bearer ${env.VALORI_AUTH_TOKEN}` } : {});

async function heightAndHash(base: string, env: Record<string, string>): Promise<string> {
  const headers = authed(env);
  const log = (await (await fetch(`${base}/v1/proof/event-log`, { headers })).json()) as { committed_height: number };
  const state = (await (await fetch(`${base}/v1/proof/state`, { headers })).json()) as { final_state_hash: string };
  return `height ${log.committed_height}, state ${state.final_state_hash.slice(0, 16)}`;
}

/** SIGTERM, start again on the same files: "same (...)" or what differs. */
async function restartMatches(server: ServerProcess, base: string, env: Record<string, string>): Promise<string> {
  const before = await heightAndHash(base, env);
  server.kill('SIGTERM');
  await server.exited;
  const again = new ServerProcess(env);
  try {
    const after = await heightAndHash((await again.listening(20_000)).base, env);
    return after === before ? `same (${after})` : `DIFFERENT: before ${before}, after ${after}`;
  } catch (err) {
    return `FAILED: ${String(err).slice(0, 400)}`;
  } finally {
    again.kill('SIGKILL');
    await again.exited;
  }
}

async function main(): Promise<void> {
  if (!schemathesisInstalled()) throw new Error(`schemathesis is not installed: ${SETUP_COMMAND}`);
  process.on('exit', killAllServers);
  let failed = false;
  for (const name of values.profile!.split(',')) {
    const profile = PROFILES[name];
    if (!profile) throw new Error(`unknown profile ${name}: one of ${Object.keys(PROFILES).join(', ')}`);
    const dir = mkdtempSync(join(tmpdir(), `valori-fuzz-${name}-`));
    // Schemathesis's files live apart from the node's: the fuzzer names files in `dir`.
    const workDir = mkdtempSync(join(tmpdir(), `valori-fuzz-${name}-work-`));
    const env: Record<string, string> = {
      VALORI_DIM: String(DIM),
      VALORI_BIND: '127.0.0.1:0',
      ...(name === 'open' ? {} : { VALORI_AUTH_TOKEN: TOKEN }),
      VALORI_LOG_FORMAT: 'json',
      ...profile(dir),
    };
    const server = new ServerProcess(env);
    const { base } = await server.listening(20_000);
    const started = performance.now();
    const run = await runSchemathesis({
      base,
      dim: DIM,
      token: name === 'open' ? undefined : TOKEN,
      workDir,
      maxExamples: Number(values.examples),
      seed: Number(values.seed),
      deadlineMs: Number(values.minutes) * 60_000,
      extraArgs: ['--mode', values.mode!],
      hostileNames: [dir, join(dir, 'events.log'), join(dir, 'snapshot.bin')],
    });
    const seconds = (performance.now() - started) / 1000;
    const alive = server.child.exitCode === null && server.child.signalCode === null;
    let health = 'process gone';
    let fiveXX = NaN;
    if (alive) {
      const h = await fetch(`${base}/health`);
      const body = (await h.json()) as { read_only?: boolean; status?: string };
      health = `${h.status} ${body.status} read_only=${body.read_only}`;
      fiveXX = unexpectedServerErrors(await (await fetch(`${base}/metrics`)).text());
    }
    let restart = 'n/a';
    if (alive && 'VALORI_EVENT_LOG_PATH' in env) restart = await restartMatches(server, base, env);
    const ok = run.exitCode === 0 && alive && fiveXX === 0 && /^(200 \w+|503 full) read_only=false$/.test(health) && /^(n\/a|same)/.test(restart);
    failed ||= !ok;
    console.log(`\n## ${name}: ${ok ? 'PASS' : 'FAIL'} in ${seconds.toFixed(0)} s (schemathesis exit ${run.exitCode}${run.timedOut ? ', killed at the deadline' : ''}); unexpected 5xx counted by the server: ${fiveXX}; /health: ${health}; restart: ${restart}`);
    const summary = run.output.split('\n').filter((l) => /^\s*(Selected:|Tested:|\d+ generated)/.test(l)).map((l) => l.trim());
    console.log(`  ${summary.join('; ')}`);
    for (const f of junitFailures(run.junit)) console.log(`  - ${f}`);
    if (!ok) {
      console.log(run.output.split('\n').slice(-200).join('\n'));
      if (!alive) console.log(`server output (tail):\n${server.output().split('\n').slice(-30).join('\n')}`);
    }
    server.kill('SIGKILL');
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err);
  killAllServers();
  process.exit(1);
});
