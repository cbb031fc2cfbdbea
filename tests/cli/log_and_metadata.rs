//! SPEC §9–§10: the metadata files and patches.log, checked against hand-computed
//! contents for the sample product (every fixture byte is reproducible, so the MD5s below
//! are constants), and against a model of the runtime's own start-up check.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::support::*;

// MD5s of the sample product's service pack and patch files.
const SP_AXIS2: &str = "142fa996bc6c7d9e9e4b1a772b4c6310";
const SP_BOOTUP: &str = "73ac9c909774aef509488bfb7bc22e12";
const SP_CORE: &str = "8c205bbc84272b306bebf30adec56402";
const SP_USER_CORE: &str = "2693c65d89bb16bd618aff07f97e035d";
const SP_UTILS: &str = "e0631d581ce266c96e5b0da1633e16b3";
const P3_REGISTRY: &str = "7d08573695b652ecc6cb847d33e8959d";
const P4_CORE: &str = "9a52b0aa3eba52c334a5a258b6884f3c";
const P4_UI: &str = "a4b38ba63e8e602070fc8aac3f3f3ec4";
const P5_NDATASOURCE: &str = "f3c9ca73ba6d9b1897ce7b86b7099e9e";

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// The log lines of a run that applies the whole patch level (service pack, then patches).
fn patch_level_lines(patches: &[&str]) -> Vec<String> {
    let mut lines = strings(&[
        "Start applying - servicepack001",
        &format!("Patched org.apache.axis2.wso2_1.6.1.wso2v20.jar(MD5:{SP_AXIS2})"),
        &format!("Patched org.wso2.carbon.core.bootup.validator_4.4.9.jar(MD5:{SP_BOOTUP})"),
        &format!("Patched org.wso2.carbon.core_4.4.9.jar(MD5:{SP_CORE})"),
        &format!("Patched org.wso2.carbon.user.core_4.4.9.jar(MD5:{SP_USER_CORE})"),
        &format!("Patched org.wso2.carbon.utils_4.4.9.jar(MD5:{SP_UTILS})"),
    ]);
    for patch in patches {
        lines.push(format!("Applying - {patch}"));
        match *patch {
            "patch0003" => lines.push(format!("Patched registry-core-fix.jar(MD5:{P3_REGISTRY})")),
            "patch0004" => {
                lines.push(format!(
                    "Patched org.wso2.carbon.core_4.4.9.jar(MD5:{P4_CORE})"
                ));
                lines.push(format!("Patched org.wso2.carbon.ui_4.4.9.jar(MD5:{P4_UI})"));
            }
            "patch0005" => lines.push(format!(
                "Patched org.wso2.carbon.ndatasource.core_4.4.9.jar(MD5:{P5_NDATASOURCE})"
            )),
            other => panic!("no such sample patch {other}"),
        }
    }
    lines
}

const VERIFIED: [&str; 2] = [
    "Patch verification started",
    "Patch verification successfully completed",
];

fn first_apply_log() -> Vec<String> {
    let mut expected = strings(&[
        "Checking for patch changes ...",
        "New service pack available - servicepack001",
        "New patch available - patch0003",
        "New patch available - patch0004",
        "New patch available - patch0005",
        "Patch changes detected ",
        "Backed up plugins to patch0000",
        "Applying patches ...",
    ]);
    expected.extend(patch_level_lines(&["patch0003", "patch0004", "patch0005"]));
    expected.extend(strings(&VERIFIED));
    expected
}

#[test]
fn first_apply_logs_what_the_runtime_logs() {
    let env = Env::sample();
    env.apply().code(0);
    assert_eq!(env.log_messages(), first_apply_log());
}

#[test]
fn log_lines_have_the_runtime_layout_with_two_spaces_after_the_dash() {
    let env = Env::sample();
    env.apply().code(0);
    let text = env.read("repository/logs/patches.log").unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.ends_with(
            "]  INFO {org.wso2.carbon.server.util.PatchUtils} -  Checking for patch changes ..."
        ),
        "{first:?}"
    );
}

