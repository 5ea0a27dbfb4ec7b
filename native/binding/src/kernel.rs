//! `Kernel`: the JS handle over one engine. Writes resolve once durable
//! (group commit on the kernel's committer thread); reads that are O(1) are
//! sync; search and hashing are AsyncTasks on the libuv pool.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use tokio::sync::oneshot;
use valori_kernel::engine::Engine;
use valori_kernel::node::Node;
use valori_kernel::ops::{Op, Outcome};
use valori_kernel::state::PoolCounts;
use valori_kernel::{fixed, index, KResult, KernelError};

use crate::errors::reject_with;
use crate::hash_task::HashTask;
use crate::search_task::SearchTask;

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
}

#[napi(object)]
pub struct SearchOptions {
    /// Only records whose tag equals this value.
    pub filter_tag: Option<BigInt>,
    /// HNSW beam width for this query.
    pub ef: Option<u32>,
    /// IVF lists probed for this query.
    pub nprobe: Option<u32>,
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

#[napi(object)]
pub struct UpsertResult {
    pub record_id: u32,
    pub document_node_id: u32,
    pub chunk_node_id: u32,
    pub edge_id: u32,
}

fn pool(p: PoolCounts) -> PoolStats {
    PoolStats { live: p.live as f64, used: p.used as f64, slots: p.slots as f64, capacity: p.capacity as f64 }
}

pub(crate) fn count_limit(name: &str, v: f64) -> KResult<u64> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64) {
        return Err(KernelError::InvalidArgument(format!("{name} must be an integer in 0..=4294967295, got {v}")));
    }
    Ok(v as u64)
}

fn tag_of(t: Option<BigInt>) -> KResult<u64> {
    match t {
        None => Ok(0),
        Some(b) => {
            let (neg, v, lossless) = b.get_u64();
            if neg || !lossless {
                return Err(KernelError::InvalidArgument("tag must be an unsigned 64-bit integer".into()));
            }
            Ok(v)
        }
    }
}

fn u8_kind(k: u32) -> KResult<u8> {
    u8::try_from(k).map_err(|_| KernelError::InvalidArgument(format!("kind must be 0..=255, got {k}")))
}

#[napi]
pub struct Kernel {
    pub(crate) engine: Arc<Engine>,
    pub(crate) node: Arc<Node>,
    pub(crate) dim: u32,
    pub(crate) index: String,
    pub(crate) quant: String,
    /// Committed height, published by the committer after each durable group.
    pub(crate) heights: tokio::sync::watch::Sender<u64>,
}

/// Submit to the committer and await durability without blocking a thread.
async fn commit(engine: Arc<Engine>, op: Op) -> KResult<Outcome> {
    let (tx, rx) = oneshot::channel::<KResult<Outcome>>();
    engine.submit(op, Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.await.unwrap_or_else(|_| Err(KernelError::Internal("the committer dropped a request".into())))
}

fn convert(engine: &Engine, values: &[f32], count: usize) -> KResult<Vec<i32>> {
    let db = engine.read();
    db.state.convert(values, count)
}

fn unexpected() -> KernelError {
    KernelError::Internal("unexpected commit outcome".into())
}

impl Kernel {
    /// Run `work` on the tokio runtime (off the JS thread); settle the promise on
    /// the JS thread, rejecting with an Error whose `code` is the kernel's.
    fn promise<'e, T, V, F, M>(&self, env: &'e Env, work: F, map: M) -> Result<PromiseRaw<'e, V>>
    where
        T: Send + 'static,
        V: ToNapiValue,
        F: std::future::Future<Output = KResult<T>> + Send + 'static,
        M: FnOnce(T) -> KResult<V> + 'static,
    {
        env.spawn_future_with_callback(async move { Ok(work.await) }, move |env, r: KResult<T>| {
            match r.and_then(map) {
                Ok(v) => Ok(v),
                Err(e) => Err(reject_with(env, e)),
            }
        })
    }
}

