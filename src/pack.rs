//! `pack` (issue 17): a product distribution ZIP with patch archives added and applied,
//! written again reproducibly. This module owns what is not `add` or `apply`: reading the
//! distribution ([`unpack`]), the pack's one timestamp ([`PackTime`]), what of carbon-patch's
//! own bookkeeping the pack leaves out or dates with that timestamp ([`settle`]), the record
//! the pack carries ([`Record`]), and writing the ZIP ([`zipwrite`]). `cmd::pack` runs it.
//! docs/PACK.md says what the pack holds and why.

pub mod unpack;
pub mod zipwrite;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::digest::Md5Digest;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::log::Style;

pub use unpack::{Distribution, Unpacked};

/// The record's file name, in the patches directory's `.metadata/`.
pub const RECORD_NAME: &str = "carbon-patch-pack.json";
/// Version of the record's fields; raised when one changes meaning or goes away.
pub const RECORD_SCHEMA_VERSION: u32 = 1;
/// The largest of carbon-patch's own files (patches.log, the history, a record) the pack
/// reads to date its new lines: read whole, so capped.
const MAX_SETTLED: u64 = 64 << 20;
/// The variable that fixes the pack's time (reproducible-builds.org).
pub const EPOCH_VARIABLE: &str = "SOURCE_DATE_EPOCH";

/// The one time every entry of a pack carries, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackTime {
    /// Seconds since the Unix epoch, rounded down to what a ZIP entry holds (2 s,
    /// 1980 to 2107).
    pub seconds: i64,
    /// `SOURCE_DATE_EPOCH`, or what the newest input was.
    pub from: String,
}

impl PackTime {
    /// `SOURCE_DATE_EPOCH` when set (and not empty), else the newest of `inputs`
    /// (`(what, seconds)`), else 1980-01-01. A value that is not a whole number of seconds
    /// is bad input.
    pub fn choose(epoch: Option<OsString>, inputs: &[(String, Option<i64>)]) -> Result<PackTime> {
        let (seconds, from) = match epoch.filter(|v| !v.is_empty()) {
            Some(value) => {
                let text = value.to_string_lossy();
                let seconds = text.trim().parse::<i64>().map_err(|_| {
                    Error::bad_input(
                        EPOCH_VARIABLE,
                        format!("{EPOCH_VARIABLE} is `{text}`, not a number of seconds since 1970"),
                        format!("set {EPOCH_VARIABLE} to a whole number (e.g. `git log -1 --format=%ct`), or unset it to date the pack by its newest input"),
                    )
                })?;
                (seconds, EPOCH_VARIABLE.to_string())
            }
            None => inputs
                .iter()
                .filter_map(|(what, at)| Some((at.as_ref()?, what)))
                .max()
                .map(|(at, what)| (*at, format!("newest input ({what})")))
                .unwrap_or((0, "no input carries a time".into())),
        };
        let dos = zipwrite::DosTime::from_unix(seconds);
        Ok(PackTime {
            seconds: dos.to_unix().unwrap_or(seconds),
            from,
        })
    }

    /// The ZIP form.
    pub fn dos(&self) -> zipwrite::DosTime {
        zipwrite::DosTime::from_unix(self.seconds)
    }

    fn utc(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.seconds, 0).unwrap_or_default()
    }

    /// RFC 3339, UTC: `2026-11-21T10:15:02Z`.
    pub fn rfc3339(&self) -> String {
        self.utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// The log's time format (log4j's `%d`), in UTC: `2026-11-21 10:15:02,000`.
    pub fn log4j(&self) -> String {
        self.utc().format("%Y-%m-%d %H:%M:%S,000").to_string()
    }

    /// The time in patches.log's form for `style` (java.util.logging's hour is not padded).
    pub fn in_log(&self, style: Style) -> String {
        use chrono::Timelike;
        match style {
            Style::Log4j => self.log4j(),
            Style::Jul => {
                let at = self.utc();
                format!(
                    "{} {}:{}",
                    at.format("%Y-%m-%d"),
                    at.hour(),
                    at.format("%M:%S,000")
                )
            }
        }
    }
}

