//! The trust boundary (SPEC §12, issue 12): carbon-patch runs as root on a product home that
//! the server's account can write. Each test plants what that account could plant — links,
//! FIFOs, devices, odd names, a doctored pid file, a held lock — runs the real binary with
//! a time limit, and checks the exit code, that the error names the path, that a sentinel
//! directory beside the product (outside PRODUCT_HOME) is byte-for-byte unchanged, and that
//! a refused run changed nothing in the product.
//!
//! Root-only cases print `SKIPPED: …` and pass where the machine cannot run them.

use crate::support::*;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

// ---------------------------------------------------------------------------------------
// Running the binary: with a time limit, as the caller or as `nobody`.

/// A run that has not returned after this long is killed and fails its test as hung.
const HUNG_AFTER: Duration = Duration::from_secs(20);
/// Address space given to runs that could read a huge or endless file whole (`/dev/zero`):
/// ample for a normal run (hostile.rs runs the sample under the same cap).
const MEMORY_CAP: u64 = 256 << 20;
/// The largest file any run may write (`RLIMIT_FSIZE`): a run that copies an endless device
/// dies of SIGXFSZ instead of filling the disk.
const FILE_SIZE_CAP: u64 = 1 << 30;
const NOBODY: u32 = 65534;

/// Who the binary runs as.
#[derive(Clone)]
enum User {
    /// Whoever runs the tests (root in CI).
    Caller,
    /// `nobody`, through `setpriv`, running this copy of the binary.
    Nobody(PathBuf),
}

/// One way of running the binary on a product home.
struct Bin<'a> {
    env: &'a Env,
    user: User,
    vars: Vec<(&'static str, String)>,
    capped: bool,
}

fn bin(env: &Env) -> Bin<'_> {
    Bin {
        env,
        user: User::Caller,
        vars: Vec::new(),
        capped: false,
    }
}

/// A started run, its output drained by two threads.
struct Started {
    child: Child,
    out: JoinHandle<Vec<u8>>,
    err: JoinHandle<Vec<u8>>,
    what: String,
}

impl Bin<'_> {
    fn user(mut self, user: &User) -> Self {
        self.user = user.clone();
        self
    }

    fn var(mut self, name: &'static str, value: &str) -> Self {
        self.vars.push((name, value.to_string()));
        self
    }

    /// Caps the run's address space, so reading an endless file whole fails the run, not
    /// the machine.
    fn capped(mut self) -> Self {
        self.capped = true;
        self
    }

    /// Starts `<command> [extra...] <PRODUCT_HOME>`.
    fn start(&self, command: &str, extra: &[&str]) -> Started {
        let mut cmd = match &self.user {
            User::Caller => Command::new(env!("CARGO_BIN_EXE_carbon-patch")),
            User::Nobody(binary) => {
                let mut cmd = Command::new("setpriv");
                cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                    .arg(binary);
                cmd
            }
        };
        cmd.arg(command)
            .args(extra)
            .arg(self.env.root())
            .env_remove("CARBON_HOME")
            .env_remove("RUST_LOG")
            .env_remove("CARBON_PATCH_FAULT")
            .env("NO_COLOR", "1")
            .current_dir(self.env.root().parent().unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.vars {
            cmd.env(name, value);
        }
        if self.capped {
            // glibc reserves address space per malloc arena; keep that small under the cap.
            cmd.env("MALLOC_ARENA_MAX", "2");
        }
        let capped = self.capped;
        // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec, and
        // nothing allocates.
        unsafe {
            cmd.pre_exec(move || {
                // A fixed array: nothing may allocate between fork and exec.
                let limits = [
                    (libc::RLIMIT_FSIZE, FILE_SIZE_CAP, true),
                    (libc::RLIMIT_AS, MEMORY_CAP, capped),
                ];
                for (resource, cap, _) in limits.into_iter().filter(|l| l.2) {
                    let limit = libc::rlimit {
                        rlim_cur: cap,
                        rlim_max: cap,
                    };
                    if libc::setrlimit(resource, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start carbon-patch");
        let out = drain(child.stdout.take().unwrap());
        let err = drain(child.stderr.take().unwrap());
        Started {
            child,
            out,
            err,
            what: format!("carbon-patch {command} {}", extra.join(" ")),
        }
    }

    /// Runs `<command> [extra...] <PRODUCT_HOME>` to its end (or fails the test as hung).
    fn run(&self, command: &str, extra: &[&str]) -> Run {
        self.start(command, extra).finish()
    }
}

/// The peak resident memory (`VmHWM`) of the running process `pid`, in KiB (0 when it
/// cannot be read, e.g. before its exec or once it has exited).
fn high_water_kib(pid: libc::pid_t) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    if !status
        .lines()
        .any(|l| l.starts_with("Name:") && l.contains("carbon-patch"))
    {
        return 0;
    }
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn drain(mut stream: impl std::io::Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        bytes
    })
}

impl Started {
    fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("a pid")
    }

    /// Whether the run has not returned yet (it is not reaped: [`Started::finish`] still
    /// collects it).
    fn running(&self) -> bool {
        // SAFETY: waitid only writes the siginfo_t it is given.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        let rc = unsafe { libc::waitid(libc::P_PID, self.child.id(), &mut info, flags) };
        assert_eq!(rc, 0, "waitid: {}", std::io::Error::last_os_error());
        // SAFETY: after a successful waitid the pid field is set (0: still running).
        unsafe { info.si_pid() == 0 }
    }

    /// Waits for the run; kills it and fails the test when it takes longer than
    /// [`HUNG_AFTER`]; fails the test when it died by a signal or printed a raw control
    /// character.
    fn finish(self) -> Run {
        self.finish_measured().0
    }

    /// [`Started::finish`], also giving the run's peak resident memory in KiB: the highest
    /// `VmHWM` of its own image seen while it ran (`ru_maxrss` would count the test
    /// process's memory too, which a forked child shares until its exec).
    fn finish_measured(mut self) -> (Run, u64) {
        let pid = self.pid();
        let deadline = Instant::now() + HUNG_AFTER;
        let mut raw = 0;
        let mut peak_kib = 0u64;
        loop {
            if !self.running() {
                // SAFETY: waitpid only writes the status it is given.
                let rc = unsafe { libc::waitpid(pid, &mut raw, 0) };
                assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
                break;
            }
            peak_kib = peak_kib.max(high_water_kib(pid));
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "hung: `{}` did not return within {HUNG_AFTER:?} and was killed",
                    self.what
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = std::process::ExitStatus::from_raw(raw);
        let stdout = String::from_utf8_lossy(&self.out.join().unwrap()).into_owned();
        let stderr = String::from_utf8_lossy(&self.err.join().unwrap()).into_owned();
        let Some(code) = status.code() else {
            panic!(
                "`{}` died by signal {:?} (a crash)\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                self.what,
                status.signal()
            );
        };
        for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            if let Some(c) = text
                .chars()
                .find(|&c| c.is_control() && c != '\n' && c != '\t')
            {
                panic!(
                    "`{}` printed a raw control character {c:?} on {name}:\n{text:?}",
                    self.what
                );
            }
        }
        (
            Run {
                code,
                stdout,
                stderr,
            },
            peak_kib,
        )
    }
}

// ---------------------------------------------------------------------------------------
// The sentinel: a directory beside the product home that nothing may ever touch.

const SECRET: &[u8] = b"SENTINEL-SECRET 9d41c7e2: nothing may ever copy this\n";

struct Sentinel {
    dir: PathBuf,
    before: Snapshot,
    owners: BTreeMap<PathBuf, (u32, u32)>,
}

/// Creates `<temp>/sentinel` beside the product home: `passwd`, `authorized_keys`, a 0600
/// `secret` and `conf/app.conf`; then records it.
fn sentinel(env: &Env) -> Sentinel {
    let dir = env.root().parent().unwrap().join("sentinel");
    fs::create_dir_all(dir.join("conf")).unwrap();
    fs::write(dir.join("passwd"), b"root:x:0:0:root:/root:/bin/bash\n").unwrap();
    fs::write(
        dir.join("authorized_keys"),
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKeyOnly operator@admin\n",
    )
    .unwrap();
    fs::write(dir.join("secret"), SECRET).unwrap();
    fs::set_permissions(dir.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(dir.join("conf/app.conf"), b"setting=1\n").unwrap();
    let mut sentinel = Sentinel {
        dir,
        before: Snapshot {
            entries: BTreeMap::new(),
        },
        owners: BTreeMap::new(),
    };
    sentinel.record();
    sentinel
}

fn owners(dir: &Path) -> BTreeMap<PathBuf, (u32, u32)> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            (e.path().to_path_buf(), (m.uid(), m.gid()))
        })
        .collect()
}

