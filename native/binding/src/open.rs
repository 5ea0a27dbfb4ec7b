//! Opening a kernel: options → kernel configuration, then `Database::open`
//! (recovery; off the JS thread for `openKernel`).

use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::{IndexConfig, IndexKind, QuantKind};
use valori_kernel::state::Limits;
use valori_kernel::storage::{StdVfs, Vfs};
use valori_kernel::{Database, KResult, KernelError};

use crate::call::pooled;
use crate::kernel::Kernel;
use crate::types::KernelOptions;

fn count_limit(name: &str, v: f64) -> KResult<u64> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64) {
        return Err(KernelError::InvalidArgument(format!(
            "{name} must be an integer in 0..=4294967295, got {v}"
        )));
    }
    Ok(v as u64)
}

fn index_config(o: &KernelOptions) -> KResult<IndexConfig> {
    let kind = IndexKind::parse(o.index.as_deref().unwrap_or("brute"))?;
    let quant = QuantKind::parse(o.quant.as_deref().unwrap_or("none"))?;
    let mut cfg = IndexConfig {
        kind,
        quant,
        ..IndexConfig::default()
    };
    if let Some(m) = o.hnsw_m {
        cfg.hnsw_m = m as usize;
    }
    if let Some(v) = o.hnsw_ef_construction {
        cfg.hnsw_ef_construction = v as usize;
    }
    if let Some(v) = o.hnsw_ef_search {
        cfg.hnsw_ef_search = v as usize;
    }
    if let Some(v) = o.ivf_nlist {
        cfg.ivf_nlist = v as usize;
    }
    if let Some(v) = o.ivf_nprobe {
        cfg.ivf_nprobe = v as usize;
    }
    Ok(cfg)
}

/// A byte count: a non-negative integer JavaScript can represent exactly.
fn byte_limit(name: &str, v: f64) -> KResult<u64> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9007199254740991.0) {
        return Err(KernelError::InvalidArgument(format!(
            "{name} must be an integer in 0..=2^53-1, got {v}"
        )));
    }
    Ok(v as u64)
}

/// Convert options, recover storage (may take a while: replay), start the committer.
pub fn open(o: KernelOptions) -> KResult<Kernel> {
    open_on(o, Arc::new(StdVfs))
}

/// [`open`] over the file system `vfs`.
pub fn open_on(o: KernelOptions, vfs: Arc<dyn Vfs>) -> KResult<Kernel> {
    if o.dim == 0 || o.dim > 65536 {
        return Err(KernelError::InvalidArgument(format!(
            "dim must be 1..=65536, got {}",
            o.dim
        )));
    }
    let mut limits = Limits::new(
        o.dim as usize,
        count_limit("maxRecords", o.max_records)?,
        count_limit("maxNodes", o.max_nodes)?,
        count_limit("maxEdges", o.max_edges)?,
    );
    if let Some(v) = o.max_metadata_entries {
        limits.max_metadata_entries = count_limit("maxMetadataEntries", v)?;
    }
    if let Some(v) = o.max_metadata_bytes {
        limits.max_metadata_bytes = byte_limit("maxMetadataBytes", v)?;
    }
    let cfg = index_config(&o)?;
    let persist = PersistConfig {
        event_log: o.event_log_path.clone().map(PathBuf::from),
        snapshot: o.snapshot_path.clone().map(PathBuf::from),
        wal: o.wal_path.clone().map(PathBuf::from),
        accept_truncation: o.accept_truncation.unwrap_or(false),
        max_named_snapshots: o.max_named_snapshots.map(|n| n as usize),
        max_snapshot_bytes: match o.max_snapshot_bytes {
            None => None,
            Some(b) if b.is_finite() && b >= 1.0 && b.fract() == 0.0 => Some(b as u64),
            Some(b) => {
                return Err(KernelError::InvalidArgument(format!(
                    "maxSnapshotBytes must be a positive integer, got {b}"
                )))
            }
        },
    };
    match o.index_threads {
        Some(n) if n > 1024 => {
            return Err(KernelError::InvalidArgument(format!(
                "indexThreads must be 0..=1024, got {n}"
            )))
        }
        // Before recovery: replay and rebuilds already build on the pool.
        n => valori_kernel::index::set_build_threads(n.unwrap_or(0) as usize),
    }
    let db = Database::open(vfs, limits, cfg, &persist)?;
    Ok(Kernel { db: Arc::new(db) })
}

/// Open a kernel with persistence: recovers from the event log / snapshot /
/// WAL (see the recovery report) off the JS thread.
#[napi(ts_return_type = "Promise<Kernel>")]
pub fn open_kernel(env: &Env, options: KernelOptions) -> Result<PromiseRaw<'_, Kernel>> {
    pooled(env, "openKernel", move || open(options), |k| k)
}
