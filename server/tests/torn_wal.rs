//! The embedded store keeps every synced commit across a torn write-ahead
//! log, as a SIGKILL in the middle of a write leaves it.
//!
//! SurrealKV 0.21.4, as published, lost commits here (`vendor/README.md`):
//! at the restart after a torn tail it either repaired the segment while its
//! writer still pointed at the replaced file, or stopped reading at the tear
//! and left it in place, so every commit synced after that restart vanished
//! at the next one. The crash test lost acknowledged orders that way. This
//! test tears the log the ways a killed write can, writes and syncs more
//! commits, and checks after another kill that all of them are there.
//!
//! Each phase runs in a child process (this test binary, re-run with
//! `VITRINE_TORN_WAL_CHILD` set) that kills itself with SIGKILL: a clean
//! close would flush the memtable and delete the log, hiding the problem.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use surrealkv::{Durability, TreeBuilder};

const CHILD: &str = "VITRINE_TORN_WAL_CHILD";

/// The child's part: `write <dir> <prefix> <count> <value length>` commits
/// and syncs `count` keys; `check <dir> <prefix> <count>` prints how many
/// are present. Either way the process then dies by SIGKILL.
#[test]
fn torn_wal_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return; // run as an ordinary test: nothing to do
    };
    let args: Vec<&str> = spec.split(' ').collect();
    let dir = PathBuf::from(args[1]);
    let prefix = args[2];
    let count: usize = args[3].parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let tree = TreeBuilder::new().with_path(dir).build().unwrap();
        match args[0] {
            "write" => {
                let len: usize = args[4].parse().unwrap();
                for i in 0..count {
                    let mut tx = tree.begin().unwrap();
                    tx.set_durability(Durability::Eventual);
                    tx.set(format!("{prefix}-{i:04}").as_bytes(), vec![b'v'; len])
                        .unwrap();
                    tx.commit().await.unwrap();
                    // What SurrealDB does for a commit with sync = every.
                    tree.flush_wal(true).unwrap();
                }
                println!("written={count}");
            }
            "check" => {
                let tx = tree.begin().unwrap();
                let present = (0..count)
                    .filter(|i| {
                        tx.get(format!("{prefix}-{i:04}").as_bytes())
                            .unwrap()
                            .is_some()
                    })
                    .count();
                println!("present={present}");
            }
            other => panic!("unknown phase {other}"),
        }
        // Killed with the store open: dropping it would close it cleanly.
        die_by_sigkill();
        drop(tree);
    });
}

fn die_by_sigkill() {
    let _ = Command::new("kill")
        .args(["-KILL", &std::process::id().to_string()])
        .status();
    std::thread::sleep(std::time::Duration::from_secs(30));
    unreachable!("still alive after SIGKILL");
}

/// Runs one phase in a child and returns the number it printed.
fn phase(spec: &str) -> usize {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "torn_wal_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, spec)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The harness prints the test's name on the same line first.
    let number = stdout
        .lines()
        .find_map(|l| {
            ["written=", "present="]
                .iter()
                .find_map(|marker| l.split_once(marker).map(|(_, n)| n))
        })
        .unwrap_or_else(|| {
            panic!(
                "phase `{spec}` printed no result\nstdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    number.trim().parse().unwrap()
}

/// The newest log segment.
fn wal_segment(dir: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    segments.sort();
    segments.pop().expect("a WAL segment")
}

/// Commits A, then a last record that `tear` damages; restarts and commits
/// B; restarts again: A and B must all be there.
fn survives(last_record_len: usize, tear: impl FnOnce(&Path, u64, u64)) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    assert_eq!(phase(&format!("write {d} A 20 16")), 20);
    let before_last = std::fs::metadata(wal_segment(dir.path())).unwrap().len();
    assert_eq!(phase(&format!("write {d} T 1 {last_record_len}")), 1);
    let segment = wal_segment(dir.path());
    let after_last = std::fs::metadata(&segment).unwrap().len();
    tear(&segment, before_last, after_last);
    assert_eq!(phase(&format!("write {d} B 20 16")), 20);
    assert_eq!(
        phase(&format!("check {d} A 20")),
        20,
        "commits before the tear"
    );
    assert_eq!(
        phase(&format!("check {d} B 20")),
        20,
        "commits synced after the restart that found the tear"
    );
}

fn truncate(segment: &Path, len: u64) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(segment)
        .unwrap();
    file.set_len(len).unwrap();
}

#[test]
fn commits_after_a_record_cut_mid_data_survive() {
    // The header is whole, its data is not: recovery sees corruption and
    // repairs the segment.
    survives(3000, |segment, _, end| truncate(segment, end - 1000));
}

#[test]
fn commits_after_a_record_split_over_blocks_and_cut_survive() {
    // Only the first fragment of a record spanning 32 KiB blocks was
    // written: recovery reads it as the end of the log.
    survives(40_000, |segment, _, _| truncate(segment, 32 * 1024));
}

#[test]
fn commits_after_a_cut_record_header_survive() {
    // Three bytes of the last record's 7-byte header.
    survives(100, |segment, before, _| truncate(segment, before + 3));
}
