//! Real interruptions (issue 3): `SIGKILL` at spread-out moments of a first apply on a
//! product of hundreds of files and MB, and a filesystem that fills up (a tmpfs the test
//! mounts). Each time the tree stays old-or-new with a whole backup, and the next run,
//! once it can, finishes the job.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use carbon_fixtures::{BenchConfig, bench_layout, sized_bundle_jar, write_bench_product};

use crate::crash::*;
use crate::support::*;

/// The model of a generated benchmark product: every jar there is named as its target,
/// so the desired plugins are plugins overlaid with the service pack's `lib/`, then each
/// patch the pack does not cover, in byte-wise name order (SPEC §5).
fn bench_model(env: &Env, covered: &[String]) -> Model {
    let original = files(&env.plugins());
    let mut desired = original.clone();
    for (_, sp) in sorted_dirs(&env.servicepacks()).into_iter().rev().take(1) {
        desired.extend(files(&sp.join("lib")));
    }
    for (name, dir) in sorted_dirs(&env.patches()) {
        if name != "patch0000" && name.starts_with("patch") && !covered.contains(&name) {
            desired.extend(files(&dir));
        }
    }
    Model { original, desired }
}

fn sorted_dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    dirs.sort();
    dirs
}

fn count_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn has_temporary(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|d| {
        d.filter_map(|e| e.ok())
            .any(|e| e.file_name().as_bytes().starts_with(b".carbon-patch-tmp."))
    })
}

/// A moment of a run, and how to tell it has come.
type Moment<'a> = (&'a str, Box<dyn Fn(&Env) -> bool + 'a>);

#[test]
fn sigkill_at_spread_out_moments_of_a_large_apply_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = BenchConfig {
        plugins: 300,
        total_bytes: 150 << 20,
        sp_jars: 100,
        sp_covers: 8,
        patches: 15,
        seed: 3,
    };
    let layout = bench_layout(&config);
    let home = write_bench_product(&layout, &dir.path().join("product"));
    let env = Env::at(dir, home);
    let model = bench_model(&env, &layout.covered);
    let partial = env.patches().join(".patch0000.partial");
    let half = layout.plugins.len() / 2;

    // Each moment is watched for while the run goes on; the run is killed when it comes.
    let moments: [Moment; 5] = [
        ("the backup has begun", Box::new(|_| partial.exists())),
        (
            "the backup is half copied",
            Box::new(|_| count_entries(&partial) >= half),
        ),
        ("the backup is whole", Box::new(|env| env.backup().exists())),
        (
            "a bundle is being written",
            Box::new(|env| has_temporary(&env.plugins())),
        ),
        (
            "the metadata is being recorded",
            Box::new(|env| env.metadata().join("prePatchedJARs.txt").exists()),
        ),
    ];
    let mut killed = Vec::new();
    for (moment, reached) in &moments {
        let mut child = Command::new(env!("CARGO_BIN_EXE_carbon-patch"))
            .args(["apply", env.root().to_str().unwrap()])
            .env_remove("CARBON_HOME")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start carbon-patch");
        let done = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if reached(&env) {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::yield_now();
        };
        match done {
            Some(status) => {
                assert!(status.success(), "an apply not killed must succeed");
                eprintln!("not killed: the apply finished before '{moment}'");
                break;
            }
            None => {
                let what = format!("killed when {moment}");
                assert_old_or_new(&env, &model.original, &model, &what);
                assert_nothing_lost(&env, &model.original, &what);
                killed.push(*moment);
            }
        }
    }
    eprintln!("killed {} times: {killed:?}", killed.len());
    assert!(killed.len() >= 2, "the kills during the backup always land");

    let run = env.apply();
    run.code(0);
    assert_finished(&env, &model, "after the kills");
    assert_nothing_lost(&env, &model.original, "after the kills");
}

/// Mounts a tmpfs of `size` at `dir`; `None` (with the reason) where this machine cannot.
fn mount_tmpfs(dir: &Path, size: &str) -> Option<Tmpfs> {
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .stderr(Stdio::piped())
        .output();
    match status {
        Ok(out) if out.status.success() => Some(Tmpfs(dir.to_path_buf())),
        Ok(out) => {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs here (needs root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot run mount: {e}");
            None
        }
    }
}

/// A mounted tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Free bytes on the filesystem holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: statvfs writes into the zeroed struct we own; the path is NUL-terminated.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(c_path.as_ptr(), &mut stat), 0);
        stat.f_bavail * stat.f_frsize
    }
}

#[test]
fn a_disk_that_fills_up_exits_3_and_the_next_run_completes_once_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_mount) = mount_tmpfs(&mnt, "16m") else {
        return;
    };
    let env = Env::empty_in(&mnt);
    let size = 256 << 10;
    let mut original = BTreeMap::new();
    for i in 0..16 {
        let bsn = format!("org.example.big{i:02}");
        let bytes = sized_bundle_jar(&bsn, VERSION, "base", size);
        original.insert(PathBuf::from(target(&bsn)), md5_hex(&bytes));
        env.home.add_plugin(&target(&bsn), &bytes);
    }
    // The first apply makes the backup (4 MB); then a patch arrives with three updated
    // and three new 256 KB bundles, on a disk with room for about two more files.
    env.apply().code(0);
    let mut desired = original.clone();
    for i in 13..19 {
        let bsn = format!("org.example.big{i:02}");
        let bytes = sized_bundle_jar(&bsn, VERSION, "patch0001", size);
        desired.insert(PathBuf::from(target(&bsn)), md5_hex(&bytes));
        env.home.add_patch_file("patch0001", &target(&bsn), &bytes);
    }
    let model = Model { original, desired };
    let filler = mnt.join("filler");
    let room = 2 * size as u64 + (64 << 10);
    let fill = free_bytes(&mnt).saturating_sub(room);
    std::fs::write(&filler, vec![0u8; fill as usize]).unwrap();
    let before = plugin_files(&env);

    let run = env.apply();
    run.code(3)
        .stderr_has("No space left on device")
        .stderr_has("/repository/")
        .stderr_has("hint:");
    assert_old_or_new(&env, &before, &model, "disk full");
    assert_nothing_lost(&env, &before, "disk full");

    std::fs::remove_file(&filler).unwrap();
    env.apply().code(0);
    assert_finished(&env, &model, "space freed");
}
