//! Errors through the binary (SPEC §11, §13): bad input and usage exit 2, a held lock or a
//! running server exit 3; every error names its path and gives a hint, and changes nothing.

use crate::support::*;

use std::fs::{self, File};

/// The sample product after one successful apply.
fn applied_sample() -> Env {
    let env = Env::sample();
    env.apply().code(0);
    env
}

/// Adds patch0006 with a new bundle, so the next apply has work to do.
fn add_patch0006(env: &Env) {
    env.home.add_patch_file(
        "patch0006",
        "org.wso2.carbon.logging_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.logging", "4.4.9", "patch0006"),
    );
}

#[test]
fn a_directory_without_plugins_is_not_a_carbon_product() {
    let env = Env::empty();
    let other = env.root().parent().unwrap().join("not-a-product");
    fs::create_dir_all(other.join("repository/components")).unwrap();
    fs::write(other.join("README.txt"), b"just a directory\n").unwrap();
    let parent = env.root().parent().unwrap();
    let before = snapshot(parent);
    let other = other.to_str().unwrap();
    for command in ["apply", "verify", "rollback"] {
        let run = env.run(&[command, other]);
        assert_error(&run, 2, other);
        run.stderr_has("is not a Carbon product");
    }
    assert_same_tree(&before, &snapshot(parent), "nothing changed");
}

#[test]
fn a_path_that_does_not_exist_is_not_a_carbon_product() {
    let env = Env::empty();
    let parent = env.root().parent().unwrap();
    let missing = parent.join("no-such-home");
    let before = snapshot(parent);
    let missing = missing.to_str().unwrap();
    for command in ["apply", "verify", "rollback"] {
        let run = env.run(&[command, missing]);
        assert_error(&run, 2, missing);
        run.stderr_has("is not a Carbon product");
    }
    assert_same_tree(&before, &snapshot(parent), "nothing created");
}

#[test]
fn a_corrupt_jar_in_a_patch_is_bad_input() {
    let env = Env::sample();
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let jar = env.home.add_patch_file("patch0006", "x.jar", &noise);
    let run = assert_bad_input_changes_nothing(&env, jar.display().to_string());
    run.stderr_has("not a valid jar");
}

#[test]
fn a_truncated_jar_in_a_patch_is_bad_input() {
    let env = applied_sample();
    let whole = bundle_jar("org.wso2.carbon.logging", "4.4.9", "patch0006");
    let jar = env
        .home
        .add_patch_file("patch0006", "logging.jar", &whole[..whole.len() / 2]);
    assert_bad_input_changes_nothing(&env, jar.display().to_string());
}

#[test]
fn a_service_pack_without_lib_is_bad_input() {
    let env = Env::sample();
    let pack = env.home.add_service_pack("servicepack002", &["patch0001"]);
    fs::remove_dir(pack.join("lib")).unwrap();
    let run = assert_bad_input_changes_nothing(&env, pack.join("lib").display().to_string());
    run.stderr_has("servicepack002");
}

#[test]
fn a_service_pack_without_its_patch_list_is_bad_input() {
    let env = applied_sample();
    let list = env
        .servicepacks()
        .join("servicepack001/servicepack_patches.txt");
    fs::remove_file(&list).unwrap();
    let run = assert_bad_input_changes_nothing(&env, list.display().to_string());
    run.stderr_has("servicepack_patches.txt");
}

#[test]
fn an_empty_service_pack_patch_list_is_fine() {
    let env = Env::sample();
    fs::write(
        env.servicepacks()
            .join("servicepack001/servicepack_patches.txt"),
        b"",
    )
    .unwrap();
    let run = env.apply();
    run.code(0);
    assert!(!run.stderr.contains("error:"), "{}", run.stderr);
    // Nothing is covered any more: patch0001 and patch0002 apply after the service pack.
    assert_eq!(
        env.read("repository/components/patches/.metadata/prePatchedDir.txt")
            .as_deref(),
        Some("servicepack001\npatch0000\npatch0001\npatch0002\npatch0003\npatch0004\npatch0005\n")
    );
    let patch0001 = env
        .patches()
        .join("patch0001/org.wso2.carbon.user.core_4.4.9.jar");
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.user.core_4.4.9.jar"),
        Some(Env::md5_of(&patch0001))
    );
    env.verify().code(0);
}

