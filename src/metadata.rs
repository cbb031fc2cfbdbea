//! The metadata files (SPEC §9): the runtime's `prePatchedJARs.txt` and applied lists, and
//! carbon-patch's own state and backup manifest. Parsing is forgiving (a damaged line is
//! reported and skipped, never a crash); rendering is deterministic.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Md5Digest;
use crate::plan::Target;

/// Version of the JSON files carbon-patch keeps in the metadata dir.
pub const STATE_SCHEMA_VERSION: u32 = 1;

/// `prePatchedJARs.txt`: bundle file name → MD5 of the file the apply order provides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JarList {
    /// The well-formed lines.
    pub jars: BTreeMap<Target, Md5Digest>,
    /// Lines that could not be read, as they were (lossy), for the report.
    pub damaged: Vec<String>,
}

/// Parses `name:md5` lines. The name may itself hold `:`; the digest is after the last one.
pub fn parse_jar_list(bytes: &[u8]) -> JarList {
    let mut list = JarList::default();
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = line.iter().rposition(|&b| b == b':').and_then(|colon| {
            let md5 = Md5Digest::from_hex(std::str::from_utf8(&line[colon + 1..]).ok()?)?;
            let name = &line[..colon];
            (!name.is_empty()).then(|| (Target::from(Path::new(OsStr::from_bytes(name))), md5))
        });
        match parsed {
            Some((name, md5)) => {
                list.jars.insert(name, md5);
            }
            None => list
                .damaged
                .push(String::from_utf8_lossy(line).into_owned()),
        }
    }
    list
}

/// Renders `name:md5` lines in name order.
pub fn render_jar_list<'a>(jars: impl IntoIterator<Item = (&'a Path, Md5Digest)>) -> Vec<u8> {
    let mut sorted: Vec<(&Path, Md5Digest)> = jars.into_iter().collect();
    sorted.sort();
    let mut out = Vec::new();
    for (name, md5) in sorted {
        out.extend_from_slice(name.as_os_str().as_bytes());
        out.push(b':');
        out.extend_from_slice(md5.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// Parses an applied list (`prePatched.txt`, `prePatchedDir.txt`): one name a line.
pub fn parse_applied_list(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Renders an applied list, one name a line, in the given order.
pub fn render_applied_list(names: &[String]) -> Vec<u8> {
    names
        .iter()
        .flat_map(|n| n.bytes().chain(std::iter::once(b'\n')))
        .collect()
}

/// What carbon-patch placed in plugins at its last apply: one record per file the apply
/// order provided. The runtime ignores this file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Target (see [`encode_path`]) → what was placed there.
    pub placed: BTreeMap<String, Placed>,
}

/// One file placed in plugins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    /// MD5 of the content placed.
    pub md5: Md5Digest,
    /// The entry that provided it.
    pub entry: String,
}

impl State {
    /// The placed targets as paths.
    pub fn targets(&self) -> impl Iterator<Item = (PathBuf, &Placed)> {
        self.placed
            .iter()
            .filter_map(|(k, v)| Some((decode_path(k)?, v)))
    }
}

/// The backup as carbon-patch made it: every file with its size, so a later run can tell
/// a whole backup from a damaged one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupManifest {
    /// [`STATE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Relative path (see [`encode_path`]) → size in bytes.
    pub files: BTreeMap<String, u64>,
}

/// Encodes a relative path for a JSON key without losing bytes: UTF-8 paths as they are,
/// others as a NUL (which no path holds) followed by the bytes in hex.
pub fn encode_path(path: &Path) -> String {
    match path.to_str() {
        Some(text) => text.to_string(),
        None => format!("\0{}", hex::encode(path.as_os_str().as_bytes())),
    }
}

/// The inverse of [`encode_path`]; `None` for text no path encodes to.
pub fn decode_path(text: &str) -> Option<PathBuf> {
    match text.strip_prefix('\0') {
        Some(hexed) => Some(PathBuf::from(OsStr::from_bytes(&hex::decode(hexed).ok()?))),
        None => Some(PathBuf::from(text)),
    }
}

/// Parses a JSON state file; `None` (reported by the caller) when it is damaged or of
/// another schema version.
pub fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    /// Just the version: serde skips the rest without building it.
    #[derive(Deserialize)]
    struct Version {
        schema_version: u32,
    }
    let version: Version = serde_json::from_slice(bytes).ok()?;
    if version.schema_version != STATE_SCHEMA_VERSION {
        return None;
    }
    serde_json::from_slice(bytes).ok()
}

