//! The timeline's reading of event-log entries: one entry per event type
//! with the ids it names, paging, the collection filter and its total.
//! Entries are encoded here by hand; expected values are written out.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use valori_kernel::entry::{encode_entry, CollectionConfig, Idem, Metric, StoreEvent};
use valori_kernel::event::{DocTarget, Event};
use valori_kernel::index::IndexConfig;
use valori_kernel::storage::StorageError;
use valori_kernel::timeline::{read_page, Page};

type Item = Result<(u64, Vec<u8>), StorageError>;

struct Unpark(thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drive a future on this thread (the kernel brings no executor).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = Box::pin(f);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

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

mod through_the_database {
    //! The timeline of a real event log: commit times, collection names,
    //! the filter, paging, and the error without a log.

    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::{SystemTime, UNIX_EPOCH};

    use valori_kernel::database::{CollectionSpec, Database};
    use valori_kernel::durable::PersistConfig;
    use valori_kernel::index::IndexConfig;
    use valori_kernel::state::Limits;
    use valori_kernel::storage::{SimVfs, StdVfs, Vfs};
    use valori_kernel::timeline::Timeline;

    use super::block_on;

    fn open(vfs: Arc<dyn Vfs>, cfg: &PersistConfig) -> Database {
        Database::open(
            vfs,
            Limits::new(2, 100, 100, 100),
            IndexConfig::default(),
            cfg,
        )
        .expect("open")
    }

    fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis() as u64
    }

    /// (log index, type, collection name, record, node, edge) per entry.
    type Row = (
        u64,
        String,
        Option<String>,
        Option<u32>,
        Option<u32>,
        Option<u32>,
    );

    fn rows(t: &Timeline) -> Vec<Row> {
        t.events
            .iter()
            .map(|e| {
                (
                    e.log_index,
                    e.event_type.to_string(),
                    e.collection.clone(),
                    e.record_id,
                    e.node_id,
                    e.edge_id,
                )
            })
            .collect()
    }

    fn row(
        seq: u64,
        ty: &str,
        coll: Option<&str>,
        ids: (Option<u32>, Option<u32>, Option<u32>),
    ) -> Row {
        (seq, ty.into(), coll.map(String::from), ids.0, ids.1, ids.2)
    }

    #[test]
    fn when_writes_are_committed_then_the_timeline_lists_them_with_names_and_times() {
        let cfg = PersistConfig {
            event_log: Some(PathBuf::from("/d/events.log")),
            ..Default::default()
        };
        let db = open(Arc::new(SimVfs::new()), &cfg);
        let before = now_ms();
        block_on(db.insert("default", vec![1.0, 2.0], 0, None)).unwrap();
        let spec = CollectionSpec {
            name: "a".into(),
            dim: 2,
            ..Default::default()
        };
        block_on(db.create_collection(spec, None)).unwrap();
        block_on(db.insert("a", vec![3.0, 4.0], 0, None)).unwrap();
        block_on(db.create_node("a", 1, Some(0), None)).unwrap();
        block_on(db.create_node("a", 2, None, None)).unwrap();
        block_on(db.create_edge("a", 0, 1, 3, None)).unwrap();
        block_on(db.delete_edge("a", 0, None)).unwrap();
        block_on(db.delete_node("a", 1, None)).unwrap();
        block_on(db.soft_delete_record("default", 0, None)).unwrap();
        let after = now_ms();

        let (d, a) = (Some("default"), Some("a"));
        let n = (None, None, None);
        let all = vec![
            row(1, "InsertRecord", d, (Some(0), None, None)),
            row(2, "CreateCollection", a, n),
            row(3, "InsertRecord", a, (Some(0), None, None)),
            row(4, "CreateNode", a, (Some(0), Some(0), None)),
            row(5, "CreateNode", a, (None, Some(1), None)),
            row(6, "CreateEdge", a, (None, None, Some(0))),
            row(7, "DeleteEdge", a, (None, None, Some(0))),
            row(8, "DeleteNode", a, (None, Some(1), None)),
            row(9, "SoftDeleteRecord", d, (Some(0), None, None)),
        ];
        let t = db.timeline(0, 100, None).unwrap();
        assert_eq!((rows(&t), t.total), (all.clone(), 9));
        for e in &t.events {
            let ms = e.time_ms.expect("the committer stamps every entry");
            assert!(
                before <= ms && ms <= after,
                "{ms} not in {before}..={after}"
            );
        }
        let t = db.timeline(3, 2, None).unwrap();
        assert_eq!((rows(&t), t.total), (all[2..4].to_vec(), 9));
        let t = db.timeline(10, 5, None).unwrap();
        assert_eq!((rows(&t), t.total), (vec![], 9));
        let t = db.timeline(0, 100, Some("default")).unwrap();
        assert_eq!(
            (rows(&t), t.total),
            (vec![all[0].clone(), all[8].clone()], 2)
        );
        let t = db.timeline(4, 3, Some("a")).unwrap();
        assert_eq!((rows(&t), t.total), (all[3..6].to_vec(), 7));
        let e = db.timeline(0, 10, Some("nope")).unwrap_err();
        assert_eq!(e.code(), "COLLECTION_NOT_FOUND");

        // Once `a` is dropped only its creation still carries its name.
        block_on(db.drop_collection("a", None)).unwrap();
        let t = db.timeline(0, 100, None).unwrap();
        assert_eq!(t.total, 10);
        let names: Vec<Option<String>> = t.events.iter().map(|e| e.collection.clone()).collect();
        let mut expected = vec![Some("a".to_string()); 10];
        expected[0] = Some("default".into());
        expected[8] = Some("default".into());
        for i in [2, 3, 4, 5, 6, 7, 9] {
            expected[i] = None;
        }
        assert_eq!(names, expected);
        assert_eq!(t.events[9].event_type, "DropCollection");
    }

    #[test]
    fn when_there_is_no_event_log_then_the_timeline_is_refused_naming_the_setting() {
        let db = open(Arc::new(StdVfs), &PersistConfig::default());
        let e = db.timeline(0, 10, None).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(e.to_string().contains("VALORI_EVENT_LOG_PATH"), "{e}");
        db.close();
        assert_eq!(db.timeline(0, 10, None).unwrap_err().code(), "CLOSED");
    }
}

