//! Patch archives (SPEC §14): a WSO2 patch as shipped — a ZIP, or a directory of the same
//! shape — read and validated whole before anything is written. This module owns what an
//! archive may hold (entry names, kinds, sizes and counts: a zip bomb is refused from its
//! central directory and from the bytes actually read), where each of its files lands
//! ([`Lands`]), and streaming a file out of it. It writes nothing.

pub mod applies;
pub mod readme;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use readme::Readme;

use crate::digest::Md5Digest;
use crate::error::{Error, Result};
use crate::tree::{Kind, Tree};

/// The most files and directories an archive may hold.
pub const MAX_ENTRIES: usize = 20_000;
/// The most bytes an archive's files may hold together, uncompressed (the largest WSO2
/// patches hold a few hundred MB).
pub const MAX_TOTAL: u64 = 4 << 30;
/// The highest compression ratio a file over [`RATIO_FLOOR`] bytes may show: deflate
/// reaches a few dozen on XML, a thousand only on padding made to explode.
pub const MAX_RATIO: u64 = 200;
/// Files up to this size may compress as well as they like.
pub const RATIO_FLOOR: u64 = 1 << 20;
/// The largest README read.
const MAX_README: u64 = 1 << 20;

/// Where WSO2 puts the web applications of a patch, and where they go.
const WEBAPPS_FROM: [&str; 2] = ["resources", "webapps"];
/// The product's web application directory, relative to PRODUCT_HOME.
pub const WEBAPPS: &str = "repository/deployment/server/webapps";

/// Where one file of an archive goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lands {
    /// Into the patch directory, at this path inside it.
    Patch(PathBuf),
    /// Into the product, at this path relative to PRODUCT_HOME.
    Home(PathBuf),
    /// A web application: the `.war` into the webapps directory, whose exploded directory
    /// (`exploded`, relative to PRODUCT_HOME) must go so the server deploys it again.
    Webapp { war: PathBuf, exploded: PathBuf },
    /// README, LICENSE and other loose texts: kept with the record only.
    Document,
}

impl Lands {
    /// Where the file lands in the product, relative to PRODUCT_HOME (`None`: in the patch
    /// directory, or nowhere).
    pub fn home(&self) -> Option<&Path> {
        match self {
            Lands::Home(path) | Lands::Webapp { war: path, .. } => Some(path),
            _ => None,
        }
    }
}

/// One regular file of an archive.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its path below the archive's top directory.
    pub name: PathBuf,
    /// Its length.
    pub size: u64,
    /// Its MD5, read when the archive was opened.
    pub md5: Md5Digest,
    /// Its permission bits (0644, or 0755 when any execute bit was set).
    pub mode: u32,
    /// Where it goes.
    pub lands: Lands,
    /// Its index in the ZIP's central directory (unused for a directory archive).
    index: usize,
}

/// An archive, validated and hashed.
#[derive(Debug)]
pub struct Archive {
    /// The path the operator gave.
    pub path: PathBuf,
    /// What its README says.
    pub readme: Readme,
    /// The README's text, kept with the record.
    pub readme_text: String,
    /// Its one `patchNNNN` directory.
    pub patch_dir: String,
    /// Every regular file, in name order.
    pub members: Vec<Member>,
    /// A digest of every file's name and MD5: two archives with the same content have
    /// the same digest, however they were zipped.
    pub digest: Md5Digest,
    source: Source,
}

#[derive(Debug)]
enum Source {
    /// A ZIP, opened once (before carbon-patch gave up root: the operator's file).
    Zip(File),
    /// A directory, and its top below it.
    Dir(Tree, PathBuf),
}

/// One entry as listed, before it is read.
struct Listed {
    name: Vec<u8>,
    dir: bool,
    size: u64,
    mode: u32,
    index: usize,
}

