//! Which Carbon kernel a product runs (SPEC §2, §10): kernels differ in how they write
//! patches.log (log4j up to 4.4, java.util.logging from 4.5) and where 4.2 keeps its applied
//! list. Read, in this order, from what decides it best:
//!
//! 1. `lib/org.wso2.carbon.server-<version>.jar` (`wso2/lib/` in Enterprise Integrator 6.x):
//!    the launcher that applies patches at start and writes patches.log;
//! 2. the core bundle `org.wso2.carbon.core_<version>.jar` in the backup (plugins as they
//!    came) or plugins;
//! 3. `bin/wso2carbon-version.txt` (`WSO2 Carbon Framework v4.4.9`).

use std::path::Path;

use serde::Serialize;

use crate::layout::Layout;
use crate::log::Style;
use crate::plan::Observed;

/// The kernel found, and where it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kernel {
    /// E.g. `4.4.9`.
    pub version: String,
    /// The file it was read from, relative to PRODUCT_HOME.
    pub source: String,
}

impl Kernel {
    /// The form of patches.log this kernel writes.
    pub fn log_style(&self) -> Style {
        let mut numbers = self.version.split('.').map(|n| n.parse::<u32>().ok());
        match (numbers.next().flatten(), numbers.next().flatten()) {
            (Some(4), Some(minor)) if minor >= 5 => Style::Jul,
            (Some(major), _) if major > 4 => Style::Jul,
            _ => Style::Log4j,
        }
    }
}

/// The form of patches.log for `kernel` (log4j when unknown, as before 4.5).
pub fn log_style(kernel: Option<&Kernel>) -> Style {
    kernel.map_or(Style::Log4j, Kernel::log_style)
}

/// The largest `wso2carbon-version.txt` read.
const MAX_VERSION_FILE: u64 = 4096;

/// The product's kernel, from the first place in the module's order that names it.
pub fn detect(layout: &Layout) -> Option<Kernel> {
    detect_with(layout, None)
}

/// [`detect`], taking the names in the backup and plugins from `observed` (a survey's)
/// instead of listing them again.
pub fn detect_with(layout: &Layout, observed: Option<&Observed>) -> Option<Kernel> {
    let shown = |path: &Path| layout.display(path).to_string();
    // Enterprise Integrator 6.x keeps the launcher in wso2/lib, shared by its profiles.
    for lib in [
        layout.home.join("lib"),
        layout.home.join("wso2").join("lib"),
    ] {
        if let Some((name, version)) = find_versioned(layout, &lib, "org.wso2.carbon.server-") {
            return Some(Kernel {
                version,
                source: shown(&lib.join(name)),
            });
        }
    }
    for (dir, listing) in [
        (&layout.backup, observed.and_then(|o| o.backup.as_ref())),
        (&layout.plugins, observed.map(|o| &o.plugins)),
    ] {
        let found = match listing {
            Some(listing) => listing.keys().find_map(|target| {
                let name = target.as_path().to_str()?;
                versioned(name, "org.wso2.carbon.core_").map(|v| (name.to_string(), v))
            }),
            None => find_versioned(layout, dir, "org.wso2.carbon.core_"),
        };
        if let Some((name, version)) = found {
            return Some(Kernel {
                version,
                source: shown(&dir.join(name)),
            });
        }
    }
    let file = layout.home.join("bin").join("wso2carbon-version.txt");
    let text = layout.tree.read_capped(&file, MAX_VERSION_FILE).ok()??;
    let version = version_in_text(&String::from_utf8_lossy(&text))?;
    Some(Kernel {
        version,
        source: shown(&file),
    })
}

/// The first file in `dir` named `<prefix><version>.jar` (version: digits and dots first).
fn find_versioned(layout: &Layout, dir: &Path, prefix: &str) -> Option<(String, String)> {
    let entries = layout.tree.read_dir(dir, false).ok()?;
    entries.into_iter().find_map(|entry| {
        let name = entry.name.to_str()?;
        versioned(name, prefix).map(|v| (name.to_string(), v))
    })
}

/// The version in `name` when it is `<prefix><version>.jar`.
fn versioned(name: &str, prefix: &str) -> Option<String> {
    let version = name.strip_prefix(prefix)?.strip_suffix(".jar")?;
    is_kernel_version(version).then(|| version.to_string())
}

/// `4.4.9`, `4.6.1-alpha`: three numbers first.
fn is_kernel_version(text: &str) -> bool {
    let mut parts = text.splitn(4, ['.', '-']);
    (0..3).all(|_| {
        parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The version after `v` in `WSO2 Carbon Framework v4.4.9` (or the first `4.x.y` found).
fn version_in_text(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace())
        .map(|word| word.trim_start_matches(['v', 'V']))
        .find(|word| is_kernel_version(word))
        .map(|word| {
            word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_from_4_5_on_log_through_java_util_logging() {
        let style = |v: &str| {
            Kernel {
                version: v.into(),
                source: String::new(),
            }
            .log_style()
        };
        assert_eq!(style("4.2.0"), Style::Log4j);
        assert_eq!(style("4.4.9"), Style::Log4j);
        assert_eq!(style("4.4.40"), Style::Log4j);
        assert_eq!(style("4.5.0"), Style::Jul);
        assert_eq!(style("4.12.3"), Style::Jul);
        assert_eq!(log_style(None), Style::Log4j);
    }

    #[test]
    fn versions_are_read_from_the_version_file() {
        assert_eq!(
            version_in_text("WSO2 Carbon Framework v4.4.9\n").as_deref(),
            Some("4.4.9")
        );
        assert_eq!(
            version_in_text("WSO2 Carbon Framework v4.6.1-m4").as_deref(),
            Some("4.6.1-m4")
        );
        assert_eq!(version_in_text("no version here"), None);
        assert!(is_kernel_version("4.10.2"));
        assert!(!is_kernel_version("4.10"));
    }
}
