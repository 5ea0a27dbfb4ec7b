//! Idempotent writes: replays, reused keys, batch item keys, eviction at the
//! retention, keys across restart and snapshot restore.

mod support;

use std::sync::Arc;

use support::*;
use valori_kernel::database::WriteOpts;
use valori_kernel::entry::{Idem, StoreEvent};
use valori_kernel::event::Event;
use valori_kernel::index::IndexConfig;
use valori_kernel::state::Limits;
use valori_kernel::storage::SimVfs;
use valori_kernel::store::{codec, Store, IDEMPOTENCY_RETENTION};

fn items(keys: &[Option<u8>]) -> Option<WriteOpts> {
    Some(WriteOpts {
        key: None,
        item_keys: keys.iter().map(|k| k.map(|b| [b; 16])).collect(),
    })
}

#[test]
fn when_a_keyed_write_is_replayed_then_the_first_outcome_returns_and_nothing_is_written() {
    let db = memory(limits());
    let first = block_on(db.insert(D, vec![1.0, 2.0], 0, key(1))).unwrap();
    assert_eq!(
        (first.ids.clone(), first.height, first.deduplicated),
        (vec![0], 1, false)
    );
    insert(&db, D, &[5.0, 5.0]).unwrap();
    let (h, before) = (db.height(), hash(&db));
    let again = block_on(db.insert(D, vec![1.0, 2.0], 0, key(1))).unwrap();
    assert_eq!(
        (again.ids, again.height, again.deduplicated),
        (vec![0], 1, true)
    );
    assert_eq!((db.height(), hash(&db)), (h, before));
    // The same key with another body is a client bug: refused, nothing written.
    let e = block_on(db.insert(D, vec![1.0, 3.0], 0, key(1))).unwrap_err();
    assert_eq!(e.code(), "IDEMPOTENCY_KEY_REUSED");
    let e = block_on(db.insert(D, vec![1.0, 2.0], 9, key(1))).unwrap_err();
    assert_eq!(
        e.code(),
        "IDEMPOTENCY_KEY_REUSED",
        "the tag is part of the request"
    );
    let e = block_on(db.create_node(D, 1, None, key(1))).unwrap_err();
    assert_eq!(e.code(), "IDEMPOTENCY_KEY_REUSED", "so is the operation");
    create(&db, "other", 2);
    let e = block_on(db.insert("other", vec![1.0, 2.0], 0, key(1))).unwrap_err();
    assert_eq!(e.code(), "IDEMPOTENCY_KEY_REUSED", "and the collection");
    assert_eq!(db.height(), h + 1);
    // Other operations: upsert ids, deletes with no ids, collections.
    let up = block_on(db.upsert_memory(D, vec![0.5, 0.5], None, None, key(2))).unwrap();
    let up2 = block_on(db.upsert_memory(D, vec![0.5, 0.5], None, None, key(2))).unwrap();
    assert_eq!(up.ids.len(), 4);
    assert_eq!((up2.ids, up2.deduplicated), (up.ids, true));
    block_on(db.delete_record(D, 0, key(3))).unwrap();
    let d = block_on(db.delete_record(D, 0, key(3))).unwrap();
    assert!(d.deduplicated && d.ids.is_empty());
    let c = block_on(db.create_collection(spec("k", 2), key(4))).unwrap();
    let c2 = block_on(db.create_collection(spec("k", 2), key(4))).unwrap();
    assert_eq!(
        (c2.ids, c2.height, c2.deduplicated),
        (c.ids, c.height, true)
    );
    block_on(db.drop_collection("k", key(5))).unwrap();
    let dropped = block_on(db.drop_collection("k", key(5))).unwrap();
    assert!(dropped.deduplicated, "a retried drop of a gone collection");
}

#[test]
fn when_batch_items_carry_keys_then_the_rules_hold() {
    let db = memory(limits());
    let v = vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
    let first =
        block_on(db.insert_batch(D, v.clone(), 3, items(&[Some(1), None, Some(3)]))).unwrap();
    assert_eq!(first.ids, [0, 1, 2]);
    // Not every item keyed: a replay cannot be told from a new write.
    let e =
        block_on(db.insert_batch(D, v.clone(), 3, items(&[Some(1), None, Some(3)]))).unwrap_err();
    assert_eq!(e.code(), "IDEMPOTENCY_KEY_REUSED");
    assert!(e.to_string().contains("item 0"), "{e}");
    let all =
        block_on(db.insert_batch(D, v.clone(), 3, items(&[Some(11), Some(12), Some(13)]))).unwrap();
    assert_eq!(all.ids, [3, 4, 5]);
    let (h, before) = (db.height(), hash(&db));
    let replay =
        block_on(db.insert_batch(D, v.clone(), 3, items(&[Some(11), Some(12), Some(13)]))).unwrap();
    assert_eq!(
        (replay.ids, replay.height, replay.deduplicated),
        (vec![3, 4, 5], all.height, true)
    );
    // Known and new items mixed: refused, naming the first known item.
    let e = block_on(db.insert_batch(D, v.clone(), 3, items(&[Some(20), Some(12), Some(21)])))
        .unwrap_err();
    assert!(e.to_string().contains("item 1"), "{e}");
    // A known key over another vector: refused, naming that item.
    let other = vec![1.0, 1.0, 9.0, 9.0, 3.0, 3.0];
    let e =
        block_on(db.insert_batch(D, other, 3, items(&[Some(11), Some(12), Some(13)]))).unwrap_err();
    assert_eq!(e.code(), "IDEMPOTENCY_KEY_REUSED");
    assert!(e.to_string().contains("item 1"), "{e}");
    assert_eq!((db.height(), hash(&db)), (h, before));
    // Shape errors are plain bad input.
    let e = block_on(db.insert_batch(D, v.clone(), 3, items(&[Some(30)]))).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    let e = block_on(db.insert_batch(D, v, 3, items(&[Some(31), Some(31), Some(32)]))).unwrap_err();
    assert_eq!(
        e.code(),
        "IDEMPOTENCY_KEY_REUSED",
        "one key twice in a batch"
    );
}

