//! `Kernel`: the JS handle over one `Database`. Writes resolve once durable
//! (group commit on the kernel's committer thread); O(1) reads are sync;
//! search and hashing run on the libuv pool. A `Float32Array` moves into
//! the work as it is (no copy); the kernel converts it to Q16.16 there.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::index::SearchParams;
use valori_kernel::state::PoolCounts;
use valori_kernel::{Database, KResult, KernelError};

use crate::call::{pooled, promise, sync};
use crate::types::{
    GraphEdge, GraphNode, KernelOptions, KernelStats, PoolStats, SearchHit, SearchOptions,
    UpsertResult,
};

#[napi]
pub struct Kernel {
    pub(crate) db: Arc<Database>,
}

fn pool(p: PoolCounts) -> PoolStats {
    PoolStats {
        live: p.live as f64,
        used: p.used as f64,
        slots: p.slots as f64,
        capacity: p.capacity as f64,
    }
}

fn tag_of(t: BigInt) -> KResult<u64> {
    let (neg, v, lossless) = t.get_u64();
    if neg || !lossless {
        return Err(KernelError::InvalidArgument(
            "tag must be an unsigned 64-bit integer".into(),
        ));
    }
    Ok(v)
}

#[napi]
impl Kernel {
    /// In-memory kernel (no persistence); for durable storage use `openKernel`.
    #[napi(constructor)]
    pub fn new(env: &Env, options: KernelOptions) -> Result<Kernel> {
        sync(env, "open", || {
            let mut options = options;
            options.event_log_path = None;
            options.snapshot_path = None;
            options.wal_path = None;
            crate::open::open(options)
        })
    }

    /// Pool counts and flags; O(1).
    #[napi]
    pub fn stats(&self, env: &Env) -> Result<KernelStats> {
        sync(env, "stats", || {
            let s = self.db.stats()?;
            Ok(KernelStats {
                dim: s.dim,
                records: pool(s.records),
                nodes: pool(s.nodes),
                edges: pool(s.edges),
                height: s.height as f64,
                read_only: s.read_only,
                read_only_reason: s.read_only_reason,
                max_event_bytes: s.max_event_bytes as f64,
                index: s.index.to_string(),
                quant: s.quant.to_string(),
                simd: s.simd.to_string(),
                max_abs_value: s.max_abs_value,
                persistence: s.persistence.to_string(),
                event_log_height: s.event_log_height.map(|h| h as f64),
                vector_bytes: s.vector_bytes as f64,
                code_bytes: s.code_bytes as f64,
                index_bytes: s.index_bytes as f64,
            })
        })
    }