/// The newest time among an archive's files (a ZIP's entry times read as UTC; a
/// directory's files' mtimes).
pub fn newest_in_archive(path: &Path) -> Result<Option<i64>> {
    let info = std::fs::metadata(path).map_err(|e| Error::read("inspect", path, e))?;
    if info.is_dir() {
        fn walk(dir: &Path, newest: &mut Option<i64>) -> Result<()> {
            for entry in std::fs::read_dir(dir).map_err(|e| Error::read("list", dir, e))? {
                let entry = entry.map_err(|e| Error::read("list", dir, e))?;
                let meta = entry
                    .metadata()
                    .map_err(|e| Error::read("inspect", entry.path(), e))?;
                if meta.is_dir() {
                    walk(&entry.path(), newest)?;
                } else if meta.is_file() {
                    use std::os::unix::fs::MetadataExt;
                    *newest = (*newest).max(Some(meta.mtime()));
                }
            }
            Ok(())
        }
        let mut newest = None;
        walk(path, &mut newest)?;
        return Ok(newest);
    }
    let file = unpack::open_file(path)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        Error::bad_input_from(
            path,
            "patch archive refused: not a readable ZIP archive",
            "use the archive as WSO2 shipped it",
            e,
        )
    })?;
    let mut newest = None;
    for index in 0..zip.len() {
        if let Ok(entry) = zip.by_index_raw(index)
            && let Some(time) = entry.last_modified()
        {
            let dos = zipwrite::DosTime {
                date: time.datepart(),
                time: time.timepart(),
            };
            newest = newest.max(dos.to_unix());
        }
    }
    Ok(newest)
}

/// What the pack leaves out of the product and what it dates with its own time, paths
/// relative to PRODUCT_HOME.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    /// Left out: the digest cache (inodes and times of this machine), the lock, a
    /// journal, temporaries.
    pub left_out: Vec<String>,
    /// Kept, their times set to the pack's: patches.log's new lines, the history's new
    /// records (and who ran them left out), each installed archive's record.
    pub normalized: Vec<String>,
}

/// Makes carbon-patch's own files of the unpacked product (`layout`) a function of the
/// inputs and `time` alone; `before` is what the distribution held (their new lines or
/// records are told from theirs). See [`Settled`].
pub fn settle(
    layout: &Layout,
    before: &BTreeMap<PathBuf, Unpacked>,
    time: &PackTime,
) -> Result<Settled> {
    let home = &layout.home;
    let relative = |p: &Path| p.strip_prefix(home).unwrap_or(p).to_path_buf();
    let shown = |p: &Path| crate::names::Shown::path(&relative(p)).to_string();
    let mut settled = Settled::default();
    let tree = &layout.tree;
    for path in [&layout.digests, &layout.lock, &layout.journal] {
        match tree.remove_file(path) {
            Ok(()) => settled.left_out.push(shown(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::write("remove", path, e)),
        }
    }
    let style = crate::kernel::log_style(crate::kernel::detect(layout).as_ref());
    let original = |path: &Path| before.get(&relative(path)).copied();
    let stamp = time.in_log(style);
    if rewrite_new_lines(tree, &layout.log, original(&layout.log), |line| {
        restamp_log_line(line, &stamp)
    })? {
        settled.normalized.push(shown(&layout.log));
    }
    let stamp = time.log4j();
    if rewrite_new_lines(tree, &layout.history, original(&layout.history), |line| {
        match serde_json::from_str::<crate::history::Record>(line) {
            Ok(mut record) => {
                record.started = stamp.clone();
                record.ended = stamp.clone();
                record.run_as = None;
                // A record serialises: plain strings and numbers.
                serde_json::to_string(&record).unwrap_or_else(|_| line.to_string())
            }
            Err(_) => line.to_string(),
        }
    })? {
        settled.normalized.push(shown(&layout.history));
    }
    for record in crate::installed::load(layout)?.records {
        let path = crate::installed::Place::of(layout, &record.id).record();
        let Some(text) = tree
            .read_capped(&path, MAX_SETTLED)
            .map_err(|e| Error::input("read", &path, e))?
        else {
            continue;
        };
        let unchanged = original(&path).is_some_and(|o| o.md5 == Md5Digest::of_bytes(&text));
        if unchanged || record.added == stamp {
            continue;
        }
        let record = crate::installed::Record {
            added: stamp.clone(),
            ..record
        };
        crate::execute::write_if_changed(tree, &path, &crate::metadata::render_json(&record))?;
        settled.normalized.push(shown(&path));
    }
    Ok(settled)
}

/// Rewrites with `line` the lines of `path` that the distribution did not hold (all of
/// them when what it held is not where it was, e.g. a log the run shortened). Returns
/// whether the file exists and is not what the distribution held.
fn rewrite_new_lines(
    tree: &crate::tree::Tree,
    path: &Path,
    original: Option<Unpacked>,
    line: impl Fn(&str) -> String,
) -> Result<bool> {
    let Some(bytes) = tree
        .read_capped(path, MAX_SETTLED)
        .map_err(|e| Error::input("read", path, e))?
    else {
        return Ok(false);
    };
    let kept = match original {
        Some(o) if o.md5 == Md5Digest::of_bytes(&bytes) => return Ok(false),
        Some(o)
            if (o.size as usize) <= bytes.len()
                && Md5Digest::of_bytes(&bytes[..o.size as usize]) == o.md5 =>
        {
            o.size as usize
        }
        _ => 0,
    };
    let mut out = bytes[..kept].to_vec();
    let text = String::from_utf8_lossy(&bytes[kept..]);
    for piece in text.split_inclusive('\n') {
        let (body, end) = match piece.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (piece, ""),
        };
        out.extend_from_slice(line(body).as_bytes());
        out.extend_from_slice(end.as_bytes());
    }
    crate::execute::write_if_changed(tree, path, &out)?;
    Ok(true)
}

