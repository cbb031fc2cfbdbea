//! Differential test against a real JVM (issue 13 §1, SPEC §4): the name carbon-patch gives a
//! jar must be exactly the name the Carbon runtime computes with `java.util.jar`, and a
//! manifest `java.util.jar` refuses must be refused with Java's own message.
//!
//! The corpus: hand-written edge cases plus a few thousand manifests generated from a fixed
//! seed (no clock, no randomness from outside), each written as a real jar. The reference:
//! `tests/jvm/ManifestName.java`, our own small program that prints, for each jar, the name
//! the runtime's applier computes (`PatchUtils.verifyBundleFileName`: the symbolic name up to
//! its first `;`, `_`, the version, `.jar`), `OWN` (a header is missing: the jar keeps its own
//! name) or the exception the runtime meets (java.util.jar's `IOException`, or the
//! `NullPointerException` of a jar without a manifest).
//!
//! carbon-patch's side: `manifest::manifest_of` finds and reads the jar's manifest entry
//! (none: `OWN`), then `manifest::runtime_name` names it.
//!
//! - Always: carbon-patch's answer for every case is compared with Java's answers committed
//!   in `tests/jvm/corpus.tsv` (case id, a hash of the jar's manifest bytes, Java's answer).
//! - When `java` and `javac` are on PATH: the program is compiled into a temporary directory
//!   and run once over the freshly written corpus; its answers must equal the committed ones
//!   (and so carbon-patch's). Without a JVM that part is skipped, saying so on stderr;
//!   `CARBON_PATCH_REQUIRE_JVM=1` turns the skip into a failure (for CI).
//! - `CARBON_PATCH_BLESS_JVM=1` rewrites `tests/jvm/corpus.tsv` from the live JVM.
//!
//! Run alone: `cargo test --test cli jvm_`.

use crate::support::*;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use carbon_patch::manifest::runtime_name;

// =======================================================================================
// The cases.

/// Where the committed answers live.
fn corpus_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jvm/corpus.tsv")
}

/// The reference program.
fn java_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jvm/ManifestName.java")
}

/// The generator's seed and size: changing either changes the corpus (re-record it).
const SEED: u64 = 0x6361_7262_6f6e_0013;
const GENERATED: usize = 3000;

/// How a case's jar holds its manifest.
enum Jar {
    /// `META-INF/MANIFEST.MF` holding these bytes, deflated, with the payload of a fixture
    /// jar ([`jar_with_manifest`]): the hand-written cases.
    Fixture(Vec<u8>),
    /// `META-INF/MANIFEST.MF` holding these bytes, then a small class file, both stored: the
    /// generated cases (deflating thousands of payloads in a debug build takes seconds).
    Stored(Vec<u8>),
    /// A zip of exactly these entries, in this order (stored, raw names): for the lookup
    /// of the manifest entry itself.
    Entries(Vec<(Vec<u8>, Vec<u8>)>),
}

struct Case {
    id: String,
    jar: Jar,
    /// Whether `corpus.tsv` shows the manifest beside the answer (hand-written cases).
    hand: bool,
    /// The jar's bytes and carbon-patch's answer, made once.
    jar_bytes: OnceLock<Vec<u8>>,
    ours: OnceLock<String>,
}

impl Case {
    fn new(id: String, jar: Jar, hand: bool) -> Case {
        Case {
            id,
            jar,
            hand,
            jar_bytes: OnceLock::new(),
            ours: OnceLock::new(),
        }
    }

    fn hand(id: &str, manifest: impl Into<Vec<u8>>) -> Case {
        Case::new(format!("h/{id}"), Jar::Fixture(manifest.into()), true)
    }

    fn entries(id: &str, entries: &[(&[u8], &[u8])]) -> Case {
        let entries = entries
            .iter()
            .map(|(n, b)| (n.to_vec(), b.to_vec()))
            .collect();
        Case::new(format!("h/{id}"), Jar::Entries(entries), true)
    }

    /// The jar's bytes.
    fn jar_bytes(&self) -> &[u8] {
        self.jar_bytes.get_or_init(|| match &self.jar {
            Jar::Fixture(manifest) => jar_with_manifest(manifest, &self.id),
            Jar::Stored(manifest) => stored_zip(&[
                (b"META-INF/MANIFEST.MF".to_vec(), manifest.clone()),
                (b"fixture/Activator.class".to_vec(), CLASS.to_vec()),
            ]),
            Jar::Entries(entries) => stored_zip(entries),
        })
    }

    /// The bytes the hash covers and failures show: the manifest, or every entry.
    fn shown_bytes(&self) -> Vec<u8> {
        match &self.jar {
            Jar::Fixture(manifest) | Jar::Stored(manifest) => manifest.clone(),
            Jar::Entries(entries) => {
                let mut out = Vec::new();
                for (name, bytes) in entries {
                    out.extend_from_slice(b"[entry ");
                    out.extend_from_slice(name);
                    out.extend_from_slice(b"]\n");
                    out.extend_from_slice(bytes);
                }
                out
            }
        }
    }

    /// 16 hex digits of the MD5 of [`Case::shown_bytes`].
    fn hash(&self) -> String {
        md5_hex(&self.shown_bytes())[..16].to_string()
    }

    fn is_lookup(&self) -> bool {
        matches!(self.jar, Jar::Entries(_))
    }
}

/// A class file's first bytes: the payload of the generated cases' jars.
const CLASS: &[u8] = b"\xca\xfe\xba\xbe\x00\x00\x00\x34 carbon-patch differential corpus";

/// A zip of stored entries with exactly these names, duplicates allowed (the zip crate's
/// writer refuses them); names with bytes above 0x7f are flagged UTF-8.
fn stored_zip(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, bytes) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        let offset = u32::try_from(out.len()).expect("small zip");
        let size = u32::try_from(bytes.len()).expect("small entry");
        let name_len = u16::try_from(name.len()).expect("short name");
        let flags: u16 = if name.is_ascii() { 0 } else { 0x0800 };
        let mut common = Vec::new();
        common.extend_from_slice(&20u16.to_le_bytes()); // version needed
        common.extend_from_slice(&flags.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // stored
        common.extend_from_slice(&0u16.to_le_bytes()); // time
        common.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
        common.extend_from_slice(&crc.sum().to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&size.to_le_bytes());
        common.extend_from_slice(&name_len.to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(name);
        out.extend_from_slice(bytes);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&0x031eu16.to_le_bytes()); // made by: Unix
        central.extend_from_slice(&common);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let count = u16::try_from(entries.len()).expect("few entries");
    let central_offset = u32::try_from(out.len()).expect("small zip");
    let central_len = u32::try_from(central.len()).expect("small zip");
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// `lines` joined, each followed by `end`.
fn lines(lines: &[&str], end: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(end.as_bytes());
    }
    out
}

/// Byte-level concatenation.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `Name: value` lines of filler headers (`X-Fill-n`), each `end`-terminated, exactly
/// `len` bytes in all (`len` is 0 or at least 12 + `end`'s length).
fn filler(len: usize, end: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = 0;
    while out.len() < len {
        let left = len - out.len();
        let head = format!("X-Fill-{n}: ");
        let room = left - head.len() - end.len();
        // Lines of at most 72 bytes; the last one takes what is left (at least one 'f').
        let take = if room > 60 + 12 + end.len() + 1 {
            60
        } else {
            room
        };
        out.extend_from_slice(head.as_bytes());
        out.extend(std::iter::repeat_n(b'f', take));
        out.extend_from_slice(end.as_bytes());
        n += 1;
    }
    assert_eq!(out.len(), len, "filler of {len} bytes");
    out
}

