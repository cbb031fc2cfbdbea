//! `pack` (issue 17) through the real binary: a distribution ZIP built from a generated
//! product home, patch archives in WSO2's shape, and the pack read back — its bytes, its
//! record, its tree against `add` + `apply` on a copy of the product, and what it refuses.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use carbon_fixtures::{
    PatchArchive, RawEntry, read_zip, unzip_to, write_product_zip, write_raw_zip,
};

use crate::support::*;

const KERNEL: &str = "4.4.0";
const TOP: &str = "wso2am-2.6.0";
const CARBON_XML: &str = "repository/conf/carbon.xml";
const SERVER_SH: &str = "bin/wso2server.sh";
const EPOCH: &str = "1700000000";
const RECORD: &str = "repository/components/patches/.metadata/carbon-patch-pack.json";
const MANUAL: &str =
    "Add the following property to <CARBON_SERVER>/repository/conf/carbon.xml: <Foo>true</Foo>";

/// carbon-patch's own files that a pack leaves out, dates with its own time, or adds
/// (docs/PACK.md): compared apart from the rest.
const VOLATILE: [&str; 6] = [
    "repository/components/patches/.metadata/carbon-patch-digests.json",
    "repository/components/patches/.metadata/carbon-patch.lock",
    "repository/components/patches/.metadata/carbon-patch-history.jsonl",
    "repository/logs/patches.log",
    "repository/components/patches/.metadata/patch-archives/WSO2-CARBON-PATCH-4.4.0-0016/record.json",
    RECORD,
];

/// A product on kernel 4.4.0 with configuration, an executable start script and a web
/// application.
fn product() -> Env {
    let env = home_with_plugins(&["org.foo", "org.bar"]);
    env.home.add_plugin(
        "org.wso2.carbon.core_4.4.0.jar",
        &bundle_jar("org.wso2.carbon.core", KERNEL, "base"),
    );
    write(&env, CARBON_XML, b"<Server>original</Server>\n", 0o644);
    write(&env, SERVER_SH, b"#!/bin/sh\necho start\n", 0o755);
    write(
        &env,
        "repository/deployment/server/webapps/oauth2.war",
        b"old war",
        0o644,
    );
    env
}

