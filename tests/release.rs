//! The release artefacts (issue 15 §2): `scripts/release.sh` builds the glibc 2.17 binary, the
//! .deb, the .rpm and the Ansible collection's tarball; this test builds them into a temporary
//! directory and checks each as an operator would use it: the binary's libraries and symbol
//! versions (RHEL 7's glibc is 2.17), the .deb installed with dpkg (the binary, its man pages
//! and completions, the demo run by the installed binary) and removed again, the .rpm's file
//! list and header.
//!
//! It needs the tools `scripts/ci-tools.sh` installs, and root for `dpkg -i`: without them it
//! prints `SKIPPED:` and why, and passes. No network (cargo runs offline: `cargo test` has
//! fetched every crate the release build uses) and no clock.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The newest glibc symbol version the binary may use: RHEL/CentOS 7's.
const MAX_GLIBC: (u32, u32, u32) = (2, 17, 0);

/// Libraries every x86_64 glibc system has; anything else in NEEDED breaks "copy it anywhere".
const ALLOWED_NEEDED: [&str; 7] = [
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "libgcc_s.so.1",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tools() -> PathBuf {
    repo().join("target/tools")
}

/// The version as dpkg and rpm spell it (a Cargo pre-release `-rc.1` becomes `~rc.1`).
fn package_version() -> String {
    env!("CARGO_PKG_VERSION").replace('-', "~")
}

fn collection_dir() -> PathBuf {
    repo().join("contrib/ansible/ansible_collections/carbonpatch/carbon_patch")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| fs::metadata(dir.join(tool)).is_ok_and(|m| m.is_file() && m.len() > 0))
    })
}

/// What is missing for the whole test, each with why it is needed.
fn missing_tools() -> Vec<String> {
    let mut missing = Vec::new();
    let venv = tools().join("venv/bin");
    if !venv.join("cargo-zigbuild").is_file() {
        missing.push(format!(
            "cargo-zigbuild (the glibc 2.17 build) in {}",
            venv.display()
        ));
    }
    let ziglang = Command::new(venv.join("python"))
        .args(["-c", "import ziglang"])
        .output();
    if !ziglang.is_ok_and(|o| o.status.success()) {
        missing.push(format!(
            "the ziglang package (zig, for cargo-zigbuild) in {}",
            tools().join("venv").display()
        ));
    }
    for (tool, why) in [
        ("bash", "runs scripts/release.sh"),
        ("dpkg-deb", "builds the .deb"),
        ("dpkg", "installs the .deb"),
        ("rpmbuild", "builds the .rpm"),
        ("rpm", "reads the .rpm"),
        ("readelf", "reads the binary's libraries and symbols"),
        ("man", "shows the installed man page"),
        ("gzip", "compresses the man pages"),
        ("sha256sum", "lists the artefacts"),
    ] {
        if !on_path(tool) {
            missing.push(format!("{tool} ({why})"));
        }
    }
    if collection_dir().join("galaxy.yml").is_file() && !venv.join("ansible-galaxy").is_file() {
        missing.push("ansible-galaxy (builds the collection's tarball)".to_string());
    }
    if !rustix::process::geteuid().is_root() {
        missing.push("root (dpkg -i installs the .deb)".to_string());
    }
    missing
}

fn run(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"))
}