#[test]
fn a_symlink_in_a_patch_pointing_outside_the_home_is_refused() {
    let env = applied_sample();
    let link = env.patches().join("patch0006/passwd.jar");
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    let run = assert_bad_input_changes_nothing(&env, link.display().to_string());
    run.stderr_has("outside PRODUCT_HOME");
}

#[test]
fn a_symlink_to_a_file_beside_the_home_is_refused() {
    let env = Env::sample();
    let beside = env.root().parent().unwrap().join("beside.jar");
    fs::write(&beside, bundle_jar("org.example.beside", "1.0", "x")).unwrap();
    let link = env.patches().join("patch0006/beside.jar");
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&beside, &link).unwrap();
    assert_bad_input_changes_nothing(&env, link.display().to_string());
}

#[test]
fn a_symlink_loop_in_a_patch_is_refused() {
    let env = applied_sample();
    let dir = env.patches().join("patch0006");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("b.jar", dir.join("a.jar")).unwrap();
    std::os::unix::fs::symlink("a.jar", dir.join("b.jar")).unwrap();
    assert_bad_input_changes_nothing(&env, dir.join("a.jar").display().to_string());
}

#[test]
fn a_patches_path_that_is_a_file_is_bad_input() {
    let env = Env::empty();
    env.home.add_plugin(
        "org.example.a_1.0.jar",
        &bundle_jar("org.example.a", "1.0", "base"),
    );
    fs::remove_dir(env.patches()).unwrap();
    fs::write(env.patches(), b"not a directory\n").unwrap();
    assert_bad_input_changes_nothing(&env, env.patches().display().to_string());
}

#[test]
fn a_servicepacks_path_that_is_a_file_is_bad_input() {
    let env = Env::sample();
    fs::remove_dir_all(env.servicepacks()).unwrap();
    fs::write(env.servicepacks(), b"not a directory\n").unwrap();
    assert_bad_input_changes_nothing(&env, env.servicepacks().display().to_string());
}

#[test]
fn a_patches_dir_option_naming_a_file_is_bad_input() {
    let env = Env::sample();
    let file = env.root().join("bin/patches.txt");
    fs::write(&file, b"not a directory\n").unwrap();
    let file = file.to_str().unwrap().to_string();
    let before = env.snapshot();
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec!["--patches-dir", file.as_str()];
        args.extend_from_slice(extra);
        assert_error(&env.cmd("apply", &args), 2, &file);
    }
    assert_error(&env.cmd("verify", &["--patches-dir", &file]), 2, &file);
    assert_same_tree(&before, &env.snapshot(), "nothing changed");
}

/// The jar list after an apply of the sample, damaged by `damage`, is reported, ignored
/// and rewritten by the next apply.
fn assert_damaged_jar_list_is_rewritten(damage: impl Fn(&str) -> String) {
    let env = applied_sample();
    let path = env.metadata().join("prePatchedJARs.txt");
    let good = fs::read_to_string(&path).unwrap();
    let plugins = env.plugins_snapshot().contents();
    fs::write(&path, damage(&good)).unwrap();

    let run = env.apply();
    run.code(0)
        .stderr_has("warning:")
        .stderr_has("damaged")
        .stderr_has("prePatchedJARs.txt");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(&path).unwrap(), good, "rewritten whole");
    assert_eq!(
        env.plugins_snapshot().contents(),
        plugins,
        "plugins already right"
    );
    env.verify().code(0);
}

#[test]
fn a_jar_list_line_without_a_colon_is_reported_and_rewritten() {
    assert_damaged_jar_list_is_rewritten(|good| {
        let mut lines: Vec<&str> = good.lines().collect();
        lines.insert(1, "org.wso2.carbon.core_4.4.9.jar");
        lines.push("garbage without a separator");
        lines.join("\n") + "\n"
    });
}

#[test]
fn a_truncated_jar_list_is_reported_and_rewritten() {
    assert_damaged_jar_list_is_rewritten(|good| {
        // Cut in the middle of a digest, as a crash mid-write would leave it.
        let second_line = good.find('\n').unwrap() + 1;
        let colon = second_line + good[second_line..].find(':').unwrap();
        good[..colon + 10].to_string()
    });
}

