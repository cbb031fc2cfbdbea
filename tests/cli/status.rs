//! `status`: the inventory, read-only — every entry's state, who provides each bundle and
//! whom it overrides, version conflicts, foreign files, the backup, the last run, ordering
//! traps and ignored entries; exit 1 when something needs attention.

use crate::support::*;

use std::fs;

const CORE: &str = "org.wso2.carbon.core";

fn status(env: &Env) -> Run {
    env.cmd("status", &[])
}

/// The sample product after a successful apply.
fn applied_sample() -> Env {
    let env = Env::sample();
    env.apply().code(0);
    env
}

#[test]
fn status_of_an_unpatched_sample_shows_pending_entries_and_exits_1() {
    let env = Env::sample();
    let before = env.snapshot();
    let run = status(&env);
    run.code(1);
    let out = &run.stdout;
    has_line(out, &format!("status {}", env.home_str()));
    has_line(out, "layout: Carbon kernel 4.4.9, applied lists: none yet");
    has_line(out, "service pack: servicepack001");
    has_line(out, "  pending     servicepack001  service pack, 5 files");
    has_line(out, "  covered     patch0001       patch");
    has_line(out, "      inside servicepack001");
    has_line(out, "  pending     patch0005       patch, 1 file");
    has_line(out, "backup: none yet (apply makes patch0000 from plugins)");
    has_line(out, "last run: none in patches.log");
    has_line(out, "status: NEEDS ATTENTION, 5 thing(s)");
    has_line(out, "  apply would change 8 file(s) in plugins");
    assert_eq!(env.snapshot(), before, "status must not change the home");
}

#[test]
fn status_after_apply_is_ok_and_shows_providers_and_overrides() {
    let env = applied_sample();
    let before = env.snapshot();
    let run = status(&env);
    run.code(0);
    let out = &run.stdout;
    has_line(
        out,
        "layout: Carbon kernel 4.4.9, applied lists: 4.4+ and 4.2",
    );
    has_line(out, "  applied     servicepack001  service pack, 5 files");
    has_line(out, "  applied     patch0004       patch, 2 files");
    has_line(
        out,
        "  org.wso2.carbon.core_4.4.9.jar                   patch0004, overrides servicepack001, replaces the original",
    );
    has_line(
        out,
        "  org.wso2.carbon.core.bootup.validator_4.4.9.jar  servicepack001, new",
    );
    has_line(out, "conflicts: none");
    has_line(
        out,
        "backup: patch0000 present, 31 files, checked against the manifest carbon-patch wrote",
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("last run: apply (or a server start) at ")
                && l.ends_with(
                    ": patches applied and verified (\"Patch verification successfully completed\")"
                )),
        "{out}"
    );
    has_line(out, "status: ok");
    assert_eq!(env.snapshot(), before, "status must not change the home");
}

/// OSGi loads several versions of a bundle side by side: that is told, as information.
#[test]
fn a_patch_with_another_version_of_a_bundle_is_shown_side_by_side() {
    let env = applied_sample();
    env.home.add_patch_file(
        "patch0006",
        &format!("{CORE}_4.4.10.jar"),
        &bundle_jar(CORE, "4.4.10", "patch0006"),
    );
    let run = status(&env);
    run.code(1); // patch0006 is pending
    has_line(&run.stdout, "conflicts: none");
    has_line(
        &run.stdout,
        "several versions side by side (OSGi loads each; for information): 1",
    );
    has_line(
        &run.stdout,
        "  plugins would hold org.wso2.carbon.core in 2 versions, side by side (not a singleton): 4.4.9 (patch0000, servicepack001, patch0004), 4.4.10 (patch0006)",
    );
    has_line(&run.stdout, "  pending     patch0006       patch, 1 file");
    assert!(!run.stdout.contains("clash"), "{}", run.stdout);
}

/// A singleton in two versions is a conflict: OSGi resolves only one of them.
#[test]
fn a_singleton_in_two_versions_is_a_conflict() {
    let env = applied_sample();
    env.home.add_patch_file(
        "patch0006",
        "org.wso2.carbon.ui_4.4.10.jar",
        &bundle_jar("org.wso2.carbon.ui;singleton:=true", "4.4.10", "patch0006"),
    );
    let run = status(&env);
    run.code(1);
    has_line(&run.stdout, "conflicts: 1");
    has_line(
        &run.stdout,
        "  plugins would hold the singleton org.wso2.carbon.ui in 2 versions, of which OSGi resolves one: 4.4.9 (patch0000, patch0004), 4.4.10 (patch0006)",
    );
    has_line(
        &run.stdout,
        "  1 bundle(s) would be in plugins in versions that clash (a singleton, or an older version)",
    );
}