fn write(env: &Env, relative: &str, bytes: &[u8], mode: u32) {
    let path = env.home.root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn patch16() -> PatchArchive {
    PatchArchive::new(KERNEL, 16)
        .with_bundle("org.foo", VERSION, "p16")
        .with_resource(CARBON_XML, b"<Server>patched</Server>\n")
        .with_resource_mode("bin/fix.sh", b"#!/bin/sh\necho fix\n", 0o755)
        .with_webapp("oauth2", b"new war")
        .with_jira("CARBON-15770")
        .with_manual_step(MANUAL)
}

/// Where the test keeps its inputs and outputs: beside the product, in the temp dir.
fn work(env: &Env) -> PathBuf {
    let dir = env.home.root.parent().unwrap().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The product zipped as `<work>/wso2am-2.6.0.zip`.
fn distribution(env: &Env) -> PathBuf {
    let zip = work(env).join(format!("{TOP}.zip"));
    write_product_zip(&env.home.root, TOP, &zip, Some((2023, 5, 6, 7, 8, 10)));
    zip
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `carbon-patch pack` with `args` and SOURCE_DATE_EPOCH `epoch` (removed when `None`).
fn pack(env: &Env, args: &[&str], epoch: Option<&str>) -> Run {
    let mut all = vec!["pack"];
    all.extend_from_slice(args);
    match epoch {
        Some(epoch) => env.run_with(&all, None, &[("SOURCE_DATE_EPOCH", epoch)], &[]),
        None => env.run_with(&all, None, &[], &["SOURCE_DATE_EPOCH"]),
    }
}

/// The names in a directory, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every entry of a tree below `root` (relative path -> content MD5 and mode, or `dir`),
/// without the volatile files.
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    snapshot(root)
        .entries
        .into_iter()
        .filter(|(path, _)| !path.as_os_str().is_empty())
        .filter(|(path, _)| !VOLATILE.iter().any(|v| path == Path::new(v)))
        .map(|(path, info)| {
            let what = match info.kind {
                carbon_fixtures::EntryKind::Dir => format!("dir {:o}", info.mode & 0o7777),
                _ => format!("{} {:o}", info.digest, info.mode & 0o7777),
            };
            (path, what)
        })
        .collect()
}

#[test]
fn the_same_inputs_give_the_same_bytes_and_another_time_other_bytes() {
    let env = product();
    let base = distribution(&env);
    let archive = patch16().write_zip(&work(&env));
    let out = |name: &str| work(&env).join(name);
    let product_before = env.snapshot();
    for name in ["a.zip", "b.zip"] {
        pack(
            &env,
            &[s(&base), s(&archive), "-o", s(&out(name))],
            Some(EPOCH),
        )
        .code(0)
        .stdout_has(&format!("wrote {}", s(&out(name))));
    }
    pack(
        &env,
        &[s(&base), s(&archive), "-o", s(&out("c.zip"))],
        Some("1700086400"),
    )
    .code(0);
    let a = std::fs::read(out("a.zip")).unwrap();
    assert_eq!(
        a,
        std::fs::read(out("b.zip")).unwrap(),
        "same epoch, same bytes"
    );
    assert_ne!(a, std::fs::read(out("c.zip")).unwrap(), "another epoch");
    // Every entry: the epoch's time (2023-11-14 22:13:20 UTC), no extra field, 0755 for
    // directories and executables, 0644 else, in byte-wise order, under the top directory.
    let entries = read_zip(&out("a.zip"));
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
    assert_eq!(names, sorted);
    assert_eq!(names[0], format!("{TOP}/"));
    for entry in &entries {
        assert_eq!(entry.time, (2023, 11, 14, 22, 13, 20), "{}", entry.name);
        assert!(!entry.has_extra, "{}", entry.name);
        assert!(entry.name.starts_with(&format!("{TOP}/")), "{}", entry.name);
        let want = if entry.name.ends_with('/') {
            0o040755
        } else if entry.name.ends_with(".sh") {
            0o100755
        } else {
            0o100644
        };
        assert_eq!(entry.mode, want, "{}", entry.name);
    }
    assert_same_tree(
        &product_before,
        &env.snapshot(),
        "pack reads the distribution, never the tree it was zipped from",
    );
    // The private directory is gone: beside the outputs only the inputs and outputs.
    assert_eq!(
        names_in(&work(&env)),
        [
            "WSO2-CARBON-PATCH-4.4.0-0016.zip",
            "a.zip",
            "b.zip",
            "c.zip",
            "wso2am-2.6.0.zip"
        ]
    );
}

#[test]
fn the_record_says_what_went_in() {
    let env = product();
    let base = distribution(&env);
    let first = patch16().write_zip(&work(&env));
    let second = PatchArchive::new(KERNEL, 17)
        .with_bundle("org.bar", VERSION, "p17")
        .write_zip(&work(&env));
    let out = work(&env).join("out.zip");
    let run = pack(
        &env,
        &[
            "--format",
            "json",
            s(&base),
            s(&first),
            s(&second),
            "-o",
            s(&out),
        ],
        Some(EPOCH),
    );
    run.code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["command"], "pack");
    assert_eq!(doc["verification"]["passed"], true);
    let entries = read_zip(&out);
    let carried = entries
        .iter()
        .find(|e| e.name == format!("{TOP}/{RECORD}"))
        .expect("the record is in the pack");
    let record: serde_json::Value = serde_json::from_slice(&carried.bytes).unwrap();
    assert_eq!(
        record, doc["record"],
        "the record printed is the record carried"
    );
    assert_eq!(doc["record_path"], format!("{TOP}/{RECORD}"));

    assert_eq!(record["time"], "2023-11-14T22:13:20Z");
    assert_eq!(record["time_from"], "SOURCE_DATE_EPOCH");
    assert_eq!(record["base"]["file"], "wso2am-2.6.0.zip");
    assert_eq!(record["base"]["md5"], Env::md5_of(&base));
    assert_eq!(record["base"]["top"], TOP);
    assert_eq!(record["kernel"], KERNEL);
    assert_eq!(
        record["apply_order"],
        serde_json::json!(["patch0016", "patch0017"])
    );
    let patches = record["patches"].as_array().unwrap();
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[0]["id"], "WSO2-CARBON-PATCH-4.4.0-0016");
    assert_eq!(patches[0]["patch_dir"], "patch0016");
    assert_eq!(patches[0]["archive"], "WSO2-CARBON-PATCH-4.4.0-0016.zip");
    assert_eq!(
        patches[0]["applies_to"],
        "All the products based on carbon 4.4.0"
    );
    assert_eq!(
        patches[0]["jira"],
        serde_json::json!([
            "https://wso2.org/jira/browse/CARBON-16",
            "https://wso2.org/jira/browse/CARBON-15770"
        ])
    );
    assert_eq!(patches[1]["id"], "WSO2-CARBON-PATCH-4.4.0-0017");
    assert_eq!(
        record["manual_steps"],
        serde_json::json!([{
            "patch": "WSO2-CARBON-PATCH-4.4.0-0016",
            "step": format!("(vii) {MANUAL}")
        }])
    );
    // Every file changed, with its MD5 before and after.
    let files: BTreeMap<String, (String, serde_json::Value, serde_json::Value)> = record["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                (
                    f["change"].as_str().unwrap().to_string(),
                    f["before"].clone(),
                    f["after"].clone(),
                ),
            )
        })
        .collect();
    let md5 = |bytes: &[u8]| serde_json::Value::from(md5_hex(bytes));
    assert_eq!(
        files[&format!("repository/components/plugins/{}", target("org.foo"))],
        (
            "changed".into(),
            md5(&jar("org.foo", "base")),
            md5(&jar("org.foo", "p16"))
        )
    );
    assert_eq!(
        files[&format!("repository/components/plugins/{}", target("org.bar"))],
        (
            "changed".into(),
            md5(&jar("org.bar", "base")),
            md5(&jar("org.bar", "p17"))
        )
    );
    assert_eq!(
        files[CARBON_XML],
        (
            "changed".into(),
            md5(b"<Server>original</Server>\n"),
            md5(b"<Server>patched</Server>\n")
        )
    );
    assert_eq!(
        files["bin/fix.sh"],
        (
            "added".into(),
            serde_json::Value::Null,
            md5(b"#!/bin/sh\necho fix\n")
        )
    );
    assert_eq!(
        files[&format!(
            "repository/components/patches/patch0000/{}",
            target("org.foo")
        )],
        (
            "added".into(),
            serde_json::Value::Null,
            md5(&jar("org.foo", "base"))
        )
    );
    assert!(
        !files.contains_key(SERVER_SH),
        "unchanged files are not listed"
    );
    assert!(
        !files.contains_key(RECORD),
        "the record does not list itself"
    );
    // Each MD5 after is what the pack holds.
    for (path, (_, _, after)) in &files {
        if let Some(after) = after.as_str() {
            let entry = entries
                .iter()
                .find(|e| e.name == format!("{TOP}/{path}"))
                .unwrap_or_else(|| panic!("{path} is in the pack"));
            assert_eq!(md5_hex(&entry.bytes), after, "{path}");
        }
    }
    let left_out = record["left_out"].as_array().unwrap();
    assert!(
        left_out.contains(&serde_json::json!(
            "repository/components/patches/.metadata/carbon-patch-digests.json"
        )),
        "{left_out:?}"
    );
    // The text form says the same, in short.
    let text = pack(
        &env,
        &[
            s(&base),
            s(&first),
            s(&second),
            "-o",
            s(&work(&env).join("t.zip")),
        ],
        Some(EPOCH),
    );
    text.code(0)
        .stdout_has(
            "patch WSO2-CARBON-PATCH-4.4.0-0016 (patch0016, WSO2-CARBON-PATCH-4.4.0-0016.zip)",
        )
        .stdout_has("verification: passed")
        .stdout_has("manual steps left to you")
        .stdout_has(MANUAL)
        .stdout_has("repository/components/patches/patch0000/  (")
        .stdout_has(&format!("record: {TOP}/{RECORD}"));
}

