//! The [`Index`] the kernel owns: dispatch over kinds, training schedule,
//! quantized codes and search.

use super::blocks::Blocks;
use super::flat::{code_scan, exact_scan, rerank};
use super::hnsw::Hnsw;
use super::hnsw_search::{with_visited, Coded, Exact};
use super::ivf::Ivf;
use super::par;
use super::quant::Quantizer;
use super::rng::even_sample;
use super::{Bitset, IndexConfig, IndexKind, IndexMemory, QuantKind, SearchParams, VectorSource};

const DEFAULT_TRAIN_MIN: usize = 1024;

/// Vectors sampled to train PQ codebooks (SQ8 ranges use every live vector).
const PQ_SAMPLE: usize = 2048;

/// Clone shares the graph links and codes copy-on-write and copies the live set: a
/// snapshot clones it under the state lock and encodes it after.
#[derive(Clone)]
pub struct Index {
    pub(super) cfg: IndexConfig,
    pub(super) dim: usize,
    pub(super) live: Bitset,
    pub(super) live_count: u32,
    /// One past the highest id inserted.
    pub(super) slots: u32,
    /// Live count at the last training; 0 = never trained.
    pub(super) trained_at: u32,
    pub(super) quant: Option<Quantizer>,
    /// Slot-major codes for Brute/HNSW (IVF keeps codes in its lists).
    pub(super) codes: Blocks<u8>,
    pub(super) hnsw: Option<Hnsw>,
    pub(super) ivf: Option<Ivf>,
}

impl Index {
    pub fn new(cfg: IndexConfig, dim: usize) -> Index {
        Index {
            cfg,
            dim,
            live: Bitset::default(),
            live_count: 0,
            slots: 0,
            trained_at: 0,
            quant: None,
            codes: Blocks::new(0),
            hnsw: (cfg.kind == IndexKind::Hnsw)
                .then(|| Hnsw::new(cfg.hnsw_m, cfg.hnsw_ef_construction)),
            ivf: (cfg.kind == IndexKind::Ivf).then(Ivf::default),
        }
    }

    pub fn config(&self) -> &IndexConfig {
        &self.cfg
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The live set as bitset words (bit i of word i/64 = record i).
    pub fn live_words(&self) -> &[u64] {
        self.live.words()
    }

    /// Live vectors known to the index.
    pub fn len(&self) -> u32 {
        self.live_count
    }

    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }

    /// True once IVF centroids and/or quantizer codebooks exist (always true
    /// for kinds that need no training). Before that, searches are exact.
    pub fn is_trained(&self) -> bool {
        !self.needs_training() || self.trained_at > 0
    }

    /// Current IVF list count (0 before training or for other kinds).
    pub fn nlist(&self) -> usize {
        self.ivf.as_ref().map_or(0, |i| i.nlist())
    }

    pub(super) fn needs_training(&self) -> bool {
        self.cfg.kind == IndexKind::Ivf || self.cfg.uses_codes()
    }

    pub(super) fn train_threshold(&self) -> usize {
        let min = if self.cfg.train_min == 0 {
            DEFAULT_TRAIN_MIN
        } else {
            self.cfg.train_min
        };
        if self.cfg.kind == IndexKind::Ivf {
            min.max(4 * self.cfg.ivf_nlist)
        } else {
            min
        }
    }

    /// True when the index holds exactly the live records of `src` below
    /// `upto`, and at or above it only records `src` has live (none stale;
    /// the caller searches the live ones it lacks there exactly).
    pub fn holds_live_set(&self, src: &dyn VectorSource, upto: u32) -> bool {
        let n = src.slot_count();
        if self.slots > n || self.live.ones().any(|id| id >= n) {
            return false;
        }
        let mut count = 0u32;
        for id in 0..n {
            let live = src.vector(id).is_some();
            let held = self.live.get(id);
            if (id < upto && live != held) || (held && !live) {
                return false;
            }
            count += held as u32;
        }
        count == self.live_count
    }

