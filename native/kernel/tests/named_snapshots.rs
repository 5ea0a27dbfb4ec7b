//! Named snapshots can never address a file the node keeps (event log, WAL,
//! main snapshot and their derived names) or anything outside their own
//! directory; their number is bounded; a file that is not a snapshot is
//! never replaced. Restore validates size and the saved index's live set.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use valori_kernel::database::Database;
use valori_kernel::durable::{self, PersistConfig};
use valori_kernel::index::{IndexConfig, IndexKind};
use valori_kernel::ops::Op;
use valori_kernel::state::Limits;
use valori_kernel::storage::{decode_snapshot, encode_snapshot, SimVfs, SnapshotParts, Vfs};
use valori_kernel::KernelError;

const DIM: usize = 4;

fn limits() -> Limits {
    Limits::new(DIM, 10_000, 100, 100)
}

fn el() -> PersistConfig {
    PersistConfig {
        event_log: Some(PathBuf::from("/d/events.log")),
        snapshot: Some(PathBuf::from("/d/snap.bin")),
        ..Default::default()
    }
}

fn open_with(vfs: &Arc<SimVfs>, cfg: &PersistConfig, ix: IndexConfig) -> Database {
    Database::open(vfs.clone() as Arc<dyn Vfs>, limits(), ix, cfg).expect("open")
}

fn open(vfs: &Arc<SimVfs>, cfg: &PersistConfig) -> Database {
    open_with(vfs, cfg, IndexConfig::default())
}

