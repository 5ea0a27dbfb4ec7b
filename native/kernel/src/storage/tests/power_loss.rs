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
//! keep every acknowledged event, bit-identical; never return an event that
//! was not written; land on an append boundary (a group is all or nothing);
//! keep the chain equal to a recomputation from genesis; find a snapshot at
//! least as new as the last acknowledged one, never damaged; have a
//! snapshot covering the log's trimmed prefix; and leave a log that reopens
//! without further repair and accepts appends.
//!
//! Images whose recovery had to truncate are then crashed again at every
//! step of that recovery (a second power cut during repair).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::Path;

use super::helpers::*;
use super::power_loss_workload::{run, script, snapshot_kernel, Outcome};
use crate::storage::vfs::{CrashMode, DataLoss};
use crate::storage::*;

/// Recovers `img` and checks every promise against the oracle.
fn check(img: &SimVfs, out: &Outcome) -> Result<Option<Truncation>, String> {
    let (store, _) =
        SnapshotStore::open(arc(img), snap_path()).map_err(|e| format!("snapshot open: {e}"))?;
    let (log, rec) = open(img, &OpenOptions::default()).map_err(|e| format!("log open: {e}"))?;
    let h = log.height();
    if h < out.acked_height {
        return Err(format!(
            "lost acknowledged events: height {h} < acked {}",
            out.acked_height
        ));
    }
    if !out.boundaries.contains(&h) {
        return Err(format!(
            "height {h} is inside an append (partial group recovered)"
        ));
    }
    for (seq, p) in read_all(&log) {
        if out.attempted.get(&seq) != Some(&p) {
            return Err(format!("entry {seq} differs from what was written"));
        }
    }
    let payload_of = |s: u64| out.attempted[&s].clone();
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
    drop(log);
    let (mut again, rec2) =
        open(img, &OpenOptions::default()).map_err(|e| format!("second open: {e}"))?;
    if rec2.truncation.is_some() || again.height() != h {
        return Err(format!("second open repaired again: {rec2:?}"));
    }
    again
        .append(&[(h + 1, b"after recovery")])
        .map_err(|e| format!("append after recovery: {e}"))?;
    Ok(rec.truncation)
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
    second_crash_states: u64,
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
        complete.steps_done,
        steps.len(),
        "script {seed} must finish uncrashed"
    );
    let total = full.mutations();
    for cut in 0..=total {
        let fs = SimVfs::new();
        fs.freeze_after(cut);
        let out = run(&fs, &steps);
        for mode in fs.crash_modes() {
            let img = fs.crash_image(&mode);
            tally.distinct.insert(fingerprint(&img));
            // `check` appends to what it recovers; keep `img` pristine.
            match check(&copy(&img), &out) {
                Ok(Some(_)) => {
                    tally.truncations += 1;
                    if tally.truncations % 16 == 1 {
                        crash_during_recovery(&img, &out, tally);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    panic!("script {seed}, crash after {cut} of {total} mutations, {mode:?}: {e}")
                }
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
         disk images), {} recoveries cut a torn tail, {} second-crash states during recovery",
        SEEDS.len(),
        tally.states,
        tally.distinct.len(),
        tally.truncations,
        tally.second_crash_states
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
}
