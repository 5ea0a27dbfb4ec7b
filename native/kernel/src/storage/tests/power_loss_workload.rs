//! The scripted workload of the power-loss battery and what it promised.
//!
//! It mixes single and multi-entry appends (payloads from 1 B to 12 KB, so
//! writes start and end inside and across 512 B and 4 KiB sectors),
//! snapshot saves, a prefix trim after a durable snapshot, suffix cuts
//! (`truncate_after`) on an append boundary and inside an append, each
//! followed by an append of different payloads at the sequence numbers just
//! cut, Raft vote saves to a [`StateFile`], an append that fails with ENOSPC
//! after writing half its bytes (poisoning the log), and a restart whose
//! recovery must cut that half-written tail.
//!
//! [`run`] executes it until the simulated power cut (or the end) and
//! records the oracle, computed from the script alone, never read back from
//! the log.
//!
//! # What counts as acknowledged
//!
//! [`Outcome::acked`] is the log every log call that returned `Ok` left
//! behind, payload by payload from sequence 1 (a trim drops a prefix from
//! the file, not from this history: the chain is recomputed over it):
//!
//! * an `append` that returned `Ok` adds its entries;
//! * a `truncate_after(keep)` that returned `Ok` removes every entry above
//!   `keep`, so the acknowledged height becomes `keep` although appends above
//!   it once returned `Ok`: the caller withdrew them, and the cut is a
//!   promise too. The removed payloads go to [`Outcome::dropped`]: none may
//!   ever be read again at its old sequence number. Entries at or below
//!   `keep` stay acknowledged, also those of an append the cut split (its
//!   kept part is now an append of its own);
//! * every payload carries its generation in its first byte (a counter bumped
//!   by every cut and after every failed append), so the entries appended
//!   after a cut differ from the ones cut at the same sequence numbers.
//!
//! The call the power cut interrupted is [`Outcome::flight`]. Recovery must
//! find exactly the acknowledged log or exactly the log that call would
//! have left, never a mix:
//!
//! * an interrupted append: acknowledged, or acknowledged plus the whole
//!   group (none of its entries was promised yet);
//! * an interrupted cut: acknowledged (the whole old suffix, groups intact),
//!   or cut at `keep`. The entries above `keep` stopped being promised when
//!   the call started; those at or below `keep` never stop being promised.
//!
//! The ENOSPC append is never in flight: half of its bytes cannot hold its
//! closing frame, so no crash image holds the group whole. Snapshots, trims
//! and restarts do not change what the log holds. Cuts never go below a
//! snapshot (Raft cuts only uncommitted entries, a snapshot holds only
//! committed ones), so every snapshot matches every log recovery may find.
//!
//! The vote: [`Outcome::vote_acked`] is the last value whose `write`
//! returned `Ok`; a `SaveVote` the power cut interrupted is in flight.
//! Recovery must read one of the two (absent only while no write has
//! returned `Ok`); values only grow, so this is stricter than "at least the
//! acknowledged, at most the last attempted".

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::helpers::*;
use crate::storage::vfs::Errno;
use crate::storage::*;

#[derive(Clone, Debug)]
pub enum Step {
    Append(Vec<usize>),
    Snapshot,
    Trim,
    /// An append whose write fails with ENOSPC after half the bytes.
    FailingAppend(Vec<usize>),
    /// Process restart: drop the log and open it again.
    Reopen,
    /// `truncate_after(keep)`, on an append boundary or inside an append.
    Truncate(u64),
    /// Writes Raft vote `n` (values grow along a script) to the state file.
    SaveVote(u64),
}

/// The hand-written script (seed 0) or a seeded random one.
pub fn script(seed: u64) -> Vec<Step> {
    if seed == 0 {
        fixed_script()
    } else {
        random_script(seed)
    }
}

fn fixed_script() -> Vec<Step> {
    use Step::*;
    vec![
        Append(vec![40]),
        SaveVote(1),
        Append(vec![600]),
        Append(vec![1500, 1500, 1500]),
        Snapshot,
        Append(vec![5000]),
        Append(vec![30, 30]),
        Snapshot,
        Trim,
        Append(vec![9000, 100, 700]), // 9..=11
        Truncate(9),                  // inside that append
        Append(vec![4077, 30]),       // new 10, 11
        SaveVote(2),
        Append(vec![500]),      // 12
        Truncate(11),           // on a boundary
        Append(vec![12000, 1]), // new 12, 13
        Truncate(8),            // at the base: back to the bare header
        Append(vec![491, 492]), // new 9, 10
        FailingAppend(vec![2000, 2000]),
        Reopen,
        SaveVote(5),
        Append(vec![700]),
        Snapshot,
        Append(vec![50, 3000]),
    ]
}

/// Sizes chosen to start and end on, just before and just after sector
/// boundaries.
const SIZES: [usize; 10] = [1, 30, 491, 492, 500, 1500, 4076, 4077, 5000, 12000];

