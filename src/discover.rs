//! Discovery (SPEC §3): which service pack and patches exist, which apply and in what
//! order, and every file each one provides with its bundle name and MD5. Read-only.
//!
//! In two steps: [`list`] finds every file and its bundle name (reading the manifests:
//! all bad input is found here), then [`Discovery::hash`] reads every file's MD5, the
//! long part. A first apply copies the backup while the second runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::cache::DigestCache;
use crate::digest::Md5Digest;
use crate::error::{Error, Result};
use crate::layout::{self, Layout};
use crate::manifest;
use crate::names;
use crate::plan::Target;
use crate::tree::{self, Tree};

/// What kind of entry provides bundles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A directory under servicepacks; its bundles are in `lib/`.
    ServicePack,
    /// A `patchNNNN` directory under patches.
    Patch,
}

/// One service pack or patch in the apply order; its files are [`SourceFile`]s once hashed,
/// [`Listed`] before.
#[derive(Debug, Clone)]
pub struct Entry<F = SourceFile> {
    /// Directory name, e.g. `patch0003`.
    pub name: String,
    /// Service pack or patch.
    pub kind: EntryKind,
    /// The entry's directory.
    pub dir: PathBuf,
    /// Every file it provides, in name order.
    pub files: Vec<F>,
}

/// A file an entry provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it lands, relative to plugins: the bundle name for a top-level jar, else its
    /// own relative path.
    pub target: Target,
    /// The file itself.
    pub source: PathBuf,
    /// Its own path relative to the entry's bundle directory, as the log names it.
    pub own_name: PathBuf,
    /// MD5 of its content.
    pub md5: Md5Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// A file an entry provides, named but not yet hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Where it lands (see [`SourceFile::target`]).
    pub target: Target,
    /// The file itself.
    pub source: PathBuf,
    /// Its own path relative to the entry's bundle directory.
    pub own_name: PathBuf,
    /// Whether it is a top-level jar, whose bundle name the digest cache keeps too.
    jar: bool,
}

/// Everything found under patches and servicepacks.
#[derive(Debug, Clone)]
pub struct Discovery<F = SourceFile> {
    /// The latest service pack, if any.
    pub service_pack: Option<Entry<F>>,
    /// Service packs older than the latest: present but never applied.
    pub older_service_packs: Vec<String>,
    /// Patches that apply, in apply order (covered ones left out).
    pub patches: Vec<Entry<F>>,
    /// Patch directories skipped because the latest service pack already contains them.
    pub covered: Vec<String>,
    /// Whether `patch0000` exists.
    pub backup_present: bool,
    /// Entries under patches/servicepacks that are neither (files, hidden or other names).
    pub ignored: Vec<PathBuf>,
    /// Things an operator should know that do not stop the run.
    pub warnings: Vec<String>,
}