#[test]
fn no_change_run_logs_the_four_runtime_lines() {
    let env = Env::sample();
    env.apply().code(0);
    let before = env.log_messages().len();
    env.apply().code(0);
    let messages = env.log_messages();
    assert_eq!(
        messages[before..],
        strings(&[
            "Checking for patch changes ...",
            "No new patch or service pack detected, server will start without applying patches ",
            VERIFIED[0],
            VERIFIED[1],
        ])
    );
}

#[test]
fn reverting_a_patch_that_added_a_bundle_logs_revert_and_archive() {
    let env = Env::sample();
    env.apply().code(0);
    let before = env.log_messages().len();
    fs::remove_dir_all(env.patches().join("patch0005")).unwrap();
    env.apply().code(0);
    let mut expected = strings(&[
        "Checking for patch changes ...",
        "patch0005 has been reverted",
        "Patch changes detected ",
        "Applying patches ...",
    ]);
    expected.extend(patch_level_lines(&["patch0003", "patch0004"]));
    expected.push(
        "Archived org.wso2.carbon.ndatasource.core_4.4.9.jar to \
         repository/components/patches/.metadata/archive/0001-apply/org.wso2.carbon.ndatasource.core_4.4.9.jar"
            .to_string(),
    );
    expected.extend(strings(&VERIFIED));
    assert_eq!(env.log_messages()[before..], expected);
}

#[test]
fn reverting_a_patch_that_replaced_bundles_logs_the_restore() {
    let env = Env::sample();
    env.apply().code(0);
    let before = env.log_messages().len();
    fs::remove_dir_all(env.patches().join("patch0004")).unwrap();
    env.apply().code(0);
    let mut expected = strings(&[
        "Checking for patch changes ...",
        "patch0004 has been reverted",
        "Patch changes detected ",
        "Applying patches ...",
        "restoring bundle backup directory",
    ]);
    expected.extend(patch_level_lines(&["patch0003", "patch0005"]));
    // The patched ui and core exist nowhere else once patch0004 is gone: kept in the archive.
    for name in [
        "org.wso2.carbon.core_4.4.9.jar",
        "org.wso2.carbon.ui_4.4.9.jar",
    ] {
        expected.push(format!(
            "Archived {name} to repository/components/patches/.metadata/archive/0001-apply/{name}"
        ));
    }
    expected.extend(strings(&VERIFIED));
    assert_eq!(env.log_messages()[before..], expected);
    // ui comes back from the backup, core falls back to the service pack's version.
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.ui_4.4.9.jar"),
        Some(Env::md5_of(
            &env.backup().join("org.wso2.carbon.ui_4.4.9.jar")
        ))
    );
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.core_4.4.9.jar").as_deref(),
        Some(SP_CORE)
    );
}

#[test]
fn a_changed_file_in_an_applied_patch_is_logged_as_updated() {
    let env = Env::sample();
    env.apply().code(0);
    let before = env.log_messages().len();
    let new_ui = bundle_jar(
        "org.wso2.carbon.ui;singleton:=true",
        "4.4.9",
        "patch0004-v2",
    );
    fs::write(
        env.patches().join("patch0004/org.wso2.carbon.ui_4.4.9.jar"),
        &new_ui,
    )
    .unwrap();
    env.home.add_patch_file(
        "patch0003",
        "extra.jar",
        &bundle_jar("org.example.extra", "1.0.0", "p3"),
    );
    env.apply().code(0);
    let messages = &env.log_messages()[before..];
    assert_eq!(messages[1], "org.example.extra_1.0.0.jar has been added");
    assert_eq!(messages[2], "org.wso2.carbon.ui_4.4.9.jar has been updated");
    assert!(messages.contains(&format!(
        "Patched org.wso2.carbon.ui_4.4.9.jar(MD5:{})",
        md5_hex(&new_ui)
    )));
}

const APPLIED: &str = "servicepack001\npatch0000\npatch0003\npatch0004\npatch0005\n";

