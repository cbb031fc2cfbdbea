//! `apply` (SPEC §5–§6): the first apply backs up and patches, a re-run writes nothing, and
//! every later change (a patch or service pack added, changed, swapped or removed) is
//! noticed and handled, touching only the files it concerns.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::*;

/// Every file named `name` anywhere under the archive, with the MD5 of its content.
fn archived(env: &Env, name: &str) -> Vec<(PathBuf, String)> {
    let archive = env.metadata().join("archive");
    snapshot(&archive)
        .entries
        .into_iter()
        .filter(|(path, info)| {
            path.file_name().is_some_and(|n| n == name) && info.kind.as_str() == "file"
        })
        .map(|(path, info)| (archive.join(path), info.digest))
        .collect()
}

/// The names of the files directly in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Asserts every entry of `before` except `changed` (and the directory itself, whose mtime
/// a rename moves) is still there with the same inode, mtime and content: not rewritten.
#[track_caller]
fn assert_untouched_except(before: &Snapshot, after: &Snapshot, changed: &[&str]) {
    for (path, old) in &before.entries {
        if path.as_os_str().is_empty() || changed.iter().any(|c| path == Path::new(c)) {
            continue;
        }
        let new = after
            .entries
            .get(path)
            .unwrap_or_else(|| panic!("{} disappeared", path.display()));
        assert_eq!(
            (new.inode, new.mtime_ns, &new.digest),
            (old.inode, old.mtime_ns, &old.digest),
            "{} was rewritten though nothing about it changed",
            path.display()
        );
    }
}

/// The sample's plugin MD5s after a first apply: the original plugins overlaid with
/// servicepack001, then patch0003, patch0004, patch0005 (patch0001 and 0002 skipped).
fn sample_expected_plugins(original: &Snapshot) -> BTreeMap<PathBuf, String> {
    let mut expected: BTreeMap<PathBuf, String> = original
        .entries
        .iter()
        .filter(|(path, _)| !path.as_os_str().is_empty())
        .map(|(path, info)| (path.clone(), info.digest.clone()))
        .collect();
    let overlay: [(&str, &str, &str); 8] = [
        ("org.wso2.carbon.user.core", "4.4.9", "servicepack001"),
        ("org.apache.axis2.wso2", "1.6.1.wso2v20", "servicepack001"),
        ("org.wso2.carbon.utils", "4.4.9", "servicepack001"),
        (
            "org.wso2.carbon.core.bootup.validator",
            "4.4.9",
            "servicepack001",
        ),
        ("org.wso2.carbon.registry.core", "4.4.9", "patch0003"),
        ("org.wso2.carbon.ui;singleton:=true", "4.4.9", "patch0004"),
        ("org.wso2.carbon.core", "4.4.9", "patch0004"),
        ("org.wso2.carbon.ndatasource.core", "4.4.9", "patch0005"),
    ];
    for (bsn, version, variant) in overlay {
        let bare = bsn.split(';').next().unwrap();
        expected.insert(
            PathBuf::from(format!("{bare}_{version}.jar")),
            md5_hex(&bundle_jar(bsn, version, variant)),
        );
    }
    expected
}

/// Content-only view of the files in a snapshot: relative path -> MD5.
fn file_md5s(snapshot: &Snapshot) -> BTreeMap<PathBuf, String> {
    snapshot
        .entries
        .iter()
        .filter(|(_, info)| info.kind.as_str() == "file")
        .map(|(path, info)| (path.clone(), info.digest.clone()))
        .collect()
}

#[test]
fn first_apply_backs_up_plugins_whole_then_applies_the_pack_then_the_patches() {
    let env = Env::sample();
    let original = env.plugins_snapshot();
    assert!(!env.backup().exists());

    let run = env.apply();
    run.code(0)
        .stdout_has("backup: created patch0000 from plugins\n")
        .stdout_has("8 written, 0 restored, 0 archived, 0 unchanged\n")
        .stdout_has("verification: passed (8 bundles)\n");

    assert_eq!(
        snapshot(&env.backup()).contents(),
        original.contents(),
        "patch0000 must be a whole copy of the original plugins"
    );
    assert_eq!(
        file_md5s(&env.plugins_snapshot()),
        sample_expected_plugins(&original)
    );
    // The providers' files themselves, for the bundles whose source name differs.
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.registry.core_4.4.9.jar"),
        Some(Env::md5_of(
            &env.patches().join("patch0003/registry-core-fix.jar")
        ))
    );
    assert_eq!(
        applied_list(&env),
        [
            "servicepack001",
            "patch0000",
            "patch0003",
            "patch0004",
            "patch0005"
        ]
    );
    env.verify().code(0);
}

