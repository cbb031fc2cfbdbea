//! `repository/logs/patches.log` (SPEC §10): lines in the runtime's log4j layout
//! `[%d] %5p {%c} - %x %m%n`, collected during a run and appended (and flushed) at its end.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::tree::Tree;

/// The logger category the runtime writes its patch events under.
pub const RUNTIME_CATEGORY: &str = "org.wso2.carbon.server.util.PatchUtils";
/// The category of lines only carbon-patch writes.
pub const OWN_CATEGORY: &str = "carbon-patch";

/// Severity, printed right-aligned in five columns like log4j's `%5p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// Lines waiting to be appended to patches.log.
#[derive(Debug, Default)]
pub struct PatchLog {
    lines: Vec<String>,
}

impl PatchLog {
    /// A runtime event, in the runtime's words.
    pub fn runtime(&mut self, level: Level, message: impl AsRef<str>) {
        self.push(level, RUNTIME_CATEGORY, message.as_ref());
    }

    /// A line of carbon-patch's own (archiving, rollback, recovery).
    pub fn own(&mut self, level: Level, message: impl AsRef<str>) {
        self.push(level, OWN_CATEGORY, message.as_ref());
    }

    fn push(&mut self, level: Level, category: &str, message: &str) {
        self.lines
            .push(format_line(&now(), level, category, message));
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Appends every line to the log at `path` (creating it and its directory; never
    /// through a link), then flushes it to disk. The lines go in one append; a log whose
    /// last line has no line end gets one first, so no line is glued to another. Should the
    /// append fail part-way (a full disk), the log is cut back to where it was: whole lines
    /// or none.
    pub fn append_to(&mut self, tree: &Tree, path: &Path) -> std::io::Result<()> {
        if self.lines.is_empty() {
            return Ok(());
        }
        crate::fault::step()?;
        if let Some(dir) = path.parent() {
            tree.create_dir_all(dir)?;
        }
        let mut file = tree.open_append(path)?;
        let before = file.metadata()?.len();
        let mut bytes = Vec::with_capacity(self.lines.iter().map(String::len).sum::<usize>() + 1);
        let mut last = [0u8];
        if before > 0 && file.read_exact_at(&mut last, before - 1).is_ok() && last[0] != b'\n' {
            bytes.push(b'\n');
        }
        bytes.extend(self.lines.iter().flat_map(|line| line.as_bytes()));
        if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_data()) {
            let _ = file.set_len(before);
            return Err(e);
        }
        self.lines.clear();
        Ok(())
    }
}

/// The local time in log4j's default `%d` format, `2026-11-21 10:15:02,123`.
pub fn now() -> String {
    chrono::Local::now()
        .format("%Y-%m-%d %H:%M:%S,%3f")
        .to_string()
}

/// One line in the runtime's layout; `%x` is empty, which leaves two spaces after `-`.
fn format_line(time: &str, level: Level, category: &str, message: &str) -> String {
    format!(
        "[{time}] {:>5} {{{category}}} -  {message}\n",
        level.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_runtime() {
        assert_eq!(
            format_line(
                "2026-11-21 10:15:02,123",
                Level::Info,
                RUNTIME_CATEGORY,
                "Checking for patch changes ..."
            ),
            "[2026-11-21 10:15:02,123]  INFO {org.wso2.carbon.server.util.PatchUtils} -  Checking for patch changes ...\n"
        );
        assert!(format_line("t", Level::Error, "c", "m").starts_with("[t] ERROR {c} -  m"));
    }

    #[test]
    fn appends_and_keeps_earlier_lines() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::open(dir.path(), &[]).unwrap();
        let path = dir.path().join("logs/patches.log");
        let mut log = PatchLog::default();
        log.runtime(Level::Info, "one");
        log.append_to(&tree, &path).unwrap();
        log.own(Level::Warn, "two");
        log.append_to(&tree, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("  INFO {org.wso2.carbon.server.util.PatchUtils} -  one"));
        assert!(lines[1].ends_with("  WARN {carbon-patch} -  two"));
    }
}
