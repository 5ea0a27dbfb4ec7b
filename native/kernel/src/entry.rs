//! Version-2 events and event-log entries (docs/EVENT_LOG_FORMAT.md).
//!
//! A [`StoreEvent`] is what the committer applies to the whole store: a
//! per-collection [`Event`] naming its collection, or the creation or drop of
//! a collection, each with the idempotency keys of the write that produced it
//! (so replay and followers rebuild the key table). A log entry is the event
//! plus the leader's commit time, which `apply` never reads and the state hash
//! does not cover. A version-1 payload (a bare [`Event`], from a log written
//! before collections) decodes as an event of collection `default` with no
//! time and no keys, so upgraded logs keep their bytes and their chain.

use crate::bytes::{Reader, Writer};
use crate::error::{KResult, KernelError};
use crate::event::Event;
use crate::index::{Distance, IndexConfig, IndexKind, QuantKind};

/// First byte of a version-2 log entry (version-1 payloads start with an
/// event type, 1..=8).
pub const ENTRY_V2: u8 = 0x80;
const T_CREATE_COLLECTION: u8 = 9;
const T_DROP_COLLECTION: u8 = 10;

/// A client-chosen idempotency key (16 bytes).
pub type IdemKey = [u8; 16];
/// BLAKE3 of a request's content without the ids the kernel assigns.
pub type Fingerprint = [u8; 32];

/// The idempotency keys a write carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Idem {
    /// The key of the whole write.
    pub key: Option<(IdemKey, Fingerprint)>,
    /// Per-item keys of a batch (empty: none), one entry per record.
    pub items: Vec<Option<(IdemKey, Fingerprint)>>,
}

impl Idem {
    pub fn is_empty(&self) -> bool {
        self.key.is_none() && self.items.is_empty()
    }
}

/// Distance of a collection (docs/api-reference.md, "Metrics"). Cosine
/// stores unit vectors and ranks by squared L2 between them; dot ranks by
/// the exact integer dot product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    SquaredL2,
    Cosine,
    Dot,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::SquaredL2 => "squared_l2",
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
        }
    }
    /// `squared_l2` (aliases `l2`, `l2sq`), `cosine`, `dot`.
    pub fn parse(s: &str) -> KResult<Metric> {
        match s {
            "squared_l2" | "l2" | "l2sq" => Ok(Metric::SquaredL2),
            "cosine" => Ok(Metric::Cosine),
            "dot" => Ok(Metric::Dot),
            other => Err(KernelError::InvalidArgument(format!(
                "metric must be l2 (or squared_l2, l2sq), cosine or dot, got {other:?}"
            ))),
        }
    }
    /// The byte that stands for it in events and snapshots.
    pub fn code(self) -> u8 {
        match self {
            Metric::SquaredL2 => 0,
            Metric::Cosine => 1,
            Metric::Dot => 2,
        }
    }
    /// What the indexes rank by: cosine collections hold unit vectors and
    /// rank them by squared L2.
    pub fn distance(self) -> Distance {
        match self {
            Metric::SquaredL2 | Metric::Cosine => Distance::L2,
            Metric::Dot => Distance::Dot,
        }
    }
    pub fn from_code(c: u8) -> Option<Metric> {
        match c {
            0 => Some(Metric::SquaredL2),
            1 => Some(Metric::Cosine),
            2 => Some(Metric::Dot),
            _ => None,
        }
    }
}

/// What defines a collection besides its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionConfig {
    pub dim: u32,
    pub metric: Metric,
    /// The collection's own record cap (live + soft-deleted), if any.
    pub max_records: Option<u64>,
    /// Its search index (derived, node-local structures; not hashed).
    pub index: IndexConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// An event of one collection.
    Data {
        collection: u32,
        event: Event,
        idem: Idem,
    },
    CreateCollection {
        id: u32,
        name: String,
        config: CollectionConfig,
        idem: Idem,
    },
    DropCollection {
        id: u32,
        idem: Idem,
    },
}

