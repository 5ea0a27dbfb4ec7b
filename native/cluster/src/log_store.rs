//! openraft's log storage over the kernel's event log.
//!
//! Files in the Raft directory:
//! * `raft.log`: the event log; Raft index `i` is sequence number `i + 1`;
//! * `raft.vote`: the vote (R19), written and synced before `save_vote`
//!   returns;
//! * `raft.purged`: the last purged log id. openraft needs its term, which
//!   the log's header does not hold. It is written before the log's prefix
//!   is trimmed, and at open a log whose base lags it is trimmed again, so a
//!   crash between the two only leaves entries that are trimmed later.
//!
//! Every call does its I/O before returning, under one lock, in the order
//! openraft issues them (its storage contract asks for all writes, votes
//! included, to be serialized). `append` therefore reports the entries
//! flushed before it returns. Grouping the appends of several calls into
//! one `fdatasync` (a log I/O thread) is a later optimisation.

use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{LogId, RaftLogReader, Vote};
use valori_kernel::storage::{EventLog, LogBase, OpenOptions, StateFile, Vfs, GENESIS_CHAIN};

use crate::codec::{
    decode_entry, decode_log_id, decode_vote, encode_entry, encode_log_id, encode_vote,
    entry_log_id,
};
use crate::errors::{read_logs, read_vote, violation, write_logs, write_vote};
use crate::{Entry, NodeId, StorageError, TypeConfig};

const VOTE_MAGIC: [u8; 8] = *b"VALVOTE1";
const PURGED_MAGIC: [u8; 8] = *b"VALPURG1";
/// The event log header records a vector dimension; a Raft log has none.
const RAFT_LOG_DIM: u32 = 0;

/// The Raft log of one node. Cloning gives another handle to the same log
/// (openraft's replication tasks read through one).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    log: EventLog,
    vote: StateFile,
    purged_file: StateFile,
    purged: Option<LogId<NodeId>>,
    /// The log id of the last entry in the file, if it holds any.
    last_in_file: Option<LogId<NodeId>>,
}

impl LogStore {
    /// Opens (or creates) the Raft log in `dir`, repairing a torn tail as
    /// the event log does at any open.
    pub fn open(vfs: Arc<dyn Vfs>, dir: &Path) -> Result<LogStore, StorageError> {
        LogStore::open_at(vfs, &dir.join("raft.log"), dir)
    }

    /// Opens (or creates) the Raft log at `log_path`, with its vote and
    /// purge point in `dir`.
    pub fn open_at(
        vfs: Arc<dyn Vfs>,
        log_path: &Path,
        dir: &Path,
    ) -> Result<LogStore, StorageError> {
        vfs.create_dir_all(dir).map_err(|e| write_logs(&e))?;
        let (mut log, _recovery) = EventLog::open(
            vfs.clone(),
            log_path.to_path_buf(),
            RAFT_LOG_DIM,
            &OpenOptions::default(),
        )
        .map_err(|e| read_logs(&e))?;
        let vote = StateFile::new(vfs.clone(), dir.join("raft.vote"), VOTE_MAGIC);
        let purged_file = StateFile::new(vfs, dir.join("raft.purged"), PURGED_MAGIC);
        let purged = match purged_file.read().map_err(|e| read_logs(&e))? {
            Some(b) => Some(decode_log_id(&b).map_err(|e| read_logs(&e))?),
            None => None,
        };
        if let Some(p) = purged {
            // A crash after `raft.purged` was written and before the trim.
            let base = p.index + 1;
            if log.base_seq() < base {
                if log.height() >= base {
                    log.trim_prefix(base).map_err(|e| write_logs(&e))?;
                } else {
                    log.reset_to(LogBase {
                        seq: base,
                        chain: GENESIS_CHAIN,
                    })
                    .map_err(|e| write_logs(&e))?;
                }
            }
        }
        let mut inner = Inner {
            log,
            vote,
            purged_file,
            purged,
            last_in_file: None,
        };
        inner.last_in_file = inner.read_last_id()?;
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StorageError> {
        self.inner.lock().map_err(|_| {
            violation("the Raft log's lock is poisoned (a panic during log I/O)".into())
        })
    }

    /// Sequence number of the last entry (the event log's height): Raft
    /// index + 1.
    pub fn height(&self) -> Result<u64, StorageError> {
        Ok(self.lock()?.log.height())
    }
}

impl Inner {
    fn read_last_id(&self) -> Result<Option<LogId<NodeId>>, StorageError> {
        let h = self.log.height();
        if h == self.log.base_seq() {
            return Ok(None);
        }
        let mut reader = self.log.reader_from(h).map_err(|e| read_logs(&e))?;
        match reader.next() {
            Some(Ok((seq, payload))) => Ok(Some(
                entry_log_id(seq - 1, &payload).map_err(|e| read_logs(&e))?,
            )),
            Some(Err(e)) => Err(read_logs(&e)),
            None => Err(violation(format!("entry {h} missing from the Raft log"))),
        }
    }

