//! The plain objects that cross the boundary (napi `object`s), each field
//! documented with its unit, range and default.

use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(object)]
pub struct KernelOptions {
    /// Vector dimension (1..=65536).
    pub dim: u32,
    /// Records counted against capacity (live + soft-deleted) at most.
    pub max_records: f64,
    /// Live graph nodes at most (0 = graph nodes disabled).
    pub max_nodes: f64,
    /// Live graph edges at most.
    pub max_edges: f64,
    /// Metadata entries at most (default 100000).
    pub max_metadata_entries: Option<f64>,
    /// Total metadata key + value bytes at most (default 268435456 = 256 MiB).
    pub max_metadata_bytes: Option<f64>,
    /// brute | hnsw | ivf
    pub index: Option<String>,
    /// none | scalar | product
    pub quant: Option<String>,
    /// HNSW links per node (layer 0 keeps 2·M), 2..=128; larger values are
    /// clamped to 128. Default 16.
    pub hnsw_m: Option<u32>,
    /// HNSW candidate list size while building. Default 100.
    pub hnsw_ef_construction: Option<u32>,
    /// HNSW candidate list size per query (raised to k). Default 100.
    pub hnsw_ef_search: Option<u32>,
    /// IVF partitions; 0 = automatic (≈ sqrt(N)). Default 0.
    pub ivf_nlist: Option<u32>,
    /// IVF partitions probed per query; 0 = max(1, nlist / 16). Default 8.
    pub ivf_nprobe: Option<u32>,
    /// Event log file (turns on durable writes).
    pub event_log_path: Option<String>,
    /// Snapshot file.
    pub snapshot_path: Option<String>,
    /// Legacy WAL file (ignored when eventLogPath is set).
    pub wal_path: Option<String>,
    /// Cut the log at mid-log corruption instead of refusing to open.
    pub accept_truncation: Option<bool>,
    /// Named snapshots kept at most in `<snapshot dir>/snapshots/`. Default 16.
    pub max_named_snapshots: Option<u32>,
    /// Largest snapshot in bytes accepted for restore or read by name.
    /// Default: no limit (the shell always passes its configured value).
    pub max_snapshot_bytes: Option<f64>,
    /// Threads that build indexes (HNSW batches, rebuilds, IVF/PQ training),
    /// 0..=1024; 0 = every available core (the default). Process-wide: the
    /// last kernel opened sets it. Never changes an index or a result.
    pub index_threads: Option<u32>,
}

#[napi(object)]
pub struct PoolStats {
    /// Visible entries.
    pub live: f64,
    /// Entries counted against capacity (records: live + soft-deleted).
    pub used: f64,
    /// Ids ever handed out.
    pub slots: f64,
    pub capacity: f64,
}

#[napi(object)]
pub struct KernelStats {
    pub dim: u32,
    pub records: PoolStats,
    pub nodes: PoolStats,
    pub edges: PoolStats,
    /// Events applied so far.
    pub height: f64,
    /// True after a failed write/fsync or a committer panic (a follower is
    /// not read-only here: the shell refuses its client writes).
    pub read_only: bool,
    /// Why writes are refused after a failure (absent while healthy).
    pub read_only_reason: Option<String>,
    /// Largest encoded event one write may produce, in bytes (64 MiB).
    pub max_event_bytes: f64,
    pub index: String,
    pub quant: String,
    /// Distance kernel in use (avx2 | scalar).
    pub simd: String,
    /// Largest accepted |component| at this dimension, in real units.
    pub max_abs_value: f64,
    /// none | snapshot | event_log | wal
    pub persistence: String,
    /// Height of the durable log (absent without a log).
    pub event_log_height: Option<f64>,
    /// Bytes used by vectors (Q16.16; live and soft-deleted records only),
    /// quantized codes and index structures.
    pub vector_bytes: f64,
    pub code_bytes: f64,
    pub index_bytes: f64,
    /// Live collections (default included).
    pub collections: u32,
}

