// Public types of the client: camelCase on this side; client.ts converts to and from the
// server's snake_case JSON. Units: ids are u32 integers; scores follow the collection's metric
// (squared L2 distance ascending; cosine similarity or dot product descending).

// The brand of the id types below: optional and never present at run time, so a plain number is
// still accepted wherever an id is, but one kind of id is not accepted for another.
declare const idKind: unique symbol;

/**
 * A record's id (u32). Returned by insert, search and the reads; a plain number is accepted too,
 * but not a NodeId or EdgeId (a compile error), which catches swapped arguments.
 */
export type RecordId = number & { readonly [idKind]?: 'record' };
/** A graph node's id (u32): as RecordId, a plain number is accepted, a RecordId or EdgeId is not. */
export type NodeId = number & { readonly [idKind]?: 'node' };
/** A graph edge's id (u32): as RecordId, a plain number is accepted, a RecordId or NodeId is not. */
export type EdgeId = number & { readonly [idKind]?: 'edge' };

/** A vector: a Float32Array or plain numbers. Sent as a JSON array of numbers. */
export type Vector = Float32Array | readonly number[];

/** Any JSON value (metadata is stored and returned as given, keys untouched). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object: a record's metadata, or a metadata filter. */
export type JsonObject = { [key: string]: JsonValue };

/** Payload fields a search can return per hit. */
export type PayloadField = 'metadata' | 'text' | 'vector';

export interface ValoriClientOptions {
  /** Server URL, e.g. `http://127.0.0.1:3000`. A path prefix (behind a proxy) is kept. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Per-attempt limit in milliseconds, covering redirects and reading the body. Default 30000. */
  timeoutMs?: number;
  /** Extra attempts after the first for retryable failures (see transport.ts). Default 3. */
  retries?: number;
  /** First backoff delay in milliseconds; doubles on each retry. Default 100. */
  backoffMs?: number;
  /** Upper bound of one backoff delay in milliseconds. Default 2000. A 503's Retry-After (at most 10 s) is waited even when longer. */
  maxBackoffMs?: number;
  /** Most 307/308 hops followed for one attempt. Default 5. */
  maxRedirects?: number;
  /**
   * Whether the bearer token follows a 307/308 to another origin (scheme + host + port).
   * Default `false`: the token is only re-sent to the same origin, as browsers' fetch and
   * `curl -L` do, so a redirect cannot leak it to a host the caller did not name. A leader on
   * another host/port therefore needs either `true` (any origin), or, better, the list of
   * trusted origins, e.g. `['http://leader:3000']`. An https→http downgrade never gets it.
   */
  followRedirectAuth?: boolean | readonly string[];
  /**
   * Sent as `User-Agent` on every request. Default `valori-node-client/<version>`. Browsers do not
   * let a script set it, so there it is never sent (no error).
   */
  userAgent?: string;
  /**
   * Extra headers on every request (a gateway's API key, a tenant header). Names are
   * case-insensitive; the client's own headers win over an entry of the same name: Authorization
   * when `token` is set, Accept, Content-Type, User-Agent (set it with `userAgent`), and the
   * per-call Idempotency-Key and X-Request-Id. Without `token`, an `authorization` entry is sent
   * as given and, like the token, goes along a redirect only where followRedirectAuth allows.
   */
  headers?: Readonly<Record<string, string>>;
  /** A fetch implementation (tests, instrumentation). Default: the global `fetch`. */
  fetch?: typeof fetch;
}

export interface PoolHealth {
  /** Visible entries (records: not deleted; nodes/edges: existing). */
  live: number;
  /** Entries held against capacity (records: live + soft-deleted). */
  slotsUsed: number;
  capacity: number;
  /** slotsUsed / capacity × 100, one decimal; 0 when capacity is 0. */
  fillPct: number;
}

export interface Health {
  /** `full` comes with HTTP 503, which health() returns rather than throws. */
  status: 'ok' | 'degraded' | 'full';
  version: string;
  /** Configured vector dimension (VALORI_DIM). */
  dim: number;
  /** `BruteForce`, `Hnsw` or `Ivf`. */
  index: string;
  /** `event_log`, `wal`, `snapshot` or `none`. */
  persistence: string;
  records: PoolHealth;
  nodes: PoolHealth;
  edges: PoolHealth;
  /** Committed events; present only when an event log is configured. */
  eventLogHeight?: number;
  /** True after an event-log write or fsync failed: writes answer 503 READ_ONLY until restart. */
  readOnly: boolean;
  /** Why writes are refused, when readOnly. */
  readOnlyReason?: string;
  /** Default quantization: `none`, `scalar` or `product`. */
  quant: string;
  /** Collections on the node, `default` included (servers with collections). */
  collections?: number;
  /** On a Raft cluster member only (docs/CLUSTER.md). */
  cluster?: HealthCluster;
}

