//! Installing and removing patch archives (SPEC §14), crash-safe in the journal's manner:
//!
//! - **stage**: everything the archive brings (resource files, the patch directory, its
//!   README) and the record (progress `adding`) are written under a temporary name in the
//!   records directory, made durable, and renamed into place: before that rename nothing
//!   of the product has changed; after it, any later run can finish the job alone;
//! - **add**: the patch directory is renamed into patches; each exploded web application
//!   is set aside among the originals; for each resource, the file it replaces is kept
//!   among the originals (copied, flushed, renamed) before the staged file replaces it
//!   (copied beside it, flushed, renamed); then the record says `added`. Each step
//!   looks first at whether it was done, so a re-run after a kill goes on where it stopped;
//! - **remove**: the record says `removing` first; each resource, last first, gets its
//!   original back (a file the archive added is moved into the archive, and a file the
//!   operator changed since is archived before it is replaced); exploded web applications
//!   go into the archive so the server deploys the restored `.war`; the patch directory and
//!   then the record directory are set aside. Nothing is deleted.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::archive::{Archive, Lands};
use crate::error::{Error, Result};
use crate::installed::{self, Place, Progress, Record};
use crate::layout::Layout;
use crate::metadata;
use crate::tree::Kind;

use super::steps::{self, sync_dir, sync_parent};
use super::{executor, hide_dirs, relocate, write_if_changed};

/// Writes everything `record` needs from `archive` into the record's directory, in one
/// durable rename (see the module's doc).
pub fn stage(layout: &Layout, archive: &Archive, record: &Record) -> Result<()> {
    let tree = &layout.tree;
    steps::create_dir_all(tree, &layout.installed)?;
    let temp = layout.installed.join(crate::tree::temp_name());
    steps::create_dir(tree, &temp).map_err(|e| Error::write("create directory", &temp, e))?;
    let staged = Place { dir: temp.clone() };
    let written = (|| {
        let batch = steps::Batch::begin(tree, &temp)?;
        let mut files = Vec::new();
        let mut dirs = vec![temp.clone()];
        let make_dir = |dir: &Path, dirs: &mut Vec<PathBuf>| -> Result<()> {
            for ancestor in dir
                .ancestors()
                .take_while(|a| a.starts_with(&temp) && *a != temp)
            {
                if !dirs.iter().any(|d| d == ancestor) {
                    dirs.push(ancestor.to_path_buf());
                }
            }
            steps::create_dir_all(tree, dir)
        };
        if record.placed_patch_dir {
            make_dir(&staged.patch(&record.patch_dir), &mut dirs)?;
        }
        let mut reader = archive.reader()?;
        for member in &archive.members {
            let to = match &member.lands {
                Lands::Patch(inside) if record.placed_patch_dir => {
                    staged.patch(&record.patch_dir).join(inside)
                }
                Lands::Patch(_) => continue,
                Lands::Document => staged.documents().join(&member.name),
                Lands::Home(relative) | Lands::Webapp { war: relative, .. } => {
                    let encoded = metadata::encode_path(relative);
                    if !record.resources.iter().any(|r| r.path == encoded) {
                        continue;
                    }
                    staged.file(relative)
                }
            };
            make_dir(to.parent().unwrap_or(&temp), &mut dirs)?;
            let mut file = steps::create_file(tree, &to)?;
            crate::fault::step().map_err(|e| Error::write("write", &to, e))?;
            reader.copy(member, &mut file)?;
            file.set_permissions(std::fs::Permissions::from_mode(member.mode))
                .map_err(|e| Error::write("set the mode of", &to, e))?;
            files.push(to);
        }
        let record_path = staged.record();
        let mut file = steps::create_file(tree, &record_path)?;
        file.write_all(&metadata::render_json(record))
            .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(0o644)))
            .map_err(|e| Error::write("write", &record_path, e))?;
        files.push(record_path);
        batch.flush(&files, &dirs)
    })();
    if let Err(e) = written {
        let _ = tree.remove_dir_all(&temp);
        return Err(e);
    }
    let place = Place::of(layout, &record.id);
    steps::rename(tree, &temp, &place.dir, "rename into")?;
    sync_dir(tree, &layout.installed)
}

/// Finishes whatever `record`'s operation left to do (see the module's doc). Returns
/// lines for the log, saying what it did.
pub fn finish(layout: &Layout, record: &Record) -> Result<Vec<String>> {
    match record.progress {
        Progress::Adding => add(layout, record),
        Progress::Removing => remove(layout, record),
        Progress::Added => Ok(Vec::new()),
    }
}

