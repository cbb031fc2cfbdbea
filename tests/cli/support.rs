//! The harness: a product home in a temp dir, the binary run on it, and what a user would
//! look at afterwards (files, MD5s, the log, the whole tree).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

pub use carbon_fixtures::{
    ProductHome, Snapshot, bundle_jar, bundle_manifest, jar_with_manifest, jar_without_manifest,
    md5_hex, sample_product, snapshot, wrap_manifest,
};

/// A product home in its own temporary directory (removed when dropped).
pub struct Env {
    _dir: tempfile::TempDir,
    pub home: ProductHome,
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts stdout contains `text`.
    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Env {
    /// An empty product home (plugins, patches, servicepacks, logs directories).
    pub fn empty() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = ProductHome::create(&dir.path().join("product"));
        Env { _dir: dir, home }
    }

    /// A product home already built in `dir`, which the `Env` now owns.
    pub fn at(dir: tempfile::TempDir, home: ProductHome) -> Env {
        Env { _dir: dir, home }
    }

    /// An empty product home in a new temporary directory under `parent`.
    pub fn empty_in(parent: &Path) -> Env {
        let dir = tempfile::tempdir_in(parent).expect("temp dir");
        let home = ProductHome::create(&dir.path().join("product"));
        Env { _dir: dir, home }
    }

    /// The sample product of `fixtures/sample-product`, generated afresh.
    pub fn sample() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = sample_product(&dir.path().join("product"));
        Env { _dir: dir, home }
    }

    /// A temp dir with no product in it (for "not a Carbon product").
    pub fn root(&self) -> &Path {
        &self.home.root
    }

    /// Runs the binary with `args` (CARBON_HOME unset, in the temp dir).
    pub fn run(&self, args: &[&str]) -> Run {
        let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_carbon-patch"))
            .args(args)
            .env_remove("CARBON_HOME")
            .env_remove("CARBON_REPOSITORY")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .current_dir(self.home.root.parent().unwrap())
            .output()
            .expect("run carbon-patch");
        Run {
            code: output
                .status
                .code()
                .expect("exited normally, not by a signal"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs `<command> [extra...] <PRODUCT_HOME>`.
    pub fn cmd(&self, command: &str, extra: &[&str]) -> Run {
        let home = self
            .home
            .root
            .to_str()
            .expect("utf-8 temp path")
            .to_string();
        let mut args = vec![command];
        args.extend_from_slice(extra);
        args.push(&home);
        self.run(&args)
    }

    pub fn apply(&self) -> Run {
        self.cmd("apply", &[])
    }

    pub fn verify(&self) -> Run {
        self.cmd("verify", &[])
    }

    pub fn rollback(&self) -> Run {
        self.cmd("rollback", &[])
    }

    pub fn plugins(&self) -> PathBuf {
        self.home.plugins()
    }

    pub fn patches(&self) -> PathBuf {
        self.home.patches()
    }

    pub fn servicepacks(&self) -> PathBuf {
        self.home.servicepacks()
    }

    pub fn backup(&self) -> PathBuf {
        self.home.patches().join("patch0000")
    }

    pub fn metadata(&self) -> PathBuf {
        self.home.patches().join(".metadata")
    }

    /// MD5 of a file under plugins, `None` when absent.
    pub fn plugin_md5(&self, name: &str) -> Option<String> {
        std::fs::read(self.plugins().join(name))
            .ok()
            .map(|b| md5_hex(&b))
    }

    /// MD5 of any file.
    pub fn md5_of(path: &Path) -> String {
        md5_hex(&std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
    }

    /// Text of a file relative to the product home, `None` when absent.
    pub fn read(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.home.root.join(relative)).ok()
    }

    /// The messages of patches.log, each line checked against the runtime's layout
    /// `[yyyy-MM-dd HH:mm:ss,SSS] %5p {category} -  message`.
    pub fn log_messages(&self) -> Vec<String> {
        static LINE: LazyLock<regex::Regex> = LazyLock::new(|| {
            regex::Regex::new(
                r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] ( INFO| WARN|ERROR) \{[^}]+\} -  (.*)$",
            )
            .unwrap()
        });
        let text = self.read("repository/logs/patches.log").unwrap_or_default();
        text.lines()
            .map(|line| {
                let caps = LINE
                    .captures(line)
                    .unwrap_or_else(|| panic!("log line not in the runtime layout: {line:?}"));
                caps[2].to_string()
            })
            .collect()
    }

    /// A snapshot of the whole product home (content, mode, mtime, inode of every entry).
    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.home.root)
    }

    /// A snapshot of plugins only.
    pub fn plugins_snapshot(&self) -> Snapshot {
        snapshot(&self.plugins())
    }
}

