//! The same writes across several collections give the same whole-state
//! hash after a restart (replay), a snapshot restore, on a follower applying
//! the leader's log entries, and in a node that ran them in another order of
//! groups; each collection's own hash ignores the others.

mod support;

use std::sync::Arc;

use support::*;
use valori_kernel::database::{CollectionSpec, Database};
use valori_kernel::storage::SimVfs;

/// Writes over three collections (one with HNSW), with drops and keys.
fn workload(db: &Database) {
    let hnsw = CollectionSpec {
        index: Some("hnsw".into()),
        ..spec("h", 3)
    };
    block_on(db.create_collection(hnsw, key(1))).unwrap();
    create(db, "a", 2);
    create(db, "gone", 2);
    for i in 0..20 {
        let x = i as f32 / 4.0;
        insert(db, D, &[x, -x]).unwrap();
        insert(db, "a", &[-x, x]).unwrap();
        block_on(db.insert("h", vec![x, x, -x], i, key(100 + i as u8))).unwrap();
    }
    // Past the first window of 64 records, so the graph holds some.
    for i in 20..70u64 {
        let x = i as f32 / 4.0;
        block_on(db.insert("h", vec![x, -x, x], i, None)).unwrap();
    }
    insert(db, "gone", &[1.0, 1.0]).unwrap();
    let n = block_on(db.create_node("a", 1, Some(3), None)).unwrap().ids[0];
    let m = block_on(db.create_node("a", 2, None, None)).unwrap().ids[0];
    block_on(db.create_edge("a", n, m, 4, None)).unwrap();
    block_on(db.upsert_memory(D, vec![0.5, 0.5], None, Some("{\"t\":1}".into()), None)).unwrap();
    block_on(db.soft_delete_record("h", 2, None)).unwrap();
    block_on(db.delete_record("a", 5, None)).unwrap();
    block_on(db.set_metadata("h", "k".into(), "[1]".into(), None)).unwrap();
    block_on(db.drop_collection("gone", None)).unwrap();
}

#[test]
fn when_the_same_writes_are_replayed_restored_or_followed_then_every_hash_agrees() {
    let vfs = Arc::new(SimVfs::new());
    let leader = open(&vfs, limits(), &logged());
    workload(&leader);
    let whole = hash(&leader);
    let own: Vec<String> = ["default", "a", "h"]
        .iter()
        .map(|c| chash(&leader, c))
        .collect();
    let height = leader.height();

    // The published node-wide counters equal the sum over the collections.
    let stats = leader.stats().unwrap();
    let list = leader.list_collections().unwrap();
    let sum =
        |f: fn(&valori_kernel::database::CollectionInfo) -> u64| list.iter().map(f).sum::<u64>();
    assert_eq!(stats.records.live, sum(|c| c.records.live));
    assert_eq!(stats.records.used, sum(|c| c.records.used));
    assert_eq!(stats.records.slots, sum(|c| c.records.slots));
    assert_eq!(stats.nodes.live, sum(|c| c.nodes.live));
    assert_eq!(stats.edges.slots, sum(|c| c.edges.slots));
    assert_eq!(stats.vector_bytes, sum(|c| c.vector_bytes));
    assert_eq!(stats.code_bytes + stats.index_bytes, sum(|c| c.index_bytes));
    assert!(
        stats.index_bytes > 0,
        "the HNSW collection's graph is counted"
    );

    // A node running the same writes in memory.
    let twin = memory(limits());
    workload(&twin);
    assert_eq!(hash(&twin), whole);

    // A follower applying the leader's entries.
    let follower = memory(limits());
    for (seq, payload) in leader.read_events(1, 10_000, 1 << 30).unwrap() {
        block_on(follower.apply_replicated(seq, payload)).unwrap();
    }
    assert_eq!(
        (follower.height(), hash(&follower)),
        (height, whole.clone())
    );
    assert_eq!(
        near(&follower, "h", &[1.0, 1.0, -1.0], 1),
        near(&leader, "h", &[1.0, 1.0, -1.0], 1)
    );

    // A snapshot restored into a fresh node.
    let bytes = leader.snapshot_bytes().unwrap().1;
    let restored = memory(limits());
    restored.restore(&bytes, true).unwrap();
    assert_eq!(hash(&restored), whole);
    let names: Vec<String> = restored
        .list_collections()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["default", "h", "a"]);
    assert_eq!(restored.list_collections().unwrap()[1].index, "hnsw");

    // A restart: replay of the whole log, then snapshot + tail.
    leader.close();
    drop(leader);
    let again = open(&vfs, limits(), &logged());
    assert_eq!((again.height(), hash(&again)), (height, whole.clone()));
    again.save_snapshot(None).unwrap();
    insert(&again, "a", &[9.0, 9.0]).unwrap();
    let after = hash(&again);
    assert_ne!(after, whole);
    // Only a's own hash moved.
    assert_eq!(chash(&again, "default"), own[0]);
    assert_eq!(chash(&again, "h"), own[2]);
    assert_ne!(chash(&again, "a"), own[1]);
    again.close();
    drop(again);
    let third = open(&vfs, limits(), &logged());
    let r = third.recovery().unwrap();
    assert_eq!((r.snapshot_height, r.replayed), (Some(height), 1));
    assert_eq!(hash(&third), after);
}

#[test]
fn when_a_follower_gets_collection_events_then_it_serves_them_like_the_leader() {
    let vfs = Arc::new(SimVfs::new());
    let leader = open(&vfs, limits(), &logged());
    create(&leader, "x", 2);
    insert(&leader, "x", &[1.0, 2.0]).unwrap();
    let follower = memory(limits());
    for (seq, payload) in leader.read_events(1, 100, 1 << 20).unwrap() {
        block_on(follower.apply_replicated(seq, payload.clone())).unwrap();
        // Re-applying is skipped by sequence number.
        block_on(follower.apply_replicated(seq, payload)).unwrap();
    }
    assert_eq!(near(&follower, "x", &[1.0, 2.0], 1), vec![0]);
    assert_eq!(chash(&follower, "x"), chash(&leader, "x"));
}
