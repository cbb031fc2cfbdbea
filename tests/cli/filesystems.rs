//! Issue 16: the filesystems operators run. Rollback on an overlay whose lower layer holds
//! the product (every image build: overlayfs refuses to rename such a directory), and
//! copies that share extents on a filesystem that can (btrfs, XFS with reflink). Each test
//! mounts what it needs as root, and says SKIPPED with the reason where it cannot.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;

/// A mount, unmounted (and its loop device freed) when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount(args: &[&str], at: &Path) -> Option<Mounted> {
    fs::create_dir_all(at).unwrap();
    let out = Command::new("mount")
        .args(args)
        .arg(at)
        .stderr(Stdio::piped())
        .output();
    match out {
        Ok(out) if out.status.success() => Some(Mounted(at.to_path_buf())),
        Ok(out) => {
            eprintln!(
                "SKIPPED: cannot mount {args:?} here (needs root and kernel support): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot run mount: {e}");
            None
        }
    }
}

/// An Env whose product home is `root` (already there), in no temp dir of its own.
fn env_at(root: &Path) -> Env {
    let dir = tempfile::tempdir().unwrap();
    Env::at(
        dir,
        ProductHome {
            root: root.to_path_buf(),
        },
    )
}

#[test]
fn rollback_works_on_an_overlay_whose_lower_layer_holds_the_applied_product() {
    let dir = tempfile::tempdir().unwrap();
    let (lower, upper, work, merged) = (
        dir.path().join("lower"),
        dir.path().join("upper"),
        dir.path().join("work"),
        dir.path().join("merged"),
    );
    // The image layer below: a product patched by carbon-patch when the layer was built.
    let built = sample_product(&lower);
    let layer = env_at(&built.root);
    layer.apply().code(0);
    fs::create_dir_all(&upper).unwrap();
    fs::create_dir_all(&work).unwrap();
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let Some(_mounted) = mount(&["-t", "overlay", "overlay", "-o", &options], &merged) else {
        return;
    };
    let env = env_at(&merged);
    let original = plugin_listing(&lower.join("repository/components/patches/patch0000"));
    let run = env.rollback();
    run.code(0);
    assert_eq!(
        plugin_listing(&env.plugins()),
        original,
        "plugins are the backup again"
    );
    for set_aside in ["patch0001", "patch0003", "patch0005"] {
        assert!(
            env.patches().join(".rolled-back").join(set_aside).is_dir(),
            "{set_aside} set aside"
        );
        assert!(!env.patches().join(set_aside).exists());
    }
    env.verify().code(0);
    // Nothing of the lower layer changed: the overlay wrote into its upper layer.
    assert!(
        lower
            .join("repository/components/patches/patch0003")
            .is_dir()
    );
    // And the patches come back: apply after moving them back.
    fs::rename(
        env.patches().join(".rolled-back/patch0005"),
        env.patches().join("patch0005"),
    )
    .unwrap();
    env.apply().code(0);
    env.verify().code(0);
}

/// File name → MD5 of every file directly in `dir`.
fn plugin_listing(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                Env::md5_of(&p),
            )
        })
        .collect();
    files.sort();
    files
}

/// Whether `filefrag -v` reports the file's extents as shared with another file.
fn shares_extents(path: &Path) -> bool {
    let out = Command::new("filefrag")
        .arg("-v")
        .arg(path)
        .output()
        .expect("run filefrag");
    String::from_utf8_lossy(&out.stdout).contains("shared")
}

/// A loop-mounted filesystem made with `mkfs` (`btrfs`, or `xfs` with reflink), or `None`
/// with the reason printed.
fn reflink_filesystem(dir: &Path) -> Option<(Mounted, PathBuf)> {
    let image = dir.join("fs.img");
    let file = fs::File::create(&image).unwrap();
    file.set_len(512 << 20).unwrap();
    drop(file);
    let made = [
        ("mkfs.btrfs", vec!["-q"]),
        ("mkfs.xfs", vec!["-q", "-m", "reflink=1"]),
    ]
    .into_iter()
    .find(|(tool, args)| {
        Command::new(tool)
            .args(args)
            .arg(&image)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if made.is_none() {
        eprintln!(
            "SKIPPED: neither mkfs.btrfs (btrfs-progs) nor mkfs.xfs (xfsprogs) could make a \
             filesystem that shares extents; .ci/run installs them"
        );
        return None;
    }
    let at = dir.join("mnt");
    let image = image.to_string_lossy().into_owned();
    let mounted = mount(&["-o", "loop", &image], &at)?;
    Some((mounted, at))
}

#[test]
fn on_a_reflink_filesystem_backup_and_plugins_share_extents_and_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_mounted, at)) = reflink_filesystem(dir.path()) else {
        return;
    };
    let home = sample_product(&at.join("product"));
    let env = env_at(&home.root);
    let run = env.cmd("apply", &["-v"]);
    run.code(0);
    assert!(
        run.stderr.contains("reflink clones"),
        "-v says copies are clones:\n{}",
        run.stderr
    );
    let original = env
        .plugins()
        .join("org.eclipse.osgi_3.10.2.v20150203-1939.jar");
    let backup = env
        .backup()
        .join("org.eclipse.osgi_3.10.2.v20150203-1939.jar");
    assert!(
        shares_extents(&backup),
        "the backup shares its extents with plugins"
    );
    // Changing one never changes the other.
    let before = Env::md5_of(&backup);
    fs::write(&original, b"changed in place by hand\n").unwrap();
    assert_eq!(Env::md5_of(&backup), before);
    fs::write(&original, fs::read(&backup).unwrap()).unwrap();
    // A bundle a patch replaced is cloned back from the backup by rollback.
    let core = "org.wso2.carbon.core_4.4.9.jar";
    let kept = Env::md5_of(&env.backup().join(core));
    assert_ne!(env.plugin_md5(core).unwrap(), kept, "patched");
    env.rollback().code(0);
    assert_eq!(
        env.plugin_md5(core).unwrap(),
        kept,
        "restored from the backup"
    );
    assert!(shares_extents(&env.plugins().join(core)));
    env.verify().code(0);
}
