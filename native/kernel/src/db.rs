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
    /// Index changes held back while the committer's log append runs
    /// (`Store::defer_index`); `None` applies them at once.
    pub(crate) pending: Option<Vec<Pending>>,
}

/// Tests only: a deferred insert whose first component is this panics when
/// the index takes it (`committer.rs` tests).
#[cfg(test)]
pub(crate) const PANIC_MARK: i32 = -7_777;

/// An insert the index has not taken yet, with the slot count it would have
/// seen when its event was applied.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    first: u32,
    count: u32,
    slots: u32,
}

/// The state as an index change applied at once would have seen it: later
/// inserts of the same group (the only events held back behind it) only add
/// slots above `slots`, which this view hides.
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
        if let Some(ix) = db.index.as_mut() {
            ix.rebuild(&db.state);
        }
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
            pending: None,
        }
    }

    /// Undo the open group (see `State::begin_group`) and rebuild the index
    /// from the restored state: the index is derived and node-local, so a
    /// rebuild is simpler and safer than undoing its own structures.
    pub fn rollback_group(&mut self) -> bool {
        self.pending = None;
        let rolled = self.state.rollback_group();
        if rolled {
            if let Some(ix) = self.index.as_mut() {
                ix.rebuild(&self.state);
            }
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
        if let Some(ix) = self.index.as_mut() {
            match change {
                Change::None => {}
                Change::Inserted { first, count } => match self.pending.as_mut() {
                    Some(p) => p.push(Pending {
                        first,
                        count,
                        slots: self.state.slot_count(),
                    }),
                    None => {
                        // A batch event is one index batch (built on every core).
                        let ids: Vec<u32> = (first..first + count).collect();
                        ix.on_insert_batch(&ids, &self.state);
                    }
                },
                Change::Removed(id) => ix.on_delete(id),
            }
        }
        Ok(())
    }

    /// From now on, inserts reach the index at `flush_index` (in order).
    pub(crate) fn defer_index(&mut self) {
        if self.index.is_some() && self.pending.is_none() {
            self.pending = Some(Vec::new());
        }
    }

    /// Gives the index every insert held back, in order, each seeing the
    /// state as it was when applied, and ends the deferral.
    pub(crate) fn flush_index(&mut self) {
        self.index_pending();
        self.pending = None;
    }

    /// Gives the index every insert held back so far; deferral goes on.
    fn index_pending(&mut self) {
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        let held = std::mem::take(pending);
        let Some(ix) = self.index.as_mut() else {
            return;
        };
        for p in held {
            #[cfg(test)]
            if self.state.live_vector(p.first).map(|v| v[0]) == Some(PANIC_MARK) {
                panic!("simulated panic inside the index");
            }
            let ids: Vec<u32> = (p.first..p.first + p.count).collect();
            ix.on_insert_batch(
                &ids,
                &AsOf {
                    state: &self.state,
                    slots: p.slots,
                },
            );
        }
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
                ix.search(
                    query,
                    k,
                    params,
                    st,
                    f.as_ref().map(|f| f as &dyn Fn(u32) -> bool),
                )
            }
        }
    }
}
