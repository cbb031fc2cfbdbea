//! Where the four movable places are (SPEC §2): components, patches, service packs and the
//! repository, each with where that came from. Decided the way the runtime's patch applier
//! decides them (`PatchInstaller`, `Utils.getCarbonRepoPath`), from what the operator and
//! the product say, first that applies wins:
//!
//! - repository: `CARBON_REPOSITORY` (the runtime reads the environment before the
//!   property), `-Dcarbon.repository`, else `PRODUCT_HOME/repository`;
//! - components: `-Dcarbon.components.dir.path`, else `<repository>/components`;
//! - patches: `--patches-dir`, `-Dcarbon.patches.dir.path`, else `<components>/patches`;
//! - service packs: `--servicepacks-dir`, `-Dcarbon.servicepacks.dir.path`, else
//!   `<components>/servicepacks`.
//!
//! The `-D` options come from the product's own start scripts, read as text through the
//! tree layer (never run): `bin/*.sh` and every Enterprise Integrator profile's
//! `wso2/<profile>/bin/*.sh`, each with its own CARBON_HOME (the directory above its
//! `bin/`). Scripts that say nothing leave the default; scripts that name two different
//! directories for one place are bad input, since carbon-patch cannot tell which the
//! server uses.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::start_scripts::{self, Property, Value};
use crate::error::{Error, Result};
use crate::tree::{Info, Kind, Tree};

/// The largest start script read (`wso2server.sh` is about 12 KB).
const MAX_SCRIPT_BYTES: u64 = 1 << 20;
/// The most scripts read: more than any product ships, and a bound on a planted `bin/`.
const MAX_SCRIPTS: usize = 256;
/// The environment variable that moves the repository.
pub const REPOSITORY_VARIABLE: &str = "CARBON_REPOSITORY";

/// Where a place came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Source {
    /// Carbon's default: below PRODUCT_HOME, or below the place that holds it.
    #[default]
    Default,
    /// A command-line option, e.g. `--patches-dir`.
    Option { option: &'static str },
    /// An environment variable (`CARBON_REPOSITORY`).
    Environment { variable: &'static str },
    /// A `-D` option of a start script.
    Script {
        /// The script, relative to PRODUCT_HOME.
        script: String,
        /// The line the option is on (from 1).
        line: usize,
        /// The system property, e.g. `carbon.patches.dir.path`.
        property: &'static str,
        /// Who owns the script: started as root, carbon-patch lets only root or the user
        /// it runs as decide where it writes ([`crate::privilege`]).
        #[serde(skip)]
        owner: u32,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Option { option } => f.write_str(option),
            Source::Environment { variable } => write!(f, "${variable}"),
            Source::Script {
                script,
                line,
                property,
                ..
            } => write!(f, "-D{property} in {script} line {line}"),
        }
    }
}

/// One place and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub path: PathBuf,
    pub source: Source,
}

/// Where each place came from, for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sources {
    pub components: Source,
    pub patches: Source,
    pub servicepacks: Source,
    pub repository: Source,
}

/// The movable places of one product home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    pub components: Place,
    pub patches: Place,
    pub servicepacks: Place,
    pub repository: Place,
    /// The start scripts read, relative to PRODUCT_HOME, in the order read.
    pub scripts: Vec<String>,
    /// The CARBON_HOME of every server the product can start: PRODUCT_HOME, then each
    /// profile with a start script (`wso2/<profile>`). Each writes its own pid file.
    pub homes: Vec<PathBuf>,
    /// What was found but could not be used (a value only running the script would give,
    /// a script that could not be read): said with every run's warnings.
    pub warnings: Vec<String>,
}

/// What the operator asked for: the command-line options and the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requested<'a> {
    /// `--patches-dir`.
    pub patches: Option<&'a Path>,
    /// `--servicepacks-dir`.
    pub servicepacks: Option<&'a Path>,
    /// `CARBON_REPOSITORY`.
    pub repository: Option<&'a OsStr>,
}

/// What one script says about one property.
#[derive(Debug, Clone)]
struct Said {
    script: String,
    owner: u32,
    found: start_scripts::Found,
}

impl Places {
    /// The places of `home` when nothing moves them: all below `home/repository`.
    pub fn defaults(home: &Path) -> Places {
        let place = |path: PathBuf| Place {
            path,
            source: Source::Default,
        };
        let repository = home.join("repository");
        let components = repository.join("components");
        Places {
            patches: place(components.join("patches")),
            servicepacks: place(components.join("servicepacks")),
            components: place(components),
            repository: place(repository),
            scripts: Vec::new(),
            homes: vec![home.to_path_buf()],
            warnings: Vec::new(),
        }
    }

