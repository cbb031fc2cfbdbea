//! Carries out a plan's actions on plugins in phases, so that flushing is done in bulk
//! rather than once per file, and every file stays old or new whenever a run stops:
//!
//! 1. every new content is copied beside its target under a temporary name, with its mode
//!    and time, unflushed (in parallel);
//! 2. the temporary files are made durable at once ([`steps::Batch`]);
//! 3. the content of targets that must be kept is hard-linked (or copied) into the archive,
//!    and the archive's directories flushed, before any of them is replaced;
//! 4. the temporary files are renamed over their targets, and files leaving plugins are
//!    moved into the archive;
//! 5. [`Executor::finish`] flushes the directories renamed into (with any the caller moved
//!    things in and out of meanwhile) at once, before the run is recorded.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::plan::{Action, ActionKind};
use crate::tree::{Info, Tree};

use super::direct;
use super::lock;
use super::steps::{self, sync_dir, sync_file, sync_parent};

/// Writes into one product home, archiving into one archive directory per run.
pub struct Executor<'a> {
    layout: &'a Layout,
    label: &'static str,
    archive: Mutex<Option<PathBuf>>,
    renamed_in: Mutex<BTreeSet<PathBuf>>,
    /// Watches the filesystems of those directories from before the first rename, for
    /// [`Executor::finish`]'s flush.
    renames: Mutex<Option<steps::Batch<'a>>>,
    /// Temporary files this run created: removed (best effort) when a phase fails.
    temps: Mutex<Vec<PathBuf>>,
}

/// What one action did, for the report and the log.
#[derive(Debug, Clone)]
pub struct Done {
    /// Where the old content went, when it was archived.
    pub archived_to: Option<PathBuf>,
    /// The file the target's new content was copied from, with its metadata when the copy
    /// began (`None` for an archive).
    pub copied_from: Option<(PathBuf, Info)>,
}

/// A new content copied beside its target, waiting for its rename.
struct Staged {
    temp: PathBuf,
    source: PathBuf,
    at_copy: Info,
}

impl<'a> Executor<'a> {
    /// An executor for `layout`; `label` names the run's archive directory (`apply`, `rollback`).
    pub fn new(layout: &'a Layout, label: &'static str) -> Self {
        Executor {
            layout,
            label,
            archive: Mutex::default(),
            renamed_in: Mutex::default(),
            renames: Mutex::default(),
            temps: Mutex::default(),
        }
    }

    /// Carries out every action, phase by phase (see the module's comment); results come
    /// back in the actions' order. When a phase fails, the temporary files this run made
    /// are removed; a file already renamed into place holds its new content, durable, and
    /// [`Executor::finish`] still flushes its directory.
    pub fn run_all(&self, actions: &[Action]) -> Result<Vec<Done>> {
        let result = self.phases(actions);
        if result.is_err() {
            // Best effort: the error is what the caller reports, and whatever stays is
            // removed by the next run as a leftover.
            for temp in lock(&self.temps).drain(..) {
                let _ = self.layout.tree.remove_file(&temp);
            }
        }
        result
    }

    #[tracing::instrument(level = "debug", skip_all)]
    fn phases(&self, actions: &[Action]) -> Result<Vec<Done>> {
        // A run that changes nothing watches no filesystem.
        if actions.is_empty() {
            return Ok(Vec::new());
        }
        let batch = steps::Batch::begin(&self.layout.tree, &self.layout.plugins)?;
        *lock(&self.renames) = Some(steps::Batch::begin(
            &self.layout.tree,
            &self.layout.plugins,
        )?);
        let bar = crate::progress::bar("copying", actions.len());
        let staged: Vec<Option<Staged>> =
            direct::copy_all(actions, |action| self.stage(action).inspect(|_| bar.inc()))?;
        let temps: Vec<PathBuf> = staged.iter().flatten().map(|s| s.temp.clone()).collect();
        batch.flush(&temps, &[])?;

        let archived: Vec<Option<PathBuf>> = actions
            .par_iter()
            .map(|action| self.archive_old(action))
            .collect::<Result<_>>()?;
        // The links must be durable before the renames below replace what they keep.
        let archive_dirs: BTreeSet<&Path> = archived
            .iter()
            .flatten()
            .filter_map(|dest| dest.parent())
            .collect();
        archive_dirs
            .iter()
            .try_for_each(|dir| sync_dir(&self.layout.tree, dir))?;

        actions
            .par_iter()
            .zip(staged)
            .zip(archived)
            .map(|((action, staged), archived_to)| self.put(action, staged, archived_to))
            .collect()
    }