fn expected_jar_list() -> String {
    let mut lines = [
        format!("org.apache.axis2.wso2_1.6.1.wso2v20.jar:{SP_AXIS2}"),
        format!("org.wso2.carbon.core.bootup.validator_4.4.9.jar:{SP_BOOTUP}"),
        format!("org.wso2.carbon.core_4.4.9.jar:{P4_CORE}"),
        format!("org.wso2.carbon.ndatasource.core_4.4.9.jar:{P5_NDATASOURCE}"),
        format!("org.wso2.carbon.registry.core_4.4.9.jar:{P3_REGISTRY}"),
        format!("org.wso2.carbon.ui_4.4.9.jar:{P4_UI}"),
        format!("org.wso2.carbon.user.core_4.4.9.jar:{SP_USER_CORE}"),
        format!("org.wso2.carbon.utils_4.4.9.jar:{SP_UTILS}"),
    ]
    .join("\n");
    lines.push('\n');
    lines
}

#[test]
fn metadata_files_hold_exactly_the_patch_level() {
    let env = Env::sample();
    env.apply().code(0);
    assert_eq!(
        env.read("repository/components/patches/.metadata/prePatchedJARs.txt")
            .unwrap(),
        expected_jar_list()
    );
    assert_eq!(
        env.read("repository/components/patches/.metadata/prePatchedDir.txt")
            .unwrap(),
        APPLIED
    );
    assert_eq!(
        env.read("repository/components/default/configuration/prePatched.txt")
            .unwrap(),
        APPLIED
    );
}

#[test]
fn metadata_after_a_revert_drops_the_patch() {
    let env = Env::sample();
    env.apply().code(0);
    fs::remove_dir_all(env.patches().join("patch0005")).unwrap();
    env.apply().code(0);
    let jars = env
        .read("repository/components/patches/.metadata/prePatchedJARs.txt")
        .unwrap();
    assert_eq!(
        jars,
        expected_jar_list().replace(
            &format!("org.wso2.carbon.ndatasource.core_4.4.9.jar:{P5_NDATASOURCE}\n"),
            ""
        )
    );
    let applied = "servicepack001\npatch0000\npatch0003\npatch0004\n";
    assert_eq!(
        env.read("repository/components/patches/.metadata/prePatchedDir.txt")
            .unwrap(),
        applied
    );
    assert_eq!(
        env.read("repository/components/default/configuration/prePatched.txt")
            .unwrap(),
        applied
    );
}

#[test]
fn no_change_run_rewrites_no_metadata() {
    let env = Env::sample();
    env.apply().code(0);
    let before = env.snapshot();
    env.apply().code(0);
    let after = env.snapshot();
    let changed: Vec<_> = after
        .entries
        .iter()
        .filter(|(path, info)| before.entries.get(*path) != Some(info))
        .map(|(path, _)| path.clone())
        .collect();
    // Only the log and the history grow (their directories' mtimes do not change: the
    // files are appended to).
    assert_eq!(
        changed,
        [
            Path::new("repository/components/patches/.metadata/carbon-patch-history.jsonl"),
            Path::new("repository/logs/patches.log")
        ],
        "changed: {changed:?}"
    );
}

