//! Snapshot format and store: the documented byte layout, rotation to
//! `.prev`, quarantine of damaged files with fallback, the height limit,
//! leftover cleanup, and recognition of the original VALK kernel section.
//! (Crash safety of `save` is covered by the power-loss battery.)

use std::path::PathBuf;

use super::helpers::*;
use crate::storage::snapshot::format::KERNEL_HEADER_LEN;
use crate::storage::vfs::with_suffix;
use crate::storage::*;

fn meta(height: u64) -> SnapshotMeta {
    SnapshotMeta {
        height,
        chain: [height as u8; 32],
        dim: DIM,
    }
}

fn kernel(height: u64) -> Vec<u8> {
    payload(height, 100)
}

fn save(store: &SnapshotStore, height: u64) {
    let k = kernel(height);
    store
        .save(
            &meta(height),
            &SnapshotParts {
                kernel: &k,
                metadata: b"{}",
                index: b"ix",
            },
        )
        .unwrap();
}

fn store(fs: &SimVfs) -> SnapshotStore {
    SnapshotStore::open(arc(fs), snap_path()).unwrap().0
}

fn damage(fs: &SimVfs, path: &std::path::Path, at: usize) {
    let mut b = fs.file_bytes(path).unwrap();
    b[at] ^= 1;
    fs.set_file_bytes(path, &b);
}

#[test]
fn container_and_kernel_header_layout_match_the_document() {
    let k = b"STATE".to_vec();
    let m = SnapshotMeta {
        height: 0x0102,
        chain: [0xCC; 32],
        dim: 384,
    };
    let b = encode_snapshot(
        &m,
        &SnapshotParts {
            kernel: &k,
            metadata: b"{}",
            index: b"I",
        },
    )
    .unwrap();
    let k_len = KERNEL_HEADER_LEN + 5;
    assert_eq!(KERNEL_HEADER_LEN, 168);
    assert_eq!(&b[0..4], b"VAL1");
    assert_eq!(&b[4..8], &(k_len as u32).to_le_bytes());
    let h = &b[8..8 + KERNEL_HEADER_LEN];
    assert_eq!(&h[0..4], b"VNKS");
    assert_eq!(&h[4..8], &2u32.to_le_bytes());
    assert_eq!(&h[8..12], &168u32.to_le_bytes());
    assert_eq!(&h[12..16], &384u32.to_le_bytes());
    assert_eq!(&h[16..24], &0x0102u64.to_le_bytes());
    assert_eq!(&h[24..56], &[0xCC; 32]);
    assert_eq!(&h[56..64], &5u64.to_le_bytes());
    assert_eq!(&h[64..96], blake3::hash(b"STATE").as_bytes());
    assert_eq!(&h[96..128], blake3::hash(b"{}").as_bytes());
    assert_eq!(&h[128..160], blake3::hash(b"I").as_bytes());
    assert_eq!(&h[160..164], &[0; 4]);
    assert_eq!(&h[164..168], &crc32c::crc32c(&h[..164]).to_le_bytes());
    let rest = &b[8 + k_len..];
    assert_eq!(
        rest,
        [&2u32.to_le_bytes()[..], b"{}", &1u32.to_le_bytes(), b"I"].concat()
    );
    assert_eq!(b.len(), 16 + k_len + 3);
}

#[test]
fn save_rotates_the_current_snapshot_to_prev() {
    let fs = SimVfs::new();
    let s = store(&fs);
    let out = s.load_newest_valid(u64::MAX).unwrap();
    assert!(out.snapshot.is_none() && out.quarantined.is_empty() && out.skipped.is_empty());
    save(&s, 3);
    save(&s, 7);
    let got = s.load_newest_valid(u64::MAX).unwrap().snapshot.unwrap();
    assert_eq!(
        (got.meta, got.parts().kernel, &got.path),
        (meta(7), &kernel(7)[..], &snap_path())
    );
    assert_eq!(
        decode_snapshot(&fs.file_bytes(&s.prev_path()).unwrap())
            .unwrap()
            .0,
        meta(3)
    );
    assert_eq!(got.bytes(), &fs.file_bytes(&snap_path()).unwrap()[..]);
}

