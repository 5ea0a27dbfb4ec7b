//! A version-1 event log and snapshot (tests/fixtures, written by the kernel
//! before collections existed) are upgraded at open: their content becomes
//! collection `default`, the log is rewritten as version 2 with the same
//! chain, and writes go on.
//!
//! The fixture's writes (dim 4, components are the Q16.16 raw values of
//! v(i) = [i, -i/2, 2i, 7]): insert v(1) tag 5; insert v(2); batch v(3), v(4);
//! node kind 1 → record 0; node kind 2; edge 0 → 1 kind 3; metadata k =
//! {"a":1}; upsert v(5) with metadata "m"; soft delete 1; snapshot at
//! height 9; delete 2; insert v(6) tag 9; upsert v(7) attached to node 2;
//! metadata k = 2. `v1.state-hash.txt`: the height and the version-1 state
//! hash the old kernel reported for it.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use support::block_on;
use valori_kernel::codec;
use valori_kernel::database::Database;
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::IndexConfig;
use valori_kernel::ops::Op;
use valori_kernel::state::Limits;
use valori_kernel::storage::StdVfs;

fn limits() -> Limits {
    Limits::new(4, 100, 100, 100)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fresh directory holding copies of the named fixtures.
fn workdir(tag: &str, files: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("valori-upgrade-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in files {
        std::fs::copy(fixtures().join(f), dir.join(f)).unwrap();
    }
    dir
}

fn open(cfg: &PersistConfig) -> Database {
    Database::open(Arc::new(StdVfs), limits(), IndexConfig::default(), cfg).expect("open")
}

fn v(i: i32) -> Vec<i32> {
    vec![i * 65536, -i * 32768, 2 * i * 65536, 7 * 65536]
}

/// The fixture's writes, the first `n` of them, applied by today's kernel.
fn oracle(n: usize) -> Database {
    let db = Database::open(
        Arc::new(StdVfs),
        limits(),
        IndexConfig::default(),
        &PersistConfig::default(),
    )
    .unwrap();
    let ops = vec![
        Op::Insert {
            vector: v(1),
            tag: 5,
            payload: Default::default(),
        },
        Op::Insert {
            vector: v(2),
            tag: 0,
            payload: Default::default(),
        },
        Op::InsertBatch {
            vectors: [v(3), v(4)].concat(),
            count: 2,
            payloads: Vec::new(),
        },
        Op::CreateNode {
            kind: 1,
            record: Some(0),
        },
        Op::CreateNode {
            kind: 2,
            record: None,
        },
        Op::CreateEdge {
            from: 0,
            to: 1,
            kind: 3,
        },
        Op::SetMetadata {
            key: "k".into(),
            value: b"{\"a\":1}".to_vec(),
        },
        Op::Upsert {
            vector: v(5),
            tag: 0,
            attach: None,
            metadata: Some(b"\"m\"".to_vec()),
        },
        Op::SoftDelete { id: 1 },
        Op::Delete { id: 2 },
        Op::Insert {
            vector: v(6),
            tag: 9,
            payload: Default::default(),
        },
        Op::Upsert {
            vector: v(7),
            tag: 0,
            attach: Some(2),
            metadata: None,
        },
        Op::SetMetadata {
            key: "k".into(),
            value: b"2".to_vec(),
        },
    ];
    for op in ops.into_iter().take(n) {
        db.engine.submit_sync(op).unwrap();
    }
    db
}

fn v1_hash() -> (u64, String) {
    let t = std::fs::read_to_string(fixtures().join("v1.state-hash.txt")).unwrap();
    let (h, x) = t.trim().split_once(' ').unwrap();
    (h.parse().unwrap(), x.to_string())
}

fn default_state_hash(db: &Database) -> String {
    codec::hex(&codec::state_hash(
        db.engine.read().default_collection().state(),
    ))
}

#[test]
fn when_a_version_1_log_and_snapshot_are_opened_then_they_become_collection_default() {
    let dir = workdir("log", &["v1.events", "v1.snapshot"]);
    let cfg = PersistConfig {
        event_log: Some(dir.join("v1.events")),
        snapshot: Some(dir.join("v1.snapshot")),
        ..Default::default()
    };
    {
        let db = open(&cfg);
        let r = db.recovery().unwrap();
        // The snapshot is used: its chain value matches the rewritten log's,
        // so the upgrade kept every payload and the chain.
        assert_eq!((r.snapshot_height, r.replayed, r.height), (Some(9), 4, 13));
        // The collection's data is byte for byte what the old kernel hashed.
        assert_eq!((db.height(), default_state_hash(&db)), v1_hash());
        assert_eq!(
            db.state_proof(None).unwrap(),
            oracle(13).state_proof(None).unwrap()
        );
        let header = std::fs::read(dir.join("v1.events")).unwrap();
        assert_eq!(
            &header[8..12],
            &2u32.to_le_bytes(),
            "rewritten as version 2"
        );
        block_on(db.insert("default", vec![0.25; 4], 3, None)).unwrap();
        db.close();
    }
    let db = open(&cfg);
    assert_eq!(db.height(), 14);
    let expected = oracle(13);
    block_on(expected.insert("default", vec![0.25; 4], 3, None)).unwrap();
    assert_eq!(
        db.state_proof(None).unwrap(),
        expected.state_proof(None).unwrap()
    );
    // Version-1 entries and a version-2 one, read back for a follower.
    let events = db.read_events(1, 100, 1 << 20).unwrap();
    assert_eq!(events.len(), 14);
    let follower = oracle(0);
    for (seq, p) in events {
        block_on(follower.apply_replicated(seq, p)).unwrap();
    }
    assert_eq!(
        follower.state_proof(None).unwrap(),
        db.state_proof(None).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn when_only_a_version_1_snapshot_exists_then_it_loads_as_collection_default() {
    let dir = workdir("snap", &["v1.snapshot"]);
    let cfg = PersistConfig {
        snapshot: Some(dir.join("v1.snapshot")),
        ..Default::default()
    };
    let db = open(&cfg);
    let r = db.recovery().unwrap();
    assert_eq!((r.source.as_str(), r.height), ("snapshot", 9));
    assert_eq!(
        db.state_proof(None).unwrap(),
        oracle(9).state_proof(None).unwrap()
    );
    // Restoring the same bytes into a running node works the same way.
    let bytes = std::fs::read(fixtures().join("v1.snapshot")).unwrap();
    let other = oracle(0);
    other.restore(&bytes, true).unwrap();
    assert_eq!(
        other.state_proof(None).unwrap(),
        db.state_proof(None).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
