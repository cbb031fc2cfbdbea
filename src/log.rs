//! `repository/logs/patches.log` (SPEC §10): lines collected during a run and appended (and
//! flushed) at its end, in the form the product's own kernel writes them:
//!
//! - kernels 4.2 to 4.4, log4j: `[%d] %5p {%c} - %x %m%n`;
//! - kernels 4.5 to 4.12, java.util.logging's `SimpleFormatter` with
//!   `[%1$tY-%1$tm-%1$td %1$tk:%1$tM:%1$tS,%1$tL]  %4$s {%2$s} - %5$s %6$s %n`: the hour not
//!   padded, levels FINE/INFO/WARNING/SEVERE, the source as `{class method}`, two spaces
//!   before the line end. Their file handler truncates a log of 50,000 bytes or more at the
//!   server's next start, so carbon-patch keeps the file under [`JUL_BUDGET`] there (the
//!   whole record of every run is in the history, [`crate::history`]).

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use chrono::{DateTime, Local, Timelike};

use crate::tree::Tree;

/// The logger category the runtime writes its patch events under (log4j).
pub const RUNTIME_CATEGORY: &str = "org.wso2.carbon.server.util.PatchUtils";
/// The category of lines only carbon-patch writes.
pub const OWN_CATEGORY: &str = "carbon-patch";
/// The most patches.log holds after carbon-patch wrote to it on a 4.5+ kernel: under the
/// handler's 50,000-byte limit with room for the server's own lines at its next starts.
pub const JUL_BUDGET: usize = 40_000;

/// Severity. In log4j's form printed right-aligned in five columns (`%5p`); in the
/// java.util.logging form as INFO, WARNING, SEVERE (or FINE, see [`Origin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn log4j(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }

    fn jul(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARNING",
            Level::Error => "SEVERE",
        }
    }
}

/// The form patches.log is written in, from the product's kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// Kernels 4.2 to 4.4.
    #[default]
    Log4j,
    /// Kernels 4.5 to 4.12.
    Jul,
}

/// Where the runtime logs a message from: the class and method that 4.5+ kernels name,
/// and whether they log it at FINE (most messages) rather than at its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub class: &'static str,
    pub method: &'static str,
    pub fine: bool,
}

/// The runtime's messages and where each comes from (`PatchInstaller.perform`, and the
/// `PatchUtils` methods behind it).
pub mod origin {
    use super::Origin;

    const UTILS: &str = "org.wso2.carbon.server.util.PatchUtils";
    const INSTALLER: &str = "org.wso2.carbon.server.extensions.PatchInstaller";

    const fn utils(method: &'static str, fine: bool) -> Origin {
        Origin {
            class: UTILS,
            method,
            fine,
        }
    }

    /// `Checking for patch changes ...`, the first run's `New ... available`, `No new patch ...`.
    pub const PROCESS: Origin = utils("processPatches", true);
    /// `New ... available` and `... has been reverted` against an earlier applied list.
    pub const CHANGES: Origin = utils("checkForPatchChanges", true);
    /// `... has been updated` / `... has been added`.
    pub const UPDATED: Origin = utils("checkUpdatedJars", true);
    /// `Patch changes detected`.
    pub const DETECTED: Origin = Origin {
        class: INSTALLER,
        method: "perform",
        fine: false,
    };
    /// `Backed up plugins to patch0000`.
    pub const BACKED_UP: Origin = utils("applyServicepacksAndPatches", false);
    /// `Applying patches ...`.
    pub const APPLYING: Origin = utils("applyServicepacksAndPatches", true);
    /// `restoring bundle backup directory`, `Applying - patchNNNN` and its `Patched` lines.
    pub const PATCHES: Origin = utils("copyServicepacksAndPatches", true);
    /// `Start applying - servicepackNNN` and its `Patched` lines.
    pub const SERVICE_PACK: Origin = utils("copyLatestServicepack", true);
    /// The verification lines of a run that changed nothing (FINE there).
    pub const VERIFY_QUIET: Origin = utils("checkMD5Checksum", true);
    /// The verification lines of a run that changed something, and its problems.
    pub const VERIFY: Origin = utils("checkMD5Checksum", false);
}

