//! Collections: isolation, per-collection ids, drop, node-wide and
//! per-collection limits, protected `default`, refusals that change nothing,
//! graph deletes.

mod support;

use support::*;
use valori_kernel::database::CollectionSpec;
use valori_kernel::state::Limits;

#[test]
fn when_collection_a_is_written_then_b_sees_nothing_of_it() {
    let db = memory(limits());
    create(&db, "a", 2);
    create(&db, "b", 2);
    let b_before = chash(&db, "b");
    insert(&db, "a", &[1.0, 1.0]).unwrap();
    let n = block_on(db.create_node("a", 3, Some(0), None)).unwrap().ids[0];
    block_on(db.set_metadata("a", "k".into(), "1".into(), None)).unwrap();
    assert_eq!(near(&db, "a", &[1.0, 1.0], 5), vec![0]);
    assert!(near(&db, "b", &[1.0, 1.0], 5).is_empty());
    assert!(db.node("a", n).unwrap().is_some());
    assert!(db.node("b", n).unwrap().is_none());
    assert_eq!(db.metadata("a", "k").unwrap().as_deref(), Some("1"));
    assert_eq!(db.metadata("b", "k").unwrap(), None);
    let list = db.list_collections().unwrap();
    let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["default", "a", "b"]);
    assert_eq!(
        list.iter().map(|c| c.records.live).collect::<Vec<_>>(),
        [0, 1, 0]
    );
    assert_eq!(
        list.iter().map(|c| c.nodes.live).collect::<Vec<_>>(),
        [0, 1, 0]
    );
    assert_eq!(chash(&db, "b"), b_before, "b's own hash ignores a");
    assert_ne!(chash(&db, "a"), chash(&db, "b"));
    assert_eq!(db.stats().unwrap().collections, 3);
    assert_eq!(db.stats().unwrap().records.live, 1);
}

#[test]
fn when_two_collections_hand_out_the_same_id_then_the_records_stay_distinct() {
    let db = memory(limits());
    create(&db, "a", 2);
    create(&db, "b", 3);
    assert_eq!(insert(&db, "a", &[1.0, 0.0]).unwrap().ids, [0]);
    assert_eq!(insert(&db, "b", &[0.0, 5.0, 5.0]).unwrap().ids, [0]);
    let a = db
        .search("a", &[1.0, 0.0], 1, Default::default(), None)
        .unwrap();
    let b = db
        .search("b", &[0.0, 5.0, 5.0], 1, Default::default(), None)
        .unwrap();
    assert_eq!(a, vec![(0.0, 0)]);
    assert_eq!(b, vec![(0.0, 0)]);
    // b's dimension is 3: a vector of a's dimension does not fit it.
    let e = insert(&db, "b", &[1.0, 0.0]).unwrap_err();
    assert_eq!(e.code(), "DIMENSION_MISMATCH");
    // Hard-deleting a's record 0 leaves b's record 0.
    block_on(db.delete_record("a", 0, None)).unwrap();
    assert!(near(&db, "a", &[1.0, 0.0], 1).is_empty());
    assert_eq!(near(&db, "b", &[0.0, 5.0, 5.0], 1), vec![0]);
}

#[test]
fn when_a_collection_is_dropped_then_its_data_goes_and_its_slots_are_free() {
    let db = memory(Limits::new(2, 3, 1000, 1000));
    let a = create(&db, "a", 2);
    for i in 0..3 {
        insert(&db, "a", &[i as f32, 0.0]).unwrap();
    }
    let e = insert(&db, D, &[0.0, 0.0]).unwrap_err();
    assert_eq!(
        e.code(),
        "CAPACITY_EXCEEDED",
        "the node-wide cap counts a's records"
    );
    let h = db.height();
    let out = block_on(db.drop_collection("a", None)).unwrap();
    assert_eq!((out.ids.len(), out.height), (0, h + 1));
    assert_eq!(db.stats().unwrap().records.used, 0);
    assert_eq!(
        db.search("a", &[0.0, 0.0], 1, Default::default(), None)
            .unwrap_err()
            .code(),
        "COLLECTION_NOT_FOUND"
    );
    insert(&db, D, &[0.0, 0.0]).unwrap();
    // A new collection of the same name is empty and gets a new id.
    let again = create(&db, "a", 2);
    assert_eq!((a, again), (1, 2));
    assert!(near(&db, "a", &[0.0, 0.0], 3).is_empty());
}

#[test]
fn when_limits_are_reached_then_they_count_over_all_collections_and_per_collection() {
    let db = memory(Limits::new(2, 100, 2, 1));
    create(&db, "a", 2);
    create(&db, "b", 2);
    block_on(db.create_node("a", 1, None, None)).unwrap();
    block_on(db.create_node("b", 1, None, None)).unwrap();
    let e = block_on(db.create_node(D, 1, None, None)).unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    assert!(e.to_string().contains("graph node pool is full"), "{e}");
    let capped = CollectionSpec {
        max_records: Some(1),
        ..spec("c", 2)
    };
    block_on(db.create_collection(capped, None)).unwrap();
    insert(&db, "c", &[1.0, 1.0]).unwrap();
    let before = hash(&db);
    let e = insert(&db, "c", &[2.0, 2.0]).unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    assert!(e.to_string().contains("\"c\""), "names the collection: {e}");
    assert_eq!(hash(&db), before);
    let info = db.list_collections().unwrap();
    assert_eq!(info[3].max_records, Some(1));
    assert_eq!(info[3].records.capacity, 1);
}

