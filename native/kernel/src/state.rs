//! The data of one collection: record pool, graph pools, metadata map, and
//! `apply` (in `state_apply.rs`). The node's collections, its height and its
//! limits over all collections are in `store`.
//!
//! `apply` is atomic: it checks everything an event needs before touching
//! anything, so a rejected event leaves the state exactly as it was. Pools grow
//! as ids are handed out (nothing is allocated up front for the maximum); the
//! record pool releases the vector bytes of hard-deleted records (`records`)
//! and the graph pools what deleted nodes and edges held (`graph`).
//! Between `begin_group` and `commit_group` every change is journaled so that a
//! group the event log refused can be undone (`journal`).

use std::collections::{BTreeMap, HashMap};

use crate::fixed;
use crate::graph::Graph;
use crate::journal::Journal;
use crate::records::RecordStore;

pub const HOLE: u8 = 0;
pub const LIVE: u8 = 1;
pub const TOMBSTONE: u8 = 2;

/// Metadata values above this many bytes are refused.
pub const MAX_METADATA_BYTES: usize = 65536;
/// Metadata keys above this many bytes are refused.
pub const MAX_METADATA_KEY_BYTES: usize = 1024;
/// Default cap on metadata entries (VALORI_MAX_METADATA_ENTRIES).
pub const DEFAULT_MAX_METADATA_ENTRIES: u64 = 100_000;
/// Default cap on metadata key + value bytes (VALORI_MAX_METADATA_BYTES).
pub const DEFAULT_MAX_METADATA_TOTAL_BYTES: u64 = 256 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub dim: usize,
    pub max_records: u64,
    pub max_nodes: u64,
    pub max_edges: u64,
    /// Metadata entries at most (keys, including `rec:<id>`).
    pub max_metadata_entries: u64,
    /// Sum of key + value bytes over all metadata entries at most.
    pub max_metadata_bytes: u64,
}

