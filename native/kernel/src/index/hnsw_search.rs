//! Best-first layer search shared by HNSW construction and queries.
//!
//! Deleted nodes stay in the graph as *bridges*: they are expanded (their
//! neighbours are explored) but never enter the result set. A bridge has no
//! vector, so it is queued with the distance of the node it was reached from;
//! this keeps every live node reachable through deleted ones, including a
//! deleted entry point, without ever returning a deleted id.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::blocks::Blocks;
use super::hnsw::Hnsw;
use super::quant::{Prepared, Quantizer};
use super::topk::RESERVE_MAX;
use super::{simd, Bitset, Distance, VectorSource};

/// What a look at one node found.
pub(crate) enum Probe {
    /// No vector: the node is deleted (a bridge).
    Deleted,
    /// Farther than the bound given; its exact distance was not finished.
    Far,
    Near(i64),
}

/// Distance of the query to graph nodes.
pub(crate) trait Metric {
    /// The distance to `id` if it is at most `bound`.
    fn probe(&self, id: u32, bound: i64) -> Probe;
    fn prefetch(&self, id: u32);
}

/// Exact Q16.16 key (under `distance`) through the kernel's vectors.
pub(crate) struct Exact<'a> {
    pub src: &'a dyn VectorSource,
    pub q: &'a [i32],
    pub distance: Distance,
}

impl Metric for Exact<'_> {
    #[inline]
    fn probe(&self, id: u32, bound: i64) -> Probe {
        match self.src.vector(id) {
            None => Probe::Deleted,
            Some(v) => match self.distance.key_within(self.q, v, bound) {
                Some(d) => Probe::Near(d),
                None => Probe::Far,
            },
        }
    }
    #[inline]
    fn prefetch(&self, id: u32) {
        if let Some(v) = self.src.vector(id) {
            simd::prefetch(v);
        }
    }
}

/// Approximate distance over slot-major codes (SQ8/PQ); liveness from the
/// index's own bitset because codes of deleted slots are kept.
pub(crate) struct Coded<'a> {
    pub quant: &'a Quantizer,
    pub prep: &'a Prepared,
    pub codes: &'a Blocks<u8>,
    pub live: &'a Bitset,
}

impl Coded<'_> {
    #[inline]
    fn code(&self, id: u32) -> Option<&[u8]> {
        if !self.live.get(id) {
            return None;
        }
        self.codes.get(id as usize)
    }
}

impl Metric for Coded<'_> {
    #[inline]
    fn probe(&self, id: u32, _bound: i64) -> Probe {
        match self.code(id) {
            None => Probe::Deleted,
            Some(c) => Probe::Near(self.quant.dist(self.prep, c)),
        }
    }
    #[inline]
    fn prefetch(&self, id: u32) {
        if let Some(c) = self.code(id) {
            simd::prefetch(c);
        }
    }
}

/// A search start point; `live == false` marks a bridge (distance borrowed).
#[derive(Clone, Copy)]
pub(crate) struct Cand {
    pub d: i64,
    pub id: u32,
    pub live: bool,
}

/// Epoch-stamped visited marks, one array per thread, reused across searches.
pub(crate) struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// True the first time `id` is seen in this epoch.
    #[inline]
    fn insert(&mut self, id: u32) -> bool {
        match self.marks.get_mut(id as usize) {
            Some(m) if *m != self.epoch => {
                *m = self.epoch;
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn seen(&self, id: u32) -> bool {
        self.marks.get(id as usize).is_none_or(|m| *m == self.epoch)
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = const { RefCell::new(Visited { marks: Vec::new(), epoch: 0 }) };
}

/// Runs `f` with this thread's visited marks.
pub(crate) fn with_visited<R>(f: impl FnOnce(&mut Visited) -> R) -> R {
    VISITED.with(|v| f(&mut v.borrow_mut()))
}

/// Best-first search of one layer from `eps`; returns up to `ef` live nodes
/// that pass `filter`, ascending by (dist, id).
pub(crate) fn search_layer<M: Metric>(
    g: &Hnsw,
    metric: &M,
    eps: &[Cand],
    ef: usize,
    layer: u8,
    filter: Option<&dyn Fn(u32) -> bool>,
    vis: &mut Visited,
) -> Vec<(i64, u32)> {
    let ok = |id: u32| filter.is_none_or(|f| f(id));
    vis.reset(g.slots());
    // `ef` comes from a request: reserve a bounded amount and let the heaps
    // grow with the nodes actually visited (at most the graph's size).
    let mut cands: BinaryHeap<Reverse<(i64, u32)>> =
        BinaryHeap::with_capacity(ef.saturating_mul(4).min(RESERVE_MAX));
    let mut w: BinaryHeap<(i64, u32)> = BinaryHeap::with_capacity(ef.min(RESERVE_MAX) + 1);
    for e in eps {
        if !vis.insert(e.id) {
            continue;
        }
        cands.push(Reverse((e.d, e.id)));
        if e.live && ok(e.id) {
            w.push((e.d, e.id));
            if w.len() > ef {
                w.pop();
            }
        }
    }
    while let Some(Reverse((d, c))) = cands.pop() {
        if w.len() >= ef && w.peek().is_some_and(|top| d > top.0) {
            break;
        }
        let links = g.links(c, layer);
        for &n in links {
            if !vis.seen(n) {
                metric.prefetch(n);
            }
        }
        for &n in links {
            if !vis.insert(n) {
                continue;
            }
            let full = w.len() >= ef;
            let bound = if full {
                w.peek().map_or(i64::MAX, |top| top.0)
            } else {
                i64::MAX
            };
            match metric.probe(n, bound) {
                Probe::Near(dn) => {
                    if !full || w.peek().is_some_and(|top| (dn, n) < *top) {
                        cands.push(Reverse((dn, n)));
                        if ok(n) {
                            w.push((dn, n));
                            if w.len() > ef {
                                w.pop();
                            }
                        }
                    }
                }
                Probe::Far => {}
                Probe::Deleted => cands.push(Reverse((d, n))),
            }
        }
    }
    w.into_sorted_vec()
}
