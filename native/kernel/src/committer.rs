//! The committer thread: folds queued requests into groups, applies each group
//! under the write lock (journaled), appends it to the log with one fdatasync,
//! then acknowledges it.
//!
//! Visibility: the write lock is released before the append, so for the
//! duration of one fsync a reader may see a group that is not yet durable (it
//! is not yet acknowledged either). Holding the lock across the fsync would
//! stall every search behind every disk flush under a steady write load; the
//! journal gives the property that matters instead: a group the log refuses is
//! rolled back, so it never stays visible and never reaches a snapshot of
//! acknowledged state after the failure. An `Io` refusal also turns the node
//! read-only (the log may hold a torn tail; only a restart's recovery knows);
//! any other refusal (the log found the append invalid, wrote nothing) only
//! fails that group's requests.
//!
//! Each group runs under `catch_unwind`: a panic rolls the group back, answers
//! every request of the group with an error, and turns the node read-only with
//! the reason in `Engine::fault()`. Nothing is left waiting.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, RwLock};

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::engine::{catalog_of, Catalog, CommitObserver, CommitSink, Counters, Reply, Request};
use crate::entry::{encode_entry, entry_time, StoreEvent};
use crate::error::{KResult, KernelError};
use crate::ops::{self, Outcome, Prepared, Timing};
use crate::store::Store;

/// Most requests folded into one group (bounds latency of the group's first).
const MAX_GROUP: usize = 4096;

pub(crate) struct Committer {
    pub(crate) rx: Receiver<Request>,
    pub(crate) db: Arc<RwLock<Store>>,
    pub(crate) counters: Arc<Mutex<Counters>>,
    pub(crate) catalog: Arc<RwLock<Catalog>>,
    pub(crate) time_floor: Arc<AtomicU64>,
    pub(crate) sink: Option<Box<dyn CommitSink>>,
    pub(crate) observer: Option<CommitObserver>,
    pub(crate) read_only: Arc<AtomicBool>,
    pub(crate) fault: Arc<Mutex<Option<String>>>,
    /// The current group is in the log (or there is no log): a later panic
    /// (an observer, a reply) must not roll back what is durable.
    pub(crate) durable: bool,
}

fn panic_text(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// The wall clock in Unix ms (0 before 1970).
pub(crate) fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Why the node turned read-only after a panic on the committer's side.
fn panic_reason(p: &(dyn Any + Send)) -> String {
    format!(
        "the committer panicked ({}); writes are refused until restart",
        panic_text(p)
    )
}

/// Answers every request of the group still waiting with `err`.
fn fail_pending(
    slots: &mut [(Option<ops::Write>, Option<Reply>)],
    pending: &[(usize, Outcome)],
    err: &KernelError,
) {
    for &(i, _) in pending {
        if let Some(r) = slots[i].1.take() {
            r(Err(err.clone()));
        }
    }
}

/// Counters and, when collections changed, the catalog, as of `db`.
fn publish(
    counters: &Mutex<Counters>,
    catalog: &RwLock<Catalog>,
    db: &Store,
    catalog_changed: bool,
) {
    *counters.lock().unwrap_or_else(|p| p.into_inner()) = Counters::of(db);
    if catalog_changed {
        *catalog.write().unwrap_or_else(|p| p.into_inner()) = catalog_of(db);
    }
}

/// Hands a durable request's outcome to its writer, with the group's timings
/// (traces only).
fn answer(reply: Reply, mut out: Outcome, queued_us: u64, apply_us: u64, fsync_us: Option<u64>) {
    out.timing = Timing {
        queued_us,
        apply_us,
        fsync_us,
    };
    reply(Ok(out));
}

/// A group applied to the state, on its way to the log: what answering it
/// needs once the append is settled.
struct Applied<'a> {
    /// Per request, how long it waited for its group (traces only).
    queued: &'a [u64],
    /// The requests that produced an outcome, by slot.
    pending: Vec<(usize, Outcome)>,
    /// The group's log entries, in height order.
    entries: Vec<(u64, Vec<u8>)>,
    journaled: bool,
    began: Instant,
    applied: Instant,
}

