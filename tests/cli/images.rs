//! Issue 15 §3: patching a product image at build time. Every RUN (and the HEALTHCHECK) of
//! `contrib/image/Dockerfile`, read from the file, runs here as an image build runs it: as
//! the product's user (`nobody`, through `setpriv`), in `sh -c`, on a product in an
//! overlay's lower layer (read-only to the build, as an image layer is) with the writes
//! going to the upper layer; the build "fails" on any exit other than 0.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use carbon_fixtures::PatchArchive;

use crate::support::*;

const NOBODY: u32 = 65534;
const DOCKERFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/image/Dockerfile");

/// The commands of the Dockerfile's last stage that run in the product's layer: each RUN,
/// and the HEALTHCHECK's CMD, in order.
fn build_commands() -> Vec<String> {
    let text = fs::read_to_string(DOCKERFILE).unwrap();
    let last_stage = text.rsplit("\nFROM ").next().unwrap();
    last_stage
        .lines()
        .filter_map(|line| {
            line.strip_prefix("RUN ")
                .or_else(|| line.split_once(" CMD ").map(|(_, cmd)| cmd))
        })
        .map(str::to_string)
        .collect()
}

/// An overlay mount, unmounted when dropped.
struct Overlay(PathBuf);

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The image build's world: the product in an overlay's lower layer, owned by `nobody`,
/// the binary on PATH, the patch archives in their directory.
struct Build {
    _dir: tempfile::TempDir,
    lower: PathBuf,
    merged: PathBuf,
    bin: PathBuf,
    patches: PathBuf,
    _overlay: Overlay,
}

impl Build {
    /// `None` after saying SKIPPED when this machine cannot (not root, no overlayfs, no
    /// setpriv).
    fn new(archives: &[PatchArchive]) -> Option<Build> {
        let build = Build::set_up(archives);
        // CI can do all of this (root, setpriv, overlayfs) and says so: a skip there fails.
        assert!(
            build.is_some()
                || std::env::var_os("CARBON_PATCH_REQUIRE_TOOLS").is_none_or(|v| v != "1"),
            "CARBON_PATCH_REQUIRE_TOOLS=1 but the image build could not be set up (see SKIPPED above)"
        );
        build
    }

    fn set_up(archives: &[PatchArchive]) -> Option<Build> {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: not root: cannot mount an overlay or build as another user");
            return None;
        }
        if !Command::new("setpriv")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            eprintln!("SKIPPED: `setpriv` (util-linux) is missing");
            return None;
        }
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let [lower, upper, work, merged, bin, patches] =
            ["lower", "upper", "work", "merged", "bin", "patches"].map(|d| dir.path().join(d));
        // The product image's layer: the product, owned by its user.
        sample_product(&lower);
        for d in [&upper, &work, &merged, &bin, &patches] {
            fs::create_dir_all(d).unwrap();
        }
        // COPY --chown=${PRODUCT_USER} patches/ ${PATCHES}/
        for archive in archives {
            archive.write_zip(&patches);
        }
        for path in [&lower, &patches] {
            for entry in walkdir::WalkDir::new(path) {
                let entry = entry.unwrap();
                std::os::unix::fs::lchown(entry.path(), Some(NOBODY), Some(NOBODY)).unwrap();
            }
        }
        // COPY --from=carbon-patch /carbon-patch /usr/local/bin/carbon-patch (by `cp`, in its
        // own process: a file this process wrote could still be open for writing in a child).
        let status = Command::new("cp")
            .arg(env!("CARGO_BIN_EXE_carbon-patch"))
            .arg(bin.join("carbon-patch"))
            .status()
            .unwrap();
        assert!(status.success());
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        let mounted = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &options])
            .arg(&merged)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        if !mounted.status.success() {
            eprintln!(
                "SKIPPED: cannot mount an overlay here: {}",
                String::from_utf8_lossy(&mounted.stderr).trim()
            );
            return None;
        }
        Some(Build {
            _overlay: Overlay(merged.clone()),
            _dir: dir,
            lower,
            merged,
            bin,
            patches,
        })
    }

    /// Runs one of the Dockerfile's commands as the product's user; its exit code and output.
    fn run(&self, command: &str) -> (i32, String) {
        let out = Command::new("setpriv")
            .args([
                "--reuid",
                &NOBODY.to_string(),
                "--regid",
                &NOBODY.to_string(),
                "--clear-groups",
                "--",
                "sh",
                "-c",
                command,
            ])
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("PRODUCT_HOME", &self.merged)
            .env("PATCHES", &self.patches)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

fn listing(dir: &Path) -> Vec<(PathBuf, String)> {
    snapshot(dir).contents().into_iter().collect::<Vec<_>>()
}

#[test]
fn the_dockerfiles_build_steps_patch_a_product_in_an_image_layer() {
    let commands = build_commands();
    assert_eq!(
        commands.len(),
        4,
        "three RUNs and the HEALTHCHECK: {commands:?}"
    );
    let archive = PatchArchive::new("4.4.9", 6)
        .with_bundle("org.apache.axis2.wso2", "1.6.1.wso2v20", "image")
        .with_resource("repository/conf/carbon.xml", b"<Server/>\n");
    let Some(build) = Build::new(&[archive]) else {
        return;
    };
    let lower_before = listing(&build.lower);
    for command in &commands {
        let (code, output) = build.run(command);
        assert_eq!(code, 0, "`{command}` failed the build:\n{output}");
    }
    // The product is patched, as its user, in the layer being built.
    let env = Env::at(
        tempfile::tempdir().unwrap(),
        ProductHome {
            root: build.merged.clone(),
        },
    );
    assert!(env.patches().join("patch0006").is_dir());
    assert_eq!(
        env.plugin_md5("org.apache.axis2.wso2_1.6.1.wso2v20.jar"),
        Some(md5_hex(&bundle_jar(
            "org.apache.axis2.wso2",
            "1.6.1.wso2v20",
            "image"
        )))
    );
    assert_eq!(
        fs::read(build.merged.join("repository/conf/carbon.xml")).unwrap(),
        b"<Server/>\n"
    );
    // The layer below is untouched: every write went to the upper layer.
    assert_eq!(listing(&build.lower), lower_before);
    // Everything the build wrote belongs to the product's user.
    for entry in walkdir::WalkDir::new(&build.merged).min_depth(1) {
        let entry = entry.unwrap();
        let owner =
            std::os::unix::fs::MetadataExt::uid(&fs::symlink_metadata(entry.path()).unwrap());
        assert_eq!(
            owner,
            NOBODY,
            "{} belongs to {owner}",
            entry.path().display()
        );
    }
}

#[test]
fn a_broken_patch_fails_the_image_build() {
    let broken =
        PatchArchive::new("4.4.9", 7).with_patch_file("org.broken_1.0.0.jar", b"not a jar");
    let Some(build) = Build::new(&[broken]) else {
        return;
    };
    let results: Vec<(i32, String)> = build_commands().iter().map(|c| build.run(c)).collect();
    // The archive goes in (its jar is not read until apply), then apply refuses it: exit 2,
    // naming the jar, and the build stops there.
    assert_eq!(results[0].0, 0, "{}", results[0].1);
    assert_eq!(results[1].0, 2, "{}", results[1].1);
    assert!(
        results[1].1.contains("org.broken_1.0.0.jar"),
        "{}",
        results[1].1
    );
}