impl Sentinel {
    fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Records the sentinel as it is now (after a test added to it).
    fn record(&mut self) {
        self.before = snapshot(&self.dir);
        self.owners = owners(&self.dir);
    }

    /// Content, modes, times, inodes, owners: all as recorded, and no new entry.
    #[track_caller]
    fn assert_unchanged(&self) {
        assert_same_tree(
            &self.before,
            &snapshot(&self.dir),
            "the sentinel outside PRODUCT_HOME changed",
        );
        assert_eq!(self.owners, owners(&self.dir), "sentinel owners changed");
    }
}

/// Regular files under `root` (links not followed) whose bytes contain `needle`.
fn files_holding(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            fs::read(e.path()).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[track_caller]
fn assert_secret_nowhere_in(env: &Env) {
    let found = files_holding(env.root(), SECRET);
    assert!(found.is_empty(), "the secret was copied into {found:?}");
}

// ---------------------------------------------------------------------------------------
// Products and planting.

/// plugins `org.a`, `org.b`; patch0001 replaces `org.a`. Never applied.
fn product() -> Env {
    let env = home_with_plugins(&["org.a", "org.b"]);
    env.home
        .add_patch_file("patch0001", &target("org.a"), &jar("org.a", "patch0001"));
    env
}

/// Adds patch0002 with a new bundle `org.c`.
fn add_patch0002(env: &Env) {
    env.home
        .add_patch_file("patch0002", &target("org.c"), &jar("org.c", "patch0002"));
}

/// [`product`] applied once, then patch0002 added: the next apply has work to do.
fn pending() -> Env {
    let env = product();
    bin(&env).run("apply", &[]).code(0);
    add_patch0002(&env);
    env
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that lives across the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Replaces whatever is at `path` (file, link, directory) with nothing.
fn remove(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).unwrap(),
        Ok(_) => fs::remove_file(path).unwrap(),
        Err(_) => {}
    }
}

