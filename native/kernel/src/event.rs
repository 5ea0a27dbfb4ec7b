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

/// What a record carries besides its vector (docs/api-reference.md,
/// "Payloads and filters"): its metadata as canonical JSON object bytes and
/// its text as a canonical JSON string. Applied as the `rec:<id>` and
/// `rec:<id>:text` metadata entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payload {
    pub metadata: Option<Vec<u8>>,
    pub text: Option<Vec<u8>>,
}

impl Payload {
    pub fn is_empty(&self) -> bool {
        self.metadata.is_none() && self.text.is_none()
    }
    pub(crate) fn encoded_len(&self) -> usize {
        let b = |v: &Option<Vec<u8>>| v.as_ref().map_or(0, |m| 4usize.saturating_add(m.len()));
        1usize
            .saturating_add(b(&self.metadata))
            .saturating_add(b(&self.text))
    }
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u8(u8::from(self.metadata.is_some()) | u8::from(self.text.is_some()) << 1);
        for b in [&self.metadata, &self.text].into_iter().flatten() {
            w.len_bytes(b);
        }
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> KResult<Payload> {
        let flags = r.u8()?;
        if flags & !3 != 0 {
            return Err(KernelError::Corrupt(format!("bad payload flags {flags}")));
        }
        let mut field = |bit: u8| -> KResult<Option<Vec<u8>>> {
            Ok(if flags & bit != 0 {
                Some(r.len_bytes()?.to_vec())
            } else {
                None
            })
        };
        Ok(Payload {
            metadata: field(1)?,
            text: field(2)?,
        })
    }
}

/// Metadata key of a record's payload metadata.
pub fn payload_key(id: u32) -> String {
    format!("rec:{id}")
}

/// Metadata key of a record's text.
pub fn text_key(id: u32) -> String {
    format!("rec:{id}:text")
}

