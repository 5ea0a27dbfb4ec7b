//! The engine: state behind a read/write lock plus one committer thread that
//! owns every mutation (group commit; the loop itself is in `committer.rs`).
//!
//! A write is `validate → apply → append to log + fdatasync → acknowledge`.
//! The committer drains every request queued while the previous group was being
//! synced, applies them in order (each one checked atomically against the state
//! its predecessors produced; a rejected one writes nothing), writes all their
//! events with ONE write and ONE fdatasync, then acknowledges them together. A
//! lone write never waits on a timer. Readers take the read lock and never wait
//! for a sync. A group the log refuses is rolled back (undo journal) so it
//! leaves no trace in memory; if the refusal was an I/O failure, or the
//! committer panicked, the engine turns read-only for the rest of the
//! process's life, with the reason in `fault()`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::thread;
use std::time::Instant;

use crate::committer::Committer;
use crate::entry::Metric;
use crate::error::{KResult, KernelError};
use crate::index::IndexMemory;
use crate::ops::{Outcome, Write};
use crate::state::PoolCounts;
use crate::store::{not_found, Collection, Store};

pub use crate::db::Db;

/// Durable destination of committed events (the event log). `append` must not
/// return Ok until the entries are on disk (fdatasync).
pub trait CommitSink: Send {
    fn append(&mut self, entries: &[(u64, Vec<u8>)]) -> KResult<()>;
    /// The group of the last failed `append` was rolled back out of the state.
    fn rolled_back(&mut self) {}
}

/// Told about every durable group, in order (replication, metrics).
pub type CommitObserver = Box<dyn FnMut(&[(u64, Vec<u8>)]) + Send>;

/// Called once with the result of a submitted operation.
pub type Reply = Box<dyn FnOnce(KResult<Outcome>) + Send>;

/// O(1) counters published after every group, readable without the state lock
/// (so /health and /metrics never wait behind a long batch apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub records: PoolCounts,
    pub nodes: PoolCounts,
    pub edges: PoolCounts,
    pub height: u64,
    pub index_memory: IndexMemory,
    /// Q16.16 vectors of live and soft-deleted records, in bytes.
    pub vector_bytes: u64,
    pub collections: u32,
}

impl Counters {
    /// Node-wide totals over all collections, O(1) (the store keeps them).
    pub fn of(store: &Store) -> Counters {
        let l = store.limits();
        let t = store.totals();
        Counters {
            records: PoolCounts {
                live: t.records_live,
                used: t.records,
                slots: t.record_slots,
                capacity: l.max_records,
            },
            nodes: PoolCounts {
                live: t.nodes,
                used: t.nodes,
                slots: t.node_slots,
                capacity: l.max_nodes,
            },
            edges: PoolCounts {
                live: t.edges,
                used: t.edges,
                slots: t.edge_slots,
                capacity: l.max_edges,
            },
            height: store.height(),
            index_memory: IndexMemory {
                codes: t.index_codes,
                structure: t.index_structure,
            },
            vector_bytes: t.vector_bytes,
            collections: store.len() as u32,
        }
    }
}

/// name → (id, dimension) of every collection, published by the committer
/// after a group that created or dropped one (and after a restore): a write
/// resolves its collection here without waiting behind a group's apply (it
/// is called on a host's event loop). Lookup only; never iterated.
pub type Catalog = HashMap<String, Target>;

/// What a write needs to know of its collection before it is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub id: u32,
    pub dim: usize,
    pub metric: Metric,
}

impl Target {
    pub fn of(c: &Collection) -> Target {
        Target {
            id: c.id,
            dim: c.config.dim as usize,
            metric: c.config.metric,
        }
    }
}

pub fn catalog_of(store: &Store) -> Catalog {
    store
        .collections()
        .map(|c| (c.name.clone(), Target::of(c)))
        .collect()
}

pub(crate) struct Request {
    pub(crate) op: Write,
    pub(crate) reply: Reply,
    /// When it was queued: the committer reports the wait (for traces only).
    pub(crate) queued_at: Instant,
    /// The commit time to stamp on its entry instead of the clock's (a
    /// cluster member applies the time its leader chose, so every member's
    /// event log holds the same bytes).
    pub(crate) time_ms: Option<u64>,
}

