//! `Database`: the kernel's one entry point. It owns the engine (state, index,
//! committer) and the durable storage, and offers every operation a host
//! (the napi binding, tools, tests) needs: writes, search, graph reads,
//! metadata, snapshots, proofs, replication read/apply, index build, stats,
//! close. A host converts types and nothing else: vectors arrive as client
//! floats and are converted here, the committed height is published here
//! (after every durable group and after a restore), and every call after
//! `close` fails with `CLOSED`.

mod collections;
mod persistence;
mod search;
mod types;
mod writes;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{oneshot, watch};

use crate::codec;
use crate::durable::{Durable, PersistConfig, RecoveryReport};
use crate::engine::{CommitObserver, CommitSink, Engine, Reply};
use crate::error::{KResult, KernelError};
use crate::index::{self, IndexConfig, SearchParams};
use crate::log_sink::{LogSignal, LogSink};
use crate::ops::Write;
use crate::state::{Limits, State};
use crate::storage::Vfs;
use crate::store;

pub use crate::ops::{Outcome, Timing, WriteOpts};
pub use collections::{CollectionInfo, CollectionSpec};
pub use persistence::{FrozenState, LogProof, SnapshotInfo};
pub use search::{record_view, score_of, Hit, RecordView, SearchRequest, With};
pub use types::{DatabaseStats, GraphEdge, GraphNode};
pub use writes::{BatchPayloadsIn, PayloadIn};

/// A write in flight: resolves once the write is durable (or refused). It
/// borrows nothing, so a host can await it on any executor.
/// Client floats a write takes over (a `Vec<f32>`, or a host's own typed
/// array): they are converted to Q16.16 when the write's future runs.
pub trait Floats: std::ops::Deref<Target = [f32]> + Send + 'static {}
impl<V: std::ops::Deref<Target = [f32]> + Send + 'static> Floats for V {}

pub type Commit<T> = Pin<Box<dyn Future<Output = KResult<T>> + Send + 'static>>;

/// Where writes go instead of this node's committer: a cluster proposes
/// them through Raft, and every node's state machine gives them to its own
/// engine once they are committed (docs/CLUSTER-INTERNALS.md). `reply` gets
/// the outcome of the committed write.
pub trait Proposer: Send + Sync + 'static {
    fn propose(&self, write: Write, reply: Reply);
}

type ProposerSlot = Arc<OnceLock<Arc<dyn Proposer>>>;

