//! Writing a snapshot never holds the file on the heap (its sections are
//! encoded as they are written, a MiB at a time), and loading one maps the
//! file instead of reading it into a buffer: the heap grows by about the
//! state's size, not the state plus the file. Measured with a counting
//! allocator; one test in this binary, so no other test's allocations mix in.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::*;
use valori_kernel::database::Database;
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::IndexConfig;
use valori_kernel::state::Limits;
use valori_kernel::storage::{StdVfs, Vfs};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = NOW.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            grew(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        NOW.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            // Both blocks may exist during the move: count the new one first.
            grew(new);
            NOW.fetch_sub(l.size(), Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// `f`'s result and the most the heap grew above its size at the start.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = NOW.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = f();
    (t, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

const DIM: usize = 128;
const RECORDS: u32 = 20_000;
const MIB: usize = 1 << 20;

fn open(dir: &std::path::Path) -> Database {
    Database::open(
        Arc::new(StdVfs) as Arc<dyn Vfs>,
        Limits::new(DIM, RECORDS as u64, 100, 100),
        IndexConfig::default(),
        &PersistConfig {
            snapshot: Some(dir.join("snap.bin")),
            ..Default::default()
        },
    )
    .expect("open")
}

#[test]
fn a_snapshot_is_written_in_pieces_and_loaded_through_a_mapping() {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("valori-snapshot-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = open(&dir);
    for b in 0..RECORDS / 1000 {
        let values: Vec<f32> = (0..1000 * DIM)
            .map(|i| ((b as usize * 1000 * DIM + i) % 997) as f32 / 100.0)
            .collect();
        block_on(db.insert_batch(D, values, 1000, None)).expect("insert");
    }
    let before = hash(&db);
    let (info, write_peak) = peak_growth(|| db.save_snapshot(None).expect("save"));
    let file = info.bytes as usize;
    // 20,000 × 128 × 4 bytes of vectors and more: above twice the bound below.
    assert!(file > 9 * MIB, "snapshot is {file} bytes");
    assert!(
        write_peak < 4 * MIB,
        "writing a {file}-byte snapshot grew the heap by {write_peak} bytes"
    );
    db.engine.close();
    drop(db);

    let (db, load_peak) = peak_growth(|| open(&dir));
    assert_eq!(db.report.source, "snapshot");
    assert_eq!(hash(&db), before);
    // The loaded state itself is about the file's size; a copy of the file
    // on the heap next to it would take the growth to about twice that.
    assert!(
        load_peak < file + file / 4,
        "loading a {file}-byte snapshot grew the heap by {load_peak} bytes"
    );
    db.engine.close();
    drop(db);
    std::fs::remove_dir_all(&dir).unwrap();
}