/// Asserts the run failed with `code`, named `path` on stderr in an `error:` line, gave a
/// `hint:` line, and did not panic.
#[track_caller]
pub fn assert_error(run: &Run, code: i32, path: &str) {
    run.code(code)
        .stderr_has("error: ")
        .stderr_has(path)
        .stderr_has("\nhint: ");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

/// Runs apply (dry run and real) and verify on `env`, each expecting bad input naming
/// `path`, and asserts the whole tree (content, mode, mtime, inode) did not change.
/// Returns the apply run.
#[track_caller]
pub fn assert_bad_input_changes_nothing(env: &Env, path: impl AsRef<Path>) -> Run {
    let path = path.as_ref().display().to_string();
    let before = env.snapshot();
    assert_error(&env.cmd("apply", &["--dry-run"]), 2, &path);
    assert_error(&env.verify(), 2, &path);
    let run = env.apply();
    assert_error(&run, 2, &path);
    assert_same_tree(&before, &env.snapshot(), "the tree must be byte-identical");
    run
}

// Small homes built bundle by bundle (shared by the order and apply tests).

/// The version every bundle of the small homes here carries.
pub const VERSION: &str = "1.0.0";

/// A bundle jar of `bsn` at [`VERSION`], its bytes told apart by `variant`.
pub fn jar(bsn: &str, variant: &str) -> Vec<u8> {
    bundle_jar(bsn, VERSION, variant)
}

/// The name a bundle of [`VERSION`] lands under in plugins.
pub fn target(bsn: &str) -> String {
    format!("{bsn}_{VERSION}.jar")
}

/// The MD5 of the bundle `bsn` at [`VERSION`] built with `variant`.
pub fn md5_of(bsn: &str, variant: &str) -> String {
    md5_hex(&jar(bsn, variant))
}

/// An empty home whose plugins hold `bsns`, each in the variant `base`.
pub fn home_with_plugins(bsns: &[&str]) -> Env {
    let env = Env::empty();
    for bsn in bsns {
        env.home.add_plugin(&target(bsn), &jar(bsn, "base"));
    }
    env
}

/// The Carbon 4.4+ applied list, one name a line.
pub fn applied_list(env: &Env) -> Vec<String> {
    env.read("repository/components/patches/.metadata/prePatchedDir.txt")
        .expect("prePatchedDir.txt is written by apply")
        .lines()
        .map(String::from)
        .collect()
}

/// Asserts two snapshots are equal, listing only the entries that differ.
#[track_caller]
pub fn assert_same_tree(before: &Snapshot, after: &Snapshot, what: &str) {
    let mut diff = Vec::new();
    for (path, old) in &before.entries {
        match after.entries.get(path) {
            None => diff.push(format!("removed  {}", path.display())),
            Some(new) if new != old => {
                diff.push(format!("changed  {}: {old:?} -> {new:?}", path.display()))
            }
            Some(_) => {}
        }
    }
    for path in after.entries.keys() {
        if !before.entries.contains_key(path) {
            diff.push(format!("added    {}", path.display()));
        }
    }
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}

// For the operator's-view tests (status, plan, JSON, JUnit, terminal).

impl Env {
    /// PRODUCT_HOME as text, for arguments and environment variables.
    pub fn home_str(&self) -> String {
        self.home
            .root
            .to_str()
            .expect("utf-8 temp path")
            .to_string()
    }

    /// Runs the binary like [`Env::run`], in `dir` (default: the temp dir), with the
    /// variables in `set` set and those in `remove` removed (after the defaults).
    pub fn run_with(
        &self,
        args: &[&str],
        dir: Option<&Path>,
        set: &[(&str, &str)],
        remove: &[&str],
    ) -> Run {
        let mut command = assert_cmd::Command::new(env!("CARGO_BIN_EXE_carbon-patch"));
        command
            .args(args)
            .env_remove("CARBON_HOME")
            .env_remove("CARBON_REPOSITORY")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .current_dir(dir.unwrap_or_else(|| self.home.root.parent().unwrap()));
        for name in remove {
            command.env_remove(name);
        }
        for (name, value) in set {
            command.env(name, value);
        }
        let output = command.output().expect("run carbon-patch");
        Run {
            code: output
                .status
                .code()
                .expect("exited normally, not by a signal"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `text` with what changes from run to run taken out: the temporary PRODUCT_HOME
    /// becomes `[HOME]`, log times `[TIME]`, the user who ran `[USER]` (the suite runs as
    /// root in CI, as anyone elsewhere).
    pub fn redact(&self, text: &str) -> String {
        static TIME: LazyLock<regex::Regex> =
            LazyLock::new(|| regex::Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}").unwrap());
        static RUN_AS: LazyLock<regex::Regex> = LazyLock::new(|| {
            regex::Regex::new(r#"(?s)"run_as": \{[^}]*\}|(?m)^run as: .*$"#).unwrap()
        });
        let text = text.replace(&self.home_str(), "[HOME]");
        let text = TIME.replace_all(&text, "[TIME]");
        RUN_AS
            .replace_all(&text, |c: &regex::Captures| {
                if c[0].starts_with('"') {
                    r#""run_as": "[USER]""#
                } else {
                    "run as: [USER]"
                }
            })
            .into_owned()
    }
}

/// Asserts that `text` has a line equal to `line`.
#[track_caller]
pub fn has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line {line:?}\n--- text\n{text}"
    );
}