#[napi]
impl Kernel {
    /// In-memory kernel (no persistence); for durable storage use `openKernel`.
    #[napi(constructor)]
    pub fn new(options: KernelOptions) -> Result<Kernel> {
        let mut options = options;
        options.event_log_path = None;
        options.snapshot_path = None;
        options.wal_path = None;
        crate::open_task::build(options).map_err(|e| Error::new(Status::InvalidArg, format!("{}: {}", e.code(), e)))
    }

    /// Pool counts and flags; O(1).
    #[napi]
    pub fn stats(&self) -> KernelStats {
        let c = self.engine.counters();
        KernelStats {
            dim: self.dim,
            records: pool(c.records),
            nodes: pool(c.nodes),
            edges: pool(c.edges),
            height: c.height as f64,
            read_only: self.engine.is_read_only(),
            read_only_reason: self.engine.fault(),
            max_event_bytes: valori_kernel::MAX_EVENT_BYTES as f64,
            index: self.index.clone(),
            quant: self.quant.clone(),
            simd: index::kernel_name().to_string(),
            max_abs_value: fixed::max_abs_value(self.dim as usize),
            persistence: self.node.durable.persistence.as_str().to_string(),
            event_log_height: self.node.durable.log.as_ref().map(|_| c.height as f64),
            vector_bytes: (c.records.used as f64) * (self.dim as f64) * 4.0,
            code_bytes: c.index_memory.codes as f64,
            index_bytes: c.index_memory.structure as f64,
        }
    }