#[test]
fn the_pack_holds_what_add_and_apply_make_of_the_product() {
    let env = product();
    let base = distribution(&env);
    let archive = patch16().write_zip(&work(&env));
    let out = work(&env).join("out.zip");
    pack(&env, &[s(&base), s(&archive), "-o", s(&out)], Some(EPOCH)).code(0);
    let unpacked = work(&env).join("unpacked");
    unzip_to(&out, &unpacked);
    // The same archive added to the product itself.
    env.cmd("add", &[s(&archive)]).code(0);
    let packed = tree(&unpacked.join(TOP));
    let added = tree(&env.home.root);
    let differ: Vec<String> = packed
        .iter()
        .filter(|(p, v)| added.get(*p) != Some(v))
        .map(|(p, v)| format!("{}: pack {v}, add {:?}", p.display(), added.get(p)))
        .chain(
            added
                .iter()
                .filter(|(p, _)| !packed.contains_key(*p))
                .map(|(p, v)| format!("{}: only after add ({v})", p.display())),
        )
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // The volatile files: the pack's log and history tell the same run, at the pack's time.
    let log =
        std::fs::read_to_string(unpacked.join(TOP).join("repository/logs/patches.log")).unwrap();
    assert!(
        log.contains("Patch verification successfully completed"),
        "{log}"
    );
    assert!(
        log.lines()
            .all(|l| l.starts_with("[2023-11-14 22:13:20,000]")),
        "{log}"
    );
    assert!(
        !unpacked
            .join(TOP)
            .join("repository/components/patches/.metadata/carbon-patch-digests.json")
            .exists()
    );
    // The unpacked pack is a patched product carbon-patch verifies, and apply finds
    // nothing to do in it.
    let packed_env = Env::at(
        tempfile::tempdir().unwrap(),
        carbon_fixtures::ProductHome {
            root: unpacked.join(TOP),
        },
    );
    packed_env.verify().code(0);
    packed_env.apply().code(0).stdout_has("nothing written");
    packed_env
        .cmd("history", &[])
        .code(0)
        .stdout_has("2023-11-14 22:13:20,000");
}

