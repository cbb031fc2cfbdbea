//! The text report on stdout: what a command found, did (or, dry run, would do), and the
//! verification result. Built as a string so a JSON form can sit beside it later.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Config, HomeSource};
use crate::discover::Discovery;
use crate::plan::{ActionKind, Plan};

/// What an apply did, beyond its plan.
#[derive(Debug, Default)]
pub struct Applied {
    /// Whether `patch0000` was made in this run.
    pub backup_created: bool,
    /// Files taken out of plugins (or copies of replaced ones), and where they went.
    pub archived: Vec<(PathBuf, PathBuf)>,
    /// Problems found by the verification after the writes.
    pub problems: Vec<String>,
}

/// What a rollback did, beyond its plan.
#[derive(Debug, Default)]
pub struct RolledBack {
    /// Files taken out of plugins, and where they went.
    pub archived: Vec<(PathBuf, PathBuf)>,
    /// Entry directories moved aside, and where.
    pub moved: Vec<(PathBuf, PathBuf)>,
}

fn header(out: &mut String, config: &Config, what: &str) {
    let from = match config.home_source {
        HomeSource::Argument => "",
        HomeSource::CarbonHome => " (from $CARBON_HOME)",
        HomeSource::CurrentDir => " (the current directory)",
    };
    let _ = writeln!(out, "{what} {}{from}", config.home.display());
}

fn order(out: &mut String, discovery: &Discovery) {
    let names: Vec<&str> = discovery.order().map(|e| e.name.as_str()).collect();
    let _ = writeln!(
        out,
        "apply order: {}",
        if names.is_empty() {
            "(no service pack or patch)".into()
        } else {
            names.join(", ")
        }
    );
    if let (Some(pack), false) = (&discovery.service_pack, discovery.covered.is_empty()) {
        let _ = writeln!(
            out,
            "  inside {}, so skipped: {}",
            pack.name,
            discovery.covered.join(", ")
        );
    }
}

fn rel<'a>(config: &Config, path: &'a Path) -> std::path::Display<'a> {
    path.strip_prefix(&config.home).unwrap_or(path).display()
}

fn actions(
    out: &mut String,
    config: &Config,
    plan: &Plan,
    archived: &[(PathBuf, PathBuf)],
    dry_run: bool,
) {
    let (write, restore, archive) = if dry_run {
        ("write", "restore", "archive")
    } else {
        ("wrote", "restored", "archived")
    };
    for action in &plan.actions {
        let target = action.target.display();
        let _ = match &action.kind {
            ActionKind::Write { entry, md5, .. } => {
                let old = action.old.map_or("absent".to_string(), |m| m.to_string());
                writeln!(
                    out,
                    "  {write:<9}{target}  from {entry} (MD5 {old} -> {md5})"
                )
            }
            ActionKind::Restore { md5 } => {
                writeln!(out, "  {restore:<9}{target}  from the backup (MD5 {md5})")
            }
            ActionKind::Archive => {
                let to = archived.iter().find(|(t, _)| *t == action.target);
                match to {
                    Some((_, to)) => {
                        writeln!(out, "  {archive:<9}{target}  -> {}", rel(config, to))
                    }
                    None => writeln!(out, "  {archive:<9}{target}"),
                }
            }
        };
    }
    for (target, to) in archived.iter().filter(|(t, _)| {
        plan.actions
            .iter()
            .any(|a| &a.target == t && !matches!(a.kind, ActionKind::Archive))
    }) {
        let _ = writeln!(
            out,
            "  {:<9}previous {}  -> {}",
            "kept",
            target.display(),
            rel(config, to)
        );
    }
    if !plan.foreign.is_empty() {
        let names: Vec<String> = plan
            .foreign
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let _ = writeln!(
            out,
            "left alone (neither from the backup nor from a patch): {}",
            names.join(", ")
        );
    }
}

fn counts(plan: &Plan) -> (usize, usize, usize) {
    let count = |f: fn(&ActionKind) -> bool| plan.actions.iter().filter(|a| f(&a.kind)).count();
    (
        count(|k| matches!(k, ActionKind::Write { .. })),
        count(|k| matches!(k, ActionKind::Restore { .. })),
        count(|k| matches!(k, ActionKind::Archive)),
    )
}

