//! Reads for the /v1 API: a record by id, node pages, graph queries,
//! subgraphs (sync: each is bounded by its limit and the kernel's traversal
//! caps) and the timeline (on the libuv pool: it reads the event log).
//! Conversion only; the kernel does the work.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::graph_query::{GraphHit as KHit, GraphQuery as KQuery, NodeEntry};
use valori_kernel::timeline::TimelineEntry;

use crate::call::{pooled, sync};
use crate::kernel::Kernel;

#[napi(object)]
pub struct RecordView {
    pub id: u32,
    /// The vector as client floats (the stored Q16.16 values / 65536).
    pub values: Float32Array,
    /// Unsigned 64-bit tag (0 when none was given).
    pub tag: BigInt,
    /// True after a soft delete (the record is then hidden from search).
    pub soft_deleted: bool,
    /// Canonical JSON text of the record's metadata object, if any.
    pub metadata: Option<String>,
    /// The record's text, if any.
    pub text: Option<String>,
}

#[napi(object)]
pub struct NodeListEntry {
    pub node_id: u32,
    /// 0..=255.
    pub kind: u32,
    pub record_id: Option<u32>,
}

#[napi(object)]
pub struct NodePage {
    /// At most `limit` nodes, ascending id.
    pub nodes: Vec<NodeListEntry>,
    /// Live nodes matching the kind filter in the whole collection.
    pub total: f64,
}

#[napi(object)]
pub struct GraphQuery {
    /// Which edges to follow: outgoing, incoming, or both.
    #[napi(ts_type = "'out' | 'in' | 'both'")]
    pub direction: String,
    /// Hops from the start at most (0: no hits).
    pub depth: u32,
    /// Hits at most.
    pub limit: u32,
    /// Follow only edges of this kind (0..=255).
    pub edge_kind: Option<u32>,
    /// Report only nodes of this kind (0..=255); other nodes are still walked.
    pub node_kind: Option<u32>,
}

#[napi(object)]
pub struct GraphHit {
    pub node_id: u32,
    pub kind: u32,
    pub record_id: Option<u32>,
    /// Hops from the start (>= 1).
    pub depth: u32,
}

#[napi(object)]
pub struct SubgraphNode {
    pub id: u32,
    pub kind: u32,
    pub record_id: Option<u32>,
}

#[napi(object)]
pub struct SubgraphEdge {
    pub id: u32,
    pub from: u32,
    pub to: u32,
    pub kind: u32,
}

#[napi(object)]
pub struct Subgraph {
    /// Ascending id, the root included.
    pub nodes: Vec<SubgraphNode>,
    /// Edges between two of `nodes`, ascending id.
    pub edges: Vec<SubgraphEdge>,
}

#[napi(object)]
pub struct TimelineEvent {
    /// The event's sequence number (its height).
    pub log_index: f64,
    /// InsertRecord, InsertBatch, DeleteRecord, SoftDeleteRecord, CreateNode,
    /// CreateEdge, DeleteNode, DeleteEdge, SetMetadata, UpsertMemory,
    /// CreateCollection, DropCollection.
    pub event_type: String,
    /// The name of the collection the event belongs to; absent for the
    /// events of a dropped collection (but its CreateCollection).
    pub collection: Option<String>,
    /// The record it wrote (a batch: its first id).
    pub record_id: Option<u32>,
    /// The node it wrote (an upsert: its chunk node).
    pub node_id: Option<u32>,
    pub edge_id: Option<u32>,
    /// Unix milliseconds the leader committed the event at; absent for
    /// events written before commit times were recorded (version-1 logs).
    pub time_ms: Option<f64>,
    /// The record's unsigned 64-bit tag (InsertRecord, UpsertMemory).
    pub tag: Option<BigInt>,
    /// The node's or edge's kind, 0..=255 (CreateNode, CreateEdge).
    pub kind: Option<u32>,
    /// The edge's source node (CreateEdge).
    pub from_node: Option<u32>,
    /// The edge's target node (CreateEdge).
    pub to_node: Option<u32>,
    /// Records in the batch (InsertBatch).
    pub count: Option<u32>,
}

#[napi(object)]
pub struct Timeline {
    /// At most `limit` events, ascending log index.
    pub events: Vec<TimelineEvent>,
    /// Events in the log (matching `collection` when given).
    pub total: f64,
}

fn hit(h: KHit) -> GraphHit {
    GraphHit {
        node_id: h.node.id,
        kind: h.node.kind as u32,
        record_id: h.node.record,
        depth: h.depth,
    }
}

