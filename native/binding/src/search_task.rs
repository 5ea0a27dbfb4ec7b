//! k-NN search on the libuv pool under the state's read lock.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::engine::Engine;
use valori_kernel::{KResult, KernelError};

use crate::errors::reject_with;

#[napi(object)]
pub struct SearchHit {
    /// Record id.
    pub id: u32,
    /// Squared L2 distance in real units (exact integer distance / 2^32).
    pub score: f64,
}

pub struct SearchTask {
    pub engine: Arc<Engine>,
    pub query: Vec<f32>,
    pub k: u32,
    pub filter_tag: Option<KResult<u64>>,
    pub params: valori_kernel::index::SearchParams,
}

impl Task for SearchTask {
    type Output = KResult<Vec<(i64, u32)>>;
    type JsValue = Vec<SearchHit>;

    fn compute(&mut self) -> Result<Self::Output> {
        let query = std::mem::take(&mut self.query);
        let (k, tag, params) = (self.k as usize, self.filter_tag.take(), self.params);
        let engine = self.engine.clone();
        let out = std::panic::catch_unwind(move || {
            let tag = tag.transpose()?;
            if k == 0 {
                return Err(KernelError::InvalidArgument("k must be at least 1".into()));
            }
            let db = engine.read();
            let q = db.state.convert(&query, 1)?;
            Ok(db.search(&q, k, params, tag))
        })
        .unwrap_or_else(|_| Err(KernelError::Internal("search panicked".into())));
        Ok(out)
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        match output {
            Ok(hits) => Ok(hits
                .into_iter()
                .map(|(d, id)| SearchHit { id, score: valori_kernel::fixed::score_from_raw_dist(d) })
                .collect()),
            Err(e) => Err(reject_with(&env, e)),
        }
    }
}
