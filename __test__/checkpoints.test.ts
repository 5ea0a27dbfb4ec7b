// Automatic checkpoints and recovery-time answers (docs/operations.md, "Checkpoints"): the
// configuration of VALORI_CHECKPOINT*, the trigger rule, and against the real server process
// (`node dist/main.js`): a checkpoint written by itself bounds the replay after kill -9 to the
// tail, and during a slow recovery the port answers /health 503 "recovering". Needs `npm run build`.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { killAllServers, ServerProcess } from '../scripts/lib/crash/server';
import { ConfigError, loadConfig } from '../src/config';
import { checkpointDue, checkpointPolicy } from '../src/jobs/snapshots';
import { loadNative } from '../src/kernel/native';
import { request } from './helpers';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(os.tmpdir(), 'valori-checkpoint-'));
  dirs.push(d);
  return d;
}
after(() => {
  killAllServers();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Resolves with the first match of `re` in the process's output (already printed or to come). */
function waitForLine(s: ServerProcess, re: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms:\n${s.output()}`)), timeoutMs);
    const check = () => {
      const m = re.exec(s.output());
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    s.onLine(check);
    void s.exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${e.code ?? e.signal}) before ${what}:\n${s.output()}`));
    });
    check();
  });
}

describe('checkpoint configuration', () => {
  it('when nothing is set, then checkpoints are on with an event log at 1000 events or 4 MiB', () => {
    const c = loadConfig({ VALORI_EVENT_LOG_PATH: '/tmp/x.log' });
    assert.deepEqual([c.checkpoint, c.checkpointEvents, c.checkpointBytes], ['on', 1000, 4 * 1_048_576]);
    assert.deepEqual(checkpointPolicy(c), { events: 1000, bytes: 4_194_304 });
  });

  it('when there is no event log, VALORI_CHECKPOINT=off, or both thresholds are 0, then there is no policy', () => {
    assert.equal(checkpointPolicy(loadConfig({})), null);
    assert.equal(checkpointPolicy(loadConfig({ VALORI_WAL_PATH: '/tmp/x.wal', VALORI_SNAPSHOT_PATH: '/tmp/x.snap' })), null);
    assert.equal(checkpointPolicy(loadConfig({ VALORI_EVENT_LOG_PATH: '/tmp/x.log', VALORI_CHECKPOINT: 'off' })), null);
    assert.equal(checkpointPolicy(loadConfig({ VALORI_EVENT_LOG_PATH: '/tmp/x.log', VALORI_CHECKPOINT_EVENTS: '0', VALORI_CHECKPOINT_BYTES: '0' })), null);
    assert.deepEqual(checkpointPolicy(loadConfig({ VALORI_EVENT_LOG_PATH: '/tmp/x.log', VALORI_CHECKPOINT_EVENTS: '0' })), { events: 0, bytes: 4_194_304 });
  });

  const bad: [string, string][] = [
    ['VALORI_CHECKPOINT', 'maybe'],
    ['VALORI_CHECKPOINT_EVENTS', '-1'],
    ['VALORI_CHECKPOINT_EVENTS', '1.5'],
    ['VALORI_CHECKPOINT_BYTES', 'lots'],
    ['VALORI_CHECKPOINT_BYTES', '-5'],
  ];
  for (const [name, value] of bad) {
    it(`when ${name}=${JSON.stringify(value)}, then the configuration is refused naming it`, () => {
      assert.throws(
        () => loadConfig({ VALORI_EVENT_LOG_PATH: '/tmp/x.log', [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(name),
      );
    });
  }
});

describe('checkpoint trigger', () => {
  it('when either threshold is reached, then a checkpoint is due; a threshold of 0 never fires', () => {
    const p = { events: 100, bytes: 1000 };
    assert.equal(checkpointDue(p, 99, 999), false);
    assert.equal(checkpointDue(p, 100, 0), true);
    assert.equal(checkpointDue(p, 1, 1000), true);
    assert.equal(checkpointDue({ events: 0, bytes: 1000 }, 1_000_000, 999), false);
    assert.equal(checkpointDue({ events: 100, bytes: 0 }, 99, 1e12), false);
  });

  it('when writes have paused, then a tenth of a threshold is enough, but an empty tail never is', () => {
    const p = { events: 100, bytes: 1000 };
    assert.equal(checkpointDue(p, 9, 99, true), false);
    assert.equal(checkpointDue(p, 10, 0, true), true);
    assert.equal(checkpointDue(p, 1, 100, true), true);
    assert.equal(checkpointDue(p, 0, 5000, true), false);
    assert.equal(checkpointDue(p, 10, 0, false), false);
  });
});

describe('checkpoints and recovery (real server process)', () => {
  it('when a checkpoint was written by itself and the node is killed -9, then a restart replays only the tail and keeps every acknowledged write', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const log = join(dir, 'events.log');
    // Only the event log is configured: the checkpoint goes to <event log>.snapshot.
    const env = { VALORI_DIM: '3', VALORI_BIND: '127.0.0.1:0', VALORI_LOG_FORMAT: 'json', VALORI_MAX_RECORDS: '1000', VALORI_EVENT_LOG_PATH: log, VALORI_CHECKPOINT_EVENTS: '20' };
    const first = new ServerProcess(env);
    const { base } = await first.listening(30_000);
    const acked: { id: number; v: number[] }[] = [];
    const insert = async (i: number) => {
      const v = [i, i * 2, -i];
      const r = await request(base, '/records', { body: { values: v } });
      assert.equal(r.status, 200, r.text);
      acked.push({ id: r.json.id as number, v });
    };
    for (let i = 0; i < 25; i++) await insert(i);
    // The threshold's checkpoint (an earlier one, if writes paused for a second, is lower).
    await waitForLine(first, /checkpoint written \(checkpoint\): height (2\d)\b/, 'checkpoint line');
    assert.ok(existsSync(`${log}.snapshot`), 'the checkpoint is at <event log>.snapshot');
    // The tail: fewer events than the threshold. Only a pause of a second before the kill would
    // let the idle trigger checkpoint it as well; the expected replay follows the last checkpoint.
    for (let i = 25; i < 30; i++) await insert(i);
    first.kill('SIGKILL');
    await first.exited;
    const heights = [...first.output().matchAll(/checkpoint written \(checkpoint\): height (\d+)/g)].map((m) => Number(m[1]));
    const checkpointHeight = Math.max(...heights);
    assert.ok(checkpointHeight >= 20 && checkpointHeight <= 30, `checkpoint at ${checkpointHeight}`);

    const second = new ServerProcess(env);
    const { base: base2 } = await second.listening(30_000);
    const rec = second.recovery();
    assert.ok(rec !== null, second.output());
    assert.deepEqual(
      { source: rec.source, height: rec.height, snapshotHeight: rec.snapshotHeight, replayed: rec.replayed },
      { source: 'event_log', height: 30, snapshotHeight: checkpointHeight, replayed: 30 - checkpointHeight },
    );
    for (const a of acked) {
      const found = await request(base2, '/search', { body: { query: a.v, k: 1 } });
      assert.deepEqual(found.json, { results: [{ id: a.id, score: 0 }] });
    }
    second.kill('SIGKILL');
    await second.exited;
  });

  it('when recovery takes a while, then /health answers 503 "recovering" meanwhile, /livez 200, other routes 503 RECOVERING, and the node serves once it is done', { timeout: 180_000 }, async () => {
    const dir = tempDir();
    const log = join(dir, 'events.log');
    const dim = 64;
    const rows = 8_000;
    // A log written without an index replays into HNSW with a wide construction list: the slow
    // part of a recovery, deterministically the same work every run.
    const k = await loadNative().openKernel({ dim, maxRecords: rows, maxNodes: 0, maxEdges: 0, eventLogPath: log });
    let seed = 7;
    const next = () => ((seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32) * 2 - 1;
    for (let b = 0; b < rows; b += 2000) {
      const flat = new Float32Array(2000 * dim).map(() => next());
      await k.insertBatch('default', flat, 2000);
    }
    k.close();

    const s = new ServerProcess({
      VALORI_DIM: String(dim),
      VALORI_BIND: '127.0.0.1:0',
      VALORI_LOG_FORMAT: 'json',
      VALORI_MAX_RECORDS: String(rows * 2),
      VALORI_EVENT_LOG_PATH: log,
      VALORI_CHECKPOINT: 'off',
      VALORI_INDEX: 'hnsw',
      VALORI_HNSW_M: '16',
      VALORI_HNSW_EF_CONSTRUCTION: '200',
    });
    const m = await waitForLine(s, /Recovering on 127\.0\.0\.1:(\d+)/, 'recovering line');
    const base = `http://127.0.0.1:${m[1]}`;
    const health = await request(base, '/health');
    assert.equal(s.isListening(), false, 'recovery already finished: the log is too small to observe it');
    assert.equal(health.status, 503);
    assert.equal(health.json.status, 'recovering');
    assert.equal((await request(base, '/readyz')).status, 503);
    assert.deepEqual((await request(base, '/livez')).json, { status: 'ok' });
    const write = await request(base, '/records', { body: { values: new Array(dim).fill(0) } });
    assert.equal(write.status, 503);
    assert.deepEqual(write.json.code, 'RECOVERING');
    assert.equal(write.headers.get('retry-after'), '1');

    const { base: ready } = await s.listening(150_000);
    assert.equal(ready, base, 'the app listens on the port the recovering responder had');
    const served = await request(base, '/health');
    assert.deepEqual([served.status, served.json.status, served.json.records.live], [200, 'ok', rows]);
    assert.equal(s.recovery()?.replayed, rows / 2000);
    s.kill('SIGKILL');
    await s.exited;
  });

  it('when recovery fails, then the process still exits 1 with one clear line', { timeout: 30_000 }, async () => {
    const dir = tempDir();
    const log = join(dir, 'events.log');
    const k = await loadNative().openKernel({ dim: 3, maxRecords: 10, maxNodes: 0, maxEdges: 0, eventLogPath: log });
    await k.insertBatch('default', new Float32Array([1, 2, 3]), 1);
    k.close();
    // The log was written at dimension 3; a node configured with 4 cannot use it.
    const s = new ServerProcess({ VALORI_DIM: '4', VALORI_BIND: '127.0.0.1:0', VALORI_EVENT_LOG_PATH: log });
    const exit = await s.exited;
    assert.equal(exit.code, 1);
    assert.match(s.output(), /valori-node: cannot recover state: /);
    assert.equal(s.isListening(), false);
  });
});