#[test]
fn a_patch_with_an_older_version_than_the_one_it_sits_beside_is_named() {
    let env = applied_sample();
    env.home.add_patch_file(
        "patch0006",
        "old-ui.jar",
        &bundle_jar("org.wso2.carbon.ui;singleton:=true", "4.4.8", "patch0006"),
    );
    let run = status(&env);
    run.code(1);
    assert!(
        run.stdout.contains(
            "  patch0006 ships org.wso2.carbon.ui 4.4.8, older than 4.4.9 already there; plugins would hold 4.4.8 (patch0006), 4.4.9 (patch0000, patch0004)"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn changed_gone_and_foreign_are_reported() {
    let env = applied_sample();
    env.home.add_patch_file(
        "patch0005",
        "org.wso2.carbon.extra_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.extra", "4.4.9", "patch0005"),
    );
    fs::remove_dir_all(env.patches().join("patch0003")).unwrap();
    env.home
        .add_plugin("dropin_1.0.jar", &bundle_jar("dropin", "1.0", "x"));
    let run = status(&env);
    run.code(1);
    let out = &run.stdout;
    has_line(out, "  changed     patch0005       patch, 2 files");
    has_line(out, "      org.wso2.carbon.extra_4.4.9.jar has been added");
    has_line(out, "  gone        patch0003       patch");
    has_line(
        out,
        "foreign (in plugins, placed by something else, left alone): dropin_1.0.jar",
    );
    has_line(out, "  patch0005 is changed since applied");
    has_line(out, "  patch0003 is applied, but its directory is gone");
}

#[test]
fn a_hand_replaced_bundle_makes_its_patch_broken() {
    let env = applied_sample();
    env.home.add_plugin(
        "org.wso2.carbon.ui_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.ui;singleton:=true", "4.4.9", "tampered"),
    );
    let run = status(&env);
    run.code(1);
    has_line(&run.stdout, "  broken      patch0004       patch, 2 files");
    has_line(
        &run.stdout,
        "      org.wso2.carbon.ui_4.4.9.jar in plugins differs",
    );
}

#[test]
fn rolled_back_entries_show_where_they_went() {
    let env = applied_sample();
    env.rollback().code(0);
    let run = status(&env);
    run.code(0);
    let out = &run.stdout;
    has_line(out, "  rolled back servicepack001  service pack");
    has_line(
        out,
        "      moved to repository/components/servicepacks/.rolled-back/servicepack001; move it back and run apply to re-apply it",
    );
    has_line(out, "  rolled back patch0004       patch");
    assert!(
        out.lines()
            .any(|l| l.starts_with("last run: rollback at ") && l.contains(": rolled back (")),
        "{out}"
    );
    assert!(!out.contains("ignored"), "{out}");
    has_line(out, "status: ok");
}

#[test]
fn ordering_traps_and_ignored_entries_are_shown() {
    let env = home_with_plugins(&["org.foo.a", "org.foo.b"]);
    env.home.add_patch_file(
        "patch10000",
        &target("org.foo.a"),
        &jar("org.foo.a", "p10000"),
    );
    env.home.add_patch_file(
        "patch2000",
        &target("org.foo.b"),
        &jar("org.foo.b", "p2000"),
    );
    fs::write(env.patches().join("README.txt"), "notes").unwrap();
    let run = status(&env);
    let out = &run.stdout;
    has_line(
        out,
        "ordering: patch10000 comes before patch2000: names are compared byte by byte, as the server does, not as numbers",
    );
    has_line(
        out,
        "ignored (neither patch nor service pack): repository/components/patches/README.txt",
    );
}

#[test]
fn status_says_where_product_home_came_from() {
    let env = applied_sample();
    let home = env.home_str();
    let run = env.run_with(&["status"], None, &[("CARBON_HOME", &home)], &[]);
    run.code(0);
    has_line(&run.stdout, &format!("status {home} (from $CARBON_HOME)"));
    let run = env.run_with(&["status"], Some(&env.home.root), &[], &[]);
    run.code(0);
    has_line(
        &run.stdout,
        &format!("status {home} (the current directory)"),
    );
}

#[test]
fn status_of_a_non_carbon_directory_is_bad_input_with_a_hint() {
    let env = Env::empty();
    let dir = env.root().parent().unwrap().to_str().unwrap().to_string();
    let run = env.run(&["status", &dir]);
    run.code(2).stderr_has("is not a Carbon product");
    assert!(
        run.stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("hint: "),
        "{}",
        run.stderr
    );
}
