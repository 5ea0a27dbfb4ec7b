//! HNSW graph: structure, insertion, deletion and its byte format.
//!
//! Differences from the original Valori HNSW, on purpose:
//! * A node that raises the top level is linked into every existing layer
//!   *before* it becomes the entry point, so all older nodes stay reachable.
//! * Deleting the entry point moves it to the live node with the highest
//!   level (ties: lowest id); deleted nodes remain as bridges (see
//!   `hnsw_search`), so the graph stays navigable.
//! * Neighbours are chosen with the paper's diversity heuristic, not plain
//!   closest-first.
//!
//! Levels come from [`rng::hnsw_level`] (a hash of the id); every comparison
//! is an exact integer key under the index's [`Distance`] with ties by id, so
//! the same inserts build the same graph on every machine. A Dot graph is
//! built, pruned and walked with −(a·b) throughout (the insert-time searches,
//! the neighbour heuristic and re-selection alike), as the queries use it.

use super::blocks::Blocks;
use super::codec::{Reader, Writer};
use super::hnsw_search::{search_layer, Cand, Exact, Metric, Probe, Visited};
use super::rng::{hnsw_level, MAX_LEVEL};
use super::{Bitset, Distance, IndexError, VectorSource};

pub(super) const NO_LEVEL: u8 = u8::MAX;
pub(super) const NO_NODE: u32 = u32::MAX;

#[derive(Clone)]
pub(crate) struct Hnsw {
    pub(super) m: usize,
    m0: usize,
    pub(super) ef_c: usize,
    /// Per slot; `NO_LEVEL` when the slot is not in the graph.
    pub(super) level: Vec<u8>,
    /// Layer-0 lists, one block of `m0 + 1` per slot: `[count, ids…]`.
    links0: Blocks,
    /// Per slot: its layer-1 block in `upper` (layers 2.. follow), or
    /// `NO_NODE`.
    upper_off: Vec<u32>,
    /// Upper layers 1..=level of each node, one block of `m + 1` per layer.
    upper: Blocks,
    pub(super) entry: u32,
    pub(super) max_level: u8,
    /// Nodes in the graph (deleted ones included); not stored, recounted on
    /// read. Sizes the sub-batches of a batch insert (`hnsw_batch`).
    pub(super) nodes: usize,
}

impl Hnsw {
    pub(crate) fn new(m: usize, ef_c: usize) -> Hnsw {
        let m = m.clamp(2, super::MAX_HNSW_M);
        Hnsw {
            m,
            m0: 2 * m,
            ef_c: ef_c.max(1),
            level: Vec::new(),
            links0: Blocks::new(2 * m + 1),
            upper_off: Vec::new(),
            upper: Blocks::new(m + 1),
            entry: NO_NODE,
            max_level: 0,
            nodes: 0,
        }
    }

    pub(crate) fn slots(&self) -> usize {
        self.level.len()
    }

    pub(super) fn cap(&self, layer: u8) -> usize {
        if layer == 0 {
            self.m0
        } else {
            self.m
        }
    }

    pub(super) fn ensure(&mut self, n: usize) {
        if self.level.len() < n {
            self.level.resize(n, NO_LEVEL);
            self.links0.grow_to(n);
            self.upper_off.resize(n, NO_NODE);
        }
    }

    fn block(&self, id: u32, layer: u8) -> Option<usize> {
        let lv = *self.level.get(id as usize)?;
        if lv == NO_LEVEL || layer > lv {
            return None;
        }
        Some(if layer == 0 {
            id as usize
        } else {
            self.upper_off[id as usize] as usize + (layer as usize - 1)
        })
    }

    /// Neighbours of `id` at `layer` (empty if the node is not on that layer).
    #[inline]
    pub(crate) fn links(&self, id: u32, layer: u8) -> &[u32] {
        match self.block(id, layer) {
            Some(b) => {
                let block = if layer == 0 {
                    self.links0.block(b)
                } else {
                    self.upper.block(b)
                };
                &block[1..1 + block[0] as usize]
            }
            None => &[],
        }
    }

    pub(super) fn set_links(&mut self, id: u32, layer: u8, ids: &[u32]) {
        let b = self.block(id, layer).expect("node on layer");
        let block = if layer == 0 {
            self.links0.block_mut(b)
        } else {
            self.upper.block_mut(b)
        };
        block[0] = ids.len() as u32;
        block[1..1 + ids.len()].copy_from_slice(ids);
    }

    /// The entry point as a search start; a deleted one becomes a bridge.
    pub(super) fn start<M: Metric>(&self, metric: &M) -> Cand {
        match metric.probe(self.entry, i64::MAX) {
            Probe::Near(d) => Cand {
                d,
                id: self.entry,
                live: true,
            },
            _ => Cand {
                d: i64::MIN,
                id: self.entry,
                live: false,
            },
        }
    }

    pub(super) fn as_cands(w: &[(i64, u32)]) -> Vec<Cand> {
        w.iter()
            .map(|&(d, id)| Cand { d, id, live: true })
            .collect()
    }

