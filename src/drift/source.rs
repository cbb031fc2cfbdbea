//! The three sides of `drift`: a pack given as a ZIP (its central directory checked as
//! `pack` checks a distribution's, its configuration entries streamed for their MD5, never
//! unpacked), a pack given as a directory, and the live home — both read through
//! [`crate::tree::Tree`], following no link. Each side is scanned once for the MD5 of every
//! configuration file and whether it is text; a file in conflict is read again, capped, for
//! its diff.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

use super::{ROOTS, scope};
use crate::archive::check_zip_entry;
use crate::digest::Md5Digest;
use crate::error::{Error, Result};
use crate::pack::unpack::{Shared, open_zip};
use crate::tree::{Kind, Tree};

/// What a scan found of one configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub md5: Md5Digest,
    pub size: u64,
    /// UTF-8 without a NUL byte.
    pub text: bool,
}

/// One path of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A regular file, read.
    File(Facts),
    /// A link or special file (or a directory reached through a link), not read; the
    /// words say what it is.
    NotCompared(String),
}

/// How the report names a side.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    /// As given.
    pub path: String,
    /// `zip` or `directory`.
    pub kind: &'static str,
    /// The product's directory inside it (a ZIP's top directory, or the one directory a
    /// pack directory holds), when not the path itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top: Option<String>,
}

/// One side of the comparison.
#[derive(Debug)]
pub enum Source {
    /// A pack as a ZIP.
    Zip {
        path: PathBuf,
        top: String,
        zip: zip::ZipArchive<Shared>,
        /// Configuration entries: path below the top -> (index, declared size).
        entries: BTreeMap<String, (usize, u64)>,
    },
    /// A pack as a directory, or the live home.
    Dir {
        path: PathBuf,
        tree: Arc<Tree>,
        /// The product home inside `path` (`path` itself, or its one subdirectory).
        home: PathBuf,
    },
}

fn not_carbon(path: &Path, what: &str) -> Error {
    Error::bad_input(
        path,
        format!("not a Carbon product: {what}"),
        "give packs as the product's ZIP or its unpacked directory, and the live server's product home",
    )
}

fn refused(path: &Path, message: String) -> Error {
    Error::bad_input(
        path,
        format!("pack refused: {message}"),
        "give the pack as carbon-patch pack (or WSO2) wrote it; nothing was read further",
    )
}

/// Whether `relative` names the plugins directory of a Carbon product (or an Enterprise
/// Integrator's, which moves components under `wso2/`).
fn is_plugins(relative: &[u8]) -> bool {
    let relative = relative.strip_suffix(b"/").unwrap_or(relative);
    relative == b"repository/components/plugins" || relative == b"wso2/components/plugins"
}

impl Source {
    /// Opens a pack: a ZIP (one top directory holding a Carbon product) or a directory
    /// (a product home, or a directory holding exactly one).
    pub fn open_pack(path: &Path) -> Result<Source> {
        let info = std::fs::metadata(path).map_err(|e| Error::read("open", path, e))?;
        if info.is_dir() {
            Source::open_dir(path)
        } else {
            Source::open_zip(path)
        }
    }

    fn open_dir(path: &Path) -> Result<Source> {
        let tree = Arc::new(Tree::open(path, &[]).map_err(|e| Error::read("open", path, e))?);
        let holds_plugins = |home: &Path| {
            ["repository/components/plugins", "wso2/components/plugins"]
                .iter()
                .any(|p| {
                    tree.lstat(&home.join(p))
                        .ok()
                        .flatten()
                        .is_some_and(|i| i.is_dir())
                })
        };
        let home = if holds_plugins(path) {
            path.to_path_buf()
        } else {
            let entries = tree
                .read_dir(path, false)
                .map_err(|e| Error::input("list", path, e))?;
            match entries.as_slice() {
                [one] if one.kind == Kind::Dir && holds_plugins(&path.join(&one.name)) => {
                    path.join(&one.name)
                }
                _ => {
                    return Err(not_carbon(
                        path,
                        "it holds no `repository/components/plugins`, nor one directory that does",
                    ));
                }
            }
        };
        Ok(Source::Dir {
            path: path.to_path_buf(),
            tree,
            home,
        })
    }

