//! Everything that can fail a write, found while planning (SPEC §12): a run that starts
//! writing finishes, or stops only for the machine's reasons. Checked before the first
//! write: that every place a run writes can be written (and is no link or special file),
//! and that the plan's files fit the tree — no file where a directory must go, or the
//! other way round, between two entries or against what plugins hold.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::plan::{ActionKind, Plan};
use crate::tree::{Kind, Tree};

/// Refuses, before anything is written, when a place a writing run writes to cannot be
/// written: plugins, the patches and metadata directories, the archive, both applied
/// lists and patches.log (each, or the directory it would be created in). A symbolic link
/// or a special file at any of them is bad input; a directory or file this user cannot
/// write into (a read-only mode or mount, which stops root too) stops the run, exit 3,
/// with nothing changed — so nothing is ever applied and left unrecorded.
pub fn check_writable(layout: &Layout) -> Result<()> {
    let tree = &*layout.tree;
    let dirs = [
        &layout.plugins,
        &layout.patches,
        &layout.backup,
        &layout.metadata,
        &layout.archive,
    ];
    for dir in dirs {
        check_place(tree, dir, Kind::Dir)?;
    }
    // Where a rollback (or an apply finishing one) sets entries aside: never a link. Only
    // looked at when there: a run that sets nothing aside needs neither directory.
    for root in [&layout.patches, &layout.servicepacks] {
        let hidden = root.join(crate::layout::ROLLED_BACK_DIR);
        if tree.lstat(&hidden).is_ok_and(|i| i.is_some()) {
            check_place(tree, &hidden, Kind::Dir)?;
        }
    }
    for file in layout.metadata_files() {
        check_place(tree, file, Kind::File)?;
    }
    // The log and the history are appended to, not replaced: the files themselves must
    // take writes.
    for appended in [&layout.log, &layout.history] {
        check_place(tree, appended, Kind::File)?;
        if tree.lstat(appended).is_ok_and(|i| i.is_some()) {
            check_access(tree, appended)?;
        }
    }
    Ok(())
}

/// Checks that `path` is absent or of `kind` (never a link), and that the directory a
/// change of it is made in — itself for a directory that exists, else the nearest
/// existing directory above it — is writable.
fn check_place(tree: &Tree, path: &Path, kind: Kind) -> Result<()> {
    let mut at = path;
    let mut first = true;
    loop {
        let info = tree.lstat(at).map_err(|e| Error::input("inspect", at, e))?;
        match info {
            Some(info) if info.kind == Kind::Link => {
                return Err(Error::refused_link(at));
            }
            Some(info) if first && info.kind != kind => {
                return Err(Error::refused_kind(path, info.kind));
            }
            Some(info) if info.is_dir() => return check_access(tree, at),
            Some(_) if first => {}
            // Not a directory above: the write would fail; say so now.
            Some(_) => return Err(Error::write("write into", at, not_a_dir())),
            None => {}
        }
        first = false;
        match at.parent() {
            Some(parent) if tree.holds(parent) => at = parent,
            _ => return Ok(()),
        }
    }
}

fn not_a_dir() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::ENOTDIR)
}

/// Whether this user may write `path`, as the kernel will judge a write.
fn check_access(tree: &Tree, path: &Path) -> Result<()> {
    tree.check_writable(path)
        .map_err(|e| Error::write("write into", path, e))
}

/// Where one file an entry provides lands, for [`check_targets`].
pub struct Landing<'a> {
    pub target: &'a Path,
    pub entry: &'a str,
    pub source: &'a Path,
}

