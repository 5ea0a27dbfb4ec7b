//! Index windows (`db.rs`, `INDEX_WINDOW`): the graph an HNSW collection
//! builds depends only on its records, not on how writes were grouped, and
//! the records of the unfinished window are found exactly.

use crate::db::{Db, INDEX_WINDOW};
use crate::event::{Event, Payload};
use crate::index::{with_build_threads, Index, IndexConfig, IndexKind, SearchParams};
use crate::payload::{canonical_object, Filter};
use crate::state::{Limits, State};

const DIM: usize = 8;

fn hnsw() -> IndexConfig {
    IndexConfig {
        kind: IndexKind::Hnsw,
        hnsw_m: 8,
        hnsw_ef_construction: 40,
        ..IndexConfig::default()
    }
}

/// Seeded rows in a few clusters (a graph with real choices to make).
fn rows(n: usize, seed: u64) -> Vec<Vec<i32>> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let c = (next() % 3) as i32 * 40_000;
            (0..DIM).map(|_| c + (next() % 30_000) as i32).collect()
        })
        .collect()
}

fn empty(n: usize) -> Db {
    Db::new(State::new(Limits::new(DIM, n as u64 + 10, 10, 10)), hnsw())
}

fn single(id: usize, v: &[i32]) -> Event {
    Event::InsertRecord {
        id: id as u32,
        tag: 0,
        vector: v.to_vec(),
        payload: Payload::default(),
    }
}

fn batch(first: usize, vs: &[Vec<i32>]) -> Event {
    Event::InsertBatch {
        first_id: first as u32,
        count: vs.len() as u32,
        vectors: vs.concat(),
        payloads: Vec::new(),
    }
}

/// Search results for a few queries at two ef values.
fn answers(db: &Db, queries: &[Vec<i32>]) -> Vec<Vec<(i64, u32)>> {
    let mut out = Vec::new();
    for q in queries {
        for ef in [10, 40] {
            let p = SearchParams {
                ef: Some(ef),
                ..SearchParams::default()
            };
            out.push(db.search(q, 10, p, None));
        }
    }
    out
}

fn bytes(db: &Db) -> Vec<u8> {
    db.index.as_ref().expect("hnsw").encode()
}

#[test]
fn the_graph_depends_only_on_the_records_not_on_events_groups_or_threads() {
    // Past 1,024 nodes a batch links several records at once (sub-batches),
    // so how records are batched would show in the graph.
    let n = 3_000;
    let data = rows(n, 11);
    let queries = rows(6, 99);

    // One record per event, each applied on its own.
    let mut one = empty(n);
    for (i, v) in data.iter().enumerate() {
        one.apply(&single(i, v)).unwrap();
    }
    let want = (bytes(&one), answers(&one, &queries));
    let indexed = (n as u32 / INDEX_WINDOW * INDEX_WINDOW) as usize;
    assert_eq!(one.index.as_ref().unwrap().len() as usize, indexed);

    // Batch events of uneven sizes that straddle the windows.
    for threads in [1, 2, 8] {
        let db = with_build_threads(threads, || {
            let mut db = empty(n);
            let (mut at, mut k) = (0, 0);
            let sizes = [1, 7, 100, 33, 250, 2, 64, 129, 700];
            while at < n {
                let len = sizes[k % sizes.len()].min(n - at);
                db.apply(&batch(at, &data[at..at + len])).unwrap();
                at += len;
                k += 1;
            }
            db
        });
        assert!(
            bytes(&db) == want.0,
            "batches at {threads} threads built other bytes"
        );
        assert_eq!(answers(&db, &queries), want.1, "{threads} threads");
    }

    // Single inserts held back in commit groups of uneven sizes.
    let mut grouped = empty(n);
    let (mut at, mut k) = (0, 0);
    while at < n {
        let len = [3, 90, 1, 400, 17][k % 5].min(n - at);
        grouped.defer_index();
        for (i, v) in data.iter().enumerate().skip(at).take(len) {
            grouped.apply(&single(i, v)).unwrap();
        }
        grouped.flush_index();
        at += len;
        k += 1;
    }
    assert!(bytes(&grouped) == want.0, "commit groups built other bytes");
    assert_eq!(answers(&grouped, &queries), want.1);
}

