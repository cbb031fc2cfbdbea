//! The report of `add`, `remove` and `check` (SPEC §14): each patch archive with its id,
//! Applies To, JIRA ids, the resource files it places (MD5 before and after) and the
//! manual steps left to the operator; what the run did; the pre-flight's findings; and,
//! when the command went on to apply, the apply's own report.

use std::fmt::Write as _;

use serde::Serialize;

use super::text::{Paint, header};
use super::{ApplyReport, ProductHome};
use crate::archive::applies::Applicability;
use crate::digest::Md5Digest;
use crate::installed::Record;

/// One patch archive, as the command saw or left it.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveItem {
    /// Patch ID.
    pub id: String,
    /// Its `patchNNNN` directory.
    pub patch_dir: String,
    /// The archive's file name.
    pub archive: String,
    /// `added`, `already_added`, `removed`, `would_add`, `would_remove`.
    pub state: &'static str,
    /// Applies To, as written.
    pub applies_to: String,
    /// Whether it applies to this product (`None`: not checked, for `remove`).
    pub applicability: Option<Applicability>,
    /// Associated JIRA.
    pub jira: Vec<String>,
    /// The resource files it places, with their MD5 before (`null`: it adds the file).
    pub resources: Vec<ResourceItem>,
    /// The README's instructions carbon-patch cannot carry out.
    pub manual_steps: Vec<String>,
}

/// One resource file.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceItem {
    /// Relative to PRODUCT_HOME.
    pub path: String,
    /// MD5 of the file it replaces (`None`: none was there).
    pub before: Option<Md5Digest>,
    /// MD5 it places.
    pub after: Md5Digest,
}

impl ArchiveItem {
    /// The item for `record` in `state`.
    pub fn of(record: &Record, state: &'static str, applicability: Option<Applicability>) -> Self {
        ArchiveItem {
            id: record.id.clone(),
            patch_dir: record.patch_dir.clone(),
            archive: record.archive.clone(),
            state,
            applies_to: record.applies_to.clone(),
            applicability,
            jira: record.jira.clone(),
            resources: record
                .resources
                .iter()
                .map(|r| ResourceItem {
                    path: super::lossy(&r.relative()),
                    before: r.before,
                    after: r.after,
                })
                .collect(),
            manual_steps: record.manual_steps.clone(),
        }
    }
}

/// One pre-flight finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `space`, `conflict`, `server`, `applicability`, `update_tool`, `archive`, `pending`.
    pub check: &'static str,
    /// `error` (the run would be refused or fail) or `warning`.
    pub severity: &'static str,
    /// What was found and what to do.
    pub message: String,
}

/// `add`, `remove` and `check`.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivesReport {
    /// The archives the command concerned.
    pub archives: Vec<ArchiveItem>,
    /// What the run did, one line a change (as in patches.log).
    pub done: Vec<String>,
    /// The pre-flight's findings (`check`; `add` refuses on any error).
    pub findings: Vec<Finding>,
    /// The apply that followed, unless `--no-apply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply: Option<ApplyReport>,
}

/// An archive's JIRA ids and resource files (MD5 before and after), indented by `indent`:
/// the lines `add`, `remove`, `check` and `status` print alike.
pub(super) fn details(out: &mut String, item: &ArchiveItem, indent: &str) {
    if !item.jira.is_empty() {
        let _ = writeln!(out, "{indent}JIRA: {}", item.jira.join(", "));
    }
    for resource in &item.resources {
        let before = resource
            .before
            .map_or_else(|| "(new file)".to_string(), |m| m.to_string());
        let _ = writeln!(
            out,
            "{indent}resource {}: {before} -> {}",
            resource.path, resource.after
        );
    }
}

/// Prints the report.
pub fn render(home: &ProductHome, command: &str, report: &ArchivesReport, paint: Paint) -> String {
    let mut out = String::new();
    header(&mut out, home, command, paint);
    for item in &report.archives {
        let state = item.state.replace('_', " ");
        let _ = writeln!(
            out,
            "{} {} ({}, {}): {state}",
            paint.bold("patch"),
            item.id,
            item.patch_dir,
            item.archive
        );
        let _ = writeln!(out, "  applies to: {}", item.applies_to);
        match &item.applicability {
            Some(Applicability::Other { kernel, wanted }) => {
                let _ = writeln!(
                    out,
                    "  {} it is for kernel {}, this product runs {kernel}",
                    paint.yellow("not for this kernel:"),
                    wanted.join(", ")
                );
            }
            Some(Applicability::Unknown { why }) => {
                let _ = writeln!(out, "  applicability not checked: {why}");
            }
            _ => {}
        }
        details(&mut out, item, "  ");
        if !item.manual_steps.is_empty() {
            let label = match item.state {
                "removed" => "manual steps of its README (undo any you carried out):",
                _ => "manual steps left to you:",
            };
            let _ = writeln!(out, "  {}", paint.yellow(label));
            for step in &item.manual_steps {
                let _ = writeln!(out, "    {step}");
            }
        }
    }
    for line in &report.done {
        let _ = writeln!(out, "{line}");
    }
    for finding in &report.findings {
        let label = match finding.severity {
            "error" => paint.red("error:"),
            _ => paint.yellow("warning:"),
        };
        let _ = writeln!(out, "{label} [{}] {}", finding.check, finding.message);
    }
    if command == "check" {
        let errors = report
            .findings
            .iter()
            .filter(|f| f.severity == "error")
            .count();
        let _ = match errors {
            0 => writeln!(out, "check: {}", paint.green("nothing stands in the way")),
            n => writeln!(
                out,
                "check: {}",
                paint.red(&format!("{n} problem(s) to fix first"))
            ),
        };
    }
    if let Some(apply) = &report.apply {
        out.push('\n');
        out.push_str(&super::text::render_apply(home, apply, paint));
    }
    out
}
