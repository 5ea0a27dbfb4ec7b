// Schemathesis over the HTTP API, generated from the server's own /openapi.json, against real
// server processes (in memory with tiny pools, and with an event log + HNSW): no 5xx beyond the
// documented ones (507 pool full, /health 503 full), no crash, /health writable afterwards, and
// the durable node restarts to the same height and state hash (snapshot save/restore are fed
// hostile file names such as the event log's, see HOSTILE_FILE_NAMES). Bounded: a fixed number of
// examples per operation and a hard deadline per run. Needs `npm run build` and the fuzz venv
// (.ci/run creates it; see SETUP_COMMAND); without the venv the suite is skipped, unless
// VALORI_REQUIRE_FUZZ=1, as in CI.
import assert from 'node:assert/strict';
import { after, describe, it, type TestContext } from 'node:test';
import { join } from 'node:path';
import { request } from './helpers';
import { assertBuilt, cleanup, logProof, proof, startNode, tempDir, type NodeProcess } from './replication-helpers';
import { junitFailures, runSchemathesis, schemathesisInstalled, SETUP_COMMAND, unexpectedServerErrors } from '../scripts/lib/fuzz-api';

const DIM = 4;
const TOKEN = 'fuzz-openapi-token';
/** Per operation and phase; about 25 s per server on this project's 2-core machine. */
const MAX_EXAMPLES = 60;
const DEADLINE_MS = 150_000;
const SEED = 20_261_202;

after(cleanup);

const installed = schemathesisInstalled();
const required = process.env.VALORI_REQUIRE_FUZZ === '1';
const missing = `schemathesis is not installed in .venv-fuzz: run \`${SETUP_COMMAND}\` (or .ci/run)`;

async function fuzz(t: TestContext, node: NodeProcess, workDir: string, hostileNames: string[] = []): Promise<void> {
  const run = await runSchemathesis({ base: node.base, dim: DIM, token: TOKEN, workDir, maxExamples: MAX_EXAMPLES, seed: SEED, deadlineMs: DEADLINE_MS, hostileNames });
  const alive = node.child.exitCode === null && node.child.signalCode === null;
  const context = () =>
    [
      ...junitFailures(run.junit),
      '--- schemathesis (tail)',
      ...run.output.split('\n').slice(-120),
      '--- server (tail)',
      ...node.output().split('\n').slice(-15),
    ].join('\n');
  assert.ok(alive, `the server process died during the fuzz run\n${context()}`);
  assert.ok(!run.timedOut, `schemathesis did not finish within ${DEADLINE_MS} ms\n${context()}`);
  assert.equal(run.exitCode, 0, `schemathesis found failures\n${context()}`);
  const metrics = await request(node.base, '/metrics');
  assert.equal(unexpectedServerErrors(metrics.text), 0, `the server counted undocumented 5xx answers\n${context()}`);
  const health = await request(node.base, '/health');
  // A full pool answers 503 "full" with the same body (documented); anything else must be 200.
  assert.ok(health.status === 200 || (health.status === 503 && health.json?.status === 'full'), health.text);
  assert.equal(health.json.read_only, false, `the node turned read-only: ${health.text}`);
  const cases = /(\d+) generated/.exec(run.output)?.[1];
  t.diagnostic(`${cases ?? '?'} cases; /health ${health.status} ${health.json.status}`);
}

describe('OpenAPI fuzz (schemathesis)', { skip: !installed && !required ? missing : false }, () => {
  it('when schemathesis is required (VALORI_REQUIRE_FUZZ=1), then it is installed', () => {
    assert.ok(installed, missing);
    assertBuilt();
  });

  it('when fuzzing an in-memory node with tiny pools, then nothing answers an undocumented 5xx and the node stays up and writable', async (t) => {
    const node = await startNode({ VALORI_DIM: String(DIM), VALORI_AUTH_TOKEN: TOKEN, VALORI_MAX_RECORDS: '48', VALORI_MAX_NODES: '48', VALORI_MAX_EDGES: '48' });
    await fuzz(t, node, tempDir());
    await node.stop();
  });

  it('when fuzzing a node with an event log, snapshots and HNSW, then the same holds and a restart comes back at the same height and state hash', async (t) => {
    const dir = tempDir();
    const env = {
      VALORI_DIM: String(DIM),
      VALORI_AUTH_TOKEN: TOKEN,
      VALORI_INDEX: 'hnsw',
      VALORI_EVENT_LOG_PATH: join(dir, 'events.log'),
      VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'),
    };
    const node = await startNode(env);
    // Schemathesis's own files go elsewhere: the fuzzer names snapshot files in `dir`, the log's
    // absolute path among them.
    await fuzz(t, node, tempDir(), [env.VALORI_EVENT_LOG_PATH, env.VALORI_SNAPSHOT_PATH, dir]);
    const before = await logProof(node.base, TOKEN);
    const hashBefore = (await proof(node.base, TOKEN)).json.final_state_hash;
    await node.stop();
    const again = await startNode(env);
    const afterRestart = await logProof(again.base, TOKEN);
    assert.equal(afterRestart.committed_height, before.committed_height, 'same height after restart');
    assert.equal((await proof(again.base, TOKEN)).json.final_state_hash, hashBefore, 'same state hash after restart');
    await again.stop();
  });
});
