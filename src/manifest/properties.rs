//! Property tests of the manifest parser and the name rule (issue 3 §4, the stable-Rust
//! twin of `fuzz/fuzz_targets/manifest.rs`): arbitrary bytes and near-manifests never
//! panic, the parser reads back what JAR rules wrote, and every name it lets through obeys
//! SPEC §4. Deterministic: a fixed seed, no failure files.

use std::ffi::OsStr;
use std::io::Cursor;
use std::os::unix::ffi::OsStrExt;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use super::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x0ca7_b0c5),
        ..ProptestConfig::default()
    }
}

/// SPEC §4 in its own words, written apart from [`refusal`]: not empty, no `/`, `\\` or
/// NUL, not `.` or `..`, no control character (C0, DEL, or a Unicode control).
fn obeys_spec(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes != b"."
        && bytes != b".."
        && !bytes.iter().any(|&b| b == b'/' || b == b'\\' || b == 0)
        && !bytes.iter().any(|&b| b < 0x20 || b == 0x7f)
        && name
            .to_str()
            .is_none_or(|s| !s.chars().any(char::is_control))
        && bytes.len() <= 255
        && !bytes.starts_with(b".carbon-patch-tmp.")
}

/// Bytes with the manifest's meaningful ones over-represented (one in four is CR, LF,
/// space, `:`, `;`, `/`, `.` or NUL). Built from plain integers, which proptest generates
/// and shrinks far faster than a union per byte.
fn manifest_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    const SPECIAL: &[u8] = b"\r\n :;/.\0";
    proptest::collection::vec(any::<u16>(), 0..max).prop_map(|words| {
        words
            .into_iter()
            .map(|w| {
                let [low, high] = w.to_le_bytes();
                if high < 64 {
                    SPECIAL[usize::from(high) % SPECIAL.len()]
                } else {
                    low
                }
            })
            .collect()
    })
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Bundle-SymbolicName".to_string()),
        Just("Bundle-Version".to_string()),
        Just("bundle-symbolicname".to_string()),
        Just("BUNDLE-VERSION".to_string()),
        Just("Manifest-Version".to_string()),
        "[A-Za-z][A-Za-z0-9_-]{0,20}",
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[^\r\n]{0,90}",
        2 => "[a-z.]{1,30}(;singleton:=true)?",
        1 => "(\\.\\./|/|\\\\)[a-z]{0,8}",
        // Longer than any line: always wrapped over many continuation lines.
        1 => "[a-z.]{300,900}",
    ]
}

/// A main section written with JAR rules, lines cut every `width` bytes (anywhere, even
/// inside a UTF-8 character) with `end` after each, then a blank line and a second section
/// that must not count.
fn write_manifest(headers: &[(String, String)], width: usize, end: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        let line = format!("{name}: {value}");
        let mut rest = line.as_bytes();
        let mut first = true;
        while first || !rest.is_empty() {
            let room = if first { width } else { width - 1 };
            let cut = room.min(rest.len());
            if !first {
                out.push(b' ');
            }
            out.extend_from_slice(&rest[..cut]);
            out.extend_from_slice(end.as_bytes());
            rest = &rest[cut..];
            first = false;
        }
    }
    out.extend_from_slice(end.as_bytes());
    out.extend_from_slice(
        format!("Name: x/Y.class{end}Bundle-SymbolicName: ../evil{end}Bundle-Version: 1{end}")
            .as_bytes(),
    );
    out
}

/// The last value of `name` (case-insensitively) among `headers`: what `java.util.jar`
/// keeps of a header given twice.
fn last<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_names_obey_the_spec(
        bytes in manifest_bytes(4096),
        file_name in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        let _ = runtime_name(&bytes);
        for manifest in [Some(&bytes[..]), None] {
            match decide_name(manifest, OsStr::from_bytes(&file_name)) {
                Ok(name) => prop_assert!(obeys_spec(&name), "accepted {name:?}"),
                Err(NameError::Refused { name, .. }) => {
                    prop_assert!(!obeys_spec(&name), "refused {name:?}")
                }
                Err(NameError::Manifest(_)) => prop_assert!(manifest.is_some()),
            }
        }
    }

    #[test]
    fn near_manifests_read_back_what_jar_rules_wrote(
        headers in proptest::collection::vec((header_name(), header_value()), 0..8),
        // Wide enough for every header name and its `: ` on the first line, as JAR
        // writers keep it (72 bytes for `jar`).
        width in 24usize..100,
        end in prop_oneof![Just("\r\n"), Just("\n"), Just("\r")],
    ) {
        let bytes = write_manifest(&headers, width, end);
        // A CRLF across the JDK's 8192-byte read buffer is two line ends there (a unit
        // test covers it): keep the written manifests inside one buffer.
        prop_assume!(bytes.len() < 8192);
        let parsed = java::read(&bytes).expect("a manifest written with JAR rules reads");
        for (name, _) in &headers {
            prop_assert_eq!(parsed.get(name), last(&headers, name), "header {}", name);
        }
        let expected = match (last(&headers, SYMBOLIC_NAME), last(&headers, VERSION)) {
            (Some(bsn), Some(version)) => Some(format!(
                "{}_{version}.jar",
                bsn.split(';').next().unwrap_or_default(),
            )),
            _ => None,
        };
        prop_assert_eq!(runtime_name(&bytes), Ok(expected.clone()));
        let decided = decide_name(Some(&bytes), OsStr::new("own-name.jar"));
        let name = expected.unwrap_or_else(|| "own-name.jar".to_string());
        match decided {
            Ok(got) => {
                prop_assert_eq!(got.as_os_str(), OsStr::new(&name));
                prop_assert!(obeys_spec(&got));
            }
            Err(NameError::Refused { name: got, .. }) => {
                prop_assert_eq!(got.as_os_str(), OsStr::new(&name));
                prop_assert!(!obeys_spec(&got));
            }
            Err(NameError::Manifest(e)) => prop_assert!(false, "refused: {e}"),
        }
    }
}

proptest! {
    // Each case builds a jar (deflate in a debug build): fewer cases.
    #![proptest_config(config(64))]

    #[test]
    fn the_zip_reader_gives_back_the_manifest_of_a_jar(manifest in manifest_bytes(2048)) {
        let jar = carbon_fixtures::jar_with_manifest(&manifest, "property");
        let read = manifest_of(Cursor::new(jar), Path::new("p.jar"));
        prop_assert_eq!(read.ok().flatten(), Some(manifest));
    }

    #[test]
    fn damaged_jars_never_panic_and_never_yield_more_than_the_cap(
        manifest in manifest_bytes(512),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut jar = carbon_fixtures::jar_with_manifest(&manifest, "damaged");
        for (at, byte) in flips {
            let at = at.index(jar.len());
            jar[at] ^= byte;
        }
        if truncate {
            jar.truncate(cut.index(jar.len()));
        }
        if let Ok(Some(read)) = manifest_of(Cursor::new(jar), Path::new("d.jar")) {
            prop_assert!(read.len() as u64 <= MAX_MANIFEST_BYTES);
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_jar_never_panic(bytes in manifest_bytes(1024)) {
        let mut jar = b"PK\x03\x04".to_vec();
        jar.extend_from_slice(&bytes);
        let _ = manifest_of(Cursor::new(&jar), Path::new("a.jar"));
        let _ = manifest_of(Cursor::new(&bytes), Path::new("b.jar"));
    }
}
