//! A snapshot's sections to and from a [`Store`] (docs/SNAPSHOT_FORMAT.md).
//!
//! Kernel section: the store encoding (`store::codec`). Index section,
//! version 2: `u32 count`, then per collection `u32 id`, its index
//! configuration (`entry::write_index_config`), `u64 len` and the index bytes
//! (empty for an exact scan). A version-1 snapshot (kernel payload
//! `VALORI-STATE`: one anonymous state; index section: its index) is read as
//! collection `default`.

use crate::bytes::{Reader, Writer};
use crate::codec;
use crate::codec::{Measure, Sink};
use crate::engine::Db;
use crate::entry::{read_index_config, write_index_config, CollectionConfig, Metric};
use crate::error::{KResult, KernelError};
use crate::index::{Index, IndexConfig, VectorSource};
use crate::state::Limits;
use crate::storage::snapshot::format::header_prefix;
use crate::storage::{decode_snapshot, SectionSum, SnapshotMeta, SnapshotParts, SnapshotSource};
use crate::store::{self, Collection, Store, DEFAULT_COLLECTION};

/// The metadata section is a short JSON description we write ourselves
/// (~150 bytes); anything far larger is not ours.
pub const MAX_METADATA_SECTION: usize = 64 * 1024;

/// A snapshot decoded into a ready store (states + indexes), fully validated.
pub struct Restored {
    pub store: Store,
    pub meta: SnapshotMeta,
    /// Some collection's saved index could not be used and was rebuilt.
    pub index_rebuilt: bool,
}

/// Install a saved index when it holds exactly the live records of the
/// finished windows (`Db::install_index`); rebuild otherwise (a crafted one
/// could hide records from search). It may
/// not claim more slots than the state has, so it cannot amplify its size.
/// Returns whether it was rebuilt.
fn fill_index(db: &mut Db, blob: &[u8], cfg: IndexConfig) -> bool {
    if db.index.is_none() {
        return false;
    }
    let slots = db.state.slot_count();
    let installed = Index::decode_bounded(blob, cfg, db.state.dim(), slots)
        .is_ok_and(|decoded| db.install_index(decoded));
    if !installed {
        db.rebuild_index();
    }
    !installed
}

/// Per collection: its index configuration and bytes.
fn read_index_section(b: &[u8]) -> KResult<Vec<(u32, IndexConfig, &[u8])>> {
    let corrupt = |m: &str| KernelError::Corrupt(format!("snapshot index section: {m}"));
    let mut r = Reader::new(b);
    let n = r.u32()? as usize;
    if n > store::MAX_COLLECTIONS || n > r.remaining() {
        return Err(corrupt("collection count exceeds data"));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.u32()?;
        let cfg = read_index_config(&mut r)?;
        let len = r.u64()?;
        if len > r.remaining() as u64 {
            return Err(corrupt("index runs past the end"));
        }
        out.push((id, cfg, r.take(len as usize)?));
    }
    if r.remaining() != 0 {
        return Err(corrupt("trailing bytes"));
    }
    Ok(out)
}

/// Decode and validate a snapshot for this node (its limits; `default_cfg`
/// is collection `default`'s index, from the node's options as today).
/// Nothing is installed.
pub fn decode_store(bytes: &[u8], limits: Limits, default_cfg: IndexConfig) -> KResult<Restored> {
    let (meta, parts) =
        decode_snapshot(bytes).map_err(|e| KernelError::Corrupt(format!("snapshot: {e}")))?;
    decode_parts(meta, &parts, limits, default_cfg)
}

