//! Power-loss battery (docs/reliability.md battery 2).
//!
//! The workload of `power_loss_workload` runs once per crash point: after
//! 0, 1, 2, ... mutating I/O calls the simulated power is cut. For each cut,
//! every crash variant of [`SimVfs::crash_modes`] is materialised (unsynced
//! data dropped or kept in order, the last write torn at 512 B / 4 KiB with
//! nothing, zeros or garbage behind, a sector of it missing, un-fsynced
//! directory operations rolled back in part or in whole) and recovered.
//!
//! For every image, recovery must: open without error and without panic;
//! hold exactly the acknowledged log or exactly the one the interrupted call
//! would have left (see the workload's comment): every acknowledged event
//! bit-identical, no event that was not written, whole appends and whole
//! suffix cuts only (never a mix), no entry at or below an interrupted cut's
//! `keep` lost; never return an entry a completed `truncate_after` dropped;
//! keep the chain equal to a recomputation from genesis; find a snapshot at
//! least as new as the last acknowledged one, never damaged; have a
//! snapshot covering the log's trimmed prefix; read the vote state file
//! without error, holding the acknowledged vote or the one being written
//! (never an older one, never absent once a write returned `Ok`); and leave
//! a log that reopens without further repair and accepts appends.
//!
//! Every kind of interrupted call (append, cut on a boundary, cut inside an
//! append, vote) must be seen recovered both ways, old and new.
//!
//! One in 16 of the images whose recovery had to cut a torn tail, and one
//! in 16 of those whose recovery removed a rewrite's temporary file, are
//! then crashed again at every step of that recovery (a second power cut
//! during repair).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use super::helpers::*;
use super::power_loss_workload::{
    run, script, snapshot_kernel, vote_of, vote_path, Flight, Outcome, VOTE_MAGIC,
};
use crate::storage::vfs::{CrashMode, DataLoss};
use crate::storage::*;

/// A log the oracle allows recovery to find: `kept`, then `more`.
#[derive(Clone, Copy)]
struct Allowed<'a> {
    kept: &'a [Vec<u8>],
    more: &'a [Vec<u8>],
}

impl<'a> Allowed<'a> {
    fn height(&self) -> u64 {
        (self.kept.len() + self.more.len()) as u64
    }

    fn get(&self, seq: u64) -> Option<&'a Vec<u8>> {
        let i = usize::try_from(seq).ok()?.checked_sub(1)?;
        match i.checked_sub(self.kept.len()) {
            None => self.kept.get(i),
            Some(j) => self.more.get(j),
        }
    }
}

/// The acknowledged log, and the one the interrupted call would have left.
fn allowed(out: &Outcome) -> (Allowed<'_>, Option<Allowed<'_>>) {
    let acked = Allowed {
        kept: &out.acked,
        more: &[],
    };
    let flown = match &out.flight {
        Some(Flight::Append(group)) => Some(Allowed {
            kept: &out.acked,
            more: group,
        }),
        Some(Flight::Cut(cut)) => Some(Allowed {
            kept: &out.acked[..cut.keep as usize],
            more: &[],
        }),
        _ => None,
    };
    (acked, flown)
}

/// Which allowed log the recovered `entries` (height `h`) are, whole; and
/// whether it is the in-flight one (`None`: no log call was in flight).
fn recovered_log<'a>(
    entries: &[(u64, Vec<u8>)],
    h: u64,
    out: &'a Outcome,
) -> Result<(Allowed<'a>, Option<bool>), String> {
    let (acked, flown) = allowed(out);
    // A cut in flight no longer promises what is above its `keep`.
    let least = flown.map_or(acked.height(), |f| f.height().min(acked.height()));
    if h < least {
        return Err(format!(
            "lost acknowledged events: height {h} < acked {least}"
        ));
    }
    let mut why = None;
    for (log, landed) in [(Some(acked), false), (flown, true)] {
        let Some(log) = log.filter(|l| l.height() == h) else {
            continue;
        };
        match entries.iter().find(|(s, p)| log.get(*s) != Some(p)) {
            None => return Ok((log, flown.is_some().then_some(landed))),
            Some((s, _)) => why = Some(format!("entry {s} differs from what was written")),
        }
    }
    Err(why.unwrap_or_else(|| {
        format!(
            "height {h} is neither the acknowledged {} nor the in-flight {:?}: part of an \
             append or of a cut was recovered",
            acked.height(),
            flown.map(|f| f.height())
        )
    }))
}

