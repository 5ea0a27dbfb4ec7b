// Request schemas (JSON Schema, OpenAPI-3.0 compatible: `nullable` instead of type unions) and
// their ajv validators, compiled once when the app is created. Exported as plain objects so an
// OpenAPI document can be generated from them. Dimension and value range of vectors are checked
// after the schema (src/kernel/vectors.ts), because they depend on VALORI_DIM and come with
// their own error codes.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { Config } from '../config';
import { COLLECTION_NAME_PATTERN } from '../kernel/collections';
import { traceSync, tracingEnabled } from '../tracing';
import { AppError } from './errors';
import { compileV1Validators, v1RequestSchemas, type V1Validators } from './v1-schemas';

const U32_MAX = 4_294_967_295;

const u32 = { type: 'integer', minimum: 0, maximum: U32_MAX } as const;
const u8 = { type: 'integer', minimum: 0, maximum: 255 } as const;
const nullableU32 = { ...u32, nullable: true } as const;
/** Tags are u64 in the kernel, but JSON numbers are exact only up to 2^53 - 1. */
const tag = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: true } as const;
const vector = {
  type: 'array',
  items: { type: 'number' },
  // The largest VALORI_DIM: a longer array is refused before any per-component work.
  maxItems: 65_536,
  description: 'Exactly VALORI_DIM finite numbers, each within the accepted range (see /health dim).',
} as const;

/** A data request's `collection`; absent means the collection named default. */
const collection = {
  type: 'string',
  pattern: COLLECTION_NAME_PATTERN,
  description: 'The collection (see POST /v1/namespaces); absent: default.',
} as const;
/** An idempotency key in the body, as valoricore sends it (src/http/scope.ts). */
const requestId = {
  oneOf: [
    { type: 'array', items: u8, minItems: 16, maxItems: 16 },
    { type: 'string', pattern: '^[0-9a-fA-F]{32}$' },
  ],
  description: '16 integers 0..255 or 32 hex characters: an idempotency key, like the Idempotency-Key header',
} as const;
/** A record's metadata and text (the kernel bounds both: docs/api-reference.md "Payloads and filters"). */
const recordMetadata = {
  type: 'object',
  nullable: true,
  description: 'The record\'s metadata: a JSON object (canonical JSON at most 65,536 bytes, 16 levels deep, keys at most 256 bytes). null or absent: none.',
} as const;
const recordText = { type: 'string', nullable: true, description: 'The record\'s text, at most 65,536 bytes stored as a JSON string (quotes and escapes included). null or absent: none.' } as const;
/** Keyed writes on v0.1.0 paths: what their JSON bodies may add. */
const keyed = { collection, request_id: requestId } as const;

/** k on /v1/memory/search_vector: every hit carries up to 64 KiB of metadata (docs/security.md). */
export const MAX_MEMORY_SEARCH_K = 1_000;
/** `tags` on upsert_vector are ignored; a bound keeps them from costing anything. */
const MAX_TAGS = 1_024;
/** The kernel's cap on a metadata key. */
const MAX_TARGET_ID = 1_024;

/** The configured caps the schemas enforce (docs/security.md). */
export interface SchemaLimits {
  maxK: number;
  maxEf: number;
  maxNprobe: number;
  maxBatchRows: number;
}

/** The defaults of VALORI_MAX_EF, VALORI_MAX_NPROBE and VALORI_MAX_BATCH_ROWS (src/config.ts). */
const DEFAULT_LIMITS: Omit<SchemaLimits, 'maxK'> = { maxEf: 10_000, maxNprobe: 65_536, maxBatchRows: 10_000 };

export function schemaLimits(config: Config): SchemaLimits {
  return { maxK: config.maxK, maxEf: config.maxEf, maxNprobe: config.maxNprobe, maxBatchRows: config.maxBatchRows };
}