/// A header line of exactly `len` bytes before its line end: `name: vvvv`.
fn line_of(name: &str, len: usize) -> Vec<u8> {
    let mut out = format!("{name}: ").into_bytes();
    assert!(len > out.len(), "line of {len} bytes for {name}");
    out.resize(len, b'v');
    out
}

const BSN: &str = "Bundle-SymbolicName: org.x";
const VER: &str = "Bundle-Version: 1.0";

/// The hand-written edge cases.
fn hand_cases() -> Vec<Case> {
    let mut c = Vec::new();
    let crlf = "\r\n";
    // Duplicates: the last value counts, whatever the case of the name.
    c.push(Case::hand(
        "duplicate-version-last-wins",
        lines(
            &[
                "Manifest-Version: 1.0",
                BSN,
                "Bundle-Version: 0.0.1",
                "Bundle-Version: 1.1.0",
                "",
            ],
            crlf,
        ),
    ));
    c.push(Case::hand(
        "duplicate-bsn-last-wins",
        lines(
            &[
                "Bundle-SymbolicName: org.a",
                VER,
                "Bundle-SymbolicName: org.b",
            ],
            crlf,
        ),
    ));
    c.push(Case::hand(
        "duplicate-version-other-case-last-wins",
        lines(
            &[BSN, "Bundle-Version: 0.0.1", "bundle-version: 1.1.0"],
            "\n",
        ),
    ));
    c.push(Case::hand(
        "case-variants-of-names",
        lines(
            &["BUNDLE-SYMBOLICNAME: org.upper", "bundle-version: 2.0"],
            "\n",
        ),
    ));
    c.push(Case::hand(
        "duplicate-in-name-section-does-not-count",
        lines(
            &[BSN, VER, "", "Name: a/b", "Bundle-Version: 9.9", ""],
            crlf,
        ),
    ));
    // The last line without a line end is not read.
    c.push(Case::hand(
        "last-line-without-line-end-version-dropped",
        cat(&[BSN.as_bytes(), b"\r\n", VER.as_bytes()]),
    ));
    c.push(Case::hand(
        "last-line-without-line-end-other-dropped",
        cat(&[
            BSN.as_bytes(),
            b"\r\n",
            VER.as_bytes(),
            b"\r\nCreated-By: x",
        ]),
    ));
    c.push(Case::hand(
        "last-line-without-line-end-continuation-dropped",
        cat(&[BSN.as_bytes(), b"\n", VER.as_bytes(), b"\n .2"]),
    ));
    c.push(Case::hand("no-blank-line-at-end", lines(&[BSN, VER], crlf)));
    // Spaces are kept.
    c.push(Case::hand(
        "bsn-two-spaces-after-colon",
        lines(&["Bundle-SymbolicName:  org.x", VER, ""], crlf),
    ));
    c.push(Case::hand(
        "bsn-space-before-directive",
        lines(
            &["Bundle-SymbolicName: org.x ;singleton:=true", VER, ""],
            crlf,
        ),
    ));
    c.push(Case::hand(
        "version-trailing-spaces",
        lines(&[BSN, "Bundle-Version: 1.1.0  ", ""], crlf),
    ));
    c.push(Case::hand(
        "version-tab-and-controls",
        lines(&[BSN, "Bundle-Version: 1.0\t\u{1}\u{7f}", ""], "\n"),
    ));
    c.push(Case::hand(
        "version-with-semicolon-kept",
        lines(&[BSN, "Bundle-Version: 1.0;x", ""], "\n"),
    ));
    c.push(Case::hand(
        "nul-in-bsn",
        lines(&["Bundle-SymbolicName: org.x\0y", VER, ""], "\n"),
    ));
    // Refused: no space after the colon, space before it, a BOM, junk first.
    c.push(Case::hand(
        "version-without-space-after-colon",
        lines(&[BSN, "Bundle-Version:1.1.0", ""], crlf),
    ));
    c.push(Case::hand(
        "empty-value-without-space",
        lines(&[BSN, VER, "Created-By:", ""], crlf),
    ));
    c.push(Case::hand(
        "space-before-colon",
        lines(&["Bundle-SymbolicName : org.x", VER, ""], crlf),
    ));
    c.push(Case::hand(
        "byte-order-mark",
        cat(&[
            b"\xef\xbb\xbf",
            &lines(&["Manifest-Version: 1.0", BSN, VER, ""], crlf),
        ]),
    ));
    c.push(Case::hand(
        "malformed-line-first",
        lines(&["this is not a header", BSN, VER, ""], crlf),
    ));
    c.push(Case::hand(
        "malformed-line-after-headers",
        lines(&[BSN, VER, "Created-By", ""], crlf),
    ));
    c.push(Case::hand("colon-alone", lines(&[BSN, VER, ":", ""], "\n")));
    c.push(Case::hand(
        "empty-name",
        lines(&[BSN, VER, ": x", ""], "\n"),
    ));
    c.push(Case::hand(
        "tab-before-name",
        lines(&[BSN, "\tBundle-Version: 1", ""], "\n"),
    ));
    c.push(Case::hand(
        "colon-in-value-fine",
        lines(&[BSN, VER, "Bundle-DocURL: http://x:80/", ""], "\n"),
    ));
    c.push(Case::hand(
        "double-colon",
        lines(&[BSN, VER, "A:: b", ""], "\n"),
    ));
    // Continuations.
    c.push(Case::hand(
        "continuation-first",
        lines(&[" x", BSN, VER, ""], crlf),
    ));
    c.push(Case::hand(
        "space-only-line-first",
        lines(&[" ", BSN, VER, ""], crlf),
    ));
    c.push(Case::hand(
        "continuation-of-value",
        lines(&["Bundle-SymbolicName: org.", " x", " .y", VER, ""], crlf),
    ));
    c.push(Case::hand(
        "continuation-keeps-second-space",
        lines(&["Bundle-SymbolicName: org", "  .x", VER, ""], crlf),
    ));
    c.push(Case::hand(
        "continuation-after-space-only-value",
        lines(&["Bundle-SymbolicName: ", " org.x", VER, ""], "\n"),
    ));
    c.push(Case::hand(
        "continuation-space-only",
        lines(&[BSN, " ", VER, ""], "\n"),
    ));
    c.push(Case::hand(
        "continuation-inside-name",
        lines(&["Bundle-Symbolic", " Name: org.x", VER, ""], crlf),
    ));
    c.push(Case::hand(
        "continuation-before-colon",
        lines(&["Bundle-SymbolicName", " : org.x", VER, ""], crlf),
    ));
    c.push(Case::hand(
        "continuation-after-colon",
        lines(&["Bundle-SymbolicName:", "  org.x", VER, ""], crlf),
    ));
    c.push(Case::hand(
        "continuation-splits-utf8",
        cat(&[
            b"Bundle-SymbolicName: org.\xc3\r\n \xa9x\r\n",
            VER.as_bytes(),
            b"\r\n\r\n",
        ]),
    ));
    c.push(Case::hand(
        "continuation-after-blank-line",
        lines(&[BSN, VER, "", " x", ""], "\n"),
    ));
    c.push(Case::hand(
        "wrapped-at-72-like-jar-tools",
        wrap_manifest(
            &[
                ("Manifest-Version", "1.0"),
                (
                    "Bundle-SymbolicName",
                    "org.wso2.carbon.identity.application.authentication.framework;singleton:=true",
                ),
                (
                    "Bundle-Version",
                    "5.11.148.this-is-a-long-qualifier-that-wraps-a-line-0001",
                ),
            ],
            crlf,
        ),
    ));
    // Header names: odd characters; 70 bytes is the longest name.
    for (id, name) in [
        ("name-with-space", "Bundle Version"),
        ("name-with-dot", "Bundle.Version"),
        ("name-with-slash", "X/Y"),
        ("name-with-e-acute", "Bundl\u{e9}-Version"),
        ("name-underscore-digits", "X_9-z"),
    ] {
        c.push(Case::hand(
            id,
            lines(&[BSN, VER, &format!("{name}: 1"), ""], "\n"),
        ));
    }
    c.push(Case::hand(
        "name-with-invalid-utf8",
        cat(&[BSN.as_bytes(), b"\n", VER.as_bytes(), b"\nB\xffad: x\n\n"]),
    ));
    for len in [69, 70, 71, 72] {
        let name = "N".repeat(len);
        c.push(Case::hand(
            &format!("name-length-{len}"),
            lines(&[BSN, VER, &format!("{name}: x"), ""], "\n"),
        ));
    }
    // The 512-byte line buffer: at most 511 bytes and a line end fit.
    for (end, tag) in [("\n", "lf"), ("\r\n", "crlf"), ("\r", "cr")] {
        for len in [510, 511, 512, 513] {
            c.push(Case::hand(
                &format!("line-{len}-{tag}-mid"),
                cat(&[
                    &lines(&[BSN], end),
                    &line_of("X-Long", len),
                    end.as_bytes(),
                    &lines(&[VER, ""], end),
                ]),
            ));
            c.push(Case::hand(
                &format!("line-{len}-{tag}-last-header"),
                cat(&[
                    &lines(&[BSN, VER], end),
                    &line_of("X-Long", len),
                    end.as_bytes(),
                    end.as_bytes(),
                ]),
            ));
        }
    }
    c.push(Case::hand(
        "line-511-crlf-then-name-section",
        cat(&[
            &lines(&[BSN], crlf),
            &line_of("X-Long", 511),
            b"\r\nName: a\r\n",
            &lines(&[VER, ""], crlf),
        ]),
    ));
    c.push(Case::hand(
        "line-511-crlf-version",
        cat(&[
            &lines(&[BSN], crlf),
            &line_of("Bundle-Version", 511),
            b"\r\n\r\n",
        ]),
    ));
    c.push(Case::hand(
        "line-512-at-end-without-line-end",
        cat(&[&lines(&[BSN, VER], "\n"), &line_of("X-Long", 512)]),
    ));
    c.push(Case::hand(
        "line-600-at-end-without-line-end",
        cat(&[&lines(&[BSN, VER], "\n"), &line_of("X-Long", 600)]),
    ));
    c.push(Case::hand(
        "continuation-line-512",
        cat(&[
            &lines(&[BSN, VER, "X-Long: a"], "\n"),
            b" ",
            &[b'c'; 511],
            b"\n\n",
        ]),
    ));
    c.push(Case::hand(
        "long-value-wrapped-joins-past-512",
        wrap_manifest(
            &[
                ("Bundle-SymbolicName", &"o".repeat(1500)),
                ("Bundle-Version", "1"),
            ],
            "\n",
        ),
    ));
    // Line ends.
    c.push(Case::hand("lf-only", lines(&[BSN, VER, ""], "\n")));
    c.push(Case::hand("cr-only", lines(&[BSN, VER, ""], "\r")));
    c.push(Case::hand("crlf", lines(&[BSN, VER, ""], crlf)));
    c.push(Case::hand(
        "mixed-line-ends",
        cat(&[
            BSN.as_bytes(),
            b"\r",
            b"Created-By: x\n",
            VER.as_bytes(),
            b"\r\n\r\n",
        ]),
    ));
    c.push(Case::hand(
        "lf-cr-is-a-blank-line",
        cat(&[BSN.as_bytes(), b"\n\r", VER.as_bytes(), b"\n\n"]),
    ));
    c.push(Case::hand(
        "cr-cr-lf",
        cat(&[BSN.as_bytes(), b"\r\r\n", VER.as_bytes(), b"\n\n"]),
    ));
    c.push(Case::hand(
        "cr-only-last-line-kept",
        cat(&[BSN.as_bytes(), b"\r", VER.as_bytes(), b"\r"]),
    ));
    c.push(Case::hand(
        "cr-only-continuation",
        cat(&[b"Bundle-SymbolicName: org.\r x\r", VER.as_bytes(), b"\r\r"]),
    ));
    // The 8192-byte read buffer: a CRLF across its edge, and the 512-byte rule there.
    for (cr_at, content) in [
        (8190, 511),
        (8191, 511),
        (8192, 511),
        (8191, 510),
        (8191, 100),
        (8192, 100),
        (16383, 511),
        (16384, 511),
    ] {
        let start = cr_at - content;
        let head = lines(&[BSN], crlf);
        c.push(Case::hand(
            &format!("cr-at-{cr_at}-line-{content}-crlf"),
            cat(&[
                &head,
                &filler(start - head.len(), crlf),
                &line_of("X-Edge", content),
                b"\r\n",
                &lines(&[VER, ""], crlf),
            ]),
        ));
    }
    for cr_at in [8191, 8192] {
        let start = cr_at - 511;
        let head = lines(&[BSN], "\r");
        c.push(Case::hand(
            &format!("cr-at-{cr_at}-line-511-cr-then-lf-line"),
            cat(&[
                &head,
                &filler(start - head.len(), "\r"),
                &line_of("X-Edge", 511),
                b"\r\n",
                &lines(&[VER, ""], "\r"),
            ]),
        ));
    }
    {
        let head = lines(&[BSN], "\n");
        c.push(Case::hand(
            "version-after-8192",
            cat(&[
                &head,
                &filler(9000 - head.len(), "\n"),
                &lines(&[VER, ""], "\n"),
            ]),
        ));
        c.push(Case::hand(
            "last-line-without-end-at-8192",
            cat(&[
                &head,
                &filler(8192 - 19 - head.len(), "\n"),
                b"Bundle-Version: 1.0",
            ]),
        ));
    }
    // Values: UTF-8, invalid UTF-8, empty.
    c.push(Case::hand(
        "non-ascii-values",
        lines(
            &[
                "Bundle-SymbolicName: org.\u{e9}t\u{e9}.\u{4e2d}",
                "Bundle-Version: 1.0-\u{1f600}",
                "",
            ],
            "\n",
        ),
    ));
    for (id, bytes) in [
        ("utf8-encoded-surrogate", &b"\xed\xa0\x80"[..]),
        ("utf8-surrogate-then-ascii", b"\xed\xa0x"),
        ("utf8-low-surrogate", b"\xed\xb0\x80"),
        ("utf8-cesu8-pair", b"\xed\xa0\xbd\xed\xb8\x80"),
        ("utf8-ed-highest-valid", b"\xed\x9f\xbf"),
        ("utf8-e0-overlong", b"\xe0\x80\xaf"),
        ("utf8-c0-overlong", b"\xc0\xaf"),
        ("utf8-f0-overlong", b"\xf0\x80\x80\x80"),
        ("utf8-above-10ffff", b"\xf4\x90\x80\x80"),
        ("utf8-f5", b"\xf5\x80\x80\x80"),
        ("utf8-lone-continuation", b"\x80\xbf"),
        ("utf8-ff", b"\xff\xfe"),
        ("utf8-truncated-3-mid", b"\xe2\x82x"),
        ("utf8-truncated-4-mid", b"\xf0\x9f\x98x"),
        ("utf8-truncated-4-of-2-mid", b"\xf0\x9fx"),
    ] {
        c.push(Case::hand(
            id,
            cat(&[
                b"Bundle-SymbolicName: a",
                bytes,
                b"b\nBundle-Version: 1\n\n",
            ]),
        ));
    }
    for (id, bytes) in [
        ("utf8-truncated-2-at-end", &b"\xc3"[..]),
        ("utf8-truncated-3-at-end", b"\xe2\x82"),
        ("utf8-truncated-3-of-1-at-end", b"\xe2"),
        ("utf8-truncated-3-bad-at-end", b"\xe0\x80"),
        ("utf8-surrogate-truncated-at-end", b"\xed\xa0"),
        ("utf8-truncated-4-at-end", b"\xf0\x9f\x98"),
        ("utf8-truncated-4-of-2-at-end", b"\xf0\x9f"),
        ("utf8-truncated-4-bad-2-at-end", b"\xf0\x80"),
        ("utf8-truncated-4-bad-3-at-end", b"\xf0\x9f\x41"),
        ("utf8-f8-at-end", b"\xf8"),
    ] {
        c.push(Case::hand(
            id,
            cat(&[b"Bundle-SymbolicName: a\nBundle-Version: 1", bytes, b"\n\n"]),
        ));
    }
    c.push(Case::hand(
        "empty-version",
        lines(&[BSN, "Bundle-Version: ", ""], "\n"),
    ));
    c.push(Case::hand(
        "empty-bsn",
        lines(&["Bundle-SymbolicName: ", VER, ""], "\n"),
    ));
    for (id, bsn) in [
        ("bsn-semicolon", ";"),
        ("bsn-two-semicolons", ";;"),
        ("bsn-semicolon-x", ";x"),
        ("bsn-x-semicolon", "x;"),
        ("bsn-space-semicolon", " ;"),
        ("bsn-semicolons-x-semicolon", ";;x;"),
    ] {
        c.push(Case::hand(
            id,
            lines(&[&format!("Bundle-SymbolicName: {bsn}"), VER, ""], "\n"),
        ));
    }
    // Missing headers.
    c.push(Case::hand("only-bsn", lines(&[BSN, ""], "\n")));
    c.push(Case::hand("only-version", lines(&[VER, ""], "\n")));
    c.push(Case::hand("empty-manifest", b"".to_vec()));
    c.push(Case::hand("blank-line-only", b"\r\n".to_vec()));
    c.push(Case::hand(
        "blank-line-first",
        lines(&["", BSN, VER, ""], "\n"),
    ));
    c.push(Case::hand(
        "blank-line-first-then-name-section",
        lines(&["", "Name: x", BSN, VER, ""], "\n"),
    ));
    c.push(Case::hand(
        "name-header-in-main-section",
        lines(&["Name: x", BSN, VER, ""], "\n"),
    ));
    c.push(Case::hand(
        "blank-line-inside-main-section",
        lines(&[BSN, "", VER, ""], crlf),
    ));
    // Sections after the main one: errors there fail the whole manifest.
    for (id, section) in [
        (
            "section-ok",
            &["Name: a/b.class", "SHA-256-Digest: abc"][..],
        ),
        (
            "section-wrapped-name",
            &["Name: a/very/long/", " path/b.class", "X: y"],
        ),
        ("section-name-lower-case", &["name: a", "X: y"]),
        ("section-name-without-space", &["Name:a", "X: y"]),
        ("section-not-a-name", &["Created-By: a", "X: y"]),
        ("section-bad-header", &["Name: a", "bad"]),
        ("section-header-without-space", &["Name: a", "X:y"]),
        ("section-bad-header-name", &["Name: a", "X Y: z"]),
        ("section-misplaced-continuation", &["Name: a", "", " x"]),
        ("section-empty-name", &["Name: ", "X: y"]),
        ("section-name-only-at-end", &["Name: a"]),
    ] {
        let mut all = vec![BSN, VER, ""];
        all.extend_from_slice(section);
        all.push("");
        c.push(Case::hand(id, lines(&all, crlf)));
    }
    c.push(Case::hand(
        "section-after-several-blank-lines",
        lines(&[BSN, VER, "", "", "", "Name: a", "X: y", "", ""], "\n"),
    ));
    c.push(Case::hand(
        "section-name-line-too-long",
        cat(&[
            &lines(&[BSN, VER, ""], "\n"),
            &line_of("Name", 600),
            b"\nX: y\n\n",
        ]),
    ));
    c.push(Case::hand(
        "section-header-line-too-long",
        cat(&[
            &lines(&[BSN, VER, "", "Name: a"], "\n"),
            &line_of("X", 600),
            b"\n\n",
        ]),
    ));
    c.push(Case::hand(
        "section-name-without-line-end",
        cat(&[&lines(&[BSN, VER, ""], "\n"), b"Name: a"]),
    ));
    // The jar's manifest entry itself, found as java.util.jar finds it.
    let m = |bsn: &str| lines(&[&format!("Bundle-SymbolicName: {bsn}"), VER, ""], "\n");
    let (exact, lower, mixed) = (m("exact"), m("lower"), m("mixed"));
    let other: &[u8] = b"class";
    c.push(Case::entries("entry-no-manifest", &[(b"a/B.class", other)]));
    c.push(Case::entries(
        "entry-exact",
        &[(b"META-INF/MANIFEST.MF", &exact), (b"a/B.class", other)],
    ));
    c.push(Case::entries(
        "entry-lower-case",
        &[(b"meta-inf/manifest.mf", &lower), (b"a/B.class", other)],
    ));
    c.push(Case::entries(
        "entry-mixed-case",
        &[(b"Meta-Inf/Manifest.Mf", &mixed)],
    ));
    c.push(Case::entries(
        "entry-lower-then-exact",
        &[
            (b"meta-inf/manifest.mf", &lower),
            (b"META-INF/MANIFEST.MF", &exact),
        ],
    ));
    c.push(Case::entries(
        "entry-exact-then-lower",
        &[
            (b"META-INF/MANIFEST.MF", &exact),
            (b"meta-inf/manifest.mf", &lower),
        ],
    ));
    c.push(Case::entries(
        "entry-lower-then-mixed",
        &[
            (b"meta-inf/manifest.mf", &lower),
            (b"Meta-Inf/Manifest.Mf", &mixed),
        ],
    ));
    c.push(Case::entries(
        "entry-exact-twice",
        &[
            (b"META-INF/MANIFEST.MF", &m("first")),
            (b"META-INF/MANIFEST.MF", &m("second")),
        ],
    ));
    c.push(Case::entries(
        "entry-dotless-i",
        &[("META-INF/MAN\u{131}FEST.MF".as_bytes(), &exact)],
    ));
    c.push(Case::entries(
        "entry-long-s",
        &[("META-INF/MANIFE\u{17f}T.MF".as_bytes(), &exact)],
    ));
    c.push(Case::entries(
        "entry-directory",
        &[(b"META-INF/MANIFEST.MF/", b""), (b"a/B.class", other)],
    ));
    c.push(Case::entries(
        "entry-leading-slash",
        &[(b"/META-INF/MANIFEST.MF", &exact)],
    ));
    c.push(Case::entries(
        "entry-in-subdirectory",
        &[(b"x/META-INF/MANIFEST.MF", &exact)],
    ));
    c.push(Case::entries(
        "entry-backslash",
        &[(b"META-INF\\MANIFEST.MF", &exact)],
    ));
    c.push(Case::entries(
        "entry-empty",
        &[(b"META-INF/MANIFEST.MF", b"")],
    ));
    c.push(Case::entries(
        "entry-bad-manifest-lower-case",
        &[(b"meta-inf/manifest.mf", b"Bundle-Version:1\n\n")],
    ));
    c
}

