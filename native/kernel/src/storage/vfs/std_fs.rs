//! [`Vfs`] over `std::fs`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::{Vfs, VfsFile};

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdVfs;

struct StdFile(File);

#[cfg(unix)]
fn pread(f: &File, off: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, off)
}
#[cfg(unix)]
fn pwrite_all(f: &File, off: u64, data: &[u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, data, off)
}
#[cfg(windows)]
fn pread(f: &File, off: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, off)
}
#[cfg(windows)]
fn pwrite_all(f: &File, mut off: u64, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(f, data, off)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
        }
        off += n as u64;
        data = &data[n..];
    }
    Ok(())
}

impl VfsFile for StdFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match pread(&self.0, offset, buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        pwrite_all(&self.0, offset, data)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        // On Apple platforms fdatasync/fsync do not flush the drive cache;
        // sync_all issues F_FULLFSYNC there (R12).
        if cfg!(target_vendor = "apple") {
            self.0.sync_all()
        } else {
            self.0.sync_data()
        }
    }
    fn map(&self) -> io::Result<Option<memmap2::Mmap>> {
        if self.0.metadata()?.len() == 0 {
            return Ok(None);
        }
        // SAFETY: the node maps only its snapshot files, which are written
        // under a temporary name, synced, renamed into place and never
        // written again (docs/SNAPSHOT_FORMAT.md: do not edit or truncate a
        // snapshot file while a node may read it; a truncated mapping faults
        // on access). The mapping is read-only and outlives no reader of it.
        let m = unsafe { memmap2::MmapOptions::new().map(&self.0)? };
        #[cfg(unix)]
        {
            // A hint only: decoding reads the file front to back.
            let _ = m.advise(memmap2::Advice::Sequential);
        }
        Ok(Some(m))
    }

    fn sync_all(&self) -> io::Result<()> {
        self.0.sync_all()
    }
}

impl Vfs for StdVfs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(StdFile(f)))
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut o = OpenOptions::new();
        // O_CREAT|O_EXCL already refuses an existing name, symlinks included;
        // O_NOFOLLOW states the intent and also covers a dangling link.
        o.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, libc::O_NOFOLLOW);
        Ok(Box::new(StdFile(o.open(path)?)))
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }
    fn open(&self, path: &Path, write: bool) -> io::Result<Box<dyn VfsFile>> {
        let f = OpenOptions::new().read(true).write(write).open(path)?;
        Ok(Box::new(StdFile(f)))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    #[cfg(unix)]
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // fsync(2): the directory entry of a new or renamed file reaches
        // disk only with an fsync on the directory itself (R3).
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        // No portable directory fsync elsewhere; renames are journaled.
        Ok(())
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        match fs::metadata(path) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}