#[test]
fn a_damaged_snapshot_is_quarantined_and_the_previous_one_used() {
    let fs = SimVfs::new();
    let s = store(&fs);
    save(&s, 3);
    save(&s, 7);
    damage(&fs, &snap_path(), 8 + KERNEL_HEADER_LEN + 50);
    let out = s.load_newest_valid(u64::MAX).unwrap();
    assert_eq!(out.snapshot.unwrap().meta, meta(3));
    let broken = with_suffix(&snap_path(), ".broken-1");
    assert_eq!(out.quarantined.len(), 1);
    assert_eq!(
        (&out.quarantined[0].from, &out.quarantined[0].to),
        (&snap_path(), &broken)
    );
    assert_eq!(
        out.quarantined[0].error,
        SnapshotError::ChecksumMismatch { section: "kernel" }
    );
    assert!(
        fs.file_bytes(&broken).is_some(),
        "quarantined, never deleted"
    );
    // Both damaged: nothing usable, both set aside, numbering continues.
    save(&s, 9);
    damage(&fs, &snap_path(), 20);
    damage(&fs, &s.prev_path(), 20);
    let out = s.load_newest_valid(u64::MAX).unwrap();
    assert!(out.snapshot.is_none());
    let to: Vec<_> = out.quarantined.iter().map(|q| q.to.clone()).collect();
    assert_eq!(
        to,
        vec![
            with_suffix(&snap_path(), ".broken-2"),
            with_suffix(&s.prev_path(), ".broken-1")
        ]
    );
}

#[test]
fn snapshots_above_the_log_height_are_skipped_not_quarantined() {
    let fs = SimVfs::new();
    let s = store(&fs);
    save(&s, 3);
    save(&s, 7);
    let out = s.load_newest_valid(5).unwrap();
    assert_eq!(out.snapshot.unwrap().meta, meta(3));
    assert_eq!(out.skipped, vec![(snap_path(), 7)]);
    assert!(out.quarantined.is_empty());
    assert!(s.load_newest_valid(2).unwrap().snapshot.is_none());
}

#[test]
fn a_damaged_current_snapshot_is_not_rotated_over_a_good_prev() {
    let fs = SimVfs::new();
    let s = store(&fs);
    save(&s, 3);
    save(&s, 7);
    damage(&fs, &snap_path(), 30);
    save(&s, 9);
    assert_eq!(
        decode_snapshot(&fs.file_bytes(&s.prev_path()).unwrap())
            .unwrap()
            .0,
        meta(3)
    );
    assert!(fs
        .file_bytes(&with_suffix(&snap_path(), ".broken-1"))
        .is_some());
}

#[test]
fn a_leftover_temporary_is_removed_at_open_and_other_files_are_left_alone() {
    let fs = SimVfs::new();
    let tmp = with_suffix(&snap_path(), ".tmp");
    let other = PathBuf::from("/data/notes.txt");
    fs.set_file_bytes(&tmp, b"half");
    fs.set_file_bytes(&other, b"mine");
    let (_, removed) = SnapshotStore::open(arc(&fs), snap_path()).unwrap();
    assert_eq!(removed, vec![tmp.clone()]);
    assert!(fs.file_bytes(&tmp).is_none() && fs.file_bytes(&other).is_some());
}

#[test]
fn the_original_valk_kernel_section_gets_its_own_error() {
    // An empty brute-force snapshot of the original node: VAL1, then a
    // VALK schema-4 kernel blob (§13 of the formats reference), "{}", no index.
    let mut valk = b"VALK".to_vec();
    valk.extend_from_slice(&4u32.to_le_bytes());
    valk.extend_from_slice(&[0u8; 8 + 4 * 5 + 4 + 4]);
    let mut b = b"VAL1".to_vec();
    for section in [&valk[..], b"{}", b""] {
        b.extend_from_slice(&(section.len() as u32).to_le_bytes());
        b.extend_from_slice(section);
    }
    assert_eq!(
        decode_snapshot(&b).unwrap_err(),
        SnapshotError::LegacyKernelSection
    );
    assert!(SnapshotError::LegacyKernelSection
        .to_string()
        .contains("v0.1.0"));
}
