//! `Database`: the kernel's one entry point. It owns the engine (state, index,
//! committer) and the durable storage, and offers every operation a host
//! (the napi binding, tools, tests) needs: writes, search, graph reads,
//! metadata, snapshots, proofs, replication read/apply, index build, stats,
//! close. A host converts types and nothing else: vectors arrive as client
//! floats and are converted here, the committed height is published here
//! (after every durable group and after a restore), and every call after
//! `close` fails with `CLOSED`.

mod persistence;
mod types;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};

use crate::check::convert_vectors;
use crate::codec;
use crate::durable::{Durable, PersistConfig, RecoveryReport};
use crate::engine::{CommitObserver, CommitSink, Engine};
use crate::error::{KResult, KernelError};
use crate::index::{self, IndexConfig, SearchParams};
use crate::log_sink::{LogSignal, LogSink};
use crate::ops::{Op, Outcome};
use crate::state::Limits;
use crate::storage::Vfs;

pub use persistence::{LogProof, SnapshotInfo};
pub use types::{DatabaseStats, GraphEdge, GraphNode, Upserted};

/// A write in flight: resolves once the write is durable (or refused). It
/// borrows nothing, so a host can await it on any executor.
/// Client floats a write takes over (a `Vec<f32>`, or a host's own typed
/// array): they are converted to Q16.16 when the write's future runs.
pub trait Floats: std::ops::Deref<Target = [f32]> + Send + 'static {}
impl<V: std::ops::Deref<Target = [f32]> + Send + 'static> Floats for V {}

pub type Commit<T> = Pin<Box<dyn Future<Output = KResult<T>> + Send + 'static>>;

pub struct Database {
    /// Public for tests and tools that drive the engine directly; a host
    /// uses the methods below.
    pub engine: Arc<Engine>,
    pub durable: Arc<Durable>,
    pub report: RecoveryReport,
    snapshot_gate: Mutex<Option<SnapshotInfo>>,
    /// Woken by every append of the committer's `LogSink`.
    log_signal: Arc<LogSignal>,
    /// Committed height for waiters (replication long-polls).
    heights: watch::Sender<u64>,
    closed: AtomicBool,
    dim: usize,
    index_cfg: IndexConfig,
}

fn closed_error() -> KernelError {
    KernelError::Closed("the database is closed".into())
}

