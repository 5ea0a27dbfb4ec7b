//! Undo for one commit group across collections. Each collection's state
//! journals its own in-place changes (`crate::journal`), opened the first time
//! the group touches it; the store journals what it changes itself: created
//! and dropped collections (a dropped one is kept whole until the group is
//! durable), idempotency keys added and evicted, the next id, the totals and
//! the height.

use std::collections::BTreeSet;

use super::idem::IdemUndo;
use super::{Collection, Store, Usage};

pub(crate) enum StoreUndo {
    Created(u32),
    Dropped(Box<Collection>),
    Idem(IdemUndo),
}

pub(crate) struct StoreJournal {
    /// Collections whose state journal was opened by this group.
    pub(crate) touched: BTreeSet<u32>,
    pub(crate) undo: Vec<StoreUndo>,
    next_id: u32,
    totals: Usage,
    height: u64,
    /// Inserts reach the indexes at `flush_index` (`defer_index`).
    pub(crate) defer_index: bool,
}

impl Store {
    /// Start journaling: every change until `commit_group` can be undone by
    /// `rollback_group`.
    pub fn begin_group(&mut self) {
        self.journal = Some(StoreJournal {
            touched: BTreeSet::new(),
            undo: Vec::new(),
            next_id: self.next_id,
            totals: self.totals,
            height: self.height,
            defer_index: false,
        });
    }

    /// Within the open group, inserts are applied to the state at once and
    /// reach the indexes (in order, each seeing the state it would have seen)
    /// at `flush_index`. The committer overlaps that index work with the
    /// group's log append (`committer.rs`). No-op without an open group.
    pub fn defer_index(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            j.defer_index = true;
        }
    }

    /// The indexes take every insert `defer_index` held back; deferral ends.
    /// The store must not be read or frozen between the two.
    pub fn flush_index(&mut self) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        j.defer_index = false;
        for id in &j.touched {
            if let Some(c) = self.colls.get_mut(id) {
                // The index's memory is part of the totals (stats only).
                let before = Usage::of_db(&c.db);
                c.db.flush_index();
                self.totals = self.totals.replace(before, Usage::of_db(&c.db));
            }
        }
    }

    /// Rebuilds from the state the index of every collection the open
    /// group wrote (after the indexes failed to take an acknowledged group:
    /// `committer.rs`); the group stays open.
    pub(crate) fn rebuild_touched_indexes(&mut self) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        j.defer_index = false;
        for id in &j.touched {
            if let Some(c) = self.colls.get_mut(id) {
                c.db.rebuild_index();
            }
        }
        self.recount();
    }

    /// Whether `flush_index` would give an index anything: a collection
    /// written in the open group finished a window its index has not taken.
    pub fn index_work_pending(&self) -> bool {
        let Some(j) = self.journal.as_ref() else {
            return false;
        };
        j.touched
            .iter()
            .filter_map(|id| self.colls.get(id))
            .any(|c| c.db.index_work_pending())
    }

    /// Whether inserts applied now wait for `flush_index`.
    pub(crate) fn deferring_index(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| j.defer_index)
    }

    /// Open collection `id`'s state journal if this group has not yet.
    pub(crate) fn touch(&mut self, id: u32) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        if j.touched.insert(id) {
            if let Some(c) = self.colls.get_mut(&id) {
                c.db.state.begin_group();
            }
        }
    }

    /// Whether the open group holds undo data worth releasing at once.
    pub fn journal_has_undo(&self) -> bool {
        let Some(j) = self.journal.as_ref() else {
            return false;
        };
        j.undo
            .iter()
            .any(|u| !matches!(u, StoreUndo::Idem(IdemUndo::Inserted(_))))
            || j.touched.iter().any(|id| {
                self.colls
                    .get(id)
                    .is_some_and(|c| c.db.state.journal_has_undo())
            })
    }

    /// The group is durable: forget how to undo it.
    pub fn commit_group(&mut self) {
        if let Some(j) = self.journal.take() {
            for id in j.touched {
                if let Some(c) = self.colls.get_mut(&id) {
                    c.db.state.commit_group();
                }
            }
        }
    }

    /// Put the store back exactly as it was at `begin_group` (indexes of the
    /// touched collections are rebuilt). False when no group was open.
    pub fn rollback_group(&mut self) -> bool {
        let Some(j) = self.journal.take() else {
            return false;
        };
        for u in j.undo.into_iter().rev() {
            match u {
                StoreUndo::Created(id) => {
                    if let Some(c) = self.colls.remove(&id) {
                        self.names.remove(&c.name);
                    }
                }
                StoreUndo::Dropped(c) => {
                    self.names.insert(c.name.clone(), c.id);
                    self.colls.insert(c.id, *c);
                }
                StoreUndo::Idem(u) => self.idem.undo(u),
            }
        }
        let mut rebuilt = false;
        for id in j.touched {
            if let Some(c) = self.colls.get_mut(&id) {
                rebuilt |= c.db.rollback_group();
            }
        }
        self.next_id = j.next_id;
        self.totals = j.totals;
        self.height = j.height;
        if rebuilt {
            // A rebuilt index need not take the memory the old one took.
            self.recount();
        }
        true
    }
}
