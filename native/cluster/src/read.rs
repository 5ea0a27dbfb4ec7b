//! Linearizable reads on any node (docs/CLUSTER-INTERNALS.md, "Reads").
//!
//! The leader confirms it still leads (a heartbeat round to a quorum) and
//! waits until it has applied everything committed before the read began
//! (openraft's `ensure_linearizable`). A follower asks the leader for that
//! read index over the Raft port, then waits until it has applied that far
//! itself; whatever it reads afterwards includes every write acknowledged
//! before the read began.

use std::time::Duration;

use openraft::Raft;

use crate::network::Network;
use crate::{NodeId, TypeConfig};

/// Why a linearizable read could not be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// No leader is known (an election is running, or no quorum).
    NoLeader,
    /// The leader could not be asked, or it is no longer the leader.
    Leader(String),
    /// The node did not apply up to the read index in time.
    Timeout,
    /// The node is shutting down.
    Stopped,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NoLeader => f.write_str("no leader is known; retry shortly"),
            ReadError::Leader(why) => write!(f, "the leader did not confirm the read: {why}"),
            ReadError::Timeout => f.write_str("this node did not catch up with the leader in time"),
            ReadError::Stopped => f.write_str("the node is shutting down"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Waits until a read on this node is linearizable; returns the index this
/// node has applied at least. Bounded by `timeout` on a follower.
pub async fn read_barrier(
    raft: &Raft<TypeConfig>,
    net: &Network,
    timeout: Duration,
) -> Result<u64, ReadError> {
    let metrics = raft.metrics().borrow().clone();
    let Some(leader) = metrics.current_leader else {
        return Err(ReadError::NoLeader);
    };
    if leader == metrics.id {
        let read = tokio::time::timeout(timeout, raft.ensure_linearizable())
            .await
            .map_err(|_| ReadError::Timeout)?
            .map_err(|e| ReadError::Leader(e.to_string()))?;
        return Ok(read.map_or(0, |l| l.index));
    }
    let node = metrics
        .membership_config
        .membership()
        .get_node(&leader)
        .cloned()
        .ok_or(ReadError::NoLeader)?;
    let read = net
        .read_index(leader as NodeId, &node, timeout)
        .await
        .map_err(ReadError::Leader)?
        .map_err(|e| ReadError::Leader(e.to_string()))?;
    let Some(read) = read else {
        return Ok(0);
    };
    raft.wait(Some(timeout))
        .applied_index_at_least(Some(read.index), "linearizable read")
        .await
        .map_err(|e| match e {
            openraft::metrics::WaitError::Timeout(..) => ReadError::Timeout,
            openraft::metrics::WaitError::ShuttingDown => ReadError::Stopped,
        })?;
    Ok(read.index)
}
