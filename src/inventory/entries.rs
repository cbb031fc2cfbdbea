//! The state of every entry: in the apply order (applied, pending, changed, broken), covered,
//! superseded, gone, dropped, or rolled back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{EntryState, EntryStatus, Inputs};
use crate::discover::EntryKind;
use crate::layout;
use crate::plan::{ActionKind, Event};

pub(super) fn entries(inputs: &Inputs<'_>, rel: &dyn Fn(&Path) -> String) -> Vec<EntryStatus> {
    let discovery = inputs.discovery;
    let plan = inputs.plan;
    let recorded = &inputs.observed.recorded;
    let previous: Option<BTreeSet<&str>> = recorded
        .applied()
        .map(|list| list.iter().map(String::as_str).collect());
    let placed = recorded.placed();

    // Which entry each bundle-level event and each planned write belongs to.
    let mut changes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for event in &plan.events {
        let entry = match event {
            Event::Updated(t) | Event::Added(t) => plan.provided.get(t).map(|p| p.entry.clone()),
            Event::Removed(t) => placed.get(t).cloned().flatten(),
            _ => continue,
        };
        if let Some(entry) = entry
            && let Some(e) = discovery.order().find(|e| e.name == entry)
        {
            changes
                .entry(e.name.as_str())
                .or_default()
                .push(event.to_string());
        }
    }
    let mut drift: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for action in &plan.actions {
        if let ActionKind::Write { entry, .. } = &action.kind {
            let how = if action.old.is_some() {
                "differs"
            } else {
                "is missing"
            };
            drift
                .entry(entry.as_str())
                .or_default()
                .push(format!("{} in plugins {how}", action.target.display()));
        }
    }

    let mut out = Vec::new();
    for entry in discovery.order() {
        let applied = previous
            .as_ref()
            .is_some_and(|p| p.contains(entry.name.as_str()));
        let (state, details) = if !applied {
            let what = match entry.kind {
                EntryKind::ServicePack => "New service pack available",
                EntryKind::Patch => "New patch available",
            };
            (
                EntryState::Pending,
                vec![format!("{what} - {}", shown(&entry.name))],
            )
        } else if let Some(changed) = changes.get(entry.name.as_str()) {
            (EntryState::Changed, changed.clone())
        } else if let Some(differs) = drift.get(entry.name.as_str()) {
            (EntryState::Broken, differs.clone())
        } else {
            (EntryState::Applied, Vec::new())
        };
        out.push(EntryStatus {
            name: shown(&entry.name),
            kind: entry.kind,
            state,
            path: Some(rel(&entry.dir)),
            files: Some(entry.files.len()),
            details,
        });
    }
    let pack = discovery.service_pack.as_ref().map(|e| e.name.as_str());
    let was_applied = |name: &str| previous.as_ref().is_some_and(|p| p.contains(name));
    for name in &discovery.covered {
        let (state, details) = if was_applied(name) {
            (
                EntryState::Dropped,
                vec![format!(
                    "now inside {}; the next apply reverts it",
                    pack.unwrap_or("the service pack")
                )],
            )
        } else {
            (
                EntryState::Covered,
                vec![format!("inside {}", pack.unwrap_or("the service pack"))],
            )
        };
        out.push(EntryStatus {
            name: shown(name),
            kind: EntryKind::Patch,
            state,
            path: Some(rel(&inputs_dir(inputs, EntryKind::Patch).join(name))),
            files: None,
            details,
        });
    }
    for name in &discovery.older_service_packs {
        let (state, details) = if was_applied(name) {
            (
                EntryState::Dropped,
                vec![format!(
                    "{} is later; the next apply reverts this one",
                    pack.unwrap_or("another service pack")
                )],
            )
        } else {
            (
                EntryState::Superseded,
                vec![format!(
                    "{} is later",
                    pack.unwrap_or("another service pack")
                )],
            )
        };
        out.push(EntryStatus {
            name: shown(name),
            kind: EntryKind::ServicePack,
            state,
            path: Some(rel(&inputs_dir(inputs, EntryKind::ServicePack).join(name))),
            files: None,
            details,
        });
    }
    let known: BTreeSet<String> = out.iter().map(|e| e.name.clone()).collect();
    for name in previous.iter().flatten() {
        if *name == layout::BACKUP_NAME || known.contains(*name) {
            continue;
        }
        let kind = if name.starts_with(layout::SERVICE_PACK_PREFIX) {
            EntryKind::ServicePack
        } else {
            EntryKind::Patch
        };
        out.push(EntryStatus {
            name: shown(name),
            kind,
            state: EntryState::Gone,
            path: None,
            files: None,
            details: vec![format!(
                "{} has been reverted at the next apply",
                shown(name)
            )],
        });
    }
    for aside in inputs.set_aside {
        out.push(EntryStatus {
            name: shown(&aside.name),
            kind: aside.kind,
            state: EntryState::RolledBack,
            path: Some(aside.path.clone()),
            files: None,
            details: vec![format!(
                "moved to {}; move it back and run apply to re-apply it",
                aside.path
            )],
        });
    }
    // Service packs, then patches in name order (the apply order, with the covered ones
    // where they sort), then those gone, then those rolled back.
    let group = |e: &EntryStatus| match (e.state, e.kind) {
        (EntryState::Gone, _) => 2,
        (EntryState::RolledBack, _) => 3,
        (_, EntryKind::ServicePack) => 0,
        (_, EntryKind::Patch) => 1,
    };
    out.sort_by(|a, b| {
        let pack_rank = |e: &EntryStatus| u8::from(e.state == EntryState::Superseded);
        (group(a), pack_rank(a), a.name.as_bytes()).cmp(&(
            group(b),
            pack_rank(b),
            b.name.as_bytes(),
        ))
    });
    out
}

fn inputs_dir(inputs: &Inputs<'_>, kind: EntryKind) -> PathBuf {
    let dir = match kind {
        EntryKind::ServicePack => &inputs.paths.servicepacks,
        EntryKind::Patch => &inputs.paths.patches,
    };
    inputs.home.join(dir)
}

/// An entry's name as the report shows it: escaped, since names from the applied lists are
/// whatever the metadata dir holds.
fn shown(name: &str) -> String {
    crate::names::Shown(std::ffi::OsStr::new(name)).to_string()
}
