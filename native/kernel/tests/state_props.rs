//! Kernel behaviour: search against a naive oracle, capacity edges, deletes,
//! atomic rejection, and the state hash (equal histories ⇒ equal hash; any
//! difference ⇒ different hash). Encoding and group commit: state_codec_engine.rs.

use proptest::prelude::*;
use valori_kernel::codec;
use valori_kernel::engine::Db;
use valori_kernel::event::{DocTarget, Event};
use valori_kernel::index::{IndexConfig, SearchParams};
use valori_kernel::state::{Limits, State};

fn limits(dim: usize) -> Limits {
    Limits::new(dim, 1_000_000, 1000, 1000)
}

fn apply_all(st: &mut State, evs: &[Event]) {
    for e in evs {
        st.apply(e).unwrap();
    }
}

fn oracle(st: &State, q: &[i32], k: usize, tag: Option<u64>) -> Vec<(i64, u32)> {
    let mut all: Vec<(i64, u32)> = (0..st.records().slots as u32)
        .filter(|&id| tag.is_none_or(|t| st.record_tag(id) == Some(t)))
        .filter_map(|id| {
            st.live_vector(id).map(|v| {
                let d: i64 = v
                    .iter()
                    .zip(q)
                    .map(|(a, b)| {
                        let x = *a as i64 - *b as i64;
                        x * x
                    })
                    .sum();
                (d, id)
            })
        })
        .collect();
    all.sort();
    all.truncate(k);
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn exact_search_equals_sorting_by_exact_distance(
        dim in 1usize..40,
        n in 0usize..200,
        k in 1usize..30,
        seed in any::<u64>(),
        small in any::<bool>(),
    ) {
        let mut st = State::new(limits(dim));
        let mut s = seed;
        // `small` draws from a tiny value set so that ties are frequent.
        let mut next = || { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 33) as i64 };
        let span: i64 = if small { 3 } else { 1 << 20 };
        for i in 0..n {
            let v: Vec<i32> = (0..dim).map(|_| (next() % (2 * span + 1) - span) as i32).collect();
            st.apply(&Event::InsertRecord { id: i as u32, tag: (i % 3) as u64, vector: v, payload: Default::default(),  }).unwrap();
        }
        for i in (0..n).step_by(7) {
            st.apply(&Event::SoftDeleteRecord { id: i as u32 }).unwrap();
        }
        for i in (3..n).step_by(11) {
            if st.record_status(i as u32) != 0 {
                st.apply(&Event::DeleteRecord { id: i as u32 }).unwrap();
            }
        }
        let q: Vec<i32> = (0..dim).map(|_| (next() % (2 * span + 1) - span) as i32).collect();
        let expect = oracle(&st, &q, k, None);
        let tag = seed % 3;
        let expect_tagged = oracle(&st, &q, k, Some(tag));
        let db = Db::new(st, IndexConfig::default());
        prop_assert_eq!(db.search(&q, k, SearchParams::default(), None), expect);
        prop_assert_eq!(db.search(&q, k, SearchParams::default(), Some(tag)), expect_tagged);
    }

    #[test]
    fn equal_histories_give_equal_hashes_and_any_extra_event_changes_it(
        dim in 1usize..8, n in 1usize..30, seed in any::<u64>(), pick in any::<usize>()
    ) {
        let mut evs = vec![];
        let mut s = seed;
        for i in 0..n {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            let v: Vec<i32> = (0..dim).map(|j| ((s >> (j % 40)) & 0xffff) as i32 - 30000).collect();
            evs.push(Event::InsertRecord { id: i as u32, tag: s & 1, vector: v, payload: Default::default(),  });
        }
        let mut a = State::new(limits(dim));
        let mut b = State::new(limits(dim));
        apply_all(&mut a, &evs);
        apply_all(&mut b, &evs);
        prop_assert_eq!(codec::state_hash(&a), codec::state_hash(&b));
        // One more mutation of any kind changes the hash.
        let id = (pick % n) as u32;
        let variants = vec![
            Event::SoftDeleteRecord { id },
            Event::DeleteRecord { id },
            Event::SetMetadata { key: "k".into(), value: b"1".to_vec() },
            Event::CreateNode { id: 0, kind: 1, record: Some(id) },
            Event::InsertRecord { id: n as u32, tag: 0, vector: vec![0; dim], payload: Default::default(),  },
        ];
        for ev in variants {
            let mut c = a.clone();
            c.apply(&ev).unwrap();
            prop_assert_ne!(codec::state_hash(&a), codec::state_hash(&c), "{:?}", ev);
        }
    }
}

#[test]
fn hash_covers_tags_metadata_values_kinds_and_edges() {
    let base = |tag: u64, comp: i32, meta: &[u8], kind: u8, ekind: u8| {
        let mut st = State::new(limits(2));
        st.apply(&Event::InsertRecord {
            id: 0,
            tag,
            vector: vec![comp, 1],
            payload: Default::default(),
        })
        .unwrap();
        st.apply(&Event::SetMetadata {
            key: "a".into(),
            value: meta.to_vec(),
        })
        .unwrap();
        st.apply(&Event::CreateNode {
            id: 0,
            kind,
            record: Some(0),
        })
        .unwrap();
        st.apply(&Event::CreateNode {
            id: 1,
            kind: 0,
            record: None,
        })
        .unwrap();
        st.apply(&Event::CreateEdge {
            id: 0,
            from: 0,
            to: 1,
            kind: ekind,
        })
        .unwrap();
        codec::state_hash(&st)
    };
    let h = base(1, 5, b"x", 2, 3);
    assert_eq!(h, base(1, 5, b"x", 2, 3));
    assert_ne!(h, base(2, 5, b"x", 2, 3), "tag");
    assert_ne!(h, base(1, 6, b"x", 2, 3), "component");
    assert_ne!(h, base(1, 5, b"y", 2, 3), "metadata");
    assert_ne!(h, base(1, 5, b"x", 9, 3), "node kind");
    assert_ne!(h, base(1, 5, b"x", 2, 4), "edge kind");
}

