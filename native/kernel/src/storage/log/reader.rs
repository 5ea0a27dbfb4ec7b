//! Streaming reads of committed entries: replay, replication, hash at a
//! height.

use std::path::PathBuf;

use super::cursor::FrameWalker;
use super::format::{chain_next, ChainHash, HEADER_LEN};
use super::scan::IndexPoint;
use super::{EventLog, LogPosition};
use crate::storage::error::StorageError;
use crate::storage::vfs::VfsFile;

/// An iterator over committed `(seq, payload)` pairs, in order.
///
/// It has its own file handle and reads through a bounded window, so it can
/// run on another thread while the writer appends: it sees the entries that
/// were committed when it was created, and more after
/// [`LogReader::extend_to`]. Every frame's CRC and sequence number is checked
/// again; damage yields one [`StorageError::CorruptEntry`], then the end.
pub struct LogReader {
    file: Box<dyn VfsFile>,
    path: PathBuf,
    walker: FrameWalker,
    skip_below: u64,
    generation: u64,
    failed: bool,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("path", &self.path)
            .field("next_seq", &self.walker.next_seq)
            .field("end", &self.walker.window.limit())
            .finish()
    }
}

impl LogReader {
    /// Sequence number of the next entry the reader would yield (once it
    /// has skipped up to its starting point).
    pub fn next_seq(&self) -> u64 {
        self.walker.next_seq.max(self.skip_below)
    }

    /// Lets the reader continue up to a newer committed position of the same
    /// file. Fails with [`StorageError::ReaderStale`] if the log has been
    /// rewritten since the reader was opened; open a new reader then.
    pub fn extend_to(&mut self, end: LogPosition) -> Result<(), StorageError> {
        if end.generation != self.generation {
            return Err(StorageError::ReaderStale);
        }
        if end.offset > self.walker.window.limit() {
            self.walker.window.set_limit(end.offset);
        }
        Ok(())
    }
}

impl Iterator for LogReader {
    type Item = Result<(u64, Vec<u8>), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            let step = self.walker.next(&*self.file);
            let frame = match step {
                Ok(Some(f)) => f,
                Ok(None) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e.into_storage(&self.path)));
                }
            };
            if frame.seq >= self.skip_below {
                return Some(Ok((frame.seq, frame.payload.to_vec())));
            }
        }
        None
    }
}

impl EventLog {
    /// The sparse-index point to start from to reach `seq`: the last one at
    /// or below it, or the first frame of the file.
    pub(super) fn start_point(&self, seq: u64) -> IndexPoint {
        let i = self.index.partition_point(|p| p.seq <= seq);
        match i {
            0 => IndexPoint {
                seq: self.header.base_seq + 1,
                offset: HEADER_LEN as u64,
                chain_before: self.header.base_chain,
            },
            _ => self.index[i - 1],
        }
    }

    pub(super) fn check_range(
        &self,
        seq: u64,
        lowest: u64,
        highest: u64,
    ) -> Result<(), StorageError> {
        if seq < lowest || seq > highest {
            return Err(StorageError::OutOfRange {
                requested: seq,
                first_available: self.first_seq(),
                height: self.tip.height,
            });
        }
        Ok(())
    }

    /// A reader of committed entries starting at `from_seq`, which must be
    /// in `first_seq()..=height() + 1` (the latter gives an empty reader that
    /// can be extended). Below `first_seq()` the entries were trimmed: the
    /// caller must bootstrap from a snapshot ([`StorageError::OutOfRange`]).
    pub fn reader_from(&self, from_seq: u64) -> Result<LogReader, StorageError> {
        self.check_range(from_seq, self.first_seq(), self.tip.height + 1)?;
        let file = self
            .vfs
            .open(&self.path, false)
            .map_err(|e| StorageError::io("open", &self.path, e))?;
        let start = self.start_point(from_seq);
        Ok(LogReader {
            file,
            path: self.path.clone(),
            walker: FrameWalker::new(start.offset, start.seq, self.tip.offset, self.seed),
            skip_below: from_seq,
            generation: self.generation,
            failed: false,
        })
    }

    /// Chain value after event `seq`, for `base_seq() <= seq <= height()`.
    /// Costs at most one sparse-index stride (1024 entries) of reading, so a
    /// leader can answer a follower's `(height, hash)` at the follower's
    /// height (R17).
    pub fn chain_hash_at(&self, seq: u64) -> Result<ChainHash, StorageError> {
        self.check_range(seq, self.header.base_seq, self.tip.height)?;
        if seq == self.tip.height {
            return Ok(self.tip.chain);
        }
        if seq == self.header.base_seq {
            return Ok(self.header.base_chain);
        }
        let start = self.start_point(seq);
        let mut walker = FrameWalker::new(start.offset, start.seq, self.tip.offset, self.seed);
        let mut chain = start.chain_before;
        while walker.next_seq <= seq {
            match walker.next(&*self.file) {
                Ok(Some(f)) => chain = chain_next(&chain, f.seq, f.payload),
                Ok(None) => {
                    return Err(StorageError::CorruptEntry {
                        path: self.path.clone(),
                        offset: walker.offset,
                    })
                }
                Err(e) => return Err(e.into_storage(&self.path)),
            }
        }
        Ok(chain)
    }
}