impl Committer {
    pub(crate) fn run(mut self) {
        while let Ok(first) = self.rx.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match self.rx.try_recv() {
                    Ok(r) => group.push(r),
                    Err(_) => break,
                }
            }
            if self.read_only.load(Ordering::Acquire) {
                let why = self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let msg = match why {
                    Some(w) => format!("this node is read-only: {w}"),
                    None => "this node is read-only (an earlier write or fsync failed)".into(),
                };
                for r in group {
                    (r.reply)(Err(KernelError::ReadOnly(msg.clone())));
                }
                continue;
            }
            // How long each request waited for its group (traces only).
            let taken = Instant::now();
            let queued: Vec<u64> = group
                .iter()
                .map(|r| micros(taken.saturating_duration_since(r.queued_at)))
                .collect();
            let times: Vec<Option<u64>> = group.iter().map(|r| r.time_ms).collect();
            // Replies live outside the guarded section so that a panic can
            // still answer every request that was not answered yet.
            let mut slots: Vec<(Option<ops::Write>, Option<Reply>)> = group
                .into_iter()
                .map(|r| (Some(r.op), Some(r.reply)))
                .collect();
            let run =
                panic::catch_unwind(AssertUnwindSafe(|| self.group(&mut slots, &queued, &times)));
            if let Err(p) = run {
                let reason = panic_reason(&*p);
                self.turn_read_only(&reason);
                // Undo whatever the group had applied; a second panic here
                // changes nothing more (the node is read-only either way).
                if !self.durable {
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| self.rollback()));
                    if let Some(s) = self.sink.as_mut() {
                        s.rolled_back();
                    }
                }
                for (_, reply) in slots.iter_mut() {
                    if let Some(reply) = reply.take() {
                        reply(Err(KernelError::Internal(reason.clone())));
                    }
                }
            }
        }
    }

    fn turn_read_only(&self, reason: &str) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_string());
        self.read_only.store(true, Ordering::Release);
        eprintln!("valori-kernel: node is now read-only: {reason}");
    }

    fn rollback(&self) {
        let mut guard = self.db.write().unwrap_or_else(|p| p.into_inner());
        guard.rollback_group();
        publish(&self.counters, &self.catalog, &guard, true);
    }

    fn group(
        &mut self,
        slots: &mut [(Option<ops::Write>, Option<Reply>)],
        queued: &[u64],
        times: &[Option<u64>],
    ) {
        self.durable = false;
        // Durations for traces, measured here and only handed to the replies:
        // apply never reads a clock.
        let began = Instant::now();
        let mut pending: Vec<(usize, Outcome)> = Vec::with_capacity(slots.len());
        let mut entries: Vec<(u64, Vec<u8>)> = Vec::new();
        let journaled;
        let mut catalog_changed = false;
        let db = Arc::clone(&self.db);
        let mut guard = db.write().unwrap_or_else(|p| p.into_inner());
        {
            // The group's commit time: read once, before apply, which never
            // sees it (it is stored in the log entries only). Never earlier
            // than the last one stamped or applied, so times follow heights.
            let time_ms = wall_clock_ms().max(self.time_floor.load(Ordering::Acquire));
            guard.begin_group();
            // With a log, inserts reach the indexes while the group's append
            // and fdatasync run (below): the entries only need the state.
            if self.sink.is_some() {
                guard.defer_index();
            }
            for (i, (op, reply)) in slots.iter_mut().enumerate() {
                let Some(op) = op.take() else { continue };
                let outcome = ops::prepare(&guard, op).and_then(|(ev, mut out)| {
                    if let Some(p) = ev {
                        guard.apply(p.event())?;
                        catalog_changed |= !matches!(p.event(), StoreEvent::Data { .. });
                        out.height = guard.height();
                        let bytes = match p {
                            Prepared::Fresh(e) => {
                                // A time chosen by the submitter (a cluster
                                // member applies its leader's) is kept as is.
                                let t = times.get(i).copied().flatten().unwrap_or(time_ms);
                                self.time_floor.fetch_max(t, Ordering::AcqRel);
                                encode_entry(t, &e)
                            }
                            Prepared::Verbatim(_, payload) => {
                                // A follower keeps the leader's time, and
                                // never stamps earlier than it later on.
                                if let Some(t) = entry_time(&payload) {
                                    self.time_floor.fetch_max(t, Ordering::AcqRel);
                                }
                                payload
                            }
                        };
                        entries.push((out.height, bytes));
                    }
                    Ok(out)
                });
                match outcome {
                    Ok(out) => pending.push((i, out)),
                    Err(e) => {
                        if let Some(r) = reply.take() {
                            r(Err(e));
                        }
                    }
                }
            }
            journaled = guard.journal_has_undo();
        }
        let mut done = Applied {
            queued,
            pending,
            entries,
            journaled,
            began,
            applied: began,
        };
        let Some(sink) = self.sink.as_mut().filter(|_| !done.entries.is_empty()) else {
            // Nothing to write (no log, or every request failed): the indexes
            // take the group now, as they would have during the append.
            guard.flush_index();
            publish(&self.counters, &self.catalog, &guard, catalog_changed);
            drop(guard);
            done.applied = Instant::now();
            return self.finish(slots, done, None);
        };
        let (counters, catalog) = (&self.counters, &self.catalog);
        if !guard.index_work_pending() {
            // Nothing for the indexes to take (no window finished): the
            // append runs on this thread, without handing it to another.
            guard.flush_index();
            publish(counters, catalog, &guard, catalog_changed);
            drop(guard);
            done.applied = Instant::now();
            let appended = sink.append(&done.entries);
            let fsync_us = Some(micros(done.applied.elapsed()));
            return self.after_append(slots, done, appended, fsync_us, false);
        }
        // The append (one write, one fdatasync) on its own thread while this
        // one gives the indexes the windows the group finished, under the
        // write lock. The append thread acknowledges the group the moment it
        // is durable, while the indexes may still be taking it: no reader
        // sees the state before the indexes have it (the lock), and the next
        // request's transfer and parsing overlap the index work. A refused
        // append hands the replies back and the group is rolled back.
        publish(counters, catalog, &guard, catalog_changed);
        let applied = Instant::now();
        let apply_us = micros(applied.duration_since(done.began));
        let acks: Vec<(usize, Reply, Outcome)> = std::mem::take(&mut done.pending)
            .into_iter()
            .filter_map(|(i, out)| slots[i].1.take().map(|r| (i, r, out)))
            .collect();
        let observer = self.observer.as_mut();
        let mut observer_panic = None;
        let observer_panic_ref = &mut observer_panic;
        let (flush_panic, (r, us, panicked, returned)) = std::thread::scope(|sc| {
            let (entries, queued) = (&done.entries, done.queued);
            let append = sc.spawn(move || {
                let t = Instant::now();
                let r = panic::catch_unwind(AssertUnwindSafe(|| sink.append(entries)));
                let us = micros(t.elapsed());
                let (r, panicked) = match r {
                    Ok(r) => (r, false),
                    Err(p) => (Err(KernelError::Internal(panic_reason(&*p))), true),
                };
                if r.is_err() {
                    return (r, us, panicked, acks);
                }
                // Durable: told to the observer (heights for replication and
                // checkpoints), then to the writers, as `finish` does.
                if let Some(o) = observer {
                    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| o(entries))) {
                        // Durable all the same: answered, then read-only.
                        *observer_panic_ref = Some(panic_reason(&*p));
                    }
                }
                for (i, reply, out) in acks {
                    let waited = queued.get(i).copied().unwrap_or(0);
                    // A reply only hands the outcome over; it has no state
                    // to leave half-done, and the group is durable anyway.
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                        answer(reply, out, waited, apply_us, Some(us))
                    }));
                }
                (r, us, false, Vec::new())
            });
            let flushed = panic::catch_unwind(AssertUnwindSafe(|| guard.flush_index()));
            // Taken: the lock goes now unless the indexes failed.
            let kept = match flushed {
                Ok(()) => {
                    publish(counters, catalog, &guard, false);
                    drop(guard);
                    None
                }
                Err(p) => Some((p, guard)),
            };
            let joined = append.join().unwrap_or_else(|p| {
                (
                    Err(KernelError::Internal(panic_reason(&*p))),
                    0,
                    true,
                    Vec::new(),
                )
            });
            (kept, joined)
        });
        // `panicked`: the append itself panicked, handled as any committer
        // panic (the group is rolled back, the node turns read-only).
        let (appended, append_panicked, fsync_us) = (r, panicked, Some(us));
        if appended.is_ok() {
            // The append thread told the observer already.
            done.entries.clear();
        }
        if let Some(reason) = observer_panic {
            self.turn_read_only(&reason);
        }
        for (i, reply, out) in returned {
            slots[i].1 = Some(reply);
            done.pending.push((i, out));
        }
        if let Some((p, mut guard)) = flush_panic {
            let reason = panic_reason(&*p);
            if appended.is_ok() {
                // Acknowledged and durable: the group stays. The indexes it
                // reached are rebuilt from the state; the node turns
                // read-only, as after any committer panic.
                let rebuilt =
                    panic::catch_unwind(AssertUnwindSafe(|| guard.rebuild_touched_indexes()));
                let how = match rebuilt {
                    Ok(()) => "the group was kept (it was acknowledged) and the indexes rebuilt",
                    Err(_) => "the group was kept (it was acknowledged); rebuilding the indexes panicked too",
                };
                // Read-only before the lock goes: a reader after it sees both.
                self.turn_read_only(&format!("{reason}; {how}"));
                publish(&self.counters, &self.catalog, &guard, true);
                drop(guard);
                done.applied = applied;
                self.finish(slots, done, fsync_us);
                return;
            }
            // Not durable: nobody was told; the group is rolled back.
            guard.rollback_group();
            publish(&self.counters, &self.catalog, &guard, true);
            drop(guard);
            if let Some(s) = self.sink.as_mut() {
                s.rolled_back();
            }
            self.turn_read_only(&reason);
            self.durable = true; // nothing is left to roll back
            fail_pending(slots, &done.pending, &KernelError::Internal(reason));
            return;
        }
        done.applied = applied;
        self.after_append(slots, done, appended, fsync_us, append_panicked);
    }

    /// The append's outcome: a refused one rolls the group back (an `Io`
    /// failure or a panicked append thread also turns the node read-only);
    /// a written one finishes the group.
    fn after_append(
        &mut self,
        slots: &mut [(Option<ops::Write>, Option<Reply>)],
        done: Applied<'_>,
        appended: KResult<()>,
        fsync_us: Option<u64>,
        append_panicked: bool,
    ) {
        if let Err(e) = appended {
            self.rollback();
            if let Some(s) = self.sink.as_mut() {
                s.rolled_back();
            }
            let err = match e {
                KernelError::Internal(reason) if append_panicked => {
                    self.turn_read_only(&reason);
                    KernelError::Internal(reason)
                }
                KernelError::Io(m) => {
                    let reason = format!("event log write failed: {m}");
                    self.turn_read_only(&reason);
                    KernelError::Io(format!("{reason}; the node is now read-only"))
                }
                other => other,
            };
            fail_pending(slots, &done.pending, &err);
            return;
        }
        self.finish(slots, done, fsync_us);
    }

    /// The group is durable (or there is no log): tell the observer, drop
    /// the undo data, answer every request.
    fn finish(
        &mut self,
        slots: &mut [(Option<ops::Write>, Option<Reply>)],
        done: Applied<'_>,
        fsync_us: Option<u64>,
    ) {
        self.durable = true;
        if !done.entries.is_empty() {
            if let Some(o) = self.observer.as_mut() {
                o(&done.entries);
            }
        }
        if done.journaled {
            // The group is durable: drop the undo data it held (old vectors
            // and metadata values) now rather than at the next group.
            self.db
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .commit_group();
        }
        let apply_us = micros(done.applied.duration_since(done.began));
        for (i, out) in done.pending {
            if let Some(r) = slots[i].1.take() {
                let waited = done.queued.get(i).copied().unwrap_or(0);
                answer(r, out, waited, apply_us, fsync_us);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use crate::db::{INDEX_WINDOW, PANIC_MARK};
    use crate::engine::Engine;
    use crate::index::{IndexConfig, IndexKind, SearchParams};
    use crate::log_sink::LogSink;
    use crate::ops::Op;
    use crate::state::Limits;
    use crate::storage::{EventLog, OpenOptions, SimVfs, Vfs};
    use crate::store::{codec, Store};

    const DIM: usize = 4;

    fn insert(v: i32) -> Op {
        Op::Insert {
            vector: vec![v; DIM],
            tag: 0,
            payload: Default::default(),
        }
    }

    #[test]
    fn when_the_index_panics_after_the_append_then_the_acknowledged_group_stays_and_the_node_turns_read_only(
    ) {
        let fs = SimVfs::new();
        let vfs: Arc<dyn Vfs> = Arc::new(fs.clone());
        let (log, _) = EventLog::open(
            vfs.clone(),
            "/data/events.log",
            DIM as u32,
            &OpenOptions::default(),
        )
        .unwrap();
        let log = Arc::new(Mutex::new(log));
        let sink = LogSink {
            log: log.clone(),
            signal: Arc::default(),
        };
        let cfg = IndexConfig {
            kind: IndexKind::Hnsw,
            ..IndexConfig::default()
        };
        let e = Engine::new(
            Store::new(Limits::new(DIM, 1000, 10, 10), cfg),
            Some(Box::new(sink)),
            None,
        );
        // The index takes records a window at a time: the failing record
        // is the one that finishes the first window.
        let before = INDEX_WINDOW as i32 - 1;
        for v in 1..=before {
            e.submit_sync(insert(v)).unwrap();
        }
        let hash = codec::state_hash(&e.read());
        let (height, bytes) = {
            let l = log.lock().unwrap();
            (l.height(), l.len_bytes())
        };
        assert_eq!(height, before as u64);

        // Acknowledged once durable, while the index was still taking it.
        let out = e.submit_sync(insert(PANIC_MARK)).unwrap();
        assert_eq!(out.height, height + 1);
        // The lock is free again once the committer is done with the group.
        let hits =
            e.read()
                .default_collection()
                .db
                .search(&[3; DIM], 1000, SearchParams::default(), None);
        assert_eq!(
            hits.len(),
            before as usize + 1,
            "every record, the failing one included, is found through the rebuilt index"
        );
        assert!(e.is_read_only());
        let fault = e.fault().unwrap_or_default();
        assert!(
            fault.contains("simulated panic") && fault.contains("kept"),
            "{fault}"
        );
        assert_ne!(codec::state_hash(&e.read()), hash, "the group stays");
        {
            let l = log.lock().unwrap();
            assert_eq!(l.height(), height + 1, "the append stays");
            assert!(l.len_bytes() > bytes);
        }
        let refused = e.submit_sync(insert(5)).unwrap_err();
        assert_eq!(refused.code(), "READ_ONLY", "{refused}");
        e.close();
        // What a restart reads: every acknowledged event.
        drop(log);
        let (reopened, _) =
            EventLog::open(vfs, "/data/events.log", DIM as u32, &OpenOptions::default()).unwrap();
        assert_eq!(reopened.height(), height + 1);
    }
}
