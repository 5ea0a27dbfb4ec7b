//! Search indexes (brute force, HNSW, IVF) and quantizers (SQ8, PQ).
//!
//! The kernel owns one [`Index`] and keeps it in step with its records by
//! calling [`Index::on_insert`] and [`Index::on_delete`]. Vectors stay in the
//! kernel; the index reads them through [`VectorSource`]. Every result carries
//! its exact integer key under the collection's [`Distance`] (squared L2, or
//! the negated dot product) and is ordered by (key, id), as brute force would
//! order it; approximate indexes may only miss results.
//!
//! Determinism: the same sequence of `on_insert`/`on_delete`/`train` calls
//! gives byte-identical [`Index::encode`] output and identical search results
//! on every machine and under any number of concurrent searches (searches take
//! `&self` and use only thread-local scratch), whatever the number of build
//! threads ([`set_build_threads`]; see `par.rs`).

mod blocks;
mod codec;
mod flat;
mod hnsw;
mod hnsw_batch;
mod hnsw_search;
mod ivf;
mod kmeans;
mod par;
mod persist;
mod quant;
mod rng;
mod simd;
mod state;
mod state_insert;
#[cfg(test)]
mod tests;
mod topk;

pub use flat::{exact_ids, exact_rows};
pub use par::{build_threads, set_build_threads, with_build_threads};
pub use simd::kernel_name;
pub use state::Index;

/// Read access to the kernel's vectors. `Sync`: index construction reads
/// them from several threads at once.
pub trait VectorSource: Sync {
    fn dim(&self) -> usize;
    /// The live vector of `id`; `None` if deleted, tombstoned or unknown.
    fn vector(&self, id: u32) -> Option<&[i32]>;
    /// One past the highest id ever allocated.
    fn slot_count(&self) -> u32;
}

/// How the indexes compare vectors. Every result is `(key, id)` ascending by
/// (key, id), smaller = better:
/// * `L2`: key = exact squared Euclidean distance in raw units (2^32 per
///   real unit²). Cosine collections store unit vectors and use this.
/// * `Dot`: key = −(a·b) in raw units, exact in i64: components are bounded
///   by [`crate::fixed::max_abs_raw`]`(dim)` = m with `4·dim·m² <= i64::MAX`,
///   so `Σ|a_i·b_i| <= dim·m² <= i64::MAX / 4` and neither the sum (in any
///   order) nor its negation overflows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Distance {
    #[default]
    L2,
    Dot,
}

impl Distance {
    /// The key of `b` seen from `a` (exact; see [`Distance`]).
    #[inline]
    pub(crate) fn key(self, a: &[i32], b: &[i32]) -> i64 {
        match self {
            Distance::L2 => simd::l2(a, b),
            Distance::Dot => -simd::dot(a, b),
        }
    }

