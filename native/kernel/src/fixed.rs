//! Q16.16 fixed point: the only float→integer conversion in Valori.
//!
//! `raw = round_half_to_even(f32(v) * 65536)`. Multiplying an `f32` by 2^16 is
//! exact, and rounding ties to even is defined by IEEE 754, so every platform
//! produces the same `raw`. Real value = raw / 65536.
//!
//! Accepted range: |raw| <= `max_abs_raw(dim)`, chosen so that the exact squared
//! distance between any two accepted vectors fits an `i64` and every per-component
//! difference fits an `i32` (the SIMD kernels rely on both).

/// 2^16: one real unit in raw Q16.16.
pub const SCALE: f64 = 65536.0;

/// Largest accepted |raw| component for vectors of dimension `dim`:
/// `min(2^30 - 1, floor(sqrt(i64::MAX / (4 * dim))))`.
pub fn max_abs_raw(dim: usize) -> i32 {
    let dim = dim.max(1) as u128;
    let limit = (i64::MAX as u128) / (4 * dim);
    let root = isqrt(limit);
    root.min((1u128 << 30) - 1) as i32
}

/// Largest accepted |value| in real units at `dim` (for messages and docs).
pub fn max_abs_value(dim: usize) -> f64 {
    max_abs_raw(dim) as f64 / SCALE
}

fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut x = (n as f64).sqrt() as u128;
    while x * x > n {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= n {
        x += 1;
    }
    x
}

/// Why a component could not be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertError {
    /// NaN or ±Infinity at this index.
    NotFinite(usize),
    /// Magnitude above the accepted range at this index.
    OutOfRange(usize),
}

/// Convert one f32 to raw Q16.16 with a bound.
#[inline]
pub fn to_raw(v: f32, bound: i32) -> Option<i32> {
    if !v.is_finite() {
        return None;
    }
    let r = ((v as f64) * SCALE).round_ties_even();
    if r.abs() > bound as f64 {
        return None;
    }
    Some(r as i32)
}

/// Convert a vector; appends to `out`. Fails on the first bad component.
pub fn convert_into(values: &[f32], bound: i32, out: &mut Vec<i32>) -> Result<(), ConvertError> {
    out.reserve(values.len());
    for (i, v) in values.iter().enumerate() {
        if !v.is_finite() {
            return Err(ConvertError::NotFinite(i));
        }
        match to_raw(*v, bound) {
            Some(r) => out.push(r),
            None => return Err(ConvertError::OutOfRange(i)),
        }
    }
    Ok(())
}

/// Raw squared distance (2^32 per real unit²) to real units², as reported to clients.
#[inline]
pub fn score_from_raw_dist(d: i64) -> f64 {
    d as f64 / (SCALE * SCALE)
}

/// Raw component back to f32 (exact while |v| <= 256).
#[inline]
pub fn to_f32(raw: i32) -> f32 {
    (raw as f64 / SCALE) as f32
}

/// One real unit: the length of a vector after [`normalize`].
pub const UNIT_RAW: i32 = 1 << 16;