#[test]
fn first_apply_logs_the_pack_before_the_patches() {
    let env = Env::sample();
    env.apply().code(0);
    let log = env.log_messages();
    let position = |message: &str| {
        log.iter()
            .position(|m| m == message)
            .unwrap_or_else(|| panic!("{message:?} not logged: {log:#?}"))
    };
    let backup = position("Backed up plugins to patch0000");
    let pack = position("Start applying - servicepack001");
    let p3 = position("Applying - patch0003");
    let p4 = position("Applying - patch0004");
    let p5 = position("Applying - patch0005");
    assert!(backup < pack && pack < p3 && p3 < p4 && p4 < p5, "{log:#?}");
}

#[test]
fn rerun_with_no_change_writes_nothing_into_plugins_or_the_backup() {
    let env = Env::sample();
    env.apply().code(0);
    let plugins_before = env.plugins_snapshot();
    let backup_before = snapshot(&env.backup());

    env.apply()
        .code(0)
        .stdout_has("backup: patch0000 exists\n")
        .stdout_has("nothing written: plugins already match the patch level (8 bundles)\n")
        .stdout_has("verification: passed (8 bundles)\n");

    // Whole snapshots: every entry's inode, mtime, mode and content, plugins' own mtime too.
    assert_eq!(env.plugins_snapshot(), plugins_before);
    assert_eq!(snapshot(&env.backup()), backup_before);
    assert!(
        !env.metadata().join("archive").exists(),
        "nothing was archived"
    );
}

#[test]
fn adding_a_patch_writes_only_its_files() {
    let env = Env::sample();
    env.apply().code(0);
    let before = env.plugins_snapshot();
    let backup_before = snapshot(&env.backup());
    env.home.add_patch_file(
        "patch0006",
        "org.wso2.carbon.logging_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.logging", "4.4.9", "patch0006"),
    );
    env.home.add_patch_file(
        "patch0006",
        "org.wso2.carbon.extra_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.extra", "4.4.9", "patch0006"),
    );

    env.apply()
        .code(0)
        .stdout_has("change: New patch available - patch0006\n")
        .stdout_has("wrote    org.wso2.carbon.logging_4.4.9.jar  from patch0006 ")
        .stdout_has("wrote    org.wso2.carbon.extra_4.4.9.jar  from patch0006 (MD5 absent -> ")
        .stdout_has("2 written, 0 restored, 0 archived, 8 unchanged\n");

    let after = env.plugins_snapshot();
    assert_untouched_except(&before, &after, &["org.wso2.carbon.logging_4.4.9.jar"]);
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.logging_4.4.9.jar"),
        Some(md5_hex(&bundle_jar(
            "org.wso2.carbon.logging",
            "4.4.9",
            "patch0006"
        )))
    );
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.extra_4.4.9.jar"),
        Some(md5_hex(&bundle_jar(
            "org.wso2.carbon.extra",
            "4.4.9",
            "patch0006"
        )))
    );
    assert_eq!(
        snapshot(&env.backup()),
        backup_before,
        "the backup is made once"
    );
    assert!(applied_list(&env).contains(&"patch0006".to_string()));
    env.verify().code(0);
}

