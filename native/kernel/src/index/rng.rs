//! Deterministic pseudo-randomness for index construction.
//!
//! Every random choice (HNSW levels, k-means seeding, training samples) comes
//! from SplitMix64 over integers only, so it is identical on every platform
//! and needs no float `ln` from the platform libm.

/// Seed mixed into every HNSW level hash ("VALORI-H" in ASCII).
pub(crate) const LEVEL_SEED: u64 = 0x5641_4C4F_5249_2D48;
/// Seed for k-means++ initialisation ("VALORI-K").
pub(crate) const KMEANS_SEED: u64 = 0x5641_4C4F_5249_2D4B;

/// One SplitMix64 output for `x` (a bijective 64-bit mixer).
#[inline]
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 stream.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    /// Uniform in `0..n` (n > 0) by 128-bit multiply-shift: no modulo bias
    /// worth caring about and no division.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `0..n` for a u128 bound (k-means++ weights can exceed u64).
    pub(crate) fn below_u128(&mut self, n: u128) -> u128 {
        let hi = self.next_u64() as u128;
        let lo = self.next_u64() as u128;
        ((hi << 64) | lo) % n
    }
}

/// Largest HNSW level we ever assign. With M >= 2 the chance of reaching it is
/// below 2^-31 per node; capping keeps the per-node header a byte.
pub(crate) const MAX_LEVEL: u8 = 31;

/// HNSW level of record `id` for fan-out `m`, with P(level >= L) = m^-L
/// (the paper's m_L = 1/ln(M)). The hash is compared with the integer
/// thresholds 2^64 / m^L, so no floating point is involved.
pub(crate) fn hnsw_level(id: u32, m: usize) -> u8 {
    let h = splitmix64(id as u64 ^ LEVEL_SEED) as u128;
    let m = m.max(2) as u128;
    let mut threshold: u128 = 1u128 << 64;
    let mut level = 0u8;
    while level < MAX_LEVEL {
        threshold /= m;
        if h < threshold {
            level += 1;
        } else {
            break;
        }
    }
    level
}

/// `want` ids spread evenly over `ids` (which is sorted ascending), or all of
/// them when there are fewer. Deterministic and independent of insertion order.
pub(crate) fn even_sample(ids: &[u32], want: usize) -> Vec<u32> {
    if ids.len() <= want {
        return ids.to_vec();
    }
    let n = ids.len() as u64;
    (0..want as u64)
        .map(|i| ids[(i * n / want as u64) as usize])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_distribution_follows_one_over_m() {
        let n = 200_000u32;
        let mut at_least = [0u32; 4];
        for id in 0..n {
            let l = hnsw_level(id, 16) as usize;
            for (i, c) in at_least.iter_mut().enumerate() {
                if l >= i {
                    *c += 1;
                }
            }
        }
        assert_eq!(at_least[0], n);
        // expected 12500 and 781 nodes at levels >= 1 and >= 2
        assert!((11_800..13_200).contains(&at_least[1]), "{}", at_least[1]);
        assert!((650..920).contains(&at_least[2]), "{}", at_least[2]);
    }

    #[test]
    fn even_sample_is_sorted_and_bounded() {
        let ids: Vec<u32> = (0..1000).map(|i| i * 3).collect();
        let s = even_sample(&ids, 10);
        assert_eq!(s.len(), 10);
        assert_eq!(s[0], 0);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(even_sample(&ids[..5], 10), ids[..5].to_vec());
    }
}
