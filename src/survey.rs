//! The read phase: everything an apply, verify or rollback needs to know about the tree
//! (discovery, plugins, backup, metadata), read without writing anything. In two steps,
//! like discovery: [`examine`] finds everything but the digests (and all bad input),
//! [`Survey::finish`] reads the digests.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cache::DigestCache;
use crate::discover::{self, Discovery, Listed, SourceFile};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::layout::{self, Layout};
use crate::metadata::{self, BackupManifest, State};
use crate::plan::{Listing, Observed, Present, Purpose, Recorded, Target, Tree, digests_needed};
use crate::tree::{self, Dir, Kind};

/// The largest metadata file read (applied lists, jar list, state, journal, backup
/// manifest): far more than any product's, and a bound on what a planted file can cost.
pub const MAX_METADATA_BYTES: u64 = 64 << 20;

/// What was read from one product home; its entries' files are [`Listed`] until
/// [`Survey::finish`] hashes them.
#[derive(Debug)]
pub struct Survey<F = SourceFile> {
    /// Entries and their files.
    pub discovery: Discovery<F>,
    /// Plugins, backup and metadata.
    pub observed: Observed,
    /// Problems with the backup (missing files, changed sizes) against its manifest.
    pub backup_problems: Vec<String>,
    /// When the backup manifest is damaged: one made afresh from the backup as it is, for
    /// the next apply to record (reported, then rebuilt).
    pub rebuilt_backup_manifest: Option<BackupManifest>,
    /// Damaged metadata (reported, ignored, rewritten by the next apply).
    pub metadata_problems: Vec<String>,
    /// carbon-patch temporary files left in plugins by an interrupted run.
    pub leftovers: Vec<PathBuf>,
    /// Warnings from discovery and reading.
    pub warnings: Vec<String>,
    /// The digests read (or trusted) in this survey, to save when the run writes.
    pub cache: DigestCache,
}

/// Reads the product home: discovery, every file name and size in plugins and the backup,
/// the digests the plans for `purpose` need (in parallel), and the metadata.
pub fn survey(layout: &Layout, use_cache: bool, purpose: Purpose) -> Result<Survey> {
    examine(layout, use_cache)?.finish(layout, purpose)
}

/// Reads the product home but no digest: discovery up to the bundle names, every file
/// name and size in plugins and the backup, and the metadata. Finds all bad input.
#[tracing::instrument(level = "debug", skip_all)]
pub fn examine(layout: &Layout, use_cache: bool) -> Result<Survey<Listed>> {
    let cache = DigestCache::load(layout.tree.clone(), &layout.digests, use_cache);
    let mut discovery = discover::list(layout, &cache)?;
    let mut metadata_problems = Vec::new();
    let recorded = read_recorded(layout, &mut metadata_problems)?;

    // Plugins and the backup are listed side by side; their errors are told in this order.
    let (plugins, backup) = rayon::join(
        || list_tree(layout, &layout.plugins),
        || list_backup(layout),
    );
    let (plugins, leftovers) = plugins?;
    let (backup, backup_problems, rebuilt_backup_manifest) = backup?;
    // What the start scripts said that could not be used comes first: it decides where
    // everything else was looked for.
    let mut warnings = layout.places.warnings.clone();
    warnings.append(&mut discovery.warnings);
    Ok(Survey {
        discovery,
        observed: Observed {
            plugins,
            backup,
            recorded,
        },
        backup_problems,
        rebuilt_backup_manifest,
        metadata_problems,
        leftovers,
        warnings,
        cache,
    })
}

impl Survey<Listed> {
    /// Hashes every file of the entries, then reads (or takes from the cache) the digests
    /// of plugins and backup files the plans for `purpose` need.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn finish(self, layout: &Layout, purpose: Purpose) -> Result<Survey> {
        let mut survey = Survey {
            discovery: self.discovery.hash(&self.cache)?,
            observed: self.observed,
            backup_problems: self.backup_problems,
            rebuilt_backup_manifest: self.rebuilt_backup_manifest,
            metadata_problems: self.metadata_problems,
            leftovers: self.leftovers,
            warnings: self.warnings,
            cache: self.cache,
        };
        survey.read_digests(layout, purpose)?;
        Ok(survey)
    }
}

