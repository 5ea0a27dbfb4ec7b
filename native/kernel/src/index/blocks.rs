//! Fixed-size blocks (an HNSW node's link list on one layer, a slot's
//! quantized code), stored in chunks shared copy-on-write: cloning an index
//! for a snapshot (`Store::frozen`, under the state lock) copies one
//! reference per chunk instead of every link or code, and a chunk is copied
//! only when a write touches it while a copy still shares it.

use std::sync::Arc;

/// Blocks per chunk (a power of two, so a block's chunk is a shift away).
const CHUNK_SHIFT: u32 = 10;
const CHUNK_BLOCKS: usize = 1 << CHUNK_SHIFT;

#[derive(Clone, Debug, Default)]
pub(super) struct Blocks<T = u32> {
    /// Values per block.
    stride: usize,
    /// Each `CHUNK_BLOCKS × stride` long.
    chunks: Vec<Arc<[T]>>,
    /// Blocks in use (the last chunk may have room for more).
    len: usize,
}

impl<T: Copy + Default + Send + Sync> Blocks<T> {
    pub(super) fn new(stride: usize) -> Blocks<T> {
        Blocks {
            stride,
            chunks: Vec::new(),
            len: 0,
        }
    }

    /// Blocks in use.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Values per block.
    pub(super) fn stride(&self) -> usize {
        self.stride
    }

    /// Grows to `n` blocks (new ones all zero); never shrinks.
    pub(super) fn grow_to(&mut self, n: usize) {
        while self.chunks.len() * CHUNK_BLOCKS < n {
            self.chunks
                .push(Arc::from(vec![T::default(); CHUNK_BLOCKS * self.stride]));
        }
        self.len = self.len.max(n);
    }

    /// Block `b`, or `None` past the end.
    #[inline]
    pub(super) fn get(&self, b: usize) -> Option<&[T]> {
        (b < self.len).then(|| self.block(b))
    }

    #[inline]
    pub(super) fn block(&self, b: usize) -> &[T] {
        debug_assert!(b < self.len);
        let at = (b & (CHUNK_BLOCKS - 1)) * self.stride;
        &self.chunks[b >> CHUNK_SHIFT][at..at + self.stride]
    }

    /// A block to write: its chunk is copied first if a frozen copy shares it.
    pub(super) fn block_mut(&mut self, b: usize) -> &mut [T] {
        debug_assert!(b < self.len);
        let at = (b & (CHUNK_BLOCKS - 1)) * self.stride;
        let chunk = Arc::make_mut(&mut self.chunks[b >> CHUNK_SHIFT]);
        &mut chunk[at..at + self.stride]
    }

    /// Every block in order, as one run of values (what the byte formats
    /// store), in pieces.
    pub(super) fn runs(&self) -> impl Iterator<Item = &[T]> {
        let total = self.len * self.stride;
        let per = CHUNK_BLOCKS * self.stride;
        self.chunks
            .iter()
            .enumerate()
            .map(move |(i, c)| &c[..per.min(total - i * per)])
            .filter(|r| !r.is_empty())
    }

    /// Blocks of `stride` values read from one run (`runs` concatenated).
    pub(super) fn from_run(stride: usize, run: &[T]) -> Blocks<T> {
        let mut b = Blocks::new(stride);
        if stride == 0 {
            return b;
        }
        b.grow_to(run.len() / stride);
        for (c, part) in b.chunks.iter_mut().zip(run.chunks(CHUNK_BLOCKS * stride)) {
            Arc::make_mut(c)[..part.len()].copy_from_slice(part);
        }
        b
    }

    /// Calls `f(block, values)` for every block, chunks in parallel on the
    /// index pool (each call writes only its own block).
    pub(super) fn par_fill(&mut self, f: impl Fn(usize, &mut [T]) + Sync) {
        use rayon::prelude::*;
        let (stride, len) = (self.stride, self.len);
        if stride == 0 {
            return;
        }
        self.chunks.par_iter_mut().enumerate().for_each(|(ci, c)| {
            let chunk = Arc::make_mut(c);
            for (i, block) in chunk.chunks_mut(stride).enumerate() {
                let b = ci * CHUNK_BLOCKS + i;
                if b < len {
                    f(b, block);
                }
            }
        });
    }

    /// Values in use (blocks × stride).
    pub(super) fn values(&self) -> usize {
        self.len * self.stride
    }

    /// Bytes of the blocks in use (what the store's usage totals count; a
    /// chunk's unused tail is not counted, as a vector's spare capacity was
    /// not).
    pub(super) fn memory_bytes(&self) -> u64 {
        (self.values() * std::mem::size_of::<T>()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_a_clone_is_written_then_the_original_keeps_its_blocks() {
        let mut a = Blocks::new(3);
        a.grow_to(2 * CHUNK_BLOCKS + 5);
        for b in 0..a.len() {
            a.block_mut(b).copy_from_slice(&[b as u32, 1, 2]);
        }
        let frozen = a.clone();
        a.block_mut(7)[0] = 99;
        a.block_mut(CHUNK_BLOCKS + 1)[2] = 98;
        a.grow_to(4 * CHUNK_BLOCKS);
        assert_eq!(frozen.block(7), &[7, 1, 2]);
        assert_eq!(
            frozen.block(CHUNK_BLOCKS + 1),
            &[CHUNK_BLOCKS as u32 + 1, 1, 2]
        );
        assert_eq!(frozen.len(), 2 * CHUNK_BLOCKS + 5);
        assert_eq!(a.block(7), &[99, 1, 2]);
        assert_eq!(a.block(CHUNK_BLOCKS + 1), &[CHUNK_BLOCKS as u32 + 1, 1, 98]);
        assert_eq!(a.block(4 * CHUNK_BLOCKS - 1), &[0, 0, 0]);
        // Written chunks were copied; the one nobody wrote is still shared.
        assert!(!Arc::ptr_eq(&a.chunks[0], &frozen.chunks[0]));
        assert!(!Arc::ptr_eq(&a.chunks[1], &frozen.chunks[1]));
        assert!(Arc::ptr_eq(&a.chunks[2], &frozen.chunks[2]));
    }

    #[test]
    fn when_blocks_are_written_as_one_run_then_reading_the_run_gives_them_back() {
        for n in [0, 1, CHUNK_BLOCKS, CHUNK_BLOCKS + 3] {
            let run: Vec<u8> = (0..n * 5).map(|i| (i % 251) as u8).collect();
            let b = Blocks::from_run(5, &run);
            assert_eq!(b.len(), n);
            assert_eq!(b.values(), run.len());
            assert_eq!(b.runs().collect::<Vec<_>>().concat(), run);
            assert_eq!(b.get(n), None);
            if n > 0 {
                assert_eq!(b.get(n - 1), Some(&run[(n - 1) * 5..]));
            }
        }
    }
}
