//! Where everything lives in a product home (SPEC §2), and the names carbon-patch adds.
//! Every path the tool reads or writes is decided here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// The paths of one product home, with the overrides applied, and the open tree every
/// one of them is reached through.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The product tree, opened once: the only way to any of the paths below.
    pub tree: Arc<Tree>,
    /// PRODUCT_HOME.
    pub home: PathBuf,
    /// `repository/components/plugins`: where bundles are loaded from.
    pub plugins: PathBuf,
    /// `repository/components/patches` (or `--patches-dir`).
    pub patches: PathBuf,
    /// `repository/components/servicepacks` (or `--servicepacks-dir`).
    pub servicepacks: PathBuf,
    /// `<patches>/patch0000`: the whole copy of plugins before any patch.
    pub backup: PathBuf,
    /// `<patches>/.patch0000.partial`: the backup while it is being built.
    pub backup_partial: PathBuf,
    /// `<patches>/.metadata`.
    pub metadata: PathBuf,
    /// `<metadata>/prePatchedJARs.txt`.
    pub jar_list: PathBuf,
    /// `repository/components/default/configuration/prePatched.txt` (Carbon 4.2).
    pub applied_list_42: PathBuf,
    /// `<metadata>/prePatchedDir.txt` (Carbon 4.4+).
    pub applied_list_44: PathBuf,
    /// `repository/logs/patches.log`.
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
    /// `<metadata>/archive`: files taken out of plugins, never deleted.
    pub archive: PathBuf,
    /// `PRODUCT_HOME/wso2carbon.pid`: written by a running server.
    pub server_pid: PathBuf,
}

impl Layout {
    /// The layout of `home`, with optional overrides for patches and service packs.
    /// Fails when `home` is not a Carbon product (no plugins directory), or when plugins
    /// is reached through a symbolic link.
    pub fn new(home: &Path, patches: Option<&Path>, servicepacks: Option<&Path>) -> Result<Self> {
        let components = home.join("repository").join("components");
        let plugins = components.join("plugins");
        let not_carbon = || Error::NotCarbonProduct {
            home: home.to_path_buf(),
            plugins: plugins.clone(),
        };
        let patches = patches.map_or_else(|| components.join("patches"), Path::to_path_buf);
        let servicepacks =
            servicepacks.map_or_else(|| components.join("servicepacks"), Path::to_path_buf);
        let tree = Tree::open(home, &[&patches, &servicepacks]).map_err(|_| not_carbon())?;
        match tree.lstat(&plugins) {
            Ok(Some(info)) if info.is_dir() => {}
            Ok(Some(info)) if info.kind == Kind::Link => {
                return Err(Error::refused(
                    &plugins,
                    &std::io::Error::from_raw_os_error(libc::ELOOP),
                ));
            }
            Err(e) if crate::tree::refusal(&e).is_some() => {
                return Err(Error::refused(&plugins, &e));
            }
            _ => return Err(not_carbon()),
        }
        let metadata = patches.join(".metadata");
        Ok(Layout {
            tree: Arc::new(tree),
            home: home.to_path_buf(),
            backup: patches.join(BACKUP_NAME),
            backup_partial: patches.join(format!(".{BACKUP_NAME}.partial")),
            jar_list: metadata.join("prePatchedJARs.txt"),
            applied_list_42: components
                .join("default")
                .join("configuration")
                .join("prePatched.txt"),
            applied_list_44: metadata.join("prePatchedDir.txt"),
            log: home.join("repository").join("logs").join("patches.log"),
            state: metadata.join("carbon-patch-state.json"),
            backup_manifest: metadata.join("carbon-patch-backup.json"),
            digests: metadata.join("carbon-patch-digests.json"),
            journal: metadata.join("carbon-patch-journal.json"),
            lock: metadata.join("carbon-patch.lock"),
            archive: metadata.join("archive"),
            server_pid: home.join("wso2carbon.pid"),
            plugins,
            patches,
            servicepacks,
            metadata,
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
        let layout = Layout::new(dir.path(), None, None).unwrap();
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
        let layout = Layout::new(
            dir.path(),
            Some(Path::new("/srv/p")),
            Some(Path::new("/srv/s")),
        )
        .unwrap();
        assert_eq!(layout.backup, Path::new("/srv/p/patch0000"));
        assert_eq!(layout.metadata, Path::new("/srv/p/.metadata"));
        assert_eq!(layout.servicepacks, Path::new("/srv/s"));
    }

    #[test]
    fn a_home_without_plugins_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Layout::new(dir.path(), None, None).unwrap_err();
        assert!(err.to_string().contains("is not a Carbon product"), "{err}");
    }
}