/** `collection` and `request_id` of a write (src/http/scope.ts reads them). */
export interface Keyed { collection?: string; request_id?: number[] | string }
export interface InsertRecordBody extends Keyed { values: number[]; tag?: number | null; metadata?: Record<string, unknown> | null; text?: string | null }
export interface BatchInsertBody { batch: number[][]; collection?: string; request_ids?: (string | null)[] | null; metadata?: unknown[] | null; texts?: (string | null)[] | null }
export interface IdBody extends Keyed { id: number }
/** The payload fields every search takes (docs/api-reference.md "Payloads and filters"). */
export interface PayloadSearchFields { metadata_filter?: unknown; include?: ('metadata' | 'text' | 'vector')[] | null; with_metadata?: boolean | null }
export interface SearchBody extends PayloadSearchFields { query: number[]; k: number; filter_tag?: number | null; ef?: number | null; nprobe?: number | null; collection?: string }
export interface CreateNodeBody extends Keyed { kind: number; record_id?: number | null }
export interface CreateEdgeBody extends Keyed { from: number; to: number; kind: number }
export interface UpsertVectorBody extends Keyed {
  vector: number[];
  attach_to_document_node?: number | null;
  tags?: string[] | null;
  metadata?: unknown;
}
export interface MemorySearchBody extends PayloadSearchFields { query_vector: number[]; k: number; filter_tag?: number | null; ef?: number | null; nprobe?: number | null; collection?: string; consistency?: string | null }
export interface MetaSetBody extends Keyed { target_id: string; metadata: unknown }
export interface MetaGetQuery { target_id: string; collection?: string }
export interface CreateCollectionBody {
  name: string;
  dimension: number;
  metric?: string | null;
  index?: 'brute' | 'hnsw' | 'ivf' | null;
  quant?: 'none' | 'scalar' | 'product' | null;
  max_records?: number | null;
  request_id?: number[] | string;
}
export interface IndexBuildBody { collection?: string }

/**
 * All request schemas. `maxK` is VALORI_MAX_K; the other caps default to their config defaults.
 * Every object schema is closed (additionalProperties: false), so a misspelt field such as
 * "filter_tags" is a 400 instead of being silently ignored. The text in parentheses at the end
 * of a description names the setting; range errors quote it (describe() below).
 */
