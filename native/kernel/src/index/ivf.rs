//! IVF: k-means partitions with inverted lists, optionally holding codes.
//!
//! Lists keep ids (and, with a quantizer, their codes contiguously, so a probe
//! streams through memory). Inserts after training go to the nearest centroid
//! (ties to the lower index); deletes swap-remove from the list, which is
//! deterministic for a given sequence of calls.
//!
//! Centroids are trained and records assigned by squared L2 whatever the
//! [`Distance`]; a Dot query probes the lists in order of −(q·centroid) (ties
//! to the lower list), the centroids whose direction and norm suit the query
//! best, and scores records by −(q·x).

use rayon::prelude::*;

use super::codec::{Reader, Writer};
use super::kmeans::{self, nearest};
use super::quant::{Prepared, Quantizer};
use super::topk::TopK;
use super::{simd, Bitset, Distance, IndexError, VectorSource};

const NO_LIST: u32 = u32::MAX;
/// k-means sample: this many points per list (at least `MIN_SAMPLE`).
const SAMPLE_PER_LIST: usize = 40;
const MIN_SAMPLE: usize = 4096;
const KMEANS_ITERS: usize = 10;

#[derive(Default, Clone)]
pub(crate) struct Ivf {
    /// `nlist × dim`; empty until trained.
    centroids: Vec<i32>,
    lists: Vec<Vec<u32>>,
    /// Per list, the codes of its ids in the same order (quantized only).
    codes: Vec<Vec<u8>>,
    /// Per slot: its list, or `NO_LIST`.
    assign: Vec<u32>,
}

impl Ivf {
    pub(crate) fn trained(&self) -> bool {
        !self.centroids.is_empty()
    }

    /// Ids held across all lists.
    pub(crate) fn assigned(&self) -> usize {
        self.lists.iter().map(|l| l.len()).sum()
    }

    pub(crate) fn nlist(&self) -> usize {
        self.lists.len()
    }

    /// Trains `nlist` centroids on an even sample of `ids` (ascending) and
    /// assigns every id.
    pub(crate) fn train(
        &mut self,
        dim: usize,
        ids: &[u32],
        nlist: usize,
        src: &dyn VectorSource,
        quant: Option<&Quantizer>,
    ) {
        let want = (nlist * SAMPLE_PER_LIST).max(MIN_SAMPLE);
        let mut flat = Vec::with_capacity(want.min(ids.len()) * dim);
        for id in super::rng::even_sample(ids, want) {
            if let Some(v) = src.vector(id) {
                flat.extend_from_slice(v);
            }
        }
        self.centroids = kmeans::kmeans(&flat, dim, nlist, KMEANS_ITERS, 0);
        let n = self.centroids.len() / dim.max(1);
        self.lists = vec![Vec::new(); n];
        self.codes = vec![Vec::new(); n];
        self.assign.clear();
        if !self.trained() {
            return;
        }
        // Each id's list and code on its own (in parallel), then the lists
        // filled in id order, as `add` for each id in turn would.
        let g: &Ivf = self;
        let placed: Vec<Option<(usize, Option<Vec<u8>>)>> = ids
            .par_iter()
            .map(|&id| {
                let v = src.vector(id)?;
                Some((g.list_of(v, dim)?, quant.map(|q| q.encoded(v))))
            })
            .collect();
        for (&id, p) in ids.iter().zip(placed) {
            if let Some((c, code)) = p {
                self.add_to(id, c, code.as_deref());
            }
        }
    }

    /// The list `v` belongs to (nearest centroid, ties to the lower list);
    /// `None` before training.
    pub(crate) fn list_of(&self, v: &[i32], dim: usize) -> Option<usize> {
        self.trained().then(|| nearest(&self.centroids, dim, v).0)
    }

    pub(crate) fn add(&mut self, id: u32, v: &[i32], dim: usize, quant: Option<&Quantizer>) {
        let Some(c) = self.list_of(v, dim) else {
            return;
        };
        self.add_to(id, c, quant.map(|q| q.encoded(v)).as_deref());
    }

    /// Appends `id` (with its code, when quantized) to list `c`.
    pub(crate) fn add_to(&mut self, id: u32, c: usize, code: Option<&[u8]>) {
        if self.assign.len() <= id as usize {
            self.assign.resize(id as usize + 1, NO_LIST);
        }
        self.assign[id as usize] = c as u32;
        self.lists[c].push(id);
        if let Some(code) = code {
            self.codes[c].extend_from_slice(code);
        }
    }

    pub(crate) fn remove(&mut self, id: u32, code_len: usize) {
        let Some(c) = self.assign.get_mut(id as usize) else {
            return;
        };
        if *c == NO_LIST {
            return;
        }
        let c = std::mem::replace(c, NO_LIST) as usize;
        let list = &mut self.lists[c];
        let Some(pos) = list.iter().position(|x| *x == id) else {
            return;
        };
        list.swap_remove(pos);
        if code_len > 0 {
            let codes = &mut self.codes[c];
            let last = codes.len() - code_len;
            codes.copy_within(last.., pos * code_len);
            codes.truncate(last);
        }
    }

