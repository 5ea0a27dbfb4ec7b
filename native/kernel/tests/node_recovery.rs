//! Node-level durability: recovery order, snapshot + tail, trimmed logs,
//! corrupt snapshots, WAL mode and its upgrade to an event log, restore that
//! survives a restart, and a power-loss sweep over every crash point of a
//! mixed workload (every acknowledged write must survive every crash image).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use valori_kernel::database::Database;
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::IndexConfig;
use valori_kernel::ops::Op;
use valori_kernel::state::Limits;
use valori_kernel::storage::{SimVfs, Vfs};
use valori_kernel::store::codec;

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

fn open(vfs: &Arc<SimVfs>, cfg: &PersistConfig) -> Database {
    Database::open(
        vfs.clone() as Arc<dyn Vfs>,
        limits(),
        IndexConfig::default(),
        cfg,
    )
    .expect("open")
}

fn hash(n: &Database) -> [u8; 32] {
    codec::state_hash(&n.engine.read())
}

fn height(n: &Database) -> u64 {
    n.engine.read().height()
}

fn insert(n: &Database, i: i32) {
    n.engine
        .submit_sync(Op::Insert {
            vector: vec![i, -i, 2 * i, 7],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap();
}

#[test]
fn when_a_snapshot_exists_then_recovery_loads_it_and_replays_only_the_tail() {
    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    for i in 0..10 {
        insert(&n, i);
    }
    let snap = n.save_snapshot(None).unwrap();
    assert_eq!(snap.height, 10);
    for i in 10..15 {
        insert(&n, i);
    }
    let h = hash(&n);
    n.engine.close();
    let m = open(&vfs, &el());
    assert_eq!(m.report.source, "event_log");
    assert_eq!(m.report.snapshot_height, Some(10));
    assert_eq!(m.report.replayed, 5);
    assert_eq!(hash(&m), h);
    assert_eq!(height(&m), 15);
}

#[test]
fn when_the_log_is_trimmed_then_recovery_needs_and_uses_the_snapshot() {
    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    for i in 0..8 {
        insert(&n, i);
    }
    n.save_snapshot(None).unwrap();
    insert(&n, 100);
    assert_eq!(n.trim_log().unwrap(), 8);
    assert_eq!(n.log_proof().unwrap().unwrap().first_seq, 9);
    let h = hash(&n);
    n.engine.close();
    let m = open(&vfs, &el());
    assert_eq!(hash(&m), h);
    assert_eq!(m.report.replayed, 1);
    m.engine.close();
    // Without the snapshot files the trimmed log cannot be recovered: refuse, naming why.
    vfs.remove(std::path::Path::new("/d/snap.bin")).unwrap();
    let _ = vfs.remove(std::path::Path::new("/d/snap.bin.prev"));
    let err = Database::open(
        vfs.clone() as Arc<dyn Vfs>,
        limits(),
        IndexConfig::default(),
        &el(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("trimmed"), "{err}");
}

#[test]
fn when_the_newest_snapshot_is_corrupt_then_it_is_moved_aside_and_the_log_replays() {
    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    for i in 0..6 {
        insert(&n, i);
    }
    n.save_snapshot(None).unwrap();
    insert(&n, 6);
    let h = hash(&n);
    n.engine.close();
    let p = std::path::Path::new("/d/snap.bin");
    let mut bytes = vfs.file_bytes(p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    vfs.set_file_bytes(p, &bytes);
    let m = open(&vfs, &el());
    assert_eq!(hash(&m), h);
    assert!(!m.report.errors.is_empty(), "corruption is reported");
    assert!(
        m.report.errors[0].contains("moved aside"),
        "{:?}",
        m.report.errors
    );
    assert_eq!(m.report.replayed, 7);
}

#[test]
fn when_only_a_snapshot_path_is_set_then_state_comes_back_from_the_last_snapshot() {
    let vfs = Arc::new(SimVfs::new());
    let cfg = PersistConfig {
        snapshot: Some(PathBuf::from("/d/snap.bin")),
        ..Default::default()
    };
    let n = open(&vfs, &cfg);
    for i in 0..4 {
        insert(&n, i);
    }
    n.save_snapshot(None).unwrap();
    let h = hash(&n);
    insert(&n, 99); // not in any snapshot: lost by design in this mode
    n.engine.close();
    let m = open(&vfs, &cfg);
    assert_eq!(m.report.source, "snapshot");
    assert_eq!(hash(&m), h);
}

#[test]
fn when_upgrading_from_wal_to_event_log_then_the_proof_is_identical() {
    let vfs = Arc::new(SimVfs::new());
    let wal = PersistConfig {
        wal: Some(PathBuf::from("/d/wal.log")),
        snapshot: Some(PathBuf::from("/d/snap.bin")),
        ..Default::default()
    };
    let n = open(&vfs, &wal);
    for i in 0..5 {
        insert(&n, i);
    }
    n.save_snapshot(None).unwrap();
    // WAL mode: the WAL only holds what follows the last snapshot.
    assert_eq!(n.log_proof().unwrap().unwrap().event_count, 0);
    insert(&n, 5);
    let h_wal = hash(&n);
    n.engine.close();
    // A WAL node restarts from its snapshot + WAL tail.
    let n = open(&vfs, &wal);
    assert_eq!(n.report.source, "wal");
    assert_eq!(hash(&n), h_wal);
    // Guide §7.1: save a snapshot, switch to the event log, restart.
    n.save_snapshot(None).unwrap();
    n.engine.close();
    let ev = PersistConfig {
        event_log: Some(PathBuf::from("/d/events.log")),
        snapshot: Some(PathBuf::from("/d/snap.bin")),
        ..Default::default()
    };
    let m = open(&vfs, &ev);
    assert_eq!(m.report.source, "snapshot");
    assert_eq!(
        hash(&m),
        h_wal,
        "proof identical before and after the upgrade"
    );
    insert(&m, 42);
    let h2 = hash(&m);
    m.engine.close();
    let m = open(&vfs, &ev);
    assert_eq!(m.report.source, "event_log");
    assert_eq!(hash(&m), h2);
}

#[test]
fn when_a_snapshot_is_restored_then_it_survives_a_restart() {
    let src_vfs = Arc::new(SimVfs::new());
    let src = open(&src_vfs, &el());
    for i in 0..9 {
        insert(&src, i);
    }
    let (_, bytes) = src.snapshot_bytes().unwrap();
    let want = hash(&src);

    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    insert(&n, 1000);
    let h = n.restore(&bytes, false).unwrap();
    assert_eq!(
        h, 2,
        "an operator restore is the next height of this node's history"
    );
    assert_eq!(hash(&n), want);
    insert(&n, 2000);
    let after = hash(&n);
    n.engine.close();
    let m = open(&vfs, &el());
    assert_eq!(hash(&m), after);
    // A follower bootstrap keeps the leader's height.
    let f_vfs = Arc::new(SimVfs::new());
    let f = open(&f_vfs, &el());
    assert_eq!(f.restore(&bytes, true).unwrap(), 9);
    // Garbage is refused and changes nothing.
    let before = hash(&m);
    assert_eq!(
        m.restore(b"VAL1garbage", false).unwrap_err().code(),
        "CORRUPT_DATA"
    );
    assert_eq!(hash(&m), before);
}

#[test]
fn when_the_log_was_written_with_another_dim_then_open_refuses_naming_both() {
    let vfs = Arc::new(SimVfs::new());
    open(&vfs, &el()).engine.close();
    let other = Limits { dim: 8, ..limits() };
    let err = Database::open(
        vfs.clone() as Arc<dyn Vfs>,
        other,
        IndexConfig::default(),
        &el(),
    )
    .err()
    .unwrap();
    let msg = err.to_string();
    assert!(msg.contains('4') && msg.contains('8'), "{msg}");
}

#[test]
fn when_fsync_fails_then_the_write_fails_and_the_node_turns_read_only() {
    let vfs = Arc::new(SimVfs::new());
    let n = open(&vfs, &el());
    insert(&n, 1);
    // Fail the very next I/O call (the append's write or sync).
    vfs.fail_call(1, valori_kernel::storage::vfs::Errno::Eio);
    let e = n
        .engine
        .submit_sync(Op::Insert {
            vector: vec![1, 2, 3, 4],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "IO_ERROR");
    assert!(n.engine.is_read_only());
    let e = n
        .engine
        .submit_sync(Op::Insert {
            vector: vec![1, 2, 3, 4],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap_err();
    assert_eq!(e.code(), "READ_ONLY");
}

/// A mixed workload on a simulated disk that loses power after `cut`
/// mutating I/O calls. Returns the hash after every height reached in
/// memory (a refused group is rolled back, so only durable heights) and the
/// highest acknowledged height.
fn workload(vfs: &Arc<SimVfs>) -> (HashMap<u64, [u8; 32]>, u64) {
    let mut hashes = HashMap::new();
    hashes.insert(
        0,
        codec::state_hash(&valori_kernel::store::Store::new(
            limits(),
            IndexConfig::default(),
        )),
    );
    let mut acked = 0;
    let Ok(n) = Database::open(
        vfs.clone() as Arc<dyn Vfs>,
        limits(),
        IndexConfig::default(),
        &el(),
    ) else {
        return (hashes, 0);
    };
    hashes.insert(0, hash(&n));
    let ops: Vec<Op> = vec![
        Op::Insert {
            vector: vec![1, 2, 3, 4],
            tag: 0,
            payload: Default::default(),
        },
        Op::InsertBatch {
            vectors: (0..12).collect(),
            count: 3,
            payloads: Vec::new(),
        },
        Op::Insert {
            vector: vec![5, 6, 7, 8],
            tag: 3,
            payload: Default::default(),
        },
        Op::SoftDelete { id: 1 },
        Op::CreateNode {
            kind: 2,
            record: Some(0),
        },
        Op::SetMetadata {
            key: "k".into(),
            value: b"{\"v\":1}".to_vec(),
        },
        Op::Delete { id: 2 },
        Op::Insert {
            vector: vec![9, 9, 9, 9],
            tag: 0,
            payload: Default::default(),
        },
    ];
    for (i, op) in ops.into_iter().enumerate() {
        if i == 4 {
            let _ = n.save_snapshot(None);
        }
        if i == 6 {
            let _ = n.trim_log();
        }
        let ok = n.engine.submit_sync(op).is_ok();
        hashes.insert(height(&n), hash(&n));
        if ok {
            acked = height(&n);
        }
    }
    (hashes, acked)
}

#[test]
fn when_power_is_lost_at_any_io_step_then_every_acknowledged_write_survives() {
    // Count the mutating calls of a clean run.
    let probe = Arc::new(SimVfs::new());
    let (clean, total_acked) = workload(&probe);
    assert!(total_acked >= 8);
    let total = probe.mutations();
    let mut states = 0u64;
    for cut in 0..=total {
        let vfs = Arc::new(SimVfs::new());
        vfs.freeze_after(cut);
        let (hashes, acked) = workload(&vfs);
        // A refused group leaves no trace in memory: every height the node
        // showed is one the clean run reached, with the same state.
        for (h, x) in &hashes {
            assert_eq!(
                clean.get(h),
                Some(x),
                "cut {cut}: in-memory state at height {h} differs from the clean run"
            );
        }
        for mode in vfs.crash_modes() {
            let img = Arc::new(vfs.crash_image(&mode));
            let n = match Database::open(
                img.clone() as Arc<dyn Vfs>,
                limits(),
                IndexConfig::default(),
                &el(),
            ) {
                Ok(n) => n,
                Err(e) => panic!("cut {cut} mode {mode:?}: recovery failed: {e}"),
            };
            let h = height(&n);
            assert!(
                h >= acked,
                "cut {cut} mode {mode:?}: recovered height {h} < acknowledged {acked}"
            );
            // A group whose fsync failed may still be on disk (never acknowledged, rolled back in
            // memory): recovery may bring it back, and it must equal the clean run's state there.
            assert_eq!(
                Some(&hash(&n)),
                clean.get(&h),
                "cut {cut} mode {mode:?}: state at height {h} differs"
            );
            states += 1;
        }
    }
    println!("node-level power-loss sweep: {total} crash points, {states} crash states checked");
    assert!(
        states >= total,
        "every crash point produced at least one image"
    );
}
