//! `rollback` (SPEC §8): plugins get the backup's content back, what patches added is archived,
//! foreign files stay, every patch and service pack moves to `.rolled-back/`, the metadata says
//! "just patch0000" — and a second rollback, a dry run or a missing backup changes nothing.

use crate::support::*;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

const UI: &str = "org.wso2.carbon.ui_4.4.9.jar";
const REGISTRY: &str = "org.wso2.carbon.registry.core_4.4.9.jar";
const VALIDATOR: &str = "org.wso2.carbon.core.bootup.validator_4.4.9.jar";
const NDATASOURCE: &str = "org.wso2.carbon.ndatasource.core_4.4.9.jar";
const DROPIN: &str = "dropin_1.0.jar";

/// The sample product after a successful apply.
fn applied_sample() -> Env {
    let env = Env::sample();
    env.apply().code(0);
    env
}

/// Asserts that one line of `text` contains every one of `words`.
#[track_caller]
fn has_line_with(text: &str, words: &[&str]) {
    assert!(
        text.lines()
            .any(|line| words.iter().all(|w| line.contains(w))),
        "no line with all of {words:?}\n--- text\n{text}"
    );
}

/// Names of the entries directly in `dir`.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The one archive directory a rollback made (`.metadata/archive/NNNN-rollback`).
#[track_caller]
fn rollback_archive(env: &Env) -> PathBuf {
    let archive = env.metadata().join("archive");
    let dirs: Vec<String> = names_in(&archive)
        .into_iter()
        .filter(|n| n.ends_with("-rollback"))
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "one rollback archive in {}: {dirs:?}",
        archive.display()
    );
    archive.join(&dirs[0])
}

/// Content-only view of a tree, with `extra` files (name -> MD5) added at its top.
fn contents_with(tree: &Path, extra: &[(&str, String)]) -> BTreeMap<PathBuf, String> {
    let mut contents = snapshot(tree).contents();
    for (name, md5) in extra {
        contents.insert(PathBuf::from(name), format!("file {md5}"));
    }
    contents
}

#[test]
fn rollback_gives_every_patched_file_the_backups_content_back() {
    let env = Env::sample();
    let original = env.plugins_snapshot().contents();
    env.apply().code(0);
    assert_ne!(
        env.plugins_snapshot().contents(),
        original,
        "apply changed plugins"
    );
    let dropin = env
        .home
        .add_plugin(DROPIN, b"installed by hand after the apply");
    let dropin_md5 = Env::md5_of(&dropin);

    env.rollback().code(0).stdout_has("plugins match patch0000");

    let plugins = env.plugins_snapshot().contents();
    assert_eq!(
        plugins,
        contents_with(&env.backup(), &[(DROPIN, dropin_md5.clone())]),
        "plugins = patch0000 + the foreign file"
    );
    let mut expected = original;
    expected.insert(PathBuf::from(DROPIN), format!("file {dropin_md5}"));
    assert_eq!(
        plugins, expected,
        "plugins = the plugins before the first apply + the foreign file"
    );
}

#[test]
fn rollback_archives_the_files_patches_added() {
    let env = applied_sample();
    let validator_md5 = env
        .plugin_md5(VALIDATOR)
        .expect("the service pack added the validator");
    let ndatasource_md5 = env
        .plugin_md5(NDATASOURCE)
        .expect("patch0005 added ndatasource");

    let run = env.rollback();
    run.code(0);
    has_line_with(&run.stdout, &["archived", VALIDATOR]);
    has_line_with(&run.stdout, &["archived", NDATASOURCE]);

    assert_eq!(env.plugin_md5(VALIDATOR), None, "taken out of plugins");
    assert_eq!(env.plugin_md5(NDATASOURCE), None, "taken out of plugins");
    let archive = rollback_archive(&env);
    assert_eq!(
        Env::md5_of(&archive.join(VALIDATOR)),
        validator_md5,
        "archived, not deleted"
    );
    assert_eq!(
        Env::md5_of(&archive.join(NDATASOURCE)),
        ndatasource_md5,
        "archived, not deleted"
    );
}