/// Refuses files that cannot all be put in place: two targets of which one is a directory
/// of the other (a file `x` and a file `x/y`, in one entry or two) and, with
/// `in_plugins`, a target where plugins hold a directory or a link, or one below
/// something in plugins that is not a directory. Needs only the listing, so it runs
/// before the lock and before any digest.
pub fn check_targets<'a>(
    layout: &Layout,
    landings: impl IntoIterator<Item = Landing<'a>>,
    in_plugins: bool,
) -> Result<()> {
    let by_target: BTreeMap<&Path, Landing<'a>> =
        landings.into_iter().map(|l| (l.target, l)).collect();
    if let Some((file, below)) = file_over_dir(&by_target) {
        let (a, b) = (&by_target[file], &by_target[below]);
        return Err(Error::bad_input(
            b.source,
            format!(
                "{} provides `{}` inside `{}`, which {} provides as a file (`{}`)",
                b.entry,
                crate::names::Shown::path(below),
                crate::names::Shown::path(file),
                a.entry,
                layout.display(a.source)
            ),
            "a name is either a file or a directory in plugins: remove one of the two from its patch; nothing was changed",
        ));
    }
    if !in_plugins {
        return Ok(());
    }
    by_target
        .keys()
        .try_for_each(|target| check_in_plugins(layout, target))
}

/// Refuses a plan whose writes cannot all be put in place in plugins (see
/// [`check_targets`]): for rollback, whose restores come from the backup.
pub fn check_writes(layout: &Layout, plan: &Plan) -> Result<()> {
    plan.actions
        .iter()
        .filter(|a| !matches!(a.kind, ActionKind::Archive))
        .try_for_each(|a| check_in_plugins(layout, &a.target))
}

/// Refuses `target` (relative to plugins) when plugins hold a directory or a link there,
/// or something other than a directory above it.
fn check_in_plugins(layout: &Layout, target: &Path) -> Result<()> {
    let tree = &*layout.tree;
    let target = layout.plugins.join(target);
    match tree
        .lstat(&target)
        .map_err(|e| Error::input("inspect", &target, e))?
    {
        Some(info) if info.kind == Kind::Dir => {
            return Err(Error::bad_input(
                &target,
                "a patch provides a file where plugins hold a directory",
                "move the directory out of plugins, or remove the file from its patch; nothing was changed",
            ));
        }
        Some(info) if info.kind == Kind::Link => {
            return Err(Error::refused_link(&target));
        }
        _ => {}
    }
    let mut at = target.parent();
    while let Some(dir) = at.filter(|d| *d != layout.plugins) {
        match tree
            .lstat(dir)
            .map_err(|e| Error::input("inspect", dir, e))?
        {
            Some(info) if info.kind == Kind::Dir => break,
            Some(info) if info.kind == Kind::Link => {
                return Err(Error::refused_link(dir));
            }
            Some(info) => return Err(refused_kind_for_dir(dir, info.kind)),
            None => {}
        }
        at = dir.parent();
    }
    Ok(())
}

fn refused_kind_for_dir(path: &Path, kind: Kind) -> Error {
    if kind == Kind::File {
        Error::bad_input(
            path,
            "a patch provides files inside this name, but plugins hold a file here",
            "move the file out of plugins, or remove the directory from its patch; nothing was changed",
        )
    } else {
        Error::refused_kind(path, kind)
    }
}

/// The first pair of targets where one lies inside the other: (the file, the one below it).
fn file_over_dir<'a, V>(targets: &BTreeMap<&'a Path, V>) -> Option<(&'a Path, &'a Path)> {
    targets.keys().find_map(|below| {
        below
            .ancestors()
            .skip(1)
            .find_map(|dir| targets.get_key_value(dir))
            .map(|(file, _)| (*file, *below))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets<'a>(names: &[&'a str]) -> BTreeMap<&'a Path, ()> {
        names.iter().map(|t| (Path::new(*t), ())).collect()
    }

    #[test]
    fn a_file_and_a_directory_of_one_name_collide() {
        let both = targets(&["a.jar", "x", "x/inner/y.class"]);
        assert_eq!(
            file_over_dir(&both),
            Some((Path::new("x"), Path::new("x/inner/y.class")))
        );
        assert_eq!(file_over_dir(&targets(&["x.jar", "x/y", "xy/z"])), None);
    }
}