    /// The places of `home`: the options and the environment in `requested`, then the
    /// product's start scripts (read through `tree`, which holds `home`), then the defaults.
    pub fn find(tree: &Tree, home: &Path, requested: Requested<'_>) -> Result<Places> {
        let mut warnings = Vec::new();
        let mut said: BTreeMap<Property, Vec<Said>> = BTreeMap::new();
        let mut scripts = Vec::new();
        let mut homes = vec![home.to_path_buf()];
        for script in list_scripts(tree, home, &mut warnings) {
            // The script's CARBON_HOME: the directory above its `bin/`.
            let script_home = script.parent().and_then(Path::parent).unwrap_or(home);
            if !homes.iter().any(|h| h == script_home) {
                homes.push(script_home.to_path_buf());
            }
            let shown =
                crate::names::Shown::path(script.strip_prefix(home).unwrap_or(&script)).to_string();
            let Some((text, owner)) = read_script(tree, &script, &shown, &mut warnings) else {
                continue;
            };
            let script_home = absolute(script_home);
            for found in start_scripts::scan(&text, &script_home) {
                said.entry(found.property).or_default().push(Said {
                    script: shown.clone(),
                    owner,
                    found,
                });
            }
            scripts.push(shown);
        }
        let mut places = Places::decide(home, requested, said, warnings)?;
        places.scripts = scripts;
        places.homes = homes;
        Ok(places)
    }

    /// Where each place came from.
    pub fn sources(&self) -> Sources {
        Sources {
            components: self.components.source.clone(),
            patches: self.patches.source.clone(),
            servicepacks: self.servicepacks.source.clone(),
            repository: self.repository.source.clone(),
        }
    }

    /// The places that came from a start script.
    pub fn from_scripts(&self) -> impl Iterator<Item = &Place> {
        [
            &self.components,
            &self.patches,
            &self.servicepacks,
            &self.repository,
        ]
        .into_iter()
        .filter(|p| matches!(p.source, Source::Script { .. }))
    }

    fn decide(
        home: &Path,
        requested: Requested<'_>,
        said: BTreeMap<Property, Vec<Said>>,
        mut warnings: Vec<String>,
    ) -> Result<Places> {
        let abs_home = absolute(home);
        // A place inside PRODUCT_HOME is named from `home` as given, like the defaults.
        let rebase = |path: PathBuf| match path.strip_prefix(&abs_home) {
            Ok(rest) if rest.as_os_str().is_empty() => home.to_path_buf(),
            Ok(rest) => home.join(rest),
            Err(_) => path,
        };
        let mut from_script = |property: Property, hint: &str| -> Result<Option<Place>> {
            let said = said.get(&property).map(Vec::as_slice).unwrap_or_default();
            agreed(said, hint, &mut warnings).map(|place| {
                place.map(|p| Place {
                    path: rebase(p.path),
                    source: p.source,
                })
            })
        };
        let scripts_hint = "make the start scripts name one directory (carbon-patch cannot tell which \
                            the server uses); nothing was changed";

        let repository = match requested.repository.filter(|v| !v.is_empty()) {
            Some(value) => Place {
                path: rebase(start_scripts::normalize(&abs_home, Path::new(value))),
                source: Source::Environment {
                    variable: REPOSITORY_VARIABLE,
                },
            },
            None => from_script(Property::Repository, scripts_hint)?.unwrap_or_else(|| Place {
                path: home.join("repository"),
                source: Source::Default,
            }),
        };
        let components =
            from_script(Property::Components, scripts_hint)?.unwrap_or_else(|| Place {
                path: repository.path.join("components"),
                source: Source::Default,
            });
        let option = |path: Option<&Path>, option: &'static str| {
            path.map(|p| Place {
                path: p.to_path_buf(),
                source: Source::Option { option },
            })
        };
        let patches = match option(requested.patches, "--patches-dir") {
            Some(place) => place,
            None => from_script(
                Property::Patches,
                "pass --patches-dir with the directory the server uses; nothing was changed",
            )?
            .unwrap_or_else(|| Place {
                path: components.path.join("patches"),
                source: Source::Default,
            }),
        };
        let servicepacks = match option(requested.servicepacks, "--servicepacks-dir") {
            Some(place) => place,
            None => from_script(
                Property::Servicepacks,
                "pass --servicepacks-dir with the directory the server uses; nothing was changed",
            )?
            .unwrap_or_else(|| Place {
                path: components.path.join("servicepacks"),
                source: Source::Default,
            }),
        };
        Ok(Places {
            components,
            patches,
            servicepacks,
            repository,
            scripts: Vec::new(),
            homes: vec![home.to_path_buf()],
            warnings,
        })
    }
}