impl<F> Default for Discovery<F> {
    fn default() -> Self {
        Discovery {
            service_pack: None,
            older_service_packs: Vec::new(),
            patches: Vec::new(),
            covered: Vec::new(),
            backup_present: false,
            ignored: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

impl<F> Discovery<F> {
    /// The apply order: the latest service pack, then the patches (SPEC §3).
    pub fn order(&self) -> impl Iterator<Item = &Entry<F>> {
        self.service_pack.iter().chain(&self.patches)
    }
}

impl Discovery<Listed> {
    /// Reads every listed file's MD5 (or takes it from the cache), several files at once.
    #[tracing::instrument(level = "debug", skip_all)]
    pub fn hash(self, cache: &DigestCache) -> Result<Discovery> {
        self.hash_all(cache).map_err(unreadable_is_bad_input)
    }

    fn hash_all(self, cache: &DigestCache) -> Result<Discovery> {
        let Discovery {
            service_pack,
            older_service_packs,
            patches,
            covered,
            backup_present,
            ignored,
            warnings,
        } = self;
        let mut entries: Vec<Entry> = Vec::new();
        let mut listed: Vec<(usize, Listed)> = Vec::new();
        for (index, entry) in service_pack.into_iter().chain(patches).enumerate() {
            listed.extend(entry.files.into_iter().map(|file| (index, file)));
            entries.push(Entry {
                name: entry.name,
                kind: entry.kind,
                dir: entry.dir,
                files: Vec::new(),
            });
        }
        // One parallel pass over every file of every entry: an entry of one large file
        // does not hold the other threads back.
        let bar = crate::progress::bar("hashing", listed.len());
        let hashed: Vec<(usize, SourceFile)> = listed
            .into_par_iter()
            .inspect(|_| bar.inc())
            .map(|(index, file)| {
                let (md5, size) = if file.jar {
                    let name = file.target.as_os_str().to_owned();
                    let (md5, size, _) = cache.md5_size_and_name(&file.source, || Ok(name))?;
                    (md5, size)
                } else {
                    cache.md5_and_size(&file.source)?
                };
                let file = SourceFile {
                    target: file.target,
                    source: file.source,
                    own_name: file.own_name,
                    md5,
                    size,
                };
                Ok((index, file))
            })
            .collect::<Result<_>>()?;
        let (service_pack, patches) = regroup(entries, hashed);
        Ok(Discovery {
            service_pack,
            patches,
            older_service_packs,
            covered,
            backup_present,
            ignored,
            warnings,
        })
    }
}

impl Discovery {
    /// The names the runtime records as applied (SPEC §9): the service pack, then every
    /// `patch*` directory not covered — `patch0000` included when there is (or will be) a
    /// backup — in name order.
    pub fn applied_list(&self, with_backup: bool) -> Vec<String> {
        let mut patches: Vec<&str> = self.patches.iter().map(|e| e.name.as_str()).collect();
        if with_backup || self.backup_present {
            patches.push(layout::BACKUP_NAME);
        }
        patches.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        self.service_pack
            .iter()
            .map(|e| e.name.clone())
            .chain(patches.into_iter().map(String::from))
            .collect()
    }
}

/// Discovers entries under the layout's patches and servicepacks and names every file they
/// provide, reading the manifests (bundle names the cache knows are not read again), in
/// parallel. Every file is opened, so an unreadable one is found here. Bad input is an
/// error naming its path.
#[tracing::instrument(level = "debug", skip_all)]
pub fn list(layout: &Layout, cache: &DigestCache) -> Result<Discovery<Listed>> {
    discover_readable(layout, cache).map_err(unreadable_is_bad_input)
}

/// Patches and service packs are input the operator hands over: one that cannot be read
/// (permission denied) is bad input (SPEC §6.1, exit 2), like a corrupt jar, not an I/O
/// failure of the run.
fn unreadable_is_bad_input(error: Error) -> Error {
    match error {
        Error::Read { path, source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Error::bad_input_from(
                &path,
                "cannot read this part of a patch or service pack",
                "make it readable by the user running carbon-patch (chmod, chown), or remove it; nothing was changed",
                source,
            )
        }
        other => other,
    }
}

fn discover_readable(layout: &Layout, cache: &DigestCache) -> Result<Discovery<Listed>> {
    let tree = &*layout.tree;
    let mut found = Discovery::default();

    let mut packs = Vec::new();
    for (name, path, kind) in list_dir(tree, &layout.servicepacks)? {
        if name.starts_with(layout::SERVICE_PACK_PREFIX) {
            refuse_control(&path, path.file_name().unwrap_or_default(), "service pack")?;
        }
        match (name.strip_prefix(layout::SERVICE_PACK_PREFIX), kind) {
            (Some(_), Kind::Dir) => packs.push((name, path)),
            _ => found.ignored.push(path),
        }
    }
    let mut patches = Vec::new();
    for (name, path, kind) in list_dir(tree, &layout.patches)? {
        if name.starts_with(layout::PATCH_PREFIX) {
            refuse_control(&path, path.file_name().unwrap_or_default(), "patch")?;
        }
        match (name.starts_with(layout::PATCH_PREFIX), kind) {
            (true, Kind::Dir) if name == layout::BACKUP_NAME => found.backup_present = true,
            (true, Kind::Dir) => patches.push((name, path)),
            _ if name.starts_with('.') => {}
            _ => found.ignored.push(path),
        }
    }
    warn_on_uneven_names(&packs, &mut found.warnings);
    warn_on_uneven_names(&patches, &mut found.warnings);

    let mut entries: Vec<(String, EntryKind, PathBuf, PathBuf)> = Vec::new();
    let mut covered_names = Vec::new();
    if let Some((name, dir)) = packs.pop() {
        let lib = dir.join(layout::SERVICE_PACK_LIB);
        let list = dir.join(layout::SERVICE_PACK_PATCHES);
        let lib_kind = resolve(tree, &lib)?;
        if let Kind::Other(other) = lib_kind {
            return Err(Error::refused_kind(&lib, other));
        }
        if lib_kind != Kind::Dir {
            return Err(Error::bad_input(
                &lib,
                format!("service pack {name} has no `lib/` directory"),
                "restore the service pack from its distribution, or move it out of servicepacks",
            ));
        }
        covered_names = read_covered(tree, &list, &name)?;
        entries.push((name, EntryKind::ServicePack, dir, lib));
        found.older_service_packs = packs.into_iter().map(|(n, _)| n).collect();
    }
    for (name, dir) in patches {
        if covered_names.contains(&name) {
            found.covered.push(name);
        } else {
            entries.push((name, EntryKind::Patch, dir.clone(), dir));
        }
    }

    let mut listed = Vec::new();
    for (index, (name, _, _, bundles)) in entries.iter().enumerate() {
        for (own_name, source, top_level) in list_files(tree, bundles, name, &mut found.warnings)? {
            listed.push((index, own_name, source, top_level));
        }
    }
    let bar = crate::progress::bar("reading", listed.len());
    let read: Vec<(usize, Listed)> = listed
        .into_par_iter()
        .inspect(|_| bar.inc())
        .map(|(index, own_name, source, top_level)| {
            let jar = top_level && manifest::is_jar(own_name.as_os_str());
            let target = if jar {
                let meta = tree
                    .stat_input(&source)
                    .and_then(|m| m.ok_or_else(|| std::io::ErrorKind::NotFound.into()))
                    .map_err(|e| Error::input("inspect", &source, e))?;
                let name = match cache.known_name(&source, &meta) {
                    Some(name) => name,
                    None => manifest::target_name(tree, &source, own_name.as_os_str())?,
                };
                Target::from(PathBuf::from(name))
            } else if top_level {
                Target::from(PathBuf::from(manifest::target_name(
                    tree,
                    &source,
                    own_name.as_os_str(),
                )?))
            } else {
                manifest::check_nested_path(&source, &own_name)?;
                Target::from(own_name.as_path())
            };
            if !jar {
                // Only jars are opened for their manifest; the others are checked here.
                tree.open_input(&source)
                    .map_err(|e| Error::input("open", &source, e))?;
            }
            Ok((
                index,
                Listed {
                    target,
                    source,
                    own_name,
                    jar,
                },
            ))
        })
        .collect::<Result<_>>()?;

    let shells = entries
        .into_iter()
        .map(|(name, kind, dir, _)| Entry {
            name,
            kind,
            dir,
            files: Vec::new(),
        })
        .collect();
    (found.service_pack, found.patches) = regroup(shells, read);
    found
        .order()
        .try_for_each(|entry| refuse_duplicate_targets(tree, entry))?;
    warn_on_spaced_names(&mut found);
    Ok(found)
}

/// Puts each `(index, file)` into `entries[index]`, in order, and splits off the service
/// pack, first whenever there is one.
fn regroup<F>(
    mut entries: Vec<Entry<F>>,
    files: Vec<(usize, F)>,
) -> (Option<Entry<F>>, Vec<Entry<F>>) {
    for (index, file) in files {
        entries[index].files.push(file);
    }
    let mut entries = entries.into_iter().peekable();
    let service_pack = entries.next_if(|e| e.kind == EntryKind::ServicePack);
    (service_pack, entries.collect())
}

/// What a directory entry is, after following a symbolic link that stays inside the
/// product tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Missing,
    Other(tree::Kind),
}

/// The largest `servicepack_patches.txt` read: one line for each of far more patches than
/// a product has.
const MAX_PATCH_LIST_BYTES: u64 = 16 << 20;

/// The kind of `path`; a symbolic link is followed only when what it names lies inside the
/// product tree (checked by the tree layer on the opened file).
fn resolve(tree: &Tree, path: &Path) -> Result<Kind> {
    let info = tree
        .stat_input(path)
        .map_err(|e| Error::input("inspect", path, e))?;
    Ok(match info.map(|i| i.kind) {
        None => Kind::Missing,
        Some(tree::Kind::File) => Kind::File,
        Some(tree::Kind::Dir) => Kind::Dir,
        Some(other) => Kind::Other(other),
    })
}

/// The entries of `dir` in byte-wise name order, each with its kind. A missing
/// directory is empty; a path that is not a directory is bad input.
fn list_dir(tree: &Tree, dir: &Path) -> Result<Vec<(String, PathBuf, Kind)>> {
    let entries = match tree.read_dir(dir, true) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(Error::bad_input_from(
                dir,
                "expected a directory, found a file",
                "move the file away; this path must be a directory (or absent)",
                e,
            ));
        }
        Err(e) => return Err(Error::input("list", dir, e)),
    };
    entries
        .into_iter()
        .map(|entry| {
            let path = dir.join(&entry.name);
            let kind = match entry.kind {
                tree::Kind::File => Kind::File,
                tree::Kind::Dir => Kind::Dir,
                _ => resolve(tree, &path)?,
            };
            Ok((entry.name.to_string_lossy().into_owned(), path, kind))
        })
        .collect()
}