/// Renders a JSON state file (pretty, newline-terminated, stable key order).
pub fn render_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs of strings and numbers cannot fail.
    let mut out = serde_json::to_vec_pretty(value).expect("state serialises");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5(text: &str) -> Md5Digest {
        Md5Digest::of_bytes(text.as_bytes())
    }

    #[test]
    fn jar_list_round_trips_in_name_order() {
        let a = (Path::new("org.b_1.jar"), md5("b"));
        let b = (Path::new("org.a_1.jar"), md5("a"));
        let text = render_jar_list([a, b]);
        assert_eq!(
            String::from_utf8(text.clone()).unwrap(),
            format!("org.a_1.jar:{}\norg.b_1.jar:{}\n", md5("a"), md5("b"))
        );
        let parsed = parse_jar_list(&text);
        assert_eq!(parsed.jars.len(), 2);
        assert!(parsed.damaged.is_empty());
    }

    #[test]
    fn damaged_jar_list_lines_are_reported_not_fatal() {
        let text = format!(
            "ok_1.jar:{}\r\ntruncated_line\nbad:xyz\n:{}\n\n",
            md5("x"),
            md5("y")
        );
        let parsed = parse_jar_list(text.as_bytes());
        assert_eq!(
            parsed.jars.keys().map(|t| t.as_path()).collect::<Vec<_>>(),
            [Path::new("ok_1.jar")]
        );
        assert_eq!(
            parsed.damaged,
            ["truncated_line", "bad:xyz", &format!(":{}", md5("y"))]
        );
    }

    #[test]
    fn names_with_colons_keep_them() {
        let parsed = parse_jar_list(format!("a:b.jar:{}\n", md5("z")).as_bytes());
        assert!(parsed.jars.contains_key(Path::new("a:b.jar")));
    }

    #[test]
    fn applied_list_round_trip() {
        let names = vec![
            "servicepack001".to_string(),
            "patch0000".into(),
            "patch0003".into(),
        ];
        let text = render_applied_list(&names);
        assert_eq!(text, b"servicepack001\npatch0000\npatch0003\n");
        assert_eq!(
            parse_applied_list(b"servicepack001\r\n\npatch0000\npatch0003"),
            names
        );
    }

    #[test]
    fn paths_encode_losslessly() {
        let odd = PathBuf::from(OsStr::from_bytes(b"caf\xe9_1.jar"));
        for path in [PathBuf::from("plain_1.jar"), odd] {
            assert_eq!(decode_path(&encode_path(&path)), Some(path));
        }
    }

    #[test]
    fn state_json_round_trip_and_damage() {
        let mut state = State {
            schema_version: STATE_SCHEMA_VERSION,
            ..State::default()
        };
        state.placed.insert(
            "a_1.jar".into(),
            Placed {
                md5: md5("a"),
                entry: "patch0001".into(),
            },
        );
        let text = render_json(&state);
        assert_eq!(parse_json::<State>(&text), Some(state));
        assert_eq!(
            parse_json::<State>(b"{\"schema_version\": 1, \"placed\": 3}"),
            None
        );
        assert_eq!(
            parse_json::<State>(b"{\"schema_version\": 99, \"placed\": {}}"),
            None
        );
        assert_eq!(parse_json::<State>(&text[..text.len() / 2]), None);
    }
}
