//! The thread pool index construction runs on.
//!
//! Its size is a node-local setting (the host calls [`set_build_threads`]
//! once at open), so nothing it builds may depend on it: every parallel step
//! of the index splits its work by the data (points, sub-batch members, link
//! targets), lets each task write only its own output, and combines outputs
//! in a fixed order. One thread or many, the bytes are the same
//! (docs/index-formats.md, "Parallel construction").

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

struct Pool {
    /// What the host asked for (0 = every available core).
    requested: usize,
    pool: Option<Arc<ThreadPool>>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    requested: 0,
    pool: None,
});

fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn make(threads: usize) -> Option<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("valori-index-{i}"))
        .build()
        .ok()
        .map(Arc::new)
}

/// Sets the number of threads that build indexes: 0 = every available core
/// (the default). Takes effect for builds started after the call; a build
/// already running keeps its pool. Results never depend on it.
pub fn set_build_threads(n: usize) {
    let mut p = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if p.requested != n || p.pool.is_none() {
        p.requested = n;
        p.pool = None;
    }
}

/// Threads the next build will use.
pub fn build_threads() -> usize {
    let p = POOL.lock().unwrap_or_else(|e| e.into_inner());
    match p.requested {
        0 => available(),
        n => n,
    }
}

fn pool() -> Option<Arc<ThreadPool>> {
    let mut p = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if p.pool.is_none() {
        let n = match p.requested {
            0 => available(),
            n => n,
        };
        p.pool = make(n);
    }
    p.pool.clone()
}

/// Runs `f` on the build pool. Already on a pool's thread (a caller's
/// [`with_build_threads`], or a nested build step), `f` runs right there.
/// If no pool can be started, `f` runs on the caller's thread: rayon then
/// uses its global pool, which gives the same results.
pub(crate) fn run<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return f();
    }
    match pool() {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Runs `f` with index builds on a private pool of `threads` threads (at
/// least 1), whatever [`set_build_threads`] says: for tests and benchmarks
/// that compare thread counts within one process.
pub fn with_build_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    match make(threads) {
        Some(p) => p.install(f),
        None => f(),
    }
}
