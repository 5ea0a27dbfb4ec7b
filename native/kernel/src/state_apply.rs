//! `State::apply`: one event, atomically (checked first, in `check.rs`).

use crate::error::KResult;
use crate::event::{
    payload_key, payload_record, text_key, DocTarget, Event, Payload, EDGE_PARENT_OF, KIND_CHUNK,
    KIND_DOCUMENT,
};
use crate::journal::Undo;
use crate::state::{State, LIVE, TOMBSTONE};

impl State {
    /// Apply one event atomically; on error nothing changed. Returns the ids of
    /// records whose search visibility changed (for index maintenance).
    pub fn apply(&mut self, ev: &Event) -> KResult<Change> {
        self.check(ev)?;
        let change = match ev {
            Event::InsertRecord {
                id,
                tag,
                vector,
                payload,
            } => {
                self.push_record(*tag, vector);
                self.set_payload(*id, payload);
                Change::Inserted {
                    first: *id,
                    count: 1,
                }
            }
            Event::InsertBatch {
                first_id,
                count,
                vectors,
                payloads,
            } => {
                let d = self.limits.dim;
                for v in vectors.chunks_exact(d) {
                    self.push_record(0, v);
                }
                for (i, p) in payloads.iter().enumerate() {
                    self.set_payload(first_id + i as u32, p);
                }
                Change::Inserted {
                    first: *first_id,
                    count: *count,
                }
            }
            Event::DeleteRecord { id } => {
                let was_live = self.record_status(*id) == LIVE;
                self.hard_delete(*id);
                if was_live {
                    Change::Removed(*id)
                } else {
                    Change::None
                }
            }
            Event::SoftDeleteRecord { id } => {
                self.records.set_status(*id, TOMBSTONE);
                self.note(Undo::Status { id: *id, old: LIVE });
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
            Event::DeleteNode { id } => {
                self.delete_node(*id);
                Change::None
            }
            Event::DeleteEdge { id } => {
                self.delete_edge(*id);
                Change::None
            }
            Event::SetMetadata { key, value } => {
                self.set_metadata(key.clone(), value.clone());
                Change::None
            }
            Event::UpsertMemory {
                record_id,
                tag,
                vector,
                doc,
                chunk_node,
                metadata,
                ..
            } => {
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
                    self.set_metadata(payload_key(*record_id), m.clone());
                }
                Change::Inserted {
                    first: *record_id,
                    count: 1,
                }
            }
        };
        self.height += 1;
        Ok(change)
    }

    /// Journal an in-place change when a group is open (appends need no entry:
    /// the journal remembers the pool lengths at the start of the group).
    #[inline]
    fn note(&mut self, u: Undo) {
        if let Some(j) = self.journal.as_mut() {
            j.undo.push(u);
        }
    }

    fn set_metadata(&mut self, key: String, value: Vec<u8>) {
        self.meta_bytes += (key.len() + value.len()) as u64;
        let payload = payload_record(&key).is_some();
        let journal_key = self.journal.is_some().then(|| key.clone());
        let klen = key.len();
        let old = self.metadata.insert(key, value);
        match &old {
            Some(v) => self.meta_bytes -= (klen + v.len()) as u64,
            None => self.meta_payload += u64::from(payload),
        }
        if let Some(key) = journal_key {
            self.note(Undo::Meta { key, old });
        }
    }

    fn remove_metadata(&mut self, key: String) {
        if let Some(old) = self.metadata.remove(&key) {
            self.meta_bytes -= (key.len() + old.len()) as u64;
            self.meta_payload -= u64::from(payload_record(&key).is_some());
            self.note(Undo::Meta {
                key,
                old: Some(old),
            });
        }
    }

    /// A new record's payload entries.
    fn set_payload(&mut self, id: u32, p: &Payload) {
        if let Some(m) = &p.metadata {
            self.set_metadata(payload_key(id), m.clone());
        }
        if let Some(t) = &p.text {
            self.set_metadata(text_key(id), t.clone());
        }
    }

    fn push_record(&mut self, tag: u64, v: &[i32]) {
        self.records.push(LIVE, tag, v);
        self.rec_live += 1;
    }

    fn push_node(&mut self, kind: u8, record: Option<u32>) {
        let id = self.graph.nodes.slots() as u32;
        self.graph.push_node(kind, record);
        self.node_live += 1;
        if let Some(r) = record {
            self.record_nodes.entry(r).or_default().push(id);
        }
    }

    fn push_edge(&mut self, from: u32, to: u32, kind: u8) {
        self.graph.push_edge(kind, from, to);
        self.edge_live += 1;
    }

    fn hard_delete(&mut self, id: u32) {
        let Some((status, tag, vector)) = self.records.remove(id) else {
            return;
        };
        match status {
            LIVE => self.rec_live -= 1,
            _ => self.rec_tomb -= 1,
        }
        self.note(Undo::Removed {
            id,
            status,
            tag,
            vector,
        });
        self.remove_metadata(payload_key(id));
        self.remove_metadata(text_key(id));
        if let Some(linked) = self.record_nodes.remove(&id) {
            for &n in &linked {
                self.delete_node(n);
            }
            self.note(Undo::RecordNodes {
                record: id,
                old: linked,
            });
        }
    }

    fn delete_node(&mut self, n: u32) {
        for e in self.graph.incident(n) {
            self.delete_edge(e);
        }
        let Some((kind, record)) = self.graph.remove_node(n) else {
            return;
        };
        // The record stays; it just no longer lists this node (a hard delete
        // of the record later must not reach for it).
        if let Some(r) = record {
            if let Some(list) = self.record_nodes.get_mut(&r) {
                if list.contains(&n) {
                    let old = list.clone();
                    list.retain(|&x| x != n);
                    if list.is_empty() {
                        self.record_nodes.remove(&r);
                    }
                    self.note(Undo::RecordNodes { record: r, old });
                }
            }
        }
        self.node_live -= 1;
        self.note(Undo::NodeDeleted {
            id: n,
            kind,
            record,
        });
    }

    fn delete_edge(&mut self, e: u32) {
        let Some(edge) = self.graph.remove_edge(e) else {
            return;
        };
        self.edge_live -= 1;
        self.note(Undo::EdgeDeleted { id: e, edge });
    }
}

/// What an applied event changed for search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    Inserted { first: u32, count: u32 },
    Removed(u32),
}
