// `valori-node doctor` (dist/cli.js): one test per check, each run against a controlled
// environment (the native addon, a data directory that cannot be written, an event log and a
// snapshot of another dimension, a taken port). Needs `npm run build`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadNative } from '../src/kernel/native';

const ROOT = join(__dirname, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const WAIT_MS = 15_000;

const dir = mkdtempSync(join(tmpdir(), 'valori-doctor-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function doctor(env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, 'doctor'], {
    env: { PATH: process.env.PATH ?? '', VALORI_BIND: '127.0.0.1:0', ...env },
    encoding: 'utf8',
    timeout: WAIT_MS,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The finding line of a check, e.g. `FAIL  snapshot: ...`. */
function finding(stdout: string, check: RegExp): string {
  const found = stdout.split('\n').filter((l) => check.test(l));
  assert.equal(found.length, 1, `one line matching ${check}:\n${stdout}`);
  return found[0];
}

describe('valori-node doctor', () => {
  before(() => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
  });

  it('when nothing is configured, then the addon and address pass, file checks are skipped, and it exits 0', () => {
    const r = doctor();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(finding(r.stdout, /native addon:/), /^PASS  native addon: loaded for .*; SIMD path: (avx512|avx2|neon|scalar)$/);
    assert.match(finding(r.stdout, /data directories:/), /^SKIP /);
    assert.match(finding(r.stdout, /^\w+  event log:/), /^SKIP /);
    assert.match(finding(r.stdout, /^\w+  snapshot:/), /^SKIP /);
    assert.match(finding(r.stdout, /listen address/), /^PASS  listen address 127\.0\.0\.1:0:/);
    assert.match(r.stdout, /\nall checks passed\n$/);
  });

  it('when the native addon cannot load, then that check fails with the reason and it exits 1', () => {
    // The generated loader honours this override; a module without the addon's exports stands in for a broken binary.
    const fake = join(dir, 'not-an-addon.js');
    writeFileSync(fake, 'module.exports = {};\n');
    const r = doctor({ NAPI_RS_NATIVE_LIBRARY_PATH: fake });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(finding(r.stdout, /native addon:/), /^FAIL  native addon: the addon loaded but exports no Kernel/);
    assert.match(r.stdout, /\n1 check failed\n$/);
  });

  it('when a data directory is missing or is a file, then it fails naming the directory and the variable; a writable one passes with its free space', () => {
    const ok = join(dir, 'data-ok');
    mkdirSync(ok);
    // Tests may run as root, for whom permissions do not stop a write: a path under a regular
    // file cannot be written by anyone.
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const r = doctor({ VALORI_EVENT_LOG_PATH: join(ok, 'events.log'), VALORI_SNAPSHOT_PATH: join(dir, 'missing', 'snapshot.bin'), VALORI_API_KEYS_FILE: join(file, 'keys.json') });
    assert.equal(r.code, 1, r.stdout);
    assert.match(finding(r.stdout, /data directory .*data-ok/), /^PASS  data directory \S+ \(VALORI_EVENT_LOG_PATH\): writable; \d+\.\d GiB free$/);
    assert.match(finding(r.stdout, /data directory .*missing/), /^FAIL  .*\(VALORI_SNAPSHOT_PATH\): ENOENT: the directory must exist$/);
    assert.match(finding(r.stdout, /data directory .*a-file/), /^FAIL  .*\(VALORI_API_KEYS_FILE\): /);
    assert.match(r.stdout, /\n2 checks failed\n$/);
    assert.deepEqual(existsSync(join(ok, 'events.log')), false, 'doctor creates no data file');
  });

  it('when the event log and snapshot were written at another dimension, then both fail naming the two dimensions; at the same dimension both pass', async () => {
    const data = join(dir, 'dim3');
    mkdirSync(data);
    const log = join(data, 'events.log');
    const snap = join(data, 'snapshot.bin');
    const { openKernel } = loadNative();
    const kernel = await openKernel({ dim: 3, maxRecords: 8, maxNodes: 0, maxEdges: 0, eventLogPath: log, snapshotPath: snap });
    await kernel.saveSnapshot();
    kernel.close();
    const env = { VALORI_EVENT_LOG_PATH: log, VALORI_SNAPSHOT_PATH: snap };

    const same = doctor({ ...env, VALORI_DIM: '3' });
    assert.equal(same.code, 0, same.stdout);
    assert.equal(finding(same.stdout, /^\w+  event log:/), `PASS  event log: ${log} is readable, dimension 3`);
    assert.equal(finding(same.stdout, /^\w+  snapshot:/), `PASS  snapshot: ${snap} is readable, dimension 3`);

    const other = doctor({ ...env, VALORI_DIM: '384' });
    assert.equal(other.code, 1, other.stdout);
    assert.match(finding(other.stdout, /^\w+  event log:/), /^FAIL  event log: .* holds dimension 3 but VALORI_DIM is 384/);
    assert.match(finding(other.stdout, /^\w+  snapshot:/), /^FAIL  snapshot: .* holds dimension 3 but VALORI_DIM is 384/);

    const garbage = join(data, 'garbage.log');
    writeFileSync(garbage, 'not a log at all, just text');
    assert.match(finding(doctor({ VALORI_EVENT_LOG_PATH: garbage, VALORI_DIM: '3' }).stdout, /^\w+  event log:/), /^FAIL  event log: .*not an event log/);
  });

  it('when the port is taken, then the listen address fails and it exits 1', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as { port: number }).port;
      const r = doctor({ VALORI_BIND: `127.0.0.1:${port}` });
      assert.equal(r.code, 1, r.stdout);
      assert.equal(finding(r.stdout, /listen address/), `FAIL  listen address 127.0.0.1:${port}: cannot bind: EADDRINUSE`);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('when a value is bad, then only the configuration fails, with the one-line refusal', () => {
    const r = doctor({ VALORI_DIM: 'zero' });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'FAIL  configuration: VALORI_DIM="zero" is invalid: expected an integer 1..65536\n');
  });
});
