//! The digest cache (`<metadata>/carbon-patch-digests.json`): the MD5 (and, for jars, the
//! bundle name) of every file a run read, keyed by (device, inode, size, mtime, ctime) the
//! way git's index trusts unchanged files, so an unchanged file is never read again.
//!
//! A changed ctime always forces a re-read. An entry whose ctime is not clearly older than
//! the cache file itself is "racy" (the file may have changed again within one timestamp
//! tick of being read) and is re-read too. The cache holds only the files the last run
//! used, so a run that reads the same files with the same keys rewrites nothing.
//!
//! Within one run, a file read once is not read again while its key holds, and a copy this
//! run made of an unchanged source it read is vouched for with that source's digest
//! ([`DigestCache::vouch`]): apply checks what it wrote without reading it back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::digest::{Md5Digest, md5_of};
use crate::error::{Error, Result};
use crate::manifest;
use crate::metadata::{self, STATE_SCHEMA_VERSION, decode_path, encode_path};
use crate::tree::{Info, Tree};

/// The largest digest cache read: a few hundred bytes a file, for far more files than any
/// product holds.
const MAX_CACHE_BYTES: u64 = 256 << 20;

/// How much older than the cache file an entry's ctime must be to be trusted, on
/// filesystems with fine timestamps: two ticks of the kernel's coarse clock, which stamps
/// files ([`tick_ns`]). A cache file records the margin it was written with, and a run
/// trusts by the larger of that and its own.
fn racy_ns() -> i64 {
    2 * tick_ns()
}
/// The margin of a cache file written before it recorded one: two ticks at 100 Hz.
const RACY_BEFORE_NS: i64 = 20_000_000;
/// The same on filesystems whose timestamps are whole seconds (FAT, some network mounts).
const RACY_COARSE_NS: i64 = 2_000_000_000;

/// One tick of the kernel's coarse clock, which stamps files: the resolution of
/// `CLOCK_REALTIME_COARSE` (4 ms at 250 Hz), at least 1 ms; where it reads as none, 10 ms
/// (100 Hz, the slowest common rate). Also how far the clock that stamps files may lag the
/// clock a process reads. A run that changed files waits four ticks at most before it
/// records their digests ([`DigestCache::settle`]: the racy margin, the lag, and one tick
/// more so that its files' ctimes are strictly older than the margin): 16 ms at 250 Hz,
/// where a fixed margin for 100 Hz took 30 ms of every apply that wrote.
fn tick_ns() -> i64 {
    static TICK: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| {
        let res = rustix::time::clock_getres(rustix::time::ClockId::RealtimeCoarse);
        let ns = res
            .tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(res.tv_nsec);
        if ns > 0 {
            ns.clamp(1_000_000, 1_000_000_000)
        } else {
            10_000_000
        }
    });
    *TICK
}