    fn open_zip(path: &Path) -> Result<Source> {
        let mut zip = open_zip(path, |message| refused(path, message))?;
        let mut tops = std::collections::BTreeSet::new();
        let mut plugins = false;
        let mut entries = BTreeMap::new();
        for index in 0..zip.len() {
            let entry = zip
                .by_index_raw(index)
                .map_err(|e| refused(path, format!("entry {index} cannot be read ({e})")))?;
            let name = entry.name_raw().to_vec();
            check_zip_entry(&entry, "a product").map_err(|why| {
                refused(
                    path,
                    format!(
                        "entry `{}` {why}",
                        crate::names::Shown(std::ffi::OsStr::from_bytes(&name))
                    ),
                )
            })?;
            let mut parts = name.splitn(2, |&b| b == b'/');
            tops.insert(parts.next().unwrap_or_default().to_vec());
            let below = parts.next().unwrap_or_default();
            if is_plugins(below) || below.starts_with(b"repository/components/plugins/") {
                plugins = true;
            }
            if entry.is_dir() {
                continue;
            }
            // check_zip_entry holds names to UTF-8.
            let below = String::from_utf8_lossy(below).into_owned();
            if scope(&below).is_some() {
                entries.insert(below, (index, entry.size()));
            }
        }
        let top = match tops.into_iter().collect::<Vec<_>>().as_slice() {
            [one] => String::from_utf8_lossy(one).into_owned(),
            _ => {
                return Err(not_carbon(
                    path,
                    "its entries do not all lie in one top directory",
                ));
            }
        };
        if !plugins {
            return Err(not_carbon(
                path,
                &format!("it holds no `{top}/repository/components/plugins/`"),
            ));
        }
        Ok(Source::Zip {
            path: path.to_path_buf(),
            top,
            zip,
            entries,
        })
    }

    /// The live home of `layout`, read through its tree.
    pub fn live(layout: &crate::layout::Layout) -> Source {
        Source::Dir {
            path: layout.home.clone(),
            tree: layout.tree.clone(),
            home: layout.home.clone(),
        }
    }

    /// How the report names this side.
    pub fn info(&self) -> SourceInfo {
        match self {
            Source::Zip { path, top, .. } => SourceInfo {
                path: crate::names::Shown::path(path).to_string(),
                kind: "zip",
                top: Some(top.clone()),
            },
            Source::Dir { path, home, .. } => SourceInfo {
                path: crate::names::Shown::path(path).to_string(),
                kind: "directory",
                top: home
                    .strip_prefix(path)
                    .ok()
                    .filter(|t| !t.as_os_str().is_empty())
                    .map(|t| crate::names::Shown::path(t).to_string()),
            },
        }
    }

    /// Every configuration file of this side, by path relative to the product home, with
    /// its MD5 and whether it is text; links and special files are listed, not read.
    pub fn scan(&self) -> Result<BTreeMap<String, Seen>> {
        match self {
            Source::Zip {
                path, zip, entries, ..
            } => {
                let listed: Vec<(&String, &(usize, u64))> = entries.iter().collect();
                let facts = listed
                    .par_iter()
                    .map_init(
                        || zip.clone(),
                        |zip, (name, (index, size))| {
                            let entry = zip.by_index(*index).map_err(|e| {
                                refused(path, format!("entry `{name}` cannot be read ({e})"))
                            })?;
                            let facts = read_facts(entry, *size).map_err(|e| {
                                refused(path, format!("entry `{name}` cannot be read ({e})"))
                            })?;
                            Ok(((*name).clone(), Seen::File(facts)))
                        },
                    )
                    .collect::<Result<Vec<_>>>()?;
                Ok(facts.into_iter().collect())
            }
            Source::Dir { tree, home, .. } => {
                let mut found = BTreeMap::new();
                let mut files = Vec::new();
                for (root, deep) in ROOTS {
                    walk(tree, home, Path::new(root), deep, 0, &mut found, &mut files)?;
                }
                let facts = files
                    .par_iter()
                    .map(|relative: &String| {
                        let at = home.join(relative);
                        let file = tree
                            .open_own(&at)
                            .map_err(|e| Error::input("open", &at, e))?;
                        let size = file
                            .metadata()
                            .map_err(|e| Error::read("inspect", &at, e))?
                            .len();
                        let facts =
                            read_facts(file, size).map_err(|e| Error::read("read", &at, e))?;
                        Ok((relative.clone(), Seen::File(facts)))
                    })
                    .collect::<Result<Vec<_>>>()?;
                found.extend(facts);
                Ok(found)
            }
        }
    }