/// Like [`decode_store`] for sections whose container was already checked
/// (`SnapshotStore::load_newest_valid` verified their digests): recovery
/// does not hash a large snapshot twice.
pub fn decode_parts(
    meta: SnapshotMeta,
    parts: &SnapshotParts<'_>,
    limits: Limits,
    default_cfg: IndexConfig,
) -> KResult<Restored> {
    if meta.dim as usize != limits.dim {
        return Err(KernelError::Corrupt(format!(
            "snapshot has dimension {}, this node is configured with VALORI_DIM={}",
            meta.dim, limits.dim
        )));
    }
    if parts.metadata.len() > MAX_METADATA_SECTION {
        return Err(KernelError::Corrupt(format!(
            "snapshot metadata section is {} bytes, the limit is {MAX_METADATA_SECTION}",
            parts.metadata.len()
        )));
    }
    if !parts.kernel.starts_with(store::codec::STORE_MAGIC) {
        return decode_v1(meta, parts, limits, default_cfg);
    }
    let sections = read_index_section(parts.index)?;
    let cfg_of = |id: u32| -> KResult<IndexConfig> {
        if id == 0 {
            return Ok(default_cfg);
        }
        sections
            .iter()
            .find(|s| s.0 == id)
            .map(|s| s.1)
            .ok_or_else(|| {
                KernelError::Corrupt(format!(
                    "snapshot index section lacks collection {id}'s configuration"
                ))
            })
    };
    let mut st = store::codec::decode(parts.kernel, limits, meta.height, cfg_of)?;
    let mut index_rebuilt = false;
    for (id, _, blob) in sections {
        if let Some(c) = st.get_mut(id) {
            let cfg = c.config.index;
            index_rebuilt |= fill_index(&mut c.db, blob, cfg);
        }
    }
    st.recount();
    Ok(Restored {
        store: st,
        meta,
        index_rebuilt,
    })
}

/// A version-1 snapshot: its state becomes collection `default`.
fn decode_v1(
    meta: SnapshotMeta,
    parts: &SnapshotParts<'_>,
    limits: Limits,
    default_cfg: IndexConfig,
) -> KResult<Restored> {
    let state = codec::decode(parts.kernel, limits, 0)?;
    let mut db = Db::new_empty_index(state, default_cfg);
    let index_rebuilt = fill_index(&mut db, parts.index, default_cfg);
    let mut st = Store::empty(limits);
    st.insert(Collection {
        id: 0,
        name: DEFAULT_COLLECTION.into(),
        config: CollectionConfig {
            dim: limits.dim as u32,
            metric: Metric::SquaredL2,
            max_records: None,
            index: default_cfg,
        },
        db,
    });
    st.next_id = 1;
    st.set_height(meta.height);
    Ok(Restored {
        store: st,
        meta,
        index_rebuilt,
    })
}

/// A snapshot of a frozen store, ready to be written: the sections are
/// encoded as they are written, in pieces, and never held whole. Capturing
/// encodes them once without keeping them, for the lengths and digests the
/// header carries before them; writing encodes them again (the frozen store
/// does not change, so the bytes are the same).
pub struct Captured {
    pub meta: SnapshotMeta,
    store: Store,
    metadata: String,
    /// Each collection's index blob length, in collection order.
    index_lens: Vec<u64>,
    /// Magic, kernel section length and header.
    prefix: Vec<u8>,
    kernel_len: u64,
    index_len: u64,
}

/// The index section (module docs) of `st`, given its blobs' lengths.
fn write_index_section(st: &Store, lens: &[u64], sink: &mut dyn Sink) {
    sink.put(&(st.len() as u32).to_le_bytes());
    for (c, len) in st.collections().zip(lens) {
        let mut w = Writer::with_capacity(64);
        w.u32(c.id);
        write_index_config(&mut w, &c.config.index);
        w.u64(*len);
        sink.put(&w.buf);
        if let Some(ix) = &c.db.index {
            ix.encode_into(sink);
        }
    }
}

fn measure(emit: impl FnOnce(&mut dyn Sink)) -> SectionSum {
    let mut m = Measure::default();
    emit(&mut m);
    SectionSum {
        len: m.len,
        digest: m.digest(),
    }
}

/// Captures a frozen store (`Store::frozen`) for a snapshot carrying `chain`.
pub fn capture(st: Store, chain: [u8; 32]) -> KResult<Captured> {
    let meta = SnapshotMeta {
        height: st.height(),
        chain,
        dim: st.limits().dim as u32,
    };
    let index_lens: Vec<u64> = st
        .collections()
        .map(|c| c.db.index.as_ref().map_or(0, |ix| ix.encoded_len()))
        .collect();
    let metadata = snapshot_info(&st);
    let kernel = measure(|mut s| store::codec::encode_into(&st, &mut s));
    let index = measure(|s| write_index_section(&st, &index_lens, s));
    let prefix = header_prefix(&meta, &[kernel, SectionSum::of(metadata.as_bytes()), index])
        .map_err(|e| KernelError::Internal(format!("snapshot encode: {e}")))?;
    Ok(Captured {
        meta,
        store: st,
        metadata,
        index_lens,
        prefix,
        kernel_len: kernel.len,
        index_len: index.len,
    })
}

