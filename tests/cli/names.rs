//! Bundle names through the binary (SPEC §4): the manifest decides where a jar lands in
//! plugins, other files and directories keep their names, and hostile names are refused.

use crate::support::*;

use std::fs;
use std::path::{Path, PathBuf};

/// A jar whose manifest main section holds exactly `headers`, with `line_end` line ends.
fn jar_of(headers: &[(&str, &str)], line_end: &str, seed: &str) -> Vec<u8> {
    jar_with_manifest(&wrap_manifest(headers, line_end), seed)
}

/// A bundle jar with these two headers (and a `Manifest-Version`), CRLF line ends.
fn osgi_jar(symbolic_name: &str, version: &str, seed: &str) -> Vec<u8> {
    jar_of(
        &[
            ("Manifest-Version", "1.0"),
            ("Bundle-SymbolicName", symbolic_name),
            ("Bundle-Version", version),
        ],
        "\r\n",
        seed,
    )
}

/// A product home with a few plugins already in it, so "nothing changed" covers real files.
fn env_with_plugins() -> Env {
    let env = Env::empty();
    env.home.add_plugin(
        "org.wso2.carbon.core_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.core", "4.4.9", "base"),
    );
    env.home.add_plugin(
        "org.wso2.carbon.ui_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.ui;singleton:=true", "4.4.9", "base"),
    );
    env
}

/// Names of the entries directly in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// File names directly in plugins, sorted.
fn plugin_names(env: &Env) -> Vec<String> {
    listing(&env.plugins())
}

