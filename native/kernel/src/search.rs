//! Exact k-NN by squared L2 over live records, in (distance, id) order.

use std::collections::BinaryHeap;

use crate::distance;
use crate::state::{State, HOLE, LIVE};

/// Keeps the k smallest (distance, id) pairs. Ties break by id because the
/// tuple order is (distance, id).
pub struct TopK {
    k: usize,
    heap: BinaryHeap<(i64, u32)>,
}

impl TopK {
    pub fn new(k: usize) -> TopK {
        TopK { k, heap: BinaryHeap::with_capacity(k.min(4096) + 1) }
    }
    #[inline]
    pub fn worst(&self) -> Option<(i64, u32)> {
        if self.heap.len() < self.k {
            None
        } else {
            self.heap.peek().copied()
        }
    }
    #[inline]
    pub fn push(&mut self, d: i64, id: u32) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push((d, id));
        } else if let Some(&top) = self.heap.peek() {
            if (d, id) < top {
                self.heap.pop();
                self.heap.push((d, id));
            }
        }
    }
    pub fn into_sorted(self) -> Vec<(i64, u32)> {
        self.heap.into_sorted_vec()
    }
}

/// Exact scan of every live record (optionally only those with `filter_tag`),
/// chunk by chunk: within a chunk the vectors of non-hole slots are contiguous
/// and in id order.
pub fn exact(state: &State, query: &[i32], k: usize, filter_tag: Option<u64>) -> Vec<(i64, u32)> {
    let dim = state.dim();
    let l2 = distance::l2_sq_fn();
    let mut top = TopK::new(k);
    for c in state.record_chunks() {
        let keep = |st: u8, tag: u64| st == LIVE && filter_tag.is_none_or(|t| t == tag);
        if c.tags.len() == c.status.len() {
            // No holes in this chunk (the common case): one straight zip.
            let rows = c.status.iter().zip(c.tags).zip(c.vectors.chunks_exact(dim));
            for (off, ((&st, &tag), v)) in rows.enumerate() {
                if keep(st, tag) {
                    top.push(l2(query, v), c.base + off as u32);
                }
            }
            continue;
        }
        let mut rows = c.tags.iter().zip(c.vectors.chunks_exact(dim));
        for (off, &st) in c.status.iter().enumerate() {
            if st == HOLE {
                continue;
            }
            let Some((&tag, v)) = rows.next() else { break };
            if keep(st, tag) {
                top.push(l2(query, v), c.base + off as u32);
            }
        }
    }
    top.into_sorted()
}
