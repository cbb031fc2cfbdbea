//! Patch archives (SPEC §14, issue 14): `add`, `remove`, `check`, and `rollback`, `verify`
//! and `status` with archives installed — through the real binary, on archives built in
//! WSO2's shape by `carbon_fixtures::PatchArchive`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use carbon_fixtures::{PatchArchive, RawEntry, write_bomb, write_raw_zip};

use crate::support::*;

/// The kernel of the test products, read from their core bundle.
const KERNEL: &str = "4.4.0";
const CARBON_XML: &str = "repository/conf/carbon.xml";
const VERSION_TXT: &str = "bin/wso2carbon-version.txt";
const WEBAPPS: &str = "repository/deployment/server/webapps";
const MANUAL: &str =
    "Add the following property to <CARBON_SERVER>/repository/conf/carbon.xml: <Foo>true</Foo>";

/// A product on kernel 4.4.0 with the files a patch archive replaces: carbon.xml, the
/// version file, a web application with its exploded directory.
fn product() -> Env {
    let env = home_with_plugins(&["org.foo", "org.bar"]);
    env.home.add_plugin(
        "org.wso2.carbon.core_4.4.0.jar",
        &bundle_jar("org.wso2.carbon.core", KERNEL, "base"),
    );
    write(&env, CARBON_XML, b"<Server>original</Server>\n");
    write(&env, VERSION_TXT, b"WSO2 Carbon Framework v4.4.0\n");
    write(&env, &format!("{WEBAPPS}/oauth2.war"), b"old war");
    write(
        &env,
        &format!("{WEBAPPS}/oauth2/WEB-INF/web.xml"),
        b"<web-app/>\n",
    );
    env
}