export function requestSchemas(maxK: number, more: Partial<Omit<SchemaLimits, 'maxK'>> = {}) {
  const { maxEf, maxNprobe, maxBatchRows } = { ...DEFAULT_LIMITS, ...more };
  const k = { type: 'integer', minimum: 1, maximum: maxK, description: `1..${maxK} (VALORI_MAX_K)` } as const;
  const memoryK = Math.min(maxK, MAX_MEMORY_SEARCH_K);
  // Descriptions are for the OpenAPI document (src/openapi.ts); they do not change validation.
  const searchTuning = {
    filter_tag: { ...tag, description: 'Only records carrying this tag.' },
    ef: {
      type: 'integer', minimum: 1, maximum: maxEf, nullable: true,
      description: `HNSW candidate list size for this query (default VALORI_HNSW_EF_SEARCH); ignored by other indexes. 1..${maxEf} (VALORI_MAX_EF)`,
    },
    nprobe: {
      type: 'integer', minimum: 1, maximum: maxNprobe, nullable: true,
      description: `IVF partitions probed for this query (default VALORI_IVF_NPROBE); ignored by other indexes. 1..${maxNprobe} (VALORI_MAX_NPROBE)`,
    },
    metadata_filter: {
      description:
        'Only records whose metadata matches this filter (a JSON object; see "Payloads and filters" in docs/api-reference.md): {"author": "Alice", "year": {"$gte": 2020}}. With filter_tag, both must hold. null or absent: no filter; an invalid filter answers 400 INVALID_ARGUMENT naming the problem.',
    },
    include: {
      type: 'array', items: { type: 'string', enum: ['metadata', 'text', 'vector'] }, maxItems: 16, nullable: true,
      description: 'Payload fields each hit carries: any of metadata (object or null), text (string or null), vector. With any of them, k is at most 1,000 and the answer at most VALORI_MAX_RESPONSE_BYTES.',
    },
    with_metadata: { type: 'boolean', nullable: true, description: 'true: the same as include ["metadata"] (with whatever include names besides).' },
  } as const;
  const closed = { additionalProperties: false } as const;
  return {
    insertRecord: {
      type: 'object',
      required: ['values'],
      properties: {
        values: vector,
        tag: { ...tag, description: 'Tag stored with the record (0..2^53-1); filter_tag matches it.' },
        metadata: recordMetadata,
        text: recordText,
        ...keyed,
      },
      ...closed,
    },
    batchInsert: {
      type: 'object',
      required: ['batch'],
      properties: {
        batch: {
          type: 'array',
          items: vector,
          maxItems: maxBatchRows,
          description: `Rows of the collection's dimension; rows x dim x 4 bytes must fit one event (67,108,864 bytes, else 413). At most ${maxBatchRows} rows (VALORI_MAX_BATCH_ROWS)`,
        },
        collection,
        request_ids: {
          type: 'array',
          items: { type: 'string', pattern: '^[0-9a-fA-F]{32}$', nullable: true },
          maxItems: maxBatchRows,
          nullable: true,
          description: 'One idempotency key per row (32 hex characters, or null for none): a replay answers the same ids. Not with the Idempotency-Key header.',
        },
        metadata: {
          type: 'array',
          // valoricore 0.3.1 sends each row's metadata as JSON-encoded text.
          items: { oneOf: [{ type: 'object', nullable: true }, { type: 'string' }], description: 'a JSON object, the JSON text of one (a string), or null' },
          maxItems: maxBatchRows,
          nullable: true,
          description: "One entry per row: the row's metadata as a JSON object, as the JSON text of an object (a string), or null for none. Limits as for one record.",
        },
        texts: { type: 'array', items: { type: 'string', nullable: true }, maxItems: maxBatchRows, nullable: true, description: "One entry per row: the row's text, or null for none." },
      },
      ...closed,
    },
    id: { type: 'object', required: ['id'], properties: { id: { ...u32, description: 'Record id.' }, ...keyed }, ...closed },
    search: { type: 'object', required: ['query', 'k'], properties: { query: vector, k, ...searchTuning, collection }, ...closed },
    createNode: {
      type: 'object',
      required: ['kind'],
      properties: {
        kind: { ...u8, description: '0 Record, 1 Concept, 2 Agent, 3 User, 4 Tool, 5 Document, 6 Chunk; other values are stored as given.' },
        record_id: { ...nullableU32, description: 'Links the node to an existing record of the same collection.' },
        ...keyed,
      },
      ...closed,
    },
    createEdge: {
      type: 'object',
      required: ['from', 'to', 'kind'],
      properties: {
        from: { ...u32, description: 'Source node id.' },
        to: { ...u32, description: 'Target node id.' },
        kind: { ...u8, description: '0 Relation, 1 Follows, 2 InEpisode, 3 ByAgent, 4 Mentions, 5 RefersTo, 6 ParentOf; other values are stored as given.' },
        ...keyed,
      },
      ...closed,
    },
    upsertVector: {
      type: 'object',
      required: ['vector'],
      properties: {
        vector,
        attach_to_document_node: nullableU32,
        tags: {
          type: 'array', items: { type: 'string', maxLength: MAX_TARGET_ID }, maxItems: MAX_TAGS, nullable: true,
          description: `Accepted and ignored; at most ${MAX_TAGS} strings of ${MAX_TARGET_ID} characters.`,
        },
        metadata: { description: "The record's metadata (its payload, also under rec:<record_id>): a JSON object, limits as for POST /v1/records; null or absent means none." },
        ...keyed,
      },
      ...closed,
    },
    memorySearch: {
      type: 'object',
      required: ['query_vector', 'k'],
      properties: {
        query_vector: vector,
        k: { ...k, maximum: memoryK, description: `1..${memoryK} (VALORI_MAX_K, and at most ${MAX_MEMORY_SEARCH_K} on this route)` },
        ...searchTuning,
        collection,
        consistency: { type: 'string', enum: ['local', 'linearizable'], nullable: true, description: 'Cluster mode: local reads this node as it is; linearizable (the default there, VALORI_READ_CONSISTENCY) sees every write acknowledged before the read began. Standalone: both read this node.' },
      },
      ...closed,
    },
    metaSet: {
      type: 'object',
      required: ['target_id', 'metadata'],
      properties: {
        target_id: { type: 'string', minLength: 1, maxLength: MAX_TARGET_ID },
        metadata: { description: 'Any JSON value (at most 65,536 bytes as JSON); replaces the old one. Under rec:<id> it is that record\'s metadata: a JSON object, limits as for POST /v1/records.' },
        ...keyed,
      },
      ...closed,
    },
    metaGet: { type: 'object', required: ['target_id'], properties: { target_id: { type: 'string', minLength: 1, maxLength: MAX_TARGET_ID }, collection }, ...closed },
    createCollection: {
      type: 'object',
      required: ['name', 'dimension'],
      properties: {
        name: { type: 'string', maxLength: 256, description: 'Unique; 1-64 letters, digits, "_" or "-", starting with a letter or digit.' },
        dimension: { type: 'integer', minimum: 1, maximum: 65_536, description: 'Vector dimension of the collection, 1..65536.' },
        metric: { type: 'string', maxLength: 64, nullable: true, description: 'l2 (default; also spelt squared_l2 or l2sq), cosine or dot, in any case. Fixed for the life of the collection; see "Metrics" in docs/api-reference.md.' },
        index: { type: 'string', enum: ['brute', 'hnsw', 'ivf'], nullable: true, description: 'Search index; default VALORI_INDEX. HNSW/IVF parameters come from the node config.' },
        quant: { type: 'string', enum: ['none', 'scalar', 'product'], nullable: true, description: 'Quantization; default VALORI_QUANT.' },
        max_records: { ...u32, minimum: 1, nullable: true, description: "The collection's own record cap (live + soft-deleted; 507 beyond it), besides VALORI_MAX_RECORDS for the node." },
        request_id: requestId,
      },
      ...closed,
    },
    indexBuild: { type: 'object', properties: { collection }, ...closed },
    // PATCH /v1/records/:id/metadata: the body is the metadata itself, so any keys (the route checks it is an object).
    recordMetadata: {
      type: 'object',
      description: "The record's new metadata, replacing the old: a JSON object (canonical JSON at most 65,536 bytes, 16 levels deep, keys at most 256 bytes).",
    },
    snapshotSave: {
      type: 'object',
      properties: { path: { type: ['string', 'null'], minLength: 1, description: 'Save a named snapshot in <snapshot dir>/snapshots/ instead of the main one: 1-64 letters, digits, "_" or "-" (starting with a letter or digit), optionally "." and a 1-8 character extension; never the name of the event log, WAL or main snapshot. Omitted or null: the main snapshot (VALORI_SNAPSHOT_PATH).' } },
      ...closed,
    },
    snapshotRestore: {
      type: 'object',
      required: ['path'],
      properties: { path: { type: 'string', minLength: 1, description: 'The name of a snapshot saved with POST /v1/snapshot/save {"path": name}.' } },
      ...closed,
    },
    clusterAddNode: {
      type: 'object',
      required: ['node_id', 'raft_addr', 'api_addr'],
      properties: {
        node_id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'A new id: ids are never reused, so a replaced machine joins under a new one.' },
        raft_addr: { type: 'string', minLength: 3, maxLength: 255, pattern: '^[^\\s/]+:[0-9]{1,5}$', description: "The node's Raft address, host:port." },
        api_addr: { type: 'string', minLength: 3, maxLength: 255, pattern: '^(https?://)?[^\\s/]+:[0-9]{1,5}$', description: "The node's HTTP API, host:port or http(s)://host:port (for redirects to it when it leads)." },
      },
      ...closed,
    },
    clusterRemoveNode: {
      type: 'object',
      required: ['node_id'],
      properties: { node_id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
      ...closed,
    },
    // valori-node 0.3.1's /v1 routes (src/http/v1-schemas.ts).
    ...v1RequestSchemas({ vector, tag, k, searchTuning, collection, requestId, recordText }),
  } as const;
}

