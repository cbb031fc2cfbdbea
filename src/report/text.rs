//! The text form of the apply, plan, verify and rollback reports: lines for people,
//! coloured modestly (problems red, passes green, changes yellow) when asked to.

use std::fmt::Write;

use super::{
    ActionItem, ApplyReport, Body, HistoryReport, Kept, OrderItem, ProductHome, Report,
    RollbackReport, VerifyReport,
};

/// ANSI colour, on or off.
#[derive(Debug, Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Problems.
    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    /// Passes.
    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    /// Changes and things to look at.
    pub fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }

    /// Headings.
    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
}

/// The first line: what ran on which home, and where the home came from.
pub fn header(out: &mut String, home: &ProductHome, what: &str, paint: Paint) {
    let from = match home.source {
        "carbon_home" => " (from $CARBON_HOME)",
        "current_dir" => " (the current directory)",
        _ => "",
    };
    let _ = writeln!(out, "{} {}{from}", paint.bold(what), home.path);
    let _ = writeln!(out, "run as: {}", crate::privilege::current());
}

fn order(out: &mut String, items: &[OrderItem], pack: Option<&str>, covered: &[String]) {
    let names: Vec<&str> = items.iter().map(|e| e.name.as_str()).collect();
    let _ = writeln!(
        out,
        "apply order: {}",
        if names.is_empty() {
            "(no service pack or patch)".into()
        } else {
            names.join(", ")
        }
    );
    if let (Some(pack), false) = (pack, covered.is_empty()) {
        let _ = writeln!(out, "  inside {pack}, so skipped: {}", covered.join(", "));
    }
}

fn actions(
    out: &mut String,
    items: &[ActionItem],
    kept: &[Kept],
    foreign: &[String],
    dry_run: bool,
) {
    let (write, restore, archive) = if dry_run {
        ("write", "restore", "archive")
    } else {
        ("wrote", "restored", "archived")
    };
    for item in items {
        let target = &item.target;
        let _ = match item.action {
            "write" => {
                let old = match (item.old_md5, item.old_size) {
                    (Some(md5), _) => md5.to_string(),
                    (None, Some(_)) => "unread, size differs".to_string(),
                    (None, None) => "absent".to_string(),
                };
                let new = item.new_md5.map(|m| m.to_string()).unwrap_or_default();
                let entry = item.entry.as_deref().unwrap_or_default();
                writeln!(
                    out,
                    "  {write:<9}{target}  from {entry} (MD5 {old} -> {new})"
                )
            }
            "restore" => match item.new_md5 {
                Some(md5) => writeln!(out, "  {restore:<9}{target}  from the backup (MD5 {md5})"),
                None => writeln!(out, "  {restore:<9}{target}  from the backup"),
            },
            _ => match &item.archived_to {
                Some(to) => writeln!(out, "  {archive:<9}{target}  -> {to}"),
                None => writeln!(out, "  {archive:<9}{target}"),
            },
        };
    }
    for kept in kept {
        let _ = writeln!(
            out,
            "  {:<9}previous {}  -> {}",
            "kept", kept.target, kept.archived_to
        );
    }
    if !foreign.is_empty() {
        let _ = writeln!(
            out,
            "left alone (neither from the backup nor from a patch): {}",
            foreign.join(", ")
        );
    }
}

/// Prints an apply, verify or rollback report.
pub fn render(report: &Report, paint: Paint) -> String {
    match &report.body {
        Body::Apply(apply) => render_apply(&report.product_home, apply, paint),
        Body::Verify(verify) => render_verify(&report.product_home, verify, paint),
        Body::Rollback(rollback) => render_rollback(&report.product_home, rollback, paint),
        Body::Status(_) | Body::History(_) | Body::Archives(_) | Body::Pack(_) | Body::Drift(_) => {
            String::new()
        }
    }
}

pub(super) fn render_apply(home: &ProductHome, report: &ApplyReport, paint: Paint) -> String {
    let mut out = String::new();
    let dry_run = report.dry_run;
    header(
        &mut out,
        home,
        if dry_run {
            "apply --dry-run (nothing changed):"
        } else {
            "apply"
        },
        paint,
    );
    order(
        &mut out,
        &report.apply_order,
        report.service_pack.as_deref(),
        &report.covered,
    );
    let backup = match report.backup {
        "created" => "created patch0000 from plugins",
        "create" => "would create patch0000 from plugins",
        _ => "patch0000 exists",
    };
    let _ = writeln!(out, "backup: {backup}");
    for change in &report.changes {
        let _ = writeln!(out, "{} {}", paint.yellow("change:"), change.message);
    }
    actions(
        &mut out,
        &report.actions,
        &report.kept,
        &report.foreign,
        dry_run,
    );
    if dry_run {
        // A review wants every file, also those already right.
        for same in &report.unchanged {
            let _ = match &same.entry {
                Some(entry) => writeln!(out, "  unchanged {}  from {entry}", same.target),
                None => writeln!(out, "  unchanged {}  from the backup", same.target),
            };
        }
    }
    let c = &report.counts;
    let verb = if dry_run { "to be " } else { "" };
    if report.actions.is_empty() {
        let _ = writeln!(
            out,
            "nothing {verb}written: plugins already match the patch level ({} bundles)",
            report.bundles
        );
    } else {
        let _ = writeln!(
            out,
            "{} {verb}written, {} {verb}restored, {} {verb}archived, {} unchanged",
            c.written, c.restored, c.archived, c.unchanged
        );
    }
    match &report.verification {
        Some(v) if v.passed => {
            let _ = writeln!(
                out,
                "verification: {} ({} bundles)",
                paint.green("passed"),
                report.bundles
            );
        }
        Some(v) => {
            let _ = writeln!(
                out,
                "verification: {}, {} problem(s)",
                paint.red("FAILED"),
                v.problems.len()
            );
            for problem in &v.problems {
                let _ = writeln!(out, "  {}", paint.red(problem));
            }
        }
        None => {}
    }
    out
}