fn write(env: &Env, relative: &str, bytes: &[u8]) {
    let path = env.home.root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn file(env: &Env, relative: &str) -> Option<Vec<u8>> {
    std::fs::read(env.home.root.join(relative)).ok()
}

/// Patch 16: a bundle, carbon.xml replaced, a new endorsed jar, a script, the web
/// application, and a step the tool cannot do.
fn patch16() -> PatchArchive {
    PatchArchive::new(KERNEL, 16)
        .with_bundle("org.foo", VERSION, "p16")
        .with_resource(CARBON_XML, b"<Server>patched</Server>\n")
        .with_resource("lib/endorsed/fix.jar", b"endorsed fix")
        .with_resource_mode("bin/fix.sh", b"#!/bin/sh\necho fix\n", 0o755)
        .with_webapp("oauth2", b"new war")
        .with_manual_step(MANUAL)
}

/// Writes `archive` as a zip in a new directory beside the product; returns its path.
fn zip_of(env: &Env, archive: &PatchArchive) -> PathBuf {
    let dir = env.home.root.parent().unwrap().join("downloads");
    std::fs::create_dir_all(&dir).unwrap();
    archive.write_zip(&dir)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn record_dir(env: &Env, id: &str) -> PathBuf {
    env.metadata().join("patch-archives").join(id)
}

/// Everything of the product but carbon-patch's own records, the backup, the applied
/// lists and the log — each entry's kind, content and mode: what `remove` and `rollback`
/// must give back byte for byte.
fn product_files(env: &Env) -> std::collections::BTreeMap<PathBuf, String> {
    let all = env.snapshot();
    let contents = all.contents();
    contents
        .into_iter()
        .filter(|(path, _)| {
            !(path.starts_with("repository/components/patches")
                || path.starts_with("repository/logs")
                || path.starts_with("repository/components/default"))
        })
        .map(|(path, text)| {
            let mode = all.entries[&path].mode & 0o7777;
            (path, format!("{text} {mode:o}"))
        })
        .collect()
}

#[track_caller]
fn assert_same_files(
    before: &std::collections::BTreeMap<PathBuf, String>,
    after: &std::collections::BTreeMap<PathBuf, String>,
    what: &str,
) {
    let diff: Vec<String> = before
        .iter()
        .filter(|(p, v)| after.get(*p) != Some(v))
        .map(|(p, v)| format!("{}: {v} -> {:?}", p.display(), after.get(p)))
        .chain(
            after
                .iter()
                .filter(|(p, _)| !before.contains_key(*p))
                .map(|(p, v)| format!("{}: added {v}", p.display())),
        )
        .collect();
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}

#[test]
fn add_places_the_patch_and_every_resource_keeping_each_original_then_applies() {
    let env = product();
    let archive = patch16();
    let zip = zip_of(&env, &archive);
    let run = env.cmd("add", &[s(&zip)]);
    run.code(0)
        .stdout_has(&format!("patch {} (patch0016", archive.id()))
        .stdout_has("manual steps left to you:")
        .stdout_has(MANUAL)
        .stdout_has("verification: passed")
        .stdout_has("resource repository/conf/carbon.xml: ");

    // The patch directory is in patches, and applied.
    assert_eq!(
        Env::md5_of(&env.patches().join("patch0016").join(target("org.foo"))),
        md5_of("org.foo", "p16")
    );
    assert_eq!(
        env.plugin_md5(&target("org.foo")),
        Some(md5_of("org.foo", "p16"))
    );
    // Every resource is in place, a script keeps its execute bit.
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>patched</Server>\n"
    );
    assert_eq!(file(&env, "lib/endorsed/fix.jar").unwrap(), b"endorsed fix");
    let script = env.home.root.join("bin/fix.sh");
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(
        file(&env, VERSION_TXT)
            .unwrap()
            .starts_with(b"WSO2 Carbon Framework v4.4.0\nPatch")
    );
    assert_eq!(
        file(&env, &format!("{WEBAPPS}/oauth2.war")).unwrap(),
        b"new war"
    );
    // The exploded directory is gone, so the server deploys the new war.
    assert!(!env.home.root.join(WEBAPPS).join("oauth2").exists());
    // Each original is kept under the patch's id.
    let originals = record_dir(&env, &archive.id()).join("originals");
    assert_eq!(
        std::fs::read(originals.join(CARBON_XML)).unwrap(),
        b"<Server>original</Server>\n"
    );
    assert_eq!(
        std::fs::read(originals.join(VERSION_TXT)).unwrap(),
        b"WSO2 Carbon Framework v4.4.0\n"
    );
    assert_eq!(
        std::fs::read(originals.join(WEBAPPS).join("oauth2/WEB-INF/web.xml")).unwrap(),
        b"<web-app/>\n"
    );
    assert!(
        !originals.join("lib/endorsed/fix.jar").exists(),
        "an added file has no original"
    );
    // The log says what was placed.
    let log = env.read("repository/logs/patches.log").unwrap();
    assert!(
        log.contains(&format!("Added patch archive {} (patch0016", archive.id())),
        "{log}"
    );
    assert!(
        log.contains("Placed repository/conf/carbon.xml(MD5:"),
        "{log}"
    );

    env.verify().code(0);
    let status = env.cmd("status", &[]);
    status
        .code(0)
        .stdout_has("patch archives:")
        .stdout_has(&format!(
            "{} (patch0016, from {}.zip): added",
            archive.id(),
            archive.id()
        ))
        .stdout_has("JIRA: ")
        .stdout_has(MANUAL);
}

#[test]
fn adding_the_same_archive_again_changes_nothing_and_another_under_its_id_is_refused() {
    let env = product();
    let zip = zip_of(&env, &patch16());
    env.cmd("add", &[s(&zip)]).code(0);
    let before = product_files(&env);
    env.cmd("add", &[s(&zip)])
        .code(0)
        .stdout_has("is installed already: nothing to add");
    assert_same_files(
        &before,
        &product_files(&env),
        "a second add changes nothing",
    );

    // Same id, other content.
    let other = PatchArchive::new(KERNEL, 16).with_bundle("org.foo", VERSION, "other");
    let dir = env.home.root.parent().unwrap().join("other");
    std::fs::create_dir_all(&dir).unwrap();
    let other = other.write_zip(&dir);
    let before = env.snapshot();
    let run = env.cmd("add", &[s(&other)]);
    assert_error(&run, 2, "WSO2-CARBON-PATCH-4.4.0-0016.zip");
    run.stderr_has("is installed already")
        .stderr_has("carbon-patch remove");
    assert_same_tree(&before, &env.snapshot(), "a refused add changes nothing");
}

#[test]
fn remove_gives_back_every_byte_and_sets_the_patch_directory_aside() {
    let env = product();
    env.apply().code(0);
    let before = product_files(&env);
    let archive = patch16();
    env.cmd("add", &[s(&zip_of(&env, &archive))]).code(0);
    let run = env.cmd("remove", &[&archive.id()]);
    run.code(0)
        .stdout_has(&format!(
            "Removed patch archive {} (patch0016)",
            archive.id()
        ))
        .stdout_has("verification: passed");
    assert_same_files(&before, &product_files(&env), "remove restores the product");
    assert!(!env.patches().join("patch0016").exists());
    assert!(env.patches().join(".removed").join("patch0016").is_dir());
    assert_eq!(
        env.plugin_md5(&target("org.foo")),
        Some(md5_of("org.foo", "base"))
    );
    assert!(!record_dir(&env, &archive.id()).exists());
    env.verify().code(0);
    // The history tells both runs apart from the applies around them.
    env.cmd("history", &[])
        .code(0)
        .stdout_has("  add      as ")
        .stdout_has("added: 5 file(s) placed outside plugins")
        .stdout_has("removed: 5 file(s) given back outside plugins");
    // And it can be added again.
    env.cmd("add", &[s(&zip_of(&env, &archive))]).code(0);
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>patched</Server>\n"
    );
}

