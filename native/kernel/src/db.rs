//! `Db`: one collection's state plus the search structures derived from it
//! (the vector index and the payload index), kept in step by `apply`.
//! Filtered search is in `db_filter.rs`.

use std::sync::Mutex;

use crate::db_filter::{payload_ids, payload_index_of, FilterCache};
use crate::error::KResult;
use crate::event::{payload_key, Event};
use crate::index::{
    Distance, Index, IndexConfig, IndexKind, QuantKind, SearchParams, VectorSource,
};
use crate::payload::PayloadIndex;
use crate::state::{Change, State};

/// State plus the search structures derived from it: the vector index
/// (`None` for the exact scan without quantization: it scans the record
/// pool directly with the same `index::exact_rows` the indexes use) and the
/// payload index over every record's metadata.
pub struct Db {
    pub state: State,
    pub index: Option<Index>,
    pub payload: PayloadIndex,
    /// What search ranks by (the collection's metric).
    pub distance: Distance,
    /// The last filter's matches (`db_filter.rs`).
    pub(crate) filter_cache: Mutex<Option<FilterCache>>,
    /// Inserts reach the index at `flush_index` instead of at once, while
    /// the committer's log append runs (`Store::defer_index`).
    pub(crate) deferring: bool,
    /// Slots handed to the index so far (see [`INDEX_WINDOW`]): it holds
    /// every live record below; live records from here up are searched
    /// exactly beside it.
    pub(crate) indexed_to: u32,
}

/// An HNSW graph takes records in windows of this many ids, `[n·W, (n+1)·W)`,
/// each inserted as one batch once its last slot exists (`hnsw_batch.rs`,
/// every core); the records of the unfinished window are searched exactly
/// and merged by (key, id). The graph then depends only on the records and
/// their ids, never on how the writes were grouped into events or commit
/// groups: single inserts and batches of any size build the same bytes.
/// docs/index-formats.md, "Windows".
pub const INDEX_WINDOW: u32 = 64;

/// Tests only: a deferred insert whose first component is this panics when
/// the index takes it (`committer.rs` tests).
#[cfg(test)]
pub(crate) const PANIC_MARK: i32 = -7_777;

/// The state as the index sees it while taking the records below `slots`:
/// records of later slots (a later window, or later inserts of the same
/// commit group) are hidden, so what the index reads depends only on the
/// window, not on when it was taken.
struct AsOf<'a> {
    state: &'a State,
    slots: u32,
}

impl VectorSource for AsOf<'_> {
    fn dim(&self) -> usize {
        self.state.dim()
    }
    fn vector(&self, id: u32) -> Option<&[i32]> {
        if id < self.slots {
            self.state.live_vector(id)
        } else {
            None
        }
    }
    fn slot_count(&self) -> u32 {
        self.slots
    }
}

impl VectorSource for State {
    fn dim(&self) -> usize {
        State::dim(self)
    }
    fn vector(&self, id: u32) -> Option<&[i32]> {
        self.live_vector(id)
    }
    fn slot_count(&self) -> u32 {
        self.records().slots as u32
    }
}

impl Db {
    /// A db whose index matches `cfg` (None for exact brute force).
    pub fn new(state: State, cfg: IndexConfig) -> Db {
        let mut db = Db::new_empty_index(state, cfg);
        db.rebuild_index();
        db
    }

    /// Like `new`, but an index left empty (the caller decodes or rebuilds it).
    pub fn new_empty_index(state: State, cfg: IndexConfig) -> Db {
        let index = if cfg.kind == IndexKind::Brute && cfg.quant == QuantKind::None {
            None
        } else {
            Some(Index::new(cfg, state.dim()))
        };
        let payload = payload_index_of(&state);
        Db {
            state,
            index,
            payload,
            distance: cfg.distance,
            filter_cache: Mutex::new(None),
            deferring: false,
            indexed_to: 0,
        }
    }

    /// Rebuilds the index from the state (see `Index::rebuild`) over the
    /// finished windows only: the same records an index kept in step holds.
    pub fn rebuild_index(&mut self) {
        let to = self.index_goal();
        if let Some(ix) = self.index.as_mut() {
            ix.rebuild(&AsOf {
                state: &self.state,
                slots: to,
            });
        }
        self.indexed_to = to;
        self.deferring = false;
    }

    /// Installs `decoded` (a saved index) when it holds exactly the live
    /// records of the finished windows, and above them only live records (a
    /// saved index written before windows held every record); false leaves
    /// the index as it was. A saved index can thus never hide a record from
    /// search: whatever it lacks above the windows is searched exactly.
    pub fn install_index(&mut self, decoded: Index) -> bool {
        let to = self.index_goal_for(decoded.config().kind);
        if self.index.is_none() || !decoded.holds_live_set(&self.state, to) {
            return false;
        }
        self.index = Some(decoded);
        self.indexed_to = to;
        true
    }

    /// Where the index must reach for the current slots: the end of the
    /// last finished window (HNSW), or every slot (the other kinds, whose
    /// result does not depend on how inserts are batched).
    fn index_goal(&self) -> u32 {
        match &self.index {
            Some(ix) => self.index_goal_for(ix.config().kind),
            None => self.state.slot_count(),
        }
    }

    fn index_goal_for(&self, kind: IndexKind) -> u32 {
        let slots = self.state.slot_count();
        if kind == IndexKind::Hnsw {
            slots / INDEX_WINDOW * INDEX_WINDOW
        } else {
            slots
        }
    }

