//! Fixed-size blocks of `u32` (an HNSW node's link list on one layer),
//! stored in chunks shared copy-on-write: cloning the graph for a snapshot
//! (`Store::frozen`, under the state lock) copies one reference per chunk
//! instead of every link, and a chunk is copied only when a write touches it
//! while a copy still shares it.

use std::sync::Arc;

/// Blocks per chunk (a power of two, so a block's chunk is a shift away).
const CHUNK_SHIFT: u32 = 10;
const CHUNK_BLOCKS: usize = 1 << CHUNK_SHIFT;

#[derive(Clone, Debug, Default)]
pub(super) struct Blocks {
    /// `u32`s per block.
    stride: usize,
    /// Each `CHUNK_BLOCKS × stride` long.
    chunks: Vec<Arc<Vec<u32>>>,
    /// Blocks in use (the last chunk may have room for more).
    len: usize,
}

impl Blocks {
    pub(super) fn new(stride: usize) -> Blocks {
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

    /// Grows to `n` blocks (new ones all zero); never shrinks.
    pub(super) fn grow_to(&mut self, n: usize) {
        while self.chunks.len() * CHUNK_BLOCKS < n {
            self.chunks
                .push(Arc::new(vec![0; CHUNK_BLOCKS * self.stride]));
        }
        self.len = self.len.max(n);
    }

    #[inline]
    pub(super) fn block(&self, b: usize) -> &[u32] {
        debug_assert!(b < self.len);
        let at = (b & (CHUNK_BLOCKS - 1)) * self.stride;
        &self.chunks[b >> CHUNK_SHIFT][at..at + self.stride]
    }

    /// A block to write: its chunk is copied first if a frozen copy shares it.
    pub(super) fn block_mut(&mut self, b: usize) -> &mut [u32] {
        debug_assert!(b < self.len);
        let at = (b & (CHUNK_BLOCKS - 1)) * self.stride;
        let chunk = Arc::make_mut(&mut self.chunks[b >> CHUNK_SHIFT]);
        &mut chunk[at..at + self.stride]
    }

    /// Bytes held (whole chunks, shared or not).
    pub(super) fn memory_bytes(&self) -> u64 {
        (self.chunks.len() * CHUNK_BLOCKS * self.stride * 4) as u64
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
        assert_eq!(frozen.block(CHUNK_BLOCKS + 1), &[CHUNK_BLOCKS as u32 + 1, 1, 2]);
        assert_eq!(frozen.len(), 2 * CHUNK_BLOCKS + 5);
        assert_eq!(a.block(7), &[99, 1, 2]);
        assert_eq!(a.block(CHUNK_BLOCKS + 1), &[CHUNK_BLOCKS as u32 + 1, 1, 98]);
        assert_eq!(a.block(4 * CHUNK_BLOCKS - 1), &[0, 0, 0]);
        // Written chunks were copied; the one nobody wrote is still shared.
        assert!(!Arc::ptr_eq(&a.chunks[0], &frozen.chunks[0]));
        assert!(!Arc::ptr_eq(&a.chunks[1], &frozen.chunks[1]));
        assert!(Arc::ptr_eq(&a.chunks[2], &frozen.chunks[2]));
    }
}
