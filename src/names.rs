//! Names read from the tree, as carbon-patch accepts and shows them (SPEC §12): a name
//! holding a control character is refused before anything is written, a name carrying the
//! tool's reserved temporary prefix is refused as input, and every name that reaches the
//! terminal or a log is escaped, so nothing raw reaches either.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::layout::TEMP_PREFIX;

/// Whether `name` holds a control character: C0 (`\0`–`\x1f`), DEL, or, in UTF-8, C1
/// (U+0080–U+009F), which terminals also obey.
pub fn has_control(name: &OsStr) -> bool {
    let bytes = name.as_bytes();
    bytes.iter().any(|&b| b < 0x20 || b == 0x7f)
        || bytes
            .windows(2)
            .any(|w| w[0] == 0xc2 && (0x80..0xa0).contains(&w[1]))
}

/// Whether `name` starts with the prefix of carbon-patch's own temporary files.
pub fn is_reserved(name: &OsStr) -> bool {
    name.as_bytes().starts_with(TEMP_PREFIX.as_bytes())
}

/// A name or path shown safely: valid UTF-8 as it is, other bytes as `\xNN`, and control
/// characters escaped (`\n`, `\u{1b}`), so a name can neither break a line nor drive a
/// terminal.
#[derive(Clone, Copy)]
pub struct Shown<'a>(pub &'a OsStr);

impl<'a> Shown<'a> {
    /// A path, shown safely.
    pub fn path(path: &'a Path) -> Shown<'a> {
        Shown(path.as_os_str())
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() || is_invisible_format(c) {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    write!(f, "{c}")?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// Format characters that reorder or hide text on a terminal (bidirectional overrides and
/// isolates, zero-width characters, the byte-order mark): escaped like control characters,
/// so a name cannot disguise what it is.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found() {
        for name in ["a\nb", "\x1b[31m", "tab\t", "del\x7f", "c1\u{9b}x"] {
            assert!(has_control(OsStr::new(name)), "{name:?}");
        }
        for name in ["patch0001", "org.x_1.0.0.jar", "é ü", " spaced "] {
            assert!(!has_control(OsStr::new(name)), "{name:?}");
        }
    }

    #[test]
    fn shown_names_carry_no_raw_control_character() {
        let raw = OsStr::from_bytes(b"patch\n\x1b[31m\xff\xc2\x9bok");
        let shown = Shown(raw).to_string();
        assert_eq!(shown, "patch\\n\\u{1b}[31m\\xff\\u{9b}ok");
        assert!(!shown.chars().any(char::is_control));
    }

    #[test]
    fn bidirectional_overrides_are_shown_escaped() {
        let shown = Shown(OsStr::new("patch\u{202e}gpj.jar")).to_string();
        assert_eq!(shown, "patch\\u{202e}gpj.jar");
    }

    #[test]
    fn the_temporary_prefix_is_reserved() {
        assert!(is_reserved(OsStr::new(".carbon-patch-tmp.x.jar")));
        assert!(!is_reserved(OsStr::new("carbon-patch-tmp.x.jar")));
    }
}
