// The config schema: defaults from the deployment guide, accepted forms, one-line refusals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_SCHEMA, ConfigError, DEFAULT_MAX_BATCH_BODY_BYTES, configHelp, loadConfig, maxCollectionDim, parseRustLog } from '../src/config';

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('config', () => {
  it('when nothing is set, then the guide defaults apply', () => {
    const c = loadConfig({});
    assert.equal(c.dim, 16);
    assert.equal(c.maxRecords, 1024);
    assert.equal(c.maxNodes, 1024);
    assert.equal(c.maxEdges, 2048);
    assert.deepEqual(c.bind, { host: '127.0.0.1', port: 3000 });
    assert.equal(c.authToken, null);
    assert.equal(c.index, 'brute');
    assert.equal(c.quant, 'none');
    assert.equal(c.eventLogPath, null);
    assert.equal(c.snapshotIntervalSecs, null);
    assert.equal(c.followerOf, null);
    assert.equal(c.maxK, 10_000);
    assert.equal(c.logLevel, 'info');
    assert.deepEqual([c.hnswM, c.hnswEfConstruction, c.hnswEfSearch, c.ivfNlist, c.ivfNprobe], [16, 100, 100, 0, 8]);
    assert.equal(loadConfig({ VALORI_HNSW_M: '128' }).hnswM, 128);
  });

  it('when the default batch body limit is computed, then a 10k x 1536 batch of JSON.stringify-ed f32 values fits', () => {
    // Negative values with 17 significant digits: the longest common form a float32 widened to
    // double takes in JSON ("-0.12345679104328156").
    const row = JSON.stringify(Array.from({ length: 1536 }, (_, i) => -Math.fround(0.1 + (i % 900) / 1000 + 1e-9)));
    const bodyBytes = '{"batch":['.length + 10_000 * row.length + 9_999 + ']}'.length;
    assert.ok(bodyBytes <= DEFAULT_MAX_BATCH_BODY_BYTES, `${bodyBytes} > ${DEFAULT_MAX_BATCH_BODY_BYTES}`);
    assert.ok(DEFAULT_MAX_BATCH_BODY_BYTES < 536_870_888, 'stays below the V8 string limit');
    // And the batch itself fits one event: 10,000 x 1,536 i32 components plus a header.
    assert.ok(10_000 * 1536 * 4 + 1024 <= 67_108_864);
  });

  it('when values are valid, then they are parsed (bind forms, case-insensitive enums, follower URL)', () => {
    const c = loadConfig({
      VALORI_DIM: '384',
      VALORI_BIND: '0.0.0.0:8080',
      VALORI_INDEX: 'HNSW',
      VALORI_QUANT: 'scalar',
      VALORI_FOLLOWER_OF: 'http://leader:3000/',
      VALORI_EVENT_LOG_PATH: '/data/events.log',
      VALORI_SNAPSHOT_PATH: '/data/s.bin',
      VALORI_SNAPSHOT_INTERVAL: '300',
      VALORI_AUTH_TOKEN: 'abc',
    });
    assert.deepEqual([c.dim, c.bind, c.index, c.quant, c.followerOf, c.snapshotIntervalSecs], [
      384, { host: '0.0.0.0', port: 8080 }, 'hnsw', 'scalar', 'http://leader:3000', 300,
    ]);
    assert.deepEqual(loadConfig({ VALORI_BIND: '[::1]:3000' }).bind, { host: '::1', port: 3000 });
    assert.deepEqual(loadConfig({ VALORI_BIND: 'localhost:0' }).bind, { host: 'localhost', port: 0 });
  });

  it('when RUST_LOG uses the guide forms, then the valori_node level wins over a bare level', () => {
    assert.equal(parseRustLog('valori_node=info'), 'info');
    assert.equal(parseRustLog('valori_node=debug,tower_http=debug'), 'debug');
    assert.equal(parseRustLog('warn'), 'warn');
    assert.equal(parseRustLog('error,valori_node=trace'), 'silly');
    assert.equal(parseRustLog('tower_http=debug'), 'info');
    assert.equal(parseRustLog('off'), 'silent');
    assert.equal(parseRustLog('valori_node::server=DEBUG'), 'debug');
  });

  it('when a value is bad, then ConfigError is one line naming the variable and the accepted values', () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ VALORI_DIM: 'abc' }, 'VALORI_DIM', /1\.\.65536/],
      [{ VALORI_DIM: '65537' }, 'VALORI_DIM', /1\.\.65536/],
      [{ VALORI_DIM: '1.5' }, 'VALORI_DIM', /integer/],
      [{ VALORI_INDEX: 'foo' }, 'VALORI_INDEX', /brute, hnsw, ivf/],
      [{ VALORI_QUANT: 'pq' }, 'VALORI_QUANT', /none, scalar, product/],
      // The kernel builds HNSW with at most 128 links per node, so the config accepts no more.
      [{ VALORI_HNSW_M: '129' }, 'VALORI_HNSW_M', /2\.\.128/],
      [{ VALORI_BIND: 'nonsense' }, 'VALORI_BIND', /HOST:PORT/],
      [{ VALORI_BIND: '127.0.0.1:70000' }, 'VALORI_BIND', /HOST:PORT/],
      [{ VALORI_MAX_NODES: '-5' }, 'VALORI_MAX_NODES', /0\.\.4294967295/],
      [{ VALORI_MAX_EDGES: '1e3' }, 'VALORI_MAX_EDGES', /integer/],
      [{ VALORI_AUTH_TOKEN: '' }, 'VALORI_AUTH_TOKEN', /empty/],
      [{ VALORI_AUTH_TOKEN: '   ' }, 'VALORI_AUTH_TOKEN', /empty/],
      [{ VALORI_SNAPSHOT_PATH: '/x', VALORI_SNAPSHOT_INTERVAL: '0' }, 'VALORI_SNAPSHOT_INTERVAL', /1\.\./],
      [{ VALORI_SNAPSHOT_INTERVAL: '60' }, 'VALORI_SNAPSHOT_INTERVAL', /VALORI_SNAPSHOT_PATH/],
      [{ VALORI_FOLLOWER_OF: 'leader:3000' }, 'VALORI_FOLLOWER_OF', /http/],
      [{ VALORI_FOLLOWER_OF: 'http://leader:3000' }, 'VALORI_FOLLOWER_OF', /VALORI_EVENT_LOG_PATH/],
      [{ VALORI_REPLICATION_CHECK_INTERVAL_MS: '5' }, 'VALORI_REPLICATION_CHECK_INTERVAL_MS', /10\.\./],
      [{ VALORI_REPLICATION_HEARTBEAT_MS: 'soon' }, 'VALORI_REPLICATION_HEARTBEAT_MS', /integer/],
      [{ VALORI_MAX_K: '0' }, 'VALORI_MAX_K', /1\.\./],
      [{ VALORI_MAX_BODY_BYTES: '999999999999' }, 'VALORI_MAX_BODY_BYTES', /1\.\./],
      [{ VALORI_LOG_FORMAT: 'xml' }, 'VALORI_LOG_FORMAT', /json/],
      [{ RUST_LOG: 'valori_node=chatty' }, 'RUST_LOG', /valori_node=info/],
      // The default collection has VALORI_DIM components, so the widest collection cannot be narrower.
      [{ VALORI_DIM: '1536', VALORI_MAX_DIM: '1024' }, 'VALORI_MAX_DIM', /at least VALORI_DIM/],
    ];
    for (const [env, name, accepted] of cases) {
      const err = refusal(env);
      assert.equal(err.variable, name);
      assert.ok(err.message.startsWith(name), err.message);
      assert.match(err.message, accepted);
      assert.equal(err.message.includes('\n'), false);
    }
  });

  it('when VALORI_MAX_DIM is unset, then collections may be 4096 wide, or VALORI_DIM when that is wider', () => {
    assert.equal(maxCollectionDim(loadConfig({})), 4096);
    assert.equal(maxCollectionDim(loadConfig({ VALORI_DIM: '8192' })), 8192);
    assert.equal(maxCollectionDim(loadConfig({ VALORI_MAX_DIM: '1536' })), 1536);
  });

  it('when a path variable is set to an empty string, then it counts as unset', () => {
    assert.equal(loadConfig({ VALORI_EVENT_LOG_PATH: '' }).eventLogPath, null);
    assert.equal(loadConfig({ VALORI_DIM: '' }).dim, 16);
  });

  it('when help is rendered, then every schema variable appears with its default and feature', () => {
    const help = configHelp();
    for (const spec of Object.values(CONFIG_SCHEMA)) {
      assert.ok(help.includes(spec.env), spec.env);
      assert.ok(help.includes(spec.feature));
    }
  });
});
