//! The Raft log across restarts: entries, vote and purge point survive a
//! reopen; a truncated suffix stays gone; a crash between writing the purge
//! point and trimming is finished at the next open; a damaged vote refuses
//! to load.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::TempDir;
use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{CommittedLeaderId, EntryPayload, LogId, Membership, RaftLogReader, Vote};
use valori_cluster::{Command, Entry, LogStore, Member, NodeId};
use valori_kernel::storage::{StateFile, StdVfs};

fn id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn cmd(term: u64, index: u64, text: &str) -> Entry {
    Entry {
        log_id: id(term, index),
        payload: EntryPayload::Normal(Command(text.as_bytes().to_vec())),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn append(log: &mut LogStore, entries: Vec<Entry>) {
    log.blocking_append(entries).await.unwrap();
}

fn open(dir: &TempDir) -> LogStore {
    LogStore::open(Arc::new(StdVfs), &dir.path().join("raft")).unwrap()
}

#[test]
fn when_reopened_then_entries_vote_and_purge_point_are_as_left() {
    let dir = TempDir::new("reopen");
    rt().block_on(async {
        let mut log = open(&dir);
        let members: BTreeSet<u64> = [1, 2, 3].into();
        let nodes = members
            .iter()
            .map(|i| {
                (
                    *i,
                    Member {
                        api_addr: format!("127.0.0.{i}:3000"),
                        raft_addr: format!("127.0.0.{i}:4100"),
                        incarnation: 0,
                    },
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>();
        let mut entries = vec![
            Entry {
                log_id: id(1, 0),
                payload: EntryPayload::Membership(Membership::new(vec![members], nodes)),
            },
            Entry {
                log_id: id(1, 1),
                payload: EntryPayload::Blank,
            },
        ];
        for i in 2..8 {
            entries.push(cmd(1 + i / 4, i, &format!("k{i}=v{i}")));
        }
        append(&mut log, entries.clone()).await;
        log.save_vote(&Vote::new_committed(2, 3)).await.unwrap();
        log.purge(id(1, 2)).await.unwrap();
        log.truncate(id(2, 6)).await.unwrap();
        drop(log);
        let mut log = open(&dir);
        assert_eq!(
            log.read_vote().await.unwrap(),
            Some(Vote::new_committed(2, 3))
        );
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(id(1, 2)));
        assert_eq!(state.last_log_id, Some(id(2, 5)));
        let got = log.try_get_log_entries(0..100).await.unwrap();
        assert_eq!(got, entries[3..6].to_vec());
    });
}

#[test]
fn when_a_crash_fell_between_the_purge_point_and_the_trim_then_open_trims() {
    let dir = TempDir::new("purge-crash");
    rt().block_on(async {
        let mut log = open(&dir);
        append(&mut log, (0..6).map(|i| cmd(1, i, "x=y")).collect()).await;
        drop(log);
        // As if the process died after writing raft.purged, before the trim.
        let purged = StateFile::new(
            Arc::new(StdVfs),
            dir.path().join("raft/raft.purged"),
            *b"VALPURG1",
        );
        purged
            .write(&valori_cluster::codec::encode_log_id(&id(1, 3)))
            .unwrap();
        let mut log = open(&dir);
        let state = log.get_log_state().await.unwrap();
        assert_eq!(
            (state.last_purged_log_id, state.last_log_id),
            (Some(id(1, 3)), Some(id(1, 5)))
        );
        let got = log.try_get_log_entries(0..100).await.unwrap();
        assert_eq!(
            got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
            vec![4, 5]
        );
        // Past the end: the log restarts after it, empty.
        purged
            .write(&valori_cluster::codec::encode_log_id(&id(2, 9)))
            .unwrap();
        drop(log);
        let mut log = open(&dir);
        let state = log.get_log_state().await.unwrap();
        assert_eq!(
            (state.last_purged_log_id, state.last_log_id),
            (Some(id(2, 9)), Some(id(2, 9)))
        );
        append(&mut log, vec![cmd(2, 10, "a=b")]).await;
        assert_eq!(
            log.try_get_log_entries(0..).await.unwrap(),
            vec![cmd(2, 10, "a=b")]
        );
    });
}

#[test]
fn when_entries_are_not_contiguous_then_append_refuses_and_writes_nothing() {
    let dir = TempDir::new("gap");
    rt().block_on(async {
        let mut log = open(&dir);
        append(&mut log, (0..3).map(|i| cmd(1, i, "x=y")).collect()).await;
        // Overlap (openraft truncates before it overwrites) and a gap.
        for bad in [
            vec![cmd(1, 2, "z=z")],
            vec![cmd(1, 5, "z=z")],
            vec![cmd(1, 3, "a=a"), cmd(1, 5, "b=b")],
        ] {
            assert!(log.blocking_append(bad).await.is_err());
        }
        assert_eq!(log.try_get_log_entries(0..).await.unwrap().len(), 3);
        assert_eq!(log.height().unwrap(), 3);
    });
}

#[test]
fn when_the_vote_file_is_damaged_then_reading_the_vote_fails() {
    let dir = TempDir::new("vote");
    rt().block_on(async {
        let mut log = open(&dir);
        log.save_vote(&Vote::new(4, 2)).await.unwrap();
        let path = dir.path().join("raft/raft.vote");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = log.read_vote().await.unwrap_err();
        assert!(err.to_string().contains("vote"), "{err}");
    });
}