/// Replaces `path` with a symbolic link to `to`.
fn plant_link(path: &Path, to: &Path) {
    remove(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    symlink(to, path).unwrap();
}

/// `path` relative to the product home, for "the error names it".
fn rel(env: &Env, path: &Path) -> String {
    path.strip_prefix(env.root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Runs `command` and asserts: exit `code`, an `error:` naming `named` with a hint, the
/// product tree unchanged (snapshot), the sentinel unchanged.
#[track_caller]
fn assert_refused(
    bin: &Bin,
    sentinel: &Sentinel,
    command: &str,
    extra: &[&str],
    code: i32,
    named: &str,
) -> Run {
    let before = bin.env.snapshot();
    let run = bin.run(command, extra);
    assert_error(&run, code, named);
    assert_same_tree(
        &before,
        &bin.env.snapshot(),
        "a refused run must change nothing in the product",
    );
    sentinel.assert_unchanged();
    run
}

/// Apply refused with exit 2 naming `named`, nothing changed anywhere.
#[track_caller]
fn assert_apply_refused(env: &Env, sentinel: &Sentinel, named: &str) -> Run {
    assert_refused(&bin(env), sentinel, "apply", &[], 2, named)
}

/// Apply exits 0, verify then exits 0, the sentinel is unchanged.
#[track_caller]
fn assert_apply_succeeds(env: &Env, sentinel: &Sentinel) -> Run {
    let run = bin(env).run("apply", &[]);
    run.code(0);
    sentinel.assert_unchanged();
    bin(env).run("verify", &[]).code(0);
    sentinel.assert_unchanged();
    run
}

const PLUGINS: &str = "repository/components/plugins";
const METADATA: &str = "repository/components/patches/.metadata";

// ---------------------------------------------------------------------------------------
// 1. Links where carbon-patch writes.

/// The attacker links plugins/conf to a directory outside so that a patch's conf/passwd is written there.
#[test]
fn a_directory_link_in_plugins_is_not_written_through() {
    let env = pending();
    let sentinel = sentinel(&env);
    plant_link(&env.plugins().join("conf"), &sentinel.dir);
    env.home
        .add_patch_file("patch0002", "conf/passwd", b"evil::0:0::/root:/bin/sh\n");
    assert_apply_refused(&env, &sentinel, &format!("{PLUGINS}/conf"));
}

/// Where the kernel has no `openat2` (before Linux 5.6), carbon-patch walks each path one
/// `O_NOFOLLOW` component at a time; the debug build's switch forces that walk here: the
/// same link is refused, and a normal apply, verify and rollback work.
#[test]
fn the_walk_without_openat2_refuses_the_same_links_and_applies_the_rest() {
    let walk = |env| bin(env).var("CARBON_PATCH_NO_OPENAT2", "1");
    let env = pending();
    let watched = sentinel(&env);
    plant_link(&env.plugins().join("conf"), &watched.dir);
    env.home
        .add_patch_file("patch0002", "conf/passwd", b"evil::0:0::/root:/bin/sh\n");
    assert_refused(
        &walk(&env),
        &watched,
        "apply",
        &[],
        2,
        &format!("{PLUGINS}/conf"),
    );

    let env = pending();
    let sentinel = sentinel(&env);
    walk(&env).run("apply", &[]).code(0);
    walk(&env).run("verify", &[]).code(0);
    walk(&env).run("rollback", &[]).code(0);
    walk(&env).run("verify", &[]).code(0);
    sentinel.assert_unchanged();
}

/// The attacker links patches/.rolled-back outside, so that a rollback moves the patch
/// directories there (out of the product, into a place of their choice).
#[test]
fn a_rolled_back_directory_link_is_refused_by_rollback() {
    let env = pending();
    bin(&env).run("apply", &[]).code(0);
    let sentinel = sentinel(&env);
    plant_link(&env.patches().join(".rolled-back"), &sentinel.dir);
    assert_refused(
        &bin(&env),
        &sentinel,
        "rollback",
        &[],
        2,
        "repository/components/patches/.rolled-back",
    );
}

/// The attacker puts a file where the backup goes, so that a first apply fails after its
/// copy of plugins, at the rename.
#[test]
fn a_file_where_the_backup_goes_is_refused_before_anything_is_written() {
    let env = product();
    let sentinel = sentinel(&env);
    fs::create_dir_all(env.patches()).unwrap();
    fs::write(env.backup(), b"not a directory\n").unwrap();
    assert_apply_refused(&env, &sentinel, "repository/components/patches/patch0000");
}

/// The attacker makes plugins itself a link to a copy of it elsewhere, to get writes there.
#[test]
fn plugins_itself_a_link_is_refused() {
    let env = product();
    let mut sentinel = sentinel(&env);
    let copy = sentinel.join("plugins");
    fs::rename(env.plugins(), &copy).unwrap();
    symlink(&copy, env.plugins()).unwrap();
    sentinel.record();
    assert_apply_refused(&env, &sentinel, PLUGINS);
}

/// The attacker links repository/logs outside so the log line lands in a file of their choice.
#[test]
fn a_logs_directory_link_is_not_written_through() {
    let env = pending();
    let sentinel = sentinel(&env);
    plant_link(&env.root().join("repository/logs"), &sentinel.dir);
    assert_apply_refused(&env, &sentinel, "repository/logs");
}

/// The attacker links patches.log to root's authorized_keys so a log line is appended there.
#[test]
fn a_patches_log_link_is_not_written_through() {
    let env = pending();
    let sentinel = sentinel(&env);
    plant_link(
        &env.root().join("repository/logs/patches.log"),
        &sentinel.join("authorized_keys"),
    );
    assert_apply_refused(&env, &sentinel, "repository/logs/patches.log");
}

/// The attacker links default/configuration outside so prePatched.txt is written there.
#[test]
fn a_default_configuration_link_is_not_written_through() {
    let env = pending();
    let sentinel = sentinel(&env);
    plant_link(
        &env.home.components().join("default/configuration"),
        &sentinel.dir,
    );
    assert_apply_refused(
        &env,
        &sentinel,
        "repository/components/default/configuration",
    );
}

/// The attacker links patches/.metadata outside before the first apply creates it.
#[test]
fn a_metadata_directory_link_is_refused_on_a_first_apply() {
    let env = product();
    let sentinel = sentinel(&env);
    plant_link(&env.metadata(), &sentinel.dir);
    assert_apply_refused(&env, &sentinel, METADATA);
}

/// The attacker moves the real metadata outside and links to it, so every metadata write lands there.
#[test]
fn a_metadata_directory_moved_outside_behind_a_link_is_refused() {
    let env = pending();
    let mut sentinel = sentinel(&env);
    let moved = sentinel.join("metadata");
    fs::rename(env.metadata(), &moved).unwrap();
    symlink(&moved, env.metadata()).unwrap();
    sentinel.record();
    assert_apply_refused(&env, &sentinel, METADATA);
}

/// The attacker links .metadata/archive outside so a removed patch's bundle is moved there.
#[test]
fn an_archive_directory_link_is_not_written_through() {
    let env = pending();
    bin(&env).run("apply", &[]).code(0);
    fs::remove_dir_all(env.patches().join("patch0002")).unwrap();
    let sentinel = sentinel(&env);
    plant_link(&env.metadata().join("archive"), &sentinel.dir);
    assert_apply_refused(&env, &sentinel, &format!("{METADATA}/archive"));
}

/// The attacker links the lock file to a file outside (existing or not) so root opens, creates or locks it.
#[test]
fn a_lock_file_link_is_refused() {
    for to in ["passwd", "created-by-the-lock"] {
        let env = pending();
        let sentinel = sentinel(&env);
        plant_link(
            &env.metadata().join("carbon-patch.lock"),
            &sentinel.join(to),
        );
        assert_apply_refused(&env, &sentinel, "carbon-patch.lock");
    }
}

/// The attacker plants links at the temporary names of the metadata files, hoping root writes through them.
#[test]
fn links_at_temporary_names_in_metadata_are_not_written_through() {
    let env = pending();
    let sentinel = sentinel(&env);
    let names = [
        "carbon-patch-journal.json",
        "carbon-patch-state.json",
        "carbon-patch-backup.json",
        "carbon-patch-digests.json",
        "prePatchedJARs.txt",
        "prePatchedDir.txt",
        "carbon-patch.lock",
        "x",
        "0",
    ];
    for (i, name) in names.iter().enumerate() {
        // Half to an existing file outside, half to a name outside that does not exist yet.
        let to = if i % 2 == 0 {
            sentinel.join("authorized_keys")
        } else {
            sentinel.join(&format!("new-{i}"))
        };
        symlink(
            &to,
            env.metadata().join(format!(".carbon-patch-tmp.{name}")),
        )
        .unwrap();
    }
    assert_apply_succeeds(&env, &sentinel);
}

/// The attacker replaces a metadata file with a link outside so the next apply rewrites that file.
#[test]
fn a_metadata_file_replaced_by_a_link_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    plant_link(
        &env.metadata().join("prePatchedDir.txt"),
        &sentinel.join("passwd"),
    );
    assert_apply_refused(&env, &sentinel, "prePatchedDir.txt");
}

// ---------------------------------------------------------------------------------------
// 2. Reading through links.

/// Not an attack: a patch file that links to a file inside PRODUCT_HOME is applied.
#[test]
fn a_link_in_a_patch_to_a_file_inside_the_home_is_applied() {
    let env = product();
    let sentinel = sentinel(&env);
    let bytes = jar("org.c", "inside");
    let inside = env.root().join("bin/org.c.jar");
    fs::write(&inside, &bytes).unwrap();
    fs::create_dir_all(env.patches().join("patch0002")).unwrap();
    symlink(
        &inside,
        env.patches().join("patch0002").join(target("org.c")),
    )
    .unwrap();
    // A relative link too.
    let more = jar("org.d", "inside");
    fs::write(env.root().join("bin/org.d.jar"), &more).unwrap();
    symlink(
        "../../../../bin/org.d.jar",
        env.patches().join("patch0002").join(target("org.d")),
    )
    .unwrap();
    assert_apply_succeeds(&env, &sentinel);
    assert_eq!(env.plugin_md5(&target("org.c")), Some(md5_hex(&bytes)));
    assert_eq!(env.plugin_md5(&target("org.d")), Some(md5_hex(&more)));
}

/// The attacker links servicepacks to a directory outside, where a lib file links (staying inside that directory) to a 0600 secret.
#[test]
fn a_service_packs_directory_outside_with_a_link_in_it_is_refused() {
    let env = product();
    let mut sentinel = sentinel(&env);
    // servicepacks -> <sentinel>, whose servicepack001/lib/secret.txt -> ../../secret.
    let pack = sentinel.join("servicepack001");
    fs::create_dir_all(pack.join("lib")).unwrap();
    fs::write(pack.join("servicepack_patches.txt"), b"").unwrap();
    fs::write(
        pack.join("lib").join(target("org.b")),
        jar("org.b", "servicepack001"),
    )
    .unwrap();
    symlink("../../secret", pack.join("lib/secret.txt")).unwrap();
    sentinel.record();
    plant_link(&env.servicepacks(), &sentinel.dir);
    assert_apply_refused(&env, &sentinel, "repository/components/servicepacks");
    assert_secret_nowhere_in(&env);
}

/// The attacker puts a link in plugins to a 0600 secret so the backup copies it in.
#[test]
fn a_link_in_plugins_to_a_secret_outside_is_refused() {
    let env = product();
    let sentinel = sentinel(&env);
    let link = env.plugins().join("org.s_1.0.0.jar");
    symlink(sentinel.join("secret"), &link).unwrap();
    assert_apply_refused(&env, &sentinel, &rel(&env, &link));
    assert_secret_nowhere_in(&env);
}

/// The attacker puts the same link in plugins after the backup was made.
#[test]
fn a_link_in_plugins_to_a_secret_outside_is_refused_after_the_backup() {
    let env = pending();
    let sentinel = sentinel(&env);
    let link = env.plugins().join("org.s_1.0.0.jar");
    symlink(sentinel.join("secret"), &link).unwrap();
    assert_apply_refused(&env, &sentinel, &rel(&env, &link));
    assert_secret_nowhere_in(&env);
}

// ---------------------------------------------------------------------------------------
// 3. Special files: found without blocking, refused.

/// The attacker puts a FIFO in plugins so the first apply blocks forever holding the lock.
#[test]
fn a_fifo_in_plugins_is_refused_without_hanging() {
    let env = product();
    let sentinel = sentinel(&env);
    let fifo = env.plugins().join("org.f_1.0.0.jar");
    mkfifo(&fifo);
    assert_apply_refused(&env, &sentinel, &rel(&env, &fifo));
}

/// The attacker puts a FIFO in a patch.
#[test]
fn a_fifo_in_a_patch_is_refused_without_hanging() {
    let env = pending();
    let sentinel = sentinel(&env);
    let fifo = env.patches().join("patch0002/org.f_1.0.0.jar");
    mkfifo(&fifo);
    assert_apply_refused(&env, &sentinel, &rel(&env, &fifo));
}

/// The attacker makes a service pack's lib file a FIFO.
#[test]
fn a_fifo_in_a_service_pack_lib_is_refused_without_hanging() {
    let env = product();
    env.home.add_service_pack("servicepack001", &[]);
    env.home.add_service_pack_file(
        "servicepack001",
        &target("org.b"),
        &jar("org.b", "servicepack001"),
    );
    let sentinel = sentinel(&env);
    let fifo = env.servicepacks().join("servicepack001/lib/org.f.jar");
    mkfifo(&fifo);
    assert_apply_refused(&env, &sentinel, &rel(&env, &fifo));
}

/// A character device in plugins (a twin of /dev/zero) would make the backup copy it until the disk is full.
#[test]
fn a_character_device_in_plugins_is_refused_fast() {
    let env = product();
    let sentinel = sentinel(&env);
    let device = env.plugins().join("zero_1.0.0.jar");
    let c = CString::new(device.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that lives across the call.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 5)) };
    if rc != 0 {
        eprintln!(
            "SKIPPED: cannot create a character device here (mknod: {}); needs root with CAP_MKNOD",
            std::io::Error::last_os_error()
        );
        return;
    }
    let started = Instant::now();
    assert_refused(
        &bin(&env).capped(),
        &sentinel,
        "apply",
        &[],
        2,
        &rel(&env, &device),
    );
    assert!(
        started.elapsed() < HUNG_AFTER,
        "refused, but only after {:?}",
        started.elapsed()
    );
}