#[test]
fn remove_keeps_the_operators_edits_of_a_placed_file_in_the_archive() {
    let env = product();
    let archive = patch16();
    env.cmd("add", &[s(&zip_of(&env, &archive))]).code(0);
    write(&env, CARBON_XML, b"<Server>patched, then tuned</Server>\n");
    env.verify()
        .code(1)
        .stdout_has("repository/conf/carbon.xml(MD5: ");
    env.cmd("remove", &["patch0016"])
        .code(0)
        .stdout_has("changed since");
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>original</Server>\n"
    );
    let archived: Vec<PathBuf> = walkdir::WalkDir::new(env.metadata().join("archive"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.ends_with(CARBON_XML))
        .collect();
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert_eq!(
        std::fs::read(&archived[0]).unwrap(),
        b"<Server>patched, then tuned</Server>\n"
    );
}

#[test]
fn rollback_gives_back_every_resource_as_well_as_plugins() {
    let env = product();
    env.apply().code(0);
    let before = product_files(&env);
    let first = patch16();
    let second = PatchArchive::new(KERNEL, 17)
        .with_bundle("org.bar", VERSION, "p17")
        .with_resource(CARBON_XML, b"<Server>patched twice</Server>\n")
        .with_resource(
            "repository/resources/security/client-truststore.jks",
            b"jks",
        );
    env.cmd("add", &[s(&zip_of(&env, &first))]).code(0);
    env.cmd("add", &[s(&zip_of(&env, &second))]).code(0);
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>patched twice</Server>\n"
    );
    let dry = env.cmd("rollback", &["--dry-run"]);
    dry.code(0)
        .stdout_has(&format!(
            "would remove patch archive {} (patch0017)",
            second.id()
        ))
        .stdout_has(&format!(
            "would remove patch archive {} (patch0016)",
            first.id()
        ));
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>patched twice</Server>\n"
    );
    env.rollback()
        .code(0)
        .stdout_has(&format!("Removed patch archive {}", first.id()))
        .stdout_has(&format!("Removed patch archive {}", second.id()));
    assert_same_files(
        &before,
        &product_files(&env),
        "rollback restores the product",
    );
    env.verify().code(0);
    env.apply().code(0).stdout_has("nothing written");
}