impl StoreEvent {
    pub fn name(&self) -> &'static str {
        match self {
            StoreEvent::Data { event, .. } => event.name(),
            StoreEvent::CreateCollection { .. } => "CreateCollection",
            StoreEvent::DropCollection { .. } => "DropCollection",
        }
    }

    /// The collection the event belongs to.
    pub fn collection(&self) -> u32 {
        match self {
            StoreEvent::Data { collection, .. } => *collection,
            StoreEvent::CreateCollection { id, .. } | StoreEvent::DropCollection { id, .. } => *id,
        }
    }

    pub fn idem(&self) -> &Idem {
        match self {
            StoreEvent::Data { idem, .. }
            | StoreEvent::CreateCollection { idem, .. }
            | StoreEvent::DropCollection { idem, .. } => idem,
        }
    }

    /// Encoded size of the event (what the 64 MiB event bound applies to).
    pub fn encoded_len(&self) -> usize {
        let idem = self.idem();
        let items: usize = idem.items.iter().map(|i| 1 + i.map_or(0, |_| 48)).sum();
        let keys = 1 + idem.key.map_or(0, |_| 48) + if items == 0 { 0 } else { 4 + items };
        let body = match self {
            StoreEvent::Data { event, .. } => event.encoded_len().saturating_add(4),
            StoreEvent::CreateCollection { name, .. } => 1 + 4 + 4 + name.len() + CONFIG_LEN,
            StoreEvent::DropCollection { .. } => 1 + 4,
        };
        body.saturating_add(keys)
    }

    fn write(&self, w: &mut Writer) {
        match self {
            StoreEvent::Data {
                collection, event, ..
            } => {
                w.u8(event.type_code());
                w.u32(*collection);
                event.write_fields(w);
            }
            StoreEvent::CreateCollection {
                id, name, config, ..
            } => {
                w.u8(T_CREATE_COLLECTION);
                w.u32(*id);
                w.len_bytes(name.as_bytes());
                write_config(w, config);
            }
            StoreEvent::DropCollection { id, .. } => {
                w.u8(T_DROP_COLLECTION);
                w.u32(*id);
            }
        }
        write_idem(w, self.idem());
    }

    fn read(r: &mut Reader<'_>) -> KResult<StoreEvent> {
        let t = r.u8()?;
        let ev = match t {
            T_CREATE_COLLECTION => {
                let id = r.u32()?;
                let name = String::from_utf8(r.len_bytes()?.to_vec())
                    .map_err(|_| KernelError::Corrupt("collection name is not UTF-8".into()))?;
                let config = read_config(r)?;
                StoreEvent::CreateCollection {
                    id,
                    name,
                    config,
                    idem: read_idem(r)?,
                }
            }
            T_DROP_COLLECTION => StoreEvent::DropCollection {
                id: r.u32()?,
                idem: read_idem(r)?,
            },
            t => {
                let collection = r.u32()?;
                let event = Event::read_fields(t, r)?
                    .ok_or_else(|| KernelError::Corrupt(format!("unknown event type {t}")))?;
                StoreEvent::Data {
                    collection,
                    event,
                    idem: read_idem(r)?,
                }
            }
        };
        Ok(ev)
    }
}

/// One log entry: `ENTRY_V2`, the commit time (u64 unix ms), the event.
pub fn encode_entry(time_ms: u64, ev: &StoreEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(ev.encoded_len().saturating_add(9));
    w.u8(ENTRY_V2);
    w.u64(time_ms);
    ev.write(&mut w);
    w.buf
}

/// The commit time of a log entry, without decoding its event (`None` for
/// a version-1 payload or too few bytes).
pub fn entry_time(payload: &[u8]) -> Option<u64> {
    match payload {
        [ENTRY_V2, t @ ..] if t.len() >= 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&t[..8]);
            Some(u64::from_le_bytes(b))
        }
        _ => None,
    }
}

/// A log entry of either version: (commit time if recorded, event).
pub fn decode_entry(payload: &[u8]) -> KResult<(Option<u64>, StoreEvent)> {
    if payload.first() != Some(&ENTRY_V2) {
        let event = Event::decode(payload)?;
        return Ok((
            None,
            StoreEvent::Data {
                collection: 0,
                event,
                idem: Idem::default(),
            },
        ));
    }
    let mut r = Reader::new(&payload[1..]);
    let time = r.u64()?;
    let ev = StoreEvent::read(&mut r)?;
    if r.remaining() != 0 {
        return Err(KernelError::Corrupt(format!(
            "{} trailing bytes after {} event",
            r.remaining(),
            ev.name()
        )));
    }
    Ok((Some(time), ev))
}

fn write_key(w: &mut Writer, k: &(IdemKey, Fingerprint)) {
    w.bytes(&k.0);
    w.bytes(&k.1);
}

fn read_key(r: &mut Reader<'_>) -> KResult<(IdemKey, Fingerprint)> {
    let mut key = [0u8; 16];
    key.copy_from_slice(r.take(16)?);
    let mut fp = [0u8; 32];
    fp.copy_from_slice(r.take(32)?);
    Ok((key, fp))
}