    /// Insert one vector; resolves with its id once durable.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn insert<'e>(&self, env: &'e Env, values: Float32Array, tag: Option<BigInt>) -> Result<PromiseRaw<'e, u32>> {
        let engine = self.engine.clone();
        let values = values.to_vec();
        let tag = tag_of(tag);
        self.promise(env, async move {
            let vector = convert(&engine, &values, 1)?;
            commit(engine, Op::Insert { vector, tag: tag? }).await
        }, |o| match o {
            Outcome::Id(id) => Ok(id),
            _ => Err(unexpected()),
        })
    }

    /// Insert `count` vectors (flat, count × dim) atomically: all or none.
    #[napi(ts_return_type = "Promise<Uint32Array>")]
    pub fn insert_batch<'e>(&self, env: &'e Env, values: Float32Array, count: u32) -> Result<PromiseRaw<'e, Uint32Array>> {
        let engine = self.engine.clone();
        let values = values.to_vec();
        self.promise(env, async move {
            let vectors = if count == 0 {
                if !values.is_empty() {
                    return Err(KernelError::InvalidArgument("count is 0 but values were given".into()));
                }
                Vec::new()
            } else {
                convert(&engine, &values, count as usize)?
            };
            commit(engine, Op::InsertBatch { vectors, count }).await
        }, |o| match o {
            Outcome::Ids { first, count } => Ok(Uint32Array::new((first..first + count).collect())),
            _ => Err(unexpected()),
        })
    }

    /// Hard delete: the id becomes a hole; linked graph nodes, their edges and
    /// the record's `rec:<id>` metadata are removed with it.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_record<'e>(&self, env: &'e Env, id: u32) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        self.promise(env, commit(engine, Op::Delete { id }), |_| Ok(()))
    }

    /// Soft delete: excluded from search, still counted against capacity.
    /// Repeating it is a no-op.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn soft_delete_record<'e>(&self, env: &'e Env, id: u32) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        self.promise(env, commit(engine, Op::SoftDelete { id }), |_| Ok(()))
    }

    /// Create a graph node (kind 0..=255), optionally linked to a record.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn create_node<'e>(&self, env: &'e Env, kind: u32, record_id: Option<u32>) -> Result<PromiseRaw<'e, u32>> {
        let engine = self.engine.clone();
        self.promise(env, async move {
            let kind = u8_kind(kind)?;
            commit(engine, Op::CreateNode { kind, record: record_id }).await
        }, |o| match o {
            Outcome::Id(id) => Ok(id),
            _ => Err(unexpected()),
        })
    }

    /// Create a directed edge between two existing nodes (kind 0..=255).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn create_edge<'e>(&self, env: &'e Env, from: u32, to: u32, kind: u32) -> Result<PromiseRaw<'e, u32>> {
        let engine = self.engine.clone();
        self.promise(env, async move {
            let kind = u8_kind(kind)?;
            commit(engine, Op::CreateEdge { from, to, kind }).await
        }, |o| match o {
            Outcome::Id(id) => Ok(id),
            _ => Err(unexpected()),
        })
    }

    /// Record + document node (new unless attached) + chunk node + edge +
    /// metadata, as one atomic event.
    #[napi(ts_return_type = "Promise<UpsertResult>")]
    pub fn upsert_memory<'e>(
        &self,
        env: &'e Env,
        values: Float32Array,
        attach_to_document_node: Option<u32>,
        metadata_json: Option<String>,
    ) -> Result<PromiseRaw<'e, UpsertResult>> {
        let engine = self.engine.clone();
        let values = values.to_vec();
        self.promise(env, async move {
            let vector = convert(&engine, &values, 1)?;
            let op = Op::Upsert {
                vector,
                tag: 0,
                attach: attach_to_document_node,
                metadata: metadata_json.map(|s| s.into_bytes()),
            };
            commit(engine, op).await
        }, |o| match o {
            Outcome::Upsert { record_id, document_node_id, chunk_node_id, edge_id } => {
                Ok(UpsertResult { record_id, document_node_id, chunk_node_id, edge_id })
            }
            _ => Err(unexpected()),
        })
    }

    /// Store a JSON value (as text) under a key; replaces any earlier value.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_metadata<'e>(&self, env: &'e Env, key: String, json: String) -> Result<PromiseRaw<'e, ()>> {
        let engine = self.engine.clone();
        self.promise(env, commit(engine, Op::SetMetadata { key, value: json.into_bytes() }), |_| Ok(()))
    }

    #[napi]
    pub fn get_metadata(&self, key: String) -> Option<String> {
        let db = self.engine.read();
        db.state.metadata(&key).map(|b| String::from_utf8_lossy(b).into_owned())
    }

    #[napi]
    pub fn get_node(&self, id: u32) -> Option<GraphNode> {
        let db = self.engine.read();
        db.state.node(id).map(|n| GraphNode { kind: n.kind as u32, record_id: n.record })
    }

    /// Outgoing edges, newest first; null for an unknown node.
    #[napi]
    pub fn get_edges(&self, node_id: u32) -> Option<Vec<GraphEdge>> {
        let db = self.engine.read();
        db.state.out_edges(node_id).map(|v| {
            v.into_iter()
                .map(|(id, e)| GraphEdge { edge_id: id, to_node: e.to, kind: e.kind as u32 })
                .collect()
        })
    }

    /// k nearest live records by squared L2, ordered by (score, id); runs on
    /// the libuv pool.
    #[napi(ts_return_type = "Promise<Array<SearchHit>>")]
    pub fn search(&self, query: Float32Array, k: u32, options: Option<SearchOptions>) -> AsyncTask<SearchTask> {
        let (filter_tag, ef, nprobe) = match options {
            Some(o) => (o.filter_tag.map(|t| tag_of(Some(t))), o.ef, o.nprobe),
            None => (None, None, None),
        };
        let params = valori_kernel::index::SearchParams {
            ef: ef.map(|v| v as usize),
            nprobe: nprobe.map(|v| v as usize),
            rerank: None,
        };
        AsyncTask::new(SearchTask { engine: self.engine.clone(), query: query.to_vec(), k, filter_tag, params })
    }

    /// BLAKE3 of the canonical state encoding, 64 lowercase hex characters.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn state_hash(&self) -> AsyncTask<HashTask> {
        AsyncTask::new(HashTask { engine: self.engine.clone() })
    }

    /// Stop accepting writes and wait for queued ones to finish.
    #[napi]
    pub fn close(&self) {
        self.engine.close();
    }
}
