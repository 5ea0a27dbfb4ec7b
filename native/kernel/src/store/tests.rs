//! Store: a rolled-back group across collections leaves no trace; totals
//! follow the collections.

use super::*;
use crate::entry::{Idem, StoreEvent};
use crate::event::Event;

fn create(id: u32, name: &str) -> StoreEvent {
    StoreEvent::CreateCollection {
        id,
        name: name.into(),
        config: CollectionConfig {
            dim: 2,
            metric: Metric::SquaredL2,
            max_records: None,
            index: IndexConfig::default(),
        },
        idem: Idem::default(),
    }
}

fn insert(collection: u32, id: u32, x: i32) -> StoreEvent {
    StoreEvent::Data {
        collection,
        event: Event::InsertRecord {
            id,
            tag: 0,
            vector: vec![x, x],
            payload: Default::default(),
        },
        idem: Idem {
            key: Some(([x as u8; 16], [1; 32])),
            items: Vec::new(),
        },
    }
}

fn recounted(s: &mut Store) -> Usage {
    let kept = s.totals();
    s.recount();
    let fresh = s.totals();
    assert_eq!(s.totals(), kept);
    fresh
}

#[test]
fn when_a_group_over_several_collections_is_rolled_back_then_nothing_remains() {
    let limits = Limits::new(2, 100, 100, 100);
    let mut s = Store::new(limits, IndexConfig::default());
    s.apply(&create(1, "a")).unwrap();
    s.apply(&insert(1, 0, 1)).unwrap();
    s.apply(&create(2, "b")).unwrap();
    let before = codec::encode(&s);
    let totals = s.totals();
    s.begin_group();
    s.apply(&insert(0, 0, 2)).unwrap();
    s.apply(&StoreEvent::DropCollection {
        id: 1,
        idem: Idem::default(),
    })
    .unwrap();
    s.apply(&create(3, "c")).unwrap();
    s.apply(&insert(3, 0, 3)).unwrap();
    s.apply(&insert(2, 0, 4)).unwrap();
    assert_eq!(s.totals().records, 3);
    assert_eq!(
        s.totals(),
        recounted(&mut s),
        "kept by delta = counted afresh"
    );
    assert!(s.resolve("a").is_err());
    assert!(s.rollback_group());
    assert_eq!(codec::encode(&s), before);
    assert_eq!(s.totals(), totals);
    assert_eq!(s.totals(), recounted(&mut s));
    assert_eq!(s.resolve("a").unwrap().id, 1);
    assert!(s.resolve("c").is_err());
    assert_eq!(s.next_id(), 3);
    // The next group reuses the ids the rolled-back one had taken.
    s.begin_group();
    s.apply(&create(3, "c")).unwrap();
    s.commit_group();
    assert_eq!(s.resolve("c").unwrap().id, 3);
}

#[test]
fn when_an_event_is_refused_then_the_store_is_unchanged() {
    let limits = Limits::new(2, 100, 100, 100);
    let mut s = Store::new(limits, IndexConfig::default());
    s.apply(&insert(0, 0, 1)).unwrap();
    let before = codec::encode(&s);
    let refused = [
        insert(7, 0, 2),      // no collection 7
        insert(0, 5, 2),      // id out of sequence
        insert(0, 1, 1),      // its key is already recorded
        create(2, "x"),       // id out of sequence (next is 1)
        create(1, "default"), // name taken
        create(1, "-x"),      // bad name
        StoreEvent::DropCollection {
            id: 0,
            idem: Idem::default(),
        },
    ];
    for ev in refused {
        assert!(s.apply(&ev).is_err(), "{ev:?}");
        assert_eq!(codec::encode(&s), before, "{ev:?}");
    }
}

#[test]
fn when_the_node_holds_the_most_collections_then_one_more_is_refused_until_one_is_dropped() {
    let mut s = Store::new(Limits::new(2, 10, 10, 10), IndexConfig::default());
    for id in 1..MAX_COLLECTIONS as u32 {
        s.apply(&create(id, &format!("c{id}"))).unwrap();
    }
    assert_eq!(s.len(), MAX_COLLECTIONS);
    let next = MAX_COLLECTIONS as u32;
    let e = s.apply(&create(next, "one-more")).unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    s.apply(&StoreEvent::DropCollection {
        id: 1,
        idem: Idem::default(),
    })
    .unwrap();
    s.apply(&create(next, "one-more")).unwrap();
    assert_eq!(s.resolve("one-more").unwrap().id, next);
}