#[test]
fn rollback_leaves_a_foreign_file_untouched() {
    let env = applied_sample();
    env.home
        .add_plugin(DROPIN, b"installed by hand after the apply");
    let before = env.plugins_snapshot().entries[Path::new(DROPIN)].clone();

    env.rollback().code(0).stdout_has(DROPIN);

    let after = env.plugins_snapshot();
    assert_eq!(
        after.entries.get(Path::new(DROPIN)),
        Some(&before),
        "same content, mode, mtime and inode"
    );
    let archive = rollback_archive(&env);
    assert!(
        !archive.join(DROPIN).exists(),
        "a foreign file is not archived"
    );
}

#[test]
fn rollback_moves_every_patch_and_service_pack_to_rolled_back() {
    let env = applied_sample();
    let patch0003_md5 = Env::md5_of(&env.patches().join("patch0003/registry-core-fix.jar"));
    let pack_validator_md5 = Env::md5_of(
        &env.servicepacks()
            .join("servicepack001/lib")
            .join(VALIDATOR),
    );

    let run = env.rollback();
    run.code(0);
    has_line_with(
        &run.stdout,
        &["moved", "patches/patch0003", ".rolled-back/patch0003"],
    );
    has_line_with(
        &run.stdout,
        &[
            "moved",
            "servicepacks/servicepack001",
            ".rolled-back/servicepack001",
        ],
    );

    let hidden_patches = env.patches().join(".rolled-back");
    assert_eq!(
        names_in(&hidden_patches),
        [
            "patch0001",
            "patch0002",
            "patch0003",
            "patch0004",
            "patch0005"
        ]
    );
    assert_eq!(
        Env::md5_of(&hidden_patches.join("patch0003/registry-core-fix.jar")),
        patch0003_md5,
        "moved whole"
    );
    let hidden_packs = env.servicepacks().join(".rolled-back");
    assert_eq!(names_in(&hidden_packs), ["servicepack001"]);
    assert_eq!(
        Env::md5_of(&hidden_packs.join("servicepack001/lib").join(VALIDATOR)),
        pack_validator_md5,
        "moved whole"
    );
    assert!(
        hidden_packs
            .join("servicepack001/servicepack_patches.txt")
            .is_file()
    );

    let patch_dirs: Vec<String> = names_in(&env.patches())
        .into_iter()
        .filter(|n| n.starts_with("patch"))
        .collect();
    assert_eq!(
        patch_dirs,
        ["patch0000"],
        "only the backup stays where the runtime looks"
    );
    let pack_dirs: Vec<String> = names_in(&env.servicepacks())
        .into_iter()
        .filter(|n| n.starts_with("servicepack"))
        .collect();
    assert!(
        pack_dirs.is_empty(),
        "no service pack left where the runtime looks: {pack_dirs:?}"
    );
}

#[test]
fn rollback_records_just_patch0000_and_an_empty_jar_list() {
    let env = applied_sample();

    env.rollback().code(0);

    for list in [
        "repository/components/patches/.metadata/prePatchedDir.txt",
        "repository/components/default/configuration/prePatched.txt",
    ] {
        let text = env.read(list).unwrap_or_else(|| panic!("{list} exists"));
        assert_eq!(text.lines().collect::<Vec<_>>(), ["patch0000"], "{list}");
    }
    assert_eq!(
        env.read("repository/components/patches/.metadata/prePatchedJARs.txt")
            .as_deref(),
        Some("")
    );
}

#[test]
fn after_rollback_verify_passes_and_apply_finds_nothing_to_do() {
    let env = applied_sample();
    env.rollback().code(0);

    env.verify().code(0).stdout_has("verification: passed");

    let plugins = env.plugins_snapshot();
    env.apply().code(0).stdout_has("nothing written");
    assert_eq!(
        env.plugins_snapshot(),
        plugins,
        "apply wrote nothing into plugins"
    );
}

