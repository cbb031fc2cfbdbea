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
    /// Directories whose added files the text sums up in one line (the backup,
    /// carbon-patch's metadata): `(path relative to the top, what they hold)`.
    #[serde(skip)]
    pub summed_up: Vec<(String, &'static str)>,
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
    files(&mut out, record, &report.summed_up);
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

/// Every changed file with its MD5s; the added files of each directory of `summed_up`
/// in one line.
fn files(out: &mut String, record: &Record, summed_up: &[(String, &'static str)]) {
    let count = |what: &str| record.files.iter().filter(|f| f.change == what).count();
    let _ = writeln!(
        out,
        "files: {} changed, {} added, {} removed (MD5 before -> after)",
        count("changed"),
        count("added"),
        count("removed")
    );
    let group = |path: &str| {
        summed_up
            .iter()
            .position(|(dir, _)| !dir.is_empty() && path.starts_with(&format!("{dir}/")))
    };
    let mut said = vec![false; summed_up.len()];
    for file in &record.files {
        if let (Some(g), "added") = (group(&file.path), file.change.as_str()) {
            if !said[g] {
                let (dir, what) = &summed_up[g];
                let n = record
                    .files
                    .iter()
                    .filter(|f| f.change == "added" && group(&f.path) == Some(g))
                    .count();
                let _ = writeln!(out, "  added    {dir}/  ({n} files: {what})");
                said[g] = true;
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
