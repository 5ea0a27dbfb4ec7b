//! Filtered search of one collection (docs/api-reference.md, "Payloads and
//! filters"): the matching live records come from the payload index as a
//! bitset, then a plan picked from their count alone (so the same state
//! answers the same everywhere) scans them exactly or walks the index with
//! the filter. The payload index is kept in step with `rec:<id>` entries.

use std::sync::Arc;

use crate::db::Db;
use crate::event::{payload_record, Event};
use crate::index::{Bitset, SearchParams};
use crate::payload::{Filter, PayloadIndex};
use crate::state::{State, LIVE};

/// The payload index of every `rec:<id>` metadata entry of `state`.
pub(crate) fn payload_index_of(state: &State) -> PayloadIndex {
    let mut p = PayloadIndex::new();
    let from = "rec:".to_owned();
    for (key, value) in state.metadata.range(from..) {
        if !key.starts_with("rec:") {
            break;
        }
        if let Some((id, false)) = payload_record(key) {
            p.insert(id, value);
        }
    }
    p
}

/// Records whose `rec:<id>` metadata an event may change.
pub(crate) fn payload_ids(ev: &Event) -> Vec<u32> {
    match ev {
        Event::InsertRecord { id, payload, .. } if payload.metadata.is_some() => vec![*id],
        Event::InsertBatch {
            first_id, payloads, ..
        } => payloads
            .iter()
            .enumerate()
            .filter(|(_, p)| p.metadata.is_some())
            .map(|(i, _)| first_id + i as u32)
            .collect(),
        Event::SetMetadata { key, .. } => match payload_record(key) {
            Some((id, false)) => vec![id],
            _ => Vec::new(),
        },
        Event::UpsertMemory {
            record_id,
            metadata: Some(_),
            ..
        } => vec![*record_id],
        Event::DeleteRecord { id } => vec![*id],
        _ => Vec::new(),
    }
}

/// Filtered searches whose matches are at most this many, or at most an
/// eighth of the live records, scan exactly those records (docs/api-reference.md,
/// "Payloads and filters"); others walk the index with the filter.
pub const FILTER_EXACT_MAX: usize = 4096;

/// The matches of the last filter searched, for the next search with the
/// same filter text and tag at the same collection height. Any applied event
/// moves the height; a rolled-back group restores state and height together,
/// so an entry is never stale.
pub(crate) struct FilterCache {
    filter: String,
    tag: Option<u64>,
    height: u64,
    matches: Arc<(Bitset, usize)>,
}

impl Db {
    /// `matching`, or the last filter's matches when the same filter text
    /// and tag come again before any change to the collection.
    fn cached_matching(&self, text: &str, f: &Filter, tag: Option<u64>) -> Arc<(Bitset, usize)> {
        let height = self.state.height();
        let lock = || self.filter_cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = lock().as_ref() {
            if c.filter == text && c.tag == tag && c.height == height {
                return c.matches.clone();
            }
        }
        // Computed outside the lock, so searches with other filters do not
        // wait for it (two searches may both compute the same one).
        let matches = Arc::new(self.matching(f, tag));
        *lock() = Some(FilterCache {
            filter: text.to_owned(),
            tag,
            height,
            matches: matches.clone(),
        });
        matches
    }

    /// Live records matching `filter` (and `tag`), as a bitset over the
    /// slots, with their count: from the payload index, never by parsing a
    /// record's payload.
    fn matching(&self, filter: &Filter, tag: Option<u64>) -> (Bitset, usize) {
        let st = &self.state;
        let mut words = self.payload.select(filter, st.records().slots as u32);
        if let (Some(ix), None) = (&self.index, tag) {
            // The index keeps the live set as words: one AND per 64 records.
            // From `indexed_to` up (the unfinished window) it may lack live
            // records, which the state's status decides.
            let live = ix.live_words();
            let from = self.indexed_to;
            let mut count = 0;
            for (i, w) in words.iter_mut().enumerate() {
                let held = live.get(i).copied().unwrap_or(0);
                let mut rest = if (i as u32 + 1) * 64 > from {
                    *w & !held
                } else {
                    0
                };
                *w &= held;
                while rest != 0 {
                    let b = rest.trailing_zeros();
                    rest &= rest - 1;
                    let id = i as u32 * 64 + b;
                    if id >= from && st.record_status(id) == LIVE {
                        *w |= 1u64 << b;
                    }
                }
                count += w.count_ones() as usize;
            }
            return (Bitset::from_words(words), count);
        }
        let mut count = 0;
        for (i, w) in words.iter_mut().enumerate() {
            let mut bits = *w;
            while bits != 0 {
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                let id = i as u32 * 64 + b;
                let keep = st.record_status(id) == LIVE
                    && tag.is_none_or(|t| st.record_tag(id) == Some(t));
                if keep {
                    count += 1;
                } else {
                    *w &= !(1u64 << b);
                }
            }
        }
        (Bitset::from_words(words), count)
    }

    /// k nearest live records matching `filter`, in (distance, id) order.
    /// The plan depends only on how many records match, how many are live
    /// and k, so the same state answers the same everywhere: few matches are
    /// scanned exactly (exactly the k best), many are searched through the
    /// index with the filter checked during the walk.
    /// `filter` is the parsed filter with its text (the cache key).
    pub fn search_filtered(
        &self,
        query: &[i32],
        k: usize,
        params: SearchParams,
        tag: Option<u64>,
        filter: Option<(&str, &Filter)>,
    ) -> Vec<(i64, u32)> {
        let Some((text, f)) = filter.filter(|(_, f)| !f.is_all()) else {
            return self.search(query, k, params, tag);
        };
        let matches = self.cached_matching(text, f, tag);
        let (set, count) = (&matches.0, matches.1);
        if count == 0 {
            return Vec::new();
        }
        let live = self.state.records().live as usize;
        let bit = |id: u32| set.get(id);
        let st = &self.state;
        if count <= FILTER_EXACT_MAX.max(k) || count <= live / 8 {
            let ids: Vec<u32> = set.ones().collect();
            return crate::index::exact_ids(query, k, &ids, st, self.distance);
        }
        match &self.index {
            None => {
                let rows = st
                    .live_records()
                    .filter(|r| bit(r.0))
                    .map(|(id, _, v)| (id, v));
                crate::index::exact_rows(query, k, rows, None, self.distance)
            }
            Some(ix) => self.index_search(ix, query, k, params, Some(&bit)),
        }
    }
}
