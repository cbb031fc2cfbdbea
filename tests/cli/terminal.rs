//! The terminal side: only the report on stdout when not on a terminal (no progress bar, no
//! colour), `--color` and `NO_COLOR`, `--quiet`, `-v`, completions, the man page, and an
//! example in every `--help`.

use crate::support::*;

const ESC: char = '\u{1b}';

#[test]
fn off_a_terminal_stdout_holds_the_report_and_nothing_else() {
    let env = Env::sample();
    // Colour allowed (NO_COLOR removed): auto still means none when stdout is a pipe.
    let run = env.run_with(&["apply", &env.home_str()], None, &[], &["NO_COLOR"]);
    run.code(0);
    assert!(
        run.stdout
            .starts_with(&format!("apply {}\n", env.home_str()))
    );
    assert!(
        run.stdout.ends_with("verification: passed (8 bundles)\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(ESC), "no colour on a pipe");
    assert_eq!(
        run.stderr, "",
        "no progress bar when stderr is not a terminal"
    );
}

#[test]
fn color_always_colours_problems_and_never_or_no_color_do_not() {
    let env = Env::sample();
    let home = env.home_str();
    let run = env.run_with(
        &["verify", "--color", "always", &home],
        None,
        &[],
        &["NO_COLOR"],
    );
    run.code(1);
    assert!(
        run.stdout
            .contains("verification: \u{1b}[31mFAILED\u{1b}[0m"),
        "{}",
        run.stdout
    );
    // The flag wins over NO_COLOR, as no-color.org asks.
    let run = env.run_with(
        &["verify", "--color", "always", &home],
        None,
        &[("NO_COLOR", "1")],
        &[],
    );
    assert!(run.stdout.contains(ESC));
    let run = env.run_with(
        &["verify", "--color", "never", &home],
        None,
        &[],
        &["NO_COLOR"],
    );
    assert!(!run.stdout.contains(ESC));
    let run = env.run_with(&["verify", &home], None, &[("NO_COLOR", "1")], &[]);
    assert!(!run.stdout.contains(ESC) && !run.stderr.contains(ESC));
    let run = env.run_with(
        &["verify", "--color", "always", "--format", "json", &home],
        None,
        &[],
        &["NO_COLOR"],
    );
    assert!(!run.stdout.contains(ESC), "JSON is never coloured");
}

#[test]
fn quiet_prints_nothing_on_success_and_the_report_on_problems() {
    let env = Env::sample();
    let run = env.cmd("apply", &["--quiet"]);
    run.code(0);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    env.home.add_plugin(
        "org.wso2.carbon.ui_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.ui;singleton:=true", "4.4.9", "tampered"),
    );
    env.cmd("verify", &["-q"])
        .code(1)
        .stdout_has("verification: FAILED, 1 problem(s)");
}

#[test]
fn verbose_adds_diagnostics_on_stderr_only() {
    let env = Env::sample();
    let run = env.cmd("verify", &["-v"]);
    run.code(1)
        .stderr_has("INFO carbon_patch::progress: hashing: ");
    assert!(!run.stdout.contains("INFO"), "{}", run.stdout);
    let run = env.cmd("verify", &[]);
    assert!(!run.stderr.contains("INFO"), "{}", run.stderr);
    let run = env.cmd("verify", &["-vv"]);
    run.stderr_has("DEBUG carbon_patch: configuration");
}

#[test]
fn completions_are_generated_for_every_shell() {
    let env = Env::empty();
    for (shell, marker) in [
        ("bash", "complete -F _carbon__patch"),
        ("zsh", "#compdef carbon-patch"),
        ("fish", "complete -c carbon-patch"),
        ("elvish", "carbon-patch"),
        ("powershell", "carbon-patch"),
    ] {
        let run = env.run(&["completions", shell]);
        run.code(0).stdout_has(marker);
        for sub in ["apply", "verify", "rollback", "status", "plan"] {
            run.stdout_has(sub);
        }
    }
    env.run(&["completions", "bash"]).stdout_has("--format");
    env.run(&["completions", "tcsh"]).code(2);
}

#[test]
fn man_pages_are_generated_from_the_same_definitions() {
    let env = Env::empty();
    let run = env.run(&["man"]);
    run.code(0)
        .stdout_has(".TH carbon-patch 1")
        .stdout_has("status")
        .stdout_has("Exit codes:");
    let run = env.run(&["man", "status"]);
    run.code(0)
        .stdout_has(".TH carbon-patch-status 1")
        .stdout_has("\\-\\-format")
        .stdout_has("Example:");
    env.run(&["man", "nosuch"]).code(2);
}

#[test]
fn every_subcommand_help_shows_an_example() {
    let env = Env::empty();
    for sub in [
        "apply",
        "verify",
        "rollback",
        "status",
        "plan",
        "completions",
        "man",
    ] {
        env.run(&[sub, "--help"])
            .code(0)
            .stdout_has("Example:\n  carbon-patch ");
    }
}
