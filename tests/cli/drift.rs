//! `drift` (issue 17) through the real binary: an old pack, a new pack with the vendor's
//! changes, and a live home with the operator's, each case of the three-way comparison
//! once — as directories and as ZIPs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use carbon_fixtures::{ProductHome, write_product_zip};

use crate::support::*;

const TOP: &str = "wso2am-2.6.0";

/// `(path, old, new, live)`: each file's content in the old pack, the new pack and on the
/// live server (`None`: absent), and the class drift must give it.
type Case = (
    &'static str,
    Option<&'static [u8]>,
    Option<&'static [u8]>,
    Option<&'static [u8]>,
    &'static str,
);

const CARBON_OLD: &[u8] =
    b"<Server>\n  <Port>9443</Port>\n  <Name>old</Name>\n  <Mode>a</Mode>\n</Server>\n";
const CARBON_NEW: &[u8] =
    b"<Server>\n  <Port>9443</Port>\n  <Name>vendor</Name>\n  <Mode>a</Mode>\n</Server>\n";
const CARBON_LIVE: &[u8] =
    b"<Server>\n  <Port>9763</Port>\n  <Name>old</Name>\n  <Mode>a</Mode>\n  <!-- \x1b[2J -->\n</Server>\n";

fn cases() -> Vec<Case> {
    vec![
        // Only the vendor changed it.
        (
            "repository/conf/axis2/axis2.xml",
            Some(b"axis2 old\n"),
            Some(b"axis2 new\n"),
            Some(b"axis2 old\n"),
            "take_new",
        ),
        (
            "repository/deployment/server/synapse-configs/default/api/a.xml",
            Some(b"<api/>\n"),
            Some(b"<api version=\"2\"/>\n"),
            Some(b"<api/>\n"),
            "take_new",
        ),
        (
            "repository/resources/security/client-truststore.jks",
            Some(b"\xfe\xed\xfe\xed truststore 1"),
            Some(b"\xfe\xed\xfe\xed truststore 2"),
            Some(b"\xfe\xed\xfe\xed truststore 1"),
            "take_new",
        ),
        // Only the operator changed it.
        (
            "repository/conf/log4j.properties",
            Some(b"log=INFO\n"),
            Some(b"log=INFO\n"),
            Some(b"log=DEBUG\n"),
            "keep_yours",
        ),
        (
            "bin/wso2server.bat",
            Some(b"@echo off\r\n"),
            Some(b"@echo off\r\n"),
            Some(b"@echo on\r\n"),
            "keep_yours",
        ),
        (
            "repository/conf/mine.xml",
            None,
            None,
            Some(b"<mine/>\n"),
            "keep_yours",
        ),
        // Both did.
        (
            "repository/conf/carbon.xml",
            Some(CARBON_OLD),
            Some(CARBON_NEW),
            Some(CARBON_LIVE),
            "conflict",
        ),
        (
            "repository/resources/security/wso2carbon.jks",
            Some(b"\xfe\xed\xfe\xed keystore 1"),
            Some(b"\xfe\xed\xfe\xed keystore 2"),
            Some(b"\xfe\xed\xfe\xed keystore 3"),
            "conflict",
        ),
        (
            "repository/conf/data.bin",
            Some(b"a\0b"),
            Some(b"a\0c"),
            Some(b"a\0d"),
            "conflict",
        ),
        // Added and removed by the vendor.
        (
            "repository/conf/new.xml",
            None,
            Some(b"<new/>\n"),
            None,
            "added_by_vendor",
        ),
        (
            "repository/conf/old.xml",
            Some(b"<old/>\n"),
            None,
            Some(b"<old/>\n"),
            "removed_by_vendor",
        ),
        // The live server already took the new version.
        (
            "repository/conf/tomcat/catalina-server.xml",
            Some(b"c1\n"),
            Some(b"c2\n"),
            Some(b"c2\n"),
            "already_new",
        ),
        // Nobody changed it.
        (
            "bin/wso2server.sh",
            Some(b"#!/bin/sh\n"),
            Some(b"#!/bin/sh\n"),
            Some(b"#!/bin/sh\n"),
            "unchanged",
        ),
        (
            "repository/conf/datasources/master-datasources.xml",
            Some(b"<ds/>\n"),
            Some(b"<ds/>\n"),
            Some(b"<ds/>\n"),
            "unchanged",
        ),
        // Not configuration: never compared.
        (
            "repository/deployment/server/webapps/oauth2.war",
            Some(b"war 1"),
            Some(b"war 2"),
            Some(b"war 3"),
            "-",
        ),
        (
            "lib/foo.xml",
            Some(b"<a/>"),
            Some(b"<b/>"),
            Some(b"<c/>"),
            "-",
        ),
        (
            "bin/wso2carbon-version.txt",
            Some(b"v1\n"),
            Some(b"v2\n"),
            Some(b"v3\n"),
            "-",
        ),
    ]
}

