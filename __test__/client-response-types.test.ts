// Keeps the client's response types from drifting from the server's response schemas
// (src/http/response-schemas.ts, the OpenAPI source). The client cannot import server code, so each
// client type gets a key list here that the compiler holds equal to the type's keys (`satisfies
// Record<keyof T, true>`: a missing or extra key fails `tsc -p tsconfig.test.json`), and this test
// holds the same list equal to the schema's properties in camelCase. A key added on either side
// therefore fails one of the two.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROUTES } from '../src/api/routes';
import type * as C from '../src/client';
import { RESPONSE_SCHEMAS } from '../src/http/response-schemas';

type Keys<T> = Record<keyof T, true>;
type Item<T> = T extends readonly (infer U)[] ? U : never;

/** The property names of a schema, or of a nested array's items along `path`, in camelCase. */
function schemaKeys(name: keyof typeof RESPONSE_SCHEMAS, ...path: string[]): string[] {
  let s = RESPONSE_SCHEMAS[name] as unknown as { properties: Record<string, { items?: unknown }> };
  for (const p of path) s = s.properties[p].items as typeof s;
  return Object.keys(s.properties).map((k) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())).sort();
}

/** [client type's keys, schema, nested path, schema keys the client drops on purpose]. */
const PAIRS: [Record<string, true>, keyof typeof RESPONSE_SCHEMAS, string[], string[]][] = [
  [{ status: true, version: true, dim: true, index: true, persistence: true, records: true, nodes: true, edges: true, eventLogHeight: true, readOnly: true, readOnlyReason: true, quant: true, collections: true, cluster: true } satisfies Keys<C.Health>, 'Health', [], []],
  [{ live: true, slotsUsed: true, capacity: true, fillPct: true } satisfies Keys<C.PoolHealth>, 'Pool', [], []],
  [{ kernelVersion: true, finalStateHash: true, snapshotHash: true, walHash: true, height: true, collection: true } satisfies Keys<C.ProofState>, 'ProofState', [], []],
  [{ kernelVersion: true, eventLogHash: true, finalStateHash: true, snapshotHash: true, snapshotHeight: true, eventCount: true, committedHeight: true, firstSeq: true } satisfies Keys<C.EventLogProof>, 'EventLogProof', [], []],
  [
    { role: true, status: true, committedHeight: true, dim: true, firstSeq: true, eventStreams: true, leaderUrl: true, appliedHeight: true, leaderHeight: true, lag: true, connected: true, lastCheck: true, lastError: true, bootstraps: true, reconnects: true, eventsApplied: true } satisfies Keys<C.ReplicationState>,
    'ReplicationState', [], [],
  ],
  [{ name: true, id: true, created: true, metric: true, deduplicated: true } satisfies Keys<C.CollectionCreated>, 'CollectionCreated', [], []],
  [{ name: true, id: true, dimension: true, metric: true, index: true, quant: true, recordCount: true, maxRecords: true } satisfies Keys<C.CollectionInfo>, 'CollectionList', ['collections'], []],
  [{ id: true, score: true, metadata: true, text: true, vector: true } satisfies Keys<C.SearchHit>, 'SearchResult', ['results'], []],
  [{ kind: true, recordId: true } satisfies Keys<C.GraphNode>, 'GraphNode', [], []],
  [{ edgeId: true, toNode: true, kind: true } satisfies Keys<C.GraphEdge>, 'EdgeList', ['edges'], []],
  [{ memoryId: true, recordId: true, documentNodeId: true, chunkNodeId: true } satisfies Keys<C.UpsertVectorResult>, 'UpsertVectorResult', [], ['deduplicated']],
  [{ memoryId: true, recordId: true, score: true, metadata: true, text: true, vector: true } satisfies Keys<C.MemoryHit>, 'MemorySearchResult', ['results'], []],
  [{ path: true, height: true, bytes: true } satisfies Keys<C.SnapshotSaveResult>, 'SnapshotSaveResult', [], ['success']],
  [{ id: true, vector: true, metadata: true, text: true, tag: true } satisfies Keys<C.RecordView>, 'RecordView', [], []],
  [{ nodes: true, count: true } satisfies Keys<C.NodePage>, 'NodePage', [], []],
  [{ nodeId: true, kind: true, recordId: true, namespaceId: true } satisfies Keys<C.NodeEntry>, 'NodePage', ['nodes'], []],
  [{ hits: true, count: true } satisfies Keys<C.GraphQueryResult>, 'GraphQueryResult', [], []],
  [{ nodeId: true, kind: true, recordId: true, depth: true } satisfies Keys<C.GraphQueryHit>, 'GraphQueryResult', ['hits'], []],
  [{ nodes: true, edges: true } satisfies Keys<C.Subgraph>, 'Subgraph', [], []],
  [{ id: true, kind: true, record: true } satisfies Keys<Item<C.Subgraph['nodes']>>, 'Subgraph', ['nodes'], []],
  [{ id: true, from: true, to: true, kind: true } satisfies Keys<Item<C.Subgraph['edges']>>, 'Subgraph', ['edges'], []],
  [{ events: true, total: true, nextFromIndex: true, fromUnix: true, toUnix: true } satisfies Keys<C.TimelinePage>, 'TimelinePage', [], []],
  [{ logIndex: true, eventType: true, collection: true, recordId: true, nodeId: true, edgeId: true, timestampUnix: true, timestampIso: true } satisfies Keys<C.TimelineEvent>, 'TimelinePage', ['events'], []],
  [{ baseSeq: true, firstSeq: true, committedHeight: true } satisfies Keys<C.EventLogTrimResult>, 'EventLogTrimResult', [], ['success']],
  [{ index: true, quant: true, rebuilt: true, records: true, seconds: true } satisfies Keys<C.IndexBuildResult>, 'IndexBuildResult', [], ['success']],
];

