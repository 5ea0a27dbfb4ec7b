//! Reads of records with their payload: a record by id, and search with a
//! metadata filter, returning what the caller asked for of each hit
//! (docs/api-reference.md, "Payloads and filters").

use super::Database;
use crate::engine::Target;
use crate::entry::Metric;
use crate::error::{KResult, KernelError};
use crate::event::{payload_key, text_key};
use crate::fixed;
use crate::index::SearchParams;
use crate::payload::{text_of, Filter};
use crate::state::{State, HOLE, TOMBSTONE};

/// A live or soft-deleted record as a client wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordView {
    pub id: u32,
    /// Client floats, converted back from the stored Q16.16 components
    /// (a cosine collection's are the unit vector it stored).
    pub values: Vec<f32>,
    pub tag: u64,
    pub soft_deleted: bool,
    /// Canonical JSON object text.
    pub metadata: Option<String>,
    pub text: Option<String>,
}

fn metadata_of(state: &State, id: u32) -> Option<String> {
    state
        .metadata(&payload_key(id))
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

fn text_at(state: &State, id: u32) -> Option<String> {
    state.metadata(&text_key(id)).and_then(text_of)
}

fn floats(raw: &[i32]) -> Vec<f32> {
    raw.iter().map(|&r| fixed::to_f32(r)).collect()
}

/// The record `id`; `None` for an id never handed out or hard-deleted.
pub fn record_view(state: &State, id: u32) -> Option<RecordView> {
    let status = state.record_status(id);
    if status == HOLE {
        return None;
    }
    let raw = state.record_vector(id)?;
    Some(RecordView {
        id,
        values: floats(raw),
        tag: state.record_tag(id).unwrap_or(0),
        soft_deleted: status == TOMBSTONE,
        metadata: metadata_of(state, id),
        text: text_at(state, id),
    })
}

/// What a search returns of each hit besides its id and score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct With {
    pub metadata: bool,
    pub text: bool,
    pub vector: bool,
}

/// A search: the index knobs, the v0.1.0 tag filter, a metadata filter (JSON
/// text, the filter language) and what to return.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub params: SearchParams,
    pub tag: Option<u64>,
    pub filter: Option<String>,
    pub with: With,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: u32,
    /// By the collection's metric: squared L2 distance (ascending), cosine
    /// similarity or dot product (descending); best first either way.
    pub score: f64,
    pub metadata: Option<String>,
    pub text: Option<String>,
    pub vector: Option<Vec<f32>>,
}

/// The score a client sees for an index key (docs/api-reference.md, "Metrics").
pub fn score_of(metric: Metric, key: i64) -> f64 {
    match metric {
        Metric::SquaredL2 => fixed::score_from_raw_dist(key),
        // Squared L2 between unit vectors is 2 − 2·cos.
        Metric::Cosine => 1.0 - fixed::score_from_raw_dist(key) / 2.0,
        // The key is −(a·b) in raw units.
        Metric::Dot => -fixed::score_from_raw_dist(key),
    }
}

impl Database {
    /// The record `id` of `collection`; `None` when unknown or hard-deleted.
    pub fn record(&self, collection: &str, id: u32) -> KResult<Option<RecordView>> {
        self.read_collection(collection, |s| record_view(s, id))
    }

    /// The k best live records of `collection` for `query` that pass the
    /// request's filters, best first, ties by id. CPU-bound: a host runs it
    /// off its event loop.
    pub fn query(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        req: &SearchRequest,
    ) -> KResult<Vec<Hit>> {
        self.check_open()?;
        if k == 0 {
            return Err(KernelError::InvalidArgument("k must be at least 1".into()));
        }
        let filter = req.filter.as_deref().map(Filter::parse).transpose()?;
        let st = self.engine.read();
        let c = st.resolve(collection)?;
        let q = super::writes::collection_vectors(Target::of(c), query, 1)?;
        let s = &c.db.state;
        let w = req.with;
        Ok(c.db
            .search_filtered(
                &q,
                k,
                req.params,
                req.tag,
                req.filter.as_deref().zip(filter.as_ref()),
            )
            .into_iter()
            .map(|(key, id)| Hit {
                id,
                score: score_of(c.config.metric, key),
                metadata: w.metadata.then(|| metadata_of(s, id)).flatten(),
                text: w.text.then(|| text_at(s, id)).flatten(),
                vector: w.vector.then(|| s.record_vector(id).map(floats)).flatten(),
            })
            .collect())
    }
}
