//! Linear scans: exact over the kernel's vectors, or over codes followed by an
//! exact re-rank.

use super::quant::{Prepared, Quantizer};
use super::topk::TopK;
use super::{simd, Bitset, VectorSource};

/// Exact k nearest over the records the index holds (`live`) whose vector
/// `src` still has, by (dist, id).
pub(crate) fn exact_scan(
    q: &[i32],
    k: usize,
    src: &dyn VectorSource,
    live: &Bitset,
    filter: Option<&dyn Fn(u32) -> bool>,
) -> Vec<(i64, u32)> {
    let rows = live.ones().filter_map(|id| src.vector(id).map(|v| (id, v)));
    exact_rows(q, k, rows, filter)
}

/// The exact scan: the k nearest of `rows` (id, vector) by (dist, id). The
/// only one in the kernel: the brute-force path without an index feeds it the
/// record pool chunk by chunk, the indexes feed it their live set.
pub fn exact_rows<'a>(
    q: &[i32],
    k: usize,
    rows: impl Iterator<Item = (u32, &'a [i32])>,
    filter: Option<&dyn Fn(u32) -> bool>,
) -> Vec<(i64, u32)> {
    let l2 = simd::kernels().l2;
    let mut top = TopK::new(k);
    for (id, v) in rows {
        // A sequential scan streams every byte anyway: no early exit here.
        let d = l2(q, v);
        // The filter is called only for candidates that would enter the top k.
        if top.admits(d, id) && filter.is_none_or(|f| f(id)) {
            top.push(d, id);
        }
    }
    top.into_sorted()
}

/// Best `keep` live slots by code distance (slot-major `codes`).
pub(crate) fn code_scan(
    quant: &Quantizer,
    prep: &Prepared,
    codes: &[u8],
    live: &Bitset,
    keep: usize,
    filter: Option<&dyn Fn(u32) -> bool>,
) -> Vec<(i64, u32)> {
    let len = quant.code_len();
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
                let at = id as usize * len;
                let Some(code) = codes.get(at..at + len) else {
                    break;
                };
                visit(id, sq8(q, code) as i64);
            }
        }
        Prepared::Pq(_) => {
            for id in live.ones() {
                let at = id as usize * len;
                let Some(code) = codes.get(at..at + len) else {
                    break;
                };
                visit(id, quant.dist(prep, code));
            }
        }
    }
    top.into_sorted()
}

/// Exact distances for `cands`; the best `k` by (dist, id). Ids whose vector
/// is gone are dropped.
pub(crate) fn rerank(
    q: &[i32],
    cands: &[(i64, u32)],
    k: usize,
    src: &dyn VectorSource,
) -> Vec<(i64, u32)> {
    let mut top = TopK::new(k);
    for &(_, id) in cands {
        if let Some(v) = src.vector(id) {
            top.push(simd::l2(q, v), id);
        }
    }
    top.into_sorted()
}