/// Hands a built write to the proposer when one is set, else to the engine.
fn route(engine: &Engine, proposer: &ProposerSlot, op: Write, reply: Reply) {
    match proposer.get() {
        Some(_) if matches!(op, Write::Replicated { .. }) => {
            reply(Err(KernelError::InvalidArgument(
                "this node is a cluster member: it applies only what its Raft log commits, not a \
             replication stream"
                    .into(),
            )))
        }
        Some(p) => p.propose(op, reply),
        None => engine.submit(op, reply),
    }
}

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
    /// Bytes of log frames appended since open (checkpoint trigger; O(1),
    /// so the host polls it without taking the log's mutex).
    appended_bytes: Arc<AtomicU64>,
    closed: AtomicBool,
    dim: usize,
    index_cfg: IndexConfig,
    proposer: ProposerSlot,
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
        let (heights, _) = watch::channel(db.height());
        let publisher = heights.clone();
        let appended_bytes = Arc::new(AtomicU64::new(0));
        let appended = appended_bytes.clone();
        let observer: CommitObserver = Box::new(move |entries: &[(u64, Vec<u8>)]| {
            let framed: usize = entries
                .iter()
                .map(|(_, p)| p.len() + crate::storage::log::format::FRAME_OVERHEAD)
                .sum();
            appended.fetch_add(framed as u64, Ordering::Relaxed);
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
        engine.raise_time_floor(report.last_time_ms);
        Ok(Database {
            engine,
            durable: Arc::new(durable),
            report,
            snapshot_gate: Mutex::new(None),
            log_signal,
            heights,
            appended_bytes,
            closed: AtomicBool::new(false),
            dim: limits.dim,
            index_cfg,
            proposer: Arc::default(),
        })
    }

    /// From now on, writes go to `proposer` instead of this node's committer
    /// (a cluster member). Set once, before the first write.
    pub fn set_proposer(&self, proposer: Arc<dyn Proposer>) -> KResult<()> {
        self.proposer
            .set(proposer)
            .map_err(|_| KernelError::InvalidArgument("a proposer is already set".into()))
    }

    pub fn check_open(&self) -> KResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed_error());
        }
        Ok(())
    }

    /// Queue `op` now (so calls reach the committer in call order) and return
    /// a future of its outcome mapped by `map`.
    fn commit<T: Send + 'static>(
        &self,
        op: KResult<Write>,
        map: fn(Outcome) -> Option<T>,
    ) -> Commit<T> {
        let queued = self.check_open().and(op).map(|op| {
            let (tx, rx) = oneshot::channel::<KResult<Outcome>>();
            route(
                &self.engine,
                &self.proposer,
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
        build: impl FnOnce(&Engine) -> KResult<Write> + Send + 'static,
        map: fn(Outcome) -> Option<T>,
    ) -> Commit<T> {
        let open = self.check_open();
        let engine = self.engine.clone();
        let proposer = self.proposer.clone();
        Box::pin(async move {
            open?;
            let op = build(&engine)?;
            let (tx, rx) = oneshot::channel::<KResult<Outcome>>();
            route(
                &engine,
                &proposer,
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

    /// Run `f` over `collection`'s state under the read lock.
    fn with_state<T>(&self, collection: &str, f: impl FnOnce(&State) -> T) -> KResult<T> {
        self.check_open()?;
        let st = self.engine.read();
        Ok(f(&st.resolve(collection)?.db.state))
    }

    pub fn metadata(&self, collection: &str, key: &str) -> KResult<Option<String>> {
        self.with_state(collection, |s| {
            s.metadata(key)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        })
    }

    pub fn node(&self, collection: &str, id: u32) -> KResult<Option<GraphNode>> {
        self.with_state(collection, |s| {
            s.node(id).map(|n| GraphNode {
                kind: n.kind,
                record: n.record,
            })
        })
    }

    /// Outgoing edges, newest first; `None` for an unknown node.
    pub fn out_edges(&self, collection: &str, node: u32) -> KResult<Option<Vec<GraphEdge>>> {
        self.with_state(collection, |s| {
            s.out_edges(node).map(|v| {
                v.into_iter()
                    .map(|(id, e)| GraphEdge {
                        id,
                        to: e.to,
                        kind: e.kind,
                    })
                    .collect()
            })
        })
    }

    /// k nearest live records of `collection` as `(score, id)`, best first
    /// (see [`Database::query`] for filters and payloads).
    pub fn search(
        &self,
        collection: &str,
        query: &[f32],
        k: usize,
        params: SearchParams,
        tag: Option<u64>,
    ) -> KResult<Vec<(f64, u32)>> {
        let req = SearchRequest {
            params,
            tag,
            ..Default::default()
        };
        Ok(self
            .query(collection, query, k, &req)?
            .into_iter()
            .map(|h| (h.score, h.id))
            .collect())
    }

    /// BLAKE3 (lowercase hex) with the height it was taken at, under one
    /// read lock: of the whole state, or with `collection` of that
    /// collection alone (its config and data). O(state size).
    pub fn state_proof(&self, collection: Option<&str>) -> KResult<(u64, String)> {
        self.check_open()?;
        let st = self.engine.read();
        let hash = match collection {
            None => store::codec::state_hash(&st),
            Some(name) => store::codec::collection_hash(st.resolve(name)?),
        };
        Ok((st.height(), codec::hex(&hash)))
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
            vector_bytes: c.vector_bytes,
            code_bytes: c.index_memory.codes,
            index_bytes: c.index_memory.structure,
            collections: c.collections,
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