#[test]
fn records_of_the_unfinished_window_are_found_exactly_and_deletes_hold() {
    let w = INDEX_WINDOW as usize;
    let n = w + 6;
    let data = rows(n, 5);
    let mut db = empty(n + w);
    db.apply(&batch(0, &data)).unwrap();
    let ix = db.index.as_ref().unwrap();
    assert_eq!(
        ix.len() as usize,
        w,
        "only the finished window is in the graph"
    );
    assert!(!ix.holds(w as u32 + 2));

    // A query equal to an unindexed record finds it first at distance 0.
    let target = w + 2;
    let hits = db.search(&data[target], 3, SearchParams::default(), None);
    assert_eq!(hits[0], (0, target as u32));
    // k covering everything: every record once, in (key, id) order.
    let all = db.search(
        &data[0],
        1000,
        SearchParams {
            ef: Some(1000),
            ..Default::default()
        },
        None,
    );
    assert_eq!(all.len(), n);
    let mut ids: Vec<u32> = all.iter().map(|h| h.1).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "no record twice");
    assert!(all.windows(2).all(|p| p[0] <= p[1]), "ordered by (key, id)");

    // Deleting an unindexed record: gone from search, and its window,
    // once finished, never takes it.
    db.apply(&Event::DeleteRecord { id: target as u32 })
        .unwrap();
    let hits = db.search(&data[target], 3, SearchParams::default(), None);
    assert!(hits.iter().all(|h| h.1 != target as u32), "{hits:?}");
    let more = rows(w, 6);
    db.apply(&batch(n, &more)).unwrap();
    let ix = db.index.as_ref().unwrap();
    assert!(!ix.holds(target as u32));
    assert_eq!(
        ix.len() as usize,
        2 * w - 1,
        "two windows, one record deleted"
    );
}

#[test]
fn a_filtered_search_sees_the_unfinished_window_on_both_plans() {
    // Enough matches (> FILTER_EXACT_MAX) for the plan through the graph.
    let n = 4_200;
    let data = rows(n, 21);
    let mut db = empty(n);
    let meta = |g: u32| Payload {
        metadata: Some(canonical_object(&format!("{{\"g\":{g}}}")).unwrap()),
        text: None,
    };
    for chunk in 0..n.div_ceil(500) {
        let from = chunk * 500;
        let to = (from + 500).min(n);
        let payloads = (from..to)
            .map(|i| meta(if i == 4_150 || i == 4_195 { 2 } else { 1 }))
            .collect();
        db.apply(&Event::InsertBatch {
            first_id: from as u32,
            count: (to - from) as u32,
            vectors: data[from..to].concat(),
            payloads,
        })
        .unwrap();
    }
    let pending = 4_195u32;
    assert!(pending >= db.indexed_to && !db.index.as_ref().unwrap().holds(pending));

    let all_text = r#"{"g":{"$gte":1}}"#;
    let all = Filter::parse(all_text).unwrap();
    let hits = db.search_filtered(
        &data[pending as usize],
        5,
        SearchParams::default(),
        None,
        Some((all_text, &all)),
    );
    assert_eq!(hits[0], (0, pending), "graph plan");

    let few_text = r#"{"g":2}"#;
    let few = Filter::parse(few_text).unwrap();
    let hits = db.search_filtered(
        &data[0],
        5,
        SearchParams::default(),
        None,
        Some((few_text, &few)),
    );
    let mut ids: Vec<u32> = hits.iter().map(|h| h.1).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![4_150, 4_195], "exact plan");
}

#[test]
fn a_saved_index_is_installed_only_when_it_hides_nothing_below_the_windows() {
    let w = INDEX_WINDOW as usize;
    let n = 2 * w + 10;
    let data = rows(n, 8);
    let mut db = empty(n);
    db.apply(&batch(0, &data)).unwrap();
    let ids: Vec<u32> = (0..n as u32).collect();

    // Written before windows: every record in the graph. Accepted; no
    // record is returned twice and the next window skips what it holds.
    let mut whole = Index::new(hnsw(), DIM);
    whole.on_insert_batch(&ids, &db.state);
    assert!(db.install_index(whole));
    let hits = db.search(
        &data[n - 1],
        1000,
        SearchParams {
            ef: Some(1000),
            ..Default::default()
        },
        None,
    );
    assert_eq!(hits.len(), n);
    assert_eq!(hits[0], (0, n as u32 - 1));

    // Missing a record of a finished window: refused.
    let mut short = Index::new(hnsw(), DIM);
    short.on_insert_batch(&ids[1..], &db.state);
    assert!(!db.install_index(short));
}