/// The attacker replaces the lock file with a FIFO so verify (a health check) and apply never return.
#[test]
fn a_fifo_as_the_lock_file_is_refused_by_verify_and_apply() {
    let env = pending();
    let sentinel = sentinel(&env);
    let lock = env.metadata().join("carbon-patch.lock");
    remove(&lock);
    mkfifo(&lock);
    assert_refused(&bin(&env), &sentinel, "verify", &[], 2, "carbon-patch.lock");
    assert_refused(&bin(&env), &sentinel, "apply", &[], 2, "carbon-patch.lock");
}

/// The attacker links prePatched.txt to /dev/zero so verify reads forever.
#[test]
fn an_applied_list_linking_to_dev_zero_is_reported_without_reading_it_whole() {
    let env = pending();
    let sentinel = sentinel(&env);
    let list = env
        .home
        .components()
        .join("default/configuration/prePatched.txt");
    plant_link(&list, Path::new("/dev/zero"));
    let before = env.snapshot();
    let run = bin(&env).capped().run("verify", &[]);
    assert!(
        run.code == 1 || run.code == 2,
        "verify exits 1 or 2, not {}\n--- stdout\n{}\n--- stderr\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains("prePatched.txt") || run.stderr.contains("prePatched.txt"),
        "names prePatched.txt\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout,
        run.stderr
    );
    assert_same_tree(&before, &env.snapshot(), "verify changes nothing");
    sentinel.assert_unchanged();
}

/// [`pending`] with its patches.log replaced by 60 MB without a newline.
fn pending_with_a_huge_log() -> Env {
    let env = pending();
    fs::write(
        env.root().join("repository/logs/patches.log"),
        vec![b'x'; 60 << 20],
    )
    .unwrap();
    env
}

/// The attacker writes 60 MB without a newline to patches.log so `status` aborts.
#[test]
fn a_huge_log_without_newlines_does_not_crash_status() {
    let env = pending_with_a_huge_log();
    let run = bin(&env).capped().run("status", &[]);
    assert!(
        run.code == 0 || run.code == 1,
        "status exits 0 or 1, not {}\n--- stderr\n{}",
        run.code,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

/// The same log: `status` reads only its tail, with a size cap, so its memory stays flat
/// (SPEC §12). A run on a small product peaks near 14 MB; holding the log once is 60 MB more.
#[test]
fn a_huge_log_is_read_with_a_size_cap() {
    let env = pending_with_a_huge_log();
    let (run, peak_kib) = bin(&env).capped().start("status", &[]).finish_measured();
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    assert!(
        peak_kib < 48 * 1024,
        "status peaked at {} MB: the 60 MB log was read whole",
        peak_kib / 1024
    );
}

// ---------------------------------------------------------------------------------------
// 4. The server guard fails closed.

/// A dead pid: no process can have it (above any pid_max).
const DEAD_PID: &str = "4194303";

/// Plants `wso2carbon.pid` with `plant`; apply exits 3 naming it and changes nothing;
/// `apply --force` then exits 0 and verify 0.
#[track_caller]
fn assert_guard_fails_closed(plant: impl FnOnce(&Path)) {
    let env = pending();
    let sentinel = sentinel(&env);
    plant(&env.root().join("wso2carbon.pid"));
    assert_refused(
        &bin(&env).capped(),
        &sentinel,
        "apply",
        &[],
        3,
        "wso2carbon.pid",
    );
    bin(&env).capped().run("apply", &["--force"]).code(0);
    bin(&env).run("verify", &[]).code(0);
    sentinel.assert_unchanged();
}

/// The attacker links the pid file to /dev/zero so the guard reads until memory runs out, then is skipped.
#[test]
fn a_pid_file_linking_to_dev_zero_fails_closed() {
    assert_guard_fails_closed(|pid| symlink("/dev/zero", pid).unwrap());
}

/// The attacker makes the pid file a FIFO so the guard blocks.
#[test]
fn a_pid_file_that_is_a_fifo_fails_closed() {
    assert_guard_fails_closed(mkfifo);
}

/// The attacker makes the pid file a directory so the guard ignores it under a live server.
#[test]
fn a_pid_file_that_is_a_directory_fails_closed() {
    assert_guard_fails_closed(|pid| fs::create_dir(pid).unwrap());
}

/// The attacker leaves junk after the number so the guard only warns and goes on.
#[test]
fn a_pid_file_with_trailing_junk_fails_closed() {
    assert_guard_fails_closed(|pid| fs::write(pid, b"123abc\n").unwrap());
}

/// The attacker puts a UTF-8 byte order mark before the number so the guard only warns and goes on.
#[test]
fn a_pid_file_with_a_byte_order_mark_fails_closed() {
    assert_guard_fails_closed(|pid| fs::write(pid, format!("\u{feff}{DEAD_PID}\n")).unwrap());
}

/// Not an attack: a pid file naming a dead process is stale, reported and ignored.
#[test]
fn a_pid_file_naming_a_dead_pid_is_only_a_warning() {
    if Path::new("/proc").join(DEAD_PID).exists() {
        eprintln!("SKIPPED: pid {DEAD_PID} is alive on this machine");
        return;
    }
    let env = pending();
    let sentinel = sentinel(&env);
    fs::write(env.root().join("wso2carbon.pid"), format!("{DEAD_PID}\n")).unwrap();
    assert_apply_succeeds(&env, &sentinel)
        .stderr_has("warning:")
        .stderr_has("wso2carbon.pid");
}

/// The attacker makes the pid file unreadable (mode 000) so the guard skips it.
#[test]
fn an_unreadable_pid_file_fails_closed() {
    let env = pending();
    let sentinel = sentinel(&env);
    let pid = env.root().join("wso2carbon.pid");
    fs::write(&pid, format!("{DEAD_PID}\n")).unwrap();
    let Some(user) = unprivileged(&env) else {
        return;
    };
    fs::set_permissions(&pid, fs::Permissions::from_mode(0o000)).unwrap();
    assert_refused(
        &bin(&env).user(&user),
        &sentinel,
        "apply",
        &[],
        3,
        "wso2carbon.pid",
    );
    let _ = fs::set_permissions(&pid, fs::Permissions::from_mode(0o644));
}

// ---------------------------------------------------------------------------------------
// 5. Names with control characters.

/// The product files a name could be smuggled into.
const RECORDS: &[&str] = &[
    "repository/logs/patches.log",
    "repository/components/patches/.metadata/prePatchedDir.txt",
    "repository/components/default/configuration/prePatched.txt",
];

/// Apply on `env` (whose `planted` name holds a control character between `head` and
/// `tail`) exits 2; the log and applied lists are unchanged; the name is shown on one line.
#[track_caller]
fn assert_control_name_refused(env: &Env, sentinel: &Sentinel, head: &str, tail: &str) {
    let records: Vec<Option<Vec<u8>>> = RECORDS
        .iter()
        .map(|r| fs::read(env.root().join(r)).ok())
        .collect();
    let before = env.snapshot();
    let run = bin(env).run("apply", &[]);
    run.code(2).stderr_has("error: ");
    assert!(!run.stderr.contains('\u{1b}'), "raw ESC on stderr");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains(head) && l.contains(tail)),
        "no stderr line names `{head}…{tail}` whole:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.lines().any(|l| l.starts_with(tail)),
        "a line starts with the name's tail: the name was printed raw\n{}",
        run.stderr
    );
    for (record, old) in RECORDS.iter().zip(&records) {
        assert_eq!(
            &fs::read(env.root().join(record)).ok(),
            old,
            "{record} changed"
        );
    }
    assert_same_tree(&before, &env.snapshot(), "a refused run changes nothing");
    sentinel.assert_unchanged();
}

