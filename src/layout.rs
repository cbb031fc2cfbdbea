//! Where everything lives in a product home (SPEC §2), and the names carbon-patch adds.
//! Every path the tool reads or writes is decided here: [`Places::find`] reads where the
//! operator and the product's start scripts move the four movable places (components,
//! patches, service packs, repository), and [`Layout::new`] derives every path from them.

mod places;
pub mod start_scripts;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use places::{Place, Places, REPOSITORY_VARIABLE, Requested, Source, Sources};

use crate::error::{Error, Result};
use crate::tree::{Kind, Tree};

/// Name of the backup directory inside patches.
pub const BACKUP_NAME: &str = "patch0000";
/// Name prefix of a patch directory.
pub const PATCH_PREFIX: &str = "patch";
/// Name prefix of a service pack directory.
pub const SERVICE_PACK_PREFIX: &str = "servicepack";
/// The bundles directory inside a service pack.
pub const SERVICE_PACK_LIB: &str = "lib";
/// The list of patches a service pack already contains.
pub const SERVICE_PACK_PATCHES: &str = "servicepack_patches.txt";
/// Prefix of temporary files carbon-patch writes beside their target before a rename.
pub const TEMP_PREFIX: &str = ".carbon-patch-tmp.";
/// Hidden directory (ignored by the runtime) that rolled-back patches and service packs move to.
pub const ROLLED_BACK_DIR: &str = ".rolled-back";
/// Hidden directory (ignored by the runtime) that `remove` sets patch directories aside in.
pub const REMOVED_DIR: &str = ".removed";

/// The paths of one product home, with the overrides applied, and the open tree every
/// one of them is reached through.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The product tree, opened once: the only way to any of the paths below.
    pub tree: Arc<Tree>,
    /// PRODUCT_HOME.
    pub home: PathBuf,
    /// `<components>/plugins`: where bundles are loaded from.
    pub plugins: PathBuf,
    /// `<components>/patches`, or where `--patches-dir` or a start script moves it.
    pub patches: PathBuf,
    /// `<components>/servicepacks`, or where `--servicepacks-dir` or a start script moves it.
    pub servicepacks: PathBuf,
    /// `<patches>/patch0000`: the whole copy of plugins before any patch.
    pub backup: PathBuf,
    /// `<patches>/.patch0000.partial`: the backup while it is being built.
    pub backup_partial: PathBuf,
    /// `<patches>/.metadata`.
    pub metadata: PathBuf,
    /// `prePatchedJARs.txt` in the runtime's metadata dir: `<metadata>`, except when
    /// components are moved and patches are not ([`Layout::new`]).
    pub jar_list: PathBuf,
    /// `<components>/default/configuration/prePatched.txt` (Carbon 4.2).
    pub applied_list_42: PathBuf,
    /// `prePatchedDir.txt` (Carbon 4.4+), beside [`Layout::jar_list`].
    pub applied_list_44: PathBuf,
    /// `<repository>/logs/patches.log`.
    pub log: PathBuf,
    /// `<metadata>/carbon-patch-state.json`: what carbon-patch placed, and the backup's manifest.
    pub state: PathBuf,
    /// `<metadata>/carbon-patch-backup.json`: the backup's manifest, written when carbon-patch made it.
    pub backup_manifest: PathBuf,
    /// `<metadata>/carbon-patch-digests.json`: the digest cache.
    pub digests: PathBuf,
    /// `<metadata>/carbon-patch-journal.json`: the operation in progress, if any.
    pub journal: PathBuf,
    /// `<metadata>/carbon-patch.lock`.
    pub lock: PathBuf,
    /// `<metadata>/carbon-patch-history.jsonl`: every run's record ([`crate::history`]).
    pub history: PathBuf,
    /// `<metadata>/archive`: files taken out of plugins, never deleted.
    pub archive: PathBuf,
    /// `<metadata>/patch-archives`: what `add` installed from patch archives
    /// ([`crate::installed`]).
    pub installed: PathBuf,
    /// `wso2carbon.pid` in PRODUCT_HOME and in every profile's home ([`Places::homes`]):
    /// written by a running server. Profiles share plugins, so any one running counts.
    pub server_pids: Vec<PathBuf>,
    /// Where the movable places are and where each came from.
    pub places: Places,
}

