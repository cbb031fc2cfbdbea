//! The report of `drift`: the three sides, then every configuration file someone changed,
//! grouped by what to do about it — take the new pack's, keep yours, merge by hand (with
//! both unified diffs against the old pack) — and the unchanged ones counted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::ProductHome;
use super::text::{Paint, header};
use crate::drift::{Class, Item, SourceInfo, for_terminal};

/// `drift`.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    /// The pack the live server was built from.
    pub old: SourceInfo,
    /// The new pack.
    pub new: SourceInfo,
    /// The live server.
    pub live: SourceInfo,
    /// Every configuration file but the unchanged ones, by path.
    pub files: Vec<Item>,
    /// How many files each class holds (`unchanged` included).
    pub counts: BTreeMap<&'static str, usize>,
}

fn side(info: &SourceInfo) -> String {
    match &info.top {
        Some(top) => format!("{} ({}, {top})", info.path, info.kind),
        None => format!("{} ({})", info.path, info.kind),
    }
}

/// Prints the report.
pub fn render(home: &ProductHome, report: &DriftReport, paint: Paint) -> String {
    let mut out = String::new();
    header(&mut out, home, "drift", paint);
    let _ = writeln!(out, "old pack: {}", side(&report.old));
    let _ = writeln!(out, "new pack: {}", side(&report.new));
    let _ = writeln!(out, "live:     {}", side(&report.live));
    let groups: [(Class, &str); 6] = [
        (
            Class::TakeNew,
            "take new (only the vendor changed them: copy them from the new pack)",
        ),
        (
            Class::AddedByVendor,
            "added by the vendor (copy them from the new pack)",
        ),
        (
            Class::RemovedByVendor,
            "removed by the vendor (untouched on the live server: drop them)",
        ),
        (
            Class::KeepYours,
            "keep yours (only you changed them: carry them over)",
        ),
        (
            Class::Conflict,
            "conflicts (the vendor and you both changed them: merge by hand)",
        ),
        (
            Class::NotCompared,
            "not compared (carbon-patch follows no link and reads no special file here)",
        ),
    ];
    for (class, title) in groups {
        let items: Vec<&Item> = report.files.iter().filter(|i| i.class == class).collect();
        if items.is_empty() {
            continue;
        }
        let title = format!("{title}: {}", items.len());
        let _ = writeln!(
            out,
            "{}",
            match class {
                Class::Conflict => paint.red(&title),
                Class::KeepYours | Class::NotCompared => paint.bold(&title),
                _ => paint.yellow(&title),
            }
        );
        for item in items {
            line(&mut out, item, class);
        }
    }
    let count = |name: &str| report.counts.get(name).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "unchanged: {} file(s); already as in the new pack: {}",
        count("unchanged"),
        count("already_new")
    );
    let _ = match count("conflict") {
        0 => writeln!(out, "drift: {}", paint.green("no conflict")),
        n => writeln!(
            out,
            "drift: {}",
            paint.red(&format!("{n} conflict(s) to merge by hand"))
        ),
    };
    out
}

fn line(out: &mut String, item: &Item, class: Class) {
    let md5 = |m: &Option<crate::digest::Md5Digest>| {
        m.map_or_else(|| "(none)".to_string(), |m| m.to_string())
    };
    let binary = if item.binary { ", binary" } else { "" };
    // A name from the live home or a pack directory may hold anything: shown escaped.
    let _ = writeln!(
        out,
        "  {}  ({}{binary})",
        crate::names::Shown(std::ffi::OsStr::new(&item.path)),
        item.note
    );
    if class == Class::Conflict || item.binary {
        let _ = writeln!(
            out,
            "    MD5 old {}, new {}, live {}",
            md5(&item.old),
            md5(&item.new),
            md5(&item.live)
        );
    }
    if let Some(why) = &item.no_diff {
        let _ = writeln!(out, "    no diff: {why}");
    }
    for diff in [&item.vendor_diff, &item.your_diff].into_iter().flatten() {
        out.push_str(&for_terminal(diff));
        if !diff.ends_with('\n') {
            out.push('\n');
        }
    }
}
