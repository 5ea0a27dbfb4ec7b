//! Undo journal for one commit group.
//!
//! The committer applies a group to the state, then appends it to the event
//! log. If the log refuses the group (I/O error, or an append the log finds
//! invalid) the group must leave no trace in memory. Cloning the state per
//! group would cost O(state); instead `begin_group` remembers the pool lengths
//! and counters, and while the group is open every *in-place* change (a status
//! flip, a hard delete, a metadata overwrite, a node or edge deleted) pushes
//! its inverse. Appends need no entry: they are undone by truncating the pools
//! back to their remembered lengths. Rollback replays the inverses newest
//! first, then truncates, then restores the counters.

use crate::graph::EdgeSlot;
use crate::state::State;

#[derive(Debug, Clone)]
pub(crate) enum Undo {
    /// A record's status changed from `old` (soft delete).
    Status {
        id: u32,
        old: u8,
    },
    /// A record was hard-deleted: what it held.
    Removed {
        id: u32,
        status: u8,
        tag: u64,
        vector: Vec<i32>,
    },
    /// A metadata key was written or removed; `old` is what it held.
    Meta {
        key: String,
        old: Option<Vec<u8>>,
    },
    /// A record's node links were dropped (hard delete).
    RecordNodes {
        record: u32,
        old: Vec<u32>,
    },
    /// A node was deleted (its edges first, each with its own entry).
    NodeDeleted {
        id: u32,
        kind: u8,
        record: Option<u32>,
    },
    EdgeDeleted {
        id: u32,
        edge: EdgeSlot,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Journal {
    rec_slots: usize,
    nodes: usize,
    edges: usize,
    counters: [u64; 7],
    pub(crate) undo: Vec<Undo>,
}

/// Remove `x` from the end of a list where the newest id sits last.
fn pop_if_last(list: &mut Vec<u32>, x: u32) {
    if list.last() == Some(&x) {
        list.pop();
    }
}

impl State {
    fn counters(&self) -> [u64; 7] {
        [
            self.rec_live,
            self.rec_tomb,
            self.node_live,
            self.edge_live,
            self.meta_bytes,
            self.meta_payload,
            self.height,
        ]
    }

    /// Start journaling: from now on every change can be undone by
    /// `rollback_group` until `commit_group` is called.
    pub fn begin_group(&mut self) {
        self.journal = Some(Journal {
            rec_slots: self.records.slots(),
            nodes: self.graph.nodes.slots(),
            edges: self.graph.edges.slots(),
            counters: self.counters(),
            undo: Vec::new(),
        });
    }

    /// Whether the open group changed anything in place (holds undo data).
    pub fn journal_has_undo(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| !j.undo.is_empty())
    }

    /// The group is durable: forget how to undo it.
    pub fn commit_group(&mut self) {
        self.journal = None;
    }

    /// Put the state back exactly as it was at `begin_group`. Returns false
    /// when no group was open (nothing to undo).
    pub fn rollback_group(&mut self) -> bool {
        let Some(j) = self.journal.take() else {
            return false;
        };
        for u in j.undo.into_iter().rev() {
            match u {
                Undo::Status { id, old } => self.records.set_status(id, old),
                Undo::Removed {
                    id,
                    status,
                    tag,
                    vector,
                } => self.records.restore(id, status, tag, &vector),
                Undo::Meta { key, old } => {
                    match old {
                        Some(v) => self.metadata.insert(key, v),
                        None => self.metadata.remove(&key),
                    };
                }
                Undo::RecordNodes { record, old } => {
                    self.record_nodes.insert(record, old);
                }
                Undo::NodeDeleted { id, kind, record } => self.graph.restore_node(id, kind, record),
                Undo::EdgeDeleted { id, edge } => self.graph.restore_edge(id, edge),
            }
        }
        // Edges, then nodes, then records: newest first, so each adjacency or
        // link list has the id being undone at its end.
        self.graph.truncate_edges(j.edges);
        for n in (j.nodes..self.graph.nodes.slots()).rev() {
            let record = self
                .graph
                .node(n as u32)
                .expect("appended node present at rollback")
                .record;
            if let Some(r) = record {
                if let Some(list) = self.record_nodes.get_mut(&r) {
                    pop_if_last(list, n as u32);
                    if list.is_empty() {
                        self.record_nodes.remove(&r);
                    }
                }
            }
        }
        self.graph.nodes.truncate(j.nodes);
        self.records.truncate(j.rec_slots);
        [
            self.rec_live,
            self.rec_tomb,
            self.node_live,
            self.edge_live,
            self.meta_bytes,
            self.meta_payload,
            self.height,
        ] = j.counters;
        true
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
