//! Who this node is, for life: `node.identity` in the Raft directory holds
//! the node id and a random incarnation, written once, on the node's first
//! start (docs/CLUSTER-INTERNALS.md, "Node identity").
//!
//! The membership records each member's incarnation, and every connection
//! names the incarnation it expects at the other end. A node whose disk was
//! wiped starts with a new incarnation, so under its old id the cluster
//! neither sends it entries nor accepts its votes: a member that has lost
//! its log and its vote must never count in a quorum. It rejoins only as a
//! new member (`add-node` under a new id).
//!
//! File payload (inside the kernel's checksummed state file):
//! `node_id u64 | incarnation u64`, little-endian.

use std::path::Path;
use std::sync::Arc;

use valori_kernel::storage::{StateFile, Vfs};

use crate::NodeId;

const MAGIC: [u8; 8] = *b"VALIDNT1";
/// The identity file's name in the Raft directory.
pub const IDENTITY_FILE: &str = "node.identity";

/// This node's id and incarnation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub node_id: NodeId,
    /// Random, nonzero, fixed for the life of the node's files.
    pub incarnation: u64,
}

impl Identity {
    /// Reads the identity in `dir`, or creates it for `node_id` when the
    /// directory has none. A file naming another id is refused: the node's
    /// files belong to that node.
    pub fn open(vfs: Arc<dyn Vfs>, dir: &Path, node_id: NodeId) -> Result<Identity, String> {
        let path = dir.join(IDENTITY_FILE);
        let shown = path.display();
        vfs.create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let file = StateFile::new(vfs, &path, MAGIC);
        match file
            .read()
            .map_err(|e| format!("cannot read {shown}: {e}"))?
        {
            Some(bytes) => {
                let id = decode(&bytes).ok_or_else(|| {
                    format!(
                        "{shown} is not a node identity ({} bytes, expected 16)",
                        bytes.len()
                    )
                })?;
                if id.node_id != node_id {
                    return Err(format!(
                        "{shown} says these files belong to node {}, but VALORI_NODE_ID is {node_id}: \
                         a node keeps its id for life (set VALORI_NODE_ID={} again, or give node {node_id} empty directories)",
                        id.node_id, id.node_id
                    ));
                }
                if id.incarnation == 0 {
                    return Err(format!(
                        "{shown} holds incarnation 0, which is never written"
                    ));
                }
                Ok(id)
            }
            None => {
                let id = Identity {
                    node_id,
                    incarnation: fresh_incarnation()?,
                };
                file.write(&encode(&id))
                    .map_err(|e| format!("cannot write {shown}: {e}"))?;
                Ok(id)
            }
        }
    }
}

fn encode(id: &Identity) -> Vec<u8> {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&id.node_id.to_le_bytes());
    b.extend_from_slice(&id.incarnation.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> Option<Identity> {
    if b.len() != 16 {
        return None;
    }
    let mut id = [0u8; 8];
    let mut inc = [0u8; 8];
    id.copy_from_slice(&b[..8]);
    inc.copy_from_slice(&b[8..]);
    Some(Identity {
        node_id: u64::from_le_bytes(id),
        incarnation: u64::from_le_bytes(inc),
    })
}

/// A random nonzero u64 from the operating system. Node-local: it names
/// this copy of the node's files and never enters the replicated state's
/// hash, so it cannot make two machines disagree.
fn fresh_incarnation() -> Result<u64, String> {
    loop {
        let mut b = [0u8; 8];
        getrandom::getrandom(&mut b)
            .map_err(|e| format!("no randomness for the node identity: {e}"))?;
        let v = u64::from_le_bytes(b);
        if v != 0 {
            return Ok(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valori_kernel::storage::SimVfs;

    #[test]
    fn created_once_then_read_back_and_another_id_is_refused() {
        let vfs: Arc<dyn Vfs> = Arc::new(SimVfs::new());
        let dir = Path::new("/raft");
        let a = Identity::open(vfs.clone(), dir, 3).unwrap();
        assert_eq!(a.node_id, 3);
        assert_ne!(a.incarnation, 0);
        assert_eq!(Identity::open(vfs.clone(), dir, 3).unwrap(), a);
        let e = Identity::open(vfs.clone(), dir, 4).unwrap_err();
        assert!(
            e.contains("belong to node 3, but VALORI_NODE_ID is 4"),
            "{e}"
        );
        // A wiped directory is a new incarnation.
        let fresh: Arc<dyn Vfs> = Arc::new(SimVfs::new());
        let b = Identity::open(fresh, dir, 3).unwrap();
        assert_ne!(b.incarnation, a.incarnation);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_refused() {
        let vfs: Arc<dyn Vfs> = Arc::new(SimVfs::new());
        let dir = Path::new("/raft");
        vfs.create_dir_all(dir).unwrap();
        let file = StateFile::new(vfs.clone(), dir.join(IDENTITY_FILE), MAGIC);
        file.write(&[1, 2, 3]).unwrap();
        let e = Identity::open(vfs.clone(), dir, 1).unwrap_err();
        assert!(e.contains("not a node identity (3 bytes"), "{e}");
        file.write(&encode(&Identity {
            node_id: 1,
            incarnation: 0,
        }))
        .unwrap();
        assert!(Identity::open(vfs.clone(), dir, 1)
            .unwrap_err()
            .contains("incarnation 0"));
        // Another state file's bytes (a vote file copied over it) fail the magic check.
        let other = StateFile::new(vfs.clone(), dir.join(IDENTITY_FILE), *b"VALVOTE1");
        other.write(&[0u8; 16]).unwrap();
        assert!(Identity::open(vfs, dir, 1).is_err());
    }
}