#[test]
fn a_second_rollback_is_a_clean_noop() {
    let env = applied_sample();
    env.rollback().code(0);
    let before = env.snapshot();

    env.rollback().code(0).stdout_has("nothing to roll back");

    assert_eq!(
        env.snapshot(),
        before,
        "content, mode, mtime and inode of every entry"
    );
}

#[test]
fn rollback_dry_run_changes_nothing_and_lists_the_plan() {
    let env = applied_sample();
    let before = env.snapshot();

    let run = env.cmd("rollback", &["--dry-run"]);
    run.code(0);

    assert_eq!(
        env.snapshot(),
        before,
        "content, mode, mtime and inode of every entry"
    );
    for restored in [
        UI,
        REGISTRY,
        "org.wso2.carbon.core_4.4.9.jar",
        "org.wso2.carbon.utils_4.4.9.jar",
    ] {
        has_line_with(&run.stdout, &["restore", restored]);
    }
    has_line_with(&run.stdout, &["archive", VALIDATOR]);
    has_line_with(&run.stdout, &["archive", NDATASOURCE]);
    for entry in [
        "patches/patch0003",
        "patches/patch0004",
        "patches/patch0005",
        "servicepacks/servicepack001",
    ] {
        has_line_with(&run.stdout, &["move", entry]);
    }
    assert!(
        !run.stdout.contains("patches/patch0000"),
        "the backup is not moved:\n{}",
        run.stdout
    );
}

#[test]
fn rollback_without_a_backup_refuses_and_changes_nothing() {
    let env = Env::sample();
    let before = env.snapshot();

    env.rollback()
        .code(2)
        .stderr_has("patch0000")
        .stderr_has("error: ");

    assert_eq!(
        env.snapshot(),
        before,
        "content, mode, mtime and inode of every entry"
    );
}

#[test]
fn a_patch_brought_back_from_rolled_back_is_applied_again() {
    let env = applied_sample();
    env.rollback().code(0);
    fs::rename(
        env.patches().join(".rolled-back/patch0003"),
        env.patches().join("patch0003"),
    )
    .unwrap();

    env.apply()
        .code(0)
        .stdout_has("New patch available - patch0003");

    assert_eq!(
        env.plugin_md5(REGISTRY),
        Some(Env::md5_of(
            &env.patches().join("patch0003/registry-core-fix.jar")
        ))
    );
    assert_eq!(
        env.plugin_md5(UI),
        Some(Env::md5_of(&env.backup().join(UI))),
        "patch0004 stays rolled back"
    );
    assert_eq!(
        env.plugin_md5(NDATASOURCE),
        None,
        "patch0005 stays rolled back"
    );
    env.verify().code(0);
    let applied = env
        .read("repository/components/patches/.metadata/prePatchedDir.txt")
        .unwrap();
    assert_eq!(
        applied.lines().collect::<Vec<_>>(),
        ["patch0000", "patch0003"]
    );
}

/// Where `syncfs` does not report writeback errors (Linux before 5.8), every file of a batch
/// is confirmed with its own `fsync`: `CARBON_PATCH_FLUSH=each` takes that way here.
#[test]
fn apply_and_rollback_confirming_each_file_give_the_same_trees() {
    let each = [("CARBON_PATCH_FLUSH", "each")];
    let env = Env::sample();
    let original = env.plugins_snapshot().contents();
    let home = env.home_str();
    let run = |command: &str| env.run_with(&[command, &home], None, &each, &[]);
    run("apply").code(0);
    let reference = applied_sample();
    assert_eq!(
        env.plugins_snapshot().contents(),
        reference.plugins_snapshot().contents(),
        "plugins as a default apply leaves them"
    );
    assert_eq!(
        snapshot(&env.backup()).contents(),
        original,
        "patch0000 = the plugins before the apply"
    );
    run("verify").code(0);
    run("rollback")
        .code(0)
        .stdout_has("plugins match patch0000");
    assert_eq!(env.plugins_snapshot().contents(), original);
}
