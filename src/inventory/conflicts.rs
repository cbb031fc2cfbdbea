//! Version conflicts by symbolic name: the bundles plugins would hold after `apply` (the
//! originals overlaid with every entry's), grouped by the symbolic name and OSGi version
//! read from `<name>_<version>.jar`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Conflict, ConflictVersion, base_files};
use crate::discover::Discovery;
use crate::layout;
use crate::plan::Observed;

/// Symbolic name -> version -> (target, where it comes from).
type ByName = BTreeMap<String, BTreeMap<Version, (String, Vec<String>)>>;

/// The symbolic names that an entry ships and that plugins would hold in more than one
/// version after `apply`, with every target of each: what `status` reads the manifests
/// of, to tell singletons.
pub fn multi_version_names(
    discovery: &Discovery,
    observed: &Observed,
) -> BTreeMap<String, Vec<String>> {
    let (by_name, shipped) = group(discovery, observed);
    by_name
        .into_iter()
        .filter(|(name, versions)| versions.len() > 1 && shipped.contains(name))
        .map(|(name, versions)| (name, versions.into_values().map(|(t, _)| t).collect()))
        .collect()
}

/// Every bundle plugins would hold after `apply` (the originals overlaid with every
/// entry's), grouped by symbolic name and version; and the names some entry ships.
fn group(discovery: &Discovery, observed: &Observed) -> (ByName, BTreeSet<String>) {
    let mut by_name: ByName = BTreeMap::new();
    let mut add = |target: &Path, from: &str| {
        if let Some((name, version)) = split_bundle_name(target) {
            let slot = by_name
                .entry(name.to_string())
                .or_default()
                .entry(Version::parse(version))
                .or_insert_with(|| (target.to_string_lossy().into_owned(), Vec::new()));
            if !slot.1.iter().any(|f| f == from) {
                slot.1.push(from.to_string());
            }
        }
    };
    for target in base_files(observed).keys() {
        add(target, layout::BACKUP_NAME);
    }
    let shipped: BTreeSet<String> = discovery
        .order()
        .flat_map(|e| e.files.iter())
        .filter_map(|f| split_bundle_name(&f.target).map(|(n, _)| n.to_string()))
        .collect();
    for entry in discovery.order() {
        for file in &entry.files {
            add(&file.target, &entry.name);
        }
    }
    (by_name, shipped)
}

/// Symbolic names that plugins would hold in more than one version after `apply`, grouped
/// by the symbolic name read from `<name>_<version>.jar` (same name, same version is an
/// override, not a conflict). OSGi loads several versions of a bundle side by side, so
/// only two cases need attention: a singleton (one of `singletons`) in several versions,
/// and an entry shipping a version older than one already there; the others are told as
/// information.
pub(super) fn conflicts(
    discovery: &Discovery,
    observed: &Observed,
    singletons: &BTreeSet<String>,
) -> Vec<Conflict> {
    let (by_name, shipped) = group(discovery, observed);
    let sequence: Vec<&str> = std::iter::once(layout::BACKUP_NAME)
        .chain(discovery.order().map(|e| e.name.as_str()))
        .collect();
    by_name
        .into_iter()
        .filter(|(name, versions)| versions.len() > 1 && shipped.contains(name))
        .map(|(name, versions)| {
            // An entry ships a version older than one already there: in the backup, or
            // from an entry earlier in the apply order.
            let rank = |source: &str| sequence.iter().position(|s| *s == source).unwrap_or(0);
            let older = versions.iter().find_map(|(v, (_, from))| {
                from.iter().filter(|f| *f != layout::BACKUP_NAME).find_map(|shipper| {
                    let (newer, _) = versions.iter().rev().find(|(w, (_, w_from))| {
                        *w > v && w_from.iter().any(|f| rank(f) < rank(shipper))
                    })?;
                    Some((shipper.clone(), v.text.clone(), newer.text.clone()))
                })
            });
            let list = versions
                .iter()
                .map(|(v, (_, from))| format!("{} ({})", v.text, from.join(", ")))
                .collect::<Vec<_>>()
                .join(", ");
            let (kind, message) = match older {
                Some((shipper, version, newer)) => (
                    "older",
                    format!(
                        "{shipper} ships {name} {version}, older than {newer} already there; plugins would hold {list}"
                    ),
                ),
                None if singletons.contains(&name) => (
                    "singleton",
                    format!(
                        "plugins would hold the singleton {name} in {} versions, of which OSGi resolves one: {list}",
                        versions.len()
                    ),
                ),
                None => (
                    "versions",
                    format!(
                        "plugins would hold {name} in {} versions, side by side (not a singleton): {list}",
                        versions.len()
                    ),
                ),
            };
            Conflict {
                needs_attention: kind != "versions",
                kind,
                symbolic_name: name,
                versions: versions
                    .into_iter()
                    .map(|(v, (target, from))| ConflictVersion {
                        version: v.text,
                        target,
                        from,
                    })
                    .collect(),
                message,
            }
        })
        .collect()
}

/// The symbolic name and version of a bundle file named `<name>_<version>.jar`, as the
/// runtime and carbon-patch name bundles in plugins: the first `_` after which an OSGi
/// version follows (a name may hold `_`, and so may a version's qualifier).
pub fn split_bundle_name(target: &Path) -> Option<(&str, &str)> {
    let text = target.to_str()?;
    if text.contains('/') {
        return None;
    }
    let stem = text.strip_suffix(".jar")?;
    stem.match_indices('_').find_map(|(i, _)| {
        let (name, version) = (&stem[..i], &stem[i + 1..]);
        (!name.is_empty() && is_osgi_version(version)).then_some((name, version))
    })
}

fn is_osgi_version(text: &str) -> bool {
    let mut parts = text.splitn(4, '.');
    let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let Some(major) = parts.next() else {
        return false;
    };
    if !numeric(major) {
        return false;
    }
    for _ in 0..2 {
        match parts.next() {
            None => return true,
            Some(p) if numeric(p) => {}
            Some(_) => return false,
        }
    }
    match parts.next() {
        None => true,
        Some(q) => {
            !q.is_empty()
                && q.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
    }
}

/// An OSGi version, ordered as OSGi orders them: major, minor, micro numerically, then the
/// qualifier as a string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Version {
    numbers: [u64; 3],
    qualifier: String,
    text: String,
}

impl Version {
    pub(super) fn parse(text: &str) -> Version {
        let mut parts = text.splitn(4, '.');
        let mut numbers = [0u64; 3];
        for n in &mut numbers {
            *n = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        }
        Version {
            numbers,
            qualifier: parts.next().unwrap_or("").to_string(),
            text: text.to_string(),
        }
    }
}
