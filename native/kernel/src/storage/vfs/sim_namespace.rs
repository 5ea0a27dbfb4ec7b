//! Namespace operations of [`SimVfs`]: create, open, rename, remove and
//! directory fsync. Every change of a name is recorded as a pending
//! directory operation until `sync_dir`, so a crash image can keep any
//! prefix of them (R3).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::sim::{fault, DirOp, Inode, Pending, SimFile, SimVfs};
use super::sim_crash::settle_dir;
use super::{parent_dir, Vfs, VfsFile};

impl Vfs for SimVfs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn VfsFile>> {
        let mut st = self.st();
        fault(st.begin(true)?)?;
        let ino = match st.names.get(path) {
            Some(ino) => {
                // O_TRUNC on an existing file: same inode, unsynced truncation.
                let ino = *ino;
                let inode = st.inode(ino);
                inode.data.clear();
                inode.pending.push(Pending::SetLen(0));
                ino
            }
            None => {
                let ino = st.next_ino;
                st.next_ino += 1;
                st.inodes.insert(ino, Inode::default());
                st.names.insert(path.to_path_buf(), ino);
                st.dir_pending.push(DirOp::Link {
                    path: path.to_path_buf(),
                    ino,
                });
                ino
            }
        };
        Ok(Box::new(SimFile {
            state: Arc::clone(&self.state),
            ino,
            writable: true,
        }))
    }
    fn open(&self, path: &Path, write: bool) -> io::Result<Box<dyn VfsFile>> {
        let mut st = self.st();
        fault(st.begin(false)?)?;
        let ino = st.lookup(path)?;
        Ok(Box::new(SimFile {
            state: Arc::clone(&self.state),
            ino,
            writable: write,
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.st();
        fault(st.begin(true)?)?;
        let ino = st.lookup(from)?;
        st.names.remove(from);
        st.names.insert(to.to_path_buf(), ino);
        st.dir_pending.push(DirOp::Rename {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
        });
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut st = self.st();
        fault(st.begin(true)?)?;
        st.lookup(path)?;
        st.names.remove(path);
        st.dir_pending.push(DirOp::Unlink {
            path: path.to_path_buf(),
        });
        Ok(())
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.st();
        fault(st.begin(true)?)?;
        let ops = std::mem::take(&mut st.dir_pending);
        let (here, elsewhere): (Vec<DirOp>, Vec<DirOp>) =
            ops.into_iter().partition(|op| op.dir() == dir);
        st.durable_names = settle_dir(&st.durable_names, &here, usize::MAX);
        st.dir_pending = elsewhere;
        Ok(())
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut st = self.st();
        fault(st.begin(false)?)?;
        Ok(st
            .names
            .keys()
            .filter(|p| parent_dir(p) == dir)
            .cloned()
            .collect())
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        let mut st = self.st();
        fault(st.begin(false)?)?;
        Ok(st.names.contains_key(path))
    }
}
