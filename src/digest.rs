//! MD5 digests: streaming one file, as the runtime writes them (the survey and discovery
//! hash many files at once through the digest cache).

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use md5::{Digest as _, Md5};

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
        Md5Digest(Md5::digest(bytes).into())
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

/// MD5 of the file at `path`, streamed.
pub fn md5_file(path: &Path) -> Result<Md5Digest> {
    let mut file = File::open(path).map_err(|e| Error::read("open", path, e))?;
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
    Ok(Md5Digest(hasher.finalize().into()))
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
            md5_file(&path).unwrap(),
            Md5Digest::of_bytes(&vec![b'a'; 3 * BUFFER + 7])
        );
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