/// One batch event with `n` item keys (key i = i as 16 LE bytes).
fn keyed_batch(store: &Store, n: u32) -> StoreEvent {
    let key = |i: u32| {
        let mut k = [0u8; 16];
        k[..4].copy_from_slice(&i.to_le_bytes());
        Some((k, [7u8; 32]))
    };
    StoreEvent::Data {
        collection: 0,
        event: Event::InsertBatch {
            first_id: store.default_collection().state().records().slots as u32,
            count: n,
            vectors: vec![0; n as usize],
            payloads: Vec::new(),
        },
        idem: Idem {
            key: None,
            items: (0..n).map(key).collect(),
        },
    }
}

#[test]
fn when_the_table_passes_its_retention_then_the_oldest_keys_go_the_same_way_everywhere() {
    let limits = Limits::new(1, 300_000, 0, 0);
    let n = IDEMPOTENCY_RETENTION as u32 + 5;
    let mut a = Store::new(limits, IndexConfig::default());
    let ev = keyed_batch(&a, n);
    a.apply(&ev).unwrap();
    let t = a.idempotency();
    assert_eq!(t.len(), IDEMPOTENCY_RETENTION);
    let k = |i: u32| {
        let mut k = [0u8; 16];
        k[..4].copy_from_slice(&i.to_le_bytes());
        k
    };
    assert!(
        (0..5).all(|i| t.get(&k(i)).is_none()),
        "items 0..5 evicted first"
    );
    assert_eq!(t.get(&k(5)).map(|s| s.ids.to_vec()), Some(vec![5]));
    // The same event on another replica, through a journaled group and
    // through decode of a snapshot, evicts the same keys.
    let mut b = Store::new(limits, IndexConfig::default());
    b.begin_group();
    b.apply(&ev).unwrap();
    b.commit_group();
    assert_eq!(codec::state_hash(&a), codec::state_hash(&b));
    let bytes = codec::encode(&a);
    let c = codec::decode(&bytes, limits, a.height(), |_| Ok(IndexConfig::default())).unwrap();
    assert_eq!(codec::state_hash(&c), codec::state_hash(&a));
    // A later group that is rolled back restores the evicted keys.
    b.begin_group();
    b.apply(&keyed_batch(&b, 1).clone_with_offset(n)).unwrap();
    assert!(b.idempotency().get(&k(5)).is_none());
    assert!(b.rollback_group());
    assert_eq!(codec::state_hash(&b), codec::state_hash(&a));
}

/// A batch event like `self` whose item keys start at `offset`.
trait Offset {
    fn clone_with_offset(&self, offset: u32) -> StoreEvent;
}

impl Offset for StoreEvent {
    fn clone_with_offset(&self, offset: u32) -> StoreEvent {
        let mut ev = self.clone();
        if let StoreEvent::Data { idem, .. } = &mut ev {
            for (i, item) in idem.items.iter_mut().enumerate() {
                if let Some((k, _)) = item {
                    k[..4].copy_from_slice(&(offset + i as u32).to_le_bytes());
                }
            }
        }
        ev
    }
}

#[test]
fn when_the_node_restarts_or_restores_a_snapshot_then_keys_are_still_recognised() {
    let vfs = Arc::new(SimVfs::new());
    let db = open(&vfs, limits(), &logged());
    let first = block_on(db.insert(D, vec![1.0, 2.0], 0, key(1))).unwrap();
    block_on(db.insert_batch(D, vec![3.0, 3.0, 4.0, 4.0], 2, items(&[Some(7), Some(8)]))).unwrap();
    let bytes = db.snapshot_bytes().unwrap().1;
    db.close();
    drop(db);
    let db = open(&vfs, limits(), &logged());
    let again = block_on(db.insert(D, vec![1.0, 2.0], 0, key(1))).unwrap();
    assert_eq!(
        (again.ids, again.height, again.deduplicated),
        (first.ids.clone(), first.height, true)
    );
    let e = block_on(db.insert(D, vec![0.0, 2.0], 0, key(1))).unwrap_err();
    assert_eq!(e.code(), "IDEMPOTENCY_KEY_REUSED");
    // A fresh node restoring the snapshot knows the keys too.
    let other = memory(limits());
    other.restore(&bytes, true).unwrap();
    let r =
        block_on(other.insert_batch(D, vec![3.0, 3.0, 4.0, 4.0], 2, items(&[Some(7), Some(8)])))
            .unwrap();
    assert_eq!((r.ids, r.deduplicated), (vec![1, 2], true));
    assert_eq!(hash(&other), hash(&db));
}
