//! Shared fixtures: a simulated file system, deterministic payloads, and
//! helpers to open and read back a log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::storage::log::format::chain_next;
use crate::storage::{
    ChainHash, EventLog, OpenOptions, Recovery, SimVfs, StorageError, Vfs, GENESIS_CHAIN,
};

pub const DIM: u32 = 4;

pub fn log_path() -> PathBuf {
    PathBuf::from("/data/events.log")
}

pub fn snap_path() -> PathBuf {
    PathBuf::from("/data/snapshot.bin")
}

pub fn arc(fs: &SimVfs) -> Arc<dyn Vfs> {
    Arc::new(fs.clone())
}

/// Deterministic, distinct bytes for event `seq`, `len` long; includes runs
/// of zeros so a zero-filled sector is not trivially "not a payload".
pub fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (i / 64) % 3 == 2 {
                0
            } else {
                (x >> 24) as u8
            }
        })
        .collect()
}

pub fn open(fs: &SimVfs, opts: &OpenOptions) -> Result<(EventLog, Recovery), StorageError> {
    EventLog::open(arc(fs), log_path(), DIM, opts)
}

pub fn open_default(fs: &SimVfs) -> (EventLog, Recovery) {
    open(fs, &OpenOptions::default()).expect("open")
}

/// Appends one group of entries with the given payload sizes.
pub fn append_sizes(
    log: &mut EventLog,
    sizes: &[usize],
) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
    let first = log.height() + 1;
    let owned: Vec<(u64, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| (first + i as u64, payload(first + i as u64, n)))
        .collect();
    let borrowed: Vec<(u64, &[u8])> = owned.iter().map(|(s, p)| (*s, p.as_slice())).collect();
    log.append(&borrowed)?;
    Ok(owned)
}

/// Every committed entry from `first_seq()`.
pub fn read_all(log: &EventLog) -> Vec<(u64, Vec<u8>)> {
    log.reader_from(log.first_seq())
        .expect("reader")
        .map(|r| r.expect("entry"))
        .collect()
}

/// Chain value over `payload_of(1..=height)` from genesis.
pub fn chain_of(height: u64, payload_of: impl Fn(u64) -> Vec<u8>) -> ChainHash {
    (1..=height).fold(GENESIS_CHAIN, |c, s| chain_next(&c, s, &payload_of(s)))
}

pub fn file_len(fs: &SimVfs, path: &Path) -> usize {
    fs.file_bytes(path).map_or(0, |b| b.len())
}