    /// The bytes of the configuration file `relative`, or `None` when it is longer than
    /// `cap` (nothing more is read then).
    pub fn read(&self, relative: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        let mut bytes = Vec::new();
        match self {
            Source::Zip {
                path, zip, entries, ..
            } => {
                let Some(&(index, size)) = entries.get(relative) else {
                    return Ok(Some(bytes));
                };
                if size > cap {
                    return Ok(None);
                }
                let mut zip = zip.clone();
                let entry = zip.by_index(index).map_err(|e| {
                    refused(path, format!("entry `{relative}` cannot be read ({e})"))
                })?;
                entry.take(cap + 1).read_to_end(&mut bytes).map_err(|e| {
                    refused(path, format!("entry `{relative}` cannot be read ({e})"))
                })?;
            }
            Source::Dir { tree, home, .. } => {
                let at = home.join(relative);
                let file = tree
                    .open_own(&at)
                    .map_err(|e| Error::input("open", &at, e))?;
                file.take(cap + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::read("read", &at, e))?;
            }
        }
        Ok((bytes.len() as u64 <= cap).then_some(bytes))
    }
}

/// Lists the configuration below `dir` (relative to `home`): files to read into `files`,
/// links and special files into `found` as not compared. `deep`: whether subdirectories
/// count.
fn walk(
    tree: &Tree,
    home: &Path,
    dir: &Path,
    deep: bool,
    depth: usize,
    found: &mut BTreeMap<String, Seen>,
    files: &mut Vec<String>,
) -> Result<()> {
    let at = home.join(dir);
    crate::tree::check_depth(dir, depth).map_err(|e| Error::refused(&at, &e))?;
    let entries = match tree.read_dir(&at, false) {
        Ok(entries) => entries,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(());
        }
        Err(e) if matches!(crate::tree::refusal(&e), Some(crate::tree::Refused::Link)) => {
            // The directory itself, or one above it, is a link: what lies below is not
            // read, and says so (rather than look removed).
            found.insert(
                text(dir),
                Seen::NotCompared(
                    "is, or lies behind, a symbolic link, which drift does not follow".to_string(),
                ),
            );
            return Ok(());
        }
        Err(e) => return Err(Error::input("list", &at, e)),
    };
    for entry in entries {
        let relative = dir.join(&entry.name);
        let name = text(&relative);
        match entry.kind {
            Kind::Dir if deep => walk(tree, home, &relative, deep, depth + 1, found, files)?,
            Kind::Dir => {}
            Kind::File if scope(&name).is_some() => files.push(name),
            Kind::File => {}
            kind if scope(&name).is_some() => {
                found.insert(
                    name,
                    Seen::NotCompared(format!(
                        "is {}, which drift does not {}",
                        kind.describe(),
                        if kind == Kind::Link { "follow" } else { "read" }
                    )),
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// A relative path as the report shows it (`/`-separated, lossy UTF-8).
fn text(path: &Path) -> String {
    String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned()
}

/// Streams `input` (declared `size` bytes; more is refused) for its MD5 and whether it
/// is text (UTF-8 with no NUL byte).
fn read_facts(mut input: impl Read, size: u64) -> io::Result<Facts> {
    let mut hasher = fast_md5::Md5::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut text = TextCheck::default();
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        if total > size {
            return Err(io::Error::other(format!(
                "it holds more than the {size} bytes it declares"
            )));
        }
        hasher.update(&buffer[..n]);
        text.update(&buffer[..n]);
    }
    Ok(Facts {
        md5: Md5Digest(hasher.finalize()),
        size: total,
        text: text.finish(),
    })
}

/// Whether a stream is UTF-8 without NUL, fed chunk by chunk (a character may straddle
/// two chunks).
#[derive(Default)]
struct TextCheck {
    binary: bool,
    carry: Vec<u8>,
}

impl TextCheck {
    fn update(&mut self, chunk: &[u8]) {
        if self.binary {
            return;
        }
        if chunk.contains(&0) {
            self.binary = true;
            return;
        }
        let joined;
        let bytes = if self.carry.is_empty() {
            chunk
        } else {
            joined = [self.carry.as_slice(), chunk].concat();
            &joined
        };
        let carry = match std::str::from_utf8(bytes) {
            Ok(_) => Vec::new(),
            Err(e) if e.error_len().is_none() => bytes[e.valid_up_to()..].to_vec(),
            Err(_) => {
                self.binary = true;
                Vec::new()
            }
        };
        self.carry = carry;
    }

    fn finish(self) -> bool {
        !self.binary && self.carry.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_utf8_without_nul_even_across_chunks() {
        let check = |chunks: &[&[u8]]| {
            let mut t = TextCheck::default();
            for c in chunks {
                t.update(c);
            }
            t.finish()
        };
        assert!(check(&[b"<a>\xc3", b"\xa9</a>\n"]));
        assert!(!check(&[b"<a>\xc3"]));
        assert!(!check(&[b"ab\0c"]));
        assert!(!check(&[b"\xff\xfe"]));
        assert!(check(&[]));
    }
}
