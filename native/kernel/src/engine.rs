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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::thread;

use crate::committer::Committer;
use crate::error::{KResult, KernelError};
use crate::event::Event;
use crate::index::{
    Index, IndexConfig, IndexKind, IndexMemory, QuantKind, SearchParams, VectorSource,
};
use crate::ops::{Op, Outcome};
use crate::state::{Change, PoolCounts, State};

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

/// State plus the search index derived from it. `index` is `None` for the
/// exact scan without quantization: it scans the record pool directly with
/// the same `index::exact_rows` the indexes use.
pub struct Db {
    pub state: State,
    pub index: Option<Index>,
}

impl VectorSource for State {
    fn dim(&self) -> usize {
        State::dim(self)
    }
    fn vector(&self, id: u32) -> Option<&[i32]> {
        self.live_vector(id)
    }
    fn slot_count(&self) -> u32 {
        self.records().slots as u32
    }
}

impl Db {
    /// A db whose index matches `cfg` (None for exact brute force).
    pub fn new(state: State, cfg: IndexConfig) -> Db {
        let index = if cfg.kind == IndexKind::Brute && cfg.quant == QuantKind::None {
            None
        } else {
            let mut ix = Index::new(cfg, state.dim());
            ix.rebuild(&state);
            Some(ix)
        };
        Db { state, index }
    }

    /// Like `new`, but an index left empty (the caller decodes or rebuilds it).
    pub fn new_empty_index(state: State, cfg: IndexConfig) -> Db {
        let index = if cfg.kind == IndexKind::Brute && cfg.quant == QuantKind::None {
            None
        } else {
            Some(Index::new(cfg, state.dim()))
        };
        Db { state, index }
    }

    /// Undo the open group (see `State::begin_group`) and rebuild the index
    /// from the restored state: the index is derived and node-local, so a
    /// rebuild is simpler and safer than undoing its own structures.
    pub fn rollback_group(&mut self) -> bool {
        let rolled = self.state.rollback_group();
        if rolled {
            if let Some(ix) = self.index.as_mut() {
                ix.rebuild(&self.state);
            }
        }
        rolled
    }

    pub fn apply(&mut self, ev: &Event) -> KResult<()> {
        let change = self.state.apply(ev)?;
        if let Some(ix) = self.index.as_mut() {
            match change {
                Change::None => {}
                Change::Inserted { first, count } => {
                    for id in first..first + count {
                        ix.on_insert(id, &self.state);
                    }
                }
                Change::Removed(id) => ix.on_delete(id),
            }
        }
        Ok(())
    }

    /// k nearest live records in (distance, id) order; exact distances.
    pub fn search(
        &self,
        query: &[i32],
        k: usize,
        params: SearchParams,
        filter_tag: Option<u64>,
    ) -> Vec<(i64, u32)> {
        match &self.index {
            None => {
                let rows = self
                    .state
                    .live_records()
                    .filter(|r| filter_tag.is_none_or(|t| t == r.1));
                crate::index::exact_rows(query, k, rows.map(|(id, _, v)| (id, v)), None)
            }
            Some(ix) => {
                let st = &self.state;
                let f = filter_tag.map(|t| move |id: u32| st.record_tag(id) == Some(t));
                ix.search(
                    query,
                    k,
                    params,
                    st,
                    f.as_ref().map(|f| f as &dyn Fn(u32) -> bool),
                )
            }
        }
    }
}

/// O(1) counters published after every group, readable without the state lock
/// (so /health and /metrics never wait behind a long batch apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub records: PoolCounts,
    pub nodes: PoolCounts,
    pub edges: PoolCounts,
    pub height: u64,
    pub index_memory: IndexMemory,
}

impl Counters {
    pub fn of(db: &Db) -> Counters {
        let state = &db.state;
        Counters {
            records: state.records(),
            nodes: state.nodes(),
            edges: state.edges(),
            height: state.height(),
            index_memory: db
                .index
                .as_ref()
                .map(|i| i.memory_bytes())
                .unwrap_or_default(),
        }
    }
}

pub(crate) struct Request {
    pub(crate) op: Op,
    pub(crate) reply: Reply,
}

pub struct Engine {
    db: Arc<RwLock<Db>>,
    counters: Arc<Mutex<Counters>>,
    tx: Mutex<Option<Sender<Request>>>,
    read_only: Arc<AtomicBool>,
    fault: Arc<Mutex<Option<String>>>,
    worker: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Engine {
    pub fn new(
        db: Db,
        sink: Option<Box<dyn CommitSink>>,
        observer: Option<CommitObserver>,
    ) -> Engine {
        let counters = Arc::new(Mutex::new(Counters::of(&db)));
        let db = Arc::new(RwLock::new(db));
        let read_only = Arc::new(AtomicBool::new(false));
        let fault = Arc::new(Mutex::new(None));
        let (tx, rx) = mpsc::channel();
        let worker = {
            let c = Committer {
                rx,
                db: db.clone(),
                counters: counters.clone(),
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
            tx: Mutex::new(Some(tx)),
            read_only,
            fault,
            worker: Mutex::new(Some(worker)),
        }
    }

    /// Queue an operation; `reply` runs on the committer thread once it is
    /// durable (or rejected).
    pub fn submit(&self, op: Op, reply: Reply) {
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(tx) => {
                if let Err(mpsc::SendError(req)) = tx.send(Request { op, reply }) {
                    (req.reply)(Err(KernelError::Closed("the engine is closed".into())));
                }
            }
            None => reply(Err(KernelError::Closed("the engine is closed".into()))),
        }
    }

    /// Blocking form of `submit`, for tests and tools.
    pub fn submit_sync(&self, op: Op) -> KResult<Outcome> {
        let (tx, rx) = mpsc::channel();
        self.submit(
            op,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .unwrap_or_else(|_| Err(KernelError::Internal("committer vanished".into())))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Db> {
        self.db.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Counters as of the last applied group; never waits on the state lock.
    pub fn counters(&self) -> Counters {
        *self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Re-publish counters after the state was replaced outside the committer.
    pub fn refresh_counters(&self) {
        let c = Counters::of(&self.read());
        *self.counters.lock().unwrap_or_else(|p| p.into_inner()) = c;
    }

    pub fn db(&self) -> &Arc<RwLock<Db>> {
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