impl Limits {
    /// Limits with the default metadata caps.
    pub fn new(dim: usize, max_records: u64, max_nodes: u64, max_edges: u64) -> Limits {
        Limits {
            dim,
            max_records,
            max_nodes,
            max_edges,
            max_metadata_entries: DEFAULT_MAX_METADATA_ENTRIES,
            max_metadata_bytes: DEFAULT_MAX_METADATA_TOTAL_BYTES,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub present: bool,
    pub kind: u8,
    pub record: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub present: bool,
    pub kind: u8,
    pub from: u32,
    pub to: u32,
}

/// Counts for one pool, all O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolCounts {
    /// Visible entries (records: neither deleted nor soft-deleted).
    pub live: u64,
    /// Entries counted against capacity (records: live + soft-deleted).
    pub used: u64,
    /// Ids ever handed out (the next id).
    pub slots: u64,
    pub capacity: u64,
}

#[derive(Debug, Clone)]
pub struct State {
    pub(crate) limits: Limits,
    pub(crate) bound: i32,
    pub(crate) records: RecordStore,
    pub(crate) rec_live: u64,
    pub(crate) rec_tomb: u64,
    /// Node and edge slots, each node with its adjacency lists.
    pub(crate) graph: Graph,
    pub(crate) node_live: u64,
    pub(crate) edge_live: u64,
    /// record id → nodes linked to it, in creation order. Lookup only; never iterated.
    pub(crate) record_nodes: HashMap<u32, Vec<u32>>,
    pub(crate) metadata: BTreeMap<String, Vec<u8>>,
    /// Sum of key + value bytes over `metadata`.
    pub(crate) meta_bytes: u64,
    /// Entries of `metadata` that are a record's payload (`rec:<id>`,
    /// `rec:<id>:text`): bounded by the records, so not counted against
    /// VALORI_MAX_METADATA_ENTRIES (their bytes are).
    pub(crate) meta_payload: u64,
    /// Events applied to this collection's data (the node's height, the
    /// sequence number of the last event, is `Store::height`). Not hashed.
    pub(crate) height: u64,
    /// Undo information for the open group, if any.
    pub(crate) journal: Option<Journal>,
}

impl State {
    pub fn new(limits: Limits) -> State {
        State {
            bound: fixed::max_abs_raw(limits.dim),
            limits,
            records: RecordStore::new(limits.dim),
            rec_live: 0,
            rec_tomb: 0,
            graph: Graph::default(),
            node_live: 0,
            edge_live: 0,
            record_nodes: HashMap::new(),
            metadata: BTreeMap::new(),
            meta_bytes: 0,
            meta_payload: 0,
            height: 0,
            journal: None,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }
    pub fn dim(&self) -> usize {
        self.limits.dim
    }
    pub fn height(&self) -> u64 {
        self.height
    }
    /// Set the height after loading state from elsewhere (restore).
    pub fn set_height(&mut self, h: u64) {
        self.height = h;
    }
    /// Largest accepted |raw| component at this dimension.
    pub fn bound(&self) -> i32 {
        self.bound
    }

    pub fn records(&self) -> PoolCounts {
        PoolCounts {
            live: self.rec_live,
            used: self.rec_live + self.rec_tomb,
            slots: self.records.slots() as u64,
            capacity: self.limits.max_records,
        }
    }
    pub fn nodes(&self) -> PoolCounts {
        PoolCounts {
            live: self.node_live,
            used: self.node_live,
            slots: self.graph.nodes.slots() as u64,
            capacity: self.limits.max_nodes,
        }
    }
    pub fn edges(&self) -> PoolCounts {
        PoolCounts {
            live: self.edge_live,
            used: self.edge_live,
            slots: self.graph.edges.slots() as u64,
            capacity: self.limits.max_edges,
        }
    }
    /// Bytes held by record vectors (live and soft-deleted records only).
    pub fn vector_bytes(&self) -> u64 {
        self.records.vector_bytes()
    }
    /// Heap bytes the record pool holds (vectors, tags, statuses, slack).
    pub fn record_heap_bytes(&self) -> u64 {
        self.records.heap_bytes()
    }
    /// Heap bytes the graph pools hold (nodes, adjacency lists, edges, slack).
    pub fn graph_heap_bytes(&self) -> u64 {
        self.graph.heap_bytes()
    }
    /// Metadata entries counted against VALORI_MAX_METADATA_ENTRIES (a
    /// record's payload entries are not), and the bytes of all entries.
    pub fn metadata_usage(&self) -> (u64, u64) {
        (
            self.metadata.len() as u64 - self.meta_payload,
            self.meta_bytes,
        )
    }

    /// Status of a record slot (`HOLE` for unknown ids).
    pub fn record_status(&self, id: u32) -> u8 {
        self.records.status(id)
    }
    pub fn record_tag(&self, id: u32) -> Option<u64> {
        self.records.tag(id)
    }
    /// The stored vector of a live or soft-deleted record.
    pub fn record_vector(&self, id: u32) -> Option<&[i32]> {
        self.records.vector(id)
    }
    /// The vector of a record visible to search (live only).
    pub fn live_vector(&self, id: u32) -> Option<&[i32]> {
        if self.record_status(id) == LIVE {
            self.record_vector(id)
        } else {
            None
        }
    }
    /// Live records as (id, tag, vector) in id order, each chunk's dense
    /// vectors walked front to back: the exact scan's row source.
    pub fn live_records(&self) -> impl Iterator<Item = (u32, u64, &[i32])> + '_ {
        let dim = self.dim();
        self.records.chunks().flat_map(move |c| {
            let crate::records::ChunkView {
                base,
                status,
                tags,
                vectors,
                ..
            } = c;
            let stored = status.iter().enumerate().filter(|&(_, &st)| st != HOLE);
            stored
                .zip(tags.iter().zip(vectors.chunks_exact(dim)))
                .filter(|&((_, &st), _)| st == LIVE)
                .map(move |((off, _), (&tag, v))| (base + off as u32, tag, v))
        })
    }
    /// The record pool chunk by chunk (canonical encoding).
    pub fn record_chunks(&self) -> impl Iterator<Item = crate::records::ChunkView<'_>> {
        self.records.chunks()
    }
    pub fn node(&self, id: u32) -> Option<Node> {
        self.graph.node(id).map(|n| Node {
            present: true,
            kind: n.kind,
            record: n.record,
        })
    }
    /// Outgoing edges of a node, newest first; `None` for an unknown node.
    pub fn out_edges(&self, node: u32) -> Option<Vec<(u32, Edge)>> {
        let list = &self.graph.node(node)?.out;
        Some(
            list.iter()
                .rev()
                .map(|&e| {
                    let x = self.graph.edge(e).expect("listed edges are present");
                    (
                        e,
                        Edge {
                            present: true,
                            kind: x.kind,
                            from: x.from,
                            to: x.to,
                        },
                    )
                })
                .collect(),
        )
    }
    pub fn metadata(&self, key: &str) -> Option<&[u8]> {
        self.metadata.get(key).map(|v| v.as_slice())
    }
}

pub use crate::state_apply::Change;
