//! Fuzz target: the manifest parser and the name rule (SPEC §4), fed the input both as
//! manifest bytes and as a jar's bytes through the zip reader. No panic, no read past the
//! cap, and no name that breaks SPEC §4 ever accepted.

#![no_main]

use std::ffi::OsStr;
use std::io::Cursor;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use carbon_patch::manifest::{
    MAX_MANIFEST_BYTES, NameError, decide_name, manifest_of, runtime_name,
};
use libfuzzer_sys::fuzz_target;

/// SPEC §4, stated apart from `manifest::refusal`.
fn obeys_spec(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes != b"."
        && bytes != b".."
        && !bytes.iter().any(|&b| b == b'/' || b == b'\\' || b == 0)
        && !bytes.iter().any(|&b| b < 0x20 || b == 0x7f)
        && name
            .to_str()
            .is_none_or(|s| !s.chars().any(char::is_control))
        && bytes.len() <= 255
        && !bytes.starts_with(b".carbon-patch-tmp.")
}

fn check_name(manifest: &[u8]) {
    let _ = runtime_name(manifest);
    match decide_name(Some(manifest), OsStr::new("own-name.jar")) {
        Ok(name) => assert!(obeys_spec(&name), "accepted {name:?}"),
        Err(NameError::Refused { name, .. }) => assert!(!obeys_spec(&name), "refused {name:?}"),
        Err(NameError::Manifest(_)) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    check_name(data);
    if let Ok(Some(manifest)) = manifest_of(Cursor::new(data), Path::new("fuzz.jar")) {
        assert!(manifest.len() as u64 <= MAX_MANIFEST_BYTES);
        check_name(&manifest);
    }
});
