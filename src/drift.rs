//! `drift` (issue 17): a three-way comparison of the configuration a server carries — the
//! pack it was built from (old), the new pack, and the live server — so the operator sees
//! which files to take from the new pack, which to keep, and which both the vendor and they
//! changed. This module owns what is configuration ([`scope`]), how one file's three
//! versions are judged ([`classify`]), and the unified diffs of a conflict; [`source`] reads
//! packs (ZIPs, streamed, or directories) and the live home. It writes nothing.

pub mod source;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::digest::Md5Digest;
use crate::error::Result;

pub use source::{Facts, Seen, Source, SourceInfo};

/// The most bytes of one version of a file read for a diff.
pub const DIFF_CAP: u64 = 1 << 20;

/// How a file of the configuration is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// By content: a unified diff when it is text.
    Content,
    /// A keystore (`*.jks`, `*.p12`, `*.keystore`): by MD5 only.
    Keystore,
}

/// The directories the configuration lies in, relative to PRODUCT_HOME, and whether
/// their subdirectories count too.
pub const ROOTS: [(&str, bool); 4] = [
    ("repository/conf", true),
    ("bin", false),
    ("repository/resources", true),
    ("repository/deployment/server", true),
];

/// Whether the file at `relative` (to PRODUCT_HOME, `/`-separated) is configuration, and how
/// it is compared: everything under `repository/conf/` and `repository/resources/`
/// (keystores by MD5), `bin/*.sh` and `bin/*.bat`, and the `*.xml`, `*.properties`,
/// `*.toml`, `*.yaml` and `*.yml` under `repository/deployment/server/`.
pub fn scope(relative: &str) -> Option<Scope> {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    let extension = name
        .rsplit_once('.')
        .map(|(stem, ext)| (!stem.is_empty()).then(|| ext.to_ascii_lowercase()))
        .unwrap_or_default();
    let ext = extension.as_deref();
    if relative
        .strip_prefix("repository/conf/")
        .is_some_and(|r| !r.is_empty())
    {
        return Some(Scope::Content);
    }
    if let Some(rest) = relative.strip_prefix("bin/") {
        return (!rest.contains('/') && matches!(ext, Some("sh" | "bat")))
            .then_some(Scope::Content);
    }
    if relative
        .strip_prefix("repository/resources/")
        .is_some_and(|r| !r.is_empty())
    {
        return Some(match ext {
            Some("jks" | "p12" | "keystore") => Scope::Keystore,
            _ => Scope::Content,
        });
    }
    if relative.starts_with("repository/deployment/server/")
        && matches!(ext, Some("xml" | "properties" | "toml" | "yaml" | "yml"))
    {
        return Some(Scope::Content);
    }
    None
}

/// What to do about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Only the vendor changed it: take the new pack's.
    TakeNew,
    /// The new pack adds it, and the live server does not have it.
    AddedByVendor,
    /// The new pack drops it, and the live server holds the old pack's.
    RemovedByVendor,
    /// Only you changed (added, removed) it: keep yours.
    KeepYours,
    /// Both changed it: merge by hand.
    Conflict,
    /// The vendor changed it and the live server already holds the new pack's version.
    AlreadyNew,
    /// Nobody changed it.
    Unchanged,
    /// Not read (a link or special file where carbon-patch follows none).
    NotCompared,
}

impl Class {
    /// The name in JSON and in the counts.
    pub fn name(self) -> &'static str {
        match self {
            Class::TakeNew => "take_new",
            Class::AddedByVendor => "added_by_vendor",
            Class::RemovedByVendor => "removed_by_vendor",
            Class::KeepYours => "keep_yours",
            Class::Conflict => "conflict",
            Class::AlreadyNew => "already_new",
            Class::Unchanged => "unchanged",
            Class::NotCompared => "not_compared",
        }
    }
}

