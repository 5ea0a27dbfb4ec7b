//! openraft's storage errors from ours. openraft stops its core on any of
//! them (a node with a failing disk must be replaced, never trusted), so the
//! message carries the kernel's whole cause chain for the operator.

use anyerror::AnyError;
use openraft::StorageIOError;

use crate::{NodeId, StorageError};

fn any(e: &(dyn std::error::Error + 'static)) -> AnyError {
    AnyError::error(valori_kernel::error::with_causes(e))
}

pub fn read_logs(e: &(dyn std::error::Error + 'static)) -> StorageError {
    StorageIOError::<NodeId>::read_logs(any(e)).into()
}

pub fn write_logs(e: &(dyn std::error::Error + 'static)) -> StorageError {
    StorageIOError::<NodeId>::write_logs(any(e)).into()
}

pub fn read_vote(e: &(dyn std::error::Error + 'static)) -> StorageError {
    StorageIOError::<NodeId>::read_vote(any(e)).into()
}

pub fn write_vote(e: &(dyn std::error::Error + 'static)) -> StorageError {
    StorageIOError::<NodeId>::write_vote(any(e)).into()
}

pub fn write_snapshot(e: &(dyn std::error::Error + 'static)) -> StorageError {
    StorageIOError::<NodeId>::write_snapshot(None, any(e)).into()
}

pub fn read_snapshot(e: &(dyn std::error::Error + 'static)) -> StorageError {
    StorageIOError::<NodeId>::read_snapshot(None, any(e)).into()
}

/// A broken promise between openraft and this adapter (a gap in appends, a
/// truncation below the purge point): a bug, reported as a failed write.
pub fn violation(what: String) -> StorageError {
    StorageIOError::<NodeId>::write_logs(AnyError::error(what)).into()
}
