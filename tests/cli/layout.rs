//! The real layout (SPEC §2, issue 13 §3): products whose start scripts (or environment) move
//! patches, service packs, components or the whole repository, inside and outside
//! PRODUCT_HOME, and an Enterprise Integrator with profiles sharing one patches and one
//! components directory. `apply` must find the places the server will use, `verify` pass
//! there, `status` say where each place came from, and the lock live with the patches.

use crate::support::*;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Writes `bytes` at `path`, creating its parents.
fn put(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A start script shaped like the kernel's `wso2server.sh`, its java command line carrying
/// `options` (one a line, continued with `\`), and a commented-out move that must not count.
fn start_script(options: &[&str]) -> String {
    let mut text = String::from(
        "#!/bin/sh\n\
         # Main Script for the WSO2 Carbon Server\n\
         PRGDIR=`dirname \"$PRG\"`\n\
         [ -z \"$CARBON_HOME\" ] && CARBON_HOME=`cd \"$PRGDIR/..\" ; pwd`\n\
         # -Dcarbon.patches.dir.path=/not/this/one\n\
         cd \"$CARBON_HOME\"\n\
         while [ \"$status\" = \"$START_EXIT_STATUS\" ]\n\
         do\n    $JAVACMD \\\n    -Xbootclasspath/a:\"$CARBON_XBOOTCLASSPATH\" \\\n    $JAVA_OPTS \\\n    \
         -Dcarbon.home=\"$CARBON_HOME\" \\\n",
    );
    for option in options {
        text.push_str(&format!("    {option} \\\n"));
    }
    text.push_str("    org.wso2.carbon.bootstrap.Bootstrap $*\n    status=$?\ndone\n");
    text
}

/// Writes a start script at `relative` under PRODUCT_HOME; returns its text.
fn script(env: &Env, relative: &str, options: &[&str]) -> String {
    let text = start_script(options);
    put(&env.root().join(relative), text.as_bytes());
    text
}

/// The line (from 1) of `text` holding `needle`, comments aside.
fn line_of(text: &str, needle: &str) -> usize {
    1 + text
        .lines()
        .position(|l| !l.trim_start().starts_with('#') && l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the script"))
}

/// Beside PRODUCT_HOME, inside the test's temporary directory.
fn outside(env: &Env, name: &str) -> PathBuf {
    env.root().parent().unwrap().join(name)
}

/// A patch `patch` holding the bundle `bsn` (variant `patch`) under `patches`.
fn add_patch(patches: &Path, patch: &str, bsn: &str) {
    put(&patches.join(patch).join(target(bsn)), &jar(bsn, patch));
}

/// A service pack `name` holding the bundle `bsn` (variant `name`) under `servicepacks`.
fn add_service_pack(servicepacks: &Path, name: &str, bsn: &str) {
    put(
        &servicepacks.join(name).join("lib").join(target(bsn)),
        &jar(bsn, name),
    );
    put(
        &servicepacks.join(name).join("servicepack_patches.txt"),
        b"",
    );
}

/// Bundles `bsns` in the variant `base` in `plugins`.
fn fill_plugins(plugins: &Path, bsns: &[&str]) {
    for bsn in bsns {
        put(&plugins.join(target(bsn)), &jar(bsn, "base"));
    }
}

fn md5_at(path: &Path) -> String {
    Env::md5_of(path)
}

/// `status --format json`, parsed.
fn status_json(env: &Env, extra: &[&str], code: i32) -> Value {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let run = env.cmd("status", &args);
    run.code(code);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{}", run.stdout))
}

fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn patches_and_service_packs_moved_outside_product_home_are_applied_and_locked_there() {
    let env = home_with_plugins(&["org.a", "org.b", "org.c"]);
    let patches = outside(&env, "shared/patches");
    let servicepacks = outside(&env, "shared/servicepacks");
    add_patch(&patches, "patch0001", "org.a");
    add_service_pack(&servicepacks, "servicepack001", "org.b");
    // What the default places hold must not be applied.
    env.home
        .add_patch_file("patch0009", &target("org.c"), &jar("org.c", "wrong"));
    let text = script(
        &env,
        "bin/wso2server.sh",
        &[
            "-Dcarbon.patches.dir.path=\"$CARBON_HOME/../shared/patches\"",
            &format!("-Dcarbon.servicepacks.dir.path={}", servicepacks.display()),
        ],
    );

    let run = env.apply();
    run.code(0)
        .stdout_has("apply order: servicepack001, patch0001");
    assert_eq!(
        env.plugin_md5(&target("org.a")),
        Some(md5_of("org.a", "patch0001"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.b")),
        Some(md5_of("org.b", "servicepack001"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.c")),
        Some(md5_of("org.c", "base"))
    );
    assert!(
        patches.join("patch0000").is_dir(),
        "the backup goes to the moved patches"
    );
    let metadata = patches.join(".metadata");
    assert!(
        metadata.join("carbon-patch.lock").is_file(),
        "the lock lives with the patches"
    );
    assert_eq!(
        lines_of(&metadata.join("prePatchedDir.txt")),
        ["servicepack001", "patch0000", "patch0001"]
    );
    assert!(metadata.join("prePatchedJARs.txt").is_file());
    assert!(!env.backup().exists() && !env.metadata().exists());
    env.verify().code(0);
    env.apply()
        .code(0)
        .stdout_has("nothing written: plugins already match");

    let run = env.cmd("status", &[]);
    run.code(0);
    let patches_line = line_of(&text, "carbon.patches.dir.path=\"");
    let servicepacks_line = line_of(&text, "carbon.servicepacks.dir.path=");
    has_line(
        &run.stdout,
        &format!(
            "  patches       {} (-Dcarbon.patches.dir.path in bin/wso2server.sh line {patches_line})",
            patches.display()
        ),
    );
    has_line(
        &run.stdout,
        &format!(
            "  service packs {} (-Dcarbon.servicepacks.dir.path in bin/wso2server.sh line {servicepacks_line})",
            servicepacks.display()
        ),
    );
    has_line(
        &run.stdout,
        "  components    repository/components (default)",
    );
    has_line(&run.stdout, "  plugins       repository/components/plugins");
    has_line(&run.stdout, "  repository    repository (default)");
    has_line(&run.stdout, "  start scripts read: bin/wso2server.sh");

    let doc = status_json(&env, &[], 0);
    let layout = &doc["layout"];
    assert_eq!(layout["patches"], patches.display().to_string());
    assert_eq!(layout["servicepacks"], servicepacks.display().to_string());
    assert_eq!(
        layout["sources"]["patches"],
        json!({"from": "script", "script": "bin/wso2server.sh", "line": patches_line,
               "property": "carbon.patches.dir.path"})
    );
    assert_eq!(
        layout["sources"]["servicepacks"]["line"],
        json!(servicepacks_line)
    );
    assert_eq!(layout["sources"]["components"], json!({"from": "default"}));
    assert_eq!(layout["sources"]["repository"], json!({"from": "default"}));
    assert_eq!(layout["scripts"], json!(["bin/wso2server.sh"]));

    // Rollback finds the same places: the moved backup restores plugins, and the entries
    // are set aside where they are.
    env.rollback().code(0);
    assert_eq!(
        env.plugin_md5(&target("org.a")),
        Some(md5_of("org.a", "base"))
    );
    assert_eq!(
        env.plugin_md5(&target("org.b")),
        Some(md5_of("org.b", "base"))
    );
    assert!(patches.join(".rolled-back/patch0001").is_dir());
    assert!(servicepacks.join(".rolled-back/servicepack001").is_dir());
    assert!(
        env.patches().join("patch0009").is_dir(),
        "the default place is not touched"
    );
    env.verify().code(0);
}

#[test]
fn moved_components_carry_plugins_patches_and_the_4_2_list() {
    // Plugins only under the moved components: without the script this is no Carbon product
    // to carbon-patch (its default plugins stay empty and are never touched).
    let env = Env::empty();
    let components = env.root().join("wso2/components");
    fill_plugins(&components.join("plugins"), &["org.a", "org.b"]);
    add_patch(&components.join("patches"), "patch0001", "org.a");
    let text = script(
        &env,
        "bin/wso2server.sh",
        &["-Dcarbon.components.dir.path=\"${CARBON_HOME}/wso2/components\""],
    );
    let untouched = snapshot(&env.plugins());

    env.apply().code(0);
    let plugins = components.join("plugins");
    assert_eq!(
        md5_at(&plugins.join(target("org.a"))),
        md5_of("org.a", "patch0001")
    );
    assert!(components.join("patches/patch0000").is_dir());
    assert!(
        components
            .join("patches/.metadata/carbon-patch.lock")
            .is_file()
    );
    assert_eq!(
        lines_of(&components.join("default/configuration/prePatched.txt")),
        ["patch0000", "patch0001"]
    );
    // The runtime keeps its lists in <repository>/components/patches/.metadata when only
    // components are moved (PatchUtils.getMetaDirectory): written where it reads them.
    let runtime = env.root().join("repository/components/patches/.metadata");
    assert_eq!(
        lines_of(&runtime.join("prePatchedDir.txt")),
        ["patch0000", "patch0001"]
    );
    assert!(runtime.join("prePatchedJARs.txt").is_file());
    assert!(
        !components
            .join("patches/.metadata/prePatchedDir.txt")
            .exists()
    );
    assert_eq!(snapshot(&env.plugins()), untouched);
    env.verify().code(0);

    let run = env.cmd("status", &[]);
    run.code(0);
    let line = line_of(&text, "carbon.components.dir.path");
    has_line(
        &run.stdout,
        &format!(
            "  components    wso2/components (-Dcarbon.components.dir.path in bin/wso2server.sh line {line})"
        ),
    );
    has_line(&run.stdout, "  plugins       wso2/components/plugins");
    has_line(
        &run.stdout,
        "  patches       wso2/components/patches (default)",
    );
    let doc = status_json(&env, &[], 0);
    assert_eq!(doc["layout"]["plugins"], "wso2/components/plugins");
    assert_eq!(doc["layout"]["components"], "wso2/components");
    assert_eq!(doc["layout"]["sources"]["components"]["from"], "script");
}

#[test]
fn a_repository_moved_by_the_environment_carries_components_and_the_log() {
    let env = Env::empty();
    let repository = outside(&env, "repo");
    fill_plugins(&repository.join("components/plugins"), &["org.a"]);
    add_patch(&repository.join("components/patches"), "patch0001", "org.a");
    // The runtime reads CARBON_REPOSITORY before -Dcarbon.repository.
    script(
        &env,
        "bin/wso2server.sh",
        &["-Dcarbon.repository=/somewhere/else"],
    );
    let home = env.home_str();
    let repo = repository.display().to_string();
    let run = env.run_with(
        &["apply", &home],
        None,
        &[("CARBON_REPOSITORY", &repo)],
        &[],
    );
    run.code(0);
    assert_eq!(
        md5_at(&repository.join("components/plugins").join(target("org.a"))),
        md5_of("org.a", "patch0001")
    );
    let log = fs::read_to_string(repository.join("logs/patches.log")).unwrap();
    assert!(log.contains("patch0001"), "{log}");
    assert!(env.read("repository/logs/patches.log").is_none());
    assert!(
        repository
            .join("components/patches/.metadata/carbon-patch.lock")
            .is_file()
    );

    let run = env.run_with(
        &["verify", &home],
        None,
        &[("CARBON_REPOSITORY", &repo)],
        &[],
    );
    run.code(0);
    let run = env.run_with(
        &["status", &home],
        None,
        &[("CARBON_REPOSITORY", &repo)],
        &[],
    );
    run.code(0);
    has_line(
        &run.stdout,
        &format!("  repository    {repo} ($CARBON_REPOSITORY)"),
    );
    has_line(
        &run.stdout,
        &format!("  patches       {repo}/components/patches (default)"),
    );
    let run = env.run_with(
        &["status", "--format", "json", &home],
        None,
        &[("CARBON_REPOSITORY", &repo)],
        &[],
    );
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        doc["layout"]["sources"]["repository"],
        json!({"from": "environment", "variable": "CARBON_REPOSITORY"})
    );
    assert_eq!(doc["layout"]["repository"], repo);
}

#[test]
fn a_repository_moved_by_a_script_inside_product_home_is_followed() {
    let env = Env::empty();
    let repository = env.root().join("data/repository");
    fill_plugins(&repository.join("components/plugins"), &["org.a"]);
    add_patch(&repository.join("components/patches"), "patch0001", "org.a");
    let text = script(
        &env,
        "bin/wso2server.sh",
        &["'-Dcarbon.repository=data/repository'"],
    );
    env.apply().code(0);
    assert!(repository.join("logs/patches.log").is_file());
    assert!(
        repository
            .join("components/patches/.metadata/prePatchedDir.txt")
            .is_file()
    );
    env.verify().code(0);
    let run = env.cmd("status", &[]);
    run.code(0);
    has_line(
        &run.stdout,
        &format!(
            "  repository    data/repository (-Dcarbon.repository in bin/wso2server.sh line {})",
            line_of(&text, "carbon.repository=")
        ),
    );
    has_line(
        &run.stdout,
        "  components    data/repository/components (default)",
    );
}

/// An Enterprise Integrator 6.x: `bin/integrator.sh` and two profiles
/// `wso2/<profile>/bin/wso2server.sh`, each with its own CARBON_HOME, naming one shared
/// components, patches and servicepacks directory (the scripts as the product ships them).
fn enterprise_integrator(broker_patches: &str) -> (Env, String) {
    let env = Env::empty();
    let integrator = script(
        &env,
        "bin/integrator.sh",
        &[
            "-Dcarbon.config.dir.path=\"$CARBON_HOME/conf\"",
            "-Dcarbon.components.dir.path=\"$CARBON_HOME/wso2/components\"",
            "-Dcarbon.patches.dir.path=\"$CARBON_HOME/patches\"",
            "-Dcarbon.servicepacks.dir.path=\"$CARBON_HOME/servicepacks\"",
            "-Dcomponents.repo=\"$CARBON_HOME/wso2/components/plugins\"",
        ],
    );
    for profile in ["broker", "business-process"] {
        let patches = if profile == "broker" {
            broker_patches
        } else {
            "$CARBON_HOME/../../patches"
        };
        script(
            &env,
            &format!("wso2/{profile}/bin/wso2server.sh"),
            &[
                "-Dcarbon.repository.dir.path=\"$CARBON_HOME/repository\"",
                "-Dcarbon.components.dir.path=\"$CARBON_HOME/../components\"",
                &format!("-Dcarbon.patches.dir.path=\"{patches}\""),
                "-Dcarbon.servicepacks.dir.path=\"$CARBON_HOME/../../servicepacks\"",
            ],
        );
    }
    put(
        &env.root().join("bin/ciphertool.sh"),
        b"#!/bin/sh\njava -cp x Tool\n",
    );
    let components = env.root().join("wso2/components");
    fill_plugins(&components.join("plugins"), &["org.a", "org.b"]);
    add_patch(&env.root().join("patches"), "patch0001", "org.a");
    add_service_pack(&env.root().join("servicepacks"), "servicepack001", "org.b");
    (env, integrator)
}

#[test]
fn enterprise_integrator_profiles_share_one_patches_and_one_components() {
    let (env, integrator) = enterprise_integrator("$CARBON_HOME/../../patches");
    env.apply()
        .code(0)
        .stdout_has("apply order: servicepack001, patch0001");
    let plugins = env.root().join("wso2/components/plugins");
    assert_eq!(
        md5_at(&plugins.join(target("org.a"))),
        md5_of("org.a", "patch0001")
    );
    assert_eq!(
        md5_at(&plugins.join(target("org.b"))),
        md5_of("org.b", "servicepack001")
    );
    let metadata = env.root().join("patches/.metadata");
    assert!(metadata.join("carbon-patch.lock").is_file());
    assert!(metadata.join("prePatchedDir.txt").is_file());
    assert!(env.root().join("patches/patch0000").is_dir());
    env.verify().code(0);

    let run = env.cmd("status", &[]);
    run.code(0);
    let patches_line = line_of(&integrator, "carbon.patches.dir.path");
    has_line(
        &run.stdout,
        &format!(
            "  patches       patches (-Dcarbon.patches.dir.path in bin/integrator.sh line {patches_line})"
        ),
    );
    has_line(
        &run.stdout,
        "  start scripts read: bin/ciphertool.sh, bin/integrator.sh, \
         wso2/broker/bin/wso2server.sh, wso2/business-process/bin/wso2server.sh",
    );
    let doc = status_json(&env, &[], 0);
    assert_eq!(doc["layout"]["patches"], "patches");
    assert_eq!(doc["layout"]["servicepacks"], "servicepacks");
    assert_eq!(doc["layout"]["plugins"], "wso2/components/plugins");
    assert_eq!(
        doc["layout"]["sources"]["components"]["script"],
        "bin/integrator.sh"
    );
    assert_eq!(doc["layout"]["scripts"].as_array().unwrap().len(), 4);
}

#[test]
fn a_running_profile_stops_apply_since_profiles_share_plugins() {
    let (env, _) = enterprise_integrator("$CARBON_HOME/../../patches");
    let pid_file = env.root().join("wso2/broker/wso2carbon.pid");
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
    fs::remove_file(&pid_file).unwrap();
    env.apply().code(0);
}

#[test]
fn profiles_naming_different_patches_are_refused_naming_both_scripts() {
    let (env, integrator) = enterprise_integrator("$CARBON_HOME/../../patches-broker");
    let run = assert_bad_input_changes_nothing(&env, "patches-broker");
    let broker = start_script(&[
        "-Dcarbon.repository.dir.path=\"$CARBON_HOME/repository\"",
        "-Dcarbon.components.dir.path=\"$CARBON_HOME/../components\"",
        "-Dcarbon.patches.dir.path=\"$CARBON_HOME/../../patches-broker\"",
    ]);
    run.stderr_has(&format!(
        "the start scripts disagree on -Dcarbon.patches.dir.path: bin/integrator.sh line {} names `{}/patches`, wso2/broker/bin/wso2server.sh line {} names",
        line_of(&integrator, "carbon.patches.dir.path"),
        env.home_str(),
        line_of(&broker, "carbon.patches.dir.path"),
    ))
    .stderr_has("hint: pass --patches-dir with the directory the server uses");
    assert_error(&env.cmd("status", &[]), 2, "wso2/broker/bin/wso2server.sh");

    // The operator settles it: the option wins, and status says so.
    let patches = env.root().join("patches");
    let patches = patches.to_str().unwrap();
    env.cmd("apply", &["--patches-dir", patches]).code(0);
    let run = env.cmd("status", &["--patches-dir", patches]);
    run.code(0);
    has_line(&run.stdout, "  patches       patches (--patches-dir)");
    let doc = status_json(&env, &["--patches-dir", patches], 0);
    assert_eq!(
        doc["layout"]["sources"]["patches"],
        json!({"from": "option", "option": "--patches-dir"})
    );
}

#[test]
fn a_value_only_running_the_script_would_give_is_a_warning_and_the_default_stays() {
    let env = home_with_plugins(&["org.a"]);
    env.home
        .add_patch_file("patch0001", &target("org.a"), &jar("org.a", "patch0001"));
    let text = script(
        &env,
        "bin/wso2server.sh",
        &["-Dcarbon.patches.dir.path=\"$PATCHES_HOME/patches\""],
    );
    let warning = format!(
        "bin/wso2server.sh line {}: `-Dcarbon.patches.dir.path=\"$PATCHES_HOME/patches\"` is not used",
        line_of(&text, "PATCHES_HOME")
    );
    env.apply().code(0).stderr_has(&warning);
    assert_eq!(
        env.plugin_md5(&target("org.a")),
        Some(md5_of("org.a", "patch0001"))
    );
    let doc = status_json(&env, &[], 0);
    assert_eq!(
        doc["layout"]["sources"]["patches"],
        json!({"from": "default"})
    );
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with(&warning)),
        "{}",
        doc["warnings"]
    );
}

#[test]
fn components_moved_where_no_plugins_are_is_no_carbon_product() {
    let env = Env::empty();
    script(
        &env,
        "bin/wso2server.sh",
        &["-Dcarbon.components.dir.path=/nonexistent/components"],
    );
    let run = env.apply();
    assert_error(&run, 2, "/nonexistent/components/plugins");
    run.stderr_has("is not a Carbon product");
}

#[test]
fn as_root_a_script_owned_by_another_user_cannot_move_where_root_writes() {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: not root, so no script can belong to another user here");
        return;
    }
    let env = home_with_plugins(&["org.a"]);
    let patches = outside(&env, "elsewhere/patches");
    add_patch(&patches, "patch0001", "org.a");
    script(
        &env,
        "bin/wso2server.sh",
        &[&format!("-Dcarbon.patches.dir.path={}", patches.display())],
    );
    let script_path = env.root().join("bin/wso2server.sh");
    // Plugins stay root's: the run would stay root and write where the script says.
    std::os::unix::fs::chown(&script_path, Some(65534), Some(65534)).unwrap();
    let before = env.snapshot();
    let run = env.apply();
    assert_error(&run, 2, "bin/wso2server.sh");
    run.stderr_has("belongs to uid 65534, neither root nor the user this run writes as (uid 0)");
    assert_eq!(env.snapshot(), before);
    assert!(!patches.join("patch0000").exists());

    std::os::unix::fs::chown(&script_path, Some(0), Some(0)).unwrap();
    env.apply().code(0);
    assert!(patches.join("patch0000").is_dir());
}