// =======================================================================================
// The generator.

/// splitmix64: a small, fixed, seedable stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `low..=high`.
    fn within(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// Line ends of one generated manifest.
#[derive(Clone, Copy)]
enum Ends {
    Lf,
    CrLf,
    Cr,
    Mixed,
}

impl Ends {
    fn next(self, rng: &mut Rng) -> &'static [u8] {
        match self {
            Ends::Lf => b"\n",
            Ends::CrLf => b"\r\n",
            Ends::Cr => b"\r",
            Ends::Mixed => rng.pick(&[&b"\n"[..], b"\r\n", b"\r"]),
        }
    }

    /// The one line end of filler (mixed manifests use CRLF there).
    fn fixed(self) -> &'static str {
        match self {
            Ends::Lf => "\n",
            Ends::Cr => "\r",
            Ends::CrLf | Ends::Mixed => "\r\n",
        }
    }
}

/// Random value bytes: printable ASCII mostly, with UTF-8, invalid UTF-8 and controls.
fn odd_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 4);
    while out.len() < len {
        match rng.below(20) {
            0 => out.extend_from_slice("\u{e9}".as_bytes()),
            1 => out.extend_from_slice(
                rng.pick(&["\u{4e2d}", "\u{1f600}", "\u{fffd}", "\u{feff}"])
                    .as_bytes(),
            ),
            2 => out.push(0x80 + rng.below(0x80) as u8),
            3 => out.extend_from_slice(rng.pick(&[
                &b"\xed\xa0\x80"[..],
                b"\xed\xb0",
                b"\xc0\xaf",
                b"\xe0\x80",
                b"\xf0\x9f\x98",
                b"\xf0\x80\x80",
                b"\xf4\x90",
                b"\xe2\x82",
                b"\xc3",
            ])),
            4 => out.push(*rng.pick(&[&0u8, &1, &9, &0x0b, &0x0c, &0x1b, &0x7f])),
            5 => out.push(*rng.pick(&[&b' ', &b';', &b':', &b'\\', &b'"'])),
            _ => out.push(b'!' + rng.below(94) as u8),
        }
    }
    out
}

