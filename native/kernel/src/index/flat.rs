//! Linear scans: exact over the kernel's vectors, or over codes followed by an
//! exact re-rank.

use super::blocks::Blocks;
use super::quant::{Prepared, Quantizer};
use super::topk::TopK;
use super::{simd, Bitset, Distance, VectorSource};

/// Exact k nearest over the records the index holds (`live`) whose vector
/// `src` still has, by (key, id).
pub(crate) fn exact_scan(
    q: &[i32],
    k: usize,
    src: &dyn VectorSource,
    live: &Bitset,
    filter: Option<&dyn Fn(u32) -> bool>,
    distance: Distance,
) -> Vec<(i64, u32)> {
    let rows = live.ones().filter_map(|id| src.vector(id).map(|v| (id, v)));
    exact_rows(q, k, rows, filter, distance)
}

/// The exact scan: the k best of `rows` (id, vector) by (key, id) under
/// `distance`. The only one in the kernel: the brute-force path without an
/// index feeds it the record pool chunk by chunk, the indexes feed it their
/// live set, [`exact_ids`] a filter's matching ids.
pub fn exact_rows<'a>(
    q: &[i32],
    k: usize,
    rows: impl Iterator<Item = (u32, &'a [i32])>,
    filter: Option<&dyn Fn(u32) -> bool>,
    distance: Distance,
) -> Vec<(i64, u32)> {
    let kernels = simd::kernels();
    let (l2, dot) = (kernels.l2, kernels.dot);
    let mut top = TopK::new(k);
    for (id, v) in rows {
        // A sequential scan streams every byte anyway: no early exit here.
        let d = match distance {
            Distance::L2 => l2(q, v),
            Distance::Dot => -dot(q, v),
        };
        // The filter is called only for candidates that would enter the top k.
        if top.admits(d, id) && filter.is_none_or(|f| f(id)) {
            top.push(d, id);
        }
    }
    top.into_sorted()
}

/// The k best of exactly the records `ids` (ascending) by (key, id); ids
/// without a live vector in `src` are skipped, a repeated id counts once. A
/// query of the wrong dimension gets no results. This is the filtered
/// search's exact plan: a filter's matching ids, scanned without an index.
pub fn exact_ids(
    query: &[i32],
    k: usize,
    ids: &[u32],
    src: &dyn VectorSource,
    distance: Distance,
) -> Vec<(i64, u32)> {
    if query.len() != src.dim() {
        return Vec::new();
    }
    let mut last = None;
    let rows = ids.iter().filter_map(|&id| {
        if last == Some(id) {
            return None;
        }
        last = Some(id);
        src.vector(id).map(|v| (id, v))
    });
    exact_rows(query, k, rows, None, distance)
}

/// Best `keep` live slots by code distance (slot-major `codes`).
pub(crate) fn code_scan(
    quant: &Quantizer,
    prep: &Prepared,
    codes: &Blocks<u8>,
    live: &Bitset,
    keep: usize,
    filter: Option<&dyn Fn(u32) -> bool>,
) -> Vec<(i64, u32)> {
    let mut top = TopK::new(keep);
    let mut visit = |id: u32, d: i64| {
        if top.admits(d, id) && filter.is_none_or(|f| f(id)) {
            top.push(d, id);
        }
    };
    match prep {
        // SQ8: call the kernel directly, no per-code dispatch.
        Prepared::Sq8(q) => {
            let sq8 = simd::kernels().sq8;
            for id in live.ones() {
                let Some(code) = codes.get(id as usize) else {
                    break;
                };
                visit(id, sq8(q, code) as i64);
            }
        }
        Prepared::Sq8Dot(_) | Prepared::Pq(_) => {
            for id in live.ones() {
                let Some(code) = codes.get(id as usize) else {
                    break;
                };
                visit(id, quant.dist(prep, code));
            }
        }
    }
    top.into_sorted()
}

/// Exact keys for `cands`; the best `k` by (key, id). Ids whose vector is
/// gone are dropped.
pub(crate) fn rerank(
    q: &[i32],
    cands: &[(i64, u32)],
    k: usize,
    src: &dyn VectorSource,
    distance: Distance,
) -> Vec<(i64, u32)> {
    let mut top = TopK::new(k);
    for &(_, id) in cands {
        if let Some(v) = src.vector(id) {
            top.push(distance.key(q, v), id);
        }
    }
    top.into_sorted()
}