impl Archive {
    /// Opens `path` (a ZIP file or a directory), checks every entry and the README, and
    /// hashes every file. Any problem is bad input naming the archive and the entry.
    pub fn open(path: &Path) -> Result<Archive> {
        let info = std::fs::metadata(path).map_err(|e| Error::read("open", path, e))?;
        let (source, listed) = if info.is_dir() {
            let tree = Tree::open(path, &[]).map_err(|e| Error::read("open", path, e))?;
            let mut listed = Vec::new();
            list_dir(&tree, path, path, &mut listed)?;
            (Source::Dir(tree, path.to_path_buf()), listed)
        } else {
            let file = open_regular(path, |kind| {
                bad_archive(
                    path,
                    format!("it is {}, not a ZIP file or a directory", kind.describe()),
                )
            })?;
            let listed = list_zip(path, &file)?;
            (Source::Zip(file), listed)
        };
        Archive::build(path, source, listed)
    }

    fn build(path: &Path, source: Source, mut listed: Vec<Listed>) -> Result<Archive> {
        let bad = |message: String| bad_archive(path, message);
        // What archivers add on their own: macOS's resource forks and folder settings.
        listed.retain(|e| !is_archiver_litter(&e.name));
        if listed.len() > MAX_ENTRIES {
            return Err(bad(format!(
                "it holds {} entries, more than the {MAX_ENTRIES} a patch may",
                listed.len()
            )));
        }
        let mut seen = BTreeSet::new();
        for entry in &listed {
            let name = entry.name.strip_suffix(b"/").unwrap_or(&entry.name);
            if !seen.insert(name.to_vec()) {
                return Err(bad(format!("entry `{}` appears twice", shown(name))));
            }
        }
        // One top directory holding everything is the archive's own name: strip it.
        let firsts: BTreeSet<&[u8]> = listed
            .iter()
            .map(|e| e.name.split(|&b| b == b'/').next().unwrap_or_default())
            .collect();
        let top = match firsts.iter().next() {
            Some(first)
                if firsts.len() == 1
                    && listed
                        .iter()
                        .all(|e| e.dir || e.name.len() > first.len() + 1) =>
            {
                Some(first.to_vec())
            }
            _ => None,
        };
        let source = match (source, &top) {
            (Source::Dir(tree, root), Some(top)) => {
                Source::Dir(tree, root.join(OsStr::from_bytes(top)))
            }
            (source, _) => source,
        };
        let below = |name: &[u8]| -> Vec<u8> {
            match &top {
                Some(top) => name.get(top.len() + 1..).unwrap_or_default().to_vec(),
                None => name.to_vec(),
            }
        };
        let patch_dirs: BTreeSet<String> = listed
            .iter()
            .filter_map(|e| {
                let name = below(&e.name);
                let first = name.split(|&b| b == b'/').next()?;
                let first = std::str::from_utf8(first).ok()?;
                (readme::is_patch_dir(first) && (e.dir || name.len() > first.len() + 1))
                    .then(|| first.to_string())
            })
            .collect();
        let patch_dir = match patch_dirs.iter().collect::<Vec<_>>().as_slice() {
            [one] if one.as_str() != crate::layout::BACKUP_NAME => (*one).clone(),
            [_] => {
                return Err(bad(
                    "its patch directory is named patch0000, the name of the backup".into(),
                ));
            }
            [] => {
                return Err(bad(
                    "it holds no patchNNNN directory: it is not a WSO2 patch archive".into(),
                ));
            }
            many => {
                return Err(bad(format!(
                    "it holds {} patch directories ({}); a patch archive holds one",
                    many.len(),
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        let mut members = Vec::new();
        for entry in listed.iter().filter(|e| !e.dir) {
            let name = PathBuf::from(OsStr::from_bytes(&below(&entry.name)));
            let lands = lands(&name, &patch_dir)
                .map_err(|why| bad(format!("entry `{}` {why}", shown(&entry.name))))?;
            members.push(Member {
                name,
                size: entry.size,
                md5: Md5Digest([0; 16]),
                mode: if entry.mode & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                },
                lands,
                index: entry.index,
            });
        }
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let mut archive = Archive {
            path: path.to_path_buf(),
            readme: Readme {
                id: String::new(),
                applies_to: String::new(),
                jira: Vec::new(),
                instructions: Vec::new(),
            },
            readme_text: String::new(),
            patch_dir,
            members,
            digest: Md5Digest([0; 16]),
            source,
        };
        archive.hash_all()?;
        let readme = archive
            .members
            .iter()
            .find(|m| {
                m.name
                    .to_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("README.txt"))
            })
            .ok_or_else(|| {
                bad("it has no README.txt (the patch's id and what it applies to)".into())
            })?;
        if readme.size > MAX_README {
            return Err(bad(format!(
                "its README.txt is {} bytes, more than {MAX_README}",
                readme.size
            )));
        }
        let mut text = Vec::new();
        archive.reader()?.copy(&readme.clone(), &mut text)?;
        archive.readme_text = String::from_utf8_lossy(&text).into_owned();
        archive.readme = readme::parse(&archive.readme_text)
            .map_err(|why| bad(format!("its README.txt cannot be used: {why}")))?;
        archive.digest = {
            let mut all = Vec::new();
            for member in &archive.members {
                all.extend_from_slice(member.name.as_os_str().as_bytes());
                all.push(0);
                all.extend_from_slice(member.md5.to_string().as_bytes());
                all.push(b'\n');
            }
            Md5Digest::of_bytes(&all)
        };
        Ok(archive)
    }

    /// Reads every file once, for its MD5, checking that it holds what its entry declares.
    fn hash_all(&mut self) -> Result<()> {
        let digests: Vec<Md5Digest> = match &self.source {
            Source::Zip(_) => {
                let mut reader = self.reader()?;
                self.members
                    .iter()
                    .map(|m| reader.copy(m, &mut io::sink()))
                    .collect::<Result<_>>()?
            }
            Source::Dir(..) => self
                .members
                .par_iter()
                .map(|m| self.reader()?.copy(m, &mut io::sink()))
                .collect::<Result<_>>()?,
        };
        for (member, md5) in self.members.iter_mut().zip(digests) {
            member.md5 = md5;
        }
        Ok(())
    }

    /// A reader for streaming files out of the archive.
    pub fn reader(&self) -> Result<Reader<'_>> {
        let zip = match &self.source {
            Source::Zip(file) => {
                let file = file
                    .try_clone()
                    .map_err(|e| Error::read("open", &self.path, e))?;
                Some(zip::ZipArchive::new(file).map_err(|e| {
                    bad_archive(
                        &self.path,
                        format!("it is not a readable ZIP archive ({e})"),
                    )
                })?)
            }
            Source::Dir(..) => None,
        };
        Ok(Reader { archive: self, zip })
    }

    /// The archive's file at `name` (below the top), if any.
    pub fn member(&self, name: &Path) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// Whether the archive holds a file (or the patch directory) of this file name: what
    /// an instruction that names it refers to.
    pub fn holds_name(&self, name: &str) -> bool {
        name == self.patch_dir
            || self
                .members
                .iter()
                .any(|m| m.name.file_name() == Some(OsStr::new(name)))
    }
}

/// Streams files out of one archive.
pub struct Reader<'a> {
    archive: &'a Archive,
    zip: Option<zip::ZipArchive<File>>,
}

impl Reader<'_> {
    /// Copies `member` into `out`, reading no more than it declares and checking the bytes
    /// against its MD5 once it is known (an archive changed since it was opened is refused).
    /// Returns the MD5 of what was copied.
    pub fn copy(&mut self, member: &Member, out: &mut dyn Write) -> Result<Md5Digest> {
        let path = &self.archive.path;
        let entry = || shown(member.name.as_os_str().as_bytes());
        let mut input: Box<dyn Read + '_> = match (&mut self.zip, &self.archive.source) {
            (Some(zip), _) => Box::new(zip.by_index(member.index).map_err(|e| {
                bad_archive(path, format!("entry `{}` cannot be read ({e})", entry()))
            })?),
            (None, Source::Dir(tree, top)) => {
                let at = top.join(&member.name);
                Box::new(
                    tree.open_own(&at)
                        .map_err(|e| Error::input("open", &at, e))?,
                )
            }
            (None, Source::Zip(_)) => unreachable!("a ZIP archive's reader holds the ZIP"),
        };
        let mut hasher = fast_md5::Md5::new();
        let mut buffer = vec![0u8; 256 * 1024];
        let mut total: u64 = 0;
        loop {
            let n = match input.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(bad_archive(
                        path,
                        format!("entry `{}` cannot be read ({e})", entry()),
                    ));
                }
            };
            total += n as u64;
            if total > member.size {
                return Err(bad_archive(
                    path,
                    format!(
                        "entry `{}` holds more than the {} bytes it declares (a zip bomb?)",
                        entry(),
                        member.size
                    ),
                ));
            }
            hasher.update(&buffer[..n]);
            out.write_all(&buffer[..n])
                .map_err(|e| Error::write("write", path, e))?;
        }
        let md5 = Md5Digest(hasher.finalize());
        let known = member.md5 != Md5Digest([0; 16]);
        if total != member.size || (known && md5 != member.md5) {
            return Err(bad_archive(
                path,
                format!(
                    "entry `{}` changed while carbon-patch read it, or holds other bytes than it declares",
                    entry()
                ),
            ));
        }
        Ok(md5)
    }
}