fn render_verify(home: &ProductHome, report: &VerifyReport, paint: Paint) -> String {
    let mut out = String::new();
    header(&mut out, home, "verify", paint);
    order(
        &mut out,
        &report.apply_order,
        report.service_pack.as_deref(),
        &report.covered,
    );
    if report.passed {
        let _ = writeln!(
            out,
            "verification: {} ({} bundles match; backup and metadata agree)",
            paint.green("passed"),
            report.bundles.len()
        );
    } else {
        let _ = writeln!(
            out,
            "verification: {}, {} problem(s)",
            paint.red("FAILED"),
            report.problems.len()
        );
        for problem in &report.problems {
            let _ = writeln!(out, "  {}", paint.red(&problem.message));
        }
        let _ = writeln!(
            out,
            "hint: run `carbon-patch apply` to bring plugins to the patch level"
        );
    }
    out
}

fn render_rollback(home: &ProductHome, report: &RollbackReport, paint: Paint) -> String {
    let mut out = String::new();
    let dry_run = report.dry_run;
    header(
        &mut out,
        home,
        if dry_run {
            "rollback --dry-run (nothing changed):"
        } else {
            "rollback"
        },
        paint,
    );
    if report.nothing_to_do && !dry_run {
        let _ = writeln!(
            out,
            "nothing to roll back: plugins already match {}",
            paint.green("patch0000")
        );
        return out;
    }
    actions(
        &mut out,
        &report.actions,
        &report.kept,
        &report.foreign,
        dry_run,
    );
    let verb = if dry_run { "would move" } else { "moved" };
    for moved in &report.moved {
        let _ = match &moved.to {
            Some(to) => writeln!(out, "  {verb} {} -> {to}", moved.from),
            None => writeln!(out, "  {verb} {} aside (to .rolled-back/)", moved.from),
        };
    }
    for line in &report.archives {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(
        out,
        "{} restored, {} archived, {} entries set aside{}",
        report.counts.restored,
        report.counts.archived,
        report.moved.len(),
        if dry_run {
            " (dry run)"
        } else {
            "; plugins match patch0000"
        }
    );
    out
}

/// The `history` report: a line a run, oldest first; with `--files`, every file it changed.
pub fn history(home: &ProductHome, report: &HistoryReport, paint: Paint) -> String {
    let mut out = String::new();
    header(&mut out, home, "history", paint);
    if report.runs.is_empty() {
        let _ = writeln!(out, "no run recorded yet");
        return out;
    }
    for run in &report.runs {
        let count = |action: &str| run.files.iter().filter(|f| f.action == action).count();
        let outcome = match run.outcome.as_str() {
            "stopped" | "verified_with_problems" => paint.red(&run.outcome),
            _ => paint.green(&run.outcome),
        };
        let user = run.run_as.as_ref().map_or("?", |r| r.user.as_str());
        // `add` and `remove` change files outside plugins, and apply nothing themselves.
        let what = match run.command.as_str() {
            "add" => format!("{} file(s) placed outside plugins", count("place")),
            "remove" => format!("{} file(s) given back outside plugins", count("restore")),
            "finish" => "an interrupted add or remove finished".to_string(),
            _ => format!(
                "{} written, {} restored, {} archived; {}",
                count("write"),
                count("restore"),
                count("archive"),
                if run.apply_order.is_empty() {
                    "apply order empty".to_string()
                } else {
                    format!("apply order {}", run.apply_order.join(", "))
                }
            ),
        };
        let _ = writeln!(
            out,
            "{}  {:<8} as {user:<12} {outcome}: {what}",
            run.started, run.command,
        );
        for event in &run.events {
            let _ = writeln!(out, "    {event}");
        }
        if let Some(error) = &run.error {
            let _ = writeln!(out, "    {}", paint.red(error));
        }
        for problem in &run.problems {
            let _ = writeln!(out, "    {}", paint.red(problem));
        }
        if report.files {
            for file in &run.files {
                let md5 = file.md5.as_deref().unwrap_or("-");
                let from = file.entry.as_deref().unwrap_or("");
                let _ = write!(out, "    {:<8} {} {md5} {from}", file.action, file.target);
                if let Some(to) = &file.archived_to {
                    let _ = write!(out, " (old content in {to})");
                }
                out.push('\n');
            }
        }
    }
    out
}
