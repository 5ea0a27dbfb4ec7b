//! Cutting the log's suffix (`EventLog::truncate_after`, R18) and small
//! state files (`StateFile`, R19): what is kept, what never comes back, and
//! that a cut inside an append leaves a log whose groups all close.

use super::helpers::*;
use crate::storage::log::format::HEADER_LEN;
use crate::storage::vfs::Errno;
use crate::storage::*;

/// Four appends of 1, 3, 1 and 3 entries: entries 1..=8, with append
/// boundaries after 1, 4, 5 and 8.
fn four_groups(fs: &SimVfs) -> (EventLog, Vec<(u64, Vec<u8>)>) {
    let (mut log, _) = open_default(fs);
    let mut all = Vec::new();
    for sizes in [&[2usize][..], &[3, 4, 5], &[6], &[7, 8, 9]] {
        all.extend(
            append_sizes(&mut log, &sizes.iter().map(|s| s * 10).collect::<Vec<_>>()).unwrap(),
        );
    }
    (log, all)
}

#[test]
fn when_cut_at_any_point_then_reopen_holds_exactly_the_kept_prefix_and_appends_continue() {
    for keep in 0..=8u64 {
        let fs = SimVfs::new();
        let (mut log, all) = four_groups(&fs);
        log.truncate_after(keep).unwrap();
        let kept: Vec<_> = all[..keep as usize].to_vec();
        assert_eq!(log.height(), keep);
        assert_eq!(read_all(&log), kept, "keep {keep}, before reopen");
        let chain = chain_of(keep, |s| all[s as usize - 1].1.clone());
        assert_eq!(log.chain_hash(), chain);
        // New entries after the cut are different payloads at the same seqs.
        log.append(&[(keep + 1, b"new-a"), (keep + 2, b"new-b")])
            .unwrap();
        drop(log);
        let (log, rec) = open_default(&fs);
        assert!(rec.truncation.is_none(), "keep {keep}: {rec:?}");
        let mut expected = kept.clone();
        expected.push((keep + 1, b"new-a".to_vec()));
        expected.push((keep + 2, b"new-b".to_vec()));
        assert_eq!(read_all(&log), expected, "keep {keep}, after reopen");
    }
}

#[test]
fn when_cut_inside_an_append_then_the_kept_part_is_its_own_closed_append() {
    let fs = SimVfs::new();
    let (mut log, all) = four_groups(&fs);
    // 3 is inside the group [2, 3, 4]: nothing may read the kept 2..=3 as a
    // torn tail at the next open.
    log.truncate_after(3).unwrap();
    drop(log);
    let (log, rec) = open_default(&fs);
    assert!(rec.truncation.is_none(), "{rec:?}");
    assert_eq!(read_all(&log), all[..3].to_vec());
}

#[test]
fn when_cut_on_a_boundary_then_the_file_ends_where_that_append_ended() {
    let fs = SimVfs::new();
    let (mut log, _) = four_groups(&fs);
    let (mut shorter, _) = {
        let other = SimVfs::new();
        let (mut l, _) = open_default(&other);
        append_sizes(&mut l, &[20]).unwrap();
        append_sizes(&mut l, &[30, 40, 50]).unwrap();
        (l, other)
    };
    log.truncate_after(4).unwrap();
    assert_eq!(log.len_bytes(), shorter.len_bytes());
    shorter.truncate_after(0).unwrap();
    assert_eq!(shorter.len_bytes(), HEADER_LEN as u64);
    assert_eq!(shorter.height(), 0);
}

#[test]
fn when_asked_outside_the_log_then_truncation_is_refused_and_changes_nothing() {
    let fs = SimVfs::new();
    let (mut log, all) = four_groups(&fs);
    log.trim_prefix(2).unwrap();
    for bad in [0u64, 1, 9, 100] {
        let err = log.truncate_after(bad).unwrap_err();
        assert_eq!(err.code(), "EVENT_LOG_OUT_OF_RANGE", "{bad}: {err}");
    }
    assert_eq!(read_all(&log), all[2..].to_vec());
    // At the base it empties the file and keeps the base and its chain.
    log.truncate_after(2).unwrap();
    assert_eq!((log.height(), log.first_seq()), (2, 3));
    assert_eq!(
        log.chain_hash(),
        chain_of(2, |s| all[s as usize - 1].1.clone())
    );
}

#[test]
fn when_a_cut_fails_then_a_failed_write_or_sync_poisons_and_a_failed_read_changes_nothing() {
    for keep in [4u64, 3] {
        let mut seen = (0, 0);
        for n in 0..40 {
            let fs = SimVfs::new();
            let (mut log, all) = four_groups(&fs);
            fs.fail_call(n, Errno::Eio);
            let Err(err) = log.truncate_after(keep) else {
                continue;
            };
            let why = crate::error::with_causes(&err);
            let mutation = ["set_len", "sync", "write", "rename", "create"]
                .iter()
                .any(|op| why.contains(&format!("{op} failed")));
            if why.contains("sync") {
                assert!(log.poisoned().is_some(), "keep {keep}, call {n}: {why}");
                assert_eq!(
                    log.append(&[(keep + 1, b"x")]).unwrap_err().code(),
                    "STORAGE_READ_ONLY"
                );
                seen.0 += 1;
            } else if !mutation {
                assert!(log.poisoned().is_none(), "keep {keep}, call {n}: {why}");
                assert_eq!(read_all(&log), all, "keep {keep}, call {n}");
                seen.1 += 1;
            }
        }
        assert!(seen.0 > 0 && seen.1 > 0, "keep {keep}: {seen:?}");
    }
}

#[test]
fn when_a_state_file_is_written_then_it_reads_back_and_damage_is_refused() {
    let fs = SimVfs::new();
    let path = std::path::PathBuf::from("/data/raft.vote");
    let file = StateFile::new(arc(&fs), &path, *b"VALVOTE1");
    assert_eq!(file.read().unwrap(), None);
    file.write(b"term 7").unwrap();
    file.write(b"term 8, node 2").unwrap();
    assert_eq!(
        file.read().unwrap().as_deref(),
        Some(&b"term 8, node 2"[..])
    );
    let other = StateFile::new(arc(&fs), &path, *b"VALOTHER");
    assert_eq!(other.read().unwrap_err().code(), "STATE_FILE_INVALID");
    assert!(file.write(&vec![0u8; MAX_STATE_PAYLOAD + 1]).is_err());
    let good = fs.file_bytes(&path).unwrap();
    for at in 0..good.len() {
        let mut bytes = good.clone();
        bytes[at] ^= 0x20;
        fs.set_file_bytes(&path, &bytes);
        let err = file.read().unwrap_err();
        assert_eq!(err.code(), "STATE_FILE_INVALID", "flip at {at}");
    }
    fs.set_file_bytes(&path, &good[..good.len() - 1]);
    assert_eq!(file.read().unwrap_err().code(), "STATE_FILE_INVALID");
}