/// The vote file reads back and holds the acknowledged vote or the one
/// being written; returns whether that write landed (`None`: none was in
/// flight).
fn check_vote(img: &SimVfs, out: &Outcome) -> Result<Option<bool>, String> {
    let read = StateFile::new(arc(img), vote_path(), VOTE_MAGIC)
        .read()
        .map_err(|e| format!("vote file unreadable: {e}"))?;
    let got = match read {
        None => None,
        Some(bytes) => Some(vote_of(&bytes).ok_or("vote file holds no vote")?),
    };
    let flying = match out.flight {
        Some(Flight::Vote(n)) => Some(n),
        _ => None,
    };
    let acked = out.vote_acked;
    match got {
        _ if got == acked => Ok(flying.map(|_| false)),
        Some(v) if Some(v) == flying => Ok(Some(true)),
        None => Err(format!(
            "vote file missing although vote {acked:?} was acknowledged"
        )),
        Some(v) if acked.is_some_and(|a| v < a) => {
            Err(format!("vote went backwards: {v} < acknowledged {acked:?}"))
        }
        Some(v) => Err(format!(
            "vote {v} is neither the acknowledged {acked:?} nor the one being written \
             {flying:?}"
        )),
    }
}

/// What one recovery did and found, for the tally.
struct Found {
    /// It cut a torn tail.
    cut_tail: bool,
    /// It removed a leftover temporary file of a rewrite.
    removed_tmp: bool,
    /// The interrupted call's result survived (`None`: nothing in flight).
    landed: Option<bool>,
}

/// Recovers `img` and checks every promise against the oracle.
fn check(img: &SimVfs, out: &Outcome) -> Result<Found, String> {
    let (store, _) =
        SnapshotStore::open(arc(img), snap_path()).map_err(|e| format!("snapshot open: {e}"))?;
    let (log, rec) = open(img, &OpenOptions::default()).map_err(|e| format!("log open: {e}"))?;
    let h = log.height();
    let entries = read_all(&log);
    if !entries.iter().map(|e| e.0).eq(log.first_seq()..=h) {
        return Err(format!(
            "the log does not read back every entry from {} to {h}",
            log.first_seq()
        ));
    }
    for (seq, p) in &entries {
        if out.dropped.get(seq).is_some_and(|d| d.contains(p)) {
            return Err(format!(
                "entry {seq} was cut by a completed truncate_after and came back"
            ));
        }
    }
    let (held, log_landed) = recovered_log(&entries, h, out)?;
    let payload_of = |s: u64| held.get(s).cloned().unwrap_or_default();
    if log.chain_hash() != chain_of(h, payload_of) {
        return Err("chain hash differs from a recomputation".into());
    }
    let loaded = store
        .load_newest_valid(h)
        .map_err(|e| format!("snapshot load: {e}"))?;
    if !loaded.quarantined.is_empty() {
        return Err(format!(
            "a crash produced a damaged snapshot: {:?}",
            loaded.quarantined
        ));
    }
    let snap_h = loaded.snapshot.as_ref().map(|s| s.meta.height);
    if let Some(acked) = out.acked_snapshot {
        if snap_h.is_none_or(|s| s < acked) {
            return Err(format!(
                "snapshot {snap_h:?} older than the acknowledged {acked}"
            ));
        }
    }
    if let Some(s) = &loaded.snapshot {
        if s.parts().kernel != snapshot_kernel(s.meta.height)
            || s.meta.chain != chain_of(s.meta.height, payload_of)
        {
            return Err(format!(
                "snapshot at {} has the wrong contents",
                s.meta.height
            ));
        }
    }
    if log.base_seq() > 0 && snap_h.is_none_or(|s| s < log.base_seq()) {
        return Err(format!(
            "log trimmed to {} but snapshot is {snap_h:?}",
            log.base_seq()
        ));
    }
    let vote_landed = check_vote(img, out)?;
    drop(log);
    let (mut again, rec2) =
        open(img, &OpenOptions::default()).map_err(|e| format!("second open: {e}"))?;
    if rec2.truncation.is_some() || again.height() != h {
        return Err(format!("second open repaired again: {rec2:?}"));
    }
    again
        .append(&[(h + 1, b"after recovery")])
        .map_err(|e| format!("append after recovery: {e}"))?;
    Ok(Found {
        cut_tail: rec.truncation.is_some(),
        removed_tmp: !rec.removed_temp_files.is_empty(),
        landed: log_landed.or(vote_landed),
    })
}

/// An exact copy of a file system with nothing pending.
fn copy(fs: &SimVfs) -> SimVfs {
    fs.crash_image(&CrashMode {
        data: DataLoss::Prefix(usize::MAX),
        dir_ops_kept: usize::MAX,
    })
}

fn fingerprint(img: &SimVfs) -> u64 {
    let mut h = DefaultHasher::new();
    for p in img.list_dir(Path::new("/data")).unwrap_or_default() {
        p.hash(&mut h);
        img.file_bytes(&p).hash(&mut h);
    }
    h.finish()
}

