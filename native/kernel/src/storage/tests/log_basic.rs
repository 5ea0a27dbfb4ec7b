//! Behaviour of the event log API: open/append/reopen, validation of
//! appends, dim mismatch, readers and hash-at-height, trim and reset,
//! torn-tail repair, leftovers, and the same round trip on the real disk.

use std::sync::Arc;

use super::helpers::*;
use crate::storage::log::format::{chain_next, HEADER_LEN};
use crate::storage::vfs::with_suffix;
use crate::storage::*;

#[test]
fn when_reopened_then_entries_height_and_chain_are_identical() {
    let fs = SimVfs::new();
    let (mut log, rec) = open_default(&fs);
    assert!(rec.created);
    assert_eq!(
        (log.height(), log.first_seq(), log.event_count()),
        (0, 1, 0)
    );
    let mut all = append_sizes(&mut log, &[10]).unwrap();
    all.extend(append_sizes(&mut log, &[700, 1, 5000]).unwrap());
    let chain = log.chain_hash();
    assert_eq!(chain, chain_of(4, |s| all[s as usize - 1].1.clone()));
    drop(log);
    let (log, rec) = open_default(&fs);
    assert!(!rec.created && rec.truncation.is_none());
    assert_eq!(
        (rec.height, rec.event_count, log.chain_hash()),
        (4, 4, chain)
    );
    assert_eq!(read_all(&log), all);
}

#[test]
fn when_an_append_is_invalid_then_nothing_is_written_and_the_log_stays_usable() {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    append_sizes(&mut log, &[8]).unwrap();
    let len = file_len(&fs, &log_path());
    let big = vec![1u8; MAX_ENTRY_BYTES as usize + 1];
    let cases: Vec<Vec<(u64, &[u8])>> = vec![
        vec![(3, b"x")],
        vec![(1, b"x")],
        vec![(2, b"x"), (4, b"y")],
        vec![(2, b"")],
        vec![(2, &big)],
    ];
    for entries in cases {
        let err = log.append(&entries).unwrap_err();
        assert_eq!(err.code(), "EVENT_LOG_INVALID_APPEND", "{err}");
    }
    assert_eq!(file_len(&fs, &log_path()), len);
    assert!(log.poisoned().is_none());
    log.append(&[(2, b"ok")]).unwrap();
    assert_eq!(log.height(), 2);
}

#[test]
fn when_the_dim_differs_then_open_fails_naming_both_dims_and_the_path() {
    let fs = SimVfs::new();
    drop(open_default(&fs));
    let err = EventLog::open(arc(&fs), log_path(), 768, &OpenOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.code(), "EVENT_LOG_DIM_MISMATCH");
    assert!(
        msg.contains("dim 4") && msg.contains("dim 768") && msg.contains("/data/events.log"),
        "{msg}"
    );
}

#[test]
fn readers_start_anywhere_and_hash_at_height_matches_a_recomputation() {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    let mut all = Vec::new();
    // 2600 entries crosses the 1024-entry sparse index stride twice.
    while all.len() < 2600 {
        let n = 1 + all.len() % 7;
        all.extend(append_sizes(&mut log, &vec![3 + all.len() % 50; n]).unwrap());
    }
    let h = log.height();
    for from in [1, 2, 1023, 1024, 1025, 2048, 2049, h, h + 1] {
        let got: Vec<_> = log.reader_from(from).unwrap().map(Result::unwrap).collect();
        assert_eq!(got, all[(from - 1) as usize..], "from {from}");
    }
    assert_eq!(
        log.reader_from(0).unwrap_err().code(),
        "EVENT_LOG_OUT_OF_RANGE"
    );
    assert_eq!(
        log.reader_from(h + 2).unwrap_err().code(),
        "EVENT_LOG_OUT_OF_RANGE"
    );
    let mut chain = GENESIS_CHAIN;
    for (seq, p) in &all {
        chain = chain_next(&chain, *seq, p);
        if seq % 97 == 0 || *seq == h || seq % 1024 <= 1 {
            assert_eq!(log.chain_hash_at(*seq).unwrap(), chain, "seq {seq}");
        }
    }
    assert_eq!(log.chain_hash_at(0).unwrap(), GENESIS_CHAIN);
    assert!(log.chain_hash_at(h + 1).is_err());
}

#[test]
fn a_reader_sees_only_committed_entries_until_extended() {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    append_sizes(&mut log, &[5, 5]).unwrap();
    let mut reader = log.reader_from(1).unwrap();
    append_sizes(&mut log, &[5]).unwrap();
    assert_eq!(reader.by_ref().count(), 2);
    reader.extend_to(log.position()).unwrap();
    assert_eq!(reader.next().unwrap().unwrap().0, 3);
    log.trim_prefix(1).unwrap();
    assert_eq!(
        reader.extend_to(log.position()).unwrap_err().code(),
        "EVENT_LOG_READER_STALE"
    );
}