#[test]
fn capacity_edges_are_exact_and_rejections_change_nothing() {
    let mut st = State::new(Limits::new(2, 3, 1, 1));
    for i in 0..3 {
        st.apply(&Event::InsertRecord {
            id: i,
            tag: 0,
            vector: vec![i as i32, 0],
            payload: Default::default(),
        })
        .unwrap();
    }
    let before = codec::state_hash(&st);
    let e = st
        .apply(&Event::InsertRecord {
            id: 3,
            tag: 0,
            vector: vec![0, 0],
            payload: Default::default(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    let e = st
        .apply(&Event::InsertBatch {
            first_id: 3,
            count: 1,
            vectors: vec![0, 0],
            payloads: Vec::new(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    assert_eq!(codec::state_hash(&st), before);
    assert_eq!(st.height(), 3);
    // Soft delete keeps the slot counted; hard delete frees it.
    st.apply(&Event::SoftDeleteRecord { id: 0 }).unwrap();
    assert_eq!(st.records().used, 3);
    assert_eq!(
        st.apply(&Event::InsertRecord {
            id: 3,
            tag: 0,
            vector: vec![0, 0],
            payload: Default::default(),
        })
        .unwrap_err()
        .code(),
        "CAPACITY_EXCEEDED"
    );
    st.apply(&Event::DeleteRecord { id: 0 }).unwrap();
    assert_eq!(st.records().used, 2);
    st.apply(&Event::InsertRecord {
        id: 3,
        tag: 0,
        vector: vec![0, 0],
        payload: Default::default(),
    })
    .unwrap();
    assert_eq!(st.records().slots, 4, "ids are never reused");
    // One node fits; a second does not; an upsert needing 2 nodes is refused whole.
    st.apply(&Event::CreateNode {
        id: 0,
        kind: 0,
        record: None,
    })
    .unwrap();
    let before = codec::state_hash(&st);
    let up = Event::UpsertMemory {
        record_id: 4,
        tag: 0,
        vector: vec![1, 1],
        doc: DocTarget::New(1),
        chunk_node: 2,
        edge_id: 0,
        metadata: None,
    };
    assert_eq!(st.apply(&up).unwrap_err().code(), "CAPACITY_EXCEEDED");
    assert_eq!(codec::state_hash(&st), before);
}

#[test]
fn zero_node_capacity_refuses_every_node() {
    let mut st = State::new(Limits::new(1, 5, 0, 0));
    assert_eq!(
        st.apply(&Event::CreateNode {
            id: 0,
            kind: 0,
            record: None
        })
        .unwrap_err()
        .code(),
        "CAPACITY_EXCEEDED"
    );
}

#[test]
fn edges_to_unknown_nodes_and_nodes_to_missing_records_are_rejected() {
    let mut st = State::new(limits(1));
    st.apply(&Event::CreateNode {
        id: 0,
        kind: 0,
        record: None,
    })
    .unwrap();
    assert_eq!(
        st.apply(&Event::CreateEdge {
            id: 0,
            from: 0,
            to: 7,
            kind: 0
        })
        .unwrap_err()
        .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        st.apply(&Event::CreateNode {
            id: 1,
            kind: 0,
            record: Some(3)
        })
        .unwrap_err()
        .code(),
        "NOT_FOUND"
    );
    assert_eq!(st.height(), 1);
}

#[test]
fn hard_delete_cascades_to_linked_nodes_edges_and_record_metadata() {
    let mut st = State::new(limits(1));
    st.apply(&Event::UpsertMemory {
        record_id: 0,
        tag: 0,
        vector: vec![1],
        doc: DocTarget::New(0),
        chunk_node: 1,
        edge_id: 0,
        metadata: Some(b"{}".to_vec()),
    })
    .unwrap();
    assert_eq!(st.out_edges(0).unwrap().len(), 1);
    assert!(st.metadata("rec:0").is_some());
    st.apply(&Event::DeleteRecord { id: 0 }).unwrap();
    assert!(st.node(1).is_none(), "chunk node deleted");
    assert!(st.node(0).is_some(), "document node stays");
    assert_eq!(st.out_edges(0).unwrap().len(), 0);
    assert_eq!(st.edges().live, 0);
    assert!(st.metadata("rec:0").is_none());
    assert_eq!(
        st.apply(&Event::DeleteRecord { id: 0 }).unwrap_err().code(),
        "NOT_FOUND"
    );
}

#[test]
fn out_edges_are_newest_first() {
    let mut st = State::new(limits(1));
    for i in 0..3 {
        st.apply(&Event::CreateNode {
            id: i,
            kind: 0,
            record: None,
        })
        .unwrap();
    }
    st.apply(&Event::CreateEdge {
        id: 0,
        from: 0,
        to: 1,
        kind: 1,
    })
    .unwrap();
    st.apply(&Event::CreateEdge {
        id: 1,
        from: 0,
        to: 2,
        kind: 2,
    })
    .unwrap();
    let ids: Vec<u32> = st.out_edges(0).unwrap().iter().map(|(e, _)| *e).collect();
    assert_eq!(ids, vec![1, 0]);
    assert!(st.out_edges(9).is_none());
}