/// The attacker names a patch directory with a newline, injecting a line into patches.log and the applied lists.
#[test]
fn a_patch_directory_named_with_a_newline_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    env.home
        .add_patch_file("patch0009\nevil", &target("org.e"), &jar("org.e", "evil"));
    assert_control_name_refused(&env, &sentinel, "patch0009", "evil");
}

/// The attacker names a patch directory with an escape sequence, to reach the operator's terminal.
#[test]
fn a_patch_directory_named_with_an_escape_sequence_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    env.home.add_patch_file(
        "patch0009\u{1b}[31mred",
        &target("org.e"),
        &jar("org.e", "red"),
    );
    assert_control_name_refused(&env, &sentinel, "patch0009", "[31mred");
}

/// The attacker drops a file into plugins whose name carries an escape sequence and a
/// newline, to reach the operator's terminal and forge log lines.
#[test]
fn a_plugins_file_named_with_control_characters_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    fs::write(
        env.plugins()
            .join("x\u{1b}[31mred\n[2026-01-01] forged.jar"),
        b"foreign\n",
    )
    .unwrap();
    assert_control_name_refused(&env, &sentinel, "x", "[31mred");
}

/// The attacker writes escape sequences into the applied list, for `status` to print.
#[test]
fn names_read_from_the_metadata_reach_the_terminal_escaped() {
    let env = pending();
    fs::write(
        env.root().join(format!("{METADATA}/prePatchedDir.txt")),
        "patch0000\npatch0001\npatch0007\u{1b}[2J\u{9b}31m\n",
    )
    .unwrap();
    // The harness fails the run on any raw control character on stdout or stderr.
    let run = bin(&env).run("status", &[]);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    assert!(run.stdout.contains("patch0007\\u{1b}[2J"), "{}", run.stdout);
}

/// The attacker links a directory of plugins to another one inside the product, so that
/// the backup and the writes would go through it.
#[test]
fn a_link_to_a_directory_in_plugins_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    let inside = env.root().join("bin/dir");
    fs::create_dir_all(&inside).unwrap();
    fs::write(inside.join("a.txt"), b"inside\n").unwrap();
    plant_link(&env.plugins().join("linked"), &inside);
    let run = assert_apply_refused(&env, &sentinel, &format!("{PLUGINS}/linked"));
    assert!(
        run.stderr.contains("symbolic link to a directory"),
        "{}",
        run.stderr
    );
}

/// The attacker names a jar file (kept under its own name) with a newline, injecting a log line.
#[test]
fn a_jar_file_named_with_a_newline_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    env.home.add_patch_file(
        "patch0002",
        "plain\nssh-ed25519 AAAA.jar",
        &jar_without_manifest("newline"),
    );
    assert_control_name_refused(&env, &sentinel, "plain", "ssh-ed25519 AAAA.jar");
}

/// The attacker names a service pack with a newline.
#[test]
fn a_service_pack_named_with_a_newline_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    env.home.add_service_pack("servicepack002\nevil", &[]);
    env.home.add_service_pack_file(
        "servicepack002\nevil",
        &target("org.b"),
        &jar("org.b", "pack"),
    );
    assert_control_name_refused(&env, &sentinel, "servicepack002", "evil");
}

// ---------------------------------------------------------------------------------------
// 6. What would fail a write is found while planning.

/// The attacker ships a file in one patch and a directory of that name in the next, to fail apply mid-write.
#[test]
fn a_file_and_a_directory_of_one_name_in_two_patches_are_refused() {
    let env = product();
    let sentinel = sentinel(&env);
    env.home
        .add_patch_file("patch0001", "conflicted", b"a file\n");
    env.home
        .add_patch_file("patch0002", "conflicted/inner.txt", b"in a directory\n");
    assert_apply_refused(&env, &sentinel, "conflicted");
}

/// The attacker ships a file whose name is a directory in plugins, to fail apply mid-write.
#[test]
fn a_patch_file_over_a_directory_in_plugins_is_refused() {
    let env = product();
    env.home.add_plugin("conflict-foo/inner.txt", b"exploded\n");
    let sentinel = sentinel(&env);
    env.home
        .add_patch_file("patch0002", "conflict-foo", b"a file\n");
    assert_apply_refused(&env, &sentinel, "conflict-foo");
}

/// The attacker nests directories thousands deep in a patch, and in plugins, so that a walk
/// recurses without end (or meets paths longer than the kernel takes) half-way through.
#[test]
fn directories_nested_too_deep_are_refused() {
    let deep = |base: &Path| {
        let mut dir = base.to_path_buf();
        for _ in 0..200 {
            dir.push("d");
        }
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("leaf.txt"), b"deep\n").unwrap();
    };
    let env = pending();
    let watched = sentinel(&env);
    deep(&env.patches().join("patch0002/exploded"));
    assert_apply_refused(
        &env,
        &watched,
        "repository/components/patches/patch0002/exploded/d/d/d",
    );

    let env = pending();
    let watched = sentinel(&env);
    deep(&env.plugins().join("exploded"));
    assert_apply_refused(&env, &watched, &format!("{PLUGINS}/exploded/d/d/d"));
    let run = bin(&env).run("verify", &[]);
    assert_error(&run, 2, &format!("{PLUGINS}/exploded/d/d/d"));
}

