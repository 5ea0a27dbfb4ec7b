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

/// Validate options, recover storage, start the committer.
pub fn build(o: KernelOptions) -> KResult<Kernel> {
    std::panic::catch_unwind(move || build_inner(o))
        .unwrap_or_else(|_| Err(KernelError::Internal("opening the kernel panicked".into())))
}

fn build_inner(o: KernelOptions) -> KResult<Kernel> {
    if o.dim == 0 || o.dim > 65536 {
        return Err(KernelError::InvalidArgument(format!("dim must be 1..=65536, got {}", o.dim)));
    }
    let limits = Limits {
        dim: o.dim as usize,
        max_records: count_limit("maxRecords", o.max_records)?,
        max_nodes: count_limit("maxNodes", o.max_nodes)?,
        max_edges: count_limit("maxEdges", o.max_edges)?,
    };
    let cfg = index_config(&o)?;
    let persist = PersistConfig {
        event_log: o.event_log_path.clone().map(PathBuf::from),
        snapshot: o.snapshot_path.clone().map(PathBuf::from),
        wal: o.wal_path.clone().map(PathBuf::from),
        accept_truncation: o.accept_truncation.unwrap_or(false),
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
