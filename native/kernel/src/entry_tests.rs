//! Version-2 entries: round trips, lengths, prefixes, version-1 payloads.

use super::*;
use crate::event::DocTarget;

fn cfg() -> CollectionConfig {
    CollectionConfig {
        dim: 3,
        metric: Metric::SquaredL2,
        max_records: Some(9),
        index: IndexConfig {
            kind: IndexKind::Hnsw,
            quant: QuantKind::Scalar,
            ..IndexConfig::default()
        },
    }
}

fn samples() -> Vec<StoreEvent> {
    let k = |b: u8| ([b; 16], [b.wrapping_add(1); 32]);
    vec![
        StoreEvent::Data {
            collection: 3,
            event: Event::InsertRecord {
                id: 7,
                tag: 42,
                vector: vec![1, -2, 3],
                payload: Default::default(),
            },
            idem: Idem {
                key: Some(k(1)),
                items: vec![],
            },
        },
        StoreEvent::Data {
            collection: 0,
            event: Event::InsertBatch {
                first_id: 3,
                count: 2,
                vectors: vec![1, 2, 3, 4],
                payloads: Vec::new(),
            },
            idem: Idem {
                key: None,
                items: vec![Some(k(2)), None],
            },
        },
        StoreEvent::Data {
            collection: 1,
            event: Event::DeleteNode { id: 4 },
            idem: Idem::default(),
        },
        StoreEvent::Data {
            collection: 1,
            event: Event::UpsertMemory {
                record_id: 1,
                tag: 0,
                vector: vec![5, 6],
                doc: DocTarget::New(3),
                chunk_node: 4,
                edge_id: 5,
                metadata: Some(b"null".to_vec()),
            },
            idem: Idem::default(),
        },
        StoreEvent::CreateCollection {
            id: 2,
            name: "docs".into(),
            config: cfg(),
            idem: Idem {
                key: Some(k(3)),
                items: vec![],
            },
        },
        StoreEvent::DropCollection {
            id: 2,
            idem: Idem::default(),
        },
    ]
}

#[test]
fn every_entry_round_trips_with_its_time() {
    for (i, e) in samples().into_iter().enumerate() {
        let b = encode_entry(1000 + i as u64, &e);
        assert_eq!(decode_entry(&b).unwrap(), (Some(1000 + i as u64), e));
    }
}

#[test]
fn encoded_len_is_the_event_part_of_the_entry() {
    for e in samples() {
        assert_eq!(
            e.encoded_len() + 9,
            encode_entry(0, &e).len(),
            "{}",
            e.name()
        );
    }
}

#[test]
fn every_strict_prefix_fails_cleanly() {
    for e in samples() {
        let b = encode_entry(5, &e);
        for n in 0..b.len() {
            assert!(decode_entry(&b[..n]).is_err(), "{} prefix {n}", e.name());
        }
    }
}

#[test]
fn a_version_1_payload_is_an_event_of_default_without_time_or_keys() {
    let ev = Event::CreateEdge {
        id: 2,
        from: 0,
        to: 1,
        kind: 3,
    };
    let (time, got) = decode_entry(&ev.encode()).unwrap();
    assert_eq!(time, None);
    assert_eq!(
        got,
        StoreEvent::Data {
            collection: 0,
            event: ev,
            idem: Idem::default()
        }
    );
}

#[test]
fn metric_names_accept_the_aliases_and_refuse_others() {
    for m in ["squared_l2", "l2", "l2sq"] {
        assert_eq!(Metric::parse(m).unwrap(), Metric::SquaredL2);
    }
    assert_eq!(Metric::parse("cosine").unwrap(), Metric::Cosine);
    assert_eq!(Metric::parse("dot").unwrap(), Metric::Dot);
    let err = Metric::parse("euclid").unwrap_err();
    assert_eq!(err.code(), "INVALID_ARGUMENT");
    assert!(err.to_string().contains("cosine"), "{err}");
    for (m, c) in [
        (Metric::SquaredL2, 0),
        (Metric::Cosine, 1),
        (Metric::Dot, 2),
    ] {
        assert_eq!(m.code(), c);
        assert_eq!(Metric::from_code(c), Some(m));
    }
    assert_eq!(Metric::from_code(3), None);
}

#[test]
fn the_documented_example_entry_has_the_documented_bytes() {
    let ev = StoreEvent::Data {
        collection: 2,
        event: Event::DeleteRecord { id: 5 },
        idem: Idem::default(),
    };
    let expected = [
        0x80, 0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00, 0x03, 0x02, 0x00, 0x00, 0x00, 0x05,
        0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(encode_entry(1_700_000_000_000, &ev), expected);
}