    /// The distance the graph is built with: L2 for both. A dot-product
    /// collection is searched by −(a·b), but its graph links spatial
    /// neighbours: on Fashion-MNIST (raw pixels, 20k, ef 160, half the records
    /// filtered out) a graph built and pruned by −(a·b) reached recall 0.60,
    /// one built by L2 0.99 (docs/BENCHMARKS.md, "Filtered search"): the
    /// neighbour-selection heuristic assumes a metric, which −(a·b) is not.
    pub(super) fn build_distance(&self) -> Distance {
        // One place to change should a distance ever need its own graph.
        Distance::L2
    }

    pub(crate) fn insert(&mut self, id: u32, src: &dyn VectorSource, vis: &mut Visited) {
        let Some(v) = src.vector(id) else { return };
        self.ensure(id as usize + 1);
        if self.level[id as usize] != NO_LEVEL {
            return;
        }
        let lvl = self.place(id);
        if self.entry == NO_NODE {
            self.entry = id;
            self.max_level = lvl;
            return;
        }
        let metric = Exact {
            src,
            q: v,
            distance: self.build_distance(),
        };
        let mut eps = vec![self.start(&metric)];
        for layer in (lvl.saturating_add(1)..=self.max_level).rev() {
            let w = search_layer(self, &metric, &eps, 1, layer, None, vis);
            if !w.is_empty() {
                eps = Self::as_cands(&w);
            }
        }
        // Link on every layer the node shares with the graph, top-down, even
        // when it is about to become the new entry point.
        for layer in (0..=lvl.min(self.max_level)).rev() {
            let w = search_layer(self, &metric, &eps, self.ef_c, layer, None, vis);
            let chosen = select(&w, self.cap(layer), src, self.build_distance());
            let ids: Vec<u32> = chosen.iter().map(|c| c.1).collect();
            self.set_links(id, layer, &ids);
            for &(d, n) in &chosen {
                self.add_link(n, id, d, layer, src);
            }
            if !w.is_empty() {
                eps = Self::as_cands(&w);
            }
        }
        if lvl > self.max_level {
            self.entry = id;
            self.max_level = lvl;
        }
    }

    /// Gives `id` its level and (empty) link blocks; it is in the graph from
    /// here on but unreachable until someone links to it.
    pub(super) fn place(&mut self, id: u32) -> u8 {
        let lvl = hnsw_level(id, self.m);
        self.level[id as usize] = lvl;
        if lvl > 0 {
            self.upper_off[id as usize] = self.upper.len() as u32;
            self.upper.grow_to(self.upper.len() + lvl as usize);
        }
        self.nodes += 1;
        lvl
    }

    /// Adds `new` (at distance `d`) to `n`'s list, re-selecting when full.
    /// Deleted neighbours are dropped at that point.
    fn add_link(&mut self, n: u32, new: u32, d: i64, layer: u8, src: &dyn VectorSource) {
        if let Some(ids) = self.relinked(n, self.links(n, layer), new, d, layer, src) {
            self.set_links(n, layer, &ids);
        }
    }

    /// `n`'s list at `layer` once `new` (at distance `d`) is added to `cur`
    /// (its current list); `None` leaves it as it is (`n` is deleted).
    pub(super) fn relinked(
        &self,
        n: u32,
        cur: &[u32],
        new: u32,
        d: i64,
        layer: u8,
        src: &dyn VectorSource,
    ) -> Option<Vec<u32>> {
        if cur.len() < self.cap(layer) {
            let mut ids = cur.to_vec();
            ids.push(new);
            return Some(ids);
        }
        let vn = src.vector(n)?;
        let mut c: Vec<(i64, u32)> = cur
            .iter()
            .filter_map(|&x| {
                src.vector(x)
                    .map(|vx| (self.build_distance().key(vn, vx), x))
            })
            .collect();
        c.push((d, new));
        c.sort_unstable();
        Some(
            select(&c, self.cap(layer), src, self.build_distance())
                .iter()
                .map(|c| c.1)
                .collect(),
        )
    }

    /// `id` was deleted: if it was the entry point, move the entry to the live
    /// node with the highest level (lowest id on ties).
    pub(crate) fn on_delete(&mut self, id: u32, live: &Bitset) {
        if id != self.entry {
            return;
        }
        let mut best: Option<(u8, u32)> = None;
        for (i, &lv) in self.level.iter().enumerate() {
            let i = i as u32;
            if lv != NO_LEVEL && i != id && live.get(i) && best.is_none_or(|b| lv > b.0) {
                best = Some((lv, i));
            }
        }
        match best {
            Some((lv, i)) => {
                self.entry = i;
                self.max_level = lv;
            }
            None => {
                self.entry = NO_NODE;
                self.max_level = 0;
            }
        }
    }

    /// Up to `ef.max(k)` nearest live nodes passing `filter`, by (dist, id).
    pub(crate) fn search<M: Metric>(
        &self,
        metric: &M,
        ef: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
        vis: &mut Visited,
    ) -> Vec<(i64, u32)> {
        if self.entry == NO_NODE {
            return Vec::new();
        }
        let mut eps = vec![self.start(metric)];
        for layer in (1..=self.max_level).rev() {
            let w = search_layer(self, metric, &eps, 1, layer, None, vis);
            if !w.is_empty() {
                eps = Self::as_cands(&w);
            }
        }
        search_layer(self, metric, &eps, ef.max(1), 0, filter, vis)
    }