#[test]
fn removing_a_patch_whose_resource_a_later_one_replaced_is_refused_unless_both_go() {
    let env = product();
    let first = patch16();
    let second = PatchArchive::new(KERNEL, 17).with_resource(CARBON_XML, b"<Server>17</Server>\n");
    env.cmd(
        "add",
        &[s(&zip_of(&env, &first)), s(&zip_of(&env, &second))],
    )
    .code(0);
    let before = env.snapshot();
    let run = env.cmd("remove", &[&first.id()]);
    assert_error(&run, 2, "patch-archives");
    run.stderr_has(&format!(
        "{}, added after it, replaced its repository/conf/carbon.xml",
        second.id()
    ))
    .stderr_has(&format!(
        "carbon-patch remove {} {}",
        first.id(),
        second.id()
    ));
    assert_same_tree(&before, &env.snapshot(), "a refused remove changes nothing");
    env.cmd("remove", &[&first.id(), &second.id()]).code(0);
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>original</Server>\n"
    );
}

#[test]
fn a_patch_for_another_kernel_is_refused_unless_forced() {
    let env = product();
    let archive = PatchArchive::new("4.4.9", 3).with_bundle("org.foo", VERSION, "p3");
    let zip = zip_of(&env, &archive);
    let before = env.snapshot();
    let run = env.cmd("add", &[s(&zip)]);
    assert_error(&run, 2, "WSO2-CARBON-PATCH-4.4.9-0003.zip");
    run.stderr_has("applies to kernel 4.4.9")
        .stderr_has("this product runs kernel 4.4.0")
        .stderr_has("--force");
    assert_same_tree(&before, &env.snapshot(), "a refused add changes nothing");
    env.cmd("check", &[s(&zip)])
        .code(1)
        .stdout_has("[applicability]");
    env.cmd("add", &["--force", s(&zip)])
        .code(0)
        .stderr_has("installed anyway (--force)");
}

#[test]
fn a_directory_of_the_archives_shape_is_added_as_the_zip_is() {
    let env = product();
    let archive = patch16();
    let dir = archive.write_dir(&env.home.root.parent().unwrap().join("unpacked"));
    env.cmd("add", &["--no-apply", s(&dir)])
        .code(0)
        .stdout_has(&format!("Added patch archive {}", archive.id()));
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>patched</Server>\n"
    );
    // Not applied yet: verify says the patch is pending.
    env.verify().code(1).stdout_has("patch0016 is pending");
    env.apply().code(0);
    env.verify().code(0);
}

