//! What the next run does about an interrupted one (the journal, SPEC §6.4), and the lock
//! between two real processes (SPEC §6.2).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::crash::*;
use crate::support::*;

/// Aborts `command` on a fresh product from `setup` at the first step after which
/// `interrupted` holds; returns the product and the step.
fn interrupt_when(
    setup: fn() -> (Env, Model),
    command: &str,
    interrupted: impl Fn(&Env) -> bool,
) -> (Env, Model, usize) {
    for step in 1..1000 {
        let (env, model) = setup();
        let output = run_with_fault(&env, command, &format!("abort@{step}"));
        assert!(
            !output.status.success(),
            "{command} finished before the moment looked for"
        );
        if interrupted(&env) {
            return (env, model, step);
        }
    }
    panic!("{command}: the moment looked for never came");
}

fn journal(env: &Env) -> PathBuf {
    env.metadata().join("carbon-patch-journal.json")
}

const NEW_IN_PATCH2: &str = "org.example.p2.new_1.0.0.jar";

#[test]
fn a_bundle_an_interrupted_apply_added_is_archived_once_its_patch_is_removed() {
    // Killed after it placed patch0002's new bundle, before it recorded anything.
    let (env, model, _) = interrupt_when(small_product, "apply", |env| {
        env.plugins().join(NEW_IN_PATCH2).exists()
            && !env.metadata().join("carbon-patch-state.json").exists()
    });
    assert!(journal(&env).exists(), "the journal names what it placed");
    let placed = env.plugin_md5(NEW_IN_PATCH2).unwrap();
    std::fs::remove_dir_all(env.patches().join("patch0002")).unwrap();

    let run = env.apply();
    run.code(0)
        .stderr_has("warning: an apply started ")
        .stderr_has("did not finish: finishing it");
    assert_eq!(env.plugin_md5(NEW_IN_PATCH2), None, "not left as foreign");
    assert!(
        !run.stdout.contains(NEW_IN_PATCH2) || !run.stdout.contains("left alone"),
        "reported as foreign:\n{}",
        run.stdout
    );
    let archive = env.metadata().join("archive");
    assert!(
        files(&archive).values().any(|md5| *md5 == placed),
        "archived, not deleted"
    );
    assert_eq!(files(&env.backup()), model.original);
    assert!(
        env.log_messages()
            .iter()
            .any(|m| m.starts_with("an apply started ")
                && m.ends_with("did not finish: finishing it")),
        "patches.log says what happened"
    );
    assert!(!journal(&env).exists());
    env.verify().code(0);
}

#[test]
fn verify_and_status_report_an_interrupted_apply_and_change_nothing() {
    let (env, _, _) = interrupt_when(small_product, "apply", |env| {
        env.backup().exists() && journal(env).exists()
    });
    let before = env.snapshot();
    env.verify()
        .code(1)
        .stdout_has("did not finish: run `carbon-patch apply` to finish it");
    env.cmd("status", &[])
        .code(1)
        .stdout_has("did not finish: run `carbon-patch apply` to finish it");
    assert_same_tree(&before, &env.snapshot(), "verify and status");
}

#[test]
fn a_rollback_after_an_interrupted_apply_undoes_it() {
    let (env, model, _) = interrupt_when(small_product, "apply", |env| {
        env.plugins().join(NEW_IN_PATCH2).exists()
            && !env.metadata().join("carbon-patch-state.json").exists()
    });
    env.rollback()
        .code(0)
        .stderr_has("did not finish: this rollback undoes it");
    assert_eq!(plugin_files(&env), model.original);
    assert!(!journal(&env).exists());
    env.verify().code(0);
}

#[test]
fn an_apply_after_an_interrupted_rollback_finishes_the_rollback_first() {
    // Killed after it moved the first entry aside: the others must not be re-applied.
    let (env, model, _) = interrupt_when(applied_product, "rollback", |env| {
        env.patches().join(".rolled-back").exists()
    });
    let run = env.apply();
    run.code(0)
        .stderr_has("warning: a rollback started ")
        .stderr_has("did not finish: finishing that rollback first");
    assert_eq!(plugin_files(&env), model.original);
    let left: Vec<String> = std::fs::read_dir(env.patches())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("patch") && n != "patch0000")
        .collect();
    assert_eq!(left, Vec::<String>::new(), "every patch was set aside");
    assert!(
        !env.servicepacks().join("servicepack001").exists(),
        "the service pack was set aside"
    );
    assert!(!journal(&env).exists());
    assert_eq!(applied_list(&env), vec!["patch0000"]);
    env.verify().code(0);
}

/// Starts `carbon-patch apply` stopped (SIGSTOP) at its first write, holding the lock.
/// The caller resumes it with [`resume`], which waits for it.
#[allow(clippy::zombie_processes)]
fn stopped_apply(env: &Env) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_carbon-patch"))
        .args(["apply", env.root().to_str().unwrap()])
        .env("CARBON_PATCH_FAULT", "stop@1")
        .env_remove("CARBON_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start carbon-patch");
    // Wait until the kernel reports it stopped (state `T`).
    let stat = format!("/proc/{}/stat", child.id());
    loop {
        let text = std::fs::read_to_string(&stat).expect("the first apply is alive");
        let state = text.rsplit(')').next().unwrap().split_whitespace().next();
        if state == Some("T") {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

fn resume(child: Child) -> std::process::Output {
    // SAFETY: kill only sends SIGCONT to the child started above.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGCONT) };
    child.wait_with_output().expect("wait for carbon-patch")
}

#[test]
fn a_second_apply_while_one_runs_exits_3_naming_the_lock_and_its_holder() {
    let (env, model) = small_product();
    let first = stopped_apply(&env);
    let pid = first.id();
    let before = env.snapshot();

    env.apply()
        .code(3)
        .stderr_has("carbon-patch.lock")
        .stderr_has(&format!("pid {pid}"))
        .stderr_has("hint:");
    assert_same_tree(&before, &env.snapshot(), "the refused run");

    let output = resume(first);
    assert!(output.status.success(), "the first apply finishes");
    assert_eq!(plugin_files(&env), model.desired);
}

#[test]
fn verify_while_an_apply_runs_exits_3_instead_of_reading_a_half_written_tree() {
    let (env, _) = small_product();
    let first = stopped_apply(&env);
    env.verify()
        .code(3)
        .stderr_has("carbon-patch.lock")
        .stderr_has(&format!("pid {}", first.id()));
    assert!(resume(first).status.success());
    env.verify().code(0);
}

#[test]
fn a_patch_file_changed_while_apply_runs_fails_its_verification() {
    // The written copies are vouched for only while their sources are unchanged since they
    // were hashed; a source rewritten between its hashing and its copy is read again, and
    // the mismatch reported. A first apply hashes while it copies the backup, so this is a
    // second apply, which hashes everything before its first write (where it stops).
    let (env, _) = small_product();
    env.apply().code(0);
    let source = env
        .patches()
        .join("patch0003")
        .join(target("org.example.b04"));
    std::fs::write(&source, jar("org.example.b04", "changed before the run")).unwrap();
    let first = stopped_apply(&env);
    std::fs::write(&source, jar("org.example.b04", "changed mid-run")).unwrap();
    let output = resume(first);
    assert_eq!(output.status.code(), Some(1), "verification found problems");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "{}(MD5: {}) has been patched with patch0003, but not applied",
            target("org.example.b04"),
            md5_of("org.example.b04", "changed before the run")
        )),
        "{stdout}"
    );
    // The next apply plans from the new content and puts it right.
    env.apply().code(0);
    env.verify().code(0);
}