#[test]
fn trim_keeps_heights_chain_and_tail_even_inside_an_append() {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    let mut all = append_sizes(&mut log, &[20, 30]).unwrap();
    all.extend(append_sizes(&mut log, &[40, 50, 60]).unwrap());
    all.extend(append_sizes(&mut log, &[70]).unwrap());
    let chain = log.chain_hash();
    // Seq 4 sits in the middle of the second append.
    log.trim_prefix(4).unwrap();
    assert_eq!(
        (
            log.base_seq(),
            log.first_seq(),
            log.height(),
            log.chain_hash()
        ),
        (4, 5, 6, chain)
    );
    assert_eq!(read_all(&log), all[4..]);
    assert_eq!(
        log.reader_from(3).unwrap_err().code(),
        "EVENT_LOG_OUT_OF_RANGE"
    );
    all.extend(append_sizes(&mut log, &[80]).unwrap());
    drop(log);
    let (log, rec) = open_default(&fs);
    assert!(rec.truncation.is_none());
    assert_eq!((rec.base_seq, rec.height, rec.event_count), (4, 7, 3));
    assert_eq!(read_all(&log), all[4..]);
    assert_eq!(
        log.chain_hash(),
        chain_of(7, |s| all[s as usize - 1].1.clone())
    );
    assert!(fs.file_bytes(&with_suffix(&log_path(), ".tmp")).is_none());
}

#[test]
fn trim_to_the_height_leaves_an_empty_log_that_continues() {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    append_sizes(&mut log, &[9, 9]).unwrap();
    log.trim_prefix(2).unwrap();
    assert_eq!((log.event_count(), log.height()), (0, 2));
    append_sizes(&mut log, &[9]).unwrap();
    assert_eq!(open_default(&fs).0.height(), 3);
}

#[test]
fn reset_and_create_base_start_the_log_at_a_snapshot_height() {
    let fs = SimVfs::new();
    let base = LogBase {
        seq: 1000,
        chain: [7; 32],
    };
    let opts = OpenOptions {
        create_base: base,
        ..OpenOptions::default()
    };
    let (mut log, rec) = open(&fs, &opts).unwrap();
    assert_eq!(
        (rec.base_seq, rec.height, log.chain_hash()),
        (1000, 1000, [7; 32])
    );
    log.append(&[(1001, b"a")]).unwrap();
    assert_eq!(log.chain_hash(), chain_next(&[7; 32], 1001, b"a"));
    log.reset_to(LogBase {
        seq: 5,
        chain: [9; 32],
    })
    .unwrap();
    assert_eq!((log.height(), log.first_seq()), (5, 6));
    log.append(&[(6, b"b")]).unwrap();
    drop(log);
    let (log, _) = open_default(&fs);
    assert_eq!(read_all(&log), vec![(6, b"b".to_vec())]);
}

#[test]
fn when_the_tail_is_torn_then_open_cuts_it_syncs_and_reports_the_offset() {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    let all = append_sizes(&mut log, &[100, 200]).unwrap();
    let valid = log.len_bytes();
    drop(log);
    let mut bytes = fs.file_bytes(&log_path()).unwrap();
    bytes.extend_from_slice(&[0x5A; 77]);
    fs.set_file_bytes(&log_path(), &bytes);
    let (log, rec) = open_default(&fs);
    let t = rec.truncation.expect("truncated");
    assert_eq!(
        (t.cause, t.truncated_to, t.found_at, t.dropped_bytes),
        (TruncationCause::TornTail, valid, valid, 77)
    );
    assert_eq!(file_len(&fs, &log_path()) as u64, valid);
    assert_eq!(read_all(&log), all);
}

#[test]
fn empty_files_legacy_logs_and_leftover_temporaries_are_handled() {
    let fs = SimVfs::new();
    fs.set_file_bytes(&log_path(), b"");
    let tmp = with_suffix(&log_path(), ".tmp");
    fs.set_file_bytes(&tmp, b"half a rewrite");
    let (_, rec) = open_default(&fs);
    assert!(rec.created);
    assert_eq!(rec.removed_temp_files, vec![tmp.clone()]);
    assert!(fs.file_bytes(&tmp).is_none());
    let mut legacy = vec![1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    legacy.extend_from_slice(&[0u8; 40]);
    fs.set_file_bytes(&log_path(), &legacy);
    assert_eq!(
        open(&fs, &OpenOptions::default()).unwrap_err().code(),
        "EVENT_LOG_LEGACY_FORMAT"
    );
    fs.set_file_bytes(&log_path(), &[0x42; HEADER_LEN - 1]);
    assert_eq!(
        open(&fs, &OpenOptions::default()).unwrap_err().code(),
        "EVENT_LOG_BAD_HEADER"
    );
}

/// The same round trip over the real file system, in a fresh temp dir.
#[test]
fn std_vfs_round_trip_on_disk() {
    let dir = std::env::temp_dir().join(format!(
        "valori-storage-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let vfs: Arc<dyn Vfs> = Arc::new(StdVfs);
    let path = dir.join("events.log");
    let (mut log, rec) = EventLog::open(vfs.clone(), &path, DIM, &OpenOptions::default()).unwrap();
    assert!(rec.created);
    let all = append_sizes(&mut log, &[10, 5000]).unwrap();
    log.trim_prefix(1).unwrap();
    drop(log);
    let (log, rec) = EventLog::open(vfs.clone(), &path, DIM, &OpenOptions::default()).unwrap();
    assert_eq!((rec.base_seq, rec.height), (1, 2));
    assert_eq!(read_all(&log), all[1..]);
    let (store, _) = SnapshotStore::open(vfs.clone(), dir.join("snapshot.bin")).unwrap();
    let meta = SnapshotMeta {
        height: 2,
        chain: log.chain_hash(),
        dim: DIM,
    };
    let parts = SnapshotParts {
        kernel: b"state",
        metadata: b"{}",
        index: b"",
    };
    store.save(&meta, &parts).unwrap();
    store.save(&meta, &parts).unwrap();
    let loaded = store.load_newest_valid(u64::MAX).unwrap().snapshot.unwrap();
    assert_eq!((loaded.meta, loaded.parts()), (meta, parts));
    assert!(vfs.exists(&store.prev_path()).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
