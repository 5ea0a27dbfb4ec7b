// Per-call options of the TypeScript client (signal, timeoutMs, requestId), its User-Agent and extra
// headers, local refusal of non-finite vectors, and the request shapes of the /v1 reads, the graph
// delete, trim and index build, against the fake server (client-fake-server.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIENT_VERSION, ValoriClient, ValoriError, ValoriTimeoutError } from '../src/client';
import { FAST, type Fake, fakeServer, routes, send } from './client-fake-server';

describe('client per-call options', () => {
  let fake: Fake;
  before(async () => {
    fake = await fakeServer();
  });
  after(() => fake.close());

  /** A handler that never answers and resolves `arrived` once a request is in. */
  const hold = () => {
    let arrived!: () => void;
    const p = new Promise<void>((resolve) => (arrived = resolve));
    fake.handle(() => arrived());
    return p;
  };

  it('when the signal is already aborted, then the call rejects with its reason and sends nothing', async () => {
    fake.handle(routes({ 'GET /version': [200, '0.1.0'] }));
    const client = new ValoriClient({ baseUrl: fake.url, ...FAST });
    const reason = new Error('caller gave up');
    await assert.rejects(client.version({ signal: AbortSignal.abort(reason) }), (e: unknown) => e === reason);
    assert.equal(fake.seen.length, 0);
  });

  it('when the signal aborts while a write is in flight, then it rejects with the reason and is not retried', async () => {
    const arrived = hold();
    const client = new ValoriClient({ baseUrl: fake.url, retries: 3, ...FAST });
    const controller = new AbortController();
    const call = client.insert([1, 2], { signal: controller.signal });
    await arrived;
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(call, (e: unknown) => e === reason);
    assert.equal(fake.seen.length, 1);
  });

  it('when the signal aborts during the backoff after a 503, then the call stops without another attempt', async () => {
    let aborter!: () => void;
    const controller = new AbortController();
    fake.handle((_q, res) => {
      send(res, 503, { error: 'busy', code: 'SERVER_BUSY' });
      aborter();
    });
    aborter = () => controller.abort(new Error('enough'));
    // A long backoff: only the abort can end the wait.
    const client = new ValoriClient({ baseUrl: fake.url, retries: 3, backoffMs: 600_000, maxBackoffMs: 600_000 });
    await assert.rejects(client.version({ signal: controller.signal }), (e: unknown) => e instanceof Error && e.message === 'enough');
    assert.equal(fake.seen.length, 1);
  });

  it('when timeoutMs is given for one call, then that call times out with that limit while the client default is long', async () => {
    const arrived = hold();
    const client = new ValoriClient({ baseUrl: fake.url, ...FAST, timeoutMs: 600_000 });
    const call = client.getNode(1, { timeoutMs: 50 });
    await arrived;
    await assert.rejects(call, (e: unknown) => e instanceof ValoriTimeoutError && e.timeoutMs === 50);
  });

  it('when requestId is given, then it is sent as X-Request-Id; a malformed one is refused before sending', async () => {
    fake.handle(routes({ 'POST /search': [200, { results: [] }] }));
    const client = new ValoriClient({ baseUrl: fake.url, ...FAST });
    await client.search([1, 2], 1, { requestId: 'job-42.step:3' });
    assert.equal(fake.seen[0].headers['x-request-id'], 'job-42.step:3');
    await client.search([1, 2], 1);
    assert.equal(fake.seen[1].headers['x-request-id'], undefined);
    await assert.rejects(client.search([1, 2], 1, { requestId: 'has space' }), TypeError);
    assert.equal(fake.seen.length, 2);
  });

  it('when no userAgent is set, then User-Agent is valori-node-client/<package version>; an explicit one replaces it', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    assert.equal(CLIENT_VERSION, pkg.version);
    fake.handle(routes({ 'GET /version': [200, '0.1.0'] }));
    await new ValoriClient({ baseUrl: fake.url, ...FAST }).version();
    assert.equal(fake.seen[0].headers['user-agent'], `valori-node-client/${pkg.version}`);
    await new ValoriClient({ baseUrl: fake.url, userAgent: 'my-app/2', ...FAST }).version();
    assert.equal(fake.seen[1].headers['user-agent'], 'my-app/2');
  });
});

