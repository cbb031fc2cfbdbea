//! The digest cache (issue: speed): unchanged files are trusted by their (device, inode,
//! size, mtime, ctime), `--no-cache` reads everything again, and a changed ctime always
//! forces a re-read — even when the size and mtime were put back.

use std::fs;
use std::time::{Duration, SystemTime};

use crate::support::*;

fn cache_path(env: &Env) -> std::path::PathBuf {
    env.metadata().join("carbon-patch-digests.json")
}

/// Replaces every occurrence of one digest in the cache with another, and dates the cache
/// well after every file so no entry counts as racy.
fn forge_cache(env: &Env, real: &str, forged: &str) {
    let path = cache_path(env);
    let text = fs::read_to_string(&path).expect("apply writes the digest cache");
    assert!(text.contains(real), "the cache holds the digest {real}");
    fs::write(&path, text.replace(real, forged)).unwrap();
    let later = SystemTime::now() + Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

#[test]
fn verify_trusts_the_cache_for_unchanged_files_and_no_cache_reads_them_again() {
    let env = Env::sample();
    env.apply().code(0);
    let ui = "org.wso2.carbon.ui_4.4.9.jar";
    let real = env.plugin_md5(ui).unwrap();
    let forged = md5_hex(b"not the ui jar");
    forge_cache(&env, &real, &forged);

    // With the cache, the forged digest is believed for the patch file and the plugin alike
    // (neither was read), so only the recorded jar list disagrees with it.
    env.verify()
        .code(1)
        .stdout_has("prePatchedJARs.txt` does not match the bundles the patches provide");
    // Without it, every file is read again: the real digests agree, the tree verifies.
    let run = env.cmd("verify", &["--no-cache"]);
    run.code(0);
    assert!(!run.stdout.contains(&forged));
}

#[test]
fn a_file_changed_in_place_is_noticed_even_with_size_and_mtime_put_back() {
    let env = Env::sample();
    env.apply().code(0);
    let ui = env.plugins().join("org.wso2.carbon.ui_4.4.9.jar");
    let meta = fs::metadata(&ui).unwrap();
    let mut bytes = fs::read(&ui).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&ui, &bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&ui)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    assert_eq!(fs::metadata(&ui).unwrap().len(), meta.len());
    // Date the cache after everything, so only the ctime can give the change away.
    let later = SystemTime::now() + Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(cache_path(&env))
        .unwrap()
        .set_modified(later)
        .unwrap();

    env.verify()
        .code(1)
        .stdout_has("org.wso2.carbon.ui_4.4.9.jar(MD5: ");
    env.apply().code(0).stdout_has("1 written");
    env.verify().code(0);
}

#[test]
fn verify_never_writes_the_cache() {
    let env = Env::sample();
    env.apply().code(0);
    fs::remove_file(cache_path(&env)).unwrap();
    let before = env.snapshot();
    env.verify().code(0);
    assert_same_tree(
        &before,
        &env.snapshot(),
        "verify is read-only, cache included",
    );
}
