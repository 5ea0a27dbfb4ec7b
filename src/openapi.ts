// The OpenAPI 3.0 document served at GET /openapi.json. Request bodies are the very schemas the
// routes validate with (http/schemas.ts), response bodies come from http/response-schemas.ts, and
// error statuses list the stable codes from the one code -> status table (http/errors.ts).
// __test__/openapi.test.ts fails when a registered route is missing here, or when an example in
// docs/api-reference.md does not validate against this document.
import { KEY_REQUEST_SCHEMAS, KEY_RESPONSE_SCHEMAS, type KeyResponseName } from './auth/key-schemas';
import { routeAccess } from './auth/scopes';
import { STATUS_BY_CODE } from './http/errors';
import { RESPONSE_SCHEMAS, type ResponseSchemaName } from './http/response-schemas';
import { requestSchemas, type RequestSchemas, type SchemaLimits } from './http/schemas';

type Json = Record<string, unknown>;
type Tag = 'System' | 'Records' | 'Graph' | 'Memory' | 'Durability' | 'Replication' | 'Indexes' | 'Keys';
type Reply = ResponseSchemaName | KeyResponseName | 'text' | 'metrics' | 'binary' | 'openapi' | 'events';

interface Operation {
  method: 'get' | 'post' | 'delete';
  /** Express pattern, as registered (e.g. /graph/node/:id). */
  path: string;
  id: string;
  tag: Tag;
  summary: string;
  /** JSON request body (a request schema), or raw bytes. */
  body?: keyof RequestSchemas | keyof typeof KEY_REQUEST_SCHEMAS | 'binary';
  /** Query parameters, one per property of this request schema. */
  query?: keyof RequestSchemas;
  /** Parameters the route parses itself (not through a request schema). */
  params?: Json[];
  /** Changes the state: refused by followers (307 to the leader) and by read-only nodes (503). */
  write?: true;
  ok: Reply;
  /** Statuses besides those every operation gets (401 when protected, 500), JSON bodies get (400, 413, 415) and writes get. */
  errors?: number[];
  /** Answers with the same body as 200 under this status (GET /health: 503 when a pool is full). */
  alsoOk?: number;
}

/** The status of a code, or undefined for a code this build does not have. */
const statusOf = (code: string): number | undefined => (STATUS_BY_CODE as Readonly<Record<string, number>>)[code];

/** READ_ONLY (a node after a failed fsync) and NOT_LEADER (a follower, with Location). */
const WRITE_STATUSES = ['READ_ONLY', 'NOT_LEADER'].map(statusOf).filter((s): s is number => s !== undefined);

const HEIGHT = { type: 'integer', minimum: 0, maximum: 999_999_999_999_999 } as const;

