//! What a power cut leaves behind: the crash variants of [`super::SimVfs`].
//!
//! Synced bytes and fsynced directory entries always survive. For the rest,
//! a [`CrashMode`] picks one outcome the storage stack is allowed to produce:
//! unsynced writes lost or kept in order, the last write torn at a sector
//! boundary with nothing, zeros or garbage behind the tear, a sector in the
//! middle of the last write missing (pages written back out of order), and a
//! prefix of the un-fsynced creates/renames/removes kept.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::sim::{apply_pending, DirOp, Inode, Pending};

/// How the bytes behind a tear look after reboot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// The file ends where the surviving sectors end.
    Shorten,
    /// The size reached disk but the data did not: zeros (preallocation,
    /// ext4 unwritten extents).
    Zeros,
    /// The size reached disk and the blocks hold stale or random bytes.
    Garbage,
}

/// What happened to the unsynced data of every file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataLoss {
    /// The first `n` unsynced writes/truncations of each file reached disk,
    /// in order. `Prefix(0)` drops all unsynced data, `Prefix(usize::MAX)`
    /// keeps it all.
    Prefix(usize),
    /// All but the last unsynced operation reached disk; of the last write,
    /// only the first `keep` sectors of `sector` bytes (counted from the
    /// sector holding its first byte) did, and the rest looks like `fill`.
    Torn { sector: u64, keep: u64, fill: Fill },
    /// The last write reached disk except sector number `lost` of it, which
    /// keeps its previous contents (zeros beyond the old end of file).
    Hole { sector: u64, lost: u64 },
}

/// One crash outcome: the data variant plus how many of the un-fsynced
/// directory operations (in issue order) reached disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashMode {
    pub data: DataLoss,
    pub dir_ops_kept: usize,
}

/// Deterministic stand-in for whatever was on the disk before.
fn garbage_byte(ino: u64, pos: u64) -> u8 {
    let mut x = ino.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ pos.wrapping_add(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x & 0xFF) as u8
}

/// Number of `sector`-sized, sector-aligned blocks a write touches.
pub(super) fn sectors_touched(off: u64, len: u64, sector: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    let first = off / sector;
    let last = (off + len - 1) / sector;
    last - first + 1
}

/// The durable contents of one file after a crash under `loss`.
pub(super) fn settle_file(inode: &Inode, loss: &DataLoss, ino: u64) -> Vec<u8> {
    let mut out = inode.durable.clone();
    let ops = &inode.pending;
    let (sector, torn) = match *loss {
        DataLoss::Prefix(n) => {
            ops.iter()
                .take(n)
                .for_each(|op| apply_pending(&mut out, op));
            return out;
        }
        DataLoss::Torn { sector, .. } | DataLoss::Hole { sector, .. } => (sector, loss),
    };
    let Some((last, rest)) = ops.split_last() else {
        return out;
    };
    rest.iter().for_each(|op| apply_pending(&mut out, op));
    let Pending::Write { off, bytes } = last else {
        apply_pending(&mut out, last);
        return out;
    };
    let (off, end) = (*off, *off + bytes.len() as u64);
    let first_sector_start = off / sector * sector;
    let before = out.clone();
    match *torn {
        DataLoss::Torn { keep, fill, .. } => {
            let cut = if keep == 0 {
                off
            } else {
                end.min(first_sector_start + keep * sector)
            };
            let kept = &bytes[..(cut - off) as usize];
            apply_pending(
                &mut out,
                &Pending::Write {
                    off,
                    bytes: kept.to_vec(),
                },
            );
            let tail: Vec<u8> = match fill {
                Fill::Shorten => Vec::new(),
                Fill::Zeros => vec![0; (end - cut) as usize],
                Fill::Garbage => (cut..end).map(|p| garbage_byte(ino, p)).collect(),
            };
            if !tail.is_empty() {
                apply_pending(
                    &mut out,
                    &Pending::Write {
                        off: cut,
                        bytes: tail,
                    },
                );
            }
        }
        DataLoss::Hole { lost, .. } => {
            apply_pending(&mut out, last);
            let start = off.max(first_sector_start + lost * sector);
            let stop = end.min(first_sector_start + (lost + 1) * sector);
            for p in start..stop {
                out[p as usize] = before.get(p as usize).copied().unwrap_or(0);
            }
        }
        DataLoss::Prefix(_) => unreachable!("handled above"),
    }
    out
}

/// The name table after a crash: the durable one plus the first `kept`
/// pending directory operations.
pub(super) fn settle_dir(
    durable: &BTreeMap<PathBuf, u64>,
    pending: &[DirOp],
    kept: usize,
) -> BTreeMap<PathBuf, u64> {
    let mut names = durable.clone();
    for op in pending.iter().take(kept) {
        match op {
            DirOp::Link { path, ino } => {
                names.insert(path.clone(), *ino);
            }
            DirOp::Unlink { path } => {
                names.remove(path);
            }
            DirOp::Rename { from, to } => {
                if let Some(ino) = names.remove(from) {
                    names.insert(to.clone(), ino);
                }
            }
        }
    }
    names
}

/// Indices to try out of `0..n`: all of them when few, else the edges and
/// the middle (the interesting tears are at the start and end of a write).
fn sample(n: u64) -> Vec<u64> {
    if n <= 12 {
        return (0..n).collect();
    }
    let mut v = vec![0, 1, 2, n / 2, n - 3, n - 2, n - 1];
    v.dedup();
    v
}

/// Every mode worth checking for files with these pending operations and
/// `dir_pending` un-fsynced directory operations.
pub(super) fn enumerate_modes<'a>(
    inodes: impl Iterator<Item = &'a Inode>,
    dir_pending: usize,
) -> Vec<CrashMode> {
    let mut max_ops = 0usize;
    let mut last_writes: Vec<(u64, u64)> = Vec::new();
    for inode in inodes {
        max_ops = max_ops.max(inode.pending.len());
        if let Some(Pending::Write { off, bytes }) = inode.pending.last() {
            last_writes.push((*off, bytes.len() as u64));
        }
    }
    let mut data = Vec::new();
    for n in 0..=max_ops {
        data.push(DataLoss::Prefix(n));
    }
    for sector in [512u64, 4096] {
        let sectors = last_writes
            .iter()
            .map(|&(o, l)| sectors_touched(o, l, sector))
            .max()
            .unwrap_or(0);
        for keep in sample(sectors) {
            for fill in [Fill::Shorten, Fill::Zeros, Fill::Garbage] {
                data.push(DataLoss::Torn { sector, keep, fill });
            }
        }
        if sectors >= 2 {
            for lost in sample(sectors) {
                data.push(DataLoss::Hole { sector, lost });
            }
        }
    }
    let mut modes = Vec::new();
    let mut dir_choices = vec![0, dir_pending];
    dir_choices.dedup();
    for &dir_ops_kept in &dir_choices {
        modes.extend(data.iter().map(|&data| CrashMode { data, dir_ops_kept }));
    }
    // Partial directory histories matter with all or none of the data.
    for dir_ops_kept in 1..dir_pending {
        for data in [DataLoss::Prefix(0), DataLoss::Prefix(usize::MAX)] {
            modes.push(CrashMode { data, dir_ops_kept });
        }
    }
    modes
}