/// Marks `record` as being removed (durably), then removes it.
pub fn begin_remove(layout: &Layout, record: &Record) -> Result<Vec<String>> {
    let removing = Record {
        progress: Progress::Removing,
        ..record.clone()
    };
    let place = Place::of(layout, &record.id);
    write_if_changed(
        &layout.tree,
        &place.record(),
        &metadata::render_json(&removing),
    )?;
    remove(layout, &removing)
}

fn exists(layout: &Layout, path: &Path) -> Result<Option<Kind>> {
    match layout.tree.lstat(path) {
        Ok(info) => Ok(info.map(|i| i.kind)),
        Err(e) => Err(Error::refused(path, &e)),
    }
}

/// A free name for `path`: itself, else `<name>~2`, `~3`, ...
fn free_name(layout: &Layout, path: &Path) -> Result<PathBuf> {
    let mut candidate = path.to_path_buf();
    let mut n = 1;
    while exists(layout, &candidate)?.is_some() {
        n += 1;
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!("~{n}"));
        candidate = path.with_file_name(name);
    }
    Ok(candidate)
}

/// Removes what an interrupted run on `record` left under carbon-patch's temporary names:
/// in its record directory, beside each of its resources and their kept originals, and
/// beside each exploded web application. Those names are carbon-patch's alone (refused
/// as input), and every one of them is a copy whose original is still in place.
fn clear_temps(layout: &Layout, record: &Record) -> Result<()> {
    let tree = &layout.tree;
    let place = Place::of(layout, &record.id);
    let mut dirs = std::collections::BTreeSet::new();
    dirs.insert(place.dir.clone());
    dirs.insert(layout.installed.clone());
    dirs.insert(layout.archive.clone());
    // The patch directory is copied into patches under a temporary name across filesystems.
    dirs.insert(layout.patches.clone());
    let relatives = record
        .resources
        .iter()
        .map(|r| r.relative())
        .chain(
            record
                .exploded
                .iter()
                .filter_map(|e| metadata::decode_path(e)),
        )
        .chain(webapp_dirs(record));
    for relative in relatives {
        if let Some(parent) = relative.parent() {
            dirs.insert(layout.home.join(parent));
            dirs.insert(place.original(parent));
        }
    }
    // Where an exploded web application is archived across filesystems, its copy is
    // staged beside its place in this patch's archive directories.
    let suffix = format!("-removed-{}", record.id);
    if let Ok(entries) = tree.read_dir(&layout.archive, false) {
        for entry in entries {
            if entry.name.to_string_lossy().ends_with(&suffix) {
                for exploded in webapp_dirs(record) {
                    if let Some(parent) = exploded.parent() {
                        dirs.insert(layout.archive.join(&entry.name).join(parent));
                    }
                }
            }
        }
    }
    for dir in dirs {
        let Ok(entries) = tree.read_dir(&dir, false) else {
            continue;
        };
        for entry in entries
            .iter()
            .filter(|e| crate::layout::is_temp_name(&e.name))
        {
            let path = dir.join(&entry.name);
            match entry.kind {
                Kind::Dir => steps::remove_dir_all(tree, &path, "remove a partial copy")?,
                _ => steps::remove_file(tree, &path)?,
            }
        }
    }
    Ok(())
}