const OPERATIONS: readonly Operation[] = [
  { method: 'get', path: '/health', id: 'health', tag: 'System', summary: 'Liveness and pool capacity', ok: 'Health', alsoOk: 503 },
  { method: 'get', path: '/metrics', id: 'metrics', tag: 'System', summary: 'Prometheus metrics', ok: 'metrics' },
  { method: 'get', path: '/version', id: 'version', tag: 'System', summary: 'Server version (plain text)', ok: 'text' },
  { method: 'get', path: '/openapi.json', id: 'openapi', tag: 'System', summary: 'This OpenAPI document', ok: 'openapi' },
  {
    method: 'get', path: '/v1/proof/state', id: 'proofState', tag: 'System', summary: 'BLAKE3 hash of the whole state', ok: 'ProofState', errors: [400, 404],
    params: [{ name: 'height', in: 'query', required: false, schema: HEIGHT, description: 'A past height this node remembers a proof for; default: now.' }],
  },
  { method: 'post', path: '/records', id: 'insertRecord', tag: 'Records', summary: 'Insert one vector', body: 'insertRecord', ok: 'InsertRecordResult', write: true, errors: [507] },
  { method: 'post', path: '/v1/vectors/batch_insert', id: 'batchInsert', tag: 'Records', summary: 'Insert many vectors atomically', body: 'batchInsert', ok: 'BatchInsertResult', write: true, errors: [507] },
  { method: 'post', path: '/v1/memory/insert_batch', id: 'memoryInsertBatch', tag: 'Records', summary: 'Alias of /v1/vectors/batch_insert', body: 'batchInsert', ok: 'BatchInsertResult', write: true, errors: [507] },
  { method: 'post', path: '/search', id: 'search', tag: 'Records', summary: 'k nearest live records by squared L2', body: 'search', ok: 'SearchResult' },
  { method: 'post', path: '/v1/delete', id: 'deleteRecord', tag: 'Records', summary: 'Hard-delete a record (frees its slot)', body: 'id', ok: 'Success', write: true, errors: [404] },
  { method: 'post', path: '/v1/soft-delete', id: 'softDeleteRecord', tag: 'Records', summary: 'Soft-delete (tombstone) a record', body: 'id', ok: 'Success', write: true, errors: [404] },
  { method: 'post', path: '/graph/node', id: 'createNode', tag: 'Graph', summary: 'Create a node', body: 'createNode', ok: 'CreateNodeResult', write: true, errors: [404, 507] },
  { method: 'get', path: '/graph/node/:id', id: 'getNode', tag: 'Graph', summary: 'Read a node', ok: 'GraphNode', errors: [400, 404] },
  { method: 'post', path: '/graph/edge', id: 'createEdge', tag: 'Graph', summary: 'Create a directed edge', body: 'createEdge', ok: 'CreateEdgeResult', write: true, errors: [404, 507] },
  { method: 'get', path: '/graph/edges/:id', id: 'listEdges', tag: 'Graph', summary: "A node's outgoing edges, newest first", ok: 'EdgeList', errors: [400, 404] },
  { method: 'post', path: '/v1/memory/upsert_vector', id: 'upsertMemory', tag: 'Memory', summary: 'Store a memory: record, document and chunk nodes, edge, metadata (atomic)', body: 'upsertVector', ok: 'UpsertVectorResult', write: true, errors: [404, 507] },
  { method: 'post', path: '/v1/memory/search_vector', id: 'searchMemory', tag: 'Memory', summary: 'Search, with memory ids and metadata', body: 'memorySearch', ok: 'MemorySearchResult' },
  { method: 'post', path: '/v1/memory/meta/set', id: 'setMetadata', tag: 'Memory', summary: 'Store JSON metadata under a key', body: 'metaSet', ok: 'Success', write: true },
  { method: 'get', path: '/v1/memory/meta/get', id: 'getMetadata', tag: 'Memory', summary: 'Read the metadata under a key (null when unset)', query: 'metaGet', ok: 'MetaGetResult', errors: [400] },
  { method: 'post', path: '/v1/snapshot/save', id: 'saveSnapshot', tag: 'Durability', summary: 'Write the main snapshot, or a named one', body: 'snapshotSave', ok: 'SnapshotSaveResult', errors: [507] },
  { method: 'get', path: '/v1/snapshot/download', id: 'downloadSnapshot', tag: 'Durability', summary: 'The current state as snapshot bytes', ok: 'binary', errors: [429] },
  { method: 'post', path: '/v1/snapshot/upload', id: 'uploadSnapshot', tag: 'Durability', summary: 'Replace the state with uploaded snapshot bytes', body: 'binary', ok: 'SnapshotRestoreResult', write: true, errors: [400, 413, 415, 429] },
  { method: 'post', path: '/v1/snapshot/restore', id: 'restoreSnapshot', tag: 'Durability', summary: 'Replace the state with a named snapshot', body: 'snapshotRestore', ok: 'SnapshotRestoreResult', write: true, errors: [404, 429] },
  { method: 'get', path: '/v1/proof/event-log', id: 'proofEventLog', tag: 'Durability', summary: 'Hash chain over the event log', ok: 'EventLogProof', errors: [400] },
  { method: 'post', path: '/v1/index/build', id: 'buildIndex', tag: 'Indexes', summary: 'Rebuild or retrain the search index from the current records', ok: 'IndexBuildResult', errors: [429] },
  { method: 'post', path: '/v1/event-log/trim', id: 'trimEventLog', tag: 'Durability', summary: 'Drop the log prefix the newest snapshot covers', ok: 'EventLogTrimResult', errors: [400] },
  {
    method: 'get', path: '/v1/replication/events', id: 'replicationEvents', tag: 'Replication', summary: 'Committed events as a server-sent event stream (leader)', ok: 'events', errors: [400, 410, 429],
    params: [
      { name: 'from', in: 'query', required: false, schema: { ...HEIGHT, minimum: 1 }, description: 'First sequence number wanted; default 1.' },
      { name: 'Last-Event-ID', in: 'header', required: false, schema: HEIGHT, description: 'Resume after this sequence number (wins over from).' },
    ],
  },
  { method: 'post', path: '/v1/keys', id: 'createKey', tag: 'Keys', summary: 'Create an API key; the answer holds its token, shown once', body: 'createKey', ok: 'ApiKeyCreated', errors: [507] },
  { method: 'get', path: '/v1/keys', id: 'listKeys', tag: 'Keys', summary: 'API keys, masked (never a token or hash)', ok: 'ApiKeyList' },
  {
    method: 'delete', path: '/v1/keys/:id', id: 'revokeKey', tag: 'Keys', summary: 'Revoke an API key created through the API', ok: 'ApiKeyRevoked', errors: [400, 404],
    params: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 64 }, description: 'The key id from GET /v1/keys.' }],
  },
  { method: 'get', path: '/v1/replication/state', id: 'replicationState', tag: 'Replication', summary: "This node's role, height and, on a follower, its sync status", ok: 'ReplicationState' },
];

