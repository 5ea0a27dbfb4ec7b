//! The kernel state: record pool, graph pools, metadata map, and `apply`.
//!
//! `apply` is atomic: it checks everything an event needs before touching
//! anything, so a rejected event leaves the state exactly as it was. Pools grow
//! as ids are handed out (nothing is allocated up front for the maximum).

use std::collections::{BTreeMap, HashMap};

use crate::error::{KResult, KernelError};
use crate::event::{DocTarget, Event, EDGE_PARENT_OF, KIND_CHUNK, KIND_DOCUMENT};
use crate::fixed;

pub const HOLE: u8 = 0;
pub const LIVE: u8 = 1;
pub const TOMBSTONE: u8 = 2;

/// Metadata values above this many bytes are refused.
pub const MAX_METADATA_BYTES: usize = 65536;
/// Metadata keys above this many bytes are refused.
pub const MAX_METADATA_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub dim: usize,
    pub max_records: u64,
    pub max_nodes: u64,
    pub max_edges: u64,
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
    pub(crate) vectors: Vec<i32>,
    pub(crate) status: Vec<u8>,
    pub(crate) tags: Vec<u64>,
    pub(crate) rec_live: u64,
    pub(crate) rec_tomb: u64,
    pub(crate) nodes: Vec<Node>,
    pub(crate) node_out: Vec<Vec<u32>>,
    pub(crate) node_in: Vec<Vec<u32>>,
    pub(crate) node_live: u64,
    pub(crate) edges: Vec<Edge>,
    pub(crate) edge_live: u64,
    /// record id → nodes linked to it, in creation order. Lookup only; never iterated.
    pub(crate) record_nodes: HashMap<u32, Vec<u32>>,
    pub(crate) metadata: BTreeMap<String, Vec<u8>>,
    /// Number of events applied (the sequence number of the last one).
    pub(crate) height: u64,
}

impl State {
    pub fn new(limits: Limits) -> State {
        State {
            bound: fixed::max_abs_raw(limits.dim),
            limits,
            vectors: Vec::new(),
            status: Vec::new(),
            tags: Vec::new(),
            rec_live: 0,
            rec_tomb: 0,
            nodes: Vec::new(),
            node_out: Vec::new(),
            node_in: Vec::new(),
            node_live: 0,
            edges: Vec::new(),
            edge_live: 0,
            record_nodes: HashMap::new(),
            metadata: BTreeMap::new(),
            height: 0,
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
            slots: self.status.len() as u64,
            capacity: self.limits.max_records,
        }
    }
    pub fn nodes(&self) -> PoolCounts {
        PoolCounts {
            live: self.node_live,
            used: self.node_live,
            slots: self.nodes.len() as u64,
            capacity: self.limits.max_nodes,
        }
    }
    pub fn edges(&self) -> PoolCounts {
        PoolCounts {
            live: self.edge_live,
            used: self.edge_live,
            slots: self.edges.len() as u64,
            capacity: self.limits.max_edges,
        }
    }

    /// Status of a record slot (`HOLE` for unknown ids).
    pub fn record_status(&self, id: u32) -> u8 {
        self.status.get(id as usize).copied().unwrap_or(HOLE)
    }
    pub fn record_tag(&self, id: u32) -> Option<u64> {
        self.tags.get(id as usize).copied()
    }
    /// The stored vector of a live or soft-deleted record.
    pub fn record_vector(&self, id: u32) -> Option<&[i32]> {
        match self.record_status(id) {
            HOLE => None,
            _ => {
                let d = self.limits.dim;
                let s = id as usize * d;
                Some(&self.vectors[s..s + d])
            }
        }
    }
    /// The vector of a record visible to search (live only).
    pub fn live_vector(&self, id: u32) -> Option<&[i32]> {
        if self.record_status(id) == LIVE {
            self.record_vector(id)
        } else {
            None
        }
    }
    pub fn node(&self, id: u32) -> Option<Node> {
        self.nodes.get(id as usize).copied().filter(|n| n.present)
    }
    /// Outgoing edges of a node, newest first; `None` for an unknown node.
    pub fn out_edges(&self, node: u32) -> Option<Vec<(u32, Edge)>> {
        self.node(node)?;
        let list = &self.node_out[node as usize];
        Some(list.iter().rev().map(|&e| (e, self.edges[e as usize])).collect())
    }
    pub fn metadata(&self, key: &str) -> Option<&[u8]> {
        self.metadata.get(key).map(|v| v.as_slice())
    }

