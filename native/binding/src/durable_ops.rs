//! Persistence operations of `Kernel`: snapshots, restore, log trim, proofs,
//! the recovery report. Heavy ones are AsyncTasks on the libuv pool.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::node::Node;
use valori_kernel::{KResult, KernelError};

use crate::errors::reject_with;
use crate::kernel::Kernel;

#[napi(object)]
pub struct SnapshotResult {
    /// Event height the snapshot covers.
    pub height: f64,
    /// File size in bytes.
    pub bytes: f64,
    /// The snapshot's file name (never a server path).
    pub path: String,
    /// Milliseconds writes were held back while the state was encoded.
    pub stall_ms: f64,
    pub total_ms: f64,
}

#[napi(object)]
pub struct LogProofResult {
    /// BLAKE3 chain over every event, lowercase hex.
    pub event_log_hash: String,
    /// Sequence number of the last durable event.
    pub height: f64,
    /// First sequence number still in the log file (after trims).
    pub first_seq: f64,
    /// Events in the log file.
    pub event_count: f64,
    pub bytes: f64,
}

#[napi(object)]
pub struct RecoveryInfo {
    /// event_log | wal | snapshot | fresh
    pub source: String,
    pub snapshot_height: Option<f64>,
    pub replayed: f64,
    pub height: f64,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub seconds: f64,
}

/// Any node operation run on the libuv pool.
pub struct NodeTask<T: Send + 'static> {
    node: Arc<Node>,
    op: Option<Box<dyn FnOnce(&Node) -> KResult<T> + Send>>,
}

impl<T: Send + 'static> NodeTask<T> {
    fn new(node: Arc<Node>, op: impl FnOnce(&Node) -> KResult<T> + Send + 'static) -> Self {
        NodeTask { node, op: Some(Box::new(op)) }
    }
}

macro_rules! node_task {
    ($name:ident, $out:ty, $js:ty, |$env:ident, $v:ident| $conv:expr) => {
        pub struct $name(NodeTask<$out>);
        impl Task for $name {
            type Output = KResult<$out>;
            type JsValue = $js;
            fn compute(&mut self) -> Result<Self::Output> {
                let node = self.0.node.clone();
                let op = self.0.op.take();
                Ok(std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || match op {
                    Some(f) => f(&node),
                    None => Err(KernelError::Internal("task ran twice".into())),
                }))
                .unwrap_or_else(|_| Err(KernelError::Internal("storage operation panicked".into()))))
            }
            fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
                match output {
                    Ok($v) => {
                        let $env = &env;
                        let _ = $env;
                        Ok($conv)
                    }
                    Err(e) => Err(reject_with(&env, e)),
                }
            }
        }
    };
}

node_task!(SaveTask, valori_kernel::node::SnapshotInfo, SnapshotResult, |env, i| SnapshotResult {
    height: i.height as f64,
    bytes: i.bytes as f64,
    path: i.name,
    stall_ms: i.stall_ms,
    total_ms: i.total_ms,
});
node_task!(BytesTask, Vec<u8>, Buffer, |env, b| Buffer::from(b));
node_task!(HeightTask, u64, f64, |env, h| h as f64);
node_task!(BuildTask, bool, bool, |env, b| b);

#[napi]
impl Kernel {
    /// Write a snapshot atomically to the snapshot path, or with `name` a
    /// named snapshot in `<snapshot dir>/snapshots/` (a strict name pattern;
    /// never a file the node keeps itself).
    #[napi(ts_return_type = "Promise<SnapshotResult>")]
    pub fn save_snapshot(&self, name: Option<String>) -> AsyncTask<SaveTask> {
        AsyncTask::new(SaveTask(NodeTask::new(self.node.clone(), move |n| n.save_snapshot(name.as_deref()))))
    }

    /// The current durable state as VAL1 bytes.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn snapshot_bytes(&self) -> AsyncTask<BytesTask> {
        AsyncTask::new(BytesTask(NodeTask::new(self.node.clone(), |n| n.snapshot_bytes().map(|(_, b)| b))))
    }

    /// Bytes of the named snapshot `name` (see `saveSnapshot`).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn read_snapshot_file(&self, name: String) -> AsyncTask<BytesTask> {
        AsyncTask::new(BytesTask(NodeTask::new(self.node.clone(), move |n| n.read_snapshot_file(&name))))
    }

    /// Replace the state with a VAL1 snapshot (validated first). Resolves
    /// with the new height. `bootstrap` keeps the snapshot's own height
    /// (follower bootstrap); otherwise the restore is the next height.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn restore_snapshot(&self, bytes: Buffer, bootstrap: bool) -> AsyncTask<HeightTask> {
        // The Buffer itself moves into the task (no copy of a snapshot that
        // may be hundreds of MiB); the caller hands over a buffer it no
        // longer writes to.
        let heights = self.heights.clone();
        AsyncTask::new(HeightTask(NodeTask::new(self.node.clone(), move |n| {
            let h = n.restore(&bytes, bootstrap)?;
            heights.send_replace(h);
            Ok(h)
        })))
    }

    /// Drop the event-log prefix covered by the newest durable snapshot;
    /// resolves with the log's new base sequence number.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn trim_log(&self) -> AsyncTask<HeightTask> {
        AsyncTask::new(HeightTask(NodeTask::new(self.node.clone(), |n| n.trim_log())))
    }

    /// Rebuild/retrain the search index from the current records off the JS
    /// thread (writes wait meanwhile). Resolves false when there is no index.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn build_index(&self) -> AsyncTask<BuildTask> {
        AsyncTask::new(BuildTask(NodeTask::new(self.node.clone(), |n| Ok(n.build_index()))))
    }

    /// Event-log chain hash, height and counts; null without an event log.
    #[napi]
    pub fn log_proof(&self) -> Option<LogProofResult> {
        self.node.log_proof().map(|p| LogProofResult {
            event_log_hash: p.chain_hex,
            height: p.height as f64,
            first_seq: p.first_seq as f64,
            event_count: p.event_count as f64,
            bytes: p.bytes as f64,
        })
    }

    /// The last snapshot written by this process, if any.
    #[napi]
    pub fn last_snapshot(&self) -> Option<SnapshotResult> {
        self.node.last_snapshot().map(|i| SnapshotResult {
            height: i.height as f64,
            bytes: i.bytes as f64,
            path: i.name,
            stall_ms: i.stall_ms,
            total_ms: i.total_ms,
        })
    }

    /// What recovery did at open.
    #[napi]
    pub fn recovery(&self) -> RecoveryInfo {
        let r = &self.node.report;
        RecoveryInfo {
            source: r.source.clone(),
            snapshot_height: r.snapshot_height.map(|h| h as f64),
            replayed: r.replayed as f64,
            height: r.height as f64,
            warnings: r.warnings.clone(),
            errors: r.errors.clone(),
            seconds: r.seconds,
        }
    }
}
