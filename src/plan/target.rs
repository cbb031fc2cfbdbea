//! [`Target`]: where a file lands relative to plugins (and sits in the backup), the key of
//! every map a survey and a plan build. It owns one decision: how targets are ordered.
//!
//! The order is exactly `Path`'s (component by component), so every list, report and
//! `prePatchedJARs.txt` keeps its order; but `Path` parses both paths into components at
//! every comparison, which dominated a no-change run. A name that is one plain component —
//! no `/`, not `.` or `..`, as every bundle name is — compares by its bytes exactly as
//! `Path` would compare it, so such pairs are compared as bytes and only the rare nested
//! path falls back to `Path`.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A path relative to plugins, ordered (and equal) exactly as `Path` is, but cheaply.
#[derive(Clone)]
pub struct Target {
    path: PathBuf,
    /// Whether `path` is one plain component, which compares by its bytes (looked at once).
    plain: bool,
}

impl Target {
    /// The path.
    pub fn as_path(&self) -> &Path {
        &self.path
    }

    /// The path, taken out.
    pub fn into_path_buf(self) -> PathBuf {
        self.path
    }
}

/// Whether `Path` sees `name` as at most one normal component (which it compares by its
/// bytes): no separator, and not `.` or `..` (which it orders before every normal one).
/// The empty path has no component and its bytes sort first: byte order holds there too.
fn is_one_plain_component(name: &[u8]) -> bool {
    !name.contains(&b'/') && name != b"." && name != b".."
}

impl Ord for Target {
    fn cmp(&self, other: &Target) -> Ordering {
        if self.plain && other.plain {
            self.path
                .as_os_str()
                .as_bytes()
                .cmp(other.path.as_os_str().as_bytes())
        } else {
            self.path.cmp(&other.path)
        }
    }
}

impl PartialOrd for Target {
    fn partial_cmp(&self, other: &Target) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `Path`'s equality (`a//b` equals `a/b`), as the order says.
impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Target {}

/// `Path`'s hash, which agrees with `Path`'s equality and so with this one.
impl Hash for Target {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.path.hash(state);
    }
}

/// Lookups by `&Path` agree with lookups by `Target` (same order, same equality), at
/// `Path`'s cost: look up by `Target` where it matters.
impl Borrow<Path> for Target {
    fn borrow(&self) -> &Path {
        &self.path
    }
}

/// As `Borrow<Path>`.
impl Borrow<PathBuf> for Target {
    fn borrow(&self) -> &PathBuf {
        &self.path
    }
}

impl Deref for Target {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Target {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// Shown as the path it is.
impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.path.fmt(f)
    }
}

impl From<PathBuf> for Target {
    fn from(path: PathBuf) -> Target {
        let plain = is_one_plain_component(path.as_os_str().as_bytes());
        Target { path, plain }
    }
}

impl From<&Path> for Target {
    fn from(path: &Path) -> Target {
        Target::from(path.to_path_buf())
    }
}

impl From<&str> for Target {
    fn from(path: &str) -> Target {
        Target::from(PathBuf::from(path))
    }
}

impl From<Target> for PathBuf {
    fn from(target: Target) -> PathBuf {
        target.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::collections::hash_map::DefaultHasher;
    use std::ffi::OsStr;

    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    fn path(bytes: &[u8]) -> &Path {
        Path::new(OsStr::from_bytes(bytes))
    }

    fn hash(target: &Target) -> u64 {
        let mut hasher = DefaultHasher::new();
        target.hash(&mut hasher);
        hasher.finish()
    }

    /// The order and equality of `a` and `b` as targets are `Path`'s.
    fn agrees(a: &[u8], b: &[u8]) -> Result<(), TestCaseError> {
        let (pa, pb) = (path(a), path(b));
        let (ta, tb) = (Target::from(pa), Target::from(pb));
        prop_assert_eq!(ta.cmp(&tb), pa.cmp(pb), "{:?} vs {:?}", pa, pb);
        prop_assert_eq!(ta == tb, pa == pb, "{:?} == {:?}", pa, pb);
        if ta == tb {
            prop_assert_eq!(hash(&ta), hash(&tb), "{:?} and {:?} hash alike", pa, pb);
        }
        Ok(())
    }

    /// Names where bytes and components disagree, or nearly: separators (doubled,
    /// trailing, leading), `.` and `..` alone and inside names, bytes sorting around `.`
    /// (`-` before it, `/` and digits after it), the empty path and a non-UTF-8 byte.
    const NAMES: &[&[u8]] = &[
        b"",
        b".",
        b"..",
        b"...",
        b"-",
        b".a",
        b"a",
        b"a.",
        b"a-b",
        b"a.b",
        b"a/b",
        b"a//b",
        b"a/./b",
        b"a/../b",
        b"a/",
        b"a0",
        b"a_1.jar",
        b"/a",
        b"./a",
        b"../a",
        b"a/b/c",
        b"ab",
        b"b",
        b"org.wso2.carbon.core_4.4.9.jar",
        b"org.wso2.carbon.core_4.4.10.jar",
        b"exploded_1.0/e.class",
        b"caf\xe9_1.jar",
    ];

    #[test]
    fn the_order_is_paths_on_names_that_trip_byte_order() {
        for a in NAMES {
            for b in NAMES {
                agrees(a, b).unwrap();
            }
        }
    }

    #[test]
    fn a_map_of_targets_sorts_as_a_map_of_paths() {
        let by_target: Vec<PathBuf> = NAMES
            .iter()
            .map(|n| (Target::from(path(n)), ()))
            .collect::<BTreeMap<_, _>>()
            .into_keys()
            .map(PathBuf::from)
            .collect();
        let by_path: Vec<PathBuf> = NAMES
            .iter()
            .map(|n| (path(n).to_path_buf(), ()))
            .collect::<BTreeMap<_, _>>()
            .into_keys()
            .collect();
        assert_eq!(by_target, by_path);
    }

    #[test]
    fn lookups_by_path_find_targets() {
        let map = BTreeMap::from([(Target::from("a/b"), 1), (Target::from("a.b"), 2)]);
        assert_eq!(map.get(Path::new("a//b")), Some(&1));
        assert_eq!(map.get(&PathBuf::from("a.b")), Some(&2));
        assert_eq!(map.get(&Target::from("a/b/")), Some(&1));
    }

    /// Short names over the bytes that matter to either order.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop::sample::select(&b"./-_a0\xe9"[..]);
        proptest::collection::vec(byte, 0..7)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2048,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(11),
            ..ProptestConfig::default()
        })]

        #[test]
        fn the_order_is_paths_on_any_name(a in name(), b in name()) {
            agrees(&a, &b)?;
        }
    }
}