fn add(layout: &Layout, record: &Record) -> Result<Vec<String>> {
    let tree = &layout.tree;
    let place = Place::of(layout, &record.id);
    clear_temps(layout, record)?;
    let mut done = Vec::new();
    let staged = place.patch(&record.patch_dir);
    if record.placed_patch_dir && exists(layout, &staged)?.is_some() {
        let to = layout.patches.join(&record.patch_dir);
        let copied_already = exists(layout, &to)? == Some(Kind::Dir)
            && installed::files_of(layout, &to)? == installed::files_of(layout, &staged)?;
        if copied_already {
            // Copied across filesystems, and interrupted before the staged copy was removed.
            steps::remove_dir_all(tree, &staged, "remove after copying")?;
            sync_parent(tree, &staged)?;
        } else if exists(layout, &to)?.is_some() {
            return Err(Error::bad_input(
                &to,
                format!(
                    "{} appeared while {} was being added",
                    record.patch_dir, record.id
                ),
                format!(
                    "move it out of patches, then run the command again: the staged copy is in `{}`",
                    layout.display(&staged)
                ),
            ));
        }
        if !copied_already {
            relocate::move_dir(tree, &staged, &to)?;
            sync_dir(tree, &layout.patches)?;
            sync_parent(tree, &staged)?;
        }
        done.push(format!("Placed {} from {}", record.patch_dir, record.id));
    }
    for encoded in &record.exploded {
        let relative = metadata::decode_path(encoded).unwrap_or_default();
        let at = layout.home.join(&relative);
        if exists(layout, &at)? == Some(Kind::Dir) {
            let keep = free_name(layout, &place.original(&relative))?;
            steps::create_dir_all(tree, keep.parent().unwrap_or(&place.dir))?;
            relocate::move_dir(tree, &at, &keep)?;
            sync_parent(tree, &keep)?;
            sync_parent(tree, &at)?;
            done.push(format!(
                "Set aside the exploded web application {} in {}",
                relative.display(),
                layout.display(&keep)
            ));
        }
    }
    for resource in &record.resources {
        let relative = resource.relative();
        let dest = layout.home.join(&relative);
        let current = installed::current_md5(layout, &relative)?;
        if current == Some(resource.after) {
            continue;
        }
        if current != resource.before {
            return Err(Error::bad_input(
                &dest,
                format!("changed while {} was being added", record.id),
                format!(
                    "put back the file it held (MD5 {}) or remove {} (`carbon-patch remove {}`)",
                    resource
                        .before
                        .map_or_else(|| "none: it did not exist".into(), |m| m.to_string()),
                    record.id,
                    record.id
                ),
            ));
        }
        let parent = dest.parent().unwrap_or(&layout.home);
        let mode = match resource.before {
            Some(_) => {
                let keep = place.original(&relative);
                if exists(layout, &keep)?.is_none() {
                    let keep_dir = keep.parent().unwrap_or(&place.dir);
                    steps::create_dir_all(tree, keep_dir)?;
                    let (temp, _, _) = steps::copy_to_temp(tree, &dest, keep_dir, None)?;
                    steps::sync_file(tree, &temp)?;
                    steps::rename(tree, &temp, &keep, "rename into")?;
                    sync_dir(tree, keep_dir)?;
                }
                mode_of(layout, &dest)?.unwrap_or(resource.mode)
            }
            None => resource.mode,
        };
        steps::create_dir_all(tree, parent)?;
        replace(layout, &place.file(&relative), &dest, mode)?;
        done.push(format!(
            "Placed {}(MD5:{}) from {}",
            relative.display(),
            resource.after,
            record.id
        ));
    }
    let added = Record {
        progress: Progress::Added,
        ..record.clone()
    };
    write_if_changed(tree, &place.record(), &metadata::render_json(&added))?;
    Ok(done)
}

fn remove(layout: &Layout, record: &Record) -> Result<Vec<String>> {
    let tree = &layout.tree;
    let place = Place::of(layout, &record.id);
    clear_temps(layout, record)?;
    let mut done = Vec::new();
    let mut archive_dir: Option<PathBuf> = None;
    // A new numbered directory of the archive, made on first use; the free name in it for
    // `relative`.
    let mut archived = |relative: &Path| -> Result<PathBuf> {
        let dir = match &archive_dir {
            Some(dir) => dir.clone(),
            None => {
                let dir = executor::new_numbered_dir(
                    tree,
                    &layout.archive,
                    &format!("removed-{}", record.id),
                )?;
                archive_dir = Some(dir.clone());
                dir
            }
        };
        let to = free_name(layout, &dir.join(relative))?;
        steps::create_dir_all(tree, to.parent().unwrap_or(&dir))?;
        Ok(to)
    };
    for resource in record.resources.iter().rev() {
        let relative = resource.relative();
        let dest = layout.home.join(&relative);
        let current = installed::current_md5(layout, &relative)?;
        match resource.before {
            Some(before) if current == Some(before) => {}
            // Never replaced (an add interrupted before it came to this file): nothing of
            // the patch's is there to take out.
            Some(_) if exists(layout, &place.original(&relative))?.is_none() => {}
            Some(before) => {
                let mode = mode_of(layout, &dest)?;
                if current.is_some() && current != Some(resource.after) {
                    // The operator's edits: a copy is kept, and the file is replaced
                    // whole below, never missing in between.
                    let kept = archived(&relative)?;
                    let (temp, _, _) = steps::copy_to_temp(tree, &dest, &layout.archive, None)?;
                    steps::sync_file(tree, &temp)?;
                    steps::rename(tree, &temp, &kept, "rename into")?;
                    sync_parent(tree, &kept)?;
                    done.push(format!(
                        "Archived {} (changed since {} placed it) to {}",
                        relative.display(),
                        record.id,
                        layout.display(&kept)
                    ));
                }
                let original = place.original(&relative);
                let mode = match mode {
                    Some(mode) => mode,
                    None => mode_of(layout, &original)?.unwrap_or(resource.mode),
                };
                steps::create_dir_all(tree, dest.parent().unwrap_or(&layout.home))?;
                replace(layout, &original, &dest, mode)?;
                done.push(format!(
                    "Restored {}(MD5:{}) replaced by {}",
                    relative.display(),
                    before,
                    record.id
                ));
            }
            None if current.is_some() => {
                let to = archived(&relative)?;
                move_out(layout, &dest, &to)?;
                done.push(format!(
                    "Archived {} (added by {}) to {}",
                    relative.display(),
                    record.id,
                    layout.display(&to)
                ));
            }
            None => {}
        }
    }
    // Each web application's exploded directory: the one set aside at `add` comes back
    // (whatever the server exploded since is archived first); one that did not exist then
    // is archived, so the server deploys the restored `.war` afresh.
    for exploded in webapp_dirs(record) {
        let at = layout.home.join(&exploded);
        let kept = place.original(&exploded);
        let was_kept = record.exploded.contains(&metadata::encode_path(&exploded));
        let original_waits = was_kept && exists(layout, &kept)? == Some(Kind::Dir);
        if exists(layout, &at)? == Some(Kind::Dir) && (original_waits || !was_kept) {
            let to = archived(&exploded)?;
            move_out(layout, &at, &to)?;
            done.push(format!(
                "Archived the exploded web application {} to {}",
                exploded.display(),
                layout.display(&to)
            ));
        }
        if original_waits {
            relocate::move_dir(tree, &kept, &at)?;
            sync_parent(tree, &at)?;
            sync_parent(tree, &kept)?;
            done.push(format!(
                "Restored the exploded web application {}",
                exploded.display()
            ));
        }
    }
    // The directories it made for its files go again when nothing else came to live there.
    for encoded in &record.created_dirs {
        let dir = layout
            .home
            .join(metadata::decode_path(encoded).unwrap_or_default());
        if exists(layout, &dir)? == Some(Kind::Dir) {
            match crate::fault::step().and_then(|()| tree.remove_empty_dir(&dir)) {
                Ok(()) => sync_parent(tree, &dir)?,
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {}
                Err(e) => return Err(Error::write("remove the empty directory", &dir, e)),
            }
        }
    }
    let patch = layout.patches.join(&record.patch_dir);
    let mut moves: Vec<(&Path, PathBuf)> = Vec::new();
    if exists(layout, &patch)? == Some(Kind::Dir) {
        moves.push((&patch, layout.patches.join(crate::layout::REMOVED_DIR)));
    }
    moves.push((&place.dir, layout.installed.join(installed::REMOVED)));
    hide_dirs(tree, moves, |from, to| {
        if from == patch {
            done.push(format!(
                "Set aside {} in {}",
                record.patch_dir,
                layout.display(to)
            ));
        }
    })?;
    Ok(done)
}

