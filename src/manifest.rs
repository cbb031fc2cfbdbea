//! Bundle names (SPEC §4): reading `META-INF/MANIFEST.MF` from a jar, parsing its main
//! section with JAR rules, and the one rule that decides the name a file lands under.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek};
use std::path::Path;

use crate::error::{Error, Result};
use crate::tree::Tree;

mod java;

pub use java::{Attributes, ManifestError};

/// The largest manifest carbon-patch reads. Real OSGi manifests are a few KB to a few
/// hundred KB; anything bigger is refused so a hostile jar cannot exhaust memory.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

const MANIFEST_PATH: &str = "META-INF/MANIFEST.MF";
const SYMBOLIC_NAME: &str = "Bundle-SymbolicName";
const VERSION: &str = "Bundle-Version";

/// The name the Carbon runtime gives a jar whose manifest is `manifest`, computed as it
/// does: the main attributes as `java.util.jar` reads them ([`java::read`]), then the
/// symbolic name up to its first `;`, `_`, the version and `.jar`, nothing trimmed
/// (`PatchUtils.verifyBundleFileName`). `Ok(None)`: a header is missing, and the file keeps
/// its own name. `Err`: Java refuses the manifest, so the runtime fails on this jar at
/// every start.
pub fn runtime_name(manifest: &[u8]) -> std::result::Result<Option<String>, ManifestError> {
    let attributes = java::read(manifest)?;
    let (Some(symbolic), Some(version)) = (attributes.get(SYMBOLIC_NAME), attributes.get(VERSION))
    else {
        return Ok(None);
    };
    let symbolic = symbolic.split(';').next().unwrap_or_default();
    Ok(Some(format!("{symbolic}_{version}.jar")))
}

/// Whether the bundle whose manifest is `manifest` is an OSGi singleton: its
/// `Bundle-SymbolicName` carries the directive `singleton:=true` (quoted or not). OSGi
/// resolves only one version of a singleton; any other bundle may be there in several
/// versions side by side. A manifest Java refuses is no singleton (it is refused elsewhere).
pub fn is_singleton(manifest: &[u8]) -> bool {
    let Ok(attributes) = java::read(manifest) else {
        return false;
    };
    let Some(symbolic) = attributes.get(SYMBOLIC_NAME) else {
        return false;
    };
    symbolic.split(';').skip(1).any(|clause| {
        clause.split_once(":=").is_some_and(|(key, value)| {
            key.trim() == "singleton" && value.trim().trim_matches('"').eq_ignore_ascii_case("true")
        })
    })
}

/// The longest file name Linux filesystems take, in bytes.
const NAME_MAX: usize = 255;

/// Why a target name is refused, if it is (SPEC §4, §12): a name must stay one plain
/// component inside plugins.
pub fn refusal(name: &OsStr) -> Option<&'static str> {
    let bytes = name.as_encoded_bytes();
    if bytes.is_empty() {
        Some("the name is empty")
    } else if bytes == b"." || bytes == b".." {
        Some("the name is `.` or `..`")
    } else if bytes.iter().any(|&b| b == b'/' || b == b'\\') {
        Some("the name holds a path separator")
    } else if bytes.contains(&0) {
        Some("the name holds a NUL byte")
    } else if bytes.iter().any(|&b| b < 0x20 || b == 0x7f)
        || name
            .to_str()
            .is_some_and(|s| s.chars().any(char::is_control))
    {
        Some("the name holds a control character")
    } else if crate::names::is_reserved(name) {
        Some("the name starts with carbon-patch's reserved prefix for its temporary files")
    } else if bytes.len() > NAME_MAX {
        Some("the name is longer than the 255 bytes a file name can have")
    } else {
        None
    }
}

/// Whether a file is a jar whose manifest decides its name (SPEC §4: name ends in `.jar`).
pub fn is_jar(file_name: &OsStr) -> bool {
    file_name.as_encoded_bytes().ends_with(b".jar")
}

/// The name `path` lands under in plugins: its bundle name when it is a jar with both
/// OSGi headers, else its own file name. Refused names, manifests Java refuses and
/// unreadable jars are errors.
pub fn target_name(tree: &Tree, path: &Path, file_name: &OsStr) -> Result<OsString> {
    let manifest = if is_jar(file_name) {
        read_manifest(tree, path)?
    } else {
        None
    };
    decide_name(manifest.as_deref(), file_name).map_err(|refused| match refused {
        NameError::Refused { name, why } => Error::bad_input(
            path,
            format!(
                "refused bundle name {:?}: {why}",
                crate::names::Shown(&name).to_string()
            ),
            "fix the jar's Bundle-SymbolicName / Bundle-Version (or the file name), or remove the file",
        ),
        NameError::Manifest(e) => Error::bad_input_from(
            path,
            format!(
                "the jar's manifest is one Java refuses ({}), so the server would fail on it at every start",
                e.exception
            ),
            "fix META-INF/MANIFEST.MF (`jar tf`/`unzip -p` show it) or replace the jar with an intact build; nothing was changed",
            e,
        ),
    })
}