/// Roughly how many bytes a run hashes per millisecond: what waiting is weighed against.
const HASHED_BYTES_PER_MS: u64 = 500_000;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Key {
    fn of(meta: &Info) -> Key {
        Key {
            dev: meta.dev,
            ino: meta.ino,
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            ctime_ns: meta.ctime_ns,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    key: Key,
    md5: Md5Digest,
    /// The bundle name a top-level jar lands under (see [`encode_path`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    schema_version: u32,
    /// The racy margin the writing run used ([`racy_ns`]).
    #[serde(default = "racy_before")]
    racy_ns: i64,
    entries: BTreeMap<String, Entry>,
}

fn racy_before() -> i64 {
    RACY_BEFORE_NS
}

/// The cache of one run: what it loaded, and what this run used.
#[derive(Debug)]
pub struct DigestCache {
    /// The tree every file is looked up and read through.
    tree: Arc<Tree>,
    loaded: HashMap<String, Entry>,
    /// Entries whose ctime is at or after this are racy.
    trusted_before_ns: i64,
    used: Mutex<BTreeMap<String, Entry>>,
}

impl DigestCache {
    /// Loads the cache at `path`; `use_it = false` (`--no-cache`) reads every file again.
    /// A missing or damaged cache is simply empty.
    pub fn load(tree: Arc<Tree>, path: &Path, use_it: bool) -> DigestCache {
        let empty = DigestCache {
            tree: tree.clone(),
            loaded: HashMap::new(),
            trusted_before_ns: i64::MIN,
            used: Mutex::default(),
        };
        if !use_it {
            return empty;
        }
        let Ok(file) = tree.open_own(path) else {
            return empty;
        };
        let Ok(meta) = Info::of_file(&file) else {
            return empty;
        };
        let Ok(bytes) = crate::tree::read_file_capped(file, MAX_CACHE_BYTES) else {
            return empty;
        };
        let Some(file) = metadata::parse_json::<CacheFile>(&bytes) else {
            return empty;
        };
        let written_ns = Key::of(&meta).mtime_ns;
        let margin = if written_ns % 1_000_000_000 == 0 {
            RACY_COARSE_NS
        } else {
            file.racy_ns.max(racy_ns()).min(RACY_COARSE_NS)
        };
        DigestCache {
            tree,
            loaded: file.entries.into_iter().collect(),
            trusted_before_ns: written_ns.saturating_sub(margin),
            used: Mutex::default(),
        }
    }

    /// The MD5 of the file at `path`, from the cache when the file is unchanged.
    pub fn md5(&self, path: &Path) -> Result<Md5Digest> {
        self.md5_and_size(path).map(|(md5, _)| md5)
    }

    /// The MD5 and the size of the file at `path`.
    pub fn md5_and_size(&self, path: &Path) -> Result<(Md5Digest, u64)> {
        self.lookup(path, None::<fn() -> Result<OsString>>)
            .map(|(md5, size, _)| (md5, size))
    }

    /// The MD5, the size and the bundle name (computed by `name_of` when not cached) of a jar.
    pub fn md5_size_and_name(
        &self,
        path: &Path,
        name_of: impl FnOnce() -> Result<OsString>,
    ) -> Result<(Md5Digest, u64, OsString)> {
        let (md5, size, name) = self.lookup(path, Some(name_of))?;
        // `lookup` returns a name whenever it was asked for one.
        Ok((md5, size, name.unwrap_or_default()))
    }

    fn lookup(
        &self,
        path: &Path,
        name_of: Option<impl FnOnce() -> Result<OsString>>,
    ) -> Result<(Md5Digest, u64, Option<OsString>)> {
        let meta = self.stat(path)?;
        let key = Key::of(&meta);
        let id = encode_path(path);
        let entry = match self.trusted(&id, key, name_of.is_some()) {
            Some(entry) => entry,
            None => {
                let name = match name_of {
                    Some(name_of) => Some(encode_path(Path::new(&name_of()?))),
                    None => None,
                };
                Entry {
                    key,
                    md5: md5_of(
                        self.tree
                            .open_input(path)
                            .map_err(|e| Error::input("open", path, e))?,
                        path,
                    )?,
                    name,
                }
            }
        };
        let name = entry
            .name
            .as_deref()
            .and_then(decode_path)
            .map(PathBuf::into_os_string);
        let (md5, size) = (entry.md5, entry.key.size);
        // A poisoned lock only means another hashing thread panicked; the map is still whole.
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, entry);
        Ok((md5, size, name))
    }

    /// The entry to trust for `id`, whose file now has `key` (one with a sound bundle name
    /// when `wants_name`): what this run itself read or vouched for, unchanged since, needs
    /// no racy margin; a loaded one must be older than the cache file by that margin.
    fn trusted(&self, id: &str, key: Key, wants_name: bool) -> Option<Entry> {
        let named = |e: &Entry| !wants_name || e.name.as_deref().is_some_and(is_sound_name);
        self.learnt(id, key).filter(named).or_else(|| {
            self.loaded
                .get(id)
                .filter(|e| e.key == key && key.ctime_ns < self.trusted_before_ns)
                .filter(|e| named(e))
                .cloned()
        })
    }

    /// The bundle name recorded for the file at `path`, whose metadata is `meta`, when the
    /// cache may be trusted for it: its manifest need not be read again.
    pub fn known_name(&self, path: &Path, meta: &Info) -> Option<OsString> {
        let entry = self.trusted(&encode_path(path), Key::of(meta), true)?;
        decode_path(entry.name.as_deref()?).map(PathBuf::into_os_string)
    }

    /// The entry this run learnt for `id`, if the file still has `key`.
    fn learnt(&self, id: &str, key: Key) -> Option<Entry> {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        used.get(id).filter(|e| e.key == key).cloned()
    }

    /// Records that `copy` holds the content `original` had when this run read it — true
    /// when `original` had that same key when the copy began (`at_copy`) and still has it
    /// — so the copy is never read either. Hashing and copying may happen in either order.
    pub fn vouch(&self, copy: &Path, original: &Path, at_copy: &Info) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let Some(known) = used.get(&encode_path(original)) else {
            return;
        };
        let unchanged = Key::of(at_copy) == known.key
            && self.stat(original).is_ok_and(|m| Key::of(&m) == known.key);
        if let (true, Ok(meta)) = (unchanged, self.stat(copy)) {
            // A bundle name is asked only of service pack and patch files, never of copies.
            let entry = Entry {
                key: Key::of(&meta),
                md5: known.md5,
                name: None,
            };
            used.insert(encode_path(copy), entry);
        }
    }

    /// Lets the entries in `scope` that the next run would find racy (files this run wrote
    /// or renamed a moment ago) grow old enough to be trusted, when waiting costs less than
    /// the next run re-reading them: waits out the racy margin (four ticks of the kernel's
    /// coarse clock at most, [`tick_ns`]), then drops any entry whose file changed
    /// meanwhile. What remains is as sound as any entry: a change within the same clock
    /// tick as the file's last one goes unseen, as it would between any stat and read.
    pub fn settle(&self, scope: &HashSet<PathBuf>) {
        let now = now_ns();
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let in_scope: Vec<(String, Key)> = used
            .iter()
            .filter(|(id, _)| decode_path(id).is_some_and(|p| scope.contains(&p)))
            .map(|(id, e)| (id.clone(), e.key))
            .collect();
        let Some((wait, racy)) = settling(now, in_scope, racy_ns() + 2 * tick_ns()) else {
            return;
        };
        std::thread::sleep(wait);
        for (id, key) in racy {
            let unchanged = decode_path(&id)
                .and_then(|path| self.stat(&path).ok())
                .is_some_and(|meta| Key::of(&meta) == key);
            if !unchanged {
                used.remove(&id);
            }
        }
    }

    /// The metadata of the regular file `path` (a link followed under the tree's reading
    /// rule); anything else is refused.
    fn stat(&self, path: &Path) -> Result<Info> {
        let not_found = || std::io::Error::from_raw_os_error(libc::ENOENT);
        let info = self
            .tree
            .stat_input(path)
            .and_then(|info| info.ok_or_else(not_found))
            .map_err(|e| Error::input("inspect", path, e))?;
        if !info.is_file() {
            return Err(Error::refused_kind(path, info.kind));
        }
        Ok(info)
    }

    /// The cache file recording what this run learnt about the files in `scope` (those the
    /// next run will look up), so a run that changes nothing writes the same bytes.
    pub fn render(&self, scope: &HashSet<PathBuf>) -> Vec<u8> {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let entries = used
            .iter()
            .filter(|(id, _)| decode_path(id).is_some_and(|p| scope.contains(&p)))
            .map(|(id, entry)| (id.clone(), entry.clone()))
            .collect();
        metadata::render_json(&CacheFile {
            schema_version: STATE_SCHEMA_VERSION,
            racy_ns: racy_ns(),
            entries,
        })
    }
}

