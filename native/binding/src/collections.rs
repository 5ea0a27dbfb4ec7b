//! Collections of `Kernel`: create, drop, list.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::database::CollectionSpec as KSpec;
use valori_kernel::KernelError;

use crate::call::sync;
use crate::kernel::{pool, Kernel};
use crate::types::{CollectionInfo, CollectionSpec, WriteOptions, WriteResult};
use crate::writes::write;

#[napi]
impl Kernel {
    /// Create a collection; ids [collectionId]. Omitted index settings take
    /// the node's. COLLECTION_EXISTS for a taken name.
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn create_collection<'e>(
        &self,
        env: &'e Env,
        spec: CollectionSpec,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        let max_records = match spec.max_records {
            None => Ok(None),
            Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9007199254740991.0 => {
                Ok(Some(v as u64))
            }
            Some(v) => Err(KernelError::InvalidArgument(format!(
                "maxRecords must be a non-negative integer, got {v}"
            ))),
        };
        write(env, "createCollection", opts, |o| match max_records {
            Ok(max_records) => self.db.create_collection(
                KSpec {
                    name: spec.name,
                    dim: spec.dim,
                    metric: spec.metric,
                    index: spec.index,
                    quant: spec.quant,
                    max_records,
                    hnsw_m: spec.hnsw_m,
                    hnsw_ef_construction: spec.hnsw_ef_construction,
                    hnsw_ef_search: spec.hnsw_ef_search,
                    ivf_nlist: spec.ivf_nlist,
                    ivf_nprobe: spec.ivf_nprobe,
                },
                o,
            ),
            Err(e) => Box::pin(async move { Err(e) }),
        })
    }

    /// Drop a collection and its data (its slots are freed). `default`
    /// cannot be dropped (COLLECTION_PROTECTED).
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn drop_collection<'e>(
        &self,
        env: &'e Env,
        name: String,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "dropCollection", opts, |o| {
            self.db.drop_collection(&name, o)
        })
    }

    /// Every collection in id order.
    #[napi]
    pub fn list_collections(&self, env: &Env) -> Result<Vec<CollectionInfo>> {
        sync(env, "listCollections", || {
            Ok(self
                .db
                .list_collections()?
                .into_iter()
                .map(|c| CollectionInfo {
                    id: c.id,
                    name: c.name,
                    dim: c.dim,
                    metric: c.metric.to_string(),
                    index: c.index.to_string(),
                    quant: c.quant.to_string(),
                    max_records: c.max_records.map(|m| m as f64),
                    records: pool(c.records),
                    nodes: pool(c.nodes),
                    edges: pool(c.edges),
                    vector_bytes: c.vector_bytes as f64,
                    index_bytes: c.index_bytes as f64,
                })
                .collect())
        })
    }
}
