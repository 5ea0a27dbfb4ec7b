//! Snapshot bytes (`docs/SNAPSHOT_FORMAT.md`): the VAL1 container of the
//! original node (magic, then kernel, metadata and index sections, each a
//! u32 LE length plus bytes), whose kernel section starts with our own
//! 168-byte header: the event height and chain value the snapshot covers,
//! the dimension, and BLAKE3 digests of all three sections.
//!
//! Decoding only borrows: no length read from the bytes is ever used to
//! allocate, and every slice is bounds-checked with checked arithmetic, so
//! arbitrary input yields a [`SnapshotError`], never a panic.

use std::fmt;

use crate::bytes::{u32_at, u64_at};
use crate::storage::log::ChainHash;

/// Container magic, as in the original format.
pub const CONTAINER_MAGIC: [u8; 4] = *b"VAL1";
/// Magic of our kernel section header ("Valori Node Kernel Section").
pub const KERNEL_MAGIC: [u8; 4] = *b"VNKS";
/// Magic of the original node's kernel blob, recognised to give a clear error.
pub const LEGACY_KERNEL_MAGIC: [u8; 4] = *b"VALK";
/// Version of the kernel section header. Version 2: the kernel payload is the
/// store of collections and the index section holds one index per collection
/// (the kernel's `snapshot_io`); version 1 (one anonymous state) is still read.
pub const KERNEL_VERSION: u32 = 2;
/// The previous version, still read (as collection `default`).
pub const KERNEL_VERSION_V1: u32 = 1;
/// Size of the kernel section header.
pub const KERNEL_HEADER_LEN: usize = 168;
/// Bytes of the container outside the sections: magic and three lengths.
pub const CONTAINER_OVERHEAD: usize = 16;

/// What a snapshot covers, stored in the kernel section header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// Sequence number of the last event applied to the state (R5, R14).
    pub height: u64,
    /// Event-log chain value after event `height`, so a log recreated from
    /// this snapshot continues the chain.
    pub chain: ChainHash,
    /// Vector dimension of the state.
    pub dim: u32,
}

/// The three sections, as the caller provides them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotParts<'a> {
    /// Kernel state payload (encoding owned by the kernel).
    pub kernel: &'a [u8],
    /// Node-level metadata.
    pub metadata: &'a [u8],
    /// Built index (empty for brute force).
    pub index: &'a [u8],
}

/// Why snapshot bytes were rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// Fewer than the 16 bytes of an empty container.
    TooShort,
    /// Not starting with `VAL1`.
    BadMagic,
    /// A section length points past the end of the bytes.
    SectionTruncated {
        section: &'static str,
    },
    /// Bytes after the index section.
    TrailingBytes {
        count: usize,
    },
    /// A section is 4 GiB or more and does not fit the container (encode).
    SectionTooLarge {
        section: &'static str,
    },
    /// The kernel section is shorter than its header.
    KernelTooShort,
    /// The kernel section is the original node's `VALK` blob.
    LegacyKernelSection,
    /// The kernel section does not start with `VNKS`.
    BadKernelMagic,
    UnsupportedVersion(u32),
    /// The kernel header checksum (CRC32C) does not match.
    BadHeaderChecksum,
    /// The header's payload length disagrees with the container.
    LengthMismatch,
    /// A section's BLAKE3 digest does not match.
    ChecksumMismatch {
        section: &'static str,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::TooShort => write!(f, "shorter than the 16-byte VAL1 container"),
            SnapshotError::BadMagic => write!(f, "missing VAL1 magic"),
            SnapshotError::SectionTruncated { section } => {
                write!(f, "{section} section runs past the end of the file")
            }
            SnapshotError::TrailingBytes { count } => {
                write!(f, "{count} unexpected bytes after the index section")
            }
            SnapshotError::SectionTooLarge { section } => {
                write!(f, "{section} section does not fit a u32 length (4 GiB)")
            }
            SnapshotError::KernelTooShort => write!(f, "kernel section shorter than its header"),
            SnapshotError::LegacyKernelSection => write!(
                f,
                "kernel section is the original v0.1.0 VALK format, which this node does not load"
            ),
            SnapshotError::BadKernelMagic => write!(f, "kernel section lacks the VNKS magic"),
            SnapshotError::UnsupportedVersion(v) => {
                write!(f, "unsupported kernel section version {v}")
            }
            SnapshotError::BadHeaderChecksum => {
                write!(f, "kernel section header checksum mismatch")
            }
            SnapshotError::LengthMismatch => {
                write!(f, "kernel payload length disagrees with the section length")
            }
            SnapshotError::ChecksumMismatch { section } => {
                write!(f, "{section} section checksum mismatch")
            }
        }
    }
}

impl std::error::Error for SnapshotError {}

fn digest(b: &[u8]) -> [u8; 32] {
    *blake3::hash(b).as_bytes()
}

