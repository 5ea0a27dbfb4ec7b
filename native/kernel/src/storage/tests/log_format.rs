//! Byte-level tests of the event log format: the header and frame layout
//! documented in docs/EVENT_LOG_FORMAT.md, a golden file, and the rejection
//! of every malformed header and frame shape.

use crate::storage::log::format::*;

fn header() -> LogHeader {
    LogHeader {
        dim: 384,
        base_seq: 7,
        base_chain: [0xAB; 32],
        salt: 0x0102_0304,
    }
}

#[test]
fn header_layout_matches_the_document() {
    let (b, crc) = header().encode();
    assert_eq!(&b[0..8], b"VALEVLOG");
    assert_eq!(&b[8..12], &2u32.to_le_bytes());
    assert_eq!(&b[12..16], &384u32.to_le_bytes());
    assert_eq!(&b[16..24], &7u64.to_le_bytes());
    assert_eq!(&b[24..56], &[0xAB; 32]);
    assert_eq!(&b[56..60], &[4, 3, 2, 1]);
    assert_eq!(crc, crc32c::crc32c(&b[..60]));
    assert_eq!(&b[60..64], &crc.to_le_bytes());
    assert_eq!(LogHeader::decode(&b), Ok((header(), crc)));
}

#[test]
fn every_damaged_header_is_rejected() {
    let (b, _) = header().encode();
    for i in 0..HEADER_LEN {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut d = b;
            d[i] ^= mask;
            assert!(
                LogHeader::decode(&d).is_err(),
                "flip {mask:#x} at byte {i} accepted"
            );
        }
    }
    for n in 0..HEADER_LEN {
        assert_eq!(LogHeader::decode(&b[..n]), Err(HeaderError::TooShort));
    }
    let huge = LogHeader {
        base_seq: u64::MAX,
        ..header()
    };
    assert_eq!(
        LogHeader::decode(&huge.encode().0),
        Err(HeaderError::BadBase)
    );
}

#[test]
fn frame_layout_and_roundtrip() {
    let mut out = Vec::new();
    let crc = encode_frame(&mut out, 0xDEAD_BEEF, 42, 3, true, b"payload");
    assert_eq!(out.len(), FRAME_OVERHEAD + 7);
    assert_eq!(&out[0..4], &7u32.to_le_bytes());
    assert_eq!(&out[4..12], &42u64.to_le_bytes());
    assert_eq!(&out[12..16], &(3u32 | LAST_IN_APPEND).to_le_bytes());
    assert_eq!(&out[16..23], b"payload");
    assert_eq!(crc, crc32c::crc32c_append(0xDEAD_BEEF, &out[..23]));
    assert_eq!(&out[23..27], &crc.to_le_bytes());
    let f = decode_frame(&out, 0xDEAD_BEEF).expect("decodes");
    assert_eq!(
        (f.seq, f.index_in_append, f.last_in_append, f.payload, f.crc),
        (42, 3, true, &b"payload"[..], crc)
    );
    // Seeded per file: the same bytes under another file's seed do not
    // validate (R7).
    assert_eq!(decode_frame(&out, 0), Err(FrameError::BadChecksum));
}

#[test]
fn malformed_frames_are_rejected_by_kind() {
    let mut out = Vec::new();
    encode_frame(&mut out, 0, 1, 0, true, &[9; 100]);
    for n in 0..out.len() {
        assert_eq!(
            decode_frame(&out[..n], 0),
            Err(FrameError::Truncated),
            "prefix {n}"
        );
    }
    let mut zero = out.clone();
    zero[0..4].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(decode_frame(&zero, 0), Err(FrameError::ZeroLength));
    let mut long = out.clone();
    long[0..4].copy_from_slice(&(MAX_ENTRY_BYTES + 1).to_le_bytes());
    assert_eq!(
        decode_frame(&long, 0),
        Err(FrameError::TooLong(MAX_ENTRY_BYTES + 1))
    );
    for i in 0..out.len() {
        let mut d = out.clone();
        d[i] ^= 0x10;
        assert!(decode_frame(&d, 0).is_err(), "flip at {i} accepted");
    }
}

#[test]
fn chain_is_blake3_of_previous_seq_and_payload() {
    let mut input = vec![0x11u8; 32];
    input.extend_from_slice(&5u64.to_le_bytes());
    input.extend_from_slice(b"event");
    assert_eq!(
        chain_next(&[0x11; 32], 5, b"event"),
        *blake3::hash(&input).as_bytes()
    );
    assert_eq!(GENESIS_CHAIN, [0u8; 32]);
}

#[test]
fn legacy_header_is_recognised() {
    let mut legacy = Vec::new();
    legacy.extend_from_slice(&1u32.to_le_bytes());
    legacy.extend_from_slice(&384u32.to_le_bytes());
    legacy.extend_from_slice(&0u64.to_le_bytes());
    legacy.extend_from_slice(&[0, 0, 5]);
    assert!(looks_like_legacy_log(&legacy));
    assert!(!looks_like_legacy_log(&header().encode().0));
}

/// A complete two-append log, byte for byte. If this changes, the format
/// changed: bump LOG_VERSION and update docs/EVENT_LOG_FORMAT.md.
#[test]
fn golden_log_file() {
    let h = LogHeader {
        dim: 3,
        base_seq: 0,
        base_chain: GENESIS_CHAIN,
        salt: 0x5EED_0001,
    };
    let (hb, seed) = h.encode();
    let mut file = hb.to_vec();
    encode_frame(&mut file, seed, 1, 0, true, b"one");
    encode_frame(&mut file, seed, 2, 0, false, b"two");
    encode_frame(&mut file, seed, 3, 1, true, b"three");
    let hex: String = file.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, GOLDEN_HEX);
}

// Computed outside this code base (a Python model of the documented
// layout and CRC32C, checked first against the version-1 golden file).
const GOLDEN_HEX: &str = concat!(
    "56414c45564c4f47020000000300000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000100ed5ef37d2291",
    "030000000100000000000000000000806f6e654ea323e9030000000200000000",
    "0000000000000074776f386c5c6b050000000300000000000000010000807468",
    "72656541649e65",
);
