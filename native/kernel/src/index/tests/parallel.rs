//! Parallel construction: batch inserts, rebuilds and training give the same
//! bytes and results at any number of build threads, and a batch-built graph
//! finds what a one-at-a-time graph finds.

use super::*;
use crate::index::hnsw_batch::sub_batch_len;
use crate::index::with_build_threads;

const THREADS: [usize; 3] = [1, 2, 8];

fn clustered_source(n: usize, dim: usize, seed: u64) -> MemSource {
    MemSource {
        dim,
        data: clustered(n, dim, seed),
        alive: vec![true; n],
    }
}

/// `ids` inserted as batches of `batch` ids (the last may be shorter).
fn batched(c: IndexConfig, src: &MemSource, ids: &[u32], batch: usize) -> Index {
    let mut ix = Index::new(c, src.dim);
    for b in ids.chunks(batch) {
        ix.on_insert_batch(b, src);
    }
    ix
}

fn results(ix: &Index, src: &MemSource, queries: &[i32]) -> Vec<Vec<(i64, u32)>> {
    queries
        .chunks_exact(src.dim)
        .map(|q| {
            let r = ix.search(q, 10, SearchParams::default(), src, None);
            check_exact_and_sorted(src, q, &r);
            r
        })
        .collect()
}

/// Every thread count gives what one thread gives: bytes and results.
fn same_at_every_thread_count(label: &str, src: &MemSource, f: impl Fn() -> Index + Sync) {
    let queries = uniform(30, src.dim, 99);
    let one = with_build_threads(1, &f);
    let (bytes, found) = (one.encode(), results(&one, src, &queries));
    for t in THREADS {
        let ix = with_build_threads(t, &f);
        assert!(ix.encode() == bytes, "{label}: bytes differ at {t} threads");
        assert_eq!(results(&ix, src, &queries), found, "{label} at {t} threads");
    }
}

#[test]
fn the_sub_batch_grows_with_the_graph_from_one_member_below_1024_nodes() {
    assert_eq!(sub_batch_len(0), 1);
    assert_eq!(sub_batch_len(1023), 1);
    assert_eq!(sub_batch_len(1024), 2);
    assert_eq!(sub_batch_len(60_000), 117);
    assert_eq!(sub_batch_len(10_000_000), 256);
}

#[test]
fn batch_inserts_give_identical_bytes_and_results_at_1_2_and_8_threads() {
    let src = clustered_source(5000, 24, 21);
    let ids: Vec<u32> = (0..5000).collect();
    for quant in [QuantKind::None, QuantKind::Scalar] {
        let c = IndexConfig {
            train_min: 600,
            ..cfg(IndexKind::Hnsw, quant)
        };
        // One batch of everything, and batches that cross the training points.
        for batch in [5000, 700] {
            let label = format!("{quant:?} batches of {batch}");
            same_at_every_thread_count(&label, &src, || batched(c, &src, &ids, batch));
        }
    }
}

#[test]
fn rebuilds_give_identical_bytes_and_results_at_1_2_and_8_threads() {
    let mut src = clustered_source(4000, 16, 22);
    for id in (0..4000).step_by(9) {
        src.alive[id] = false;
    }
    for c in all_configs() {
        let c = IndexConfig {
            train_min: 500,
            ..c
        };
        same_at_every_thread_count(&format!("{c:?}"), &src, || {
            let mut ix = Index::new(c, src.dim);
            ix.rebuild(&src);
            ix
        });
    }
}

#[test]
fn ivf_and_quantizer_training_give_identical_bytes_at_1_2_and_8_threads() {
    // dim 40: k-means takes the long-vector path for IVF, the short one for
    // PQ's 5-wide subspaces.
    let src = clustered_source(3000, 40, 23);
    for c in all_configs() {
        if c.kind != IndexKind::Ivf && c.quant == QuantKind::None {
            continue;
        }
        let c = IndexConfig {
            train_min: 10_000,
            ..c
        };
        same_at_every_thread_count(&format!("{c:?}"), &src, || {
            let mut ix = build(c, &src);
            ix.train(&src);
            ix
        });
    }
}