#[test]
fn usage_errors_exit_2_and_change_nothing() {
    let env = Env::sample();
    let before = env.snapshot();
    let home = env.root().to_str().unwrap().to_string();
    for args in [
        vec!["frobnicate", home.as_str()],
        vec!["apply", "--no-such-flag", home.as_str()],
        vec!["verify", "--dry-run", home.as_str()],
        vec!["apply", home.as_str(), "extra-argument"],
        vec![],
    ] {
        let run = env.run(&args);
        run.code(2);
        assert!(run.stderr.contains("Usage:"), "{args:?}\n{}", run.stderr);
        assert!(
            run.stderr
                .trim_end()
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("hint: ")),
            "{args:?}: a usage error ends with a hint\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(
            run.stdout.is_empty(),
            "{args:?}: stdout is for results\n{}",
            run.stdout
        );
    }
    env.run(&["frobnicate", &home]).stderr_has("frobnicate");
    env.run(&["apply", "--no-such-flag", &home])
        .stderr_has("--no-such-flag");
    assert_same_tree(&before, &env.snapshot(), "nothing changed");
}

#[test]
fn a_held_lock_exits_3_and_changes_nothing() {
    let env = applied_sample();
    add_patch0006(&env);
    let lock_path = env.metadata().join("carbon-patch.lock");
    let lock = File::options()
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.try_lock().expect("the test takes the lock");
    let before = env.snapshot();

    let run = env.apply();
    assert_error(&run, 3, &lock_path.display().to_string());
    run.stderr_has("holds the lock");
    let rollback = env.rollback();
    assert_error(&rollback, 3, &lock_path.display().to_string());
    assert_same_tree(&before, &env.snapshot(), "nothing changed");
    let patched = Env::md5_of(
        &env.patches()
            .join("patch0006/org.wso2.carbon.logging_4.4.9.jar"),
    );
    assert_ne!(
        env.plugin_md5("org.wso2.carbon.logging_4.4.9.jar"),
        Some(patched.clone())
    );

    // A dry run takes no lock; verify will not read a tree that may be half written.
    env.cmd("apply", &["--dry-run"]).code(0);
    assert_error(&env.verify(), 3, &lock_path.display().to_string());
    drop(lock);
    env.apply().code(0);
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.logging_4.4.9.jar"),
        Some(patched)
    );
    env.verify().code(0);
}

#[test]
fn a_running_server_exits_3_unless_forced() {
    let env = applied_sample();
    add_patch0006(&env);
    let pid_file = env.root().join("wso2carbon.pid");
    // The test process itself is a live process.
    fs::write(&pid_file, format!("{}\n", std::process::id())).unwrap();
    let before = env.snapshot();

    let run = env.apply();
    assert_error(&run, 3, &pid_file.display().to_string());
    run.stderr_has(&std::process::id().to_string());
    assert_same_tree(
        &before,
        &env.snapshot(),
        "nothing changed, not even the lock file",
    );

    let forced = env.cmd("apply", &["--force"]);
    forced.code(0).stderr_has("warning:");
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.logging_4.4.9.jar"),
        Some(Env::md5_of(
            &env.patches()
                .join("patch0006/org.wso2.carbon.logging_4.4.9.jar")
        ))
    );
    env.verify().code(0);
}

#[test]
fn a_running_server_on_a_first_apply_leaves_no_trace() {
    let env = Env::sample();
    let pid_file = env.root().join("wso2carbon.pid");
    fs::write(&pid_file, std::process::id().to_string()).unwrap();
    let before = env.snapshot();
    assert_error(&env.apply(), 3, &pid_file.display().to_string());
    assert_same_tree(
        &before,
        &env.snapshot(),
        "no metadata dir, no lock file, no backup",
    );
}

#[test]
fn a_stale_pid_file_is_ignored_with_a_warning() {
    let env = applied_sample();
    add_patch0006(&env);
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn `true`");
    let dead = child.id();
    child.wait().unwrap();
    let pid_file = env.root().join("wso2carbon.pid");
    fs::write(&pid_file, format!("{dead}\n")).unwrap();

    let run = env.apply();
    run.code(0).stderr_has("warning:").stderr_has("stale");
    run.stderr_has("wso2carbon.pid");
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.logging_4.4.9.jar"),
        Some(Env::md5_of(
            &env.patches()
                .join("patch0006/org.wso2.carbon.logging_4.4.9.jar")
        ))
    );
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap(),
        format!("{dead}\n"),
        "left alone"
    );
}
