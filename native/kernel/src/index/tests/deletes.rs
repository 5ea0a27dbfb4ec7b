use super::*;

fn delete(ix: &mut Index, src: &mut MemSource, id: u32) {
    src.alive[id as usize] = false;
    ix.on_delete(id);
}

#[test]
fn deleted_records_never_appear_in_results_of_any_index() {
    for c in all_configs() {
        let c = IndexConfig {
            train_min: 300,
            ..c
        };
        let mut src = source(2000, 16, 21);
        let mut ix = build(c, &src);
        for id in (0..2000).step_by(3) {
            delete(&mut ix, &mut src, id);
        }
        assert_eq!(ix.len(), 2000 - 667);
        let big = SearchParams {
            ef: Some(400),
            nprobe: Some(1000),
            rerank: Some(400),
        };
        for q in uniform(20, 16, 22).chunks_exact(16) {
            let got = ix.search(q, 50, big, &src, None);
            assert!(got.iter().all(|r| r.1 % 3 != 0), "{c:?}");
            check_exact_and_sorted(&src, q, &got);
            assert_eq!(got.len(), 50, "{c:?}");
        }
    }
}

#[test]
fn a_record_deleted_in_the_store_but_not_yet_in_the_index_is_not_returned() {
    // Soft delete seen through the source only: the index must still skip it.
    for c in all_configs() {
        let mut src = source(1500, 16, 23);
        let ix = build(
            IndexConfig {
                train_min: 300,
                ..c
            },
            &src,
        );
        let q = uniform(1, 16, 24);
        let first = ix.search(&q, 5, SearchParams::default(), &src, None);
        src.alive[first[0].1 as usize] = false;
        let again = ix.search(&q, 5, SearchParams::default(), &src, None);
        assert!(again.iter().all(|r| r.1 != first[0].1), "{c:?}");
        check_exact_and_sorted(&src, &q, &again);
    }
}

#[test]
fn deleting_the_hnsw_entry_point_keeps_search_working() {
    let mut src = source(2000, 32, 25);
    let mut ix = build(cfg(IndexKind::Hnsw, QuantKind::None), &src);
    let queries = uniform(100, 32, 26);
    for _ in 0..5 {
        let entry = ix.hnsw.as_ref().unwrap().entry();
        delete(&mut ix, &mut src, entry);
        assert_ne!(ix.hnsw.as_ref().unwrap().entry(), entry);
        assert!(recall(&ix, &src, &queries, 10, SearchParams::default()) >= 0.95);
    }
    // Entry gone from the store before the index hears of it: still navigable.
    let entry = ix.hnsw.as_ref().unwrap().entry();
    src.alive[entry as usize] = false;
    assert!(recall(&ix, &src, &queries, 10, SearchParams::default()) >= 0.95);
}

#[test]
fn hnsw_stays_navigable_after_deleting_half_and_inserting_more() {
    let mut src = source(4000, 32, 27);
    let mut ix = Index::new(cfg(IndexKind::Hnsw, QuantKind::None), 32);
    for id in 0..2000 {
        ix.on_insert(id, &src);
    }
    let mut r = Rng::new(28);
    for _ in 0..1400 {
        let id = r.below(2000) as u32;
        if src.alive[id as usize] {
            delete(&mut ix, &mut src, id);
        }
    }
    src.alive[2000..].fill(false);
    let queries = uniform(100, 32, 29);
    // A small beam makes navigability matter; compare with a graph built from
    // the survivors alone.
    let p = SearchParams {
        ef: Some(16),
        ..Default::default()
    };
    let r1 = recall(&ix, &src, &queries, 10, p);
    let fresh = build(cfg(IndexKind::Hnsw, QuantKind::None), &src);
    let r0 = recall(&fresh, &src, &queries, 10, p);
    src.alive[2000..].fill(true);
    for id in 2000..4000 {
        ix.on_insert(id, &src);
    }
    let r2 = recall(&ix, &src, &queries, 10, SearchParams::default());
    eprintln!("ef 16: after deletes {r1:.4} vs fresh {r0:.4}; default ef after re-growth {r2:.4}");
    assert!(r1 >= r0 - 0.05 && r2 >= 0.95);
}

#[test]
fn every_hnsw_node_stays_reachable_from_the_entry_point_as_the_top_layer_grows() {
    let src = source(4000, 16, 30);
    let mut ix = Index::new(cfg(IndexKind::Hnsw, QuantKind::None), 16);
    let mut top_changes = 0;
    let mut last_entry = u32::MAX;
    for id in 0..4000 {
        ix.on_insert(id, &src);
        let g = ix.hnsw.as_ref().unwrap();
        if g.entry() != last_entry {
            top_changes += 1;
            last_entry = g.entry();
            // Right after the top layer grew, everything inserted so far is
            // still reachable on layer 0.
            assert_eq!(
                g.reachable_from_entry(0),
                id as usize + 1,
                "after insert {id}"
            );
        }
    }
    assert!(top_changes >= 3, "the test should see the top layer grow");
    assert_eq!(ix.hnsw.as_ref().unwrap().reachable_from_entry(0), 4000);
}

#[test]
fn deleting_everything_then_inserting_again_works_for_every_index() {
    for c in all_configs() {
        let mut src = source(400, 8, 31);
        let mut ix = Index::new(
            IndexConfig {
                train_min: 100,
                ..c
            },
            8,
        );
        for id in 0..200 {
            ix.on_insert(id, &src);
        }
        for id in 0..200 {
            delete(&mut ix, &mut src, id);
        }
        assert!(ix.is_empty());
        assert!(
            ix.search(&[0; 8], 5, SearchParams::default(), &src, None)
                .is_empty(),
            "{c:?}"
        );
        for id in 200..400 {
            ix.on_insert(id, &src);
        }
        let q = uniform(1, 8, 32);
        let got = ix.search(
            &q,
            5,
            SearchParams {
                ef: Some(200),
                nprobe: Some(100),
                rerank: Some(200),
            },
            &src,
            None,
        );
        assert_eq!(got, brute(&src, &q, 5), "{c:?}");
    }
}