/// Of the entries `(id, key)`, those a cache written at `now` would find racy, `margin_ns`
/// being the racy margin and the clock's lag together, and how long to wait for them to
/// stop being so; `None` when none are, or when re-reading them next time costs less than
/// the wait. Only fine timestamps are waited for.
fn settling(
    now: i64,
    entries: Vec<(String, Key)>,
    margin_ns: i64,
) -> Option<(Duration, Vec<(String, Key)>)> {
    let racy: Vec<(String, Key)> = entries
        .into_iter()
        .filter(|(_, key)| key.ctime_ns % 1_000_000_000 != 0)
        .filter(|(_, key)| key.ctime_ns >= now - margin_ns)
        .collect();
    let newest = racy.iter().map(|(_, key)| key.ctime_ns).max()?;
    // A ctime ahead of the clock (the clock was set back) is not waited for longer.
    let wait_ns = (newest + margin_ns - now).min(margin_ns);
    let rehash_ms = racy.iter().map(|(_, key)| key.size).sum::<u64>() / HASHED_BYTES_PER_MS;
    let wait_ms = u64::try_from(wait_ns / 1_000_000).ok()?;
    (wait_ms < rehash_ms).then(|| (Duration::from_nanos(wait_ns.unsigned_abs()), racy))
}

/// Now on the wall clock, in nanoseconds since the epoch (as file timestamps are).
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Whether a cached bundle name may be used: the cache file is only as trustworthy as
/// whoever last edited the metadata dir, so a cached name must pass the rule a name read
/// from a manifest passes (SPEC §4, §12); one that does not is a miss, read again.
fn is_sound_name(encoded: &str) -> bool {
    decode_path(encoded).is_some_and(|name| manifest::refusal(name.as_os_str()).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::{Duration, SystemTime};

    /// The cache at `path`, looking files up from `/` (the tests' files are in temp dirs).
    fn load(path: &Path, use_it: bool) -> DigestCache {
        DigestCache::load(
            Arc::new(Tree::open(Path::new("/"), &[]).unwrap()),
            path,
            use_it,
        )
    }

    fn info(path: &Path) -> Info {
        Info::of_file(&fs::File::open(path).unwrap()).unwrap()
    }

    /// A cache that learnt `file`, whose digest is then forged to that of `forged`, with the
    /// cache file dated `written`. Returns the cache file's path.
    fn forged_cache(file: &Path, content: &[u8], forged: &[u8], written: SystemTime) -> PathBuf {
        let learnt = load(Path::new("/nonexistent"), true);
        learnt.md5(file).unwrap();
        let text = String::from_utf8(learnt.render(&HashSet::from([file.to_path_buf()])))
            .unwrap()
            .replace(
                &Md5Digest::of_bytes(content).to_string(),
                &Md5Digest::of_bytes(forged).to_string(),
            );
        let path = file.with_file_name("cache.json");
        fs::write(&path, text).unwrap();
        stamp(&path, written);
        path
    }

    /// Sets the modification time of `path` (the cache file's, which the racy check reads).
    fn stamp(path: &Path, modified: SystemTime) {
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    }

    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(5)
    }

    /// A cache that has learnt `file` in this run, with `forged`'s digest in place of the
    /// real one, so a lookup that returns it did not read the file.
    fn forged_run(file: &Path, forged: &[u8]) -> DigestCache {
        let cache = load(Path::new("/nonexistent"), true);
        cache.md5(file).unwrap();
        let mut used = cache.used.lock().unwrap();
        used.get_mut(&encode_path(file)).unwrap().md5 = Md5Digest::of_bytes(forged);
        drop(used);
        cache
    }

    #[test]
    fn a_run_reads_a_file_once_and_a_vouched_copy_never() {
        let dir = tempfile::tempdir().unwrap();
        let (source, copy) = (dir.path().join("a.jar"), dir.path().join("b.jar"));
        fs::write(&source, b"one").unwrap();
        let cache = forged_run(&source, b"forged");
        assert_eq!(cache.md5(&source).unwrap(), Md5Digest::of_bytes(b"forged"));
        let at_copy = info(&source);
        fs::copy(&source, &copy).unwrap();
        cache.vouch(&copy, &source, &at_copy);
        assert_eq!(cache.md5(&copy).unwrap(), Md5Digest::of_bytes(b"forged"));
        // Changed since (a new size: within one tick of the clock a same-size change could
        // keep the key, the limit every such cache has): read again, copy and source alike.
        fs::write(&copy, b"two!").unwrap();
        assert_eq!(cache.md5(&copy).unwrap(), Md5Digest::of_bytes(b"two!"));
        fs::write(&source, b"new!").unwrap();
        assert_eq!(cache.md5(&source).unwrap(), Md5Digest::of_bytes(b"new!"));
    }

    #[test]
    fn a_changed_source_vouches_for_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (source, copy) = (dir.path().join("a.jar"), dir.path().join("b.jar"));
        fs::write(&source, b"one").unwrap();
        let cache = forged_run(&source, b"forged");
        fs::write(&source, b"two!").unwrap();
        let at_copy = info(&source);
        fs::copy(&source, &copy).unwrap();
        cache.vouch(&copy, &source, &at_copy);
        assert_eq!(cache.md5(&copy).unwrap(), Md5Digest::of_bytes(b"two!"));
    }

    #[test]
    fn a_source_hashed_after_it_changed_under_its_copy_vouches_for_nothing() {
        // A first apply copies the backup while it hashes: the copy may come first.
        let dir = tempfile::tempdir().unwrap();
        let (source, copy) = (dir.path().join("a.jar"), dir.path().join("b.jar"));
        fs::write(&source, b"one").unwrap();
        let at_copy = info(&source);
        fs::copy(&source, &copy).unwrap();
        fs::write(&source, b"two!").unwrap();
        let cache = forged_run(&source, b"forged");
        cache.vouch(&copy, &source, &at_copy);
        assert_eq!(cache.md5(&copy).unwrap(), Md5Digest::of_bytes(b"one"));
    }

    fn key(size: u64, ctime_ns: i64) -> Key {
        Key {
            dev: 1,
            ino: 2,
            size,
            mtime_ns: 0,
            ctime_ns,
        }
    }

    #[test]
    fn a_run_waits_for_fresh_entries_only_when_re_reading_them_would_cost_more() {
        const MS: i64 = 1_000_000;
        let now = 1_700_000_000_000_000_000 + 500 * MS + 7;
        let entries = |keys: &[Key]| -> Vec<(String, Key)> {
            keys.iter()
                .enumerate()
                .map(|(i, k)| (i.to_string(), *k))
                .collect()
        };
        let big = 200 << 20;
        // Two ticks and one of lag at 100 Hz.
        let settling = |now, entries| settling(now, entries, 30 * MS);
        // Old entries need no wait, however big.
        assert!(settling(now, entries(&[key(big, now - 50 * MS)])).is_none());
        // A big file changed 5 ms ago: wait until 30 ms after its change, and re-check it.
        let (wait, racy) = settling(
            now,
            entries(&[key(big, now - 5 * MS), key(1, now - 90 * MS)]),
        )
        .unwrap();
        assert_eq!(wait, Duration::from_millis(25));
        assert_eq!(racy, entries(&[key(big, now - 5 * MS)]));
        // A small one is cheaper to read again next time.
        assert!(settling(now, entries(&[key(4096, now - 5 * MS)])).is_none());
        // Whole-second timestamps would need seconds: not waited for.
        let whole = now - now % 1_000_000_000;
        assert!(settling(whole + MS, entries(&[key(big, whole)])).is_none());
        // A ctime in the future (the clock was set back) costs at most the margin.
        let (wait, _) = settling(now, entries(&[key(big, now + 3_600_000 * MS)])).unwrap();
        assert_eq!(wait, Duration::from_millis(30));
    }

    #[test]
    fn an_unchanged_file_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jar");
        fs::write(&file, b"one").unwrap();
        let path = forged_cache(&file, b"one", b"forged", later());
        // The forged digest comes back: the file was not read.
        assert_eq!(
            load(&path, true).md5(&file).unwrap(),
            Md5Digest::of_bytes(b"forged")
        );
    }

    #[test]
    fn a_changed_file_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jar");
        fs::write(&file, b"one").unwrap();
        let path = forged_cache(&file, b"one", b"forged", later());
        fs::write(&file, b"two").unwrap(); // same size; new ctime
        assert_eq!(
            load(&path, true).md5(&file).unwrap(),
            Md5Digest::of_bytes(b"two")
        );
    }

    #[test]
    fn the_margin_a_cache_was_written_with_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jar");
        fs::write(&file, b"one").unwrap();
        // Written 100 ms after the file: clear of this machine's margin (a few ticks)...
        let after = fs::metadata(&file).unwrap().modified().unwrap() + Duration::from_millis(100);
        let path = forged_cache(&file, b"one", b"forged", after);
        assert_eq!(
            load(&path, true).md5(&file).unwrap(),
            Md5Digest::of_bytes(b"forged")
        );
        // ...but not of the one second its writer said it needed.
        let mut json: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["racy_ns"], racy_ns());
        json["racy_ns"] = 1_000_000_000.into();
        fs::write(&path, json.to_string()).unwrap();
        stamp(&path, after);
        assert_eq!(
            load(&path, true).md5(&file).unwrap(),
            Md5Digest::of_bytes(b"one")
        );
    }

    #[test]
    fn a_file_written_just_before_the_cache_is_trusted_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let (source, file) = (dir.path().join("a.jar"), dir.path().join("b.jar"));
        fs::write(&source, b"one").unwrap();
        let cache = forged_run(&source, b"forged");
        // A copy written a moment ago, large enough that re-reading it would cost more
        // than waiting (it is sparse), vouched for with the source's (forged) digest.
        let at_copy = info(&source);
        fs::File::create(&file).unwrap().set_len(64 << 20).unwrap();
        cache.vouch(&file, &source, &at_copy);
        let scope = HashSet::from([file.clone()]);
        cache.settle(&scope);
        // Stamped as early as the kernel may stamp it: by its coarse clock, a whole tick
        // behind and on the grid of ticks the file's own ctime is on.
        let ctime = {
            use std::os::unix::fs::MetadataExt;
            let meta = fs::metadata(&file).unwrap();
            meta.ctime() * 1_000_000_000 + meta.ctime_nsec()
        };
        let behind = now_ns() - tick_ns() - ctime;
        let stamped = UNIX_EPOCH
            + Duration::from_nanos((ctime + behind - behind.rem_euclid(tick_ns())) as u64);
        let path = dir.path().join("cache.json");
        fs::write(&path, cache.render(&scope)).unwrap();
        stamp(&path, stamped);
        // Not read again: the forged digest comes back.
        assert_eq!(
            load(&path, true).md5(&file).unwrap(),
            Md5Digest::of_bytes(b"forged")
        );
    }

    #[test]
    fn a_tick_is_read_from_the_coarse_clock() {
        assert!(
            (1_000_000..=1_000_000_000).contains(&tick_ns()),
            "{}",
            tick_ns()
        );
    }

    #[test]
    fn racy_entries_and_no_cache_read_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jar");
        fs::write(&file, b"one").unwrap();
        // A cache written in the same instant as the file cannot vouch for it.
        let same_instant = fs::metadata(&file).unwrap().modified().unwrap();
        let racy = forged_cache(&file, b"one", b"forged", same_instant);
        assert_eq!(
            load(&racy, true).md5(&file).unwrap(),
            Md5Digest::of_bytes(b"one")
        );
        let fine = forged_cache(&file, b"one", b"forged", later());
        assert_eq!(
            load(&fine, false).md5(&file).unwrap(),
            Md5Digest::of_bytes(b"one")
        );
    }

    #[test]
    fn bundle_names_are_cached_with_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jar");
        fs::write(&file, b"one").unwrap();
        let learnt = load(Path::new("/nonexistent"), true);
        let (_, size, name) = learnt
            .md5_size_and_name(&file, || Ok("org.a_1.jar".into()))
            .unwrap();
        assert_eq!((size, name.to_str()), (3, Some("org.a_1.jar")));
        let path = dir.path().join("cache.json");
        fs::write(&path, learnt.render(&HashSet::from([file.to_path_buf()]))).unwrap();
        stamp(&path, later());
        let (_, size, name) = load(&path, true)
            .md5_size_and_name(&file, || panic!("the name must come from the cache"))
            .unwrap();
        assert_eq!((size, name.to_str()), (3, Some("org.a_1.jar")));
    }

    #[test]
    fn a_cached_name_that_would_leave_plugins_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.jar");
        fs::write(&file, b"one").unwrap();
        let learnt = load(Path::new("/nonexistent"), true);
        learnt
            .md5_size_and_name(&file, || Ok("org.a_1.jar".into()))
            .unwrap();
        let text = String::from_utf8(learnt.render(&HashSet::from([file.to_path_buf()])))
            .unwrap()
            .replace("\"org.a_1.jar\"", "\"../../../bin/evil.jar\"");
        let path = dir.path().join("cache.json");
        fs::write(&path, text).unwrap();
        stamp(&path, later());
        let (_, _, name) = load(&path, true)
            .md5_size_and_name(&file, || Ok("org.a_1.jar".into()))
            .unwrap();
        assert_eq!(name, "org.a_1.jar", "the forged name is not used");
    }

    #[test]
    fn a_damaged_cache_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        fs::write(&path, b"{ not json").unwrap();
        let file = dir.path().join("a.jar");
        fs::write(&file, b"x").unwrap();
        assert_eq!(
            load(&path, true).md5(&file).unwrap(),
            Md5Digest::of_bytes(b"x")
        );
    }
}
