// Crash battery against the real server process (docs/reliability.md battery 1): SIGKILL under
// concurrent writers, restart on the same files, every restart checked against a client-side
// ledger; and SIGTERM under load. The long run is `npx tsx scripts/crash-loop.ts` (see
// docs/crash-recovery.md). Needs `npm run build`. Set VALORI_CRASH_SEED to repeat a run's choices.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runCrashLoop, runGracefulShutdown } from '../scripts/lib/crash/loop';
import { killAllServers, MAIN } from '../scripts/lib/crash/server';

const ITERATIONS = 60;
// src/main.ts: how long a shutdown waits for in-flight requests before exiting anyway. The test
// waits longer than that for the exit only so that a hung process fails it instead of stalling.
const SHUTDOWN_GRACE_MS = 10_000;
const seed = process.env.VALORI_CRASH_SEED ? Number(process.env.VALORI_CRASH_SEED) : (Date.now() ^ (process.pid << 16)) >>> 0;
const log = (line: string) => process.stdout.write(`${line}\n`);

after(killAllServers);

describe('crash battery (real server process)', () => {
  before(() => {
    assert.ok(existsSync(MAIN), `${MAIN} is missing: run \`npm run build\` first`);
  });

  it(`when the server is SIGKILLed ${ITERATIONS} times under concurrent writers, then every restart keeps every acknowledged write bit-identical, every unanswered batch whole or absent, and nothing else`, { timeout: 240_000 }, async () => {
    log(`crash seed ${seed} (VALORI_CRASH_SEED=${seed} repeats it)`);
    const sum = await runCrashLoop({ iterations: ITERATIONS, seed, dim: 8, log });
    log(
      `${sum.kills} kills (${sum.startupKills} during start-up, ${sum.snapshotTimedKills} at an auto-snapshot tick, ` +
        `${sum.killsDuringSnapshot} before it finished, ${sum.maintenanceIterations} with saves/trims) in ${sum.seconds.toFixed(1)} s; ` +
        `${sum.verifications} restarts verified, longest restart ${sum.maxRestartMs.toFixed(0)} ms; ` +
        `acked: ${sum.counts.ackedInserts} inserts, ${sum.counts.ackedBatches} batches (${sum.counts.ackedBatchRecords} rows), ` +
        `${sum.counts.ackedDeletes} deletes, ${sum.counts.ackedSoftDeletes} soft deletes; unanswered: ${sum.counts.unanswered} ` +
        `(${sum.counts.unansweredApplied} kept, ${sum.counts.unansweredDropped} dropped); ${sum.exactSearches} exact k=1 searches; ` +
        `recoveries replaying the whole log ${sum.recoveredFromLogOnly}, from a snapshot + tail ${sum.recoveredFromSnapshot}, ` +
        `with a trimmed log ${sum.recoveredFromTrimmedLog}, most events replayed ${sum.maxReplayed}, ` +
        `leftover temp files removed ${sum.leftoverTempRemoved}, torn tails cut ${sum.tornTailsCut}; final height ${sum.finalHeight}, live ${sum.finalLive}`,
    );
    assert.equal(sum.kills, ITERATIONS);
    assert.equal(sum.verifications, ITERATIONS + 1);
    assert.equal(sum.counts.rejected, 0);
    // The run exercised what it claims to.
    assert.ok(sum.counts.unanswered > 0, 'no request was in flight at any kill');
    assert.ok(sum.counts.ackedBatches > 0 && sum.counts.ackedDeletes > 0 && sum.counts.ackedSoftDeletes > 0);
    assert.ok(sum.recoveredFromLogOnly > 0, 'no recovery replayed the whole log');
    assert.ok(sum.recoveredFromSnapshot > 0, 'no recovery used a snapshot');
    assert.ok(sum.recoveredFromTrimmedLog > 0, 'no recovery from a trimmed log');
    assert.ok(sum.snapshotTimedKills > 0 && sum.startupKills > 0);
  });

  it('when SIGTERM arrives while writers run, then in-flight requests drain, the process exits 0, and every acknowledged write is there after a restart', { timeout: 90_000 }, async () => {
    // Its own server, files and ledger: nothing carries over from the kill loop above.
    const r = await runGracefulShutdown({ seed, dim: 8, writers: 8, ackedBeforeSignal: 200, exitBoundMs: SHUTDOWN_GRACE_MS + 30_000, log });
    log(
      `SIGTERM: exit ${r.exitCode} after ${r.exitMs.toFixed(0)} ms (${r.completedCleanly ? 'drained' : 'grace period elapsed'}); ` +
        `${r.acked} writes acked, ${r.unanswered} unanswered (${r.applied} kept, ${r.dropped} dropped), ` +
        `non-2xx: ${r.rejections.length}; height after restart ${r.height}`,
    );
    assert.equal(r.exitCode, 0);
    // The server logs "shutdown complete" only when every open request finished before its grace
    // period ran out (src/main.ts): the drain, judged by what happened rather than how long it took.
    assert.ok(r.completedCleanly, 'shutdown hit the grace period instead of draining');
    assert.ok(r.acked >= 200, `${r.acked} writes acknowledged before the restart`);
    // Every acknowledged write being there is checked inside runGracefulShutdown (it throws).
    assert.ok(r.height > 0);
  });
});
