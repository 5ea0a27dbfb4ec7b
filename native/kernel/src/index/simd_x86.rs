//! The x86-64 bodies of the distance kernels (see `simd`): each is a
//! `#[target_feature]` function behind a safe entry that `simd::kernels`
//! installs only after detecting the feature.

use super::SQ8_BLOCK;
use std::arch::x86_64::*;

// The safe entries below are only installed in `Kernels` after the
// matching CPU features were detected.
pub fn l2_avx2_entry(a: &[i32], b: &[i32]) -> i64 {
    unsafe { l2_avx2(a, b) }
}
pub fn l2_avx512_entry(a: &[i32], b: &[i32]) -> i64 {
    unsafe { l2_avx512(a, b) }
}
pub fn l2_within_avx512_entry(a: &[i32], b: &[i32], bound: i64) -> Option<i64> {
    unsafe { l2_within_avx512(a, b, bound) }
}
pub fn dot_avx2_entry(a: &[i32], b: &[i32]) -> i64 {
    unsafe { dot_avx2(a, b) }
}
pub fn dot_avx512_entry(a: &[i32], b: &[i32]) -> i64 {
    unsafe { dot_avx512(a, b) }
}
pub fn sq8_avx512_entry(a: &[u8], b: &[u8]) -> u64 {
    if a.len() <= SQ8_BLOCK {
        return unsafe { sq8_avx512(a, b) };
    }
    a.chunks(SQ8_BLOCK)
        .zip(b.chunks(SQ8_BLOCK))
        .map(|(x, y)| unsafe { sq8_avx512(x, y) })
        .sum()
}
pub fn sq8_avx2_entry(a: &[u8], b: &[u8]) -> u64 {
    if a.len() <= SQ8_BLOCK {
        return unsafe { sq8_avx2(a, b) };
    }
    a.chunks(SQ8_BLOCK)
        .zip(b.chunks(SQ8_BLOCK))
        .map(|(x, y)| unsafe { sq8_avx2(x, y) })
        .sum()
}

/// 8 i32 differences per register, two registers per step; squared
/// into i64 with `vpmuldq` (even lanes, then odd lanes shifted down).
#[target_feature(enable = "avx2")]
unsafe fn l2_avx2(a: &[i32], b: &[i32]) -> i64 {
    #[inline(always)]
    unsafe fn sq(d: __m256i) -> __m256i {
        let o = _mm256_srli_epi64::<32>(d);
        _mm256_add_epi64(_mm256_mul_epi32(d, d), _mm256_mul_epi32(o, o))
    }
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    while i + 16 <= n {
        let d0 = _mm256_sub_epi32(
            _mm256_loadu_si256(pa.add(i) as *const __m256i),
            _mm256_loadu_si256(pb.add(i) as *const __m256i),
        );
        let d1 = _mm256_sub_epi32(
            _mm256_loadu_si256(pa.add(i + 8) as *const __m256i),
            _mm256_loadu_si256(pb.add(i + 8) as *const __m256i),
        );
        acc0 = _mm256_add_epi64(acc0, sq(d0));
        acc1 = _mm256_add_epi64(acc1, sq(d1));
        i += 16;
    }
    let mut lanes = [0i64; 4];
    _mm256_storeu_si256(
        lanes.as_mut_ptr() as *mut __m256i,
        _mm256_add_epi64(acc0, acc1),
    );
    lanes.iter().sum::<i64>() + super::l2_scalar(&a[i..n], &b[i..n])
}

/// 16 i32 differences per register; `vpmuldq` squares the even lanes, a
/// 32-bit shift brings the odd lanes down for a second `vpmuldq`. The
/// tail uses masked loads (masked-off lanes load 0 on both sides).
#[target_feature(enable = "avx512f")]
unsafe fn l2_avx512(a: &[i32], b: &[i32]) -> i64 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm512_setzero_si512();
    let mut acc1 = _mm512_setzero_si512();
    let mut i = 0;
    while i + 32 <= n {
        let d0 = _mm512_sub_epi32(
            _mm512_loadu_si512(pa.add(i) as *const _),
            _mm512_loadu_si512(pb.add(i) as *const _),
        );
        let d1 = _mm512_sub_epi32(
            _mm512_loadu_si512(pa.add(i + 16) as *const _),
            _mm512_loadu_si512(pb.add(i + 16) as *const _),
        );
        let o0 = _mm512_srli_epi64::<32>(d0);
        let o1 = _mm512_srli_epi64::<32>(d1);
        acc0 = _mm512_add_epi64(
            acc0,
            _mm512_add_epi64(_mm512_mul_epi32(d0, d0), _mm512_mul_epi32(o0, o0)),
        );
        acc1 = _mm512_add_epi64(
            acc1,
            _mm512_add_epi64(_mm512_mul_epi32(d1, d1), _mm512_mul_epi32(o1, o1)),
        );
        i += 32;
    }
    while i < n {
        let left = (n - i).min(16);
        let mask: __mmask16 = if left == 16 {
            0xFFFF
        } else {
            (1u16 << left) - 1
        };
        let d = _mm512_sub_epi32(
            _mm512_maskz_loadu_epi32(mask, pa.add(i)),
            _mm512_maskz_loadu_epi32(mask, pb.add(i)),
        );
        let o = _mm512_srli_epi64::<32>(d);
        acc0 = _mm512_add_epi64(
            acc0,
            _mm512_add_epi64(_mm512_mul_epi32(d, d), _mm512_mul_epi32(o, o)),
        );
        i += left;
    }
    let mut lanes = [0i64; 8];
    _mm512_storeu_si512(lanes.as_mut_ptr() as *mut _, _mm512_add_epi64(acc0, acc1));
    lanes.iter().sum()
}

