//! Client operations, turned into events against the current state. Ids are
//! assigned here (next slot of each pool), so the event is self-contained.

use crate::error::{KResult, KernelError};
use crate::event::{DocTarget, Event, MAX_EVENT_BYTES};
use crate::state::{State, TOMBSTONE};

#[derive(Debug, Clone)]
pub enum Op {
    Insert {
        vector: Vec<i32>,
        tag: u64,
    },
    InsertBatch {
        vectors: Vec<i32>,
        count: u32,
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
    /// An event already committed by a leader at `seq` (follower apply).
    /// Idempotent by sequence number: `seq <= height` is skipped.
    Replicated {
        seq: u64,
        payload: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Id(u32),
    Ids {
        first: u32,
        count: u32,
    },
    Done,
    Upsert {
        record_id: u32,
        document_node_id: u32,
        chunk_node_id: u32,
        edge_id: u32,
    },
}

/// Build the event for `op` (None: nothing to record, e.g. an empty batch or a
/// repeated soft delete) and the outcome the caller sees once it is committed.
///
/// A client operation whose event would exceed [`MAX_EVENT_BYTES`] is refused
/// here, before anything is applied. The bound is not in `State::check`: replay
/// and followers must still apply events that an earlier version (whose only
/// bound was the log's frame limit) committed and acknowledged.
pub fn prepare(state: &State, op: Op) -> KResult<(Option<Event>, Outcome)> {
    let replicated = matches!(op, Op::Replicated { .. });
    let (ev, out) = build(state, op)?;
    if let (Some(e), false) = (&ev, replicated) {
        check_size(e)?;
    }
    Ok((ev, out))
}

/// Refuse an event that would encode to more than [`MAX_EVENT_BYTES`].
pub fn check_size(ev: &Event) -> KResult<()> {
    let n = ev.encoded_len();
    if n > MAX_EVENT_BYTES {
        return Err(KernelError::PayloadTooLarge(format!(
            "this write would be a {n}-byte event, the limit is {MAX_EVENT_BYTES} bytes (64 MiB) per event: split the batch"
        )));
    }
    Ok(())
}

fn build(state: &State, op: Op) -> KResult<(Option<Event>, Outcome)> {
    let next_rec = state.records().slots as u32;
    let next_node = state.nodes().slots as u32;
    let next_edge = state.edges().slots as u32;
    let ev = match op {
        Op::Insert { vector, tag } => {
            return Ok((
                Some(Event::InsertRecord {
                    id: next_rec,
                    tag,
                    vector,
                }),
                Outcome::Id(next_rec),
            ))
        }
        Op::InsertBatch { vectors, count } => {
            if count == 0 {
                return Ok((
                    None,
                    Outcome::Ids {
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
                }),
                Outcome::Ids {
                    first: next_rec,
                    count,
                },
            ));
        }
        Op::Delete { id } => Event::DeleteRecord { id },
        Op::SoftDelete { id } => {
            // Idempotent for clients that retry: a second soft delete records nothing.
            if state.record_status(id) == TOMBSTONE {
                return Ok((None, Outcome::Done));
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
                Outcome::Id(next_node),
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
                Outcome::Id(next_edge),
            ))
        }
        Op::SetMetadata { key, value } => Event::SetMetadata { key, value },
        Op::Replicated { seq, payload } => {
            let h = state.height();
            if seq <= h {
                return Ok((None, Outcome::Done));
            }
            if seq != h + 1 {
                return Err(KernelError::SequenceGap(format!(
                    "replicated event {seq} does not follow height {h}: a gap in the stream"
                )));
            }
            let ev = Event::decode(&payload)?;
            return Ok((Some(ev), Outcome::Done));
        }
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
                Outcome::Upsert {
                    record_id: next_rec,
                    document_node_id: doc_id,
                    chunk_node_id: chunk,
                    edge_id: next_edge,
                },
            ));
        }
    };
    Ok((Some(ev), Outcome::Done))
}
