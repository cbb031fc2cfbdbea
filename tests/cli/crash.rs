//! Crash safety (SPEC §6.3–6.4, issue 3): apply and rollback interrupted at every
//! filesystem step — by the debug build's fault switch (`CARBON_PATCH_FAULT`, see
//! `src/fault.rs`) — and failing there with a full disk or an I/O error. After each
//! interruption the tree holds every file either old or new and the backup whole (or
//! absent); the next run exits 0, plugins equal what a clean run gives, `patch0000` equals
//! the original plugins, nothing is lost, and no temporary file or journal is left.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output};

use crate::support::*;

/// File path (relative) → MD5 of every regular file under `dir` (empty when absent).
pub fn files(dir: &Path) -> BTreeMap<PathBuf, String> {
    if !dir.exists() {
        return BTreeMap::new();
    }
    snapshot(dir)
        .entries
        .into_iter()
        .filter(|(_, info)| info.kind == carbon_fixtures::EntryKind::File)
        .map(|(path, info)| (path, info.digest))
        .collect()
}

/// Whether `name` is one of carbon-patch's temporary names.
fn is_temporary(name: &str) -> bool {
    name.starts_with(".carbon-patch-tmp.") || name == ".patch0000.partial"
}

/// Every temporary file or partial backup anywhere in the product home.
pub fn temporaries(env: &Env) -> Vec<PathBuf> {
    snapshot(env.root())
        .entries
        .into_keys()
        .filter(|p| {
            p.components()
                .any(|c| is_temporary(&c.as_os_str().to_string_lossy()))
        })
        .collect()
}

/// The files of plugins without carbon-patch's temporary ones.
pub fn plugin_files(env: &Env) -> BTreeMap<PathBuf, String> {
    let mut files = files(&env.plugins());
    files.retain(|p, _| !is_temporary(&p.to_string_lossy()));
    files
}

/// Runs `carbon-patch <command> <home>` with `CARBON_PATCH_FAULT=<fault>`.
pub fn run_with_fault(env: &Env, command: &str, fault: &str) -> Output {
    run_with_fault_and(env, command, fault, &[])
}

/// [`run_with_fault`] with more variables set.
fn run_with_fault_and(env: &Env, command: &str, fault: &str, vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carbon-patch"))
        .args([command, env.root().to_str().expect("utf-8 temp path")])
        .env("CARBON_PATCH_FAULT", fault)
        .envs(vars.iter().copied())
        .env_remove("CARBON_HOME")
        .env("NO_COLOR", "1")
        .output()
        .expect("run carbon-patch")
}

/// What a small product should look like before and after.
pub struct Model {
    /// Plugins as shipped (and so the backup's content).
    pub original: BTreeMap<PathBuf, String>,
    /// Plugins after a clean run of the command under test.
    pub desired: BTreeMap<PathBuf, String>,
}

/// The interrupted tree holds, for every file, its old or its new content (never a mix,
/// never missing when both old and new have it), and a backup only when whole.
#[track_caller]
pub fn assert_old_or_new(env: &Env, before: &BTreeMap<PathBuf, String>, model: &Model, what: &str) {
    let now = plugin_files(env);
    for (path, md5) in &now {
        assert!(
            before.get(path) == Some(md5) || model.desired.get(path) == Some(md5),
            "{what}: `{}` is neither old nor new",
            path.display()
        );
    }
    for path in before.keys().filter(|p| model.desired.contains_key(*p)) {
        assert!(
            now.contains_key(path),
            "{what}: `{}` went missing",
            path.display()
        );
    }
    if env.backup().exists() {
        assert_eq!(
            files(&env.backup()),
            model.original,
            "{what}: the backup is not whole"
        );
    }
}

/// The end state of a finished run: plugins as desired, the backup as the original
/// plugins, no temporary file, no journal, and verify content with it.
#[track_caller]
pub fn assert_finished(env: &Env, model: &Model, what: &str) {
    assert_eq!(plugin_files(env), model.desired, "{what}: plugins");
    assert_eq!(files(&env.backup()), model.original, "{what}: backup");
    assert_eq!(
        temporaries(env),
        Vec::<PathBuf>::new(),
        "{what}: temporaries"
    );
    assert!(
        !env.metadata().join("carbon-patch-journal.json").exists(),
        "{what}: the journal is still there"
    );
    let verify = env.verify();
    assert_eq!(verify.code, 0, "{what}: verify\n{}", verify.stdout);
}

/// Every content plugins held before a run is still somewhere: in plugins, the backup or
/// the archive.
#[track_caller]
pub fn assert_nothing_lost(env: &Env, before: &BTreeMap<PathBuf, String>, what: &str) {
    let kept: BTreeSet<String> = [env.plugins(), env.backup(), env.metadata().join("archive")]
        .iter()
        .flat_map(|dir| files(dir).into_values())
        .collect();
    for (path, md5) in before {
        assert!(
            kept.contains(md5),
            "{what}: the content of `{}` ({md5}) is lost",
            path.display()
        );
    }
}

