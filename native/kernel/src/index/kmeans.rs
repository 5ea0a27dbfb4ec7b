//! Deterministic integer k-means (used by IVF centroids and PQ codebooks).
//!
//! * Init: k-means++ driven by a SplitMix64 stream with a fixed seed; the
//!   D² weights are exact i64 distances summed in u128.
//! * Assign: exact squared L2, ties to the lower centroid index.
//! * Update: per-dimension i128 sum / count, rounded half away from zero.
//!   An empty cluster is re-seeded with the point farthest from its centroid
//!   (ties to the lower point index), so no centroid is wasted.
//! * At most `iters` rounds; stops early when no assignment changed.
//!
//! Points are given in a fixed order (ascending record id by the callers), so
//! the result depends only on the data.
//!
//! Parallel (on the build pool), bit for bit the serial result: each point's
//! assignment and each point's D² weight is computed on its own; the sums of
//! a centroid are integer (exact in any order) and taken over its points in
//! index order; the k-means++ walk over the weights stays serial.

use rayon::prelude::*;

use super::rng::{Rng, KMEANS_SEED};

/// Points per parallel task in the assignment and D² steps.
const CHUNK: usize = 256;
use super::simd;

/// Exact squared L2; short sub-vectors (PQ) skip the dispatch overhead.
#[inline]
pub(crate) fn dist(a: &[i32], b: &[i32]) -> i64 {
    if a.len() >= 32 {
        return simd::l2(a, b);
    }
    let mut acc = 0i64;
    for i in 0..a.len().min(b.len()) {
        let d = a[i] as i64 - b[i] as i64;
        acc += d * d;
    }
    acc
}

/// Index and distance of the nearest of the `centroids` (flat, `d` wide),
/// ties to the lower index.
pub(crate) fn nearest(centroids: &[i32], d: usize, v: &[i32]) -> (usize, i64) {
    let mut best = (0usize, i64::MAX);
    for (c, cv) in centroids.chunks_exact(d).enumerate() {
        // Only a strictly closer centroid matters: stop summing beyond best - 1.
        let dd = if d >= 32 {
            simd::l2_within(v, cv, best.1.saturating_sub(1))
        } else {
            Some(dist(v, cv))
        };
        if let Some(dd) = dd.filter(|x| *x < best.1) {
            best = (c, dd);
        }
    }
    best
}

/// `k` rows of width `w` → dimension-major (`out[t * k + c]`), the layout
/// [`col_dists`] wants for short sub-vectors (PQ).
pub(crate) fn transpose(rows: &[i32], w: usize, k: usize) -> Vec<i32> {
    let mut out = vec![0i32; w * k];
    for c in 0..k {
        for t in 0..w {
            out[t * k + c] = rows[c * w + t];
        }
    }
    out
}

