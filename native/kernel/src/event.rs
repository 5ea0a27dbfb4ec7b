//! Events: the only way state changes. Each event carries the ids it creates,
//! so replay and followers re-derive nothing from timing. The binary encoding
//! is canonical (fixed-width little-endian fields, no maps), versioned by the
//! first byte (the event type), and the decoder checks every length against the
//! bytes that remain before allocating.

use crate::bytes::{Reader, Writer};
use crate::error::{KResult, KernelError};

/// Largest encoded event a client operation may produce: 64 MiB. Below the
/// event log's frame limit and what a follower's stream accepts, so a write a
/// leader takes is one every follower can apply. A batch must fit in one event.
pub const MAX_EVENT_BYTES: usize = 64 << 20;

/// Node or record link absent.
pub const NONE_U32: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocTarget {
    /// Attach the chunk to an existing document node.
    Existing(u32),
    /// Create a new document node with this id.
    New(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    InsertRecord {
        id: u32,
        tag: u64,
        vector: Vec<i32>,
    },
    /// `vectors.len() / dim` records with ids `first_id..`; all or nothing.
    InsertBatch {
        first_id: u32,
        count: u32,
        vectors: Vec<i32>,
    },
    /// Hard delete: the slot becomes a hole; linked graph nodes, their edges and
    /// the record's `rec:<id>` metadata go with it.
    DeleteRecord {
        id: u32,
    },
    /// Tombstone: excluded from search, slot still counted.
    SoftDeleteRecord {
        id: u32,
    },
    CreateNode {
        id: u32,
        kind: u8,
        record: Option<u32>,
    },
    CreateEdge {
        id: u32,
        from: u32,
        to: u32,
        kind: u8,
    },
    SetMetadata {
        key: String,
        value: Vec<u8>,
    },
    /// Record + (document node) + chunk node + parent edge + metadata, atomically.
    UpsertMemory {
        record_id: u32,
        tag: u64,
        vector: Vec<i32>,
        doc: DocTarget,
        chunk_node: u32,
        edge_id: u32,
        metadata: Option<Vec<u8>>,
    },
}

const T_INSERT: u8 = 1;
const T_BATCH: u8 = 2;
const T_DELETE: u8 = 3;
const T_SOFT: u8 = 4;
const T_NODE: u8 = 5;
const T_EDGE: u8 = 6;
const T_META: u8 = 7;
const T_UPSERT: u8 = 8;

/// Node kind used for documents and chunks created by upsert (as in the reference).
pub const KIND_DOCUMENT: u8 = 5;
pub const KIND_CHUNK: u8 = 6;
pub const EDGE_PARENT_OF: u8 = 6;

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::InsertRecord { .. } => "InsertRecord",
            Event::InsertBatch { .. } => "InsertBatch",
            Event::DeleteRecord { .. } => "DeleteRecord",
            Event::SoftDeleteRecord { .. } => "SoftDeleteRecord",
            Event::CreateNode { .. } => "CreateNode",
            Event::CreateEdge { .. } => "CreateEdge",
            Event::SetMetadata { .. } => "SetMetadata",
            Event::UpsertMemory { .. } => "UpsertMemory",
        }
    }

    /// Length of `encode()`, computed without encoding (saturating, so a
    /// huge vector cannot overflow the sum).
    pub fn encoded_len(&self) -> usize {
        let vec = |v: &Vec<i32>| v.len().saturating_mul(4).saturating_add(4);
        match self {
            Event::InsertRecord { vector, .. } => vec(vector).saturating_add(1 + 4 + 8),
            Event::InsertBatch { vectors, .. } => vec(vectors).saturating_add(1 + 4 + 4),
            Event::DeleteRecord { .. } | Event::SoftDeleteRecord { .. } => 1 + 4,
            Event::CreateNode { .. } => 1 + 4 + 1 + 4,
            Event::CreateEdge { .. } => 1 + 4 + 4 + 4 + 1,
            Event::SetMetadata { key, value } => {
                (1 + 4 + 4 + key.len()).saturating_add(value.len())
            }
            Event::UpsertMemory {
                vector, metadata, ..
            } => {
                let meta = metadata.as_ref().map_or(0, |m| 4 + m.len());
                vec(vector)
                    .saturating_add(1 + 4 + 8 + 1 + 4 + 4 + 4 + 1)
                    .saturating_add(meta)
            }
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(32);
        match self {
            Event::InsertRecord { id, tag, vector } => {
                w.u8(T_INSERT);
                w.u32(*id);
                w.u64(*tag);
                w.len_i32s(vector);
            }
            Event::InsertBatch {
                first_id,
                count,
                vectors,
            } => {
                w.buf.reserve(vectors.len() * 4 + 16);
                w.u8(T_BATCH);
                w.u32(*first_id);
                w.u32(*count);
                w.len_i32s(vectors);
            }
            Event::DeleteRecord { id } => {
                w.u8(T_DELETE);
                w.u32(*id);
            }
            Event::SoftDeleteRecord { id } => {
                w.u8(T_SOFT);
                w.u32(*id);
            }
            Event::CreateNode { id, kind, record } => {
                w.u8(T_NODE);
                w.u32(*id);
                w.u8(*kind);
                w.u32(record.unwrap_or(NONE_U32));
            }
            Event::CreateEdge { id, from, to, kind } => {
                w.u8(T_EDGE);
                w.u32(*id);
                w.u32(*from);
                w.u32(*to);
                w.u8(*kind);
            }
            Event::SetMetadata { key, value } => {
                w.u8(T_META);
                w.len_bytes(key.as_bytes());
                w.len_bytes(value);
            }
            Event::UpsertMemory {
                record_id,
                tag,
                vector,
                doc,
                chunk_node,
                edge_id,
                metadata,
            } => {
                w.u8(T_UPSERT);
                w.u32(*record_id);
                w.u64(*tag);
                w.len_i32s(vector);
                match doc {
                    DocTarget::Existing(id) => {
                        w.u8(0);
                        w.u32(*id);
                    }
                    DocTarget::New(id) => {
                        w.u8(1);
                        w.u32(*id);
                    }
                }
                w.u32(*chunk_node);
                w.u32(*edge_id);
                match metadata {
                    None => w.u8(0),
                    Some(m) => {
                        w.u8(1);
                        w.len_bytes(m);
                    }
                }
            }
        }
        w.buf
    }

    pub fn decode(bytes: &[u8]) -> KResult<Event> {
        let mut r = Reader::new(bytes);
        let t = r.u8()?;
        let ev = match t {
            T_INSERT => Event::InsertRecord {
                id: r.u32()?,
                tag: r.u64()?,
                vector: r.len_i32s()?,
            },
            T_BATCH => {
                let first_id = r.u32()?;
                let count = r.u32()?;
                let vectors = r.len_i32s()?;
                Event::InsertBatch {
                    first_id,
                    count,
                    vectors,
                }
            }
            T_DELETE => Event::DeleteRecord { id: r.u32()? },
            T_SOFT => Event::SoftDeleteRecord { id: r.u32()? },
            T_NODE => {
                let id = r.u32()?;
                let kind = r.u8()?;
                let rec = r.u32()?;
                Event::CreateNode {
                    id,
                    kind,
                    record: (rec != NONE_U32).then_some(rec),
                }
            }
            T_EDGE => Event::CreateEdge {
                id: r.u32()?,
                from: r.u32()?,
                to: r.u32()?,
                kind: r.u8()?,
            },
            T_META => {
                let key = String::from_utf8(r.len_bytes()?.to_vec())
                    .map_err(|_| KernelError::Corrupt("metadata key is not UTF-8".into()))?;
                Event::SetMetadata {
                    key,
                    value: r.len_bytes()?.to_vec(),
                }
            }
            T_UPSERT => {
                let record_id = r.u32()?;
                let tag = r.u64()?;
                let vector = r.len_i32s()?;
                let doc = match r.u8()? {
                    0 => DocTarget::Existing(r.u32()?),
                    1 => DocTarget::New(r.u32()?),
                    x => return Err(KernelError::Corrupt(format!("bad document target tag {x}"))),
                };
                let chunk_node = r.u32()?;
                let edge_id = r.u32()?;
                let metadata = match r.u8()? {
                    0 => None,
                    1 => Some(r.len_bytes()?.to_vec()),
                    x => return Err(KernelError::Corrupt(format!("bad metadata tag {x}"))),
                };
                Event::UpsertMemory {
                    record_id,
                    tag,
                    vector,
                    doc,
                    chunk_node,
                    edge_id,
                    metadata,
                }
            }
            x => return Err(KernelError::Corrupt(format!("unknown event type {x}"))),
        };
        if r.remaining() != 0 {
            return Err(KernelError::Corrupt(format!(
                "{} trailing bytes after {} event",
                r.remaining(),
                ev.name()
            )));
        }
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<Event> {
        vec![
            Event::InsertRecord {
                id: 7,
                tag: 42,
                vector: vec![1, -2, 3],
            },
            Event::InsertBatch {
                first_id: 3,
                count: 2,
                vectors: vec![1, 2, 3, 4],
            },
            Event::DeleteRecord { id: 9 },
            Event::SoftDeleteRecord { id: 1 },
            Event::CreateNode {
                id: 0,
                kind: 255,
                record: None,
            },
            Event::CreateNode {
                id: 1,
                kind: 6,
                record: Some(4),
            },
            Event::CreateEdge {
                id: 2,
                from: 0,
                to: 1,
                kind: 3,
            },
            Event::SetMetadata {
                key: "rec:1".into(),
                value: b"{\"a\":1}".to_vec(),
            },
            Event::UpsertMemory {
                record_id: 1,
                tag: 0,
                vector: vec![5, 6],
                doc: DocTarget::New(3),
                chunk_node: 4,
                edge_id: 5,
                metadata: Some(b"null".to_vec()),
            },
            Event::UpsertMemory {
                record_id: 2,
                tag: 0,
                vector: vec![5, 6],
                doc: DocTarget::Existing(3),
                chunk_node: 6,
                edge_id: 7,
                metadata: None,
            },
        ]
    }

    #[test]
    fn every_event_round_trips() {
        for e in samples() {
            assert_eq!(Event::decode(&e.encode()).unwrap(), e);
        }
    }

    #[test]
    fn encoded_len_equals_the_encoding_length() {
        for e in samples() {
            assert_eq!(e.encoded_len(), e.encode().len(), "{}", e.name());
        }
    }

    #[test]
    fn every_strict_prefix_fails_cleanly() {
        for e in samples() {
            let b = e.encode();
            for n in 0..b.len() {
                assert!(Event::decode(&b[..n]).is_err());
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Event::decode(&b);
        }

        #[test]
        fn huge_declared_lengths_are_rejected(t in 1u8..9, len in any::<u32>()) {
            let mut b = vec![t];
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(&len.to_le_bytes());
            let _ = Event::decode(&b);
        }
    }
}
