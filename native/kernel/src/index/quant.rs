//! Quantizers: SQ8 (one byte per dimension) and PQ (one byte per subspace).
//!
//! A quantizer gives an *approximate* integer key used to pick candidates;
//! callers re-rank those with the exact Q16.16 key, so the scores returned to
//! clients are always exact. Training is deterministic (fixed sample, integer
//! arithmetic) and always by squared L2 (codes approximate the vectors
//! themselves); only the query side follows the [`Distance`]:
//! * L2: SQ8 sums squared code differences, PQ looks up squared distances.
//! * Dot: SQ8 scores −Σ q_j·c_j (the decoded vector is min + step·c, so
//!   q·x̂ = Σ q_j·min_j + step·Σ q_j·c_j: a per-query constant plus a positive
//!   multiple of the sum, hence the same order); PQ looks up −(q_sub·centroid).
//!   Both exact in i64 (|q_j| <= max_abs_raw(dim), codes <= 255, centroids
//!   in range), so every machine ranks candidates identically.

use super::codec::{Reader, Writer};
use rayon::prelude::*;

use super::kmeans;
use super::simd;
use super::{Distance, IndexError};

/// SQ8 with a per-dimension offset and one step shared by all dimensions, so
/// the distance between codes is a plain sum of squared byte differences
/// (fast SIMD) proportional to the real distance. Values outside the trained
/// range are clamped; the exact re-rank hides the error.
#[derive(Clone)]
pub(crate) struct Sq8 {
    min: Vec<i32>,
    step: i64,
}

/// PQ: `m` contiguous subspaces (boundaries `j*dim/m`), up to 256 centroids
/// each, trained with [`kmeans::kmeans`]; distances by table look-up (ADC).
#[derive(Clone)]
pub(crate) struct Pq {
    bounds: Vec<usize>,
    ks: usize,
    /// Subspace j's codebook sits at `bounds[j] * ks`, dimension-major
    /// (`[t * ks + c]`) so one pass computes the distances to all centroids.
    books: Vec<i32>,
}

#[derive(Clone)]
pub(crate) enum Quantizer {
    Sq8(Sq8),
    Pq(Pq),
}

/// A query prepared for one quantizer.
pub(crate) enum Prepared {
    /// L2: the query's own code.
    Sq8(Vec<u8>),
    /// Dot: the raw query components.
    Sq8Dot(Vec<i32>),
    /// Either distance: per-subspace key tables, `[j * 256 + code]`.
    Pq(Vec<i64>),
}

const PQ_TRAIN_ITERS: usize = 6;

impl Quantizer {
    /// SQ8 from a flat sample of vectors (`dim` wide).
    pub(crate) fn train_sq8(sample: &[i32], dim: usize) -> Quantizer {
        let mut min = vec![i32::MAX; dim];
        let mut max = vec![i32::MIN; dim];
        for v in sample.chunks_exact(dim) {
            for j in 0..dim {
                min[j] = min[j].min(v[j]);
                max[j] = max[j].max(v[j]);
            }
        }
        let mut widest = 0i64;
        for j in 0..dim {
            if min[j] > max[j] {
                min[j] = 0;
                max[j] = 0;
            }
            widest = widest.max(max[j] as i64 - min[j] as i64);
        }
        // ceil(widest / 255), at least 1 raw unit.
        let step = ((widest + 254) / 255).max(1);
        Quantizer::Sq8(Sq8 { min, step })
    }

    /// PQ with `m` subspaces (clamped to 1..=dim) from a flat sample.
    pub(crate) fn train_pq(sample: &[i32], dim: usize, m: usize) -> Quantizer {
        let m = m.clamp(1, dim.max(1));
        let n = sample.len() / dim.max(1);
        let bounds: Vec<usize> = (0..=m).map(|j| j * dim / m).collect();
        let ks = n.clamp(1, 256);
        // Subspaces train independently (one task each, seeded by their
        // index) and are laid out in subspace order.
        let parts: Vec<Vec<i32>> = (0..m)
            .into_par_iter()
            .map(|j| {
                let (lo, hi) = (bounds[j], bounds[j + 1]);
                let w = hi - lo;
                let sub: Vec<i32> = sample
                    .chunks_exact(dim)
                    .flat_map(|v| v[lo..hi].iter().copied())
                    .collect();
                let mut c = kmeans::kmeans(&sub, w, ks, PQ_TRAIN_ITERS, j as u64);
                // Fewer distinct points than ks: repeat the last row so every
                // code still decodes to a valid centroid.
                while c.len() < ks * w {
                    let last = c[c.len() - w..].to_vec();
                    c.extend_from_slice(&last);
                }
                kmeans::transpose(&c, w, ks)
            })
            .collect();
        let books = parts.concat();
        Quantizer::Pq(Pq { bounds, ks, books })
    }

    pub(crate) fn code_len(&self) -> usize {
        match self {
            Quantizer::Sq8(s) => s.min.len(),
            Quantizer::Pq(p) => p.bounds.len() - 1,
        }
    }

    /// `v`'s code as a new buffer.
    pub(crate) fn encoded(&self, v: &[i32]) -> Vec<u8> {
        let mut out = vec![0; self.code_len()];
        self.encode(v, &mut out);
        out
    }