/// Who wrote a line.
#[derive(Debug, Clone)]
enum Source {
    Runtime(Origin),
    /// carbon-patch itself, in the command named.
    Own(&'static str),
}

#[derive(Debug, Clone)]
struct Record {
    time: DateTime<Local>,
    level: Level,
    source: Source,
    message: String,
    /// The wording of 4.5+ kernels, where it differs.
    jul_message: Option<String>,
}

/// What a run records: lines waiting to be appended to patches.log, and its history
/// record, filled in as it goes ([`crate::history`]).
#[derive(Debug, Default)]
pub struct PatchLog {
    /// The command writing (`apply`, `rollback`), for the source of carbon-patch's own
    /// lines in the 4.5+ form.
    command: &'static str,
    records: Vec<Record>,
    /// The run's history record.
    pub history: crate::history::Record,
}

impl PatchLog {
    /// An empty log for `command`, its history record started now.
    pub fn new(command: &'static str) -> Self {
        PatchLog {
            command,
            records: Vec::new(),
            history: crate::history::Record::start(command),
        }
    }

    /// A runtime event, in the runtime's words, logged from `origin`.
    pub fn runtime(&mut self, origin: Origin, level: Level, message: impl Into<String>) {
        self.push(level, Source::Runtime(origin), message.into(), None);
    }

    /// A runtime event whose wording differs on 4.5+ kernels (`jul`).
    pub fn runtime_worded(
        &mut self,
        origin: Origin,
        level: Level,
        message: impl Into<String>,
        jul: impl Into<String>,
    ) {
        self.push(
            level,
            Source::Runtime(origin),
            message.into(),
            Some(jul.into()),
        );
    }

    /// A line of carbon-patch's own (archiving, rollback, recovery).
    pub fn own(&mut self, level: Level, message: impl AsRef<str>) {
        let command = self.command;
        self.push(level, Source::Own(command), message.as_ref().into(), None);
    }

    fn push(&mut self, level: Level, source: Source, message: String, jul: Option<String>) {
        self.records.push(Record {
            time: Local::now(),
            level,
            source,
            message,
            jul_message: jul,
        });
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The lines in `style`, each with its line end.
    fn lines(&self, style: Style) -> Vec<String> {
        self.records
            .iter()
            .map(|r| format_record(r, style))
            .collect()
    }

    /// Appends every line to the log at `path` (creating it and its directory; never
    /// through a link), in `style`, then flushes it to disk. The lines go in one append; a
    /// log whose last line has no line end gets one first, so no line is glued to another.
    /// Should the append fail part-way (a full disk), the log is cut back to where it was:
    /// whole lines or none. In the 4.5+ form a log that would pass [`JUL_BUDGET`] is
    /// rewritten instead (see [`PatchLog::rewrite_within_budget`]).
    pub fn append_to(&mut self, tree: &Tree, path: &Path, style: Style) -> std::io::Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        crate::fault::step()?;
        if let Some(dir) = path.parent() {
            tree.create_dir_all(dir)?;
        }
        let lines = self.lines(style);
        let mut file = tree.open_append(path)?;
        let before = file.metadata()?.len();
        let adding: usize = lines.iter().map(String::len).sum::<usize>() + 1;
        if style == Style::Jul && before as usize + adding > JUL_BUDGET {
            drop(file);
            self.rewrite_within_budget(tree, path, lines)?;
            self.records.clear();
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(adding);
        let mut last = [0u8];
        if before > 0 && file.read_exact_at(&mut last, before - 1).is_ok() && last[0] != b'\n' {
            bytes.push(b'\n');
        }
        bytes.extend(lines.iter().flat_map(|line| line.as_bytes()));
        if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_data()) {
            let _ = file.set_len(before);
            return Err(e);
        }
        self.records.clear();
        Ok(())
    }

