//! Helpers shared by the collection tests: an executor for the database's
//! futures, nodes over a simulated file system, hashes.

#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use valori_kernel::database::{CollectionSpec, Database, Outcome, WriteOpts};
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::IndexConfig;
use valori_kernel::state::Limits;
use valori_kernel::storage::{SimVfs, Vfs};
use valori_kernel::KResult;

struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drive a future on this thread (the kernel brings no executor).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = Box::pin(f);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

pub const D: &str = "default";

pub fn limits() -> Limits {
    Limits::new(2, 1000, 1000, 1000)
}

pub fn memory(limits: Limits) -> Database {
    Database::open(
        Arc::new(SimVfs::new()) as Arc<dyn Vfs>,
        limits,
        IndexConfig::default(),
        &PersistConfig::default(),
    )
    .expect("open")
}

pub fn logged() -> PersistConfig {
    PersistConfig {
        event_log: Some(PathBuf::from("/d/events.log")),
        snapshot: Some(PathBuf::from("/d/snap.bin")),
        ..Default::default()
    }
}

pub fn open(vfs: &Arc<SimVfs>, limits: Limits, cfg: &PersistConfig) -> Database {
    Database::open(
        vfs.clone() as Arc<dyn Vfs>,
        limits,
        IndexConfig::default(),
        cfg,
    )
    .expect("open")
}

pub fn spec(name: &str, dim: u32) -> CollectionSpec {
    CollectionSpec {
        name: name.into(),
        dim,
        ..Default::default()
    }
}

pub fn create(db: &Database, name: &str, dim: u32) -> u32 {
    block_on(db.create_collection(spec(name, dim), None))
        .expect("create")
        .ids[0]
}

pub fn insert(db: &Database, c: &str, v: &[f32]) -> KResult<Outcome> {
    block_on(db.insert(c, v.to_vec(), 0, None))
}

pub fn key(b: u8) -> Option<WriteOpts> {
    Some(WriteOpts {
        key: Some([b; 16]),
        item_keys: Vec::new(),
    })
}

pub fn hash(db: &Database) -> String {
    db.state_proof(None).expect("proof").1
}

pub fn chash(db: &Database, c: &str) -> String {
    db.state_proof(Some(c)).expect("proof").1
}

/// Ids of a search's hits.
pub fn near(db: &Database, c: &str, q: &[f32], k: usize) -> Vec<u32> {
    db.search(c, q, k, Default::default(), None)
        .expect("search")
        .into_iter()
        .map(|h| h.1)
        .collect()
}