/// A header name for the generated manifests.
fn gen_name(rng: &mut Rng) -> Vec<u8> {
    match rng.below(80) {
        0..=35 => {
            let name = rng.pick(&["Bundle-SymbolicName", "Bundle-Version"]);
            match rng.below(10) {
                0 => name.to_ascii_lowercase().into_bytes(),
                1 => name.to_ascii_uppercase().into_bytes(),
                _ => name.as_bytes().to_vec(),
            }
        }
        36..=63 => rng
            .pick(&[
                "Manifest-Version",
                "Created-By",
                "Bundle-ManifestVersion",
                "Bundle-Name",
                "Export-Package",
                "Import-Package",
                "Require-Bundle",
                "Name",
                "Built-By",
                "Bundle-Vendor",
            ])
            .as_bytes()
            .to_vec(),
        64..=77 => {
            const VALID: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
            let len = if rng.chance(25) {
                rng.within(68, 72)
            } else {
                rng.within(1, 30)
            };
            (0..len).map(|_| VALID[rng.below(VALID.len())]).collect()
        }
        _ => {
            let mut name = b"Bundle-Version".to_vec();
            let at = rng.below(name.len() + 1);
            let odd = rng.pick(&[
                &b" "[..],
                b".",
                b"/",
                b"\xc3\xa9",
                b"\xff",
                b"\t",
                b"+",
                b"\xef\xbb\xbf",
            ]);
            name.splice(at..at, odd.iter().copied());
            if rng.chance(10) {
                name.clear();
            }
            name
        }
    }
}