// The small product: 16 plugins, a service pack covering one patch, three patches that
// update, add and replace bundles, and a plain file — a few dozen files in all.

const PLUGINS: usize = 16;

fn bsn(i: usize) -> String {
    format!("org.example.b{i:02}")
}

/// The small product, not yet applied, and its model for a first apply.
pub fn small_product() -> (Env, Model) {
    let env = Env::empty();
    let mut plugins = BTreeMap::new();
    for i in 0..PLUGINS {
        let bytes = jar(&bsn(i), "base");
        plugins.insert(PathBuf::from(target(&bsn(i))), md5_hex(&bytes));
        env.home.add_plugin(&target(&bsn(i)), &bytes);
    }
    let mut desired = plugins.clone();
    let mut put = |name: String, bytes: &[u8]| {
        desired.insert(PathBuf::from(name), md5_hex(bytes));
    };
    env.home.add_service_pack("servicepack001", &["patch0001"]);
    for (bsn, variant) in [
        (bsn(0), "sp"),
        (bsn(1), "sp"),
        (bsn(2), "sp"),
        ("org.example.sp.new".into(), "sp"),
    ] {
        let bytes = jar(&bsn, variant);
        env.home
            .add_service_pack_file("servicepack001", &target(&bsn), &bytes);
        put(target(&bsn), &bytes);
    }
    // Covered by the service pack: never applied.
    env.home
        .add_patch_file("patch0001", &target(&bsn(0)), &jar(&bsn(0), "p1"));
    for (patch, bsn) in [
        ("patch0002", bsn(1)),
        ("patch0002", bsn(3)),
        ("patch0002", "org.example.p2.new".into()),
        ("patch0003", bsn(3)),
        ("patch0003", bsn(4)),
    ] {
        let bytes = jar(&bsn, patch);
        env.home.add_patch_file(patch, &target(&bsn), &bytes);
        put(target(&bsn), &bytes);
    }
    env.home
        .add_patch_file("patch0003", "notes.txt", b"patch0003 notes\n");
    put("notes.txt".into(), b"patch0003 notes\n");
    (
        env,
        Model {
            original: plugins,
            desired,
        },
    )
}

/// The small product applied, then changed: patch0002 removed (it added a bundle and
/// replaced two), a bundle of patch0003 changed in place, patch0004 added. The model is
/// for the apply that follows.
pub fn changed_product() -> (Env, Model) {
    let (env, first) = small_product();
    env.apply().code(0);
    std::fs::remove_dir_all(env.patches().join("patch0002")).unwrap();
    let mut desired = first.original.clone();
    let mut put = |name: String, bytes: &[u8]| {
        desired.insert(PathBuf::from(name), md5_hex(bytes));
    };
    for bsn in [bsn(0), bsn(1), bsn(2), "org.example.sp.new".into()] {
        put(target(&bsn), &jar(&bsn, "sp"));
    }
    for (patch, bsn, variant) in [
        ("patch0003", bsn(3), "patch0003"),
        ("patch0003", bsn(4), "patch0003-changed"),
        ("patch0004", bsn(5), "patch0004"),
        ("patch0004", "org.example.p4.new".into(), "patch0004"),
    ] {
        let bytes = jar(&bsn, variant);
        env.home.add_patch_file(patch, &target(&bsn), &bytes);
        put(target(&bsn), &bytes);
    }
    put("notes.txt".into(), b"patch0003 notes\n");
    (
        env,
        Model {
            original: first.original,
            desired,
        },
    )
}

/// The small product applied; the model is for the rollback that follows.
pub fn applied_product() -> (Env, Model) {
    let (env, first) = small_product();
    env.apply().code(0);
    let original = first.original;
    (
        env,
        Model {
            desired: original.clone(),
            original,
        },
    )
}

/// How an injected fault must end the run.
#[derive(Clone, Copy)]
enum Fault {
    /// Killed on the spot (`abort`, like `kill -9` between two steps).
    Abort,
    /// The step fails with ENOSPC: exit 3 and a clear message.
    NoSpace,
    /// The step fails with EIO: exit 3 and a clear message.
    Io,
}

impl Fault {
    fn arm(self, step: usize) -> String {
        let mode = match self {
            Fault::Abort => "abort",
            Fault::NoSpace => "enospc",
            Fault::Io => "eio",
        };
        format!("{mode}@{step}")
    }