/** JSON Schema 2020-style `type: [T, 'null']` is not OpenAPI 3.0: rewrite it as `nullable`. */
function toOas30(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toOas30);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'type' && Array.isArray(value)) {
      const types = value.filter((t) => t !== 'null');
      if (types.length !== 1) throw new Error(`OpenAPI 3.0 cannot express type ${JSON.stringify(value)}`);
      out.type = types[0];
      if (types.length < value.length) out.nullable = true;
    } else if (key === 'properties' || key === 'items' || key === 'additionalProperties') {
      out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, toOas30(v)])) : toOas30(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const requestName = (key: string) => `${key[0].toUpperCase()}${key.slice(1)}Request`;

/** "400: INVALID_JSON, INVALID_REQUEST, ..." from the code -> status table. */
function errorResponse(status: number): Json {
  const codes = Object.entries(STATUS_BY_CODE).filter(([, s]) => s === status).map(([c]) => c);
  const out: Json = { description: `Error; code is one of ${codes.join(', ')}.`, content: { 'application/json': { schema: ref('Error') } } };
  // NOT_LEADER: the same request on the leader, to be re-sent with the same method and body.
  if (status >= 300 && status < 400) out.headers = { Location: { description: 'Where to send the request instead.', schema: { type: 'string' } } };
  return out;
}

function okResponse(reply: Reply): Json {
  switch (reply) {
    case 'text':
      return { description: 'OK', content: { 'text/plain': { schema: { type: 'string' } } } };
    case 'metrics':
      return { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } };
    case 'binary':
      return { description: 'Snapshot bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
    case 'events':
      return { description: 'Server-sent events (docs/verifiable-replication.md)', content: { 'text/event-stream': { schema: { type: 'string' } } } };
    case 'openapi':
      return { description: 'OpenAPI 3.0 document', content: { 'application/json': { schema: { type: 'object' } } } };
    default:
      return { description: 'OK', content: { 'application/json': { schema: ref(reply) } } };
  }
}

/** With auth off: 421 for a foreign Host, 403 for a foreign Origin, 415 for a non-JSON POST (http/auth.ts). */
const GUARD_STATUSES = ['MISDIRECTED_REQUEST', 'FORBIDDEN'].map(statusOf).filter((s): s is number => s !== undefined);

function operation(op: Operation, schemas: RequestSchemas, idSchema: unknown): Json {
  // The scope comes from the one route table (auth/scopes.ts), as it does for the route itself.
  const access = routeAccess(op.method, op.path);
  const isPublic = access === 'public';
  const responses: Json = { 200: okResponse(op.ok) };
  if (op.alsoOk !== undefined) responses[op.alsoOk] = { ...okResponse(op.ok), description: `Same body as 200 (status "full")` };
  const statuses = new Set<number>([500, ...(op.errors ?? []), ...(op.write ? WRITE_STATUSES : [])]);
  // 401 without a credential, 403 with one of a lower scope (or, auth off, a foreign Origin).
  if (!isPublic) [401, ...GUARD_STATUSES].forEach((s) => statuses.add(s));
  if (!isPublic && op.method !== 'get') statuses.add(415);
  if (op.body !== undefined && op.body !== 'binary') [400, 413, 415].forEach((s) => statuses.add(s));
  for (const status of [...statuses].sort((a, b) => a - b)) responses[status] = errorResponse(status);

  const own = new Set((op.params ?? []).filter((p) => p.in === 'path').map((p) => p.name));
  const parameters: Json[] = [...op.path.matchAll(/:(\w+)/g)].filter((m) => !own.has(m[1])).map((m): Json => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: idSchema,
  }));
  if (op.query !== undefined) {
    const q = schemas[op.query] as { required?: readonly string[]; properties: Json };
    for (const [name, schema] of Object.entries(q.properties)) {
      parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema: toOas30(schema) });
    }
  }
  parameters.push(...(op.params ?? []));

  const out: Json = { operationId: op.id, tags: [op.tag], summary: op.summary };
  if (!isPublic) out['x-valori-scope'] = access;
  if (parameters.length > 0) out.parameters = parameters;
  if (op.body === 'binary') {
    out.requestBody = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
  } else if (op.body !== undefined) {
    out.requestBody = { required: true, content: { 'application/json': { schema: ref(requestName(op.body)) } } };
  }
  out.responses = responses;
  if (isPublic) out.security = [];
  return out;
}

