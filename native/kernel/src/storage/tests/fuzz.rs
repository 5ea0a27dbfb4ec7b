//! Property and fuzz tests (docs/reliability.md battery 5): the frame decoder,
//! the header decoder, whole-log open plus replay, and the snapshot decoder
//! take arbitrary bytes without panicking and without allocating from an
//! unchecked length (checked with the allocation guard: no single
//! allocation may exceed a bound derived from the input size, while the
//! inputs contain length words up to 2^32 - 1); decode(encode(x)) == x; and
//! a damaged valid input is either rejected or read back as a prefix of
//! what was written, never as different data.

use proptest::collection::vec;
use proptest::prelude::*;

use super::alloc_guard::with_alloc_limit;
use super::helpers::*;
use crate::storage::log::format::*;
use crate::storage::snapshot::format::{decode_snapshot, encode_snapshot};
use crate::storage::*;

/// Largest single allocation allowed while handling `input_len` bytes: the
/// window and copies are bounded by the file size, plus small fixed buffers.
fn alloc_bound(input_len: usize) -> usize {
    16 * 1024 + 2 * input_len
}

/// Bytes that often start with a plausible header or length word, so the
/// fuzzer gets past the first check.
fn log_like() -> impl Strategy<Value = Vec<u8>> {
    (vec(any::<u8>(), 0..3000), any::<bool>(), any::<u32>()).prop_map(|(body, with_header, len)| {
        let mut b = Vec::new();
        if with_header {
            let h = LogHeader {
                dim: DIM,
                base_seq: 0,
                base_chain: GENESIS_CHAIN,
                salt: 1,
            };
            b.extend_from_slice(&h.encode().0);
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(&1u64.to_le_bytes());
        }
        b.extend_from_slice(&body);
        b
    })
}

/// A valid log with a few appends; returns the file bytes and entries.
fn valid_log() -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
    let fs = SimVfs::new();
    let (mut log, _) = open_default(&fs);
    let mut all = Vec::new();
    for sizes in [&[5][..], &[300, 20], &[700], &[1, 2, 3]] {
        all.extend(append_sizes(&mut log, sizes).unwrap());
    }
    (fs.file_bytes(&log_path()).unwrap(), all)
}

/// Opens `bytes` as a log and reads it all back, under the allocation
/// guard. Returns the entries if it opened.
fn open_and_replay(bytes: &[u8], accept: bool) -> Option<Vec<(u64, Vec<u8>)>> {
    let fs = SimVfs::new();
    fs.set_file_bytes(&log_path(), bytes);
    let opts = OpenOptions {
        accept_truncation: accept,
        ..OpenOptions::default()
    };
    let (entries, over) = with_alloc_limit(alloc_bound(bytes.len()), || {
        let (log, _) = open(&fs, &opts).ok()?;
        log.reader_from(log.first_seq())
            .ok()?
            .collect::<Result<Vec<_>, _>>()
            .ok()
    });
    assert_eq!(
        over,
        0,
        "allocated {over} bytes for a {}-byte log",
        bytes.len()
    );
    entries
}

fn snapshot_parts() -> impl Strategy<Value = (u64, [u8; 32], u32, Vec<u8>, Vec<u8>, Vec<u8>)> {
    (
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u32>(),
        vec(any::<u8>(), 0..600),
        vec(any::<u8>(), 0..100),
        vec(any::<u8>(), 0..300),
    )
}

proptest! {
    #[test]
    fn frame_decoder_takes_any_bytes(bytes in vec(any::<u8>(), 0..2048), seed: u32, len: u32) {
        let mut b = len.to_le_bytes().to_vec();
        b.extend_from_slice(&bytes);
        let (_, over) = with_alloc_limit(0, || {
            let _ = decode_frame(&bytes, seed);
            let _ = decode_frame(&b, seed);
        });
        prop_assert_eq!(over, 0);
    }

    #[test]
    fn frame_roundtrip(seed: u32, seq in 0..u64::MAX, index in 0..LAST_IN_APPEND, last: bool, payload in vec(any::<u8>(), 1..2000)) {
        let mut out = Vec::new();
        let crc = encode_frame(&mut out, seed, seq, index, last, &payload);
        let f = decode_frame(&out, seed).unwrap();
        prop_assert_eq!((f.seq, f.index_in_append, f.last_in_append, f.payload, f.crc), (seq, index, last, &payload[..], crc));
        prop_assert_eq!(f.encoded_len(), out.len());
    }

    #[test]
    fn header_decoder_takes_any_bytes_and_roundtrips(bytes in vec(any::<u8>(), 0..128), dim: u32, base in 0..u64::MAX / 2, chain: [u8; 32], salt: u32) {
        let _ = LogHeader::decode(&bytes);
        let h = LogHeader { dim, base_seq: base, base_chain: chain, salt };
        let (b, crc) = h.encode();
        prop_assert_eq!(LogHeader::decode(&b), Ok((h, crc)));
    }

    #[test]
    fn whole_log_open_and_replay_take_any_bytes(bytes in log_like(), accept: bool) {
        open_and_replay(&bytes, accept);
    }

    #[test]
    fn a_damaged_log_yields_a_prefix_of_what_was_written_or_an_error(
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        do_cut: bool,
        accept: bool,
    ) {
        let (mut bytes, all) = valid_log();
        for (at, v) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *v;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if let Some(got) = open_and_replay(&bytes, accept) {
            prop_assert!(got.len() <= all.len());
            prop_assert_eq!(&got[..], &all[..got.len()]);
        }
    }

    #[test]
    fn snapshot_decoder_takes_any_bytes(bytes in vec(any::<u8>(), 0..1024), k_len: u32) {
        let mut b = b"VAL1".to_vec();
        b.extend_from_slice(&k_len.to_le_bytes());
        b.extend_from_slice(&bytes);
        let (_, over) = with_alloc_limit(0, || {
            let _ = decode_snapshot(&bytes);
            let _ = decode_snapshot(&b);
        });
        prop_assert_eq!(over, 0);
    }

    #[test]
    fn snapshot_roundtrip_and_any_single_byte_change_is_rejected(
        (height, chain, dim, kernel, metadata, index) in snapshot_parts(),
        at in any::<prop::sample::Index>(),
        xor in 1..=255u8,
    ) {
        let meta = SnapshotMeta { height, chain, dim };
        let parts = SnapshotParts { kernel: &kernel, metadata: &metadata, index: &index };
        let bytes = encode_snapshot(&meta, &parts).unwrap();
        prop_assert_eq!(decode_snapshot(&bytes), Ok((meta, parts)));
        let mut damaged = bytes.clone();
        damaged[at.index(bytes.len())] ^= xor;
        prop_assert!(decode_snapshot(&damaged).is_err());
        for n in 0..bytes.len() {
            prop_assert!(decode_snapshot(&bytes[..n]).is_err());
        }
    }
}