impl Layout {
    /// The layout of `home` as the operator (`requested`) and the product's start scripts
    /// say ([`Places::find`]). Fails as [`Layout::new`] does, and when the scripts disagree.
    pub fn find(home: &Path, requested: Requested<'_>) -> Result<Self> {
        let places = {
            let not_carbon = || {
                let plugins = Places::defaults(home).components.path.join("plugins");
                Error::NotCarbonProduct {
                    home: home.to_path_buf(),
                    plugins,
                }
            };
            // The scripts lie in PRODUCT_HOME: read through a tree of it alone, before
            // the places outside it are known.
            let tree = Tree::open(home, &[]).map_err(|_| not_carbon())?;
            Places::find(&tree, home, requested)?
        };
        Layout::new(home, places)
    }

    /// The layout of `home` with its movable places at `places`: the one place every path
    /// is derived. Fails when `home` is not a Carbon product (no plugins directory), or when
    /// plugins is reached through a symbolic link.
    pub fn new(home: &Path, places: Places) -> Result<Self> {
        let components = places.components.path.clone();
        let plugins = components.join("plugins");
        let not_carbon = || Error::NotCarbonProduct {
            home: home.to_path_buf(),
            plugins: plugins.clone(),
        };
        let patches = places.patches.path.clone();
        let servicepacks = places.servicepacks.path.clone();
        let repository = places.repository.path.clone();
        // Places outside PRODUCT_HOME are roots of their own.
        let tree = Tree::open(home, &[&components, &patches, &servicepacks, &repository])
            .map_err(|_| not_carbon())?;
        match tree.lstat(&plugins) {
            Ok(Some(info)) if info.is_dir() => {}
            Ok(Some(info)) if info.kind == Kind::Link => {
                return Err(Error::refused_link(&plugins));
            }
            Err(e) if crate::tree::refusal(&e).is_some() => {
                return Err(Error::refused(&plugins, &e));
            }
            _ => return Err(not_carbon()),
        }
        let metadata = patches.join(".metadata");
        // The runtime keeps its two lists in `<patches>/.metadata` when patches are moved,
        // else in `<repository>/components/patches/.metadata` whatever moves components
        // (`PatchUtils.getMetaDirectory`); carbon-patch's own files and the lock stay with
        // the patches directory.
        let runtime_metadata = match places.patches.source {
            Source::Default => repository
                .join("components")
                .join("patches")
                .join(".metadata"),
            _ => metadata.clone(),
        };
        Ok(Layout {
            tree: Arc::new(tree),
            home: home.to_path_buf(),
            backup: patches.join(BACKUP_NAME),
            backup_partial: patches.join(format!(".{BACKUP_NAME}.partial")),
            jar_list: runtime_metadata.join("prePatchedJARs.txt"),
            applied_list_42: components
                .join("default")
                .join("configuration")
                .join("prePatched.txt"),
            applied_list_44: runtime_metadata.join("prePatchedDir.txt"),
            log: repository.join("logs").join("patches.log"),
            state: metadata.join("carbon-patch-state.json"),
            backup_manifest: metadata.join("carbon-patch-backup.json"),
            digests: metadata.join("carbon-patch-digests.json"),
            journal: metadata.join("carbon-patch-journal.json"),
            lock: metadata.join("carbon-patch.lock"),
            history: metadata.join("carbon-patch-history.jsonl"),
            archive: metadata.join("archive"),
            installed: metadata.join(crate::installed::DIR),
            server_pids: places
                .homes
                .iter()
                .map(|h| h.join("wso2carbon.pid"))
                .collect(),
            plugins,
            patches,
            servicepacks,
            metadata,
            places,
        })
    }

    /// Every metadata file carbon-patch writes (atomically, through a temporary name
    /// beside it).
    pub fn metadata_files(&self) -> [&PathBuf; 7] {
        [
            &self.jar_list,
            &self.applied_list_44,
            &self.applied_list_42,
            &self.state,
            &self.backup_manifest,
            &self.digests,
            &self.journal,
        ]
    }

    /// `path` relative to the product home when it lies inside it, for messages (escaped:
    /// no control character reaches the terminal).
    pub fn display<'a>(&self, path: &'a Path) -> crate::names::Shown<'a> {
        crate::names::Shown::path(path.strip_prefix(&self.home).unwrap_or(path))
    }
}

