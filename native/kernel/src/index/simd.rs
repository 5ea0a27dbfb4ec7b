//! The distance kernels, chosen once at run time: the only SIMD dispatch in
//! the kernel (exact scans, indexes and `stats().simd` all go through
//! [`kernels`]).
//!
//! * exact squared L2 over Q16.16 (`i32` → `i64`): AVX-512F, AVX2 or scalar.
//!   The result is `sum((a[i] - b[i])^2)` in raw units (2^32 per real unit
//!   squared), exact and identical on every machine: inputs are bounded by
//!   [`crate::fixed::max_abs_raw`] so every difference fits an `i32` and the
//!   sum of squares an `i64`. Integer addition is associative, so every path
//!   (each sums in its own order) returns the same bits.
//! * exact dot product over Q16.16 (`i32` → `i64`): AVX-512F, AVX2 or scalar.
//!   `sum(a[i] * b[i])` in raw units; each product is exact in i64 and, with
//!   inputs bounded by [`crate::fixed::max_abs_raw`] (`4·dim·m² <= i64::MAX`),
//!   `sum |a[i]·b[i]| <= dim·m² <= i64::MAX / 4`, so no partial sum in any
//!   order overflows and every path returns the same bits.
//! * SQ8 squared L2 over `u8` codes (`u64`): AVX-512BW, AVX2 or scalar.
//!
//! No global `target-cpu`: each SIMD body is a `#[target_feature]` function
//! reached only after `is_x86_feature_detected!` said yes.

use std::sync::OnceLock;

/// The distance functions for this CPU.
pub(crate) struct Kernels {
    pub l2: fn(&[i32], &[i32]) -> i64,
    pub l2_within: fn(&[i32], &[i32], i64) -> Option<i64>,
    pub dot: fn(&[i32], &[i32]) -> i64,
    pub sq8: fn(&[u8], &[u8]) -> u64,
    pub name: &'static str,
}

/// Kernels detected once per process.
pub(crate) fn kernels() -> &'static Kernels {
    static K: OnceLock<Kernels> = OnceLock::new();
    K.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
            {
                return Kernels {
                    l2: x86::l2_avx512_entry,
                    l2_within: x86::l2_within_avx512_entry,
                    dot: x86::dot_avx512_entry,
                    sq8: x86::sq8_avx512_entry,
                    name: "avx512",
                };
            }
            if std::is_x86_feature_detected!("avx2") {
                return Kernels {
                    l2: x86::l2_avx2_entry,
                    l2_within: l2_within_chunked,
                    dot: x86::dot_avx2_entry,
                    sq8: x86::sq8_avx2_entry,
                    name: "avx2",
                };
            }
        }
        Kernels {
            l2: l2_scalar,
            l2_within: l2_within_chunked,
            dot: dot_scalar,
            sq8: sq8_scalar,
            name: "scalar",
        }
    })
}

/// Name of the distance kernels in use (for /health, stats and benchmarks).
pub fn kernel_name() -> &'static str {
    kernels().name
}

/// Exact squared L2 with the fastest available kernel.
#[inline]
pub(crate) fn l2(a: &[i32], b: &[i32]) -> i64 {
    (kernels().l2)(a, b)
}

/// Exact dot product with the fastest available kernel.
#[inline]
pub(crate) fn dot(a: &[i32], b: &[i32]) -> i64 {
    (kernels().dot)(a, b)
}

/// Dimensions per step of [`l2_within`]: 512 bytes, eight cache lines.
const BOUND_CHUNK: usize = 128;

/// Exact squared L2 if it is at most `bound`, else `None`, stopping as soon as
/// a partial sum exceeds `bound`. Partial sums only grow, so the decision is
/// exact; the saving is the memory of the part never read, which is what a
/// scan over scattered vectors (IVF lists, graph neighbours) waits on.
#[inline]
pub(crate) fn l2_within(a: &[i32], b: &[i32], bound: i64) -> Option<i64> {
    (kernels().l2_within)(a, b, bound)
}

/// [`l2_within`] from the plain kernel, one call per chunk.
fn l2_within_chunked(a: &[i32], b: &[i32], bound: i64) -> Option<i64> {
    let l2 = kernels().l2;
    if a.len() <= 2 * BOUND_CHUNK || bound == i64::MAX {
        let d = l2(a, b);
        return (d <= bound).then_some(d);
    }
    let mut acc = 0i64;
    for (ca, cb) in a.chunks(BOUND_CHUNK).zip(b.chunks(BOUND_CHUNK)) {
        acc += l2(ca, cb);
        if acc > bound {
            return None;
        }
    }
    Some(acc)
}

/// Portable exact squared L2: the oracle for the SIMD paths.
pub(crate) fn l2_scalar(a: &[i32], b: &[i32]) -> i64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = *x as i64 - *y as i64;
            d * d
        })
        .sum()
}

/// Portable exact dot product: the oracle for the SIMD paths.
pub(crate) fn dot_scalar(a: &[i32], b: &[i32]) -> i64 {
    a.iter().zip(b).map(|(x, y)| *x as i64 * *y as i64).sum()
}

/// Portable SQ8 distance: the oracle for the SIMD paths.
pub(crate) fn sq8_scalar(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = *x as i32 - *y as i32;
            (d * d) as u64
        })
        .sum()
}

/// SIMD SQ8 kernels accumulate in i32 lanes; each lane gains at most
/// 4 * 255^2 per 64 bytes, so 64 KiB blocks stay far below 2^31.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const SQ8_BLOCK: usize = 1 << 16;

/// Hint the CPU to start loading the first cache lines of `data` (enough for
/// the hardware prefetcher to take over on a long vector).
#[inline]
pub(crate) fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(data).min(256);
        let p = data.as_ptr() as *const i8;
        let mut off = 0;
        while off < bytes {
            // SAFETY: prefetch never faults; the address is inside `data`.
            unsafe { _mm_prefetch(p.add(off), _MM_HINT_T0) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[cfg(target_arch = "x86_64")]
#[path = "simd_x86.rs"]
mod x86;

#[cfg(test)]
#[path = "simd_tests.rs"]
mod tests;
