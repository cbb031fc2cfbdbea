//! carbon-patch's own record of every `apply` and `rollback` (SPEC §10):
//! `<metadata>/carbon-patch-history.jsonl`, one JSON document a line — when, as whom, the
//! command, the kernel, the apply order, the changes found, every file written, restored or
//! archived with its MD5, and the outcome (a run that stopped too, with its error). Appended
//! and flushed at the end of each run, through the tree layer. patches.log can be cut short
//! (a 4.5+ server truncates it at 50,000 bytes); this record is not. `carbon-patch history`
//! shows it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::privilege::RunAs;
use crate::tree::Tree;

/// Version of a record's fields; raised when one changes meaning or goes away.
pub const HISTORY_SCHEMA_VERSION: u32 = 1;

/// The longest record read back (a run that archived 100,000 files is about 15 MB).
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// One run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub schema_version: u32,
    /// `apply` or `rollback`.
    pub command: String,
    /// When it started and ended, in the log's time format.
    pub started: String,
    pub ended: String,
    /// Who ran it.
    pub run_as: Option<RunAs>,
    /// The product's kernel, when known.
    pub kernel: Option<String>,
    /// The apply order it applied (empty after a rollback).
    pub apply_order: Vec<String>,
    /// The changes it found, in the runtime's words.
    pub events: Vec<String>,
    /// Every file it wrote, restored or archived in plugins.
    pub files: Vec<FileRecord>,
    /// Entry directories it set aside (rollback), and where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<(String, String)>,
    /// `verified`, `verified_with_problems`, `no_change`, `rolled_back` or `stopped`.
    pub outcome: String,
    /// What verification found wrong.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Why it stopped, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One file of plugins a run changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// `write`, `restore` or `archive`.
    pub action: String,
    /// Its name in plugins.
    pub target: String,
    /// The entry that provided it (`write`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Its MD5 once written or restored, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Where the content it replaced or took out went, relative to PRODUCT_HOME.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_to: Option<String>,
}

impl Record {
    /// A record of `command` starting now, by the current user.
    pub fn start(command: &str) -> Record {
        Record {
            schema_version: HISTORY_SCHEMA_VERSION,
            command: command.to_string(),
            started: crate::log::now(),
            run_as: Some(crate::privilege::current()),
            ..Record::default()
        }
    }
}

/// Appends `record` as one line to the history at `path` (created when missing; never
/// through a link), not yet flushed: the caller flushes the returned file once patches.log
/// is flushed too, so one journal commit of the filesystem carries both. A line cut short
/// by a full disk is removed again.
pub fn append(tree: &Tree, path: &Path, record: &Record) -> std::io::Result<std::fs::File> {
    // Plain structs of strings: serialising cannot fail.
    let mut line = serde_json::to_vec(record).expect("a history record serialises");
    line.push(b'\n');
    let mut file = tree.open_append(path)?;
    let before = file.metadata()?.len();
    if let Err(e) = file.write_all(&line) {
        let _ = file.set_len(before);
        return Err(e);
    }
    Ok(file)
}

/// Every record in the history at `path`, oldest first (none when there is no history).
/// A line that is not a record (damaged by hand) is skipped and counted.
pub fn read(tree: &Tree, path: &Path) -> std::io::Result<(Vec<Record>, usize)> {
    let file = match tree.open_own(path) {
        Ok(file) => file,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok((Vec::new(), 0));
        }
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut damaged = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_RECORD_BYTES + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && n as u64 > MAX_RECORD_BYTES {
            // Too long to be a record: skip to the next line.
            damaged += 1;
            let mut rest = Vec::new();
            while reader.read_until(b'\n', &mut rest)? > 0 && rest.last() != Some(&b'\n') {
                rest.clear();
            }
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => records.push(record),
            Err(_) if line.iter().all(u8::is_ascii_whitespace) => {}
            Err(_) => damaged += 1,
        }
    }
    Ok((records, damaged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_append_and_read_back_skipping_damaged_lines() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::open(dir.path(), &[]).unwrap();
        let path = dir.path().join("history.jsonl");
        let mut first = Record::start("apply");
        first.files.push(FileRecord {
            action: "write".into(),
            target: "a_1.jar".into(),
            entry: Some("patch0001".into()),
            md5: Some("0".repeat(32)),
            archived_to: None,
        });
        first.outcome = "verified".into();
        append(&tree, &path, &first).unwrap().sync_data().unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{ damaged\n")
            .unwrap();
        let mut second = Record::start("rollback");
        second.outcome = "rolled_back".into();
        append(&tree, &path, &second).unwrap().sync_data().unwrap();
        let (records, damaged) = read(&tree, &path).unwrap();
        assert_eq!(records, vec![first, second]);
        assert_eq!(damaged, 1);
    }
}
