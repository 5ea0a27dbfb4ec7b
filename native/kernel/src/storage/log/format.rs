//! Byte layout of the event log (`docs/EVENT_LOG_FORMAT.md`): the 64-byte
//! header and the entry frame. Pure functions over byte slices, so the
//! decoders can be fuzzed without a file.

use crate::bytes::{u32_at, u64_at};

/// `"VALEVLOG"`: first 8 bytes of every event log.
pub const LOG_MAGIC: [u8; 8] = *b"VALEVLOG";
/// Format version written in the header. Version 2: payloads are entries
/// with a commit time and events naming their collection (the kernel's
/// `entry` module). A version-1 file is read, then rewritten as version 2 at
/// open (its payloads unchanged, so its chain is unchanged).
pub const LOG_VERSION: u32 = 2;
/// The previous version, still read (and upgraded at open).
pub const LOG_VERSION_V1: u32 = 1;
/// Header size in bytes.
pub const HEADER_LEN: usize = 64;
/// Bytes before the payload: length u32, sequence u64, batch word u32.
pub const FRAME_HEAD_LEN: usize = 16;
/// Bytes after the payload: the CRC32C.
pub const FRAME_TAIL_LEN: usize = 4;
/// Total framing bytes per entry.
pub const FRAME_OVERHEAD: usize = FRAME_HEAD_LEN + FRAME_TAIL_LEN;
/// Largest payload of one entry (256 MiB). A batch of 10 000 vectors of
/// 1536 components as i32 is about 61 MB. Checked before any allocation (R8).
pub const MAX_ENTRY_BYTES: u32 = 256 << 20;
/// Batch word bit set on the last frame of one append. Frames after the
/// last such frame belong to an append that never completed.
pub const LAST_IN_APPEND: u32 = 1 << 31;
/// Largest number of frames in one append (the index field's range).
pub const MAX_FRAMES_PER_APPEND: usize = LAST_IN_APPEND as usize;

/// A 32-byte BLAKE3 chain value.
pub type ChainHash = [u8; 32];

/// Chain value of an empty history.
pub const GENESIS_CHAIN: ChainHash = [0; 32];

/// `chain_n = BLAKE3(chain_{n-1} ‖ seq_n as u64 LE ‖ payload_n)`. Batch
/// markers and checksums stay out of it, so the chain depends only on the
/// events, not on how they were grouped into appends or files.
pub fn chain_next(prev: &ChainHash, seq: u64, payload: &[u8]) -> ChainHash {
    let mut h = blake3::Hasher::new();
    h.update(prev);
    h.update(&seq.to_le_bytes());
    h.update(payload);
    *h.finalize().as_bytes()
}

/// The decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHeader {
    /// Vector dimension the node was configured with.
    pub dim: u32,
    /// Sequence number of the last event *before* this file (0 for a log
    /// that starts at the beginning of history). The first entry is
    /// `base_seq + 1`.
    pub base_seq: u64,
    /// Chain value after event `base_seq` ([`GENESIS_CHAIN`] for 0).
    pub base_chain: ChainHash,
    /// Per-file nonce. It feeds the header CRC, which seeds every frame CRC
    /// of the file, so frames copied from another log file (or left over in
    /// a reused block) never validate here (R7).
    pub salt: u32,
}

/// Why a header did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    TooShort,
    BadMagic,
    UnsupportedVersion(u32),
    BadChecksum,
    BadBase,
}

impl LogHeader {
    /// Encodes the header; returns the bytes and the header CRC, which is
    /// also the CRC seed of every frame in the file.
    pub fn encode(&self) -> ([u8; HEADER_LEN], u32) {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&LOG_MAGIC);
        b[8..12].copy_from_slice(&LOG_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.dim.to_le_bytes());
        b[16..24].copy_from_slice(&self.base_seq.to_le_bytes());
        b[24..56].copy_from_slice(&self.base_chain);
        b[56..60].copy_from_slice(&self.salt.to_le_bytes());
        let crc = crc32c::crc32c(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        (b, crc)
    }

