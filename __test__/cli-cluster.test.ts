// `valori-node cluster status|add-node|remove-node` (src/cluster-cli.ts): its arguments, and its
// answers against a one-node cluster in this process (Raft on 127.0.82.1).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCli } from '../src/cli';
import { formatStatus, parseClusterArgs, runCluster, type ClusterCommand } from '../src/cluster-cli';
import { request, startServer, type TestServer } from './helpers';

const TOKEN = 'cli-cluster-token-cli-cluster-token-00';
const RAFT = '127.0.82.1:47821';
const CLI = join(__dirname, '..', 'dist', 'cli.js');

function parsed(argv: string[], env: NodeJS.ProcessEnv = {}): ClusterCommand {
  const c = parseClusterArgs(argv, env);
  assert.ok(typeof c !== 'string', c as string);
  return c;
}

describe('cluster command arguments', () => {
  it('when the arguments are complete, then they name the route, the URL and the token', () => {
    assert.deepEqual(parsed(['status']), { sub: 'status', url: 'http://127.0.0.1:3000', token: undefined, json: false });
    assert.deepEqual(parsed(['status', '--url', 'http://10.0.0.2:3000/', '--json'], { VALORI_AUTH_TOKEN: 'from-env' }), { sub: 'status', url: 'http://10.0.0.2:3000', token: 'from-env', json: true });
    assert.deepEqual(parsed(['add-node', '--node-id', '4', '--raft-addr', '10.0.0.4:4100', '--api-addr', '10.0.0.4:3000', '--token', 't'], { VALORI_AUTH_TOKEN: 'from-env' }), {
      sub: 'add-node',
      url: 'http://127.0.0.1:3000',
      token: 't',
      json: false,
      nodeId: 4,
      raftAddr: '10.0.0.4:4100',
      apiAddr: '10.0.0.4:3000',
    });
    assert.deepEqual(parsed(['remove-node', '--node-id', '2']), { sub: 'remove-node', url: 'http://127.0.0.1:3000', token: undefined, json: false, nodeId: 2 });
    assert.deepEqual(parseCli(['cluster', 'status'], {}), { kind: 'cluster', command: { sub: 'status', url: 'http://127.0.0.1:3000', token: undefined, json: false } });
  });

  it('when an argument is missing or wrong, then one usage line names it', () => {
    const cases: [string[], RegExp][] = [
      [[], /needs a command: status, add-node or remove-node/],
      [['join'], /unknown cluster command 'join'/],
      [['status', 'extra'], /unexpected argument 'extra'/],
      [['status', '--node-id', '3'], /'--node-id' does not apply to 'cluster status'/],
      [['status', '--url', 'ftp://x'], /--url must be an http\(s\) URL/],
      [['status', '--verbose'], /unknown option '--verbose'/],
      [['add-node', '--raft-addr', 'a:1', '--api-addr', 'b:2'], /needs --node-id/],
      [['add-node', '--node-id', '0', '--raft-addr', 'a:1', '--api-addr', 'b:2'], /--node-id must be an integer 1\.\.2\^53-1, got "0"/],
      [['add-node', '--node-id', '4', '--api-addr', 'b:2'], /needs --raft-addr/],
      [['add-node', '--node-id', '4', '--raft-addr', 'a:1'], /needs --api-addr/],
      [['remove-node'], /needs --node-id/],
      [['remove-node', '--node-id', '2', '--raft-addr', 'a:1'], /'--raft-addr' does not apply to 'cluster remove-node'/],
    ];
    for (const [argv, re] of cases) {
      const c = parseClusterArgs(argv, {});
      assert.equal(typeof c, 'string', `${argv.join(' ')} was accepted`);
      assert.match(c as string, re, argv.join(' '));
      const action = parseCli(['cluster', ...argv], {});
      assert.equal(action.kind, 'usage-error');
    }
  });

  it('when a status is printed, then it shows the node, the leader and one row per member', () => {
    const text = formatStatus({
      node_id: 2,
      current_leader: 1,
      role: 'follower',
      term: 7,
      last_log_index: 120,
      last_applied_index: 119,
      snapshot_index: null,
      members: [
        { id: 1, raft_addr: '10.0.0.1:4100', api_addr: '10.0.0.1:3000', voter: true },
        { id: 2, raft_addr: '10.0.0.2:4100', api_addr: '10.0.0.2:3000', voter: true },
        { id: 4, raft_addr: '10.0.0.4:4100', api_addr: '10.0.0.4:3000', voter: false },
      ],
      joining: [{ id: 4, state: 'catching up' }],
    });
    assert.equal(
      text,
      [
        'node 2: follower, leader 1, term 7',
        'log 120, applied 119, snapshot -',
        'members:',
        '  id  role     raft           api',
        '  1   voter    10.0.0.1:4100  10.0.0.1:3000  leader',
        '  2   voter    10.0.0.2:4100  10.0.0.2:3000',
        '  4   learner  10.0.0.4:4100  10.0.0.4:3000',
        'joining: node 4 (catching up)',
        '',
      ].join('\n'),
    );
  });
});

