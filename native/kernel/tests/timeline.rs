//! The timeline's reading of event-log entries: one entry per event type
//! with the ids it names, paging, the collection filter and its total.
//! Entries are encoded here by hand; expected values are written out.

use valori_kernel::entry::{encode_entry, CollectionConfig, Idem, Metric, StoreEvent};
use valori_kernel::event::{DocTarget, Event};
use valori_kernel::index::IndexConfig;
use valori_kernel::storage::StorageError;
use valori_kernel::timeline::{read_page, Page};

type Item = Result<(u64, Vec<u8>), StorageError>;

fn data(collection: u32, event: Event) -> StoreEvent {
    StoreEvent::Data {
        collection,
        event,
        idem: Idem::default(),
    }
}

/// A log of 14 entries: seq 1 written before collections (a version-1
/// payload: collection 0, no time), then one of every event type, each
/// stamped 1000 + seq ms.
fn log() -> Vec<(u64, Vec<u8>)> {
    let v1 = Event::InsertRecord {
        id: 0,
        tag: 0,
        vector: vec![1, 2],
        payload: Default::default(),
    }
    .encode();
    let events = [
        StoreEvent::CreateCollection {
            id: 1,
            name: "a".into(),
            config: CollectionConfig {
                dim: 2,
                metric: Metric::SquaredL2,
                max_records: None,
                index: IndexConfig::default(),
            },
            idem: Idem::default(),
        },
        data(
            1,
            Event::InsertBatch {
                first_id: 0,
                count: 2,
                vectors: vec![1, 2, 3, 4],
                payloads: Vec::new(),
            },
        ),
        data(
            1,
            Event::CreateNode {
                id: 0,
                kind: 1,
                record: Some(1),
            },
        ),
        data(
            1,
            Event::CreateNode {
                id: 1,
                kind: 2,
                record: None,
            },
        ),
        data(
            1,
            Event::CreateEdge {
                id: 0,
                from: 0,
                to: 1,
                kind: 3,
            },
        ),
        data(
            1,
            Event::UpsertMemory {
                record_id: 2,
                tag: 0,
                vector: vec![5, 6],
                doc: DocTarget::New(2),
                chunk_node: 3,
                edge_id: 1,
                metadata: None,
            },
        ),
        data(
            1,
            Event::SetMetadata {
                key: "k".into(),
                value: b"1".to_vec(),
            },
        ),
        data(1, Event::DeleteEdge { id: 0 }),
        data(1, Event::DeleteNode { id: 1 }),
        data(0, Event::SoftDeleteRecord { id: 0 }),
        data(
            0,
            Event::InsertRecord {
                id: 1,
                tag: 9,
                vector: vec![0, 0],
                payload: Default::default(),
            },
        ),
        data(0, Event::DeleteRecord { id: 0 }),
        StoreEvent::DropCollection {
            id: 1,
            idem: Idem::default(),
        },
    ];
    let mut out = vec![(1, v1)];
    for (i, ev) in events.iter().enumerate() {
        let seq = i as u64 + 2;
        out.push((seq, encode_entry(1000 + seq, ev)));
    }
    out
}

fn from_log(entries: &[(u64, Vec<u8>)], start: u64) -> impl Iterator<Item = Item> + '_ {
    entries
        .iter()
        .filter(move |(s, _)| *s >= start)
        .map(|(s, p)| Ok((*s, p.clone())))
}

type Row = (
    u64,
    &'static str,
    u32,
    Option<String>,
    Option<u32>,
    Option<u32>,
    Option<u32>,
    Option<u64>,
);

/// (seq, type, collection id, name carried, record, node, edge, time).
fn rows(p: &Page) -> Vec<Row> {
    p.events
        .iter()
        .map(|(e, c)| {
            (
                e.log_index,
                e.event_type,
                *c,
                e.collection.clone(),
                e.record_id,
                e.node_id,
                e.edge_id,
                e.time_ms,
            )
        })
        .collect()
}

const N: Option<u32> = None;