#[test]
fn hostile_archives_are_refused_naming_the_entry_and_nothing_changes() {
    let env = product();
    env.apply().code(0);
    let top = "WSO2-CARBON-PATCH-4.4.0-0050";
    let readme = format!("Patch ID : {top}\nApplies To : All the products based on carbon 4.4.0\n");
    let base = |extra: RawEntry| {
        vec![
            RawEntry::File {
                name: format!("{top}/README.txt").into_bytes(),
                bytes: readme.clone().into_bytes(),
            },
            RawEntry::Dir {
                name: format!("{top}/patch0050/").into_bytes(),
            },
            extra,
        ]
    };
    let file = |name: &str| RawEntry::File {
        name: name.as_bytes().to_vec(),
        bytes: b"evil".to_vec(),
    };
    let cases: Vec<(&str, Vec<RawEntry>, &str)> = vec![
        ("absolute", base(file("/tmp/evil")), "is an absolute path"),
        (
            "dotdot",
            base(file(&format!("{top}/../../evil"))),
            "climbs out",
        ),
        (
            "link",
            base(RawEntry::Symlink {
                name: format!("{top}/repository/conf/carbon.xml"),
                target: "/etc/shadow".into(),
            }),
            "is a symbolic link",
        ),
        (
            "control",
            base(file(&format!("{top}/bin/a\u{1b}[31m"))),
            "control character",
        ),
        (
            "backslash",
            base(file(&format!("{top}\\..\\evil"))),
            "backslash",
        ),
        (
            "plugins",
            base(file(&format!(
                "{top}/repository/components/plugins/evil_1.0.0.jar"
            ))),
            "which carbon-patch and the server manage",
        ),
        (
            "two patches",
            base(RawEntry::Dir {
                name: format!("{top}/patch0051/").into_bytes(),
            }),
            "2 patch directories",
        ),
        (
            "twice",
            base(RawEntry::File {
                name: format!("{top}/README.txt").into_bytes(),
                bytes: b"Patch ID : other\n".to_vec(),
            }),
            "names an entry twice",
        ),
        (
            "no readme",
            vec![RawEntry::Dir {
                name: format!("{top}/patch0050/").into_bytes(),
            }],
            "no README.txt",
        ),
    ];
    let dir = env.home.root.parent().unwrap().join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let outside = env.home.root.parent().unwrap().join("evil");
    for (name, entries, why) in cases {
        let zip = dir.join(format!("{}.zip", name.replace(' ', "-")));
        write_raw_zip(&zip, &entries);
        let before = env.snapshot();
        let run = env.cmd("add", &[s(&zip)]);
        assert_error(&run, 2, zip.file_name().unwrap().to_str().unwrap());
        run.stderr_has(why);
        assert!(
            !run.stderr.contains('\u{1b}'),
            "{name}: raw escape in {}",
            run.stderr
        );
        assert_same_tree(&before, &env.snapshot(), name);
        assert!(!outside.exists(), "{name} wrote outside");
    }
}

#[test]
fn a_zip_bomb_is_refused_before_it_is_inflated() {
    let env = product();
    let zip = env.home.root.parent().unwrap().join("bomb.zip");
    write_bomb(&zip, 64 << 20);
    let before = env.snapshot();
    let run = env.cmd("add", &[s(&zip)]);
    assert_error(&run, 2, "bomb.zip");
    run.stderr_has("zip bomb");
    assert_same_tree(&before, &env.snapshot(), "a refused bomb changes nothing");
}

#[test]
fn check_reports_the_pre_flight_and_changes_nothing() {
    let env = product();
    let archive = patch16();
    let zip = zip_of(&env, &archive);
    let before = env.snapshot();
    let run = env.cmd("check", &[s(&zip)]);
    run.code(0)
        .stdout_has(&format!(
            "{} (patch0016, {}.zip): would add",
            archive.id(),
            archive.id()
        ))
        .stdout_has(MANUAL)
        .stdout_has("check: nothing stands in the way");
    assert_same_tree(&before, &env.snapshot(), "check is read-only");
    let json = env.cmd("check", &["--format", "json", s(&zip)]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["command"], "check");
    assert_eq!(
        doc["archives"][0]["manual_steps"][0],
        format!("(viii) {MANUAL}")
    );
    assert_eq!(doc["archives"][0]["applicability"]["verdict"], "applies");
    // WSO2 Update Tool manages the product: warned.
    write(&env, "updates/config.json", b"{}");
    env.cmd("check", &[]).code(0).stdout_has("[update_tool]");
}

/// Runs `carbon-patch <args> <home>` with the fault `fault` armed; `None` when the run
/// finished (the fault's step was never reached), else whether it was killed.
fn run_with_fault(
    env: &Env,
    args: &[&str],
    fault: &str,
    vars: &[(&str, &str)],
) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    let home = s(&env.home.root).to_string();
    all.push(&home);
    std::process::Command::new(env!("CARGO_BIN_EXE_carbon-patch"))
        .args(&all)
        .envs(vars.iter().copied())
        .env("CARBON_PATCH_FAULT", fault)
        .env_remove("CARBON_HOME")
        .env("NO_COLOR", "1")
        .output()
        .expect("run carbon-patch")
}

