//! `status`: the inventory of a product home, read-only. Reads what the survey does not
//! (the `.rolled-back/` directories, patches.log's last run) and hands it all to the pure
//! [`crate::inventory::inventory`].

use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::Output;
use crate::cli::Config;
use crate::discover::EntryKind;
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::inventory::{self, Inputs, LastRun, LayoutPaths, SetAside};
use crate::layout::{self, Layout};
use crate::plan::plan_apply;
use crate::report;

/// Runs `status`: exit 0 when all is well, 1 when something needs attention.
pub fn run(config: &Config) -> Result<Output> {
    let (layout, survey, _) = super::open(config)?;
    let plan = plan_apply(&survey.discovery, &survey.observed);
    let mut set_aside = list_set_aside(&layout, &layout.patches, EntryKind::Patch)?;
    set_aside.extend(list_set_aside(
        &layout,
        &layout.servicepacks,
        EntryKind::ServicePack,
    )?);
    let singletons = singletons(&layout, &survey)?;
    let inventory = inventory::inventory(&Inputs {
        discovery: &survey.discovery,
        observed: &survey.observed,
        plan: &plan,
        backup_problems: &survey.backup_problems,
        metadata_problems: &survey.metadata_problems,
        backup_manifest: exists(&layout, &layout.backup_manifest),
        partial_backup: exists(&layout, &layout.backup_partial),
        set_aside: &set_aside,
        last_run: match last_run(&layout, &layout.log)? {
            Some(run) => Some(run),
            None => last_recorded_run(&layout),
        },
        paths: LayoutPaths {
            plugins: layout.display(&layout.plugins).to_string(),
            patches: layout.display(&layout.patches).to_string(),
            servicepacks: layout.display(&layout.servicepacks).to_string(),
            components: layout.display(&layout.places.components.path).to_string(),
            repository: layout.display(&layout.places.repository.path).to_string(),
            sources: layout.places.sources(),
            scripts: layout.places.scripts.clone(),
        },
        home: &layout.home,
        singletons: &singletons,
        kernel: crate::kernel::detect(&layout),
    });
    let mut inventory = inventory;
    let installed = crate::installed::load(&layout)?;
    inventory.archives = installed
        .records
        .iter()
        .map(|r| {
            let state = match r.progress {
                crate::installed::Progress::Added => "added",
                crate::installed::Progress::Adding => "adding_unfinished",
                crate::installed::Progress::Removing => "removing_unfinished",
            };
            report::archives::ArchiveItem::of(r, state, None)
        })
        .collect();
    inventory.archive_problems = crate::installed::problems(&layout, &installed)
        .into_iter()
        .map(|(_, message)| message)
        .collect();
    inventory
        .attention
        .extend(inventory.archive_problems.iter().cloned());
    inventory.update_tool = super::add::update_tool_warning(&layout);
    for reason in &inventory.attention {
        tracing::info!("needs attention: {reason}");
    }
    let code = if inventory.attention.is_empty() {
        exit_codes::SUCCESS
    } else {
        exit_codes::PROBLEMS
    };
    Ok(Output {
        text: report::status(config, inventory),
        warnings: survey.warnings,
        code,
    })
}

/// Of the symbolic names plugins would hold in several versions, those that are OSGi
/// singletons: read from the manifests of their jars (the entries' files, and the
/// originals in plugins or the backup). Only these few jars are opened.
fn singletons(
    layout: &Layout,
    survey: &crate::survey::Survey,
) -> Result<std::collections::BTreeSet<String>> {
    let names = inventory::multi_version_names(&survey.discovery, &survey.observed);
    let mut found = std::collections::BTreeSet::new();
    for (name, targets) in names {
        let sources = survey
            .discovery
            .order()
            .flat_map(|e| &e.files)
            .filter(|f| targets.iter().any(|t| f.target.as_path() == Path::new(t)))
            .map(|f| f.source.clone());
        let originals = targets
            .iter()
            .flat_map(|t| [layout.plugins.join(t), layout.backup.join(t)]);
        let singleton = sources.chain(originals).any(|jar| {
            // An original that cannot be read says nothing here; apply reports it.
            layout
                .tree
                .open_input(&jar)
                .ok()
                .and_then(|file| crate::manifest::manifest_of(file, &jar).ok().flatten())
                .is_some_and(|manifest| crate::manifest::is_singleton(&manifest))
        });
        if singleton {
            found.insert(name);
        }
    }
    Ok(found)
}