    /// Undo the open group (see `State::begin_group`) and rebuild the index
    /// from the restored state: the index is derived and node-local, so a
    /// rebuild is simpler and safer than undoing its own structures.
    pub fn rollback_group(&mut self) -> bool {
        self.deferring = false;
        let rolled = self.state.rollback_group();
        if rolled {
            self.rebuild_index();
            self.payload = payload_index_of(&self.state);
        }
        rolled
    }

    pub fn apply(&mut self, ev: &Event) -> KResult<()> {
        // Only inserts wait behind inserts: anything else meets an index
        // that has taken every earlier change, exactly as without deferral.
        if !matches!(ev, Event::InsertRecord { .. } | Event::InsertBatch { .. }) {
            self.index_pending();
        }
        let touched = payload_ids(ev);
        let before: Vec<Option<Vec<u8>>> = touched
            .iter()
            .map(|&id| self.state.metadata(&payload_key(id)).map(<[u8]>::to_vec))
            .collect();
        let change = self.state.apply(ev)?;
        for (&id, old) in touched.iter().zip(before) {
            if let Some(old) = old {
                self.payload.remove(id, &old);
            }
            if let Some(new) = self.state.metadata(&payload_key(id)) {
                self.payload.insert(id, new);
            }
        }
        match change {
            Change::None => {}
            Change::Inserted { .. } if !self.deferring => self.index_pending(),
            Change::Inserted { .. } => {}
            Change::Removed(id) => {
                // A record the index does not hold yet needs nothing here:
                // its window, once finished, no longer sees it live.
                if let Some(ix) = self.index.as_mut() {
                    ix.on_delete(id);
                }
            }
        }
        Ok(())
    }

    /// From now on, inserts reach the index at `flush_index` (in order).
    pub(crate) fn defer_index(&mut self) {
        self.deferring = self.index.is_some();
    }

    /// Whether the index has records to take (see `index_pending`).
    pub(crate) fn index_work_pending(&self) -> bool {
        self.index.is_some() && self.indexed_to < self.index_goal()
    }

    /// Gives the index every window finished so far and ends the deferral.
    pub(crate) fn flush_index(&mut self) {
        self.index_pending();
        self.deferring = false;
    }

    /// Gives the index the records of every window finished since it last
    /// took some, window by window (one batch each), each seeing the state
    /// up to its own end; deferral goes on.
    fn index_pending(&mut self) {
        let goal = self.index_goal();
        let Some(ix) = self.index.as_mut() else {
            return;
        };
        let windowed = ix.config().kind == IndexKind::Hnsw;
        while self.indexed_to < goal {
            let from = self.indexed_to;
            let to = if windowed {
                (from / INDEX_WINDOW + 1)
                    .saturating_mul(INDEX_WINDOW)
                    .min(goal)
            } else {
                goal
            };
            #[cfg(test)]
            if (from..to).any(|id| self.state.live_vector(id).map(|v| v[0]) == Some(PANIC_MARK)) {
                panic!("simulated panic inside the index");
            }
            let ids: Vec<u32> = (from..to).collect();
            ix.on_insert_batch(
                &ids,
                &AsOf {
                    state: &self.state,
                    slots: to,
                },
            );
            self.indexed_to = to;
        }
    }

    /// The `k` best live records the index does not hold yet (at or above
    /// `indexed_to`) passing `filter`, by exact key; empty when none.
    fn unindexed_hits(
        &self,
        query: &[i32],
        k: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<(i64, u32)> {
        let Some(ix) = &self.index else {
            return Vec::new();
        };
        let slots = self.state.slot_count();
        if self.indexed_to >= slots || k == 0 || query.len() != self.state.dim() {
            return Vec::new();
        }
        let rows = (self.indexed_to..slots)
            .filter(|&id| !ix.holds(id))
            .filter_map(|id| self.state.live_vector(id).map(|v| (id, v)));
        crate::index::exact_rows(query, k, rows, filter, self.distance)
    }

    /// `ix.search` merged with the records it does not hold yet: the `k`
    /// best of both by (key, id).
    pub(crate) fn index_search(
        &self,
        ix: &Index,
        query: &[i32],
        k: usize,
        params: SearchParams,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Vec<(i64, u32)> {
        let hits = ix.search(query, k, params, &self.state, filter);
        let extra = self.unindexed_hits(query, k, filter);
        if extra.is_empty() {
            return hits;
        }
        let mut all = hits;
        all.extend(extra);
        all.sort_unstable();
        all.truncate(k);
        all
    }

    /// k nearest live records in (distance, id) order; exact distances.
    pub fn search(
        &self,
        query: &[i32],
        k: usize,
        params: SearchParams,
        filter_tag: Option<u64>,
    ) -> Vec<(i64, u32)> {
        match &self.index {
            None => {
                let rows = self
                    .state
                    .live_records()
                    .filter(|r| filter_tag.is_none_or(|t| t == r.1));
                let rows = rows.map(|(id, _, v)| (id, v));
                crate::index::exact_rows(query, k, rows, None, self.distance)
            }
            Some(ix) => {
                let st = &self.state;
                let f = filter_tag.map(|t| move |id: u32| st.record_tag(id) == Some(t));
                self.index_search(
                    ix,
                    query,
                    k,
                    params,
                    f.as_ref().map(|f| f as &dyn Fn(u32) -> bool),
                )
            }
        }
    }
}

#[cfg(test)]
#[path = "db_window_tests.rs"]
mod window_tests;