    /// Whether record `id` is in the index.
    pub fn holds(&self, id: u32) -> bool {
        self.live.get(id)
    }

    /// Record `id` was hard- or soft-deleted; it is never returned again.
    pub fn on_delete(&mut self, id: u32) {
        if !self.live.get(id) {
            return;
        }
        self.live.clear(id);
        self.live_count -= 1;
        if let Some(g) = &mut self.hnsw {
            g.on_delete(id, &self.live);
        }
        if let Some(ivf) = &mut self.ivf {
            let len = self.quant.as_ref().map_or(0, |q| q.code_len());
            ivf.remove(id, len);
        }
    }

    /// Discards everything and inserts every live vector of `src` as one
    /// batch in id order (see `on_insert_batch`; no training on the way),
    /// then trains once if enough vectors exist.
    pub fn rebuild(&mut self, src: &dyn VectorSource) {
        *self = Index::new(self.cfg, self.dim);
        let mut fresh = Vec::new();
        for id in 0..src.slot_count() {
            if self.admit(id, src) {
                fresh.push(id);
            }
        }
        if let Some(g) = &mut self.hnsw {
            par::run(|| g.insert_batch(&fresh, src));
        }
        if self.needs_training() && self.live_count as usize >= self.train_threshold() {
            self.train(src);
        }
    }

    /// (Re)trains IVF centroids and quantizer codebooks on the live vectors
    /// now, whatever their number (no-op when there is nothing to train).
    pub fn train(&mut self, src: &dyn VectorSource) {
        if !self.needs_training() || self.live_count == 0 {
            return;
        }
        par::run(|| self.train_now(src));
    }

    fn train_now(&mut self, src: &dyn VectorSource) {
        let ids: Vec<u32> = self.live.ones().collect();
        let gather = |pick: &[u32]| -> Vec<i32> {
            let mut flat = Vec::with_capacity(pick.len() * self.dim);
            for &id in pick {
                if let Some(v) = src.vector(id) {
                    flat.extend_from_slice(v);
                }
            }
            flat
        };
        self.quant = match self.cfg.quant {
            _ if !self.cfg.uses_codes() => None,
            QuantKind::None => None,
            QuantKind::Scalar => Some(Quantizer::train_sq8(&gather(&ids), self.dim)),
            QuantKind::Product => {
                let m = if self.cfg.pq_m == 0 {
                    self.dim.div_ceil(8)
                } else {
                    self.cfg.pq_m
                };
                Some(Quantizer::train_pq(
                    &gather(&even_sample(&ids, PQ_SAMPLE)),
                    self.dim,
                    m,
                ))
            }
        };
        if let (Some(q), true) = (&self.quant, self.cfg.kind != IndexKind::Ivf) {
            let len = q.code_len();
            self.codes = Blocks::new(len);
            self.codes.grow_to(self.slots as usize);
            // Each slot's code is its own: encode them in parallel.
            let live = &self.live;
            self.codes.par_fill(|id, out| {
                let id = id as u32;
                if let Some(v) = src.vector(id).filter(|_| live.get(id)) {
                    q.encode(v, out);
                }
            });
        }
        if let Some(ivf) = &mut self.ivf {
            let nlist = if self.cfg.ivf_nlist == 0 {
                isqrt_round(ids.len())
            } else {
                self.cfg.ivf_nlist
            };
            ivf.train(
                self.dim,
                &ids,
                nlist.clamp(1, ids.len()),
                src,
                self.quant.as_ref(),
            );
        }
        self.trained_at = self.live_count;
    }

    /// Candidates kept for the exact re-rank. Never more than the live
    /// vectors: beyond that a larger count changes nothing but the cost.
    fn rerank_count(&self, k: usize, params: &SearchParams) -> usize {
        let r = params.rerank.unwrap_or(self.cfg.rerank);
        let auto = match self.cfg.quant {
            QuantKind::Product => k.saturating_mul(16).max(100),
            _ => k.saturating_mul(4).max(40),
        };
        (if r == 0 { auto } else { r })
            .max(k)
            .min((self.live_count as usize).max(1))
    }