export type RequestSchemas = ReturnType<typeof requestSchemas>;

export interface Validators extends V1Validators {
  insertRecord: ValidateFunction<InsertRecordBody>;
  batchInsert: ValidateFunction<BatchInsertBody>;
  id: ValidateFunction<IdBody>;
  search: ValidateFunction<SearchBody>;
  createNode: ValidateFunction<CreateNodeBody>;
  createEdge: ValidateFunction<CreateEdgeBody>;
  upsertVector: ValidateFunction<UpsertVectorBody>;
  memorySearch: ValidateFunction<MemorySearchBody>;
  metaSet: ValidateFunction<MetaSetBody>;
  metaGet: ValidateFunction<MetaGetQuery>;
  createCollection: ValidateFunction<CreateCollectionBody>;
  indexBuild: ValidateFunction<IndexBuildBody>;
  snapshotSave: ValidateFunction<{ path?: string | null }>;
  snapshotRestore: ValidateFunction<{ path: string }>;
  clusterAddNode: ValidateFunction<{ node_id: number; raft_addr: string; api_addr: string }>;
  clusterRemoveNode: ValidateFunction<{ node_id: number }>;
}

export function compileValidators(limits: SchemaLimits): Validators {
  // allErrors off: stop at the first problem, so a 10k-row batch with one bad value costs one scan.
  // verbose: errors carry their parentSchema, so range messages can quote both bounds.
  const ajv = new Ajv({ allErrors: false, verbose: true, strict: true, coerceTypes: false, useDefaults: false });
  const s = requestSchemas(limits.maxK, limits);
  return {
    insertRecord: ajv.compile<InsertRecordBody>(s.insertRecord),
    batchInsert: ajv.compile<BatchInsertBody>(s.batchInsert),
    id: ajv.compile<IdBody>(s.id),
    search: ajv.compile<SearchBody>(s.search),
    createNode: ajv.compile<CreateNodeBody>(s.createNode),
    createEdge: ajv.compile<CreateEdgeBody>(s.createEdge),
    upsertVector: ajv.compile<UpsertVectorBody>(s.upsertVector),
    memorySearch: ajv.compile<MemorySearchBody>(s.memorySearch),
    metaSet: ajv.compile<MetaSetBody>(s.metaSet),
    metaGet: ajv.compile<MetaGetQuery>(s.metaGet),
    createCollection: ajv.compile<CreateCollectionBody>(s.createCollection),
    indexBuild: ajv.compile<IndexBuildBody>(s.indexBuild),
    snapshotSave: ajv.compile<{ path?: string | null }>(s.snapshotSave),
    snapshotRestore: ajv.compile<{ path: string }>(s.snapshotRestore),
    clusterAddNode: ajv.compile<{ node_id: number; raft_addr: string; api_addr: string }>(s.clusterAddNode),
    clusterRemoveNode: ajv.compile<{ node_id: number }>(s.clusterRemoveNode),
    ...compileV1Validators(ajv, s),
  };
}