/// A [`Sink`] that passes bytes to `out` in pieces of exactly `chunk`
/// bytes (the last may be shorter), keeping the first error.
struct Chunked<'a> {
    out: &'a mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    buf: Vec<u8>,
    chunk: usize,
    written: u64,
    failed: Option<std::io::Error>,
}

impl Chunked<'_> {
    fn emit(&mut self) {
        if self.failed.is_none() && !self.buf.is_empty() {
            match (self.out)(&self.buf) {
                Ok(()) => self.written += self.buf.len() as u64,
                Err(e) => self.failed = Some(e),
            }
        }
        self.buf.clear();
    }
}

impl Sink for Chunked<'_> {
    fn put(&mut self, mut b: &[u8]) {
        while !b.is_empty() && self.failed.is_none() {
            let n = (self.chunk - self.buf.len()).min(b.len());
            self.buf.extend_from_slice(&b[..n]);
            b = &b[n..];
            if self.buf.len() == self.chunk {
                self.emit();
            }
        }
    }
}

impl Captured {
    /// Streams the VAL1 file to `out` in order, in pieces of at most `chunk`
    /// bytes; returns its length.
    pub fn write_to(
        &self,
        chunk: usize,
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> KResult<u64> {
        let mut sink = Chunked {
            out,
            buf: Vec::with_capacity(chunk.max(1)),
            chunk: chunk.max(1),
            written: 0,
            failed: None,
        };
        sink.put(&self.prefix);
        store::codec::encode_into(&self.store, &mut sink);
        sink.put(&(self.metadata.len() as u32).to_le_bytes());
        sink.put(self.metadata.as_bytes());
        sink.put(&(self.index_len as u32).to_le_bytes());
        write_index_section(&self.store, &self.index_lens, &mut sink);
        sink.emit();
        if let Some(e) = sink.failed {
            return Err(KernelError::Io(format!("snapshot write: {e}")));
        }
        let n = sink.written;
        if n != self.encoded_len() {
            return Err(KernelError::Internal(format!(
                "snapshot encoding changed while written: {n} bytes, {} measured",
                self.encoded_len()
            )));
        }
        Ok(n)
    }

    /// The whole file in one buffer (a download; tests).
    pub fn to_bytes(&self) -> KResult<Vec<u8>> {
        let mut v = Vec::with_capacity(self.encoded_len() as usize);
        self.write_to(WRITE_CHUNK, &mut |b| {
            v.extend_from_slice(b);
            Ok(())
        })?;
        Ok(v)
    }

    /// The length [`Captured::write_to`] writes.
    pub fn encoded_len(&self) -> u64 {
        self.prefix.len() as u64
            + self.kernel_len
            + 4
            + self.metadata.len() as u64
            + 4
            + self.index_len
    }
}

/// The pieces a snapshot is written in when the caller does not choose.
const WRITE_CHUNK: usize = 1 << 20;

impl SnapshotSource for Captured {
    fn meta(&self) -> SnapshotMeta {
        self.meta
    }

