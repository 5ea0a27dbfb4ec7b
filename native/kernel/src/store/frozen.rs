//! A copy of the store for a snapshot, taken under the state lock and encoded
//! after it is released. It holds exactly what the snapshot encodes (every
//! collection's state and vector index, the idempotency table, the height);
//! the derived payload index and the filter cache are left empty, because
//! nothing reads them from a frozen copy.
//!
//! Cost under the lock: the record pool is shared copy-on-write (one
//! reference count per 256-slot chunk), and so are the HNSW graph's link
//! lists and a quantized index's codes (one per 1,024 nodes or codes:
//! `index/blocks.rs`); the vector index copies its small per-slot arrays
//! (levels, live bits); graph pools and metadata maps are cloned entry by
//! entry.

use std::sync::Mutex;

use super::{Collection, Store};
use crate::engine::Db;
use crate::payload::PayloadIndex;

impl Store {
    /// Everything a snapshot of this store encodes, as an independent store:
    /// later writes to `self` never change it.
    pub fn frozen(&self) -> Store {
        let colls = self
            .colls
            .iter()
            .map(|(&id, c)| {
                let db = Db {
                    state: c.db.state.clone(),
                    index: c.db.index.clone(),
                    payload: PayloadIndex::default(),
                    distance: c.db.distance,
                    filter_cache: Mutex::new(None),
                    deferring: false,
                    indexed_to: c.db.indexed_to,
                };
                let copy = Collection {
                    id: c.id,
                    name: c.name.clone(),
                    config: c.config,
                    db,
                };
                (id, copy)
            })
            .collect();
        Store {
            limits: self.limits,
            colls,
            names: self.names.clone(),
            next_id: self.next_id,
            totals: self.totals,
            idem: self.idem.clone(),
            height: self.height,
            journal: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::entry::{Idem, StoreEvent};
    use crate::event::Event;
    use crate::index::{IndexConfig, IndexKind};
    use crate::snapshot_io::capture;
    use crate::state::Limits;
    use crate::store::{codec, Store};

    const DIM: usize = 4;

    fn data(event: Event) -> StoreEvent {
        StoreEvent::Data {
            collection: 0,
            event,
            idem: Idem::default(),
        }
    }

    fn insert(id: u32) -> StoreEvent {
        // Spread over a few hundred distinct points so the HNSW graph is not trivial.
        let v = (0..DIM as i32)
            .map(|d| ((id as i32 * 7919 + d * 104_729) % 2001 - 1000) << 8)
            .collect();
        data(Event::InsertRecord {
            id,
            tag: u64::from(id % 3),
            vector: v,
            payload: Default::default(),
        })
    }

    fn meta(key: &str, value: &str) -> StoreEvent {
        data(Event::SetMetadata {
            key: key.into(),
            value: value.as_bytes().to_vec(),
        })
    }

    /// Three record chunks and a bit, metadata, a node and an edge.
    fn before() -> Vec<StoreEvent> {
        let mut evs: Vec<StoreEvent> = (0..600).map(insert).collect();
        evs.push(meta("a", "one"));
        evs.push(meta("b", "two"));
        evs.push(data(Event::CreateNode {
            id: 0,
            kind: 1,
            record: Some(3),
        }));
        evs.push(data(Event::CreateNode {
            id: 1,
            kind: 1,
            record: None,
        }));
        evs.push(data(Event::CreateEdge {
            id: 0,
            from: 0,
            to: 1,
            kind: 2,
        }));
        evs
    }

    /// Writes that touch every shared chunk: the first, a middle and the last
    /// one, plus new chunks, metadata and the graph.
    fn after() -> Vec<StoreEvent> {
        let mut evs: Vec<StoreEvent> = (600..800).map(insert).collect();
        evs.push(data(Event::DeleteRecord { id: 5 }));
        evs.push(data(Event::SoftDeleteRecord { id: 300 }));
        evs.push(data(Event::DeleteRecord { id: 599 }));
        evs.push(meta("a", "changed"));
        evs.push(meta("c", "new"));
        evs.push(data(Event::CreateNode {
            id: 2,
            kind: 1,
            record: Some(700),
        }));
        evs
    }

    fn store_of(events: &[StoreEvent]) -> Store {
        let cfg = IndexConfig {
            kind: IndexKind::Hnsw,
            ..IndexConfig::default()
        };
        let mut s = Store::new(Limits::new(DIM, 10_000, 100, 100), cfg);
        for e in events {
            s.apply(e).unwrap();
        }
        s
    }

    fn snapshot_bytes(s: &Store) -> Vec<u8> {
        capture(s.frozen(), [7; 32]).unwrap().to_bytes().unwrap()
    }

    #[test]
    fn when_writes_follow_a_freeze_then_the_frozen_copy_encodes_the_state_before_them() {
        let quiet = store_of(&before());
        let expected_bytes = snapshot_bytes(&quiet);
        let expected_hash = codec::state_hash(&quiet);

        let mut live = store_of(&before());
        let frozen = live.frozen();
        for e in after() {
            live.apply(&e).unwrap();
        }
        assert_eq!(snapshot_bytes(&frozen), expected_bytes);
        assert_eq!(codec::state_hash(&frozen), expected_hash);
        assert_eq!(frozen.height(), quiet.height());
    }

    #[test]
    fn when_a_frozen_copy_shares_chunks_then_the_live_store_still_takes_every_write() {
        let mut all = before();
        all.extend(after());
        let straight = store_of(&all);

        let mut live = store_of(&before());
        let frozen = live.frozen();
        for e in after() {
            live.apply(&e).unwrap();
        }
        drop(frozen);
        assert_eq!(snapshot_bytes(&live), snapshot_bytes(&straight));
        assert_eq!(codec::state_hash(&live), codec::state_hash(&straight));
        assert_ne!(
            codec::state_hash(&live),
            codec::state_hash(&store_of(&before()))
        );
    }
}
