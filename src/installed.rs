//! What carbon-patch installed from patch archives (SPEC §14), kept in the metadata dir
//! under each patch's id (`<metadata>/patch-archives/<PATCH ID>/`):
//!
//! - `record.json`: the [`Record`] — the archive's id, Applies To, JIRA ids, manual steps,
//!   every resource file with its MD5 before and after, and how far the operation got;
//! - `files/<path>`: the archive's resource files, staged before any is placed, so an
//!   interrupted `add` can be finished by any later run without the archive;
//! - `originals/<path>`: each file a resource replaced, and each exploded web
//!   application set aside, kept for `remove` and `rollback`;
//! - `patch/<patchNNNN>/`: the patch directory, until it is renamed into patches;
//! - `documents/`: the README and the legal texts.
//!
//! This module owns that layout, reading the records, and planning an archive's
//! installation (read-only); `execute::install` carries plans out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::archive::{Archive, Lands, readme};
use crate::digest::{self, Md5Digest};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::metadata::{self, STATE_SCHEMA_VERSION};
use crate::tree::Kind;

/// The directory of the records, below the metadata dir.
pub const DIR: &str = "patch-archives";
/// Where records of removed patches go, below [`DIR`].
pub const REMOVED: &str = ".removed";
/// The largest record read.
const MAX_RECORD: u64 = 16 << 20;

/// How far an archive's installation or removal got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    /// `add` staged everything and is placing it: a later run finishes it.
    Adding,
    /// Installed.
    Added,
    /// `remove` or `rollback` is putting the originals back: a later run finishes it.
    Removing,
}

/// One resource file an archive placed in the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Relative to PRODUCT_HOME ([`metadata::encode_path`]).
    pub path: String,
    /// The MD5 of the file it replaced (`None`: the archive added it).
    pub before: Option<Md5Digest>,
    /// The MD5 it placed.
    pub after: Md5Digest,
    /// The mode it was given.
    pub mode: u32,
}

impl Resource {
    /// Its path relative to PRODUCT_HOME.
    pub fn relative(&self) -> PathBuf {
        metadata::decode_path(&self.path).unwrap_or_default()
    }
}

/// What carbon-patch knows of one installed archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// [`STATE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The README's Patch ID: the record's directory name.
    pub id: String,
    /// Its `patchNNNN` directory.
    pub patch_dir: String,
    /// Whether carbon-patch placed the patch directory (`false`: an identical one was there).
    pub placed_patch_dir: bool,
    /// The archive's file name, as given.
    pub archive: String,
    /// [`Archive::digest`]: the same archive added again is recognised by it.
    pub digest: Md5Digest,
    /// `Applies To`, as written.
    pub applies_to: String,
    /// `Associated JIRA`.
    pub jira: Vec<String>,
    /// The instructions carbon-patch cannot carry out, in the README's words.
    pub manual_steps: Vec<String>,
    /// When it was added (the log's time format).
    pub added: String,
    /// Order of installation: a later archive's resources may overlay an earlier one's.
    pub sequence: u64,
    /// How far its installation or removal got.
    pub progress: Progress,
    /// The resource files, in the order they are placed.
    pub resources: Vec<Resource>,
    /// Exploded web application directories set aside (relative to PRODUCT_HOME).
    pub exploded: Vec<String>,
    /// Directories it created for its resources, deepest first: removed again, when
    /// empty, by `remove`.
    #[serde(default)]
    pub created_dirs: Vec<String>,
}

/// The paths of one record's directory.
#[derive(Debug, Clone)]
pub struct Place {
    /// `<metadata>/patch-archives/<id>`.
    pub dir: PathBuf,
}

impl Place {
    /// The record directory of the patch `id`.
    pub fn of(layout: &Layout, id: &str) -> Place {
        Place {
            dir: layout.installed.join(id),
        }
    }
    /// `record.json`.
    pub fn record(&self) -> PathBuf {
        self.dir.join("record.json")
    }
    /// The staged copy of the resource at `relative`.
    pub fn file(&self, relative: &Path) -> PathBuf {
        self.dir.join("files").join(relative)
    }
    /// The kept original of the resource at `relative`.
    pub fn original(&self, relative: &Path) -> PathBuf {
        self.dir.join("originals").join(relative)
    }
    /// The staged patch directory.
    pub fn patch(&self, patch_dir: &str) -> PathBuf {
        self.dir.join("patch").join(patch_dir)
    }
    /// The README and legal texts.
    pub fn documents(&self) -> PathBuf {
        self.dir.join("documents")
    }
}