    /// Decodes and validates a header; returns it with its CRC.
    pub fn decode(b: &[u8]) -> Result<(LogHeader, u32), HeaderError> {
        if b.len() < HEADER_LEN {
            return Err(HeaderError::TooShort);
        }
        if b[0..8] != LOG_MAGIC {
            return Err(HeaderError::BadMagic);
        }
        let version = u32_at(b, 8);
        if version != LOG_VERSION && version != LOG_VERSION_V1 {
            return Err(HeaderError::UnsupportedVersion(version));
        }
        let crc = u32_at(b, 60);
        if crc32c::crc32c(&b[..60]) != crc {
            return Err(HeaderError::BadChecksum);
        }
        let mut base_chain = [0u8; 32];
        base_chain.copy_from_slice(&b[24..56]);
        let header = LogHeader {
            dim: u32_at(b, 12),
            base_seq: u64_at(b, 16),
            base_chain,
            salt: u32_at(b, 56),
        };
        // Sequence numbers must have room to grow; a base near u64::MAX is
        // a forged or damaged header, not a real history.
        if header.base_seq > u64::MAX / 2 {
            return Err(HeaderError::BadBase);
        }
        Ok((header, crc))
    }
}

/// Whether `b` starts like the original v0.1.0 log: `version u32 = 1`,
/// `dim u32`, `reserved u64 = 0`, no magic.
pub fn looks_like_legacy_log(b: &[u8]) -> bool {
    b.len() >= 16 && u32_at(b, 0) == 1 && u64_at(b, 8) == 0
}

/// One decoded frame, borrowing its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub seq: u64,
    /// Position of this entry within its append (0-based).
    pub index_in_append: u32,
    /// Set on the last entry of an append.
    pub last_in_append: bool,
    pub payload: &'a [u8],
    /// The stored CRC.
    pub crc: u32,
}

impl Frame<'_> {
    /// Bytes this frame occupies in the file.
    pub fn encoded_len(&self) -> usize {
        FRAME_OVERHEAD + self.payload.len()
    }
}

/// Why bytes did not decode as a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the frame needs (includes a truncated length word).
    Truncated,
    /// Length word 0: end of data, preallocation or a zero-filled tail.
    ZeroLength,
    /// Length word above [`MAX_ENTRY_BYTES`].
    TooLong(u32),
    /// CRC mismatch.
    BadChecksum,
}

/// Reads the length word of a frame and validates it against the limit
/// (R8). Returns the total frame size.
pub fn frame_size(head: &[u8]) -> Result<usize, FrameError> {
    if head.len() < 4 {
        return Err(FrameError::Truncated);
    }
    match u32_at(head, 0) {
        0 => Err(FrameError::ZeroLength),
        n if n > MAX_ENTRY_BYTES => Err(FrameError::TooLong(n)),
        n => Ok(FRAME_OVERHEAD + n as usize),
    }
}

/// Decodes the frame at the start of `b`. `seed` is the file's frame seed:
/// the header CRC.
pub fn decode_frame(b: &[u8], seed: u32) -> Result<Frame<'_>, FrameError> {
    let size = frame_size(b)?;
    if b.len() < size.max(FRAME_HEAD_LEN) {
        return Err(FrameError::Truncated);
    }
    let body = &b[..size - FRAME_TAIL_LEN];
    let crc = u32_at(b, size - FRAME_TAIL_LEN);
    if crc32c::crc32c_append(seed, body) != crc {
        return Err(FrameError::BadChecksum);
    }
    let batch = u32_at(b, 12);
    Ok(Frame {
        seq: u64_at(b, 4),
        index_in_append: batch & !LAST_IN_APPEND,
        last_in_append: batch & LAST_IN_APPEND != 0,
        payload: &b[FRAME_HEAD_LEN..size - FRAME_TAIL_LEN],
        crc,
    })
}

/// Appends one frame to `out` and returns its CRC. `seed` is the file's
/// frame seed (the header CRC). The caller has checked `1 <= payload.len() <= MAX_ENTRY_BYTES` and
/// `index < MAX_FRAMES_PER_APPEND`.
pub fn encode_frame(
    out: &mut Vec<u8>,
    seed: u32,
    seq: u64,
    index: u32,
    last: bool,
    payload: &[u8],
) -> u32 {
    debug_assert!(!payload.is_empty() && payload.len() <= MAX_ENTRY_BYTES as usize);
    let start = out.len();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    let batch = index | if last { LAST_IN_APPEND } else { 0 };
    out.extend_from_slice(&batch.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32c::crc32c_append(seed, &out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    crc
}