/// A model of what the Carbon 4.4 runtime checks at start-up (`PatchUtils`): the apply
/// order it computes from the directories must equal `prePatchedDir.txt` (else it sees a
/// new or reverted patch), every latest bundle must be in `prePatchedJARs.txt` with its
/// MD5 (else "has been updated/added"), and every plugin must have that MD5 (its own
/// verification). Returns what the runtime would complain about.
fn runtime_start_complaints(env: &Env) -> Vec<String> {
    let names = |dir: &Path, prefix: &str| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        names.retain(|n| n.starts_with(prefix));
        names.sort();
        names
    };
    let mut complaints = Vec::new();
    let packs = names(&env.servicepacks(), "servicepack");
    let mut order = Vec::new();
    let mut covered = Vec::new();
    let mut providers: Vec<std::path::PathBuf> = Vec::new();
    if let Some(latest) = packs.last() {
        order.push(latest.clone());
        let list = fs::read_to_string(
            env.servicepacks()
                .join(latest)
                .join("servicepack_patches.txt"),
        )
        .unwrap();
        covered = list.lines().map(|l| l.trim().to_string()).collect();
        providers.push(env.servicepacks().join(latest).join("lib"));
    }
    for patch in names(&env.patches(), "patch") {
        if !covered.contains(&patch) {
            if patch != "patch0000" {
                providers.push(env.patches().join(&patch));
            }
            order.push(patch);
        }
    }
    let recorded: Vec<String> = env
        .read("repository/components/patches/.metadata/prePatchedDir.txt")
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    if recorded != order {
        complaints.push(format!(
            "patch directories changed: recorded {recorded:?}, found {order:?}"
        ));
    }
    let mut latest: BTreeMap<String, String> = BTreeMap::new();
    for dir in providers {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let own = path.file_name().unwrap().to_owned();
            let manifest = if carbon_patch::manifest::is_jar(&own) {
                carbon_patch::manifest::manifest_of(fs::File::open(&path).unwrap(), &path).unwrap()
            } else {
                None
            };
            let name = carbon_patch::manifest::decide_name(manifest.as_deref(), &own).unwrap();
            latest.insert(name.into_string().unwrap(), Env::md5_of(&path));
        }
    }
    let jars: BTreeMap<String, String> = env
        .read("repository/components/patches/.metadata/prePatchedJARs.txt")
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (name, md5) = l.rsplit_once(':').expect("every line has a colon");
            (name.to_string(), md5.to_string())
        })
        .collect();
    for (name, md5) in &latest {
        match jars.get(name) {
            Some(recorded) if recorded == md5 => {}
            Some(_) => complaints.push(format!("{name} has been updated")),
            None => complaints.push(format!("{name} has been added")),
        }
        if env.plugin_md5(name).as_ref() != Some(md5) {
            complaints.push(format!(
                "{name}(MD5: {md5}) has been patched, but not applied"
            ));
        }
    }
    complaints
}

#[test]
fn a_server_start_after_apply_finds_nothing_to_do() {
    let env = Env::sample();
    assert!(
        !runtime_start_complaints(&env).is_empty(),
        "the model must notice an unpatched tree"
    );
    env.apply().code(0);
    assert_eq!(runtime_start_complaints(&env), Vec::<String>::new());
}

#[test]
fn a_server_start_after_revert_and_after_rollback_finds_nothing_to_do() {
    let env = Env::sample();
    env.apply().code(0);
    fs::remove_dir_all(env.patches().join("patch0004")).unwrap();
    env.apply().code(0);
    assert_eq!(runtime_start_complaints(&env), Vec::<String>::new());
    env.rollback().code(0);
    assert_eq!(runtime_start_complaints(&env), Vec::<String>::new());
    assert_eq!(
        env.read("repository/components/patches/.metadata/prePatchedDir.txt")
            .unwrap(),
        "patch0000\n"
    );
}

/// A run that changes nothing takes one filesystem step: appending to `patches.log`. In
/// particular it does not flush the filesystem (`syncfs` would write back every other
/// program's data too). The debug build's fault switch counts the steps.
#[test]
fn no_change_run_takes_no_step_but_the_log() {
    let env = Env::sample();
    env.apply().code(0);
    let home = env.home_str();
    let fail_at = |step: &str| {
        let fault = format!("eio@{step}");
        env.run_with(
            &["apply", &home],
            None,
            &[("CARBON_PATCH_FAULT", &fault)],
            &[],
        )
    };
    let first = fail_at("1");
    first.code(3);
    assert!(
        first.stderr.contains("failed to append to") && first.stderr.contains("patches.log"),
        "the first step is the log's:\n{}",
        first.stderr
    );
    fail_at("2").code(0);
}
