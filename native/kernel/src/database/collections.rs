//! Collections through [`Database`]: create, drop, list.

use super::{Commit, Database};
use crate::entry::{CollectionConfig, Metric};
use crate::error::{KResult, KernelError};
use crate::index::{IndexKind, QuantKind};
use crate::ops::{Outcome, Write, WriteOpts};
use crate::state::PoolCounts;
use crate::store::check_name;

/// A collection to create. Omitted index settings take the node's own
/// (`VALORI_INDEX`, `VALORI_QUANT`, `VALORI_HNSW_*`, `VALORI_IVF_*`).
#[derive(Debug, Clone, Default)]
pub struct CollectionSpec {
    pub name: String,
    pub dim: u32,
    /// `squared_l2` (default) or its aliases `l2`, `l2sq`.
    pub metric: Option<String>,
    /// brute | hnsw | ivf
    pub index: Option<String>,
    /// none | scalar | product
    pub quant: Option<String>,
    pub max_records: Option<u64>,
    pub hnsw_m: Option<u32>,
    pub hnsw_ef_construction: Option<u32>,
    pub hnsw_ef_search: Option<u32>,
    pub ivf_nlist: Option<u32>,
    pub ivf_nprobe: Option<u32>,
}

/// One collection as a reader sees it (counts taken under the read lock).
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    pub id: u32,
    pub name: String,
    pub dim: u32,
    pub metric: &'static str,
    pub index: &'static str,
    pub quant: &'static str,
    pub max_records: Option<u64>,
    pub records: PoolCounts,
    pub nodes: PoolCounts,
    pub edges: PoolCounts,
    /// Q16.16 vectors of live and soft-deleted records, in bytes.
    pub vector_bytes: u64,
    /// Index structures and quantized codes, in bytes.
    pub index_bytes: u64,
}

impl Database {
    fn config_of(&self, spec: &CollectionSpec) -> KResult<CollectionConfig> {
        check_name(&spec.name)?;
        if spec.dim == 0 || spec.dim > 65536 {
            return Err(KernelError::InvalidArgument(format!(
                "dimension must be 1..=65536, got {}",
                spec.dim
            )));
        }
        let metric = match spec.metric.as_deref() {
            None => Metric::SquaredL2,
            Some(m) => Metric::parse(m)?,
        };
        let mut index = self.index_cfg;
        if let Some(k) = spec.index.as_deref() {
            index.kind = IndexKind::parse(k)?;
        }
        if let Some(q) = spec.quant.as_deref() {
            index.quant = QuantKind::parse(q)?;
        }
        let set = |v: Option<u32>, d: &mut usize| {
            if let Some(v) = v {
                *d = v as usize;
            }
        };
        set(spec.hnsw_m, &mut index.hnsw_m);
        index.hnsw_m = index.hnsw_m.clamp(2, crate::index::MAX_HNSW_M);
        set(spec.hnsw_ef_construction, &mut index.hnsw_ef_construction);
        set(spec.hnsw_ef_search, &mut index.hnsw_ef_search);
        set(spec.ivf_nlist, &mut index.ivf_nlist);
        set(spec.ivf_nprobe, &mut index.ivf_nprobe);
        // pq_m derives from the dimension when automatic; an explicit node
        // value fits the default collection's dimension only.
        if index.pq_m != 0 && !(spec.dim as usize).is_multiple_of(index.pq_m) {
            index.pq_m = 0;
        }
        index.distance = metric.distance();
        Ok(CollectionConfig {
            dim: spec.dim,
            metric,
            max_records: spec.max_records,
            index,
        })
    }

    /// Create a collection; ids `[collection id]`.
    pub fn create_collection(
        &self,
        spec: CollectionSpec,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        let w = self.check_open().and_then(|_| {
            Ok(Write::CreateCollection {
                config: self.config_of(&spec)?,
                name: spec.name,
                opts: opts.unwrap_or_default(),
            })
        });
        self.commit(w, Some)
    }

    /// Drop a collection and everything in it (its slots are freed).
    /// `default` cannot be dropped (COLLECTION_PROTECTED).
    pub fn drop_collection(&self, name: &str, opts: Option<WriteOpts>) -> Commit<Outcome> {
        let w = self.check_open().map(|_| Write::DropCollection {
            name: name.to_owned(),
            opts: opts.unwrap_or_default(),
        });
        self.commit(w, Some)
    }

    /// Every collection in id order. O(collections).
    pub fn list_collections(&self) -> KResult<Vec<CollectionInfo>> {
        self.check_open()?;
        let st = self.engine.read();
        Ok(st
            .collections()
            .map(|c| {
                let s = &c.db.state;
                let mem =
                    c.db.index
                        .as_ref()
                        .map(|i| i.memory_bytes())
                        .unwrap_or_default();
                let records = s.records();
                CollectionInfo {
                    id: c.id,
                    name: c.name.clone(),
                    dim: c.config.dim,
                    metric: c.config.metric.as_str(),
                    index: c.config.index.kind.as_str(),
                    quant: c.config.index.quant.as_str(),
                    max_records: c.config.max_records,
                    records: PoolCounts {
                        capacity: c.config.max_records.unwrap_or(records.capacity),
                        ..records
                    },
                    nodes: s.nodes(),
                    edges: s.edges(),
                    vector_bytes: records.used * c.config.dim as u64 * 4,
                    index_bytes: mem.codes + mem.structure,
                }
            })
            .collect())
    }
}
