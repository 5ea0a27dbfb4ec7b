//! The facade's own contract: writes convert client floats, the committed
//! height reaches waiters after commits and after a restore, and every call
//! after close fails with CLOSED.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use super::*;
use crate::storage::StdVfs;

struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drive a future on this thread (the kernel brings no executor).
fn block_on<F: Future>(f: F) -> F::Output {
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

const D: &str = "default";

fn memory_db() -> Database {
    let limits = Limits::new(2, 16, 16, 16);
    Database::open(
        Arc::new(StdVfs),
        limits,
        IndexConfig::default(),
        &PersistConfig::default(),
    )
    .expect("open")
}

#[test]
fn when_vectors_are_written_then_search_finds_them_and_waiters_see_the_height() {
    let db = memory_db();
    let waiter = db.wait_for_height(0).expect("open");
    assert_eq!(
        block_on(db.insert(D, vec![1.0, 2.0], 7, None)).map(|o| o.ids),
        Ok(vec![0])
    );
    assert_eq!(block_on(waiter), 1);
    assert_eq!(
        block_on(db.insert_batch(D, vec![3.0, 3.0, 4.0, 4.0], 2, None)).map(|o| o.ids),
        Ok(vec![1, 2])
    );
    let hits = db
        .search(D, &[3.0, 3.0], 1, SearchParams::default(), None)
        .expect("search");
    assert_eq!(hits, vec![(0.0, 1)]);
    // One component where the dimension is 2.
    assert_eq!(
        block_on(db.insert(D, vec![1.5], 0, None))
            .unwrap_err()
            .code(),
        "DIMENSION_MISMATCH"
    );
    assert_eq!(db.height(), 2);
}

#[test]
fn when_a_snapshot_is_restored_then_waiters_see_its_height() {
    let source = memory_db();
    for i in 0..3 {
        block_on(source.insert(D, vec![i as f32, 0.0], 0, None)).expect("insert");
    }
    let (_, bytes) = source.snapshot_bytes().expect("snapshot");
    let target = memory_db();
    let waiter = target.wait_for_height(0).expect("open");
    assert_eq!(target.restore(&bytes, true), Ok(3));
    assert_eq!(block_on(waiter), 3);
    assert_eq!(
        target.state_proof(None).expect("proof"),
        source.state_proof(None).expect("proof")
    );
}

#[test]
fn when_a_frozen_state_is_streamed_then_it_is_the_downloaded_snapshot_and_later_writes_do_not_reach_it(
) {
    let db = memory_db();
    for i in 0..5 {
        block_on(db.insert(D, vec![i as f32, 1.0], 0, None)).expect("insert");
    }
    let (_, whole) = db.snapshot_bytes().expect("snapshot");
    let frozen = db.freeze().expect("freeze");
    // Written after the freeze: not in the snapshot.
    block_on(db.insert(D, vec![9.0, 9.0], 0, None)).expect("insert");
    assert_eq!(frozen.height(), 5);
    let captured = frozen.capture().expect("capture");
    let mut streamed = Vec::new();
    let mut calls = 0;
    let n = captured
        .write_to(7, &mut |b| {
            assert!(b.len() <= 7);
            calls += 1;
            streamed.extend_from_slice(b);
            Ok(())
        })
        .expect("write");
    assert_eq!(n, streamed.len() as u64);
    assert_eq!(captured.encoded_len(), n);
    assert_eq!(streamed, whole);
    // Pieces of exactly 7 bytes, the last one shorter.
    assert_eq!(calls, whole.len().div_ceil(7));
}

#[test]
fn when_closed_then_every_call_fails_with_closed_and_closing_again_is_harmless() {
    let db = memory_db();
    block_on(db.insert(D, vec![1.0, 1.0], 0, None)).expect("insert");
    db.close();
    db.close();
    let closed = |e: KernelError| assert_eq!(e.code(), "CLOSED");
    closed(block_on(db.insert(D, vec![1.0, 1.0], 0, None)).unwrap_err());
    closed(block_on(db.set_metadata(D, "k".into(), "1".into(), None)).unwrap_err());
    closed(block_on(db.apply_replicated(2, vec![0])).unwrap_err());
    closed(
        db.search(D, &[1.0, 1.0], 1, SearchParams::default(), None)
            .unwrap_err(),
    );
    closed(db.metadata(D, "k").unwrap_err());
    closed(db.node(D, 0).unwrap_err());
    closed(db.stats().unwrap_err());
    closed(db.state_proof(None).unwrap_err());
    closed(db.snapshot_bytes().unwrap_err());
    assert!(db.freeze().is_err());
    closed(db.build_index(D).unwrap_err());
    closed(db.log_proof().unwrap_err());
    closed(db.wait_for_height(0).err().expect("refused"));
    closed(block_on(db.create_collection(CollectionSpec::default(), None)).unwrap_err());
    closed(block_on(db.drop_collection("a", None)).unwrap_err());
    closed(db.list_collections().unwrap_err());
    assert!(db.is_closed());
}