#[test]
fn when_default_is_dropped_or_a_collection_is_unknown_then_nothing_changes() {
    let db = memory(limits());
    create(&db, "a", 2);
    let (h, before) = (db.height(), hash(&db));
    let e = block_on(db.drop_collection(D, None)).unwrap_err();
    assert_eq!(e.code(), "COLLECTION_PROTECTED");
    for e in [
        insert(&db, "nope", &[1.0, 1.0]).unwrap_err(),
        block_on(db.create_node("nope", 1, None, None)).unwrap_err(),
        block_on(db.drop_collection("nope", None)).unwrap_err(),
        db.search("nope", &[1.0, 1.0], 1, Default::default(), None)
            .unwrap_err(),
        db.node("nope", 0).unwrap_err(),
        db.state_proof(Some("nope")).unwrap_err(),
        db.build_index("nope").unwrap_err(),
    ] {
        assert_eq!(e.code(), "COLLECTION_NOT_FOUND", "{e}");
        assert!(e.to_string().contains("nope"), "{e}");
    }
    assert_eq!((db.height(), hash(&db)), (h, before));
}

#[test]
fn when_a_name_or_spec_is_bad_then_creation_is_refused_and_nothing_changes() {
    let db = memory(limits());
    create(&db, "taken", 2);
    let (h, before) = (db.height(), hash(&db));
    let long = "x".repeat(65);
    for name in ["", "-a", "_a", "a b", "é", long.as_str()] {
        let e = block_on(db.create_collection(spec(name, 2), None)).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT", "{name:?}");
    }
    assert_eq!((db.height(), hash(&db)), (h, before));
    assert!(block_on(db.create_collection(spec(&"x".repeat(64), 2), None)).is_ok());
    let (h, before) = (db.height(), hash(&db));
    let e = block_on(db.create_collection(spec("taken", 2), None)).unwrap_err();
    assert_eq!(e.code(), "COLLECTION_EXISTS");
    let bad_metric = CollectionSpec {
        metric: Some("euclid".into()),
        ..spec("m", 2)
    };
    let e = block_on(db.create_collection(bad_metric, None)).unwrap_err();
    assert!(e.to_string().contains("cosine"), "{e}");
    let e = block_on(db.create_collection(spec("z", 0), None)).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    let alias = CollectionSpec {
        metric: Some("l2".into()),
        ..spec("l", 2)
    };
    assert_eq!(db.height(), h);
    assert_eq!(hash(&db), before);
    block_on(db.create_collection(alias, None)).unwrap();
    let l = db.list_collections().unwrap().pop().unwrap();
    assert_eq!((l.name.as_str(), l.metric), ("l", "squared_l2"));
}

#[test]
fn when_a_node_or_edge_is_deleted_then_its_edges_go_and_a_linked_record_stays() {
    let db = memory(limits());
    insert(&db, D, &[1.0, 1.0]).unwrap();
    let n0 = block_on(db.create_node(D, 1, Some(0), None)).unwrap().ids[0];
    let n1 = block_on(db.create_node(D, 1, None, None)).unwrap().ids[0];
    let e0 = block_on(db.create_edge(D, n0, n1, 2, None)).unwrap().ids[0];
    let e1 = block_on(db.create_edge(D, n1, n0, 2, None)).unwrap().ids[0];
    block_on(db.delete_edge(D, e1, None)).unwrap();
    assert!(db.out_edges(D, n1).unwrap().unwrap().is_empty());
    assert_eq!(db.out_edges(D, n0).unwrap().unwrap()[0].id, e0);
    block_on(db.delete_node(D, n0, None)).unwrap();
    assert!(db.node(D, n0).unwrap().is_none());
    assert_eq!(db.stats().unwrap().edges.live, 0, "its edge went with it");
    assert_eq!(near(&db, D, &[1.0, 1.0], 1), vec![0], "the record stays");
    // Hard-deleting the record afterwards does not reach for the node.
    block_on(db.delete_record(D, 0, None)).unwrap();
    assert_eq!(db.stats().unwrap().nodes.live, 1);
    let before = hash(&db);
    for e in [
        block_on(db.delete_node(D, n0, None)).unwrap_err(),
        block_on(db.delete_edge(D, e0, None)).unwrap_err(),
        block_on(db.delete_edge(D, 99, None)).unwrap_err(),
    ] {
        assert_eq!(e.code(), "NOT_FOUND", "{e}");
    }
    assert_eq!(hash(&db), before);
}

#[test]
fn when_an_edge_names_a_node_of_another_collection_then_it_is_refused() {
    let db = memory(limits());
    create(&db, "a", 2);
    block_on(db.create_node("a", 1, None, None)).unwrap();
    block_on(db.create_node("a", 1, None, None)).unwrap();
    block_on(db.create_node(D, 1, None, None)).unwrap();
    // Node 1 exists in a, not in default.
    let e = block_on(db.create_edge(D, 0, 1, 1, None)).unwrap_err();
    assert_eq!(e.code(), "NOT_FOUND");
}
