//! Hostile and broken input through the binary (issue 3 §3, SPEC §4, §12, §13): jars that
//! are not zips, a manifest bomb, names and links steering outside, unreadable input, a
//! read-only plugins directory, non-UTF-8 names, odd service pack lists and damaged
//! metadata. Each case checks the exit code, an error naming the path with a hint, and the
//! tree; the cases errors.rs and names.rs already cover are not repeated here.

use crate::support::*;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sample product after one successful apply.
fn applied_sample() -> Env {
    let env = Env::sample();
    env.apply().code(0);
    env
}

/// A path made of raw bytes (not necessarily UTF-8).
fn raw(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

// ---------------------------------------------------------------------------------------
// Jars that are not zips, truncated or corrupt zips.

#[test]
fn files_named_jar_that_are_not_zips_are_bad_input_in_a_service_pack_too() {
    let cases: [(&str, &[u8]); 4] = [
        ("empty.jar", b""),
        ("text.jar", b"this is a README, not a jar\n"),
        // The local header magic alone, with nothing after it.
        ("magic.jar", b"PK\x03\x04"),
        // An end-of-central-directory record that claims one entry which is not there.
        (
            "hollow.jar",
            b"PK\x05\x06\0\0\0\0\x01\0\x01\0\x2e\0\0\0\0\0\0\0\0\0",
        ),
    ];
    for (name, bytes) in cases {
        let env = Env::sample();
        let jar = env
            .home
            .add_service_pack_file("servicepack001", name, bytes);
        let run = assert_bad_input_changes_nothing(&env, &jar);
        run.stderr_has("jar");
    }
}

#[test]
fn a_jar_cut_short_anywhere_is_bad_input() {
    let whole = bundle_jar("org.wso2.carbon.logging", "4.4.9", "patch0006");
    for cut in [1, 30, whole.len() / 3, whole.len() - 22, whole.len() - 1] {
        let env = Env::sample();
        let jar = env
            .home
            .add_patch_file("patch0006", "logging.jar", &whole[..cut]);
        assert_bad_input_changes_nothing(&env, &jar);
    }
}

/// The bytes of a zip holding one entry, `name`, whose data are `data` as given (already
/// compressed with `method`: 0 stored, 8 deflated), with `crc` and the uncompressed size
/// `declared` written into the headers as they are: a hand-made zip can lie in both.
fn zip_with_raw_entry(name: &str, method: u16, data: &[u8], crc: u32, declared: u32) -> Vec<u8> {
    let compressed = u32::try_from(data.len()).expect("entry below 4 GiB");
    let name_len = u16::try_from(name.len()).expect("short name");
    let mut local = Vec::new();
    local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    local.extend_from_slice(&20u16.to_le_bytes()); // version needed
    local.extend_from_slice(&0u16.to_le_bytes()); // flags
    local.extend_from_slice(&method.to_le_bytes());
    local.extend_from_slice(&0u16.to_le_bytes()); // time
    local.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
    local.extend_from_slice(&crc.to_le_bytes());
    local.extend_from_slice(&compressed.to_le_bytes());
    local.extend_from_slice(&declared.to_le_bytes());
    local.extend_from_slice(&name_len.to_le_bytes());
    local.extend_from_slice(&0u16.to_le_bytes()); // extra length
    local.extend_from_slice(name.as_bytes());
    local.extend_from_slice(data);

    let mut central = Vec::new();
    central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    central.extend_from_slice(&0x031eu16.to_le_bytes()); // made by: Unix
    central.extend_from_slice(&20u16.to_le_bytes());
    central.extend_from_slice(&0u16.to_le_bytes());
    central.extend_from_slice(&method.to_le_bytes());
    central.extend_from_slice(&0u16.to_le_bytes());
    central.extend_from_slice(&0x21u16.to_le_bytes());
    central.extend_from_slice(&crc.to_le_bytes());
    central.extend_from_slice(&compressed.to_le_bytes());
    central.extend_from_slice(&declared.to_le_bytes());
    central.extend_from_slice(&name_len.to_le_bytes());
    central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
    central.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes());
    central.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    central.extend_from_slice(name.as_bytes());

    let central_offset = u32::try_from(local.len()).expect("zip below 4 GiB");
    let central_len = u32::try_from(central.len()).expect("small central directory");
    let mut zip = local;
    zip.extend_from_slice(&central);
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    zip.extend_from_slice(&central_len.to_le_bytes());
    zip.extend_from_slice(&central_offset.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

#[test]
fn a_jar_whose_manifest_data_are_corrupt_is_bad_input() {
    let manifest = bundle_manifest("org.example.corrupt", "1.0");
    let mut crc = flate2::Crc::new();
    crc.update(&manifest);
    let len = u32::try_from(manifest.len()).unwrap();
    let cases = [
        // Stored, but the checksum in the headers is not the content's.
        (
            "bad-crc.jar",
            zip_with_raw_entry("META-INF/MANIFEST.MF", 0, &manifest, crc.sum() ^ 1, len),
        ),
        // Deflated, but the data are not a deflate stream (0xff: a reserved block type).
        (
            "bad-deflate.jar",
            zip_with_raw_entry("META-INF/MANIFEST.MF", 8, &[0xff; 64], crc.sum(), len),
        ),
        // An unknown compression method.
        (
            "bad-method.jar",
            zip_with_raw_entry("META-INF/MANIFEST.MF", 77, &manifest, crc.sum(), len),
        ),
    ];
    for (name, bytes) in cases {
        let env = applied_sample();
        let jar = env.home.add_patch_file("patch0006", name, &bytes);
        let run = assert_bad_input_changes_nothing(&env, &jar);
        run.stderr_has("manifest");
    }
}

// ---------------------------------------------------------------------------------------
// A manifest bomb: a tiny deflated manifest that inflates to 1 GiB.

/// 1 GiB of zeros deflated: 1 MiB compressed once with a sync flush (which ends on a byte
/// boundary and leaves the stream open), that chunk repeated 1024 times, then an empty
/// final block. About 1 MB for 1 GiB, built in milliseconds.
fn deflated_gibibyte() -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let input = vec![0u8; 1 << 20];
    let mut chunk = Vec::with_capacity(64 * 1024);
    let status = compress
        .compress_vec(&input, &mut chunk, flate2::FlushCompress::Sync)
        .expect("deflate in memory");
    assert_eq!(status, flate2::Status::Ok);
    assert_eq!(compress.total_in(), 1 << 20, "the whole MiB went in");
    let mut stream = Vec::with_capacity(chunk.len() * 1024 + 2);
    for _ in 0..1024 {
        stream.extend_from_slice(&chunk);
    }
    // BFINAL=1, fixed Huffman codes, end of block.
    stream.extend_from_slice(&[0x03, 0x00]);
    stream
}

/// Runs `carbon-patch <args>` with its address space capped at `limit_kib` (`ulimit -v`),
/// so reading a manifest bomb whole would fail the run instead of the machine.
fn run_with_memory_cap(limit_kib: u64, args: &[&str]) -> Run {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {limit_kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_carbon-patch"))
        .args(args)
        .env_remove("CARBON_HOME")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("run carbon-patch under sh");
    Run {
        // A run killed by a signal (an abort on a failed allocation) is no exit code at all.
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_manifest_bomb_is_refused_without_exhausting_memory() {
    let bomb = deflated_gibibyte();
    assert!(bomb.len() < 2 << 20, "a tiny bomb: {} bytes", bomb.len());
    // The bomb is real: it inflates past the 4 MiB cap (checked without inflating it all).
    let mut head = Vec::new();
    flate2::read::DeflateDecoder::new(&bomb[..])
        .take(5 << 20)
        .read_to_end(&mut head)
        .unwrap();
    assert_eq!(head.len(), 5 << 20);

    // 256 MiB of address space is ample for a normal run and far below the 1 GiB a whole read
    // would take. The headers either tell the truth (1 GiB) or lie (a small size; the crc
    // is not checked before the cap cuts the read short either way).
    const CAP_KIB: u64 = 256 * 1024;
    for (label, declared) in [("honest", 1u32 << 30), ("lying", 100)] {
        let env = applied_sample();
        let jar = env.home.add_patch_file(
            "patch0006",
            &format!("{label}-bomb.jar"),
            &zip_with_raw_entry("META-INF/MANIFEST.MF", 8, &bomb, 0, declared),
        );
        let path = jar.display().to_string();
        let home = env.root().to_str().unwrap().to_string();
        let before = env.snapshot();

        // First a normal run under the cap works: the cap itself does not break the tool.
        let control = Env::sample();
        let control_home = control.root().to_str().unwrap().to_string();
        run_with_memory_cap(CAP_KIB, &["apply", &control_home]).code(0);

        for command in ["apply", "verify"] {
            let run = run_with_memory_cap(CAP_KIB, &[command, &home]);
            assert_error(&run, 2, &path);
            run.stderr_has(if declared == 1 << 30 {
                "larger than 4194304 bytes"
            } else {
                // The zip reader stops at the size the headers claim and calls out the lie.
                "declared uncompressed size"
            });
        }
        assert_same_tree(&before, &env.snapshot(), "the bomb changed nothing");
    }
}

// ---------------------------------------------------------------------------------------
// Manifest names steering outside plugins (the rest: names.rs).

/// A bundle jar whose manifest main section holds exactly `headers`, CRLF line ends.
fn jar_with_headers(headers: &[(&str, &str)], seed: &str) -> Vec<u8> {
    jar_with_manifest(&wrap_manifest(headers, "\r\n"), seed)
}

#[test]
fn absolute_and_wrapped_bundle_names_steering_outside_are_refused_in_patches_and_packs() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "absolute.jar",
            jar_with_headers(
                &[
                    ("Bundle-SymbolicName", "/etc/cron.d/evil"),
                    ("Bundle-Version", "1.0"),
                ],
                "absolute",
            ),
            "path separator",
        ),
        (
            "absolute-version.jar",
            jar_with_headers(
                &[
                    ("Bundle-SymbolicName", "org.example"),
                    ("Bundle-Version", "1.0/../../../../../../tmp/evil"),
                ],
                "absolute-version",
            ),
            "path separator",
        ),
        // `..` and `/` brought together by a continuation line only.
        (
            "wrapped.jar",
            jar_with_manifest(
                b"Manifest-Version: 1.0\r\nBundle-SymbolicName: ..\r\n /..\r\n /..\r\n /bin/evil\r\nBundle-Version: 1\r\n\r\n",
                "wrapped",
            ),
            "path separator",
        ),
        // A NUL and an escape sequence in the version rather than the name.
        (
            "nul-version.jar",
            jar_with_headers(
                &[("Bundle-SymbolicName", "org.example"), ("Bundle-Version", "1\0")],
                "nul-version",
            ),
            "NUL",
        ),
        (
            "escape-version.jar",
            jar_with_headers(
                &[
                    ("Bundle-SymbolicName", "org.example"),
                    ("Bundle-Version", "1\u{1b}]0;pwned\u{7}"),
                ],
                "escape-version",
            ),
            "control character",
        ),
    ];
    for (name, bytes, why) in cases {
        for in_pack in [false, true] {
            let env = Env::sample();
            let jar = if in_pack {
                env.home
                    .add_service_pack_file("servicepack001", name, &bytes)
            } else {
                env.home.add_patch_file("patch0006", name, &bytes)
            };
            let outside = snapshot(env.root().parent().unwrap());
            let run = assert_bad_input_changes_nothing(&env, &jar);
            run.stderr_has(why);
            assert_same_tree(
                &outside,
                &snapshot(env.root().parent().unwrap()),
                "nothing beside the home",
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Symbolic links in service packs, patch directories and nested directories, and loops
// (links in a patch's top level: errors.rs).

/// A directory beside the product home (outside it) holding one bundle jar.
fn outside_dir(env: &Env) -> PathBuf {
    let dir = env.root().parent().unwrap().join("elsewhere");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("org.example.outside_1.0.jar"),
        bundle_jar("org.example.outside", "1.0", "outside"),
    )
    .unwrap();
    dir
}

#[test]
fn a_link_in_a_service_pack_lib_pointing_outside_is_refused() {
    let env = Env::sample();
    let link = env.servicepacks().join("servicepack001/lib/passwd.jar");
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    assert_bad_input_changes_nothing(&env, &link).stderr_has("outside PRODUCT_HOME");
}

#[test]
fn a_service_pack_lib_that_links_outside_is_refused() {
    let env = Env::sample();
    let outside = outside_dir(&env);
    let pack = env.home.add_service_pack("servicepack002", &[]);
    let lib = pack.join("lib");
    fs::remove_dir(&lib).unwrap();
    std::os::unix::fs::symlink(&outside, &lib).unwrap();
    assert_bad_input_changes_nothing(&env, &lib).stderr_has("outside PRODUCT_HOME");
}

#[test]
fn a_service_pack_patch_list_that_links_outside_is_refused() {
    let env = applied_sample();
    let list = env
        .servicepacks()
        .join("servicepack001/servicepack_patches.txt");
    fs::remove_file(&list).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &list).unwrap();
    assert_bad_input_changes_nothing(&env, &list).stderr_has("outside PRODUCT_HOME");
}

#[test]
fn a_patch_or_service_pack_directory_that_links_outside_is_refused() {
    for (parent, name) in [("patches", "patch0006"), ("servicepacks", "servicepack002")] {
        let env = applied_sample();
        let outside = outside_dir(&env);
        let link = env.home.components().join(parent).join(name);
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert_bad_input_changes_nothing(&env, &link).stderr_has("outside PRODUCT_HOME");
    }
}

#[test]
fn a_link_deep_in_a_patch_directory_climbing_out_is_refused() {
    let env = applied_sample();
    let dir = env.patches().join("patch0006/exploded_1.0/META-INF");
    fs::create_dir_all(&dir).unwrap();
    let link = dir.join("MANIFEST.MF");
    // Relative, and climbing past the home: resolved, not taken at its word.
    std::os::unix::fs::symlink("../../../../../../../../../../../../etc/passwd", &link).unwrap();
    assert_bad_input_changes_nothing(&env, &link).stderr_has("outside PRODUCT_HOME");
}

#[test]
fn directory_link_loops_in_patches_and_service_packs_are_refused() {
    // A link back to its own directory inside a patch (a walk that followed it would never end).
    let env = applied_sample();
    let dir = env.patches().join("patch0006/exploded_1.0");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("a.class"), b"class").unwrap();
    let link = dir.join("again");
    std::os::unix::fs::symlink("..", &link).unwrap();
    assert_bad_input_changes_nothing(&env, &link);

    // A service pack that is a link to itself.
    let env = applied_sample();
    let pack = env.servicepacks().join("servicepack002");
    std::os::unix::fs::symlink("servicepack002", &pack).unwrap();
    assert_bad_input_changes_nothing(&env, &pack).stderr_has("loop");

    // Two service pack entries linking to each other.
    let env = Env::sample();
    let a = env.servicepacks().join("servicepack001/lib/a.jar");
    let b = env.servicepacks().join("servicepack001/lib/b.jar");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    assert_bad_input_changes_nothing(&env, &a);
}

// ---------------------------------------------------------------------------------------
// Unreadable files and directories, a read-only plugins directory. Root ignores permission
// bits, so when the tests run as root the binary runs as `nobody` (uid 65534) through
// `setpriv`, on a tree handed to that user.

const NOBODY: u32 = 65534;

fn running_as_root() -> bool {
    // /proc/self belongs to the effective user of the process reading it.
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// How a test gets the binary to run without root's disregard for permissions.
enum Unprivileged {
    /// Not root: run the binary as it is.
    Direct,
    /// Root: run this copy of the binary as `nobody` through `setpriv`.
    AsNobody(PathBuf),
}

/// Prepares `env` for unprivileged runs; `None` (after saying why on stderr) when this
/// machine cannot do it.
fn unprivileged(env: &Env) -> Option<Unprivileged> {
    if !running_as_root() {
        return Some(Unprivileged::Direct);
    }
    let setpriv = Command::new("setpriv").arg("--version").output();
    if !setpriv.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "SKIPPED: running as root and `setpriv` (util-linux) is missing, so permission bits \
             cannot be tested here; install util-linux or run the tests as a normal user"
        );
        return None;
    }
    // The temp dir holding the home and every directory above it must let `nobody` through.
    let temp = env.root().parent().unwrap();
    fs::set_permissions(temp, fs::Permissions::from_mode(0o755)).unwrap();
    for ancestor in temp.ancestors().skip(1) {
        let mode = fs::metadata(ancestor).unwrap().mode();
        if mode & 0o001 == 0 {
            eprintln!(
                "SKIPPED: `{}` (mode {mode:o}) is not traversable by other users, so `nobody` cannot \
                 reach the test's product home; point TMPDIR at a directory under /tmp",
                ancestor.display()
            );
            return None;
        }
    }
    for item in walkdir::WalkDir::new(env.root()) {
        let item = item.unwrap();
        std::os::unix::fs::lchown(item.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    // A copy of the binary beside the home, where `nobody` can reach it whatever the
    // permissions of the build directory. `cp` writes it in a process of its own: were this
    // process to hold the copy open for writing, a child that another test forks in that
    // moment would inherit the descriptor until its exec, and running the copy would fail
    // with "Text file busy" (ETXTBSY).
    let binary = temp.join("carbon-patch");
    let copied = Command::new("cp")
        .arg(env!("CARGO_BIN_EXE_carbon-patch"))
        .arg(&binary)
        .status()
        .expect("run cp");
    assert!(copied.success(), "cp of the binary failed: {copied}");
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
    Some(Unprivileged::AsNobody(binary))
}

impl Unprivileged {
    /// Runs `<command> [extra...] <PRODUCT_HOME>` without privileges.
    fn cmd(&self, env: &Env, command: &str, extra: &[&str]) -> Run {
        let mut cmd = match self {
            Unprivileged::Direct => Command::new(env!("CARGO_BIN_EXE_carbon-patch")),
            Unprivileged::AsNobody(binary) => {
                let mut cmd = Command::new("setpriv");
                cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                    .arg(binary);
                cmd
            }
        };
        let output = cmd
            .arg(command)
            .args(extra)
            .arg(env.root())
            .env_remove("CARBON_HOME")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .current_dir(env.root().parent().unwrap())
            .output()
            .expect("run carbon-patch");
        Run {
            code: output.status.code().expect("exited normally"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Sets the mode of `path` for the life of the guard, then gives the original back (also
/// after a failed assertion, so the temp dir can be removed by a normal user).
struct ModeGuard {
    path: PathBuf,
    original: u32,
}

impl ModeGuard {
    fn set(path: &Path, mode: u32) -> ModeGuard {
        let original = fs::symlink_metadata(path).unwrap().mode() & 0o7777;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
        ModeGuard {
            path: path.to_path_buf(),
            original,
        }
    }
}

impl Drop for ModeGuard {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.path, fs::Permissions::from_mode(self.original));
    }
}

/// Makes `path` unreadable (mode 000) and asserts that apply (dry run and real) and verify,
/// run without privileges, fail with `code` naming `named` and change nothing.
#[track_caller]
fn assert_unreadable_changes_nothing(env: &Env, path: &Path, named: &Path, code: i32) {
    let Some(user) = unprivileged(env) else {
        return;
    };
    let before = env.snapshot();
    {
        let _unreadable = ModeGuard::set(path, 0o000);
        let named = named.display().to_string();
        for (command, extra) in [
            ("apply", &["--dry-run"][..]),
            ("verify", &[]),
            ("apply", &[]),
        ] {
            let run = user.cmd(env, command, extra);
            assert_error(&run, code, &named);
        }
    }
    assert_same_tree(&before, &env.snapshot(), "the tree must be byte-identical");
}

#[test]
fn an_unreadable_jar_in_a_patch_is_bad_input() {
    let env = applied_sample();
    let jar = env.home.add_patch_file(
        "patch0006",
        "logging.jar",
        &bundle_jar("org.wso2.carbon.logging", "4.4.9", "patch0006"),
    );
    assert_unreadable_changes_nothing(&env, &jar, &jar, 2);
}

#[test]
fn an_unreadable_plain_file_in_a_service_pack_is_bad_input() {
    let env = Env::sample();
    let file = env
        .home
        .add_service_pack_file("servicepack001", "config.xml", b"<x/>\n");
    assert_unreadable_changes_nothing(&env, &file, &file, 2);
}

#[test]
fn unreadable_patch_and_nested_directories_are_bad_input() {
    let env = applied_sample();
    let nested = env
        .home
        .add_patch_file("patch0006", "exploded_1.0/a.class", b"class");
    let dir = env.patches().join("patch0006");
    assert_unreadable_changes_nothing(&env, &dir, &dir, 2);
    let nested_dir = nested.parent().unwrap();
    assert_unreadable_changes_nothing(&env, nested_dir, nested_dir, 2);
}

#[test]
fn an_unreadable_service_pack_patch_list_is_bad_input() {
    let env = applied_sample();
    let list = env
        .servicepacks()
        .join("servicepack001/servicepack_patches.txt");
    assert_unreadable_changes_nothing(&env, &list, &list, 2);
}

#[test]
fn an_unreadable_file_in_plugins_cannot_be_read_and_changes_nothing() {
    // Plugins are not input the operator hands over but the tree being patched: an
    // unreadable bundle there is an I/O error (exit 3), and still nothing is changed.
    let env = applied_sample();
    let plugin = env.plugins().join("org.wso2.carbon.ui_4.4.9.jar");
    assert_unreadable_changes_nothing(&env, &plugin, &plugin, 3);
}

#[test]
fn a_read_only_plugins_directory_stops_apply_whole_and_a_rerun_finishes() {
    let env = applied_sample();
    env.home.add_patch_file(
        "patch0006",
        "org.wso2.carbon.logging_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.logging", "4.4.9", "patch0006"),
    );
    let Some(user) = unprivileged(&env) else {
        return;
    };
    let plugins_before = env.plugins_snapshot();
    let backup_before = snapshot(&env.backup());
    let jar_list = env.metadata().join("prePatchedJARs.txt");
    let jar_list_before = fs::read(&jar_list).unwrap();
    {
        let _read_only = ModeGuard::set(&env.plugins(), 0o555);
        // The dry run and verify only read: fine on a read-only plugins directory.
        user.cmd(&env, "apply", &["--dry-run"]).code(0);
        user.cmd(&env, "verify", &[]).code(1);
        // Checked before the lock: exit 3 (could not run) naming plugins, and nothing at
        // all written, not even a line in patches.log.
        let whole_before = env.snapshot();
        let run = user.cmd(&env, "apply", &[]);
        assert_error(&run, 3, &env.plugins().display().to_string());
        assert_same_tree(&whole_before, &env.snapshot(), "nothing written");
    }
    assert_same_tree(
        &plugins_before,
        &env.plugins_snapshot(),
        "plugins unchanged",
    );
    assert_same_tree(&backup_before, &snapshot(&env.backup()), "backup unchanged");
    assert_eq!(fs::read(&jar_list).unwrap(), jar_list_before);
    assert_eq!(
        fs::read_dir(env.plugins())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".carbon-patch-tmp"))
            .count(),
        0,
        "no temporary file left"
    );

    // Writable again: the same command finishes the job.
    user.cmd(&env, "apply", &[]).code(0);
    user.cmd(&env, "verify", &[]).code(0);
}

#[test]
fn a_read_only_plugins_directory_on_a_first_apply_keeps_plugins_and_a_rerun_finishes() {
    let env = Env::sample();
    let Some(user) = unprivileged(&env) else {
        return;
    };
    let plugins_before = env.plugins_snapshot();
    {
        let _read_only = ModeGuard::set(&env.plugins(), 0o555);
        let whole_before = env.snapshot();
        assert_error(
            &user.cmd(&env, "apply", &[]),
            3,
            &env.plugins().display().to_string(),
        );
        assert_same_tree(&whole_before, &env.snapshot(), "nothing written, no backup");
    }
    user.cmd(&env, "apply", &[]).code(0);
    user.cmd(&env, "verify", &[]).code(0);
    assert_eq!(
        snapshot(&env.backup()).contents(),
        plugins_before.contents(),
        "the backup is the original plugins"
    );
}

#[test]
fn read_only_bundles_and_patch_files_apply_and_roll_back_for_a_normal_user() {
    // Copies are written through a handle opened before they get the source's mode: a
    // read-only plugin (backed up) and read-only patch files (placed) are no obstacle.
    let env = Env::sample();
    let plugin = env.plugins().join("org.wso2.carbon.ui_4.4.9.jar");
    let patch_jar = env.patches().join("patch0004/org.wso2.carbon.ui_4.4.9.jar");
    let new_jar = env
        .patches()
        .join("patch0005/org.wso2.carbon.ndatasource.core_4.4.9.jar");
    let Some(user) = unprivileged(&env) else {
        return;
    };
    for path in [&plugin, &patch_jar, &new_jar] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o444)).unwrap();
    }
    let original = Env::md5_of(&plugin);
    user.cmd(&env, "apply", &[]).code(0);
    user.cmd(&env, "verify", &[]).code(0);
    let mode = |path: &Path| fs::metadata(path).unwrap().mode() & 0o777;
    let backup = env.backup().join("org.wso2.carbon.ui_4.4.9.jar");
    assert_eq!((Env::md5_of(&backup), mode(&backup)), (original, 0o444));
    assert_eq!(Env::md5_of(&plugin), Env::md5_of(&patch_jar));
    assert_eq!(mode(&plugin), 0o444, "a replaced plugin keeps its mode");
    let placed = env
        .plugins()
        .join("org.wso2.carbon.ndatasource.core_4.4.9.jar");
    assert_eq!(mode(&placed), 0o444, "a new plugin gets its source's mode");
    user.cmd(&env, "rollback", &[]).code(0);
    assert_eq!(Env::md5_of(&plugin), Env::md5_of(&backup));
}