/// [`l2_avx512`] that checks the running sum against `bound` after every
/// 128 dimensions and gives up once it is exceeded.
#[target_feature(enable = "avx512f")]
unsafe fn l2_within_avx512(a: &[i32], b: &[i32], bound: i64) -> Option<i64> {
    #[inline(always)]
    unsafe fn sq(d: __m512i) -> __m512i {
        let o = _mm512_srli_epi64::<32>(d);
        _mm512_add_epi64(_mm512_mul_epi32(d, d), _mm512_mul_epi32(o, o))
    }
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_si512();
    let mut i = 0;
    while i + 128 <= n {
        for s in 0..4 {
            let o = i + 32 * s;
            let d0 = _mm512_sub_epi32(
                _mm512_loadu_si512(pa.add(o) as *const _),
                _mm512_loadu_si512(pb.add(o) as *const _),
            );
            let d1 = _mm512_sub_epi32(
                _mm512_loadu_si512(pa.add(o + 16) as *const _),
                _mm512_loadu_si512(pb.add(o + 16) as *const _),
            );
            acc = _mm512_add_epi64(acc, _mm512_add_epi64(sq(d0), sq(d1)));
        }
        i += 128;
        if _mm512_reduce_add_epi64(acc) > bound {
            return None;
        }
    }
    while i < n {
        let left = (n - i).min(16);
        let mask: __mmask16 = if left == 16 {
            0xFFFF
        } else {
            (1u16 << left) - 1
        };
        let d = _mm512_sub_epi32(
            _mm512_maskz_loadu_epi32(mask, pa.add(i)),
            _mm512_maskz_loadu_epi32(mask, pb.add(i)),
        );
        acc = _mm512_add_epi64(acc, sq(d));
        i += left;
    }
    let total = _mm512_reduce_add_epi64(acc);
    (total <= bound).then_some(total)
}

/// [`l2_avx2`] with products instead of squared differences: `vpmuldq`
/// multiplies the even lanes (sign taken from bit 31), a 32-bit shift
/// brings the odd lanes down for a second `vpmuldq`.
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(a: &[i32], b: &[i32]) -> i64 {
    #[inline(always)]
    unsafe fn mul(x: __m256i, y: __m256i) -> __m256i {
        let (xo, yo) = (_mm256_srli_epi64::<32>(x), _mm256_srli_epi64::<32>(y));
        _mm256_add_epi64(_mm256_mul_epi32(x, y), _mm256_mul_epi32(xo, yo))
    }
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    while i + 16 <= n {
        let a0 = _mm256_loadu_si256(pa.add(i) as *const __m256i);
        let b0 = _mm256_loadu_si256(pb.add(i) as *const __m256i);
        let a1 = _mm256_loadu_si256(pa.add(i + 8) as *const __m256i);
        let b1 = _mm256_loadu_si256(pb.add(i + 8) as *const __m256i);
        acc0 = _mm256_add_epi64(acc0, mul(a0, b0));
        acc1 = _mm256_add_epi64(acc1, mul(a1, b1));
        i += 16;
    }
    let mut lanes = [0i64; 4];
    _mm256_storeu_si256(
        lanes.as_mut_ptr() as *mut __m256i,
        _mm256_add_epi64(acc0, acc1),
    );
    lanes.iter().sum::<i64>() + super::dot_scalar(&a[i..n], &b[i..n])
}

