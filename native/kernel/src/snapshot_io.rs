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
use crate::engine::Db;
use crate::entry::{read_index_config, write_index_config, CollectionConfig, Metric};
use crate::error::{KResult, KernelError};
use crate::index::{Index, IndexConfig, VectorSource};
use crate::state::Limits;
use crate::storage::snapshot::format::{
    section_lengths, snapshot_pieces, snapshot_prefix, KERNEL_HEADER_LEN,
};
use crate::storage::{decode_snapshot, encode_snapshot, SnapshotMeta, SnapshotParts};
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

/// Install a saved index when it covers exactly the state's live records;
/// rebuild otherwise (a crafted one could hide records from search). It may
/// not claim more slots than the state has, so it cannot amplify its size.
/// Returns whether it was rebuilt.
fn fill_index(db: &mut Db, blob: &[u8], cfg: IndexConfig) -> bool {
    let Db { state, index, .. } = db;
    let Some(ix) = index.as_mut() else {
        return false;
    };
    let slots = state.slot_count();
    match Index::decode_bounded(blob, cfg, state.dim(), slots) {
        Ok(decoded) if decoded.live_set_matches(&*state) => {
            *ix = decoded;
            false
        }
        _ => {
            ix.rebuild(&*state);
            true
        }
    }
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

/// The sections of a snapshot, copied out of the store (the only part that
/// needs the state lock); framing and checksums happen after it is released.
pub struct Captured {
    pub meta: SnapshotMeta,
    pub kernel: Vec<u8>,
    pub metadata: String,
    pub index: Vec<u8>,
}

pub fn capture(st: &Store, chain: [u8; 32]) -> Captured {
    let mut w = Writer::with_capacity(64);
    w.u32(st.len() as u32);
    for c in st.collections() {
        w.u32(c.id);
        write_index_config(&mut w, &c.config.index);
        let blob =
            c.db.index
                .as_ref()
                .map(|ix| ix.encode())
                .unwrap_or_default();
        w.u64(blob.len() as u64);
        w.bytes(&blob);
    }
    Captured {
        meta: SnapshotMeta {
            height: st.height(),
            chain,
            dim: st.limits().dim as u32,
        },
        kernel: store::codec::encode(st),
        metadata: snapshot_info(st),
        index: w.buf,
    }
}

impl Captured {
    pub fn parts(&self) -> SnapshotParts<'_> {
        SnapshotParts {
            kernel: &self.kernel,
            metadata: self.metadata.as_bytes(),
            index: &self.index,
        }
    }

    pub fn to_bytes(&self) -> KResult<Vec<u8>> {
        encode_snapshot(&self.meta, &self.parts())
            .map_err(|e| KernelError::Internal(format!("snapshot encode: {e}")))
    }

    /// Streams the VAL1 file to `out` in order, in pieces of at most `chunk`
    /// bytes; returns its length.
    pub fn write_to(
        &self,
        chunk: usize,
        out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> KResult<u64> {
        let parts = self.parts();
        let prefix = snapshot_prefix(&self.meta, &parts)
            .map_err(|e| KernelError::Internal(format!("snapshot encode: {e}")))?;
        let lengths = section_lengths(&parts);
        let mut n = 0u64;
        for piece in snapshot_pieces(&prefix, &lengths, &parts) {
            for part in piece.chunks(chunk.max(1)) {
                out(part).map_err(|e| KernelError::Io(format!("snapshot write: {e}")))?;
                n += part.len() as u64;
            }
        }
        Ok(n)
    }

    /// The length [`Captured::write_to`] writes.
    pub fn encoded_len(&self) -> u64 {
        let p = self.parts();
        let sections = p.kernel.len() + 4 + p.metadata.len() + 4 + p.index.len();
        (8 + KERNEL_HEADER_LEN + sections) as u64
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