/// Every record, in installation order, with the problems met reading them.
#[derive(Debug, Default)]
pub struct Installed {
    pub records: Vec<Record>,
    /// Record directories that could not be read: named for the report.
    pub damaged: Vec<String>,
}

impl Installed {
    /// The record of `id` or of the patch directory `id`.
    pub fn find(&self, id: &str) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.id == id || r.patch_dir == id)
    }

    /// Records an operation did not finish.
    pub fn pending(&self) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(|r| r.progress != Progress::Added)
    }

    /// The next sequence number.
    pub fn next_sequence(&self) -> u64 {
        self.records
            .iter()
            .map(|r| r.sequence + 1)
            .max()
            .unwrap_or(1)
    }

    /// For each resource path, the record that placed it last (the one whose `after`
    /// the file should hold).
    pub fn owners(&self) -> BTreeMap<String, &Record> {
        let mut owners = BTreeMap::new();
        for record in self
            .records
            .iter()
            .filter(|r| r.progress == Progress::Added)
        {
            for resource in &record.resources {
                owners.insert(resource.path.clone(), record);
            }
        }
        owners
    }
}

/// What `verify` and `status` find wrong with the installed archives: an operation left
/// unfinished, a record that cannot be read, and each resource file that no longer holds
/// what its patch placed. `(subject, message)` pairs; empty when all holds.
pub fn problems(layout: &Layout, installed: &Installed) -> Vec<(String, String)> {
    let mut problems: Vec<(String, String)> = installed
        .pending()
        .map(|r| {
            (
                r.id.clone(),
                format!(
                    "the {} of patch archive {} did not finish: run `carbon-patch apply` to finish it",
                    if r.progress == Progress::Removing { "removal" } else { "installation" },
                    r.id
                ),
            )
        })
        .collect();
    problems.extend(installed.damaged.iter().map(|dir| {
        (
            dir.clone(),
            format!("the patch archive record `{dir}` cannot be read"),
        )
    }));
    for (path, owner) in installed.owners() {
        let Some(resource) = owner.resources.iter().find(|r| r.path == path) else {
            continue;
        };
        let shown = crate::names::Shown::path(&resource.relative()).to_string();
        let placed = format!(
            "{shown}(MD5: {}) was placed by {}",
            resource.after, owner.id
        );
        let problem = match current_md5(layout, &resource.relative()) {
            Ok(Some(md5)) if md5 == resource.after => continue,
            Ok(Some(md5)) => format!("{placed}, but the file now has MD5 {md5}"),
            Ok(None) => format!("{placed}, but the file is missing"),
            Err(e) => format!("{placed}, but it cannot be checked: {e}"),
        };
        problems.push((shown, problem));
    }
    problems
}

/// Reads every record (none when the directory does not exist).
pub fn load(layout: &Layout) -> Result<Installed> {
    let tree = &layout.tree;
    let entries = match tree.read_dir(&layout.installed, false) {
        Ok(entries) => entries,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(Installed::default());
        }
        Err(e) => return Err(Error::input("list", &layout.installed, e)),
    };
    let mut installed = Installed::default();
    for entry in entries {
        let name = entry.name.to_string_lossy().into_owned();
        if name.starts_with('.') || entry.kind != Kind::Dir {
            continue;
        }
        let place = Place::of(layout, &name);
        let record = tree
            .read_capped(&place.record(), MAX_RECORD)
            .ok()
            .flatten()
            .and_then(|bytes| metadata::parse_json::<Record>(&bytes))
            .filter(|r| r.id == name);
        match record {
            Some(record) => installed.records.push(record),
            None => installed
                .damaged
                .push(layout.display(&place.dir).to_string()),
        }
    }
    installed.records.sort_by_key(|r| r.sequence);
    Ok(installed)
}

/// The MD5 of the file at `relative` in the product, `None` when nothing is there.
/// Refuses a link on the way or at the end, and anything but a regular file.
pub fn current_md5(layout: &Layout, relative: &Path) -> Result<Option<Md5Digest>> {
    let path = layout.home.join(relative);
    match layout.tree.lstat(&path) {
        Ok(None) => Ok(None),
        Ok(Some(info)) if info.is_file() => {
            let file = layout
                .tree
                .open_own(&path)
                .map_err(|e| Error::input("open", &path, e))?;
            digest::md5_of(file, &path).map(Some)
        }
        Ok(Some(info)) if info.kind == Kind::Link => Err(Error::refused_link(&path)),
        Ok(Some(info)) => Err(Error::refused_kind(&path, info.kind)),
        Err(e) => Err(Error::refused(&path, &e)),
    }
}

