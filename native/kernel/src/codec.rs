//! Canonical encoding of the whole state. The same bytes feed the BLAKE3 state
//! hash and the kernel section of a snapshot, so "equal hash" means "equal
//! snapshot payload". Everything that defines state is covered: dim, every
//! record slot (status, tag, vector), the metadata map in key order, every node
//! slot and every edge slot. Slot order is id order; nothing iterates a HashMap.
//!
//! Layout (all integers little-endian):
//! ```text
//! "VALORI-STATE" u32 version=1 | u32 dim
//! u32 record_slots | per slot: u8 status (0 hole, 1 live, 2 soft-deleted)
//!                              [if not hole: u64 tag, dim × i32]
//! u32 metadata_count | per entry: u32 key_len, key, u32 value_len, value
//! u32 node_slots | per slot: u8 present [if present: u8 kind, u32 record (u32::MAX = none)]
//! u32 edge_slots | per slot: u8 present [if present: u8 kind, u32 from, u32 to]
//! ```

use std::collections::{BTreeMap, HashMap};

use crate::bytes::Reader;
use crate::error::{KResult, KernelError};
use crate::event::NONE_U32;
use crate::state::{
    Limits, State, HOLE, LIVE, MAX_METADATA_BYTES, MAX_METADATA_KEY_BYTES, TOMBSTONE,
};

const MAGIC: &[u8; 12] = b"VALORI-STATE";
const VERSION: u32 = 1;

/// Where canonical bytes go: a buffer (snapshot) or a hasher (proof).
pub trait Sink {
    fn put(&mut self, b: &[u8]);
}
impl Sink for Vec<u8> {
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}
impl Sink for blake3::Hasher {
    fn put(&mut self, b: &[u8]) {
        self.update(b);
    }
}
impl<S: Sink + ?Sized> Sink for &mut S {
    fn put(&mut self, b: &[u8]) {
        (**self).put(b);
    }
}

/// Counts the bytes of an encoding without keeping them.
#[derive(Default)]
pub struct Count(pub u64);
impl Sink for Count {
    fn put(&mut self, b: &[u8]) {
        self.0 += b.len() as u64;
    }
}

/// Length and BLAKE3 digest of an encoding, without keeping it: what a
/// snapshot header needs of a section before the section is written, and
/// the state hashes. An encoding arrives in small pieces (a record is a
/// status byte, a tag and its vector); handed to the hasher one by one they
/// keep BLAKE3 on one block at a time (~0.9 GB/s here), so they are gathered
/// into runs of [`MEASURE_RUN`] bytes, which it hashes many chunks at a time
/// (~4 GB/s). The digest is the same either way.
#[derive(Default)]
pub struct Measure {
    pub len: u64,
    hasher: blake3::Hasher,
    run: Vec<u8>,
}

/// Bytes gathered before they are hashed.
pub const MEASURE_RUN: usize = 64 << 10;

impl Sink for Measure {
    fn put(&mut self, b: &[u8]) {
        self.len += b.len() as u64;
        if self.run.len() + b.len() > MEASURE_RUN {
            self.hasher.update(&self.run);
            self.run.clear();
        }
        if b.len() >= MEASURE_RUN {
            self.hasher.update(b);
        } else {
            if self.run.capacity() == 0 {
                self.run.reserve_exact(MEASURE_RUN);
            }
            self.run.extend_from_slice(b);
        }
    }
}
impl Measure {
    pub fn digest(&self) -> [u8; 32] {
        let mut h = self.hasher.clone();
        h.update(&self.run);
        *h.finalize().as_bytes()
    }
}

/// Passes bytes on to `inner`, keeping their CRC32C.
pub(crate) struct Crc<'a> {
    pub inner: &'a mut dyn Sink,
    pub value: u32,
}
impl Sink for Crc<'_> {
    fn put(&mut self, b: &[u8]) {
        self.value = crc32c::crc32c_append(self.value, b);
        self.inner.put(b);
    }
}