    #[track_caller]
    fn assert_ended(self, status: ExitStatus, stderr: &str, what: &str) {
        match self {
            Fault::Abort => assert_eq!(
                status.signal(),
                Some(libc::SIGABRT),
                "{what}: not aborted ({status})\n{stderr}"
            ),
            Fault::NoSpace | Fault::Io => {
                let cause = match self {
                    Fault::NoSpace => "No space left on device",
                    _ => "Input/output error",
                };
                assert_eq!(status.code(), Some(3), "{what}: exit code\n{stderr}");
                assert!(
                    stderr.contains(cause)
                        && stderr.contains("/repository/")
                        && stderr.contains("hint:"),
                    "{what}: the error does not name the cause, the path and a hint:\n{stderr}"
                );
            }
        }
    }
}

/// Runs `command` on a fresh product from `setup` with the fault armed at step 1, 2, ...
/// until a run gets through with the fault never reached; after each interruption checks
/// the tree, runs the command again and checks the result. Returns the number of steps
/// swept.
fn sweep(setup: fn() -> (Env, Model), command: &str, fault: Fault) -> usize {
    sweep_with(setup, command, fault, &[])
}

/// [`sweep`], the interrupted runs with `vars` set (the run after each does without).
fn sweep_with(
    setup: fn() -> (Env, Model),
    command: &str,
    fault: Fault,
    vars: &[(&str, &str)],
) -> usize {
    for step in 1.. {
        let (env, model) = setup();
        let before = plugin_files(&env);
        let what = format!("{command} with {} {vars:?}", fault.arm(step));
        let output = run_with_fault_and(&env, command, &fault.arm(step), vars);
        if output.status.success() {
            assert_finished(&env, &model, &what);
            assert!(step > 20, "{what}: only {step} steps; is the switch armed?");
            return step - 1;
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        fault.assert_ended(output.status, &stderr, &what);
        assert_old_or_new(&env, &before, &model, &what);
        assert_nothing_lost(&env, &before, &what);

        let again = env.cmd(command, &[]);
        assert_eq!(
            again.code, 0,
            "{what}, run again:\n{}\n{}",
            again.stdout, again.stderr
        );
        assert_finished(&env, &model, &format!("{what}, run again"));
        assert_nothing_lost(&env, &before, &format!("{what}, run again"));
    }
    unreachable!("the loop above returns")
}

#[test]
fn a_first_apply_aborted_at_any_step_is_finished_by_the_next_run() {
    let steps = sweep(small_product, "apply", Fault::Abort);
    eprintln!("first apply: {steps} steps swept");
}

#[test]
fn an_apply_of_changed_patches_aborted_at_any_step_is_finished_by_the_next_run() {
    let steps = sweep(changed_product, "apply", Fault::Abort);
    eprintln!("apply after a change: {steps} steps swept");
}

#[test]
fn a_rollback_aborted_at_any_step_is_finished_by_the_next_run() {
    let steps = sweep(applied_product, "rollback", Fault::Abort);
    eprintln!("rollback: {steps} steps swept");
}

/// Where entries cannot be renamed aside (another filesystem, an overlay's lower layer),
/// rollback copies them and removes the originals; killed at any step of that, the next
/// run still finishes the job and nothing is lost. The debug build's switch makes every
/// move and hard link that may cross filesystems take that way.
#[test]
fn a_rollback_copying_entries_aside_aborted_at_any_step_is_finished_by_the_next_run() {
    let steps = sweep_with(
        applied_product,
        "rollback",
        Fault::Abort,
        &[("CARBON_PATCH_CROSS_DEVICE", "1")],
    );
    eprintln!("rollback copying entries aside: {steps} steps swept");
}

/// An apply that archives files (what it replaced, what a removed patch had added) into a
/// metadata dir on another filesystem copies them there instead of linking or renaming;
/// killed at any step, the next run finishes and nothing is lost.
#[test]
fn an_apply_archiving_across_filesystems_aborted_at_any_step_is_finished_by_the_next_run() {
    let steps = sweep_with(
        changed_product,
        "apply",
        Fault::Abort,
        &[("CARBON_PATCH_CROSS_DEVICE", "1")],
    );
    eprintln!("apply archiving across filesystems: {steps} steps swept");
}

#[test]
fn a_full_disk_at_any_step_of_apply_exits_3_and_the_next_run_completes() {
    let steps = sweep(small_product, "apply", Fault::NoSpace);
    eprintln!("first apply, ENOSPC: {steps} steps swept");
}

#[test]
fn an_io_error_at_any_step_of_a_changed_apply_exits_3_and_the_next_run_completes() {
    let steps = sweep(changed_product, "apply", Fault::Io);
    eprintln!("apply after a change, EIO: {steps} steps swept");
}

#[test]
fn a_full_disk_at_any_step_of_rollback_exits_3_and_the_next_run_completes() {
    let steps = sweep(applied_product, "rollback", Fault::NoSpace);
    eprintln!("rollback, ENOSPC: {steps} steps swept");
}