/// The record a metadata key holds the payload of: `rec:<id>` → (id, false),
/// `rec:<id>:text` → (id, true); `<id>` in canonical decimal only.
pub fn payload_record(key: &str) -> Option<(u32, bool)> {
    let rest = key.strip_prefix("rec:")?;
    let (num, text) = match rest.strip_suffix(":text") {
        Some(n) => (n, true),
        None => (rest, false),
    };
    let canonical = !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
        && (num == "0" || !num.starts_with('0'));
    if !canonical {
        return None;
    }
    num.parse().ok().map(|id| (id, text))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocTarget {
    /// Attach the chunk to an existing document node.
    Existing(u32),
    /// Create a new document node with this id.
    New(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Type 1, or 13 when the payload is not empty.
    InsertRecord {
        id: u32,
        tag: u64,
        vector: Vec<i32>,
        payload: Payload,
    },
    /// `vectors.len() / dim` records with ids `first_id..`; all or nothing.
    /// `payloads`: empty (type 2), or one per record (type 14).
    InsertBatch {
        first_id: u32,
        count: u32,
        vectors: Vec<i32>,
        payloads: Vec<Payload>,
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
    /// A graph node and its incident edges. A record it links stays.
    DeleteNode {
        id: u32,
    },
    DeleteEdge {
        id: u32,
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
// 9 and 10 are the collection events (`entry::StoreEvent`).
const T_DEL_NODE: u8 = 11;
const T_DEL_EDGE: u8 = 12;
const T_INSERT_P: u8 = 13;
const T_BATCH_P: u8 = 14;

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
            Event::DeleteNode { .. } => "DeleteNode",
            Event::DeleteEdge { .. } => "DeleteEdge",
        }
    }

    /// Length of `encode()`, computed without encoding (saturating, so a
    /// huge vector cannot overflow the sum).
    pub fn encoded_len(&self) -> usize {
        let vec = |v: &Vec<i32>| v.len().saturating_mul(4).saturating_add(4);
        match self {
            Event::InsertRecord {
                vector, payload, ..
            } => {
                let p = if payload.is_empty() {
                    0
                } else {
                    payload.encoded_len()
                };
                vec(vector).saturating_add(1 + 4 + 8).saturating_add(p)
            }
            Event::InsertBatch {
                vectors, payloads, ..
            } => {
                let p = if payloads.is_empty() {
                    0
                } else {
                    payloads
                        .iter()
                        .fold(4usize, |a, p| a.saturating_add(p.encoded_len()))
                };
                vec(vectors).saturating_add(1 + 4 + 4).saturating_add(p)
            }
            Event::DeleteRecord { .. }
            | Event::SoftDeleteRecord { .. }
            | Event::DeleteNode { .. }
            | Event::DeleteEdge { .. } => 1 + 4,
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

    /// The event type byte (docs/EVENT_LOG_FORMAT.md, "Event payloads").
    pub fn type_code(&self) -> u8 {
        match self {
            Event::InsertRecord { payload, .. } if !payload.is_empty() => T_INSERT_P,
            Event::InsertRecord { .. } => T_INSERT,
            Event::InsertBatch { payloads, .. } if !payloads.is_empty() => T_BATCH_P,
            Event::InsertBatch { .. } => T_BATCH,
            Event::DeleteRecord { .. } => T_DELETE,
            Event::SoftDeleteRecord { .. } => T_SOFT,
            Event::CreateNode { .. } => T_NODE,
            Event::CreateEdge { .. } => T_EDGE,
            Event::SetMetadata { .. } => T_META,
            Event::UpsertMemory { .. } => T_UPSERT,
            Event::DeleteNode { .. } => T_DEL_NODE,
            Event::DeleteEdge { .. } => T_DEL_EDGE,
        }
    }

    /// The version-1 layout: the type byte, then the fields (what a
    /// version-1 event log holds; version 2 puts the collection in between).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(32);
        w.u8(self.type_code());
        self.write_fields(&mut w);
        w.buf
    }

    /// The fields after the type byte (and, in version 2, the collection).
    pub(crate) fn write_fields(&self, w: &mut Writer) {
        match self {
            Event::InsertRecord {
                id,
                tag,
                vector,
                payload,
            } => {
                w.u32(*id);
                w.u64(*tag);
                w.len_i32s(vector);
                if !payload.is_empty() {
                    payload.write(w);
                }
            }
            Event::InsertBatch {
                first_id,
                count,
                vectors,
                payloads,
            } => {
                w.buf.reserve(vectors.len() * 4 + 16);
                w.u32(*first_id);
                w.u32(*count);
                w.len_i32s(vectors);
                if !payloads.is_empty() {
                    w.u32(payloads.len() as u32);
                    for p in payloads {
                        p.write(w);
                    }
                }
            }
            Event::DeleteRecord { id }
            | Event::SoftDeleteRecord { id }
            | Event::DeleteNode { id }
            | Event::DeleteEdge { id } => w.u32(*id),
            Event::CreateNode { id, kind, record } => {
                w.u32(*id);
                w.u8(*kind);
                w.u32(record.unwrap_or(NONE_U32));
            }
            Event::CreateEdge { id, from, to, kind } => {
                w.u32(*id);
                w.u32(*from);
                w.u32(*to);
                w.u8(*kind);
            }
            Event::SetMetadata { key, value } => {
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
    }

    /// Decode the version-1 layout (the whole payload is one event).
    pub fn decode(bytes: &[u8]) -> KResult<Event> {
        let mut r = Reader::new(bytes);
        let t = r.u8()?;
        let ev = Event::read_fields(t, &mut r)?
            .ok_or_else(|| KernelError::Corrupt(format!("unknown event type {t}")))?;
        if r.remaining() != 0 {
            return Err(KernelError::Corrupt(format!(
                "{} trailing bytes after {} event",
                r.remaining(),
                ev.name()
            )));
        }
        Ok(ev)
    }

    /// The fields of a per-collection event of type `t`; `None` when `t` is
    /// not one.
    pub(crate) fn read_fields(t: u8, r: &mut Reader<'_>) -> KResult<Option<Event>> {
        let ev = match t {
            T_INSERT | T_INSERT_P => Event::InsertRecord {
                id: r.u32()?,
                tag: r.u64()?,
                vector: r.len_i32s()?,
                payload: if t == T_INSERT_P {
                    Payload::read(r)?
                } else {
                    Payload::default()
                },
            },
            T_BATCH | T_BATCH_P => {
                let first_id = r.u32()?;
                let count = r.u32()?;
                let vectors = r.len_i32s()?;
                let mut payloads = Vec::new();
                if t == T_BATCH_P {
                    let n = r.u32()?;
                    if n != count {
                        return Err(KernelError::Corrupt(format!(
                            "batch of {count} records carries {n} payloads"
                        )));
                    }
                    // Each payload is at least its flag byte: bound the
                    // reservation by the bytes that remain.
                    payloads.reserve((n as usize).min(r.remaining()));
                    for _ in 0..n {
                        payloads.push(Payload::read(r)?);
                    }
                }
                Event::InsertBatch {
                    first_id,
                    count,
                    vectors,
                    payloads,
                }
            }
            T_DELETE => Event::DeleteRecord { id: r.u32()? },
            T_SOFT => Event::SoftDeleteRecord { id: r.u32()? },
            T_DEL_NODE => Event::DeleteNode { id: r.u32()? },
            T_DEL_EDGE => Event::DeleteEdge { id: r.u32()? },
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
            _ => return Ok(None),
        };
        Ok(Some(ev))
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
