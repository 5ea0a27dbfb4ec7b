//! Appending: one write and one `fdatasync` per group of entries.

use super::format::{
    chain_next, encode_frame, FRAME_OVERHEAD, MAX_ENTRY_BYTES, MAX_FRAMES_PER_APPEND,
};
use super::scan::{is_index_point, IndexPoint};
use super::EventLog;
use crate::storage::error::StorageError;

impl EventLog {
    /// Appends `entries` (sequence number, payload) as one group: all frames
    /// in ONE `write` at the committed end, then ONE `sync_data`.
    ///
    /// Sequence numbers must be `height() + 1, height() + 2, ...`; payloads
    /// must be 1..=[`MAX_ENTRY_BYTES`] bytes. Such a mistake returns
    /// [`StorageError::InvalidAppend`] and writes nothing.
    ///
    /// `Ok` means every entry is durable: acknowledge them now (R1). On an
    /// I/O failure the entries are *not* durable, the error is returned and
    /// the log is poisoned: every later append fails with
    /// [`StorageError::Poisoned`] until the process restarts and recovers
    /// from what is on disk (R13: never retry-then-acknowledge after a
    /// failed fsync, whose error Linux may not report twice).
    ///
    /// After recovery the group is all there or all gone: the last frame
    /// carries a marker, and a group without it is dropped as a torn tail.
    pub fn append(&mut self, entries: &[(u64, &[u8])]) -> Result<(), StorageError> {
        self.check_writable()?;
        if entries.is_empty() {
            return Ok(());
        }
        let total = self.validate(entries)?;
        let mut buf = Vec::with_capacity(total);
        let mut tip = self.tip;
        let mut points = Vec::new();
        let last = entries.len() - 1;
        for (i, &(seq, payload)) in entries.iter().enumerate() {
            if is_index_point(self.header.base_seq, seq) {
                let offset = tip.offset + buf.len() as u64;
                points.push(IndexPoint {
                    seq,
                    offset,
                    chain_before: tip.chain,
                });
            }
            encode_frame(&mut buf, self.seed, seq, i as u32, i == last, payload);
            tip.chain = chain_next(&tip.chain, seq, payload);
            tip.height = seq;
        }
        tip.offset += buf.len() as u64;
        if let Err(e) = self.file.write_at(self.tip.offset, &buf) {
            return Err(self.poison("write", e));
        }
        if let Err(e) = self.file.sync_data() {
            return Err(self.poison("sync_data", e));
        }
        self.tip = tip;
        self.index.extend(points);
        Ok(())
    }

    /// Checks sequence numbers and sizes; returns the encoded size.
    fn validate(&self, entries: &[(u64, &[u8])]) -> Result<usize, StorageError> {
        let invalid = |reason: String| Err(StorageError::InvalidAppend { reason });
        if entries.len() > MAX_FRAMES_PER_APPEND {
            return invalid(format!(
                "{} entries in one append (max {MAX_FRAMES_PER_APPEND})",
                entries.len()
            ));
        }
        let mut total = 0usize;
        for (i, &(seq, payload)) in entries.iter().enumerate() {
            let expected = self.tip.height + 1 + i as u64;
            if seq != expected {
                return invalid(format!("entry {i} has sequence {seq}, expected {expected}"));
            }
            if payload.is_empty() {
                return invalid(format!("entry with sequence {seq} has an empty payload"));
            }
            if payload.len() > MAX_ENTRY_BYTES as usize {
                return invalid(format!(
                    "entry with sequence {seq} is {} bytes (max {MAX_ENTRY_BYTES})",
                    payload.len()
                ));
            }
            total = total.saturating_add(payload.len() + FRAME_OVERHEAD);
        }
        Ok(total)
    }
}