// ---------------------------------------------------------------------------------------
// File names that are not UTF-8: handled, not refused.

#[test]
fn names_that_are_not_utf8_are_applied_recorded_verified_and_rolled_back() {
    let env = applied_sample();
    let patch = env.patches().join("patch0006");
    let files: Vec<(&[u8], Vec<u8>)> = vec![
        // A jar without a manifest keeps its own (Latin-1) name.
        (b"caf\xe9-1.0.jar", jar_without_manifest("latin1")),
        (b"notes-\xff\xfe.txt", b"plain text\n".to_vec()),
        (
            b"exploded-\xe9_1.0/org/A\xe9.class",
            b"\xca\xfe\xba\xbe".to_vec(),
        ),
    ];
    for (name, bytes) in &files {
        let path = patch.join(raw(name));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
    }
    // A manifest that is not UTF-8: decoded as the JVM does, invalid bytes becoming U+FFFD.
    let latin1_manifest =
        b"Manifest-Version: 1.0\r\nBundle-SymbolicName: org.caf\xe9\r\nBundle-Version: 1.0\r\n\r\n";
    let latin1_jar = jar_with_manifest(latin1_manifest, "latin1-manifest");
    fs::write(patch.join("latin1-manifest.jar"), &latin1_jar).unwrap();

    let run = env.apply();
    run.code(0);
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
    for (name, bytes) in &files {
        assert_eq!(
            fs::read(env.plugins().join(raw(name)))
                .ok()
                .map(|b| md5_hex(&b)),
            Some(md5_hex(bytes)),
            "{} lands under its own bytes",
            String::from_utf8_lossy(name)
        );
    }
    assert_eq!(
        env.plugin_md5("org.caf\u{fffd}_1.0.jar"),
        Some(md5_hex(&latin1_jar))
    );

    // prePatchedJARs.txt carries the names byte for byte, as the runtime reads them back.
    let jar_list = fs::read(env.metadata().join("prePatchedJARs.txt")).unwrap();
    for (name, bytes) in &files {
        let mut line = name.to_vec();
        line.push(b':');
        line.extend_from_slice(md5_hex(bytes).as_bytes());
        assert!(
            jar_list.split(|&b| b == b'\n').any(|l| l == line),
            "jar list line for {}:\n{}",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(&jar_list)
        );
    }
    // patches.log stays valid UTF-8 (one text a log reader can read), invalid bytes shown
    // as U+FFFD.
    let log = fs::read(env.root().join("repository/logs/patches.log")).unwrap();
    let log = String::from_utf8(log).expect("patches.log is UTF-8");
    assert!(log.contains(&format!(
        "Patched caf\u{fffd}-1.0.jar(MD5:{})",
        md5_hex(&files[0].1)
    )));
    assert!(log.contains("Patched exploded-\u{fffd}_1.0/org/A\u{fffd}.class(MD5:"));

    env.verify().code(0);
    let again = env.apply();
    again.code(0).stdout_has("nothing written");
    env.verify().code(0);

    env.rollback().code(0);
    assert_eq!(
        files_of(&env.plugins_snapshot()),
        files_of(&snapshot(&env.backup())),
        "rollback gives back the backup"
    );
    env.verify().code(0);
}

