//! Index tests: recall floors, exactness, ordering, determinism, deletes and
//! blob round trips, against a naive brute-force oracle.

mod blob;
mod deletes;
mod determinism;
mod dot;
mod filtered;
mod parallel;
mod recall;

use super::rng::Rng;
use super::{Index, IndexConfig, IndexKind, QuantKind, SearchParams, VectorSource};

/// In-memory vectors with deletion, standing in for the kernel's store.
pub(crate) struct MemSource {
    pub dim: usize,
    pub data: Vec<i32>,
    pub alive: Vec<bool>,
}

impl VectorSource for MemSource {
    fn dim(&self) -> usize {
        self.dim
    }
    fn vector(&self, id: u32) -> Option<&[i32]> {
        let i = id as usize;
        if *self.alive.get(i)? {
            Some(&self.data[i * self.dim..(i + 1) * self.dim])
        } else {
            None
        }
    }
    fn slot_count(&self) -> u32 {
        self.alive.len() as u32
    }
}

impl MemSource {
    pub fn push(&mut self, v: &[i32]) -> u32 {
        self.data.extend_from_slice(v);
        self.alive.push(true);
        self.alive.len() as u32 - 1
    }
}

/// `n` vectors of `dim` uniform in [-1, 1) real units (Q16.16 raw).
pub(crate) fn uniform(n: usize, dim: usize, seed: u64) -> Vec<i32> {
    let mut r = Rng::new(seed);
    (0..n * dim)
        .map(|_| r.below(131_072) as i32 - 65_536)
        .collect()
}

/// `n` vectors around 64 random centres (uniform in [-1, 1)), each
/// component offset by a triangular ±1, so clusters overlap: data with
/// structure, as embeddings have (uniform data has no partitions for IVF to
/// find, so its recall there says nothing about the implementation).
pub(crate) fn clustered(n: usize, dim: usize, seed: u64) -> Vec<i32> {
    let centres = uniform(64, dim, seed ^ 0xC1);
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = r.below(64) as usize;
        for j in 0..dim {
            let noise = r.below(65537) as i32 + r.below(65537) as i32 - 65536;
            out.push(centres[c * dim + j] + noise);
        }
    }
    out
}

pub(crate) fn source(n: usize, dim: usize, seed: u64) -> MemSource {
    MemSource {
        dim,
        data: uniform(n, dim, seed),
        alive: vec![true; n],
    }
}

pub(crate) fn cfg(kind: IndexKind, quant: QuantKind) -> IndexConfig {
    IndexConfig {
        kind,
        quant,
        ..IndexConfig::default()
    }
}

/// Every kind × quantization combination.
pub(crate) fn all_configs() -> Vec<IndexConfig> {
    let mut v = Vec::new();
    for kind in [IndexKind::Brute, IndexKind::Hnsw, IndexKind::Ivf] {
        for quant in [QuantKind::None, QuantKind::Scalar, QuantKind::Product] {
            v.push(cfg(kind, quant));
        }
    }
    v
}

/// An index fed every live vector of `src` through `on_insert`, in id order.
pub(crate) fn build(c: IndexConfig, src: &MemSource) -> Index {
    let mut ix = Index::new(c, src.dim);
    for id in 0..src.slot_count() {
        ix.on_insert(id, src);
    }
    ix
}

/// The oracle: sort every live vector by (exact distance, id).
pub(crate) fn brute(src: &MemSource, q: &[i32], k: usize) -> Vec<(i64, u32)> {
    let mut all: Vec<(i64, u32)> = (0..src.slot_count())
        .filter_map(|id| {
            src.vector(id)
                .map(|v| (crate::index::simd::l2_scalar(q, v), id))
        })
        .collect();
    all.sort();
    all.truncate(k);
    all
}

/// Mean recall@k of `ix` over `queries` (flat), checking on the way that
/// every result is live, carries its exact distance, and is in (dist, id) order.
pub(crate) fn recall(
    ix: &Index,
    src: &MemSource,
    queries: &[i32],
    k: usize,
    p: SearchParams,
) -> f64 {
    let mut hit = 0usize;
    let mut total = 0usize;
    for q in queries.chunks_exact(src.dim) {
        let got = ix.search(q, k, p, src, None);
        check_exact_and_sorted(src, q, &got);
        let truth = brute(src, q, k);
        total += truth.len();
        hit += got
            .iter()
            .filter(|g| truth.iter().any(|t| t.1 == g.1))
            .count();
    }
    hit as f64 / total.max(1) as f64
}

pub(crate) fn check_exact_and_sorted(src: &MemSource, q: &[i32], got: &[(i64, u32)]) {
    for (d, id) in got {
        let v = src.vector(*id).expect("a returned id is live");
        assert_eq!(
            *d,
            crate::index::simd::l2_scalar(q, v),
            "distance of {id} is exact"
        );
    }
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "ascending by (dist, id), no duplicates"
    );
}
