//! The state's canonical encoding (round trip, hash, refusal of bad bytes)
//! and the engine's group commit (concurrent writes, a failing sink).

use proptest::prelude::*;
use valori_kernel::codec;
use valori_kernel::engine::Engine;
use valori_kernel::event::{DocTarget, Event};
use valori_kernel::ops::Op;
use valori_kernel::state::{Limits, State};
use valori_kernel::store::Store;
use valori_kernel::KernelError;

fn limits(dim: usize) -> Limits {
    Limits::new(dim, 1_000_000, 1000, 1000)
}

#[test]
fn codec_round_trip_preserves_state_and_hash() {
    let mut st = State::new(limits(3));
    st.apply(&Event::InsertBatch {
        first_id: 0,
        count: 3,
        vectors: vec![1, 2, 3, 4, 5, 6, 7, 8, 9],
        payloads: Vec::new(),
    })
    .unwrap();
    st.apply(&Event::SoftDeleteRecord { id: 1 }).unwrap();
    st.apply(&Event::DeleteRecord { id: 2 }).unwrap();
    st.apply(&Event::UpsertMemory {
        record_id: 3,
        tag: 9,
        vector: vec![0, 0, 1],
        doc: DocTarget::New(0),
        chunk_node: 1,
        edge_id: 0,
        metadata: Some(b"[1]".to_vec()),
    })
    .unwrap();
    st.apply(&Event::CreateNode {
        id: 2,
        kind: 4,
        record: Some(1),
    })
    .unwrap();
    st.apply(&Event::CreateEdge {
        id: 1,
        from: 2,
        to: 0,
        kind: 5,
    })
    .unwrap();
    let bytes = codec::encode(&st);
    let back = codec::decode(&bytes, st.limits(), st.height()).unwrap();
    assert_eq!(codec::state_hash(&back), codec::state_hash(&st));
    assert_eq!(codec::encode(&back), bytes);
    assert_eq!(back.records(), st.records());
    assert_eq!(back.out_edges(2), st.out_edges(2));
    // Every truncation is a clean error.
    for n in 0..bytes.len() {
        assert!(codec::decode(&bytes[..n], st.limits(), 0).is_err());
    }
    // A different dimension is refused with a message naming both.
    let e = codec::decode(&bytes, limits(4), 0).unwrap_err();
    assert!(e.to_string().contains("VALORI_DIM=4"), "{e}");
}

proptest! {
    #[test]
    fn codec_decode_of_arbitrary_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = b"VALORI-STATE\x01\x00\x00\x00\x02\x00\x00\x00".to_vec();
        bytes.extend_from_slice(&b);
        let _ = codec::decode(&bytes, limits(2), 0);
        let _ = codec::decode(&b, limits(2), 0);
    }
}

#[test]
fn engine_groups_concurrent_writes_and_rejects_bad_ones_alone() {
    let engine = std::sync::Arc::new(Engine::new(
        Store::new(limits(2), Default::default()),
        None,
        None,
    ));
    let mut handles = vec![];
    for t in 0..8 {
        let e = engine.clone();
        handles.push(std::thread::spawn(move || {
            let mut ok = 0;
            for i in 0..50 {
                let op = if i % 10 == 0 {
                    Op::Delete { id: 1_000_000 }
                } else {
                    Op::Insert {
                        vector: vec![t, i],
                        tag: 0,
                        payload: Default::default(),
                    }
                };
                match e.submit_sync(op) {
                    Ok(o) if o.ids.len() == 1 => ok += 1,
                    Err(KernelError::NotFound(_)) => {}
                    other => panic!("{other:?}"),
                }
            }
            ok
        }));
    }
    let total: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 8 * 45);
    let db = engine.read();
    assert_eq!(db.default_collection().state().records().live, 360);
    assert_eq!(db.height(), 360, "rejected deletes recorded nothing");
}

#[test]
fn a_failing_sink_fails_the_group_and_makes_the_engine_read_only() {
    struct Failing;
    impl valori_kernel::engine::CommitSink for Failing {
        fn append(&mut self, _: &[(u64, Vec<u8>)]) -> valori_kernel::KResult<()> {
            Err(KernelError::Io("disk on fire".into()))
        }
    }
    let engine = Engine::new(
        Store::new(limits(1), Default::default()),
        Some(Box::new(Failing)),
        None,
    );
    let e = engine
        .submit_sync(Op::Insert {
            vector: vec![1],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "IO_ERROR");
    assert!(engine.is_read_only());
    let e = engine
        .submit_sync(Op::Insert {
            vector: vec![1],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "READ_ONLY");
}