/// A value suited to the header name.
fn gen_value(rng: &mut Rng, name: &[u8]) -> Vec<u8> {
    let lower = name.to_ascii_lowercase();
    let odd = rng.chance(15);
    let mut value = if lower == b"bundle-symbolicname" {
        let base = rng
            .pick(&[
                "org.wso2.carbon.core",
                "org.x",
                "org.x;singleton:=true",
                "org.x ;singleton:=true",
                "org.x; singleton:=true",
                " org.x",
                "org.x ",
                "  org.x",
                ";",
                ";;",
                ";x",
                "x;",
                "",
                "org.\u{e9}",
                "org.eclipse.equinox.http.servlet;singleton:=true;fragment-attachment:=always",
            ])
            .as_bytes()
            .to_vec();
        if rng.chance(10) {
            let mut long = b"org.wso2.carbon.".to_vec();
            let more = rng.within(40, 200);
            long.extend((0..more).map(|i| {
                if i % 7 == 6 {
                    b'.'
                } else {
                    b'a' + (i % 26) as u8
                }
            }));
            long
        } else {
            base
        }
    } else if lower == b"bundle-version" {
        rng.pick(&[
            "4.4.9",
            "1.0.0",
            "1.1.0 ",
            " 1.1.0",
            "1.0.0.SNAPSHOT",
            "5.11.148",
            "",
            "1.0\t",
            "4.4.9.v20260101-1200",
            "1.0;x",
        ])
        .as_bytes()
        .to_vec()
    } else {
        let len = match rng.below(10) {
            0..=5 => rng.within(0, 40),
            6 | 7 => rng.within(40, 200),
            8 => rng.within(200, 1200),
            _ => rng.within(490, 520),
        };
        (0..len)
            .map(|i| b'a' + ((i * 7 + len) % 26) as u8)
            .collect()
    };
    if odd {
        let extra = rng.within(1, 12);
        let at = rng.below(value.len() + 1);
        let bytes = odd_bytes(rng, extra);
        value.splice(at..at, bytes);
    }
    value
}

/// How header lines are cut into continuation lines.
#[derive(Clone, Copy)]
enum Wrap {
    /// At 72 bytes, continuation lines of a space and 71 bytes, as jar tools write.
    Jar72,
    /// Never.
    None,
    /// At random places (inside names too).
    Random,
    /// Near the 512-byte buffer.
    Near512,
}

