//! The event log as the committer and the node share it: the committer
//! appends each group through [`LogSink`]; a snapshot or restore, holding the
//! state lock (which stops new groups), waits in [`LogSignal::wait_for`] until
//! the log holds every applied event.
//!
//! The wait sleeps on a condition variable paired with the log's mutex and is
//! woken by every append attempt, so it ends as soon as the group it waits for
//! is durable, the log is poisoned, or the append was refused. A refused group
//! must end the wait at once: the committer rolls it back under the state's
//! write lock, which the waiter holds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::durable::{lock, storage_err};
use crate::engine::CommitSink;
use crate::error::{KResult, KernelError};
use crate::storage::EventLog;

/// Longest wait for the log to catch up: a backstop only (every outcome of
/// an append wakes the waiter); an fdatasync stuck this long is a dead disk.
pub const LOG_WAIT_LIMIT: Duration = Duration::from_secs(60);

/// Wakes waiters after every append attempt.
#[derive(Default)]
pub struct LogSignal {
    appended: Condvar,
    /// The last append failed and its group is not rolled back yet: the
    /// state is ahead of the log and will fall back, not catch up. Only read
    /// or written with the log's mutex held, so a waiter never misses it.
    refused: AtomicBool,
}

impl LogSignal {
    /// Waits (at most `limit`) until `log` reaches `height`; returns the
    /// chain value at `height`. The caller holds the state lock at `height`.
    pub fn wait_for(
        &self,
        log: &Mutex<EventLog>,
        height: u64,
        limit: Duration,
    ) -> KResult<[u8; 32]> {
        let waiting = |l: &mut EventLog| {
            l.height() < height && l.poisoned().is_none() && !self.refused.load(Ordering::Relaxed)
        };
        let (l, _) = self
            .appended
            .wait_timeout_while(lock(log), limit, waiting)
            .unwrap_or_else(|p| p.into_inner());
        if let Some(p) = l.poisoned() {
            return Err(KernelError::Io(format!("event log unusable: {p}")));
        }
        if l.height() >= height {
            return l.chain_hash_at(height).map_err(storage_err);
        }
        if self.refused.load(Ordering::Relaxed) {
            return Err(KernelError::Internal(
                "the event log refused the group being written (it is rolled back); try again"
                    .into(),
            ));
        }
        Err(KernelError::Io(
            "timed out waiting for the event log to catch up".into(),
        ))
    }
}

/// Appends committed groups to the event log: one write + one fdatasync.
pub struct LogSink {
    pub log: Arc<Mutex<EventLog>>,
    pub signal: Arc<LogSignal>,
}

/// Records the outcome of an append and wakes the waiters, on every exit
/// (a panic inside the append counts as a refusal). Dropped before the log
/// guard, so the flag changes under the log's mutex.
struct AppendOutcome<'a> {
    signal: &'a LogSignal,
    ok: bool,
}

impl Drop for AppendOutcome<'_> {
    fn drop(&mut self) {
        if !self.ok {
            self.signal.refused.store(true, Ordering::Relaxed);
        }
        self.signal.appended.notify_all();
    }
}

impl CommitSink for LogSink {
    fn append(&mut self, entries: &[(u64, Vec<u8>)]) -> KResult<()> {
        let refs: Vec<(u64, &[u8])> = entries.iter().map(|(s, p)| (*s, p.as_slice())).collect();
        let mut l = lock(&self.log);
        let mut outcome = AppendOutcome {
            signal: &self.signal,
            ok: false,
        };
        let result = l.append(&refs);
        outcome.ok = result.is_ok();
        drop(outcome);
        drop(l);
        result.map_err(storage_err)
    }

    fn rolled_back(&mut self) {
        let _l = lock(&self.log);
        self.signal.refused.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::vfs::Errno;
    use crate::storage::{OpenOptions, SimVfs, Vfs};
    use std::thread;

    fn sink(fs: &SimVfs) -> LogSink {
        let vfs: Arc<dyn Vfs> = Arc::new(fs.clone());
        let (log, _) = EventLog::open(vfs, "/data/events.log", 4, &OpenOptions::default()).unwrap();
        LogSink {
            log: Arc::new(Mutex::new(log)),
            signal: Arc::default(),
        }
    }

    /// Starts a waiter for `height` with the full limit; the test fails by
    /// hanging for that limit only if no append outcome wakes it.
    fn waiter(s: &LogSink, height: u64) -> thread::JoinHandle<KResult<[u8; 32]>> {
        let (log, signal) = (s.log.clone(), s.signal.clone());
        thread::spawn(move || signal.wait_for(&log, height, LOG_WAIT_LIMIT))
    }

    #[test]
    fn when_the_group_becomes_durable_then_the_waiter_gets_its_chain_value() {
        let fs = SimVfs::new();
        let mut s = sink(&fs);
        let w = waiter(&s, 2);
        s.append(&[(1, vec![1]), (2, vec![2])]).unwrap();
        let expect = lock(&s.log).chain_hash_at(2).unwrap();
        assert_eq!(w.join().unwrap().unwrap(), expect);
    }

    #[test]
    fn when_the_log_refuses_the_group_then_the_waiter_fails_at_once_until_rolled_back() {
        let fs = SimVfs::new();
        let mut s = sink(&fs);
        s.append(&[(1, vec![1])]).unwrap();
        let w = waiter(&s, 2);
        // Sequence 3 after height 1: the log refuses it and writes nothing.
        assert!(s.append(&[(3, vec![3])]).is_err());
        let err = w.join().unwrap().unwrap_err();
        assert!(
            matches!(err, KernelError::Internal(ref m) if m.contains("refused")),
            "{err:?}"
        );
        s.rolled_back();
        // Rolled back: nothing is pending, so a zero wait times out.
        let err = s.signal.wait_for(&s.log, 2, Duration::ZERO).unwrap_err();
        assert!(
            matches!(err, KernelError::Io(ref m) if m.contains("timed out")),
            "{err:?}"
        );
        s.append(&[(2, vec![2])]).unwrap();
        assert!(s.signal.wait_for(&s.log, 2, Duration::ZERO).is_ok());
    }

    #[test]
    fn when_the_fsync_fails_then_the_waiter_reports_the_poisoned_log() {
        let fs = SimVfs::new();
        let mut s = sink(&fs);
        let w = waiter(&s, 1);
        // Call 0 is the write, call 1 the fdatasync.
        fs.fail_call(1, Errno::Eio);
        assert!(s.append(&[(1, vec![1])]).is_err());
        let err = w.join().unwrap().unwrap_err();
        assert!(
            matches!(err, KernelError::Io(ref m) if m.contains("event log unusable")),
            "{err:?}"
        );
    }
}