/// The files of a snapshot and their content (directories left out: a rollback archives
/// files and may leave their emptied directories behind).
fn files_of(snapshot: &Snapshot) -> std::collections::BTreeMap<PathBuf, String> {
    snapshot
        .contents()
        .into_iter()
        .filter(|(_, c)| c.starts_with("file "))
        .collect()
}

#[test]
fn a_patch_directory_whose_name_is_not_utf8_is_applied_under_the_runtimes_reading() {
    let env = applied_sample();
    let dir = env.patches().join(raw(b"patch0006\xe9"));
    fs::create_dir_all(&dir).unwrap();
    let jar = bundle_jar("org.wso2.carbon.logging", "4.4.9", "latin1-dir");
    fs::write(dir.join("logging.jar"), &jar).unwrap();

    env.apply().code(0);
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.logging_4.4.9.jar"),
        Some(md5_hex(&jar))
    );
    // The applied lists hold the name as a JVM on a UTF-8 locale lists it (U+FFFD).
    assert!(
        applied_list(&env).contains(&"patch0006\u{fffd}".to_string()),
        "{:?}",
        applied_list(&env)
    );
    env.verify().code(0);
    env.apply().code(0).stdout_has("nothing written");

    env.rollback().code(0);
    assert!(
        env.patches()
            .join(".rolled-back")
            .join(raw(b"patch0006\xe9"))
            .is_dir(),
        "moved aside under its own bytes"
    );
    env.verify().code(0);
}