/// Squared distances from `v` to the `k` dimension-major centroids `ct`,
/// written to `out[..k]`. One pass per dimension over all centroids, so the
/// loop vectorises across centroids. Differences of in-range values fit an
/// i32, so |d| is a u32 and d² a u64 (`pmuludq`).
pub(crate) fn col_dists(ct: &[i32], k: usize, v: &[i32], out: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected.
            return unsafe { col_dists_avx2(ct, k, v, out) };
        }
    }
    col_dists_body(ct, k, v, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn col_dists_avx2(ct: &[i32], k: usize, v: &[i32], out: &mut [u64]) {
    col_dists_body(ct, k, v, out)
}

#[inline(always)]
fn col_dists_body(ct: &[i32], k: usize, v: &[i32], out: &mut [u64]) {
    let out = &mut out[..k];
    out.fill(0);
    for (t, &x) in v.iter().enumerate() {
        let row = &ct[t * k..(t + 1) * k];
        for (o, &c) in out.iter_mut().zip(row) {
            let d = x.wrapping_sub(c).unsigned_abs() as u64;
            *o += d * d;
        }
    }
}

/// Nearest of `k` dimension-major centroids: (index, distance), ties low.
pub(crate) fn nearest_col(ct: &[i32], k: usize, v: &[i32], scratch: &mut [u64]) -> (usize, i64) {
    col_dists(ct, k, v, scratch);
    let mut best = (0usize, u64::MAX);
    for (c, &d) in scratch[..k].iter().enumerate() {
        if d < best.1 {
            best = (c, d);
        }
    }
    (best.0, best.1 as i64)
}

/// `min(k, n)` centroids of the `n = points.len() / d` points, flat.
pub(crate) fn kmeans(points: &[i32], d: usize, k: usize, iters: usize, seed: u64) -> Vec<i32> {
    let n = points.len().checked_div(d).unwrap_or(0);
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    let mut cent = plus_plus_init(points, d, n, k, seed);
    let mut assign = vec![usize::MAX; n];
    let mut dists = vec![0i64; n];
    for round in 0..=iters {
        // Short vectors: scan centroids dimension-major (vectorised).
        let ct = if d < 32 {
            transpose(&cent, d, k)
        } else {
            Vec::new()
        };
        let cent_ref = &cent;
        let changed = assign
            .par_chunks_mut(CHUNK)
            .zip(dists.par_chunks_mut(CHUNK))
            .zip(points.par_chunks(CHUNK * d))
            .map(|((assign, dists), pts)| {
                let mut scratch = vec![0u64; k];
                let mut changed = false;
                for ((a, dist), p) in assign.iter_mut().zip(dists).zip(pts.chunks_exact(d)) {
                    let (c, dd) = if d < 32 {
                        nearest_col(&ct, k, p, &mut scratch)
                    } else {
                        nearest(cent_ref, d, p)
                    };
                    changed |= *a != c;
                    *a = c;
                    *dist = dd;
                }
                changed
            })
            .reduce(|| false, |a, b| a || b);
        if (!changed && round > 0) || round == iters {
            break;
        }
        update(points, d, k, &assign, &dists, &mut cent);
    }
    cent
}

fn plus_plus_init(points: &[i32], d: usize, n: usize, k: usize, seed: u64) -> Vec<i32> {
    let mut rng = Rng::new(KMEANS_SEED ^ seed ^ ((n as u64) << 32) ^ k as u64);
    let pt = |i: usize| &points[i * d..(i + 1) * d];
    let first = rng.below(n as u64) as usize;
    let mut cent = pt(first).to_vec();
    let mut best: Vec<i64> = (0..n)
        .into_par_iter()
        .map(|i| dist(pt(i), pt(first)))
        .collect();
    while cent.len() / d < k {
        let total: u128 = best.iter().map(|x| *x as u128).sum();
        let pick = if total == 0 {
            // All remaining points coincide with a centroid: take the next
            // index in order so duplicates still give k centroids.
            (cent.len() / d) % n
        } else {
            let mut r = rng.below_u128(total);
            let mut chosen = n - 1;
            for (i, w) in best.iter().enumerate() {
                let w = *w as u128;
                if r < w {
                    chosen = i;
                    break;
                }
                r -= w;
            }
            chosen
        };
        let c = pt(pick).to_vec();
        best.par_chunks_mut(CHUNK)
            .zip(points.par_chunks(CHUNK * d))
            .for_each(|(best, pts)| {
                for (b, p) in best.iter_mut().zip(pts.chunks_exact(d)) {
                    *b = (*b).min(dist(p, &c));
                }
            });
        cent.extend_from_slice(&c);
    }
    cent
}

fn update(points: &[i32], d: usize, k: usize, assign: &[usize], dists: &[i64], cent: &mut [i32]) {
    // Each centroid's members in point order; its sums are its own task.
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (i, c) in assign.iter().enumerate() {
        members[*c].push(i as u32);
    }
    let counts: Vec<i64> = members.iter().map(|m| m.len() as i64).collect();
    let sums: Vec<i128> = members
        .par_iter()
        .flat_map_iter(|m| {
            let mut row = vec![0i128; d];
            for &i in m {
                let i = i as usize;
                for (s, x) in row.iter_mut().zip(&points[i * d..(i + 1) * d]) {
                    *s += *x as i128;
                }
            }
            row
        })
        .collect();
    // Points ordered by distance to their centroid, farthest first, for
    // re-seeding empty clusters.
    let mut far: Vec<usize> = Vec::new();
    let mut used = 0usize;
    for c in 0..k {
        if counts[c] == 0 {
            if far.is_empty() {
                far = (0..assign.len()).collect();
                far.sort_by(|a, b| dists[*b].cmp(&dists[*a]).then(a.cmp(b)));
            }
            if let Some(&p) = far.get(used) {
                used += 1;
                cent[c * d..(c + 1) * d].copy_from_slice(&points[p * d..(p + 1) * d]);
            }
            continue;
        }
        let cnt = counts[c] as i128;
        for j in 0..d {
            let s = sums[c * d + j];
            // Round half away from zero; the mean of i32 values fits an i32.
            let q = if s >= 0 {
                (2 * s + cnt) / (2 * cnt)
            } else {
                -((-2 * s + cnt) / (2 * cnt))
            };
            cent[c * d + j] = q as i32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_clear_clusters_and_is_repeatable() {
        let mut pts = Vec::new();
        for c in 0..4i32 {
            for i in 0..50i32 {
                pts.extend_from_slice(&[c * 1_000_000 + i, -c * 1_000_000 - i * 3]);
            }
        }
        let a = kmeans(&pts, 2, 4, 10, 0);
        assert_eq!(a, kmeans(&pts, 2, 4, 10, 0));
        let mut firsts: Vec<i32> = a.chunks(2).map(|c| c[0] / 1_000_000).collect();
        firsts.sort();
        assert_eq!(firsts, vec![0, 1, 2, 3]);
    }

    #[test]
    fn column_distances_equal_row_distances() {
        let mut r = crate::index::rng::Rng::new(9);
        for w in [1usize, 3, 8, 17] {
            let k = 37;
            let rows: Vec<i32> = (0..k * w)
                .map(|_| r.below(1 << 29) as i32 - (1 << 28))
                .collect();
            let v: Vec<i32> = (0..w)
                .map(|_| r.below(1 << 29) as i32 - (1 << 28))
                .collect();
            let mut out = vec![0u64; k];
            col_dists(&transpose(&rows, w, k), k, &v, &mut out);
            for c in 0..k {
                assert_eq!(
                    out[c] as i64,
                    crate::index::simd::l2_scalar(&v, &rows[c * w..(c + 1) * w])
                );
            }
            let mut s = vec![0u64; k];
            assert_eq!(
                nearest_col(&transpose(&rows, w, k), k, &v, &mut s),
                nearest(&rows, w, &v)
            );
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert!(kmeans(&[], 3, 4, 5, 0).is_empty());
        let same = vec![7i32; 30];
        assert_eq!(kmeans(&same, 3, 4, 5, 0).len(), 12);
        assert_eq!(kmeans(&[1, 2, 3], 3, 8, 5, 0), vec![1, 2, 3]);
    }
}