    /// Convert client floats for `count` vectors of this dimension.
    pub fn convert(&self, values: &[f32], count: usize) -> KResult<Vec<i32>> {
        let dim = self.limits.dim;
        if values.is_empty() {
            return Err(KernelError::EmptyVector);
        }
        if count == 0 || values.len() != count * dim {
            if count <= 1 {
                return Err(KernelError::DimensionMismatch { expected: dim, got: values.len() });
            }
            return Err(KernelError::InvalidArgument(format!(
                "batch holds {} values, expected {count} x {dim}",
                values.len()
            )));
        }
        let mut out = Vec::with_capacity(values.len());
        fixed::convert_into(values, self.bound, &mut out).map_err(|e| self.convert_error(e))?;
        Ok(out)
    }

    fn convert_error(&self, e: fixed::ConvertError) -> KernelError {
        let dim = self.limits.dim;
        let max = fixed::max_abs_value(dim);
        match e {
            fixed::ConvertError::NotFinite(i) => KernelError::InvalidVector(format!(
                "component {} of vector {} is not a finite number",
                i % dim,
                i / dim
            )),
            fixed::ConvertError::OutOfRange(i) => KernelError::InvalidVector(format!(
                "component {} of vector {} is outside the accepted range ±{max:.4} for dimension {dim}",
                i % dim,
                i / dim
            )),
        }
    }

    fn check_raw(&self, v: &[i32], expected_len: usize) -> KResult<()> {
        if v.len() != expected_len {
            return Err(KernelError::DimensionMismatch { expected: expected_len, got: v.len() });
        }
        let b = self.bound;
        if v.iter().any(|&x| x > b || x < -b) {
            return Err(KernelError::InvalidVector("component outside the accepted range".into()));
        }
        Ok(())
    }

    fn check_record_capacity(&self, n: u64) -> KResult<()> {
        let used = self.rec_live + self.rec_tomb;
        if used + n > self.limits.max_records {
            return Err(KernelError::CapacityExceeded(format!(
                "record pool is full: {used} of {} used, {n} requested",
                self.limits.max_records
            )));
        }
        if self.status.len() as u64 + n > u32::MAX as u64 {
            return Err(KernelError::CapacityExceeded("record id space exhausted".into()));
        }
        Ok(())
    }
    fn check_node_capacity(&self, n: u64) -> KResult<()> {
        if self.node_live + n > self.limits.max_nodes {
            return Err(KernelError::CapacityExceeded(format!(
                "graph node pool is full: {} of {} used",
                self.node_live, self.limits.max_nodes
            )));
        }
        Ok(())
    }
    fn check_edge_capacity(&self) -> KResult<()> {
        if self.edge_live + 1 > self.limits.max_edges {
            return Err(KernelError::CapacityExceeded(format!(
                "graph edge pool is full: {} of {} used",
                self.edge_live, self.limits.max_edges
            )));
        }
        Ok(())
    }
    fn check_id(what: &str, got: u32, expected: usize) -> KResult<()> {
        if got as usize != expected {
            return Err(KernelError::Corrupt(format!("{what} id {got} out of sequence, expected {expected}")));
        }
        Ok(())
    }
    fn check_metadata(&self, key: Option<&str>, value: &[u8]) -> KResult<()> {
        if value.len() > MAX_METADATA_BYTES {
            return Err(KernelError::MetadataTooLarge { len: value.len(), max: MAX_METADATA_BYTES });
        }
        if let Some(k) = key {
            if k.is_empty() || k.len() > MAX_METADATA_KEY_BYTES {
                return Err(KernelError::InvalidArgument(format!(
                    "metadata key must be 1..{MAX_METADATA_KEY_BYTES} bytes"
                )));
            }
        }
        Ok(())
    }
    fn require_record(&self, id: u32) -> KResult<()> {
        if self.record_status(id) == HOLE {
            return Err(KernelError::NotFound(format!("record {id} not found")));
        }
        Ok(())
    }
    fn require_node(&self, id: u32) -> KResult<()> {
        if self.node(id).is_none() {
            return Err(KernelError::NotFound(format!("graph node {id} not found")));
        }
        Ok(())
    }