// ---------------------------------------------------------------------------------------
// servicepack_patches.txt as hand-written lists come.

#[test]
fn a_patch_list_with_crlf_blank_lines_spaces_and_unknown_names_covers_exactly_the_named_patches() {
    let list_bytes: &[&[u8]] = &[
        b"patch0001\r\n\r\n  patch0002 \t\r\n\r\npatch9999\r\nnot-a-patch\r\npatch0000\r\n",
        // No final line end, and a lone CR... kept as part of no name.
        b"\n\n\tpatch0001\r\npatch0002",
    ];
    for bytes in list_bytes {
        let env = Env::sample();
        fs::write(
            env.servicepacks()
                .join("servicepack001/servicepack_patches.txt"),
            bytes,
        )
        .unwrap();
        let run = env.apply();
        run.code(0)
            .stdout_has("inside servicepack001, so skipped: patch0001, patch0002");
        assert!(!run.stderr.contains("error"), "{}", run.stderr);
        assert_eq!(
            applied_list(&env),
            [
                "servicepack001",
                "patch0000",
                "patch0003",
                "patch0004",
                "patch0005"
            ],
            "covered patches skipped, unknown names ignored, patch0000 still the backup"
        );
        env.verify().code(0);
    }
}

// ---------------------------------------------------------------------------------------
// Metadata files hand-edited or truncated: reported, rebuilt, never a crash.