/// `u8 flags` (1: key, 2: item keys), the key + fingerprint, then
/// `u32 n` and per item `u8 present` [key + fingerprint].
fn write_idem(w: &mut Writer, idem: &Idem) {
    let flags = u8::from(idem.key.is_some()) | (u8::from(!idem.items.is_empty()) << 1);
    w.u8(flags);
    if let Some(k) = &idem.key {
        write_key(w, k);
    }
    if !idem.items.is_empty() {
        w.u32(idem.items.len() as u32);
        for item in &idem.items {
            match item {
                None => w.u8(0),
                Some(k) => {
                    w.u8(1);
                    write_key(w, k);
                }
            }
        }
    }
}

fn read_idem(r: &mut Reader<'_>) -> KResult<Idem> {
    let flags = r.u8()?;
    if flags > 3 {
        return Err(KernelError::Corrupt(format!(
            "bad idempotency flags {flags}"
        )));
    }
    let key = if flags & 1 != 0 {
        Some(read_key(r)?)
    } else {
        None
    };
    let mut items = Vec::new();
    if flags & 2 != 0 {
        let n = r.u32()? as usize;
        // Each item takes at least one byte: bounded by the input.
        if n == 0 || n > r.remaining() {
            return Err(KernelError::Corrupt("bad item key count".into()));
        }
        items.reserve(n);
        for _ in 0..n {
            items.push(match r.u8()? {
                0 => None,
                1 => Some(read_key(r)?),
                x => return Err(KernelError::Corrupt(format!("bad item key flag {x}"))),
            });
        }
    }
    Ok(Idem { key, items })
}

/// Bytes of an encoded [`CollectionConfig`].
pub const CONFIG_LEN: usize = 4 + 1 + 1 + 8 + 1 + 1 + 8 * 4;

/// `u32 dim, u8 metric, u8 has_cap, u64 cap, u8 index, u8 quant,
/// 8 × u32 index parameters`.
pub(crate) fn write_config(w: &mut Writer, c: &CollectionConfig) {
    w.u32(c.dim);
    w.u8(c.metric.code());
    w.u8(u8::from(c.max_records.is_some()));
    w.u64(c.max_records.unwrap_or(0));
    write_index_config(w, &c.index);
}

pub(crate) fn write_index_config(w: &mut Writer, i: &IndexConfig) {
    w.u8(match i.kind {
        IndexKind::Brute => 0,
        IndexKind::Hnsw => 1,
        IndexKind::Ivf => 2,
    });
    w.u8(match i.quant {
        QuantKind::None => 0,
        QuantKind::Scalar => 1,
        QuantKind::Product => 2,
    });
    for v in [
        i.hnsw_m,
        i.hnsw_ef_construction,
        i.hnsw_ef_search,
        i.ivf_nlist,
        i.ivf_nprobe,
        i.pq_m,
        i.rerank,
        i.train_min,
    ] {
        w.u32(v.min(u32::MAX as usize) as u32);
    }
}

pub(crate) fn read_config(r: &mut Reader<'_>) -> KResult<CollectionConfig> {
    let dim = r.u32()?;
    if dim == 0 || dim > 65536 {
        return Err(KernelError::Corrupt(format!("collection dimension {dim}")));
    }
    let m = r.u8()?;
    let metric =
        Metric::from_code(m).ok_or_else(|| KernelError::Corrupt(format!("unknown metric {m}")))?;
    let has_cap = r.u8()?;
    let cap = r.u64()?;
    let max_records = match has_cap {
        0 => None,
        1 => Some(cap),
        x => return Err(KernelError::Corrupt(format!("bad record cap flag {x}"))),
    };
    let mut index = read_index_config(r)?;
    index.distance = metric.distance();
    Ok(CollectionConfig {
        dim,
        metric,
        max_records,
        index,
    })
}

pub(crate) fn read_index_config(r: &mut Reader<'_>) -> KResult<IndexConfig> {
    let kind = match r.u8()? {
        0 => IndexKind::Brute,
        1 => IndexKind::Hnsw,
        2 => IndexKind::Ivf,
        x => return Err(KernelError::Corrupt(format!("unknown index kind {x}"))),
    };
    let quant = match r.u8()? {
        0 => QuantKind::None,
        1 => QuantKind::Scalar,
        2 => QuantKind::Product,
        x => return Err(KernelError::Corrupt(format!("unknown quantization {x}"))),
    };
    let mut v = [0usize; 8];
    for x in v.iter_mut() {
        *x = r.u32()? as usize;
    }
    Ok(IndexConfig {
        kind,
        quant,
        hnsw_m: v[0],
        hnsw_ef_construction: v[1],
        hnsw_ef_search: v[2],
        ivf_nlist: v[3],
        ivf_nprobe: v[4],
        pq_m: v[5],
        rerank: v[6],
        train_min: v[7],
        ..IndexConfig::default()
    })
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