/// Refuses an entry's directory name (or a file name) holding a control character: it
/// would reach patches.log, the applied lists and the terminal (SPEC §12).
fn refuse_control(path: &Path, name: &std::ffi::OsStr, what: &str) -> Result<()> {
    if names::has_control(name) {
        return Err(Error::bad_input(
            path,
            format!("refused {what} name: it holds a control character"),
            "rename it without control characters (newlines, escapes); nothing was changed",
        ));
    }
    Ok(())
}

/// Reads `servicepack_patches.txt`: one patch name a line; blank lines and surrounding
/// white space (CRLF included) are ignored.
fn read_covered(tree: &Tree, list: &Path, pack: &str) -> Result<Vec<String>> {
    let kind = resolve(tree, list)?;
    if let Kind::Other(other) = kind {
        return Err(Error::refused_kind(list, other));
    }
    if kind != Kind::File {
        return Err(Error::bad_input(
            list,
            format!(
                "service pack {pack} has no `{}`",
                layout::SERVICE_PACK_PATCHES
            ),
            "restore it from the service pack's distribution (an empty file is fine if it covers no patch)",
        ));
    }
    let text = tree
        .open_input(list)
        .and_then(|file| tree::read_file_capped(file, MAX_PATCH_LIST_BYTES))
        .map_err(|e| Error::input("read", list, e))?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect())
}