/// The metadata files an apply of the sample writes, by path relative to the home.
const METADATA: &[&str] = &[
    "repository/components/patches/.metadata/prePatchedJARs.txt",
    "repository/components/patches/.metadata/prePatchedDir.txt",
    "repository/components/default/configuration/prePatched.txt",
    "repository/components/patches/.metadata/carbon-patch-state.json",
    "repository/components/patches/.metadata/carbon-patch-backup.json",
];

/// Damages one metadata file of an applied sample with `damage`, then checks: verify and
/// apply do not crash; apply exits 0, leaves plugins as they were and gives the file back
/// its whole content (except the backup manifest, which only a new backup writes); verify
/// then passes. Returns (verify before the apply, the apply).
fn assert_damaged_metadata_is_rebuilt(file: &str, damage: impl Fn(&[u8]) -> Vec<u8>) -> (Run, Run) {
    let env = applied_sample();
    let path = env.root().join(file);
    let good: Vec<Vec<u8>> = METADATA
        .iter()
        .map(|f| fs::read(env.root().join(f)).unwrap())
        .collect();
    let plugins = env.plugins_snapshot().contents();
    fs::write(&path, damage(&fs::read(&path).unwrap())).unwrap();

    let verify = env.verify();
    assert!(
        verify.code == 0 || verify.code == 1,
        "verify reports, never fails to run\n{}",
        verify.stderr
    );
    assert!(!verify.stderr.contains("panicked"), "{}", verify.stderr);
    let apply = env.apply();
    apply.code(0);
    assert!(!apply.stderr.contains("panicked"), "{}", apply.stderr);
    assert_eq!(
        env.plugins_snapshot().contents(),
        plugins,
        "plugins already right"
    );
    for (f, good) in METADATA.iter().zip(&good) {
        assert_eq!(
            &fs::read(env.root().join(f)).unwrap(),
            good,
            "{f} after damage to {file}"
        );
    }
    env.verify().code(0);
    (verify, apply)
}