/// The last run in carbon-patch's history, for a patches.log that has none (a 4.5+ server
/// truncates the log at 50,000 bytes; the history is never cut).
fn last_recorded_run(layout: &Layout) -> Option<LastRun> {
    let (runs, _) = crate::history::read(&layout.tree, &layout.history).ok()?;
    let run = runs.into_iter().last()?;
    let outcome = match run.outcome.as_str() {
        "verified" => "verified",
        "verified_with_problems" => "verified_with_problems",
        "no_change" => "no_change",
        "rolled_back" => "rolled_back",
        "stopped" => "stopped",
        _ => "unfinished",
    };
    Some(LastRun {
        kind: if run.command == "rollback" {
            "rollback"
        } else {
            "apply"
        },
        started: run.started,
        ended: run.ended,
        outcome,
        last_message: run
            .error
            .unwrap_or_else(|| "from carbon-patch's history; patches.log has no run".into()),
    })
}

fn exists(layout: &Layout, path: &Path) -> bool {
    layout.tree.lstat(path).is_ok_and(|i| i.is_some())
}

/// The entries a rollback moved into `<dir>/.rolled-back/`, in name order.
fn list_set_aside(layout: &Layout, dir: &Path, kind: EntryKind) -> Result<Vec<SetAside>> {
    let hidden = dir.join(layout::ROLLED_BACK_DIR);
    let entries = match layout.tree.read_dir(&hidden, false) {
        Ok(entries) => entries,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(Error::input("list", &hidden, e)),
    };
    // Listed in name order by the tree layer.
    Ok(entries
        .into_iter()
        .map(|item| SetAside {
            name: crate::names::Shown(&item.name).to_string(),
            kind,
            path: layout.display(&hidden.join(&item.name)).to_string(),
        })
        .collect())
}

/// How much of the end of patches.log is read for the last run: many times a first apply's
/// lines, and a bound on memory whatever the log holds.
const LOG_TAIL_BYTES: u64 = 8 << 20;
/// Longer lines are cut: no event of the runtime or carbon-patch comes near.
const MAX_LOG_LINE: usize = 64 << 10;

/// The last run in patches.log, read line by line from its last [`LOG_TAIL_BYTES`],
/// keeping only the lines since the latest start (the log grows with every server start;
/// memory stays flat, whatever a line's length).
fn last_run(layout: &Layout, log: &Path) -> Result<Option<LastRun>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match layout.tree.open_own(log) {
        Ok(file) => file,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(None);
        }
        Err(e) => return Err(Error::input("open", log, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| Error::read("inspect", log, e))?
        .len();
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| Error::read("read", log, e))?;
    let mut reader = BufReader::new(file.take(LOG_TAIL_BYTES));
    if start > 0 {
        // Mid-line: the first (partial) line is not a whole event.
        skip_line(&mut reader).map_err(|e| Error::read("read", log, e))?;
    }
    let mut lines: Vec<String> = Vec::new();
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let n =
            read_line_capped(&mut reader, &mut buffer).map_err(|e| Error::read("read", log, e))?;
        if n == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buffer);
        let line = line.trim_end_matches(['\n', '\r']);
        if inventory::parse_log_line(line).is_some_and(|(_, _, m)| inventory::is_run_start(m)) {
            lines.clear();
        }
        lines.push(line.to_string());
    }
    Ok(inventory::last_run(&lines))
}

/// Reads one line into `buffer`, keeping at most [`MAX_LOG_LINE`] bytes of it. Returns the
/// bytes consumed (0 at the end).
fn read_line_capped(reader: &mut impl BufRead, buffer: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(consumed);
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (&available[..=end], true),
            None => (available, false),
        };
        let room = MAX_LOG_LINE.saturating_sub(buffer.len());
        buffer.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        reader.consume(n);
        consumed += n;
        if done {
            return Ok(consumed);
        }
    }
}

/// Skips to the start of the next line.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    // A line is read to its end however long; only its first bytes are kept.
    read_line_capped(reader, &mut Vec::new()).map(drop)
}
