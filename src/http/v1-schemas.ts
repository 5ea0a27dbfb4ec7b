// Request schemas of the /v1 routes that valori-node 0.3.1's clients call (routes/v1-records.ts,
// routes/v1-graph.ts), with the 0.3.1 field names. Kept apart from schemas.ts, which spreads them
// into the one set of request schemas (validators and the OpenAPI document come from there). The
// building blocks (vector, tag, k, search tuning) are passed in, so both files describe a vector
// or a k the same way.
import type { ValidateFunction } from 'ajv';
import type Ajv from 'ajv';

const U32_MAX = 4_294_967_295;
const u32 = { type: 'integer', minimum: 0, maximum: U32_MAX } as const;
const u8 = { type: 'integer', minimum: 0, maximum: 255 } as const;

/** Longest `query_text` accepted (refused anyway: there is no text rerank). */
export const MAX_TEXT_CHARS = 1_048_576;

/** 0.3.1 sends a record's metadata as the UTF-8 bytes of its JSON text; an object is taken as well. */
const recordMetadata = {
  oneOf: [{ type: 'object', nullable: true }, { type: 'array', items: u8 }],
  description: 'a JSON object, the UTF-8 bytes of its JSON text as integers 0..255, or null',
} as const;

export interface V1Parts {
  vector: Record<string, unknown>;
  tag: Record<string, unknown>;
  k: Record<string, unknown>;
  searchTuning: Record<string, unknown>;
  /** `collection` of a data request, and `request_id`, an idempotency key in the body. */
  collection: Record<string, unknown>;
  requestId: Record<string, unknown>;
  /** A record's `text`. */
  recordText: Record<string, unknown>;
}

export interface V1InsertRecordBody {
  values: number[];
  tag?: number | null;
  request_id?: number[] | string;
  collection?: string;
  metadata?: unknown;
  text?: string | null;
}
export interface V1SearchBody {
  query: number[];
  k: number;
  collection?: string;
  filter_tag?: number | null;
  ef?: number | null;
  nprobe?: number | null;
  consistency?: string | null;
  rerank?: boolean | null;
  as_of?: string | null;
  as_of_log_index?: number | null;
  decay_half_life_secs?: number | null;
  query_text?: string | null;
  metadata_filter?: unknown;
  graph_rerank?: unknown;
  include?: ('metadata' | 'text' | 'vector')[] | null;
  with_metadata?: boolean | null;
}
export interface V1CreateNodeBody { kind: number; record_id?: number | null; collection?: string; request_id?: number[] | string }
export interface V1CreateEdgeBody { from: number; to: number; kind: number; collection?: string; request_id?: number[] | string }

const NODE_KINDS = '0 Record, 1 Concept, 2 Agent, 3 User, 4 Tool, 5 Document, 6 Chunk; other values are stored as given.';
const EDGE_KINDS = '0 Relation, 1 Follows, 2 InEpisode, 3 ByAgent, 4 Mentions, 5 RefersTo, 6 ParentOf; other values are stored as given.';

export function v1RequestSchemas(p: V1Parts) {
  const closed = { additionalProperties: false } as const;
  return {
    v1InsertRecord: {
      type: 'object',
      required: ['values'],
      properties: {
        values: p.vector,
        tag: p.tag,
        request_id: p.requestId,
        collection: p.collection,
        // The description doubles as the 400's wording ("metadata must be ..."): limits are in the API reference.
        metadata: recordMetadata,
        text: p.recordText,
      },
      ...closed,
    },
    v1Search: {
      type: 'object',
      required: ['query', 'k'],
      properties: {
        query: p.vector,
        k: p.k,
        collection: p.collection,
        ...p.searchTuning,
        consistency: { type: 'string', enum: ['local', 'linearizable'], nullable: true, description: 'Cluster mode: local reads this node as it is; linearizable (the default there, VALORI_READ_CONSISTENCY) sees every write acknowledged before the search began, on any member. Standalone: both read this node, except that a stream follower (VALORI_FOLLOWER_OF) refuses linearizable with 400.' },
        rerank: { type: 'boolean', nullable: true, description: 'Accepted and ignored: scores are exact distances already, there is nothing to rerank.' },
        as_of: { type: 'string', maxLength: 64, nullable: true, description: 'Not supported (no time-travel search): a value answers 400.' },
        as_of_log_index: { type: 'integer', minimum: 0, nullable: true, description: 'Not supported (no time-travel search): a value answers 400.' },
        decay_half_life_secs: { type: 'integer', minimum: 0, nullable: true, description: 'Not supported (no recency decay): a value answers 400.' },
        query_text: { type: 'string', maxLength: MAX_TEXT_CHARS, nullable: true, description: 'Not supported (no text rerank): a value answers 400.' },
        graph_rerank: { description: 'Not supported: a value other than null answers 400.' },
      },
      ...closed,
    },
    v1CreateNode: {
      type: 'object',
      required: ['kind'],
      properties: {
        kind: { ...u8, description: NODE_KINDS },
        record_id: { ...u32, nullable: true, description: 'Links the node to an existing record of the same collection.' },
        collection: p.collection,
        request_id: p.requestId,
      },
      ...closed,
    },
    v1CreateEdge: {
      type: 'object',
      required: ['from', 'to', 'kind'],
      properties: {
        from: { ...u32, description: 'Source node id.' },
        to: { ...u32, description: 'Target node id (same collection).' },
        kind: { ...u8, description: EDGE_KINDS },
        collection: p.collection,
        request_id: p.requestId,
      },
      ...closed,
    },
  } as const;
}

export interface V1Validators {
  v1InsertRecord: ValidateFunction<V1InsertRecordBody>;
  v1Search: ValidateFunction<V1SearchBody>;
  v1CreateNode: ValidateFunction<V1CreateNodeBody>;
  v1CreateEdge: ValidateFunction<V1CreateEdgeBody>;
}

export function compileV1Validators(ajv: Ajv, s: ReturnType<typeof v1RequestSchemas>): V1Validators {
  return {
    v1InsertRecord: ajv.compile<V1InsertRecordBody>(s.v1InsertRecord),
    v1Search: ajv.compile<V1SearchBody>(s.v1Search),
    v1CreateNode: ajv.compile<V1CreateNodeBody>(s.v1CreateNode),
    v1CreateEdge: ajv.compile<V1CreateEdgeBody>(s.v1CreateEdge),
  };
}