#[test]
fn a_hand_edited_or_truncated_applied_list_is_reported_and_rebuilt() {
    for file in [
        "repository/components/patches/.metadata/prePatchedDir.txt",
        "repository/components/default/configuration/prePatched.txt",
    ] {
        // Cut in the middle of a name, as a crash mid-write would leave it.
        let (verify, apply) =
            assert_damaged_metadata_is_rebuilt(file, |good| good[..good.len() - 4].to_vec());
        verify.code(1);
        if file.ends_with("prePatchedDir.txt") {
            // The list the runtime reads first: a cut name reads as a change, as it would
            // for the runtime, and is logged as such.
            apply
                .stdout_has("change: patch0 has been reverted")
                .stdout_has("change: New patch available - patch0005");
        } else {
            verify.stdout_has("prePatched.txt");
        }
        // Hand-edited: an entry dropped, a bogus one, CRLF, blank lines, binary garbage.
        assert_damaged_metadata_is_rebuilt(file, |good| {
            let text = String::from_utf8_lossy(good).replace("patch0003\n", "");
            let mut out = text.replace('\n', "\r\n\r\n").into_bytes();
            out.extend_from_slice(b"patch9999\r\n\xff\xfe\x00garbage\r\n");
            out
        });
        // Emptied, as `> prePatchedDir.txt` would leave it.
        assert_damaged_metadata_is_rebuilt(file, |_| Vec::new());
    }
}

