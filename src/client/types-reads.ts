// Types of the /v1 reads (records, graph pages and traversals, timeline) and of the maintenance
// calls (event-log trim, index build). camelCase here; client.ts maps the server's snake_case.
import type { CollectionOption, EdgeId, JsonObject, NodeId, RecordId } from './types.js';

export interface RecordView {
  id: RecordId;
  /** The stored components (Q16.16 inside, so within 2^-16 of what was written). */
  vector: number[];
  /** The record's metadata (keys sorted), or null when it has none. */
  metadata: JsonObject | null;
  /** The record's text, or null when it has none (null from servers before payloads). */
  text: string | null;
  /** The tag given at insert (0 when none). */
  tag: number;
}

export interface ListNodesOptions extends CollectionOption {
  /** Only nodes of this kind (0..255). */
  kind?: number;
  /** Matching nodes to skip. Default 0. */
  offset?: number;
  /** Nodes per page, 1..10,000. Default 1,000. */
  limit?: number;
}

export interface NodeEntry {
  nodeId: NodeId;
  kind: number;
  recordId: RecordId | null;
  /** The collection's numeric id. */
  namespaceId: number;
}

export interface NodePage {
  /** Live nodes in id order. */
  nodes: NodeEntry[];
  /** Matching live nodes in all pages. */
  count: number;
}

export interface GraphQueryOptions extends CollectionOption {
  /** Edges to follow. Default `outgoing`. */
  direction?: 'outgoing' | 'incoming' | 'both';
  /** Only follow edges of this kind. */
  edgeKind?: number;
  /** Only report nodes of this kind (others are still traversed). */
  nodeKind?: number;
  /** Most hops, 1..32. Default 2. */
  depth?: number;
  /** Most hits, 1..10,000. Default 100. */
  limit?: number;
}

export interface GraphQueryHit {
  nodeId: NodeId;
  kind: number;
  recordId: RecordId | null;
  /** Hops from the start node (1 or more). */
  depth: number;
}

export interface GraphQueryResult {
  /** By depth, then node id. The start node is not a hit. */
  hits: GraphQueryHit[];
  /** Hits in this answer. */
  count: number;
}

export interface SubgraphOptions extends CollectionOption {
  /** Hops from the root, 0..32. Default 2. */
  depth?: number;
  /** Most nodes in the answer, 1..10,000. Default 1,000. */
  limit?: number;
}

export interface Subgraph {
  /** In id order; `record` is the linked record id or null. */
  nodes: { id: NodeId; kind: number; record: RecordId | null }[];
  /** In id order. */
  edges: { id: EdgeId; from: NodeId; to: NodeId; kind: number }[];
}

export interface TimelineOptions extends CollectionOption {
  /** First log index wanted. Default: the first in the log. */
  fromIndex?: number;
  /** Events per page, 1..10,000. Default 100. */
  limit?: number;
  /** Only events committed at or after this time (ISO-8601 string or Date). */
  from?: string | Date;
  /** Only events committed at or before this time (ISO-8601 string or Date). */
  to?: string | Date;
}

export interface TimelineEvent {
  logIndex: number;
  /** `InsertRecord`, `InsertBatch`, `DeleteRecord`, `CreateNode`, `SetMetadata`, ... */
  eventType: string;
  /** The collection the event wrote to. */
  collection: string | null;
  /** The record it wrote (a batch: its first id). */
  recordId?: RecordId;
  nodeId?: NodeId;
  edgeId?: EdgeId;
  /** Commit time, unix seconds (absent for events logged before commit times were recorded). */
  timestampUnix?: number;
  /** The same commit time, ISO-8601 UTC. */
  timestampIso?: string;
}

export interface TimelinePage {
  /** Ascending logIndex. */
  events: TimelineEvent[];
  /** Events in the log (of the collection, when given), whatever the filters say. */
  total: number;
  /** Present when this page is full: `fromIndex` for the next page. */
  nextFromIndex?: number;
  /** `from`, in unix seconds (when given). */
  fromUnix?: number;
  /** `to`, in unix seconds (when given). */
  toUnix?: number;
}

export interface EventLogTrimResult {
  /** Sequence number the newest snapshot covers; the log now starts after it. */
  baseSeq: number;
  /** First event still in the log. */
  firstSeq: number;
  committedHeight: number;
}

export interface IndexBuildResult {
  /** `brute`, `hnsw` or `ivf`. */
  index: string;
  /** `none`, `scalar` or `product`. */
  quant: string;
  /** False when the index kind has nothing to build (brute force). */
  rebuilt: boolean;
  /** Records indexed. */
  records: number;
  /** Time the build took, in seconds. */
  seconds: number;
}
