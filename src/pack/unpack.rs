//! Reading a product distribution ZIP for `pack` (and `drift`): its central directory
//! checked entry by entry as a patch archive's is ([`crate::archive::check_zip_entry`]: no
//! absolute name, no `..`, no link or special file, no control character, no bomb) before a
//! byte is inflated, its one top directory found, and its files unpacked — several at once,
//! each streamed through its own positioned reader, its MD5 taken on the way.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::archive::check_zip_entry;
use crate::digest::Md5Digest;
use crate::error::{Error, Result};

/// The most entries a product distribution may hold (WSO2's largest hold tens of
/// thousands).
pub const MAX_ENTRIES: usize = 1_000_000;
/// The most bytes a distribution's files may hold together, unpacked.
pub const MAX_TOTAL: u64 = 64 << 30;

/// A file's bytes through `pread`: clones share the open file and keep their own
/// position, so each thread reads its own entries.
#[derive(Debug, Clone)]
pub struct Shared {
    file: Arc<File>,
    position: u64,
    len: u64,
}

impl Shared {
    /// Wraps an open file.
    pub fn new(file: File) -> io::Result<Shared> {
        let len = file.metadata()?.len();
        Ok(Shared {
            file: Arc::new(file),
            position: 0,
            len,
        })
    }
}

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for Shared {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let position = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        self.position = position
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}

/// One file of a distribution, as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Below the top directory.
    pub path: PathBuf,
    /// Its index in the central directory.
    pub index: usize,
    /// Its declared length.
    pub size: u64,
    /// Whether any execute bit is set in its Unix mode.
    pub executable: bool,
}

/// A product distribution ZIP, opened and checked.
#[derive(Debug)]
pub struct Distribution {
    /// The path given.
    pub path: PathBuf,
    /// Its one top directory (`wso2am-2.6.0`).
    pub top: String,
    /// Every directory below the top (relative to it), parents first.
    pub dirs: Vec<PathBuf>,
    /// Every file, in central directory order.
    pub files: Vec<Listed>,
    /// The newest entry time (seconds since the epoch, the DOS time read as UTC).
    pub newest: Option<i64>,
    /// Entries in the central directory.
    pub entries: usize,
    zip: zip::ZipArchive<Shared>,
}

/// A file as unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unpacked {
    pub size: u64,
    pub md5: Md5Digest,
    pub executable: bool,
}

/// Refused input: the message says which entry and why.
fn refused(path: &Path, message: String) -> Error {
    Error::bad_input(
        path,
        format!("product ZIP refused: {message}"),
        "use the distribution as WSO2 ships it (download it again if it was damaged); nothing was written",
    )
}

fn shown(name: &[u8]) -> crate::names::Shown<'_> {
    crate::names::Shown(std::ffi::OsStr::from_bytes(name))
}

/// Opens `path` (without blocking, and only a regular file), as the operator: the caller
/// does this before it may give up root.
pub fn open_file(path: &Path) -> Result<File> {
    crate::archive::open_regular(path, |kind| {
        refused(path, format!("it is {}, not a ZIP file", kind.describe()))
    })
}

/// Opens the ZIP at `path` ([`open_file`]) for reading its entries, refusing with `refuse`
/// one the reader cannot read or whose central directory names an entry twice (the reader
/// keeps one entry a name: a second one would go unseen).
pub fn open_zip(path: &Path, refuse: impl Fn(String) -> Error) -> Result<zip::ZipArchive<Shared>> {
    let file = open_file(path)?;
    let shared = Shared::new(file).map_err(|e| Error::read("inspect", path, e))?;
    let zip = zip::ZipArchive::new(shared)
        .map_err(|e| refuse(format!("it is not a readable ZIP archive ({e})")))?;
    if zip.has_duplicate_names() {
        return Err(refuse(
            "its central directory names an entry twice (which one would be read is anyone's guess)"
                .into(),
        ));
    }
    Ok(zip)
}