#[test]
fn a_damaged_state_file_is_reported_and_rebuilt() {
    let file = "repository/components/patches/.metadata/carbon-patch-state.json";
    for damage in [
        (|good: &[u8]| good[..good.len() / 2].to_vec()) as fn(&[u8]) -> Vec<u8>,
        |_| b"\xff\xfe not json at all \x00".to_vec(),
        |_| b"{\"schema_version\": 99, \"placed\": {}}".to_vec(),
        |_| {
            b"{\"schema_version\": 1, \"placed\": {\"a.jar\": {\"md5\": \"zz\", \"entry\": 1}}}"
                .to_vec()
        },
        |_| b"[]".to_vec(),
    ] {
        let (verify, apply) = assert_damaged_metadata_is_rebuilt(file, damage);
        verify.code(1).stdout_has("carbon-patch-state.json");
        apply
            .stderr_has("warning:")
            .stderr_has("carbon-patch-state.json")
            .stderr_has("rewritten");
    }
}

#[test]
fn a_state_file_naming_targets_outside_plugins_touches_nothing_outside() {
    // A hand-edited state that claims carbon-patch placed files outside plugins: those
    // names are never in plugins, so nothing outside is archived, restored or written.
    let env = applied_sample();
    let state = env.metadata().join("carbon-patch-state.json");
    let text = fs::read_to_string(&state).unwrap();
    let md5 = md5_hex(b"x");
    let forged = text.replacen(
        "\"placed\": {",
        &format!(
            "\"placed\": {{\n    \"../../../../bin/wso2server.sh\": {{\"md5\": \"{md5}\", \"entry\": \"patch0003\"}},\n    \"/etc/hostname\": {{\"md5\": \"{md5}\", \"entry\": \"patch0003\"}},"
        ),
        1,
    );
    assert_ne!(forged, text);
    fs::write(&state, forged).unwrap();
    let script = env.root().join("bin/wso2server.sh");
    fs::write(&script, b"#!/bin/sh\n").unwrap();
    let bin_before = snapshot(&env.root().join("bin"));
    let plugins_before = env.plugins_snapshot().contents();

    env.apply().code(0);
    env.rollback().code(0);
    assert_same_tree(
        &bin_before,
        &snapshot(&env.root().join("bin")),
        "bin untouched",
    );
    assert_eq!(fs::read(&script).unwrap(), b"#!/bin/sh\n");
    assert_ne!(env.plugins_snapshot().contents(), plugins_before);
    assert_eq!(
        files_of(&env.plugins_snapshot()),
        files_of(&snapshot(&env.backup())),
        "rollback gives back the backup"
    );
}

