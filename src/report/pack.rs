//! The report of `pack`: the distribution, each patch archive with its manual steps, the
//! verification, every file the pack holds otherwise than the distribution (the backup
//! summed up in the text), what was left out or dated, and the ZIP written. The JSON form
//! carries the pack's record whole.

use std::fmt::Write as _;

use serde::Serialize;

use super::ProductHome;
use super::text::{Paint, header};
use crate::digest::Md5Digest;
use crate::pack::Record;

/// The ZIP `pack` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// Its path, as given with `-o`.
    pub path: String,
    pub bytes: u64,
    /// Entries, directories included.
    pub entries: usize,
}

/// `pack`.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    /// The ZIP written; `null` when verification failed and nothing was written.
    pub output: Option<Written>,
    /// Where the record lies inside the ZIP.
    pub record_path: String,
    /// Whether the applied product verified, and what was wrong if not.
    pub verification: Verification,
    /// The pack's record (what `record_path` holds); `null` when nothing was written.
    pub record: Option<Record>,
    /// The backup directory, relative to the top (summed up in the text).
    #[serde(skip)]
    pub backup: String,
    /// The patch archives as `add` reported them (for a failed pack's text).
    #[serde(skip)]
    pub archives: Vec<super::archives::ArchiveItem>,
}

/// The verification of the applied product before it was zipped.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub passed: bool,
    /// Bundles checked.
    pub bundles: usize,
    pub problems: Vec<String>,
}

/// Prints the report.
pub fn render(home: &ProductHome, report: &PackReport, paint: Paint) -> String {
    let mut out = String::new();
    header(&mut out, home, "pack", paint);
    if let Some(record) = &report.record {
        let _ = writeln!(
            out,
            "base: {} (MD5 {}), top directory {}{}",
            record.base.file,
            record.base.md5,
            record.base.top,
            record
                .kernel
                .as_ref()
                .map(|k| format!(", kernel {k}"))
                .unwrap_or_default()
        );
        for patch in &record.patches {
            let _ = writeln!(
                out,
                "{} {} ({}, {})",
                paint.bold("patch"),
                patch.id,
                patch.patch_dir,
                patch.archive
            );
            let _ = writeln!(out, "  applies to: {}", patch.applies_to);
            if !patch.jira.is_empty() {
                let _ = writeln!(out, "  JIRA: {}", patch.jira.join(", "));
            }
        }
        let _ = writeln!(
            out,
            "apply order: {}",
            if record.apply_order.is_empty() {
                "(no service pack or patch)".to_string()
            } else {
                record.apply_order.join(", ")
            }
        );
    } else {
        for item in &report.archives {
            let _ = writeln!(
                out,
                "{} {} ({}, {})",
                paint.bold("patch"),
                item.id,
                item.patch_dir,
                item.archive
            );
        }
    }
    verification(&mut out, &report.verification, paint);
    let Some(record) = &report.record else {
        let _ = writeln!(
            out,
            "{}",
            paint.red("nothing written: the patched product did not verify")
        );
        return out;
    };
    files(&mut out, record, &report.backup);
    if !record.manual_steps.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint.yellow("manual steps left to you (the pack cannot do them):")
        );
        for step in &record.manual_steps {
            let _ = writeln!(out, "  {}: {}", step.patch, step.step);
        }
    }
    if !record.settled.left_out.is_empty() {
        let _ = writeln!(
            out,
            "left out (this build's, not the product's): {}",
            record.settled.left_out.join(", ")
        );
    }
    if !record.settled.normalized.is_empty() {
        let _ = writeln!(
            out,
            "dated with the pack's time: {}",
            record.settled.normalized.join(", ")
        );
    }
    let _ = writeln!(out, "time: {} ({})", record.time, record.time_from);
    let _ = writeln!(out, "record: {}", report.record_path);
    if let Some(written) = &report.output {
        let _ = writeln!(
            out,
            "{} {}: {} entries, {} bytes",
            paint.green("wrote"),
            written.path,
            written.entries,
            written.bytes
        );
    }
    out
}

fn verification(out: &mut String, v: &Verification, paint: Paint) {
    if v.passed {
        let _ = writeln!(
            out,
            "verification: {} ({} bundles)",
            paint.green("passed"),
            v.bundles
        );
    } else {
        let _ = writeln!(
            out,
            "verification: {}, {} problem(s)",
            paint.red("FAILED"),
            v.problems.len()
        );
        for problem in &v.problems {
            let _ = writeln!(out, "  {problem}");
        }
    }
}

/// Every changed file with its MD5s; the backup's added files summed up in one line.
fn files(out: &mut String, record: &Record, backup: &str) {
    let count = |what: &str| record.files.iter().filter(|f| f.change == what).count();
    let _ = writeln!(
        out,
        "files: {} changed, {} added, {} removed (MD5 before -> after)",
        count("changed"),
        count("added"),
        count("removed")
    );
    let prefix = format!("{backup}/");
    let in_backup = |path: &str| !backup.is_empty() && path.starts_with(&prefix);
    let backed_up = record
        .files
        .iter()
        .filter(|f| f.change == "added" && in_backup(&f.path))
        .count();
    let mut said_backup = false;
    for file in &record.files {
        if file.change == "added" && in_backup(&file.path) {
            if !said_backup {
                let _ = writeln!(
                    out,
                    "  added    {prefix}  ({backed_up} files: the backup of plugins, as the distribution held them)"
                );
                said_backup = true;
            }
            continue;
        }
        let md5 = |m: &Option<Md5Digest>| m.map_or_else(|| "(none)".to_string(), |m| m.to_string());
        let _ = writeln!(
            out,
            "  {:<8} {}  {} -> {}",
            file.change,
            file.path,
            md5(&file.before),
            md5(&file.after)
        );
    }
}
