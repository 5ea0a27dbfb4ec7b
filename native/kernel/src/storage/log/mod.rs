//! The event log: durable, checksummed, chained storage of opaque event
//! payloads, one file per log (`docs/EVENT_LOG_FORMAT.md`).
//!
//! * [`EventLog::open`] creates or recovers the file (torn tail cut and
//!   synced; mid-log corruption refused unless truncation is accepted).
//! * [`EventLog::append`] writes a group of entries with one `write` and one
//!   `fdatasync`; only after it returns `Ok` may they be acknowledged (R1,
//!   R2). Any I/O failure poisons the log (R13).
//! * [`EventLog::reader_from`] streams committed entries for replay and
//!   replication; [`EventLog::chain_hash_at`] answers hash-at-height (R17).
//! * [`EventLog::trim_prefix`] and [`EventLog::reset_to`] rewrite the file
//!   atomically at a new base (R3, R4).

mod append;
mod cursor;
pub mod format;
mod reader;
mod rewrite;
mod scan;
mod truncate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use format::{ChainHash, GENESIS_CHAIN, MAX_ENTRY_BYTES};
pub use reader::LogReader;

use self::format::{looks_like_legacy_log, HeaderError, LogHeader, HEADER_LEN};
use self::scan::{scan, DamageKind, IndexPoint, Tip};
use crate::storage::error::{io_at as io_err, StorageError};
use crate::storage::vfs::{parent_dir, read_exact_at, with_suffix, Vfs, VfsFile};

/// Where a log file starts in the history of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBase {
    /// Sequence number of the last event before the file (0 = beginning).
    pub seq: u64,
    /// Chain value after event `seq`.
    pub chain: ChainHash,
}

impl LogBase {
    /// The beginning of history.
    pub const GENESIS: LogBase = LogBase {
        seq: 0,
        chain: GENESIS_CHAIN,
    };
}

/// Options of [`EventLog::open`].
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    /// On mid-log corruption, truncate at the last committed append before
    /// the damage instead of refusing to open. Operator opt-in only.
    pub accept_truncation: bool,
    /// Base of a newly created log. A node that starts from a snapshot at
    /// height H with no log creates it at `{seq: H, chain: chain at H}` so
    /// heights and the chain continue.
    pub create_base: LogBase,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            accept_truncation: false,
            create_base: LogBase::GENESIS,
        }
    }
}

/// Why bytes were cut off the end of the log at open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TruncationCause {
    /// The final append was incomplete (torn, zero- or garbage-filled).
    TornTail,
    /// Mid-log corruption, truncated because the operator accepted it.
    MidLogCorruptionAccepted,
}

/// A truncation done by [`EventLog::open`]; the caller logs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub cause: TruncationCause,
    /// New length of the file: the end of the last committed append.
    pub truncated_to: u64,
    /// Offset of the first invalid frame (the old file length when the
    /// final append only lacked its last frames).
    pub found_at: u64,
    /// Bytes removed.
    pub dropped_bytes: u64,
}

/// What [`EventLog::open`] found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The file did not exist (or was empty) and was created.
    pub created: bool,
    pub base_seq: u64,
    pub height: u64,
    /// Entries in the file: `height - base_seq`.
    pub event_count: u64,
    /// File length after recovery.
    pub valid_bytes: u64,
    pub truncation: Option<Truncation>,
    /// Leftover temporary files that were removed (R6).
    pub removed_temp_files: Vec<PathBuf>,
    /// The file was an older format version, rewritten as the current one.
    pub upgraded_from: Option<u32>,
}

/// A committed position; readers can be extended up to one (see
/// [`LogReader::extend_to`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPosition {
    /// Incremented each time the file is rewritten (trim, reset).
    pub generation: u64,
    /// Byte offset of the committed end.
    pub offset: u64,
    /// Sequence number of the last committed event.
    pub height: u64,
}

