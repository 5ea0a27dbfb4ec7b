//! Event encoding: round trips, lengths, prefixes, hostile bytes.

use super::*;
use proptest::prelude::*;

fn samples() -> Vec<Event> {
    vec![
        Event::InsertRecord {
            id: 7,
            tag: 42,
            vector: vec![1, -2, 3],
            payload: Default::default(),
        },
        Event::InsertBatch {
            first_id: 3,
            count: 2,
            vectors: vec![1, 2, 3, 4],
            payloads: Vec::new(),
        },
        Event::DeleteRecord { id: 9 },
        Event::SoftDeleteRecord { id: 1 },
        Event::CreateNode {
            id: 0,
            kind: 255,
            record: None,
        },
        Event::CreateNode {
            id: 1,
            kind: 6,
            record: Some(4),
        },
        Event::CreateEdge {
            id: 2,
            from: 0,
            to: 1,
            kind: 3,
        },
        Event::SetMetadata {
            key: "rec:1".into(),
            value: b"{\"a\":1}".to_vec(),
        },
        Event::UpsertMemory {
            record_id: 1,
            tag: 0,
            vector: vec![5, 6],
            doc: DocTarget::New(3),
            chunk_node: 4,
            edge_id: 5,
            metadata: Some(b"null".to_vec()),
        },
        Event::UpsertMemory {
            record_id: 2,
            tag: 0,
            vector: vec![5, 6],
            doc: DocTarget::Existing(3),
            chunk_node: 6,
            edge_id: 7,
            metadata: None,
        },
    ]
}

#[test]
fn every_event_round_trips() {
    for e in samples() {
        assert_eq!(Event::decode(&e.encode()).unwrap(), e);
    }
}

#[test]
fn encoded_len_equals_the_encoding_length() {
    for e in samples() {
        assert_eq!(e.encoded_len(), e.encode().len(), "{}", e.name());
    }
}

#[test]
fn every_strict_prefix_fails_cleanly() {
    for e in samples() {
        let b = e.encode();
        for n in 0..b.len() {
            assert!(Event::decode(&b[..n]).is_err());
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Event::decode(&b);
    }

    #[test]
    fn huge_declared_lengths_are_rejected(t in 1u8..9, len in any::<u32>()) {
        let mut b = vec![t];
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        let _ = Event::decode(&b);
    }
}