#[napi(object)]
pub struct SearchOptions {
    /// Only records whose tag equals this value.
    pub filter_tag: Option<BigInt>,
    /// HNSW beam width for this query.
    pub ef: Option<u32>,
    /// IVF lists probed for this query.
    pub nprobe: Option<u32>,
    /// A metadata filter as JSON text (docs/api-reference.md, "Payloads and
    /// filters"); the kernel parses and checks it.
    pub filter: Option<String>,
    /// Return each hit's metadata (canonical JSON text).
    pub with_metadata: Option<bool>,
    /// Return each hit's text.
    pub with_text: Option<bool>,
    /// Return each hit's stored vector as client floats.
    pub with_vector: Option<bool>,
}

/// The route and limits of a `searchJson` call (the values the host's
/// schema validator and body reader use for the same route).
#[napi(object)]
pub struct SearchRouteOptions {
    /// /v1/search rather than /search.
    pub v1: bool,
    /// The one collection the caller's key may use, when it is restricted.
    pub only_collection: Option<String>,
    pub max_k: u32,
    pub max_ef: u32,
    pub max_nprobe: u32,
    pub max_response_bytes: f64,
    /// This node is a follower: `consistency: "linearizable"` is refused.
    pub refuse_linearizable: bool,
    pub max_containers: f64,
    pub max_elements: f64,
}

/// The limits of a `parseBatchJson` call (VALORI_MAX_BATCH_ROWS and the
/// batch body's structure caps, as the host's reader uses them).
#[napi(object)]
pub struct BatchRouteOptions {
    pub max_rows: u32,
    pub max_containers: f64,
    pub max_elements: f64,
}

/// A batch insert body the kernel parsed: one row-major Float32Array.
#[napi(object)]
pub struct ParsedBatch {
    pub collection: String,
    pub rows: u32,
    pub vectors: Float32Array,
}

/// The vector field of a `parseVectorJson` call and the body's structure caps.
#[napi(object)]
pub struct VectorRouteOptions {
    pub field: String,
    pub max_containers: f64,
    pub max_elements: f64,
}

/// A body with one vector the kernel parsed: the vector, the collection the
/// body names, and the rest of the body as JSON text (the field as `[]`).
#[napi(object)]
pub struct ParsedVector {
    pub collection: String,
    pub vector: Float32Array,
    pub rest: String,
}

/// A record's payload at insert: metadata as JSON text of an object, and text.
#[napi(object)]
pub struct RecordPayload {
    pub metadata: Option<String>,
    pub text: Option<String>,
}

/// Payloads of a batch insert: each list absent or one entry per vector.
#[napi(object)]
pub struct BatchPayloads {
    pub metadata: Option<Vec<Option<String>>>,
    pub texts: Option<Vec<Option<String>>>,
}

#[napi(object)]
pub struct GraphNode {
    pub kind: u32,
    pub record_id: Option<u32>,
}

#[napi(object)]
pub struct GraphEdge {
    pub edge_id: u32,
    pub to_node: u32,
    pub kind: u32,
}

/// Idempotency keys of one write.
#[napi(object)]
pub struct WriteOptions {
    /// Exactly 16 bytes. A retry with the same key and the same request gets
    /// the first outcome (`deduplicated: true`) and writes nothing; the same
    /// key with another request is refused with IDEMPOTENCY_KEY_REUSED.
    pub idempotency_key: Option<Buffer>,
    /// insertBatch only: count × 17 bytes, per item a flag byte (0 none,
    /// 1 key) and 16 key bytes.
    pub item_keys: Option<Buffer>,
}