fn sub_node(n: NodeEntry) -> SubgraphNode {
    SubgraphNode {
        id: n.id,
        kind: n.kind as u32,
        record_id: n.record,
    }
}

fn event(e: TimelineEntry) -> TimelineEvent {
    TimelineEvent {
        log_index: e.log_index as f64,
        event_type: e.event_type.to_string(),
        collection: e.collection,
        record_id: e.record_id,
        node_id: e.node_id,
        edge_id: e.edge_id,
        time_ms: e.time_ms.map(|t| t as f64),
        tag: e.tag.map(BigInt::from),
        kind: e.kind.map(u32::from),
        from_node: e.from_node,
        to_node: e.to_node,
        count: e.count,
    }
}

#[napi]
impl Kernel {
    /// A live or soft-deleted record; null for an unknown or hard-deleted id.
    #[napi]
    pub fn get_record(&self, env: &Env, collection: String, id: u32) -> Result<Option<RecordView>> {
        sync(env, "getRecord", || {
            Ok(self.db.record(&collection, id)?.map(|r| RecordView {
                id: r.id,
                values: Float32Array::new(r.values),
                tag: BigInt::from(r.tag),
                soft_deleted: r.soft_deleted,
                metadata: r.metadata,
                text: r.text,
            }))
        })
    }

    /// Live nodes in id order, `kind` only when given: `limit` at most after
    /// skipping `offset` matches.
    #[napi]
    pub fn list_nodes(
        &self,
        env: &Env,
        collection: String,
        offset: u32,
        limit: u32,
        kind: Option<u32>,
    ) -> Result<NodePage> {
        sync(env, "listNodes", || {
            let p = self
                .db
                .list_nodes(&collection, offset as u64, limit as usize, kind)?;
            Ok(NodePage {
                nodes: p
                    .nodes
                    .into_iter()
                    .map(|n| NodeListEntry {
                        node_id: n.id,
                        kind: n.kind as u32,
                        record_id: n.record,
                    })
                    .collect(),
                total: p.total as f64,
            })
        })
    }

    /// Breadth-first from `start` (not itself a hit): each reached node once,
    /// by depth then id, at most `q.limit`; unknown start: NOT_FOUND.
    #[napi]
    pub fn graph_query(
        &self,
        env: &Env,
        collection: String,
        start: u32,
        q: GraphQuery,
    ) -> Result<Vec<GraphHit>> {
        sync(env, "graphQuery", || {
            let q = KQuery::new(
                &q.direction,
                q.depth,
                q.limit as usize,
                q.edge_kind,
                q.node_kind,
            )?;
            let hits = self.db.graph_query(&collection, start, &q)?;
            Ok(hits.into_iter().map(hit).collect())
        })
    }

    /// The root, the nodes it reaches over outgoing edges within `depth`
    /// hops (at most `limit` nodes) and the edges among them, in id order;
    /// unknown root: NOT_FOUND.
    #[napi]
    pub fn subgraph(
        &self,
        env: &Env,
        collection: String,
        root: u32,
        depth: u32,
        limit: u32,
    ) -> Result<Subgraph> {
        sync(env, "subgraph", || {
            let s = self.db.subgraph(&collection, root, depth, limit as usize)?;
            Ok(Subgraph {
                nodes: s.nodes.into_iter().map(sub_node).collect(),
                edges: s
                    .edges
                    .into_iter()
                    .map(|e| SubgraphEdge {
                        id: e.id,
                        from: e.from,
                        to: e.to,
                        kind: e.kind as u32,
                    })
                    .collect(),
            })
        })
    }

    /// Up to `limit` committed events from log index `fromSeq` on, read from
    /// the event log (INVALID_ARGUMENT without one); runs on the libuv pool.
    #[napi(ts_return_type = "Promise<Timeline>")]
    pub fn timeline<'e>(
        &self,
        env: &'e Env,
        from_seq: f64,
        limit: u32,
        collection: Option<String>,
    ) -> Result<PromiseRaw<'e, Timeline>> {
        let db = self.db.clone();
        pooled(
            env,
            "timeline",
            move || {
                if !(0.0..=2f64.powi(53)).contains(&from_seq) || from_seq.fract() != 0.0 {
                    return Err(valori_kernel::KernelError::InvalidArgument(format!(
                        "fromSeq must be a non-negative integer, got {from_seq}"
                    )));
                }
                db.timeline(from_seq as u64, limit as usize, collection.as_deref())
            },
            |t| Timeline {
                events: t.events.into_iter().map(event).collect(),
                total: t.total as f64,
            },
        )
    }
}
