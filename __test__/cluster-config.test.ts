// Cluster mode's configuration (docs/CLUSTER.md): the original's variable names, one clear line for
// every bad topology, and the refusals that keep a member safe (no in-memory Raft log, no log
// truncation, no stream follower, no Raft port without a token).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configReport, unknownVariables } from '../src/config-report';
import { clusterSettings, ConfigError, loadConfig } from '../src/config';

const MEMBERS = '1=127.0.0.1:4101/127.0.0.1:3001, 2=10.0.0.2:4100/http://10.0.0.2:3000,3=node3.internal:4100/node3.internal:3000';
const BASE = { VALORI_CLUSTER_MEMBERS: MEMBERS, VALORI_NODE_ID: '1', VALORI_EVENT_LOG_PATH: '/data/raft.log', VALORI_AUTH_TOKEN: 'a-token-of-enough-length-for-the-cluster-1' };

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.doesNotMatch(err.message, /\n/);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('cluster configuration', () => {
  it('when the members, the id, a log and a token are given, then the settings name them and the defaults', () => {
    const c = loadConfig({ ...BASE, VALORI_CLUSTER_INIT: '1' });
    assert.deepEqual(c.clusterMembers, [
      { id: 1, raftAddr: '127.0.0.1:4101', apiAddr: '127.0.0.1:3001' },
      { id: 2, raftAddr: '10.0.0.2:4100', apiAddr: 'http://10.0.0.2:3000' },
      { id: 3, raftAddr: 'node3.internal:4100', apiAddr: 'node3.internal:3000' },
    ]);
    assert.deepEqual(clusterSettings(c), {
      nodeId: 1,
      members: c.clusterMembers,
      init: true,
      // The member's own Raft address when VALORI_RAFT_BIND is unset.
      raftBind: '127.0.0.1:4101',
      raftDir: '/data/raft.log.raft',
      logPath: '/data/raft.log',
      token: 'a-token-of-enough-length-for-the-cluster-1',
    });
    assert.equal(c.readConsistency, 'linearizable');
    // A dedicated cluster token wins over the API token; the Raft directory may be set.
    const own = clusterSettings(loadConfig({ ...BASE, VALORI_CLUSTER_TOKEN: 'raft-only-token-raft-only-token-00', VALORI_RAFT_LOG_PATH: '/raft' }));
    assert.equal(own?.token, 'raft-only-token-raft-only-token-00');
    assert.equal(own?.raftDir, '/raft');
    // Standalone: no cluster settings, and an empty variable counts as unset.
    assert.equal(clusterSettings(loadConfig({ VALORI_CLUSTER_MEMBERS: '' })), null);
    // The configuration report (boot log, `valori-node check`) prints the members as they were given.
    const shown = configReport(c, { ...BASE, VALORI_CLUSTER_INIT: '1' }).find((e) => e.variable === 'VALORI_CLUSTER_MEMBERS');
    assert.equal(shown?.value, '1=127.0.0.1:4101/127.0.0.1:3001,2=10.0.0.2:4100/http://10.0.0.2:3000,3=node3.internal:4100/node3.internal:3000');
    // `valori-node check` knows the names.
    assert.deepEqual(unknownVariables({ VALORI_RAFT_BIND: '127.0.0.1:4100', VALORI_NODE_ID: '2', VALORI_CLUSTER_MEMBERS: MEMBERS, VALORI_CLUSTER_INIT: '1' }), []);
  });

  it('when the topology is bad, then the node refuses to start with one line naming the variable', () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ ...BASE, VALORI_CLUSTER_MEMBERS: '1=127.0.0.1:4101' }, 'VALORI_CLUSTER_MEMBERS', /expected id=raft_host:port\/api_host:port/],
      [{ ...BASE, VALORI_CLUSTER_MEMBERS: '1=a:1/b:2,1=c:3/d:4' }, 'VALORI_CLUSTER_MEMBERS', /names node 1 twice/],
      [{ ...BASE, VALORI_CLUSTER_MEMBERS: '0=a:1/b:2' }, 'VALORI_CLUSTER_MEMBERS', /expected a node id/],
      [{ ...BASE, VALORI_CLUSTER_MEMBERS: '1=a:99999/b:2' }, 'VALORI_CLUSTER_MEMBERS', /Raft address "a:99999" is invalid/],
      [{ ...BASE, VALORI_CLUSTER_MEMBERS: '1=a:1/ftp://b:2' }, 'VALORI_CLUSTER_MEMBERS', /API address "ftp:\/\/b:2" is invalid/],
      [{ ...BASE, VALORI_CLUSTER_MEMBERS: ' , ' }, 'VALORI_CLUSTER_MEMBERS', /is empty/],
      [{ ...BASE, VALORI_NODE_ID: '4' }, 'VALORI_NODE_ID', /is not one of VALORI_CLUSTER_MEMBERS \(1, 2, 3\)/],
      [{ ...BASE, VALORI_NODE_ID: 'x' }, 'VALORI_NODE_ID', /expected a node id/],
      [{ ...BASE, VALORI_NODE_ID: '' }, 'VALORI_NODE_ID', /every cluster node needs its id/],
      [{ ...BASE, VALORI_EVENT_LOG_PATH: '' }, 'VALORI_EVENT_LOG_PATH', /there is no in-memory cluster/],
      [{ ...BASE, VALORI_ACCEPT_LOG_TRUNCATION: 'true' }, 'VALORI_ACCEPT_LOG_TRUNCATION', /refused in cluster mode/],
      [{ ...BASE, VALORI_FOLLOWER_OF: 'http://10.0.0.9:3000' }, 'VALORI_FOLLOWER_OF', /either a stream follower or a cluster member/],
      [{ VALORI_CLUSTER_MEMBERS: MEMBERS, VALORI_NODE_ID: '1', VALORI_EVENT_LOG_PATH: '/data/raft.log' }, 'VALORI_CLUSTER_TOKEN', /needs a token for the Raft port/],
      [{ ...BASE, VALORI_RAFT_BIND: 'node1:4100' }, 'VALORI_RAFT_BIND', /expected an IP address and a port/],
      [{ ...BASE, VALORI_NODE_ID: '3' }, 'VALORI_RAFT_BIND', /is a name, not an IP address/],
      [{ ...BASE, VALORI_RAFT_HEARTBEAT_MS: '400', VALORI_RAFT_ELECTION_TIMEOUT_MS: '1000' }, 'VALORI_RAFT_HEARTBEAT_MS', /at most a third/],
      [{ VALORI_NODE_ID: '1' }, 'VALORI_NODE_ID', /VALORI_CLUSTER_MEMBERS is not/],
      [{ VALORI_CLUSTER_INIT: '1' }, 'VALORI_CLUSTER_INIT', /VALORI_CLUSTER_MEMBERS is not/],
      [{ VALORI_RAFT_BIND: '127.0.0.1:4100' }, 'VALORI_RAFT_BIND', /VALORI_CLUSTER_MEMBERS is not/],
      [{ ...BASE, VALORI_READ_CONSISTENCY: 'eventual' }, 'VALORI_READ_CONSISTENCY', /linearizable/],
    ];
    for (const [env, variable, message] of cases) {
      const err = refusal(env);
      assert.equal(err.variable, variable, `${JSON.stringify(env)}: ${err.message}`);
      assert.match(err.message, message);
    }
    // A node named by host name starts when it binds an IP address.
    assert.equal(clusterSettings(loadConfig({ ...BASE, VALORI_NODE_ID: '3', VALORI_RAFT_BIND: '0.0.0.0:4100' }))?.raftBind, '0.0.0.0:4100');
  });

  it('when docker-compose.cluster.yml is read as each node would, then every node loads a valid member configuration', () => {
    const text = readFileSync(join(__dirname, '..', 'docker-compose.cluster.yml'), 'utf8');
    const vars = (block: string): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const m of block.matchAll(/^\s+(VALORI_[A-Z_]+|RUST_LOG): "?(.*?)"?$/gm)) out[m[1]] = m[2];
      return out;
    };
    const base = vars(text.slice(text.indexOf('x-env: &env'), text.indexOf('\nservices:')));
    // Compose substitutes the token from the environment (and refuses to start without it).
    assert.match(base.VALORI_AUTH_TOKEN, /^\$\{VALORI_AUTH_TOKEN:\?/);
    base.VALORI_AUTH_TOKEN = 'a-token-of-enough-length-for-the-cluster-1';
    const services = text.slice(text.indexOf('\nservices:'), text.indexOf('\nvolumes:'));
    const blocks = services.split(/\n  (?=node\d+:)/).slice(1);
    assert.equal(blocks.length, 3);
    const inits: number[] = [];
    for (const block of blocks) {
      const env = { ...base, ...vars(block) };
      assert.deepEqual(unknownVariables(env), [], block);
      const c = clusterSettings(loadConfig(env));
      assert.ok(c !== null);
      assert.equal(`node${c.nodeId}:`, block.slice(0, block.indexOf(':') + 1));
      assert.equal(c.raftBind, '0.0.0.0:4100');
      assert.deepEqual(
        c.members.map((m) => [m.id, m.raftAddr, m.apiAddr]),
        [1, 2, 3].map((i) => [i, `node${i}:4100`, `node${i}:3000`]),
      );
      if (c.init) inits.push(c.nodeId);
      // Each node keeps its own volume.
      assert.match(block, new RegExp(`- node${c.nodeId}-data:/data`));
    }
    assert.deepEqual(inits, [1], 'exactly one node initializes the cluster');
  });
});