/// Every temporary name left anywhere in the product.
fn temporaries(env: &Env) -> Vec<PathBuf> {
    env.snapshot()
        .entries
        .into_keys()
        .filter(|p| p.to_string_lossy().contains(".carbon-patch-tmp."))
        .collect()
}

/// Kills `args` at every filesystem step in turn (`abort@n`, as a power cut would), on a
/// fresh product from `setup` each time; after each kill, checks `between`, runs the same
/// command again, and checks it ends as a clean run does: the same product files, no
/// temporary left, verify content. Returns how many steps were swept.
fn sweep(
    setup: impl Fn() -> Env,
    args: impl Fn(&Env) -> Vec<String>,
    vars: &[(&str, &str)],
    between: impl Fn(&Env, &str),
) -> usize {
    let reference = {
        let env = setup();
        let args = args(&env);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.cmd(args[0], &args[1..]).code(0);
        product_files(&env)
    };
    for n in 1.. {
        let env = setup();
        let args = args(&env);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = run_with_fault(&env, &args, &format!("abort@{n}"), vars);
        if output.status.success() {
            assert_same_files(
                &reference,
                &product_files(&env),
                "a run that was not killed",
            );
            return n - 1;
        }
        let what = format!("{} killed at step {n}", args[0]);
        assert!(
            std::os::unix::process::ExitStatusExt::signal(&output.status).is_some(),
            "{what}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        between(&env, &what);
        env.cmd(args[0], &args[1..]).code(0);
        assert_same_files(&reference, &product_files(&env), &what);
        assert_eq!(
            temporaries(&env),
            Vec::<PathBuf>::new(),
            "{what}: temporaries"
        );
        env.verify().code(0);
    }
    unreachable!()
}

/// Each resource holds its old or its new content, and an original it no longer holds is
/// kept.
fn assert_resources_old_or_new(env: &Env, id: &str, what: &str) {
    let originals = record_dir(env, id).join("originals");
    for (path, old, new) in [
        (
            CARBON_XML,
            &b"<Server>original</Server>\n"[..],
            &b"<Server>patched</Server>\n"[..],
        ),
        (
            &format!("{WEBAPPS}/oauth2.war")[..],
            &b"old war"[..],
            &b"new war"[..],
        ),
    ] {
        let now = file(env, path).unwrap_or_else(|| panic!("{what}: {path} is missing"));
        assert!(
            now == old || now == new,
            "{what}: {path} is neither old nor new"
        );
        if now == new {
            let kept = std::fs::read(originals.join(path)).ok();
            let removed = env.metadata().join("patch-archives/.removed").exists();
            assert!(
                kept.as_deref() == Some(old) || removed,
                "{what}: {path} is replaced but its original is not kept"
            );
        }
    }
}

#[test]
fn an_add_killed_at_any_step_is_finished_by_the_next_add() {
    let archive = patch16();
    let id = archive.id();
    let setup = || {
        let env = product();
        env.apply().code(0);
        zip_of(&env, &archive);
        env
    };
    let steps = sweep(
        setup,
        |env| vec!["add".into(), s(&zip_of(env, &archive)).into()],
        &[],
        |env, what| assert_resources_old_or_new(env, &id, what),
    );
    eprintln!("swept {steps} steps");
    assert!(steps > 20, "only {steps} steps swept");
}

#[test]
fn a_remove_killed_at_any_step_is_finished_by_the_next_remove() {
    let archive = patch16();
    let id = archive.id();
    let setup = || {
        let env = product();
        env.apply().code(0);
        env.cmd("add", &[s(&zip_of(&env, &archive))]).code(0);
        env
    };
    let steps = sweep(
        setup,
        |_| vec!["remove".into(), id.clone()],
        &[],
        |env, what| assert_resources_old_or_new(env, &id, what),
    );
    eprintln!("swept {steps} steps");
    assert!(steps > 20, "only {steps} steps swept");
}

/// Where a move cannot be a rename (the patches directory on another filesystem than the
/// product's files; the debug build's switch makes every such move copy), `add` and
/// `remove` copy, flush, then remove: killed at any step, the next run finishes.
#[test]
fn an_add_and_a_remove_copying_across_filesystems_killed_at_any_step_are_finished() {
    let archive = patch16();
    let id = archive.id();
    let cross = [("CARBON_PATCH_CROSS_DEVICE", "1")];
    let added = sweep(
        || {
            let env = product();
            env.apply().code(0);
            env
        },
        |env| vec!["add".into(), s(&zip_of(env, &archive)).into()],
        &cross,
        |env, what| assert_resources_old_or_new(env, &id, what),
    );
    let removed = sweep(
        || {
            let env = product();
            env.apply().code(0);
            env.cmd("add", &[s(&zip_of(&env, &archive))]).code(0);
            env
        },
        |_| vec!["remove".into(), id.clone()],
        &cross,
        |env, what| assert_resources_old_or_new(env, &id, what),
    );
    eprintln!("across filesystems: add {added} steps, remove {removed} steps swept");
}

#[test]
fn a_link_or_fifo_where_a_resource_goes_is_refused_and_nothing_changes() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.xml");
    std::fs::write(&secret, b"secret").unwrap();
    let zip = |env: &Env| zip_of(env, &patch16());
    // A link planted at the file, at a directory on the way, and a FIFO at the file.
    type Plant<'a> = Box<dyn Fn(&Env) + 'a>;
    let plants: Vec<(&str, Plant)> = vec![
        (
            CARBON_XML,
            Box::new(|env: &Env| {
                let at = env.home.root.join(CARBON_XML);
                std::fs::remove_file(&at).unwrap();
                std::os::unix::fs::symlink(&secret, &at).unwrap();
            }),
        ),
        (
            "repository/conf",
            Box::new(|env: &Env| {
                let at = env.home.root.join("repository/conf");
                std::fs::remove_dir_all(&at).unwrap();
                std::os::unix::fs::symlink(outside.path(), &at).unwrap();
            }),
        ),
        (
            CARBON_XML,
            Box::new(|env: &Env| {
                let at = env.home.root.join(CARBON_XML);
                std::fs::remove_file(&at).unwrap();
                let c = std::ffi::CString::new(at.to_str().unwrap()).unwrap();
                // SAFETY: mkfifo reads the NUL-terminated path only.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
            }),
        ),
    ];
    for (path, plant) in plants {
        let env = product();
        let zip = zip(&env);
        plant(&env);
        let before = env.snapshot();
        let run = env.cmd("add", &[s(&zip)]);
        assert_error(&run, 2, path);
        assert_same_tree(&before, &env.snapshot(), path);
        assert_eq!(std::fs::read(&secret).unwrap(), b"secret");
    }
}

