// Response bodies as JSON Schema (OpenAPI 3.0 flavour: `nullable`), for the OpenAPI document
// (src/openapi.ts) only; routes build their replies directly. Objects close with
// additionalProperties: false so that the API reference's examples cannot carry a key the server
// never sends (__test__/openapi.test.ts validates them). Request schemas live in schemas.ts.
import { COLLECTION_NAME_PATTERN } from '../api/collection-name';
import { STATUS_BY_CODE } from './errors';
import { count, object, success, u32, u8 } from './schema-parts';
import { V1_RESPONSE_SCHEMAS } from './v1-response-schemas';

const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'BLAKE3 hash, 64 lowercase hex characters.' } as const;
const score = {
  type: 'number',
  description: "By the collection's metric: l2, the squared L2 distance in real units (exact; 0 for an identical vector; ascending); cosine, the cosine similarity 1 - d/2 (descending); dot, the dot product (descending).",
} as const;
/** Payload fields of a hit, present when the search asked for them (include, with_metadata). */
const hitPayload = {
  metadata: { type: 'object', nullable: true, description: 'With include "metadata" (or with_metadata): the record\'s metadata, or null.' },
  text: { type: 'string', nullable: true, description: 'With include "text": the record\'s text, or null.' },
  vector: { type: 'array', items: { type: 'number' }, description: 'With include "vector": the stored components.' },
} as const;
const metric = { type: 'string', enum: ['squared_l2', 'cosine', 'dot'], description: 'The canonical metric name (l2 and l2sq are squared_l2).' } as const;
const memoryId = { type: 'string', pattern: '^rec:[0-9]+$', description: 'rec:<record_id>, the metadata key of the record.' } as const;
const anyJson = { description: 'Any JSON value; null when nothing is stored.' } as const;
/** On writes that carried an idempotency key: true when an earlier write with it did the work. */
const deduplicated = { type: 'boolean', description: 'Only when the request carried an idempotency key: true when an earlier request with that key already did this (nothing was written; the ids are the first answer\'s).' } as const;
const keyedOptional = ['deduplicated'];
const collectionName = { type: 'string', pattern: COLLECTION_NAME_PATTERN } as const;