/// Why a file cannot land in plugins under the name it would get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// The name is refused (SPEC §4, §12).
    Refused { name: OsString, why: &'static str },
    /// Java refuses the jar's manifest.
    Manifest(ManifestError),
}

/// The pure part of [`target_name`]: the bundle name from `manifest` (the bytes of a jar's
/// manifest, if it is a jar that has one), else `file_name`.
pub fn decide_name(
    manifest: Option<&[u8]>,
    file_name: &OsStr,
) -> std::result::Result<OsString, NameError> {
    let name = match manifest.map(runtime_name).transpose() {
        Ok(name) => name.flatten(),
        Err(e) => return Err(NameError::Manifest(e)),
    };
    let name = name.map_or_else(|| file_name.to_os_string(), OsString::from);
    match refusal(&name) {
        Some(why) => Err(NameError::Refused { name, why }),
        None => Ok(name),
    }
}

/// Checks every component of a file's path inside a directory of an entry (it lands under
/// that same path in plugins): the metadata files are line-based, so no component may hold
/// a control character.
pub fn check_nested_path(source: &Path, relative: &Path) -> Result<()> {
    for component in relative.components() {
        if let Some(why) = refusal(component.as_os_str()) {
            return Err(Error::bad_input(
                source,
                format!(
                    "refused file name {:?}: {why}",
                    component.as_os_str().to_string_lossy()
                ),
                "rename the file, or remove it from the patch",
            ));
        }
    }
    Ok(())
}

/// Reads the manifest of the jar at `path`: `None` when the jar has none. A file that is
/// not a readable zip, or a manifest larger than [`MAX_MANIFEST_BYTES`], is bad input.
pub fn read_manifest(tree: &Tree, path: &Path) -> Result<Option<Vec<u8>>> {
    let file = tree
        .open_input(path)
        .map_err(|e| Error::input("open", path, e))?;
    manifest_of(file, path)
}