/// Judges one file by its MD5 in the old pack, the new pack and on the live server
/// (`None`: absent there). Returns the class and a few words on why.
pub fn classify(
    old: Option<Md5Digest>,
    new: Option<Md5Digest>,
    live: Option<Md5Digest>,
) -> (Class, &'static str) {
    if old == new {
        return match (old, live) {
            (_, l) if l == old => (Class::Unchanged, "nobody changed it"),
            (None, Some(_)) => (Class::KeepYours, "you added it"),
            (Some(_), None) => (Class::KeepYours, "you removed it"),
            _ => (Class::KeepYours, "you changed it"),
        };
    }
    if live == new {
        return (
            Class::AlreadyNew,
            "the live server already holds the new pack's version",
        );
    }
    match (old, new, live) {
        (None, _, None) => (Class::AddedByVendor, "the new pack adds it"),
        (None, _, Some(_)) => (
            Class::Conflict,
            "the new pack adds it, and you added another",
        ),
        (_, None, l) if l == old => (Class::RemovedByVendor, "the new pack drops it"),
        (_, None, _) => (Class::Conflict, "the new pack drops it, and you changed it"),
        (_, _, l) if l == old => (Class::TakeNew, "only the vendor changed it"),
        (_, _, None) => (Class::Conflict, "the vendor changed it, and you removed it"),
        _ => (Class::Conflict, "the vendor and you both changed it"),
    }
}

/// One file of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// Relative to PRODUCT_HOME.
    pub path: String,
    pub class: Class,
    /// Why, in a few words.
    pub note: String,
    /// Compared by MD5 only: a keystore, or not UTF-8 text, or holding a NUL byte.
    pub binary: bool,
    pub old: Option<Md5Digest>,
    pub new: Option<Md5Digest>,
    pub live: Option<Md5Digest>,
    /// A conflict's change by the vendor: unified diff, old pack -> new pack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_diff: Option<String>,
    /// A conflict's change by you: unified diff, old pack -> live server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub your_diff: Option<String>,
    /// Why a conflict has no diffs (`binary`, `too large to diff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_diff: Option<String>,
}

/// Compares the three sides' configuration (each a scan of its [`Source`]) and reads the
/// versions of every text file in conflict for its two diffs. Returns every file but the
/// unchanged ones, in path order, and how many files each class holds.
pub fn compare(
    sources: [&Source; 3],
    scans: [BTreeMap<String, Seen>; 3],
) -> Result<(Vec<Item>, BTreeMap<&'static str, usize>)> {
    let [old, new, live] = &scans;
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).chain(live.keys()).collect();
    // A link or directory not read on one side hides what lies below it there.
    let blocked: Vec<(String, &String)> = scans
        .iter()
        .flat_map(|scan| scan.iter())
        .filter_map(|(at, seen)| match seen {
            Seen::NotCompared(why) => Some((format!("{at}/"), why)),
            Seen::File(_) => None,
        })
        .collect();
    let hidden = |path: &str| -> Option<String> {
        blocked.iter().find_map(|(below, why)| {
            let at = &below[..below.len() - 1];
            (path == at || path.starts_with(below.as_str())).then(|| format!("`{at}` {why}"))
        })
    };
    let mut items = Vec::new();
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for path in paths {
        let facts = |scan: &BTreeMap<String, Seen>| match scan.get(path) {
            Some(Seen::File(f)) => Some(*f),
            _ => None,
        };
        let (o, n, l) = (facts(old), facts(new), facts(live));
        let binary =
            scope(path) == Some(Scope::Keystore) || [o, n, l].iter().flatten().any(|f| !f.text);
        let (class, note) = match hidden(path) {
            Some(why) => (Class::NotCompared, why),
            None => {
                let (class, note) = classify(o.map(|f| f.md5), n.map(|f| f.md5), l.map(|f| f.md5));
                (class, note.to_string())
            }
        };
        *counts.entry(class.name()).or_default() += 1;
        if class == Class::Unchanged {
            continue;
        }
        let mut item = Item {
            path: path.clone(),
            class,
            note,
            binary,
            old: o.map(|f| f.md5),
            new: n.map(|f| f.md5),
            live: l.map(|f| f.md5),
            vendor_diff: None,
            your_diff: None,
            no_diff: None,
        };
        if class == Class::Conflict {
            if binary {
                item.no_diff = Some("binary: compared by MD5 only".into());
            } else {
                let read = |source: &Source, present: bool| -> Result<Option<Option<String>>> {
                    if !present {
                        return Ok(Some(None));
                    }
                    Ok(source
                        .read(path, DIFF_CAP)?
                        .map(|bytes| Some(String::from_utf8_lossy(&bytes).into_owned())))
                };
                let texts = (
                    read(sources[0], o.is_some())?,
                    read(sources[1], n.is_some())?,
                    read(sources[2], l.is_some())?,
                );
                match texts {
                    (Some(o_text), Some(n_text), Some(l_text)) => {
                        item.vendor_diff = Some(unified(
                            path,
                            ("old", o_text.as_deref()),
                            ("new", n_text.as_deref()),
                        ));
                        item.your_diff = Some(unified(
                            path,
                            ("old", o_text.as_deref()),
                            ("live", l_text.as_deref()),
                        ));
                    }
                    _ => {
                        item.no_diff = Some(format!(
                            "too large to diff (a version is over {} MiB)",
                            DIFF_CAP >> 20
                        ));
                    }
                }
            }
        }
        items.push(item);
    }
    Ok((items, counts))
}

