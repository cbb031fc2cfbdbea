//! The Ansible collection `carbonpatch.carbon_patch` (contrib/ansible, issue 15 §1), tested
//! for real: `ansible-test sanity` on it (contrib/ansible/tests/sanity.sh, offline), then
//! contrib/ansible/tests/fleet.sh, which builds three hosts out of network namespaces, each
//! with its own sshd and product home, and runs the module, the role and the rolling
//! playbook on them with this build's carbon-patch.
//!
//! Each script prints `SKIPPED: <reason>` and exits 0 where it cannot run (not root, no
//! `ip netns`, no sshd, no tools venv: scripts/ci-tools.sh installs them); this test then
//! prints that line and passes. Their whole output is forwarded (shown on failure, or with
//! `--nocapture`); the closing line of each, and any SKIPPED line, always reach stderr.
//!
//! Run alone: `cargo test --test fleet`.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use carbon_fixtures::PatchArchive;

/// Runs `bash <script>` from the repository root with `envs`; fails the test unless it exits
/// 0. Returns the SKIPPED line when the script skipped.
fn run_script(script: &str, envs: &[(&str, OsString)]) -> Option<String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("bash")
        .arg(repo.join(script))
        .current_dir(repo)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "bash {script} failed ({}); its output is above\n{}",
        output.status,
        stderr
            .lines()
            .filter(|l| l.starts_with("FAIL") || l.starts_with("ERROR"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let skipped = stdout
        .lines()
        .find(|l| l.starts_with("SKIPPED:"))
        .map(str::to_owned);
    // Past the test harness's capture: a skip is never silent, and a pass says what passed.
    let last = skipped
        .clone()
        .or_else(|| stdout.lines().last().map(str::to_owned))
        .unwrap_or_default();
    let _ = writeln!(std::io::stderr(), "{script}: {last}");
    // CI installs every tool (scripts/ci-tools.sh) and says so: a skip there is a failure.
    if let Some(skip) = &skipped {
        assert!(
            std::env::var_os("CARBON_PATCH_REQUIRE_TOOLS").is_none_or(|v| v != "1"),
            "CARBON_PATCH_REQUIRE_TOOLS=1 but {script} skipped: {skip}"
        );
    }
    skipped
}

#[test]
fn ansible_collection_passes_sanity_and_patches_a_fleet_of_three_hosts() {
    run_script("contrib/ansible/tests/sanity.sh", &[]);

    // The patch archive of the README's "Installing a patch archive" (what
    // `gen-patch-archive` writes), for the fleet's `archives:` run.
    let dir = tempfile::tempdir().expect("temporary directory");
    let archive = PatchArchive::new("4.4.9", 6)
        .with_bundle("org.apache.axis2.wso2", "1.6.1.wso2v20", "patch0006")
        .with_resource(
            "repository/conf/carbon.xml",
            b"<Server xmlns=\"http://wso2.org/projects/carbon/carbon.xml\">\n  <Version>4.4.9</Version>\n</Server>\n",
        )
        .with_manual_step(
            "Add <Property name=\"HideAdminServiceWSDLs\">true</Property> to the <Server> element of <CARBON_SERVER>/repository/conf/carbon.xml if you changed that file yourself.",
        )
        .write_zip(dir.path());
    run_script(
        "contrib/ansible/tests/fleet.sh",
        &[
            (
                "CARBON_PATCH_BIN",
                env!("CARGO_BIN_EXE_carbon-patch").into(),
            ),
            ("CARBON_PATCH_ARCHIVE", archive.into_os_string()),
        ],
    );
}