/// Every file under an entry's bundle directory, in name order: (path relative to it,
/// absolute path, whether it is directly inside it). Directories are walked into.
fn list_files(
    tree: &Tree,
    bundles: &Path,
    entry: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<(PathBuf, PathBuf, bool)>> {
    let mut files = Vec::new();
    walk_files(tree, bundles, Path::new(""), entry, warnings, &mut files)?;
    Ok(files)
}

/// [`list_files`] for the directory `dir`, at `relative` under the bundle directory:
/// depth first, siblings in name order.
fn walk_files(
    tree: &Tree,
    dir: &Path,
    relative: &Path,
    entry: &str,
    warnings: &mut Vec<String>,
    files: &mut Vec<(PathBuf, PathBuf, bool)>,
) -> Result<()> {
    let top_level = relative.as_os_str().is_empty();
    let items = tree
        .read_dir(dir, top_level)
        .map_err(|e| Error::input("read", dir, e))?;
    for item in items {
        let path = dir.join(&item.name);
        let own = relative.join(&item.name);
        refuse_control(&path, &item.name, "file")?;
        // A plain file or directory is what the listing says it is; only a symbolic link
        // (or something odd) is looked at again.
        let kind = match item.kind {
            tree::Kind::File => Kind::File,
            tree::Kind::Dir => Kind::Dir,
            _ => resolve(tree, &path)?,
        };
        match kind {
            Kind::File => files.push((own, path, top_level)),
            Kind::Dir if item.kind == tree::Kind::Link => {
                return Err(Error::bad_input(
                    &path,
                    "symbolic link to a directory inside a patch",
                    "replace the link with a copy of the directory",
                ));
            }
            Kind::Dir => {
                if top_level {
                    warnings.push(format!(
                        "{entry} holds the directory `{}`: carbon-patch copies and verifies it file by file, \
                         but the server's own patch verification cannot hash directories",
                        own.display()
                    ));
                }
                tree::check_depth(&own, own.components().count())
                    .map_err(|e| Error::refused(&path, &e))?;
                walk_files(tree, &path, &own, entry, warnings, files)?;
            }
            Kind::Missing | Kind::Other(_) => {
                let what = match kind {
                    Kind::Other(other) => other.describe(),
                    _ => "gone while listed",
                };
                return Err(Error::bad_input(
                    &path,
                    format!("not a regular file or directory (it is {what})"),
                    "remove it from the patch; nothing was changed",
                ));
            }
        }
    }
    Ok(())
}

/// Two files of one entry landing on one name would make the result depend on copy order.
fn refuse_duplicate_targets(tree: &Tree, entry: &Entry<Listed>) -> Result<()> {
    let mut seen: BTreeMap<&Target, &Path> = BTreeMap::new();
    for file in &entry.files {
        if let Some(first) = seen.insert(&file.target, &file.source) {
            let digest = |path: &Path| {
                tree.open_input(path)
                    .map_err(|e| Error::input("open", path, e))
                    .and_then(|f| crate::digest::md5_of(f, path))
            };
            let (message, hint) = if digest(first)? == digest(&file.source)? {
                (
                    "are the same file, byte for byte",
                    "remove one of the two identical copies from the patch",
                )
            } else {
                ("differ", "keep only one version of the bundle in the patch")
            };
            return Err(Error::bad_input(
                &file.source,
                format!(
                    "two files of {} land as {} and {message}: `{}` and this one",
                    entry.name,
                    crate::names::Shown::path(&file.target),
                    crate::names::Shown::path(first)
                ),
                hint,
            ));
        }
    }
    Ok(())
}

/// A bundle name the runtime computes with a space in it (a manifest header with a space
/// after its colon's, or before the `;`): carbon-patch uses it as it is, as the runtime
/// does, but such a name is almost always a mistake in the jar.
fn warn_on_spaced_names(found: &mut Discovery<Listed>) {
    let spaced: Vec<String> = found
        .order()
        .flat_map(|entry| {
            entry
                .files
                .iter()
                .filter(|f| f.jar && f.target.as_os_str().as_encoded_bytes().contains(&b' '))
                .map(move |f| {
                    format!(
                        "{} provides `{}` under the bundle name `{}`, which has a space in it: \
                         the server uses that name as it is, and so does carbon-patch; check the \
                         jar's Bundle-SymbolicName and Bundle-Version",
                        entry.name,
                        crate::names::Shown::path(&f.own_name),
                        crate::names::Shown::path(&f.target)
                    )
                })
        })
        .collect();
    found.warnings.extend(spaced);
}

/// Names of different lengths sort in a surprising order (`patch10000` before
/// `patch2000`); the runtime uses that order, so we keep it, and say so.
fn warn_on_uneven_names(names: &[(String, PathBuf)], warnings: &mut Vec<String>) {
    let lengths: std::collections::BTreeSet<usize> = names.iter().map(|(n, _)| n.len()).collect();
    if lengths.len() > 1 {
        let order: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
        warnings.push(format!(
            "names of different lengths sort byte by byte, as the server does: the order is {}",
            order.join(", ")
        ));
    }
}