// Paths inside a vector field: errors there are INVALID_VECTOR, so clients can tell "your vector
// is bad" from "your request is shaped wrong".
const VECTOR_PATH = /^\/(values|query|vector|query_vector|batch\/\d+)(\/|$)/;

/** `/batch/2/5` -> `batch[2][5]`; `/k` -> `k`; `` -> `body`. */
function fieldName(instancePath: string): string {
  if (instancePath === '') return 'body';
  return instancePath
    .slice(1)
    .split('/')
    .map((seg, i) => (/^\d+$/.test(seg) ? `[${seg}]` : `${i === 0 ? '' : '.'}${seg.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('');
}

function valueAt(data: unknown, instancePath: string): unknown {
  let cur = data;
  for (const seg of instancePath.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // A value nested too deeply for JSON.stringify (a RangeError): describe, do not fail.
    text = Array.isArray(value) ? '[...]' : typeof value === 'object' ? '{...}' : String(value);
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** "(VALORI_MAX_EF)" from a description ending in "(...VALORI_...)", or ''. */
function settingOf(description: unknown): string {
  const m = typeof description === 'string' ? /(\([^()]*VALORI_[A-Z_]+[^()]*\))$/.exec(description) : null;
  return m ? ` ${m[1]}` : '';
}

function describe(e: ErrorObject, data: unknown): string {
  const field = fieldName(e.instancePath);
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return e.instancePath === '' ? `missing required field "${missing}"` : `${field} is missing required field "${missing}"`;
  }
  const got = e.instancePath === '' ? '' : `, got ${preview(valueAt(data, e.instancePath))}`;
  if (e.keyword === 'type' && (e.params as { type: string }).type === 'number') return `${field} must be a finite number${got}`;
  const parent = e.parentSchema as { type?: unknown; minimum?: unknown; maximum?: unknown; description?: unknown } | undefined;
  if ((e.keyword === 'minimum' || e.keyword === 'maximum' || e.keyword === 'type') && parent?.type === 'integer') {
    const range = typeof parent.minimum === 'number' && typeof parent.maximum === 'number' ? ` from ${parent.minimum} to ${parent.maximum}` : '';
    return `${field} must be an integer${range}${settingOf(parent.description)}${got}`;
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return `${field === 'body' ? 'the body' : field} has an unknown field "${extra.slice(0, 64)}"`;
  }
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((a) => JSON.stringify(a)).join(', ');
    return `${field} must be one of ${allowed}${got}`;
  }
  if ((e.keyword === 'oneOf' || e.keyword === 'anyOf') && typeof parent?.description === 'string') return `${field} must be ${parent.description}${got}`;
  if (e.keyword === 'maxItems' || e.keyword === 'maxLength') {
    const limit = (e.params as { limit: number }).limit;
    const unit = e.keyword === 'maxItems' ? 'items' : 'characters';
    return `${field} has more than ${limit} ${unit}${settingOf(parent?.description)}`;
  }
  return `${field} ${e.message ?? 'is invalid'}${got}`;
}

/** Validates `data` or throws a 400 AppError that names the first offending field. */
export function check<T>(validate: ValidateFunction<T>, data: unknown): T {
  // With traces on, validation is its own span under the request's (src/tracing.ts).
  return tracingEnabled() ? traceSync('validate', () => checkNow(validate, data)) : checkNow(validate, data);
}

function checkNow<T>(validate: ValidateFunction<T>, data: unknown): T {
  if (validate(data)) return data;
  // A oneOf failure lists each branch's complaint first; the oneOf error itself says what fits.
  const e = validate.errors?.find((x) => x.keyword === 'oneOf') ?? validate.errors?.[0];
  if (e === undefined) throw new AppError('INVALID_REQUEST', 'request is invalid');
  const code = VECTOR_PATH.test(e.instancePath) ? 'INVALID_VECTOR' : 'INVALID_REQUEST';
  throw new AppError(code, describe(e, data));
}