/// A symbolic name of `len - 10` bytes: `{bsn}_1.0.0.jar` is `len` bytes long.
fn bsn_of_target_len(len: usize) -> String {
    let bsn = format!("org.example.{}", "l".repeat(len - 10 - 12));
    assert_eq!(target(&bsn).len(), len);
    bsn
}

/// The attacker ships a bundle whose plugins name is 256 bytes, too long for the filesystem, to fail apply mid-write.
#[test]
fn a_bundle_name_too_long_for_the_filesystem_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    let bsn = bsn_of_target_len(256);
    env.home
        .add_patch_file("patch0002", "too-long.jar", &jar(&bsn, "long"));
    let before = env.snapshot();
    let run = bin(&env).run("apply", &[]);
    run.code(2).stderr_has("error: ").stderr_has("\nhint: ");
    assert!(
        run.stderr.contains("too-long.jar") || run.stderr.contains(&bsn[..60]),
        "names the jar or its bundle\n{}",
        run.stderr
    );
    assert_same_tree(&before, &env.snapshot(), "nothing changed");
    sentinel.assert_unchanged();
}

/// Not an attack: a 240-byte bundle name (too long once a naive temporary prefix is added) applies.
#[test]
fn a_bundle_name_of_240_bytes_applies() {
    let env = pending();
    let sentinel = sentinel(&env);
    let bsn = bsn_of_target_len(240);
    let bytes = jar(&bsn, "long");
    env.home.add_patch_file("patch0002", "long.jar", &bytes);
    assert_apply_succeeds(&env, &sentinel);
    assert_eq!(env.plugin_md5(&target(&bsn)), Some(md5_hex(&bytes)));
}

/// The attacker ships a file named with the tool's own temporary prefix, to collide with its temporaries.
#[test]
fn a_patch_file_named_with_the_temporary_prefix_is_refused() {
    let env = pending();
    let sentinel = sentinel(&env);
    env.home.add_patch_file(
        "patch0002",
        ".carbon-patch-tmp.x.jar",
        &jar_without_manifest("tmp-named"),
    );
    assert_apply_refused(&env, &sentinel, ".carbon-patch-tmp.x.jar");
}

// ---------------------------------------------------------------------------------------
// 7. A foreign file that looks like a temporary one is archived, never deleted.

/// The attacker hopes a file in plugins named like a temporary one is deleted as leftover (it must be kept).
#[test]
fn a_foreign_file_with_the_temporary_prefix_is_never_deleted() {
    for env in [product(), pending()] {
        let sentinel = sentinel(&env);
        env.home
            .add_plugin(".carbon-patch-tmp.precious", b"precious");
        bin(&env).run("apply", &[]).code(0);
        sentinel.assert_unchanged();
        let kept: Vec<PathBuf> = [env.plugins(), env.metadata().join("archive")]
            .iter()
            .flat_map(|dir| files_holding(dir, b"precious"))
            .filter(|p| fs::read(p).unwrap() == b"precious")
            .collect();
        assert!(!kept.is_empty(), "the foreign file was deleted");
    }
}

// ---------------------------------------------------------------------------------------
// 8. The log.

/// A log cut mid-line (disk full) gets a newline before the next run's first line.
#[test]
fn a_log_without_a_final_newline_gets_one_before_new_lines() {
    let env = pending();
    let log = env.root().join("repository/logs/patches.log");
    let mut text = fs::read(&log).unwrap();
    text.extend_from_slice(b"partial");
    fs::write(&log, &text).unwrap();
    bin(&env).run("apply", &[]).code(0);
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "partial")
        .unwrap_or_else(|| panic!("`partial` not on a line of its own:\n{text}"));
    assert!(at + 1 < lines.len(), "nothing logged after it:\n{text}");
    for line in lines.iter().skip(at + 1) {
        assert!(
            line.starts_with('['),
            "a glued or odd line {line:?}:\n{text}"
        );
    }
    assert!(text.ends_with('\n'));
}

/// A log that cannot be written stops apply before plugins change: nothing applied unrecorded.
#[test]
fn a_read_only_log_directory_stops_apply_before_plugins_change() {
    let env = pending();
    let sentinel = sentinel(&env);
    let Some(user) = unprivileged(&env) else {
        return;
    };
    let logs = env.root().join("repository/logs");
    fs::set_permissions(logs.join("patches.log"), fs::Permissions::from_mode(0o444)).unwrap();
    fs::set_permissions(&logs, fs::Permissions::from_mode(0o555)).unwrap();
    let plugins = env.plugins_snapshot();
    let lists: Vec<Option<Vec<u8>>> = RECORDS
        .iter()
        .map(|r| fs::read(env.root().join(r)).ok())
        .collect();
    let run = bin(&env).user(&user).run("apply", &[]);
    let _ = fs::set_permissions(&logs, fs::Permissions::from_mode(0o755));
    assert_error(&run, 3, "repository/logs");
    assert_same_tree(
        &plugins,
        &env.plugins_snapshot(),
        "plugins changed unrecorded",
    );
    for (record, old) in RECORDS.iter().zip(&lists) {
        assert_eq!(
            &fs::read(env.root().join(record)).ok(),
            old,
            "{record} changed"
        );
    }
    sentinel.assert_unchanged();
}

// ---------------------------------------------------------------------------------------
// 9. The lock.

/// Takes the apply lock from this process (the metadata directory exists).
fn hold_lock(env: &Env) -> fs::File {
    let lock = fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(env.metadata().join("carbon-patch.lock"))
        .unwrap();
    lock.try_lock().expect("the test takes the lock");
    lock
}

/// A queued apply waits `--wait` seconds for a held lock, then exits 3 naming it.
#[test]
fn a_queued_apply_gives_up_after_its_wait_naming_the_lock() {
    let env = pending();
    let sentinel = sentinel(&env);
    let lock = hold_lock(&env);
    assert_refused(
        &bin(&env),
        &sentinel,
        "apply",
        &["--wait", "1"],
        3,
        "carbon-patch.lock",
    );
    drop(lock);
}

/// A queued apply runs once the holder releases the lock.
#[test]
fn a_queued_apply_runs_once_the_lock_is_released() {
    let env = pending();
    let sentinel = sentinel(&env);
    let lock = hold_lock(&env);
    let queued = bin(&env).start("apply", &["--wait", "10"]);
    std::thread::sleep(Duration::from_millis(1500));
    let waiting = queued.running();
    drop(lock);
    let run = queued.finish();
    assert!(
        waiting,
        "it gave up while it had time to wait\n{}",
        run.stderr
    );
    run.code(0);
    bin(&env).run("verify", &[]).code(0);
    sentinel.assert_unchanged();
}

