//! The last run recorded in patches.log, read from its lines.

use super::LastRun;

/// Reads the last run from patches.log lines (all of them, or those since the last start:
/// it looks for the last start itself). A run starts at `Checking for patch changes ...`
/// (an apply, or a server start: they log the same words) or at carbon-patch's
/// `Rolling back plugins to patch0000`.
pub fn last_run<S: AsRef<str>>(lines: &[S]) -> Option<LastRun> {
    let parsed: Vec<(&str, &str, &str)> = lines
        .iter()
        .filter_map(|l| parse_log_line(l.as_ref()))
        .collect();
    let start = parsed
        .iter()
        .rposition(|(_, _, message)| is_run_start(message))?;
    let run = &parsed[start..];
    let (started, _, first) = run[0];
    let (ended, _, last) = run[run.len() - 1];
    let has = |text: &str| run.iter().any(|(_, _, m)| *m == text);
    let kind = if first.starts_with("Rolling back plugins to") {
        "rollback"
    } else {
        "apply"
    };
    let outcome = if run
        .iter()
        .any(|(_, level, m)| matches!(*level, "ERROR" | "SEVERE") && m.contains(" stopped: "))
    {
        "stopped"
    } else if last.starts_with("Rollback completed") {
        "rolled_back"
    } else if run
        .iter()
        .any(|(_, _, m)| m.starts_with("Patch verification completed with warnings."))
    {
        "verified_with_problems"
    } else if has("Patch verification successfully completed") {
        // 4.4 and earlier end it with a space; 4.5+ do not.
        if has("Patch changes detected ") || has("Patch changes detected") {
            "verified"
        } else {
            "no_change"
        }
    } else {
        "unfinished"
    };
    Some(LastRun {
        kind,
        started: started.to_string(),
        ended: ended.to_string(),
        outcome,
        last_message: last.to_string(),
    })
}

/// Whether a log message starts a run (see [`last_run`]).
pub fn is_run_start(message: &str) -> bool {
    message == "Checking for patch changes ..." || message.starts_with("Rolling back plugins to ")
}

/// A line of patches.log, in the log4j or the java.util.logging form → (time, level,
/// message).
pub fn parse_log_line(line: &str) -> Option<(&str, &str, &str)> {
    crate::log::parse_line(line)
}
