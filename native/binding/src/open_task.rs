//! Opening a kernel: storage recovery (replay can take a while) on the libuv
//! pool, resolving with a ready `Kernel`.

use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::{IndexConfig, IndexKind, QuantKind};
use valori_kernel::node::Node;
use valori_kernel::state::Limits;
use valori_kernel::storage::StdVfs;
use valori_kernel::{KResult, KernelError};

use crate::errors::reject_with;
use crate::kernel::{count_limit, Kernel, KernelOptions};

fn index_config(o: &KernelOptions) -> KResult<IndexConfig> {
    let mut cfg = IndexConfig::default();
    cfg.kind = match o.index.as_deref().unwrap_or("brute") {
        "brute" => IndexKind::Brute,
        "hnsw" => IndexKind::Hnsw,
        "ivf" => IndexKind::Ivf,
        other => return Err(KernelError::InvalidArgument(format!("index must be brute|hnsw|ivf, got {other:?}"))),
    };
    cfg.quant = match o.quant.as_deref().unwrap_or("none") {
        "none" => QuantKind::None,
        "scalar" => QuantKind::Scalar,
        "product" => QuantKind::Product,
        other => return Err(KernelError::InvalidArgument(format!("quant must be none|scalar|product, got {other:?}"))),
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
        return Err(KernelError::InvalidArgument(format!("{name} must be an integer in 0..=2^53-1, got {v}")));
    }
    Ok(v as u64)
}

/// Validate options, recover storage, start the committer.
pub fn build(o: KernelOptions) -> KResult<Kernel> {
    std::panic::catch_unwind(move || build_inner(o))
        .unwrap_or_else(|_| Err(KernelError::Internal("opening the kernel panicked".into())))
}

fn build_inner(o: KernelOptions) -> KResult<Kernel> {
    if o.dim == 0 || o.dim > 65536 {
        return Err(KernelError::InvalidArgument(format!("dim must be 1..=65536, got {}", o.dim)));
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
            Some(b) => return Err(KernelError::InvalidArgument(format!("maxSnapshotBytes must be a positive integer, got {b}"))),
        },
    };
    let (heights, _) = crate::replication::height_channel(0);
    let publisher = heights.clone();
    let observer: valori_kernel::engine::CommitObserver = Box::new(move |entries: &[(u64, Vec<u8>)]| {
        if let Some((seq, _)) = entries.last() {
            publisher.send_replace(*seq);
        }
    });
    let node = Arc::new(Node::open(Arc::new(StdVfs), limits, cfg, &persist, Some(observer))?);
    heights.send_replace(node.engine.counters().height);
    Ok(Kernel {
        heights,
        engine: node.engine.clone(),
        node,
        dim: o.dim,
        index: cfg.kind.as_str().to_string(),
        quant: cfg.quant.as_str().to_string(),
    })
}

pub struct OpenTask {
    options: Option<KernelOptions>,
}

impl Task for OpenTask {
    type Output = KResult<Kernel>;
    type JsValue = Kernel;

    fn compute(&mut self) -> Result<Self::Output> {
        match self.options.take() {
            Some(o) => Ok(build(o)),
            None => Ok(Err(KernelError::Internal("open task ran twice".into()))),
        }
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        output.map_err(|e| reject_with(&env, e))
    }
}

/// Open a kernel with persistence: recovers from the event log / snapshot /
/// WAL (see the recovery report) off the JS thread.
#[napi(ts_return_type = "Promise<Kernel>")]
pub fn open_kernel(options: KernelOptions) -> AsyncTask<OpenTask> {
    AsyncTask::new(OpenTask { options: Some(options) })
}
