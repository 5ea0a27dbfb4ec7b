//! Keeping the [`Index`] in step with inserts: one record, or a batch whose
//! graph is built on the build pool (`hnsw_batch.rs`), with the training
//! schedule of one-at-a-time inserts either way.

use rayon::prelude::*;

use super::hnsw_search::with_visited;
use super::par;
use super::quant::Quantizer;
use super::state::Index;
use super::{IndexKind, VectorSource};

/// What admitting a record computes from the trained structures alone.
struct Placed {
    list: Option<usize>,
    code: Option<Vec<u8>>,
}

impl Index {
    /// Record `id` now exists in `src` (ids need not arrive in order).
    /// May train (IVF, quantizers) when the live count crosses a threshold.
    pub fn on_insert(&mut self, id: u32, src: &dyn VectorSource) {
        if self.admit(id, src) {
            if let Some(g) = &mut self.hnsw {
                with_visited(|vis| g.insert(id, src, vis));
            }
        }
        self.train_if_due(src);
    }

    /// The records `ids` now exist in `src`, inserted in this order as one
    /// batch: HNSW links them sub-batch by sub-batch on the build pool
    /// (`hnsw_batch.rs`); everything else (live set, codes, IVF lists and
    /// the training schedule) is exactly what `on_insert` for each id in
    /// turn gives. One id is `on_insert`.
    pub fn on_insert_batch(&mut self, ids: &[u32], src: &dyn VectorSource) {
        if let [id] = ids {
            return self.on_insert(*id, src);
        }
        let mut fresh = Vec::with_capacity(ids.len());
        // Codes and IVF lists of the ids still ahead, computed in parallel
        // from the trained structures; a training on the way recomputes them.
        let mut ahead: Option<(usize, Vec<Option<Placed>>)> = None;
        for (k, &id) in ids.iter().enumerate() {
            if ahead.is_none() {
                ahead = Some((k, self.place_all(&ids[k..], src)));
            }
            let placed = ahead.as_ref().and_then(|(s, p)| p.get(k - s)?.as_ref());
            if self.admit_placed(id, src, placed) {
                fresh.push(id);
            }
            let trained = self.trained_at;
            self.train_if_due(src);
            if self.trained_at != trained {
                ahead = None;
            }
        }
        if let Some(g) = &mut self.hnsw {
            par::run(|| g.insert_batch(&fresh, src));
        }
    }

    /// Trains when the live count reached the threshold, then each time it
    /// doubles.
    fn train_if_due(&mut self, src: &dyn VectorSource) {
        let live = self.live_count as usize;
        if self.needs_training()
            && live >= self.train_threshold()
            && (self.trained_at == 0 || live >= 2 * self.trained_at as usize)
        {
            self.train(src);
        }
    }

    /// Takes `id` into the live set, its code and its IVF list; true when it
    /// is new (then the caller links it into the graph, which training never
    /// reads, so the graph may follow later).
    pub(super) fn admit(&mut self, id: u32, src: &dyn VectorSource) -> bool {
        self.admit_placed(id, src, None)
    }

    /// The code and IVF list of each of `ids` under the current quantizer
    /// and centroids (what `admit` would compute), in parallel; empty when
    /// neither exists yet.
    fn place_all(&self, ids: &[u32], src: &dyn VectorSource) -> Vec<Option<Placed>> {
        let ivf = self.ivf.as_ref().filter(|i| i.trained());
        if self.quant.is_none() && ivf.is_none() {
            return Vec::new();
        }
        let (dim, quant) = (self.dim, self.quant.as_ref());
        par::run(|| {
            ids.par_iter()
                .map(|&id| {
                    let v = src.vector(id).filter(|v| v.len() == dim)?;
                    Some(Placed {
                        list: ivf.and_then(|i| i.list_of(v, dim)),
                        code: quant.map(|q| q.encoded(v)),
                    })
                })
                .collect()
        })
    }

    /// `admit`, with the code and list computed ahead when `placed` is given.
    fn admit_placed(&mut self, id: u32, src: &dyn VectorSource, placed: Option<&Placed>) -> bool {
        let Some(v) = src.vector(id) else {
            return false;
        };
        if v.len() != self.dim || self.live.get(id) || id == u32::MAX {
            return false;
        }
        self.live.set(id);
        self.live_count += 1;
        self.slots = self.slots.max(id + 1);
        let code = |q: &Quantizer| match placed.and_then(|p| p.code.clone()) {
            Some(c) => c,
            None => q.encoded(v),
        };
        if let (Some(q), true) = (&self.quant, self.cfg.kind != IndexKind::Ivf) {
            let len = q.code_len();
            debug_assert_eq!(self.codes.stride(), len);
            self.codes.grow_to(self.slots as usize);
            self.codes.block_mut(id as usize).copy_from_slice(&code(q));
        }
        if let Some(ivf) = &mut self.ivf {
            match placed.and_then(|p| p.list) {
                Some(c) => ivf.add_to(id, c, self.quant.as_ref().map(code).as_deref()),
                None => ivf.add(id, v, self.dim, self.quant.as_ref()),
            }
        }
        true
    }
}