    /// The entry point, `u32::MAX` when the graph is empty.
    #[cfg(test)]
    pub(crate) fn entry(&self) -> u32 {
        self.entry
    }

    /// Nodes reachable from the entry point over `layer`'s links (deleted
    /// nodes included: search traverses them).
    #[cfg(test)]
    pub(crate) fn reachable_from_entry(&self, layer: u8) -> usize {
        if self.entry == NO_NODE {
            return 0;
        }
        let mut seen = vec![false; self.slots()];
        let mut stack = vec![self.entry];
        seen[self.entry as usize] = true;
        let mut n = 0;
        while let Some(x) = stack.pop() {
            n += 1;
            for &y in self.links(x, layer) {
                if !seen[y as usize] {
                    seen[y as usize] = true;
                    stack.push(y);
                }
            }
        }
        n
    }

    pub(crate) fn memory_bytes(&self) -> u64 {
        (self.level.len() + 4 * self.upper_off.len()) as u64
            + self.links0.memory_bytes()
            + self.upper.memory_bytes()
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u32(self.slots() as u32);
        w.u32(self.entry);
        w.u8(self.max_level);
        w.bytes(&self.level);
        for id in 0..self.slots() as u32 {
            let lv = self.level[id as usize];
            if lv == NO_LEVEL {
                continue;
            }
            for layer in 0..=lv {
                let l = self.links(id, layer);
                w.u16(l.len() as u16);
                w.u32s(l);
            }
        }
    }

    /// Reads a graph written by [`Hnsw::write`], checking every invariant the
    /// search relies on (list sizes, neighbour ids and levels, entry point).
    pub(crate) fn read(
        r: &mut Reader,
        m: usize,
        ef_c: usize,
        max_slots: usize,
    ) -> Result<Hnsw, IndexError> {
        let bad = IndexError::Corrupt;
        let mut g = Hnsw::new(m, ef_c);
        let slots = r.len(1, "hnsw slots")?;
        // Each slot costs (2M+1)·4 bytes of links: bound it before `ensure`.
        if slots > max_slots {
            return Err(bad("hnsw slots"));
        }
        let entry = r.u32("hnsw entry")?;
        let max_level = r.u8("hnsw max level")?;
        let levels = r.take(slots, "hnsw levels")?;
        g.ensure(slots);
        for (id, &lv) in levels.iter().enumerate() {
            if lv != NO_LEVEL && lv > MAX_LEVEL {
                return Err(bad("hnsw level"));
            }
            g.level[id] = lv;
            g.nodes += (lv != NO_LEVEL) as usize;
            if lv != NO_LEVEL && lv > 0 {
                g.upper_off[id] = g.upper.len() as u32;
                g.upper.grow_to(g.upper.len() + lv as usize);
            }
        }
        for id in 0..slots as u32 {
            let lv = g.level[id as usize];
            if lv == NO_LEVEL {
                continue;
            }
            for layer in 0..=lv {
                let n = r.u16("hnsw list length")? as usize;
                if n > g.cap(layer) {
                    return Err(bad("hnsw list length"));
                }
                let ids = r.u32s(n, "hnsw list")?;
                for &x in &ids {
                    let xl = *g.level.get(x as usize).unwrap_or(&NO_LEVEL);
                    if xl == NO_LEVEL || xl < layer {
                        return Err(bad("hnsw neighbour"));
                    }
                }
                g.set_links(id, layer, &ids);
            }
        }
        let entry_ok = if entry == NO_NODE {
            max_level == 0
        } else {
            g.level.get(entry as usize) == Some(&max_level)
        };
        if !entry_ok {
            return Err(bad("hnsw entry point"));
        }
        g.entry = entry;
        g.max_level = max_level;
        Ok(g)
    }
}

/// The paper's neighbour heuristic over candidates sorted by (key, id): keep
/// a candidate unless it is strictly closer (smaller key) to an already kept
/// one than to the base, up to `max`. Spreads links across directions, which
/// keeps clustered data navigable.
pub(super) fn select(
    cands: &[(i64, u32)],
    max: usize,
    src: &dyn VectorSource,
    distance: Distance,
) -> Vec<(i64, u32)> {
    let mut kept: Vec<(i64, u32, &[i32])> = Vec::with_capacity(max);
    for &(d, e) in cands {
        if kept.len() >= max {
            break;
        }
        let Some(ve) = src.vector(e) else { continue };
        // Kept when no kept neighbour is closer than d; for L2 the bounded
        // key stops as soon as a partial sum shows "not closer".
        if kept
            .iter()
            .all(|(_, _, vr)| distance.key_within(ve, vr, d - 1).is_none())
        {
            kept.push((d, e, ve));
        }
    }
    kept.into_iter().map(|(d, e, _)| (d, e)).collect()
}