#[derive(Default)]
struct Tally {
    states: u64,
    distinct: HashSet<u64>,
    truncations: u64,
    temp_removals: u64,
    second_crash_states: u64,
    /// States with each kind of call in flight: [old result, new result].
    flights: BTreeMap<&'static str, [u64; 2]>,
}

fn flight_kind(f: &Flight) -> &'static str {
    match f {
        Flight::Append(_) => "append",
        Flight::Cut(c) if c.inside => "cut inside an append",
        Flight::Cut(_) => "cut on a boundary",
        Flight::Vote(_) => "vote",
    }
}

/// A second power cut at every step of a recovery that had to repair.
fn crash_during_recovery(img: &SimVfs, out: &Outcome, tally: &mut Tally) {
    let probe = copy(img);
    let _ = check(&probe, out);
    let steps = probe.mutations();
    for n in 0..steps {
        let fs = copy(img);
        fs.freeze_after(n);
        let _ = open(&fs, &OpenOptions::default());
        for mode in fs.crash_modes() {
            let again = fs.crash_image(&mode);
            if let Err(e) = check(&again, out) {
                panic!("second crash after recovery step {n}, {mode:?}: {e}");
            }
            tally.second_crash_states += 1;
        }
    }
}

/// Seeds of the scripts run: 0 is the hand-written one.
const SEEDS: [u64; 6] = [0, 1, 2, 3, 4, 5];

/// Crashes one script at every point, in every mode.
fn battery(seed: u64, tally: &mut Tally) -> u64 {
    let steps = script(seed);
    let full = SimVfs::new();
    let complete = run(&full, &steps);
    assert_eq!(
        complete.stopped, None,
        "script {seed} must finish uncrashed"
    );
    for inside in [false, true] {
        assert!(
            complete.cuts_done.iter().any(|c| c.inside == inside),
            "script {seed} has no cut {}",
            if inside {
                "inside an append"
            } else {
                "on a boundary"
            }
        );
    }
    let total = full.mutations();
    for cut in 0..=total {
        let fs = SimVfs::new();
        fs.freeze_after(cut);
        let out = run(&fs, &steps);
        assert!(
            out.stopped.is_none() || fs.is_frozen(),
            "script {seed}: failed before the power cut: {:?}",
            out.stopped
        );
        for mode in fs.crash_modes() {
            let img = fs.crash_image(&mode);
            tally.distinct.insert(fingerprint(&img));
            // `check` appends to what it recovers; keep `img` pristine.
            let found = match check(&copy(&img), &out) {
                Ok(found) => found,
                Err(e) => {
                    panic!("script {seed}, crash after {cut} of {total} mutations, {mode:?}: {e}")
                }
            };
            if let (Some(flight), Some(landed)) = (&out.flight, found.landed) {
                tally.flights.entry(flight_kind(flight)).or_default()[landed as usize] += 1;
            }
            let repaired = if found.cut_tail {
                tally.truncations += 1;
                tally.truncations
            } else if found.removed_tmp {
                tally.temp_removals += 1;
                tally.temp_removals
            } else {
                0
            };
            if repaired % 16 == 1 {
                crash_during_recovery(&img, &out, tally);
            }
            tally.states += 1;
        }
    }
    total + 1
}

#[test]
fn every_crash_state_recovers_every_acknowledged_event() {
    let mut tally = Tally::default();
    let points: u64 = SEEDS.iter().map(|&seed| battery(seed, &mut tally)).sum();
    println!(
        "power-loss battery: {} scripts, {points} crash points, {} crash states ({} distinct \
         disk images), {} recoveries cut a torn tail, {} removed a rewrite's temporary, {} \
         second-crash states during recovery; in flight [old, new]: {:?}",
        SEEDS.len(),
        tally.states,
        tally.distinct.len(),
        tally.truncations,
        tally.temp_removals,
        tally.second_crash_states,
        tally.flights
    );
    assert!(points >= 300, "workloads too short: {points} crash points");
    assert!(
        tally.states >= 5_000,
        "only {} crash states checked",
        tally.states
    );
    assert!(
        tally.distinct.len() >= 1_000,
        "only {} distinct images",
        tally.distinct.len()
    );
    assert!(
        tally.truncations >= 500,
        "only {} torn-tail recoveries",
        tally.truncations
    );
    assert!(
        tally.second_crash_states >= 500,
        "only {} second-crash states",
        tally.second_crash_states
    );
    // Each kind of interrupted call must be seen both undone and done, or
    // the either-or of the oracle was never exercised.
    for kind in [
        "append",
        "cut on a boundary",
        "cut inside an append",
        "vote",
    ] {
        let seen = tally.flights.get(kind).copied().unwrap_or_default();
        assert!(
            seen[0] > 0 && seen[1] > 0,
            "{kind} in flight: old result {} times, new {} times",
            seen[0],
            seen[1]
        );
    }
}
