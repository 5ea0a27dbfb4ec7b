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

#[cfg(test)]
mod tests {
    use super::*;

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