impl Database {
    /// Recover storage (event log / snapshot / WAL, per `cfg`) and start the
    /// committer. With an empty `cfg` the database lives in memory only.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        limits: Limits,
        index_cfg: IndexConfig,
        cfg: &PersistConfig,
    ) -> KResult<Database> {
        let (durable, db, report) = Durable::open(vfs, limits, index_cfg, cfg)?;
        let (heights, _) = watch::channel(db.state.height());
        let publisher = heights.clone();
        let observer: CommitObserver = Box::new(move |entries: &[(u64, Vec<u8>)]| {
            if let Some((seq, _)) = entries.last() {
                publisher.send_replace(*seq);
            }
        });
        let log_signal = Arc::new(LogSignal::default());
        let sink = durable.log.as_ref().map(|l| {
            Box::new(LogSink {
                log: l.clone(),
                signal: log_signal.clone(),
            }) as Box<dyn CommitSink>
        });
        let engine = Arc::new(Engine::new(db, sink, Some(observer)));
        Ok(Database {
            engine,
            durable: Arc::new(durable),
            report,
            snapshot_gate: Mutex::new(None),
            log_signal,
            heights,
            closed: AtomicBool::new(false),
            dim: limits.dim,
            index_cfg,
        })
    }

    fn check_open(&self) -> KResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed_error());
        }
        Ok(())
    }

    /// Queue `op` now (so calls reach the committer in call order) and return
    /// a future of its outcome mapped by `map`.
    fn commit<T: Send + 'static>(
        &self,
        op: KResult<Op>,
        map: fn(Outcome) -> Option<T>,
    ) -> Commit<T> {
        let queued = self.check_open().and(op).map(|op| {
            let (tx, rx) = oneshot::channel::<KResult<Outcome>>();
            self.engine.submit(
                op,
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            );
            rx
        });
        Box::pin(async move {
            let outcome = queued?.await.unwrap_or_else(|_| {
                Err(KernelError::Internal(
                    "the committer dropped a request".into(),
                ))
            })?;
            map(outcome).ok_or_else(|| KernelError::Internal("unexpected commit outcome".into()))
        })
    }

    /// Build the op and queue it when the future first runs: a vector's
    /// conversion then happens on the host's worker, not on its event loop.
    /// Writes queued this way reach the committer in the order their futures
    /// first run (use `commit` where call order matters).
    fn commit_later<T: Send + 'static>(
        &self,
        build: impl FnOnce() -> KResult<Op> + Send + 'static,
        map: fn(Outcome) -> Option<T>,
    ) -> Commit<T> {
        let open = self.check_open();
        let engine = self.engine.clone();
        Box::pin(async move {
            open?;
            let op = build()?;
            let (tx, rx) = oneshot::channel::<KResult<Outcome>>();
            engine.submit(
                op,
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            );
            let outcome = rx.await.unwrap_or_else(|_| {
                Err(KernelError::Internal(
                    "the committer dropped a request".into(),
                ))
            })?;
            map(outcome).ok_or_else(|| KernelError::Internal("unexpected commit outcome".into()))
        })
    }

    fn kind(k: u32) -> KResult<u8> {
        u8::try_from(k)
            .map_err(|_| KernelError::InvalidArgument(format!("kind must be 0..=255, got {k}")))
    }

    /// Insert one vector; resolves with its id once durable.
    pub fn insert<V: Floats>(&self, values: V, tag: u64) -> Commit<u32> {
        let dim = self.dim;
        let op = move || convert_vectors(dim, &values, 1).map(|vector| Op::Insert { vector, tag });
        self.commit_later(op, |o| match o {
            Outcome::Id(id) => Some(id),
            _ => None,
        })
    }

    /// Insert `count` vectors (flat, count × dim) atomically; resolves with
    /// the first id (ids are consecutive).
    pub fn insert_batch<V: Floats>(&self, values: V, count: u32) -> Commit<(u32, u32)> {
        let dim = self.dim;
        let op = move || {
            if count == 0 {
                if values.is_empty() {
                    Ok(Op::InsertBatch {
                        vectors: Vec::new(),
                        count,
                    })
                } else {
                    Err(KernelError::InvalidArgument(
                        "count is 0 but values were given".into(),
                    ))
                }
            } else {
                convert_vectors(dim, &values, count as usize)
                    .map(|vectors| Op::InsertBatch { vectors, count })
            }
        };
        self.commit_later(op, |o| match o {
            Outcome::Ids { first, count } => Some((first, count)),
            _ => None,
        })
    }

    /// Hard delete (linked graph nodes, their edges and `rec:<id>` metadata go too).
    pub fn delete_record(&self, id: u32) -> Commit<()> {
        self.commit(Ok(Op::Delete { id }), |_| Some(()))
    }

    /// Soft delete: excluded from search, still counted against capacity.
    pub fn soft_delete_record(&self, id: u32) -> Commit<()> {
        self.commit(Ok(Op::SoftDelete { id }), |_| Some(()))
    }

    pub fn create_node(&self, kind: u32, record: Option<u32>) -> Commit<u32> {
        let op = Self::kind(kind).map(|kind| Op::CreateNode { kind, record });
        self.commit(op, |o| match o {
            Outcome::Id(id) => Some(id),
            _ => None,
        })
    }

    pub fn create_edge(&self, from: u32, to: u32, kind: u32) -> Commit<u32> {
        let op = Self::kind(kind).map(|kind| Op::CreateEdge { from, to, kind });
        self.commit(op, |o| match o {
            Outcome::Id(id) => Some(id),
            _ => None,
        })
    }

    /// Record + document node (new unless attached) + chunk node + edge +
    /// metadata, as one atomic event.
    pub fn upsert_memory<V: Floats>(
        &self,
        values: V,
        attach: Option<u32>,
        metadata_json: Option<String>,
    ) -> Commit<Upserted> {
        let dim = self.dim;
        let op = move || {
            convert_vectors(dim, &values, 1).map(|vector| Op::Upsert {
                vector,
                tag: 0,
                attach,
                metadata: metadata_json.map(String::into_bytes),
            })
        };
        self.commit_later(op, |o| match o {
            Outcome::Upsert {
                record_id,
                document_node_id,
                chunk_node_id,
                edge_id,
            } => Some(Upserted {
                record_id,
                document_node_id,
                chunk_node_id,
                edge_id,
            }),
            _ => None,
        })
    }

    pub fn set_metadata(&self, key: String, json: String) -> Commit<()> {
        self.commit(
            Ok(Op::SetMetadata {
                key,
                value: json.into_bytes(),
            }),
            |_| Some(()),
        )
    }

    /// Apply an event a leader committed at `seq` through the same commit
    /// path. Already-applied sequence numbers are skipped; a gap is refused
    /// with SEQUENCE_GAP.
    pub fn apply_replicated(&self, seq: u64, payload: Vec<u8>) -> Commit<()> {
        self.commit(Ok(Op::Replicated { seq, payload }), |_| Some(()))
    }

    pub fn metadata(&self, key: &str) -> KResult<Option<String>> {
        self.check_open()?;
        let db = self.engine.read();
        Ok(db
            .state
            .metadata(key)
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    pub fn node(&self, id: u32) -> KResult<Option<GraphNode>> {
        self.check_open()?;
        let db = self.engine.read();
        Ok(db.state.node(id).map(|n| GraphNode {
            kind: n.kind,
            record: n.record,
        }))
    }

    /// Outgoing edges, newest first; `None` for an unknown node.
    pub fn out_edges(&self, node: u32) -> KResult<Option<Vec<GraphEdge>>> {
        self.check_open()?;
        let db = self.engine.read();
        Ok(db.state.out_edges(node).map(|v| {
            v.into_iter()
                .map(|(id, e)| GraphEdge {
                    id,
                    to: e.to,
                    kind: e.kind,
                })
                .collect()
        }))
    }

    /// k nearest live records by squared L2 as `(score in real units, id)`,
    /// ordered by (score, id). CPU-bound: a host runs it off its event loop.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        params: SearchParams,
        tag: Option<u64>,
    ) -> KResult<Vec<(f64, u32)>> {
        self.check_open()?;
        if k == 0 {
            return Err(KernelError::InvalidArgument("k must be at least 1".into()));
        }
        let q = convert_vectors(self.dim, query, 1)?;
        let db = self.engine.read();
        Ok(db
            .search(&q, k, params, tag)
            .into_iter()
            .map(|(d, id)| (crate::fixed::score_from_raw_dist(d), id))
            .collect())
    }

    /// BLAKE3 of the canonical state (lowercase hex) with the height it was
    /// taken at, under one read lock. O(state size).
    pub fn state_proof(&self) -> KResult<(u64, String)> {
        self.check_open()?;
        let db = self.engine.read();
        Ok((db.state.height(), codec::hex(&codec::state_hash(&db.state))))
    }

    /// The committed height as it changes: resolves once it exceeds
    /// `height` (a host bounds the wait with its own timer).
    pub fn wait_for_height(
        &self,
        height: u64,
    ) -> KResult<impl Future<Output = u64> + Send + 'static> {
        self.check_open()?;
        let mut rx = self.heights.subscribe();
        Ok(async move {
            loop {
                let h = *rx.borrow_and_update();
                if h > height || rx.changed().await.is_err() {
                    return h.max(*rx.borrow());
                }
            }
        })
    }

    /// The committed height now: what a timed-out `wait_for_height` answers.
    /// Not refused after close, so a wait that began before close ends as it
    /// would have.
    pub fn height(&self) -> u64 {
        *self.heights.borrow()
    }

    pub fn stats(&self) -> KResult<DatabaseStats> {
        self.check_open()?;
        let c = self.engine.counters();
        Ok(DatabaseStats {
            dim: self.dim as u32,
            records: c.records,
            nodes: c.nodes,
            edges: c.edges,
            height: c.height,
            read_only: self.engine.is_read_only(),
            read_only_reason: self.engine.fault(),
            max_event_bytes: crate::MAX_EVENT_BYTES as u64,
            index: self.index_cfg.kind.as_str(),
            quant: self.index_cfg.quant.as_str(),
            simd: index::kernel_name(),
            max_abs_value: crate::fixed::max_abs_value(self.dim),
            persistence: self.durable.persistence.as_str(),
            event_log_height: self.durable.log.as_ref().map(|_| c.height),
            vector_bytes: c.records.used * self.dim as u64 * 4,
            code_bytes: c.index_memory.codes,
            index_bytes: c.index_memory.structure,
        })
    }

    /// What recovery did at open.
    pub fn recovery(&self) -> KResult<RecoveryReport> {
        self.check_open()?;
        Ok(self.report.clone())
    }

    /// Refuse every later call with CLOSED, let the writes the committer
    /// already holds finish, stop the committer. A write whose future has not
    /// queued it yet is refused with CLOSED. Closing twice is a no-op.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.engine.close();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests;