/// Renders one `name: value` header with the manifest's wrapping and line ends.
fn render(out: &mut Vec<u8>, rng: &mut Rng, header: &[u8], wrap: Wrap, ends: Ends) {
    let mut rest = header;
    let mut first = true;
    // Random cuts fall after the name's ": " most of the time, and anywhere otherwise.
    let after_name = header
        .windows(2)
        .position(|w| w == b": ")
        .map_or(1, |colon| colon + 2);
    loop {
        let width = match wrap {
            Wrap::Jar72 => 72,
            Wrap::None => usize::MAX,
            Wrap::Random if first && rng.chance(85) => rng.within(after_name, after_name + 60),
            Wrap::Random => rng.within(1, 90),
            Wrap::Near512 => rng.within(505, 516),
        };
        let room = if first {
            width
        } else {
            width.saturating_sub(1).max(1)
        };
        let cut = room.min(rest.len());
        if !first {
            out.push(b' ');
        }
        out.extend_from_slice(&rest[..cut]);
        out.extend_from_slice(ends.next(rng));
        rest = &rest[cut..];
        first = false;
        if rest.is_empty() {
            break;
        }
    }
}

/// The separator between a header's name and its value.
fn separator(rng: &mut Rng) -> &'static [u8] {
    if rng.chance(98) {
        b": "
    } else {
        rng.pick(&[&b":"[..], b":  ", b" : ", b":\t", b"", b"::"])
    }
}

/// One generated manifest.
fn generate(rng: &mut Rng) -> Vec<u8> {
    let ends = match rng.below(10) {
        0..=2 => Ends::Lf,
        3..=6 => Ends::CrLf,
        7 => Ends::Cr,
        _ => Ends::Mixed,
    };
    let wrap = match rng.below(20) {
        0..=10 => Wrap::Jar72,
        11..=14 => Wrap::None,
        15..=17 => Wrap::Random,
        _ => Wrap::Near512,
    };
    let mut out = Vec::new();
    // Something before the headers, now and then.
    if rng.chance(4) {
        out.extend_from_slice(rng.pick(&[
            &b"\xef\xbb\xbf"[..],
            b"\n",
            b" x\n",
            b"junk\n",
            b"Name: x\n",
        ]));
    }
    // Near the 8192-byte read buffer: fill so that a long line's line end lands at its edge.
    let near_8192 = rng.chance(12);
    // The main section: headers, the two that matter among them most of the time.
    let mut headers: Vec<Vec<u8>> = Vec::new();
    let count = rng.within(0, 8);
    for _ in 0..count {
        let name = gen_name(rng);
        let value = gen_value(rng, &name);
        headers.push([&name[..], separator(rng), &value[..]].concat());
    }
    for key in ["Bundle-SymbolicName", "Bundle-Version"] {
        if rng.chance(85) {
            let value = gen_value(rng, key.as_bytes());
            let at = rng.below(headers.len() + 1);
            headers.insert(at, [key.as_bytes(), separator(rng), &value[..]].concat());
        }
    }
    if rng.chance(10) && !headers.is_empty() {
        // A header given twice, the second maybe with another value.
        let pick = headers[rng.below(headers.len())].clone();
        let copy = if rng.chance(50) {
            let colon = pick.iter().position(|&b| b == b':').unwrap_or(pick.len());
            let mut other = pick[..colon].to_vec();
            other.extend_from_slice(b": 9.9.9");
            other
        } else {
            pick
        };
        let at = rng.below(headers.len() + 1);
        headers.insert(at, copy);
    }
    let edge = near_8192.then(|| rng.below(headers.len() + 1));
    for (i, header) in headers.iter().enumerate() {
        if edge == Some(i) {
            // Filler up to where a line of 505..=513 bytes ends with its CR at
            // 8190..=8193 (or past 16384), then that line.
            let fixed = ends.fixed();
            let content = rng.within(505, 513);
            let boundary = if rng.chance(85) { 8192 } else { 16384 };
            let cr_at = boundary - 2 + rng.below(4);
            let start = cr_at - content;
            if out.len() + 12 + fixed.len() <= start {
                out.extend_from_slice(&filler(start - out.len(), fixed));
                out.extend_from_slice(&line_of("X-Edge", content));
                out.extend_from_slice(fixed.as_bytes());
            }
        }
        let this_wrap = if rng.chance(5) { Wrap::None } else { wrap };
        render(&mut out, rng, header, this_wrap, ends);
    }
    // The blank line that ends the main section, usually.
    if rng.chance(85) {
        out.extend_from_slice(ends.next(rng));
    }
    // Sections after the main one.
    if rng.chance(25) {
        for _ in 0..rng.within(1, 3) {
            let mut name = b"Name: ".to_vec();
            name.extend_from_slice(b"org/x/");
            name.extend(std::iter::repeat_n(b'p', rng.within(1, 90)));
            name.extend_from_slice(b".class");
            if rng.chance(5) {
                name = gen_name(rng);
                name.extend_from_slice(b": x");
            }
            render(&mut out, rng, &name, wrap, ends);
            for _ in 0..rng.within(0, 3) {
                let hname = if rng.chance(80) {
                    b"SHA-256-Digest".to_vec()
                } else {
                    gen_name(rng)
                };
                let value = gen_value(rng, &hname);
                let header = [&hname[..], separator(rng), &value[..]].concat();
                render(&mut out, rng, &header, wrap, ends);
            }
            for _ in 0..*rng.pick(&[&1usize, &1, &1, &0, &2]) {
                out.extend_from_slice(ends.next(rng));
            }
        }
    }
    // Byte-level damage, now and then.
    if rng.chance(8) && !out.is_empty() {
        for _ in 0..rng.within(1, 3) {
            let at = rng.below(out.len());
            match rng.below(4) {
                0 => {
                    out.remove(at);
                }
                1 => out.insert(at, *rng.pick(&[&b'\r', &b'\n', &b' ', &b':', &0xff])),
                2 => out[at] = *rng.pick(&[&b'\r', &b'\n', &b' ', &b':']),
                _ => out.truncate(at),
            }
        }
    }
    // No line end at the very end, now and then.
    if rng.chance(8) {
        while out.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
            out.pop();
        }
    }
    out
}

/// Every case: the hand-written ones, then the generated ones (`g/0` ...).
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut all = hand_cases();
        let mut rng = Rng(SEED);
        for n in 0..GENERATED {
            all.push(Case::new(
                format!("g/{n}"),
                Jar::Stored(generate(&mut rng)),
                false,
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for case in &all {
            assert!(
                ids.insert(case.id.as_str()),
                "duplicate case id {}",
                case.id
            );
        }
        all
    })
}

// =======================================================================================
// Answers.

/// Java's escaping: `\\`, `\t`, `\n`, `\r`, and `\uXXXX` for every other UTF-16 unit below
/// 0x20 or above 0x7e.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for unit in text.encode_utf16() {
        match unit {
            0x5c => out.push_str("\\\\"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            0x20..=0x7e => out.push(char::from(unit as u8)),
            _ => write!(out, "\\u{unit:04X}").expect("write to a String"),
        }
    }
    out
}

/// Bytes for people: printable ASCII as is, `\\`, `\t`, `\n`, `\r`, `\xHH` for the rest.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => write!(out, "\\x{b:02x}").expect("write to a String"),
        }
    }
    out
}

