//! A group the event log refuses leaves no trace in memory; a committer
//! panic turns the node read-only with a reason and answers every request.
//! The log is replaced by a sink that fails or panics on demand.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc};

use valori_kernel::engine::{CommitSink, Engine};
use valori_kernel::entry::decode_entry;
use valori_kernel::index::{IndexConfig, IndexKind, SearchParams};
use valori_kernel::ops::{Op, Outcome};
use valori_kernel::state::Limits;
use valori_kernel::store::{codec, Store};
use valori_kernel::{KResult, KernelError};

const DIM: usize = 4;
const OK: u8 = 0;
const IO: u8 = 1;
const INVALID: u8 = 2;
const PANIC: u8 = 3;

/// Fails the next append in the way `mode` says, then goes back to OK.
struct Sink(Arc<AtomicU8>);

impl CommitSink for Sink {
    fn append(&mut self, _: &[(u64, Vec<u8>)]) -> KResult<()> {
        match self.0.swap(OK, Ordering::SeqCst) {
            IO => Err(KernelError::Io("simulated EIO on fdatasync".into())),
            INVALID => Err(KernelError::Internal(
                "invalid append: simulated refusal".into(),
            )),
            PANIC => panic!("simulated panic inside the sink"),
            _ => Ok(()),
        }
    }
}

fn engine(kind: IndexKind) -> (Engine, Arc<AtomicU8>) {
    let mode = Arc::new(AtomicU8::new(OK));
    let cfg = IndexConfig {
        kind,
        ..IndexConfig::default()
    };
    let db = Store::new(Limits::new(DIM, 10_000, 100, 100), cfg);
    (
        Engine::new(db, Some(Box::new(Sink(mode.clone()))), None),
        mode,
    )
}

fn hash(e: &Engine) -> [u8; 32] {
    codec::state_hash(&e.read())
}

fn near(e: &Engine, q: [i32; DIM]) -> Vec<u32> {
    e.read()
        .default_collection()
        .db
        .search(&q, 5, SearchParams::default(), None)
        .into_iter()
        .map(|(_, id)| id)
        .collect()
}

/// Records 0..3 plus a node, an edge and metadata: something to delete.
fn seed(e: &Engine) {
    for i in 0..3 {
        e.submit_sync(Op::Upsert {
            vector: vec![i, i, i, i],
            tag: 0,
            attach: None,
            metadata: Some(b"{}".to_vec()),
        })
        .unwrap();
    }
    e.submit_sync(Op::SetMetadata {
        key: "k".into(),
        value: b"1".to_vec(),
    })
    .unwrap();
}

/// Submit several operations at once; they may share one group.
fn submit_all(e: &Engine, ops: Vec<Op>) -> Vec<KResult<Outcome>> {
    let (tx, rx) = mpsc::channel();
    let n = ops.len();
    for (i, op) in ops.into_iter().enumerate() {
        let tx = tx.clone();
        e.submit(op.into(), Box::new(move |r| tx.send((i, r)).unwrap()));
    }
    let mut out: Vec<Option<KResult<Outcome>>> = (0..n).map(|_| None).collect();
    for _ in 0..n {
        let (i, r) = rx.recv().expect("every request is answered");
        out[i] = Some(r);
    }
    out.into_iter().map(|r| r.unwrap()).collect()
}

fn mixed_group() -> Vec<Op> {
    vec![
        Op::InsertBatch {
            vectors: vec![1000; DIM * 3],
            count: 3,
            payloads: Vec::new(),
        },
        Op::Delete { id: 0 },
        Op::SoftDelete { id: 1 },
        Op::SetMetadata {
            key: "k".into(),
            value: b"2".to_vec(),
        },
        Op::Upsert {
            vector: vec![1000; DIM],
            tag: 0,
            attach: Some(0),
            metadata: None,
        },
    ]
}

#[test]
fn when_the_append_fails_with_io_then_the_group_leaves_no_trace_and_the_node_is_read_only() {
    for kind in [IndexKind::Brute, IndexKind::Hnsw, IndexKind::Ivf] {
        let (e, mode) = engine(kind);
        seed(&e);
        let before = hash(&e);
        let counters = e.counters();
        mode.store(IO, Ordering::SeqCst);
        for r in submit_all(&e, mixed_group()) {
            let err = r.expect_err("no write of a failed group is acknowledged");
            // Requests applied in the failed group get IO_ERROR; any queued after it READ_ONLY.
            assert!(
                matches!(err.code(), "IO_ERROR" | "READ_ONLY"),
                "{kind:?}: {err}"
            );
        }
        assert_eq!(
            hash(&e),
            before,
            "{kind:?}: state hash equals the one before the group"
        );
        assert_eq!(e.counters(), counters, "{kind:?}: published counters too");
        assert!(
            !near(&e, [1000; DIM]).iter().any(|&id| id >= 3),
            "{kind:?}: rows never logged are not found"
        );
        assert!(
            near(&e, [0; DIM]).contains(&0),
            "{kind:?}: the deleted record is back"
        );
        assert!(e.is_read_only());
        assert!(
            e.fault().unwrap().contains("simulated EIO"),
            "{:?}",
            e.fault()
        );
        let err = e
            .submit_sync(Op::Insert {
                vector: vec![1; DIM],
                tag: 0,
                payload: Default::default(),
            })
            .unwrap_err();
        assert_eq!(err.code(), "READ_ONLY");
        assert!(err.to_string().contains("simulated EIO"), "{err}");
    }
}

