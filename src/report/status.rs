//! The text form of `status`: the inventory section by section, problems in red, and a
//! closing line saying whether anything needs attention.

use std::fmt::Write;

use super::ProductHome;
use super::text::{Paint, header};
use crate::discover::EntryKind;
use crate::inventory::{EntryState, Inventory};

/// Prints the inventory.
pub fn render(home: &ProductHome, inv: &Inventory, paint: Paint) -> String {
    let mut out = String::new();
    header(&mut out, home, "status", paint);
    let kernel = inv
        .kernel
        .as_deref()
        .map_or("Carbon kernel version unknown".to_string(), |v| {
            format!("Carbon kernel {v}")
        });
    let lists = if inv.applied_lists.is_empty() {
        "none yet".to_string()
    } else {
        inv.applied_lists.join(" and ")
    };
    let _ = writeln!(out, "layout: {kernel}, applied lists: {lists}");
    if let Some(source) = &inv.kernel_source {
        let _ = writeln!(
            out,
            "  kernel read from {source}; patches.log written in its {} form",
            inv.log_form
        );
    }
    let places = &inv.layout;
    let sources = &places.sources;
    for (name, path, source) in [
        ("components", &places.components, Some(&sources.components)),
        ("plugins", &places.plugins, None),
        ("patches", &places.patches, Some(&sources.patches)),
        (
            "service packs",
            &places.servicepacks,
            Some(&sources.servicepacks),
        ),
        ("repository", &places.repository, Some(&sources.repository)),
    ] {
        let from = source.map(|s| format!(" ({s})")).unwrap_or_default();
        let _ = writeln!(out, "  {name:<14}{path}{from}");
    }
    let scripts = if places.scripts.is_empty() {
        "none".to_string()
    } else {
        places.scripts.join(", ")
    };
    let _ = writeln!(out, "  start scripts read: {scripts}");

    let _ = writeln!(
        out,
        "service pack: {}",
        inv.service_pack.as_deref().unwrap_or("none")
    );
    if inv.entries.is_empty() {
        let _ = writeln!(out, "entries: none (no service pack or patch)");
    } else {
        let _ = writeln!(out, "entries:");
    }
    let width = inv.entries.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for entry in &inv.entries {
        let word = state_label(entry.state);
        let word = match entry.state {
            EntryState::Applied => paint.green(&format!("{word:<11}")),
            s if s.needs_attention() => paint.red(&format!("{word:<11}")),
            _ => format!("{word:<11}"),
        };
        let kind = match entry.kind {
            EntryKind::ServicePack => "service pack",
            EntryKind::Patch => "patch",
        };
        let files = entry
            .files
            .map(|n| format!(", {n} file{}", if n == 1 { "" } else { "s" }))
            .unwrap_or_default();
        let _ = writeln!(out, "  {word} {:<width$}  {kind}{files}", entry.name);
        for detail in &entry.details {
            let _ = writeln!(out, "      {detail}");
        }
    }

    if !inv.bundles.is_empty() {
        let _ = writeln!(out, "bundles (provider; earlier entries it overrides):");
        let width = inv
            .bundles
            .iter()
            .map(|b| b.target.len())
            .max()
            .unwrap_or(0);
        for bundle in &inv.bundles {
            let mut line = format!("  {:<width$}  {}", bundle.target, bundle.provider);
            if !bundle.overrides.is_empty() {
                let list: Vec<String> = bundle
                    .overrides
                    .iter()
                    .map(|o| {
                        if o.same_content {
                            format!("{} (same content)", o.entry)
                        } else {
                            o.entry.clone()
                        }
                    })
                    .collect();
                let _ = write!(line, ", overrides {}", list.join(", "));
            }
            line.push_str(if bundle.replaces_original {
                ", replaces the original"
            } else {
                ", new"
            });
            match bundle.in_plugins {
                "ok" => {}
                "pending" => line.push_str("; not applied yet"),
                "missing" => line.push_str(&paint.red("; missing from plugins")),
                _ => line.push_str(&paint.red("; plugins hold other content")),
            }
            let _ = writeln!(out, "{line}");
        }
    }
    let (clashes, side_by_side): (Vec<_>, Vec<_>) =
        inv.conflicts.iter().partition(|c| c.needs_attention);
    if clashes.is_empty() {
        let _ = writeln!(out, "conflicts: none");
    } else {
        let _ = writeln!(out, "conflicts: {}", paint.red(&clashes.len().to_string()));
        for conflict in &clashes {
            let _ = writeln!(out, "  {}", paint.red(&conflict.message));
        }
    }
    if !side_by_side.is_empty() {
        let _ = writeln!(
            out,
            "several versions side by side (OSGi loads each; for information): {}",
            side_by_side.len()
        );
        for conflict in &side_by_side {
            let _ = writeln!(out, "  {}", conflict.message);
        }
    }
    if !inv.foreign.is_empty() {
        let _ = writeln!(
            out,
            "foreign (in plugins, placed by something else, left alone): {}",
            inv.foreign.join(", ")
        );
    }

    let backup = &inv.backup;
    let mut line = match (backup.state, backup.files) {
        ("missing", _) => "backup: none yet (apply makes patch0000 from plugins)".to_string(),
        (state, files) => format!(
            "backup: patch0000 {state}, {} files, {}",
            files.unwrap_or(0),
            if backup.checked_against_manifest {
                "checked against the manifest carbon-patch wrote"
            } else {
                "not made by carbon-patch (no manifest to check it against)"
            }
        ),
    };
    if backup.partial_left {
        line.push_str("; an interrupted backup lies beside it");
    }
    let _ = writeln!(out, "{line}");
    for problem in &backup.problems {
        let _ = writeln!(out, "  {}", paint.red(problem));
    }
    for problem in &inv.metadata_problems {
        let _ = writeln!(out, "metadata: {}", paint.red(problem));
    }

    match &inv.last_run {
        None => {
            let _ = writeln!(out, "last run: none in patches.log");
        }
        Some(run) => {
            let what = match run.kind {
                "rollback" => "rollback",
                _ => "apply (or a server start)",
            };
            let outcome = match run.outcome {
                "verified" => paint.green("patches applied and verified"),
                "no_change" => paint.green("nothing new, verified"),
                "rolled_back" => paint.green("rolled back"),
                "verified_with_problems" => paint.red("verification found problems"),
                "stopped" => paint.red("stopped"),
                _ => paint.red("no closing line"),
            };
            let _ = writeln!(
                out,
                "last run: {what} at {}: {outcome} ({:?})",
                run.started, run.last_message
            );
        }
    }
    for trap in &inv.ordering_traps {
        let _ = writeln!(out, "ordering: {}", paint.yellow(trap));
    }
    if !inv.ignored.is_empty() {
        let _ = writeln!(
            out,
            "ignored (neither patch nor service pack): {}",
            inv.ignored.join(", ")
        );
    }
    if !inv.archives.is_empty() {
        let _ = writeln!(out, "patch archives:");
    }
    for item in &inv.archives {
        let _ = writeln!(
            out,
            "  {} ({}, from {}): {}",
            item.id,
            item.patch_dir,
            item.archive,
            item.state.replace('_', " ")
        );
        let _ = writeln!(out, "    applies to: {}", item.applies_to);
        super::archives::details(&mut out, item, "    ");
        for step in &item.manual_steps {
            let _ = writeln!(out, "    {} {step}", paint.yellow("manual step:"));
        }
    }
    for problem in &inv.archive_problems {
        let _ = writeln!(out, "  {}", paint.red(problem));
    }
    if let Some(update_tool) = &inv.update_tool {
        let _ = writeln!(out, "update tool: {}", paint.yellow(update_tool));
    }
    if inv.attention.is_empty() {
        let _ = writeln!(out, "status: {}", paint.green("ok"));
    } else {
        let _ = writeln!(
            out,
            "status: {}, {} thing(s)",
            paint.red("NEEDS ATTENTION"),
            inv.attention.len()
        );
        for reason in &inv.attention {
            let _ = writeln!(out, "  {reason}");
        }
        if inv.pending_writes > 0 {
            let _ = writeln!(
                out,
                "hint: `carbon-patch plan` shows what apply would change"
            );
        }
    }
    out
}

/// The short state word of the entries table.
fn state_label(state: EntryState) -> &'static str {
    match state {
        EntryState::Applied => "applied",
        EntryState::Pending => "pending",
        EntryState::Changed => "changed",
        EntryState::Broken => "broken",
        EntryState::Covered => "covered",
        EntryState::Superseded => "superseded",
        EntryState::Gone => "gone",
        EntryState::Dropped => "dropped",
        EntryState::RolledBack => "rolled back",
    }
}