#[test]
fn removing_patches_restores_what_they_replaced_and_archives_what_they_added() {
    let env = Env::sample();
    env.apply().code(0);
    let registry = "org.wso2.carbon.registry.core_4.4.9.jar";
    let ndatasource = "org.wso2.carbon.ndatasource.core_4.4.9.jar";
    let added_md5 = env.plugin_md5(ndatasource).unwrap();
    let before = env.plugins_snapshot();
    std::fs::remove_dir_all(env.patches().join("patch0003")).unwrap();
    std::fs::remove_dir_all(env.patches().join("patch0005")).unwrap();

    env.apply()
        .code(0)
        .stdout_has("change: patch0003 has been reverted\n")
        .stdout_has("change: patch0005 has been reverted\n")
        .stdout_has(&format!("restored {registry}  from the backup"))
        .stdout_has(&format!(
            "archived {ndatasource}  -> repository/components/patches/.metadata/archive/"
        ))
        .stdout_has("0 written, 1 restored, 1 archived, ");

    assert_eq!(
        env.plugin_md5(registry),
        Some(Env::md5_of(&env.backup().join(registry))),
        "the replaced bundle gets the backup's version back"
    );
    assert_eq!(
        env.plugin_md5(registry),
        Some(md5_hex(&bundle_jar(
            "org.wso2.carbon.registry.core",
            "4.4.9",
            "base"
        )))
    );
    assert_eq!(
        env.plugin_md5(ndatasource),
        None,
        "the added bundle is taken out"
    );
    let copies = archived(&env, ndatasource);
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(copies[0].1, added_md5, "the archive holds the patch's file");
    assert!(copies[0].0.starts_with(env.metadata().join("archive")));
    assert_untouched_except(&before, &env.plugins_snapshot(), &[registry, ndatasource]);
    assert_eq!(
        applied_list(&env),
        ["servicepack001", "patch0000", "patch0004"]
    );
    env.verify().code(0);
}

#[test]
fn removing_a_patch_gives_back_the_earlier_provider_where_there_is_one() {
    let env = Env::sample();
    env.apply().code(0);
    std::fs::remove_dir_all(env.patches().join("patch0004")).unwrap();

    env.apply()
        .code(0)
        .stdout_has("change: patch0004 has been reverted\n");
    // core was patch0004's over the service pack's: the service pack's comes back.
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.core_4.4.9.jar"),
        Some(md5_hex(&bundle_jar(
            "org.wso2.carbon.core",
            "4.4.9",
            "servicepack001"
        )))
    );
    // ui came from patch0004 alone: the backup's comes back.
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.ui_4.4.9.jar"),
        Some(md5_hex(&bundle_jar(
            "org.wso2.carbon.ui;singleton:=true",
            "4.4.9",
            "base"
        )))
    );
    env.verify().code(0);
}

#[test]
fn a_patch_jar_changed_in_place_is_rewritten() {
    let env = Env::sample();
    env.apply().code(0);
    let before = env.plugins_snapshot();
    let ndatasource = "org.wso2.carbon.ndatasource.core_4.4.9.jar";
    let new = bundle_jar("org.wso2.carbon.ndatasource.core", "4.4.9", "patch0005-v2");
    env.home.add_patch_file("patch0005", ndatasource, &new);

    env.apply()
        .code(0)
        .stdout_has(&format!("change: {ndatasource} has been updated\n"))
        .stdout_has(&format!(
            "wrote    {ndatasource}  from patch0005 (MD5 unread, size differs -> {})",
            md5_hex(&new)
        ))
        .stdout_has("1 written, 0 restored, 0 archived, 7 unchanged\n");
    assert_eq!(env.plugin_md5(ndatasource), Some(md5_hex(&new)));
    assert_untouched_except(&before, &env.plugins_snapshot(), &[ndatasource]);
    env.verify().code(0);
}

#[test]
fn a_jar_added_to_an_applied_patch_lands() {
    let env = Env::sample();
    env.apply().code(0);
    let before = env.plugins_snapshot();
    // Under a file name that is not its bundle name: it lands under the bundle name.
    let added = bundle_jar("org.wso2.carbon.registry.api", "4.4.9", "patch0003");
    env.home
        .add_patch_file("patch0003", "registry-api-fix.jar", &added);

    env.apply()
        .code(0)
        .stdout_has("change: org.wso2.carbon.registry.api_4.4.9.jar has been added\n")
        .stdout_has("wrote    org.wso2.carbon.registry.api_4.4.9.jar  from patch0003 ")
        .stdout_has("1 written, 0 restored, 0 archived, 8 unchanged\n");
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.registry.api_4.4.9.jar"),
        Some(md5_hex(&added))
    );
    assert_eq!(env.plugin_md5("registry-api-fix.jar"), None);
    assert_untouched_except(
        &before,
        &env.plugins_snapshot(),
        &["org.wso2.carbon.registry.api_4.4.9.jar"],
    );
    env.verify().code(0);
}