#[test]
fn when_reading_the_whole_log_then_every_event_type_names_its_ids() {
    let l = log();
    let p = read_page(from_log(&l, 1), 1, 100, None, 14).unwrap();
    assert_eq!(p.total, 14);
    assert_eq!(
        rows(&p),
        vec![
            (1, "InsertRecord", 0, None, Some(0), N, N, None),
            (
                2,
                "CreateCollection",
                1,
                Some("a".into()),
                N,
                N,
                N,
                Some(1002)
            ),
            (3, "InsertBatch", 1, None, Some(0), N, N, Some(1003)),
            (4, "CreateNode", 1, None, Some(1), Some(0), N, Some(1004)),
            (5, "CreateNode", 1, None, N, Some(1), N, Some(1005)),
            (6, "CreateEdge", 1, None, N, N, Some(0), Some(1006)),
            (
                7,
                "UpsertMemory",
                1,
                None,
                Some(2),
                Some(3),
                Some(1),
                Some(1007)
            ),
            (8, "SetMetadata", 1, None, N, N, N, Some(1008)),
            (9, "DeleteEdge", 1, None, N, N, Some(0), Some(1009)),
            (10, "DeleteNode", 1, None, N, Some(1), N, Some(1010)),
            (11, "SoftDeleteRecord", 0, None, Some(0), N, N, Some(1011)),
            (12, "InsertRecord", 0, None, Some(1), N, N, Some(1012)),
            (13, "DeleteRecord", 0, None, Some(0), N, N, Some(1013)),
            (14, "DropCollection", 1, None, N, N, N, Some(1014)),
        ]
    );
}

fn seqs(p: &Page) -> Vec<u64> {
    p.events.iter().map(|(e, _)| e.log_index).collect()
}

#[test]
fn when_paging_then_pages_start_at_from_and_hold_at_most_limit() {
    let l = log();
    let p = read_page(from_log(&l, 5), 5, 3, None, 14).unwrap();
    assert_eq!((seqs(&p), p.total), (vec![5, 6, 7], 14));
    let p = read_page(from_log(&l, 13), 13, 3, None, 14).unwrap();
    assert_eq!((seqs(&p), p.total), (vec![13, 14], 14));
    let p = read_page(from_log(&l, 15), 15, 3, None, 14).unwrap();
    assert_eq!((seqs(&p), p.total), (vec![], 14));
    let p = read_page(from_log(&l, 1), 1, 0, None, 14).unwrap();
    assert_eq!((seqs(&p), p.total), (vec![], 14));
}

#[test]
fn when_filtering_by_collection_then_only_its_events_count_and_show() {
    let l = log();
    // Collection 1: seqs 2..=10 and 14 (10 events); collection 0: 1, 11, 12, 13.
    let p = read_page(from_log(&l, 1), 1, 4, Some(1), 14).unwrap();
    assert_eq!((seqs(&p), p.total), (vec![2, 3, 4, 5], 10));
    let p = read_page(from_log(&l, 1), 9, 4, Some(1), 14).unwrap();
    assert_eq!((seqs(&p), p.total), (vec![9, 10, 14], 10));
    let p = read_page(from_log(&l, 1), 2, 10, Some(0), 14).unwrap();
    assert_eq!((seqs(&p), p.total), (vec![11, 12, 13], 4));
    let p = read_page(from_log(&l, 1), 1, 10, Some(7), 14).unwrap();
    assert_eq!((seqs(&p), p.total), (vec![], 0));
}

#[test]
fn when_an_entry_does_not_decode_then_the_read_fails_with_corrupt_data() {
    let mut l = log();
    l[3].1.truncate(12);
    let e = read_page(from_log(&l, 1), 1, 100, None, 14).unwrap_err();
    assert_eq!(e.code(), "CORRUPT_DATA");
    // A page that ends before the bad entry never reads it.
    let p = read_page(from_log(&l, 1), 1, 2, None, 14).unwrap();
    assert_eq!(seqs(&p), vec![1, 2]);
}

/// (tag, kind, from node, to node, count) of each entry.
type Extra = (
    Option<u64>,
    Option<u8>,
    Option<u32>,
    Option<u32>,
    Option<u32>,
);

#[test]
fn when_an_event_has_a_tag_kind_edge_ends_or_count_then_its_entry_carries_them() {
    let l = log();
    let p = read_page(from_log(&l, 1), 1, 100, None, 14).unwrap();
    let extras: Vec<Extra> = p
        .events
        .iter()
        .map(|(e, _)| (e.tag, e.kind, e.from_node, e.to_node, e.count))
        .collect();
    let none: Extra = (None, None, None, None, None);
    let mut expected = vec![none; 14];
    expected[0] = (Some(0), None, None, None, None); // InsertRecord, tag 0
    expected[2] = (None, None, None, None, Some(2)); // InsertBatch of 2
    expected[3] = (None, Some(1), None, None, None); // CreateNode kind 1
    expected[4] = (None, Some(2), None, None, None); // CreateNode kind 2
    expected[5] = (None, Some(3), Some(0), Some(1), None); // CreateEdge 0 -> 1, kind 3
    expected[6] = (Some(0), None, None, None, None); // UpsertMemory, tag 0
    expected[11] = (Some(9), None, None, None, None); // InsertRecord, tag 9
    assert_eq!(extras, expected);
}
