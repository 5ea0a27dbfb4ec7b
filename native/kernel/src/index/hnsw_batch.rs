//! Inserting many nodes at once on every core, with a result that depends
//! only on the ids, their vectors and the constants below.
//!
//! The ids are taken in the given order in *sub-batches*. For one sub-batch:
//! 1. (serial) every member gets its level and empty link blocks; nothing
//!    links to them yet, so the graph the searches see is the graph as it was
//!    at the sub-batch start (the *frozen* graph).
//! 2. (parallel, one task per member) the member's upper-layer descent and
//!    its ef_construction search on each of its layers, exactly as
//!    [`Hnsw::insert`] does them, against the frozen graph.
//! 3. (parallel, one task per member) its candidates on each layer are the
//!    search's result plus every *earlier* member of the sub-batch on that
//!    layer at its exact distance, sorted by (key, id) and cut to
//!    ef_construction; the neighbour heuristic picks its links. This reads
//!    only vectors, never links.
//! 4. (parallel, one task per link target) every node chosen as a neighbour
//!    gets the new back-links in member order, re-selecting when full, as
//!    `add_link` does; each task reads and writes only its target's list.
//!
//! The outcome is that of committing the members one by one in order (links
//! set, then back-links added) after searches on the frozen graph; the
//! tasks of steps 2 to 4 write only their own outputs, combined in member or
//! target order, so any thread count and any schedule give the same bytes.
//!
//! A sub-batch of one member is exactly [`Hnsw::insert`]. The sub-batch size
//! grows with the graph, `nodes / SUB_BATCH_DIVISOR` clamped to
//! `1..=SUB_BATCH_MAX`, so a member never misses more than 1/512 of the graph
//! while it searches, and a graph under 1,024 nodes is built exactly as
//! one-at-a-time inserts build it. A node that would raise the top layer
//! (it becomes the entry point) is inserted alone.

use rayon::prelude::*;

use super::hnsw::{select, Hnsw, NO_LEVEL, NO_NODE};
use super::hnsw_search::{search_layer, with_visited, Exact};
use super::rng::hnsw_level;
use super::VectorSource;

/// Graph nodes per sub-batch member (see the module doc).
const SUB_BATCH_DIVISOR: usize = 512;
/// Most members in one sub-batch.
const SUB_BATCH_MAX: usize = 256;

/// Members of the sub-batch that starts a graph of `nodes` nodes.
pub(super) fn sub_batch_len(nodes: usize) -> usize {
    (nodes / SUB_BATCH_DIVISOR).clamp(1, SUB_BATCH_MAX)
}

/// One member's links per layer (index = layer), as (key, id).
type Chosen = Vec<Vec<(i64, u32)>>;

impl Hnsw {
    /// Inserts `ids` in their order (see the module doc). Ids without a live
    /// vector or already in the graph are skipped, as [`Hnsw::insert`] does.
    pub(crate) fn insert_batch(&mut self, ids: &[u32], src: &dyn VectorSource) {
        let mut at = 0;
        while at < ids.len() {
            let want = sub_batch_len(self.nodes);
            let mut members: Vec<(u32, u8)> = Vec::with_capacity(want);
            while at < ids.len() && members.len() < want {
                let id = ids[at];
                let fresh = src.vector(id).is_some()
                    && self.level.get(id as usize).is_none_or(|l| *l == NO_LEVEL)
                    && !members.iter().any(|m| m.0 == id);
                if !fresh {
                    at += 1;
                    continue;
                }
                let lvl = hnsw_level(id, self.m);
                if self.entry == NO_NODE || lvl > self.max_level {
                    // It changes the entry point: alone, after the members
                    // gathered so far.
                    if members.is_empty() {
                        with_visited(|vis| self.insert(id, src, vis));
                        at += 1;
                    }
                    break;
                }
                members.push((id, lvl));
                at += 1;
            }
            if !members.is_empty() {
                self.insert_members(&members, src);
            }
        }
    }

