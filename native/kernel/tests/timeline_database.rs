//! The timeline of a real event log: commit times, collection names,
//! the filter, paging, and the error without a log.
//! Also: after a trim the timeline starts at the log's first entry.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use valori_kernel::database::{CollectionSpec, Database};
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::IndexConfig;
use valori_kernel::state::Limits;
use valori_kernel::storage::{SimVfs, StdVfs, Vfs};
use valori_kernel::timeline::Timeline;

use support::block_on;

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

mod after_a_trim {
    use super::block_on;
    use std::path::PathBuf;
    use std::sync::Arc;

    use valori_kernel::database::Database;
    use valori_kernel::durable::PersistConfig;
    use valori_kernel::index::IndexConfig;
    use valori_kernel::state::Limits;
    use valori_kernel::storage::SimVfs;

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
