//! Issue 13 §2: patches.log in the form of the product's own kernel (log4j up to 4.4,
//! java.util.logging from 4.5), kept under a 4.5+ server's 50,000-byte limit, and
//! carbon-patch's own history of every run, which survives that limit.

use std::fs;
use std::sync::LazyLock;

use crate::support::*;

/// The sample product, told to run kernel `version` by its launcher jar in `lib/`.
fn sample_on_kernel(version: &str) -> Env {
    let env = Env::sample();
    let lib = env.root().join("lib");
    fs::create_dir_all(&lib).unwrap();
    fs::write(
        lib.join(format!("org.wso2.carbon.server-{version}.jar")),
        b"launcher",
    )
    .unwrap();
    env
}

fn log_text(env: &Env) -> String {
    env.read("repository/logs/patches.log").unwrap_or_default()
}

/// `[2026-11-29 6:03:46,049]  INFO {class method} - message  `: SimpleFormatter's
/// `[%1$tY-%1$tm-%1$td %1$tk:%1$tM:%1$tS,%1$tL]  %4$s {%2$s} - %5$s %6$s %n`.
static JUL_LINE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^\[\d{4}-\d\d-\d\d (1?\d|2[0-3]):\d\d:\d\d,\d{3}\]  (FINE|INFO|WARNING|SEVERE) \{[^ {}]+ [^ {}]+\} - (.*)  $",
    )
    .unwrap()
});

/// (level, source, message) of every line of a 4.5+ patches.log; fails on any other line.
fn jul_lines(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .map(|line| {
            let caps = JUL_LINE
                .captures(line)
                .unwrap_or_else(|| panic!("not in the 4.5+ form: {line:?}"));
            let source = line[line.find('{').unwrap() + 1..line.find('}').unwrap()].to_string();
            (caps[2].to_string(), source, caps[3].to_string())
        })
        .collect()
}

const UTILS: &str = "org.wso2.carbon.server.util.PatchUtils";

#[test]
fn a_4_5_kernel_gets_patches_log_in_its_java_util_logging_form() {
    let env = sample_on_kernel("4.6.0");
    env.apply().code(0);
    let lines = jul_lines(&log_text(&env));
    let has = |level: &str, source: &str, message: &str| {
        assert!(
            lines
                .iter()
                .any(|(l, s, m)| l == level && s == source && m == message),
            "no {level} {{{source}}} - {message}\n{lines:#?}"
        );
    };
    has(
        "FINE",
        &format!("{UTILS} processPatches"),
        "Checking for patch changes ...",
    );
    has(
        "FINE",
        &format!("{UTILS} processPatches"),
        "New patch available - patch0003",
    );
    has(
        "INFO",
        "org.wso2.carbon.server.extensions.PatchInstaller perform",
        "Patch changes detected",
    );
    has(
        "INFO",
        &format!("{UTILS} applyServicepacksAndPatches"),
        "Backed up plugins to patch0000",
    );
    has(
        "FINE",
        &format!("{UTILS} applyServicepacksAndPatches"),
        "Applying patches ...",
    );
    has(
        "FINE",
        &format!("{UTILS} copyLatestServicepack"),
        "Start applying - servicepack001",
    );
    has(
        "FINE",
        &format!("{UTILS} copyServicepacksAndPatches"),
        "Applying - patch0003",
    );
    has(
        "INFO",
        &format!("{UTILS} checkMD5Checksum"),
        "Patch verification started",
    );
    has(
        "INFO",
        &format!("{UTILS} checkMD5Checksum"),
        "Patch verification successfully completed",
    );
    assert!(
        lines
            .iter()
            .filter(|(_, _, m)| m.starts_with("Patched "))
            .all(|(l, _, _)| l == "FINE")
    );

    // A start that changes nothing logs its verification at FINE.
    env.apply().code(0);
    let lines = jul_lines(&log_text(&env));
    let tail: Vec<&(String, String, String)> = lines.iter().rev().take(2).collect();
    assert!(
        tail.iter().all(|(level, _, _)| level == "FINE"),
        "{tail:#?}"
    );
    // status reads the 4.5+ form, and says which kernel and form.
    let run = env.cmd("status", &[]);
    run.code(0);
    has_line(
        &run.stdout,
        "  kernel read from lib/org.wso2.carbon.server-4.6.0.jar; patches.log written in its java.util.logging form",
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("last run: apply") && l.contains(": nothing new, verified")),
        "last run read from the 4.5+ log:\n{}",
        run.stdout
    );
    env.verify().code(0);
}