mod after_a_trim {
    use std::path::PathBuf;
    use std::sync::Arc;

    use valori_kernel::database::Database;
    use valori_kernel::durable::PersistConfig;
    use valori_kernel::index::IndexConfig;
    use valori_kernel::state::Limits;
    use valori_kernel::storage::SimVfs;

    use super::block_on;

    #[test]
    fn when_the_log_was_trimmed_then_the_timeline_starts_at_its_first_entry() {
        let cfg = PersistConfig {
            event_log: Some(PathBuf::from("/d/events.log")),
            snapshot: Some(PathBuf::from("/d/snap.bin")),
            ..Default::default()
        };
        let db = Database::open(
            Arc::new(SimVfs::new()),
            Limits::new(2, 100, 100, 100),
            IndexConfig::default(),
            &cfg,
        )
        .expect("open");
        let insert = |v: f32| block_on(db.insert("default", vec![v, v], 0, None)).expect("insert");
        for i in 0..3 {
            insert(i as f32);
        }
        db.save_snapshot(None).expect("snapshot");
        assert_eq!(db.trim_log().expect("trim"), 3);
        insert(3.0);
        insert(4.0);
        let t = db.timeline(1, 10, None).unwrap();
        let seqs: Vec<(u64, Option<u32>)> = t
            .events
            .iter()
            .map(|e| (e.log_index, e.record_id))
            .collect();
        assert_eq!((seqs, t.total), (vec![(4, Some(3)), (5, Some(4))], 2));
        let t = db.timeline(0, 10, Some("default")).unwrap();
        assert_eq!((t.events.len(), t.total), (2, 2));
    }
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