#[napi(object)]
pub struct WriteResult {
    /// insert [id]; insertBatch [ids]; createNode [nodeId]; createEdge
    /// [edgeId]; upsertMemory [recordId, documentNodeId, chunkNodeId,
    /// edgeId]; createCollection [collectionId]; others [].
    pub ids: Uint32Array,
    /// The event's sequence number (the first outcome's when deduplicated).
    pub height: f64,
    /// True when an idempotency key matched an earlier write (nothing written).
    pub deduplicated: bool,
    /// Microseconds from submission until the committer took the write's group.
    pub queued_us: f64,
    /// Microseconds the write's group spent in apply (write-lock wait included).
    pub apply_us: f64,
    /// Microseconds of the group's event-log append and fdatasync; absent when
    /// nothing was appended (no event log, or no event recorded).
    pub fsync_us: Option<f64>,
}

#[napi(object)]
pub struct CollectionSpec {
    /// 1..=64 characters of A-Z a-z 0-9 _ -, not starting with - or _.
    pub name: String,
    /// Vector dimension, 1..=65536.
    pub dim: u32,
    /// squared_l2 (default), or its aliases l2, l2sq.
    pub metric: Option<String>,
    /// brute | hnsw | ivf (default: the node's VALORI_INDEX).
    pub index: Option<String>,
    /// none | scalar | product (default: the node's VALORI_QUANT).
    pub quant: Option<String>,
    /// Records (live + soft-deleted) this collection may hold at most.
    pub max_records: Option<f64>,
    /// Omitted index parameters take the node's values.
    pub hnsw_m: Option<u32>,
    pub hnsw_ef_construction: Option<u32>,
    pub hnsw_ef_search: Option<u32>,
    pub ivf_nlist: Option<u32>,
    pub ivf_nprobe: Option<u32>,
}

#[napi(object)]
pub struct CollectionInfo {
    pub id: u32,
    pub name: String,
    pub dim: u32,
    pub metric: String,
    pub index: String,
    pub quant: String,
    pub max_records: Option<f64>,
    pub records: PoolStats,
    pub nodes: PoolStats,
    pub edges: PoolStats,
    /// Q16.16 vectors of live and soft-deleted records, in bytes.
    pub vector_bytes: f64,
    /// Index structures and quantized codes, in bytes.
    pub index_bytes: f64,
}

#[napi(object)]
pub struct SearchHit {
    /// Record id.
    pub id: u32,
    /// By the collection's metric: squared L2 distance in real units
    /// (ascending), cosine similarity or dot product (descending).
    pub score: f64,
    /// Canonical JSON text of the record's metadata, when asked and present.
    pub metadata: Option<String>,
    /// The record's text, when asked and present.
    pub text: Option<String>,
    /// The stored vector as client floats, when asked.
    pub vector: Option<Vec<f64>>,
}

#[napi(object)]
pub struct SnapshotResult {
    /// Event height the snapshot covers.
    pub height: f64,
    /// File size in bytes.
    pub bytes: f64,
    /// The snapshot's file name (never a server path).
    pub path: String,
    /// Milliseconds writes were held back while the state was encoded.
    pub stall_ms: f64,
    pub total_ms: f64,
}

#[napi(object)]
pub struct LogProofResult {
    /// BLAKE3 chain over every event, lowercase hex.
    pub event_log_hash: String,
    /// Sequence number of the last durable event.
    pub height: f64,
    /// First sequence number still in the log file (after trims).
    pub first_seq: f64,
    /// Events in the log file.
    pub event_count: f64,
    pub bytes: f64,
}

#[napi(object)]
pub struct RecoveryInfo {
    /// event_log | wal | snapshot | fresh
    pub source: String,
    pub snapshot_height: Option<f64>,
    pub replayed: f64,
    pub height: f64,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub seconds: f64,
}

#[napi(object)]
pub struct LogEvent {
    /// Sequence number (the event's height).
    pub seq: f64,
    /// Encoded event (docs/EVENT_LOG_FORMAT.md, "Event payloads").
    pub payload: Buffer,
}

#[napi(object)]
pub struct StateProof {
    /// Height the hash was taken at.
    pub height: f64,
    /// BLAKE3 of the canonical state, lowercase hex.
    pub hash: String,
}