    pub(crate) fn encode(&self, v: &[i32], out: &mut [u8]) {
        match self {
            Quantizer::Sq8(s) => {
                for (j, o) in out.iter_mut().enumerate() {
                    let off = v[j] as i64 - s.min[j] as i64;
                    *o = if off <= 0 {
                        0
                    } else {
                        ((2 * off + s.step) / (2 * s.step)).min(255) as u8
                    };
                }
            }
            Quantizer::Pq(p) => {
                let mut scratch = [0u64; 256];
                for (j, o) in out.iter_mut().enumerate() {
                    let (lo, hi) = (p.bounds[j], p.bounds[j + 1]);
                    let book = &p.books[lo * p.ks..hi * p.ks];
                    *o = kmeans::nearest_col(book, p.ks, &v[lo..hi], &mut scratch).0 as u8;
                }
            }
        }
    }

    pub(crate) fn prepare(&self, q: &[i32], distance: Distance) -> Prepared {
        match self {
            Quantizer::Sq8(_) if distance == Distance::Dot => Prepared::Sq8Dot(q.to_vec()),
            Quantizer::Sq8(_) => {
                let mut c = vec![0u8; self.code_len()];
                self.encode(q, &mut c);
                Prepared::Sq8(c)
            }
            Quantizer::Pq(p) => {
                let m = self.code_len();
                let mut t = vec![i64::MAX / (m as i64 + 1); m * 256];
                let mut scratch = [0u64; 256];
                let mut dots = [0i64; 256];
                for j in 0..m {
                    let (lo, hi) = (p.bounds[j], p.bounds[j + 1]);
                    let book = &p.books[lo * p.ks..hi * p.ks];
                    match distance {
                        Distance::L2 => {
                            kmeans::col_dists(book, p.ks, &q[lo..hi], &mut scratch);
                            for c in 0..p.ks {
                                t[j * 256 + c] = scratch[c] as i64;
                            }
                        }
                        Distance::Dot => {
                            col_dots(book, p.ks, &q[lo..hi], &mut dots);
                            for c in 0..p.ks {
                                t[j * 256 + c] = -dots[c];
                            }
                        }
                    }
                }
                Prepared::Pq(t)
            }
        }
    }

    /// Approximate distance of a prepared query to one code.
    #[inline]
    pub(crate) fn dist(&self, p: &Prepared, code: &[u8]) -> i64 {
        match p {
            Prepared::Sq8(q) => (simd::kernels().sq8)(q, code) as i64,
            Prepared::Sq8Dot(q) => {
                let mut acc = 0i64;
                for (x, c) in q.iter().zip(code) {
                    acc += *x as i64 * *c as i64;
                }
                -acc
            }
            Prepared::Pq(t) => {
                let mut acc = 0i64;
                for (j, c) in code.iter().enumerate() {
                    acc = acc.wrapping_add(t[j * 256 + *c as usize]);
                }
                acc
            }
        }
    }

    pub(crate) fn memory_bytes(&self) -> u64 {
        match self {
            Quantizer::Sq8(s) => (s.min.len() * 4 + 8) as u64,
            Quantizer::Pq(p) => (p.books.len() * 4 + p.bounds.len() * 8) as u64,
        }
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        match self {
            Quantizer::Sq8(s) => {
                w.u8(1);
                w.u64(s.step as u64);
                w.i32s(&s.min);
            }
            Quantizer::Pq(p) => {
                w.u8(2);
                w.u32(self.code_len() as u32);
                w.u32(p.ks as u32);
                w.i32s(&p.books);
            }
        }
    }

    /// Reads a quantizer for vectors of `dim`; every stored value must lie in
    /// the accepted Q16.16 range so distances cannot overflow.
    pub(crate) fn read(r: &mut Reader, dim: usize) -> Result<Quantizer, IndexError> {
        let bound = crate::fixed::max_abs_raw(dim);
        let in_range = |v: &[i32]| v.iter().all(|x| x.unsigned_abs() <= bound as u32);
        match r.u8("quantizer tag")? {
            1 => {
                let step = r.u64("sq8 step")? as i64;
                if step < 1 || step > (2 * bound as i64) / 255 + 1 {
                    return Err(IndexError::Corrupt("sq8 step"));
                }
                let min = r.i32s(dim, "sq8 min")?;
                if !in_range(&min) {
                    return Err(IndexError::Corrupt("sq8 min"));
                }
                Ok(Quantizer::Sq8(Sq8 { min, step }))
            }
            2 => {
                let m = r.u32("pq m")? as usize;
                let ks = r.u32("pq ks")? as usize;
                if m == 0 || m > dim || ks == 0 || ks > 256 {
                    return Err(IndexError::Corrupt("pq shape"));
                }
                let books = r.i32s(dim * ks, "pq codebooks")?;
                if !in_range(&books) {
                    return Err(IndexError::Corrupt("pq codebooks"));
                }
                let bounds = (0..=m).map(|j| j * dim / m).collect();
                Ok(Quantizer::Pq(Pq { bounds, ks, books }))
            }
            _ => Err(IndexError::Corrupt("quantizer tag")),
        }
    }
}

/// Dot products of `v` with the `k` dimension-major centroids `ct`, written
/// to `out[..k]`; one pass per dimension over all centroids (as
/// [`kmeans::col_dists`]). Exact in i64 for in-range values.
fn col_dots(ct: &[i32], k: usize, v: &[i32], out: &mut [i64]) {
    let out = &mut out[..k];
    out.fill(0);
    for (t, &x) in v.iter().enumerate() {
        for (o, &c) in out.iter_mut().zip(&ct[t * k..(t + 1) * k]) {
            *o += x as i64 * c as i64;
        }
    }
}