fn insert(n: &Database, i: i32) -> u32 {
    n.engine
        .submit_sync(Op::Insert {
            vector: vec![i, -i, 2 * i, 7],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap()
        .ids[0]
}

fn hash(n: &Database) -> [u8; 32] {
    valori_kernel::store::codec::state_hash(&n.engine.read())
}

fn is_invalid(r: Result<impl std::fmt::Debug, KernelError>) -> bool {
    matches!(r, Err(KernelError::InvalidArgument(_)))
}

#[test]
fn when_a_named_save_addresses_the_log_the_wal_the_main_snapshot_or_a_path_then_it_is_refused_and_the_log_stays_live(
) {
    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    for i in 0..3 {
        insert(&n, i);
    }
    n.save_snapshot(None).unwrap();
    let log_before = vfs.file_bytes(Path::new("/d/events.log")).unwrap();
    let hostile = [
        "events.log",
        "EVENTS.LOG",
        "events.log.prev",
        "events.log.snapshot",
        "events.log.broken-1",
        "snap.bin",
        "snap.bin.prev",
        "snap.bin.tmp",
        "../x",
        "../events.log",
        "/d/events.log",
        "a/b",
        ".hidden",
        "..",
        ".",
        "",
        "x\0y",
        "name with space",
        &"a".repeat(300),
    ];
    for name in hostile {
        assert!(
            is_invalid(n.save_snapshot(Some(name))),
            "save {name:?} must be refused"
        );
        assert!(
            is_invalid(n.read_snapshot_file(name)),
            "read {name:?} must be refused"
        );
    }
    assert_eq!(
        vfs.file_bytes(Path::new("/d/events.log")).unwrap(),
        log_before,
        "the log was not touched"
    );
    let listed: Vec<PathBuf> = vfs.list_dir(Path::new("/d")).unwrap();
    assert!(
        listed
            .iter()
            .all(|p| !p.to_string_lossy().contains("broken")),
        "nothing quarantined: {listed:?}"
    );
    // Writes after the refused saves are acknowledged, logged and survive a restart.
    for i in 3..6 {
        insert(&n, i);
    }
    let h = hash(&n);
    n.engine.close();
    let m = open(&vfs, &el());
    assert!(m.report.errors.is_empty(), "{:?}", m.report.errors);
    assert_eq!(m.engine.read().height(), 6);
    assert_eq!(hash(&m), h);
}

#[test]
fn when_the_wal_is_in_use_then_its_name_is_refused_as_a_snapshot_name() {
    let vfs = Arc::new(SimVfs::new());
    let cfg = PersistConfig {
        wal: Some(PathBuf::from("/d/valori.wal")),
        snapshot: Some(PathBuf::from("/d/snap.bin")),
        ..Default::default()
    };
    let n = open(&vfs, &cfg);
    insert(&n, 1);
    for name in ["valori.wal", "valori.wal.prev", "snap.bin"] {
        assert!(is_invalid(n.save_snapshot(Some(name))), "{name}");
    }
    assert!(n.save_snapshot(Some("ok.val1")).is_ok());
}

#[test]
fn when_a_name_is_saved_then_it_lives_in_the_snapshots_directory_and_the_answer_is_the_bare_name() {
    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    insert(&n, 1);
    let info = n.save_snapshot(Some("backup-1.val1")).unwrap();
    assert_eq!(info.name, "backup-1.val1");
    let bytes = vfs
        .file_bytes(Path::new("/d/snapshots/backup-1.val1"))
        .expect("file in snapshots/");
    assert_eq!(&bytes[..4], b"VAL1");
    assert_eq!(n.read_snapshot_file("backup-1.val1").unwrap(), bytes);
    // Restoring it by name gives the state it holds, as a restore of its bytes does.
    let saved = hash(&n);
    insert(&n, 2);
    let twin = open(&Arc::new(SimVfs::new()), &el());
    insert(&twin, 1);
    insert(&twin, 2);
    assert_eq!(n.restore_named("backup-1.val1").unwrap(), 3);
    assert_eq!(twin.restore(&bytes, false).unwrap(), 3);
    assert_eq!(hash(&n), hash(&twin));
    assert_eq!(
        hash(&n),
        saved,
        "the state the snapshot held, record 2 gone"
    );
    assert!(matches!(
        n.restore_named("nope.val1"),
        Err(KernelError::NotFound(_))
    ));
    let main = n.save_snapshot(None).unwrap();
    assert_eq!(main.name, "snap.bin");
    assert!(vfs
        .list_dir(Path::new("/d/snapshots"))
        .unwrap()
        .iter()
        .all(|p| !p.to_string_lossy().ends_with(".tmp")));
}

#[test]
fn when_the_named_snapshot_cap_is_reached_then_a_new_name_is_refused_but_an_existing_one_can_be_overwritten(
) {
    let vfs = Arc::new(SimVfs::new());
    let cfg = PersistConfig {
        max_named_snapshots: Some(2),
        ..el()
    };
    let n = open(&vfs, &cfg);
    insert(&n, 1);
    n.save_snapshot(Some("a")).unwrap();
    n.save_snapshot(Some("b")).unwrap();
    match n.save_snapshot(Some("c")) {
        Err(KernelError::CapacityExceeded(m)) => assert!(
            m.contains("VALORI_MAX_NAMED_SNAPSHOTS") && m.contains('2'),
            "{m}"
        ),
        other => panic!("expected CapacityExceeded, got {other:?}"),
    }
    insert(&n, 2);
    let again = n.save_snapshot(Some("a")).unwrap();
    assert_eq!(again.height, 2);
    assert_eq!(vfs.list_dir(Path::new("/d/snapshots")).unwrap().len(), 2);
}

#[test]
fn when_a_file_with_the_name_exists_and_is_not_a_snapshot_then_the_save_is_refused_and_the_file_kept(
) {
    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    insert(&n, 1);
    let p = Path::new("/d/snapshots/notes.txt");
    vfs.set_file_bytes(p, b"operator notes, not a snapshot");
    assert!(is_invalid(n.save_snapshot(Some("notes.txt"))));
    assert_eq!(
        vfs.file_bytes(p).unwrap(),
        b"operator notes, not a snapshot"
    );
    assert!(vfs
        .list_dir(Path::new("/d/snapshots"))
        .unwrap()
        .iter()
        .all(|p| !p.to_string_lossy().contains("broken")));
}

#[test]
fn when_a_named_restore_is_unknown_or_corrupt_then_not_found_or_corrupt_and_nothing_changes() {
    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    insert(&n, 1);
    let h = hash(&n);
    assert!(matches!(
        n.read_snapshot_file("nope.val1"),
        Err(KernelError::NotFound(_))
    ));
    vfs.set_file_bytes(Path::new("/d/snapshots/bad.val1"), b"VAL1 garbage");
    let bytes = n.read_snapshot_file("bad.val1").unwrap();
    match n.restore(&bytes, false) {
        Err(KernelError::Corrupt(m)) => assert!(m.contains("snapshot"), "the reason is given: {m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert_eq!(hash(&n), h);
}

#[test]
fn when_a_snapshot_is_above_the_byte_limit_then_restore_and_read_refuse_it() {
    let vfs = Arc::new(SimVfs::new());
    let cfg = PersistConfig {
        max_snapshot_bytes: Some(64),
        ..el()
    };
    let n = open(&vfs, &cfg);
    insert(&n, 1);
    n.save_snapshot(Some("big")).unwrap();
    let (_, bytes) = n.snapshot_bytes().unwrap();
    assert!(bytes.len() > 64);
    for r in [
        n.restore(&bytes, false).map(|_| ()),
        n.read_snapshot_file("big").map(|_| ()),
    ] {
        match r {
            Err(KernelError::InvalidArgument(m)) => {
                assert!(m.contains("VALORI_MAX_SNAPSHOT_BYTES"), "{m}")
            }
            other => panic!("expected the byte limit, got {other:?}"),
        }
    }
}

/// A node with an HNSW index, `n` records inserted and `deleted` removed.
fn hnsw_node(vfs: &Arc<SimVfs>, n: i32, deleted: u32) -> Database {
    let ix = IndexConfig {
        kind: IndexKind::Hnsw,
        ..IndexConfig::default()
    };
    let node = open_with(vfs, &PersistConfig::default(), ix);
    for i in 0..n {
        insert(&node, i + 1);
    }
    node.engine.submit_sync(Op::Delete { id: deleted }).unwrap();
    node
}

#[test]
fn when_an_uploaded_index_has_the_right_count_but_another_live_set_then_it_is_rebuilt() {
    let ix = IndexConfig {
        kind: IndexKind::Hnsw,
        ..IndexConfig::default()
    };
    // Past the first window of 64 records, so both graphs hold records.
    let a = hnsw_node(&Arc::new(SimVfs::new()), 70, 3);
    let b = hnsw_node(&Arc::new(SimVfs::new()), 70, 5);
    let (_, a_bytes) = a.snapshot_bytes().unwrap();
    let (_, b_bytes) = b.snapshot_bytes().unwrap();
    let own = durable::decode_store(&a_bytes, limits(), ix).unwrap();
    assert!(!own.index_rebuilt, "a consistent index is used as saved");
    let (meta, a_parts) = decode_snapshot(&a_bytes).unwrap();
    let (_, b_parts) = decode_snapshot(&b_bytes).unwrap();
    let mixed = encode_snapshot(
        &meta,
        &SnapshotParts {
            kernel: a_parts.kernel,
            metadata: a_parts.metadata,
            index: b_parts.index,
        },
    )
    .unwrap();
    let r = durable::decode_store(&mixed, limits(), ix).unwrap();
    assert!(
        r.index_rebuilt,
        "same live count (63 in the graph), different live set: the index is rebuilt"
    );
    // Record 5 is live in the state, so a search for its vector finds it.
    let hits = r
        .store
        .default_collection()
        .db
        .search(&[6, -6, 12, 7], 1, Default::default(), None);
    assert_eq!(hits.first().map(|h| h.1), Some(5));
}
