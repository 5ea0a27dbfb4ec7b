//! Cutting the log's suffix: a Raft follower drops entries a new leader
//! overwrote (docs/reliability.md R18).
//!
//! The cut is durable before the call returns, so the dropped entries can
//! never reappear behind later appends (a stale tail behind new frames would
//! read as mid-log damage at the next open).
//!
//! Appends are atomic groups: only a frame with the last-in-append bit ends
//! one, and recovery drops a group without it as a torn tail. So a cut on a
//! group boundary is one `set_len` plus one `fdatasync`; a cut inside a group
//! rewrites the file (atomically, as a prefix trim does) with the kept part
//! of that group closed as its own append. Cutting the file in place inside
//! a group and then rewriting the new last frame could not be made atomic: a
//! torn rewrite of that frame would lose the group's earlier, acknowledged
//! entries at the next open.

use super::cursor::FrameWalker;
use super::format::{chain_next, LogHeader, HEADER_LEN};
use super::rewrite::{fresh_salt, write_new_file, CopySource};
use super::scan::Tip;
use super::EventLog;
use crate::storage::error::StorageError;

impl EventLog {
    /// Removes every entry after `keep_seq` (`base_seq() <= keep_seq <=
    /// height()`); `keep_seq == height()` changes nothing. Durable when it
    /// returns `Ok`. Readers opened before it must not read past `keep_seq`
    /// (a cut inside an append rewrites the file: extending them then fails
    /// with [`StorageError::ReaderStale`]).
    ///
    /// A failed `set_len` or sync poisons the log (R13). A cut inside an
    /// append that fails before its rename leaves the log as it was.
    pub fn truncate_after(&mut self, keep_seq: u64) -> Result<(), StorageError> {
        self.check_writable()?;
        self.check_range(keep_seq, self.header.base_seq, self.tip.height)?;
        if keep_seq == self.tip.height {
            return Ok(());
        }
        let end = self.end_of(keep_seq)?;
        if end.closes_append {
            if let Err(e) = self.file.set_len(end.tip.offset) {
                return Err(self.poison("set_len", e));
            }
            if let Err(e) = self.file.sync_data() {
                return Err(self.poison("sync_data", e));
            }
            self.tip = end.tip;
            self.index.retain(|p| p.seq <= keep_seq);
            return Ok(());
        }
        let header = LogHeader {
            salt: fresh_salt(),
            ..self.header
        };
        let base = self.header.base_seq;
        let copy = CopySource {
            file: &*self.file,
            seed: self.seed,
            start: self.start_point(base + 1),
            from_seq: base + 1,
            limit: end.tip.offset,
            close_at: keep_seq,
        };
        let result = write_new_file(&*self.vfs, &self.path, &header, Some(copy));
        // As for a prefix trim: a failure before the rename leaves the old
        // file, whole and usable; a later one poisons the log.
        self.install(header, result)
    }

    /// Where the frame `seq` ends, the chain after it, and whether it ends
    /// its append. `seq == base_seq()` is the end of the header.
    fn end_of(&self, seq: u64) -> Result<FrameEnd, StorageError> {
        if seq == self.header.base_seq {
            return Ok(FrameEnd {
                tip: Tip {
                    offset: HEADER_LEN as u64,
                    height: seq,
                    chain: self.header.base_chain,
                },
                closes_append: true,
            });
        }
        let start = self.start_point(seq);
        let mut walker = FrameWalker::new(start.offset, start.seq, self.tip.offset, self.seed);
        let mut chain = start.chain_before;
        loop {
            let frame = match walker.next(&*self.file) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    return Err(StorageError::CorruptEntry {
                        path: self.path.clone(),
                        offset: walker.offset,
                    })
                }
                Err(e) => return Err(e.into_storage(&self.path)),
            };
            chain = chain_next(&chain, frame.seq, frame.payload);
            if frame.seq == seq {
                let closes_append = frame.last_in_append;
                return Ok(FrameEnd {
                    tip: Tip {
                        offset: walker.offset,
                        height: seq,
                        chain,
                    },
                    closes_append,
                });
            }
        }
    }
}

struct FrameEnd {
    tip: Tip,
    closes_append: bool,
}