#[test]
fn a_4_4_kernel_keeps_the_log4j_form() {
    let env = sample_on_kernel("4.4.9");
    env.apply().code(0);
    assert!(!env.log_messages().is_empty());
    let run = env.cmd("status", &[]);
    has_line(
        &run.stdout,
        "  kernel read from lib/org.wso2.carbon.server-4.4.9.jar; patches.log written in its log4j form",
    );
}

/// A first apply of a large patch level writes more than a 4.5+ server keeps; patches.log
/// stays under its limit (whole lines, the run's start and end kept) and the history has
/// every file.
#[test]
fn a_4_5_log_stays_under_the_server_limit_and_the_history_keeps_every_file() {
    let env = sample_on_kernel("4.6.0");
    for i in 0..900 {
        env.home.add_patch_file(
            "patch0009",
            &format!("resource-{i:04}.properties"),
            format!("key={i}\n").as_bytes(),
        );
    }
    env.apply().code(0);
    let text = log_text(&env);
    assert!(text.len() < 50_000, "patches.log is {} bytes", text.len());
    let lines = jul_lines(&text);
    assert_eq!(lines[0].2, "Checking for patch changes ...");
    assert_eq!(
        lines.last().unwrap().2,
        "Patch verification successfully completed"
    );
    assert!(text.contains("left out to keep patches.log under the server's 50,000-byte limit"));

    let run = env.cmd("history", &["--format", "json"]);
    run.code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let written: Vec<&serde_json::Value> = runs[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["action"] == "write")
        .collect();
    assert_eq!(written.len(), 900 + 8, "every file written, with its MD5");
    assert!(
        written
            .iter()
            .all(|f| f["md5"].as_str().is_some_and(|m| m.len() == 32))
    );
    assert_eq!(runs[0]["outcome"], "verified");
    assert_eq!(runs[0]["kernel"], "4.6.0");
}

#[test]
fn history_tells_every_run_also_one_that_stopped() {
    let env = Env::sample();
    env.apply().code(0);
    env.home
        .add_patch_file("patch0006", "extra.txt", b"an extra file\n");
    let stopped = env.run_with(
        &["apply", &env.home_str()],
        None,
        &[("CARBON_PATCH_FAULT", "enospc@3")],
        &[],
    );
    assert_eq!(stopped.code, 3, "{}", stopped.stderr);
    env.apply().code(0);
    env.rollback().code(0);

    let run = env.cmd("history", &[]);
    run.code(0);
    let runs: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("20")).collect();
    assert_eq!(runs.len(), 4, "{}", run.stdout);
    assert!(runs[0].contains("apply") && runs[0].contains("verified: 8 written"));
    assert!(runs[1].contains("stopped"), "{}", runs[1]);
    assert!(runs[2].contains("verified: 1 written"), "{}", runs[2]);
    assert!(runs[3].contains("rollback") && runs[3].contains("rolled_back"));

    let last = env.cmd("history", &["--last", "1", "--files"]);
    assert!(last.stdout.contains("rollback"));
    assert!(
        last.stdout.contains("    archive  extra.txt"),
        "{}",
        last.stdout
    );
    assert!(!last.stdout.contains("verified: 8 written"));
}

/// A 4.5+ server truncates patches.log at its limit; status then finds the last run in the
/// history.
#[test]
fn status_finds_the_last_run_in_the_history_once_the_log_was_truncated() {
    let env = sample_on_kernel("4.6.0");
    env.apply().code(0);
    fs::write(env.root().join("repository/logs/patches.log"), b"").unwrap();
    let run = env.cmd("status", &[]);
    run.code(0);
    assert!(
        run.stdout.contains("last run: apply")
            && run.stdout.contains("from carbon-patch's history"),
        "{}",
        run.stdout
    );
}

/// Enterprise Integrator 6.x keeps the launcher in `wso2/lib`.
#[test]
fn the_kernel_of_an_enterprise_integrator_is_read_from_wso2_lib() {
    let env = Env::sample();
    let lib = env.root().join("wso2/lib");
    fs::create_dir_all(&lib).unwrap();
    fs::write(lib.join("org.wso2.carbon.server-4.4.36.jar"), b"launcher").unwrap();
    let run = env.cmd("status", &[]);
    has_line(
        &run.stdout,
        "  kernel read from wso2/lib/org.wso2.carbon.server-4.4.36.jar; patches.log written in its log4j form",
    );
}
