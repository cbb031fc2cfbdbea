//! `verify` (SPEC §7): exit 0 only on a tree at its patch level, every problem named in the
//! runtime's words, and never a write — the whole home is byte- and time-identical afterwards,
//! even when it is read-only.

use crate::support::*;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use carbon_fixtures::EntryKind;

const UI: &str = "org.wso2.carbon.ui_4.4.9.jar";
const UTILS: &str = "org.wso2.carbon.utils_4.4.9.jar";
const NDATASOURCE: &str = "org.wso2.carbon.ndatasource.core_4.4.9.jar";

/// The sample product after a successful apply.
fn applied_sample() -> Env {
    let env = Env::sample();
    env.apply().code(0);
    env
}

/// The problem lines of a failed verify: the indented lines after `verification: FAILED, N
/// problem(s)`, checked against N.
#[track_caller]
fn problems(run: &Run) -> Vec<String> {
    let mut lines = run.stdout.lines();
    let header = lines
        .by_ref()
        .find(|l| l.starts_with("verification: FAILED, "))
        .unwrap_or_else(|| panic!("no FAILED header\n--- stdout\n{}", run.stdout));
    let count: usize = header
        .trim_start_matches("verification: FAILED, ")
        .trim_end_matches(" problem(s)")
        .parse()
        .unwrap_or_else(|_| panic!("unexpected header {header:?}"));
    let found: Vec<String> = lines
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim_start().to_string())
        .collect();
    assert_eq!(
        found.len(),
        count,
        "header count vs listed problems\n--- stdout\n{}",
        run.stdout
    );
    found
}

/// The runtime's line for a bundle whose plugins copy is not its provider's.
fn not_applied(bundle: &str, provider: &Path, entry: &str) -> String {
    format!(
        "{bundle}(MD5: {}) has been patched with {entry}, but not applied",
        Env::md5_of(provider)
    )
}

fn patch0004_ui(env: &Env) -> PathBuf {
    env.patches().join("patch0004").join(UI)
}

#[test]
fn verify_passes_on_a_correctly_patched_tree() {
    let env = applied_sample();
    env.verify()
        .code(0)
        .stdout_has("verification: passed (8 bundles match; backup and metadata agree)");
}

#[test]
fn verify_names_an_altered_plugin_jar_in_the_runtimes_words() {
    let env = applied_sample();
    env.home.add_plugin(
        UI,
        &bundle_jar("org.wso2.carbon.ui;singleton:=true", "4.4.9", "tampered"),
    );

    let run = env.verify();
    run.code(1);
    assert_eq!(
        problems(&run),
        vec![not_applied(UI, &patch0004_ui(&env), "patch0004")]
    );
    // The exact wording the runtime's log checks look for: no space before `(`, one after `MD5:`.
    run.stdout_has(&format!(
        "org.wso2.carbon.ui_4.4.9.jar(MD5: {}) has been patched with patch0004, but not applied",
        Env::md5_of(&patch0004_ui(&env))
    ));
}

#[test]
fn verify_names_a_deleted_plugin_jar() {
    let env = applied_sample();
    fs::remove_file(env.plugins().join(UI)).unwrap();

    let run = env.verify();
    run.code(1);
    assert_eq!(
        problems(&run),
        vec![not_applied(UI, &patch0004_ui(&env), "patch0004")]
    );
}

#[test]
fn verify_reports_a_patch_added_after_apply_as_pending_with_its_bundle() {
    let env = applied_sample();
    let added = env.home.add_patch_file(
        "patch0006",
        UTILS,
        &bundle_jar("org.wso2.carbon.utils", "4.4.9", "patch0006"),
    );

    let run = env.verify();
    run.code(1);
    let found = problems(&run);
    assert!(
        found.contains(&"patch0006 is pending: it has not been applied".to_string()),
        "{found:#?}"
    );
    assert!(
        found.contains(&not_applied(UTILS, &added, "patch0006")),
        "{found:#?}"
    );
    assert_eq!(
        found.len(),
        2,
        "only the pending patch and its bundle: {found:#?}"
    );
}

#[test]
fn verify_reports_an_applied_patch_whose_directory_is_gone() {
    let env = applied_sample();
    fs::remove_dir_all(env.patches().join("patch0005")).unwrap();

    let run = env.verify();
    run.code(1);
    let found = problems(&run);
    assert!(
        found.contains(&"patch0005 was applied, but its directory is gone".to_string()),
        "{found:#?}"
    );
    // The bundle it added is still in plugins: the runtime misses that, we must not (SPEC §13).
    assert!(found.iter().any(|p| p.contains(NDATASOURCE)), "{found:#?}");
}