/**
 * Route ids the client calls whose answer it does not hand back as a typed document: text and
 * bytes, `{success}` acknowledgements, and single values it unwraps (an id, the ids, the metadata).
 */
const UNWRAPPED = new Set(['text', 'metrics', 'binary', 'Success', 'V1WriteSuccess', 'CollectionDropped', 'SnapshotRestoreResult', 'InsertRecordResult', 'BatchInsertResult', 'CreateNodeResult', 'CreateEdgeResult', 'MetaGetResult', 'RecordMetadataResult']);

/** Every route the client has a method for (client.ts, reads.ts). */
const CLIENT_ROUTES = [
  'health', 'metrics', 'version', 'proofState', 'proofEventLog', 'replicationState', 'createCollection', 'listCollections', 'dropCollection',
  'insertRecord', 'batchInsert', 'search', 'deleteRecord', 'softDeleteRecord', 'createNode', 'getNode', 'createEdge', 'listEdges',
  'upsertMemory', 'searchMemory', 'setMetadata', 'getMetadata', 'saveSnapshot', 'downloadSnapshot', 'uploadSnapshot', 'restoreSnapshot',
  'v1GetRecord', 'v1SetRecordMetadata', 'v1ListNodes', 'v1GraphQuery', 'v1Subgraph', 'v1DeleteNode', 'v1Timeline', 'trimEventLog', 'buildIndex',
];

describe('client response types against the response schemas', () => {
  for (const [clientKeys, schema, path, dropped] of PAIRS) {
    it(`when ${schema}${path.map((p) => `.${p}[]`).join('')} is compared, then its properties are the client type's keys`, () => {
      const want = schemaKeys(schema, ...path).filter((k) => !dropped.includes(k));
      assert.deepEqual(Object.keys(clientKeys).sort(), want);
    });
  }

  it('when a route the client calls answers a JSON document, then that document is one of the compared schemas', () => {
    const compared = new Set(PAIRS.map(([, schema]) => schema as string));
    for (const id of CLIENT_ROUTES) {
      const route = ROUTES.find((r) => r.id === id);
      assert.ok(route, `no route ${id}`);
      assert.ok(compared.has(route.ok) || UNWRAPPED.has(route.ok), `${id} answers ${route.ok}, which no client type is compared with`);
    }
  });
});