/// carbon-patch's answer for a case, in the program's output form: `NAME\t<name>`, `OWN`,
/// `ERROR\t<message>` (no exception class), or `JAR-ERROR\t...` when it cannot read the jar.
fn ours(case: &Case) -> &str {
    case.ours.get_or_init(|| ours_now(case))
}

fn ours_now(case: &Case) -> String {
    let path = Path::new("case.jar");
    match carbon_patch::manifest::manifest_of(Cursor::new(case.jar_bytes()), path) {
        Err(e) => format!("JAR-ERROR\t{}", escape(&e.to_string())),
        Ok(None) => "OWN".to_string(),
        Ok(Some(manifest)) => match runtime_name(&manifest) {
            Ok(Some(name)) => format!("NAME\t{}", escape(&name)),
            Ok(None) => "OWN".to_string(),
            Err(e) => format!("ERROR\t{}", escape(&e.to_string())),
        },
    }
}

/// Whether our answer is Java's: names and `OWN` exactly; an `IOException` (the manifest
/// refused by java.util.jar) by its message exactly; the runtime's own code failing on a jar
/// without a manifest (`getManifest().getMainAttributes()`, a `NullPointerException`) by
/// `OWN`, carbon-patch's deliberate difference; any other exception by being an error.
fn agrees(java: &str, ours: &str) -> bool {
    match java.strip_prefix("ERROR\t") {
        None => java == ours,
        Some(error) => match error.strip_prefix("IOException: ") {
            Some(message) => ours.strip_prefix("ERROR\t") == Some(message),
            // SPEC §13, on purpose: where the runtime fails on a jar without a manifest
            // (`getManifest()` is null), carbon-patch keeps the file's own name.
            None if error.starts_with("NullPointerException") => ours == "OWN",
            None => ours.starts_with("ERROR\t"),
        },
    }
}

/// Java's answers by case id, with the manifest hash each was recorded for.
#[derive(Default, PartialEq)]
struct Answers {
    by_id: BTreeMap<String, (String, String)>,
    /// `java -version`'s first line, where known.
    java: String,
}

const HEADER: &str = "\
# java.util.jar's answers for carbon-patch's differential corpus (tests/cli/jvm.rs,
# tests/jvm/ManifestName.java): the bundle file name the Carbon runtime computes for each jar.
# Re-record with a JDK on PATH: CARBON_PATCH_BLESS_JVM=1 cargo test --test cli jvm_
# Columns: case id, MD5 of the manifest bytes (16 hex digits), Java's answer: NAME<TAB>name,
# OWN (the jar keeps its own name) or ERROR<TAB>exception: message (escaped as Java prints).
# Hand-written cases (h/...) are followed by their manifest, escaped, on a '#' line.
";

impl Answers {
    fn parse(text: &str) -> Answers {
        let mut answers = Answers::default();
        for line in text.lines() {
            if let Some(java) = line.strip_prefix("# recorded with: ") {
                answers.java = java.to_string();
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let mut fields = line.splitn(3, '\t');
            let (Some(id), Some(hash), Some(answer)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("{}: malformed line {line:?}", corpus_file().display());
            };
            answers
                .by_id
                .insert(id.to_string(), (hash.to_string(), answer.to_string()));
        }
        answers
    }

    fn render(&self, cases: &[Case]) -> String {
        let mut out = String::from(HEADER);
        writeln!(out, "# recorded with: {}", self.java).unwrap();
        for case in cases {
            let (hash, answer) = &self.by_id[&case.id];
            writeln!(out, "{}\t{hash}\t{answer}", case.id).unwrap();
            if case.hand {
                let shown = case.shown_bytes();
                if shown.len() <= 400 {
                    writeln!(out, "#\t{}", escape_bytes(&shown)).unwrap();
                } else {
                    writeln!(
                        out,
                        "#\t({} bytes: see hand_cases in tests/cli/jvm.rs)",
                        shown.len()
                    )
                    .unwrap();
                }
            }
        }
        out
    }
}

/// Whether `tool -version` runs: `None` when the tool is not on PATH.
fn tool_version(tool: &str) -> Option<String> {
    match Command::new(tool).arg("-version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("run `{tool} -version`: {e}"),
        Ok(out) => {
            assert!(
                out.status.success(),
                "`{tool} -version` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            Some(
                text.lines()
                    .find(|l| !l.starts_with("Picked up"))
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            )
        }
    }
}

/// Runs the reference program once over every case's jar, written to a temporary directory.
fn run_jvm(cases: &[Case], java: &str) -> Answers {
    let dir = tempfile::tempdir().expect("temporary directory");
    let classes = dir.path().join("classes");
    let out = Command::new("javac")
        .args(["-encoding", "UTF-8", "-nowarn", "-d"])
        .arg(&classes)
        .arg(java_source())
        .output()
        .expect("run javac");
    assert!(
        out.status.success(),
        "javac failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let jars = dir.path().join("jars");
    std::fs::create_dir(&jars).expect("create the jar directory");
    let mut list = String::new();
    let mut by_file = BTreeMap::new();
    for (index, case) in cases.iter().enumerate() {
        let file = format!("c{index:05}.jar");
        let path = jars.join(&file);
        std::fs::write(&path, case.jar_bytes())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        list.push_str(path.to_str().expect("a UTF-8 temporary path"));
        list.push('\n');
        by_file.insert(file, case);
    }
    let mut child = Command::new("java")
        .args(["-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp"])
        .arg(&classes)
        .arg("ManifestName")
        // A fixed environment: nothing that changes what java.util.jar says.
        .env_remove("JAVA_TOOL_OPTIONS")
        .env_remove("JDK_JAVA_OPTIONS")
        .env_remove("_JAVA_OPTIONS")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start java");
    let mut stdin = child.stdin.take().expect("java's stdin");
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let output = child.wait_with_output().expect("run java");
    writer
        .join()
        .expect("the writer thread")
        .expect("write the jar list to java");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 from ManifestName");
    assert!(
        output.status.success(),
        "java ManifestName failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut answers = Answers {
        java: java.to_string(),
        ..Answers::default()
    };
    for line in stdout.lines() {
        let (file, answer) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("unexpected output line from java: {line:?}"));
        let case = by_file
            .get(file)
            .unwrap_or_else(|| panic!("java answered for an unknown jar: {line:?}"));
        answers
            .by_id
            .insert(case.id.clone(), (case.hash(), answer.to_string()));
    }
    assert_eq!(
        answers.by_id.len(),
        cases.len(),
        "java answered for every jar"
    );
    answers
}

/// Java's answers: the committed ones and, where a JVM is on PATH, the live ones.
struct Reference {
    committed: Answers,
    live: Option<Answers>,
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let cases = cases();
        let bless = std::env::var_os("CARBON_PATCH_BLESS_JVM").is_some_and(|v| v == "1");
        let require = std::env::var_os("CARBON_PATCH_REQUIRE_JVM").is_some_and(|v| v == "1");
        let jvm = match (tool_version("java"), tool_version("javac")) {
            (Some(java), Some(_)) => Some(java),
            _ => None,
        };
        let live = match jvm {
            Some(java) => {
                let started = std::time::Instant::now();
                let live = run_jvm(cases, &java);
                let _ = writeln!(
                    std::io::stderr(),
                    "jvm: {java}: {} jars in {:.1?}",
                    cases.len(),
                    started.elapsed()
                );
                Some(live)
            }
            None => {
                assert!(
                    !bless,
                    "CARBON_PATCH_BLESS_JVM=1 needs java and javac on PATH"
                );
                assert!(
                    !require,
                    "CARBON_PATCH_REQUIRE_JVM=1 but no JVM (java/javac) on PATH"
                );
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: no JVM (java/javac) on PATH: live comparison not run; committed answers checked"
                );
                None
            }
        };
        if bless {
            let live = live.as_ref().expect("a live JVM when blessing");
            std::fs::write(corpus_file(), live.render(cases))
                .unwrap_or_else(|e| panic!("write {}: {e}", corpus_file().display()));
            let _ = writeln!(
                std::io::stderr(),
                "blessed {} from the live JVM",
                corpus_file().display()
            );
        }
        let text = std::fs::read_to_string(corpus_file()).unwrap_or_else(|e| {
            panic!(
                "read {}: {e} (record it with a JDK on PATH: CARBON_PATCH_BLESS_JVM=1 cargo test --test cli jvm_)",
                corpus_file().display()
            )
        });
        Reference {
            committed: Answers::parse(&text),
            live,
        }
    })
}