    /// Check an event against the current state without changing anything.
    pub fn check(&self, ev: &Event) -> KResult<()> {
        let dim = self.limits.dim;
        match ev {
            Event::InsertRecord { id, vector, .. } => {
                self.check_raw(vector, dim)?;
                self.check_record_capacity(1)?;
                Self::check_id("record", *id, self.status.len())
            }
            Event::InsertBatch { first_id, count, vectors } => {
                let n = *count as usize;
                if n == 0 {
                    return Err(KernelError::InvalidArgument("empty batch".into()));
                }
                self.check_raw(vectors, n * dim)?;
                self.check_record_capacity(n as u64)?;
                Self::check_id("record", *first_id, self.status.len())
            }
            Event::DeleteRecord { id } => self.require_record(*id),
            Event::SoftDeleteRecord { id } => match self.record_status(*id) {
                LIVE => Ok(()),
                TOMBSTONE => Err(KernelError::NotFound(format!("record {id} is already soft-deleted"))),
                _ => Err(KernelError::NotFound(format!("record {id} not found"))),
            },
            Event::CreateNode { id, record, .. } => {
                if let Some(r) = record {
                    self.require_record(*r)?;
                }
                self.check_node_capacity(1)?;
                Self::check_id("node", *id, self.nodes.len())
            }
            Event::CreateEdge { id, from, to, .. } => {
                self.require_node(*from)?;
                self.require_node(*to)?;
                self.check_edge_capacity()?;
                Self::check_id("edge", *id, self.edges.len())
            }
            Event::SetMetadata { key, value } => self.check_metadata(Some(key), value),
            Event::UpsertMemory { record_id, vector, doc, chunk_node, edge_id, metadata, .. } => {
                self.check_raw(vector, dim)?;
                if let Some(m) = metadata {
                    self.check_metadata(None, m)?;
                }
                let new_nodes = match doc {
                    DocTarget::Existing(d) => {
                        self.require_node(*d)?;
                        1
                    }
                    DocTarget::New(d) => {
                        Self::check_id("node", *d, self.nodes.len())?;
                        2
                    }
                };
                self.check_record_capacity(1)?;
                self.check_node_capacity(new_nodes)?;
                self.check_edge_capacity()?;
                Self::check_id("record", *record_id, self.status.len())?;
                Self::check_id("node", *chunk_node, self.nodes.len() + new_nodes as usize - 1)?;
                Self::check_id("edge", *edge_id, self.edges.len())
            }
        }
    }