/// The `name:md5` lines of prePatchedJARs.txt, sorted.
fn jar_list(env: &Env) -> Vec<String> {
    let text = env
        .read("repository/components/patches/.metadata/prePatchedJARs.txt")
        .expect("prePatchedJARs.txt written");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

/// Applies a single patch holding `file_name` = `bytes` on a home with a few plugins, and
/// asserts the file landed in plugins as `expected` (same bytes), and nowhere else.
fn assert_lands_as(file_name: &str, bytes: &[u8], expected: &str) -> Env {
    let env = env_with_plugins();
    env.home.add_patch_file("patch0001", file_name, bytes);
    env.apply().code(0);
    assert_eq!(
        env.plugin_md5(expected),
        Some(md5_hex(bytes)),
        "`{file_name}` should land as `{expected}`; plugins: {:?}",
        plugin_names(&env)
    );
    let mut want = vec![
        "org.wso2.carbon.core_4.4.9.jar".to_string(),
        "org.wso2.carbon.ui_4.4.9.jar".to_string(),
        expected.to_string(),
    ];
    want.sort();
    want.dedup();
    assert_eq!(
        plugin_names(&env),
        want,
        "only the bundle name is added to plugins"
    );
    assert!(
        jar_list(&env).contains(&format!("{expected}:{}", md5_hex(bytes))),
        "prePatchedJARs.txt names the bundle: {:?}",
        jar_list(&env)
    );
    env.verify().code(0);
    env
}

#[test]
fn a_jar_lands_under_its_symbolic_name_and_version_without_directives() {
    let bytes = osgi_jar("org.example.foo;singleton:=true", "1.2.3.v20200101", "foo");
    let env = assert_lands_as(
        "whatever.jar",
        &bytes,
        "org.example.foo_1.2.3.v20200101.jar",
    );
    assert!(env.plugin_md5("whatever.jar").is_none());
    // The log names the patch's own file, as the runtime does.
    assert!(
        env.log_messages()
            .contains(&format!("Patched whatever.jar(MD5:{})", md5_hex(&bytes))),
        "{:#?}",
        env.log_messages()
    );
}

/// The runtime trims nothing (`java.util.jar` keeps every byte after the space that
/// follows the colon): neither does carbon-patch, and it warns about such a name.
#[test]
fn spaces_around_the_symbolic_name_and_version_are_kept_as_the_runtime_keeps_them() {
    let bytes = osgi_jar("  org.example.trim ; singleton:=true", " 2.0.0 ", "trim");
    let env = assert_lands_as("trim.jar", &bytes, "  org.example.trim _ 2.0.0 .jar");
    let run = env.cmd("status", &[]);
    assert!(
        run.stderr
            .contains("`  org.example.trim _ 2.0.0 .jar`, which has a space in it"),
        "status warns about the spaced name:\n{}",
        run.stderr
    );
}

#[test]
fn a_symbolic_name_wrapped_over_continuation_lines_is_joined() {
    let name =
        "org.example.a.very.long.symbolic.name.that.does.not.fit.on.one.manifest.line.at.all";
    let manifest = wrap_manifest(
        &[
            ("Manifest-Version", "1.0"),
            ("Bundle-SymbolicName", &format!("{name};singleton:=true")),
            ("Bundle-Version", "4.4.9"),
        ],
        "\r\n",
    );
    let text = String::from_utf8(manifest.clone()).unwrap();
    assert!(
        text.contains("\r\n ") && !text.contains(name),
        "the fixture must wrap the name over a continuation line:\n{text}"
    );
    let bytes = jar_with_manifest(&manifest, "wrapped");
    assert_lands_as("long.jar", &bytes, &format!("{name}_4.4.9.jar"));
}

#[test]
fn crlf_lf_and_cr_line_ends_give_the_same_name() {
    // A name long enough to wrap, so continuation lines are read with every line end too.
    let name = "org.example.line.ends.bundle.with.a.name.long.enough.to.need.a.continuation";
    for (line_end, label) in [("\r\n", "crlf"), ("\n", "lf"), ("\r", "cr")] {
        let manifest = wrap_manifest(
            &[
                ("Manifest-Version", "1.0"),
                ("Bundle-SymbolicName", name),
                ("Bundle-Version", "1.0.0"),
                ("Created-By", "carbon-fixtures"),
            ],
            line_end,
        );
        assert!(
            !String::from_utf8_lossy(&manifest).contains(name),
            "{label}: must wrap"
        );
        let bytes = jar_with_manifest(&manifest, label);
        assert_lands_as(
            &format!("{label}.jar"),
            &bytes,
            &format!("{name}_1.0.0.jar"),
        );
    }
}

#[test]
fn a_jar_without_a_manifest_keeps_its_own_name() {
    let bytes = jar_without_manifest("no-manifest");
    assert_lands_as("plain-library-1.0.jar", &bytes, "plain-library-1.0.jar");
}

#[test]
fn a_jar_whose_manifest_lacks_a_header_keeps_its_own_name() {
    let no_version = jar_of(
        &[
            ("Manifest-Version", "1.0"),
            ("Bundle-SymbolicName", "org.example.nover"),
        ],
        "\r\n",
        "no-version",
    );
    assert_lands_as("no-version.jar", &no_version, "no-version.jar");

    let no_symbolic_name = jar_of(
        &[("Manifest-Version", "1.0"), ("Bundle-Version", "1.0.0")],
        "\n",
        "no-bsn",
    );
    assert_lands_as("no-bsn.jar", &no_symbolic_name, "no-bsn.jar");
}

#[test]
fn a_file_that_is_not_a_jar_keeps_its_name_even_with_a_manifest_inside() {
    assert_lands_as("config.xml", b"<config><a>1</a></config>\n", "config.xml");
    // Only a `.jar` name makes carbon-patch read the manifest.
    let zip = osgi_jar("org.example.zip", "1.0.0", "zip");
    assert_lands_as("bundle.zip", &zip, "bundle.zip");
}

#[test]
fn a_directory_in_a_patch_is_copied_file_by_file_with_a_warning() {
    let env = env_with_plugins();
    let manifest = bundle_manifest("org.example.exploded", "1.0");
    let class = b"\xca\xfe\xba\xbe exploded class".to_vec();
    // A jar nested in the directory is not a top-level bundle: it keeps its own path.
    let inner = osgi_jar("org.example.inner", "3.0.0", "inner");
    let files: Vec<(&str, &[u8])> = vec![
        ("exploded_1.0/META-INF/MANIFEST.MF", &manifest),
        ("exploded_1.0/org/example/Exploded.class", &class),
        ("exploded_1.0/lib/inner.jar", &inner),
    ];
    for (path, bytes) in &files {
        env.home.add_patch_file("patch0001", path, bytes);
    }
    env.home
        .add_patch_file("patch0001", "config.xml", b"<x/>\n");

    let run = env.apply();
    run.code(0);
    assert!(
        run.stderr.contains("warning:")
            && run.stderr.contains("exploded_1.0")
            && run.stderr.contains("cannot hash directories"),
        "a warning that the runtime cannot hash the directory\n{}",
        run.stderr
    );
    for (path, bytes) in &files {
        assert_eq!(
            env.plugin_md5(path),
            Some(md5_hex(bytes)),
            "plugins/{path} copied from the patch"
        );
    }
    assert!(env.plugin_md5("org.example.inner_3.0.0.jar").is_none());
    assert_eq!(env.plugin_md5("config.xml"), Some(md5_hex(b"<x/>\n")));
    env.verify().code(0);
}

/// Builds a patch holding `jar_name` = `bytes` and asserts apply refuses it: exit 2, the
/// jar's path on stderr with a hint, and nothing changed inside or beside the home.
fn assert_refused(jar_name: &str, bytes: &[u8], why: &str) {
    let env = env_with_plugins();
    let jar = env.home.add_patch_file("patch0001", jar_name, bytes);
    let parent = env.root().parent().unwrap().to_path_buf();
    let before = env.snapshot();
    let around_before = snapshot(&parent);

    for run in [env.cmd("apply", &["--dry-run"]), env.apply(), env.verify()] {
        run.code(2)
            .stderr_has("error:")
            // Named as it is shown: escaped, so no control character reaches the terminal.
            .stderr_has(&carbon_patch::names::Shown::path(&jar).to_string())
            .stderr_has("hint:");
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert!(
            !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
            "raw control character on stderr: {:?}",
            run.stderr
        );
        assert!(
            run.stderr.contains(why),
            "stderr should say why ({why:?})\n{}",
            run.stderr
        );
    }

    assert_same_tree(&before, &env.snapshot(), "the product home must not change");
    assert_same_tree(
        &around_before,
        &snapshot(&parent),
        "nothing may be written beside the product home",
    );
    assert!(!parent.join("outside_1.0.jar").exists());
    assert!(!env.root().join("bin/evil_1.0.jar").exists());
}

#[test]
fn a_symbolic_name_climbing_out_of_plugins_is_refused() {
    assert_refused(
        "evil.jar",
        &osgi_jar("../../../bin/evil", "1.0", "evil"),
        "path separator",
    );
    // Four levels up leaves the product home altogether.
    assert_refused(
        "outside.jar",
        &osgi_jar("../../../../outside", "1.0", "outside"),
        "path separator",
    );
}

#[test]
fn a_version_climbing_out_of_plugins_is_refused() {
    assert_refused(
        "evil-version.jar",
        &osgi_jar("..", "/../../../bin/evil", "evil-version"),
        "path separator",
    );
}

#[test]
fn a_symbolic_name_with_a_backslash_is_refused() {
    assert_refused(
        "backslash.jar",
        &osgi_jar("..\\..\\..\\bin\\evil", "1.0", "backslash"),
        "path separator",
    );
}

#[test]
fn a_symbolic_name_with_a_control_character_is_refused() {
    for (label, name) in [
        ("tab", "org.example\tevil"),
        ("escape", "org.example\u{1b}[2Jevil"),
        ("delete", "org.example\u{7f}evil"),
        ("c1-control", "org.example\u{85}evil"),
    ] {
        assert_refused(
            &format!("{label}.jar"),
            &osgi_jar(name, "1.0", label),
            "control character",
        );
    }
    assert_refused(
        "nul.jar",
        &osgi_jar("org.example\0evil", "1.0", "nul"),
        "NUL",
    );
}

#[test]
fn a_symbolic_name_of_dot_dot_stays_one_plain_name_inside_plugins() {
    // `..` followed by `_<version>.jar` is an ordinary file name, not a path component
    // (SPEC §4 refuses `..` only as a component): it lands inside plugins and nowhere else.
    let env = env_with_plugins();
    let parent = env.root().parent().unwrap().to_path_buf();
    let around_before = listing(&parent);
    let bytes = osgi_jar("..", "1.0", "dotdot");
    env.home.add_patch_file("patch0001", "dotdot.jar", &bytes);
    env.apply().code(0);
    assert_eq!(env.plugin_md5(".._1.0.jar"), Some(md5_hex(&bytes)));
    assert_eq!(listing(&parent), around_before);
    assert_eq!(listing(env.root()), ["bin", "repository"]);
}

#[test]
fn two_files_of_one_patch_with_one_bundle_name_are_refused() {
    let env = env_with_plugins();
    let a = env
        .home
        .add_patch_file("patch0001", "a.jar", &osgi_jar("org.x", "1.0", "a"));
    let b = env
        .home
        .add_patch_file("patch0001", "b.jar", &osgi_jar("org.x", "1.0", "b"));
    let before = env.snapshot();
    for run in [env.cmd("apply", &["--dry-run"]), env.apply()] {
        run.code(2)
            .stderr_has(&a.display().to_string())
            .stderr_has(&b.display().to_string())
            .stderr_has("org.x_1.0.jar")
            .stderr_has("hint:");
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    assert_same_tree(&before, &env.snapshot(), "nothing changed");
}

#[test]
fn a_file_named_like_another_files_bundle_name_is_a_clash_too() {
    let env = env_with_plugins();
    let named =
        env.home
            .add_patch_file("patch0001", "org.x_1.0.jar", &jar_without_manifest("named"));
    let bundle = env
        .home
        .add_patch_file("patch0001", "fix.jar", &osgi_jar("org.x", "1.0", "fix"));
    let before = env.snapshot();
    env.apply()
        .code(2)
        .stderr_has(&named.display().to_string())
        .stderr_has(&bundle.display().to_string());
    assert_same_tree(&before, &env.snapshot(), "nothing changed");
}

#[test]
fn the_same_bundle_name_in_two_patches_is_no_clash_the_later_wins() {
    let env = env_with_plugins();
    let older = osgi_jar("org.x", "1.0", "older");
    let newer = osgi_jar("org.x;singleton:=true", "1.0", "newer");
    env.home.add_patch_file("patch0001", "x.jar", &older);
    env.home
        .add_patch_file("patch0002", "other-name.jar", &newer);
    env.apply().code(0);
    assert_eq!(env.plugin_md5("org.x_1.0.jar"), Some(md5_hex(&newer)));
    let unused: Vec<PathBuf> = ["x.jar", "other-name.jar"]
        .iter()
        .map(|n| env.plugins().join(n))
        .filter(|p| p.exists())
        .collect();
    assert!(unused.is_empty(), "{unused:?}");
}

#[test]
fn a_file_name_with_a_control_character_is_refused_at_any_depth() {
    // prePatchedJARs.txt and the applied lists are line-based: a newline in a name would
    // forge a line there, so such names are refused wherever they sit in a patch.
    assert_refused("bad\nname.txt", b"plain file", "control character");
    assert_refused(
        "exploded_1.0/bad\nname.class",
        b"nested file",
        "control character",
    );
}

// The manifest as `java.util.jar` reads it (SPEC §4): what the runtime computes, or refuses.

/// A header given twice counts with its last value, as in `java.util.jar.Attributes`.
#[test]
fn a_header_given_twice_counts_with_its_last_value() {
    let manifest = b"Manifest-Version: 1.0\r\nBundle-SymbolicName: org.example.twice\r\n\
        Bundle-Version: 0.0.1\r\nBundle-Version: 1.1.0\r\n\r\n";
    let bytes = jar_with_manifest(manifest, "twice");
    assert_lands_as("twice.jar", &bytes, "org.example.twice_1.1.0.jar");
}

/// A last line without its line end is not read: without its `Bundle-Version` the jar
/// keeps its own name, as the runtime leaves it.
#[test]
fn a_last_header_without_a_line_end_is_not_read() {
    let manifest =
        b"Manifest-Version: 1.0\r\nBundle-SymbolicName: org.example.cut\r\nBundle-Version: 1.0";
    let bytes = jar_with_manifest(manifest, "cut");
    assert_lands_as("cut.jar", &bytes, "cut.jar");
}

/// Manifests Java refuses make the runtime fail at every start: bad input, with Java's words.
#[test]
fn manifests_java_refuses_are_bad_input_in_javas_words() {
    let long = format!(
        "Manifest-Version: 1.0\r\nBundle-SymbolicName: {}\r\nBundle-Version: 1\r\n",
        "x".repeat(600)
    );
    for (manifest, java_says) in [
        (
            b"Manifest-Version: 1.0\r\nBundle-SymbolicName: a\r\nBundle-Version:1.1.0\r\n".to_vec(),
            "invalid header field (line 3)",
        ),
        (
            b"\xef\xbb\xbfManifest-Version: 1.0\r\nBundle-SymbolicName: a\r\nBundle-Version: 1\r\n"
                .to_vec(),
            "invalid header field name",
        ),
        (long.into_bytes(), "line too long (line 2)"),
        (
            b"not a header\r\nBundle-SymbolicName: a\r\nBundle-Version: 1\r\n".to_vec(),
            "invalid header field (line 1)",
        ),
    ] {
        assert_refused(
            "refused.jar",
            &jar_with_manifest(&manifest, "refused"),
            java_says,
        );
    }
}

/// Two files of one patch landing on one bundle name: refused, saying whether they are the
/// same bytes (a copy left twice) or two versions.
#[test]
fn two_files_of_one_patch_landing_on_one_name_are_refused_saying_whether_they_differ() {
    for (second, says, hint) in [
        (
            "same",
            "are the same file, byte for byte",
            "identical copies",
        ),
        ("other", "differ", "keep only one version"),
    ] {
        let env = env_with_plugins();
        let first = osgi_jar("org.example.dup", "1.0.0", "same");
        env.home.add_patch_file("patch0001", "dup-a.jar", &first);
        env.home.add_patch_file(
            "patch0001",
            "dup-b.jar",
            &osgi_jar("org.example.dup", "1.0.0", second),
        );
        let before = env.snapshot();
        let run = env.apply();
        run.code(2)
            .stderr_has("two files of patch0001 land as org.example.dup_1.0.0.jar")
            .stderr_has(says)
            .stderr_has(hint);
        assert_eq!(env.snapshot(), before, "nothing changed");
    }
}