impl Survey {
    /// Reads (or takes from the cache) the digests the plans for `purpose` need and this
    /// survey lacks, several files at once.
    #[tracing::instrument(level = "debug", skip_all)]
    fn read_digests(&mut self, layout: &Layout, purpose: Purpose) -> Result<()> {
        let needed = digests_needed(purpose, &self.discovery, &self.observed);
        let bar = crate::progress::bar("hashing", needed.len());
        let cache = &self.cache;
        let digests: Vec<_> = needed
            .par_iter()
            .inspect(|_| bar.inc())
            .map(|(tree, target)| {
                let root = match tree {
                    Tree::Plugins => &layout.plugins,
                    Tree::Backup => &layout.backup,
                };
                cache.md5_and_size(&root.join(target))
            })
            .collect::<Result<_>>()?;
        for ((tree, target), (md5, size)) in needed.into_iter().zip(digests) {
            let files = match tree {
                Tree::Plugins => Some(&mut self.observed.plugins),
                Tree::Backup => self.observed.backup.as_mut(),
            };
            // The size as hashed: a file that changed since it was listed is compared as it is now.
            if let Some(file) = files.and_then(|f| f.get_mut(&target)) {
                *file = Present {
                    size,
                    md5: Some(md5),
                };
            }
        }
        Ok(())
    }
}

/// The backup's files (`None`: there is no backup yet), checked against its manifest (see
/// [`check_backup`]).
type CheckedBackup = (Option<Listing>, Vec<String>, Option<BackupManifest>);

fn list_backup(layout: &Layout) -> Result<CheckedBackup> {
    if !is_dir(layout, &layout.backup)? {
        return Ok((None, Vec::new(), None));
    }
    let (files, _) = list_tree(layout, &layout.backup)?;
    let (problems, rebuilt) = check_backup(layout, &files)?;
    Ok((Some(files), problems, rebuilt))
}

fn is_dir(layout: &Layout, path: &Path) -> Result<bool> {
    match layout.tree.lstat(path) {
        Ok(Some(info)) if info.kind == Kind::Link => Err(Error::refused_link(path)),
        Ok(info) => Ok(info.is_some_and(|i| i.is_dir())),
        Err(e) => Err(Error::input("inspect", path, e)),
    }
}

/// Every file under `root` (relative path → size), and the files there whose names carry
/// carbon-patch's temporary prefix. Directories are walked; a symbolic link counts as the
/// file it names, which must lie inside the product tree; anything but regular files,
/// directories and such links (a FIFO, a device, a socket) is bad input.
fn list_tree(layout: &Layout, root: &Path) -> Result<(Listing, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut leftovers = Vec::new();
    let dir = layout
        .tree
        .dir(root, false)
        .map_err(|e| Error::input("list", root, e))?;
    list_dir(layout, &dir, None, &mut files, &mut leftovers)?;
    leftovers.sort();
    Ok((files.into_iter().collect(), leftovers))
}

/// Adds the files under `dir` (at `relative` under the root; `None`: the root itself) to
/// `files` and `leftovers`. Each file is looked at relative to its open directory, not by
/// its whole path, which the kernel would walk again, component by component, for every
/// file.
fn list_dir(
    layout: &Layout,
    dir: &Dir,
    relative: Option<&Path>,
    files: &mut Vec<(Target, Present)>,
    leftovers: &mut Vec<PathBuf>,
) -> Result<()> {
    let unreadable = |path: &Path, e| Error::input("list", path, e);
    for item in dir.entries().map_err(|e| unreadable(dir.path(), e))? {
        let name = item.name;
        // Nearly every file sits right under the root: its name is the relative path.
        let path = match relative {
            None => PathBuf::from(&name),
            Some(parent) => parent.join(&name),
        };
        let full = || dir.path().join(&name);
        if crate::names::has_control(&name) {
            return Err(Error::bad_input(
                full(),
                "refused file name: it holds a control character",
                "rename the file without control characters (newlines, escapes); nothing was changed",
            ));
        }
        match item.kind {
            Kind::Dir => {
                tree::check_depth(&path, path.components().count())
                    .map_err(|e| Error::refused(full(), &e))?;
                let sub = dir.open_dir(&name).map_err(|e| unreadable(&full(), e))?;
                list_dir(layout, &sub, Some(&path), files, leftovers)?;
            }
            _ if layout::is_temp_name(&name) => leftovers.push(path),
            Kind::File => {
                let size = dir.stat(&name).map_err(|e| unreadable(&full(), e))?.size;
                files.push((Target::from(path), Present { size, md5: None }));
            }
            Kind::Link => {
                let full = full();
                let info = layout
                    .tree
                    .stat_input(&full)
                    .map_err(|e| Error::input("inspect", &full, e))?;
                match info {
                    Some(info) if info.is_file() => {
                        files.push((
                            Target::from(path),
                            Present {
                                size: info.size,
                                md5: None,
                            },
                        ));
                    }
                    Some(info) if info.is_dir() => {
                        return Err(Error::bad_input(
                            &full,
                            "refused: a symbolic link to a directory, which carbon-patch does not follow here",
                            "replace the link with the directory itself, or remove it; nothing was changed",
                        ));
                    }
                    Some(info) => return Err(Error::refused_kind(&full, info.kind)),
                    None => {
                        return Err(Error::bad_input(
                            &full,
                            "symbolic link that cannot be resolved (dangling or a loop)",
                            "replace the link with the file it should point to, or remove it; nothing was changed",
                        ));
                    }
                }
            }
            other => return Err(Error::refused_kind(full(), other)),
        }
    }
    Ok(())
}

