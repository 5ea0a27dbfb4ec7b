// The kill -9 battery (docs/reliability.md battery 1) as a long run: thousands of SIGKILLs of the real
// server process under concurrent writers, each restart verified against a client-side ledger.
// `npm test` runs the same loop for 60 iterations (__test__/crash.test.ts). Needs `npm run build`.
//
//   npx tsx scripts/crash-loop.ts [--iterations 2000] [--seed S] [--dim 8] [--dir DIR] [--keep]
//                                 [--kill-min 5] [--kill-max 250] [--live-cap 10000] [--cycle 30] [--sigterm]
//
// Prints the seed first; rerun with --seed to repeat the same choices (kill timing still varies).
// On failure the files stay in the printed directory and the process exits 1.
import { parseArgs } from 'node:util';
import { runCrashLoop, runGracefulShutdown } from './lib/crash/loop';
import { killAllServers } from './lib/crash/server';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '2000' },
    seed: { type: 'string' },
    dim: { type: 'string', default: '8' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'kill-min': { type: 'string', default: '5' },
    'kill-max': { type: 'string', default: '250' },
    'live-cap': { type: 'string', default: '10000' },
    cycle: { type: 'string', default: '30' },
    sigterm: { type: 'boolean', default: false },
  },
});

const seed = values.seed === undefined ? (Date.now() ^ (process.pid << 16)) >>> 0 : Number(values.seed);
const log = (line: string) => process.stdout.write(`${line}\n`);
process.on('exit', killAllServers);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAllServers();
    process.exit(130);
  });
}

async function main() {
  log(`seed ${seed}`);
  const iterations = Number(values.iterations);
  const sum = await runCrashLoop({
    iterations,
    seed,
    dim: Number(values.dim),
    dir: values.dir,
    keep: values.keep,
    killWindowMs: [Number(values['kill-min']), Number(values['kill-max'])],
    keepLiveBelow: Number(values['live-cap']),
    cycle: Number(values.cycle),
    log,
    progressEvery: Math.max(1, Math.min(100, Math.round(iterations / 20))),
  });
  log(JSON.stringify(sum, null, 2));
  if (values.sigterm) {
    // Bound: the server's 10 s shutdown grace period + 2 s (see docs/crash-recovery.md §2.2).
    const r = await runGracefulShutdown({ seed, dim: Number(values.dim), exitBoundMs: 12_000, log });
    log(JSON.stringify(r, null, 2));
    if (r.exitCode !== 0) throw new Error(`SIGTERM: exit code ${r.exitCode}`);
  }
  log(`OK: ${sum.kills} kills, ${sum.verifications} verified restarts, 0 acknowledged writes lost, 0 partial batches (seed ${seed})`);
}

main().catch((err: unknown) => {
  log(`FAILED (seed ${seed}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  killAllServers();
  process.exit(1);
});
