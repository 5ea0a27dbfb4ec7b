// One full scenario through the typed client against the real app (auth on, event log on):
// records, batch, search, graph, memory, metadata, proofs, errors with the server's codes, and a
// snapshot download/upload round trip.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodeKind, ValoriClient, ValoriError } from '../src/client';
import { startServer, vector, type TestServer } from './helpers';

const TOKEN = 'scenario-token';
const DIM = 6;

describe('client scenario against the real server', () => {
  let s: TestServer;
  let dir: string;
  let client: ValoriClient;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'valori-client-'));
    s = await startServer({
      VALORI_DIM: String(DIM),
      VALORI_AUTH_TOKEN: TOKEN,
      VALORI_EVENT_LOG_PATH: join(dir, 'events.log'),
      VALORI_SNAPSHOT_PATH: join(dir, 'snapshot.bin'),
    });
    client = new ValoriClient({ baseUrl: s.base, token: TOKEN, retries: 1, backoffMs: 10 });
  });
  after(async () => {
    await s.stop();
    s.kernel.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a client stores, links, searches and proves data, then every answer is consistent', async () => {
    const id = await client.insert(new Float32Array(vector(DIM, 1)), { tag: 7 });
    const ids = await client.insertBatch([vector(DIM, 2), vector(DIM, 3), vector(DIM, 4)]);
    assert.deepEqual(ids, [id + 1, id + 2, id + 3]);

    const hits = await client.search(vector(DIM, 3), 2);
    assert.equal(hits[0].id, ids[1]);
    assert.equal(hits[0].score, 0);
    const tagged = await client.search(vector(DIM, 3), 5, { filterTag: 7 });
    assert.deepEqual(tagged.map((h) => h.id), [id]);

    const a = await client.createNode({ kind: NodeKind.Concept, recordId: id });
    const b = await client.createNode({ kind: NodeKind.Agent });
    const e = await client.createEdge({ from: a, to: b, kind: 4 });
    assert.deepEqual(await client.getEdges(a), [{ edgeId: e, toNode: b, kind: 4 }]);
    assert.deepEqual(await client.getNode(a), { kind: NodeKind.Concept, recordId: id });

    const mem = await client.insertMemory({ vector: vector(DIM, 9), metadata: { source: 'doc-1', page: 3 } });
    assert.equal(mem.memoryId, `rec:${mem.recordId}`);
    const found = await client.searchMemory(vector(DIM, 9), 1);
    assert.deepEqual(found[0].metadata, { source: 'doc-1', page: 3 });
    await client.setMetadata('node:1', { title: 'x' });
    assert.deepEqual(await client.getMetadata('node:1'), { title: 'x' });

    await client.softDelete(ids[0]);
    await client.delete(ids[2]);
    const after = await client.search(vector(DIM, 2), 10);
    assert.ok(!after.some((h) => h.id === ids[0] || h.id === ids[2]));

    const proof = await client.proofState();
    assert.match(proof.finalStateHash, /^[0-9a-f]{64}$/);
    const log = await client.proofEventLog();
    // insert, batch, 2 nodes, edge, upsert, metadata, soft delete, delete: one event each.
    assert.equal(log.committedHeight, 9);
  });

  it('when the client sends bad input, then it throws ValoriError with the server code and status', async () => {
    await assert.rejects(client.insert([1, 2]), (err: unknown) => err instanceof ValoriError && err.code === 'DIMENSION_MISMATCH' && err.status === 400);
    await assert.rejects(client.delete(99_999), (err: unknown) => err instanceof ValoriError && err.code === 'NOT_FOUND' && err.status === 404);
    const anon = new ValoriClient({ baseUrl: s.base, retries: 0 });
    await assert.rejects(anon.search(vector(DIM, 1), 1), (err: unknown) => err instanceof ValoriError && err.code === 'UNAUTHORIZED' && err.status === 401);
  });

  it('when a snapshot is downloaded and uploaded back after more writes, then the proof returns to it', async () => {
    const bytes = (await client.snapshotDownload()) as Uint8Array;
    const want = (await client.proofState()).finalStateHash;
    await client.insert(vector(DIM, 50));
    assert.notEqual((await client.proofState()).finalStateHash, want);
    await client.snapshotUpload(bytes);
    assert.equal((await client.proofState()).finalStateHash, want);
  });

  it('when the client reads records, pages and walks the graph, reads the timeline, then trims the log and builds the index, then every answer matches what was written', async () => {
    const rid = await client.insert(vector(DIM, 60), { tag: 3 });
    const rec = await client.getRecord(rid);
    assert.deepEqual({ ...rec, vector: [] }, { id: rid, vector: [], metadata: null, text: null, tag: 3 });
    // Stored as Q16.16: each component comes back within 2^-16 of what was written.
    vector(DIM, 60).forEach((x, i) => assert.ok(Math.abs(rec.vector[i] - x) <= 2 ** -16, `component ${i}: ${rec.vector[i]} vs ${x}`));

    const doc = await client.createNode({ kind: NodeKind.Document });
    const chunk = await client.createNode({ kind: NodeKind.Chunk, recordId: rid });
    const edge = await client.createEdge({ from: doc, to: chunk, kind: 6 });
    const docs = await client.listNodes({ kind: NodeKind.Document });
    assert.ok(docs.nodes.some((n) => n.nodeId === doc && n.recordId === null));
    assert.equal(docs.count, docs.nodes.length);
    assert.deepEqual((await client.graphQuery(doc, { nodeKind: NodeKind.Chunk })).hits, [{ nodeId: chunk, kind: NodeKind.Chunk, recordId: rid, depth: 1 }]);
    assert.deepEqual(await client.subgraph(doc, { depth: 1 }), {
      nodes: [{ id: doc, kind: NodeKind.Document, record: null }, { id: chunk, kind: NodeKind.Chunk, record: rid }],
      edges: [{ id: edge, from: doc, to: chunk, kind: 6 }],
    });

    const height = (await client.proofEventLog()).committedHeight;
    const page = await client.timeline({ fromIndex: height - 3, limit: 10 });
    assert.deepEqual(page.events.map((e) => e.eventType), ['InsertRecord', 'CreateNode', 'CreateNode', 'CreateEdge']);
    assert.equal(page.events[0].recordId, rid);

    await client.deleteNode(chunk);
    await assert.rejects(client.getNode(chunk), (e: unknown) => e instanceof ValoriError && e.code === 'NOT_FOUND');
    assert.deepEqual((await client.graphQuery(doc)).hits, []);

    const saved = await client.snapshotSave({ requestId: 'scenario-save' });
    const trimmed = await client.trimEventLog();
    assert.equal(trimmed.baseSeq, saved.height);
    assert.equal(trimmed.firstSeq, saved.height + 1);

    const [info] = await client.listCollections();
    const built = await client.buildIndex();
    assert.equal(built.index, info.index);
    assert.equal(built.records, info.recordCount);
  });
});