    /// [`Distance::key`] if it is at most `bound`, else `None`. L2 stops
    /// reading once a partial sum exceeds the bound (partial sums of squares
    /// only grow); a dot product's partial sums can move either way, so Dot
    /// reads the whole vector and compares at the end.
    #[inline]
    pub(crate) fn key_within(self, a: &[i32], b: &[i32], bound: i64) -> Option<i64> {
        match self {
            Distance::L2 => simd::l2_within(a, b, bound),
            Distance::Dot => Some(-simd::dot(a, b)).filter(|d| *d <= bound),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    Brute,
    Hnsw,
    Ivf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantKind {
    None,
    Scalar,
    Product,
}

impl IndexKind {
    pub fn parse(s: &str) -> Result<IndexKind, crate::KernelError> {
        match s {
            "brute" => Ok(IndexKind::Brute),
            "hnsw" => Ok(IndexKind::Hnsw),
            "ivf" => Ok(IndexKind::Ivf),
            other => Err(crate::KernelError::InvalidArgument(format!(
                "index must be brute|hnsw|ivf, got {other:?}"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            IndexKind::Brute => "brute",
            IndexKind::Hnsw => "hnsw",
            IndexKind::Ivf => "ivf",
        }
    }
}

impl QuantKind {
    pub fn parse(s: &str) -> Result<QuantKind, crate::KernelError> {
        match s {
            "none" => Ok(QuantKind::None),
            "scalar" => Ok(QuantKind::Scalar),
            "product" => Ok(QuantKind::Product),
            other => Err(crate::KernelError::InvalidArgument(format!(
                "quant must be none|scalar|product, got {other:?}"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            QuantKind::None => "none",
            QuantKind::Scalar => "scalar",
            QuantKind::Product => "product",
        }
    }
}

/// Largest HNSW M the graph uses; a larger value is clamped to it.
pub const MAX_HNSW_M: usize = 128;

/// Build-time configuration. Fields that shape the stored structure (kind,
/// quant, distance, M, ef_construction, nlist, pq_m, train_min) must match when a saved
/// index is decoded; the search defaults (ef_search, nprobe, rerank) need not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexConfig {
    pub kind: IndexKind,
    pub quant: QuantKind,
    /// How vectors are compared (the graph, list probing and quantized
    /// scores all follow it). Default L2.
    pub distance: Distance,
    /// HNSW links per node on upper layers (layer 0 keeps 2·M). Clamped to
    /// 2..=[`MAX_HNSW_M`] (VALORI_HNSW_M accepts the same range). Default 16.
    pub hnsw_m: usize,
    /// HNSW candidate list size while inserting. Default 100.
    pub hnsw_ef_construction: usize,
    /// HNSW candidate list size while searching (raised to k). Default 100.
    pub hnsw_ef_search: usize,
    /// IVF lists; 0 = round(sqrt(N)) at each training. Default 0.
    pub ivf_nlist: usize,
    /// IVF lists probed per query; 0 = max(1, nlist / 16). Default 8, the
    /// same as VALORI_IVF_NPROBE (the shell always passes its value).
    pub ivf_nprobe: usize,
    /// PQ subspaces (one byte each); 0 = ceil(dim / 8). Default 0.
    pub pq_m: usize,
    /// Quantized candidates re-ranked exactly per query; 0 = auto
    /// (SQ8: max(4k, 40); PQ: max(16k, 100)). Default 0.
    pub rerank: usize,
    /// Live vectors needed before IVF/quantizers train automatically; they
    /// retrain each time the live count reaches 2× the last training's, so
    /// an automatic nlist stays within √2 of sqrt(N).
    /// 0 = 1024. Default 0.
    pub train_min: usize,
}

impl IndexConfig {
    /// Whether a quantizer is trained and codes are kept. HNSW with product
    /// quantization is not: walking the graph on PQ's coarse distances lost
    /// ~15 points of recall in tests, so HNSW+PQ traverses exactly and keeps
    /// no codes (PQ pays off in brute force and IVF scans).
    pub fn uses_codes(&self) -> bool {
        match self.quant {
            QuantKind::None => false,
            QuantKind::Scalar => true,
            QuantKind::Product => self.kind != IndexKind::Hnsw,
        }
    }
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            kind: IndexKind::Brute,
            quant: QuantKind::None,
            distance: Distance::L2,
            hnsw_m: 16,
            hnsw_ef_construction: 100,
            hnsw_ef_search: 100,
            ivf_nlist: 0,
            ivf_nprobe: 8,
            pq_m: 0,
            rerank: 0,
            train_min: 0,
        }
    }
}

/// Per-query overrides of the configured defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchParams {
    pub ef: Option<usize>,
    pub nprobe: Option<usize>,
    pub rerank: Option<usize>,
}

/// Bytes held by the index beside the kernel's own vectors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexMemory {
    /// Quantized codes (SQ8/PQ).
    pub codes: u64,
    /// Graph links, inverted lists, centroids, codebooks, bitsets.
    pub structure: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// Not an index blob, a checksum mismatch, or an inconsistent structure.
    Corrupt(&'static str),
    /// Written by a format version this build does not read.
    Version(u16),
    /// Saved with a different configuration or dimension; rebuild instead.
    ConfigMismatch(&'static str),
}

impl std::fmt::Display for IndexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexError::Corrupt(w) => write!(f, "index blob is corrupt: {w}"),
            IndexError::Version(v) => write!(f, "index blob version {v} is not supported"),
            IndexError::ConfigMismatch(w) => write!(f, "index blob was built with a different {w}"),
        }
    }
}

impl std::error::Error for IndexError {}

/// Fixed-size bitset over slot ids.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Bitset {
    words: Vec<u64>,
}

impl Bitset {
    #[inline]
    pub(crate) fn get(&self, id: u32) -> bool {
        self.words
            .get(id as usize / 64)
            .is_some_and(|w| w >> (id % 64) & 1 == 1)
    }
    pub(crate) fn set(&mut self, id: u32) {
        let i = id as usize / 64;
        if self.words.len() <= i {
            self.words.resize(i + 1, 0);
        }
        self.words[i] |= 1 << (id % 64);
    }
    pub(crate) fn clear(&mut self, id: u32) {
        if let Some(w) = self.words.get_mut(id as usize / 64) {
            *w &= !(1 << (id % 64));
        }
    }
    pub(crate) fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some(i as u32 * 64 + b)
            })
        })
    }
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }
    pub(crate) fn from_words(words: Vec<u64>) -> Bitset {
        Bitset { words }
    }
}