/** A cluster member's standing, in `health()`. */
export interface HealthCluster {
  nodeId: number;
  /** `leader`, `follower`, `candidate`, `learner` or `shutdown`. */
  role: string;
  /** The leader this member knows of; null during an election. */
  leader: number | null;
  term: number;
  lastAppliedIndex: number | null;
  /** A leader cut off from its quorum (the node's status is then `degraded`). */
  quorumLost: boolean;
}

/** Options every method takes, for that one call. */
export interface CallOptions {
  /** Aborts the call (and its retries and backoff waits); the call rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Per-attempt limit in milliseconds for this call, instead of the client's `timeoutMs`. */
  timeoutMs?: number;
  /** Sent as `X-Request-Id`, which the server logs and echoes: 1..128 of `A-Z a-z 0-9 . _ : -`. */
  requestId?: string;
}

/** Which collection a call works in. */
export interface CollectionOption extends CallOptions {
  /** A collection created with createCollection. Default: the server's `default` collection. */
  collection?: string;
}

/** Options of every write. */
export interface WriteCallOptions extends CollectionOption {
  /**
   * The `Idempotency-Key` sent with the write (1..255 visible ASCII characters). Default: a new
   * random UUID for each call, reused on that call's retries, so a retry after a lost answer
   * returns the first outcome instead of writing twice. Pass your own to make a retry across
   * calls or processes safe; the same key with a different request is refused (409
   * IDEMPOTENCY_KEY_REUSED).
   */
  idempotencyKey?: string;
}

export interface InsertOptions extends WriteCallOptions {
  /** Record tag, an integer 0..2^53-1, matched by `filterTag` in searches. */
  tag?: number;
  /** The record's metadata: canonical JSON at most 65,536 bytes, 16 levels deep, keys at most 256 bytes. */
  metadata?: JsonObject;
  /** The record's text, at most 65,536 bytes of UTF-8. */
  text?: string;
}

export interface BatchInsertOptions extends WriteCallOptions {
  /** One entry per vector: its metadata, or null for none (limits as for insert). */
  metadata?: readonly (JsonObject | null)[];
  /** One entry per vector: its text, or null for none. */
  texts?: readonly (string | null)[];
}

export interface SearchOptions extends CollectionOption {
  /** Only records carrying this tag. */
  filterTag?: number;
  /** HNSW beam width for this query (ignored by the brute-force index). */
  ef?: number;
  /** IVF lists to probe (ignored by the brute-force index). */
  nprobe?: number;
  /**
   * Only records whose metadata matches (sent as `metadata_filter`), e.g.
   * `{ author: 'Alice', year: { $gte: 2020 } }`; see "Payloads and filters" in the API reference.
   */
  filter?: JsonObject;
  /** Payload fields each hit carries (then k is at most 1,000). */
  include?: readonly PayloadField[];
}

export interface SearchHit {
  id: RecordId;
  /**
   * By the collection's metric: squared L2 distance (0 is an exact match; ascending), cosine
   * similarity (1 is the same direction; descending) or dot product (descending).
   */
  score: number;
  /** With include 'metadata': the record's metadata, or null. */
  metadata?: JsonObject | null;
  /** With include 'text': the record's text, or null. */
  text?: string | null;
  /** With include 'vector': the stored components. */
  vector?: number[];
}

/** Conventional node kinds (any integer 0..255 is accepted). */
export const NodeKind = { Record: 0, Concept: 1, Agent: 2, User: 3, Tool: 4, Document: 5, Chunk: 6 } as const;
/** Conventional edge kinds (any integer 0..255 is accepted). */
export const EdgeKind = { Relation: 0, Follows: 1, InEpisode: 2, ByAgent: 3, Mentions: 4, RefersTo: 5, ParentOf: 6 } as const;

export interface CreateNodeInput {
  /** Integer 0..255; see NodeKind. */
  kind: number;
  /** Links the node to an existing record. */
  recordId?: RecordId | null;
}

export interface GraphNode {
  kind: number;
  /** null when the node is not linked to a record. */
  recordId: RecordId | null;
}

export interface CreateEdgeInput {
  from: NodeId;
  to: NodeId;
  /** Integer 0..255; see EdgeKind. */
  kind: number;
}

export interface GraphEdge {
  edgeId: EdgeId;
  toNode: NodeId;
  kind: number;
}

export interface UpsertVectorInput {
  vector: Vector;
  /** Use this existing node as the document instead of creating one. */
  attachToDocumentNode?: NodeId | null;
  /** Accepted and ignored by the server (compatibility). */
  tags?: readonly string[];
  /** The record's metadata (also read as `rec:<recordId>`): a JSON object, limits as for insert. */
  metadata?: JsonObject;
}