describe('client headers option', () => {
  let fake: Fake;
  let other: Fake;
  before(async () => {
    fake = await fakeServer();
    other = await fakeServer();
  });
  after(async () => {
    await fake.close();
    await other.close();
  });

  it('when headers are given, then every request carries them, on every retry', async () => {
    let calls = 0;
    fake.handle((_q, res) => (++calls === 1 ? send(res, 503, { error: 'busy', code: 'SERVER_BUSY' }) : send(res, 200, { results: [] })));
    const client = new ValoriClient({ baseUrl: fake.url, headers: { 'X-Tenant': 'blue', 'x-api-gateway-key': 'g1' }, ...FAST });
    await client.search([1, 2], 1);
    assert.equal(fake.seen.length, 2);
    for (const seen of fake.seen) {
      assert.equal(seen.headers['x-tenant'], 'blue');
      assert.equal(seen.headers['x-api-gateway-key'], 'g1');
    }
  });

  it("when headers name the client's own headers, then the client's values win (the token's Authorization included)", async () => {
    fake.handle(routes({ 'POST /records': [200, { id: 3 }] }));
    const client = new ValoriClient({
      baseUrl: fake.url,
      token: 't0k',
      userAgent: 'my-app/2',
      headers: { Authorization: 'Basic xyz', 'Content-Type': 'text/plain', Accept: 'text/html', 'User-Agent': 'spoof', 'Idempotency-Key': 'fixed', 'X-Extra': '1' },
      ...FAST,
    });
    await client.insert([1, 2], { idempotencyKey: 'mine-1', requestId: 'req-1' });
    const h = fake.seen[0].headers;
    assert.equal(h.authorization, 'Bearer t0k');
    assert.equal(h['content-type'], 'application/json');
    assert.equal(h.accept, 'application/json');
    assert.equal(h['user-agent'], 'my-app/2');
    assert.equal(h['idempotency-key'], 'mine-1');
    assert.equal(h['x-request-id'], 'req-1');
    assert.equal(h['x-extra'], '1');
    assert.deepEqual(fake.seen[0].json, { values: [1, 2] });
  });

  it('when there is no token, then an Authorization header is sent, and like the token it does not follow a redirect to another origin', async () => {
    fake.handle((req, res) => {
      res.writeHead(307, { location: other.url + req.url });
      res.end();
    });
    other.handle(routes({ 'POST /graph/node': [200, { node_id: 5 }] }));
    const client = new ValoriClient({ baseUrl: fake.url, headers: { authorization: 'Basic abc', 'x-tenant': 'blue' }, ...FAST });
    assert.equal(await client.createNode({ kind: 1 }), 5);
    assert.equal(fake.seen[0].headers.authorization, 'Basic abc');
    assert.equal(other.seen[0].headers.authorization, undefined);
    assert.equal(other.seen[0].headers['x-tenant'], 'blue');
  });

  it('when a header name or value is malformed or a name is repeated in another case, then the constructor throws', () => {
    assert.throws(() => new ValoriClient({ baseUrl: fake.url, headers: { 'bad name': 'x' } }), /not a valid header name/);
    assert.throws(() => new ValoriClient({ baseUrl: fake.url, headers: { 'x-a': 'line\r\nbreak' } }), /without control characters/);
    assert.throws(() => new ValoriClient({ baseUrl: fake.url, headers: { 'X-A': '1', 'x-a': '2' } }), /given twice/);
  });
});

describe('client refuses non-finite vectors locally', () => {
  let fake: Fake;
  let client: ValoriClient;
  before(async () => {
    fake = await fakeServer();
    fake.handle((_q, res) => send(res, 200, { id: 0, ids: [0], results: [] }));
    client = new ValoriClient({ baseUrl: fake.url, ...FAST });
  });
  after(() => fake.close());

  const refused = (component: string, what: string) => (e: unknown) =>
    e instanceof ValoriError && e.code === 'INVALID_VECTOR' && e.status === 0 && e.message.includes(`${component} must be a finite number, got ${what}`);

  it('when a vector holds NaN or ±Infinity, then every vector method throws INVALID_VECTOR naming the index and sends nothing', async () => {
    await assert.rejects(client.insert([1, Number.NaN, 3]), refused('values[1]', 'NaN'));
    await assert.rejects(client.insert(new Float32Array([Infinity])), refused('values[0]', 'Infinity'));
    await assert.rejects(client.insertBatch([[1, 2], [3, -Infinity]]), refused('vectors[1][1]', '-Infinity'));
    await assert.rejects(client.search([Number.NaN, 0], 1), refused('query[0]', 'NaN'));
    await assert.rejects(client.insertMemory({ vector: [0, 0, Number.NaN] }), refused('vector[2]', 'NaN'));
    await assert.rejects(client.searchMemory([0, Infinity], 1), refused('query[1]', 'Infinity'));
    assert.equal(fake.seen.length, 0);
  });

  it('when every component is finite, then the vector is sent as given', async () => {
    await client.insert([-0.5, 1e30]);
    assert.deepEqual(fake.seen[0].json, { values: [-0.5, 1e30] });
  });
});

