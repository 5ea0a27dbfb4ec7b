use super::*;
use crate::index::with_build_threads;

/// Each test runs with index builds on this many threads; the results must
/// not depend on it.
const THREADS: [usize; 3] = [1, 2, 8];

/// A write history with interleaved deletes, replayed onto a fresh index.
fn history(c: IndexConfig, src: &mut MemSource, n: u32) -> Index {
    let mut ix = Index::new(c, src.dim);
    for id in 0..n {
        ix.on_insert(id, src);
        if id % 7 == 3 {
            let victim = id / 2;
            src.alive[victim as usize] = false;
            ix.on_delete(victim);
        }
    }
    ix
}

/// Every small configuration at every thread count.
fn cases() -> Vec<(IndexConfig, usize)> {
    small_cfgs()
        .into_iter()
        .flat_map(|c| THREADS.map(|t| (c, t)))
        .collect()
}

fn small_cfgs() -> Vec<IndexConfig> {
    all_configs()
        .into_iter()
        .map(|c| IndexConfig {
            train_min: 300,
            ..c
        })
        .collect()
}

#[test]
fn two_builds_from_the_same_writes_give_identical_bytes_and_results() {
    for (c, t) in cases() {
        let mut s1 = source(1200, 32, 11);
        let mut s2 = source(1200, 32, 11);
        // One build on one thread, the other on `t`.
        let a = with_build_threads(1, || history(c, &mut s1, 1200));
        let b = with_build_threads(t, || history(c, &mut s2, 1200));
        assert_eq!(a.encode(), b.encode(), "{c:?}");
        for q in uniform(20, 32, 12).chunks_exact(32) {
            let ra = a.search(q, 10, SearchParams::default(), &s1, None);
            assert_eq!(
                ra,
                b.search(q, 10, SearchParams::default(), &s2, None),
                "{c:?}"
            );
            check_exact_and_sorted(&s1, q, &ra);
        }
    }
}

#[test]
fn concurrent_searches_from_several_threads_return_the_same_results() {
    let queries = uniform(64, 32, 14);
    for (c, t) in cases() {
        let src = source(1500, 32, 13);
        let ix = with_build_threads(t, || build(c, &src));
        let serial: Vec<_> = queries
            .chunks_exact(32)
            .map(|q| ix.search(q, 10, SearchParams::default(), &src, None))
            .collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (ix, src, queries) = (&ix, &src, &queries);
                    s.spawn(move || {
                        // Each thread walks the queries from a different start.
                        let n = queries.len() / 32;
                        (0..n)
                            .map(|i| {
                                let qi = (i + t * 17) % n;
                                (
                                    qi,
                                    ix.search(
                                        &queries[qi * 32..(qi + 1) * 32],
                                        10,
                                        SearchParams::default(),
                                        src,
                                        None,
                                    ),
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                for (qi, r) in h.join().unwrap() {
                    assert_eq!(r, serial[qi], "{c:?}");
                }
            }
        });
    }
}

#[test]
fn an_index_restored_from_bytes_continues_exactly_like_the_original() {
    for (c, t) in cases() {
        with_build_threads(t, || restored_continues(c));
    }
}

fn restored_continues(c: IndexConfig) {
    let src = source(1500, 16, 15);
    let mut straight = Index::new(c, 16);
    let mut resumed = Index::new(c, 16);
    for id in 0..700 {
        straight.on_insert(id, &src);
        resumed.on_insert(id, &src);
    }
    resumed = Index::decode(&resumed.encode(), c, 16).expect("round trip");
    for id in 700..1500 {
        straight.on_insert(id, &src);
        resumed.on_insert(id, &src);
    }
    assert_eq!(straight.encode(), resumed.encode(), "{c:?}");
}

#[test]
fn rebuild_equals_inserting_every_live_record_in_id_order_then_training() {
    for (c, t) in cases() {
        with_build_threads(t, || rebuild_equals_inserting(c));
    }
}

fn rebuild_equals_inserting(c: IndexConfig) {
    let mut src = source(1000, 16, 16);
    let mut ix = history(c, &mut src, 1000);
    ix.rebuild(&src);
    let mut fresh = Index::new(c, 16);
    for id in 0..src.slot_count() {
        if src.vector(id).is_some() {
            fresh.on_insert(id, &src);
        }
    }
    if c.kind == IndexKind::Ivf || c.quant != QuantKind::None {
        fresh.train(&src);
    }
    assert_eq!(ix.encode(), fresh.encode(), "{c:?}");
    for q in uniform(10, 16, 17).chunks_exact(16) {
        let r = ix.search(q, 10, SearchParams::default(), &src, None);
        check_exact_and_sorted(&src, q, &r);
        assert_eq!(r.len(), 10);
    }
}