    /// Rewrites the log (beside it, flushed, renamed over it) with the newest lines that
    /// fit [`JUL_BUDGET`]: the earlier lines that fit after this run's, then this run's —
    /// all of them when they fit, else its first and last lines around one saying how many
    /// were left out (the history has them all).
    fn rewrite_within_budget(
        &self,
        tree: &Tree,
        path: &Path,
        lines: Vec<String>,
    ) -> std::io::Result<()> {
        let ours = fit_run(lines, JUL_BUDGET, self.command);
        let room = JUL_BUDGET.saturating_sub(ours.iter().map(String::len).sum());
        let earlier = match tree.open_own(path) {
            Ok(file) => tail_lines(&file, room)?,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut bytes: Vec<u8> = earlier.concat().into_bytes();
        bytes.extend(ours.iter().flat_map(|line| line.as_bytes()));
        let dir = path.parent().unwrap_or(Path::new("."));
        let (mut file, temp) = tree.create_temp(dir, 0o644)?;
        let written = file
            .write_all(&bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| tree.rename(&temp, path))
            .and_then(|()| tree.sync_dir(dir));
        if written.is_err() {
            let _ = tree.remove_file(&temp);
        }
        written
    }
}

/// This run's lines within `budget` bytes: all when they fit; else the first and last lines
/// around one saying how many were left out.
fn fit_run(lines: Vec<String>, budget: usize, command: &'static str) -> Vec<String> {
    let total: usize = lines.iter().map(String::len).sum();
    if total <= budget || lines.len() < 3 {
        return lines;
    }
    let marker_room = 300;
    let half = (budget - marker_room) / 2;
    let mut head = 0;
    let mut used = 0;
    while head < lines.len() && used + lines[head].len() <= half {
        used += lines[head].len();
        head += 1;
    }
    let mut tail = lines.len();
    used = 0;
    while tail > head && used + lines[tail - 1].len() <= half {
        used += lines[tail - 1].len();
        tail -= 1;
    }
    let left_out = tail - head;
    let marker = format_record(
        &Record {
            time: Local::now(),
            level: Level::Info,
            source: Source::Own(command),
            message: format!(
                "{left_out} line(s) of this run left out to keep patches.log under the server's \
                 50,000-byte limit; `carbon-patch history` shows them all"
            ),
            jul_message: None,
        },
        Style::Jul,
    );
    let mut fitted: Vec<String> = lines[..head].to_vec();
    fitted.push(marker);
    fitted.extend_from_slice(&lines[tail..]);
    fitted
}

/// The whole lines at the end of `file` that fit in `room` bytes (each with its line end).
fn tail_lines(file: &std::fs::File, room: usize) -> std::io::Result<Vec<String>> {
    let len = file.metadata()?.len();
    let start = len.saturating_sub(room as u64);
    let mut bytes = vec![0u8; (len - start) as usize];
    file.read_exact_at(&mut bytes, start)?;
    // From the first line that starts inside the window (the one cut by it is dropped).
    let from = if start == 0 {
        0
    } else {
        bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1)
    };
    let mut text = String::from_utf8_lossy(&bytes[from..]).into_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text.split_inclusive('\n').map(String::from).collect())
}

/// The local time in log4j's default `%d` format, `2026-11-21 10:15:02,123`.
pub fn now() -> String {
    log4j_time(&Local::now())
}

fn log4j_time(time: &DateTime<Local>) -> String {
    time.format("%Y-%m-%d %H:%M:%S,%3f").to_string()
}

/// `%1$tY-%1$tm-%1$td %1$tk:%1$tM:%1$tS,%1$tL`: the hour not padded.
fn jul_time(time: &DateTime<Local>) -> String {
    format!(
        "{} {}:{}",
        time.format("%Y-%m-%d"),
        time.hour(),
        time.format("%M:%S,%3f")
    )
}

fn format_record(record: &Record, style: Style) -> String {
    match style {
        Style::Log4j => {
            let category = match record.source {
                Source::Runtime(_) => RUNTIME_CATEGORY,
                Source::Own(_) => OWN_CATEGORY,
            };
            log4j_line(
                &log4j_time(&record.time),
                record.level,
                category,
                &record.message,
            )
        }
        Style::Jul => {
            let (source, level) = match &record.source {
                Source::Runtime(origin) => (
                    format!("{} {}", origin.class, origin.method),
                    if origin.fine && record.level == Level::Info {
                        "FINE"
                    } else {
                        record.level.jul()
                    },
                ),
                Source::Own(command) => (format!("{OWN_CATEGORY} {command}"), record.level.jul()),
            };
            let message = record.jul_message.as_deref().unwrap_or(&record.message);
            jul_line(&jul_time(&record.time), level, &source, message)
        }
    }
}

/// One line in the runtime's log4j layout; `%x` is empty, which leaves two spaces after `-`.
fn log4j_line(time: &str, level: Level, category: &str, message: &str) -> String {
    format!(
        "[{time}] {:>5} {{{category}}} -  {message}\n",
        level.log4j()
    )
}

/// One line in the 4.5+ layout: the thrown part is empty, which leaves two spaces before
/// the line end.
fn jul_line(time: &str, level: &str, source: &str, message: &str) -> String {
    format!("[{time}]  {level} {{{source}}} - {message}  \n")
}

