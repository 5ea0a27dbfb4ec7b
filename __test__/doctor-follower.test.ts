// `valori-node doctor` on a follower: the leader reachable, the follower's token accepted, the
// same dimension. runDoctor runs in this process (as the CLI does) against a real leader started
// in-process on 127.0.0.1:0; a spawned CLI would need the leader served while the test waits on it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runDoctor } from '../src/doctor';
import { startServer, type TestServer } from './helpers';

const TOKEN = 'doctor-leader-token-0123456789abcdef';

const dir = mkdtempSync(join(tmpdir(), 'valori-doctor-follower-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function follower(leader: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string }> {
  return runDoctor({ VALORI_BIND: '127.0.0.1:0', VALORI_FOLLOWER_OF: leader, VALORI_EVENT_LOG_PATH: join(dir, 'events.log'), ...env });
}

/** The finding line of a check, e.g. `FAIL  leader token: ...`. */
function finding(stdout: string, check: string): string {
  const found = stdout.split('\n').filter((l) => l.startsWith(`PASS  ${check}:`) || l.startsWith(`FAIL  ${check}:`) || l.startsWith(`SKIP  ${check}:`));
  assert.equal(found.length, 1, `one "${check}" line:\n${stdout}`);
  return found[0];
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('valori-node doctor on a follower', () => {
  let leader: TestServer;

  before(async () => {
    leader = await startServer({ VALORI_DIM: '8', VALORI_AUTH_TOKEN: TOKEN });
  });
  after(() => leader.stop());

  it('when the leader is unreachable, then the leader check fails naming the URL, the other two are skipped, and it exits 1', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await follower(url, { VALORI_DIM: '8', VALORI_LEADER_TOKEN: TOKEN });
    assert.equal(r.code, 1, r.stdout);
    assert.match(finding(r.stdout, 'leader'), new RegExp(`^FAIL  leader: ${url.replace(/\./g, '\\.')} is unreachable: .*ECONNREFUSED`));
    assert.equal(finding(r.stdout, 'leader token'), 'SKIP  leader token: leader unreachable');
    assert.equal(finding(r.stdout, 'leader dimension'), 'SKIP  leader dimension: leader unreachable');
    assert.match(r.stdout, /\n1 check failed\n$/);
  });

  it('when the leader has another dimension, then the dimension check fails naming both', async () => {
    const r = await follower(leader.base, { VALORI_DIM: '384', VALORI_LEADER_TOKEN: TOKEN });
    assert.equal(r.code, 1, r.stdout);
    assert.match(finding(r.stdout, 'leader'), /^PASS  leader: .* answers \(GET \/health 200, version /);
    assert.match(finding(r.stdout, 'leader token'), /^PASS /);
    assert.equal(
      finding(r.stdout, 'leader dimension'),
      'FAIL  leader dimension: the leader has dimension 8 but VALORI_DIM is 384: set VALORI_DIM=8 (the follower replays the leader\'s events)',
    );
  });

  it('when the token is wrong, then the token check fails naming the variable the follower sends', async () => {
    const wrong = await follower(leader.base, { VALORI_DIM: '8', VALORI_LEADER_TOKEN: `${TOKEN}-wrong` });
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(finding(wrong.stdout, 'leader token'), /^FAIL  leader token: the leader refused VALORI_LEADER_TOKEN \(401\)/);
    // Without VALORI_LEADER_TOKEN the follower sends VALORI_AUTH_TOKEN, so that is the one named.
    const own = await follower(leader.base, { VALORI_DIM: '8', VALORI_AUTH_TOKEN: `${TOKEN}-other` });
    assert.match(finding(own.stdout, 'leader token'), /^FAIL  leader token: the leader refused VALORI_AUTH_TOKEN \(401\)/);
    const none = await follower(leader.base, { VALORI_DIM: '8' });
    assert.match(finding(none.stdout, 'leader token'), /^FAIL  leader token: the leader requires a token: set VALORI_LEADER_TOKEN/);
    for (const r of [wrong, own]) assert.ok(!r.stdout.includes(TOKEN), 'no token in the output');
  });

  it('when the leader answers, accepts the token and has the same dimension, then all three pass and it exits 0', async () => {
    const r = await follower(leader.base, { VALORI_DIM: '8', VALORI_LEADER_TOKEN: TOKEN });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(finding(r.stdout, 'leader token'), 'PASS  leader token: VALORI_LEADER_TOKEN is accepted (GET /v1/replication/state)');
    assert.equal(finding(r.stdout, 'leader dimension'), 'PASS  leader dimension: 8, the same as VALORI_DIM');
    assert.match(r.stdout, /\nall checks passed\n$/);
  });

  it('when the node is not a follower, then the leader check is skipped', async () => {
    const r = await runDoctor({ VALORI_BIND: '127.0.0.1:0' });
    assert.equal(finding(r.stdout, 'leader'), 'SKIP  leader: not a follower (VALORI_FOLLOWER_OF unset)');
    assert.ok(!r.stdout.includes('leader token'));
  });
});