#[test]
fn a_batch_into_a_graph_under_1024_nodes_builds_what_one_at_a_time_inserts_build() {
    let src = clustered_source(1000, 16, 24);
    let ids: Vec<u32> = (0..1000).collect();
    let c = cfg(IndexKind::Hnsw, QuantKind::None);
    let one_by_one = build(c, &src);
    for t in THREADS {
        let ix = with_build_threads(t, || batched(c, &src, &ids, 1000));
        assert!(ix.encode() == one_by_one.encode(), "{t} threads");
    }
}

#[test]
fn a_batch_skips_ids_without_a_vector_or_already_indexed_like_single_inserts() {
    let mut src = clustered_source(3000, 16, 25);
    for id in (0..3000).step_by(5) {
        src.alive[id] = false;
    }
    let c = cfg(IndexKind::Hnsw, QuantKind::None);
    let ids: Vec<u32> = (0..3000).collect();
    let once = batched(c, &src, &ids, 3000);
    // The same ids again, and ids past the source's end, change nothing.
    let mut again = batched(c, &src, &ids, 3000);
    again.on_insert_batch(&[5, 6, 7, 4000, 4001], &src);
    assert!(again.encode() == once.encode());
    assert_eq!(once.len(), 2400);
    // Every live id is returned for its own vector.
    for id in (1..3000u32).step_by(97).filter(|i| i % 5 != 0) {
        let q = src.vector(id).unwrap().to_vec();
        let r = once.search(&q, 1, SearchParams::default(), &src, None);
        assert_eq!(r, vec![(0, id)], "id {id}");
    }
}

#[test]
fn a_batch_built_graph_keeps_the_recall_of_one_at_a_time_inserts() {
    let (n, dim) = (12_000, 32);
    let src = clustered_source(n, dim, 26);
    let queries = clustered(300, dim, 27);
    let c = cfg(IndexKind::Hnsw, QuantKind::None);
    let serial = build(c, &src);
    let ids: Vec<u32> = (0..n as u32).collect();
    let par = with_build_threads(2, || batched(c, &src, &ids, n));
    for ef in [16, 32, 64] {
        let p = SearchParams {
            ef: Some(ef),
            ..SearchParams::default()
        };
        let (rs, rp) = (
            recall(&serial, &src, &queries, 10, p),
            recall(&par, &src, &queries, 10, p),
        );
        assert!(
            rp >= rs - 0.002,
            "ef {ef}: batch {rp} vs one at a time {rs}"
        );
    }
}

#[test]
fn an_index_restored_from_bytes_continues_a_batch_exactly_like_the_original() {
    // The sub-batch size follows the node count, which a decoded graph
    // recounts: a restart between batches must not change later batches.
    let src = clustered_source(4000, 16, 28);
    let first: Vec<u32> = (0..1500).collect();
    let rest: Vec<u32> = (1500..4000).collect();
    for quant in [QuantKind::None, QuantKind::Scalar] {
        let c = IndexConfig {
            train_min: 1000,
            ..cfg(IndexKind::Hnsw, quant)
        };
        let mut straight = batched(c, &src, &first, 1500);
        let mut resumed = Index::decode(&straight.encode(), c, 16).expect("round trip");
        straight.on_insert_batch(&rest, &src);
        with_build_threads(2, || resumed.on_insert_batch(&rest, &src));
        assert!(straight.encode() == resumed.encode(), "{quant:?}");
    }
}

#[test]
fn without_a_graph_a_batch_gives_exactly_what_one_at_a_time_inserts_give() {
    // Codes and IVF lists computed ahead in parallel, trainings on the way
    // (at 500, 1000, 2000 live) and deletes between batches.
    let mut src = clustered_source(3000, 40, 29);
    for c in all_configs() {
        if c.kind == IndexKind::Hnsw {
            continue;
        }
        let c = IndexConfig {
            train_min: 500,
            ..c
        };
        let mut one = Index::new(c, src.dim);
        let mut many = Index::new(c, src.dim);
        for (b, ids) in (0..3000u32).collect::<Vec<_>>().chunks(700).enumerate() {
            for &id in ids {
                one.on_insert(id, &src);
            }
            with_build_threads(2, || many.on_insert_batch(ids, &src));
            let victim = b as u32 * 300 + 7;
            src.alive[victim as usize] = false;
            one.on_delete(victim);
            many.on_delete(victim);
        }
        assert!(one.encode() == many.encode(), "{c:?}");
        src.alive.fill(true);
    }
}
