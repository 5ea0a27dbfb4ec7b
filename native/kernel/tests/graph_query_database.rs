//! The same reads through `Database`: per collection, converted back to
//! client floats, bounded, refused after close.

mod support;

use std::sync::Arc;

use valori_kernel::database::{CollectionSpec, Database};
use valori_kernel::durable::PersistConfig;
use valori_kernel::graph_query::GraphQuery;
use valori_kernel::index::IndexConfig;
use valori_kernel::state::Limits;
use valori_kernel::storage::StdVfs;

use support::block_on;

fn memory_db() -> Database {
    Database::open(
        Arc::new(StdVfs),
        Limits::new(2, 100, 100, 100),
        IndexConfig::default(),
        &PersistConfig::default(),
    )
    .expect("open")
}

/// The one id a write handed out.
fn id(o: Result<valori_kernel::ops::Outcome, valori_kernel::KernelError>) -> u32 {
    let o = o.expect("write");
    assert_eq!(o.ids.len(), 1);
    o.ids[0]
}

#[test]
fn when_reading_records_then_values_tags_and_soft_deletes_come_back() {
    let db = memory_db();
    assert_eq!(
        id(block_on(db.insert("default", vec![1.5, -0.25], 7, None))),
        0
    );
    assert_eq!(
        id(block_on(db.insert("default", vec![0.1, 3.0], 0, None))),
        1
    );
    let r = db.record("default", 0).unwrap().expect("record 0");
    // 1.5 and -0.25 are exact in Q16.16.
    assert_eq!(
        (r.id, r.values, r.tag, r.soft_deleted),
        (0, vec![1.5, -0.25], 7, false)
    );
    // 0.1 is stored as round(0.1 × 65536) = 6554 raw units.
    block_on(db.soft_delete_record("default", 1, None)).unwrap();
    let r = db
        .record("default", 1)
        .unwrap()
        .expect("soft-deleted is readable");
    assert_eq!(r.values, vec![(6554.0f64 / 65536.0) as f32, 3.0]);
    assert!(r.soft_deleted);
    block_on(db.delete_record("default", 0, None)).unwrap();
    assert_eq!(db.record("default", 0).unwrap(), None);
    assert_eq!(db.record("default", 99).unwrap(), None);
    // Another collection has its own ids and its own dimension.
    let spec = CollectionSpec {
        name: "b".into(),
        dim: 3,
        ..Default::default()
    };
    block_on(db.create_collection(spec, None)).unwrap();
    assert_eq!(
        id(block_on(db.insert("b", vec![2.0, 4.0, 8.0], 1, None))),
        0
    );
    let r = db.record("b", 0).unwrap().expect("b's record 0");
    assert_eq!((r.values, r.tag), (vec![2.0, 4.0, 8.0], 1));
    assert_eq!(db.record("default", 0).unwrap(), None);
    let e = db.record("nope", 0).unwrap_err();
    assert_eq!(e.code(), "COLLECTION_NOT_FOUND");
}

#[test]
fn when_reading_the_graph_then_each_collection_answers_for_its_own_nodes() {
    let db = memory_db();
    let spec = CollectionSpec {
        name: "b".into(),
        dim: 2,
        ..Default::default()
    };
    block_on(db.create_collection(spec, None)).unwrap();
    assert_eq!(
        id(block_on(db.insert("default", vec![0.0, 0.0], 0, None))),
        0
    );
    assert_eq!(id(block_on(db.create_node("default", 1, None, None))), 0);
    assert_eq!(id(block_on(db.create_node("default", 2, Some(0), None))), 1);
    assert_eq!(id(block_on(db.create_edge("default", 0, 1, 4, None))), 0);
    assert_eq!(id(block_on(db.create_node("b", 9, None, None))), 0);

    let p = db.list_nodes("default", 0, 10, None).unwrap();
    let ids: Vec<(u32, u8, Option<u32>)> =
        p.nodes.iter().map(|n| (n.id, n.kind, n.record)).collect();
    assert_eq!((ids, p.total), (vec![(0, 1, None), (1, 2, Some(0))], 2));
    let p = db.list_nodes("default", 0, 10, Some(2)).unwrap();
    assert_eq!((p.nodes.len(), p.nodes[0].id, p.total), (1, 1, 1));
    let p = db.list_nodes("b", 0, 10, None).unwrap();
    assert_eq!((p.nodes[0].kind, p.total), (9, 1));
    assert_eq!(
        db.list_nodes("default", 0, 10, Some(256))
            .unwrap_err()
            .code(),
        "INVALID_ARGUMENT"
    );

    let hit = |d: &str, s: u32| {
        let q = GraphQuery::new(d, 3, 10, None, None).unwrap();
        db.graph_query("default", s, &q)
            .unwrap()
            .iter()
            .map(|h| (h.node.id, h.depth))
            .collect::<Vec<_>>()
    };
    assert_eq!(hit("out", 0), vec![(1, 1)]);
    assert_eq!(hit("in", 1), vec![(0, 1)]);
    assert_eq!(hit("in", 0), vec![]);
    let bad = GraphQuery::new("up", 3, 10, None, None);
    assert_eq!(bad.unwrap_err().code(), "INVALID_ARGUMENT");
    let bad = GraphQuery::new("out", 3, 10, Some(300), None);
    assert_eq!(bad.unwrap_err().code(), "INVALID_ARGUMENT");
    let bad = GraphQuery::new("out", 3, 10, None, Some(256));
    assert_eq!(bad.unwrap_err().code(), "INVALID_ARGUMENT");
    // Node 1 exists in default only.
    let q = GraphQuery::new("out", 3, 10, None, None).unwrap();
    let e = db.graph_query("b", 1, &q).unwrap_err();
    assert_eq!(e.code(), "NOT_FOUND");
    let s = db.subgraph("default", 0, 1, 10).unwrap();
    assert_eq!((s.nodes.len(), s.edges.len()), (2, 1));

    // Deleting node 1 takes its edge; the node is gone from every read.
    block_on(db.delete_node("default", 1, None)).unwrap();
    assert_eq!(hit("out", 0), vec![]);
    let s = db.subgraph("default", 0, 1, 10).unwrap();
    assert_eq!((s.nodes.len(), s.edges.len()), (1, 0));
    assert_eq!(db.list_nodes("default", 0, 10, None).unwrap().total, 1);
    let e = db.subgraph("default", 1, 1, 10).unwrap_err();
    assert_eq!(e.code(), "NOT_FOUND");
    let e = db.subgraph("gone", 0, 1, 10).unwrap_err();
    assert_eq!(e.code(), "COLLECTION_NOT_FOUND");

    db.close();
    assert_eq!(db.record("default", 0).unwrap_err().code(), "CLOSED");
    assert_eq!(
        db.list_nodes("default", 0, 1, None).unwrap_err().code(),
        "CLOSED"
    );
}