/// [`l2_avx512`] with products: full 32-lane steps, then masked tail
/// loads (masked-off lanes load 0, contributing nothing).
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512(a: &[i32], b: &[i32]) -> i64 {
    #[inline(always)]
    unsafe fn mul(x: __m512i, y: __m512i) -> __m512i {
        let (xo, yo) = (_mm512_srli_epi64::<32>(x), _mm512_srli_epi64::<32>(y));
        _mm512_add_epi64(_mm512_mul_epi32(x, y), _mm512_mul_epi32(xo, yo))
    }
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm512_setzero_si512();
    let mut acc1 = _mm512_setzero_si512();
    let mut i = 0;
    while i + 32 <= n {
        let a0 = _mm512_loadu_si512(pa.add(i) as *const _);
        let b0 = _mm512_loadu_si512(pb.add(i) as *const _);
        let a1 = _mm512_loadu_si512(pa.add(i + 16) as *const _);
        let b1 = _mm512_loadu_si512(pb.add(i + 16) as *const _);
        acc0 = _mm512_add_epi64(acc0, mul(a0, b0));
        acc1 = _mm512_add_epi64(acc1, mul(a1, b1));
        i += 32;
    }
    while i < n {
        let left = (n - i).min(16);
        let mask: __mmask16 = if left == 16 {
            0xFFFF
        } else {
            (1u16 << left) - 1
        };
        let x = _mm512_maskz_loadu_epi32(mask, pa.add(i));
        let y = _mm512_maskz_loadu_epi32(mask, pb.add(i));
        acc0 = _mm512_add_epi64(acc0, mul(x, y));
        i += left;
    }
    let mut lanes = [0i64; 8];
    _mm512_storeu_si512(lanes.as_mut_ptr() as *mut _, _mm512_add_epi64(acc0, acc1));
    lanes.iter().sum()
}

/// |a-b| per byte via two saturating subtractions, widened to i16 and
/// squared-and-paired with `vpmaddwd` into i32 lanes. Full 64-byte steps
/// unmasked, one masked tail step; blocks of at most 64 KiB keep the u32
/// lane sums exact.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn sq8_avx512(a: &[u8], b: &[u8]) -> u64 {
    #[inline(always)]
    unsafe fn step(va: __m512i, vb: __m512i, acc: __m512i) -> __m512i {
        let zero = _mm512_setzero_si512();
        let d = _mm512_or_si512(_mm512_subs_epu8(va, vb), _mm512_subs_epu8(vb, va));
        let lo = _mm512_unpacklo_epi8(d, zero);
        let hi = _mm512_unpackhi_epi8(d, zero);
        _mm512_add_epi32(
            acc,
            _mm512_add_epi32(_mm512_madd_epi16(lo, lo), _mm512_madd_epi16(hi, hi)),
        )
    }
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_si512();
    let mut i = 0;
    while i + 64 <= n {
        acc = step(
            _mm512_loadu_si512(pa.add(i) as *const _),
            _mm512_loadu_si512(pb.add(i) as *const _),
            acc,
        );
        i += 64;
    }
    if i < n {
        let mask: __mmask64 = (1u64 << (n - i)) - 1;
        let va = _mm512_maskz_loadu_epi8(mask, pa.add(i) as *const i8);
        let vb = _mm512_maskz_loadu_epi8(mask, pb.add(i) as *const i8);
        acc = step(va, vb, acc);
    }
    // Lanes are non-negative i32 values; widen before the final sum.
    let lo = _mm512_cvtepu32_epi64(_mm512_castsi512_si256(acc));
    let hi = _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64::<1>(acc));
    _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi)) as u64
}

#[target_feature(enable = "avx2")]
unsafe fn sq8_avx2(a: &[u8], b: &[u8]) -> u64 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let zero = _mm256_setzero_si256();
    let mut acc = _mm256_setzero_si256();
    let mut i = 0;
    while i + 32 <= n {
        let va = _mm256_loadu_si256(pa.add(i) as *const __m256i);
        let vb = _mm256_loadu_si256(pb.add(i) as *const __m256i);
        let d = _mm256_or_si256(_mm256_subs_epu8(va, vb), _mm256_subs_epu8(vb, va));
        let lo = _mm256_unpacklo_epi8(d, zero);
        let hi = _mm256_unpackhi_epi8(d, zero);
        acc = _mm256_add_epi32(
            acc,
            _mm256_add_epi32(_mm256_madd_epi16(lo, lo), _mm256_madd_epi16(hi, hi)),
        );
        i += 32;
    }
    let mut lanes = [0u32; 8];
    _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc);
    let mut total: u64 = lanes.iter().map(|x| *x as u64).sum();
    total += super::sq8_scalar(&a[i..n], &b[i..n]);
    total
}
