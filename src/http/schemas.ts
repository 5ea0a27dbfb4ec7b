// Request schemas (JSON Schema, OpenAPI-3.0 compatible: `nullable` instead of type unions) and
// their ajv validators, compiled once when the app is created. Exported as plain objects so an
// OpenAPI document can be generated from them. Dimension and value range of vectors are checked
// after the schema (src/kernel/vectors.ts), because they depend on VALORI_DIM and come with
// their own error codes.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { AppError } from './errors';

const U32_MAX = 4_294_967_295;

const u32 = { type: 'integer', minimum: 0, maximum: U32_MAX } as const;
const u8 = { type: 'integer', minimum: 0, maximum: 255 } as const;
const nullableU32 = { ...u32, nullable: true } as const;
/** Tags are u64 in the kernel, but JSON numbers are exact only up to 2^53 - 1. */
const tag = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, nullable: true } as const;
const tuning = { type: 'integer', minimum: 1, maximum: U32_MAX, nullable: true } as const;
const vector = {
  type: 'array',
  items: { type: 'number' },
  description: 'Exactly VALORI_DIM finite numbers, each within the accepted range (see /health dim).',
} as const;

export interface InsertRecordBody { values: number[]; tag?: number | null }
export interface BatchInsertBody { batch: number[][] }
export interface IdBody { id: number }
export interface SearchBody { query: number[]; k: number; filter_tag?: number | null; ef?: number | null; nprobe?: number | null }
export interface CreateNodeBody { kind: number; record_id?: number | null }
export interface CreateEdgeBody { from: number; to: number; kind: number }
export interface UpsertVectorBody {
  vector: number[];
  attach_to_document_node?: number | null;
  tags?: string[] | null;
  metadata?: unknown;
}
export interface MemorySearchBody { query_vector: number[]; k: number; filter_tag?: number | null; ef?: number | null; nprobe?: number | null }
export interface MetaSetBody { target_id: string; metadata: unknown }
export interface MetaGetQuery { target_id: string }

/** All request schemas. `maxK` is VALORI_MAX_K. */
export function requestSchemas(maxK: number) {
  const k = { type: 'integer', minimum: 1, maximum: maxK, description: `1..${maxK} (VALORI_MAX_K)` } as const;
  // Descriptions are for the OpenAPI document (src/openapi.ts); they do not change validation.
  const searchTuning = {
    filter_tag: { ...tag, description: 'Only records carrying this tag.' },
    ef: { ...tuning, description: 'HNSW candidate list size for this query (default VALORI_HNSW_EF_SEARCH); ignored by other indexes.' },
    nprobe: { ...tuning, description: 'IVF partitions probed for this query (default VALORI_IVF_NPROBE); ignored by other indexes.' },
  } as const;
  return {
    insertRecord: {
      type: 'object',
      required: ['values'],
      properties: { values: vector, tag: { ...tag, description: 'Tag stored with the record (0..2^53-1); filter_tag matches it.' } },
    },
    batchInsert: { type: 'object', required: ['batch'], properties: { batch: { type: 'array', items: vector } } },
    id: { type: 'object', required: ['id'], properties: { id: { ...u32, description: 'Record id.' } } },
    search: { type: 'object', required: ['query', 'k'], properties: { query: vector, k, ...searchTuning } },
    createNode: {
      type: 'object',
      required: ['kind'],
      properties: {
        kind: { ...u8, description: '0 Record, 1 Concept, 2 Agent, 3 User, 4 Tool, 5 Document, 6 Chunk; other values are stored as given.' },
        record_id: { ...nullableU32, description: 'Links the node to an existing record.' },
      },
    },
    createEdge: {
      type: 'object',
      required: ['from', 'to', 'kind'],
      properties: {
        from: { ...u32, description: 'Source node id.' },
        to: { ...u32, description: 'Target node id.' },
        kind: { ...u8, description: '0 Relation, 1 Follows, 2 InEpisode, 3 ByAgent, 4 Mentions, 5 RefersTo, 6 ParentOf; other values are stored as given.' },
      },
    },
    upsertVector: {
      type: 'object',
      required: ['vector'],
      properties: {
        vector,
        attach_to_document_node: nullableU32,
        tags: { type: 'array', items: { type: 'string' }, nullable: true, description: 'Accepted and ignored.' },
        metadata: { description: 'Any JSON value; null or absent means none.' },
      },
    },
    memorySearch: { type: 'object', required: ['query_vector', 'k'], properties: { query_vector: vector, k, ...searchTuning } },
    metaSet: {
      type: 'object',
      required: ['target_id', 'metadata'],
      properties: { target_id: { type: 'string', minLength: 1 }, metadata: { description: 'Any JSON value; replaces the old one.' } },
    },
    metaGet: { type: 'object', required: ['target_id'], properties: { target_id: { type: 'string', minLength: 1 } } },
    snapshotSave: {
      type: 'object',
      properties: { path: { type: ['string', 'null'], minLength: 1, description: 'A file name inside the snapshot directory; default VALORI_SNAPSHOT_PATH.' } },
    },
    snapshotRestore: {
      type: 'object',
      required: ['path'],
      properties: { path: { type: 'string', minLength: 1, description: 'A file name inside the snapshot directory.' } },
    },
  } as const;
}

export type RequestSchemas = ReturnType<typeof requestSchemas>;

export interface Validators {
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
  snapshotSave: ValidateFunction<{ path?: string | null }>;
  snapshotRestore: ValidateFunction<{ path: string }>;
}

export function compileValidators(maxK: number): Validators {
  // allErrors off: stop at the first problem, so a 10k-row batch with one bad value costs one scan.
  // verbose: errors carry their parentSchema, so range messages can quote both bounds.
  const ajv = new Ajv({ allErrors: false, verbose: true, strict: true, coerceTypes: false, useDefaults: false });
  const s = requestSchemas(maxK);
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
    snapshotSave: ajv.compile<{ path?: string | null }>(s.snapshotSave),
    snapshotRestore: ajv.compile<{ path: string }>(s.snapshotRestore),
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
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function describe(e: ErrorObject, data: unknown): string {
  const field = fieldName(e.instancePath);
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return e.instancePath === '' ? `missing required field "${missing}"` : `${field} is missing required field "${missing}"`;
  }
  const got = e.instancePath === '' ? '' : `, got ${preview(valueAt(data, e.instancePath))}`;
  if (e.keyword === 'type' && (e.params as { type: string }).type === 'number') return `${field} must be a finite number${got}`;
  const parent = e.parentSchema as { type?: unknown; minimum?: unknown; maximum?: unknown } | undefined;
  if ((e.keyword === 'minimum' || e.keyword === 'maximum' || e.keyword === 'type') && parent?.type === 'integer') {
    const range = typeof parent.minimum === 'number' && typeof parent.maximum === 'number' ? ` from ${parent.minimum} to ${parent.maximum}` : '';
    const setting = e.instancePath === '/k' ? ' (VALORI_MAX_K)' : '';
    return `${field} must be an integer${range}${setting}${got}`;
  }
  return `${field} ${e.message ?? 'is invalid'}${got}`;
}

/** Validates `data` or throws a 400 AppError that names the first offending field. */
export function check<T>(validate: ValidateFunction<T>, data: unknown): T {
  if (validate(data)) return data;
  const e = validate.errors?.[0];
  if (e === undefined) throw new AppError('INVALID_REQUEST', 'request is invalid');
  const code = VECTOR_PATH.test(e.instancePath) ? 'INVALID_VECTOR' : 'INVALID_REQUEST';
  throw new AppError(code, describe(e, data));
}
