// Type-level test of the client's public types: compiled by tsc (client-package.test.ts and
// tsconfig.test.json), never run. Each `@ts-expect-error` line must fail to type-check; if a type
// loosens so that the line compiles, tsc reports the directive as unused and the test fails.
import { ValoriClient, ValoriError, type EdgeId, type NodeId, type RecordId, type SearchHit, type ValoriServerErrorCode } from '../src/client/index.js';

export async function probes(c: ValoriClient): Promise<void> {
  // What is allowed, so the probes below fail for the reason they name and not for a typo.
  const hits: SearchHit[] = await c.search([1, 2, 3, 4], 2, { filterTag: 1 });
  const id: number = await c.insert(new Float32Array(4), { tag: 3 });
  await c.createCollection({ name: 'docs', dimension: 4 });
  void [hits, id];

  // @ts-expect-error baseUrl is required
  new ValoriClient({});
  // @ts-expect-error baseUrl is a string, not a URL object
  new ValoriClient({ baseUrl: new URL('http://127.0.0.1:3000') });
  // @ts-expect-error a vector is numbers, not strings
  await c.insert(['1', '2', '3', '4']);
  // @ts-expect-error k is a number
  await c.search([1, 2, 3, 4], '2');
  // @ts-expect-error k is required
  await c.search([1, 2, 3, 4]);
  // @ts-expect-error a tag is an integer, not a string
  await c.insert([1, 2, 3, 4], { tag: 'red' });
  // @ts-expect-error a collection needs its dimension
  await c.createCollection({ name: 'docs' });
  // @ts-expect-error a collection needs its name
  await c.createCollection({ dimension: 4 });
  // @ts-expect-error the index is one of brute, hnsw, ivf
  await c.createCollection({ name: 'docs', dimension: 4, index: 'flat' });
  // @ts-expect-error a search hit has no payload field
  void hits[0].payload;
  // @ts-expect-error ids are numbers
  const wrong: string = await c.insert([1, 2, 3, 4]);
  void wrong;

  // Ids: each kind has its own type. Plain numbers are accepted anywhere an id is, and an id is a
  // number; what does not compile is one kind of id where another is expected.
  const recordId: RecordId = await c.insert([1, 2, 3, 4]);
  const nodeId: NodeId = await c.createNode({ kind: 1, recordId });
  const edgeId: EdgeId = await c.createEdge({ from: nodeId, to: 7, kind: 0 });
  await c.getNode(3);
  await c.getRecord(hits[0].id);
  const asNumber: number = recordId + nodeId + edgeId;
  void asNumber;
  // @ts-expect-error a record id is not a node id
  await c.getNode(recordId);
  // @ts-expect-error a node id is not a record id
  await c.getRecord(nodeId);
  // @ts-expect-error a search hit's id is a record id, not a node id
  await c.deleteNode(hits[0].id);
  // @ts-expect-error an edge id is not a node id
  await c.createEdge({ from: edgeId, to: nodeId, kind: 0 });
  // @ts-expect-error a node id is not a record id
  await c.createNode({ kind: 1, recordId: nodeId });
  // @ts-expect-error getEdges takes a node id, not an edge id
  await c.getEdges(edgeId);
  // @ts-expect-error an edge's target is a node id, not a record id
  const target: RecordId = (await c.getEdges(nodeId))[0].toNode;
  void target;
  // @ts-expect-error the batch's ids are record ids
  const nodes: NodeId[] = await c.insertBatch([[1, 2, 3, 4]]);
  void nodes;

  // Extra headers: string values only.
  new ValoriClient({ baseUrl: 'http://127.0.0.1:3000', headers: { 'x-tenant': 'blue' } });
  // @ts-expect-error header values are strings
  new ValoriClient({ baseUrl: 'http://127.0.0.1:3000', headers: { 'x-retries': 3 } });

  try {
    await c.health();
  } catch (e) {
    // e.code stays open (string) so a newer server's codes pass through; the server's own
    // codes are a closed union, so a misspelt one does not compile.
    const known: ValoriServerErrorCode = 'DIMENSION_MISMATCH';
    // @ts-expect-error no such server code
    const misspelt: ValoriServerErrorCode = 'DIMENSION_MISMATCHED';
    if (e instanceof ValoriError && (e.code === known || e.code === misspelt)) return;
  }
}