    /// Flushes every directory an action renamed a file into or out of.
    pub fn finish(&self) -> Result<()> {
        self.finish_with(Vec::new())
    }

    /// [`Executor::finish`], flushing `also` too, together: directories the caller
    /// renamed things in or out of since the actions ran.
    pub fn finish_with(&self, also: Vec<PathBuf>) -> Result<()> {
        let mut dirs: Vec<PathBuf> = std::mem::take(&mut *lock(&self.renamed_in))
            .into_iter()
            .chain(also)
            .collect();
        dirs.sort();
        dirs.dedup();
        let batch = lock(&self.renames).take();
        match batch {
            Some(batch) => batch.flush(&[], &dirs),
            None if dirs.is_empty() => Ok(()),
            None => steps::Batch::begin(&self.layout.tree, &dirs[0])?.flush(&[], &dirs),
        }
    }

    /// Phase 1: copies the action's new content (past the page cache, `steps::copy_stamped`)
    /// beside its target, with the target's current mode (or the source's for a new file)
    /// and the source's modification time. Nothing for an archive.
    fn stage(&self, action: &Action) -> Result<Option<Staged>> {
        let source = match &action.kind {
            ActionKind::Write { source, .. } => source.clone(),
            ActionKind::Restore { .. } => self.layout.backup.join(&action.target),
            ActionKind::Archive => return Ok(None),
        };
        let tree = &self.layout.tree;
        let target = self.layout.plugins.join(&action.target);
        let dir = target.parent().unwrap_or(&self.layout.plugins);
        steps::create_dir_all(tree, dir)?;
        // The target's mode, or the source's for a new file (what `fs::copy` would give).
        let mode = tree
            .lstat(&target)
            .ok()
            .flatten()
            .filter(Info::is_file)
            .map(|i| i.mode);
        let (temp, _, at_copy) = steps::copy_to_temp(tree, &source, dir, mode)?;
        lock(&self.temps).push(temp.clone());
        Ok(Some(Staged {
            temp,
            source,
            at_copy,
        }))
    }

    /// Phase 3: keeps the content the action replaces in the archive, when it exists
    /// nowhere else. The caller flushes the archive's directories.
    fn archive_old(&self, action: &Action) -> Result<Option<PathBuf>> {
        let replaced = !matches!(action.kind, ActionKind::Archive);
        if !(replaced && action.keep_old && action.old.is_some()) {
            return Ok(None);
        }
        let target = self.layout.plugins.join(&action.target);
        self.archive_copy(&action.target, &target).map(Some)
    }

    /// Phase 4: renames the staged copy over the target, or moves the target into the
    /// archive. Their directories are flushed by [`Executor::finish`].
    fn put(
        &self,
        action: &Action,
        staged: Option<Staged>,
        archived_to: Option<PathBuf>,
    ) -> Result<Done> {
        let target = self.layout.plugins.join(&action.target);
        match staged {
            Some(Staged {
                temp,
                source,
                at_copy,
            }) => {
                steps::rename(&self.layout.tree, &temp, &target, "rename into")?;
                self.renamed_in(&target);
                Ok(Done {
                    archived_to,
                    copied_from: Some((source, at_copy)),
                })
            }
            None => {
                let dest = self.archive_path(&action.target)?;
                self.move_out(&target, &dest)?;
                Ok(Done {
                    archived_to: Some(dest),
                    copied_from: None,
                })
            }
        }
    }