/** Express `/graph/node/:id` -> OpenAPI `/graph/node/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

export interface OpenApiOptions {
  /** VALORI_MAX_K: the upper bound of k in search requests. */
  maxK: number;
  version: string;
  /** VALORI_MAX_EF, VALORI_MAX_NPROBE, VALORI_MAX_BATCH_ROWS; their defaults when absent. */
  limits?: Partial<Omit<SchemaLimits, 'maxK'>>;
}

export function buildOpenApiDocument(opts: OpenApiOptions): Json {
  const schemas = requestSchemas(opts.maxK, opts.limits);
  const idSchema = { ...schemas.id.properties.id, description: 'Record, node or edge id (u32).' };
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) {
    const path = openApiPath(op.path);
    paths[path] = { ...paths[path], [op.method]: operation(op, schemas, idSchema) };
  }
  const requestComponents = Object.fromEntries(Object.entries({ ...schemas, ...KEY_REQUEST_SCHEMAS }).map(([key, schema]) => [requestName(key), toOas30(schema)]));
  return {
    openapi: '3.0.3',
    info: {
      title: 'Valori node',
      version: opts.version,
      description:
        'Deterministic vector + knowledge-graph memory server. Every error is {"error", "code"} JSON; ' +
        'branch on code. When VALORI_AUTH_TOKEN or API keys are configured, every route except GET /health and GET /metrics needs ' +
        '"Authorization: Bearer <token>"; an API key also needs the scope in x-valori-scope (read < write < admin; 403 otherwise). Vectors have exactly VALORI_DIM components (GET /health shows dim).',
    },
    tags: (['System', 'Records', 'Graph', 'Memory', 'Durability', 'Indexes', 'Replication', 'Keys'] satisfies Tag[]).map((name) => ({ name })),
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'VALORI_AUTH_TOKEN, or an API key (VALORI_API_KEYS, POST /v1/keys)' } },
      schemas: { ...RESPONSE_SCHEMAS, ...KEY_RESPONSE_SCHEMAS, ...requestComponents },
    },
  };
}
