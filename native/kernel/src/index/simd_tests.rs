//! SIMD kernels against the portable oracles, for every kernel set this CPU runs.

use super::*;
use crate::index::rng::Rng;

/// Every kernel set this CPU can run, so the AVX2 path is tested on an
/// AVX-512 machine too.
fn runnable() -> Vec<Kernels> {
    let mut v = vec![Kernels {
        l2: l2_scalar,
        l2_within: l2_within_chunked,
        dot: dot_scalar,
        sq8: sq8_scalar,
        name: "scalar",
    }];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            v.push(Kernels {
                l2: x86::l2_avx2_entry,
                l2_within: l2_within_chunked,
                dot: x86::dot_avx2_entry,
                sq8: x86::sq8_avx2_entry,
                name: "avx2",
            });
        }
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw") {
            v.push(Kernels {
                l2: x86::l2_avx512_entry,
                l2_within: x86::l2_within_avx512_entry,
                dot: x86::dot_avx512_entry,
                sq8: x86::sq8_avx512_entry,
                name: "avx512",
            });
        }
    }
    v
}

#[test]
fn exact_kernel_equals_scalar_for_every_small_length_and_extremes() {
    for k in runnable() {
        check_exact(k.l2);
    }
}

fn check_exact(l2: fn(&[i32], &[i32]) -> i64) {
    let mut r = Rng::new(1);
    for len in 0..100usize {
        let bound = crate::fixed::max_abs_raw(len.max(1)) as i64;
        for _ in 0..10 {
            let mut v = || (r.below(2 * bound as u64 + 1) as i64 - bound) as i32;
            let a: Vec<i32> = (0..len).map(|_| v()).collect();
            let b: Vec<i32> = (0..len).map(|_| v()).collect();
            assert_eq!(l2(&a, &b), l2_scalar(&a, &b), "len {len}");
        }
        let m = bound as i32;
        let (a, b) = (vec![m; len], vec![-m; len]);
        assert_eq!(l2(&a, &b), l2_scalar(&a, &b));
    }
}

#[test]
fn bounded_distance_is_exact_or_none_exactly_when_above_the_bound() {
    for k in runnable() {
        check_within(k.l2_within);
    }
}

fn check_within(l2_within: fn(&[i32], &[i32], i64) -> Option<i64>) {
    let mut r = Rng::new(3);
    for len in [0usize, 8, 127, 128, 256, 257, 784, 1000] {
        for _ in 0..50 {
            let a: Vec<i32> = (0..len).map(|_| r.below(1 << 20) as i32).collect();
            let b: Vec<i32> = (0..len).map(|_| r.below(1 << 20) as i32).collect();
            let d = l2_scalar(&a, &b);
            for bound in [0, d / 3, d - 1, d, d + 1, i64::MAX] {
                assert_eq!(
                    l2_within(&a, &b, bound),
                    (d <= bound).then_some(d),
                    "len {len}"
                );
            }
        }
    }
}

#[test]
fn sq8_kernel_equals_scalar_including_long_vectors() {
    for k in runnable() {
        check_sq8(&k);
    }
}

fn check_sq8(k: &Kernels) {
    let mut r = Rng::new(2);
    for len in (0..200usize).chain([1000, 70_000, 140_001]) {
        let a: Vec<u8> = (0..len).map(|_| r.below(256) as u8).collect();
        let b: Vec<u8> = (0..len).map(|_| r.below(256) as u8).collect();
        assert_eq!((k.sq8)(&a, &b), sq8_scalar(&a, &b), "len {len}");
    }
    let (a, b) = (vec![255u8; 140_001], vec![0u8; 140_001]);
    assert_eq!((k.sq8)(&a, &b), 140_001 * 65025);
}

#[test]
fn exact_kernel_at_the_component_bound_does_not_overflow_at_large_dims() {
    for k in runnable() {
        for dim in [1usize, 3, 16, 384, 1536, 4096, 65536] {
            let m = crate::fixed::max_abs_raw(dim);
            let (a, b) = (vec![m; dim], vec![-m; dim]);
            // Computed in i128, independently of every kernel under test.
            let expect = (2 * m as i128).pow(2) * dim as i128;
            assert!(expect <= i64::MAX as i128);
            assert_eq!((k.l2)(&a, &b) as i128, expect, "{} dim {dim}", k.name);
        }
    }
}

#[test]
fn dot_kernel_equals_an_i128_oracle_at_several_dims_and_at_the_bound() {
    // The oracle sums in i128, independently of every kernel under test.
    let oracle = |a: &[i32], b: &[i32]| -> i128 {
        a.iter().zip(b).map(|(x, y)| *x as i128 * *y as i128).sum()
    };
    let mut r = Rng::new(5);
    for k in runnable() {
        for len in (0..70usize).chain([127, 128, 384, 1000, 1536, 4096]) {
            let bound = crate::fixed::max_abs_raw(len.max(1)) as i64;
            for _ in 0..5 {
                let mut v = || (r.below(2 * bound as u64 + 1) as i64 - bound) as i32;
                let a: Vec<i32> = (0..len).map(|_| v()).collect();
                let b: Vec<i32> = (0..len).map(|_| v()).collect();
                assert_eq!(
                    (k.dot)(&a, &b) as i128,
                    oracle(&a, &b),
                    "{} len {len}",
                    k.name
                );
                assert_eq!((k.dot)(&a, &b), dot_scalar(&a, &b), "{} len {len}", k.name);
            }
            // Every product at the bound with the same sign, then opposite signs.
            let m = bound as i32;
            let (a, b, c) = (vec![m; len], vec![m; len], vec![-m; len]);
            assert_eq!((k.dot)(&a, &b) as i128, (m as i128).pow(2) * len as i128);
            assert_eq!((k.dot)(&a, &c) as i128, -(m as i128).pow(2) * len as i128);
        }
    }
}
