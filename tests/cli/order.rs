//! Discovery and order (SPEC §3), through the binary: which service pack and patches apply,
//! in which order, what is skipped or ignored, and who wins when two provide one bundle.

use crate::support::*;

/// The `apply order: ...` line of a report.
fn order_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|line| line.starts_with("apply order: "))
        .unwrap_or_else(|| panic!("no `apply order:` line in\n{stdout}"))
}

#[test]
fn only_the_latest_service_pack_applies_and_older_ones_are_ignored() {
    let env = home_with_plugins(&["org.foo.a", "org.foo.b"]);
    env.home.add_service_pack("servicepack001", &[]);
    env.home.add_service_pack_file(
        "servicepack001",
        &target("org.foo.a"),
        &jar("org.foo.a", "servicepack001"),
    );
    env.home.add_service_pack_file(
        "servicepack001",
        &target("org.foo.only001"),
        &jar("org.foo.only001", "servicepack001"),
    );
    env.home.add_service_pack("servicepack002", &[]);
    env.home.add_service_pack_file(
        "servicepack002",
        &target("org.foo.b"),
        &jar("org.foo.b", "servicepack002"),
    );

    let dry = env.cmd("apply", &["--dry-run"]);
    dry.code(0);
    assert_eq!(order_line(&dry.stdout), "apply order: servicepack002");

    env.apply()
        .code(0)
        .stdout_has("verification: passed (1 bundles)");
    assert_eq!(
        env.plugin_md5(&target("org.foo.b")),
        Some(md5_of("org.foo.b", "servicepack002")),
        "the latest pack's bundle lands"
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "base")),
        "the older pack's version of a plugin must not land"
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.only001")),
        None,
        "a bundle only the older pack adds must not land"
    );
    assert_eq!(applied_list(&env), ["servicepack002", "patch0000"]);
}

#[test]
fn patches_listed_in_the_latest_pack_are_skipped_but_not_those_of_an_older_pack() {
    let env = home_with_plugins(&["org.foo.a"]);
    // The older pack covers patch0002, but only the latest pack's list counts.
    env.home.add_service_pack("servicepack001", &["patch0002"]);
    env.home.add_service_pack_file(
        "servicepack001",
        &target("org.foo.a"),
        &jar("org.foo.a", "servicepack001"),
    );
    env.home.add_service_pack("servicepack002", &["patch0001"]);
    env.home.add_service_pack_file(
        "servicepack002",
        &target("org.foo.a"),
        &jar("org.foo.a", "servicepack002"),
    );
    env.home.add_patch_file(
        "patch0001",
        &target("org.foo.covered"),
        &jar("org.foo.covered", "patch0001"),
    );
    env.home.add_patch_file(
        "patch0002",
        &target("org.foo.kept"),
        &jar("org.foo.kept", "patch0002"),
    );

    let run = env.apply();
    run.code(0)
        .stdout_has("apply order: servicepack002, patch0002\n")
        .stdout_has("inside servicepack002, so skipped: patch0001\n");
    assert_eq!(
        env.plugin_md5(&target("org.foo.covered")),
        None,
        "a patch the latest pack already contains must not land"
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.kept")),
        Some(md5_of("org.foo.kept", "patch0002"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "servicepack002"))
    );
    assert_eq!(
        applied_list(&env),
        ["servicepack002", "patch0000", "patch0002"]
    );
}

#[test]
fn sample_product_skips_the_patches_inside_its_service_pack() {
    let env = Env::sample();
    env.apply().code(0);
    // patch0001 (user.core) and patch0002 (axis2, utils) are inside servicepack001.
    for (bsn, version) in [
        ("org.wso2.carbon.user.core", "4.4.9"),
        ("org.apache.axis2.wso2", "1.6.1.wso2v20"),
        ("org.wso2.carbon.utils", "4.4.9"),
    ] {
        assert_eq!(
            env.plugin_md5(&format!("{bsn}_{version}.jar")),
            Some(md5_hex(&bundle_jar(bsn, version, "servicepack001"))),
            "{bsn} must be the service pack's, not the covered patch's"
        );
    }
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
}