    /// Notes that an entry of `path`'s directory changed, for [`Executor::finish`].
    fn renamed_in(&self, path: &Path) {
        if let Some(parent) = path.parent() {
            lock(&self.renamed_in).insert(parent.to_path_buf());
        }
    }

    /// A hard link (or, across devices, a copy) of the file at `path` in the archive. The
    /// caller flushes its directory before the file is replaced, so replacing it loses
    /// nothing.
    fn archive_copy(&self, relative: &Path, path: &Path) -> Result<PathBuf> {
        let tree = &self.layout.tree;
        let dest = self.archive_path(relative)?;
        if let Err(e) = steps::hard_link(tree, path, &dest) {
            // Across devices, or on a filesystem without hard links: a copy instead, made
            // whole beside its place before it takes the name. Any other error is real.
            if !matches!(
                e.kind(),
                io::ErrorKind::CrossesDevices
                    | io::ErrorKind::PermissionDenied
                    | io::ErrorKind::Unsupported
            ) {
                return Err(Error::write("archive", path, e));
            }
            // Staged in the archive's own directory, where the next run looks for leftovers.
            let (temp, _, _) = steps::copy_to_temp(tree, path, &self.layout.archive, None)?;
            sync_file(tree, &temp)?;
            steps::rename(tree, &temp, &dest, "rename into")?;
        }
        Ok(dest)
    }

    /// Moves a file out of plugins by a rename, whose two directories are flushed by
    /// [`Executor::finish`]. Across devices: a copy, made durable with its directory entry
    /// before the original is removed.
    fn move_out(&self, from: &Path, to: &Path) -> Result<()> {
        let tree = &self.layout.tree;
        if let Err(e) = steps::try_rename(tree, from, to) {
            if e.kind() != io::ErrorKind::CrossesDevices {
                return Err(Error::write("move", from, e));
            }
            // Whole under a temporary name first (in the archive's own directory, where the
            // next run looks for leftovers): a copy cut short never takes the name.
            let (temp, _, _) = steps::copy_to_temp(tree, from, &self.layout.archive, None)?;
            sync_file(tree, &temp)?;
            steps::rename(tree, &temp, to, "rename into")?;
            sync_parent(tree, to)?;
            steps::remove_file(tree, from)?;
        }
        self.renamed_in(to);
        self.renamed_in(from);
        Ok(())
    }

    /// `<archive>/<NNNN>-<label>/<relative>`, creating this run's directory on first use.
    fn archive_path(&self, relative: &Path) -> Result<PathBuf> {
        let dir = {
            let mut archive = lock(&self.archive);
            match &*archive {
                Some(dir) => dir.clone(),
                None => archive
                    .insert(new_numbered_dir(
                        &self.layout.tree,
                        &self.layout.archive,
                        self.label,
                    )?)
                    .clone(),
            }
        };
        let dest = dir.join(relative);
        if let Some(parent) = dest.parent() {
            steps::create_dir_all(&self.layout.tree, parent)?;
        }
        Ok(dest)
    }
}

/// Creates `<parent>/<NNNN>-<label>` with the next free number.
pub(super) fn new_numbered_dir(tree: &Tree, parent: &Path, label: &str) -> Result<PathBuf> {
    steps::create_dir_all(tree, parent)?;
    let mut next = 1 + tree
        .read_dir(parent, false)
        .map_err(|e| Error::read("list", parent, e))?
        .into_iter()
        .filter_map(|e| e.name.to_str()?.split('-').next()?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    loop {
        let dir = parent.join(format!("{next:04}-{label}"));
        match steps::create_dir(tree, &dir) {
            Ok(()) => {
                sync_dir(tree, parent)?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => next += 1,
            Err(e) => return Err(Error::write("create directory", &dir, e)),
        }
    }
}
