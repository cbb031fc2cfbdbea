//! `status`: the inventory of a product home, read-only. Reads what the survey does not
//! (the `.rolled-back/` directories, patches.log's last run) and hands it all to the pure
//! [`crate::inventory::inventory`].

use std::fs;
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
    let inventory = inventory::inventory(&Inputs {
        discovery: &survey.discovery,
        observed: &survey.observed,
        plan: &plan,
        backup_problems: &survey.backup_problems,
        metadata_problems: &survey.metadata_problems,
        backup_manifest: exists(&layout.backup_manifest),
        partial_backup: exists(&layout.backup_partial),
        set_aside: &set_aside,
        last_run: last_run(&layout.log)?,
        paths: LayoutPaths {
            plugins: layout.display(&layout.plugins).to_string(),
            patches: layout.display(&layout.patches).to_string(),
            servicepacks: layout.display(&layout.servicepacks).to_string(),
        },
        home: &layout.home,
    });
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

fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// The entries a rollback moved into `<dir>/.rolled-back/`, in name order.
fn list_set_aside(layout: &Layout, dir: &Path, kind: EntryKind) -> Result<Vec<SetAside>> {
    let hidden = dir.join(layout::ROLLED_BACK_DIR);
    let reader = match fs::read_dir(&hidden) {
        Ok(reader) => reader,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(Error::read("list", &hidden, e)),
    };
    let mut found = Vec::new();
    for item in reader {
        let item = item.map_err(|e| Error::read("list", &hidden, e))?;
        let path = item.path();
        found.push(SetAside {
            name: item.file_name().to_string_lossy().into_owned(),
            kind,
            path: layout.display(&path).to_string(),
        });
    }
    found.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(found)
}

/// The last run in patches.log, read line by line, keeping only the lines since the latest
/// start (the log grows with every server start; memory stays flat).
fn last_run(log: &Path) -> Result<Option<LastRun>> {
    let file = match fs::File::open(log) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::read("open", log, e)),
    };
    let mut reader = BufReader::new(file);
    let mut lines: Vec<String> = Vec::new();
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let n = reader
            .read_until(b'\n', &mut buffer)
            .map_err(|e| Error::read("read", log, e))?;
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