/// Builds a random script while tracking what the log will hold, so every
/// cut lands where it was meant to (at or above the newest snapshot, on a
/// boundary or inside an append).
struct Planner {
    steps: Vec<Step>,
    height: u64,
    /// Heights at the ends of the appends the log holds.
    ends: BTreeSet<u64>,
    /// Height of the newest snapshot: no cut goes below it.
    floor: u64,
    vote: u64,
    /// Cuts planned on a boundary and inside an append.
    cuts: [usize; 2],
}

impl Planner {
    fn append(&mut self, sizes: Vec<usize>) {
        self.height += sizes.len() as u64;
        self.ends.insert(self.height);
        self.steps.push(Step::Append(sizes));
    }

    /// Where a cut may go: boundaries or points inside an append.
    fn cut_points(&self, inside: bool) -> Vec<u64> {
        (self.floor..self.height)
            .filter(|s| self.ends.contains(s) != inside)
            .collect()
    }

    fn cut(&mut self, keep: u64) {
        let inside = !self.ends.contains(&keep);
        self.cuts[inside as usize] += 1;
        self.ends.retain(|&e| e <= keep);
        self.ends.insert(keep);
        self.height = keep;
        self.steps.push(Step::Truncate(keep));
    }
}

fn random_script(seed: u64) -> Vec<Step> {
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let sizes = |next: &mut dyn FnMut(u64) -> u64, min: u64| -> Vec<usize> {
        (0..min + next(5 - min))
            .map(|_| SIZES[next(SIZES.len() as u64) as usize])
            .collect()
    };
    let mut p = Planner {
        steps: Vec::new(),
        height: 0,
        ends: BTreeSet::from([0]),
        floor: 0,
        vote: 0,
        cuts: [0, 0],
    };
    while p.steps.len() < 14 {
        match next(15) {
            0..=5 => p.append(sizes(&mut next, 1)),
            6 | 7 => {
                p.floor = p.height;
                p.steps.push(Step::Snapshot);
            }
            8 => p.steps.push(Step::Trim),
            9 => {
                p.steps.push(Step::FailingAppend(sizes(&mut next, 1)));
                p.steps.push(Step::Reopen);
            }
            10 => p.steps.push(Step::Reopen),
            11 => {
                p.vote += 1 + next(3);
                p.steps.push(Step::SaveVote(p.vote));
            }
            _ => {
                let points = p.cut_points(next(2) == 1);
                if points.is_empty() {
                    p.append(sizes(&mut next, 2));
                } else {
                    p.cut(points[next(points.len() as u64) as usize]);
                    p.append(sizes(&mut next, 1));
                }
            }
        }
    }
    // Every script cuts on a boundary and inside an append at least once.
    for inside in [false, true] {
        if p.cuts[inside as usize] == 0 {
            p.append(sizes(&mut next, 2));
            let points = p.cut_points(inside);
            p.cut(points[next(points.len() as u64) as usize]);
            p.append(sizes(&mut next, 1));
        }
    }
    p.steps
}

pub fn vote_path() -> PathBuf {
    PathBuf::from("/data/raft.vote")
}

pub const VOTE_MAGIC: [u8; 8] = *b"VALVOTE1";

pub fn vote_payload(n: u64) -> Vec<u8> {
    let mut v = n.to_le_bytes().to_vec();
    v.extend_from_slice(b" voted for node-2");
    v
}

/// The vote a state-file payload holds, if it is one [`vote_payload`] made.
pub fn vote_of(bytes: &[u8]) -> Option<u64> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    (vote_payload(n) == bytes).then_some(n)
}

/// The payload of entry `seq` written in generation `gen` (see the module
/// comment): differs from every payload of another generation at `seq`.
pub fn entry_payload(seq: u64, gen: u64, len: usize) -> Vec<u8> {
    let mut p = payload(seq | gen << 48, len);
    p[0] = u8::try_from(gen).expect("fewer than 256 generations");
    p
}

/// A suffix cut: where, and whether inside an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    pub keep: u64,
    pub inside: bool,
}

/// The call the power cut interrupted.
#[derive(Clone, Debug)]
pub enum Flight {
    /// An append of these payloads after [`Outcome::acked`].
    Append(Vec<Vec<u8>>),
    /// `truncate_after(cut.keep)`.
    Cut(Cut),
    /// A vote save of this value.
    Vote(u64),
}

/// What the workload attempted and acknowledged before it stopped.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Payload of every acknowledged entry: sequence `s` at index `s - 1`.
    pub acked: Vec<Vec<u8>>,
    /// Heights at the ends of the appends in `acked` (0 included).
    pub ends: BTreeSet<u64>,
    /// Payloads removed by a completed `truncate_after`, by sequence.
    pub dropped: BTreeMap<u64, Vec<Vec<u8>>>,
    /// The call the power cut interrupted, if it was a log or vote write.
    pub flight: Option<Flight>,
    /// Cuts that returned `Ok`.
    pub cuts_done: Vec<Cut>,
    /// Height of the last snapshot whose save returned `Ok`.
    pub acked_snapshot: Option<u64>,
    /// The last vote whose write returned `Ok`.
    pub vote_acked: Option<u64>,
    /// Steps completed.
    pub steps_done: usize,
    /// Why the run stopped before the end of the script (the error of the
    /// call the power cut failed).
    pub stopped: Option<String>,
}

