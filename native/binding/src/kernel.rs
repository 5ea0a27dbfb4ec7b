//! `Kernel`: the JS handle over one `Database`. Writes resolve once durable
//! (group commit on the kernel's committer thread); O(1) reads are sync;
//! search and hashing run on the libuv pool. A `Float32Array` moves into
//! the work as it is (no copy); the kernel converts it to Q16.16 there.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::database::{SearchRequest, With};
use valori_kernel::index::SearchParams;
use valori_kernel::state::PoolCounts;
use valori_kernel::wire::{
    parse_batch_json, parse_vector_json, search_json, BatchRoute, SearchRoute, VectorRoute,
};
use valori_kernel::{Database, KResult, KernelError};

use crate::call::{pooled, sync};
use crate::types::{
    BatchRouteOptions, GraphEdge, GraphNode, KernelOptions, KernelStats, ParsedBatch, ParsedVector,
    PoolStats, SearchHit, SearchOptions, SearchRouteOptions, VectorRouteOptions,
};

#[napi]
pub struct Kernel {
    pub(crate) db: Arc<Database>,
}

pub(crate) fn pool(p: PoolCounts) -> PoolStats {
    PoolStats {
        live: p.live as f64,
        used: p.used as f64,
        slots: p.slots as f64,
        capacity: p.capacity as f64,
    }
}

pub(crate) fn tag_of(t: BigInt) -> KResult<u64> {
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
                collections: s.collections,
            })
        })
    }

    #[napi]
    pub fn get_metadata(
        &self,
        env: &Env,
        collection: String,
        key: String,
    ) -> Result<Option<String>> {
        sync(env, "getMetadata", || self.db.metadata(&collection, &key))
    }

    #[napi]
    pub fn get_node(&self, env: &Env, collection: String, id: u32) -> Result<Option<GraphNode>> {
        sync(env, "getNode", || {
            Ok(self.db.node(&collection, id)?.map(|n| GraphNode {
                kind: n.kind as u32,
                record_id: n.record,
            }))
        })
    }

    /// Outgoing edges, newest first; null for an unknown node.
    #[napi]
    pub fn get_edges(
        &self,
        env: &Env,
        collection: String,
        node_id: u32,
    ) -> Result<Option<Vec<GraphEdge>>> {
        sync(env, "getEdges", || {
            Ok(self.db.out_edges(&collection, node_id)?.map(|v| {
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

    /// The k best live records of `collection` by its metric, best first, ties
    /// by id, passing the tag and metadata filters; runs on the libuv pool.
    #[napi(ts_return_type = "Promise<Array<SearchHit>>")]
    pub fn search<'e>(
        &self,
        env: &'e Env,
        collection: String,
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
                let mut req = SearchRequest::default();
                if let Some(o) = options {
                    req.tag = o.filter_tag.map(tag_of).transpose()?;
                    req.params = SearchParams {
                        ef: o.ef.map(|v| v as usize),
                        nprobe: o.nprobe.map(|v| v as usize),
                        rerank: None,
                    };
                    req.filter = o.filter;
                    req.with = With {
                        metadata: o.with_metadata.unwrap_or(false),
                        text: o.with_text.unwrap_or(false),
                        vector: o.with_vector.unwrap_or(false),
                    };
                }
                db.query(&collection, &query, k as usize, &req)
            },
            |hits| {
                hits.into_iter()
                    .map(|h| SearchHit {
                        id: h.id,
                        score: h.score,
                        metadata: h.metadata,
                        text: h.text,
                        vector: h.vector.map(|v| v.into_iter().map(f64::from).collect()),
                    })
                    .collect()
            },
        )
    }

    /// POST /search or /v1/search from its raw JSON body, parsed, checked,
    /// searched and answered on the libuv pool: the answer's bytes, or null
    /// when the request needs the host's general path (anything unusual,
    /// every error included: see `valori_kernel::wire`).
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn search_json<'e>(
        &self,
        env: &'e Env,
        body: Buffer,
        route: SearchRouteOptions,
    ) -> Result<PromiseRaw<'e, Option<Buffer>>> {
        let db = self.db.clone();
        let route = SearchRoute {
            v1: route.v1,
            only_collection: route.only_collection,
            max_k: route.max_k as u64,
            max_ef: route.max_ef as u64,
            max_nprobe: route.max_nprobe as u64,
            max_response_bytes: route.max_response_bytes.max(0.0) as u64,
            refuse_linearizable: route.refuse_linearizable,
            max_containers: route.max_containers.max(0.0) as u64,
            max_elements: route.max_elements.max(0.0) as u64,
        };
        pooled(
            env,
            "searchJson",
            move || {
                db.check_open()?;
                Ok(search_json(&db, &body, &route))
            },
            |answer| answer.map(Buffer::from),
        )
    }

    /// A batch insert's raw JSON body parsed and checked on the libuv pool:
    /// its collection, row count and row-major vectors, or null when the
    /// body needs the host's general path (see `valori_kernel::wire`).
    #[napi(ts_return_type = "Promise<ParsedBatch | null>")]
    pub fn parse_batch_json<'e>(
        &self,
        env: &'e Env,
        body: Buffer,
        route: BatchRouteOptions,
    ) -> Result<PromiseRaw<'e, Option<ParsedBatch>>> {
        let db = self.db.clone();
        let route = BatchRoute {
            max_rows: route.max_rows as u64,
            max_containers: route.max_containers.max(0.0) as u64,
            max_elements: route.max_elements.max(0.0) as u64,
        };
        pooled(
            env,
            "parseBatchJson",
            move || {
                db.check_open()?;
                Ok(parse_batch_json(&db, &body, &route))
            },
            |parsed| {
                parsed.map(|p| ParsedBatch {
                    collection: p.collection,
                    rows: p.rows as u32,
                    vectors: Float32Array::new(p.vectors),
                })
            },
        )
    }

    /// A body carrying one vector (`route.field`) parsed and checked on the
    /// libuv pool: the vector, its collection, and the rest of the body as
    /// JSON text (the field as `[]`); null when the body needs the host's
    /// general path (see `valori_kernel::wire`).
    #[napi(ts_return_type = "Promise<ParsedVector | null>")]
    pub fn parse_vector_json<'e>(
        &self,
        env: &'e Env,
        body: Buffer,
        route: VectorRouteOptions,
    ) -> Result<PromiseRaw<'e, Option<ParsedVector>>> {
        let db = self.db.clone();
        let route = VectorRoute {
            field: route.field,
            max_containers: route.max_containers.max(0.0) as u64,
            max_elements: route.max_elements.max(0.0) as u64,
        };
        pooled(
            env,
            "parseVectorJson",
            move || {
                db.check_open()?;
                Ok(parse_vector_json(&db, &body, &route))
            },
            |parsed| {
                parsed.map(|p| ParsedVector {
                    collection: p.collection,
                    vector: Float32Array::new(p.vector),
                    rest: p.rest,
                })
            },
        )
    }

    /// BLAKE3 of the canonical state encoding, 64 lowercase hex characters.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn state_hash<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, String>> {
        let db = self.db.clone();
        pooled(
            env,
            "stateHash",
            move || db.state_proof(None),
            |(_, hash)| hash,
        )
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