/// Reads the manifest of the jar whose bytes `jar` yields, as [`read_manifest`] does;
/// `path` only names the jar in errors.
pub fn manifest_of(jar: impl Read + Seek, path: &Path) -> Result<Option<Vec<u8>>> {
    const HINT: &str = "replace the file with an intact copy of the jar, or remove it";
    let mut archive = zip::ZipArchive::new(jar)
        .map_err(|e| Error::bad_input_from(path, "not a valid jar (zip) file", HINT, e))?;
    // java.util.jar.JarFile (JDK 11+) reads the last entry of the central directory whose
    // name is the manifest's, ignoring ASCII case — even over an exact-case one before it.
    let index = (0..archive.len()).rev().find(|&i| {
        archive
            .name_for_index(i)
            .is_some_and(|n| n.is_ok_and(|n| n.eq_ignore_ascii_case(MANIFEST_PATH)))
    });
    let Some(index) = index else { return Ok(None) };
    let entry = archive
        .by_index(index)
        .map_err(|e| Error::bad_input_from(path, "cannot read the jar's manifest", HINT, e))?;
    let mut bytes = Vec::new();
    entry
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::bad_input_from(path, "cannot read the jar's manifest", HINT, e))?;
    if bytes.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(Error::bad_input(
            path,
            format!("the jar's manifest is larger than {MAX_MANIFEST_BYTES} bytes"),
            HINT,
        ));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(manifest: &str) -> Option<String> {
        runtime_name(manifest.as_bytes()).unwrap()
    }

    #[test]
    fn symbolic_name_and_version_make_the_file_name() {
        let m = "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.wso2.carbon.core\r\nBundle-Version: 4.4.9\r\n\r\n";
        assert_eq!(
            name_of(m).as_deref(),
            Some("org.wso2.carbon.core_4.4.9.jar")
        );
    }

    #[test]
    fn parameters_after_the_semicolon_are_dropped_and_nothing_is_trimmed() {
        let m =
            "Bundle-SymbolicName: org.eclipse.osgi ; singleton:=true\nBundle-Version:  3.10.2 \n";
        assert_eq!(
            name_of(m).as_deref(),
            Some("org.eclipse.osgi _ 3.10.2 .jar")
        );
        let m = "Bundle-SymbolicName: org.eclipse.osgi;singleton:=true\nBundle-Version: 3.10.2\n";
        assert_eq!(name_of(m).as_deref(), Some("org.eclipse.osgi_3.10.2.jar"));
    }

    #[test]
    fn the_symbolic_name_is_cut_at_its_first_semicolon() {
        let with = |bsn: &str| {
            runtime_name(format!("Bundle-SymbolicName: {bsn}\nBundle-Version: 1\n").as_bytes())
        };
        assert_eq!(with(";x"), Ok(Some("_1.jar".into())));
        assert_eq!(with("x;"), Ok(Some("x_1.jar".into())));
        assert_eq!(with(""), Ok(Some("_1.jar".into())));
        assert_eq!(with(";;"), Ok(Some("_1.jar".into())));
    }

    #[test]
    fn a_72_byte_wrapped_symbolic_name_is_joined() {
        // 72-byte lines, the name split in the middle of a word, as the jar tool writes it.
        let header =
            "Bundle-SymbolicName: org.wso2.carbon.identity.application.authentication.fram";
        let first = &header[..72];
        let rest = &header[72..];
        let m =
            format!("{first}\r\n {rest}ework;singleton:=true\r\nBundle-Version: 5.11.148\r\n\r\n");
        assert_eq!(first.len(), 72);
        assert_eq!(
            name_of(&m).as_deref(),
            Some("org.wso2.carbon.identity.application.authentication.framework_5.11.148.jar")
        );
    }

    #[test]
    fn crlf_cr_and_lf_line_ends_all_work() {
        for end in ["\r\n", "\r", "\n"] {
            let m = format!("Bundle-SymbolicName: a.b{end} .c{end}Bundle-Version: 1.0{end}{end}");
            assert_eq!(
                name_of(&m).as_deref(),
                Some("a.b.c_1.0.jar"),
                "line end {end:?}"
            );
        }
    }

    #[test]
    fn headers_after_the_main_section_do_not_count() {
        let m = "Manifest-Version: 1.0\n\nName: x/y.class\nBundle-SymbolicName: evil\nBundle-Version: 1\n";
        assert_eq!(name_of(m), None);
    }

    #[test]
    fn missing_header_means_no_bundle_name() {
        assert_eq!(name_of("Bundle-SymbolicName: a\n"), None);
        assert_eq!(name_of("Bundle-Version: 1\n"), None);
        assert_eq!(name_of(""), None);
    }

    #[test]
    fn header_names_are_case_insensitive() {
        assert_eq!(
            name_of("bundle-symbolicname: a\nBUNDLE-VERSION: 2\n").as_deref(),
            Some("a_2.jar")
        );
    }

    #[test]
    fn a_manifest_java_refuses_is_not_a_name() {
        for input in [
            &b"\xff\xfe:\r\r\n \n"[..],
            b" leading continuation\n",
            b"::::\n",
            b"Bundle-Version:1\n",
            // An empty line ends the main section; ` ` is then a name section without `Name:`.
            b"\n \n \n",
        ] {
            assert!(runtime_name(input).is_err(), "{input:?}");
            assert!(matches!(
                decide_name(Some(input), OsStr::new("x.jar")),
                Err(NameError::Manifest(_))
            ));
        }
        // A lone CR is an empty line; a last line without its line end is not read.
        for fine in [&b"\r"[..], b"::::"] {
            assert_eq!(runtime_name(fine), Ok(None), "{fine:?}");
        }
    }

    #[test]
    fn singletons_are_told_by_their_directive() {
        let with = |bsn: &str| is_singleton(format!("Bundle-SymbolicName: {bsn}\n").as_bytes());
        assert!(with("org.eclipse.osgi;singleton:=true"));
        assert!(with(
            "a.b; singleton := \"true\" ; fragment-attachment:=never"
        ));
        assert!(!with("a.b"));
        assert!(!with("a.b;singleton:=false"));
        assert!(!with("a.b;singleton=true"));
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "",
            ".",
            "..",
            "../x.jar",
            "a/b.jar",
            "a\\b.jar",
            "a\0.jar",
            "a\nb.jar",
            "a\u{85}b.jar",
        ] {
            assert!(
                refusal(OsStr::new(bad)).is_some(),
                "{bad:?} must be refused"
            );
        }
        for good in [
            "org.foo_1.0.0.jar",
            "..hidden.jar",
            "a..b_1.jar",
            "ünïcode_1.jar",
        ] {
            assert_eq!(refusal(OsStr::new(good)), None, "{good:?} must be accepted");
        }
    }

    #[test]
    fn a_manifest_steering_outside_plugins_is_refused() {
        assert_eq!(
            name_of("Bundle-SymbolicName: ../../bin/x\nBundle-Version: 1\n").as_deref(),
            Some("../../bin/x_1.jar")
        );
        assert!(refusal(OsStr::new("../../bin/x_1.jar")).is_some());
    }
}