impl Distribution {
    /// Opens the ZIP at `path` and checks every entry of its central directory: one top
    /// directory holding everything, names and kinds as [`check_zip_entry`] wants them, no
    /// name twice, no file where another entry needs a directory, sizes within
    /// [`MAX_ENTRIES`] and [`MAX_TOTAL`].
    pub fn open(path: &Path) -> Result<Distribution> {
        let mut zip = open_zip(path, |message| refused(path, message))?;
        if zip.len() > MAX_ENTRIES {
            return Err(refused(
                path,
                format!(
                    "it holds {} entries, more than the {MAX_ENTRIES} a product may",
                    zip.len()
                ),
            ));
        }
        let mut tops = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut dirs = BTreeSet::new();
        let mut files = Vec::new();
        let mut total: u64 = 0;
        let mut newest: Option<i64> = None;
        for index in 0..zip.len() {
            let entry = zip
                .by_index_raw(index)
                .map_err(|e| refused(path, format!("entry {index} cannot be read ({e})")))?;
            let name = entry.name_raw().to_vec();
            check_zip_entry(&entry, "a product")
                .map_err(|why| refused(path, format!("entry `{}` {why}", shown(&name))))?;
            let bare = name.strip_suffix(b"/").unwrap_or(&name).to_vec();
            if !names.insert(bare.clone()) {
                return Err(refused(
                    path,
                    format!("entry `{}` appears twice", shown(&bare)),
                ));
            }
            let mut parts = bare.splitn(2, |&b| b == b'/');
            let top = parts.next().unwrap_or_default().to_vec();
            let below = parts.next().map(<[u8]>::to_vec);
            tops.insert(top);
            if let Some(time) = entry.last_modified() {
                let dos = super::zipwrite::DosTime {
                    date: time.datepart(),
                    time: time.timepart(),
                };
                newest = newest.max(dos.to_unix());
            }
            let Some(below) = below else {
                if !entry.is_dir() {
                    return Err(not_a_distribution(path));
                }
                continue;
            };
            let relative = PathBuf::from(std::ffi::OsStr::from_bytes(&below));
            for ancestor in relative.ancestors().skip(1) {
                if !ancestor.as_os_str().is_empty() {
                    dirs.insert(ancestor.to_path_buf());
                }
            }
            if entry.is_dir() {
                dirs.insert(relative);
                continue;
            }
            let size = entry.size();
            total = total.saturating_add(size);
            if total > MAX_TOTAL {
                return Err(refused(
                    path,
                    format!(
                        "its files would take more than {} GiB unpacked (a zip bomb?)",
                        MAX_TOTAL >> 30
                    ),
                ));
            }
            files.push(Listed {
                path: relative,
                index,
                size,
                executable: entry.unix_mode().unwrap_or(0) & 0o111 != 0,
            });
        }
        let top = match tops.into_iter().collect::<Vec<_>>().as_slice() {
            [one] => String::from_utf8_lossy(one).into_owned(),
            _ => return Err(not_a_distribution(path)),
        };
        if let Some(file) = files.iter().find(|f| dirs.contains(&f.path)) {
            return Err(refused(
                path,
                format!(
                    "entry `{top}/{}` is a file, and other entries lie below it",
                    crate::names::Shown::path(&file.path)
                ),
            ));
        }
        Ok(Distribution {
            path: path.to_path_buf(),
            top,
            dirs: dirs.into_iter().collect(),
            files,
            newest,
            entries: zip.len(),
            zip,
        })
    }

    /// Unpacks every directory and file under `into` (which holds the top directory when
    /// this returns): directories 0755, files 0644 or 0755 as their Unix mode had an
    /// execute bit, each file created new and streamed, never longer than it declares.
    /// Returns each file's size, MD5 and executable bit, by path below the top.
    pub fn unpack(&self, into: &Path) -> Result<BTreeMap<PathBuf, Unpacked>> {
        let root = into.join(&self.top);
        let mkdir = |dir: &Path| -> Result<()> {
            std::fs::create_dir(dir)
                .and_then(|()| {
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                })
                .map_err(|e| Error::write("create directory", dir, e))
        };
        mkdir(&root)?;
        // Sorted, so a parent comes before what it holds.
        for dir in &self.dirs {
            mkdir(&root.join(dir))?;
        }
        let unpacked: Vec<(PathBuf, Unpacked)> = self
            .files
            .par_iter()
            .map_init(
                || (self.zip.clone(), vec![0u8; 256 * 1024]),
                |(zip, buffer), listed| {
                    let to = root.join(&listed.path);
                    let md5 = self.unpack_one(zip, listed, &to, buffer)?;
                    Ok((
                        listed.path.clone(),
                        Unpacked {
                            size: listed.size,
                            md5,
                            executable: listed.executable,
                        },
                    ))
                },
            )
            .collect::<Result<_>>()?;
        Ok(unpacked.into_iter().collect())
    }

    fn unpack_one(
        &self,
        zip: &mut zip::ZipArchive<Shared>,
        listed: &Listed,
        to: &Path,
        buffer: &mut [u8],
    ) -> Result<Md5Digest> {
        let entry_name = || format!("{}/{}", self.top, crate::names::Shown::path(&listed.path));
        let mut entry = zip.by_index(listed.index).map_err(|e| {
            refused(
                &self.path,
                format!("entry `{}` cannot be read ({e})", entry_name()),
            )
        })?;
        let mode = if listed.executable { 0o755 } else { 0o644 };
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(mode)
            .open(to)
            .map_err(|e| Error::write("create", to, e))?;
        let mut hasher = fast_md5::Md5::new();
        let mut total = 0u64;
        loop {
            let n = match entry.read(buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(refused(
                        &self.path,
                        format!("entry `{}` cannot be read ({e})", entry_name()),
                    ));
                }
            };
            total += n as u64;
            if total > listed.size {
                return Err(refused(
                    &self.path,
                    format!(
                        "entry `{}` holds more than the {} bytes it declares (a zip bomb?)",
                        entry_name(),
                        listed.size
                    ),
                ));
            }
            hasher.update(&buffer[..n]);
            out.write_all(&buffer[..n])
                .map_err(|e| Error::write("write", to, e))?;
        }
        if total != listed.size {
            return Err(refused(
                &self.path,
                format!(
                    "entry `{}` holds {total} bytes, not the {} it declares",
                    entry_name(),
                    listed.size
                ),
            ));
        }
        // The umask may have taken bits away.
        out.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::write("set the mode of", to, e))?;
        Ok(Md5Digest(hasher.finalize()))
    }
}

fn not_a_distribution(path: &Path) -> Error {
    Error::bad_input(
        path,
        "not a Carbon product distribution: its entries do not all lie in one top directory \
         (a WSO2 distribution holds `<product>-<version>/` and everything below it)",
        "give the product's distribution ZIP as WSO2 ships it; nothing was written",
    )
}

/// MD5 of a whole file, streamed.
pub fn md5_of_file(path: &Path) -> Result<Md5Digest> {
    let file = File::open(path).map_err(|e| Error::read("open", path, e))?;
    crate::digest::md5_of(file, path)
}
