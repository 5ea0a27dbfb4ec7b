// The one route table: every HTTP route of the node, declared once with the facts the rest of the
// code derives from it.
// - src/http/routes/context.ts mounts a handler for each entry (and refuses a handler without an
//   entry or an entry without a handler), behind the scope check of `access`;
// - src/openapi.ts builds the OpenAPI document from it;
// - src/replication/read-only.ts redirects a follower's `write` routes to the leader;
// - the published client (src/client) reads `idempotent` for its retry policy.
// It imports nothing at run time, so the client can ship it without any server code.
import type { Access } from '../auth/scopes.js';
import { COLLECTION_NAME_PATTERN } from './collection-name.js';

export type Method = 'get' | 'post' | 'patch' | 'delete';
export type Tag = 'System' | 'Collections' | 'Records' | 'Graph' | 'Memory' | 'Durability' | 'Replication' | 'Cluster' | 'Indexes' | 'Keys';

/** What a 200 carries: a response schema name (http/response-schemas.ts, auth/key-schemas.ts) or a raw kind. */
export type Reply = string;

export interface RouteSpec {
  method: Method;
  /** Express pattern, as registered (e.g. /graph/node/:id). */
  path: string;
  /** OpenAPI operationId; route files attach their handler under this name. */
  id: string;
  /** The least scope that may call it (src/auth/scopes.ts); HEAD follows GET. */
  access: Access;
  /**
   * Changes the replicated state: a follower answers 307 to the leader, a read-only node 503.
   * POSTs without it (searches, node-local disk and index maintenance, this node's own API keys)
   * are served by a follower itself.
   */
  write?: true;
  /** A POST that only reads, so a client may re-send it when a reply was lost (GETs always may). */
  idempotent?: true;
  /**
   * What an API key restricted to one collection may do here: `collection`: use the route for its
   * own collection (the handler reads the collection through src/http/scope.ts, which refuses any
   * other with 403); `any`: call it (it shows nothing of other collections). Absent: the route
   * spans the node (snapshots, log, keys, replication), and such a key gets 403.
   */
  restricted?: 'collection' | 'any';
  tag: Tag;
  summary: string;
  /** JSON request body (a request schema key in http/schemas.ts or auth/key-schemas.ts), or raw bytes. */
  body?: string;
  /** Query parameters, one per property of this request schema. */
  query?: string;
  /** Parameters the route parses itself (not through a request schema), as OpenAPI parameter objects. */
  params?: readonly Record<string, unknown>[];
  ok: Reply;
  /** Statuses besides those every operation gets (401 when protected, 500), JSON bodies get (400, 413, 415) and writes get. */
  errors?: readonly number[];
  /** Answers with the same body as 200 under this status (GET /health: 503 when a pool is full). */
  alsoOk?: number;
}

const HEIGHT = { type: 'integer', minimum: 0, maximum: 999_999_999_999_999 } as const;
const COLLECTION = { type: 'string', pattern: COLLECTION_NAME_PATTERN } as const;
/** `?collection=` of a GET that parses its own query (absent: default). */
const COLLECTION_QUERY = { name: 'collection', in: 'query', required: false, schema: COLLECTION, description: 'The collection; default: default.' } as const;