#[test]
fn a_damaged_backup_manifest_is_reported_and_rebuilt() {
    let env = applied_sample();
    let path = env.metadata().join("carbon-patch-backup.json");
    let good: Vec<Vec<u8>> = METADATA
        .iter()
        .map(|f| fs::read(env.root().join(f)).unwrap())
        .collect();
    let whole = fs::read(&path).unwrap();
    let damaged = whole[..whole.len() / 3].to_vec();
    fs::write(&path, &damaged).unwrap();
    let plugins = env.plugins_snapshot().contents();

    env.verify()
        .code(1)
        .stdout_has("carbon-patch-backup.json")
        .stdout_has("damaged");
    let apply = env.apply();
    apply.code(0);
    assert!(!apply.stderr.contains("panicked"), "{}", apply.stderr);
    assert_eq!(env.plugins_snapshot().contents(), plugins);
    for (f, good) in METADATA.iter().zip(&good) {
        if !f.ends_with("carbon-patch-backup.json") {
            assert_eq!(&fs::read(env.root().join(f)).unwrap(), good, "{f}");
        }
    }
    // Rebuilt from the backup as it is (the backup itself is untouched), and said so.
    assert_eq!(
        fs::read(&path).unwrap(),
        whole,
        "rebuilt to the same content"
    );
    assert!(
        env.log_messages()
            .iter()
            .any(|m| m == "the backup manifest was damaged: rebuilt from patch0000 as it is now"),
        "{:#?}",
        env.log_messages()
    );
    env.verify().code(0);
}

#[test]
fn a_damaged_digest_cache_is_ignored_and_rebuilt() {
    for damage in [
        (|good: &[u8]| good[..good.len() / 2].to_vec()) as fn(&[u8]) -> Vec<u8>,
        |_| b"\x00\x01\x02".to_vec(),
        |_| b"{\"schema_version\": 1, \"entries\": 7}".to_vec(),
    ] {
        let env = applied_sample();
        let cache = env.metadata().join("carbon-patch-digests.json");
        fs::write(&cache, damage(&fs::read(&cache).unwrap())).unwrap();
        env.verify().code(0);
        env.apply().code(0);
        let rebuilt: serde_json::Value = serde_json::from_slice(&fs::read(&cache).unwrap())
            .expect("the cache is rewritten whole");
        assert!(
            rebuilt["entries"]
                .as_object()
                .is_some_and(|e| !e.is_empty())
        );
        env.verify().code(0);
    }
}

#[test]
fn a_digest_cache_forging_a_bundle_name_cannot_steer_a_write_outside_plugins() {
    // The cache trusts an unchanged file's recorded digest and bundle name (like git's
    // index). A hand-edited cache naming a jar `../../../bin/evil.jar` must not make apply
    // write there: a cached name is held to the same rule as one read from the manifest.
    let env = applied_sample();
    let bytes = bundle_jar("org.wso2.carbon.logging", "4.4.9", "patch0006");
    env.home.add_patch_file("patch0006", "logging.jar", &bytes);
    env.apply().code(0);
    fs::remove_file(env.plugins().join("org.wso2.carbon.logging_4.4.9.jar")).unwrap();

    let cache = env.metadata().join("carbon-patch-digests.json");
    let text = fs::read_to_string(&cache).unwrap();
    let real = "\"name\": \"org.wso2.carbon.logging_4.4.9.jar\"";
    assert!(
        text.contains(real),
        "the cache holds the jar's name:\n{text}"
    );
    fs::write(
        &cache,
        text.replace(real, "\"name\": \"../../../bin/evil.jar\""),
    )
    .unwrap();
    // Dated later than every file it describes, so its entries are trusted, not racy.
    fs::File::options()
        .write(true)
        .open(&cache)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();

    let outside = snapshot(env.root().parent().unwrap());
    let run = env.apply();
    run.code(0);
    assert!(
        !env.root().join("bin/evil.jar").exists(),
        "wrote outside plugins"
    );
    assert_eq!(
        env.plugin_md5("org.wso2.carbon.logging_4.4.9.jar"),
        Some(md5_hex(&bytes)),
        "the name is read from the manifest again"
    );
    let after = snapshot(env.root().parent().unwrap());
    let bin = |s: &Snapshot| {
        s.entries
            .iter()
            .filter(|(p, _)| p.starts_with("product/bin"))
            .map(|(p, i)| (p.clone(), i.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(bin(&outside), bin(&after), "bin untouched");
    env.verify().code(0);
}