const pool = object({
  live: { ...u32, description: 'Visible entries.' },
  slots_used: { ...u32, description: 'Entries held against capacity (records: live + soft-deleted).' },
  capacity: { ...u32, description: 'VALORI_MAX_RECORDS, VALORI_MAX_NODES or VALORI_MAX_EDGES.' },
  fill_pct: { type: 'number', minimum: 0, maximum: 100, description: 'slots_used / capacity x 100, one decimal; 0 when capacity is 0.' },
});

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` }) as const;

/** components.schemas of the OpenAPI document. */
export const RESPONSE_SCHEMAS = {
  Error: {
    ...object({
      error: { type: 'string', minLength: 1, description: 'For people; may change between releases.' },
      code: { type: 'string', enum: Object.keys(STATUS_BY_CODE), description: 'Stable; branch on this.' },
    }),
    description: 'Every error, whatever produced it.',
  },
  Pool: pool,
  Health: object(
    {
      status: { type: 'string', enum: ['ok', 'degraded', 'full'], description: 'full (HTTP 503) when a pool is at capacity; degraded at 90 %, when read-only, or on a cluster leader cut off from its quorum.' },
      version: { type: 'string' },
      dim: { ...u32, minimum: 1 },
      index: { type: 'string', enum: ['BruteForce', 'Hnsw', 'Ivf'] },
      persistence: { type: 'string', enum: ['none', 'event_log', 'wal', 'snapshot', 'raft'], description: 'raft: a cluster member, whose Raft log is its durable log.' },
      cluster: {
        ...object({
          node_id: count,
          role: { type: 'string' },
          leader: { ...count, nullable: true },
          term: count,
          last_applied_index: { ...count, nullable: true },
          quorum_lost: { type: 'boolean', description: 'true on a leader that has not heard from a quorum within its lease (1.5 x VALORI_RAFT_ELECTION_TIMEOUT_MS): cut off from the others, its writes cannot commit; status is then degraded.' },
        }),
        description: 'Cluster mode only: this member\'s Raft role, the leader it knows of, its term and applied index.',
      },
      records: ref('Pool'),
      nodes: ref('Pool'),
      edges: ref('Pool'),
      event_log_height: { ...count, description: 'Committed events; only when an event log is configured.' },
      read_only: { type: 'boolean', description: 'true after an event-log write or fsync failed: writes answer 503 READ_ONLY until restart.' },
      read_only_reason: { type: 'string', description: 'Why writes are refused after a fault (failed event-log write, committer panic); only when there is one.' },
      quant: { type: 'string', enum: ['none', 'scalar', 'product'] },
      collections: { ...count, minimum: 1, description: 'Collections on this node, default included.' },
    },
    ['event_log_height', 'read_only_reason', 'cluster'],
  ),
  HealthRecovering: {
    ...object({
      status: { type: 'string', enum: ['recovering'] },
      version: { type: 'string' },
      recovering_for_ms: { ...count, description: 'Milliseconds since recovery began.' },
    }),
    description: 'GET /health (503) while the node recovers its state at start-up; the full body follows once it is done.',
  },
  ClusterStatus: object({
    node_id: count,
    current_leader: { ...count, nullable: true, description: 'The leader this node knows of, or null during an election.' },
    is_leader: { type: 'boolean' },
    role: { type: 'string', enum: ['leader', 'follower', 'candidate', 'learner', 'shutdown'] },
    term: count,
    last_log_index: { ...count, nullable: true, description: 'Raft index of the last entry in this node\'s log.' },
    last_applied_index: { ...count, nullable: true, description: 'Raft index of the last entry applied to the state here.' },
    snapshot_index: { ...count, nullable: true },
    purged_index: { ...count, nullable: true },
    height: { ...count, description: 'Events applied to the state (the height /v1/proof/state hashes at); blank and membership entries are Raft entries but not events.' },
    elections: { ...count, description: 'Terms begun since this node started.' },
    quorum_ack_age_ms: { ...count, nullable: true, description: 'On the leader: milliseconds since a quorum last acknowledged it; null on other members and before a quorum first answers.' },
    quorum_lost: { type: 'boolean', description: 'true on a leader that has not heard from a quorum within its lease (1.5 x VALORI_RAFT_ELECTION_TIMEOUT_MS): it may have been replaced, and its writes cannot commit.' },
    members: {
      type: 'array',
      items: object({ id: count, raft_addr: { type: 'string' }, api_addr: { type: 'string' }, voter: { type: 'boolean' } }),
    },
    joining: { type: 'array', items: object({ id: count, state: { type: 'string' } }), description: 'Nodes added as learners that are not voters yet, with their state.' },
  }),
  ClusterHealth: object({
    status: { type: 'string', enum: ['ok', 'no_leader', 'no_quorum'], description: 'ok (200): a leader is known and, on the leader, a quorum acknowledges it; no_leader (503): an election is under way or the cluster lost quorum; no_quorum (503): this node leads but is cut off from its quorum.' },
    leader: { ...count, nullable: true },
  }),
  ClusterRole: object({ role: { type: 'string', enum: ['leader', 'follower', 'candidate', 'learner', 'shutdown'] }, node_id: count, current_leader: { ...count, nullable: true } }),
  ClusterChange: object({ ok: success, node_id: count, state: { type: 'string', enum: ['learner', 'removed'], description: 'learner: added, becomes a voter once caught up (see joining in /v1/cluster/status).' } }),
  Probe: {
    ...object({ status: { type: 'string', enum: ['ok', 'unavailable'], description: 'ok (200) or unavailable (503); nothing else is revealed, so the probes can stay open.' } }),
    description: 'Body of GET /livez and GET /readyz.',
  },
  ProofState: object(
    {
      kernel_version: { type: 'integer', minimum: 1 },
      snapshot_hash: { ...hex64, nullable: true },
      wal_hash: { ...hex64, nullable: true },
      final_state_hash: hex64,
      height: { ...count, description: 'The height final_state_hash was taken at.' },
      collection: { type: 'string', description: 'With ?collection=: final_state_hash is that collection\'s own hash (its config and data only).' },
    },
    ['height', 'collection'],
  ),
  CollectionCreated: object({ name: collectionName, id: { ...u32, description: 'Numeric id, in creation order (default is 0).' }, created: success, metric, deduplicated }, keyedOptional),
  CollectionList: object({
    collections: {
      type: 'array',
      description: 'In id order.',
      items: object({
        name: collectionName,
        id: u32,
        dimension: { ...u32, minimum: 1 },
        metric,
        index: { type: 'string', enum: ['brute', 'hnsw', 'ivf'] },
        quant: { type: 'string', enum: ['none', 'scalar', 'product'] },
        record_count: { ...count, description: 'Live records.' },
        max_records: { ...u32, nullable: true, description: "The collection's own cap; null: only the node's VALORI_MAX_RECORDS." },
      }),
    },
  }),
  CollectionDropped: object({ success, name: collectionName, deduplicated }, keyedOptional),
  InsertRecordResult: object({ id: u32, deduplicated }, keyedOptional),
  BatchInsertResult: object({ ids: { type: 'array', items: u32, description: 'Consecutive ids, in batch order.' }, deduplicated }, keyedOptional),
  SearchResult: object({
    results: { type: 'array', items: object({ id: u32, score, ...hitPayload }, Object.keys(hitPayload)), description: 'Best first by the metric (l2: score ascending; cosine, dot: descending), ties by id.' },
  }),
  Success: object({ success, deduplicated }, keyedOptional),
  CreateNodeResult: object({ node_id: u32, deduplicated }, keyedOptional),
  GraphNode: object({ kind: u8, record_id: { ...u32, nullable: true } }),
  CreateEdgeResult: object({ edge_id: u32, deduplicated }, keyedOptional),
  EdgeList: object({ edges: { type: 'array', items: object({ edge_id: u32, to_node: u32, kind: u8 }), description: 'Outgoing edges, newest first.' } }),
  UpsertVectorResult: object({ memory_id: memoryId, record_id: u32, document_node_id: u32, chunk_node_id: u32, deduplicated }, keyedOptional),
  MemorySearchResult: object({
    results: {
      type: 'array',
      items: object({ memory_id: memoryId, record_id: u32, score, metadata: anyJson, text: hitPayload.text, vector: hitPayload.vector }, ['text', 'vector']),
      description: 'As /search; metadata always (the record\'s metadata, or null), text and vector when asked.',
    },
  }),
  MetaGetResult: object({ target_id: { type: 'string' }, metadata: anyJson }),
  SnapshotSaveResult: object({ success, path: { type: 'string' }, height: count, bytes: count }),
  SnapshotRestoreResult: object({ success, height: count }),
  EventLogProof: object({
    kernel_version: { type: 'integer', minimum: 1 },
    event_log_hash: hex64,
    final_state_hash: hex64,
    snapshot_hash: { ...hex64, nullable: true },
    snapshot_height: { ...count, nullable: true },
    event_count: count,
    committed_height: count,
    first_seq: count,
  }),
  EventLogTrimResult: object({ success, base_seq: count, first_seq: count, committed_height: count }),
  IndexBuildResult: object({ success, index: { type: 'string' }, quant: { type: 'string' }, rebuilt: { type: 'boolean' }, records: count, seconds: { type: 'number' } }),
  ReplicationState: object(
    {
      role: { type: 'string', enum: ['leader', 'follower', 'cluster-member'], description: 'cluster-member: a Raft member (its role in the cluster is GET /v1/cluster/role); it serves no event stream yet.' },
      status: { type: 'string', description: 'Leading on a leader; Synced or CatchingUp on a follower.' },
      committed_height: count,
      dim: { ...u32, minimum: 1 },
      first_seq: { ...count, nullable: true, description: 'First event still in this log; older ones need a snapshot bootstrap.' },
      event_streams: { ...count, description: 'Open GET /v1/replication/events streams.' },
      // Follower only:
      leader_url: { type: 'string' },
      applied_height: count,
      leader_height: count,
      lag: { ...count, description: 'Events the leader has committed and this follower has not applied.' },
      connected: { type: 'boolean' },
      last_check: { type: 'object', nullable: true, description: 'Last hash comparison with the leader at one height (at, height, result, leader_hash, follower_hash, detail).' },
      last_error: { type: 'object', nullable: true, description: 'Last replication error (at, message).' },
      bootstraps: count,
      reconnects: count,
      events_applied: count,
    },
    ['leader_url', 'applied_height', 'leader_height', 'lag', 'connected', 'last_check', 'last_error', 'bootstraps', 'reconnects', 'events_applied'],
  ),
  // valori-node 0.3.1's /v1 routes (src/http/v1-response-schemas.ts).
  ...V1_RESPONSE_SCHEMAS,
} as const;

export type ResponseSchemaName = keyof typeof RESPONSE_SCHEMAS;