/// A line of patches.log in either form → (time, level, message).
pub fn parse_line(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix('[')?;
    let (time, rest) = rest.split_once("] ")?;
    let (level, rest) = rest.trim_start().split_once(' ')?;
    let rest = rest.strip_prefix('{')?;
    let (source, message) = rest.split_once("} - ")?;
    let message = if source.contains(' ') {
        // java.util.logging: `{class method} - message  `.
        message.strip_suffix("  ").unwrap_or(message)
    } else {
        // log4j: `{category} -  message` (the empty `%x` adds a space).
        message.strip_prefix(' ').unwrap_or(message)
    };
    Some((time, level, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Local> {
        Local
            .with_ymd_and_hms(2026, 11, 29, hour, 3, 46)
            .unwrap()
            .checked_add_signed(chrono::TimeDelta::milliseconds(49))
            .unwrap()
    }

    #[test]
    fn log4j_layout_matches_the_runtime() {
        assert_eq!(
            log4j_line(
                "2026-11-21 10:15:02,123",
                Level::Info,
                RUNTIME_CATEGORY,
                "Checking for patch changes ..."
            ),
            "[2026-11-21 10:15:02,123]  INFO {org.wso2.carbon.server.util.PatchUtils} -  Checking for patch changes ...\n"
        );
        assert!(log4j_line("t", Level::Error, "c", "m").starts_with("[t] ERROR {c} -  m"));
    }

    #[test]
    fn jul_layout_matches_the_4_5_kernels() {
        let detected = Record {
            time: at(6),
            level: Level::Info,
            source: Source::Runtime(origin::DETECTED),
            message: "Patch changes detected ".into(),
            jul_message: Some("Patch changes detected".into()),
        };
        assert_eq!(
            format_record(&detected, Style::Jul),
            "[2026-11-29 6:03:46,049]  INFO {org.wso2.carbon.server.extensions.PatchInstaller perform} - Patch changes detected  \n"
        );
        let patched = Record {
            time: at(16),
            level: Level::Info,
            source: Source::Runtime(origin::PATCHES),
            message: "Patched a_1.jar(MD5:93d3c830eb1d5816bdd3c4736b18f1b1)".into(),
            jul_message: None,
        };
        assert_eq!(
            format_record(&patched, Style::Jul),
            "[2026-11-29 16:03:46,049]  FINE {org.wso2.carbon.server.util.PatchUtils copyServicepacksAndPatches} - Patched a_1.jar(MD5:93d3c830eb1d5816bdd3c4736b18f1b1)  \n"
        );
        let problem = Record {
            level: Level::Warn,
            source: Source::Runtime(origin::VERIFY),
            ..patched.clone()
        };
        assert!(
            format_record(&problem, Style::Jul).starts_with("[2026-11-29 16:03:46,049]  WARNING {")
        );
        let own = Record {
            source: Source::Own("apply"),
            ..patched
        };
        assert!(format_record(&own, Style::Jul).contains("  INFO {carbon-patch apply} - Patched"));
    }

    #[test]
    fn both_forms_parse_back() {
        assert_eq!(
            parse_line(
                "[2026-11-29 6:03:46,049]  INFO {org.wso2.carbon.server.extensions.PatchInstaller perform} - Patch changes detected  "
            ),
            Some(("2026-11-29 6:03:46,049", "INFO", "Patch changes detected"))
        );
        assert_eq!(
            parse_line(
                "[2026-11-21 10:15:02,123]  INFO {org.wso2.carbon.server.util.PatchUtils} -  Patch changes detected "
            ),
            Some(("2026-11-21 10:15:02,123", "INFO", "Patch changes detected "))
        );
    }

    #[test]
    fn appends_and_keeps_earlier_lines() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::open(dir.path(), &[]).unwrap();
        let path = dir.path().join("logs/patches.log");
        let mut log = PatchLog::new("apply");
        log.runtime(origin::PROCESS, Level::Info, "one");
        log.append_to(&tree, &path, Style::Log4j).unwrap();
        log.own(Level::Warn, "two");
        log.append_to(&tree, &path, Style::Log4j).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("  INFO {org.wso2.carbon.server.util.PatchUtils} -  one"));
        assert!(lines[1].ends_with("  WARN {carbon-patch} -  two"));
    }

    #[test]
    fn a_4_5_log_stays_within_its_budget_keeping_the_newest_lines() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::open(dir.path(), &[]).unwrap();
        let path = dir.path().join("patches.log");
        let old: String = (0..1000)
            .map(|i| format!("[t]  INFO {{a b}} - old line {i}  \n"))
            .collect();
        std::fs::write(&path, &old).unwrap();
        let mut log = PatchLog::new("apply");
        for i in 0..2000 {
            log.runtime(
                origin::PATCHES,
                Level::Info,
                format!("Patched x{i}.jar(MD5:0)"),
            );
        }
        log.runtime(
            origin::VERIFY,
            Level::Info,
            "Patch verification successfully completed",
        );
        log.append_to(&tree, &path, Style::Jul).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.len() <= JUL_BUDGET, "{} bytes", text.len());
        assert!(text.ends_with("Patch verification successfully completed  \n"));
        assert!(text.contains("Patched x0.jar"));
        assert!(text.contains("line(s) of this run left out"));
        assert!(text.lines().all(|l| l.starts_with('[')), "whole lines only");
    }
}