/// Refuses, before anything is written, a resource of a patch archive that cannot be
/// placed: a link or a directory where it goes, a link on the way, or a directory this
/// user cannot write into; and an exploded web application that is not a plain directory.
pub fn check_resources<'a>(
    layout: &Layout,
    records: impl IntoIterator<Item = &'a crate::installed::Record>,
) -> Result<()> {
    let tree = &*layout.tree;
    for record in records {
        for resource in &record.resources {
            check_place(tree, &layout.home.join(resource.relative()), Kind::File)?;
        }
        for exploded in &record.exploded {
            let dir = layout
                .home
                .join(crate::metadata::decode_path(exploded).unwrap_or_default());
            check_place(tree, &dir, Kind::Dir)?;
        }
    }
    check_place(tree, &layout.installed, Kind::Dir)
}

/// What a run will need on the filesystem of the patches directory, and what is free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes needed: the backup (when there is none yet) and every archive staged.
    pub needed: u64,
    /// Bytes free for this user.
    pub free: u64,
}

impl Space {
    /// "needs 412 MB, 120 MB free: 292 MB missing" when it does not fit.
    pub fn shortfall(&self) -> Option<String> {
        (self.needed > self.free).then(|| {
            format!(
                "needs {} MB on the filesystem of the patches directory, {} MB free: {} MB missing",
                mb(self.needed),
                mb(self.free),
                mb(self.needed - self.free)
            )
        })
    }
}

fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// The space a run needs (the backup when none exists yet — a full copy, though a
/// filesystem that clones takes next to nothing — and each archive's files, staged and,
/// for resources, their originals kept) against what is free.
pub fn space(layout: &Layout, archives: &[crate::archive::Archive]) -> Result<Space> {
    let tree = &*layout.tree;
    let mut needed: u64 = archives
        .iter()
        .flat_map(|a| &a.members)
        .map(|m| {
            if m.lands.home().is_some() {
                m.size * 2
            } else {
                m.size
            }
        })
        .sum();
    if tree.lstat(&layout.backup).is_ok_and(|i| i.is_none()) {
        let dir = tree
            .dir(&layout.plugins, false)
            .map_err(|e| Error::input("list", &layout.plugins, e))?;
        needed += dir_size(&dir)?;
    }
    let at = [&layout.metadata, &layout.patches]
        .into_iter()
        .find(|p| tree.lstat(p).is_ok_and(|i| i.is_some_and(|i| i.is_dir())))
        .unwrap_or(&layout.patches);
    let fd = tree
        .open_dir(at, false)
        .map_err(|e| Error::input("open", at, e))?;
    let stat = rustix::fs::fstatvfs(&fd).map_err(|e| Error::read("inspect", at, e.into()))?;
    Ok(Space {
        needed,
        free: stat.f_bavail.saturating_mul(stat.f_frsize),
    })
}

fn dir_size(dir: &crate::tree::Dir) -> Result<u64> {
    let mut total = 0;
    for entry in dir
        .entries()
        .map_err(|e| Error::input("list", dir.path(), e))?
    {
        match entry.kind {
            Kind::File => {
                total += dir
                    .stat(&entry.name)
                    .map_err(|e| Error::input("inspect", dir.path().join(&entry.name), e))?
                    .size;
            }
            Kind::Dir => {
                let sub = dir
                    .open_dir(&entry.name)
                    .map_err(|e| Error::input("open", dir.path().join(&entry.name), e))?;
                total += dir_size(&sub)?;
            }
            _ => {}
        }
    }
    Ok(total)
}

/// Refuses (exit 3, nothing changed) a run that would not fit on the disk.
pub fn check_space(layout: &Layout, archives: &[crate::archive::Archive]) -> Result<()> {
    let space = space(layout, archives)?;
    match space.shortfall() {
        Some(why) => Err(Error::write(
            "find room on the filesystem of",
            &layout.patches,
            std::io::Error::other(why),
        )),
        None => Ok(()),
    }
}