/// A patches.log line with its leading `[time]` replaced by `[stamp]`.
fn restamp_log_line(line: &str, stamp: &str) -> String {
    match line.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        Some((_, rest)) => format!("[{stamp}]{rest}"),
        None => line.to_string(),
    }
}

/// One file of the finished product tree.
#[derive(Debug, Clone)]
pub struct TreeFile {
    /// Relative to PRODUCT_HOME.
    pub relative: PathBuf,
    pub size: u64,
    pub md5: Md5Digest,
    pub executable: bool,
}

/// Every directory and file under `home` (relative to it, sorted), the files hashed
/// several at once. carbon-patch's temporary names are left out (and returned); a link
/// or special file is an error: nothing in the private tree makes one.
pub fn list_tree(home: &Path) -> Result<(Vec<PathBuf>, Vec<TreeFile>, Vec<PathBuf>)> {
    fn walk(
        home: &Path,
        dir: &Path,
        dirs: &mut Vec<PathBuf>,
        files: &mut Vec<(PathBuf, u64, bool)>,
        skipped: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| Error::read("list", dir, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::read("list", dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let relative = path.strip_prefix(home).unwrap_or(&path).to_path_buf();
            if crate::layout::is_temp_name(&entry.file_name()) {
                skipped.push(relative);
                continue;
            }
            let meta =
                std::fs::symlink_metadata(&path).map_err(|e| Error::read("inspect", &path, e))?;
            if meta.is_dir() {
                dirs.push(relative);
                walk(home, &path, dirs, files, skipped)?;
            } else if meta.is_file() {
                files.push((relative, meta.len(), meta.permissions().mode() & 0o111 != 0));
            } else {
                return Err(Error::read(
                    "pack",
                    &path,
                    std::io::Error::other("neither a regular file nor a directory"),
                ));
            }
        }
        Ok(())
    }
    let (mut dirs, mut listed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    walk(home, home, &mut dirs, &mut listed, &mut skipped)?;
    dirs.sort();
    let files = listed
        .into_par_iter()
        .map(|(relative, size, executable)| {
            let md5 = unpack::md5_of_file(&home.join(&relative))?;
            Ok(TreeFile {
                relative,
                size,
                md5,
                executable,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((dirs, files, skipped))
}

/// The record a pack carries (`carbon-patch-pack.json`) and prints (`--format json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// [`RECORD_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `carbon-patch <version>`: another version may compress, or record, differently.
    pub tool: String,
    /// The time every entry carries, RFC 3339 in UTC.
    pub time: String,
    /// Where it came from: `SOURCE_DATE_EPOCH`, or the newest input.
    pub time_from: String,
    /// The distribution it was built from.
    pub base: Base,
    /// The product's kernel, when known.
    pub kernel: Option<String>,
    /// The apply order applied.
    pub apply_order: Vec<String>,
    /// Each patch archive added, in the order given.
    pub patches: Vec<PatchItem>,
    /// Every file the pack holds otherwise than the distribution did (its own record
    /// aside), relative to the top directory, in byte-wise order.
    pub files: Vec<FileChange>,
    /// What the patches' READMEs ask that carbon-patch cannot do.
    pub manual_steps: Vec<ManualStep>,
    /// carbon-patch's files of the product left out, and those dated with [`Record::time`].
    #[serde(flatten)]
    pub settled: Settled,
}

/// The distribution a pack was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    /// Its file name.
    pub file: String,
    /// The MD5 of the ZIP.
    pub md5: Md5Digest,
    /// Its top directory, which the pack keeps.
    pub top: String,
}

/// One patch archive a pack holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchItem {
    pub id: String,
    pub patch_dir: String,
    /// The archive's file name.
    pub archive: String,
    pub applies_to: String,
    pub jira: Vec<String>,
    pub manual_steps: Vec<String>,
}

/// A file the pack adds, removes or changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Relative to the top directory.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    /// Its MD5 in the distribution (`null`: added).
    pub before: Option<Md5Digest>,
    /// Its MD5 in the pack (`null`: removed).
    pub after: Option<Md5Digest>,
}

/// A manual step, and the patch whose README asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualStep {
    pub patch: String,
    pub step: String,
}

/// Every file that differs between the distribution (`before`) and the finished tree
/// (`after`), by path.
pub fn changes(before: &BTreeMap<PathBuf, Unpacked>, after: &[TreeFile]) -> Vec<FileChange> {
    let after: BTreeMap<&Path, Md5Digest> = after
        .iter()
        .map(|f| (f.relative.as_path(), f.md5))
        .collect();
    let mut paths: Vec<&Path> = before
        .keys()
        .map(PathBuf::as_path)
        .chain(after.keys().copied())
        .collect();
    // Byte-wise, as the ZIP orders its entries.
    paths.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let old = before.get(path).map(|b| b.md5);
            let new = after.get(path).copied();
            let change = match (old, new) {
                (Some(a), Some(b)) if a == b => return None,
                (Some(_), Some(_)) => "changed",
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (None, None) => return None,
            };
            Some(FileChange {
                path: crate::names::Shown::path(path).to_string(),
                change: change.into(),
                before: old,
                after: new,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_comes_from_source_date_epoch_then_the_newest_input() {
        let inputs = vec![
            ("a.zip".to_string(), Some(1_600_000_000)),
            ("b.zip".to_string(), Some(1_700_000_001)),
            ("c".to_string(), None),
        ];
        let t = PackTime::choose(Some("1650000000".into()), &inputs).unwrap();
        assert_eq!(
            (t.seconds, t.from.as_str()),
            (1_650_000_000, EPOCH_VARIABLE)
        );
        let t = PackTime::choose(Some("".into()), &inputs).unwrap();
        assert_eq!(t.seconds, 1_700_000_000, "rounded to the ZIP's 2 seconds");
        assert_eq!(t.from, "newest input (b.zip)");
        assert_eq!(t.rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(t.log4j(), "2023-11-14 22:13:20,000");
        let t = PackTime::choose(None, &[]).unwrap();
        assert_eq!(t.rfc3339(), "1980-01-01T00:00:00Z");
        assert!(PackTime::choose(Some("yesterday".into()), &inputs).is_err());
    }

    #[test]
    fn a_jul_log_time_has_its_hour_unpadded() {
        let t = PackTime {
            seconds: 1_700_000_000 - 22 * 3600 + 3 * 3600,
            from: String::new(),
        };
        assert_eq!(t.in_log(Style::Jul), "2023-11-14 3:13:20,000");
        assert_eq!(t.in_log(Style::Log4j), "2023-11-14 03:13:20,000");
    }

    #[test]
    fn a_log_line_gets_the_packs_time() {
        assert_eq!(
            restamp_log_line(
                "[2026-11-21 10:15:02,123]  INFO {org.wso2.carbon.server.util.PatchUtils} -  Checking",
                "2020-01-01 00:00:00,000"
            ),
            "[2020-01-01 00:00:00,000]  INFO {org.wso2.carbon.server.util.PatchUtils} -  Checking"
        );
        assert_eq!(restamp_log_line("no time", "x"), "no time");
    }

    #[test]
    fn changes_list_added_removed_and_changed_files_in_byte_order() {
        let file = |b: &[u8]| Unpacked {
            size: b.len() as u64,
            md5: Md5Digest::of_bytes(b),
            executable: false,
        };
        let before = BTreeMap::from([
            (PathBuf::from("b/same"), file(b"1")),
            (PathBuf::from("b/changed"), file(b"2")),
            (PathBuf::from("b/gone"), file(b"3")),
        ]);
        let tree = |p: &str, b: &[u8]| TreeFile {
            relative: p.into(),
            size: b.len() as u64,
            md5: Md5Digest::of_bytes(b),
            executable: false,
        };
        let after = vec![
            tree("b/same", b"1"),
            tree("b/changed", b"22"),
            tree("b/new", b"4"),
            tree("B/new", b"5"),
        ];
        let got: Vec<(String, String)> = changes(&before, &after)
            .into_iter()
            .map(|c| (c.path, c.change))
            .collect();
        assert_eq!(
            got,
            [
                ("B/new".into(), "added".into()),
                ("b/changed".into(), "changed".into()),
                ("b/gone".into(), "removed".into()),
                ("b/new".into(), "added".into()),
            ]
        );
    }
}