/// The exploded directory of every web application `record` placed.
fn webapp_dirs(record: &Record) -> Vec<PathBuf> {
    record
        .resources
        .iter()
        .filter_map(|r| {
            let war = r.relative();
            let name = war.file_name()?.to_str()?.strip_suffix(".war")?;
            (war.parent() == Some(Path::new(crate::archive::WEBAPPS)) && !name.is_empty())
                .then(|| war.with_file_name(name))
        })
        .collect()
}

/// The permission bits of the file at `path`, `None` when nothing is there.
fn mode_of(layout: &Layout, path: &Path) -> Result<Option<u32>> {
    match layout.tree.lstat(path) {
        Ok(info) => Ok(info.filter(|i| i.is_file()).map(|i| i.mode & 0o7777)),
        Err(e) => Err(Error::refused(path, &e)),
    }
}

/// Replaces `dest` with a copy of `from`: copied beside it, given `mode`, flushed, renamed.
fn replace(layout: &Layout, from: &Path, dest: &Path, mode: u32) -> Result<()> {
    let tree = &layout.tree;
    let parent = dest.parent().unwrap_or(&layout.home);
    let (temp, _, _) = steps::copy_to_temp(tree, from, parent, Some(mode))?;
    let renamed =
        steps::sync_file(tree, &temp).and_then(|()| steps::rename(tree, &temp, dest, "replace"));
    if let Err(e) = renamed {
        let _ = tree.remove_file(&temp);
        return Err(e);
    }
    sync_dir(tree, parent)
}

/// Moves the file or directory `from` to `to` (a new name): by a rename, else (another
/// filesystem) by a durable copy and a removal.
fn move_out(layout: &Layout, from: &Path, to: &Path) -> Result<()> {
    let tree = &layout.tree;
    if exists(layout, from)? == Some(Kind::Dir) {
        relocate::move_dir(tree, from, to)?;
    } else {
        match steps::try_rename(tree, from, to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                // `to` is in the archive: staged in its own directory, where a later run
                // looks for leftovers.
                let (temp, _, _) = steps::copy_to_temp(tree, from, &layout.archive, None)?;
                steps::sync_file(tree, &temp)?;
                steps::rename(tree, &temp, to, "rename into")?;
                sync_parent(tree, to)?;
                steps::remove_file(tree, from)?;
            }
            Err(e) => return Err(Error::write("move", from, e)),
        }
    }
    sync_parent(tree, to)?;
    sync_parent(tree, from)
}