pub(crate) fn put_i32_slice(sink: &mut impl Sink, v: &[i32]) {
    #[cfg(target_endian = "little")]
    {
        // SAFETY: i32 has no padding and any byte pattern is a valid u8; on a
        // little-endian machine the in-memory bytes are the canonical bytes.
        let bytes = unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, v.len() * 4) };
        sink.put(bytes);
    }
    #[cfg(not(target_endian = "little"))]
    {
        let mut buf = Vec::with_capacity(v.len() * 4);
        for x in v {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        sink.put(&buf);
    }
}

pub fn encode_into(state: &State, sink: &mut impl Sink) {
    let dim = state.limits.dim;
    sink.put(MAGIC);
    sink.put(&VERSION.to_le_bytes());
    sink.put(&(dim as u32).to_le_bytes());
    sink.put(&(state.records.slots() as u32).to_le_bytes());
    const HOLES: [u8; crate::records::CHUNK_SLOTS] = [HOLE; crate::records::CHUNK_SLOTS];
    for c in state.records.chunks() {
        if c.status.is_empty() {
            sink.put(&HOLES[..c.slots]);
            continue;
        }
        let mut k = 0;
        for &st in c.status {
            sink.put(&[st]);
            if st != HOLE {
                sink.put(&c.tags[k].to_le_bytes());
                put_i32_slice(sink, &c.vectors[k * dim..(k + 1) * dim]);
                k += 1;
            }
        }
    }
    sink.put(&(state.metadata.len() as u32).to_le_bytes());
    for (k, v) in &state.metadata {
        sink.put(&(k.len() as u32).to_le_bytes());
        sink.put(k.as_bytes());
        sink.put(&(v.len() as u32).to_le_bytes());
        sink.put(v);
    }
    put_pool(sink, &state.graph.nodes, |n| {
        let mut b = [0u8; 6];
        b[1] = n.kind;
        b[2..6].copy_from_slice(&n.record.unwrap_or(NONE_U32).to_le_bytes());
        b
    });
    put_pool(sink, &state.graph.edges, |e| {
        let mut b = [0u8; 10];
        b[1] = e.kind;
        b[2..6].copy_from_slice(&e.from.to_le_bytes());
        b[6..10].copy_from_slice(&e.to.to_le_bytes());
        b
    });
}

/// A graph pool in the canonical layout: the slot count, then per slot `0` (deleted) or `1`
/// followed by the entry's fields; `fields` fills bytes 1.. of the entry (byte 0 is set here).
/// A chunk with no entry is one run of zeros.
fn put_pool<T, const N: usize>(
    sink: &mut impl Sink,
    pool: &crate::graph::Pool<T>,
    fields: impl Fn(&T) -> [u8; N],
) {
    const ABSENT: [u8; crate::graph::CHUNK_SLOTS] = [0; crate::graph::CHUNK_SLOTS];
    sink.put(&(pool.slots() as u32).to_le_bytes());
    for c in pool.chunks() {
        if c.items.is_empty() {
            sink.put(&ABSENT[..c.slots]);
            continue;
        }
        let mut items = c.items.iter();
        for off in 0..c.slots {
            if !c.has(off) {
                sink.put(&[0]);
                continue;
            }
            let item = items.next().expect("one entry per present slot");
            let mut b = fields(item);
            b[0] = 1;
            sink.put(&b);
        }
    }
}

pub fn encode(state: &State) -> Vec<u8> {
    let recs = state.records.stored() * (state.limits.dim * 4 + 9);
    let mut v = Vec::with_capacity(64 + recs + state.records.slots() - state.records.stored());
    encode_into(state, &mut v);
    v
}

/// BLAKE3 of the canonical encoding.
pub fn state_hash(state: &State) -> [u8; 32] {
    let mut m = Measure::default();
    encode_into(state, &mut m);
    m.digest()
}

pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// Decode a canonical encoding into a state with `limits` (whose dim must match)
/// and the given height. Derived structures (edge lists, record→node links,
/// counts) are rebuilt in id order, so they equal those of the original.
pub fn decode(bytes: &[u8], limits: Limits, height: u64) -> KResult<State> {
    let mut r = Reader::new(bytes);
    let st = decode_from(&mut r, limits, height)?;
    if r.remaining() != 0 {
        return Err(KernelError::Corrupt("kernel state: trailing bytes".into()));
    }
    Ok(st)
}

/// `decode` for an encoding embedded in a longer input (the store's).
pub(crate) fn decode_from(r: &mut Reader<'_>, limits: Limits, height: u64) -> KResult<State> {
    if r.take(12)? != MAGIC {
        return Err(KernelError::Corrupt("kernel state: bad magic".into()));
    }
    let ver = r.u32()?;
    if ver != VERSION {
        return Err(KernelError::Corrupt(format!(
            "kernel state: unsupported version {ver}"
        )));
    }
    let dim = r.u32()? as usize;
    if dim != limits.dim {
        return Err(KernelError::Corrupt(format!(
            "snapshot has dimension {dim}, this node is configured with VALORI_DIM={}",
            limits.dim
        )));
    }
    let mut st = State::new(limits);
    let slots = r.u32()? as usize;
    // Each slot takes at least one byte, and a hole costs no vector bytes
    // (records.rs), so the work is bounded by the input size.
    if slots > r.remaining() || slots as u64 >= u32::MAX as u64 {
        return Err(KernelError::Corrupt(
            "kernel state: record count exceeds data".into(),
        ));
    }
    let mut v = vec![0i32; dim];
    for _ in 0..slots {
        let s = r.u8()?;
        match s {
            HOLE => st.records.push(HOLE, 0, &[]),
            LIVE | TOMBSTONE => {
                if st.rec_live + st.rec_tomb >= limits.max_records {
                    return Err(KernelError::CapacityExceeded(format!(
                        "snapshot holds more records than this node's limit of {} (VALORI_MAX_RECORDS)",
                        limits.max_records
                    )));
                }
                let tag = r.u64()?;
                r.i32s_into(&mut v)?;
                if v.iter().any(|&x| x > st.bound || x < -st.bound) {
                    return Err(KernelError::Corrupt(
                        "kernel state: component out of range".into(),
                    ));
                }
                st.records.push(s, tag, &v);
                if s == LIVE {
                    st.rec_live += 1;
                } else {
                    st.rec_tomb += 1;
                }
            }
            x => {
                return Err(KernelError::Corrupt(format!(
                    "kernel state: bad record status {x}"
                )))
            }
        }
    }
    decode_metadata(r, &mut st)?;
    let node_n = r.u32()? as usize;
    if node_n > r.remaining() || node_n as u64 >= u32::MAX as u64 {
        return Err(KernelError::Corrupt(
            "kernel state: node count exceeds data".into(),
        ));
    }
    // Deleted node and edge slots cost a presence bit each (graph.rs), so
    // like record holes they are bounded by the input size.
    let mut record_nodes: HashMap<u32, Vec<u32>> = HashMap::new();
    for id in 0..node_n {
        let present = r.u8()?;
        match present {
            0 => st.graph.nodes.push(None),
            1 => {
                let kind = r.u8()?;
                let rec = r.u32()?;
                let record = (rec != NONE_U32).then_some(rec);
                if let Some(rid) = record {
                    if st.record_status(rid) == HOLE {
                        return Err(KernelError::Corrupt(format!(
                            "node {id} links missing record {rid}"
                        )));
                    }
                    record_nodes.entry(rid).or_default().push(id as u32);
                }
                if st.node_live >= limits.max_nodes {
                    return Err(KernelError::CapacityExceeded(format!(
                        "snapshot holds more graph nodes than this node's limit of {} (VALORI_MAX_NODES)",
                        limits.max_nodes
                    )));
                }
                st.node_live += 1;
                st.graph.push_node(kind, record);
            }
            x => {
                return Err(KernelError::Corrupt(format!(
                    "kernel state: bad node flag {x}"
                )))
            }
        }
    }
    st.record_nodes = record_nodes;
    let edge_n = r.u32()? as usize;
    if edge_n > r.remaining() || edge_n as u64 >= u32::MAX as u64 {
        return Err(KernelError::Corrupt(
            "kernel state: edge count exceeds data".into(),
        ));
    }
    for id in 0..edge_n {
        let present = r.u8()?;
        match present {
            0 => st.graph.edges.push(None),
            1 => {
                let kind = r.u8()?;
                let from = r.u32()?;
                let to = r.u32()?;
                if st.node(from).is_none() || st.node(to).is_none() {
                    return Err(KernelError::Corrupt(format!(
                        "edge {id} links a missing node"
                    )));
                }
                if st.edge_live >= limits.max_edges {
                    return Err(KernelError::CapacityExceeded(format!(
                        "snapshot holds more graph edges than this node's limit of {} (VALORI_MAX_EDGES)",
                        limits.max_edges
                    )));
                }
                st.edge_live += 1;
                st.graph.push_edge(kind, from, to);
            }
            x => {
                return Err(KernelError::Corrupt(format!(
                    "kernel state: bad edge flag {x}"
                )))
            }
        }
    }
    st.height = height;
    Ok(st)
}

