//! The index blob: `VIDX`, version, configuration, body, CRC32C.
//!
//! ```text
//! magic "VIDX" | version u16 | kind u8 | quant u8 | [distance u8] | dim u32
//! | hnsw_m u32 | ef_construction u32 | ivf_nlist u32 | pq_m u32 | train_min u32
//! | slots u32 | live_count u32 | trained_at u32 | live bitset (u32 words, u64 each)
//! | has_quantizer u8 [quantizer] | codes (u32 len, bytes)
//! | HNSW graph (kind hnsw) | IVF lists (kind ivf) | crc32c u32 of everything before
//! ```
//! Version 1 has no distance byte and is an L2 index; version 2 carries it
//! (0 = L2, 1 = Dot). L2 indexes are still written as version 1, so their
//! bytes (and the snapshots holding them) stay as earlier builds wrote them;
//! only a Dot index needs, and gets, version 2.
//! All integers little-endian. Decoding verifies the checksum first, then
//! every structural invariant that search relies on, so arbitrary bytes give
//! an [`IndexError`], never a panic.

use super::blocks::Blocks;
use super::codec::{Reader, Writer};
use super::hnsw::Hnsw;
use super::ivf::Ivf;
use super::quant::Quantizer;
use super::state::Index;
use super::{Bitset, Distance, IndexConfig, IndexError, IndexKind, QuantKind};
use crate::codec::{Count, Crc, Sink};

const MAGIC: &[u8; 4] = b"VIDX";
/// Written for L2 indexes: no distance byte.
const VERSION_L2: u16 = 1;
/// Written for every other distance: a distance byte after the quantization.
const VERSION_DISTANCE: u16 = 2;

fn kind_code(k: IndexKind) -> u8 {
    match k {
        IndexKind::Brute => 0,
        IndexKind::Hnsw => 1,
        IndexKind::Ivf => 2,
    }
}

fn quant_code(q: QuantKind) -> u8 {
    match q {
        QuantKind::None => 0,
        QuantKind::Scalar => 1,
        QuantKind::Product => 2,
    }
}

fn distance_code(d: Distance) -> u8 {
    match d {
        Distance::L2 => 0,
        Distance::Dot => 1,
    }
}

fn shape(cfg: &IndexConfig) -> [u32; 5] {
    [
        cfg.hnsw_m,
        cfg.hnsw_ef_construction,
        cfg.ivf_nlist,
        cfg.pq_m,
        cfg.train_min,
    ]
    .map(|x| x.min(u32::MAX as usize) as u32)
}