/// Whether a file name is one of carbon-patch's own temporary files.
pub fn is_temp_name(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().starts_with(TEMP_PREFIX.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_follow_the_spec() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("repository/components/plugins")).unwrap();
        let layout = Layout::new(dir.path(), Places::defaults(dir.path())).unwrap();
        let rel = |p: &Path| p.strip_prefix(dir.path()).unwrap().to_path_buf();
        assert_eq!(
            rel(&layout.backup),
            Path::new("repository/components/patches/patch0000")
        );
        assert_eq!(
            rel(&layout.jar_list),
            Path::new("repository/components/patches/.metadata/prePatchedJARs.txt")
        );
        assert_eq!(
            rel(&layout.applied_list_42),
            Path::new("repository/components/default/configuration/prePatched.txt")
        );
        assert_eq!(
            rel(&layout.applied_list_44),
            Path::new("repository/components/patches/.metadata/prePatchedDir.txt")
        );
        assert_eq!(rel(&layout.log), Path::new("repository/logs/patches.log"));
    }

    #[test]
    fn overrides_move_patches_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("repository/components/plugins")).unwrap();
        let layout = Layout::find(
            dir.path(),
            Requested {
                patches: Some(Path::new("/srv/p")),
                servicepacks: Some(Path::new("/srv/s")),
                repository: None,
            },
        )
        .unwrap();
        assert_eq!(layout.backup, Path::new("/srv/p/patch0000"));
        assert_eq!(layout.metadata, Path::new("/srv/p/.metadata"));
        assert_eq!(layout.servicepacks, Path::new("/srv/s"));
    }

    #[test]
    fn start_scripts_move_the_places_and_everything_below_them() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join("wso2/components/plugins")).unwrap();
        std::fs::create_dir_all(home.join("bin")).unwrap();
        std::fs::write(
            home.join("bin/wso2server.sh"),
            "java -Dcarbon.components.dir.path=\"$CARBON_HOME/wso2/components\" \\\n  \
             -Dcarbon.repository=/srv/repo Main\n",
        )
        .unwrap();
        let layout = Layout::find(home, Requested::default()).unwrap();
        assert_eq!(layout.plugins, home.join("wso2/components/plugins"));
        assert_eq!(
            layout.backup,
            home.join("wso2/components/patches/patch0000")
        );
        assert_eq!(
            layout.lock,
            home.join("wso2/components/patches/.metadata/carbon-patch.lock")
        );
        assert_eq!(
            layout.applied_list_42,
            home.join("wso2/components/default/configuration/prePatched.txt")
        );
        // Patches not moved: the runtime's lists stay below the repository.
        assert_eq!(
            layout.applied_list_44,
            Path::new("/srv/repo/components/patches/.metadata/prePatchedDir.txt")
        );
        assert_eq!(layout.jar_list.parent(), layout.applied_list_44.parent());
        assert_eq!(layout.log, Path::new("/srv/repo/logs/patches.log"));
        assert_eq!(layout.places.scripts, ["bin/wso2server.sh"]);
        assert_eq!(layout.server_pids, [home.join("wso2carbon.pid")]);
        assert!(layout.tree.holds(Path::new("/srv/repo/logs")));
    }

    #[test]
    fn every_profile_with_a_start_script_has_its_pid_file_watched() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join("repository/components/plugins")).unwrap();
        for script in [
            "bin/integrator.sh",
            "wso2/broker/bin/wso2server.sh",
            "wso2/broker/bin/ciphertool.sh",
            "wso2/analytics/bin/wso2server.sh",
        ] {
            std::fs::create_dir_all(home.join(script).parent().unwrap()).unwrap();
            std::fs::write(home.join(script), "#!/bin/sh\n").unwrap();
        }
        std::fs::create_dir_all(home.join("wso2/components/plugins")).unwrap();
        let layout = Layout::find(home, Requested::default()).unwrap();
        assert_eq!(
            layout.server_pids,
            [
                home.join("wso2carbon.pid"),
                home.join("wso2/analytics/wso2carbon.pid"),
                home.join("wso2/broker/wso2carbon.pid"),
            ]
        );
    }

    #[test]
    fn a_home_without_plugins_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Layout::find(dir.path(), Requested::default()).unwrap_err();
        assert!(err.to_string().contains("is not a Carbon product"), "{err}");
    }
}
