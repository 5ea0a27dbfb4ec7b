//! Corruption battery (docs/reliability.md battery 3): damage before the final
//! append is always refused as mid-log corruption, never read as a
//! different payload; with the operator's consent the log is cut exactly
//! before the damaged append; damage inside the final append removes that
//! append whole; readers re-check committed frames.

use super::helpers::*;
use crate::storage::log::format::HEADER_LEN;
use crate::storage::*;

struct Built {
    fs: SimVfs,
    all: Vec<(u64, Vec<u8>)>,
    /// (start offset, height before) of each append, in order.
    appends: Vec<(u64, u64)>,
    len: u64,
}

fn build() -> Built {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    let mut all = Vec::new();
    let mut appends = Vec::new();
    for sizes in [
        &[30][..],
        &[100, 100, 100],
        &[600],
        &[40, 40],
        &[100],
        &[100],
        &[12],
    ] {
        appends.push((log.len_bytes(), log.height()));
        all.extend(append_sizes(&mut log, sizes).unwrap());
    }
    Built {
        fs,
        all,
        appends,
        len: log.len_bytes(),
    }
}

impl Built {
    fn with_bytes(&self, edit: impl FnOnce(&mut Vec<u8>)) -> SimVfs {
        let fs = SimVfs::new();
        let mut bytes = self.fs.file_bytes(&log_path()).unwrap();
        edit(&mut bytes);
        fs.set_file_bytes(&log_path(), &bytes);
        fs
    }

    /// Height before the append that holds byte `pos`.
    fn height_before(&self, pos: u64) -> u64 {
        self.appends
            .iter()
            .rev()
            .find(|(start, _)| *start <= pos)
            .map(|a| a.1)
            .unwrap()
    }
}

#[test]
fn every_flip_before_the_final_append_is_refused_and_truncation_is_exact() {
    let b = build();
    let last_start = b.appends.last().unwrap().0;
    let mut checked = 0;
    for pos in 0..last_start {
        for mask in [0x01u8, 0x80, 0xFF] {
            let fs = b.with_bytes(|bytes| bytes[pos as usize] ^= mask);
            let err = open(&fs, &OpenOptions::default())
                .map(|(l, r)| (l.height(), r))
                .expect_err(&format!("flip {mask:#x} at {pos} accepted"));
            if pos < HEADER_LEN as u64 {
                assert!(
                    matches!(
                        err.code(),
                        "EVENT_LOG_BAD_HEADER" | "EVENT_LOG_LEGACY_FORMAT"
                    ),
                    "{err}"
                );
                continue;
            }
            let StorageError::MidLogCorruption {
                offset,
                truncate_to,
                last_good_seq,
                ..
            } = err
            else {
                panic!("flip {mask:#x} at {pos}: {err}");
            };
            let expected = b.height_before(pos);
            assert_eq!(last_good_seq, expected, "flip at {pos}");
            assert!(
                truncate_to <= offset && offset <= pos,
                "offsets {truncate_to} {offset} for {pos}"
            );
            let accept = OpenOptions {
                accept_truncation: true,
                ..OpenOptions::default()
            };
            let (log, rec) = open(&fs, &accept).expect("accepted truncation");
            let t = rec.truncation.expect("reported");
            assert_eq!(t.cause, TruncationCause::MidLogCorruptionAccepted);
            assert_eq!((log.height(), t.truncated_to), (expected, truncate_to));
            assert_eq!(read_all(&log), b.all[..expected as usize]);
            checked += 1;
        }
    }
    println!("corruption: {checked} mid-log flips refused, each truncated exactly when accepted");
    assert!(checked > 3000, "{checked}");
}

#[test]
fn flips_inside_the_final_append_remove_it_whole() {
    let b = build();
    let (last_start, before) = *b.appends.last().unwrap();
    for pos in last_start..b.len {
        let fs = b.with_bytes(|bytes| bytes[pos as usize] ^= 0x04);
        let (log, rec) = open(&fs, &OpenOptions::default()).expect("torn final append");
        assert_eq!(rec.truncation.unwrap().truncated_to, last_start);
        assert_eq!(read_all(&log), b.all[..before as usize]);
    }
}

#[test]
fn a_zeroed_sector_or_a_misplaced_copy_before_the_end_is_refused() {
    let b = build();
    let zeroed = b.with_bytes(|bytes| bytes[512..1024].fill(0));
    assert_eq!(
        open(&zeroed, &OpenOptions::default()).unwrap_err().code(),
        "EVENT_LOG_CORRUPT"
    );
    // Two appends of one 100-byte entry: identical sizes, so a copy of the
    // first lands exactly on the frame boundary of the second. The chained
    // CRC and the sequence number both reject it.
    let (a, b2) = (b.appends[4].0 as usize, b.appends[5].0 as usize);
    let misplaced = b.with_bytes(|bytes| {
        let first = bytes[a..b2].to_vec();
        bytes[b2..b2 + first.len()].copy_from_slice(&first);
    });
    assert_eq!(
        open(&misplaced, &OpenOptions::default())
            .unwrap_err()
            .code(),
        "EVENT_LOG_CORRUPT"
    );
}

#[test]
fn stale_frames_behind_the_end_are_never_read_as_events() {
    let b = build();
    // A copy of earlier frames where the next append would go: stale data
    // from a reused block. Nothing of it may come back as an event.
    let fs = b.with_bytes(|bytes| {
        let early = bytes[HEADER_LEN..HEADER_LEN + 400].to_vec();
        bytes.extend_from_slice(&early);
    });
    let (log, rec) = open(&fs, &OpenOptions::default()).unwrap();
    assert_eq!(rec.truncation.unwrap().truncated_to, b.len);
    assert_eq!(read_all(&log), b.all);
}

#[test]
fn a_reader_reports_damage_that_appears_after_open() {
    let b = build();
    let (log, _) = open_default(&b.fs);
    let mut bytes = b.fs.file_bytes(&log_path()).unwrap();
    let pos = b.appends[2].0 as usize + 20;
    bytes[pos] ^= 0x40;
    b.fs.set_file_bytes(&log_path(), &bytes);
    let results: Vec<_> = log.reader_from(1).unwrap().collect();
    assert_eq!(results.len(), 5);
    assert!(results[..4].iter().all(Result::is_ok));
    let err = results[4].as_ref().unwrap_err();
    assert_eq!(err.code(), "EVENT_LOG_CORRUPT_ENTRY");
    assert!(
        err.to_string()
            .contains(&format!("offset {}", b.appends[2].0)),
        "{err}"
    );
}