#[test]
fn without_source_date_epoch_the_time_is_the_newest_input() {
    let env = product();
    let base = distribution(&env);
    let archive = patch16().write_zip(&work(&env));
    let out = work(&env).join("out.zip");
    pack(
        &env,
        &["--format", "json", s(&base), s(&archive), "-o", s(&out)],
        None,
    )
    .code(0);
    let entries = read_zip(&out);
    assert!(entries.iter().all(|e| e.time == (2023, 5, 6, 7, 8, 10)));
    let record = entries
        .iter()
        .find(|e| e.name.ends_with("carbon-patch-pack.json"))
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&record.bytes).unwrap();
    assert_eq!(record["time"], "2023-05-06T07:08:10Z");
    assert_eq!(record["time_from"], "newest input (wso2am-2.6.0.zip)");
    // Not a number: refused.
    pack(
        &env,
        &[s(&base), s(&archive), "-o", s(&out)],
        Some("yesterday"),
    )
    .code(2)
    .stderr_has("SOURCE_DATE_EPOCH");
}

#[test]
fn hostile_distributions_are_refused_naming_the_entry_and_nothing_is_written() {
    let env = product();
    let archive = patch16().write_zip(&work(&env));
    let dir = work(&env).join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let base = |extra: RawEntry| {
        vec![
            RawEntry::Dir {
                name: format!("{TOP}/").into_bytes(),
            },
            RawEntry::Dir {
                name: format!("{TOP}/repository/components/plugins/").into_bytes(),
            },
            extra,
        ]
    };
    let file = |name: &str| RawEntry::File {
        name: name.as_bytes().to_vec(),
        bytes: b"evil".to_vec(),
    };
    let cases: Vec<(&str, Vec<RawEntry>, &str)> = vec![
        (
            "dotdot",
            base(file(&format!("{TOP}/../../evil"))),
            "climbs out",
        ),
        ("absolute", base(file("/tmp/evil")), "is an absolute path"),
        (
            "link",
            base(RawEntry::Symlink {
                name: format!("{TOP}/bin/wso2server.sh"),
                target: "/etc/shadow".into(),
            }),
            "is a symbolic link",
        ),
        (
            "twice",
            {
                let mut entries = base(file(&format!("{TOP}/bin/x.sh")));
                entries.push(file(&format!("{TOP}/bin/x.sh")));
                entries
            },
            "names an entry twice",
        ),
    ];
    let out = work(&env).join("out.zip");
    for (name, entries, why) in cases {
        let zip = dir.join(format!("{name}.zip"));
        write_raw_zip(&zip, &entries);
        let before = names_in(&work(&env));
        let run = pack(&env, &[s(&zip), s(&archive), "-o", s(&out)], Some(EPOCH));
        assert_error(&run, 2, &format!("{name}.zip"));
        run.stderr_has(why).stderr_has("product ZIP refused");
        assert_eq!(names_in(&work(&env)), before, "{name}: nothing written");
        assert!(!Path::new("/tmp/evil").exists(), "{name}");
        assert!(
            !env.home.root.parent().unwrap().join("evil").exists(),
            "{name}"
        );
    }
}

