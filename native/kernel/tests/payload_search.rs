//! Filtered search over each index and metric: recall against an exact
//! answer computed here from plain integers, and the same answers whatever
//! the number of threads searching at once and on a second node built from
//! the same writes.

mod support;

use std::sync::Arc;
use std::thread;

use support::*;
use valori_kernel::database::{BatchPayloadsIn, CollectionSpec, SearchRequest};
use valori_kernel::state::Limits;
use valori_kernel::Database;

// Large enough that the 50 % filter matches more than FILTER_EXACT_MAX records and walks the index.
const N: usize = 12_000;
const DIM: usize = 16;

/// A seeded generator (xorshift64*), so every run and machine sees the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A small integer-valued float in -8..8, exact in Q16.16.
    fn coord(&mut self) -> f32 {
        (self.next() % 16) as f32 - 8.0
    }
}

struct Data {
    vectors: Vec<f32>,
    /// `{"p": i % 100, "half": i % 2}` per record.
    p: Vec<u32>,
    queries: Vec<Vec<f32>>,
}

fn data() -> Data {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let vectors = (0..N * DIM).map(|_| r.coord()).collect();
    let queries = (0..40)
        .map(|_| (0..DIM).map(|_| r.coord()).collect())
        .collect();
    Data {
        vectors,
        p: (0..N as u32).map(|i| i % 100).collect(),
        queries,
    }
}

fn node(d: &Data, index: &str, metric: &str) -> Database {
    let db = memory(Limits {
        max_metadata_entries: 1_000_000,
        ..Limits::new(4, 100_000, 10, 10)
    });
    let spec = CollectionSpec {
        name: "c".into(),
        dim: DIM as u32,
        metric: Some(metric.into()),
        index: Some(index.into()),
        ..Default::default()
    };
    block_on(db.create_collection(spec, None)).unwrap();
    let payloads = BatchPayloadsIn {
        metadata: Some(
            (0..N)
                .map(|i| Some(format!(r#"{{"p": {}, "half": {}}}"#, d.p[i], i % 2)))
                .collect(),
        ),
        texts: None,
    };
    block_on(db.insert_batch_with("c", d.vectors.clone(), N as u32, None, Some(payloads))).unwrap();
    db
}

/// The exact k best ids among records passing `keep`, by the metric, ties by id.
fn exact(d: &Data, q: &[f32], k: usize, metric: &str, keep: impl Fn(usize) -> bool) -> Vec<u32> {
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x * y) as f64).sum::<f64>();
    let mut scored: Vec<(f64, u32)> = (0..N)
        .filter(|&i| keep(i))
        .map(|i| {
            let v = &d.vectors[i * DIM..(i + 1) * DIM];
            let s = match metric {
                "dot" => -dot(q, v),
                "cosine" => -dot(q, v) / (dot(v, v).sqrt() * dot(q, q).sqrt()),
                _ => v
                    .iter()
                    .zip(q)
                    .map(|(x, y)| ((x - y) * (x - y)) as f64)
                    .sum(),
            };
            (s, i as u32)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|s| s.1).collect()
}

fn ids(db: &Database, q: &[f32], k: usize, filter: &str) -> Vec<u32> {
    // IVF on uniform random data needs many lists probed for any recall,
    // filtered or not (about 110 lists here).
    let req = SearchRequest {
        filter: Some(filter.into()),
        params: valori_kernel::index::SearchParams {
            ef: Some(64),
            nprobe: Some(48),
            rerank: None,
        },
        ..Default::default()
    };
    db.query("c", q, k, &req)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// Which records a filter keeps, written out in plain Rust.
type Keep = Box<dyn Fn(&Data, usize) -> bool>;

/// (filter, which records it keeps): 1 %, 10 % and 50 % of the records.
fn filters() -> Vec<(&'static str, Keep)> {
    vec![
        (r#"{"p": 7}"#, Box::new(|d: &Data, i: usize| d.p[i] == 7)),
        (
            r#"{"p": {"$lt": 10}}"#,
            Box::new(|d: &Data, i: usize| d.p[i] < 10),
        ),
        (r#"{"half": 1}"#, Box::new(|_: &Data, i: usize| i % 2 == 1)),
    ]
}

#[test]
fn filtered_recall_holds_on_every_index_and_metric() {
    let d = data();
    let k = 10;
    for index in ["brute", "hnsw", "ivf"] {
        for metric in ["l2", "cosine", "dot"] {
            let db = node(&d, index, metric);
            for (filter, keep) in filters() {
                let (mut found, mut total) = (0, 0);
                for q in &d.queries {
                    let want = exact(&d, q, k, metric, |i| keep(&d, i));
                    let got = ids(&db, q, k, filter);
                    assert_eq!(got.len(), k, "{index} {metric} {filter}: {got:?}");
                    assert!(got.iter().all(|&id| keep(&d, id as usize)), "{filter}");
                    found += got.iter().filter(|id| want.contains(id)).count();
                    total += k;
                }
                let recall = found as f64 / total as f64;
                // Few matches are scanned exactly; many walk the index.
                let floor = if index == "brute" { 0.99 } else { 0.95 };
                assert!(
                    recall >= floor,
                    "{index} {metric} {filter}: recall {recall}"
                );
            }
        }
    }
}

#[test]
fn filtered_answers_do_not_depend_on_threads_or_on_the_node() {
    let d = Arc::new(data());
    let a = Arc::new(node(&d, "hnsw", "l2"));
    let b = node(&d, "hnsw", "l2");
    assert_eq!(chash(&a, "c"), chash(&b, "c"));
    let all: Vec<(String, Vec<f32>)> = filters()
        .into_iter()
        .flat_map(|(f, _)| d.queries.iter().map(move |q| (f.to_owned(), q.clone())))
        .collect();
    let one: Vec<Vec<u32>> = all.iter().map(|(f, q)| ids(&b, q, 10, f)).collect();
    let all = Arc::new(all);
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let (a, all) = (a.clone(), all.clone());
            thread::spawn(move || {
                // Each thread walks the queries from its own starting point.
                (0..all.len())
                    .map(|j| {
                        let i = (j + t * 7) % all.len();
                        (i, ids(&a, &all[i].1, 10, &all[i].0))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for w in workers {
        for (i, got) in w.join().unwrap() {
            assert_eq!(got, one[i], "query {i}");
        }
    }
}