/// An open event log. Not `Clone`: one writer owns it (wrap it in a lock to
/// share; appends and rewrites take `&mut self`).
pub struct EventLog {
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
    file: Box<dyn VfsFile>,
    header: LogHeader,
    /// CRC seed of every frame in this file: the header CRC (R7).
    seed: u32,
    tip: Tip,
    index: Vec<IndexPoint>,
    poisoned: Option<String>,
    generation: u64,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("path", &self.path)
            .field("base_seq", &self.header.base_seq)
            .field("height", &self.tip.height)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl EventLog {
    /// Opens the log at `path` for a node configured with `dim`, creating it
    /// (header written, file and directory synced) if it is absent or empty.
    ///
    /// An existing log is validated and scanned: a torn tail is truncated
    /// and synced and reported in [`Recovery::truncation`]; mid-log
    /// corruption fails with [`StorageError::MidLogCorruption`] unless
    /// `opts.accept_truncation`. A dim different from the header's fails with
    /// [`StorageError::DimMismatch`]. The file and its directory are synced
    /// before returning, so nothing read during recovery can vanish later
    /// behind newer acknowledged appends.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        path: impl Into<PathBuf>,
        dim: u32,
        opts: &OpenOptions,
    ) -> Result<(EventLog, Recovery), StorageError> {
        let path = path.into();
        let dir = parent_dir(&path);
        let mut removed_temp_files = Vec::new();
        let tmp = with_suffix(&path, rewrite::TMP_SUFFIX);
        if vfs.exists(&tmp).map_err(io_err("stat", &tmp))? {
            vfs.remove(&tmp).map_err(io_err("remove", &tmp))?;
            vfs.sync_dir(&dir).map_err(io_err("sync_dir", &dir))?;
            removed_temp_files.push(tmp);
        }
        let existing = if vfs.exists(&path).map_err(io_err("stat", &path))? {
            let file = vfs.open(&path, true).map_err(io_err("open", &path))?;
            let len = file.len().map_err(io_err("stat", &path))?;
            // An empty file counts as absent: operators following the old
            // rotation plan truncate the log to zero bytes.
            (len > 0).then_some((file, len))
        } else {
            None
        };
        let Some((file, file_len)) = existing else {
            let header = LogHeader {
                dim,
                base_seq: opts.create_base.seq,
                base_chain: opts.create_base.chain,
                salt: rewrite::fresh_salt(),
            };
            let new = rewrite::write_new_file(&*vfs, &path, &header, None).map_err(|(e, _)| e)?;
            let log = EventLog {
                vfs,
                path,
                file: new.file,
                header,
                seed: new.seed,
                tip: new.tip,
                index: new.index,
                poisoned: None,
                generation: 0,
            };
            let recovery = log.recovery(true, None, removed_temp_files);
            return Ok((log, recovery));
        };
        let (header, header_crc) = read_header(&*file, file_len, &path)?;
        let version = {
            let mut v = [0u8; 12];
            read_exact_at(&*file, 0, &mut v).map_err(io_err("read", &path))?;
            u32::from_le_bytes([v[8], v[9], v[10], v[11]])
        };
        if header.dim != dim {
            return Err(StorageError::DimMismatch {
                path,
                file_dim: header.dim,
                expected_dim: dim,
            });
        }
        let scanned = scan(&*file, file_len, &header, header_crc).map_err(io_err("read", &path))?;
        let committed = scanned.committed;
        let truncation = match scanned.damage {
            None => None,
            Some(d) if d.kind == DamageKind::MidLog && !opts.accept_truncation => {
                return Err(StorageError::MidLogCorruption {
                    path,
                    offset: d.found_at,
                    truncate_to: committed.offset,
                    last_good_seq: committed.height,
                });
            }
            Some(d) => {
                // R10: physically cut the bad bytes before anything is
                // appended, or new entries would sit behind them.
                file.set_len(committed.offset)
                    .map_err(io_err("truncate", &path))?;
                let cause = match d.kind {
                    DamageKind::TornTail => TruncationCause::TornTail,
                    DamageKind::MidLog => TruncationCause::MidLogCorruptionAccepted,
                };
                Some(Truncation {
                    cause,
                    truncated_to: committed.offset,
                    found_at: d.found_at,
                    dropped_bytes: file_len - committed.offset,
                })
            }
        };
        file.sync_data().map_err(io_err("sync_data", &path))?;
        vfs.sync_dir(&dir).map_err(io_err("sync_dir", &dir))?;
        let mut log = EventLog {
            vfs,
            path,
            file,
            header,
            seed: header_crc,
            tip: committed,
            index: scanned.index,
            poisoned: None,
            generation: 0,
        };
        let mut recovery = log.recovery(false, truncation, removed_temp_files);
        if version != format::LOG_VERSION {
            log.rewrite_whole()?;
            recovery.upgraded_from = Some(version);
        }
        Ok((log, recovery))
    }