#[test]
fn a_zip_that_is_not_a_carbon_product_is_refused() {
    let env = product();
    let archive = patch16().write_zip(&work(&env));
    let out = work(&env).join("out.zip");
    // One top directory, but no plugins under it.
    let plain = work(&env).join("plain");
    std::fs::create_dir_all(plain.join("docs")).unwrap();
    std::fs::write(plain.join("docs/index.html"), "hello").unwrap();
    let zip = work(&env).join("docs.zip");
    write_product_zip(&plain, "docs-1.0", &zip, None);
    let run = pack(&env, &[s(&zip), s(&archive), "-o", s(&out)], Some(EPOCH));
    assert_error(&run, 2, "repository/components/plugins");
    run.stderr_has("is not a Carbon product");
    // Two top directories.
    let two = work(&env).join("two.zip");
    write_raw_zip(
        &two,
        &[
            RawEntry::Dir {
                name: b"a/repository/components/plugins/".to_vec(),
            },
            RawEntry::Dir {
                name: b"b/".to_vec(),
            },
        ],
    );
    let run = pack(&env, &[s(&two), s(&archive), "-o", s(&out)], Some(EPOCH));
    assert_error(&run, 2, "two.zip");
    run.stderr_has("one top directory");
    // Not a ZIP at all.
    let run = pack(
        &env,
        &[
            s(&archive.with_extension("txt")),
            s(&archive),
            "-o",
            s(&out),
        ],
        Some(EPOCH),
    );
    run.code(3);
    let garbage = work(&env).join("garbage.zip");
    std::fs::write(&garbage, b"not a zip").unwrap();
    let run = pack(
        &env,
        &[s(&garbage), s(&archive), "-o", s(&out)],
        Some(EPOCH),
    );
    assert_error(&run, 2, "garbage.zip");
    assert!(!out.exists());
    assert_eq!(
        names_in(&work(&env)),
        [
            "WSO2-CARBON-PATCH-4.4.0-0016.zip",
            "docs.zip",
            "garbage.zip",
            "plain",
            "two.zip"
        ]
    );
}

#[test]
fn the_output_is_never_an_input() {
    let env = product();
    let base = distribution(&env);
    let zip = patch16().write_zip(&work(&env));
    let dir = patch16().write_dir(&work(&env).join("unpacked"));
    let before = (Env::md5_of(&base), Env::md5_of(&zip));
    for (out, why) in [
        (base.clone(), "it is the input"),
        (zip.clone(), "it is the input"),
        (dir.join("out.zip"), "it lies inside the input"),
        (work(&env), "it is a directory"),
        (
            work(&env).join("missing/out.zip"),
            "its directory does not exist",
        ),
    ] {
        let run = pack(
            &env,
            &[s(&base), s(&zip), s(&dir), "-o", s(&out)],
            Some(EPOCH),
        );
        assert_error(&run, 2, s(&out));
        run.stderr_has(why);
    }
    assert_eq!((Env::md5_of(&base), Env::md5_of(&zip)), before);
    assert!(!dir.join("out.zip").exists());
}

#[test]
fn a_directory_archive_packs_as_its_zip_does() {
    let env = product();
    let base = distribution(&env);
    let zip = patch16().write_zip(&work(&env));
    let dir = patch16().write_dir(&work(&env).join("unpacked"));
    let (a, b) = (work(&env).join("a.zip"), work(&env).join("b.zip"));
    pack(&env, &[s(&base), s(&zip), "-o", s(&a)], Some(EPOCH)).code(0);
    pack(&env, &[s(&base), s(&dir), "-o", s(&b)], Some(EPOCH)).code(0);
    let strip = |path: &Path| {
        read_zip(path)
            .into_iter()
            .filter(|e| {
                !e.name.ends_with("record.json") && !e.name.ends_with("carbon-patch-pack.json")
            })
            .map(|e| (e.name, md5_hex(&e.bytes), e.mode))
            .collect::<Vec<_>>()
    };
    // The records name the archive as given (a file or a directory); the rest is equal.
    assert_eq!(strip(&a), strip(&b));
}