/// An archive's installation, planned read-only against the product as it will be when
/// the archives before it in the same run are installed.
#[derive(Debug)]
pub struct Plan {
    /// The record to write (progress [`Progress::Adding`]).
    pub record: Record,
    /// Whether there is nothing to do: the same archive was added before.
    pub already: bool,
}

/// What an `add` run knows while planning several archives: the product's resource files
/// as the earlier archives leave them.
#[derive(Debug, Default)]
pub struct Overlay {
    files: BTreeMap<PathBuf, Option<Md5Digest>>,
    dirs: std::collections::BTreeSet<PathBuf>,
}

/// Plans installing each of `archives`, in order, each against the product as the ones
/// before it leave it.
pub fn plan_each(
    layout: &Layout,
    installed: &Installed,
    archives: &[Archive],
) -> Vec<Result<Plan>> {
    let mut overlay = Overlay::default();
    (installed.next_sequence()..)
        .zip(archives)
        .map(|(sequence, archive)| plan(layout, installed, archive, &mut overlay, sequence))
        .collect()
}

/// Plans installing `archive` (SPEC §14). Refuses (bad input): another archive under the
/// same Patch ID or patch directory, a patch directory of that name with other content, a
/// resource that would land where carbon-patch or the runtime keep their own files, or
/// on a link, a directory or a special file.
fn plan(
    layout: &Layout,
    installed: &Installed,
    archive: &Archive,
    overlay: &mut Overlay,
    sequence: u64,
) -> Result<Plan> {
    let id = &archive.readme.id;
    let refuse =
        |message: String, hint: String| Err(Error::bad_input(&archive.path, message, hint));
    if let Some(record) = installed.records.iter().find(|r| &r.id == id) {
        // The same archive: nothing to do (a pending operation on it is finished under
        // the lock, before the plan that counts).
        if record.digest == archive.digest {
            return Ok(Plan {
                record: record.clone(),
                already: true,
            });
        }
        return refuse(
            format!(
                "{id} is installed already ({}, added {}), from an archive with other content",
                record.archive, record.added
            ),
            format!("remove it first (`carbon-patch remove {id}`), then add this archive"),
        );
    }
    if let Some(record) = installed
        .records
        .iter()
        .find(|r| r.patch_dir == archive.patch_dir)
    {
        return refuse(
            format!(
                "its patch directory {} belongs to {}, installed already",
                archive.patch_dir, record.id
            ),
            format!(
                "two patches cannot share a patch directory: remove {} first if this one replaces it",
                record.id
            ),
        );
    }
    let placed_patch_dir = !same_patch_dir(layout, archive)?;
    let mut resources = Vec::new();
    let mut exploded = Vec::new();
    let mut created_dirs: Vec<PathBuf> = Vec::new();
    for member in &archive.members {
        let Some(relative) = member.lands.home() else {
            continue;
        };
        check_destination(layout, archive, relative)?;
        let before = match overlay.files.get(relative) {
            Some(known) => *known,
            None => current_md5(layout, relative)?,
        };
        overlay
            .files
            .insert(relative.to_path_buf(), Some(member.md5));
        if before == Some(member.md5) {
            continue;
        }
        for dir in relative.ancestors().skip(1) {
            if dir.as_os_str().is_empty() || overlay.dirs.contains(dir) {
                break;
            }
            let exists = layout
                .tree
                .lstat(&layout.home.join(dir))
                .map_err(|e| Error::refused(layout.home.join(dir), &e))?
                .is_some();
            if exists {
                break;
            }
            overlay.dirs.insert(dir.to_path_buf());
            created_dirs.push(dir.to_path_buf());
        }
        resources.push(Resource {
            path: metadata::encode_path(relative),
            before,
            after: member.md5,
            mode: member.mode,
        });
        if let Lands::Webapp { exploded: dir, .. } = &member.lands {
            let path = layout.home.join(dir);
            match layout.tree.lstat(&path) {
                Ok(Some(info)) if info.is_dir() => exploded.push(metadata::encode_path(dir)),
                Ok(None) => {}
                Ok(Some(info)) if info.kind == Kind::Link => {
                    return Err(Error::refused_link(&path));
                }
                Ok(Some(info)) => return Err(Error::refused_kind(&path, info.kind)),
                Err(e) => return Err(Error::refused(&path, &e)),
            }
        }
    }
    let manual_steps = archive
        .readme
        .instructions
        .iter()
        .filter(|i| readme::classify(i, |name| archive.holds_name(name)) == readme::Step::Manual)
        .cloned()
        .collect();
    Ok(Plan {
        record: Record {
            schema_version: STATE_SCHEMA_VERSION,
            id: id.clone(),
            patch_dir: archive.patch_dir.clone(),
            placed_patch_dir,
            // Shown escaped, as every name from outside is.
            archive: archive
                .path
                .file_name()
                .map(|n| crate::names::Shown(n).to_string())
                .unwrap_or_default(),
            digest: archive.digest,
            applies_to: archive.readme.applies_to.clone(),
            jira: archive.readme.jira.clone(),
            manual_steps,
            added: crate::log::now(),
            sequence,
            progress: Progress::Adding,
            resources,
            exploded,
            created_dirs: {
                // Deepest first, so each is empty when its turn comes.
                created_dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
                created_dirs
                    .iter()
                    .map(|d| metadata::encode_path(d))
                    .collect()
            },
        },
        already: false,
    })
}