#[test]
fn when_the_log_refuses_an_append_as_invalid_then_only_that_group_fails() {
    let (e, mode) = engine(IndexKind::Hnsw);
    seed(&e);
    let before = hash(&e);
    mode.store(INVALID, Ordering::SeqCst);
    let err = e
        .submit_sync(Op::InsertBatch {
            vectors: vec![7; DIM * 2],
            count: 2,
            payloads: Vec::new(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "INTERNAL");
    assert_eq!(hash(&e), before);
    assert!(!e.is_read_only(), "a refusal is not an I/O failure");
    assert_eq!(e.fault(), None);
    // The next write takes the ids the refused one would have had.
    assert_eq!(
        e.submit_sync(Op::Insert {
            vector: vec![7; DIM],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap()
        .ids,
        vec![3]
    );
    assert_eq!(near(&e, [7; DIM])[0], 3);
}

#[test]
fn when_the_committer_panics_then_every_request_is_answered_and_the_node_turns_read_only() {
    let (e, mode) = engine(IndexKind::Brute);
    seed(&e);
    let before = hash(&e);
    mode.store(PANIC, Ordering::SeqCst);
    for r in submit_all(&e, mixed_group()) {
        let err = r.expect_err("nothing of the panicked group is acknowledged");
        assert!(matches!(err.code(), "INTERNAL" | "READ_ONLY"), "{err}");
    }
    assert_eq!(hash(&e), before, "the group is rolled back");
    assert!(e.is_read_only());
    let why = e.fault().expect("a reason");
    assert!(
        why.contains("panicked") && why.contains("simulated panic"),
        "{why}"
    );
    // The committer thread is still alive: later writes get an answer, not silence.
    let err = e
        .submit_sync(Op::Insert {
            vector: vec![1; DIM],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "READ_ONLY");
    assert!(err.to_string().contains("panicked"), "{err}");
    e.close();
}

#[test]
fn when_appends_succeed_then_the_state_equals_the_logged_events_applied_without_a_journal() {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    let observer: valori_kernel::engine::CommitObserver =
        Box::new(move |entries: &[(u64, Vec<u8>)]| {
            seen.lock()
                .unwrap()
                .extend(entries.iter().map(|(_, p)| p.clone()));
        });
    let limits = Limits::new(DIM, 10_000, 100, 100);
    let e = Engine::new(
        Store::new(limits, IndexConfig::default()),
        Some(Box::new(Sink(Arc::new(AtomicU8::new(OK))))),
        Some(observer),
    );
    seed(&e);
    for r in submit_all(&e, mixed_group()) {
        r.unwrap();
    }
    let mut plain = Store::new(limits, IndexConfig::default());
    for payload in log.lock().unwrap().iter() {
        plain.apply(&decode_entry(payload).unwrap().1).unwrap();
    }
    assert_eq!(plain.height(), e.read().height());
    assert_eq!(codec::encode(&plain), codec::encode(&e.read()));
}

#[test]
fn when_a_panic_comes_after_the_group_is_durable_then_the_group_is_kept_and_the_node_turns_read_only(
) {
    let observer: valori_kernel::engine::CommitObserver =
        Box::new(|_: &[(u64, Vec<u8>)]| panic!("simulated observer panic"));
    let limits = Limits::new(DIM, 10_000, 100, 100);
    let e = Engine::new(
        Store::new(limits, IndexConfig::default()),
        Some(Box::new(Sink(Arc::new(AtomicU8::new(OK))))),
        Some(observer),
    );
    let err = e
        .submit_sync(Op::Insert {
            vector: vec![3; DIM],
            tag: 0,
            payload: Default::default(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "INTERNAL");
    // The event is in the log, so memory keeps it (a restart would replay it anyway).
    assert_eq!(e.read().height(), 1);
    assert_eq!(near(&e, [3; DIM]), vec![0]);
    assert!(e.is_read_only());
    assert!(e.fault().unwrap().contains("simulated observer panic"));
}