    /// Apply one event atomically; on error nothing changed. Returns the ids of
    /// records whose search visibility changed (for index maintenance).
    pub fn apply(&mut self, ev: &Event) -> KResult<Change> {
        self.check(ev)?;
        let change = match ev {
            Event::InsertRecord { id, tag, vector } => {
                self.push_record(*tag, vector);
                Change::Inserted { first: *id, count: 1 }
            }
            Event::InsertBatch { first_id, count, vectors } => {
                let d = self.limits.dim;
                for v in vectors.chunks_exact(d) {
                    self.push_record(0, v);
                }
                Change::Inserted { first: *first_id, count: *count }
            }
            Event::DeleteRecord { id } => {
                let was_live = self.status[*id as usize] == LIVE;
                self.hard_delete(*id);
                if was_live {
                    Change::Removed(*id)
                } else {
                    Change::None
                }
            }
            Event::SoftDeleteRecord { id } => {
                self.status[*id as usize] = TOMBSTONE;
                self.rec_live -= 1;
                self.rec_tomb += 1;
                Change::Removed(*id)
            }
            Event::CreateNode { kind, record, .. } => {
                self.push_node(*kind, *record);
                Change::None
            }
            Event::CreateEdge { from, to, kind, .. } => {
                self.push_edge(*from, *to, *kind);
                Change::None
            }
            Event::SetMetadata { key, value } => {
                self.metadata.insert(key.clone(), value.clone());
                Change::None
            }
            Event::UpsertMemory { record_id, tag, vector, doc, chunk_node, metadata, .. } => {
                self.push_record(*tag, vector);
                let doc_id = match doc {
                    DocTarget::Existing(d) => *d,
                    DocTarget::New(d) => {
                        self.push_node(KIND_DOCUMENT, None);
                        *d
                    }
                };
                self.push_node(KIND_CHUNK, Some(*record_id));
                self.push_edge(doc_id, *chunk_node, EDGE_PARENT_OF);
                if let Some(m) = metadata {
                    self.metadata.insert(format!("rec:{record_id}"), m.clone());
                }
                Change::Inserted { first: *record_id, count: 1 }
            }
        };
        self.height += 1;
        Ok(change)
    }

    fn push_record(&mut self, tag: u64, v: &[i32]) {
        self.vectors.extend_from_slice(v);
        self.status.push(LIVE);
        self.tags.push(tag);
        self.rec_live += 1;
    }

    fn push_node(&mut self, kind: u8, record: Option<u32>) {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node { present: true, kind, record });
        self.node_out.push(Vec::new());
        self.node_in.push(Vec::new());
        self.node_live += 1;
        if let Some(r) = record {
            self.record_nodes.entry(r).or_default().push(id);
        }
    }

    fn push_edge(&mut self, from: u32, to: u32, kind: u8) {
        let id = self.edges.len() as u32;
        self.edges.push(Edge { present: true, kind, from, to });
        self.node_out[from as usize].push(id);
        self.node_in[to as usize].push(id);
        self.edge_live += 1;
    }

    fn hard_delete(&mut self, id: u32) {
        let i = id as usize;
        match self.status[i] {
            LIVE => self.rec_live -= 1,
            TOMBSTONE => self.rec_tomb -= 1,
            _ => return,
        }
        self.status[i] = HOLE;
        self.tags[i] = 0;
        let d = self.limits.dim;
        self.vectors[i * d..(i + 1) * d].fill(0);
        self.metadata.remove(&format!("rec:{id}"));
        if let Some(linked) = self.record_nodes.remove(&id) {
            for n in linked {
                self.delete_node(n);
            }
        }
    }

    fn delete_node(&mut self, n: u32) {
        let ni = n as usize;
        if !self.nodes[ni].present {
            return;
        }
        let mut incident: Vec<u32> = self.node_out[ni].iter().chain(self.node_in[ni].iter()).copied().collect();
        incident.sort_unstable();
        incident.dedup();
        for e in incident {
            self.delete_edge(e);
        }
        self.nodes[ni].present = false;
        self.node_live -= 1;
    }

    fn delete_edge(&mut self, e: u32) {
        let edge = self.edges[e as usize];
        if !edge.present {
            return;
        }
        self.node_out[edge.from as usize].retain(|&x| x != e);
        self.node_in[edge.to as usize].retain(|&x| x != e);
        self.edges[e as usize].present = false;
        self.edge_live -= 1;
    }
}

/// What an applied event changed for search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    Inserted { first: u32, count: u32 },
    Removed(u32),
}