/// Metadata in strictly ascending key order (as `encode` writes it), each
/// entry within the per-key and per-value caps, all within the node's limits.
fn decode_metadata(r: &mut Reader<'_>, st: &mut State) -> KResult<()> {
    let limits = st.limits;
    let meta_n = r.u32()? as u64;
    // Records' payload entries (two per record at most) are not counted
    // against the entry limit; everything else is, below.
    let payload_max = limits.max_records.saturating_mul(2);
    if meta_n > limits.max_metadata_entries.saturating_add(payload_max) {
        return Err(KernelError::CapacityExceeded(format!(
            "snapshot holds {meta_n} metadata entries, this node's limit is {} (VALORI_MAX_METADATA_ENTRIES)",
            limits.max_metadata_entries
        )));
    }
    let mut metadata = BTreeMap::new();
    let mut bytes = 0u64;
    let mut prev: Option<&[u8]> = None;
    for _ in 0..meta_n {
        let k = r.len_bytes()?;
        if k.is_empty() || k.len() > MAX_METADATA_KEY_BYTES {
            return Err(KernelError::Corrupt(format!(
                "kernel state: metadata key of {} bytes, keys must be 1..={MAX_METADATA_KEY_BYTES}",
                k.len()
            )));
        }
        if prev.is_some_and(|p| p >= k) {
            return Err(KernelError::Corrupt(
                "kernel state: metadata keys out of order or repeated".into(),
            ));
        }
        prev = Some(k);
        let key = std::str::from_utf8(k)
            .map_err(|_| KernelError::Corrupt("kernel state: metadata key is not UTF-8".into()))?;
        let v = r.len_bytes()?;
        if v.len() > MAX_METADATA_BYTES {
            return Err(KernelError::Corrupt(format!(
                "kernel state: metadata value of {} bytes, the limit is {MAX_METADATA_BYTES}",
                v.len()
            )));
        }
        bytes += (k.len() + v.len()) as u64;
        if bytes > limits.max_metadata_bytes {
            return Err(KernelError::CapacityExceeded(format!(
                "snapshot metadata exceeds this node's limit of {} bytes (VALORI_MAX_METADATA_BYTES)",
                limits.max_metadata_bytes
            )));
        }
        metadata.insert(key.to_owned(), v.to_vec());
    }
    let payload = metadata
        .keys()
        .filter(|k| crate::event::payload_record(k).is_some())
        .count() as u64;
    if meta_n - payload > limits.max_metadata_entries {
        return Err(KernelError::CapacityExceeded(format!(
            "snapshot holds {} metadata entries, this node's limit is {} (VALORI_MAX_METADATA_ENTRIES)",
            meta_n - payload,
            limits.max_metadata_entries
        )));
    }
    st.metadata = metadata;
    st.meta_bytes = bytes;
    st.meta_payload = payload;
    Ok(())
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