/// Compares the backup with the manifest carbon-patch wrote when it made it.
/// Also returns, when the manifest is damaged, a new one made from the backup as it is.
fn check_backup(layout: &Layout, files: &Listing) -> Result<(Vec<String>, Option<BackupManifest>)> {
    let Some(bytes) = read_optional(layout, &layout.backup_manifest)? else {
        return Ok((Vec::new(), None));
    };
    let Some(manifest) = metadata::parse_json::<BackupManifest>(&bytes) else {
        let problem = format!(
            "the backup manifest `{}` is damaged; the backup cannot be checked",
            layout.display(&layout.backup_manifest)
        );
        let rebuilt = BackupManifest {
            schema_version: metadata::STATE_SCHEMA_VERSION,
            files: files
                .iter()
                .map(|(path, file)| (metadata::encode_path(path), file.size))
                .collect(),
        };
        return Ok((vec![problem], Some(rebuilt)));
    };
    let mut problems = Vec::new();
    for (encoded, len) in &manifest.files {
        let Some(path) = metadata::decode_path(encoded).map(Target::from) else {
            continue;
        };
        match files.get(&path) {
            None => problems.push(format!(
                "the backup is incomplete: `{}` is missing",
                path.display()
            )),
            Some(file) if file.size != *len => problems.push(format!(
                "the backup is damaged: `{}` has {} bytes, {len} when it was made",
                path.display(),
                file.size
            )),
            Some(_) => {}
        }
    }
    Ok((problems, None))
}

/// Reads the metadata files; damaged content is reported in `problems` and ignored.
fn read_recorded(layout: &Layout, problems: &mut Vec<String>) -> Result<Recorded> {
    let applied = |path: &Path| -> Result<Option<Vec<String>>> {
        Ok(read_optional(layout, path)?.map(|b| metadata::parse_applied_list(&b)))
    };
    let jars = read_optional(layout, &layout.jar_list)?.map(|b| metadata::parse_jar_list(&b));
    if let Some(list) = &jars {
        for line in &list.damaged {
            problems.push(format!(
                "damaged line in `{}`: {line:?}",
                layout.display(&layout.jar_list)
            ));
        }
    }
    let state = match read_optional(layout, &layout.state)? {
        Some(bytes) => {
            let state = metadata::parse_json::<State>(&bytes);
            if state.is_none() {
                problems.push(format!("`{}` is damaged", layout.display(&layout.state)));
            }
            state
        }
        None => None,
    };
    let journal = match read_optional(layout, &layout.journal)? {
        Some(bytes) => {
            let journal = metadata::parse_json::<Journal>(&bytes);
            if journal.is_none() {
                problems.push(format!(
                    "`{}` is damaged: an earlier run did not finish",
                    layout.display(&layout.journal)
                ));
            }
            journal
        }
        None => None,
    };
    Ok(Recorded {
        applied_44: applied(&layout.applied_list_44)?,
        applied_42: applied(&layout.applied_list_42)?,
        jars,
        state,
        journal,
    })
}

/// The content of one of carbon-patch's own files, or `None` when it does not exist. A
/// link, a FIFO or device, or a file larger than [`MAX_METADATA_BYTES`] there is bad
/// input: read through no link, without blocking, never whole past the cap.
pub fn read_optional(layout: &Layout, path: &Path) -> Result<Option<Vec<u8>>> {
    // A parent that is a file (a `patches` path that is not a directory) means the file
    // does not exist; discovery reports the bad parent itself, as bad input.
    layout
        .tree
        .read_capped(path, MAX_METADATA_BYTES)
        .map_err(|e| Error::input("read", path, e))
}