impl Index {
    /// Serializes the index; the same history gives the same bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_into(&mut v);
        v
    }

    /// The length of [`Index::encode`]'s bytes (encoded and counted, not
    /// kept).
    pub fn encoded_len(&self) -> u64 {
        let mut n = Count::default();
        self.encode_into(&mut n);
        n.0
    }

    /// [`Index::encode`]'s bytes passed to `sink` in pieces of at most
    /// about a MiB: a large index is never held whole.
    pub fn encode_into(&self, sink: &mut dyn Sink) {
        let mut crc = Crc {
            inner: &mut *sink,
            value: 0,
        };
        let mut w = Writer::spilling(&mut crc);
        w.bytes(MAGIC);
        let l2 = self.cfg.distance == Distance::L2;
        w.u16(if l2 { VERSION_L2 } else { VERSION_DISTANCE });
        w.u8(kind_code(self.cfg.kind));
        w.u8(quant_code(self.cfg.quant));
        if !l2 {
            w.u8(distance_code(self.cfg.distance));
        }
        w.u32(self.dim as u32);
        for x in shape(&self.cfg) {
            w.u32(x);
        }
        w.u32(self.slots);
        w.u32(self.live_count);
        w.u32(self.trained_at);
        w.u32(self.live.words().len() as u32);
        w.u64s(self.live.words());
        match &self.quant {
            Some(q) => {
                w.u8(1);
                q.write(&mut w);
            }
            None => w.u8(0),
        }
        w.u32(self.codes.values() as u32);
        for run in self.codes.runs() {
            w.bytes(run);
        }
        if let Some(g) = &self.hnsw {
            g.write(&mut w);
        }
        if let Some(ivf) = &self.ivf {
            ivf.write(&mut w);
        }
        w.flush();
        drop(w);
        let value = crc.value;
        sink.put(&value.to_le_bytes());
    }

    /// Reads a blob written by [`Index::encode`] for this configuration and
    /// dimension. A blob built with different structural settings gives
    /// [`IndexError::ConfigMismatch`]: the caller should [`Index::rebuild`].
    pub fn decode(bytes: &[u8], cfg: IndexConfig, dim: usize) -> Result<Index, IndexError> {
        Self::decode_bounded(bytes, cfg, dim, u32::MAX)
    }

    /// [`Index::decode`] for a blob that may claim at most `max_slots` slots
    /// (the state's slot count): checked before any per-slot allocation, so
    /// a small crafted blob cannot ask for a large graph or list table.
    pub fn decode_bounded(
        bytes: &[u8],
        cfg: IndexConfig,
        dim: usize,
        max_slots: u32,
    ) -> Result<Index, IndexError> {
        let bad = IndexError::Corrupt;
        if bytes.len() < 10 || &bytes[..4] != MAGIC {
            return Err(bad("magic"));
        }
        let version = crate::bytes::u16_at(bytes, 4);
        if version != VERSION_L2 && version != VERSION_DISTANCE {
            return Err(IndexError::Version(version));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 4);
        if crc32c::crc32c(body) != crate::bytes::u32_at(tail, 0) {
            return Err(bad("checksum"));
        }
        let mut r = Reader::new(&body[6..]);
        if r.u8("kind")? != kind_code(cfg.kind) {
            return Err(IndexError::ConfigMismatch("index kind"));
        }
        if r.u8("quant")? != quant_code(cfg.quant) {
            return Err(IndexError::ConfigMismatch("quantization"));
        }
        let distance = match version {
            VERSION_L2 => distance_code(Distance::L2),
            _ => r.u8("distance")?,
        };
        // A version-2 blob naming L2 is never written but means the same.
        if distance != distance_code(cfg.distance) {
            return Err(IndexError::ConfigMismatch("distance"));
        }
        if r.u32("dim")? as usize != dim || dim == 0 {
            return Err(IndexError::ConfigMismatch("dimension"));
        }
        for x in shape(&cfg) {
            if r.u32("config")? != x {
                return Err(IndexError::ConfigMismatch("index parameter"));
            }
        }
        let mut ix = Index::new(cfg, dim);
        ix.slots = r.u32("slots")?;
        if ix.slots > max_slots {
            return Err(bad("more slots than the state"));
        }
        ix.live_count = r.u32("live count")?;
        ix.trained_at = r.u32("trained at")?;
        // The bitset grows with the highest id inserted, so it has exactly
        // ceil(slots / 64) words; this also bounds `slots` by the input size.
        let nwords = r.len(8, "live bitset")?;
        if nwords as u64 != (ix.slots as u64).div_ceil(64) {
            return Err(bad("live bitset"));
        }
        ix.live = Bitset::from_words(r.u64s(nwords, "live bitset")?);
        let count = ix.live.ones().filter(|id| *id < ix.slots).count();
        if ix.live.ones().count() != count || count != ix.live_count as usize {
            return Err(bad("live count"));
        }
        ix.quant = match r.u8("quantizer flag")? {
            0 => None,
            1 => Some(Quantizer::read(&mut r, dim)?),
            _ => return Err(bad("quantizer flag")),
        };
        if ix.quant.is_some() != (cfg.uses_codes() && ix.trained_at > 0) {
            return Err(bad("quantizer presence"));
        }
        let ncodes = r.len(1, "codes")?;
        let run = r.take(ncodes, "codes")?;
        let code_len = ix.quant.as_ref().map_or(0, |q| q.code_len());
        let want = if cfg.kind == IndexKind::Ivf {
            0
        } else {
            ix.slots as usize * code_len
        };
        if run.len() != want {
            return Err(bad("codes length"));
        }
        ix.codes = Blocks::from_run(code_len, run);
        match cfg.kind {
            IndexKind::Brute => {}
            IndexKind::Hnsw => {
                let g = Hnsw::read(
                    &mut r,
                    cfg.hnsw_m,
                    cfg.hnsw_ef_construction,
                    ix.slots as usize,
                )?;
                if g.slots() != ix.slots as usize {
                    return Err(bad("hnsw slots"));
                }
                ix.hnsw = Some(g);
            }
            IndexKind::Ivf => {
                let ivf = Ivf::read(&mut r, dim, ix.slots, &ix.live, code_len)?;
                let trained = ix.trained_at > 0;
                if ivf.trained() != trained || (trained && ivf.assigned() != ix.live_count as usize)
                {
                    return Err(bad("ivf lists"));
                }
                ix.ivf = Some(ivf);
            }
        }
        r.finish()?;
        Ok(ix)
    }
}
