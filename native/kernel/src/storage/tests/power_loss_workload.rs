//! The scripted workload of the power-loss battery and what it promised.
//!
//! It mixes single and multi-entry appends (payloads from 30 B to 9 KB, so
//! writes start and end inside and across 512 B and 4 KiB sectors),
//! snapshot saves, a prefix trim after a durable snapshot, an append that
//! fails with ENOSPC after writing half its bytes (poisoning the log), and a
//! restart whose recovery must cut that half-written tail.
//!
//! [`run`] executes it until the simulated power cut (or the end) and
//! records the oracle: every payload ever attempted, the heights at append
//! boundaries, and what was acknowledged.

use std::collections::{BTreeMap, BTreeSet};

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
        Append(vec![600]),
        Append(vec![1500, 1500, 1500]),
        Snapshot,
        Append(vec![5000]),
        Append(vec![30, 30]),
        Snapshot,
        Trim,
        Append(vec![9000, 100]),
        FailingAppend(vec![2000, 2000]),
        Reopen,
        Append(vec![700]),
        Snapshot,
        Append(vec![50, 3000]),
    ]
}

/// Sizes chosen to start and end on, just before and just after sector
/// boundaries.
const SIZES: [usize; 10] = [1, 30, 491, 492, 500, 1500, 4076, 4077, 5000, 12000];

fn random_script(seed: u64) -> Vec<Step> {
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let sizes = |next: &mut dyn FnMut(u64) -> u64| -> Vec<usize> {
        (0..1 + next(4))
            .map(|_| SIZES[next(SIZES.len() as u64) as usize])
            .collect()
    };
    let mut steps = Vec::new();
    while steps.len() < 14 {
        match next(12) {
            0..=6 => steps.push(Step::Append(sizes(&mut next))),
            7 | 8 => steps.push(Step::Snapshot),
            9 => steps.push(Step::Trim),
            10 => {
                steps.push(Step::FailingAppend(sizes(&mut next)));
                steps.push(Step::Reopen);
            }
            _ => steps.push(Step::Reopen),
        }
    }
    steps
}

/// What the workload attempted and acknowledged before it stopped.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Payload of every sequence number ever passed to `append`.
    pub attempted: BTreeMap<u64, Vec<u8>>,
    /// Heights at append boundaries (0 included): recovery must land on one.
    pub boundaries: BTreeSet<u64>,
    /// Highest sequence number whose append returned `Ok`.
    pub acked_height: u64,
    /// Height of the last snapshot whose save returned `Ok`.
    pub acked_snapshot: Option<u64>,
    /// Kernel payload of every snapshot save attempted, by height.
    pub snapshots: BTreeMap<u64, Vec<u8>>,
    /// Steps completed.
    pub steps_done: usize,
}

pub fn snapshot_kernel(height: u64) -> Vec<u8> {
    payload(height ^ 0xABCD, 3000)
}

fn snapshot_index(height: u64) -> Vec<u8> {
    payload(height ^ 0x1DE, 700)
}

/// Runs `script` on `fs` until a step fails unexpectedly (the power cut)
/// or the script ends.
pub fn run(fs: &SimVfs, script: &[Step]) -> Outcome {
    let mut out = Outcome::default();
    out.boundaries.insert(0);
    let Ok((store, _)) = SnapshotStore::open(arc(fs), snap_path()) else {
        return out;
    };
    let Ok((mut log, _)) = open(fs, &OpenOptions::default()) else {
        return out;
    };
    for step in script {
        let ok = match step {
            Step::Append(sizes) => append(&mut log, sizes, &mut out),
            Step::FailingAppend(sizes) => {
                fs.fail_call(0, Errno::Enospc);
                let failed = !append(&mut log, sizes, &mut out);
                // The failure must poison the log: a later append fails too.
                failed
                    && log.append(&[(log.height() + 1, b"x")]).is_err()
                    && log.poisoned().is_some()
            }
            Step::Snapshot => {
                let h = log.height();
                let kernel = snapshot_kernel(h);
                out.snapshots.insert(h, kernel.clone());
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
                let saved = store.save(&meta, &parts).is_ok();
                if saved {
                    out.acked_snapshot = Some(h);
                }
                saved
            }
            // R4: trim only up to a snapshot that is already durable.
            Step::Trim => out
                .acked_snapshot
                .is_none_or(|h| log.trim_prefix(h).is_ok()),
            Step::Reopen => {
                drop(log);
                match open(fs, &OpenOptions::default()) {
                    Ok((l, _)) => {
                        log = l;
                        true
                    }
                    Err(_) => return out,
                }
            }
        };
        if !ok {
            return out;
        }
        out.steps_done += 1;
    }
    out
}

/// Appends one group; records the attempt and, on `Ok`, the acknowledgement.
fn append(log: &mut EventLog, sizes: &[usize], out: &mut Outcome) -> bool {
    let first = log.height() + 1;
    for (i, &n) in sizes.iter().enumerate() {
        let seq = first + i as u64;
        out.attempted.insert(seq, payload(seq, n));
    }
    out.boundaries.insert(first - 1 + sizes.len() as u64);
    match append_sizes(log, sizes) {
        Ok(_) => {
            out.acked_height = log.height();
            true
        }
        Err(_) => false,
    }
}