    /// Entries with Raft index in `[start, end)` that the file holds.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Entry>, StorageError> {
        let first = self.log.first_seq().max(start.saturating_add(1));
        let last = self.log.height().min(end);
        if first > last {
            return Ok(Vec::new());
        }
        let reader = self.log.reader_from(first).map_err(|e| read_logs(&e))?;
        let mut out = Vec::with_capacity((last - first + 1).min(4096) as usize);
        for item in reader {
            let (seq, payload) = item.map_err(|e| read_logs(&e))?;
            if seq > last {
                break;
            }
            out.push(decode_entry(seq - 1, &payload).map_err(|e| read_logs(&e))?);
        }
        Ok(out)
    }
}

fn index_range<RB: RangeBounds<u64>>(range: &RB) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&x) => x,
        Bound::Excluded(&x) => x.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&x) => x.saturating_add(1),
        Bound::Excluded(&x) => x,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = index_range(&range);
        self.lock()?.entries(start, end)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let inner = self.lock()?;
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: inner.last_in_file.or(inner.purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let inner = self.lock()?;
        inner
            .vote
            .write(&encode_vote(vote))
            .map_err(|e| write_vote(&e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        let inner = self.lock()?;
        match inner.vote.read().map_err(|e| read_vote(&e))? {
            Some(b) => Ok(Some(decode_vote(&b).map_err(|e| read_vote(&e))?)),
            None => Ok(None),
        }
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut inner = self.lock()?;
        // Entries at or below the purge point are committed, applied and in
        // a snapshot already: there is nothing to keep of them.
        let base = inner.log.base_seq();
        let entries: Vec<Entry> = entries
            .into_iter()
            .filter(|e| e.log_id.index + 1 > base)
            .collect();
        let Some(first) = entries.first() else {
            drop(inner);
            callback.log_io_completed(Ok(()));
            return Ok(());
        };
        let next = inner.log.height() + 1;
        let first_seq = first.log_id.index + 1;
        if first_seq != next {
            let empty = inner.log.height() == inner.log.base_seq();
            if !(empty && first_seq > next) {
                return Err(violation(format!(
                    "append at Raft index {} but the log ends at index {}",
                    first.log_id.index,
                    next as i128 - 2
                )));
            }
            // An empty log receiving entries past its end (after a snapshot
            // install purged everything): start the file there.
            inner
                .log
                .reset_to(LogBase {
                    seq: first_seq - 1,
                    chain: GENESIS_CHAIN,
                })
                .map_err(|e| write_logs(&e))?;
        }
        let mut encoded = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            if e.log_id.index != first.log_id.index + i as u64 {
                return Err(violation(format!(
                    "entries to append skip from index {} to {}",
                    first.log_id.index + i as u64 - 1,
                    e.log_id.index
                )));
            }
            encoded.push((
                e.log_id.index + 1,
                encode_entry(e).map_err(|e| write_logs(&e))?,
            ));
        }
        let frames: Vec<(u64, &[u8])> = encoded.iter().map(|(s, p)| (*s, p.as_slice())).collect();
        match inner.log.append(&frames) {
            Ok(()) => {
                inner.last_in_file = entries.last().map(|e| e.log_id);
                drop(inner);
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let msg = valori_kernel::error::with_causes(&e);
                callback.log_io_completed(Err(std::io::Error::other(msg)));
                Err(write_logs(&e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        let mut inner = self.lock()?;
        // Entries from `log_id.index` on go: keep sequence numbers up to it.
        let keep = log_id.index.min(inner.log.height());
        if keep < inner.log.base_seq() {
            return Err(violation(format!(
                "truncation from Raft index {} reaches below the purged prefix (first index {})",
                log_id.index,
                inner.log.base_seq()
            )));
        }
        inner.log.truncate_after(keep).map_err(|e| write_logs(&e))?;
        inner.last_in_file = inner.read_last_id()?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError> {
        let mut inner = self.lock()?;
        if inner.purged.is_some_and(|p| p.index >= log_id.index) {
            return Ok(());
        }
        inner
            .purged_file
            .write(&encode_log_id(&log_id))
            .map_err(|e| write_logs(&e))?;
        inner.purged = Some(log_id);
        let base = log_id.index + 1;
        if base <= inner.log.height() {
            if base > inner.log.base_seq() {
                inner.log.trim_prefix(base).map_err(|e| write_logs(&e))?;
            }
        } else {
            inner
                .log
                .reset_to(LogBase {
                    seq: base,
                    chain: GENESIS_CHAIN,
                })
                .map_err(|e| write_logs(&e))?;
        }
        inner.last_in_file = inner.read_last_id()?;
        Ok(())
    }
}