/// Waits until the kernel reports `pid` stopped (state `T`).
fn wait_until_stopped(pid: u32) {
    let deadline = Instant::now() + HUNG_AFTER;
    loop {
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).expect("the apply is alive");
        if text.rsplit(')').next().unwrap().split_whitespace().next() == Some("T") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the apply never reached its fault point"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// An operator (or Ansible) kills -9 a running apply and retries at once.
#[test]
fn an_immediate_retry_after_kill_9_succeeds() {
    for round in 0..8 {
        let env = if round % 2 == 0 { product() } else { pending() };
        let sentinel = sentinel(&env);
        let mut killed = bin(&env)
            .var("CARBON_PATCH_FAULT", "stop@1")
            .start("apply", &[]);
        wait_until_stopped(killed.child.id());
        killed.child.kill().unwrap();
        // Retry before the dead process is even reaped.
        let retry = bin(&env).run("apply", &[]);
        let _ = killed.child.wait();
        retry.code(0);
        bin(&env).run("verify", &[]).code(0);
        sentinel.assert_unchanged();
    }
}

// ---------------------------------------------------------------------------------------
// 10. Privileges: root on a tree the server's account owns works as that account.

fn running_as_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Lets `nobody` reach the product home (the temp dir opened to others) and gives it every
/// entry of the home (lchown). Root only; `false` after saying SKIPPED when it cannot.
fn hand_to_nobody(env: &Env) -> bool {
    if !running_as_root() {
        eprintln!("SKIPPED: not root, so the tree cannot be handed to another user");
        return false;
    }
    let temp = env.root().parent().unwrap();
    fs::set_permissions(temp, fs::Permissions::from_mode(0o755)).unwrap();
    for ancestor in temp.ancestors().skip(1) {
        let mode = fs::metadata(ancestor).unwrap().mode();
        if mode & 0o001 == 0 {
            eprintln!(
                "SKIPPED: `{}` (mode {mode:o}) is not traversable by other users; point TMPDIR \
                 at a directory under /tmp",
                ancestor.display()
            );
            return false;
        }
    }
    for item in walkdir::WalkDir::new(env.root()) {
        let item = item.unwrap();
        std::os::unix::fs::lchown(item.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    true
}

/// How to run without root's disregard for permission bits: directly when not root; as
/// `nobody` through `setpriv` on a tree handed to it when root. `None` after SKIPPED.
fn unprivileged(env: &Env) -> Option<User> {
    if !running_as_root() {
        return Some(User::Caller);
    }
    if !Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIPPED: running as root and `setpriv` (util-linux) is missing");
        return None;
    }
    if !hand_to_nobody(env) {
        return None;
    }
    // A copy `nobody` can run, written by `cp` in its own process (see hostile.rs: ETXTBSY).
    let binary = env.root().parent().unwrap().join("carbon-patch");
    let copied = Command::new("cp")
        .arg(env!("CARGO_BIN_EXE_carbon-patch"))
        .arg(&binary)
        .status()
        .expect("run cp");
    assert!(copied.success(), "cp of the binary failed: {copied}");
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
    Some(User::Nobody(binary))
}

/// Every entry under `path` (itself included), links not followed, with an owner other
/// than `uid`.
fn not_owned_by(path: &Path, uid: u32) -> Vec<(PathBuf, u32)> {
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.path().to_path_buf(),
                fs::symlink_metadata(e.path()).unwrap().uid(),
            )
        })
        .filter(|(_, owner)| *owner != uid)
        .collect()
}

/// The first value of `key` anywhere in a JSON document.
fn find_key<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|v| find_key(v, key))),
        serde_json::Value::Array(items) => items.iter().find_map(|v| find_key(v, key)),
        _ => None,
    }
}