/// Runs `command`, asserts it exits 0, and returns its stdout.
#[track_caller]
fn stdout_of(command: &mut Command) -> String {
    let shown = format!("{command:?}");
    let out = run(command);
    assert!(
        out.status.success(),
        "{shown} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `GLIBC_2.17` -> (2, 17, 0); `GLIBC_2.2.5` -> (2, 2, 5).
fn glibc_version(tag: &str) -> Option<(u32, u32, u32)> {
    let mut parts = tag.strip_prefix("GLIBC_")?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some((major, minor, patch))
}

/// The dynamic symbols of `bin` bound to a glibc version newer than [`MAX_GLIBC`], as
/// `name@GLIBC_x.y`.
fn symbols_newer_than_max(bin: &Path) -> (Vec<String>, usize) {
    let syms = stdout_of(Command::new("readelf").args(["-W", "--dyn-syms"]).arg(bin));
    let mut newer = Vec::new();
    let mut versioned = 0;
    for line in syms.lines() {
        let Some(name) = line.split_whitespace().nth(7) else {
            continue;
        };
        let Some((symbol, version)) = name.split_once('@') else {
            continue;
        };
        let version = version.trim_start_matches('@');
        let Some(v) = glibc_version(version) else {
            continue;
        };
        versioned += 1;
        if v > MAX_GLIBC {
            newer.push(format!("{symbol}@{version}"));
        }
    }
    (newer, versioned)
}

/// Checks the binary an operator copies to a host: only glibc's libraries, no symbol newer than
/// glibc 2.17, the standard x86_64 interpreter, and it runs.
fn check_portable_binary(bin: &Path) {
    let dynamic = stdout_of(Command::new("readelf").arg("-d").arg(bin));
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    assert!(needed.contains(&"libc.so.6"), "NEEDED: {needed:?}");
    let foreign: Vec<&&str> = needed
        .iter()
        .filter(|lib| !ALLOWED_NEEDED.contains(lib))
        .collect();
    assert!(
        foreign.is_empty(),
        "{} needs {foreign:?}, which not every x86_64 Linux has (NEEDED: {needed:?})",
        bin.display()
    );
    assert!(
        !dynamic.contains("(RPATH)") && !dynamic.contains("(RUNPATH)"),
        "{} carries an RPATH/RUNPATH",
        bin.display()
    );

    let (newer, versioned) = symbols_newer_than_max(bin);
    assert!(
        versioned > 10,
        "readelf found only {versioned} GLIBC-versioned symbols in {}: is it dynamically linked against glibc?",
        bin.display()
    );
    assert!(
        newer.is_empty(),
        "{} will not run on glibc {}.{} (RHEL 7): it uses {}",
        bin.display(),
        MAX_GLIBC.0,
        MAX_GLIBC.1,
        newer.join(", ")
    );

    let headers = stdout_of(Command::new("readelf").arg("-lW").arg(bin));
    assert!(
        headers.contains("[Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]"),
        "unexpected interpreter:\n{headers}"
    );
    let version = stdout_of(Command::new(bin).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("carbon-patch {}", env!("CARGO_PKG_VERSION"))
    );
    println!(
        "binary: NEEDED {needed:?}; {versioned} GLIBC-versioned symbols, none newer than GLIBC_{}.{}",
        MAX_GLIBC.0, MAX_GLIBC.1
    );
}

/// The man pages the packages must carry: carbon-patch(1) and one per subcommand that
/// `carbon-patch man` knows, as its `--help` lists them.
fn expected_man_pages(bin: &Path) -> Vec<String> {
    let help = stdout_of(Command::new(bin).args(["man", "--help"]));
    let line = help
        .lines()
        .find(|l| l.contains("[SUBCOMMAND]") && l.contains("[possible values: "))
        .unwrap_or_else(|| panic!("no [SUBCOMMAND] in `man --help`:\n{help}"));
    let values = line
        .split("[possible values: ")
        .nth(1)
        .and_then(|v| v.split(']').next())
        .unwrap_or_else(|| panic!("no possible values in {line:?}"));
    let mut pages = vec!["carbon-patch".to_string()];
    pages.extend(
        values
            .split(", ")
            .map(|s| format!("carbon-patch-{}", s.trim())),
    );
    assert!(
        pages.len() >= 5 && pages.iter().any(|p| p == "carbon-patch-apply"),
        "{pages:?}"
    );
    pages
}

/// Removes the package when dropped, so a failed check never leaves it installed.
struct Installed {
    removed: bool,
}

impl Installed {
    fn remove(&mut self) -> Output {
        self.removed = true;
        run(Command::new("dpkg").args(["-r", "carbon-patch"]))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.removed {
            let out = self.remove();
            eprintln!(
                "guard: dpkg -r carbon-patch: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn installed_by_dpkg() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "carbon-patch"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ok installed"))
}

/// Installs the .deb, checks what an operator gets, runs the demo with the installed binary,
/// and removes it again (also when a check fails).
fn check_deb(deb: &Path, bin: &Path, man_pages: &[String]) {
    if installed_by_dpkg() {
        println!(
            "SKIPPED: dpkg -i of the .deb: a carbon-patch package is installed on this machine \
             already, and this test will not replace or remove it (dpkg -r carbon-patch first)"
        );
        return;
    }
    if Path::new("/usr/bin/carbon-patch").exists() {
        println!(
            "SKIPPED: dpkg -i of the .deb: /usr/bin/carbon-patch exists and no package owns it; \
             this test will not replace or remove it"
        );
        return;
    }
    let mut installed = Installed { removed: false };
    stdout_of(Command::new("dpkg").arg("-i").arg(deb));

    let usr_bin = Path::new("/usr/bin/carbon-patch");
    assert_eq!(
        fs::read(usr_bin).expect("/usr/bin/carbon-patch after dpkg -i"),
        fs::read(bin).unwrap(),
        "/usr/bin/carbon-patch is not the release binary"
    );
    let version = stdout_of(Command::new(usr_bin).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("carbon-patch {}", env!("CARGO_PKG_VERSION"))
    );

    for page in man_pages {
        let path = stdout_of(Command::new("man").args(["-w", page]));
        assert_eq!(
            path.trim(),
            format!("/usr/share/man/man1/{page}.1.gz"),
            "man -w {page}"
        );
    }
    let page = stdout_of(
        Command::new("man")
            .arg("carbon-patch")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env("MANWIDTH", "80"),
    );
    let head: Vec<&str> = page.lines().take(10).collect();
    let head = head.join("\n");
    assert!(
        head.contains("NAME") && head.contains("carbon-patch") && head.contains("WSO2 Carbon"),
        "man carbon-patch | head:\n{head}"
    );
    println!("man carbon-patch | head:\n{head}");

    for completion in [
        "/usr/share/bash-completion/completions/carbon-patch",
        "/usr/share/zsh/vendor-completions/_carbon-patch",
        "/usr/share/fish/vendor_completions.d/carbon-patch.fish",
    ] {
        let text = fs::read_to_string(completion).unwrap_or_else(|e| panic!("{completion}: {e}"));
        assert!(
            text.contains("carbon-patch"),
            "{completion} is not a completion script"
        );
    }
    for doc in ["LICENSE", "README.md", "copyright"] {
        assert!(
            Path::new("/usr/share/doc/carbon-patch").join(doc).is_file(),
            "/usr/share/doc/carbon-patch/{doc} missing"
        );
    }

    // The demo (fixtures/demo.sh), with the installed binary.
    let work = tempfile::tempdir().unwrap();
    stdout_of(
        Command::new("cp")
            .arg("-a")
            .arg(repo().join("fixtures/sample-product"))
            .arg(work.path()),
    );
    let home = work.path().join("sample-product");
    let applied = stdout_of(Command::new(usr_bin).arg("apply").arg(&home));
    assert!(
        applied.contains("verification: passed"),
        "apply:\n{applied}"
    );
    let verified = stdout_of(Command::new(usr_bin).arg("verify").arg(&home));
    assert!(
        verified.contains("verification: passed"),
        "verify:\n{verified}"
    );
    println!("demo with /usr/bin/carbon-patch: apply and verify exit 0");

    let removed = installed.remove();
    assert!(
        removed.status.success(),
        "dpkg -r carbon-patch: {}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(!usr_bin.exists(), "dpkg -r left /usr/bin/carbon-patch");
    println!("deb: installed, checked and removed");
}

fn check_rpm(rpm: &Path, bin: &Path, man_pages: &[String]) {
    let files = stdout_of(Command::new("rpm").arg("-qlp").arg(rpm));
    let files: Vec<&str> = files.lines().collect();
    let mut expected = vec![
        "/usr/bin/carbon-patch".to_string(),
        "/usr/share/bash-completion/completions/carbon-patch".to_string(),
        // RHEL, Fedora and SUSE's zsh looks here (Debian's in vendor-completions).
        "/usr/share/zsh/site-functions/_carbon-patch".to_string(),
        "/usr/share/fish/vendor_completions.d/carbon-patch.fish".to_string(),
        "/usr/share/doc/carbon-patch/LICENSE".to_string(),
        "/usr/share/doc/carbon-patch/README.md".to_string(),
    ];
    expected.extend(
        man_pages
            .iter()
            .map(|p| format!("/usr/share/man/man1/{p}.1.gz")),
    );
    for path in &expected {
        assert!(
            files.contains(&path.as_str()),
            "rpm -qlp lacks {path}:\n{}",
            files.join("\n")
        );
    }

    // The payload's binary is the glibc 2.17 one: its SHA-256 in the header is the artefact's.
    let dump = stdout_of(Command::new("rpm").args(["-qp", "--dump"]).arg(rpm));
    let digest = dump
        .lines()
        .find_map(|l| l.strip_prefix("/usr/bin/carbon-patch "))
        .and_then(|rest| rest.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("rpm --dump lacks /usr/bin/carbon-patch:\n{dump}"))
        .to_string();
    let sha256 = stdout_of(Command::new("sha256sum").arg(bin));
    assert_eq!(
        Some(digest.as_str()),
        sha256.split_whitespace().next(),
        "the .rpm's /usr/bin/carbon-patch is not {}",
        bin.display()
    );

    let info = stdout_of(Command::new("rpm").arg("-qip").arg(rpm));
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    assert_eq!(field("Name"), Some("carbon-patch".into()), "{info}");
    assert_eq!(field("Version"), Some(package_version()), "{info}");
    assert_eq!(field("Architecture"), Some("x86_64".into()), "{info}");
    assert_eq!(field("License"), Some("Apache-2.0".into()), "{info}");

    // What RHEL 7's rpm (4.11) must provide to install it: no zstd payload, no glibc newer
    // than 2.17 among the requirements rpmbuild derived from the binary.
    let requires = stdout_of(Command::new("rpm").args(["-qp", "--requires"]).arg(rpm));
    assert!(
        !requires.contains("PayloadIsZstd"),
        "a zstd payload RHEL 7 cannot read:\n{requires}"
    );
    let newer: Vec<&str> = requires
        .lines()
        .filter(|l| {
            l.split(['(', ')'])
                .filter_map(glibc_version)
                .any(|v| v > MAX_GLIBC)
        })
        .collect();
    assert!(newer.is_empty(), "rpm requires {newer:?}");
    println!(
        "rpm: {} files, version {}, requires:\n{requires}",
        files.len(),
        package_version()
    );
}

/// `namespace-name-version.tar.gz` from galaxy.yml's top-level keys.
fn collection_tarball_name(galaxy: &str) -> String {
    let key = |k: &str| {
        galaxy
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")))
            .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
            .unwrap_or_else(|| panic!("galaxy.yml has no {k}"))
    };
    format!(
        "{}-{}-{}.tar.gz",
        key("namespace"),
        key("name"),
        key("version")
    )
}

#[test]
fn release_builds_a_portable_binary_and_packages_that_install() {
    let missing = missing_tools();
    // CI installs every tool (scripts/ci-tools.sh) and says so: a skip there is a failure.
    assert!(
        missing.is_empty()
            || std::env::var_os("CARBON_PATCH_REQUIRE_TOOLS").is_none_or(|v| v != "1"),
        "CARBON_PATCH_REQUIRE_TOOLS=1 but missing: {}",
        missing.join("; ")
    );
    if !missing.is_empty() {
        println!(
            "SKIPPED: release artefacts not built or checked; missing: {} (run scripts/ci-tools.sh)",
            missing.join("; ")
        );
        return;
    }

    let out = tempfile::tempdir().unwrap();
    let release = run(Command::new("bash")
        .arg(repo().join("scripts/release.sh"))
        .arg(out.path())
        .current_dir(repo())
        .env("CARGO_NET_OFFLINE", "true"));
    let stdout = String::from_utf8_lossy(&release.stdout);
    let stderr = String::from_utf8_lossy(&release.stderr);
    assert!(
        release.status.success(),
        "scripts/release.sh failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        release.status
    );
    println!("{stdout}");

    let version = env!("CARGO_PKG_VERSION");
    let bin = out
        .path()
        .join(format!("carbon-patch-{version}-x86_64-linux-gnu"));
    let deb = out
        .path()
        .join(format!("carbon-patch_{}-1_amd64.deb", package_version()));
    let rpm = out
        .path()
        .join(format!("carbon-patch-{}-1.x86_64.rpm", package_version()));
    let plain = out.path().join("carbon-patch");
    let sums = fs::read_to_string(out.path().join("SHA256SUMS")).expect("SHA256SUMS");
    for artefact in [&bin, &plain, &deb, &rpm] {
        let name = artefact.file_name().unwrap().to_str().unwrap();
        assert!(artefact.is_file(), "release.sh made no {name}:\n{stdout}");
        assert!(
            sums.lines().any(|l| l.ends_with(&format!("  {name}"))),
            "SHA256SUMS lacks {name}:\n{sums}"
        );
        assert!(stdout.contains(name), "release.sh did not list {name}");
    }
    stdout_of(
        Command::new("sha256sum")
            .args(["--check", "--quiet", "SHA256SUMS"])
            .current_dir(out.path()),
    );

    let galaxy = collection_dir().join("galaxy.yml");
    if galaxy.is_file() {
        let name = collection_tarball_name(&fs::read_to_string(&galaxy).unwrap());
        let tarball = out.path().join(&name);
        assert!(
            tarball.is_file() && fs::metadata(&tarball).unwrap().len() > 0,
            "release.sh made no {name}:\n{stdout}"
        );
        assert!(sums.contains(&name), "SHA256SUMS lacks {name}");
        println!("collection: {name}");
    } else {
        assert!(
            stdout.contains("its tarball is skipped"),
            "release.sh did not say it skipped the collection:\n{stdout}"
        );
        println!(
            "SKIPPED: the collection's tarball: {} does not exist yet",
            galaxy.display()
        );
    }

    assert_eq!(
        fs::read(&plain).unwrap(),
        fs::read(&bin).unwrap(),
        "target/dist/carbon-patch differs from {}",
        bin.display()
    );
    check_portable_binary(&bin);
    let man_pages = expected_man_pages(&bin);
    check_rpm(&rpm, &bin, &man_pages);
    check_deb(&deb, &bin, &man_pages);
}

#[test]
fn release_script_names_ci_tools_when_a_tool_is_missing() {
    if !on_path("bash") {
        println!("SKIPPED: no bash on PATH to run scripts/release.sh with");
        return;
    }
    let empty = tempfile::tempdir().unwrap();
    let out = empty.path().join("dist");
    let release = run(Command::new("bash")
        .arg(repo().join("scripts/release.sh"))
        .arg(&out)
        .current_dir(repo())
        .env("CARBON_PATCH_TOOLS", empty.path())
        .env("CARGO_NET_OFFLINE", "true"));
    let stderr = String::from_utf8_lossy(&release.stderr);
    assert!(
        !release.status.success(),
        "release.sh succeeded without its tools"
    );
    assert!(
        stderr.contains("cargo-zigbuild") && stderr.contains("(run scripts/ci-tools.sh)"),
        "stderr:\n{stderr}"
    );
    assert!(
        !out.exists(),
        "release.sh made {} before checking its tools",
        out.display()
    );
}

/// The symbol check is not vacuous: the binary `cargo test` built on this machine (against glibc
/// 2.34 or newer on any current distribution) is caught, its `__libc_start_main@GLIBC_2.34` named.
#[test]
fn glibc_check_names_the_symbols_a_newer_glibc_build_uses() {
    if !on_path("readelf") {
        println!(
            "SKIPPED: readelf (binutils) is missing, so no symbol can be read (run scripts/ci-tools.sh)"
        );
        return;
    }
    let host = Path::new(env!("CARGO_BIN_EXE_carbon-patch"));
    let (newer, versioned) = symbols_newer_than_max(host);
    assert!(versioned > 10, "{versioned} GLIBC-versioned symbols");
    let syms = stdout_of(Command::new("readelf").args(["-W", "--dyn-syms"]).arg(host));
    let start = syms
        .split_whitespace()
        .find_map(|w| w.strip_prefix("__libc_start_main@"))
        .map(|v| v.trim_start_matches('@').to_string())
        .expect("the host build links __libc_start_main");
    if glibc_version(&start).is_some_and(|v| v > MAX_GLIBC) {
        let expected = format!("__libc_start_main@{start}");
        assert!(
            newer.contains(&expected),
            "the check missed {expected} in the host build: {newer:?}"
        );
        println!("host build refused as expected: {}", newer.join(", "));
    } else {
        println!(
            "SKIPPED: this machine's glibc is old ({start}): its build is no binary the check must refuse"
        );
    }
}
