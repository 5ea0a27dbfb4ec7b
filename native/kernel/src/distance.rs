//! Exact squared L2 distance over Q16.16 vectors.
//!
//! The result is `sum((a[i] - b[i])^2)` as an `i64`, in raw units (2^32 per real
//! unit squared). It is exact and identical on every machine: the inputs are
//! bounded by [`crate::fixed::max_abs_raw`] so that every difference fits an
//! `i32` and the sum of squares fits an `i64`. Integer addition is associative,
//! so the SIMD paths (which sum in a different order) give the same bits as the
//! scalar loop. SIMD is chosen at run time; the binary keeps a portable baseline.

/// Exact squared L2 distance. `a` and `b` must have the same length and hold
/// values within `fixed::max_abs_raw(len)`.
#[inline]
pub fn l2_sq(a: &[i32], b: &[i32]) -> i64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if simd_level() >= 1 {
            // SAFETY: AVX2 support was detected at run time.
            return unsafe { x86::l2_sq_avx2(a, b) };
        }
    }
    l2_sq_scalar(a, b)
}

/// The fastest exact kernel on this CPU, resolved once; for hot loops.
pub fn l2_sq_fn() -> fn(&[i32], &[i32]) -> i64 {
    #[cfg(target_arch = "x86_64")]
    {
        if simd_level() >= 1 {
            return l2_sq_avx2_entry;
        }
    }
    l2_sq_scalar
}

#[cfg(target_arch = "x86_64")]
fn l2_sq_avx2_entry(a: &[i32], b: &[i32]) -> i64 {
    // SAFETY: only handed out by l2_sq_fn after AVX2 was detected.
    unsafe { x86::l2_sq_avx2(a, b) }
}

/// Portable reference implementation; the oracle for the SIMD paths.
pub fn l2_sq_scalar(a: &[i32], b: &[i32]) -> i64 {
    let mut acc: i64 = 0;
    for (x, y) in a.iter().zip(b.iter()) {
        let d = (*x as i64) - (*y as i64);
        acc += d * d;
    }
    acc
}

/// 0 = portable, 1 = AVX2. Detected once.
pub fn simd_level() -> u8 {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                return 1;
            }
        }
        0
    })
}

/// Name of the distance kernel in use, for /health and benchmarks.
pub fn simd_name() -> &'static str {
    match simd_level() {
        1 => "avx2",
        _ => "scalar",
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// AVX2: 8 lanes of i32 differences, squared into i64 with `vpmuldq`
    /// (even lanes, then odd lanes shifted down), accumulated in 4 x i64.
    #[target_feature(enable = "avx2")]
    pub unsafe fn l2_sq_avx2(a: &[i32], b: &[i32]) -> i64 {
        let n = a.len().min(b.len());
        let chunks = n / 16;
        let pa = a.as_ptr();
        let pb = b.as_ptr();
        let mut acc0 = _mm256_setzero_si256();
        let mut acc1 = _mm256_setzero_si256();
        for c in 0..chunks {
            let off = c * 16;
            let va0 = _mm256_loadu_si256(pa.add(off) as *const __m256i);
            let vb0 = _mm256_loadu_si256(pb.add(off) as *const __m256i);
            let va1 = _mm256_loadu_si256(pa.add(off + 8) as *const __m256i);
            let vb1 = _mm256_loadu_si256(pb.add(off + 8) as *const __m256i);
            let d0 = _mm256_sub_epi32(va0, vb0);
            let d1 = _mm256_sub_epi32(va1, vb1);
            let e0 = _mm256_mul_epi32(d0, d0);
            let o0s = _mm256_srli_epi64(d0, 32);
            let o0 = _mm256_mul_epi32(o0s, o0s);
            let e1 = _mm256_mul_epi32(d1, d1);
            let o1s = _mm256_srli_epi64(d1, 32);
            let o1 = _mm256_mul_epi32(o1s, o1s);
            acc0 = _mm256_add_epi64(acc0, _mm256_add_epi64(e0, o0));
            acc1 = _mm256_add_epi64(acc1, _mm256_add_epi64(e1, o1));
        }
        let acc = _mm256_add_epi64(acc0, acc1);
        let mut lanes = [0i64; 4];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc);
        let mut total = lanes[0] + lanes[1] + lanes[2] + lanes[3];
        for i in chunks * 16..n {
            let d = (*pa.add(i) as i64) - (*pb.add(i) as i64);
            total += d * d;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn simd_equals_scalar_on_random_vectors_of_every_small_length() {
        let mut s = 7u64;
        for len in 0..70usize {
            let bound = crate::fixed::max_abs_raw(len.max(1)) as i64;
            for _ in 0..20 {
                let a: Vec<i32> = (0..len).map(|_| ((lcg(&mut s) as i64 % (2 * bound + 1)) - bound) as i32).collect();
                let b: Vec<i32> = (0..len).map(|_| ((lcg(&mut s) as i64 % (2 * bound + 1)) - bound) as i32).collect();
                assert_eq!(l2_sq(&a, &b), l2_sq_scalar(&a, &b), "len {len}");
            }
        }
    }

    #[test]
    fn extreme_values_at_the_bound_do_not_overflow() {
        for dim in [1usize, 3, 16, 384, 1536, 4096, 65536] {
            let m = crate::fixed::max_abs_raw(dim);
            let a = vec![m; dim];
            let b = vec![-m; dim];
            let expect = (2 * m as i128).pow(2) * dim as i128;
            assert!(expect <= i64::MAX as i128);
            assert_eq!(l2_sq(&a, &b) as i128, expect);
        }
    }
}
