//! The simulated file system itself: each crash variant produces exactly
//! the bytes and names it claims to, and faults behave as documented. The
//! batteries are only as good as this model.

use std::path::Path;

use crate::storage::vfs::{CrashMode, DataLoss, Errno, Fill};
use crate::storage::{SimVfs, Vfs};

const DIR: &str = "/d";

fn p(name: &str) -> std::path::PathBuf {
    Path::new(DIR).join(name)
}

fn image(fs: &SimVfs, data: DataLoss, dir_ops_kept: usize) -> SimVfs {
    fs.crash_image(&CrashMode { data, dir_ops_kept })
}

/// A synced 1000-byte file `f` with an unsynced 2000-byte append at 1000.
fn with_pending_append() -> SimVfs {
    let fs = SimVfs::new();
    let f = fs.create(&p("f")).unwrap();
    f.write_at(0, &[1; 1000]).unwrap();
    f.sync_data().unwrap();
    fs.sync_dir(Path::new(DIR)).unwrap();
    f.write_at(1000, &[2; 2000]).unwrap();
    fs
}

#[test]
fn unsynced_writes_are_lost_or_kept_in_order() {
    let fs = with_pending_append();
    assert_eq!(
        image(&fs, DataLoss::Prefix(0), 0)
            .file_bytes(&p("f"))
            .unwrap(),
        vec![1; 1000]
    );
    let all = image(&fs, DataLoss::Prefix(usize::MAX), 0)
        .file_bytes(&p("f"))
        .unwrap();
    assert_eq!((all.len(), all[999], all[1000]), (3000, 1, 2));
}

#[test]
fn a_torn_write_keeps_whole_sectors_from_its_start_then_the_fill() {
    let fs = with_pending_append();
    // The write starts at 1000, inside sector 1 (512..1024): keeping one
    // sector keeps bytes up to 1024.
    let torn = |keep, fill| {
        image(
            &fs,
            DataLoss::Torn {
                sector: 512,
                keep,
                fill,
            },
            0,
        )
        .file_bytes(&p("f"))
        .unwrap()
    };
    let short = torn(1, Fill::Shorten);
    assert_eq!((short.len(), short[1023]), (1024, 2));
    let zeros = torn(1, Fill::Zeros);
    assert_eq!(
        (zeros.len(), zeros[1023], zeros[1024], zeros[2999]),
        (3000, 2, 0, 0)
    );
    let garbage = torn(0, Fill::Garbage);
    assert_eq!(garbage.len(), 3000);
    assert!(garbage[1000..].iter().any(|&b| b != 0 && b != 2));
    let page = image(
        &fs,
        DataLoss::Torn {
            sector: 4096,
            keep: 0,
            fill: Fill::Shorten,
        },
        0,
    );
    assert_eq!(page.file_bytes(&p("f")).unwrap().len(), 1000);
}

#[test]
fn a_hole_loses_one_sector_in_the_middle_of_the_write() {
    let fs = with_pending_append();
    // Sectors touched: 1 (1000..1024), 2, 3, 4, 5 (2560..3000). Lose #2.
    let b = image(
        &fs,
        DataLoss::Hole {
            sector: 512,
            lost: 2,
        },
        0,
    )
    .file_bytes(&p("f"))
    .unwrap();
    assert_eq!(b.len(), 3000);
    assert!(b[1024..1536].iter().all(|&x| x == 2));
    assert!(b[1536..2048].iter().all(|&x| x == 0));
    assert!(b[2048..].iter().all(|&x| x == 2));
}

#[test]
fn unsynced_creates_renames_and_removes_roll_back_in_order() {
    let fs = SimVfs::new();
    let dir = Path::new(DIR);
    fs.create(&p("a")).unwrap().sync_data().unwrap();
    fs.sync_dir(dir).unwrap();
    fs.create(&p("tmp")).unwrap().sync_data().unwrap();
    fs.rename(&p("tmp"), &p("b")).unwrap();
    fs.remove(&p("a")).unwrap();
    let names = |k| image(&fs, DataLoss::Prefix(0), k).list_dir(dir).unwrap();
    assert_eq!(names(0), vec![p("a")]);
    assert_eq!(names(1), vec![p("a"), p("tmp")]);
    assert_eq!(names(2), vec![p("a"), p("b")]);
    assert_eq!(names(3), vec![p("b")]);
    fs.sync_dir(dir).unwrap();
    assert_eq!(names(0), vec![p("b")]);
}

#[test]
fn injected_faults_fail_once_and_leave_the_documented_state() {
    let fs = with_pending_append();
    let f = fs.open(&p("f"), true).unwrap();
    fs.fail_call(0, Errno::Eio);
    assert!(f.write_at(3000, &[3; 100]).is_err());
    assert_eq!(f.len().unwrap(), 3000);
    fs.fail_call(0, Errno::Enospc);
    assert!(f.write_at(3000, &[3; 100]).is_err());
    assert_eq!(f.len().unwrap(), 3050);
    fs.fail_call(0, Errno::Eio);
    assert!(f.sync_data().is_err());
    assert_eq!(
        image(&fs, DataLoss::Prefix(0), 0)
            .file_bytes(&p("f"))
            .unwrap()
            .len(),
        1000
    );
    f.sync_data().unwrap();
    assert_eq!(
        image(&fs, DataLoss::Prefix(0), 0)
            .file_bytes(&p("f"))
            .unwrap()
            .len(),
        3050
    );
}

#[test]
fn after_the_power_cut_nothing_more_changes() {
    let fs = SimVfs::new();
    fs.freeze_after(2);
    let f = fs.create(&p("f")).unwrap();
    f.write_at(0, b"kept").unwrap();
    assert!(f.sync_data().is_err());
    assert!(fs.is_frozen());
    assert!(f.write_at(4, b"more").is_err());
    assert_eq!(fs.file_bytes(&p("f")).unwrap(), b"kept");
    assert_eq!(fs.mutations(), 2);
}

#[test]
fn crash_modes_cover_every_variant_of_the_pending_write() {
    let modes = with_pending_append().crash_modes();
    let has = |pred: &dyn Fn(&DataLoss) -> bool| modes.iter().any(|m| pred(&m.data));
    assert!(has(&|d| *d == DataLoss::Prefix(0)) && has(&|d| *d == DataLoss::Prefix(1)));
    for fill in [Fill::Shorten, Fill::Zeros, Fill::Garbage] {
        assert!(has(
            &|d| matches!(d, DataLoss::Torn { sector: 512, fill: f, .. } if *f == fill)
        ));
        assert!(has(
            &|d| matches!(d, DataLoss::Torn { sector: 4096, fill: f, .. } if *f == fill)
        ));
    }
    assert!(has(&|d| matches!(d, DataLoss::Hole { sector: 512, .. })));
}