#[test]
fn a_jar_deleted_from_an_applied_patch_is_undone() {
    let env = Env::sample();
    env.apply().code(0);
    let ui = "org.wso2.carbon.ui_4.4.9.jar";
    let ndatasource = "org.wso2.carbon.ndatasource.core_4.4.9.jar";
    let added_md5 = env.plugin_md5(ndatasource).unwrap();
    let before = env.plugins_snapshot();
    // patch0004 keeps core but loses ui; patch0005 stays, empty.
    std::fs::remove_file(env.patches().join("patch0004").join(ui)).unwrap();
    std::fs::remove_file(env.patches().join("patch0005").join(ndatasource)).unwrap();

    env.apply()
        .code(0)
        .stdout_has(&format!("change: {ui} has been removed\n"))
        .stdout_has(&format!("change: {ndatasource} has been removed\n"))
        .stdout_has(&format!("restored {ui}  from the backup"))
        .stdout_has(&format!("archived {ndatasource}  -> "))
        .stdout_has("0 written, 1 restored, 1 archived, ");

    assert_eq!(
        env.plugin_md5(ui),
        Some(Env::md5_of(&env.backup().join(ui))),
        "the replaced bundle gets the backup's version back"
    );
    assert_eq!(env.plugin_md5(ndatasource), None);
    let copies = archived(&env, ndatasource);
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(copies[0].1, added_md5);
    assert_untouched_except(&before, &env.plugins_snapshot(), &[ui, ndatasource]);
    env.verify().code(0);
}

#[test]
fn a_service_pack_added_later_is_applied_under_the_patches() {
    let env = home_with_plugins(&["org.foo.a", "org.foo.b", "org.foo.c"]);
    env.home.add_patch_file(
        "patch0001",
        &target("org.foo.b"),
        &jar("org.foo.b", "patch0001"),
    );
    env.apply().code(0);
    let before = env.plugins_snapshot();

    env.home.add_service_pack("servicepack001", &[]);
    for bsn in ["org.foo.a", "org.foo.b", "org.foo.new"] {
        env.home
            .add_service_pack_file("servicepack001", &target(bsn), &jar(bsn, "servicepack001"));
    }
    env.apply()
        .code(0)
        .stdout_has("apply order: servicepack001, patch0001\n")
        .stdout_has("change: New service pack available - servicepack001\n")
        .stdout_has("2 written, 0 restored, 0 archived, 1 unchanged\n");

    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "servicepack001"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.new")),
        Some(md5_of("org.foo.new", "servicepack001"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.b")),
        Some(md5_of("org.foo.b", "patch0001")),
        "the patch still wins over the pack"
    );
    assert_untouched_except(&before, &env.plugins_snapshot(), &[&target("org.foo.a")]);
    assert_eq!(
        applied_list(&env),
        ["servicepack001", "patch0000", "patch0001"]
    );
    env.verify().code(0);
}

#[test]
fn a_service_pack_swapped_for_a_newer_one_archives_what_only_the_old_one_added() {
    let env = home_with_plugins(&["org.foo.a", "org.foo.b", "org.foo.c"]);
    env.home.add_service_pack("servicepack001", &[]);
    for bsn in ["org.foo.a", "org.foo.b", "org.foo.only001"] {
        env.home
            .add_service_pack_file("servicepack001", &target(bsn), &jar(bsn, "servicepack001"));
    }
    env.apply().code(0);
    assert!(env.plugin_md5(&target("org.foo.only001")).is_some());
    let before = env.plugins_snapshot();

    std::fs::remove_dir_all(env.servicepacks().join("servicepack001")).unwrap();
    env.home.add_service_pack("servicepack002", &[]);
    for bsn in ["org.foo.a", "org.foo.only002"] {
        env.home
            .add_service_pack_file("servicepack002", &target(bsn), &jar(bsn, "servicepack002"));
    }
    env.apply()
        .code(0)
        .stdout_has("apply order: servicepack002\n")
        .stdout_has("change: servicepack001 has been reverted\n")
        .stdout_has("change: New service pack available - servicepack002\n")
        .stdout_has("2 written, 1 restored, 1 archived, 0 unchanged\n");

    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "servicepack002"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.only002")),
        Some(md5_of("org.foo.only002", "servicepack002"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.b")),
        Some(md5_of("org.foo.b", "base")),
        "what only the old pack replaced comes back from the backup"
    );
    assert_eq!(env.plugin_md5(&target("org.foo.only001")), None);
    let copies = archived(&env, &target("org.foo.only001"));
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(copies[0].1, md5_of("org.foo.only001", "servicepack001"));
    assert_untouched_except(
        &before,
        &env.plugins_snapshot(),
        &[
            &target("org.foo.a"),
            &target("org.foo.b"),
            &target("org.foo.only001"),
        ],
    );
    assert_eq!(applied_list(&env), ["servicepack002", "patch0000"]);
    env.verify().code(0);
}

#[test]
fn a_newer_service_pack_beside_the_old_one_replaces_it() {
    let env = home_with_plugins(&["org.foo.a", "org.foo.b"]);
    env.home.add_service_pack("servicepack001", &[]);
    for bsn in ["org.foo.a", "org.foo.b", "org.foo.only001"] {
        env.home
            .add_service_pack_file("servicepack001", &target(bsn), &jar(bsn, "servicepack001"));
    }
    env.apply().code(0);

    // The old pack stays on disk, as operators often leave it; only the latest applies.
    env.home.add_service_pack("servicepack002", &[]);
    env.home.add_service_pack_file(
        "servicepack002",
        &target("org.foo.a"),
        &jar("org.foo.a", "servicepack002"),
    );
    env.apply()
        .code(0)
        .stdout_has("change: servicepack001 has been reverted\n")
        .stdout_has("change: New service pack available - servicepack002\n");

    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "servicepack002"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.b")),
        Some(md5_of("org.foo.b", "base"))
    );
    assert_eq!(env.plugin_md5(&target("org.foo.only001")), None);
    assert_eq!(
        archived(&env, &target("org.foo.only001"))
            .into_iter()
            .map(|(_, md5)| md5)
            .collect::<Vec<_>>(),
        [md5_of("org.foo.only001", "servicepack001")]
    );
    assert_eq!(applied_list(&env), ["servicepack002", "patch0000"]);
    env.verify().code(0);
}

#[test]
fn removing_the_service_pack_restores_and_archives_its_files() {
    let env = home_with_plugins(&["org.foo.a", "org.foo.b"]);
    env.home.add_service_pack("servicepack001", &[]);
    for bsn in ["org.foo.a", "org.foo.new"] {
        env.home
            .add_service_pack_file("servicepack001", &target(bsn), &jar(bsn, "servicepack001"));
    }
    env.apply().code(0);
    let before = env.plugins_snapshot();

    std::fs::remove_dir_all(env.servicepacks().join("servicepack001")).unwrap();
    env.apply()
        .code(0)
        .stdout_has("apply order: (no service pack or patch)\n")
        .stdout_has("change: servicepack001 has been reverted\n")
        .stdout_has("0 written, 1 restored, 1 archived, 0 unchanged\n");

    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "base"))
    );
    assert_eq!(env.plugin_md5(&target("org.foo.new")), None);
    let copies = archived(&env, &target("org.foo.new"));
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(copies[0].1, md5_of("org.foo.new", "servicepack001"));
    assert_untouched_except(
        &before,
        &env.plugins_snapshot(),
        &[&target("org.foo.a"), &target("org.foo.new")],
    );
    assert_eq!(
        file_md5s(&env.plugins_snapshot()),
        file_md5s(&snapshot(&env.backup())),
        "with nothing left to apply, plugins equal the backup"
    );
    assert_eq!(applied_list(&env), ["patch0000"]);
    env.verify().code(0);
}