#[test]
fn an_archive_zipped_on_a_mac_is_read_without_its_litter() {
    let env = product();
    let archive = PatchArchive::new(KERNEL, 21).with_bundle("org.foo", VERSION, "p21");
    let top = archive.id();
    let mut entries: Vec<RawEntry> = archive
        .files()
        .into_iter()
        .map(|(name, bytes, _)| RawEntry::File {
            name: format!("{top}/{name}").into_bytes(),
            bytes,
        })
        .collect();
    entries.push(RawEntry::File {
        name: format!("__MACOSX/{top}/._README.txt").into_bytes(),
        bytes: b"\0\x05\x16\x07".to_vec(),
    });
    entries.push(RawEntry::File {
        name: format!("{top}/.DS_Store").into_bytes(),
        bytes: b"Bud1".to_vec(),
    });
    let zip = env.home.root.parent().unwrap().join(format!("{top}.zip"));
    write_raw_zip(&zip, &entries);
    env.cmd("add", &[s(&zip)]).code(0);
    assert_eq!(
        env.plugin_md5(&target("org.foo")),
        Some(md5_of("org.foo", "p21"))
    );
}

#[test]
fn control_characters_of_a_readme_reach_no_terminal_and_no_log() {
    let env = product();
    let archive = PatchArchive::new(KERNEL, 22)
        .applies_to("All the products based on carbon 4.4.0\u{1b}[2J")
        .with_bundle("org.foo", VERSION, "p22")
        .with_manual_step("Edit carbon.xml\u{1b}]0;owned\u{7} by hand");
    let run = env.cmd("add", &[s(&zip_of(&env, &archive))]);
    run.code(0)
        .stdout_has("Edit carbon.xml\\u{1b}]0;owned\\u{7} by hand");
    let status = env.cmd("status", &[]);
    let log = env.read("repository/logs/patches.log").unwrap();
    for text in [&run.stdout, &run.stderr, &status.stdout, &log] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
    }
}