/// The one directory the scripts name for a property (`None` when none names one), or
/// bad input when they name two. A value carbon-patch cannot know is a warning.
fn agreed(said: &[Said], hint: &str, warnings: &mut Vec<String>) -> Result<Option<Place>> {
    let mut first: Option<(&Said, &Path)> = None;
    for one in said {
        let path = match &one.found.value {
            Value::Path(path) => path,
            Value::Unresolved => {
                warnings.push(format!(
                    "{} line {}: `{}` is not used: carbon-patch reads the script without running \
                     it and expands only $CARBON_HOME",
                    one.script,
                    one.found.line,
                    crate::names::Shown(OsStr::new(&one.found.text)),
                ));
                continue;
            }
        };
        match first {
            None => first = Some((one, path)),
            Some((earlier, known)) if known != path => {
                return Err(Error::bad_input(
                    path,
                    format!(
                        "the start scripts disagree on -D{}: {} line {} names `{}`, {} line {} names",
                        one.found.property.name(),
                        earlier.script,
                        earlier.found.line,
                        crate::names::Shown::path(known),
                        one.script,
                        one.found.line,
                    ),
                    hint,
                ));
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|(one, path)| Place {
        path: path.to_path_buf(),
        source: Source::Script {
            script: one.script.clone(),
            line: one.found.line,
            property: one.found.property.name(),
            owner: one.owner,
        },
    }))
}

/// `path` absolute (from the current directory), `.` and `..` resolved by name.
fn absolute(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    start_scripts::normalize(Path::new("/"), &path)
}

/// The start scripts of `home`, in the order read: `bin/*.sh`, then `wso2/<profile>/bin/*.sh`
/// profile by profile, each in byte-wise name order. Directories that are not there are
/// skipped; one that cannot be listed is a warning.
fn list_scripts(tree: &Tree, home: &Path, warnings: &mut Vec<String>) -> Vec<PathBuf> {
    let mut dirs = vec![home.join("bin")];
    let profiles = home.join("wso2");
    dirs.extend(
        list(tree, &profiles, home, warnings)
            .into_iter()
            .filter(|e| e.kind == Kind::Dir)
            .map(|e| profiles.join(e.name).join("bin")),
    );
    let mut scripts = Vec::new();
    for dir in dirs {
        for entry in list(tree, &dir, home, warnings) {
            let path = dir.join(&entry.name);
            if !entry.name.as_encoded_bytes().ends_with(b".sh") {
                continue;
            }
            if entry.kind != Kind::File {
                warnings.push(format!(
                    "{} is {}, not read as a start script: the places it may move are not known",
                    crate::names::Shown::path(path.strip_prefix(home).unwrap_or(&path)),
                    entry.kind.describe(),
                ));
                continue;
            }
            if scripts.len() == MAX_SCRIPTS {
                warnings.push(format!(
                    "more than {MAX_SCRIPTS} start scripts: only the first {MAX_SCRIPTS} are read"
                ));
                return scripts;
            }
            scripts.push(path);
        }
    }
    scripts
}

/// The entries of `dir`; none when it is not there, a warning when it cannot be listed.
fn list(
    tree: &Tree,
    dir: &Path,
    home: &Path,
    warnings: &mut Vec<String>,
) -> Vec<crate::tree::Entry> {
    match tree.read_dir(dir, false) {
        Ok(entries) => entries,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Vec::new(),
        Err(e) => {
            warnings.push(format!(
                "cannot list {} for start scripts ({e}): the places they may move are not known",
                crate::names::Shown::path(dir.strip_prefix(home).unwrap_or(dir)),
            ));
            Vec::new()
        }
    }
}

/// The text of a script and its owner, through the tree's reader for carbon-patch's own
/// files (no link followed, regular files only, size capped); `None`, with a warning, when
/// it cannot be read.
fn read_script(
    tree: &Tree,
    path: &Path,
    shown: &str,
    warnings: &mut Vec<String>,
) -> Option<(String, u32)> {
    let read = tree.open_own(path).and_then(|file| {
        let owner = Info::of_file(&file)?.uid;
        let bytes = crate::tree::read_file_capped(file, MAX_SCRIPT_BYTES)?;
        Ok((String::from_utf8_lossy(&bytes).into_owned(), owner))
    });
    match read {
        Ok(read) => Some(read),
        Err(e) => {
            warnings.push(format!(
                "cannot read the start script {shown} ({e}): the places it may move are not known"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests;