#[test]
fn servicepack9_is_later_than_servicepack10_byte_wise() {
    let env = home_with_plugins(&["org.foo.a"]);
    env.home.add_service_pack("servicepack10", &[]);
    env.home.add_service_pack_file(
        "servicepack10",
        &target("org.foo.a"),
        &jar("org.foo.a", "servicepack10"),
    );
    env.home.add_service_pack_file(
        "servicepack10",
        &target("org.foo.only10"),
        &jar("org.foo.only10", "servicepack10"),
    );
    env.home.add_service_pack("servicepack9", &[]);
    env.home.add_service_pack_file(
        "servicepack9",
        &target("org.foo.a"),
        &jar("org.foo.a", "servicepack9"),
    );

    let run = env.apply();
    run.code(0)
        .stdout_has("apply order: servicepack9\n")
        .stderr_has("warning: names of different lengths sort byte by byte")
        .stderr_has("servicepack10, servicepack9");
    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "servicepack9"))
    );
    assert_eq!(env.plugin_md5(&target("org.foo.only10")), None);
    assert_eq!(applied_list(&env), ["servicepack9", "patch0000"]);
}

#[test]
fn patch10000_sorts_before_patch2000_so_patch2000_wins_and_a_warning_says_why() {
    let env = home_with_plugins(&["org.foo.a"]);
    env.home.add_patch_file(
        "patch2000",
        &target("org.foo.a"),
        &jar("org.foo.a", "patch2000"),
    );
    env.home.add_patch_file(
        "patch10000",
        &target("org.foo.a"),
        &jar("org.foo.a", "patch10000"),
    );

    let dry = env.cmd("apply", &["--dry-run"]);
    dry.code(0)
        .stderr_has("warning: names of different lengths sort byte by byte")
        .stderr_has("patch10000, patch2000")
        .stdout_has("write    org.foo.a_1.0.0.jar  from patch2000 ");
    assert_eq!(
        order_line(&dry.stdout),
        "apply order: patch10000, patch2000"
    );

    env.apply().code(0).stderr_has("names of different lengths");
    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "patch2000"))
    );
    assert_eq!(applied_list(&env), ["patch0000", "patch10000", "patch2000"]);
}

#[test]
fn names_of_one_length_bring_no_order_warning() {
    let env = home_with_plugins(&["org.foo.a"]);
    env.home.add_patch_file(
        "patch0001",
        &target("org.foo.a"),
        &jar("org.foo.a", "patch0001"),
    );
    env.home.add_patch_file(
        "patch0002",
        &target("org.foo.b"),
        &jar("org.foo.b", "patch0002"),
    );
    let run = env.apply();
    run.code(0);
    assert!(
        !run.stderr.contains("different lengths"),
        "no warning expected, got:\n{}",
        run.stderr
    );
}

#[test]
fn patch0000_is_the_backup_and_never_applied_as_a_patch() {
    let env = home_with_plugins(&["org.foo.a", "org.foo.b"]);
    env.home.add_patch_file(
        "patch0001",
        &target("org.foo.a"),
        &jar("org.foo.a", "patch0001"),
    );
    let first = env.apply();
    first.code(0).stdout_has("apply order: patch0001\n");
    assert!(!first.stdout.contains("patch0000 ("), "{}", first.stdout);

    // A second patch: the next apply must still leave the backup out of the order.
    env.home.add_patch_file(
        "patch0002",
        &target("org.foo.b"),
        &jar("org.foo.b", "patch0002"),
    );
    let second = env.apply();
    second
        .code(0)
        .stdout_has("apply order: patch0001, patch0002\n")
        .stdout_has("change: New patch available - patch0002\n");
    assert!(
        !second.stdout.contains("New patch available - patch0000"),
        "{}",
        second.stdout
    );
    let log = env.log_messages();
    assert!(
        !log.iter()
            .any(|m| m == "Applying - patch0000" || m == "New patch available - patch0000"),
        "the backup was logged as a patch: {log:#?}"
    );
    assert!(log.iter().any(|m| m == "Applying - patch0002"), "{log:#?}");
    // Recorded once, as the runtime does, so its next start sees nothing new.
    assert_eq!(applied_list(&env), ["patch0000", "patch0001", "patch0002"]);
    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "patch0001"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.b")),
        Some(md5_of("org.foo.b", "patch0002"))
    );
}