/// The three sides in one temporary directory: `old/wso2am-2.6.0` and
/// `new/wso2am-2.6.0` (packs as directories holding the product), their ZIPs `old.zip`
/// and `new.zip`, and the live home (the `Env`'s).
struct Sides {
    live: Env,
    old_dir: PathBuf,
    new_dir: PathBuf,
    old_zip: PathBuf,
    new_zip: PathBuf,
}

fn put(home: &Path, relative: &str, bytes: Option<&[u8]>) {
    if let Some(bytes) = bytes {
        let path = home.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn sides(cases: &[Case]) -> Sides {
    let live = home_with_plugins(&["org.foo"]);
    let root = live.home.root.parent().unwrap().to_path_buf();
    let old = ProductHome::create(&root.join("old").join(TOP));
    let new = ProductHome::create(&root.join("new").join(TOP));
    for home in [&old, &new] {
        home.add_plugin(&target("org.foo"), &jar("org.foo", "base"));
    }
    for (path, o, n, l, _) in cases {
        put(&old.root, path, *o);
        put(&new.root, path, *n);
        put(&live.home.root, path, *l);
    }
    let (old_zip, new_zip) = (root.join("old.zip"), root.join("new.zip"));
    write_product_zip(&old.root, TOP, &old_zip, None);
    write_product_zip(&new.root, TOP, &new_zip, None);
    Sides {
        old_dir: root.join("old"),
        new_dir: root.join("new"),
        old_zip,
        new_zip,
        live,
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn drift(sides: &Sides, old: &Path, new: &Path, json: bool) -> Run {
    let mut args = vec!["drift"];
    if json {
        args.extend(["--format", "json"]);
    }
    let live = sides.live.home_str();
    args.extend([s(old), s(new), &live]);
    sides.live.run(&args)
}

/// Path -> class of every file the JSON report lists.
fn classes(doc: &serde_json::Value) -> BTreeMap<String, String> {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["class"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn each_case_is_classified_in_json() {
    let cases = cases();
    let sides = sides(&cases);
    let run = drift(&sides, &sides.old_dir, &sides.new_dir, true);
    run.code(1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["command"], "drift");
    assert_eq!(doc["exit_code"], 1);
    assert_eq!(doc["old"]["kind"], "directory");
    assert_eq!(doc["old"]["top"], TOP);
    let got = classes(&doc);
    for (path, _, _, _, class) in &cases {
        match *class {
            "-" | "unchanged" => assert!(!got.contains_key(*path), "{path} is listed: {got:?}"),
            class => assert_eq!(got.get(*path).map(String::as_str), Some(class), "{path}"),
        }
    }
    assert_eq!(doc["counts"]["unchanged"], 2);
    assert_eq!(doc["counts"]["conflict"], 3);
    assert_eq!(doc["counts"]["take_new"], 3);
    let file = |path: &str| {
        doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} listed"))
            .clone()
    };
    // A text conflict carries both diffs against the old pack.
    let carbon = file("repository/conf/carbon.xml");
    assert_eq!(carbon["binary"], false);
    assert_eq!(carbon["old"], md5_hex(CARBON_OLD));
    assert_eq!(carbon["new"], md5_hex(CARBON_NEW));
    assert_eq!(carbon["live"], md5_hex(CARBON_LIVE));
    assert_eq!(
        carbon["vendor_diff"],
        "--- old/repository/conf/carbon.xml\n+++ new/repository/conf/carbon.xml\n@@ -1,5 +1,5 @@\n <Server>\n   <Port>9443</Port>\n-  <Name>old</Name>\n+  <Name>vendor</Name>\n   <Mode>a</Mode>\n </Server>\n"
    );
    let yours = carbon["your_diff"].as_str().unwrap();
    assert!(
        yours.starts_with(
            "--- old/repository/conf/carbon.xml\n+++ live/repository/conf/carbon.xml\n"
        ),
        "{yours}"
    );
    assert!(
        yours.contains("-  <Port>9443</Port>\n+  <Port>9763</Port>\n"),
        "{yours}"
    );
    // Binary ones (a keystore, a file with NUL bytes): MD5 only, no diff.
    for path in [
        "repository/resources/security/wso2carbon.jks",
        "repository/conf/data.bin",
    ] {
        let item = file(path);
        assert_eq!(item["binary"], true, "{path}");
        assert!(item.get("vendor_diff").is_none(), "{path}");
        assert_eq!(item["no_diff"], "binary: compared by MD5 only", "{path}");
    }
    assert_eq!(
        file("repository/resources/security/client-truststore.jks")["binary"],
        true
    );
    assert_eq!(file("repository/conf/mine.xml")["note"], "you added it");
}

#[test]
fn the_text_report_groups_the_files_and_shows_both_diffs_of_a_conflict() {
    let cases = cases();
    let sides = sides(&cases);
    let run = drift(&sides, &sides.old_zip, &sides.new_zip, false);
    run.code(1)
        .stdout_has("old pack: ")
        .stdout_has(&format!("old.zip (zip, {TOP})"))
        .stdout_has("take new (only the vendor changed them: copy them from the new pack): 3\n")
        .stdout_has("  repository/conf/axis2/axis2.xml  (only the vendor changed it)\n")
        .stdout_has("keep yours (only you changed them: carry them over): 3\n")
        .stdout_has("  bin/wso2server.bat  (you changed it)\n")
        .stdout_has("added by the vendor (copy them from the new pack): 1\n")
        .stdout_has("  repository/conf/new.xml  (the new pack adds it)\n")
        .stdout_has("removed by the vendor (untouched on the live server: drop them): 1\n")
        .stdout_has("conflicts (the vendor and you both changed them: merge by hand): 3\n")
        .stdout_has("--- old/repository/conf/carbon.xml\n+++ new/repository/conf/carbon.xml\n")
        .stdout_has("-  <Name>old</Name>\n+  <Name>vendor</Name>\n")
        .stdout_has("--- old/repository/conf/carbon.xml\n+++ live/repository/conf/carbon.xml\n")
        .stdout_has("+  <!-- \\u{1b}[2J -->\n")
        .stdout_has("  repository/resources/security/wso2carbon.jks  (the vendor and you both changed it, binary)\n")
        .stdout_has("    no diff: binary: compared by MD5 only\n")
        .stdout_has("unchanged: 2 file(s); already as in the new pack: 1\n")
        .stdout_has("drift: 3 conflict(s) to merge by hand\n");
    assert!(
        !run.stdout.contains('\u{1b}'),
        "a raw escape reached the terminal"
    );
    for skipped in ["oauth2.war", "lib/foo.xml", "wso2carbon-version.txt"] {
        assert!(
            !run.stdout.contains(skipped),
            "{skipped} is not configuration"
        );
    }
}

#[test]
fn packs_as_zips_and_as_directories_give_the_same_result() {
    let cases = cases();
    let sides = sides(&cases);
    let body = |old: &Path, new: &Path| {
        let run = drift(&sides, old, new, true);
        run.code(1);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        (doc["files"].clone(), doc["counts"].clone())
    };
    let dirs = body(&sides.old_dir, &sides.new_dir);
    assert_eq!(dirs, body(&sides.old_zip, &sides.new_zip));
    assert_eq!(dirs, body(&sides.old_zip, &sides.new_dir.join(TOP)));
}

#[test]
fn without_a_conflict_drift_exits_0() {
    let cases: Vec<Case> = cases().into_iter().filter(|c| c.4 != "conflict").collect();
    let sides = sides(&cases);
    drift(&sides, &sides.old_zip, &sides.new_zip, false)
        .code(0)
        .stdout_has("drift: no conflict");
    let before = sides.live.snapshot();
    drift(&sides, &sides.old_dir, &sides.new_dir, true).code(0);
    assert_same_tree(&before, &sides.live.snapshot(), "drift is read-only");
}

#[test]
fn a_link_on_the_live_server_is_not_followed_but_reported() {
    let cases = cases();
    let sides = sides(&cases);
    let outside = sides
        .live
        .home
        .root
        .parent()
        .unwrap()
        .join("outside.properties");
    std::fs::write(&outside, "secret=1\n").unwrap();
    let at = sides
        .live
        .home
        .root
        .join("repository/conf/log4j.properties");
    std::fs::remove_file(&at).unwrap();
    std::os::unix::fs::symlink(&outside, &at).unwrap();
    let run = drift(&sides, &sides.old_dir, &sides.new_dir, true);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        classes(&doc)["repository/conf/log4j.properties"],
        "not_compared"
    );
    assert!(!run.stdout.contains("secret"));
    // A whole directory of configuration behind a link: not compared, file by file.
    let conf = sides.live.home.root.join("repository/conf");
    let moved = sides
        .live
        .home
        .root
        .parent()
        .unwrap()
        .join("conf-elsewhere");
    std::fs::rename(&conf, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &conf).unwrap();
    let run = drift(&sides, &sides.old_dir, &sides.new_dir, true);
    // The keystore's conflict is outside repository/conf.
    run.code(1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let got = classes(&doc);
    assert_eq!(got["repository/conf"], "not_compared");
    assert_eq!(got["repository/conf/carbon.xml"], "not_compared");
    assert_eq!(got["repository/conf/new.xml"], "not_compared");
    assert_eq!(got["bin/wso2server.bat"], "keep_yours");
}

#[test]
fn what_is_not_a_carbon_product_or_not_readable_is_refused() {
    let cases = cases();
    let sides = sides(&cases);
    let root = sides.live.home.root.parent().unwrap().to_path_buf();
    let plain = root.join("plain");
    std::fs::create_dir_all(plain.join("repository/conf")).unwrap();
    let run = drift(&sides, &plain, &sides.new_zip, false);
    assert_error(&run, 2, "plain");
    run.stderr_has("not a Carbon product");
    let garbage = root.join("garbage.zip");
    std::fs::write(&garbage, "not a zip").unwrap();
    let run = drift(&sides, &sides.old_zip, &garbage, false);
    assert_error(&run, 2, "garbage.zip");
    let run = sides
        .live
        .run(&["drift", s(&sides.old_zip), s(&sides.new_zip), s(&plain)]);
    assert_error(&run, 2, "plain");
    run.stderr_has("is not a Carbon product");
}

#[test]
fn a_live_file_named_with_an_escape_sequence_is_shown_escaped() {
    let cases = cases();
    let sides = sides(&cases);
    put(
        &sides.live.home.root,
        "repository/conf/evil\u{1b}[2J.xml",
        Some(b"<x/>\n"),
    );
    let run = drift(&sides, &sides.old_dir, &sides.new_dir, false);
    run.code(1).stdout_has("evil\\u{1b}[2J.xml");
    assert!(!run.stdout.contains('\u{1b}'), "{}", run.stdout);
}