fn section_len(len: u64, section: &'static str) -> Result<u32, SnapshotError> {
    u32::try_from(len).map_err(|_| SnapshotError::SectionTooLarge { section })
}

/// A section's length and BLAKE3 digest, as the kernel header records them
/// (a streaming writer measures its sections before writing them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionSum {
    pub len: u64,
    pub digest: [u8; 32],
}

impl SectionSum {
    pub fn of(b: &[u8]) -> SectionSum {
        SectionSum {
            len: b.len() as u64,
            digest: digest(b),
        }
    }
}

/// Everything before the kernel payload: container magic, kernel section
/// length and the kernel section header. Writers stream this, then the
/// payload, then [`section_prefix`] + bytes for metadata and index.
pub fn snapshot_prefix(
    meta: &SnapshotMeta,
    parts: &SnapshotParts<'_>,
) -> Result<Vec<u8>, SnapshotError> {
    header_prefix(
        meta,
        &[
            SectionSum::of(parts.kernel),
            SectionSum::of(parts.metadata),
            SectionSum::of(parts.index),
        ],
    )
}

/// [`snapshot_prefix`] from the kernel, metadata and index sections' sums.
pub fn header_prefix(
    meta: &SnapshotMeta,
    sums: &[SectionSum; 3],
) -> Result<Vec<u8>, SnapshotError> {
    let [kernel, metadata, index] = sums;
    let k_len = section_len(
        (KERNEL_HEADER_LEN as u64).saturating_add(kernel.len),
        "kernel",
    )?;
    section_len(metadata.len, "metadata")?;
    section_len(index.len, "index")?;
    let mut h = [0u8; KERNEL_HEADER_LEN];
    h[0..4].copy_from_slice(&KERNEL_MAGIC);
    h[4..8].copy_from_slice(&KERNEL_VERSION.to_le_bytes());
    h[8..12].copy_from_slice(&(KERNEL_HEADER_LEN as u32).to_le_bytes());
    h[12..16].copy_from_slice(&meta.dim.to_le_bytes());
    h[16..24].copy_from_slice(&meta.height.to_le_bytes());
    h[24..56].copy_from_slice(&meta.chain);
    h[56..64].copy_from_slice(&kernel.len.to_le_bytes());
    h[64..96].copy_from_slice(&kernel.digest);
    h[96..128].copy_from_slice(&metadata.digest);
    h[128..160].copy_from_slice(&index.digest);
    // 160..164 reserved, zero.
    let crc = crc32c::crc32c(&h[..164]);
    h[164..168].copy_from_slice(&crc.to_le_bytes());
    let mut out = Vec::with_capacity(8 + KERNEL_HEADER_LEN);
    out.extend_from_slice(&CONTAINER_MAGIC);
    out.extend_from_slice(&k_len.to_le_bytes());
    out.extend_from_slice(&h);
    Ok(out)
}

/// The u32 LE length word before a metadata or index section.
pub fn section_prefix(section: &[u8]) -> [u8; 4] {
    (section.len() as u32).to_le_bytes()
}

/// The length words of the metadata and index sections.
pub fn section_lengths(parts: &SnapshotParts<'_>) -> [[u8; 4]; 2] {
    [section_prefix(parts.metadata), section_prefix(parts.index)]
}

/// The file's pieces in order, for writers that stream them: `prefix`
/// ([`snapshot_prefix`]), the kernel payload, then metadata and index each
/// behind its length word (`lengths`, from [`section_lengths`]).
pub fn snapshot_pieces<'a>(
    prefix: &'a [u8],
    lengths: &'a [[u8; 4]; 2],
    parts: &SnapshotParts<'a>,
) -> [&'a [u8]; 6] {
    [
        prefix,
        parts.kernel,
        &lengths[0],
        parts.metadata,
        &lengths[1],
        parts.index,
    ]
}

/// The whole snapshot in one buffer.
pub fn encode_snapshot(
    meta: &SnapshotMeta,
    parts: &SnapshotParts<'_>,
) -> Result<Vec<u8>, SnapshotError> {
    let prefix = snapshot_prefix(meta, parts)?;
    let lengths = section_lengths(parts);
    Ok(snapshot_pieces(&prefix, &lengths, parts).concat())
}

/// A snapshot file produced in order, piece by piece, so that it need not
/// be held whole (`SnapshotStore::save_from`, `NamedSnapshots::save_from`).
pub trait SnapshotSource {
    fn meta(&self) -> SnapshotMeta;
    /// Writes the whole file to `out`, in order; returns its length.
    fn write_to(&self, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<u64>;
}

/// A snapshot whose sections are in memory.
pub struct InMemory<'a> {
    meta: SnapshotMeta,
    prefix: Vec<u8>,
    parts: SnapshotParts<'a>,
}