#[test]
fn files_hidden_entries_and_other_names_are_ignored() {
    let env = home_with_plugins(&["org.foo.a"]);
    env.home.add_patch_file(
        "patch0001",
        &target("org.foo.real"),
        &jar("org.foo.real", "patch0001"),
    );
    let patches = env.patches();
    let servicepacks = env.servicepacks();
    // Files whose names start like a patch or a service pack are not entries.
    std::fs::write(patches.join("patch0009.txt"), b"notes about patch0009\n").unwrap();
    std::fs::write(patches.join("patch0010"), jar("org.foo.file", "patch0010")).unwrap();
    std::fs::write(patches.join("README"), b"patches go here\n").unwrap();
    std::fs::write(
        servicepacks.join("servicepack003.zip"),
        jar("org.foo.zip", "servicepack003"),
    )
    .unwrap();
    // Hidden and other-named directories, holding bundles that must not land.
    env.home.add_patch_file(
        ".patch0011",
        &target("org.foo.hidden"),
        &jar("org.foo.hidden", "hidden"),
    );
    env.home.add_patch_file(
        "hotfix1",
        &target("org.foo.hotfix"),
        &jar("org.foo.hotfix", "hotfix1"),
    );
    env.home.add_service_pack(".servicepack004", &[]);
    env.home.add_service_pack_file(
        ".servicepack004",
        &target("org.foo.hiddenpack"),
        &jar("org.foo.hiddenpack", "hidden"),
    );
    env.home.add_service_pack("sp005", &[]);
    env.home.add_service_pack_file(
        "sp005",
        &target("org.foo.otherpack"),
        &jar("org.foo.otherpack", "sp005"),
    );

    let dry = env.cmd("apply", &["--dry-run"]);
    dry.code(0);
    assert_eq!(order_line(&dry.stdout), "apply order: patch0001");

    env.apply()
        .code(0)
        .stdout_has("verification: passed (1 bundles)");
    let mut in_plugins: Vec<String> = std::fs::read_dir(env.plugins())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    in_plugins.sort();
    assert_eq!(in_plugins, [target("org.foo.a"), target("org.foo.real")]);
    assert_eq!(applied_list(&env), ["patch0000", "patch0001"]);
    env.verify().code(0);
    // The ignored entries are left where they were.
    assert!(patches.join("hotfix1").is_dir());
    assert!(patches.join("patch0009.txt").is_file());
    assert!(servicepacks.join("sp005").is_dir());
}

#[test]
fn a_later_patch_wins_over_an_earlier_one_and_over_the_service_pack() {
    let env = home_with_plugins(&["org.foo.a", "org.foo.b"]);
    env.home.add_service_pack("servicepack001", &[]);
    for bsn in ["org.foo.a", "org.foo.b"] {
        env.home
            .add_service_pack_file("servicepack001", &target(bsn), &jar(bsn, "servicepack001"));
    }
    env.home.add_patch_file(
        "patch0001",
        &target("org.foo.a"),
        &jar("org.foo.a", "patch0001"),
    );
    env.home.add_patch_file(
        "patch0002",
        &target("org.foo.a"),
        &jar("org.foo.a", "patch0002"),
    );

    let run = env.apply();
    run.code(0)
        .stdout_has("apply order: servicepack001, patch0001, patch0002\n")
        .stdout_has("wrote    org.foo.a_1.0.0.jar  from patch0002 ")
        .stdout_has("wrote    org.foo.b_1.0.0.jar  from servicepack001 ");
    assert_eq!(
        env.plugin_md5(&target("org.foo.a")),
        Some(md5_of("org.foo.a", "patch0002")),
        "the last entry providing a bundle wins"
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo.b")),
        Some(md5_of("org.foo.b", "servicepack001"))
    );
    let jars = env
        .read("repository/components/patches/.metadata/prePatchedJARs.txt")
        .unwrap();
    assert!(
        jars.contains(&format!(
            "org.foo.a_1.0.0.jar:{}",
            md5_of("org.foo.a", "patch0002")
        )),
        "{jars}"
    );
    env.verify().code(0);
}

#[test]
fn sample_product_patch0004_core_overrides_the_service_pack_core() {
    let env = Env::sample();
    env.apply()
        .code(0)
        .stdout_has("apply order: servicepack001, patch0003, patch0004, patch0005\n")
        .stdout_has("wrote    org.wso2.carbon.core_4.4.9.jar  from patch0004 ");
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.core_4.4.9.jar"),
        Some(md5_hex(&bundle_jar(
            "org.wso2.carbon.core",
            "4.4.9",
            "patch0004"
        )))
    );
}
