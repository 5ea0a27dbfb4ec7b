// valori-node 0.3.1's /v1 graph routes through the real app on 127.0.0.1:0. One small graph in
// `default`, written through the routes, and every read compared with answers worked out by hand:
//
//   node 0 (kind 5, record 0) --e0 kind 6--> node 1 (kind 6, record 1) --e2 kind 4--> node 3 (kind 1)
//   node 0                    --e1 kind 6--> node 2 (kind 6, no record)
//   node 3                    --e3 kind 0--> node 0
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isErrorEnvelope, request, startServer, type TestServer } from './helpers';

describe('/v1 graph', () => {
  let s: TestServer;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => request(s.base, path, { body, headers });
  const get = (path: string) => request(s.base, path);
  const del = (path: string, headers: Record<string, string> = {}) => request(s.base, path, { method: 'DELETE', headers });
  const height = async (): Promise<number> => (await get('/v1/proof/state')).json.height;

  async function refused(send: () => Promise<{ status: number; json: any }>, status: number, code: string, names: RegExp): Promise<void> {
    const h = await height();
    const r = await send();
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.ok(isErrorEnvelope(r.json, code), JSON.stringify(r.json));
    assert.match(r.json.error, names);
    assert.equal(await height(), h, 'a refused request wrote nothing');
  }

  const node = (node_id: number, kind: number, record_id: number | null) => ({ node_id, kind, record_id, namespace_id: 0 });
  const hit = (node_id: number, kind: number, record_id: number | null, depth: number) => ({ node_id, kind, record_id, depth });

  before(async () => {
    s = await startServer({ VALORI_DIM: '4' });
  });
  after(() => s.stop());

  it('when nodes and edges are created, then ids are sequential and each write answers its log_index', async () => {
    assert.equal((await post('/v1/records', { values: [1, 0, 0, 0] })).json.id, 0);
    assert.equal((await post('/v1/records', { values: [0, 1, 0, 0] })).json.id, 1);
    const writes: [string, unknown, unknown][] = [
      ['/v1/graph/node', { kind: 5, record_id: 0 }, { node_id: 0, log_index: 3, deduplicated: false }],
      ['/v1/graph/node', { kind: 6, record_id: 1 }, { node_id: 1, log_index: 4, deduplicated: false }],
      ['/v1/graph/node', { kind: 6, record_id: null }, { node_id: 2, log_index: 5, deduplicated: false }],
      ['/v1/graph/node', { kind: 1 }, { node_id: 3, log_index: 6, deduplicated: false }],
      ['/v1/graph/edge', { from: 0, to: 1, kind: 6 }, { edge_id: 0, log_index: 7, deduplicated: false }],
      ['/v1/graph/edge', { from: 0, to: 2, kind: 6 }, { edge_id: 1, log_index: 8, deduplicated: false }],
      ['/v1/graph/edge', { from: 1, to: 3, kind: 4 }, { edge_id: 2, log_index: 9, deduplicated: false }],
      ['/v1/graph/edge', { from: 3, to: 0, kind: 0 }, { edge_id: 3, log_index: 10, deduplicated: false }],
    ];
    for (const [path, body, want] of writes) {
      const r = await post(path, body);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, want, JSON.stringify(body));
    }
  });

  it('when nodes and edges are read, then they are what was written', async () => {
    assert.deepEqual((await get('/v1/graph/node/1')).json, { kind: 6, record_id: 1, namespace_id: 0 });
    assert.deepEqual((await get('/v1/graph/node/3')).json, { kind: 1, record_id: null, namespace_id: 0 });
    assert.deepEqual((await get('/v1/graph/edges/0')).json, { edges: [{ edge_id: 1, to_node: 2, kind: 6 }, { edge_id: 0, to_node: 1, kind: 6 }] });
    assert.deepEqual((await get('/v1/graph/edges/2')).json, { edges: [] });
    for (const path of ['/v1/graph/node/9', '/v1/graph/edges/9']) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.ok(isErrorEnvelope(r.json, 'NOT_FOUND'), path);
    }
  });

  it('when nodes are listed, then pages come in id order with the count of all matches', async () => {
    const all = [node(0, 5, 0), node(1, 6, 1), node(2, 6, null), node(3, 1, null)];
    assert.deepEqual((await get('/v1/graph/nodes')).json, { nodes: all, count: 4 });
    assert.deepEqual((await get('/v1/graph/nodes?limit=2')).json, { nodes: all.slice(0, 2), count: 4 });
    assert.deepEqual((await get('/v1/graph/nodes?offset=2&limit=2')).json, { nodes: all.slice(2), count: 4 });
    assert.deepEqual((await get('/v1/graph/nodes?offset=4')).json, { nodes: [], count: 4 });
    assert.deepEqual((await get('/v1/graph/nodes?kind=6')).json, { nodes: [all[1], all[2]], count: 2 });
    assert.deepEqual((await get('/v1/graph/nodes?kind=6&offset=1')).json, { nodes: [all[2]], count: 2 });
    for (const query of ['limit=0', 'limit=10001', 'offset=-1', 'kind=256', 'kind=x']) {
      const r = await get(`/v1/graph/nodes?${query}`);
      assert.equal(r.status, 400, query);
      assert.match(r.json.error, new RegExp(`^${query.split('=')[0]} must be an integer`), query);
    }
  });

  it('when a subgraph is asked for, then it holds the nodes within depth and every edge among them, in id order', async () => {
    const n = (id: number, kind: number, record: number | null) => ({ id, kind, record });
    const e = (id: number, from: number, to: number, kind: number) => ({ id, from, to, kind });
    assert.deepEqual((await get('/v1/graph/subgraph?root=0&depth=1')).json, { nodes: [n(0, 5, 0), n(1, 6, 1), n(2, 6, null)], edges: [e(0, 0, 1, 6), e(1, 0, 2, 6)] });
    assert.deepEqual((await get('/v1/graph/subgraph?root=0')).json, {
      nodes: [n(0, 5, 0), n(1, 6, 1), n(2, 6, null), n(3, 1, null)],
      edges: [e(0, 0, 1, 6), e(1, 0, 2, 6), e(2, 1, 3, 4), e(3, 3, 0, 0)],
    });
    assert.deepEqual((await get('/v1/graph/subgraph?root=3&depth=0')).json, { nodes: [n(3, 1, null)], edges: [] });
    assert.deepEqual((await get('/v1/graph/subgraph?root=0&depth=2&limit=2')).json, { nodes: [n(0, 5, 0), n(1, 6, 1)], edges: [e(0, 0, 1, 6)] });
    assert.equal((await get('/v1/graph/subgraph?root=9')).status, 404);
    for (const query of ['', 'root=x', 'root=0&depth=33', 'root=0&limit=0']) {
      assert.equal((await get(`/v1/graph/subgraph?${query}`)).status, 400, query);
    }
  });

  it('when the graph is queried, then hits follow direction and kind filters, by depth then id, each node once', async () => {
    const q = async (query: string) => (await get(`/v1/graph/query?${query}`)).json;
    assert.deepEqual(await q('start=0'), { hits: [hit(1, 6, 1, 1), hit(2, 6, null, 1), hit(3, 1, null, 2)], count: 3 });
    assert.deepEqual(await q('start=0&direction=outgoing&edge_kind=6&depth=2'), { hits: [hit(1, 6, 1, 1), hit(2, 6, null, 1)], count: 2 });
    assert.deepEqual(await q('start=0&node_kind=1'), { hits: [hit(3, 1, null, 2)], count: 1 });
    assert.deepEqual(await q('start=0&direction=incoming'), { hits: [hit(3, 1, null, 1), hit(1, 6, 1, 2)], count: 2 });
    assert.deepEqual(await q('start=0&direction=both&depth=1'), { hits: [hit(1, 6, 1, 1), hit(2, 6, null, 1), hit(3, 1, null, 1)], count: 3 });
    assert.deepEqual(await q('start=0&direction=out&depth=1&limit=1'), { hits: [hit(1, 6, 1, 1)], count: 1 });
    assert.deepEqual(await q('start=2'), { hits: [], count: 0 });
    const unknown = await get('/v1/graph/query?start=9');
    assert.equal(unknown.status, 404);
    assert.ok(isErrorEnvelope(unknown.json, 'NOT_FOUND'));
    for (const [query, names] of [
      ['', /"start"/],
      ['start=0&direction=sideways', /direction must be one of outgoing, incoming, both/],
      ['start=0&depth=0', /^depth/],
      ['start=0&limit=10001', /^limit/],
      ['start=0&edge_kind=256', /^edge_kind/],
      ['start=0&node_kind=-1', /^node_kind/],
    ] as const) {
      const r = await get(`/v1/graph/query?${query}`);
      assert.equal(r.status, 400, query);
      assert.match(r.json.error, names, query);
    }
  });

  it('when graph writes are bad, then 4xx names the problem and nothing is written', async () => {
    await refused(() => post('/v1/graph/edge', { from: 0, to: 9, kind: 1 }), 404, 'NOT_FOUND', /9/);
    await refused(() => post('/v1/graph/edge', { from: 0, to: 1, kind: 256 }), 400, 'INVALID_REQUEST', /^kind/);
    await refused(() => post('/v1/graph/node', { kind: 1, record_id: 99 }), 404, 'NOT_FOUND', /99/);
    await refused(() => post('/v1/graph/node', { kind: 'Document' }), 400, 'INVALID_REQUEST', /^kind/);
    await refused(() => post('/v1/graph/node', { kind: 1, collection: 'nope' }), 404, 'COLLECTION_NOT_FOUND', /nope/);
    await refused(() => del('/v1/graph/node/x'), 400, 'INVALID_REQUEST', /node id/);
  });

  it('when a node is created with a request_id twice, then the replay is deduplicated', async () => {
    const body = { kind: 2, request_id: Array(16).fill(7) };
    const first = await post('/v1/graph/node', body);
    assert.deepEqual(first.json, { node_id: 4, log_index: 11, deduplicated: false });
    assert.deepEqual((await post('/v1/graph/node', body)).json, { node_id: 4, log_index: 11, deduplicated: true });
    assert.equal(await height(), 11);
  });

  it('when a node is deleted, then it and its edges are gone, and a keyed replay writes nothing', async () => {
    const r = await del('/v1/graph/node/2', { 'Idempotency-Key': 'delete-node-2' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { success: true, log_index: 12, deduplicated: false });
    assert.deepEqual((await del('/v1/graph/node/2', { 'Idempotency-Key': 'delete-node-2' })).json, { success: true, log_index: 12, deduplicated: true });
    assert.equal((await get('/v1/graph/node/2')).status, 404);
    assert.deepEqual((await get('/v1/graph/edges/0')).json, { edges: [{ edge_id: 0, to_node: 1, kind: 6 }] });
    assert.deepEqual((await get('/v1/graph/nodes?kind=6')).json, { nodes: [node(1, 6, 1)], count: 1 });
    assert.deepEqual((await get('/v1/graph/query?start=0&depth=1')).json, { hits: [hit(1, 6, 1, 1)], count: 1 });
    await refused(() => del('/v1/graph/node/2'), 404, 'NOT_FOUND', /2/);
  });

  it('when another collection has a graph, then its ids start at 0, namespace_id is its id and the graphs stay apart', async () => {
    const c = await post('/v1/namespaces', { name: 'g', dimension: 2 });
    assert.equal(c.status, 200, c.text);
    const gid = c.json.id as number;
    assert.notEqual(gid, 0);
    assert.equal((await post('/v1/records', { values: [1, 1], collection: 'g' })).json.id, 0);
    assert.equal((await post('/v1/graph/node', { kind: 5, record_id: 0, collection: 'g' })).json.node_id, 0);
    assert.equal((await post('/v1/graph/node', { kind: 6, collection: 'g' })).json.node_id, 1);
    assert.equal((await post('/v1/graph/edge', { from: 0, to: 1, kind: 6, collection: 'g' })).json.edge_id, 0);
    assert.deepEqual((await get('/v1/graph/node/0?collection=g')).json, { kind: 5, record_id: 0, namespace_id: gid });
    assert.deepEqual((await get('/v1/graph/nodes?collection=g')).json, {
      nodes: [{ node_id: 0, kind: 5, record_id: 0, namespace_id: gid }, { node_id: 1, kind: 6, record_id: null, namespace_id: gid }],
      count: 2,
    });
    assert.deepEqual((await get('/v1/graph/edges/0?collection=g')).json, { edges: [{ edge_id: 0, to_node: 1, kind: 6 }] });
    assert.deepEqual((await get('/v1/graph/query?start=0&collection=g')).json, { hits: [hit(1, 6, null, 1)], count: 1 });
    // default's node 0 is untouched by g's writes.
    assert.deepEqual((await get('/v1/graph/node/0')).json, { kind: 5, record_id: 0, namespace_id: 0 });
    assert.equal((await get('/v1/graph/node/3?collection=g')).status, 404);
    const unknown = await get('/v1/graph/nodes?collection=nope');
    assert.equal(unknown.status, 404);
    assert.ok(isErrorEnvelope(unknown.json, 'COLLECTION_NOT_FOUND'));
  });
});

