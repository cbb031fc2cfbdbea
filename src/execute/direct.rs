//! Copying past the page cache (`O_DIRECT`), for every file `execute` copies: the backup
//! and the new contents of plugins. A kernel copy (`copy_file_range`) fills a fresh
//! page-cache page for every byte and leaves the disk writes to writeback; here the bytes
//! go from one reused buffer straight to the disk, so a copy costs a read from the source
//! (mostly cached: it was just hashed or listed) and the disk's own time, and the batch's
//! flush finds only the tails and the metadata left to write. Nothing carbon-patch writes
//! is read again by the run: its digests come from the sources. The next server start
//! reads plugins from the disk, as after any reboot.
//!
//! Where the filesystem has no direct I/O (or refuses a write's alignment) the rest of the
//! file goes through the page cache instead: same bytes, same durability once flushed.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::OnceLock;

/// Bytes moved per read and write: large enough that a syscall's cost vanishes, small
/// enough for one buffer per thread.
const CHUNK: usize = 1 << 20;

/// Memory and file-offset alignment direct I/O needs: 4 KiB covers the logical block sizes
/// of the disks and filesystems carbon-patch meets (512 B or 4 KiB).
const ALIGN: usize = 4096;

/// Threads that copy when copies write their bytes. A direct write returns when the disk
/// has the bytes, so a copying thread mostly waits; the disk is fastest with several
/// writes in flight (a backup of the benchmark's plugins: 0.34-0.65 s with 2 threads,
/// 0.25-0.30 s with 8). Each keeps one [`CHUNK`] buffer. Clones run on rayon's own
/// threads, one per core: a clone only changes metadata, and more threads than cores only
/// wait for the filesystem's locks (a rollback on XFS: 38 ms with 2 threads, 42 ms with 8).
const COPY_THREADS: usize = 8;

/// Runs `work`, whose parallel iterators mostly wait for the disk (copies that write their
/// bytes, flushes of file after file), on [`COPY_THREADS`] threads, started on first use
/// (or, should they fail to start, on rayon's own).
pub fn on_waiting_threads<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(COPY_THREADS)
            .thread_name(|i| format!("copy-{i}"))
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Runs `copy` on every item, the results in the items' order: the first on the caller's
/// thread, which learns whether the destination's filesystem clones, then the rest in
/// parallel on the threads that suit the way it copies (see [`COPY_THREADS`]).
pub fn copy_all<T: Sync, R: Send>(
    items: &[T],
    copy: impl Fn(&T) -> crate::error::Result<R> + Sync + Send,
) -> crate::error::Result<Vec<R>> {
    use rayon::prelude::*;
    let Some((first, rest)) = items.split_first() else {
        return Ok(Vec::new());
    };
    LAST_CLONED.set(None);
    let first = copy(first)?;
    let copy_rest = || {
        rest.par_iter()
            .map(&copy)
            .collect::<crate::error::Result<Vec<R>>>()
    };
    let rest = if LAST_CLONED.get() == Some(true) {
        copy_rest()
    } else {
        on_waiting_threads(copy_rest)
    }?;
    Ok(std::iter::once(first).chain(rest).collect())
}

thread_local! {
    /// Each copying thread's buffer, allocated on first use and kept for the run.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Whether this thread's last copy was a clone (`None`: none since [`copy_all`] asked).
    static LAST_CLONED: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// How a file was copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Bytes copied.
    pub len: u64,
    /// Whether it was cloned: no data was written, so there is none to write back.
    pub cloned: bool,
}

/// Copies `source` into `dest` (both at offset 0, `dest` empty): by cloning where the
/// filesystem shares extents (XFS with reflink, btrfs: no data is written and no space
/// taken), else past the page cache where the filesystem allows.
pub fn copy(source: &mut File, dest: &mut File) -> io::Result<Copied> {
    let cloned = clone(source, dest)?;
    LAST_CLONED.set(Some(cloned.is_some()));
    if let Some(len) = cloned {
        return Ok(Copied { len, cloned: true });
    }
    BUFFER
        .with_borrow_mut(|buffer| {
            if buffer.is_empty() {
                buffer.resize(CHUNK + ALIGN, 0);
            }
            let start = buffer.as_ptr().align_offset(ALIGN).min(ALIGN);
            copy_with(source, dest, &mut buffer[start..start + CHUNK])
        })
        .map(|len| Copied { len, cloned: false })
}

/// Devices whose filesystem refused a clone: not asked again this run.
static NO_CLONE: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());
/// Devices already said (`-v`) to clone.
static CLONING: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

