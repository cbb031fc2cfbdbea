//! MD5 digests: streaming one file, as the runtime writes them (the survey and discovery
//! hash many files at once through the digest cache).
//!
//! The hasher is fast-md5, whose x86_64 and aarch64 cores are hand-scheduled assembly:
//! `verify --no-cache` is bound by MD5 speed, and it hashes about 1.25 × as fast as
//! RustCrypto's md-5 here (docs/BENCHMARKS.md). md-5 stays the reference that the tests
//! check it against.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use fast_md5::Md5;

use crate::error::{Error, Result};

/// Read buffer per file: large enough to keep the disk streaming, small enough that
/// memory stays flat with one buffer per core.
const BUFFER: usize = 256 * 1024;

/// An MD5 digest, shown as lower-case hex like the runtime writes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Md5Digest(pub [u8; 16]);

impl Md5Digest {
    /// Parses 32 hex digits (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(Md5Digest(bytes))
    }

    /// Digest of bytes in memory.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Md5Digest(fast_md5::digest(bytes))
    }
}

impl fmt::Display for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Md5Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Md5Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Md5Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Md5Digest::from_hex(&text).ok_or_else(|| serde::de::Error::custom("not an md5 hex digest"))
    }
}

/// MD5 of the open `file`, streamed; `path` names it in errors.
pub fn md5_of(mut file: File, path: &Path) -> Result<Md5Digest> {
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; BUFFER];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::read("read", path, e)),
        }
    }
    Ok(Md5Digest(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            Md5Digest::of_bytes(b"").to_string(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'a'; 3 * BUFFER + 7]).unwrap();
        assert_eq!(
            md5_of(File::open(&path).unwrap(), &path).unwrap(),
            Md5Digest::of_bytes(&vec![b'a'; 3 * BUFFER + 7])
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 1024,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x0ca7_b0c5_00d5),
            ..Default::default()
        })]

        /// Whatever the lengths and however a stream is cut into reads, the digest is
        /// md-5's: every padding case (lengths around 56 and 64) and partial-block join.
        #[test]
        fn agrees_with_md5_crate(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1200),
            cuts in proptest::collection::vec(0usize..1200, 0..6),
        ) {
            use md5::Digest as _;
            let expected: [u8; 16] = md5::Md5::digest(&bytes).into();
            proptest::prop_assert_eq!(Md5Digest::of_bytes(&bytes).0, expected);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut hasher = Md5::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                hasher.update(&bytes[from..cut]);
                from = cut;
            }
            proptest::prop_assert_eq!(hasher.finalize(), expected);
        }
    }

    #[test]
    fn every_length_near_block_edges_agrees_with_md5_crate() {
        use md5::Digest as _;
        let bytes: Vec<u8> = (0..=u8::MAX).cycle().take(4 * 64 + 1).collect();
        for len in 0..=bytes.len() {
            let expected: [u8; 16] = md5::Md5::digest(&bytes[..len]).into();
            assert_eq!(
                Md5Digest::of_bytes(&bytes[..len]).0,
                expected,
                "length {len}"
            );
        }
    }

    #[test]
    fn hex_round_trip() {
        let d = Md5Digest::of_bytes(b"x");
        assert_eq!(Md5Digest::from_hex(&d.to_string()), Some(d));
        assert_eq!(Md5Digest::from_hex(&d.to_string().to_uppercase()), Some(d));
        assert_eq!(Md5Digest::from_hex("zz"), None);
        assert_eq!(Md5Digest::from_hex(""), None);
    }
}