export const ROUTES = [
  { method: 'get', path: '/health', id: 'health', access: 'public', tag: 'System', summary: 'Liveness and pool capacity', ok: 'Health', alsoOk: 503 },
  { method: 'get', path: '/livez', id: 'livez', access: 'public', tag: 'System', summary: 'Liveness probe: 200 while the process serves (even when a pool is full)', ok: 'Probe' },
  { method: 'get', path: '/readyz', id: 'readyz', access: 'public', tag: 'System', summary: 'Readiness probe: 200 when writable and (on a follower) streaming within VALORI_READY_MAX_LAG, else 503', ok: 'Probe', alsoOk: 503 },
  { method: 'get', path: '/metrics', id: 'metrics', access: 'public', tag: 'System', summary: 'Prometheus metrics', ok: 'metrics' },
  { method: 'get', path: '/version', id: 'version', access: 'read', restricted: 'any', tag: 'System', summary: 'Server version (plain text)', ok: 'text' },
  { method: 'get', path: '/openapi.json', id: 'openapi', access: 'read', restricted: 'any', tag: 'System', summary: 'This OpenAPI document', ok: 'openapi' },
  {
    method: 'get', path: '/v1/proof/state', id: 'proofState', access: 'read', restricted: 'collection', tag: 'System', summary: 'BLAKE3 hash of the whole state', ok: 'ProofState', errors: [400, 404],
    params: [
      { name: 'height', in: 'query', required: false, schema: HEIGHT, description: 'A past height this node remembers a proof for; default: now.' },
      { name: 'collection', in: 'query', required: false, schema: COLLECTION, description: "That collection's own hash (its config and data only) at the current height; not with height. Default: the whole state." },
    ],
  },
  { method: 'post', path: '/v1/namespaces', id: 'createCollection', access: 'admin', write: true, restricted: 'collection', tag: 'Collections', summary: 'Create a collection', body: 'createCollection', ok: 'CollectionCreated', errors: [409, 507] },
  { method: 'get', path: '/v1/namespaces', id: 'listCollections', access: 'read', restricted: 'any', tag: 'Collections', summary: 'Collections in id order (a restricted key sees its own only)', ok: 'CollectionList' },
  {
    method: 'delete', path: '/v1/namespaces/:name', id: 'dropCollection', access: 'admin', write: true, restricted: 'collection', tag: 'Collections', summary: 'Drop a collection with all its records, graph and metadata', ok: 'CollectionDropped', errors: [400, 404, 409],
    params: [{ name: 'name', in: 'path', required: true, schema: COLLECTION, description: 'The collection to drop (never default).' }],
  },
  { method: 'post', path: '/records', id: 'insertRecord', access: 'write', restricted: 'collection', write: true, tag: 'Records', summary: 'Insert one vector', body: 'insertRecord', ok: 'InsertRecordResult', errors: [507] },
  { method: 'post', path: '/v1/vectors/batch_insert', id: 'batchInsert', access: 'write', restricted: 'collection', write: true, tag: 'Records', summary: 'Insert many vectors atomically', body: 'batchInsert', ok: 'BatchInsertResult', errors: [507] },
  { method: 'post', path: '/v1/memory/insert_batch', id: 'memoryInsertBatch', access: 'write', restricted: 'collection', write: true, tag: 'Records', summary: 'Alias of /v1/vectors/batch_insert', body: 'batchInsert', ok: 'BatchInsertResult', errors: [507] },
  { method: 'post', path: '/search', id: 'search', access: 'read', restricted: 'collection', idempotent: true, tag: 'Records', summary: "k nearest live records by the collection's metric, optionally filtered on metadata and with payloads", body: 'search', ok: 'SearchResult' },
  { method: 'post', path: '/v1/delete', id: 'deleteRecord', access: 'write', restricted: 'collection', write: true, tag: 'Records', summary: 'Hard-delete a record (frees its slot)', body: 'id', ok: 'Success', errors: [404] },
  { method: 'post', path: '/v1/soft-delete', id: 'softDeleteRecord', access: 'write', restricted: 'collection', write: true, tag: 'Records', summary: 'Soft-delete (tombstone) a record', body: 'id', ok: 'Success', errors: [404] },
  { method: 'post', path: '/graph/node', id: 'createNode', access: 'write', restricted: 'collection', write: true, tag: 'Graph', summary: 'Create a node', body: 'createNode', ok: 'CreateNodeResult', errors: [404, 507] },
  { method: 'get', path: '/graph/node/:id', id: 'getNode', access: 'read', restricted: 'collection', tag: 'Graph', summary: 'Read a node', ok: 'GraphNode', errors: [400, 404], params: [COLLECTION_QUERY] },
  { method: 'post', path: '/graph/edge', id: 'createEdge', access: 'write', restricted: 'collection', write: true, tag: 'Graph', summary: 'Create a directed edge', body: 'createEdge', ok: 'CreateEdgeResult', errors: [404, 507] },
  { method: 'get', path: '/graph/edges/:id', id: 'listEdges', access: 'read', restricted: 'collection', tag: 'Graph', summary: "A node's outgoing edges, newest first", ok: 'EdgeList', errors: [400, 404], params: [COLLECTION_QUERY] },
  { method: 'post', path: '/v1/memory/upsert_vector', id: 'upsertMemory', access: 'write', restricted: 'collection', write: true, tag: 'Memory', summary: 'Store a memory: record, document and chunk nodes, edge, metadata (atomic)', body: 'upsertVector', ok: 'UpsertVectorResult', errors: [404, 507] },
  { method: 'post', path: '/v1/memory/search_vector', id: 'searchMemory', access: 'read', restricted: 'collection', idempotent: true, tag: 'Memory', summary: 'Search, with memory ids and metadata', body: 'memorySearch', ok: 'MemorySearchResult' },
  { method: 'post', path: '/v1/memory/search', id: 'searchMemoryAlias', access: 'read', restricted: 'collection', idempotent: true, tag: 'Memory', summary: 'Alias of /v1/memory/search_vector (valori-node 0.3.1 path)', body: 'memorySearch', ok: 'MemorySearchResult' },
  { method: 'post', path: '/v1/memory/meta/set', id: 'setMetadata', access: 'write', restricted: 'collection', write: true, tag: 'Memory', summary: 'Store JSON metadata under a key', body: 'metaSet', ok: 'Success' },
  { method: 'get', path: '/v1/memory/meta/get', id: 'getMetadata', access: 'read', restricted: 'collection', tag: 'Memory', summary: 'Read the metadata under a key (null when unset)', query: 'metaGet', ok: 'MetaGetResult', errors: [400] },
  // Save, trim and index build change no state (hash or height): a follower runs them on its own
  // disk and index. Upload and restore replace the state: they go to the leader.
  { method: 'post', path: '/v1/snapshot/save', id: 'saveSnapshot', access: 'admin', tag: 'Durability', summary: 'Write the main snapshot, or a named one', body: 'snapshotSave', ok: 'SnapshotSaveResult', errors: [507] },
  { method: 'get', path: '/v1/snapshot/download', id: 'downloadSnapshot', access: 'read', tag: 'Durability', summary: 'The current state as snapshot bytes', ok: 'binary', errors: [429] },
  { method: 'post', path: '/v1/snapshot/upload', id: 'uploadSnapshot', access: 'admin', write: true, tag: 'Durability', summary: 'Replace the state with uploaded snapshot bytes', body: 'binary', ok: 'SnapshotRestoreResult', errors: [400, 413, 415, 429] },
  { method: 'post', path: '/v1/snapshot/restore', id: 'restoreSnapshot', access: 'admin', write: true, tag: 'Durability', summary: 'Replace the state with a named snapshot', body: 'snapshotRestore', ok: 'SnapshotRestoreResult', errors: [404, 429] },
  { method: 'get', path: '/v1/proof/event-log', id: 'proofEventLog', access: 'read', tag: 'Durability', summary: 'Hash chain over the event log', ok: 'EventLogProof', errors: [400] },
  { method: 'post', path: '/v1/index/build', id: 'buildIndex', access: 'admin', restricted: 'collection', tag: 'Indexes', summary: "Rebuild or retrain a collection's search index from its current records", body: 'indexBuild', ok: 'IndexBuildResult', errors: [404, 429] },
  { method: 'post', path: '/v1/event-log/trim', id: 'trimEventLog', access: 'admin', tag: 'Durability', summary: 'Drop the log prefix the newest snapshot covers', ok: 'EventLogTrimResult', errors: [400] },
  {
    method: 'get', path: '/v1/replication/events', id: 'replicationEvents', access: 'read', tag: 'Replication', summary: 'Committed events as a server-sent event stream (leader)', ok: 'events', errors: [400, 410, 429],
    params: [
      { name: 'from', in: 'query', required: false, schema: { ...HEIGHT, minimum: 1 }, description: 'First sequence number wanted; default 1.' },
      { name: 'Last-Event-ID', in: 'header', required: false, schema: HEIGHT, description: 'Resume after this sequence number (wins over from).' },
    ],
  },
  // API keys are this node's own credentials, never replicated: a follower manages its own.
  { method: 'post', path: '/v1/keys', id: 'createKey', access: 'admin', tag: 'Keys', summary: 'Create an API key; the answer holds its token, shown once', body: 'createKey', ok: 'ApiKeyCreated', errors: [507] },
  { method: 'get', path: '/v1/keys', id: 'listKeys', access: 'admin', tag: 'Keys', summary: 'API keys, masked (never a token or hash)', ok: 'ApiKeyList' },
  {
    method: 'delete', path: '/v1/keys/:id', id: 'revokeKey', access: 'admin', tag: 'Keys', summary: 'Revoke an API key created through the API', ok: 'ApiKeyRevoked', errors: [400, 404],
    params: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 64 }, description: 'The key id from GET /v1/keys.' }],
  },
  { method: 'get', path: '/v1/replication/state', id: 'replicationState', access: 'read', tag: 'Replication', summary: "This node's role, height and, on a follower, its sync status", ok: 'ReplicationState' },
  // ---- Raft cluster (src/http/routes/cluster.ts, docs/CLUSTER.md); 400 NOT_ENABLED on a standalone node ----
  { method: 'get', path: '/v1/cluster/status', id: 'clusterStatus', access: 'read', tag: 'Cluster', summary: "This member's view of the cluster: leader, term, log and apply indexes, members", ok: 'ClusterStatus', errors: [400] },
  { method: 'get', path: '/v1/cluster/health', id: 'clusterHealth', access: 'read', tag: 'Cluster', summary: '200 while a leader is known, 503 without one', ok: 'ClusterHealth', alsoOk: 503, errors: [400] },
  { method: 'get', path: '/v1/cluster/role', id: 'clusterRole', access: 'read', tag: 'Cluster', summary: "This member's role (leader, follower, candidate, learner)", ok: 'ClusterRole', errors: [400] },
  { method: 'post', path: '/v1/cluster/add-node', id: 'clusterAddNode', access: 'admin', write: true, tag: 'Cluster', summary: 'Add a node: a learner now (202), a voter once it has caught up', body: 'clusterAddNode', ok: 'ClusterChange', errors: [400] },
  { method: 'post', path: '/v1/cluster/remove-node', id: 'clusterRemoveNode', access: 'admin', write: true, tag: 'Cluster', summary: 'Remove a voter or learner (not the last voter)', body: 'clusterRemoveNode', ok: 'ClusterChange', errors: [400, 404] },
  // ---- valori-node 0.3.1's /v1 surface (src/http/routes/v1-records.ts, v1-graph.ts, timeline.ts) ----
  { method: 'get', path: '/v1/version', id: 'v1Version', access: 'read', restricted: 'any', tag: 'System', summary: 'Server version (plain text), as /version', ok: 'text' },
  { method: 'post', path: '/v1/records', id: 'v1InsertRecord', access: 'write', restricted: 'collection', write: true, tag: 'Records', summary: 'Insert one vector (request_id makes a retry safe)', body: 'v1InsertRecord', ok: 'V1InsertRecordResult', errors: [404, 409, 507] },
  { method: 'get', path: '/v1/records/:id', id: 'v1GetRecord', access: 'read', restricted: 'collection', tag: 'Records', summary: 'Read a record: its vector, metadata, text and tag', ok: 'RecordView', errors: [400, 404], params: [COLLECTION_QUERY] },
  {
    method: 'patch', path: '/v1/records/:id/metadata', id: 'v1SetRecordMetadata', access: 'write', restricted: 'collection', write: true, tag: 'Records', summary: "Replace a record's metadata (the body is the new metadata object)", body: 'recordMetadata', ok: 'RecordMetadataResult', errors: [400, 404, 413],
    params: [COLLECTION_QUERY],
  },
  { method: 'post', path: '/v1/vectors/batch-insert', id: 'v1BatchInsert', access: 'write', restricted: 'collection', write: true, tag: 'Records', summary: 'Insert many vectors atomically (as /v1/vectors/batch_insert)', body: 'batchInsert', ok: 'BatchInsertResult', errors: [404, 409, 507] },
  { method: 'post', path: '/v1/search', id: 'v1Search', access: 'read', restricted: 'collection', idempotent: true, tag: 'Records', summary: "k nearest live records of a collection by its metric, optionally filtered on metadata and with payloads", body: 'v1Search', ok: 'SearchResult', errors: [404] },
  { method: 'post', path: '/v1/graph/node', id: 'v1CreateNode', access: 'write', restricted: 'collection', write: true, tag: 'Graph', summary: 'Create a node', body: 'v1CreateNode', ok: 'V1CreateNodeResult', errors: [404, 409, 507] },
  { method: 'get', path: '/v1/graph/node/:id', id: 'v1GetNode', access: 'read', restricted: 'collection', tag: 'Graph', summary: 'Read a node', ok: 'V1GraphNode', errors: [400, 404], params: [COLLECTION_QUERY] },
  { method: 'delete', path: '/v1/graph/node/:id', id: 'v1DeleteNode', access: 'write', restricted: 'collection', write: true, tag: 'Graph', summary: 'Delete a node and its edges', ok: 'V1WriteSuccess', errors: [400, 404, 409], params: [COLLECTION_QUERY] },
  {
    method: 'get', path: '/v1/graph/nodes', id: 'v1ListNodes', access: 'read', restricted: 'collection', tag: 'Graph', summary: 'Live nodes in id order, a page at a time', ok: 'NodePage', errors: [400, 404],
    params: [
      COLLECTION_QUERY,
      { name: 'kind', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 255 }, description: 'Only nodes of this kind.' },
      { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 4_294_967_295 }, description: 'Matching nodes to skip; default 0.' },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 10_000 }, description: 'Nodes per page; default 1,000.' },
    ],
  },
  { method: 'post', path: '/v1/graph/edge', id: 'v1CreateEdge', access: 'write', restricted: 'collection', write: true, tag: 'Graph', summary: 'Create a directed edge', body: 'v1CreateEdge', ok: 'V1CreateEdgeResult', errors: [404, 409, 507] },
  { method: 'get', path: '/v1/graph/edges/:id', id: 'v1ListEdges', access: 'read', restricted: 'collection', tag: 'Graph', summary: "A node's outgoing edges, newest first (as /graph/edges/:id)", ok: 'EdgeList', errors: [400, 404], params: [COLLECTION_QUERY] },
  {
    method: 'get', path: '/v1/graph/subgraph', id: 'v1Subgraph', access: 'read', restricted: 'collection', tag: 'Graph', summary: 'Nodes and edges reachable from a root over outgoing edges', ok: 'Subgraph', errors: [400, 404],
    params: [
      COLLECTION_QUERY,
      { name: 'root', in: 'query', required: true, schema: { type: 'integer', minimum: 0, maximum: 4_294_967_295 }, description: 'The node to start from.' },
      { name: 'depth', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 32 }, description: 'Hops from the root; default 2.' },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 10_000 }, description: 'Most nodes in the answer; default 1,000.' },
    ],
  },
  {
    method: 'get', path: '/v1/graph/query', id: 'v1GraphQuery', access: 'read', restricted: 'collection', tag: 'Graph', summary: 'Breadth-first query from a node, filtered by edge and node kind', ok: 'GraphQueryResult', errors: [400, 404],
    params: [
      COLLECTION_QUERY,
      { name: 'start', in: 'query', required: true, schema: { type: 'integer', minimum: 0, maximum: 4_294_967_295 }, description: 'The node to start from (not itself a hit).' },
      { name: 'direction', in: 'query', required: false, schema: { type: 'string', enum: ['outgoing', 'incoming', 'both', 'out', 'in'] }, description: 'Edges to follow; default outgoing.' },
      { name: 'edge_kind', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 255 }, description: 'Only follow edges of this kind.' },
      { name: 'node_kind', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 255 }, description: 'Only report nodes of this kind (others are still traversed).' },
      { name: 'depth', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 32 }, description: 'Most hops; default 2.' },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 10_000 }, description: 'Most hits; default 100.' },
    ],
  },
  {
    method: 'get', path: '/v1/timeline', id: 'v1Timeline', access: 'read', restricted: 'collection', tag: 'Durability', summary: 'Committed events from the event log, a page at a time', ok: 'TimelinePage', errors: [400, 403, 404],
    params: [
      { ...COLLECTION_QUERY, description: 'Only the events of this collection; default: every collection.' },
      { name: 'from_index', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, description: 'First log index wanted; default: the first in the log.' },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 10_000 }, description: 'Events per page; default 100.' },
      { name: 'from', in: 'query', required: false, schema: { type: 'string', maxLength: 64 }, description: 'Only events committed at or after this ISO-8601 time.' },
      { name: 'to', in: 'query', required: false, schema: { type: 'string', maxLength: 64 }, description: 'Only events committed at or before this ISO-8601 time.' },
    ],
  },
  {
    method: 'get', path: '/timeline', id: 'timeline', access: 'read', tag: 'Durability', summary: "Committed events as v0.1.0's lines of text, at most 10,000 per answer", ok: 'TimelineLines', errors: [400],
    params: [
      { name: 'from_index', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, description: 'First log index wanted; default: the first in the log.' },
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 10_000 }, description: 'Most lines; default 10,000.' },
    ],
  },
] as const satisfies readonly RouteSpec[];

export type OperationId = (typeof ROUTES)[number]['id'];

const TABLE: readonly RouteSpec[] = ROUTES;

/** `/graph/node/:id` matches `/graph/node/7`; a parameter is one non-empty path segment. */
function matches(pattern: string, path: string): boolean {
  if (!pattern.includes(':')) return pattern === path;
  const want = pattern.split('/');
  const got = path.split('/');
  return want.length === got.length && want.every((w, i) => (w.startsWith(':') ? got[i] !== '' : w === got[i]));
}

/** The route a request would reach (method any case, HEAD as GET; path without its query), if any. */
export function findRoute(method: string, path: string): RouteSpec | undefined {
  const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
  const bare = path.split('?')[0];
  return TABLE.find((r) => r.method === m && matches(r.path, bare));
}

/** Whether re-sending the request cannot apply anything twice: GETs, and POSTs that only read. */
export function isIdempotent(method: string, path: string): boolean {
  if (method.toUpperCase() === 'GET' || method.toUpperCase() === 'HEAD') return true;
  return findRoute(method, path)?.idempotent === true;
}
