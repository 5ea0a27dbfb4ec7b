//! Search knobs from a request (`k`, `ef`, `nprobe`, `rerank`) never size an
//! allocation: at u32::MAX they give the same answer as at their real bound
//! (the slot count, the list count, the live count), and no single
//! allocation made by the search is larger than a small fixed ceiling. A
//! counting global allocator records the largest request.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use valori_kernel::engine::Db;
use valori_kernel::event::Event;
use valori_kernel::index::{Index, IndexConfig, IndexKind, QuantKind, SearchParams, VectorSource};
use valori_kernel::state::{Limits, State};

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
static TRACKING: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TRACKING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if TRACKING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Tests share the tracker, so they measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its result with the largest single allocation it made.
fn largest_alloc<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.store(0, Ordering::SeqCst);
    TRACKING.store(true, Ordering::SeqCst);
    let r = f();
    TRACKING.store(false, Ordering::SeqCst);
    (r, LARGEST.load(Ordering::SeqCst))
}

/// No search of the small data below needs more than this in one piece
/// (the data itself is ~20 KiB; a bug sizing from u32::MAX asks for GiBs).
const CEILING: usize = 1 << 20;
const DIM: usize = 8;
const N: u32 = 600;
const HUGE: usize = u32::MAX as usize;

struct Vectors(Vec<i32>);

impl VectorSource for Vectors {
    fn dim(&self) -> usize {
        DIM
    }
    fn vector(&self, id: u32) -> Option<&[i32]> {
        self.0.get(id as usize * DIM..(id as usize + 1) * DIM)
    }
    fn slot_count(&self) -> u32 {
        (self.0.len() / DIM) as u32
    }
}

/// Deterministic pseudo-random Q16.16 components in [-1, 1).
fn data(n: u32, seed: u64) -> Vec<i32> {
    let mut x = seed | 1;
    (0..n as usize * DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 131_072) as i32 - 65_536
        })
        .collect()
}

/// The oracle: every vector sorted by (squared distance, id).
fn brute(src: &Vectors, q: &[i32]) -> Vec<(i64, u32)> {
    let mut all: Vec<(i64, u32)> = (0..src.slot_count())
        .map(|id| {
            let v = src.vector(id).unwrap();
            let d = q
                .iter()
                .zip(v)
                .map(|(a, b)| (*a as i64 - *b as i64).pow(2))
                .sum();
            (d, id)
        })
        .collect();
    all.sort();
    all
}

fn built(kind: IndexKind, quant: QuantKind, src: &Vectors) -> Index {
    let cfg = IndexConfig {
        kind,
        quant,
        train_min: 64,
        ivf_nlist: 8,
        ..IndexConfig::default()
    };
    let mut ix = Index::new(cfg, DIM);
    for id in 0..src.slot_count() {
        ix.on_insert(id, src);
    }
    ix
}

#[test]
fn when_hnsw_ef_is_u32_max_then_results_equal_ef_at_the_slot_count_and_nothing_huge_is_allocated() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let src = Vectors(data(N, 7));
    let q = data(1, 99);
    for quant in [QuantKind::None, QuantKind::Scalar] {
        let ix = built(IndexKind::Hnsw, quant, &src);
        let at_bound = ix.search(
            &q,
            10,
            SearchParams {
                ef: Some(N as usize),
                ..Default::default()
            },
            &src,
            None,
        );
        let (huge, largest) = largest_alloc(|| {
            ix.search(
                &q,
                10,
                SearchParams {
                    ef: Some(HUGE),
                    ..Default::default()
                },
                &src,
                None,
            )
        });
        assert_eq!(huge, at_bound, "quant {quant:?}");
        // ef = every slot explores the whole graph: the exact top 10.
        assert_eq!(huge, brute(&src, &q)[..10].to_vec(), "quant {quant:?}");
        assert!(
            largest < CEILING,
            "quant {quant:?}: largest allocation {largest} bytes"
        );
    }
}

#[test]
fn when_ivf_nprobe_is_u32_max_then_every_list_is_probed_and_nothing_huge_is_allocated() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let src = Vectors(data(N, 11));
    let q = data(1, 5);
    let ix = built(IndexKind::Ivf, QuantKind::None, &src);
    assert!(
        ix.is_trained() && ix.nlist() > 1,
        "the IVF index trained (nlist {})",
        ix.nlist()
    );
    let all_lists = SearchParams {
        nprobe: Some(ix.nlist()),
        ..Default::default()
    };
    let at_bound = ix.search(&q, 10, all_lists, &src, None);
    let (huge, largest) = largest_alloc(|| {
        ix.search(
            &q,
            10,
            SearchParams {
                nprobe: Some(HUGE),
                ..Default::default()
            },
            &src,
            None,
        )
    });
    assert_eq!(huge, at_bound);
    // Probing every list is an exact scan.
    assert_eq!(huge, brute(&src, &q)[..10].to_vec());
    assert!(largest < CEILING, "largest allocation {largest} bytes");
}

#[test]
fn when_k_and_rerank_are_u32_max_then_every_index_returns_all_records_in_order_without_a_huge_allocation(
) {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let src = Vectors(data(N, 3));
    let q = data(1, 42);
    let truth = brute(&src, &q);
    let kinds = [
        (IndexKind::Brute, QuantKind::None),
        (IndexKind::Brute, QuantKind::Scalar),
        (IndexKind::Brute, QuantKind::Product),
        (IndexKind::Hnsw, QuantKind::None),
        (IndexKind::Ivf, QuantKind::None),
        (IndexKind::Ivf, QuantKind::Scalar),
    ];
    for (kind, quant) in kinds {
        let ix = built(kind, quant, &src);
        let p = SearchParams {
            ef: Some(HUGE),
            nprobe: Some(HUGE),
            rerank: Some(HUGE),
        };
        let (got, largest) = largest_alloc(|| ix.search(&q, HUGE, p, &src, None));
        assert_eq!(
            got, truth,
            "{kind:?}/{quant:?}: k above the record count returns every record"
        );
        assert!(
            largest < CEILING,
            "{kind:?}/{quant:?}: largest allocation {largest} bytes"
        );
    }
}

#[test]
fn when_the_exact_path_without_an_index_gets_k_u32_max_then_it_returns_every_live_record() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let limits = Limits::new(DIM, 1000, 0, 0);
    let mut db = Db::new(State::new(limits), IndexConfig::default());
    assert!(
        db.index.is_none(),
        "the default configuration is exact search without an index"
    );
    let raw = data(50, 17);
    let mut expect = Vec::new();
    for (i, v) in raw.chunks_exact(DIM).enumerate() {
        db.apply(&Event::InsertRecord {
            id: i as u32,
            tag: 0,
            vector: v.to_vec(),
            payload: Default::default(),
        })
        .unwrap();
        expect.push(v.to_vec());
    }
    let src = Vectors(expect.concat());
    let q = data(1, 8);
    let (got, largest) = largest_alloc(|| db.search(&q, HUGE, SearchParams::default(), None));
    assert_eq!(got, brute(&src, &q));
    assert!(largest < CEILING, "largest allocation {largest} bytes");
}
