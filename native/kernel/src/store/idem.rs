//! The idempotency table: key → (fingerprint of the request, the ids its
//! first outcome had, the height it was committed at). Part of the replicated
//! state (events carry the keys, snapshots and the state hash cover the
//! table). Bounded: past [`IDEMPOTENCY_RETENTION`] keys the oldest (by height,
//! then position in the event: the write's own key first, then item keys in
//! item order) is evicted inside `apply`, so every replica evicts the same.

use std::collections::{BTreeMap, HashMap};

use crate::entry::{Fingerprint, IdemKey, StoreEvent};
use crate::error::{KResult, KernelError};
use crate::event::{DocTarget, Event};

/// Keys kept at most.
pub const IDEMPOTENCY_RETENTION: usize = 100_000;

/// The ids of a first outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ids {
    /// Up to four ids (an upsert's).
    Few { n: u8, ids: [u32; 4] },
    /// A batch: `first..first + count`.
    Range { first: u32, count: u32 },
}

impl Ids {
    pub fn few(v: &[u32]) -> Ids {
        let mut ids = [0; 4];
        ids[..v.len()].copy_from_slice(v);
        Ids::Few {
            n: v.len() as u8,
            ids,
        }
    }
    pub fn to_vec(&self) -> Vec<u32> {
        match *self {
            Ids::Few { n, ids } => ids[..n as usize].to_vec(),
            Ids::Range { first, count } => (first..first.saturating_add(count)).collect(),
        }
    }

    /// The ids an applied event gave its write.
    pub fn of(ev: &StoreEvent) -> Ids {
        match ev {
            StoreEvent::CreateCollection { id, .. } => Ids::few(&[*id]),
            StoreEvent::DropCollection { .. } => Ids::few(&[]),
            StoreEvent::Data { event, .. } => match event {
                Event::InsertRecord { id, .. }
                | Event::CreateNode { id, .. }
                | Event::CreateEdge { id, .. } => Ids::few(&[*id]),
                Event::InsertBatch {
                    first_id, count, ..
                } => Ids::Range {
                    first: *first_id,
                    count: *count,
                },
                Event::UpsertMemory {
                    record_id,
                    doc,
                    chunk_node,
                    edge_id,
                    ..
                } => {
                    let d = match doc {
                        DocTarget::Existing(d) | DocTarget::New(d) => *d,
                    };
                    Ids::few(&[*record_id, d, *chunk_node, *edge_id])
                }
                Event::DeleteRecord { .. }
                | Event::SoftDeleteRecord { .. }
                | Event::DeleteNode { .. }
                | Event::DeleteEdge { .. }
                | Event::SetMetadata { .. } => Ids::few(&[]),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub fp: Fingerprint,
    pub ids: Ids,
    pub height: u64,
    /// 0: the write's own key; i + 1: the key of batch item i.
    pub pos: u32,
}

#[derive(Debug, Clone, Default)]
pub struct IdemTable {
    /// Lookup only; never iterated.
    map: HashMap<IdemKey, Stored>,
    /// Eviction and encoding order.
    order: BTreeMap<(u64, u32), IdemKey>,
}

/// A change to undo if the group is rolled back.
#[derive(Debug, Clone)]
pub(crate) enum IdemUndo {
    Inserted(IdemKey),
    Evicted(IdemKey, Stored),
}

pub(crate) fn reused(what: &str) -> KernelError {
    KernelError::IdempotencyKeyReused(format!(
        "{what} was already used for a different request: send a new key for a new request"
    ))
}

impl IdemTable {
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn get(&self, key: &IdemKey) -> Option<&Stored> {
        self.map.get(key)
    }
    /// Entries, oldest first (the canonical order).
    pub fn iter(&self) -> impl Iterator<Item = (&IdemKey, &Stored)> + '_ {
        self.order
            .values()
            .map(|k| (k, self.map.get(k).expect("ordered key is in the map")))
    }

    /// An event may only carry keys the table does not hold, each once.
    pub(crate) fn check(&self, ev: &StoreEvent) -> KResult<()> {
        let idem = ev.idem();
        let mut seen: Vec<&IdemKey> = Vec::new();
        let keys = idem.key.iter().chain(idem.items.iter().flatten());
        for (i, (k, _)) in keys.enumerate() {
            if self.map.contains_key(k) {
                return Err(reused(&format!("idempotency key {i} of this event")));
            }
            seen.push(k);
        }
        if seen.len() > 1 {
            seen.sort_unstable();
            if seen.windows(2).any(|w| w[0] == w[1]) {
                return Err(reused("an idempotency key repeated within one write"));
            }
        }
        Ok(())
    }

    /// Record the keys of an applied event (checked by `check`), then evict
    /// past the retention.
    pub(crate) fn record(
        &mut self,
        ev: &StoreEvent,
        height: u64,
        mut undo: Option<&mut Vec<IdemUndo>>,
    ) {
        let idem = ev.idem();
        if idem.is_empty() {
            return;
        }
        if let Some((k, fp)) = idem.key {
            self.put(k, fp, Ids::of(ev), height, 0, undo.as_deref_mut());
        }
        if let StoreEvent::Data {
            event: Event::InsertBatch { first_id, .. },
            ..
        } = ev
        {
            for (i, item) in idem.items.iter().enumerate() {
                if let Some((k, fp)) = *item {
                    let ids = Ids::few(&[first_id + i as u32]);
                    self.put(k, fp, ids, height, i as u32 + 1, undo.as_deref_mut());
                }
            }
        }
        while self.map.len() > IDEMPOTENCY_RETENTION {
            let Some((_, k)) = self.order.pop_first() else {
                break;
            };
            if let Some(s) = self.map.remove(&k) {
                if let Some(u) = undo.as_deref_mut() {
                    u.push(IdemUndo::Evicted(k, s));
                }
            }
        }
    }

    fn put(
        &mut self,
        key: IdemKey,
        fp: Fingerprint,
        ids: Ids,
        height: u64,
        pos: u32,
        undo: Option<&mut Vec<IdemUndo>>,
    ) {
        self.insert(
            key,
            Stored {
                fp,
                ids,
                height,
                pos,
            },
        );
        if let Some(u) = undo {
            u.push(IdemUndo::Inserted(key));
        }
    }

    /// Insert an entry (decode, undo of an eviction).
    pub(crate) fn insert(&mut self, key: IdemKey, s: Stored) {
        if let Some(old) = self.map.insert(key, s) {
            self.order.remove(&(old.height, old.pos));
        }
        self.order.insert((s.height, s.pos), key);
    }

    pub(crate) fn undo(&mut self, u: IdemUndo) {
        match u {
            IdemUndo::Inserted(k) => {
                if let Some(s) = self.map.remove(&k) {
                    self.order.remove(&(s.height, s.pos));
                }
            }
            IdemUndo::Evicted(k, s) => self.insert(k, s),
        }
    }
}