    /// Steps 1 to 4 of the module doc for one sub-batch; every member's
    /// level is at most the top layer.
    fn insert_members(&mut self, members: &[(u32, u8)], src: &dyn VectorSource) {
        for &(id, _) in members {
            self.ensure(id as usize + 1);
            self.place(id);
        }
        let g: &Hnsw = self;
        let found: Vec<Chosen> = members
            .par_iter()
            .map(|&(id, lvl)| g.frozen_search(id, lvl, src))
            .collect();
        let chosen: Vec<Chosen> = (0..members.len())
            .into_par_iter()
            .map(|k| g.choose(members, k, &found[k], src))
            .collect();
        for (&(id, _), layers) in members.iter().zip(&chosen) {
            for (layer, c) in layers.iter().enumerate() {
                let ids: Vec<u32> = c.iter().map(|x| x.1).collect();
                self.set_links(id, layer as u8, &ids);
            }
        }
        // Back-links grouped by (target, layer), each group in member order
        // (the stable sort keeps the order they were pushed in).
        let mut back: Vec<(u32, u8, u32, i64)> = Vec::new();
        for (&(id, _), layers) in members.iter().zip(&chosen) {
            for (layer, c) in layers.iter().enumerate() {
                back.extend(c.iter().map(|&(d, n)| (n, layer as u8, id, d)));
            }
        }
        back.sort_by_key(|b| (b.0, b.1));
        let groups: Vec<&[(u32, u8, u32, i64)]> =
            back.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)).collect();
        let g: &Hnsw = self;
        let lists: Vec<Vec<u32>> = groups
            .par_iter()
            .map(|grp| {
                let (n, layer) = (grp[0].0, grp[0].1);
                let mut cur = g.links(n, layer).to_vec();
                for &(_, _, new, d) in grp.iter() {
                    if let Some(next) = g.relinked(n, &cur, new, d, layer, src) {
                        cur = next;
                    }
                }
                cur
            })
            .collect();
        for (grp, list) in groups.iter().zip(lists) {
            self.set_links(grp[0].0, grp[0].1, &list);
        }
    }

    /// The searches [`Hnsw::insert`] runs for `id` at level `lvl`, on the
    /// graph as it is: the result per layer `0..=lvl`.
    fn frozen_search(&self, id: u32, lvl: u8, src: &dyn VectorSource) -> Chosen {
        let mut out = vec![Vec::new(); lvl as usize + 1];
        let Some(q) = src.vector(id) else { return out };
        let metric = Exact {
            src,
            q,
            distance: self.build_distance(),
        };
        with_visited(|vis| {
            let mut eps = vec![self.start(&metric)];
            for layer in (lvl.saturating_add(1)..=self.max_level).rev() {
                let w = search_layer(self, &metric, &eps, 1, layer, None, vis);
                if !w.is_empty() {
                    eps = Hnsw::as_cands(&w);
                }
            }
            for layer in (0..=lvl.min(self.max_level)).rev() {
                let w = search_layer(self, &metric, &eps, self.ef_c, layer, None, vis);
                if !w.is_empty() {
                    eps = Hnsw::as_cands(&w);
                }
                out[layer as usize] = w;
            }
        });
        out
    }

    /// Member `k`'s links per layer: its search results plus the earlier
    /// members on that layer, through the neighbour heuristic.
    fn choose(
        &self,
        members: &[(u32, u8)],
        k: usize,
        found: &Chosen,
        src: &dyn VectorSource,
    ) -> Chosen {
        let (id, lvl) = members[k];
        let Some(v) = src.vector(id) else {
            return vec![Vec::new(); lvl as usize + 1];
        };
        let dist = self.build_distance();
        // On a layer whose search found ef_construction nodes, an earlier
        // member farther than the last of them is cut by the truncation
        // below (the key is then not needed); the bound lets L2 stop early.
        let bound = |layer: u8| match &found[layer as usize] {
            w if w.len() >= self.ef_c => w.last().map_or(i64::MAX, |x| x.0),
            _ => i64::MAX,
        };
        let bounds: Vec<i64> = (0..=lvl).map(bound).collect();
        // Exact keys to the earlier members that can matter, with levels.
        let earlier: Vec<(i64, u32, u8)> = members[..k]
            .iter()
            .filter_map(|&(j, lj)| {
                let b = *bounds[..=lj.min(lvl) as usize].iter().max()?;
                let d = dist.key_within(v, src.vector(j)?, b)?;
                Some((d, j, lj))
            })
            .collect();
        (0..=lvl)
            .map(|layer| {
                let mut c = found[layer as usize].clone();
                c.extend(
                    earlier
                        .iter()
                        .filter(|e| e.2 >= layer)
                        .map(|&(d, j, _)| (d, j)),
                );
                c.sort_unstable();
                c.truncate(self.ef_c);
                select(&c, self.cap(layer), src, dist)
            })
            .collect()
    }
}