export interface UpsertVectorResult {
  /** `rec:<recordId>`, the metadata key. */
  memoryId: string;
  recordId: RecordId;
  documentNodeId: NodeId;
  chunkNodeId: NodeId;
}

export interface MemoryHit {
  memoryId: string;
  recordId: RecordId;
  /** As SearchHit.score: by the collection's metric. */
  score: number;
  /** What is stored under `memoryId` (the record's metadata), or null. */
  metadata: JsonValue | null;
  /** With include 'text': the record's text, or null. */
  text?: string | null;
  /** With include 'vector': the stored components. */
  vector?: number[];
}

export interface ProofStateOptions extends CallOptions {
  /** Ask for the hash at this committed height (replication) instead of the current state. */
  height?: number;
  /** Ask for this collection's own hash (its config and data only) instead of the whole state's. */
  collection?: string;
}

export interface ProofState {
  kernelVersion: number;
  /** BLAKE3 of the whole kernel state: 64 lowercase hex characters. */
  finalStateHash: string;
  /** 64 hex characters, or null when there is no snapshot. */
  snapshotHash: string | null;
  /** 64 hex characters, or null when there is no WAL. */
  walHash: string | null;
  /** Height the hash belongs to, when the server reports it. */
  height?: number;
  /** Present when the hash is one collection's own. */
  collection?: string;
}

export interface CreateCollectionInput {
  /** 1-64 letters, digits, `_` or `-`, starting with a letter or digit; unique on the node. */
  name: string;
  /** Vector dimension of the collection. */
  dimension: number;
  /**
   * `l2` (default; also `squared_l2`, `l2sq`), `cosine` (vectors are stored normalised; a zero
   * vector is refused) or `dot`. Fixed for the life of the collection.
   */
  metric?: 'l2' | 'squared_l2' | 'l2sq' | 'cosine' | 'dot';
  /** Default: the server's VALORI_INDEX. */
  index?: 'brute' | 'hnsw' | 'ivf';
  /** Default: the server's VALORI_QUANT. */
  quant?: 'none' | 'scalar' | 'product';
  /** The collection's own record cap (live + soft-deleted), besides the node's. */
  maxRecords?: number;
}

export interface CollectionCreated {
  name: string;
  /** Numeric id, in creation order (`default` is 0). */
  id: number;
  created: boolean;
  /** The canonical metric: `squared_l2`, `cosine` or `dot` (absent from servers before payloads). */
  metric?: string;
  /** True when this was a replay of an earlier create with the same idempotency key. */
  deduplicated: boolean;
}

export interface CollectionInfo {
  name: string;
  id: number;
  dimension: number;
  /** `squared_l2`, `cosine` or `dot`. */
  metric: string;
  /** `brute`, `hnsw` or `ivf`. */
  index: string;
  /** `none`, `scalar` or `product`. */
  quant: string;
  /** Live records. */
  recordCount: number;
  /** The collection's own cap, or null when only the node's applies. */
  maxRecords: number | null;
}

export interface EventLogProof {
  kernelVersion: number;
  eventLogHash: string;
  finalStateHash: string;
  snapshotHash: string | null;
  /** Height of the newest snapshot, or null when there is none. */
  snapshotHeight: number | null;
  eventCount: number;
  committedHeight: number;
  /** First event still in the log (earlier ones were trimmed into a snapshot). */
  firstSeq: number;
}

export interface ReplicationState {
  /** `leader` or `follower`. */
  role: string;
  /** `Leading` on a leader; `Synced` or `CatchingUp` on a follower. */
  status: string;
  committedHeight: number;
  dim: number;
  /** First event still in this log; older ones need a snapshot bootstrap. */
  firstSeq: number | null;
  /** Open replication event streams (leader). */
  eventStreams: number;
  // Follower only:
  leaderUrl?: string;
  appliedHeight?: number;
  leaderHeight?: number;
  /** Events the leader has committed and this follower has not applied. */
  lag?: number;
  connected?: boolean;
  /** Last hash comparison with the leader (at, height, result, leaderHash, followerHash, detail). */
  lastCheck?: Record<string, unknown> | null;
  /** Last replication error (at, message). */
  lastError?: Record<string, unknown> | null;
  bootstraps?: number;
  reconnects?: number;
  eventsApplied?: number;
}

export interface SnapshotSaveResult {
  /** Server-side path the snapshot was written to. */
  path: string;
  /** Committed height the snapshot holds. */
  height: number;
  /** Size of the file written, in bytes. */
  bytes: number;
}