    fn write_to(&self, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<u64> {
        Captured::write_to(self, WRITE_CHUNK, out).map_err(|e| std::io::Error::other(e.to_string()))
    }
}

/// The metadata section: a small JSON description (informational; the
/// metadata maps themselves are part of the kernel state).
fn snapshot_info(st: &Store) -> String {
    let d = st.default_collection();
    let live: u64 = st.collections().map(|c| c.db.state.records().live).sum();
    format!(
        "{{\"format\":\"valori-node\",\"height\":{},\"dim\":{},\"records_live\":{},\"collections\":{},\"index\":\"{}\"}}",
        st.height(),
        d.config.dim,
        live,
        st.len(),
        d.config.index.kind.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Idem, StoreEvent};
    use crate::event::Event;
    use crate::index::IndexKind;

    const DIM: usize = 4;

    fn create(id: u32, name: &str, kind: IndexKind) -> StoreEvent {
        StoreEvent::CreateCollection {
            id,
            name: name.into(),
            config: CollectionConfig {
                dim: DIM as u32,
                metric: Metric::SquaredL2,
                max_records: None,
                index: IndexConfig {
                    kind,
                    ..IndexConfig::default()
                },
            },
            idem: Idem::default(),
        }
    }

    fn data(collection: u32, event: Event) -> StoreEvent {
        StoreEvent::Data {
            collection,
            event,
            idem: Idem::default(),
        }
    }

    fn insert(collection: u32, id: u32) -> StoreEvent {
        let x = id as i32 * 37 % 1000;
        data(
            collection,
            Event::InsertRecord {
                id,
                tag: id as u64,
                vector: vec![x, -x, x / 2, 7],
                payload: Default::default(),
            },
        )
    }

    /// Collection `default` (brute force), one with HNSW holding enough
    /// records that its blob and the kernel section span several spill
    /// buffers, and one with IVF; deletes and metadata.
    fn store() -> Store {
        let limits = Limits::new(DIM, 100_000, 100, 100);
        let mut s = Store::new(limits, IndexConfig::default());
        let mut events = vec![
            create(1, "h", IndexKind::Hnsw),
            create(2, "v", IndexKind::Ivf),
        ];
        for id in 0..20_000 {
            events.push(insert(1, id));
        }
        for id in 0..3_000 {
            events.push(insert(0, id));
            events.push(insert(2, id));
        }
        events.push(data(1, Event::DeleteRecord { id: 17 }));
        events.push(data(0, Event::SoftDeleteRecord { id: 5 }));
        events.push(data(
            2,
            Event::SetMetadata {
                key: "k".into(),
                value: "v".into(),
            },
        ));
        for e in events {
            s.apply(&e).unwrap();
        }
        s
    }

    /// The file as one buffer, each section encoded whole (what the streaming
    /// writer must reproduce byte for byte).
    fn whole(st: &Store, chain: [u8; 32]) -> Vec<u8> {
        let mut index = Writer::default();
        index.u32(st.len() as u32);
        for c in st.collections() {
            index.u32(c.id);
            write_index_config(&mut index, &c.config.index);
            let blob =
                c.db.index
                    .as_ref()
                    .map(|ix| ix.encode())
                    .unwrap_or_default();
            index.u64(blob.len() as u64);
            index.bytes(&blob);
        }
        let meta = SnapshotMeta {
            height: st.height(),
            chain,
            dim: DIM as u32,
        };
        let kernel = store::codec::encode(st);
        let metadata = snapshot_info(st);
        crate::storage::encode_snapshot(
            &meta,
            &SnapshotParts {
                kernel: &kernel,
                metadata: metadata.as_bytes(),
                index: &index.buf,
            },
        )
        .unwrap()
    }

    #[test]
    fn when_a_store_is_streamed_in_pieces_then_the_file_is_the_whole_buffer_encoding() {
        let st = store();
        assert!(st.collections().all(|c| c.db.state.records().live > 0));
        let expected = whole(&st, [3; 32]);
        let hnsw = st.get(1).and_then(|c| c.db.index.as_ref()).unwrap();
        let n = hnsw.encoded_len();
        assert!(n > crate::bytes::SPILL_BYTES as u64, "hnsw blob {n} bytes");
        let captured = capture(st.frozen(), [3; 32]).unwrap();
        assert_eq!(captured.encoded_len(), expected.len() as u64);
        for chunk in [1 << 20, 4096, 1000] {
            let mut got = Vec::new();
            let n = captured
                .write_to(chunk, &mut |b| {
                    assert!(!b.is_empty() && b.len() <= chunk);
                    got.extend_from_slice(b);
                    Ok(())
                })
                .unwrap();
            assert_eq!(n, expected.len() as u64);
            assert!(got == expected, "chunk {chunk}: streamed bytes differ");
        }
        let back = decode_store(&expected, st.limits(), IndexConfig::default()).unwrap();
        assert!(
            !back.index_rebuilt,
            "the saved indexes are used as they are"
        );
        assert_eq!(
            store::codec::state_hash(&back.store),
            store::codec::state_hash(&st)
        );
    }

    #[test]
    fn when_the_output_fails_then_the_error_is_returned_and_nothing_more_is_written() {
        let captured = capture(store(), [0; 32]).unwrap();
        let mut calls = 0;
        let err = captured
            .write_to(1 << 16, &mut |_| {
                calls += 1;
                if calls == 3 {
                    return Err(std::io::Error::other("disk full"));
                }
                Ok(())
            })
            .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert_eq!(calls, 3);
    }
}
