//! `remove` (SPEC §14): take installed patch archives out — every resource original put
//! back (a file the patch added is archived), exploded web applications archived, the
//! patch directory set aside where the runtime ignores it — then apply. A patch whose
//! resources a later one overlays is refused unless that one goes too.

use crate::Output;
use crate::cli::Config;
use crate::error::{Error, Result};
use crate::execute;
use crate::guard;
use crate::installed::{self, Installed, Record};
use crate::log::Level;
use crate::report::archives::ArchiveItem;

/// Runs `remove`.
pub fn run(config: &Config) -> Result<Output> {
    if config.patch_ids.is_empty() {
        return Err(Error::bad_input(
            &config.home,
            "no patch named",
            "name at least one: carbon-patch remove PATCH_ID|patchNNNN... [PRODUCT_HOME]",
        ));
    }
    let layout = super::layout(config)?;
    crate::preflight::check_writable(&layout)?;
    let (guard, warning) = guard::acquire(&layout, config.force, config.wait)?;
    let warnings: Vec<String> = warning.into_iter().collect();
    // What this removal takes out is taken out as it is, finished or not (an add that
    // cannot finish is removed this way); any other interrupted operation is finished.
    let chosen = choose(&layout, &installed::load(&layout)?, &config.patch_ids)?;
    let ids: Vec<&str> = chosen.iter().map(|r| r.id.as_str()).collect();
    super::finish_pending_logged(&layout, &ids)?;
    let installed = installed::load(&layout)?;
    let chosen = choose(&layout, &installed, &config.patch_ids)?;
    let (items, done) = super::logged(&layout, None, "remove", |log| {
        let mut items = Vec::new();
        let mut done = Vec::new();
        // The latest first: each one's originals are what the one before it placed.
        for record in chosen.iter().rev() {
            for line in execute::install::begin_remove(&layout, record)? {
                log.own(Level::Info, &line);
                done.push(line);
            }
            log.history
                .files
                .extend(record.resources.iter().map(|r| crate::history::FileRecord {
                    action: "restore".into(),
                    target: r.path.clone(),
                    entry: Some(record.id.clone()),
                    md5: r.before.map(|m| m.to_string()),
                    archived_to: None,
                }));
            let line = format!("Removed patch archive {} ({})", record.id, record.patch_dir);
            log.own(Level::Info, &line);
            done.push(line);
            items.push(ArchiveItem::of(record, "removed", None));
        }
        log.history.events = items.iter().map(|i| format!("removed {}", i.id)).collect();
        log.history.outcome = "removed".into();
        Ok((items, done))
    })?;
    drop(guard);
    super::add::then_apply(config, items, done, warnings)
}

/// Whether `name` (a Patch ID or patchNNNN) was removed already: its record or its patch
/// directory is among those set aside.
fn already_removed(layout: &crate::layout::Layout, name: &str) -> bool {
    let set_aside = |dir: std::path::PathBuf| {
        layout.tree.read_dir(&dir, false).is_ok_and(|entries| {
            entries.iter().any(|e| {
                let entry = e.name.to_string_lossy();
                entry == name || entry.strip_prefix(name).is_some_and(|n| n.starts_with('~'))
            })
        })
    };
    set_aside(layout.installed.join(installed::REMOVED))
        || set_aside(layout.patches.join(crate::layout::REMOVED_DIR))
}

/// The records `names` name, in installation order; refuses a name nothing was installed
/// under, and a removal that would undo files a later patch (not removed with it) placed
/// over this one's.
fn choose(
    layout: &crate::layout::Layout,
    installed: &Installed,
    names: &[String],
) -> Result<Vec<Record>> {
    let mut chosen: Vec<Record> = Vec::new();
    for name in names {
        if installed.find(name).is_none() && already_removed(layout, name) {
            // A re-run after the removal finished but the apply after it did not.
            continue;
        }
        let record = installed.find(name).ok_or_else(|| {
            let known: Vec<String> = installed
                .records
                .iter()
                .map(|r| format!("{} ({})", r.id, r.patch_dir))
                .collect();
            Error::bad_input(
                &layout.installed,
                format!("no patch archive `{name}` was installed by carbon-patch"),
                if known.is_empty() {
                    "none is installed; a patch directory copied by hand is taken out by moving it out of patches, then `carbon-patch apply`".to_string()
                } else {
                    format!("installed: {}; nothing was changed", known.join(", "))
                },
            )
        })?;
        if !chosen.iter().any(|c| c.id == record.id) {
            chosen.push(record.clone());
        }
    }
    chosen.sort_by_key(|r| r.sequence);
    for record in &chosen {
        let later = installed
            .records
            .iter()
            .filter(|r| r.sequence > record.sequence && !chosen.iter().any(|c| c.id == r.id));
        for other in later {
            let shared: Vec<String> = record
                .resources
                .iter()
                .filter(|res| other.resources.iter().any(|o| o.path == res.path))
                .map(|res| res.path.clone())
                .collect();
            if !shared.is_empty() {
                return Err(Error::bad_input(
                    &layout.installed,
                    format!(
                        "cannot remove {}: {}, added after it, replaced its {} again",
                        record.id,
                        other.id,
                        shared.join(", ")
                    ),
                    format!(
                        "remove both (`carbon-patch remove {} {}`), then add {} again if you still want it; nothing was changed",
                        record.id, other.id, other.id
                    ),
                ));
            }
        }
    }
    Ok(chosen)
}