    /// Insert one vector; resolves with its id once durable.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn insert<'e>(
        &self,
        env: &'e Env,
        values: Float32Array,
        tag: Option<BigInt>,
    ) -> Result<PromiseRaw<'e, u32>> {
        promise(
            env,
            "insert",
            || {
                Ok(self
                    .db
                    .insert(values, tag.map(tag_of).transpose()?.unwrap_or(0)))
            },
            |id| id,
        )
    }

    /// Insert `count` vectors (flat, count × dim) atomically: all or none.
    #[napi(ts_return_type = "Promise<Uint32Array>")]
    pub fn insert_batch<'e>(
        &self,
        env: &'e Env,
        values: Float32Array,
        count: u32,
    ) -> Result<PromiseRaw<'e, Uint32Array>> {
        promise(
            env,
            "insertBatch",
            || Ok(self.db.insert_batch(values, count)),
            |(first, n)| Uint32Array::new((first..first + n).collect()),
        )
    }

    /// Hard delete: the id becomes a hole; linked graph nodes, their edges and
    /// the record's `rec:<id>` metadata are removed with it.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete_record<'e>(&self, env: &'e Env, id: u32) -> Result<PromiseRaw<'e, ()>> {
        promise(
            env,
            "deleteRecord",
            || Ok(self.db.delete_record(id)),
            |()| (),
        )
    }

    /// Soft delete: excluded from search, still counted against capacity.
    /// Repeating it is a no-op.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn soft_delete_record<'e>(&self, env: &'e Env, id: u32) -> Result<PromiseRaw<'e, ()>> {
        promise(
            env,
            "softDeleteRecord",
            || Ok(self.db.soft_delete_record(id)),
            |()| (),
        )
    }

    /// Create a graph node (kind 0..=255), optionally linked to a record.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn create_node<'e>(
        &self,
        env: &'e Env,
        kind: u32,
        record_id: Option<u32>,
    ) -> Result<PromiseRaw<'e, u32>> {
        promise(
            env,
            "createNode",
            || Ok(self.db.create_node(kind, record_id)),
            |id| id,
        )
    }

    /// Create a directed edge between two existing nodes (kind 0..=255).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn create_edge<'e>(
        &self,
        env: &'e Env,
        from: u32,
        to: u32,
        kind: u32,
    ) -> Result<PromiseRaw<'e, u32>> {
        promise(
            env,
            "createEdge",
            || Ok(self.db.create_edge(from, to, kind)),
            |id| id,
        )
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
        promise(
            env,
            "upsertMemory",
            || {
                Ok(self
                    .db
                    .upsert_memory(values, attach_to_document_node, metadata_json))
            },
            |u| UpsertResult {
                record_id: u.record_id,
                document_node_id: u.document_node_id,
                chunk_node_id: u.chunk_node_id,
                edge_id: u.edge_id,
            },
        )
    }

    /// Store a JSON value (as text) under a key; replaces any earlier value.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_metadata<'e>(
        &self,
        env: &'e Env,
        key: String,
        json: String,
    ) -> Result<PromiseRaw<'e, ()>> {
        promise(
            env,
            "setMetadata",
            || Ok(self.db.set_metadata(key, json)),
            |()| (),
        )
    }

    #[napi]
    pub fn get_metadata(&self, env: &Env, key: String) -> Result<Option<String>> {
        sync(env, "getMetadata", || self.db.metadata(&key))
    }

    #[napi]
    pub fn get_node(&self, env: &Env, id: u32) -> Result<Option<GraphNode>> {
        sync(env, "getNode", || {
            Ok(self.db.node(id)?.map(|n| GraphNode {
                kind: n.kind as u32,
                record_id: n.record,
            }))
        })
    }

    /// Outgoing edges, newest first; null for an unknown node.
    #[napi]
    pub fn get_edges(&self, env: &Env, node_id: u32) -> Result<Option<Vec<GraphEdge>>> {
        sync(env, "getEdges", || {
            Ok(self.db.out_edges(node_id)?.map(|v| {
                v.into_iter()
                    .map(|e| GraphEdge {
                        edge_id: e.id,
                        to_node: e.to,
                        kind: e.kind as u32,
                    })
                    .collect()
            }))
        })
    }

    /// k nearest live records by squared L2, ordered by (score, id); runs on
    /// the libuv pool.
    #[napi(ts_return_type = "Promise<Array<SearchHit>>")]
    pub fn search<'e>(
        &self,
        env: &'e Env,
        query: Float32Array,
        k: u32,
        options: Option<SearchOptions>,
    ) -> Result<PromiseRaw<'e, Vec<SearchHit>>> {
        let db = self.db.clone();
        // The query array moves into the work; its options convert there too,
        // so a bad tag rejects like any other failure.
        pooled(
            env,
            "search",
            move || {
                let (tag, ef, nprobe) = match options {
                    Some(o) => (o.filter_tag.map(tag_of).transpose()?, o.ef, o.nprobe),
                    None => (None, None, None),
                };
                let params = SearchParams {
                    ef: ef.map(|v| v as usize),
                    nprobe: nprobe.map(|v| v as usize),
                    rerank: None,
                };
                db.search(&query, k as usize, params, tag)
            },
            |hits| {
                hits.into_iter()
                    .map(|(score, id)| SearchHit { id, score })
                    .collect()
            },
        )
    }

    /// BLAKE3 of the canonical state encoding, 64 lowercase hex characters.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn state_hash<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, String>> {
        let db = self.db.clone();
        pooled(env, "stateHash", move || db.state_proof(), |(_, hash)| hash)
    }

    /// Refuse every later call with code CLOSED and wait for the writes the
    /// committer already holds to finish (a write still being converted is
    /// refused with CLOSED). Closing again is a no-op.
    #[napi]
    pub fn close(&self, env: &Env) -> Result<()> {
        sync(env, "close", || {
            self.db.close();
            Ok(())
        })
    }
}
