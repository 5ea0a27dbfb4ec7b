//! The file-system seam under the storage code.
//!
//! Everything the event log and the snapshot store do to disk goes through
//! [`Vfs`] and [`VfsFile`], so the same code runs over the real file system
//! ([`StdVfs`]) and over [`SimVfs`], which can lose unsynced data the way a
//! power cut does and fail any call with EIO or ENOSPC.
//!
//! The calls are positional (`read_at`/`write_at`, i.e. pread/pwrite) rather
//! than cursor-based: the log tracks its own end offset, and positional I/O
//! lets a replication reader share nothing with the writer (R15: no mmap).

use std::io;
use std::path::{Path, PathBuf};

mod sim;
mod sim_crash;
mod sim_namespace;
mod std_fs;
mod unsynced;

pub use sim::{Errno, SimVfs};
pub use sim_crash::{CrashMode, DataLoss, Fill};
pub use std_fs::StdVfs;
pub use unsynced::Unsynced;

/// An open file. Methods take `&self` so a handle can be shared by a
/// writer and readers without a cursor.
// `len` is fallible I/O, not a collection size; an `is_empty` adds nothing.
#[allow(clippy::len_without_is_empty)]
pub trait VfsFile: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; returns 0 at end of file.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `data` at `offset`, extending the file if needed.
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Current length in bytes (as the OS sees it, synced or not).
    fn len(&self) -> io::Result<u64>;
    /// Truncates or extends the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes the data and the size durable (`fdatasync`; a full flush on
    /// Apple platforms, R12). Does not make the directory entry durable.
    fn sync_data(&self) -> io::Result<()>;
    /// Makes data and all metadata durable (`fsync`).
    fn sync_all(&self) -> io::Result<()>;

    /// The whole file mapped read-only, where the file system can map it
    /// (`None`: read it instead). See [`read_whole`].
    fn map(&self) -> io::Result<Option<memmap2::Mmap>> {
        Ok(None)
    }

    /// Appends `data` at the current end; returns the offset it was written
    /// at. The event log does not use this: it writes at its own tracked end.
    fn append(&self, data: &[u8]) -> io::Result<u64> {
        let end = self.len()?;
        self.write_at(end, data)?;
        Ok(end)
    }
}

/// A file system: files plus the directory operations recovery relies on.
pub trait Vfs: Send + Sync + std::fmt::Debug {
    /// Creates `path` (or truncates it if it exists), open for read+write.
    /// The new directory entry is durable only after [`Vfs::sync_dir`].
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>>;
    /// Opens an existing file; `write` selects read+write over read-only.
    fn open(&self, path: &Path, write: bool) -> io::Result<Box<dyn VfsFile>>;
    /// Atomically replaces `to` with `from` (same directory). Durable only
    /// after [`Vfs::sync_dir`] (R3).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file name.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the entries of directory `dir` durable (fsync on the directory).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Paths of the regular files directly inside `dir`, sorted.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Whether `path` names a file.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Creates `path`, which must not exist yet (not even as a symlink),
    /// open for read+write: temporary files are never written through a
    /// name someone else planted.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        if self.exists(path)? {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "file exists"));
        }
        self.create(path)
    }
    /// Creates directory `dir` and its parents if missing. The simulated
    /// file system has no directories, so its default does nothing.
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// A whole file's bytes: mapped from the page cache where the file system
/// allows it (nothing copied onto the heap; pages the decoder has passed can
/// be dropped by the OS), else read into a buffer (the simulated file system).
pub enum FileBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m,
            FileBytes::Read(v) => v,
        }
    }
}

impl std::fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self {
            FileBytes::Mapped(_) => "mapped",
            FileBytes::Read(_) => "read",
        };
        write!(f, "FileBytes({how}, {} bytes)", self.len())
    }
}

/// The whole of `file`, mapped or read (see [`FileBytes`]).
pub fn read_whole(file: &dyn VfsFile) -> io::Result<FileBytes> {
    if let Some(m) = file.map()? {
        return Ok(FileBytes::Mapped(m));
    }
    let len = usize::try_from(file.len()?)
        .map_err(|_| io::Error::other("file larger than the address space"))?;
    let mut v = vec![0u8; len];
    read_exact_at(file, 0, &mut v)?;
    Ok(FileBytes::Read(v))
}

/// Reads exactly `buf.len()` bytes at `offset` or fails with `UnexpectedEof`.
pub fn read_exact_at(file: &dyn VfsFile, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = file.read_at(offset, buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shorter than expected",
            ));
        }
        offset += n as u64;
        buf = &mut buf[n..];
    }
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` with `suffix` appended to its file name (`a/b.log` + `.tmp` →
/// `a/b.log.tmp`). Keeps sibling files in the same directory, which is what
/// makes a rename between them atomic.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}