/// Opens the operator's file at `path` for reading — without blocking (a FIFO planted
/// under its name must not hang a run as root) — and refuses, through `refuse`, anything
/// but a regular file. Callers open it before carbon-patch gives up root.
pub(crate) fn open_regular(path: &Path, refuse: impl FnOnce(Kind) -> Error) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| Error::read("open", path, e))?;
    let kind = crate::tree::Info::of_file(&file)
        .map_err(|e| Error::read("inspect", path, e))?
        .kind;
    if kind != Kind::File {
        return Err(refuse(kind));
    }
    Ok(file)
}

/// Entries an archiver adds by itself, never part of a patch: `__MACOSX/...` (resource
/// forks) and `.DS_Store` (Finder's folder settings).
fn is_archiver_litter(name: &[u8]) -> bool {
    name.starts_with(b"__MACOSX/")
        || name == b"__MACOSX"
        || name.split(|&b| b == b'/').any(|part| part == b".DS_Store")
}

/// Bad input in an archive: the message names the entry; the hint what to do.
fn bad_archive(path: &Path, message: String) -> Error {
    Error::bad_input(
        path,
        format!("patch archive refused: {message}"),
        "use the archive as WSO2 shipped it (download it again if it was damaged); nothing was changed",
    )
}

fn shown(name: &[u8]) -> crate::names::Shown<'_> {
    crate::names::Shown(OsStr::from_bytes(name))
}