/// Clones `source` into `dest` (`FICLONE`, a reflink) where the filesystem can; `None`
/// where it cannot (decided once per filesystem a run writes to, and said with `-v`).
/// A clone is made durable like any copy: by the batch's flush.
fn clone(source: &File, dest: &File) -> io::Result<Option<u64>> {
    use rustix::io::Errno;
    let lock = |m: &'static std::sync::Mutex<Vec<u64>>| m.lock().unwrap_or_else(|e| e.into_inner());
    let device = rustix::fs::fstat(dest)?.st_dev;
    if lock(&NO_CLONE).contains(&device) {
        return Ok(None);
    }
    match rustix::fs::ioctl_ficlone(dest, source) {
        Ok(()) => {
            if !lock(&CLONING).contains(&device) {
                lock(&CLONING).push(device);
                tracing::info!(
                    device,
                    "copies share extents with their sources (reflink clones)"
                );
            }
            Ok(Some(rustix::fs::fstat(source)?.st_size as u64))
        }
        // Across filesystems: this pair only.
        Err(Errno::XDEV) => Ok(None),
        Err(
            Errno::OPNOTSUPP
            | Errno::INVAL
            | Errno::NOTTY
            | Errno::NOSYS
            | Errno::PERM
            | Errno::BADF,
        ) => {
            lock(&NO_CLONE).push(device);
            tracing::info!(
                device,
                "this filesystem cannot share extents: copying past the page cache"
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`copy`] through `buffer`, whose length is a multiple of [`ALIGN`] (its address need
/// not be aligned: a write the kernel refuses for that falls back to the page cache).
fn copy_with(source: &mut File, dest: &mut File, buffer: &mut [u8]) -> io::Result<u64> {
    let mut direct = set_direct(dest, true);
    let mut copied = 0u64;
    loop {
        let filled = fill(source, buffer)?;
        if filled == 0 {
            return Ok(copied);
        }
        // Direct writes take whole blocks; the tail of the file goes through the cache.
        let whole = if direct { filled - filled % ALIGN } else { 0 };
        let mut written = 0;
        while written < whole {
            match dest.write(&buffer[written..whole]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Refused alignment (or a short write left the offset unaligned): the rest
                // of the file through the page cache.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
                Err(e) => return Err(e),
            }
            if written % ALIGN != 0 {
                break;
            }
        }
        if written < filled {
            if direct {
                direct = set_direct(dest, false);
            }
            dest.write_all(&buffer[written..filled])?;
        }
        copied += filled as u64;
        if filled < buffer.len() {
            return Ok(copied);
        }
    }
}

/// Reads until `buffer` is full or the source ends; returns how much it holds.
fn fill(source: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match source.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Turns direct I/O on or off for `file`; returns whether it is on. A filesystem without
/// direct I/O refuses to turn it on, and the copy goes through the page cache.
#[cfg(target_os = "linux")]
fn set_direct(file: &File, on: bool) -> bool {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl only reads and sets the status flags of a descriptor open for the call.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let wanted = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, wanted) == 0 && on
    }
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_file: &File, _on: bool) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Content whose every 4 KiB block differs, so a block written twice or skipped shows.
    fn content(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i / 7) ^ (i / ALIGN * 31)) as u8)
            .collect()
    }

    fn copy_of(len: usize, through: impl FnOnce(&mut File, &mut File) -> io::Result<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        let bytes = content(len);
        std::fs::write(&from, &bytes).unwrap();
        let mut source = File::open(&from).unwrap();
        let mut dest = File::create_new(&to).unwrap();
        assert_eq!(through(&mut source, &mut dest).unwrap(), len as u64);
        drop(dest);
        assert!(std::fs::read(&to).unwrap() == bytes, "{len} bytes differ");
    }

    const SIZES: [usize; 9] = [
        0,
        1,
        ALIGN - 1,
        ALIGN,
        ALIGN + 1,
        CHUNK - 1,
        CHUNK,
        CHUNK + ALIGN + 3,
        3 * CHUNK + 100,
    ];

    #[test]
    fn every_size_copies_byte_for_byte() {
        for len in SIZES {
            copy_of(len, |s, d| copy(s, d).map(|c| c.len));
        }
    }

    #[test]
    fn a_buffer_direct_io_refuses_still_copies_byte_for_byte() {
        // One byte off alignment: the kernel refuses the first direct write (EINVAL) and
        // the copy goes on through the page cache.
        let mut storage = vec![0u8; 2 * ALIGN + 1 + ALIGN];
        let start = storage.as_ptr().align_offset(ALIGN) + 1;
        for len in [0, ALIGN + 1, 3 * ALIGN] {
            copy_of(len, |s, d| {
                copy_with(s, d, &mut storage[start..start + 2 * ALIGN])
            });
        }
    }
}
