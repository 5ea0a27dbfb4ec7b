//! The committer's per-write durations (for traces): an fsync duration only
//! when the group was appended to a log, covering the whole append, and no
//! part of what makes two outcomes equal.

use std::thread;
use std::time::Duration;

use valori_kernel::engine::{CommitSink, Engine};
use valori_kernel::index::IndexConfig;
use valori_kernel::ops::{Op, Outcome, Timing};
use valori_kernel::state::Limits;
use valori_kernel::store::Store;
use valori_kernel::KResult;

/// A log whose append (write + fdatasync) takes at least `SLOW`.
struct SlowSink;

const SLOW: Duration = Duration::from_millis(3);

impl CommitSink for SlowSink {
    fn append(&mut self, _: &[(u64, Vec<u8>)]) -> KResult<()> {
        thread::sleep(SLOW);
        Ok(())
    }
}

fn store() -> Store {
    Store::new(Limits::new(4, 100, 10, 10), IndexConfig::default())
}

fn set(e: &Engine, key: &str) -> Outcome {
    e.submit_sync(Op::SetMetadata {
        key: key.into(),
        value: b"1".to_vec(),
    })
    .unwrap()
}

#[test]
fn a_logged_write_reports_its_append_and_fsync() {
    let e = Engine::new(store(), Some(Box::new(SlowSink)), None);
    let out = set(&e, "a");
    let fsync = out
        .timing
        .fsync_us
        .expect("an appended group has an fsync duration");
    assert!(
        fsync >= SLOW.as_micros() as u64,
        "fsync {fsync} us covers the append"
    );
}

#[test]
fn without_a_log_there_is_no_fsync_duration() {
    let e = Engine::new(store(), None, None);
    assert_eq!(set(&e, "a").timing.fsync_us, None);
}

#[test]
fn timings_do_not_change_what_an_outcome_is() {
    let a = Outcome {
        ids: vec![1],
        height: 2,
        deduplicated: false,
        timing: Timing::default(),
    };
    let b = Outcome {
        timing: Timing {
            queued_us: 10,
            apply_us: 20,
            fsync_us: Some(30),
        },
        ..a.clone()
    };
    assert_eq!(a, b);
    assert_ne!(
        a,
        Outcome {
            height: 3,
            ..b.clone()
        }
    );
}