/// Checks one entry name: relative, `/`-separated, no empty, `.` or `..` component, no
/// backslash or control character, no reserved name, not too long or deep, UTF-8.
/// Shared with `pack`, which checks a product distribution's entries the same way.
pub(crate) fn check_name(name: &[u8]) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("has an empty name");
    }
    if name.starts_with(b"/") {
        return Err("is an absolute path");
    }
    if name.contains(&b'\\') {
        return Err("holds a backslash (a Windows separator)");
    }
    if name.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err("holds a control character");
    }
    if std::str::from_utf8(name).is_err() {
        return Err("is not UTF-8");
    }
    let name = name.strip_suffix(b"/").unwrap_or(name);
    let parts: Vec<&[u8]> = name.split(|&b| b == b'/').collect();
    if parts.len() > crate::tree::MAX_DEPTH {
        return Err("is nested too deep");
    }
    for part in parts {
        match part {
            b"" => return Err("has an empty path component"),
            b"." | b".." => return Err("climbs out of its directory (`.` or `..`)"),
            _ if part.len() > 255 => return Err("has a name over 255 bytes"),
            _ if crate::names::is_reserved(OsStr::from_bytes(part)) => {
                return Err("uses a name reserved for carbon-patch's temporary files");
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks one entry of a ZIP's central directory before a byte of it is inflated: its
/// name ([`check_name`]), its kind (a file or a directory, by its Unix mode: no link, no
/// special file) and its compression ratio (a file over [`RATIO_FLOOR`] inflating more than
/// [`MAX_RATIO`] times is a bomb). `holder` says what may hold only files and directories
/// (`a patch`, `a product`). Returns why the entry is refused, to follow its name.
pub(crate) fn check_zip_entry<R: Read>(
    entry: &zip::read::ZipFile<'_, R>,
    holder: &str,
) -> std::result::Result<(), String> {
    check_name(entry.name_raw()).map_err(str::to_string)?;
    let mode = entry.unix_mode().unwrap_or(0);
    let kind = mode & 0o170000;
    if entry.is_symlink() || kind == 0o120000 {
        return Err(format!(
            "is a symbolic link; {holder} holds only files and directories"
        ));
    }
    let dir = entry.is_dir();
    if !matches!(kind, 0 | 0o100000 | 0o040000) || (kind == 0o040000) != dir && kind != 0 {
        return Err(format!(
            "is a special file (mode {mode:o}); {holder} holds only files and directories"
        ));
    }
    let size = entry.size();
    if size > RATIO_FLOOR && size / entry.compressed_size().max(1) > MAX_RATIO {
        return Err(format!(
            "would inflate {} bytes to {size}, more than {MAX_RATIO} times (a zip bomb?)",
            entry.compressed_size()
        ));
    }
    Ok(())
}

/// Lists a ZIP's central directory, checking every entry before a byte is inflated.
fn list_zip(path: &Path, file: &File) -> Result<Vec<Listed>> {
    let bad = |message: String| bad_archive(path, message);
    let reading = file.try_clone().map_err(|e| Error::read("open", path, e))?;
    let mut zip = zip::ZipArchive::new(reading)
        .map_err(|e| bad(format!("it is not a readable ZIP archive ({e})")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(bad(format!(
            "it holds {} entries, more than the {MAX_ENTRIES} a patch may",
            zip.len()
        )));
    }
    // The ZIP reader keeps one of two entries of one name: which one a tool unpacks
    // differs, so such an archive is refused whole.
    if zip.has_duplicate_names() {
        return Err(bad("it names an entry twice".into()));
    }
    let mut total: u64 = 0;
    let mut listed = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let entry = zip
            .by_index_raw(index)
            .map_err(|e| bad(format!("entry {index} cannot be read ({e})")))?;
        let name = entry.name_raw().to_vec();
        check_zip_entry(&entry, "a patch")
            .map_err(|why| bad(format!("entry `{}` {why}", shown(&name))))?;
        let mode = entry.unix_mode().unwrap_or(0);
        let dir = entry.is_dir();
        let size = entry.size();
        total = total.saturating_add(size);
        if total > MAX_TOTAL {
            return Err(bad(format!(
                "its files would take more than {} GiB unpacked (a zip bomb?)",
                MAX_TOTAL >> 30
            )));
        }
        listed.push(Listed {
            name,
            dir,
            size: if dir { 0 } else { size },
            mode,
            index,
        });
    }
    Ok(listed)
}

/// Lists a directory archive through its own tree, refusing links and special files.
fn list_dir(tree: &Tree, root: &Path, dir: &Path, listed: &mut Vec<Listed>) -> Result<()> {
    let entries = tree
        .read_dir(dir, false)
        .map_err(|e| Error::input("list", dir, e))?;
    for entry in entries {
        let path = dir.join(&entry.name);
        let relative = path.strip_prefix(root).unwrap_or(&path);
        let mut name = relative.as_os_str().as_bytes().to_vec();
        check_name(&name)
            .map_err(|why| bad_archive(root, format!("entry `{}` {why}", shown(&name))))?;
        if listed.len() >= MAX_ENTRIES {
            return Err(bad_archive(
                root,
                format!("it holds more than the {MAX_ENTRIES} entries a patch may"),
            ));
        }
        match entry.kind {
            Kind::Dir => {
                name.push(b'/');
                listed.push(Listed {
                    name,
                    dir: true,
                    size: 0,
                    mode: 0o755,
                    index: 0,
                });
                list_dir(tree, root, &path, listed)?;
            }
            Kind::File => {
                let info = tree
                    .lstat(&path)
                    .map_err(|e| Error::input("inspect", &path, e))?
                    .ok_or_else(|| Error::read("inspect", &path, io::ErrorKind::NotFound.into()))?;
                listed.push(Listed {
                    name,
                    dir: false,
                    size: info.size,
                    mode: info.mode,
                    index: 0,
                });
            }
            kind => {
                return Err(bad_archive(
                    root,
                    format!(
                        "entry `{}` is {}; a patch holds only files and directories",
                        shown(&name),
                        kind.describe()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Where the file `name` (below the top) of an archive whose patch directory is
/// `patch_dir` lands, or why it cannot.
fn lands(name: &Path, patch_dir: &str) -> std::result::Result<Lands, String> {
    let parts: Vec<&str> = name
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    Ok(match parts.as_slice() {
        [first, rest @ ..] if *first == patch_dir && !rest.is_empty() => {
            Lands::Patch(rest.iter().collect())
        }
        ["wso2carbon-version.txt"] => Lands::Home(PathBuf::from("bin/wso2carbon-version.txt")),
        // README.txt, LICENSE.txt, NOT_A_CONTRIBUTION.txt and any other loose text.
        [_] => Lands::Document,
        [a, b, war] if [*a, *b] == WEBAPPS_FROM && war.ends_with(".war") && war.len() > 4 => {
            Lands::Webapp {
                war: Path::new(WEBAPPS).join(war),
                exploded: Path::new(WEBAPPS).join(&war[..war.len() - 4]),
            }
        }
        [first, ..] if *first == WEBAPPS_FROM[0] => {
            return Err(format!(
                "is under `{}/` but is not a web application (`{}/*.war`): carbon-patch does not know where it goes",
                WEBAPPS_FROM[0],
                WEBAPPS_FROM.join("/")
            ));
        }
        [first, ..] if readme::is_patch_dir(first) => {
            return Err(format!("is in a second patch directory `{first}`"));
        }
        _ => Lands::Home(name.to_path_buf()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_product_are_refused() {
        for (name, why) in [
            (&b"/etc/passwd"[..], "absolute"),
            (b"a/../../etc", "climbs"),
            (b"./a", "climbs"),
            (b"a//b", "empty path component"),
            (b"a\\b", "backslash"),
            (b"a\x01b", "control"),
            (b"a/\xff", "UTF-8"),
            (b".carbon-patch-tmp.1/x", "reserved"),
        ] {
            let err = check_name(name).unwrap_err();
            assert!(err.contains(why), "{name:?}: {err}");
        }
        check_name(b"WSO2-CARBON-PATCH-4.4.0-0001/repository/conf/carbon.xml").unwrap();
        check_name(b"top/patch0001/").unwrap();
    }

    #[test]
    fn what_archivers_add_by_themselves_is_left_out() {
        assert!(is_archiver_litter(
            b"__MACOSX/WSO2-CARBON-PATCH-4.4.0-0001/._README.txt"
        ));
        assert!(is_archiver_litter(
            b"WSO2-CARBON-PATCH-4.4.0-0001/.DS_Store"
        ));
        assert!(!is_archiver_litter(
            b"WSO2-CARBON-PATCH-4.4.0-0001/README.txt"
        ));
    }

    #[test]
    fn each_file_lands_where_the_readme_would_have_the_operator_copy_it() {
        let at = |name: &str| lands(Path::new(name), "patch0016");
        assert_eq!(
            at("patch0016/org.foo_1.0.0.jar"),
            Ok(Lands::Patch("org.foo_1.0.0.jar".into()))
        );
        assert_eq!(
            at("wso2carbon-version.txt"),
            Ok(Lands::Home("bin/wso2carbon-version.txt".into()))
        );
        assert_eq!(at("README.txt"), Ok(Lands::Document));
        assert_eq!(
            at("repository/conf/carbon.xml"),
            Ok(Lands::Home("repository/conf/carbon.xml".into()))
        );
        assert_eq!(
            at("resources/webapps/oauth2.war"),
            Ok(Lands::Webapp {
                war: "repository/deployment/server/webapps/oauth2.war".into(),
                exploded: "repository/deployment/server/webapps/oauth2".into()
            })
        );
        assert!(at("resources/other/x.txt").is_err());
        assert!(at("patch0017/x.jar").is_err());
    }
}