impl<'a> InMemory<'a> {
    pub fn new(meta: &SnapshotMeta, parts: &SnapshotParts<'a>) -> Result<Self, SnapshotError> {
        Ok(InMemory {
            meta: *meta,
            prefix: snapshot_prefix(meta, parts)?,
            parts: *parts,
        })
    }
}

impl SnapshotSource for InMemory<'_> {
    fn meta(&self) -> SnapshotMeta {
        self.meta
    }

    fn write_to(&self, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<u64> {
        let lengths = section_lengths(&self.parts);
        let mut n = 0u64;
        for piece in snapshot_pieces(&self.prefix, &lengths, &self.parts) {
            out(piece)?;
            n += piece.len() as u64;
        }
        Ok(n)
    }
}

/// Splits off a u32 LE length and that many bytes.
fn take_section<'a>(
    b: &'a [u8],
    at: &mut usize,
    section: &'static str,
) -> Result<&'a [u8], SnapshotError> {
    let truncated = SnapshotError::SectionTruncated { section };
    let len_end = at
        .checked_add(4)
        .filter(|&e| e <= b.len())
        .ok_or(truncated.clone())?;
    let len = u32_at(b, *at) as usize;
    let end = len_end
        .checked_add(len)
        .filter(|&e| e <= b.len())
        .ok_or(truncated)?;
    *at = end;
    Ok(&b[len_end..end])
}

/// Decodes and fully validates a snapshot, borrowing its sections.
pub fn decode_snapshot(b: &[u8]) -> Result<(SnapshotMeta, SnapshotParts<'_>), SnapshotError> {
    if b.len() < CONTAINER_OVERHEAD {
        return Err(SnapshotError::TooShort);
    }
    if b[0..4] != CONTAINER_MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let mut at = 4;
    let kernel = take_section(b, &mut at, "kernel")?;
    let metadata = take_section(b, &mut at, "metadata")?;
    let index = take_section(b, &mut at, "index")?;
    if at != b.len() {
        return Err(SnapshotError::TrailingBytes {
            count: b.len() - at,
        });
    }
    let meta = check_kernel_header(kernel, metadata, index)?;
    let parts = SnapshotParts {
        kernel: &kernel[KERNEL_HEADER_LEN..],
        metadata,
        index,
    };
    Ok((meta, parts))
}

/// Decodes only the kernel section header (no digests checked): enough to
/// tell a damaged current snapshot before rotating it over the previous one.
pub fn peek_meta(b: &[u8]) -> Result<SnapshotMeta, SnapshotError> {
    if b.len() < 8 {
        return Err(SnapshotError::TooShort);
    }
    if b[0..4] != CONTAINER_MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    parse_header(&b[8..b.len().min(8 + KERNEL_HEADER_LEN)]).map(|(meta, _)| meta)
}

fn parse_header(h: &[u8]) -> Result<(SnapshotMeta, u64), SnapshotError> {
    // The original's kernel blob can be shorter than our header: look at
    // the magic first so it gets its own error.
    if h.len() >= 4 && h[0..4] == LEGACY_KERNEL_MAGIC {
        return Err(SnapshotError::LegacyKernelSection);
    }
    if h.len() < KERNEL_HEADER_LEN {
        return Err(SnapshotError::KernelTooShort);
    }
    if h[0..4] != KERNEL_MAGIC {
        return Err(SnapshotError::BadKernelMagic);
    }
    let version = u32_at(h, 4);
    let known = version == KERNEL_VERSION || version == KERNEL_VERSION_V1;
    if !known || u32_at(h, 8) as usize != KERNEL_HEADER_LEN {
        return Err(SnapshotError::UnsupportedVersion(version));
    }
    if crc32c::crc32c(&h[..164]) != u32_at(h, 164) {
        return Err(SnapshotError::BadHeaderChecksum);
    }
    let mut chain = [0u8; 32];
    chain.copy_from_slice(&h[24..56]);
    Ok((
        SnapshotMeta {
            dim: u32_at(h, 12),
            height: u64_at(h, 16),
            chain,
        },
        u64_at(h, 56),
    ))
}

fn check_kernel_header(
    kernel: &[u8],
    metadata: &[u8],
    index: &[u8],
) -> Result<SnapshotMeta, SnapshotError> {
    let (meta, payload_len) = parse_header(kernel)?;
    let payload = &kernel[KERNEL_HEADER_LEN..];
    if payload_len != payload.len() as u64 {
        return Err(SnapshotError::LengthMismatch);
    }
    let checks: [(&'static str, &[u8], &[u8]); 3] = [
        ("kernel", payload, &kernel[64..96]),
        ("metadata", metadata, &kernel[96..128]),
        ("index", index, &kernel[128..160]),
    ];
    for (section, bytes, stored) in checks {
        if digest(bytes) != *stored {
            return Err(SnapshotError::ChecksumMismatch { section });
        }
    }
    Ok(meta)
}