pub fn snapshot_kernel(height: u64) -> Vec<u8> {
    payload(height ^ 0xABCD, 3000)
}

fn snapshot_index(height: u64) -> Vec<u8> {
    payload(height ^ 0x1DE, 700)
}

/// Runs `script` on `fs` until a step fails unexpectedly (the power cut)
/// or the script ends; [`Outcome::stopped`] says why it stopped early.
pub fn run(fs: &SimVfs, script: &[Step]) -> Outcome {
    let mut out = Outcome::default();
    out.ends.insert(0);
    let mut gen = 0u64;
    let vote = StateFile::new(arc(fs), vote_path(), VOTE_MAGIC);
    let opened = SnapshotStore::open(arc(fs), snap_path())
        .and_then(|(store, _)| Ok((store, open(fs, &OpenOptions::default())?.0)));
    let (store, mut log) = match opened {
        Ok(both) => both,
        Err(e) => {
            out.stopped = Some(format!("open: {e}"));
            return out;
        }
    };
    for step in script {
        let done: Result<(), String> = match step {
            Step::Append(sizes) => append(&mut log, sizes, gen, &mut out),
            Step::FailingAppend(sizes) => {
                fs.fail_call(0, Errno::Enospc);
                let result = append(&mut log, sizes, gen, &mut out);
                // Half of its bytes never hold its closing frame.
                out.flight = None;
                gen += 1;
                // The failure must poison the log: a later append fails too.
                if result.is_ok() {
                    Err("the ENOSPC append returned Ok".into())
                } else if log.append(&[(log.height() + 1, b"x")]).is_ok()
                    || log.poisoned().is_none()
                {
                    Err("a failed append did not poison the log".into())
                } else {
                    Ok(())
                }
            }
            Step::Truncate(keep) => {
                gen += 1;
                truncate(&mut log, *keep, &mut out)
            }
            Step::SaveVote(n) => {
                out.flight = Some(Flight::Vote(*n));
                vote.write(&vote_payload(*n))
                    .map(|()| {
                        out.vote_acked = Some(*n);
                        out.flight = None;
                    })
                    .map_err(|e| e.to_string())
            }
            Step::Snapshot => {
                let h = out.acked.len() as u64;
                let kernel = snapshot_kernel(h);
                let meta = SnapshotMeta {
                    height: h,
                    chain: log.chain_hash(),
                    dim: DIM,
                };
                let index = snapshot_index(h);
                let parts = SnapshotParts {
                    kernel: &kernel,
                    metadata: b"{}",
                    index: &index,
                };
                store
                    .save(&meta, &parts)
                    .map(|_| out.acked_snapshot = Some(h))
                    .map_err(|e| e.to_string())
            }
            // R4: trim only up to a snapshot that is already durable.
            Step::Trim => match out.acked_snapshot {
                Some(h) => log.trim_prefix(h).map_err(|e| e.to_string()),
                None => Ok(()),
            },
            Step::Reopen => {
                drop(log);
                match open(fs, &OpenOptions::default()) {
                    Ok((l, _)) => {
                        log = l;
                        Ok(())
                    }
                    Err(e) => {
                        out.stopped = Some(format!("step {} {step:?}: {e}", out.steps_done));
                        return out;
                    }
                }
            }
        };
        if let Err(e) = done {
            out.stopped = Some(format!("step {} {step:?}: {e}", out.steps_done));
            return out;
        }
        out.steps_done += 1;
    }
    out
}

/// Appends one group; in flight until it returns `Ok`, then acknowledged.
fn append(log: &mut EventLog, sizes: &[usize], gen: u64, out: &mut Outcome) -> Result<(), String> {
    let first = out.acked.len() as u64 + 1;
    let group: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| entry_payload(first + i as u64, gen, n))
        .collect();
    let entries: Vec<(u64, &[u8])> = group
        .iter()
        .enumerate()
        .map(|(i, p)| (first + i as u64, p.as_slice()))
        .collect();
    let result = log.append(&entries);
    // Stays in flight if the power cut interrupted it.
    out.flight = Some(Flight::Append(group));
    result.map_err(|e| e.to_string())?;
    if let Some(Flight::Append(group)) = out.flight.take() {
        out.acked.extend(group);
    }
    out.ends.insert(out.acked.len() as u64);
    Ok(())
}

/// Cuts after `keep`; in flight until it returns `Ok`, then the cut entries
/// are dropped for good.
fn truncate(log: &mut EventLog, keep: u64, out: &mut Outcome) -> Result<(), String> {
    let cut = Cut {
        keep,
        inside: !out.ends.contains(&keep),
    };
    out.flight = Some(Flight::Cut(cut));
    log.truncate_after(keep).map_err(|e| e.to_string())?;
    out.flight = None;
    let gone = out.acked.split_off(keep as usize);
    for (i, p) in gone.into_iter().enumerate() {
        out.dropped.entry(keep + 1 + i as u64).or_default().push(p);
    }
    out.ends.retain(|&e| e <= keep);
    out.ends.insert(keep);
    out.cuts_done.push(cut);
    Ok(())
}