describe('graph events on the timelines', () => {
  let s: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-v1-graph-'));
    s = await startServer({ VALORI_DIM: '4', VALORI_EVENT_LOG_PATH: join(dir, 'events.log') });
  });
  after(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("when nodes and edges are written and deleted, then both timelines name them, v0.1.0's with kind names", async () => {
    const post = (path: string, body: unknown) => request(s.base, path, { body });
    assert.equal((await post('/v1/graph/node', { kind: 5 })).status, 200);
    assert.equal((await post('/v1/graph/node', { kind: 6 })).status, 200);
    assert.equal((await post('/v1/graph/node', { kind: 200 })).status, 200);
    assert.equal((await post('/v1/graph/edge', { from: 0, to: 1, kind: 6 })).status, 200);
    assert.equal((await request(s.base, '/v1/graph/node/1', { method: 'DELETE' })).status, 200);
    assert.deepEqual((await request(s.base, '/timeline')).json, [
      'Event ID 0: CreateNode (Node 0, Kind: Document)',
      'Event ID 1: CreateNode (Node 1, Kind: Chunk)',
      'Event ID 2: CreateNode (Node 2, Kind: Kind(200))',
      'Event ID 3: CreateEdge (Edge 0, NodeId(0) -> NodeId(1), Kind: ParentOf)',
      'Event ID 4: DeleteNode (Node 1)',
    ]);
    const ev = (await request(s.base, '/v1/timeline')).json.events;
    assert.deepEqual(
      ev.map((e: Record<string, unknown>) => [e.log_index, e.event_type, e.node_id, e.edge_id]),
      [[1, 'CreateNode', 0, undefined], [2, 'CreateNode', 1, undefined], [3, 'CreateNode', 2, undefined], [4, 'CreateEdge', undefined, 0], [5, 'DeleteNode', 1, undefined]],
    );
  });
});