describe('cluster commands against a one-node cluster', () => {
  let dir: string;
  let s: TestServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-cli-cluster-'));
    s = await startServer({
      VALORI_DIM: '2',
      VALORI_AUTH_TOKEN: TOKEN,
      VALORI_CLUSTER_MEMBERS: `1=${RAFT}/127.0.0.1:3000`,
      VALORI_NODE_ID: '1',
      VALORI_CLUSTER_INIT: '1',
      VALORI_EVENT_LOG_PATH: join(dir, 'raft.log'),
      VALORI_RAFT_HEARTBEAT_MS: '50',
      VALORI_RAFT_ELECTION_TIMEOUT_MS: '200',
    });
    const deadline = Date.now() + 20_000;
    while ((await request(s.base, '/v1/cluster/health', { token: TOKEN })).status !== 200) {
      assert.ok(Date.now() < deadline, 'no leader');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when status is asked with the token, then the node and its one voter are printed; without it the 401 is reported', async () => {
    const ok = await runCluster(parsed(['status', '--url', s.base, '--token', TOKEN]));
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^node 1: leader, leader 1, term \d+\n/);
    assert.match(ok.stdout, new RegExp(`  1   voter  ${RAFT.replace(/\./g, '\\.')}  127\\.0\\.0\\.1:3000  leader\\n`));
    const json = await runCluster(parsed(['status', '--url', s.base, '--token', TOKEN, '--json']));
    assert.equal(JSON.parse(json.stdout).node_id, 1);
    const denied = await runCluster(parsed(['status', '--url', s.base]));
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /answered 401 /);
    assert.doesNotMatch(denied.stderr + ok.stdout + json.stdout, new RegExp(TOKEN));
  });

  it('when the last voter is removed, then the server refusal is printed and the exit code is 1', async () => {
    const r = await runCluster(parsed(['remove-node', '--node-id', '1', '--url', s.base, '--token', TOKEN]));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^cluster remove-node: http:\/\/127\.0\.0\.1:\d+ answered 400 [A-Z_]+: /);
    const st = await request(s.base, '/v1/cluster/status', { token: TOKEN });
    assert.equal(st.json.members.length, 1);
  });

  it('when the command runs as a process, then its output and exit code are the same', async () => {
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'cluster', 'status', '--url', s.base], { env: { PATH: process.env.PATH ?? '', VALORI_AUTH_TOKEN: TOKEN } }, (err, stdout) => resolve({ code: err === null ? 0 : (err.code as number), stdout }));
    });
    assert.equal(out.code, 0);
    assert.match(out.stdout, /^node 1: leader/);
    const nobody = await new Promise<number | null>((resolve) => {
      execFile(process.execPath, [CLI, 'cluster', 'status', '--url', 'http://127.0.82.1:9'], { env: { PATH: process.env.PATH ?? '' } }, (err) => resolve(err === null ? 0 : (err.code as number)));
    });
    assert.equal(nobody, 1);
  });
});