pub struct Engine {
    db: Arc<RwLock<Store>>,
    counters: Arc<Mutex<Counters>>,
    catalog: Arc<RwLock<Catalog>>,
    /// The latest commit time stamped or applied (Unix ms): time stamps
    /// never go back, even when the clock steps back.
    time_floor: Arc<AtomicU64>,
    tx: Mutex<Option<Sender<Request>>>,
    read_only: Arc<AtomicBool>,
    fault: Arc<Mutex<Option<String>>>,
    worker: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Engine {
    pub fn new(
        db: Store,
        sink: Option<Box<dyn CommitSink>>,
        observer: Option<CommitObserver>,
    ) -> Engine {
        let counters = Arc::new(Mutex::new(Counters::of(&db)));
        let catalog = Arc::new(RwLock::new(catalog_of(&db)));
        let time_floor = Arc::new(AtomicU64::new(0));
        let db = Arc::new(RwLock::new(db));
        let read_only = Arc::new(AtomicBool::new(false));
        let fault = Arc::new(Mutex::new(None));
        let (tx, rx) = mpsc::channel();
        let worker = {
            let c = Committer {
                rx,
                db: db.clone(),
                counters: counters.clone(),
                catalog: catalog.clone(),
                time_floor: time_floor.clone(),
                sink,
                observer,
                read_only: read_only.clone(),
                fault: fault.clone(),
                durable: true,
            };
            thread::Builder::new()
                .name("valori-committer".into())
                .spawn(move || c.run())
                .expect("spawn committer thread")
        };
        Engine {
            db,
            counters,
            catalog,
            time_floor,
            tx: Mutex::new(Some(tx)),
            read_only,
            fault,
            worker: Mutex::new(Some(worker)),
        }
    }

    /// Queue an operation; `reply` runs on the committer thread once it is
    /// durable (or rejected).
    pub fn submit(&self, op: Write, reply: Reply) {
        self.submit_at(op, None, reply)
    }

    /// `submit`, stamping the entry with `time_ms` (when given) instead of
    /// the committer's clock.
    pub fn submit_at(&self, op: Write, time_ms: Option<u64>, reply: Reply) {
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(tx) => {
                if let Err(mpsc::SendError(req)) = tx.send(Request {
                    op,
                    reply,
                    queued_at: Instant::now(),
                    time_ms,
                }) {
                    (req.reply)(Err(KernelError::Closed("the engine is closed".into())));
                }
            }
            None => reply(Err(KernelError::Closed("the engine is closed".into()))),
        }
    }

    /// Blocking form of `submit`, for tests and tools.
    pub fn submit_sync(&self, op: impl Into<Write>) -> KResult<Outcome> {
        let (tx, rx) = mpsc::channel();
        self.submit(
            op.into(),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .unwrap_or_else(|_| Err(KernelError::Internal("committer vanished".into())))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.db.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Counters as of the last applied group; never waits on the state lock.
    pub fn counters(&self) -> Counters {
        *self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-publish counters and the catalog after the state was replaced
    /// (or an index rebuilt) outside the committer.
    pub fn refresh_counters(&self) {
        let (c, cat) = {
            let st = self.read();
            (Counters::of(&st), catalog_of(&st))
        };
        *self.counters.lock().unwrap_or_else(|p| p.into_inner()) = c;
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = cat;
    }

    /// Commit times from now on are at least `ms` (the log's last one, at open).
    pub fn raise_time_floor(&self, ms: u64) {
        self.time_floor.fetch_max(ms, Ordering::AcqRel);
    }

    /// The commit time the committer would stamp now: the clock, never
    /// earlier than the last time stamped or applied (Unix ms).
    pub fn commit_time_now(&self) -> u64 {
        crate::committer::wall_clock_ms().max(self.time_floor.load(Ordering::Acquire))
    }

    /// Publish the catalog of `store` (a restore does it while it still
    /// holds the state lock, so no write resolves a name against the old one
    /// and lands in the new state).
    pub fn publish_catalog(&self, store: &Store) {
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = catalog_of(store);
    }

    /// Id, dimension and metric of the collection named `name`, from the
    /// published catalog (never waits on the state lock).
    pub fn resolve(&self, name: &str) -> KResult<Target> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied()
            .ok_or_else(|| not_found(name))
    }

    pub fn db(&self) -> &Arc<RwLock<Store>> {
        &self.db
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    /// Why the engine refuses writes after a failure (a log write that
    /// failed, a committer panic); `None` while healthy. A follower is not
    /// read-only here: it refuses client writes in the shell and applies the
    /// leader's events through this engine.
    pub fn fault(&self) -> Option<String> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stop accepting writes, finish the queued ones, join the committer.
    pub fn close(&self) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(tx);
        if let Some(h) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close();
    }
}
