//! Client operations of one collection, turned into events against its
//! state. Ids are assigned here (next slot of each pool), so the event is
//! self-contained. `write.rs` wraps them (collection, idempotency keys).

use crate::error::{KResult, KernelError};
use crate::event::{payload_record, DocTarget, Event, Payload, MAX_EVENT_BYTES};
use crate::state::{State, HOLE, TOMBSTONE};

pub use crate::write::{prepare, Outcome, Prepared, Timing, Write, WriteOpts};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Insert {
        vector: Vec<i32>,
        tag: u64,
        payload: Payload,
    },
    /// `payloads`: empty, or one per record.
    InsertBatch {
        vectors: Vec<i32>,
        count: u32,
        payloads: Vec<Payload>,
    },
    Delete {
        id: u32,
    },
    SoftDelete {
        id: u32,
    },
    CreateNode {
        kind: u8,
        record: Option<u32>,
    },
    CreateEdge {
        from: u32,
        to: u32,
        kind: u8,
    },
    SetMetadata {
        key: String,
        value: Vec<u8>,
    },
    Upsert {
        vector: Vec<i32>,
        tag: u64,
        attach: Option<u32>,
        metadata: Option<Vec<u8>>,
    },
    DeleteNode {
        id: u32,
    },
    DeleteEdge {
        id: u32,
    },
}

/// What a collection-level operation created, before it is wrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Created {
    Id(u32),
    Ids { first: u32, count: u32 },
    Done,
    Upsert([u32; 4]),
}

impl Created {
    pub(crate) fn ids(&self) -> Vec<u32> {
        match *self {
            Created::Id(id) => vec![id],
            Created::Ids { first, count } => (first..first + count).collect(),
            Created::Done => Vec::new(),
            Created::Upsert(ids) => ids.to_vec(),
        }
    }
}

/// Refuse an event that would encode to more than [`MAX_EVENT_BYTES`].
pub fn check_size(n: usize) -> KResult<()> {
    if n > MAX_EVENT_BYTES {
        return Err(KernelError::PayloadTooLarge(format!(
            "this write would be a {n}-byte event, the limit is {MAX_EVENT_BYTES} bytes (64 MiB) per event: split the batch"
        )));
    }
    Ok(())
}

pub(crate) fn build(state: &State, op: Op) -> KResult<(Option<Event>, Created)> {
    let next_rec = state.records().slots as u32;
    let next_node = state.nodes().slots as u32;
    let next_edge = state.edges().slots as u32;
    let ev = match op {
        Op::Insert {
            vector,
            tag,
            payload,
        } => {
            return Ok((
                Some(Event::InsertRecord {
                    id: next_rec,
                    tag,
                    vector,
                    payload,
                }),
                Created::Id(next_rec),
            ))
        }
        Op::InsertBatch {
            vectors,
            count,
            payloads,
        } => {
            if count == 0 {
                return Ok((
                    None,
                    Created::Ids {
                        first: next_rec,
                        count: 0,
                    },
                ));
            }
            return Ok((
                Some(Event::InsertBatch {
                    first_id: next_rec,
                    count,
                    vectors,
                    payloads,
                }),
                Created::Ids {
                    first: next_rec,
                    count,
                },
            ));
        }
        Op::Delete { id } => Event::DeleteRecord { id },
        Op::SoftDelete { id } => {
            // Idempotent for clients that retry: a second soft delete records nothing.
            if state.record_status(id) == TOMBSTONE {
                return Ok((None, Created::Done));
            }
            Event::SoftDeleteRecord { id }
        }
        Op::CreateNode { kind, record } => {
            return Ok((
                Some(Event::CreateNode {
                    id: next_node,
                    kind,
                    record,
                }),
                Created::Id(next_node),
            ))
        }
        Op::CreateEdge { from, to, kind } => {
            return Ok((
                Some(Event::CreateEdge {
                    id: next_edge,
                    from,
                    to,
                    kind,
                }),
                Created::Id(next_edge),
            ))
        }
        Op::SetMetadata { key, value } => {
            // A record's payload entries belong to a record that exists
            // (live or soft-deleted), so a later insert never inherits them.
            if let Some((id, _)) = payload_record(&key) {
                if state.record_status(id) == HOLE {
                    return Err(KernelError::NotFound(format!("record {id} not found")));
                }
            }
            Event::SetMetadata { key, value }
        }
        Op::DeleteNode { id } => Event::DeleteNode { id },
        Op::DeleteEdge { id } => Event::DeleteEdge { id },
        Op::Upsert {
            vector,
            tag,
            attach,
            metadata,
        } => {
            let (doc, chunk) = match attach {
                Some(d) => (DocTarget::Existing(d), next_node),
                None => (DocTarget::New(next_node), next_node + 1),
            };
            let doc_id = match doc {
                DocTarget::Existing(d) | DocTarget::New(d) => d,
            };
            let ev = Event::UpsertMemory {
                record_id: next_rec,
                tag,
                vector,
                doc,
                chunk_node: chunk,
                edge_id: next_edge,
                metadata,
            };
            return Ok((
                Some(ev),
                Created::Upsert([next_rec, doc_id, chunk, next_edge]),
            ));
        }
    };
    Ok((Some(ev), Created::Done))
}
