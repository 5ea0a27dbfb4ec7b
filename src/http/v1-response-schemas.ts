// Response bodies of the /v1 routes valori-node 0.3.1's clients call (routes/v1-records.ts,
// v1-graph.ts, timeline.ts), for the OpenAPI document only; response-schemas.ts spreads them into
// its components. Closed objects, like the rest, so the API reference's examples cannot carry a
// key the server never sends.
import { count, object, success, u32, u8 } from './schema-parts';

const logIndex = { ...count, description: 'The sequence number (height) of the event that did the write (of the first one, when deduplicated).' } as const;
const deduplicated = { type: 'boolean', description: 'true when an earlier request with the same idempotency key already did this write: nothing was written now.' } as const;
const nullableU32 = { ...u32, nullable: true } as const;

const nodeEntry = object({ node_id: u32, kind: u8, record_id: nullableU32, namespace_id: { ...u32, description: "The collection's id." } });

const timelineEvent = object(
  {
    log_index: count,
    event_type: { type: 'string', description: 'InsertRecord, InsertBatch, DeleteRecord, SoftDeleteRecord, CreateNode, CreateEdge, DeleteNode, DeleteEdge, SetMetadata, UpsertMemory, CreateCollection, DropCollection.' },
    collection: { type: 'string', nullable: true, description: 'The collection the event wrote to.' },
    record_id: { ...u32, description: 'The record it wrote (a batch: its first id).' },
    node_id: u32,
    edge_id: u32,
    timestamp_unix: { ...count, description: 'Commit time stamped by the leader, unix seconds; absent for events logged before commit times were recorded.' },
    timestamp_iso: { type: 'string', description: 'The same commit time, ISO-8601 UTC with milliseconds.' },
  },
  ['record_id', 'node_id', 'edge_id', 'timestamp_unix', 'timestamp_iso'],
);

export const V1_RESPONSE_SCHEMAS = {
  V1InsertRecordResult: object({ id: u32, log_index: logIndex, deduplicated }),
  V1WriteSuccess: object({ success, log_index: logIndex, deduplicated }),
  RecordView: object({
    id: u32,
    vector: { type: 'array', items: { type: 'number' }, description: 'The stored components (Q16.16, so within 2^-16 of what was written; for a cosine collection, the unit vector stored).' },
    metadata: { type: 'object', nullable: true, description: "The record's metadata (keys sorted), or null when it has none." },
    text: { type: 'string', nullable: true, description: "The record's text, or null when it has none." },
    tag: { ...count, description: 'The tag given at insert (0 when none).' },
  }),
  RecordMetadataResult: object({ ok: success, id: u32, deduplicated: { ...deduplicated, description: 'Only when the request carried an Idempotency-Key: ' + deduplicated.description } }, ['deduplicated']),
  V1CreateNodeResult: object({ node_id: u32, log_index: logIndex, deduplicated }),
  V1GraphNode: object({ kind: u8, record_id: nullableU32, namespace_id: { ...u32, description: "The collection's id." } }),
  NodePage: object({ nodes: { type: 'array', items: nodeEntry, description: 'Live nodes in id order.' }, count: { ...count, description: 'Matching live nodes in all pages.' } }),
  V1CreateEdgeResult: object({ edge_id: u32, log_index: logIndex, deduplicated }),
  Subgraph: object({
    nodes: { type: 'array', items: object({ id: u32, kind: u8, record: nullableU32 }), description: 'In id order.' },
    edges: { type: 'array', items: object({ id: u32, from: u32, to: u32, kind: u8 }), description: 'In id order.' },
  }),
  GraphQueryResult: object({
    hits: { type: 'array', items: object({ node_id: u32, kind: u8, record_id: nullableU32, depth: { ...u32, minimum: 1 } }), description: 'By depth, then node id.' },
    count: { ...count, description: 'Hits in this answer.' },
  }),
  TimelinePage: object(
    {
      events: { type: 'array', items: timelineEvent, description: 'Ascending log_index.' },
      total: { ...count, description: 'Events in the log (of the collection, when given), whatever from/to/from_index say.' },
      next_from_index: { ...count, description: 'Present when this page is full: from_index for the next page.' },
      from_unix: { type: 'integer', description: 'from, in unix seconds (when given).' },
      to_unix: { type: 'integer', description: 'to, in unix seconds (when given).' },
    },
    ['next_from_index', 'from_unix', 'to_unix'],
  ),
  TimelineLines: { type: 'array', items: { type: 'string' }, description: 'One line per event, "Event ID {log_index - 1}: {event} (...)".' },
} as const;
