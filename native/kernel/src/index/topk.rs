//! Bounded best-k selection in (distance, id) order.

use std::collections::BinaryHeap;

/// Largest up-front reservation for a heap sized from a request value.
pub(crate) const RESERVE_MAX: usize = 4096;

/// Keeps the `k` smallest `(dist, id)` pairs seen. Ties in distance are broken
/// by the smaller id, so the result never depends on the order of pushes.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<(i64, u32)>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        // `k` may come from a request: reserve at most a small heap up front
        // and let it grow with what is actually pushed (bounded by the data).
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(RESERVE_MAX) + 1),
        }
    }

    /// Would `(d, id)` enter the set? Cheap pre-check before costly work
    /// (a filter call) on a candidate.
    #[inline]
    pub(crate) fn admits(&self, d: i64, id: u32) -> bool {
        if self.heap.len() < self.k {
            return self.k > 0;
        }
        match self.heap.peek() {
            Some(top) => (d, id) < *top,
            None => false,
        }
    }

    /// Largest distance that could still enter (`i64::MAX` until full).
    #[inline]
    pub(crate) fn bound(&self) -> i64 {
        match self.heap.peek() {
            Some(top) if self.heap.len() >= self.k => top.0,
            _ => i64::MAX,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, d: i64, id: u32) {
        if !self.admits(d, id) {
            return;
        }
        if self.heap.len() == self.k {
            self.heap.pop();
        }
        self.heap.push((d, id));
    }

    /// Entries held (at most k).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Ascending by (dist, id).
    pub(crate) fn into_sorted(self) -> Vec<(i64, u32)> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_k_smallest_with_ties_by_id_in_any_push_order() {
        let items = [(5, 9), (1, 4), (5, 2), (3, 3), (5, 1), (0, 7), (9, 0)];
        let mut a = TopK::new(4);
        let mut b = TopK::new(4);
        for it in items {
            a.push(it.0, it.1);
        }
        for it in items.iter().rev() {
            b.push(it.0, it.1);
        }
        let expect = vec![(0, 7), (1, 4), (3, 3), (5, 1)];
        assert_eq!(a.into_sorted(), expect);
        assert_eq!(b.into_sorted(), expect);
        let mut z = TopK::new(0);
        z.push(1, 1);
        assert!(z.into_sorted().is_empty());
    }
}