    /// The `k` best live records passing `filter`, as (exact key, id)
    /// ascending by (key, id) under the configured [`super::Distance`]. A
    /// query of the wrong dimension gets no results.
    ///
    /// With a filter, HNSW walks through non-matching nodes and keeps going
    /// until it holds `ef` (>= k) matching ones or runs out of reachable
    /// nodes; IVF widens its probe until k match or every list is probed.
    pub fn search(
        &self,
        query: &[i32],
        k: usize,
        params: SearchParams,
        src: &dyn VectorSource,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<(i64, u32)> {
        if k == 0 || query.len() != self.dim {
            return Vec::new();
        }
        let dist = self.cfg.distance;
        let quant = self.quant.as_ref().map(|q| (q, q.prepare(query, dist)));
        let keep = self.rerank_count(k, &params);
        match self.cfg.kind {
            IndexKind::Brute => match &quant {
                Some((q, prep)) => {
                    let cands = code_scan(q, prep, &self.codes, &self.live, keep, filter);
                    rerank(query, &cands, k, src, dist)
                }
                None => exact_scan(query, k, src, &self.live, filter, dist),
            },
            IndexKind::Hnsw => {
                let g = self.hnsw.as_ref().expect("hnsw");
                // A layer search never holds more than every slot, so an ef
                // above the slot count gives the same result as ef = slots.
                let ef = params
                    .ef
                    .unwrap_or(self.cfg.hnsw_ef_search)
                    .max(k)
                    .min((self.slots as usize).max(1));
                with_visited(|vis| match &quant {
                    Some((q, prep)) => {
                        let m = Coded {
                            quant: q,
                            prep,
                            codes: &self.codes,
                            live: &self.live,
                        };
                        rerank(query, &g.search(&m, ef, filter, vis), k, src, dist)
                    }
                    None => {
                        let metric = Exact {
                            src,
                            q: query,
                            distance: dist,
                        };
                        let mut w = g.search(&metric, ef, filter, vis);
                        w.truncate(k);
                        w
                    }
                })
            }
            IndexKind::Ivf => {
                let ivf = self.ivf.as_ref().expect("ivf");
                if !ivf.trained() {
                    return exact_scan(query, k, src, &self.live, filter, dist);
                }
                // Probing more lists than exist is probing all of them.
                let nprobe = match params.nprobe.unwrap_or(self.cfg.ivf_nprobe) {
                    0 => (ivf.nlist() / 16).max(1),
                    n => n.min(ivf.nlist().max(1)),
                };
                match &quant {
                    Some((q, prep)) => {
                        let quant = Some((*q, prep));
                        let cands = ivf.search(query, keep, k, nprobe, dist, src, quant, filter);
                        rerank(query, &cands, k, src, dist)
                    }
                    None => ivf.search(query, k, k, nprobe, dist, src, None, filter),
                }
            }
        }
    }

    pub fn memory_bytes(&self) -> IndexMemory {
        let mut m = IndexMemory {
            codes: self.codes.memory_bytes(),
            structure: (self.live.words().len() * 8) as u64,
        };
        if let Some(q) = &self.quant {
            m.structure += q.memory_bytes();
        }
        if let Some(g) = &self.hnsw {
            m.structure += g.memory_bytes();
        }
        if let Some(ivf) = &self.ivf {
            let (c, s) = ivf.memory_bytes();
            m.codes += c;
            m.structure += s;
        }
        m
    }
}

/// round(sqrt(n)) in integers.
fn isqrt_round(n: usize) -> usize {
    let mut r = (n as f64).sqrt() as usize;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    // round: compare n with (r + 0.5)^2 = r^2 + r + 0.25
    if n > r * r + r {
        r + 1
    } else {
        r
    }
}