/// Root runs apply on a tree `nobody` owns: it works as `nobody`, and says so.
#[test]
fn root_on_a_tree_the_server_owns_works_as_its_owner() {
    let env = product();
    add_patch0002(&env);
    let sentinel = sentinel(&env);
    if !hand_to_nobody(&env) {
        return;
    }
    let run = bin(&env).run("apply", &[]);
    run.code(0);
    assert!(
        run.stdout.lines().any(|l| l.starts_with("run as: nobody")),
        "no `run as: nobody` line:\n{}",
        run.stdout
    );
    for path in [
        env.plugins(),
        env.backup(),
        env.metadata(),
        env.root().join("repository/logs"),
        env.home.components().join("default/configuration"),
    ] {
        let wrong = not_owned_by(&path, NOBODY);
        assert!(wrong.is_empty(), "not owned by nobody: {wrong:?}");
    }
    let json = bin(&env).run("apply", &["--format", "json"]);
    json.code(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    let run_as = find_key(&doc, "run_as").unwrap_or_else(|| panic!("no run_as:\n{}", json.stdout));
    assert_eq!(run_as["uid"], serde_json::json!(NOBODY), "{run_as}");
    bin(&env).run("verify", &[]).code(0);
    sentinel.assert_unchanged();
}

/// A root-only (0600) file planted in a nobody-owned tree: root must not read it for them.
const ROOT_ONLY: &[u8] = b"ROOT-ONLY 51c0ffee: only root may read this\n";

/// [`product`] handed to nobody, with patch0002/secret.txt owned by root, mode 0600.
fn nobody_tree_with_a_root_only_file() -> Option<(Env, PathBuf)> {
    let env = product();
    add_patch0002(&env);
    if !hand_to_nobody(&env) {
        return None;
    }
    let secret = env
        .home
        .add_patch_file("patch0002", "secret.txt", ROOT_ONLY);
    std::os::unix::fs::lchown(&secret, Some(0), Some(0)).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    Some((env, secret))
}

/// The server's account asks root (through a patch) to copy a file only root can read.
#[test]
fn a_root_only_file_in_a_tree_the_server_owns_is_refused() {
    let Some((env, secret)) = nobody_tree_with_a_root_only_file() else {
        return;
    };
    let sentinel = sentinel(&env);
    assert_apply_refused(&env, &sentinel, &rel(&env, &secret));
    let copies: Vec<PathBuf> = files_holding(env.root(), ROOT_ONLY)
        .into_iter()
        .filter(|p| *p != secret)
        .collect();
    assert!(
        copies.is_empty(),
        "the root-only file was copied to {copies:?}"
    );
}

/// With `--keep-root` the operator opts out: root applies the root-only file, and says so.
#[test]
fn keep_root_applies_as_root_and_says_so() {
    let Some((env, _)) = nobody_tree_with_a_root_only_file() else {
        return;
    };
    let sentinel = sentinel(&env);
    let run = bin(&env).run("apply", &["--keep-root"]);
    run.code(0);
    assert!(
        run.stdout.lines().any(|l| l.starts_with("run as: root")),
        "no `run as: root` line:\n{}",
        run.stdout
    );
    assert_eq!(env.plugin_md5("secret.txt"), Some(md5_hex(ROOT_ONLY)));
    sentinel.assert_unchanged();
}

// ---------------------------------------------------------------------------------------
// 11. Random trees seeded with links, FIFOs and odd names.

const BUNDLES: &[&str] = &["org.a", "org.b", "org.c", "org.d"];

/// Something the server's account plants.
#[derive(Debug, Clone, Copy)]
enum Oddity {
    LinkToHomeFile,
    LinkToHomeDir,
    LinkToSentinelSecret,
    LinkToSentinelDir,
    Dangling,
    Fifo,
    Spaced,
    Control(char),
    /// A name of 200 + n bytes.
    Long(u8),
}

/// Where it is planted.
#[derive(Debug, Clone, Copy)]
enum Spot {
    Plugins,
    /// In the n-th patch (modulo).
    Patch(u8),
    /// In a subdirectory of the n-th patch.
    PatchSubdir(u8),
    /// As a patch directory of its own.
    PatchEntry,
}

#[derive(Debug, Clone)]
struct Tree {
    plugins: Vec<u8>,
    patches: Vec<Vec<(u8, bool)>>,
    oddities: Vec<(Oddity, Spot)>,
}

fn oddity() -> impl Strategy<Value = Oddity> {
    prop_oneof![
        Just(Oddity::LinkToHomeFile),
        Just(Oddity::LinkToHomeDir),
        Just(Oddity::LinkToSentinelSecret),
        Just(Oddity::LinkToSentinelDir),
        Just(Oddity::Dangling),
        Just(Oddity::Fifo),
        Just(Oddity::Spaced),
        proptest::sample::select(vec!['\n', '\u{1b}', '\r', '\u{7f}', '\u{1}', '\u{85}'])
            .prop_map(Oddity::Control),
        (0u8..=55).prop_map(Oddity::Long),
    ]
}

fn spot() -> impl Strategy<Value = Spot> {
    prop_oneof![
        Just(Spot::Plugins),
        any::<u8>().prop_map(Spot::Patch),
        any::<u8>().prop_map(Spot::PatchSubdir),
        Just(Spot::PatchEntry),
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    (
        proptest::sample::subsequence(vec![0u8, 1, 2], 2..=3),
        proptest::collection::vec(
            proptest::collection::vec((0u8..4, any::<bool>()), 1..=2),
            2..=3,
        ),
        proptest::collection::vec((oddity(), spot()), 1..=3),
    )
        .prop_map(|(plugins, patches, oddities)| Tree {
            plugins,
            patches,
            oddities,
        })
}

/// The name oddity `i` gets (`patch` first when it is a patch entry).
fn odd_name(i: usize, oddity: Oddity, entry: bool) -> String {
    let base = if entry {
        format!("patch01{i}")
    } else {
        format!("odd{i}")
    };
    match oddity {
        Oddity::Spaced => format!("{base} with space.txt"),
        Oddity::Control(c) => format!("{base}{c}x.txt"),
        Oddity::Long(n) => {
            let len = 200 + usize::from(n);
            format!("{base}{}", "L".repeat(len - base.len()))
        }
        _ if entry => base,
        // Not `.jar`: a link followed to a non-zip must not be refused for that alone.
        _ => format!("{base}.txt"),
    }
}

/// Builds `tree` on disk with its oddities and a sentinel beside it.
fn build(tree: &Tree) -> (Env, Sentinel) {
    let env = Env::empty();
    for &b in &tree.plugins {
        let bsn = BUNDLES[usize::from(b)];
        env.home.add_plugin(&target(bsn), &jar(bsn, "base"));
    }
    let patch_names: Vec<String> = (1..=tree.patches.len())
        .map(|k| format!("patch000{k}"))
        .collect();
    for (name, files) in patch_names.iter().zip(&tree.patches) {
        let mut seen = Vec::new();
        for &(b, own) in files {
            let bsn = BUNDLES[usize::from(b)];
            if seen.contains(&bsn) {
                continue;
            }
            seen.push(bsn);
            let file = if own {
                target(bsn)
            } else {
                format!("{bsn}-fix.jar")
            };
            env.home.add_patch_file(name, &file, &jar(bsn, name));
        }
    }
    // Things inside the home that links may point to.
    let home_file = env.root().join("bin/inside_1.0.0.jar");
    fs::write(&home_file, jar("org.inside", "home")).unwrap();
    let home_dir = env.root().join("bin/inside.d");
    fs::create_dir_all(&home_dir).unwrap();
    fs::write(home_dir.join("x.txt"), b"inside\n").unwrap();
    let sentinel = sentinel(&env);

    for (i, &(oddity, spot)) in tree.oddities.iter().enumerate() {
        let pick = |n: u8| &patch_names[usize::from(n) % patch_names.len()];
        let dir = match spot {
            Spot::Plugins => env.plugins(),
            Spot::Patch(n) => env.patches().join(pick(n)),
            Spot::PatchSubdir(n) => env.patches().join(pick(n)).join("sub"),
            Spot::PatchEntry => env.patches(),
        };
        fs::create_dir_all(&dir).unwrap();
        let entry = matches!(spot, Spot::PatchEntry);
        let path = dir.join(odd_name(i, oddity, entry));
        match oddity {
            Oddity::LinkToHomeFile => symlink(&home_file, &path).unwrap(),
            Oddity::LinkToHomeDir => symlink(&home_dir, &path).unwrap(),
            Oddity::LinkToSentinelSecret => symlink(sentinel.join("secret"), &path).unwrap(),
            Oddity::LinkToSentinelDir => symlink(&sentinel.dir, &path).unwrap(),
            Oddity::Dangling => symlink(env.root().join("nowhere/x"), &path).unwrap(),
            Oddity::Fifo => mkfifo(&path),
            Oddity::Spaced | Oddity::Control(_) | Oddity::Long(_) if entry => {
                fs::create_dir_all(&path).unwrap();
                fs::write(path.join("note.txt"), format!("odd {i}\n")).unwrap();
            }
            Oddity::Spaced | Oddity::Control(_) | Oddity::Long(_) => {
                fs::write(&path, format!("odd {i}\n")).unwrap();
            }
        }
    }
    (env, sentinel)
}

/// `command` either succeeds (and, for apply, verify then passes) or refuses with exit 2
/// and the product unchanged; the sentinel and its secret stay outside either way.
fn assert_done_or_refused(env: &Env, sentinel: &Sentinel, command: &str) {
    let before = env.snapshot();
    let run = bin(env).run(command, &[]);
    sentinel.assert_unchanged();
    assert_secret_nowhere_in(env);
    match run.code {
        0 if command == "apply" => {
            assert_only_allowed_places_changed(&before, &env.snapshot(), command);
            let verify = bin(env).run("verify", &[]);
            assert_eq!(verify.code, 0, "verify after apply:\n{}", verify.stdout);
        }
        0 => assert_only_allowed_places_changed(&before, &env.snapshot(), command),
        2 => assert_same_tree(&before, &env.snapshot(), "refused, yet the product changed"),
        code => panic!(
            "{command} exited {code}, neither done (0) nor refused (2)\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        ),
    }
}

/// Asserts that a run changed the product only where SPEC §12 lets it write: plugins, the
/// backup, the metadata dir, the log, the 4.2 applied list (and the directories holding
/// them); a rollback also moves patch and service pack directories into `.rolled-back`.
fn assert_only_allowed_places_changed(before: &Snapshot, after: &Snapshot, command: &str) {
    let mut allowed = vec![
        PLUGINS,
        "repository/components/patches/patch0000",
        METADATA,
        "repository/logs",
        "repository/components/default",
    ];
    if command == "rollback" {
        allowed.extend([
            "repository/components/patches/.rolled-back",
            "repository/components/servicepacks/.rolled-back",
        ]);
    }
    // A rollback moves `patches/patchNNNN` and `servicepacks/servicepackNNN` aside.
    let moved_aside = |path: &Path| {
        let under = |dir: &str, prefix: &str| {
            path.strip_prefix(dir)
                .ok()
                .and_then(|rest| rest.components().next())
                .is_some_and(|first| first.as_os_str().as_bytes().starts_with(prefix.as_bytes()))
        };
        command == "rollback"
            && (under("repository/components/patches", "patch")
                || under("repository/components/servicepacks", "servicepack"))
    };
    let paths: std::collections::BTreeSet<&PathBuf> =
        before.entries.keys().chain(after.entries.keys()).collect();
    for path in paths {
        if before.entries.get(path) == after.entries.get(path) {
            continue;
        }
        let inside = allowed.iter().any(|place| path.starts_with(place));
        // A directory holding an allowed place changes when an entry is made in it.
        let above = allowed
            .iter()
            .any(|place| Path::new(place).starts_with(path));
        assert!(
            inside || above || moved_aside(path),
            "{command} changed `{}`, outside the places it may write",
            path.display()
        );
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x7275_5374_0012),
        // A hang costs 20 s a run: bound the shrinking.
        max_shrink_iters: 8,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The attacker seeds a random product with links, FIFOs and odd names.
    #[test]
    fn random_hostile_trees_are_applied_correctly_or_refused_untouched(tree in tree()) {
        let (env, sentinel) = build(&tree);
        assert_done_or_refused(&env, &sentinel, "apply");
        assert_done_or_refused(&env, &sentinel, "rollback");
    }
}
