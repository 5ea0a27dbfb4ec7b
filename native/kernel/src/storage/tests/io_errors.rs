//! I/O-error battery (docs/reliability.md battery 4): the Nth call of a workload
//! fails with EIO or ENOSPC, for every N. Then: no append succeeds after a
//! failed write or sync (the log is poisoned, R13); a failed snapshot save
//! leaves the log writable; after a restart, and after a power cut, every
//! acknowledged event is there and nothing unwritten is.

use std::collections::BTreeMap;

use super::helpers::*;
use crate::storage::vfs::{CrashMode, DataLoss, Errno};
use crate::storage::*;

#[derive(Default)]
struct Trace {
    attempted: BTreeMap<u64, Vec<u8>>,
    acked_height: u64,
    log_failed: bool,
}

fn try_append(log: &mut EventLog, sizes: &[usize], t: &mut Trace) {
    let first = log.height() + 1;
    for (i, &n) in sizes.iter().enumerate() {
        // Attempts on a poisoned log write nothing; keep the first payload.
        t.attempted
            .entry(first + i as u64)
            .or_insert_with(|| payload(first + i as u64, n));
    }
    match append_sizes(log, sizes) {
        Ok(_) => {
            assert!(
                !t.log_failed,
                "append acknowledged after a failed write or sync"
            );
            t.acked_height = log.height();
        }
        Err(e) => {
            if t.log_failed {
                assert_eq!(e.code(), "STORAGE_READ_ONLY", "{e}");
            }
            assert!(
                log.poisoned().is_some(),
                "failed append did not poison: {e}"
            );
            t.log_failed = true;
        }
    }
}

/// Runs the workload with call `n` failing; returns the trace, or `None`
/// if opening failed (which must be a clean error).
fn workload(fs: &SimVfs) -> Option<Trace> {
    let (store, _) = SnapshotStore::open(arc(fs), snap_path()).ok()?;
    let (mut log, _) = open(fs, &OpenOptions::default()).ok()?;
    let mut t = Trace::default();
    try_append(&mut log, &[10], &mut t);
    try_append(&mut log, &[200, 300], &mut t);
    let meta = SnapshotMeta {
        height: log.height(),
        chain: log.chain_hash(),
        dim: DIM,
    };
    let parts = SnapshotParts {
        kernel: b"state",
        metadata: b"{}",
        index: b"",
    };
    if store.save(&meta, &parts).is_ok() && log.poisoned().is_none() {
        let trimmed = log.trim_prefix(meta.height);
        if trimmed.is_err() && log.poisoned().is_some() {
            t.log_failed = true;
        }
    }
    try_append(&mut log, &[5000], &mut t);
    try_append(&mut log, &[1], &mut t);
    Some(t)
}

fn assert_recovers(fs: &SimVfs, t: &Trace, what: &str) {
    let (log, _) = open(fs, &OpenOptions::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        log.height() >= t.acked_height,
        "{what}: lost acknowledged events"
    );
    for (seq, p) in read_all(&log) {
        assert_eq!(t.attempted.get(&seq), Some(&p), "{what}: entry {seq}");
    }
}

#[test]
fn after_any_failed_call_nothing_more_is_acknowledged_and_acked_events_survive() {
    let probe = SimVfs::new();
    workload(&probe).expect("clean run");
    let calls = probe.calls();
    let (mut cases, mut open_failed, mut poisoned) = (0, 0, 0);
    for n in 0..calls {
        for errno in [Errno::Eio, Errno::Enospc] {
            cases += 1;
            let fs = SimVfs::new();
            fs.fail_call(n, errno);
            let Some(t) = workload(&fs) else {
                // Open failed cleanly; a restart (fault consumed) works.
                open(&fs, &OpenOptions::default()).expect("reopen after failed open");
                open_failed += 1;
                continue;
            };
            poisoned += u32::from(t.log_failed);
            let power_cut = fs.crash_image(&CrashMode {
                data: DataLoss::Prefix(0),
                dir_ops_kept: 0,
            });
            assert_recovers(
                &fs,
                &t,
                &format!("restart after call {n} failed with {errno:?}"),
            );
            assert_recovers(
                &power_cut,
                &t,
                &format!("power cut after call {n} failed with {errno:?}"),
            );
        }
    }
    println!(
        "io errors: {cases} cases ({calls} calls x EIO/ENOSPC): {open_failed} failed open cleanly, \
         {poisoned} poisoned the log"
    );
    assert_eq!(cases, 2 * calls);
    assert!(
        calls >= 30 && poisoned >= 10,
        "calls {calls}, poisoned {poisoned}"
    );
}

#[test]
fn a_failed_sync_poisons_even_though_a_retry_would_succeed() {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    append_sizes(&mut log, &[10]).unwrap();
    // Call 0 is the write, call 1 the fdatasync.
    fs.fail_call(1, Errno::Eio);
    let err = append_sizes(&mut log, &[10]).unwrap_err();
    assert_eq!(err.code(), "STORAGE_IO");
    // The reason keeps the OS error under the failed call (the cause chain).
    assert!(
        log.poisoned().unwrap().contains("sync_data failed on")
            && log
                .poisoned()
                .unwrap()
                .contains("; caused by: EIO (simulated)"),
        "{:?}",
        log.poisoned()
    );
    let kernel_err = crate::durable::storage_err(err);
    assert_eq!(kernel_err.code(), "IO_ERROR");
    assert!(
        kernel_err
            .to_string()
            .ends_with("; caused by: EIO (simulated)"),
        "{kernel_err}"
    );
    for _ in 0..3 {
        assert_eq!(
            log.append(&[(2, b"retry")]).unwrap_err().code(),
            "STORAGE_READ_ONLY"
        );
    }
    assert_eq!(log.trim_prefix(1).unwrap_err().code(), "STORAGE_READ_ONLY");
    assert_eq!(log.height(), 1);
}

#[test]
fn a_failed_snapshot_write_leaves_the_log_writable_and_the_old_snapshot_intact() {
    let fs = SimVfs::new();
    let (store, _) = SnapshotStore::open(arc(&fs), snap_path()).unwrap();
    let meta = SnapshotMeta {
        height: 1,
        chain: [1; 32],
        dim: DIM,
    };
    let old = SnapshotParts {
        kernel: b"old",
        metadata: b"",
        index: b"",
    };
    store.save(&meta, &old).unwrap();
    let (mut log, _) = open_default(&fs);
    fs.fail_call(1, Errno::Enospc);
    let new = SnapshotParts {
        kernel: b"new",
        metadata: b"",
        index: b"",
    };
    assert!(store
        .save(&SnapshotMeta { height: 2, ..meta }, &new)
        .is_err());
    append_sizes(&mut log, &[10]).unwrap();
    let loaded = store.load_newest_valid(u64::MAX).unwrap();
    assert_eq!(loaded.snapshot.unwrap().parts(), old);
    assert!(loaded.quarantined.is_empty());
}