describe('client /v1 reads, graph delete and maintenance calls', () => {
  let fake: Fake;
  let client: ValoriClient;
  before(async () => {
    fake = await fakeServer();
    client = new ValoriClient({ baseUrl: fake.url, token: 't', ...FAST });
  });
  after(() => fake.close());

  it('when getRecord and listNodes are called, then they GET their paths with the query and map to camelCase', async () => {
    fake.handle(
      routes({
        'GET /v1/records/3?collection=docs': [200, { id: 3, vector: [0.5, 1], metadata: null, tag: 7 }],
        'GET /v1/graph/nodes?collection=docs&kind=5&offset=10&limit=2': [200, { nodes: [{ node_id: 11, kind: 5, record_id: null, namespace_id: 1 }], count: 12 }],
        'GET /v1/graph/nodes': [200, { nodes: [], count: 0 }],
      }),
    );
    assert.deepEqual(await client.getRecord(3, { collection: 'docs' }), { id: 3, vector: [0.5, 1], metadata: null, text: null, tag: 7 });
    assert.deepEqual(await client.listNodes({ collection: 'docs', kind: 5, offset: 10, limit: 2 }), { nodes: [{ nodeId: 11, kind: 5, recordId: null, namespaceId: 1 }], count: 12 });
    assert.deepEqual(await client.listNodes(), { nodes: [], count: 0 });
  });

  it('when graphQuery and subgraph are called, then options become snake_case query parameters and answers map to camelCase', async () => {
    fake.handle(
      routes({
        'GET /v1/graph/query?start=4&direction=both&edge_kind=6&node_kind=5&depth=3&limit=9': [200, { hits: [{ node_id: 8, kind: 5, record_id: 2, depth: 1 }], count: 1 }],
        'GET /v1/graph/subgraph?root=4&collection=c1&depth=1': [200, { nodes: [{ id: 4, kind: 5, record: null }], edges: [{ id: 0, from: 4, to: 8, kind: 6 }] }],
      }),
    );
    const q = await client.graphQuery(4, { direction: 'both', edgeKind: 6, nodeKind: 5, depth: 3, limit: 9 });
    assert.deepEqual(q, { hits: [{ nodeId: 8, kind: 5, recordId: 2, depth: 1 }], count: 1 });
    const g = await client.subgraph(4, { collection: 'c1', depth: 1 });
    assert.deepEqual(g, { nodes: [{ id: 4, kind: 5, record: null }], edges: [{ id: 0, from: 4, to: 8, kind: 6 }] });
  });

  it('when timeline is called with a Date, then from is sent as ISO-8601 and the page maps to camelCase', async () => {
    const page = { events: [{ log_index: 5, event_type: 'InsertRecord', collection: 'default', record_id: 0, timestamp_unix: 1_700_000_000 }], total: 9, next_from_index: 6 };
    fake.handle(routes({ 'GET /v1/timeline?from_index=5&limit=1&from=2026-01-02T03%3A04%3A05.000Z': [200, page] }));
    const got = await client.timeline({ fromIndex: 5, limit: 1, from: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) });
    assert.deepEqual(got, { events: [{ logIndex: 5, eventType: 'InsertRecord', collection: 'default', recordId: 0, timestampUnix: 1_700_000_000 }], total: 9, nextFromIndex: 6 });
  });

  it('when deleteNode is called, then it sends DELETE with an Idempotency-Key and the collection in the query', async () => {
    fake.handle(routes({ 'DELETE /v1/graph/node/7?collection=c1': [200, { success: true, log_index: 3, deduplicated: false }] }));
    await client.deleteNode(7, { collection: 'c1', idempotencyKey: 'del-7' });
    assert.equal(fake.seen[0].headers['idempotency-key'], 'del-7');
  });

  it('when trimEventLog and buildIndex are called, then they POST their routes (build with the collection) and map the answers', async () => {
    fake.handle(
      routes({
        'POST /v1/event-log/trim': [200, { success: true, base_seq: 40, first_seq: 41, committed_height: 45 }],
        'POST /v1/index/build': [200, { success: true, index: 'hnsw', quant: 'none', rebuilt: true, records: 12, seconds: 0.5 }],
      }),
    );
    assert.deepEqual(await client.trimEventLog(), { baseSeq: 40, firstSeq: 41, committedHeight: 45 });
    assert.deepEqual(await client.buildIndex({ collection: 'docs' }), { index: 'hnsw', quant: 'none', rebuilt: true, records: 12, seconds: 0.5 });
    assert.deepEqual(fake.seen[1].json, { collection: 'docs' });
    assert.equal(fake.seen[1].headers['idempotency-key'], undefined, 'an index build is not a keyed data write');
  });

  it('when a maintenance call loses its answer, then it is not re-sent', async () => {
    const once = new ValoriClient({ baseUrl: fake.url, retries: 3, ...FAST });
    fake.handle((_q, res) => res.destroy());
    await assert.rejects(once.trimEventLog());
    assert.equal(fake.seen.length, 1);
  });

  it('when the deprecated upsertVector and searchVector are called, then they hit the same routes as insertMemory and searchMemory', async () => {
    fake.handle(
      routes({
        'POST /v1/memory/upsert_vector': [200, { memory_id: 'rec:1', record_id: 1, document_node_id: 0, chunk_node_id: 1 }],
        'POST /v1/memory/search_vector': [200, { results: [] }],
      }),
    );
    const input = { vector: [1, 2], metadata: { a: 1 } };
    assert.deepEqual(await client.upsertVector(input), await client.insertMemory(input));
    assert.deepEqual(await client.searchVector([1, 2], 1), await client.searchMemory([1, 2], 1));
    assert.deepEqual(fake.seen.map((s) => s.url), ['/v1/memory/upsert_vector', '/v1/memory/upsert_vector', '/v1/memory/search_vector', '/v1/memory/search_vector']);
    assert.deepEqual(fake.seen[0].json, fake.seen[1].json);
  });
});