/// Scales `v` to unit length in place, in integers: each component becomes
/// `y = sign(x) · round_half_away(|x| · 65536 / ‖x‖)` with ‖x‖ = sqrt(Σx²)
/// taken exactly, not rounded. With `S = Σx²` (u128) and `X = |x|·65536`,
/// `y` is the largest integer in `0..=65536` with `y == 0` or
/// `(2y − 1)²·S <= 4·X²` (i.e. `y − ½ <= X/√S`), found by bisection. Every
/// quantity is an exact integer (4·X² < 2^97; a product that would pass
/// u128 is larger than 4·X² and saturates), so the result is the same on
/// every machine and scaling `v` by any constant gives the same output.
/// Each component is within ½ of the exact quotient, so ‖y‖ is within
/// ½·sqrt(dim) of 65536. A zero vector has no direction: an error.
pub fn normalize(v: &mut [i32]) -> crate::KResult<()> {
    let s: u128 = v.iter().map(|x| (x.unsigned_abs() as u128).pow(2)).sum();
    if s == 0 {
        return Err(crate::KernelError::InvalidArgument(
            "a cosine collection cannot store or search a zero vector".into(),
        ));
    }
    let norm = (s as f64).sqrt();
    for x in v.iter_mut() {
        let big = x.unsigned_abs() as u128 * UNIT_RAW as u128;
        let lhs = 4 * big * big;
        // y is the largest value in 0..=65536 (|x| <= ‖x‖) with `fits(y)`;
        // `fits` is monotone, so starting from a floating-point estimate and
        // stepping until the exact integer test flips gives that same y on
        // every machine (the estimate only decides how many steps it takes).
        let fits = |y: u128| y == 0 || ((2 * y - 1) * (2 * y - 1)).saturating_mul(s) <= lhs;
        let est = (x.unsigned_abs() as f64 * UNIT_RAW as f64 / norm).round();
        let mut y = (est.clamp(0.0, UNIT_RAW as f64)) as u128;
        while y < UNIT_RAW as u128 && fits(y + 1) {
            y += 1;
        }
        while !fits(y) {
            y -= 1;
        }
        let y = y as i32;
        *x = if *x < 0 { -y } else { y };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded stream for test inputs (Knuth's MMIX LCG, high bits).
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((self.0 >> 32) as u128 * n as u128) >> 32) as u64
        }
    }

    fn unit(v: &[i32]) -> Vec<i32> {
        let mut y = v.to_vec();
        normalize(&mut y).expect("non-zero");
        y
    }

    /// The definition of `normalize`, by bisection over 0..=65536.
    fn by_bisection(v: &[i32]) -> Vec<i32> {
        let s: u128 = v.iter().map(|x| (x.unsigned_abs() as u128).pow(2)).sum();
        v.iter()
            .map(|&x| {
                let big = x.unsigned_abs() as u128 * UNIT_RAW as u128;
                let (mut lo, mut hi) = (0u128, UNIT_RAW as u128);
                while lo < hi {
                    let mid = (lo + hi).div_ceil(2);
                    let odd = 2 * mid - 1;
                    if (odd * odd).saturating_mul(s) <= 4 * big * big {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                if x < 0 {
                    -(lo as i32)
                } else {
                    lo as i32
                }
            })
            .collect()
    }

    #[test]
    fn normalize_agrees_with_its_definition_on_random_vectors() {
        let mut r = Lcg(42);
        for dim in [1, 2, 3, 16, 784, 1536] {
            let bound = max_abs_raw(dim) as u64;
            for round in 0..20u64 {
                // Small, mid-sized and extreme components, and many ties.
                let span = [3, 65_536, bound][round as usize % 3];
                let v: Vec<i32> = (0..dim)
                    .map(|_| r.below(2 * span + 1) as i64 - span as i64)
                    .map(|x| x as i32)
                    .collect();
                if v.iter().all(|&x| x == 0) {
                    continue;
                }
                assert_eq!(unit(&v), by_bisection(&v), "dim {dim} round {round}");
            }
        }
    }

    #[test]
    fn normalize_matches_hand_computed_examples() {
        // 3·65536/5 = 39321.6, 4·65536/5 = 52428.8
        assert_eq!(unit(&[3, 4]), vec![39322, 52429]);
        assert_eq!(unit(&[-3, 4]), vec![-39322, 52429]);
        // 65536/√2 = 46340.95…
        assert_eq!(unit(&[1, 1]), vec![46341, 46341]);
        // 65536/3 = 21845.33…, 131072/3 = 43690.67…
        assert_eq!(unit(&[1, 2, -2]), vec![21845, 43691, -43691]);
        assert_eq!(unit(&[-5, 0, 0]), vec![-65536, 0, 0]);
        assert_eq!(unit(&[0, 7]), vec![0, 65536]);
        // ‖x‖ = 2^17 exactly, so y = x/2: the halves are exact ties and go
        // away from zero (1.5 → 2, 65535.5 → 65536, 255.5 → 256, 11.5 → 12).
        assert_eq!(unit(&[3, 131071, 511, 23, 22]), vec![2, 65536, 256, 12, 11]);
        assert_eq!(
            unit(&[-3, -131071, -511, -23, -22]),
            vec![-2, -65536, -256, -12, -11]
        );
    }

    #[test]
    fn a_zero_vector_cannot_be_normalized() {
        let mut z = vec![0; 4];
        let e = normalize(&mut z).unwrap_err();
        assert!(e.to_string().contains("zero vector"), "{e}");
        assert_eq!(z, vec![0; 4], "left unchanged");
        assert!(normalize(&mut []).is_err());
    }

    #[test]
    fn normalized_length_is_within_half_sqrt_dim_of_one_unit_and_signs_are_kept() {
        let mut r = Lcg(7);
        for dim in [1usize, 2, 3, 8, 100, 384, 1536] {
            let m = max_abs_raw(dim) as i64;
            for round in 0..20 {
                // Small, mid and full-range magnitudes.
                let span = [100, 65536, m][round % 3];
                let v: Vec<i32> = (0..dim)
                    .map(|_| (r.below(2 * span as u64 + 1) as i64 - span) as i32)
                    .collect();
                if v.iter().all(|x| *x == 0) {
                    continue;
                }
                let y = unit(&v);
                let sq: u128 = y.iter().map(|c| (*c as i128).pow(2) as u128).sum();
                let slack = 0.5 * (dim as f64).sqrt();
                let (lo, hi) = (65536.0 - slack, 65536.0 + slack);
                assert!(
                    (sq as f64) >= lo * lo && (sq as f64) <= hi * hi,
                    "dim {dim}: ‖y‖² = {sq}"
                );
                for (a, b) in v.iter().zip(&y) {
                    assert!(a.signum() == b.signum() || *b == 0, "{a} -> {b}");
                    assert!(b.unsigned_abs() <= 65536);
                }
            }
        }
    }

    #[test]
    fn scaling_the_input_gives_the_same_unit_vector() {
        let mut r = Lcg(8);
        for dim in [2usize, 5, 64, 384] {
            for _ in 0..20 {
                let v: Vec<i32> = (0..dim).map(|_| r.below(20001) as i32 - 10000).collect();
                if v.iter().all(|x| *x == 0) {
                    continue;
                }
                let y = unit(&v);
                for c in [2, 3, 7, 1000, -1] {
                    let scaled: Vec<i32> = v.iter().map(|x| x * c).collect();
                    let want: Vec<i32> = y.iter().map(|x| x * c.signum()).collect();
                    assert_eq!(unit(&scaled), want, "dim {dim} × {c}");
                }
            }
        }
    }

    #[test]
    fn rounding_is_half_to_even_on_the_scaled_value() {
        // 0.1f32 * 65536 = 6553.6000976... -> 6554
        assert_eq!(to_raw(0.1, i32::MAX), Some(6554));
        assert_eq!(to_raw(-0.1, i32::MAX), Some(-6554));
        // exact halves: 0.5/65536 and 1.5/65536 -> ties to even 0 and 2
        assert_eq!(to_raw((0.5f64 / 65536.0) as f32, i32::MAX), Some(0));
        assert_eq!(to_raw((1.5f64 / 65536.0) as f32, i32::MAX), Some(2));
        assert_eq!(to_raw((2.5f64 / 65536.0) as f32, i32::MAX), Some(2));
        assert_eq!(to_raw(1.0, i32::MAX), Some(65536));
    }

    #[test]
    fn non_finite_and_out_of_range_are_rejected() {
        let b = max_abs_raw(384);
        assert_eq!(to_raw(f32::NAN, b), None);
        assert_eq!(to_raw(f32::INFINITY, b), None);
        assert_eq!(to_raw(f32::NEG_INFINITY, b), None);
        let mut out = vec![];
        assert_eq!(
            convert_into(&[0.0, 1e9], b, &mut out),
            Err(ConvertError::OutOfRange(1))
        );
        assert_eq!(
            convert_into(&[0.0, f32::NAN], b, &mut out),
            Err(ConvertError::NotFinite(1))
        );
    }

    #[test]
    fn bound_is_tight_for_i64_and_i32() {
        for dim in [1usize, 2, 384, 1536, 3072, 1 << 20] {
            let m = max_abs_raw(dim) as i128;
            assert!(2 * m <= i32::MAX as i128);
            assert!((2 * m).pow(2) * dim as i128 <= i64::MAX as i128);
        }
        // dim 384 accepts about ±1159 real units
        assert!(max_abs_value(384) > 1000.0 && max_abs_value(384) < 1200.0);
    }
}