/// Whether patches already holds the archive's patch directory with exactly its files
/// (placed by hand, say); refuses one with other content.
fn same_patch_dir(layout: &Layout, archive: &Archive) -> Result<bool> {
    let dir = layout.patches.join(&archive.patch_dir);
    match layout.tree.lstat(&dir) {
        Ok(None) => return Ok(false),
        Ok(Some(info)) if info.is_dir() => {}
        Ok(Some(info)) if info.kind == Kind::Link => return Err(Error::refused_link(&dir)),
        Ok(Some(info)) => return Err(Error::refused_kind(&dir, info.kind)),
        Err(e) => return Err(Error::refused(&dir, &e)),
    }
    let present = files_of(layout, &dir)?;
    let wanted: BTreeMap<PathBuf, Md5Digest> = archive
        .members
        .iter()
        .filter_map(|m| match &m.lands {
            Lands::Patch(inside) => Some((inside.clone(), m.md5)),
            _ => None,
        })
        .collect();
    if present == wanted {
        return Ok(true);
    }
    Err(Error::bad_input(
        &dir,
        format!(
            "{} holds a patch directory of that name with other content than {} brings",
            layout.display(&layout.patches),
            archive.readme.id
        ),
        "two patches cannot share a directory: if it is an older copy of this patch, move it out of patches, then add the archive again",
    ))
}

/// Every file under the directory `dir` (relative path → MD5); refuses anything but files
/// and directories.
pub fn files_of(layout: &Layout, dir: &Path) -> Result<BTreeMap<PathBuf, Md5Digest>> {
    let mut files = BTreeMap::new();
    collect_files(layout, dir, Path::new(""), &mut files)?;
    Ok(files)
}

fn collect_files(
    layout: &Layout,
    dir: &Path,
    relative: &Path,
    into: &mut BTreeMap<PathBuf, Md5Digest>,
) -> Result<()> {
    let at = dir.join(relative);
    for entry in layout
        .tree
        .read_dir(&at, false)
        .map_err(|e| Error::input("list", &at, e))?
    {
        let inside = relative.join(&entry.name);
        match entry.kind {
            Kind::Dir => collect_files(layout, dir, &inside, into)?,
            Kind::File => {
                let path = dir.join(&inside);
                let file = layout
                    .tree
                    .open_own(&path)
                    .map_err(|e| Error::input("open", &path, e))?;
                into.insert(inside, digest::md5_of(file, &path)?);
            }
            kind => return Err(Error::refused_kind(dir.join(&inside), kind)),
        }
    }
    Ok(())
}

/// Refuses a resource that would land where carbon-patch or the runtime keep their own
/// files: plugins, patches, service packs, the applied lists, the log.
fn check_destination(layout: &Layout, archive: &Archive, relative: &Path) -> Result<()> {
    let path = layout.home.join(relative);
    let managed = [&layout.plugins, &layout.patches, &layout.servicepacks]
        .into_iter()
        .any(|dir| path.starts_with(dir))
        || [
            &layout.applied_list_42,
            &layout.log,
            &layout.jar_list,
            &layout.applied_list_44,
        ]
        .contains(&&path)
        || layout.server_pids.contains(&path);
    if managed {
        return Err(Error::bad_input(
            &archive.path,
            format!(
                "patch archive refused: its file `{}` would land in `{}`, which carbon-patch and the server manage themselves",
                relative.display(),
                layout.display(&path)
            ),
            "bundles belong in the archive's patchNNNN directory; nothing was changed",
        ));
    }
    Ok(())
}