#[test]
fn an_add_that_cannot_finish_stops_every_run_naming_the_file_until_it_is_removed() {
    let env = product();
    env.apply().code(0);
    let archive = patch16();
    let zip = zip_of(&env, &archive);
    // Killed once everything is staged and the patch directory placed, before any file of
    // the product changed (the step is found by looking, so the test holds whatever the
    // count of steps before it).
    let staged = (1..200)
        .find(|&n| {
            let probe = product();
            probe.apply().code(0);
            let zip = zip_of(&probe, &archive);
            run_with_fault(&probe, &["add", s(&zip)], &format!("abort@{n}"), &[]);
            let placed = probe.patches().join("patch0016").is_dir();
            let untouched = file(&probe, CARBON_XML).unwrap() == b"<Server>original</Server>\n"
                && file(&probe, "bin/fix.sh").is_none();
            placed && untouched
        })
        .expect("a step between placing the patch directory and the first resource");
    run_with_fault(&env, &["add", s(&zip)], &format!("abort@{staged}"), &[]);
    // Someone edits the file the add was about to replace.
    write(&env, CARBON_XML, b"<Server>edited meanwhile</Server>\n");
    let run = env.apply();
    assert_error(&run, 2, CARBON_XML);
    run.stderr_has("changed while")
        .stderr_has(&format!("carbon-patch remove {}", archive.id()));
    env.verify().code(1).stdout_has("did not finish");
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>edited meanwhile</Server>\n"
    );
    // remove takes it out as it is: the edit stays, the patch directory goes.
    env.cmd("remove", &[&archive.id()]).code(0);
    assert_eq!(
        file(&env, CARBON_XML).unwrap(),
        b"<Server>edited meanwhile</Server>\n"
    );
    assert!(!env.patches().join("patch0016").exists());
    env.verify().code(0);
}

#[test]
fn add_and_remove_under_a_running_server_exit_3_and_change_nothing() {
    let env = product();
    let archive = patch16();
    let zip = zip_of(&env, &archive);
    let pid_file = env.home.root.join("wso2carbon.pid");
    // The test process itself is a live process.
    std::fs::write(&pid_file, format!("{}\n", std::process::id())).unwrap();
    let before = env.snapshot();
    assert_error(&env.cmd("add", &[s(&zip)]), 3, "wso2carbon.pid");
    assert_same_tree(&before, &env.snapshot(), "a refused add changes nothing");
    env.cmd("add", &["--force", s(&zip)]).code(0);
    let before = env.snapshot();
    assert_error(&env.cmd("remove", &[&archive.id()]), 3, "wso2carbon.pid");
    assert_same_tree(&before, &env.snapshot(), "a refused remove changes nothing");
}
