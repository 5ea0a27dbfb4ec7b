use super::*;

const N: usize = 5000;
const DIM: usize = 64;
const NQ: usize = 200;

fn queries() -> Vec<i32> {
    uniform(NQ, DIM, 99)
}

fn recall_of(c: IndexConfig, p: SearchParams) -> f64 {
    let src = source(N, DIM, 1);
    let ix = build(c, &src);
    let r = recall(&ix, &src, &queries(), 10, p);
    eprintln!(
        "{:?}/{:?} nlist={} {p:?}: recall@10 = {r:.4}",
        c.kind,
        c.quant,
        ix.nlist()
    );
    r
}

#[test]
fn hnsw_recall_at_10_is_at_least_0_95_at_default_ef() {
    assert!(
        recall_of(
            cfg(IndexKind::Hnsw, QuantKind::None),
            SearchParams::default()
        ) >= 0.95
    );
}

#[test]
fn ivf_recall_at_10_is_at_least_0_9_at_nprobe_a_quarter_of_nlist_on_clustered_data() {
    let src = MemSource {
        dim: DIM,
        data: clustered(N, DIM, 1),
        alive: vec![true; N],
    };
    let mut ix = build(cfg(IndexKind::Ivf, QuantKind::None), &src);
    assert!(ix.is_trained());
    assert_eq!(
        ix.nlist(),
        64,
        "auto nlist = round(sqrt(4096)) from the last automatic training (1024, 2048, 4096)"
    );
    ix.train(&src);
    assert_eq!(ix.nlist(), 71, "round(sqrt(5000)) after a forced training");
    let p = SearchParams {
        nprobe: Some(ix.nlist() / 4),
        ..Default::default()
    };
    let r = recall(&ix, &src, &clustered(NQ, DIM, 99), 10, p);
    eprintln!("ivf nprobe {}: {r:.4}", ix.nlist() / 4);
    assert!(r >= 0.9);
}

#[test]
fn sq8_brute_force_with_exact_rerank_has_recall_at_least_0_99() {
    assert!(
        recall_of(
            cfg(IndexKind::Brute, QuantKind::Scalar),
            SearchParams::default()
        ) >= 0.99
    );
}

#[test]
fn pq_brute_force_with_exact_rerank_has_recall_at_least_0_9() {
    let p = SearchParams {
        rerank: Some(200),
        ..Default::default()
    };
    assert!(recall_of(cfg(IndexKind::Brute, QuantKind::Product), p) >= 0.9);
}

#[test]
fn hnsw_with_sq8_traversal_keeps_recall_within_a_point_of_exact_traversal() {
    let src = source(2000, DIM, 1);
    let exact = build(cfg(IndexKind::Hnsw, QuantKind::None), &src);
    let sq8 = build(cfg(IndexKind::Hnsw, QuantKind::Scalar), &src);
    assert!(sq8.memory_bytes().codes > 0);
    let p = SearchParams::default();
    let re = recall(&exact, &src, &queries(), 10, p);
    let rs = recall(&sq8, &src, &queries(), 10, p);
    eprintln!("hnsw 2000: exact traversal {re:.4}, sq8 traversal {rs:.4}");
    assert!(rs >= 0.95 && rs >= re - 0.01);
}

#[test]
fn hnsw_with_product_quantization_keeps_exact_traversal_and_no_codes() {
    let src = source(2000, DIM, 1);
    let ix = build(cfg(IndexKind::Hnsw, QuantKind::Product), &src);
    assert_eq!(ix.memory_bytes().codes, 0);
    assert!(recall(&ix, &src, &queries(), 10, SearchParams::default()) >= 0.95);
}

#[test]
fn ivf_with_sq8_and_pq_codes_keeps_recall() {
    let src = MemSource {
        dim: DIM,
        data: clustered(N, DIM, 1),
        alive: vec![true; N],
    };
    let p = SearchParams {
        nprobe: Some(16),
        rerank: Some(200),
        ..Default::default()
    };
    for (quant, floor) in [(QuantKind::Scalar, 0.9), (QuantKind::Product, 0.85)] {
        let ix = build(cfg(IndexKind::Ivf, quant), &src);
        let r = recall(&ix, &src, &clustered(NQ, DIM, 99), 10, p);
        eprintln!("ivf/{quant:?} nprobe 16 of {}: {r:.4}", ix.nlist());
        assert!(r >= floor);
    }
}

#[test]
fn before_training_ivf_and_quantized_indexes_return_exact_results() {
    let src = source(500, 16, 3);
    for c in all_configs() {
        let ix = build(c, &src);
        if c.kind != IndexKind::Hnsw {
            for q in uniform(20, 16, 4).chunks_exact(16) {
                assert_eq!(
                    ix.search(q, 7, SearchParams::default(), &src, None),
                    brute(&src, q, 7),
                    "{c:?}"
                );
            }
        }
    }
}

#[test]
fn every_index_returns_exact_distances_in_order_and_respects_k_and_filters() {
    let src = source(1500, 24, 5);
    for c in all_configs() {
        let c = IndexConfig {
            train_min: 200,
            ..c
        };
        let ix = build(c, &src);
        assert!(ix.is_trained());
        for q in uniform(10, 24, 6).chunks_exact(24) {
            let got = ix.search(q, 10, SearchParams::default(), &src, None);
            assert_eq!(got.len(), 10, "{c:?}");
            check_exact_and_sorted(&src, q, &got);
            let even = |id: u32| id.is_multiple_of(2);
            let f = ix.search(q, 10, SearchParams::default(), &src, Some(&even));
            assert!(!f.is_empty() && f.iter().all(|r| r.1 % 2 == 0), "{c:?}");
            check_exact_and_sorted(&src, q, &f);
            assert!(ix
                .search(q, 0, SearchParams::default(), &src, None)
                .is_empty());
            assert!(ix
                .search(&q[1..], 5, SearchParams::default(), &src, None)
                .is_empty());
        }
        // Asking for everything returns every vector, ranked exactly.
        let q = &uniform(1, 24, 7)[..];
        let big = SearchParams {
            ef: Some(3000),
            nprobe: Some(10_000),
            rerank: Some(3000),
        };
        assert_eq!(
            ix.search(q, 2000, big, &src, None),
            brute(&src, q, 2000),
            "{c:?}"
        );
    }
}

#[test]
fn ties_in_distance_are_broken_by_id_like_brute_force() {
    // Many exact duplicates: every index must order equal distances by id.
    let mut src = MemSource {
        dim: 8,
        data: Vec::new(),
        alive: Vec::new(),
    };
    let base = uniform(50, 8, 8);
    for i in 0..1200 {
        let row = (i * 7) % 50;
        src.push(&base[row * 8..row * 8 + 8]);
    }
    for c in all_configs() {
        let ix = build(
            IndexConfig {
                train_min: 100,
                ..c
            },
            &src,
        );
        for q in base.chunks_exact(8).take(5) {
            let got = ix.search(
                q,
                12,
                SearchParams {
                    ef: Some(200),
                    nprobe: Some(1000),
                    rerank: Some(500),
                },
                &src,
                None,
            );
            assert_eq!(got, brute(&src, q, 12), "{c:?}");
        }
    }
}
