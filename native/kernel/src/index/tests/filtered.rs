//! The filtered-search primitives: `exact_ids`, IVF widening its probe until
//! k match, HNSW walking through non-matching nodes.

use super::dot::{check_dot_exact_and_sorted, dot_cfg, dot_oracle};
use super::*;
use crate::index::{exact_ids, Distance};

#[test]
fn exact_ids_returns_the_k_best_of_exactly_those_ids_for_both_distances() {
    let mut src = source(500, 12, 21);
    for id in [4u32, 40, 400] {
        src.alive[id as usize] = false;
    }
    let ids: Vec<u32> = (0..500).filter(|i| i % 3 == 1).collect();
    let chosen = |id: u32| ids.binary_search(&id).is_ok();
    for q in uniform(10, 12, 22).chunks_exact(12) {
        for k in [1usize, 10, 200, 1000] {
            let got = exact_ids(q, k, &ids, &src, Distance::Dot);
            assert_eq!(got, dot_oracle(&src, q, k, &chosen), "dot k {k}");
            let got = exact_ids(q, k, &ids, &src, Distance::L2);
            let mut want: Vec<(i64, u32)> = ids
                .iter()
                .filter_map(|&id| {
                    let v = src.vector(id)?;
                    let d: i64 = q
                        .iter()
                        .zip(v)
                        .map(|(a, b)| (*a as i64 - *b as i64).pow(2))
                        .sum();
                    Some((d, id))
                })
                .collect();
            want.sort();
            want.truncate(k);
            assert_eq!(got, want, "l2 k {k}");
        }
    }
    let q = &uniform(1, 12, 23);
    assert_eq!(
        exact_ids(q, 1000, &ids, &src, Distance::Dot).len(),
        ids.len() - 3,
        "4, 40 and 400 are gone"
    );
    assert!(exact_ids(q, 0, &ids, &src, Distance::Dot).is_empty());
    assert!(exact_ids(q, 5, &[], &src, Distance::Dot).is_empty());
    assert!(
        exact_ids(&q[..11], 5, &ids, &src, Distance::Dot).is_empty(),
        "wrong dimension"
    );
    let twice = [1u32, 1, 2, 2, 3];
    assert_eq!(
        exact_ids(q, 10, &twice, &src, Distance::L2).len(),
        3,
        "a repeated id counts once"
    );
}

/// Records kept by the filter: ids ≡ 7 (mod `every`).
fn sparse(every: u32) -> impl Fn(u32) -> bool {
    move |id| id % every == 7
}

#[test]
fn filtered_ivf_widens_its_probe_until_k_records_match() {
    let src = MemSource {
        dim: 16,
        data: clustered(3000, 16, 31),
        alive: vec![true; 3000],
    };
    let f = sparse(50);
    let matching = (0..3000u32).filter(|i| f(*i)).count();
    for quant in [QuantKind::None, QuantKind::Scalar, QuantKind::Product] {
        for c in [cfg(IndexKind::Ivf, quant), dot_cfg(IndexKind::Ivf, quant)] {
            let ix = build(
                IndexConfig {
                    train_min: 500,
                    ..c
                },
                &src,
            );
            assert!(ix.nlist() > 8, "{c:?}");
            let p = SearchParams {
                nprobe: Some(1),
                ..Default::default()
            };
            for q in clustered(20, 16, 32).chunks_exact(16) {
                for k in [10usize, 40, matching + 5] {
                    let got = ix.search(q, k, p, &src, Some(&f));
                    assert_eq!(got.len(), k.min(matching), "{c:?} k {k}");
                    assert!(got.iter().all(|(_, id)| f(*id)));
                    if c.distance == Distance::Dot {
                        check_dot_exact_and_sorted(&src, q, &got);
                    } else {
                        check_exact_and_sorted(&src, q, &got);
                    }
                }
            }
        }
    }
}

#[test]
fn filtered_hnsw_fills_k_at_five_percent_selectivity() {
    let n = 4000usize;
    let mut src = source(n, 24, 33);
    let f = sparse(20);
    for c in [
        cfg(IndexKind::Hnsw, QuantKind::None),
        dot_cfg(IndexKind::Hnsw, QuantKind::None),
    ] {
        let mut ix = build(c, &src);
        // Deleted nodes stay as bridges; the walk must still fill k.
        for id in (0..n as u32).filter(|i| i % 9 == 0) {
            src.alive[id as usize] = false;
            ix.on_delete(id);
        }
        let (mut hit, mut total) = (0usize, 0usize);
        for q in uniform(50, 24, 34).chunks_exact(24) {
            let got = ix.search(q, 10, SearchParams::default(), &src, Some(&f));
            assert_eq!(got.len(), 10, "{c:?}");
            assert!(got
                .iter()
                .all(|(_, id)| f(*id) && src.vector(*id).is_some()));
            let truth = if c.distance == Distance::Dot {
                check_dot_exact_and_sorted(&src, q, &got);
                dot_oracle(&src, q, 10, &f)
            } else {
                check_exact_and_sorted(&src, q, &got);
                let mut all: Vec<(i64, u32)> = (0..n as u32)
                    .filter(|id| f(*id))
                    .filter_map(|id| {
                        src.vector(id)
                            .map(|v| (crate::index::simd::l2_scalar(q, v), id))
                    })
                    .collect();
                all.sort();
                all.truncate(10);
                all
            };
            total += truth.len();
            hit += got.iter().filter(|g| truth.contains(g)).count();
        }
        let r = hit as f64 / total as f64;
        eprintln!("filtered 5% hnsw {:?}: recall@10 = {r:.4}", c.distance);
        assert!(r >= 0.9, "{c:?}: {r}");
        // A filter matching fewer live records than k returns all of them.
        let few = |id: u32| id % 997 == 5;
        let live_few = (0..n as u32)
            .filter(|i| few(*i) && src.vector(*i).is_some())
            .count();
        let got = ix.search(
            &uniform(1, 24, 35),
            10,
            SearchParams::default(),
            &src,
            Some(&few),
        );
        assert_eq!(got.len(), live_few);
        for id in (0..n as u32).filter(|i| i % 9 == 0) {
            src.alive[id as usize] = true;
        }
    }
}