#[test]
fn removing_the_service_pack_brings_back_the_patches_it_covered() {
    let env = Env::sample();
    env.apply().code(0);
    std::fs::remove_dir_all(env.servicepacks().join("servicepack001")).unwrap();

    env.apply()
        .code(0)
        .stdout_has("apply order: patch0001, patch0002, patch0003, patch0004, patch0005\n");
    // No longer inside a service pack, patch0001 and patch0002 apply again.
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.user.core_4.4.9.jar"),
        Some(Env::md5_of(
            &env.patches()
                .join("patch0001/org.wso2.carbon.user.core_4.4.9.jar")
        ))
    );
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.utils_4.4.9.jar"),
        Some(Env::md5_of(
            &env.patches()
                .join("patch0002/org.wso2.carbon.utils_4.4.9.jar")
        ))
    );
    // What only the pack added is taken out; core stays patch0004's.
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.core.bootup.validator_4.4.9.jar"),
        None
    );
    assert_eq!(
        archived(&env, "org.wso2.carbon.core.bootup.validator_4.4.9.jar").len(),
        1
    );
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.core_4.4.9.jar"),
        Some(md5_hex(&bundle_jar(
            "org.wso2.carbon.core",
            "4.4.9",
            "patch0004"
        )))
    );
    env.verify().code(0);
}