/// The report of `apply`; `done` is `None` for a dry run.
pub fn apply(
    config: &Config,
    discovery: &Discovery,
    plan: &Plan,
    done: Option<&Applied>,
) -> String {
    let mut out = String::new();
    header(
        &mut out,
        config,
        if done.is_some() {
            "apply"
        } else {
            "apply --dry-run (nothing changed):"
        },
    );
    order(&mut out, discovery);
    let backup = match (plan.create_backup, done) {
        (true, Some(_)) => "created patch0000 from plugins",
        (true, None) => "would create patch0000 from plugins",
        (false, _) => "patch0000 exists",
    };
    let _ = writeln!(out, "backup: {backup}");
    for event in &plan.events {
        let _ = writeln!(out, "change: {event}");
    }
    let archived = done.map_or(&[][..], |d| d.archived.as_slice());
    actions(&mut out, config, plan, archived, done.is_none());
    let (written, restored, archive) = counts(plan);
    let verb = if done.is_some() { "" } else { "to be " };
    if plan.actions.is_empty() {
        let _ = writeln!(
            out,
            "nothing {verb}written: plugins already match the patch level ({} bundles)",
            plan.provided.len()
        );
    } else {
        let _ = writeln!(
            out,
            "{written} {verb}written, {restored} {verb}restored, {archive} {verb}archived, {} unchanged",
            plan.unchanged.len()
        );
    }
    match done {
        Some(done) if done.problems.is_empty() => {
            let _ = writeln!(
                out,
                "verification: passed ({} bundles)",
                plan.provided.len()
            );
        }
        Some(done) => {
            let _ = writeln!(
                out,
                "verification: FAILED, {} problem(s)",
                done.problems.len()
            );
            for problem in &done.problems {
                let _ = writeln!(out, "  {problem}");
            }
        }
        None => {}
    }
    out
}

/// The report of `verify`.
pub fn verify(config: &Config, discovery: &Discovery, plan: &Plan, problems: &[String]) -> String {
    let mut out = String::new();
    header(&mut out, config, "verify");
    order(&mut out, discovery);
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "verification: passed ({} bundles match; backup and metadata agree)",
            plan.provided.len()
        );
    } else {
        let _ = writeln!(out, "verification: FAILED, {} problem(s)", problems.len());
        for problem in problems {
            let _ = writeln!(out, "  {problem}");
        }
        let _ = writeln!(
            out,
            "hint: run `carbon-patch apply` to bring plugins to the patch level"
        );
    }
    out
}

/// The report of `rollback`; `done` is `None` for a dry run or a no-op.
pub fn rollback(config: &Config, plan: &Plan, done: Option<&RolledBack>) -> String {
    let mut out = String::new();
    let dry_run = config.dry_run;
    header(
        &mut out,
        config,
        if dry_run {
            "rollback --dry-run (nothing changed):"
        } else {
            "rollback"
        },
    );
    if plan.actions.is_empty() && plan.hide.is_empty() && !dry_run {
        let _ = writeln!(out, "nothing to roll back: plugins already match patch0000");
        return out;
    }
    let archived = done.map_or(&[][..], |d| d.archived.as_slice());
    actions(&mut out, config, plan, archived, dry_run);
    let verb = if dry_run { "would move" } else { "moved" };
    for dir in &plan.hide {
        let _ = match done.and_then(|d| d.moved.iter().find(|(from, _)| from == dir)) {
            Some((_, to)) => writeln!(out, "  {verb} {} -> {}", rel(config, dir), rel(config, to)),
            None => writeln!(
                out,
                "  {verb} {} aside (to .rolled-back/)",
                rel(config, dir)
            ),
        };
    }
    let (_, restored, archive) = counts(plan);
    let _ = writeln!(
        out,
        "{restored} restored, {archive} archived, {} entries set aside{}",
        plan.hide.len(),
        if dry_run {
            " (dry run)"
        } else {
            "; plugins match patch0000"
        }
    );
    out
}
