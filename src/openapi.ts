// The OpenAPI 3.0 document served at GET /openapi.json, one operation per entry of the route table
// (src/api/routes.ts). Request bodies are the very schemas the
// routes validate with (http/schemas.ts), response bodies come from http/response-schemas.ts, and
// error statuses list the stable codes from the one code -> status table (http/errors.ts).
// __test__/openapi.test.ts fails when a registered route is missing here, or when an example in
// docs/api-reference.md does not validate against this document.
import { KEY_REQUEST_SCHEMAS, KEY_RESPONSE_SCHEMAS, type KeyResponseName } from './auth/key-schemas';
import { ROUTES, type Reply, type RouteSpec, type Tag } from './api/routes';
import { STATUS_BY_CODE } from './http/errors';
import { RESPONSE_SCHEMAS, type ResponseSchemaName } from './http/response-schemas';
import { requestSchemas, type RequestSchemas, type SchemaLimits } from './http/schemas';

type Json = Record<string, unknown>;
type Operation = RouteSpec;

// The route table names schemas by string (it must not import server code, the client ships it):
// this fails to compile when a name there has no schema here.
type OkName = ResponseSchemaName | KeyResponseName | 'text' | 'metrics' | 'binary' | 'openapi' | 'events';
type BodyName = keyof RequestSchemas | keyof typeof KEY_REQUEST_SCHEMAS | 'binary';
void (ROUTES satisfies readonly { ok: OkName; body?: BodyName; query?: keyof RequestSchemas }[]);

/** The status of a code, or undefined for a code this build does not have. */
const statusOf = (code: string): number | undefined => (STATUS_BY_CODE as Readonly<Record<string, number>>)[code];

/** READ_ONLY (a node after a failed fsync) and NOT_LEADER (a follower, with Location). */
const WRITE_STATUSES = ['READ_ONLY', 'NOT_LEADER'].map(statusOf).filter((s): s is number => s !== undefined);

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

function okResponse(reply: Reply | OkName): Json {
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

/** The header every data write takes (src/http/scope.ts): a replay answers the first outcome. */
const IDEMPOTENCY_HEADER: Json = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
  description:
    'Makes the write safe to retry: the same key with the same request answers the first outcome (same ids, "deduplicated": true) and writes nothing; with another request, 409 IDEMPOTENCY_KEY_REUSED. The node remembers the last 100,000 keys.',
};

/** With auth off: 421 for a foreign Host, 403 for a foreign Origin, 415 for a non-JSON POST (http/auth.ts). */
const GUARD_STATUSES = ['MISDIRECTED_REQUEST', 'FORBIDDEN'].map(statusOf).filter((s): s is number => s !== undefined);

function operation(op: Operation, schemas: RequestSchemas, idSchema: unknown): Json {
  // The scope the route is mounted behind (src/api/routes.ts).
  const access = op.access;
  const isPublic = access === 'public';
  const responses: Json = { 200: okResponse(op.ok) };
  if (op.alsoOk !== undefined) {
    responses[op.alsoOk] =
      op.id === 'health'
        ? { description: 'The 200 body with a status other than "ok", or the short body of a node still recovering at start-up', content: { 'application/json': { schema: { oneOf: [ref('Health'), ref('HealthRecovering')] } } } }
        : { ...okResponse(op.ok), description: 'Same body schema as 200, with a status other than "ok"' };
  }
  const statuses = new Set<number>([500, ...(op.errors ?? []), ...(op.write ? WRITE_STATUSES : [])]);
  // 401 without a credential, 403 with one of a lower scope (or, auth off, a foreign Origin).
  if (!isPublic) [401, ...GUARD_STATUSES].forEach((s) => statuses.add(s));
  if (!isPublic && op.method !== 'get') statuses.add(415);
  if (op.body !== undefined && op.body !== 'binary') [400, 413, 415].forEach((s) => statuses.add(s));
  // A data route names a collection (absent: default): 404 COLLECTION_NOT_FOUND; its writes take
  // an idempotency key: 409 IDEMPOTENCY_KEY_REUSED.
  const dataWrite = op.restricted === 'collection' && op.write === true;
  if (op.restricted === 'collection') statuses.add(404);
  if (dataWrite) statuses.add(409);
  for (const status of [...statuses].sort((a, b) => a - b)) responses[status] = errorResponse(status);

  const own = new Set((op.params ?? []).filter((p) => p.in === 'path').map((p) => p.name));
  const parameters: Json[] = [...op.path.matchAll(/:(\w+)/g)].filter((m) => !own.has(m[1])).map((m): Json => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: idSchema,
  }));
  if (op.query !== undefined) {
    const q = schemas[op.query as keyof RequestSchemas] as { required?: readonly string[]; properties: Json };
    for (const [name, schema] of Object.entries(q.properties)) {
      parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema: toOas30(schema) });
    }
  }
  parameters.push(...(op.params ?? []));
  if (dataWrite) parameters.push(IDEMPOTENCY_HEADER);

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
  for (const op of ROUTES as readonly Operation[]) {
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
        'branch on code. When VALORI_AUTH_TOKEN or API keys are configured, every route except GET /health, /livez, /readyz and /metrics needs ' +
        '"Authorization: Bearer <token>"; an API key also needs the scope in x-valori-scope (read < write < admin; 403 otherwise). Vectors have exactly VALORI_DIM components (GET /health shows dim).',
    },
    tags: (['System', 'Collections', 'Records', 'Graph', 'Memory', 'Durability', 'Indexes', 'Replication', 'Cluster', 'Keys'] satisfies Tag[]).map((name) => ({ name })),
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'VALORI_AUTH_TOKEN, or an API key (VALORI_API_KEYS, POST /v1/keys)' } },
      schemas: { ...RESPONSE_SCHEMAS, ...KEY_RESPONSE_SCHEMAS, ...requestComponents },
    },
  };
}