/// A unified diff (three lines of context) from `a` to `b`, each `(side, text)`; an
/// absent side is `/dev/null`.
pub fn unified(path: &str, a: (&str, Option<&str>), b: (&str, Option<&str>)) -> String {
    let label = |(side, text): (&str, Option<&str>)| match text {
        Some(_) => format!("{side}/{path}"),
        None => "/dev/null".to_string(),
    };
    let (from, to) = (a.1.unwrap_or(""), b.1.unwrap_or(""));
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Myers)
        .diff_lines(from, to);
    diff.unified_diff()
        .context_radius(3)
        .header(&label(a), &label(b))
        .to_string()
}

/// `text` safe for a terminal: control characters escaped (`\u{1b}`), except tabs, line
/// ends and the carriage return of a CRLF line end.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' | '\n' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5(text: &str) -> Option<Md5Digest> {
        Some(Md5Digest::of_bytes(text.as_bytes()))
    }

    #[test]
    fn the_configuration_is_what_the_issue_names() {
        for (path, want) in [
            ("repository/conf/carbon.xml", Some(Scope::Content)),
            ("repository/conf/axis2/axis2.xml", Some(Scope::Content)),
            ("repository/conf", None),
            ("bin/wso2server.sh", Some(Scope::Content)),
            ("bin/wso2server.BAT", Some(Scope::Content)),
            ("bin/wso2carbon-version.txt", None),
            ("bin/tools/x.sh", None),
            (
                "repository/resources/security/wso2carbon.jks",
                Some(Scope::Keystore),
            ),
            (
                "repository/resources/security/client.P12",
                Some(Scope::Keystore),
            ),
            ("repository/resources/identity/x.xml", Some(Scope::Content)),
            (
                "repository/deployment/server/webapps/oauth2/WEB-INF/web.xml",
                Some(Scope::Content),
            ),
            (
                "repository/deployment/server/synapse-configs/default/api/a.yaml",
                Some(Scope::Content),
            ),
            ("repository/deployment/server/webapps/oauth2.war", None),
            ("repository/deployment/server/.xml", None),
            ("lib/x.xml", None),
            ("repository/components/plugins/a.jar", None),
        ] {
            assert_eq!(scope(path), want, "{path}");
        }
    }

    #[test]
    fn each_case_gets_its_class() {
        let (a, b, c) = (md5("a"), md5("b"), md5("c"));
        for ((old, new, live), want) in [
            ((a, a, a), Class::Unchanged),
            ((a, b, a), Class::TakeNew),
            ((a, a, b), Class::KeepYours),
            ((a, a, None), Class::KeepYours),
            ((None, None, a), Class::KeepYours),
            ((a, b, c), Class::Conflict),
            ((a, b, None), Class::Conflict),
            ((a, b, b), Class::AlreadyNew),
            ((None, a, None), Class::AddedByVendor),
            ((None, a, a), Class::AlreadyNew),
            ((None, a, b), Class::Conflict),
            ((a, None, a), Class::RemovedByVendor),
            ((a, None, None), Class::AlreadyNew),
            ((a, None, b), Class::Conflict),
        ] {
            assert_eq!(classify(old, new, live).0, want, "{old:?} {new:?} {live:?}");
        }
    }

    #[test]
    fn a_diff_is_unified_with_sides_named() {
        let diff = unified(
            "repository/conf/carbon.xml",
            ("old", Some("a\nb\nc\n")),
            ("new", Some("a\nB\nc\n")),
        );
        assert_eq!(
            diff,
            "--- old/repository/conf/carbon.xml\n+++ new/repository/conf/carbon.xml\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        );
        let gone = unified("x", ("old", Some("a\n")), ("live", None));
        assert!(gone.starts_with("--- old/x\n+++ /dev/null\n"), "{gone}");
    }

    #[test]
    fn control_characters_do_not_reach_the_terminal() {
        assert_eq!(
            for_terminal("a\u{1b}[2J\tb\r\nc\rd\n"),
            "a\\u{1b}[2J\tb\r\nc\\rd\n"
        );
    }
}
