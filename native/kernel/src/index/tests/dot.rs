//! The Dot distance across every index × quantization, against an oracle of
//! plain i64 dot products written here (not the kernels under test).

use super::*;
use crate::index::{Distance, IndexError};

const N: usize = 4000;
const DIM: usize = 32;
const NQ: usize = 100;

/// −(q·v) summed in i64 one product at a time.
fn neg_dot(q: &[i32], v: &[i32]) -> i64 {
    let mut s = 0i64;
    for i in 0..q.len() {
        s += q[i] as i64 * v[i] as i64;
    }
    -s
}

/// Every live record sorted by (−q·v, id), cut to k (optionally only ids
/// passing `keep`).
pub(super) fn dot_oracle(
    src: &MemSource,
    q: &[i32],
    k: usize,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<(i64, u32)> {
    let mut all: Vec<(i64, u32)> = (0..src.slot_count())
        .filter(|id| keep(*id))
        .filter_map(|id| src.vector(id).map(|v| (neg_dot(q, v), id)))
        .collect();
    all.sort();
    all.truncate(k);
    all
}

/// Every result live, carrying its exact −q·v, ascending by (key, id).
pub(super) fn check_dot_exact_and_sorted(src: &MemSource, q: &[i32], got: &[(i64, u32)]) {
    for (d, id) in got {
        let v = src.vector(*id).expect("a returned id is live");
        assert_eq!(*d, neg_dot(q, v), "key of {id} is exact");
    }
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "ascending, no duplicates"
    );
}

pub(super) fn dot_cfg(kind: IndexKind, quant: QuantKind) -> IndexConfig {
    IndexConfig {
        distance: Distance::Dot,
        ..cfg(kind, quant)
    }
}

fn clustered_source(n: usize, dim: usize, seed: u64) -> MemSource {
    MemSource {
        dim,
        data: clustered(n, dim, seed),
        alive: vec![true; n],
    }
}

fn dot_recall(ix: &Index, src: &MemSource, queries: &[i32], k: usize, p: SearchParams) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for q in queries.chunks_exact(src.dim) {
        let got = ix.search(q, k, p, src, None);
        check_dot_exact_and_sorted(src, q, &got);
        let truth = dot_oracle(src, q, k, &|_| true);
        total += truth.len();
        hit += got.iter().filter(|g| truth.contains(g)).count();
    }
    hit as f64 / total.max(1) as f64
}

#[test]
fn every_index_and_quantization_finds_the_largest_dot_products() {
    let src = clustered_source(N, DIM, 3);
    let queries = clustered(NQ, DIM, 99);
    for kind in [IndexKind::Brute, IndexKind::Hnsw, IndexKind::Ivf] {
        for quant in [QuantKind::None, QuantKind::Scalar, QuantKind::Product] {
            let ix = build(dot_cfg(kind, quant), &src);
            assert!(ix.is_trained());
            let p = SearchParams {
                ef: Some(100),
                nprobe: Some(ix.nlist().div_ceil(4).max(1)),
                rerank: Some(200),
            };
            let r = dot_recall(&ix, &src, &queries, 10, p);
            eprintln!(
                "dot {kind:?}/{quant:?} nlist={}: recall@10 = {r:.4}",
                ix.nlist()
            );
            if (kind, quant) == (IndexKind::Brute, QuantKind::None) {
                for q in queries.chunks_exact(DIM) {
                    let got = ix.search(q, 10, p, &src, None);
                    assert_eq!(got, dot_oracle(&src, q, 10, &|_| true));
                }
            }
            assert!(r >= 0.9, "{kind:?}/{quant:?}: {r}");
        }
    }
}

#[test]
fn exhaustive_parameters_make_every_dot_index_exact() {
    let src = clustered_source(1500, 16, 5);
    for kind in [IndexKind::Brute, IndexKind::Hnsw, IndexKind::Ivf] {
        for quant in [QuantKind::None, QuantKind::Scalar, QuantKind::Product] {
            let c = IndexConfig {
                train_min: 500,
                ..dot_cfg(kind, quant)
            };
            let ix = build(c, &src);
            let p = SearchParams {
                ef: Some(1500),
                nprobe: Some(10_000),
                rerank: Some(1500),
            };
            for q in clustered(10, 16, 6).chunks_exact(16) {
                let got = ix.search(q, 10, p, &src, None);
                assert_eq!(got, dot_oracle(&src, q, 10, &|_| true), "{c:?}");
            }
        }
    }
}

/// A write history with interleaved deletes, replayed onto a fresh index.
fn history(c: IndexConfig, src: &mut MemSource) -> Index {
    let mut ix = Index::new(c, src.dim);
    for id in 0..src.slot_count() {
        ix.on_insert(id, src);
        if id % 7 == 3 {
            src.alive[id as usize / 2] = false;
            ix.on_delete(id / 2);
        }
    }
    ix
}

#[test]
fn two_dot_builds_from_the_same_writes_give_identical_bytes_and_results() {
    for kind in [IndexKind::Brute, IndexKind::Hnsw, IndexKind::Ivf] {
        for quant in [QuantKind::None, QuantKind::Scalar, QuantKind::Product] {
            let c = IndexConfig {
                train_min: 300,
                ..dot_cfg(kind, quant)
            };
            let (mut s1, mut s2) = (source(1200, 24, 11), source(1200, 24, 11));
            let (a, b) = (history(c, &mut s1), history(c, &mut s2));
            assert_eq!(a.encode(), b.encode(), "{c:?}");
            for q in uniform(10, 24, 12).chunks_exact(24) {
                let ra = a.search(q, 10, SearchParams::default(), &s1, None);
                assert_eq!(ra, b.search(q, 10, SearchParams::default(), &s2, None));
                assert_eq!(ra.len(), 10, "{c:?}");
                check_dot_exact_and_sorted(&s1, q, &ra);
            }
        }
    }
}

#[test]
fn a_dot_index_round_trips_and_is_refused_under_the_other_distance() {
    for kind in [IndexKind::Brute, IndexKind::Hnsw, IndexKind::Ivf] {
        for quant in [QuantKind::None, QuantKind::Scalar, QuantKind::Product] {
            let dot = IndexConfig {
                train_min: 200,
                ..dot_cfg(kind, quant)
            };
            let l2 = IndexConfig {
                distance: Distance::L2,
                ..dot
            };
            let mut src = source(600, 8, 41);
            let ix = history(dot, &mut src);
            let bytes = ix.encode();
            assert_eq!(&bytes[4..6], &2u16.to_le_bytes(), "Dot blobs are version 2");
            let back = Index::decode(&bytes, dot, 8).expect("decodes");
            assert_eq!(back.encode(), bytes);
            for q in uniform(5, 8, 42).chunks_exact(8) {
                let p = SearchParams::default();
                assert_eq!(
                    back.search(q, 10, p, &src, None),
                    ix.search(q, 10, p, &src, None)
                );
            }
            assert_eq!(
                Index::decode(&bytes, l2, 8).err(),
                Some(IndexError::ConfigMismatch("distance"))
            );
            let l2_bytes = history(l2, &mut source(600, 8, 41)).encode();
            assert_eq!(
                &l2_bytes[4..6],
                &1u16.to_le_bytes(),
                "L2 blobs keep version 1"
            );
            assert_eq!(
                Index::decode(&l2_bytes, dot, 8).err(),
                Some(IndexError::ConfigMismatch("distance"))
            );
            assert!(Index::decode(&l2_bytes, l2, 8).is_ok());
        }
    }
}
