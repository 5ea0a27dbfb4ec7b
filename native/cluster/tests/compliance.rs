//! openraft's own storage compliance suite over our log store (the kernel's
//! event log on the real disk) and state machine.

mod common;

use std::sync::Arc;

use common::{Registers, TempDir};
use openraft::testing::{StoreBuilder, Suite};
use valori_cluster::{LogStore, StateMachine, StorageError, TypeConfig};
use valori_kernel::storage::StdVfs;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine<Registers>, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine<Registers>), StorageError> {
        let dir = TempDir::new("suite");
        let vfs = Arc::new(StdVfs);
        let log = LogStore::open(vfs.clone(), &dir.path().join("log"))?;
        let sm = StateMachine::open(vfs, &dir.path().join("sm"), Registers::default())?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite_passes_over_the_event_log() {
    Suite::test_all(Builder).expect("openraft's storage suite");
}
