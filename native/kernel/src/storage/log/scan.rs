//! Recovery scan: find the committed end of a log and classify any damage.
//!
//! The committed end is the end of the last frame that carries the
//! last-in-append bit, with every frame before it valid and in sequence.
//! Whatever follows it was never acknowledged *if* the damage is confined to
//! the final append: an append is one `write` followed by one `fdatasync`,
//! and only one append can be unsynced at any time. So:
//!
//! * nothing after the committed end → clean;
//! * an invalid frame (or an append without its last frame) and, after it,
//!   no valid frame belonging to a *later* append → torn tail: the final
//!   append was cut, zero-filled, garbage-filled or written back out of
//!   order; truncate at the committed end (R9, R10);
//! * an invalid frame followed by a valid frame of a later append → the
//!   damage is in the middle of the log (R9): refuse to start.
//!
//! A later append is recognised without trusting the damaged bytes: after
//! the first invalid frame, every byte offset is tried as a frame start. A
//! candidate must pass its CRC (seeded with the file's seed, so it does not
//! depend on any other frame), carry a sequence number above the committed
//! height, and start an append (`seq - index_in_append`) other than the
//! torn one.
//!
//! This is why frame CRCs are seeded per file and not chained to the
//! previous frame's CRC: with chaining, damage to one frame's CRC field
//! also invalidates the next frame, so a flip in the second-to-last append
//! would look like a torn tail two appends long and an acknowledged append
//! would be cut silently. Sequence numbers already reject stale or
//! misplaced frames, which is what chaining would add.

use std::io;

use super::cursor::Window;
use super::format::{
    chain_next, frame_size, ChainHash, LogHeader, FRAME_HEAD_LEN, FRAME_OVERHEAD, HEADER_LEN,
};
use crate::storage::vfs::VfsFile;

/// Entries between two points of the in-memory sparse index.
pub(crate) const INDEX_STRIDE: u64 = 1024;

/// A place in the log where a frame starts, with the state just before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tip {
    /// Byte offset (the end of the previous frame).
    pub offset: u64,
    /// Sequence number of the last event before `offset`.
    pub height: u64,
    /// Chain value after event `height`.
    pub chain: ChainHash,
}

/// Sparse index entry: where frame `seq` starts and the chain before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexPoint {
    pub seq: u64,
    pub offset: u64,
    pub chain_before: ChainHash,
}

pub(crate) fn is_index_point(base_seq: u64, seq: u64) -> bool {
    (seq - base_seq - 1).is_multiple_of(INDEX_STRIDE)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DamageKind {
    TornTail,
    MidLog,
}

/// Damage found after the committed end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Damage {
    pub kind: DamageKind,
    /// Offset of the first invalid frame (the file length if the final
    /// append merely lacks its last frame).
    pub found_at: u64,
}

pub(crate) struct ScanResult {
    pub committed: Tip,
    pub index: Vec<IndexPoint>,
    pub damage: Option<Damage>,
}

/// Scans a log whose header has been validated. Reads through a bounded
/// window; never allocates from an unchecked length.
pub(crate) fn scan(
    file: &dyn VfsFile,
    file_len: u64,
    header: &LogHeader,
    header_crc: u32,
) -> io::Result<ScanResult> {
    let mut w = Window::new(file_len);
    let seed = header_crc;
    let start = Tip {
        offset: HEADER_LEN as u64,
        height: header.base_seq,
        chain: header.base_chain,
    };
    let (mut cur, mut committed) = (start, start);
    let mut index = Vec::new();
    let mut next_index_in_append = 0u32;
    let mut first_invalid = None;
    while cur.offset < file_len {
        let frame = match w.frame_at(file, cur.offset, seed)? {
            Ok(f) if f.seq == cur.height + 1 && f.index_in_append == next_index_in_append => f,
            _ => {
                first_invalid = Some(cur.offset);
                break;
            }
        };
        if is_index_point(header.base_seq, frame.seq) {
            index.push(IndexPoint {
                seq: frame.seq,
                offset: cur.offset,
                chain_before: cur.chain,
            });
        }
        cur = Tip {
            offset: cur.offset + frame.encoded_len() as u64,
            height: frame.seq,
            chain: chain_next(&cur.chain, frame.seq, frame.payload),
        };
        if frame.last_in_append {
            committed = cur;
            next_index_in_append = 0;
        } else {
            next_index_in_append += 1;
        }
    }
    index.retain(|p| p.seq <= committed.height);
    let damage = match first_invalid {
        None if committed.offset == file_len => None,
        None => Some(Damage {
            kind: DamageKind::TornTail,
            found_at: file_len,
        }),
        Some(at) => {
            let later = later_append_after(&mut w, file, seed, at, file_len, committed.height)?;
            let kind = if later {
                DamageKind::MidLog
            } else {
                DamageKind::TornTail
            };
            Some(Damage { kind, found_at: at })
        }
    };
    Ok(ScanResult {
        committed,
        index,
        damage,
    })
}

/// Whether a valid frame of an append later than the one starting at
/// `committed_height + 1` exists after offset `invalid_at`.
fn later_append_after(
    w: &mut Window,
    file: &dyn VfsFile,
    seed: u32,
    invalid_at: u64,
    file_len: u64,
    committed_height: u64,
) -> io::Result<bool> {
    let torn_first = committed_height + 1;
    // No frame can hold more entries than there are bytes for.
    let max_seq = committed_height.saturating_add(file_len / FRAME_OVERHEAD as u64 + 1);
    let mut p = invalid_at + 1;
    while p + (FRAME_OVERHEAD as u64) < file_len {
        // Cheap plausibility checks before spending a CRC on a candidate.
        let head = w.get(file, p, FRAME_HEAD_LEN)?;
        let seq = crate::bytes::u64_at(head, 4);
        let plausible = match frame_size(head) {
            Ok(size) => p + size as u64 <= file_len && seq > committed_height && seq <= max_seq,
            Err(_) => false,
        };
        if !plausible {
            p += 1;
            continue;
        }
        match w.frame_at(file, p, seed)? {
            Ok(f) => {
                let append_first = f.seq.checked_sub(u64::from(f.index_in_append));
                if append_first != Some(torn_first) {
                    return Ok(true);
                }
                // Another surviving piece of the torn append: skip it whole.
                p += f.encoded_len() as u64;
            }
            Err(_) => p += 1,
        }
    }
    Ok(false)
}
