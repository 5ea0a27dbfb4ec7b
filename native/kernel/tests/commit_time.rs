//! Commit times: stamped per group outside apply, never going back (after a
//! leader's later stamp, or after a restart), and not part of the state hash.

mod support;

use std::sync::Arc;

use support::*;
use valori_kernel::entry::{decode_entry, encode_entry, Idem, StoreEvent};
use valori_kernel::event::Event;
use valori_kernel::storage::SimVfs;

/// Commit times of the node's log entries, in log order.
fn times(db: &valori_kernel::database::Database) -> Vec<u64> {
    db.read_events(1, 1000, 1 << 20)
        .unwrap()
        .into_iter()
        .map(|(_, p)| decode_entry(&p).unwrap().0.expect("a version-2 entry"))
        .collect()
}

#[test]
fn when_an_entry_carries_a_later_time_then_later_stamps_never_go_below_it_even_after_a_restart() {
    let far = 4_000_000_000_000u64; // year 2096: later than this machine's clock
    let ev = StoreEvent::Data {
        collection: 0,
        event: Event::InsertRecord {
            id: 0,
            tag: 0,
            vector: vec![0, 0],
            payload: Default::default(),
        },
        idem: Idem::default(),
    };
    let vfs = Arc::new(SimVfs::new());
    let db = open(&vfs, limits(), &logged());
    block_on(db.apply_replicated(1, encode_entry(far, &ev))).unwrap();
    insert(&db, D, &[1.0, 1.0]).unwrap();
    assert_eq!(times(&db), [far, far]);
    db.close();
    drop(db);
    let db = open(&vfs, limits(), &logged());
    insert(&db, D, &[2.0, 2.0]).unwrap();
    assert_eq!(times(&db), [far, far, far]);
    // The same writes with other times give the same state hash.
    let other = memory(limits());
    block_on(other.apply_replicated(1, encode_entry(5, &ev))).unwrap();
    insert(&other, D, &[1.0, 1.0]).unwrap();
    insert(&other, D, &[2.0, 2.0]).unwrap();
    assert_eq!(hash(&other), hash(&db));
}

#[test]
fn when_writes_are_committed_then_their_times_follow_their_heights() {
    let vfs = Arc::new(SimVfs::new());
    let db = open(&vfs, limits(), &logged());
    for i in 0..20 {
        insert(&db, D, &[i as f32, 0.0]).unwrap();
    }
    let t = times(&db);
    assert_eq!(t.len(), 20);
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "{t:?}");
    assert!(t[0] > 1_600_000_000_000, "Unix milliseconds: {}", t[0]);
}