    /// Lists to probe: the `n` best centroids by (key, index). The best `2n`
    /// start with the best `n`, which lets a search widen without restarting.
    fn probes(&self, q: &[i32], n: usize, distance: Distance) -> Vec<usize> {
        let mut top = TopK::new(n.max(1));
        for (c, cv) in self.centroids.chunks_exact(q.len()).enumerate() {
            if let Some(d) = distance.key_within(q, cv, top.bound()) {
                top.push(d, c as u32);
            }
        }
        top.into_sorted()
            .into_iter()
            .map(|x| x.1 as usize)
            .collect()
    }

    /// Best `keep` candidates from the probed lists: exact keys without a
    /// quantizer, code keys with one (the caller re-ranks those). When the
    /// first `nprobe` lists yield fewer than `want` records (passing
    /// `filter`), the next lists in probe order are added, doubling the
    /// probed count each time, until `want` are found or every list is
    /// probed: a selective filter still fills k. Deterministic: the probe
    /// order and each widening step depend only on the query and the data.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn search(
        &self,
        q: &[i32],
        keep: usize,
        want: usize,
        nprobe: usize,
        distance: Distance,
        src: &dyn VectorSource,
        quant: Option<(&Quantizer, &Prepared)>,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<(i64, u32)> {
        let mut top = TopK::new(keep);
        let nlist = self.nlist();
        let (mut done, mut limit) = (0usize, nprobe.clamp(1, nlist.max(1)));
        loop {
            let order = self.probes(q, limit, distance);
            for &c in &order[done.min(order.len())..] {
                self.scan_list(c, q, distance, src, quant, filter, &mut top);
            }
            done = order.len();
            if top.len() >= want.min(keep) || done >= nlist {
                break;
            }
            limit = limit.saturating_mul(2).min(nlist);
        }
        top.into_sorted()
    }

    /// Offers every record of list `c` to `top`.
    #[allow(clippy::too_many_arguments)]
    fn scan_list(
        &self,
        c: usize,
        q: &[i32],
        distance: Distance,
        src: &dyn VectorSource,
        quant: Option<(&Quantizer, &Prepared)>,
        filter: Option<&dyn Fn(u32) -> bool>,
        top: &mut TopK,
    ) {
        let ids = &self.lists[c];
        match quant {
            Some((qz, prep)) => {
                let len = qz.code_len();
                for (i, code) in self.codes[c].chunks_exact(len).enumerate() {
                    let d = qz.dist(prep, code);
                    if top.admits(d, ids[i]) && filter.is_none_or(|f| f(ids[i])) {
                        top.push(d, ids[i]);
                    }
                }
            }
            None => {
                for (i, &id) in ids.iter().enumerate() {
                    if let Some(next) = ids.get(i + 1).and_then(|n| src.vector(*n)) {
                        simd::prefetch(next);
                    }
                    let Some(v) = src.vector(id) else { continue };
                    // L2 stops reading a vector once it cannot enter the top k.
                    let Some(d) = distance.key_within(q, v, top.bound()) else {
                        continue;
                    };
                    if top.admits(d, id) && filter.is_none_or(|f| f(id)) {
                        top.push(d, id);
                    }
                }
            }
        }
    }

    pub(crate) fn memory_bytes(&self) -> (u64, u64) {
        let codes: usize = self.codes.iter().map(|c| c.len()).sum();
        let ids: usize = self.lists.iter().map(|l| l.len() * 4).sum();
        (
            codes as u64,
            (ids + self.centroids.len() * 4 + self.assign.len() * 4) as u64,
        )
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u32(self.lists.len() as u32);
        w.i32s(&self.centroids);
        for (ids, codes) in self.lists.iter().zip(&self.codes) {
            w.u32(ids.len() as u32);
            w.u32s(ids);
            w.bytes(codes);
        }
    }

    /// Reads lists written by [`Ivf::write`]; every id must be live, below
    /// `slots`, and in exactly one list.
    pub(crate) fn read(
        r: &mut Reader,
        dim: usize,
        slots: u32,
        live: &Bitset,
        code_len: usize,
    ) -> Result<Ivf, IndexError> {
        let bad = IndexError::Corrupt;
        let n = r.len(dim.max(1) * 4, "ivf nlist")?;
        let centroids = r.i32s(n * dim, "ivf centroids")?;
        let bound = crate::fixed::max_abs_raw(dim);
        if centroids.iter().any(|x| x.unsigned_abs() > bound as u32) {
            return Err(bad("ivf centroid"));
        }
        let mut ivf = Ivf {
            centroids,
            assign: vec![NO_LIST; slots as usize],
            ..Ivf::default()
        };
        for c in 0..n {
            let len = r.len(4 + code_len, "ivf list length")?;
            let ids = r.u32s(len, "ivf list")?;
            for &id in &ids {
                if id >= slots || !live.get(id) || ivf.assign[id as usize] != NO_LIST {
                    return Err(bad("ivf list id"));
                }
                ivf.assign[id as usize] = c as u32;
            }
            ivf.codes
                .push(r.take(len * code_len, "ivf codes")?.to_vec());
            ivf.lists.push(ids);
        }
        Ok(ivf)
    }
}
