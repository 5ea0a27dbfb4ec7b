//! [`Unsynced`]: a [`Vfs`] whose syncs do nothing, for files that are
//! derived and rebuilt at every start (a cluster member's event log, which
//! its Raft log and snapshot make again): durability there would cost an
//! fdatasync per applied entry and buy nothing.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Vfs, VfsFile};

/// Delegates every call to the inner file system except the syncs.
#[derive(Debug, Clone)]
pub struct Unsynced(pub Arc<dyn Vfs>);

struct UnsyncedFile(Box<dyn VfsFile>);

impl VfsFile for UnsyncedFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.write_at(offset, data)
    }
    fn len(&self) -> io::Result<u64> {
        self.0.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
    fn sync_all(&self) -> io::Result<()> {
        Ok(())
    }
    fn map(&self) -> io::Result<Option<memmap2::Mmap>> {
        self.0.map()
    }
    fn append(&self, data: &[u8]) -> io::Result<u64> {
        self.0.append(data)
    }
}

impl Vfs for Unsynced {
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        Ok(Box::new(UnsyncedFile(self.0.create(path)?)))
    }
    fn open(&self, path: &Path, write: bool) -> io::Result<Box<dyn VfsFile>> {
        Ok(Box::new(UnsyncedFile(self.0.open(path, write)?)))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.remove(path)
    }
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        self.0.list_dir(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.0.exists(path)
    }
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        Ok(Box::new(UnsyncedFile(self.0.create_new(path)?)))
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.0.create_dir_all(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::vfs::{CrashMode, DataLoss, SimVfs};

    #[test]
    fn writes_reach_the_inner_file_system_but_syncs_do_not() {
        let sim = SimVfs::new();
        let vfs = Unsynced(Arc::new(sim.clone()));
        let path = Path::new("/d/f");
        let f = vfs.create(path).unwrap();
        f.write_at(0, b"abc").unwrap();
        f.sync_data().unwrap();
        vfs.sync_dir(Path::new("/d")).unwrap();
        let mut buf = [0u8; 3];
        vfs.open(path, false).unwrap().read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"abc");
        // Nothing was synced, so a power cut that drops unsynced data loses
        // the file (its name was never made durable).
        let image = sim.crash_image(&CrashMode {
            data: DataLoss::Prefix(0),
            dir_ops_kept: 0,
        });
        assert!(!image.exists(path).unwrap());
    }
}