#[test]
fn dry_run_changes_nothing_and_prints_the_plan() {
    let env = Env::sample();
    let before = env.snapshot();

    let run = env.cmd("apply", &["--dry-run"]);
    run.code(0)
        .stdout_has("apply --dry-run (nothing changed):")
        .stdout_has("backup: would create patch0000 from plugins\n")
        .stdout_has("8 to be written, 0 to be restored, 0 to be archived, 0 unchanged\n");
    for (name, entry) in [
        ("org.apache.axis2.wso2_1.6.1.wso2v20.jar", "servicepack001"),
        (
            "org.wso2.carbon.core.bootup.validator_4.4.9.jar",
            "servicepack001",
        ),
        ("org.wso2.carbon.core_4.4.9.jar", "patch0004"),
        ("org.wso2.carbon.ndatasource.core_4.4.9.jar", "patch0005"),
        ("org.wso2.carbon.registry.core_4.4.9.jar", "patch0003"),
        ("org.wso2.carbon.ui_4.4.9.jar", "patch0004"),
        ("org.wso2.carbon.user.core_4.4.9.jar", "servicepack001"),
        ("org.wso2.carbon.utils_4.4.9.jar", "servicepack001"),
    ] {
        run.stdout_has(&format!("  write    {name}  from {entry} (MD5 "));
    }
    assert!(!run.stdout.contains("wrote"), "{}", run.stdout);
    assert_eq!(env.snapshot(), before, "a dry run must not change the home");
}

#[test]
fn dry_run_after_a_change_lists_restores_and_archives_without_doing_them() {
    let env = Env::sample();
    env.apply().code(0);
    std::fs::remove_dir_all(env.patches().join("patch0003")).unwrap();
    std::fs::remove_dir_all(env.patches().join("patch0005")).unwrap();
    let before = env.snapshot();

    let run = env.cmd("apply", &["-n"]);
    run.code(0)
        .stdout_has("apply --dry-run (nothing changed):")
        .stdout_has("  restore  org.wso2.carbon.registry.core_4.4.9.jar  from the backup")
        .stdout_has("  archive  org.wso2.carbon.ndatasource.core_4.4.9.jar")
        .stdout_has("0 to be written, 1 to be restored, 1 to be archived, ");
    assert_eq!(env.snapshot(), before, "a dry run must not change the home");
}

#[test]
fn a_replaced_file_keeps_its_mode() {
    let env = Env::sample();
    let ui = env.plugins().join("org.wso2.carbon.ui_4.4.9.jar");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
    std::fs::set_permissions(&ui, std::fs::Permissions::from_mode(0o600)).unwrap();
    let old_inode = env.plugins_snapshot().entries[Path::new("org.wso2.carbon.ui_4.4.9.jar")].inode;

    env.apply().code(0);
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.ui_4.4.9.jar"),
        Some(md5_hex(&bundle_jar(
            "org.wso2.carbon.ui;singleton:=true",
            "4.4.9",
            "patch0004"
        )))
    );
    let new_inode = env.plugins_snapshot().entries[Path::new("org.wso2.carbon.ui_4.4.9.jar")].inode;
    assert_ne!(new_inode, old_inode, "the file was replaced, not edited");
    assert_eq!(mode(&ui), 0o600, "the new content keeps the plugin's mode");

    // And when the backup's version comes back.
    std::fs::remove_dir_all(env.patches().join("patch0004")).unwrap();
    env.apply().code(0);
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.ui_4.4.9.jar"),
        Some(Env::md5_of(
            &env.backup().join("org.wso2.carbon.ui_4.4.9.jar")
        ))
    );
    assert_eq!(
        mode(&ui),
        0o600,
        "the restored content keeps the plugin's mode"
    );
}

#[test]
fn apply_leaves_no_temporary_file_in_plugins_or_the_backup() {
    let env = home_with_plugins(&["org.foo.a"]);
    env.home.add_patch_file(
        "patch0001",
        &target("org.foo.b"),
        &jar("org.foo.b", "patch0001"),
    );
    env.apply().code(0);
    assert_eq!(
        names_in(&env.plugins()),
        [target("org.foo.a"), target("org.foo.b")],
        "no temporary file is left beside the written ones"
    );
    assert_eq!(
        names_in(&env.backup()),
        [target("org.foo.a")],
        "the backup holds the plugins from before"
    );
}