    fn recovery(
        &self,
        created: bool,
        truncation: Option<Truncation>,
        removed: Vec<PathBuf>,
    ) -> Recovery {
        Recovery {
            created,
            base_seq: self.header.base_seq,
            height: self.tip.height,
            event_count: self.event_count(),
            valid_bytes: self.tip.offset,
            truncation,
            removed_temp_files: removed,
            upgraded_from: None,
        }
    }

    /// Sequence number of the last committed event (0 for an empty history).
    pub fn height(&self) -> u64 {
        self.tip.height
    }

    /// Sequence number of the last event *before* this file.
    pub fn base_seq(&self) -> u64 {
        self.header.base_seq
    }

    /// First sequence number this file can hold (`base_seq + 1`); entries
    /// below it were trimmed away and must come from a snapshot.
    pub fn first_seq(&self) -> u64 {
        self.header.base_seq + 1
    }

    /// Entries in the file (`height - base_seq`).
    pub fn event_count(&self) -> u64 {
        self.tip.height - self.header.base_seq
    }

    /// Chain value after the last committed event.
    pub fn chain_hash(&self) -> ChainHash {
        self.tip.chain
    }

    /// Dimension recorded in the header.
    pub fn dim(&self) -> u32 {
        self.header.dim
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Committed bytes in the file.
    pub fn len_bytes(&self) -> u64 {
        self.tip.offset
    }

    /// The committed end, for [`LogReader::extend_to`].
    pub fn position(&self) -> LogPosition {
        LogPosition {
            generation: self.generation,
            offset: self.tip.offset,
            height: self.tip.height,
        }
    }

    /// Why the log refuses appends, if it does (read-only after an I/O
    /// failure until restart; show it in /health).
    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }

    fn poison(&mut self, op: &'static str, e: std::io::Error) -> StorageError {
        let err = StorageError::io(op, &self.path, e);
        self.poisoned = Some(crate::error::with_causes(&err));
        err
    }

    fn check_writable(&self) -> Result<(), StorageError> {
        match &self.poisoned {
            Some(cause) => Err(StorageError::Poisoned {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }
}

fn read_header(
    file: &dyn VfsFile,
    file_len: u64,
    path: &Path,
) -> Result<(LogHeader, u32), StorageError> {
    let mut buf = vec![0u8; (HEADER_LEN as u64).min(file_len) as usize];
    read_exact_at(file, 0, &mut buf).map_err(io_err("read", path))?;
    let bad = |reason: &str| StorageError::BadHeader {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    LogHeader::decode(&buf).map_err(|e| match e {
        HeaderError::BadMagic | HeaderError::TooShort if looks_like_legacy_log(&buf) => {
            StorageError::LegacyEventLog {
                path: path.to_path_buf(),
            }
        }
        HeaderError::TooShort => bad("file shorter than the 64-byte header"),
        HeaderError::BadMagic => bad("missing VALEVLOG magic"),
        HeaderError::UnsupportedVersion(v) => bad(&format!("unsupported format version {v}")),
        HeaderError::BadChecksum => bad("header checksum mismatch"),
        HeaderError::BadBase => bad("base sequence number out of range"),
    })
}
