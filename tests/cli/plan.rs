//! `plan`: what `apply` would do, file by file — the same output as `apply --dry-run`, in
//! text and JSON, and nothing changed.

use crate::support::*;

#[test]
fn plan_prints_exactly_what_apply_dry_run_prints() {
    let env = Env::sample();
    let before = env.snapshot();
    for format in ["text", "json"] {
        let plan = env.cmd("plan", &["--format", format]);
        let dry = env.cmd("apply", &["--dry-run", "--format", format]);
        plan.code(0);
        dry.code(0);
        assert_eq!(
            plan.stdout, dry.stdout,
            "plan and apply --dry-run ({format})"
        );
        assert_eq!(plan.stderr, dry.stderr);
    }
    assert_eq!(env.snapshot(), before, "plan must not change the home");
}

#[test]
fn plan_lists_every_file_written_restored_archived_and_unchanged() {
    let env = Env::sample();
    env.apply().code(0);
    std::fs::remove_dir_all(env.patches().join("patch0003")).unwrap();
    std::fs::remove_dir_all(env.patches().join("patch0005")).unwrap();
    env.home.add_plugin(
        "org.wso2.carbon.ui_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.ui;singleton:=true", "4.4.9", "tampered"),
    );
    let ui_patch = Env::md5_of(&env.patches().join("patch0004/org.wso2.carbon.ui_4.4.9.jar"));
    let registry_backup =
        Env::md5_of(&env.backup().join("org.wso2.carbon.registry.core_4.4.9.jar"));
    let before = env.snapshot();

    let run = env.cmd("plan", &[]);
    run.code(0);
    let out = &run.stdout;
    has_line(out, "change: patch0003 has been reverted");
    has_line(
        out,
        &format!(
            "  write    org.wso2.carbon.ui_4.4.9.jar  from patch0004 (MD5 unread, size differs -> {ui_patch})"
        ),
    );
    has_line(
        out,
        &format!(
            "  restore  org.wso2.carbon.registry.core_4.4.9.jar  from the backup (MD5 {registry_backup})"
        ),
    );
    has_line(out, "  archive  org.wso2.carbon.ndatasource.core_4.4.9.jar");
    has_line(
        out,
        "  unchanged org.wso2.carbon.core_4.4.9.jar  from patch0004",
    );
    has_line(
        out,
        "  unchanged org.wso2.carbon.utils_4.4.9.jar  from servicepack001",
    );
    has_line(
        out,
        "1 to be written, 1 to be restored, 1 to be archived, 5 unchanged",
    );
    assert_eq!(env.snapshot(), before, "plan must not change the home");
}