#[test]
fn verify_reports_a_missing_backup() {
    let env = applied_sample();
    fs::remove_dir_all(env.backup()).unwrap();

    let run = env.verify();
    run.code(1);
    assert_eq!(
        problems(&run),
        vec!["the backup `repository/components/patches/patch0000` is missing".to_string()]
    );
}

#[test]
fn verify_reports_an_incomplete_backup_naming_the_missing_file() {
    let env = applied_sample();
    fs::remove_file(env.backup().join("log4j_1.2.17.jar")).unwrap();

    let run = env.verify();
    run.code(1);
    assert_eq!(
        problems(&run),
        vec!["the backup is incomplete: `log4j_1.2.17.jar` is missing".to_string()]
    );
}

#[test]
fn verify_before_any_apply_reports_pending_entries_and_the_missing_backup() {
    let env = Env::sample();

    let run = env.verify();
    run.code(1);
    let found = problems(&run);
    assert!(
        found.iter().any(|p| p.starts_with("the backup ")
            && p.contains("patch0000")
            && p.ends_with("is missing")),
        "{found:#?}"
    );
    for entry in ["servicepack001", "patch0003", "patch0004", "patch0005"] {
        assert!(
            found.contains(&format!("{entry} is pending: it has not been applied")),
            "{entry}: {found:#?}"
        );
    }
    for covered in ["patch0001", "patch0002"] {
        assert!(
            !found.iter().any(|p| p.starts_with(covered)),
            "{covered} is inside the service pack: {found:#?}"
        );
    }
    assert!(
        found.contains(&not_applied(UI, &patch0004_ui(&env), "patch0004")),
        "{found:#?}"
    );
    assert!(!env.backup().exists(), "verify must not make the backup");
}

#[test]
fn verify_changes_nothing_on_a_good_tree() {
    let env = applied_sample();
    let before = env.snapshot();

    env.verify().code(0);

    assert_eq!(
        env.snapshot(),
        before,
        "content, mode, mtime and inode of every entry"
    );
}

#[test]
fn verify_changes_nothing_on_a_broken_tree() {
    let env = applied_sample();
    env.home.add_plugin(UI, b"not the patched ui");
    env.home.add_patch_file(
        "patch0006",
        UTILS,
        &bundle_jar("org.wso2.carbon.utils", "4.4.9", "patch0006"),
    );
    fs::remove_dir_all(env.patches().join("patch0005")).unwrap();
    fs::remove_file(env.backup().join("log4j_1.2.17.jar")).unwrap();
    let before = env.snapshot();

    env.verify().code(1);

    assert_eq!(
        env.snapshot(),
        before,
        "content, mode, mtime and inode of every entry"
    );
}

#[test]
fn verify_changes_nothing_on_a_fresh_tree() {
    let env = Env::sample();
    let before = env.snapshot();

    env.verify().code(1);

    assert_eq!(
        env.snapshot(),
        before,
        "no backup, no metadata, no lock, no log may appear"
    );
}

/// Takes write permission off every entry of a home; gives the original modes back when
/// dropped (even after a failed assertion), so the temp dir can be removed.
struct ReadOnly {
    root: PathBuf,
    original: Snapshot,
}

impl ReadOnly {
    fn make(env: &Env) -> ReadOnly {
        let original = env.snapshot();
        let root = env.root().to_path_buf();
        // Files first, directories last, the home itself at the very end.
        for (path, info) in original.entries.iter().rev() {
            if info.kind == EntryKind::Symlink {
                continue;
            }
            let mode = info.mode & 0o7777 & !0o222;
            fs::set_permissions(root.join(path), fs::Permissions::from_mode(mode)).unwrap();
        }
        ReadOnly { root, original }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        for (path, info) in &self.original.entries {
            if info.kind != EntryKind::Symlink {
                let _ = fs::set_permissions(
                    self.root.join(path),
                    fs::Permissions::from_mode(info.mode & 0o7777),
                );
            }
        }
    }
}

#[test]
fn verify_passes_on_a_read_only_tree_and_writes_nothing() {
    let env = applied_sample();
    let _read_only = ReadOnly::make(&env);
    let before = env.snapshot();

    let run = env.verify();
    run.code(0);
    assert!(
        run.stderr.is_empty(),
        "no diagnostics on a good read-only tree: {}",
        run.stderr
    );

    assert_eq!(env.snapshot(), before);
}

#[test]
fn verify_reports_problems_on_a_read_only_tree_and_writes_nothing() {
    let env = applied_sample();
    fs::remove_file(env.plugins().join(UI)).unwrap();
    let _read_only = ReadOnly::make(&env);
    let before = env.snapshot();

    let run = env.verify();
    run.code(1);
    assert_eq!(
        problems(&run),
        vec![not_applied(UI, &patch0004_ui(&env), "patch0004")]
    );

    assert_eq!(env.snapshot(), before);
}