/// The differences between our answers and Java's for the cases `which` selects, as a
/// report (empty when they agree).
fn disagreements(which: impl Fn(&Case) -> bool, java: &Answers, what: &str) -> String {
    let mut report = String::new();
    let mut count = 0;
    for case in cases().iter().filter(|c| which(c)) {
        let Some((hash, answer)) = java.by_id.get(&case.id) else {
            count += 1;
            writeln!(report, "{}: no answer in {what}", case.id).unwrap();
            continue;
        };
        if *hash != case.hash() {
            count += 1;
            writeln!(
                report,
                "{}: {what} was recorded for other bytes (hash {hash}, now {}): re-record with CARBON_PATCH_BLESS_JVM=1",
                case.id,
                case.hash()
            )
            .unwrap();
            continue;
        }
        let ours = ours(case);
        if agrees(answer, ours) {
            continue;
        }
        count += 1;
        if count <= 25 {
            let shown = case.shown_bytes();
            let mut bytes = escape_bytes(&shown[..shown.len().min(1500)]);
            if shown.len() > 1500 {
                write!(bytes, "... ({} bytes)", shown.len()).unwrap();
            }
            writeln!(
                report,
                "--- {}\n  manifest: {bytes}\n  java:     {answer}\n  ours:     {ours}",
                case.id
            )
            .unwrap();
        }
    }
    if count == 0 {
        return String::new();
    }
    format!("{count} of the cases disagree with {what} (the first 25 shown):\n{report}")
}

// =======================================================================================
// The tests.

/// Every case of the corpus has a committed answer recorded for its current bytes, and, with
/// a JVM on PATH, the live JVM still gives exactly the committed answers.
#[test]
fn jvm_committed_answers_are_current() {
    let cases = cases();
    let reference = reference();
    let committed = &reference.committed;
    let mut problems = Vec::new();
    for case in cases {
        match committed.by_id.get(&case.id) {
            None => problems.push(format!("{}: not in corpus.tsv", case.id)),
            Some((hash, _)) if *hash != case.hash() => problems.push(format!(
                "{}: corpus.tsv has hash {hash}, the case now hashes to {}",
                case.id,
                case.hash()
            )),
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    for id in committed.by_id.keys() {
        if !known.contains(id.as_str()) {
            problems.push(format!("{id}: in corpus.tsv but no longer a case"));
        }
    }
    if let Some(live) = &reference.live {
        for case in cases {
            let now = &live.by_id[&case.id].1;
            match committed.by_id.get(&case.id) {
                Some((_, then)) if then == now => {}
                then => problems.push(format!(
                    "{}: the live JVM ({}) answers {now:?}, corpus.tsv ({}) {:?}\n  manifest: {}",
                    case.id,
                    live.java,
                    committed.java,
                    then.map(|t| t.1.as_str()),
                    escape_bytes(&case.shown_bytes()[..case.shown_bytes().len().min(600)])
                )),
            }
        }
    }
    if !problems.is_empty() {
        let total = problems.len();
        problems.truncate(30);
        panic!(
            "tests/jvm/corpus.tsv is out of date ({total} problems, the first 30 below); \
             re-record it with a JDK on PATH: CARBON_PATCH_BLESS_JVM=1 cargo test --test cli jvm_\n{}",
            problems.join("\n")
        );
    }
}

/// Compares carbon-patch with the committed answers for the cases `which` selects, and with
/// the live JVM where it answers otherwise (when it does not, the committed answers are its
/// answers: `jvm_committed_answers_are_current` checks that).
fn assert_agreement(which: impl Fn(&Case) -> bool) {
    assert!(cases().iter().any(&which), "no case selected");
    let reference = reference();
    let committed = &reference.committed;
    let mut report = disagreements(&which, committed, "corpus.tsv");
    if let Some(live) = &reference.live {
        let differs = |c: &Case| live.by_id.get(&c.id) != committed.by_id.get(&c.id);
        report.push_str(&disagreements(
            |c| which(c) && differs(c),
            live,
            "the live JVM",
        ));
    }
    assert!(
        report.is_empty(),
        "carbon-patch and java.util.jar disagree (manifest bytes escaped, `java` = the JVM's \
         answer, `ours` = carbon-patch's)\n{report}"
    );
}

/// carbon-patch names every jar whose manifest is `META-INF/MANIFEST.MF` exactly as the
/// runtime does, and refuses with Java's message what java.util.jar refuses.
#[test]
fn jvm_runtime_names_agree_with_java() {
    assert_agreement(|c| !c.is_lookup());
}

/// carbon-patch finds the manifest entry of a jar as java.util.jar does (names differing in
/// ASCII case, several candidates, look-alikes, none at all).
#[test]
fn jvm_manifest_entry_lookup_agrees_with_java() {
    assert_agreement(Case::is_lookup);
}

/// The generated corpus covers every kind of answer, so a generator change that made it
/// trivial would show.
#[test]
fn jvm_corpus_covers_every_kind_of_answer() {
    let committed = &reference().committed;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for case in cases().iter().filter(|c| !c.hand) {
        if let Some((_, answer)) = committed.by_id.get(&case.id) {
            let kind = match answer.split_once('\t') {
                Some(("ERROR", error)) => {
                    let message = error.split(" (line").next().unwrap_or(error);
                    let message = message.split(": ").take(2).collect::<Vec<_>>().join(": ");
                    format!("ERROR {message}")
                }
                Some((kind, _)) => kind.to_string(),
                None => answer.clone(),
            };
            *kinds.entry(kind).or_default() += 1;
        }
    }
    let names = kinds.get("NAME").copied().unwrap_or(0);
    assert!(
        names * 3 >= GENERATED,
        "at least a third of the generated cases get a name: {kinds:?}"
    );
    for kind in [
        "OWN",
        "ERROR IOException: line too long",
        "ERROR IOException: invalid header field",
        "ERROR IOException: invalid manifest format",
        "ERROR IOException: misplaced continuation line",
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) >= 10,
            "at least 10 generated cases answer {kind}: {kinds:?}"
        );
    }
}
