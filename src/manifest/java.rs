//! Reading a manifest exactly as `java.util.jar` (JDK 11–21) does, byte for byte, so the
//! bundle name carbon-patch computes is the one the Carbon runtime computes (SPEC §4):
//! `JarFile.getManifest()` reads the whole entry into memory and parses it through an
//! 8192-byte buffer, one line at a time into a 512-byte line buffer; the main section's
//! headers go into a map keyed case-insensitively, where a header given twice keeps its
//! last value; a name section after it is parsed too, and any error anywhere fails the
//! whole manifest. The quirks that follow from those buffers are kept on purpose:
//!
//! - a last line without a line end is not read;
//! - a line of 512 bytes or more (its line end included) is "too long";
//! - a CR that is the 512th byte of a line (inside a buffer) ends its line there, and the LF
//!   after it reads as an empty line (which ends a section);
//! - values keep every byte after the one space that follows the colon, and are decoded
//!   as UTF-8 with U+FFFD for malformed bytes, the JDK's way.
//!
//! This is a port of the behaviour, checked against a real JVM by `tests/cli/jvm.rs`.

use std::fmt;

/// Java's error for a manifest it refuses: its exception, and its message word for word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The Java exception's simple class name (`IOException`, or
    /// `StringIndexOutOfBoundsException` for the one case the JDK does not check).
    pub exception: &'static str,
    /// Its message, as `getMessage()` returns it, e.g. `line too long (line 3)`.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ManifestError {}

fn io_error(message: String) -> ManifestError {
    ManifestError {
        exception: "IOException",
        message,
    }
}

/// `Manifest.getErrorPosition` without a file name (the JDK's default).
fn at(line: usize) -> String {
    format!("line {line}")
}

/// The size of `FastInputStream`'s buffer.
const BUFFER: usize = 8192;
/// The size of the line buffer `Manifest.read` passes to `readLine`.
const LINE: usize = 512;

/// `java.util.jar.Manifest.FastInputStream` over the manifest's bytes (a
/// `ByteArrayInputStream`, which hands out up to a whole buffer per read).
struct Input<'a> {
    data: &'a [u8],
    /// Where the next `fill` reads from.
    next: usize,
    /// The current buffer: `data[start..start + count]`.
    start: usize,
    count: usize,
    pos: usize,
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input {
            data,
            next: 0,
            start: 0,
            count: 0,
            pos: 0,
        }
    }

    fn fill(&mut self) {
        self.start = self.next;
        self.pos = 0;
        self.count = (self.data.len() - self.next).min(BUFFER);
        self.next += self.count;
    }

    fn byte(&self, at: usize) -> u8 {
        self.data[self.start + at]
    }

    /// `readLine(b)`: up to [`LINE`] bytes through the first CR, LF or CRLF; `None` (-1)
    /// when the input ends, even part-way through a line. A CR's LF is taken with it when it
    /// follows in the same buffer within the limit, or — the JDK refills for it — when the
    /// CR was the buffer's last byte (then even past the limit, the LF standing in for the
    /// CR as the line's last byte); a CR that is a full line buffer's 512th byte inside a
    /// buffer leaves its LF to be read as an empty line.
    fn read_line(&mut self, b: &mut [u8; LINE]) -> Option<usize> {
        let mut total = 0;
        while total < LINE {
            if self.pos == self.count {
                self.fill();
                if self.pos == self.count {
                    return None;
                }
            }
            let n = (LINE - total).min(self.count - self.pos);
            let maxpos = self.pos + n;
            let mut tpos = self.pos;
            while tpos < maxpos {
                let c = self.byte(tpos);
                tpos += 1;
                if c == b'\n' || c == b'\r' {
                    break;
                }
            }
            if self.byte(tpos - 1) == b'\r' && tpos < maxpos && self.byte(tpos) == b'\n' {
                tpos += 1;
            }
            let n = tpos - self.pos;
            let from = self.start + self.pos;
            b[total..total + n].copy_from_slice(&self.data[from..from + n]);
            total += n;
            self.pos = tpos;
            match self.byte(tpos - 1) {
                b'\n' => break,
                b'\r' => {
                    if self.pos == self.count {
                        self.fill();
                        if self.pos < self.count && self.byte(self.pos) == b'\n' {
                            if total < LINE {
                                b[total] = b'\n';
                                total += 1;
                            } else {
                                b[total - 1] = b'\n';
                            }
                            self.pos += 1;
                        }
                    }
                    break;
                }
                _ => {}
            }
        }
        Some(total)
    }

    /// `peek()`: the next byte, or `None` (-1) at the end.
    fn peek(&mut self) -> Option<u8> {
        if self.pos == self.count {
            self.fill();
        }
        (self.pos < self.count).then(|| self.byte(self.pos))
    }
}

/// The main section's headers as `Attributes` holds them: names compared
/// case-insensitively, a later value replacing an earlier one (the first spelling kept).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attributes(Vec<(String, String)>);

impl Attributes {
    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `putValue`: checks the name as `Attributes.Name` does (1 to 70 characters, ASCII
    /// letters, digits, `_` and `-`) and sets it.
    fn put(&mut self, name: String, value: String, line: usize) -> Result<(), ManifestError> {
        let chars = name.chars().count();
        let valid = (1..=70).contains(&chars)
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(io_error(format!(
                "invalid header field name: {name} ({})",
                at(line)
            )));
        }
        match self
            .0
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&name))
        {
            Some((_, old)) => *old = value,
            None => self.0.push((name, value)),
        }
        Ok(())
    }

    /// `Attributes.read`: reads header lines until an empty line (or the end), returning
    /// the line number reached.
    fn read(
        &mut self,
        input: &mut Input<'_>,
        lbuf: &mut [u8; LINE],
        mut line: usize,
    ) -> Result<usize, ManifestError> {
        let mut name: Option<String> = None;
        let mut lastline: Option<Vec<u8>> = None;
        while let Some(read) = input.read_line(lbuf) {
            let mut len = read - 1;
            let c = lbuf[len];
            line += 1;
            if c != b'\n' && c != b'\r' {
                return Err(io_error(format!("line too long ({})", at(line))));
            }
            if len > 0 && lbuf[len - 1] == b'\r' {
                len -= 1;
            }
            if len == 0 {
                break;
            }
            let value;
            if lbuf[0] == b' ' {
                if name.is_none() {
                    return Err(io_error(format!(
                        "misplaced continuation line ({})",
                        at(line)
                    )));
                }
                // A continuation always follows a line that saw it coming (`peek`).
                let mut buf = lastline.take().unwrap_or_default();
                buf.extend_from_slice(&lbuf[1..len]);
                if input.peek() == Some(b' ') {
                    lastline = Some(buf);
                    continue;
                }
                value = decode(&buf);
            } else {
                let mut i = 0;
                loop {
                    let b = lbuf[i];
                    i += 1;
                    if b == b':' {
                        break;
                    }
                    if i >= len {
                        return Err(io_error(format!("invalid header field ({})", at(line))));
                    }
                }
                // The byte after the colon: at the line's end, its line end (never a space).
                let space = lbuf[i];
                i += 1;
                if space != b' ' {
                    return Err(io_error(format!("invalid header field ({})", at(line))));
                }
                name = Some(decode(&lbuf[..i - 2]));
                if input.peek() == Some(b' ') {
                    lastline = Some(lbuf[i..len.max(i)].to_vec());
                    continue;
                }
                value = decode(&lbuf[i..len.max(i)]);
            }
            // `name` is set whenever a value is complete (see above).
            self.put(name.clone().unwrap_or_default(), value, line)?;
        }
        Ok(line)
    }
}

/// `new String(bytes, UTF_8)` as the JDK decodes it: malformed input becomes U+FFFD the
/// JDK's way, which differs from `String::from_utf8_lossy` for encoded surrogates (`ED A0
/// 80` is one U+FFFD, not three) and a truncated surrogate prefix.
fn decode(src: &[u8]) -> String {
    const REPLACEMENT: char = '\u{FFFD}';
    let cont = |b: u8| b & 0xc0 == 0x80;
    let mut out = String::with_capacity(src.len());
    let mut sp = 0;
    let sl = src.len();
    while sp < sl {
        let b1 = src[sp];
        sp += 1;
        if b1 < 0x80 {
            out.push(char::from(b1));
        } else if (0xc2..=0xdf).contains(&b1) {
            if sp < sl {
                let b2 = src[sp];
                if cont(b2) {
                    sp += 1;
                    let c = (u32::from(b1 & 0x1f) << 6) | u32::from(b2 & 0x3f);
                    out.push(char::from_u32(c).unwrap_or(REPLACEMENT));
                } else {
                    out.push(REPLACEMENT);
                }
                continue;
            }
            out.push(REPLACEMENT);
            break;
        } else if (0xe0..=0xef).contains(&b1) {
            let malformed_2 = |b2: u8| (b1 == 0xe0 && b2 & 0xe0 == 0x80) || !cont(b2);
            if sp + 1 < sl {
                let (b2, b3) = (src[sp], src[sp + 1]);
                if malformed_2(b2) || !cont(b3) {
                    out.push(REPLACEMENT);
                    sp += usize::from(!malformed_2(b2));
                } else {
                    sp += 2;
                    let c = (u32::from(b1 & 0x0f) << 12)
                        | (u32::from(b2 & 0x3f) << 6)
                        | u32::from(b3 & 0x3f);
                    // An encoded surrogate (ED A0..BF xx) is no char: one U+FFFD for 3 bytes.
                    out.push(char::from_u32(c).unwrap_or(REPLACEMENT));
                }
                continue;
            }
            if sp < sl && malformed_2(src[sp]) {
                out.push(REPLACEMENT);
                continue;
            }
            out.push(REPLACEMENT);
            break;
        } else if (0xf0..=0xf7).contains(&b1) {
            let malformed_2 = |b2: u8| {
                b1 > 0xf4
                    || (b1 == 0xf0 && !(0x90..=0xbf).contains(&b2))
                    || (b1 == 0xf4 && b2 & 0xf0 != 0x80)
                    || !cont(b2)
            };
            if sp + 2 < sl {
                let (b2, b3, b4) = (src[sp], src[sp + 1], src[sp + 2]);
                let c = (u32::from(b1 & 0x07) << 18)
                    | (u32::from(b2 & 0x3f) << 12)
                    | (u32::from(b3 & 0x3f) << 6)
                    | u32::from(b4 & 0x3f);
                if !cont(b2) || !cont(b3) || !cont(b4) || !(0x10000..0x110000).contains(&c) {
                    out.push(REPLACEMENT);
                    sp += if malformed_2(b2) {
                        0
                    } else if !cont(b3) {
                        1
                    } else {
                        2
                    };
                } else {
                    sp += 3;
                    out.push(char::from_u32(c).unwrap_or(REPLACEMENT));
                }
                continue;
            }
            if b1 > 0xf4 || (sp < sl && malformed_2(src[sp])) {
                out.push(REPLACEMENT);
                continue;
            }
            sp += 1;
            out.push(REPLACEMENT);
            if sp < sl && !cont(src[sp]) {
                continue;
            }
            break;
        } else {
            out.push(REPLACEMENT);
        }
    }
    out
}

/// Reads `manifest` as `new Manifest(InputStream)` does and returns its main attributes, or
/// Java's error when it refuses the manifest (anywhere in it, name sections included).
pub fn read(manifest: &[u8]) -> Result<Attributes, ManifestError> {
    let mut input = Input::new(manifest);
    let mut lbuf = [0u8; LINE];
    let mut main = Attributes::default();
    let mut line = main.read(&mut input, &mut lbuf, 0)?;
    // The name sections: parsed for their errors only.
    let mut name: Option<Vec<u8>> = None;
    let mut skip_empty = true;
    while let Some(read) = input.read_line(&mut lbuf) {
        let mut len = read - 1;
        let c = lbuf[len];
        line += 1;
        if c != b'\n' && c != b'\r' {
            return Err(io_error(format!("manifest line too long ({})", at(line))));
        }
        if len > 0 && lbuf[len - 1] == b'\r' {
            len -= 1;
        }
        if len == 0 && skip_empty {
            continue;
        }
        skip_empty = false;
        match name.take() {
            None => {
                let named = lbuf[..4].eq_ignore_ascii_case(b"name") && &lbuf[4..6] == b": ";
                if !named {
                    return Err(io_error(format!("invalid manifest format ({})", at(line))));
                }
                // `new String(lbuf, 6, len - 6)`, unchecked by the JDK when the line is
                // shorter than its name prefix (the prefix's bytes were left by an earlier line).
                if len < 6 {
                    return Err(ManifestError {
                        exception: "StringIndexOutOfBoundsException",
                        message: format!("offset 6, count {}, length {LINE}", len as isize - 6),
                    });
                }
                if input.peek() == Some(b' ') {
                    name = Some(lbuf[6..len].to_vec());
                    continue;
                }
            }
            Some(mut wrapped) => {
                wrapped.extend_from_slice(&lbuf[1..len]);
                if input.peek() == Some(b' ') {
                    name = Some(wrapped);
                    continue;
                }
            }
        }
        line = Attributes::default().read(&mut input, &mut lbuf, line)?;
        skip_empty = true;
    }
    Ok(main)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(manifest: &str, name: &str) -> Option<String> {
        read(manifest.as_bytes())
            .unwrap()
            .get(name)
            .map(str::to_string)
    }

    fn error(manifest: &[u8]) -> String {
        read(manifest).unwrap_err().to_string()
    }

    #[test]
    fn malformed_utf8_becomes_u_fffd_the_jdks_way() {
        assert_eq!(decode(b"a\xed\xa0\x80b"), "a\u{fffd}b");
        assert_eq!(decode(b"\xed\xa0x"), "\u{fffd}x");
        assert_eq!(decode(b"\xed\xa0\xbd\xed\xb8\x80"), "\u{fffd}\u{fffd}");
        assert_eq!(decode(b"\xed\xa0"), "\u{fffd}");
        assert_eq!(
            decode(b"\xc0\xaf\xff"),
            String::from_utf8_lossy(b"\xc0\xaf\xff")
        );
        assert_eq!(decode("é €".as_bytes()), "é €");
    }

    #[test]
    fn a_header_given_twice_keeps_its_last_value_whatever_its_case() {
        let m = "Bundle-Version: 0.0.1\nbundle-version: 1.1.0\n";
        assert_eq!(value(m, "Bundle-Version").as_deref(), Some("1.1.0"));
    }

    #[test]
    fn a_last_line_without_a_line_end_is_not_read() {
        assert_eq!(value("A: 1\nBundle-Version: 2", "Bundle-Version"), None);
        assert_eq!(value("A: 1\nB: 2\n", "B").as_deref(), Some("2"));
    }

    #[test]
    fn values_keep_their_spaces() {
        let m = "Bundle-SymbolicName:  org.x ;singleton:=true\nBundle-Version: 1.1.0 \n";
        assert_eq!(
            value(m, "Bundle-SymbolicName").as_deref(),
            Some(" org.x ;singleton:=true")
        );
        assert_eq!(value(m, "Bundle-Version").as_deref(), Some("1.1.0 "));
    }

    #[test]
    fn continuation_lines_join_without_their_space() {
        let m = "Bundle-SymbolicName: org.exa\r\n mple.long\r\n  name\r\nX: y\r\n";
        assert_eq!(
            value(m, "Bundle-SymbolicName").as_deref(),
            Some("org.example.long name")
        );
    }

    #[test]
    fn what_java_refuses() {
        assert_eq!(
            error(b"Bundle-Version:1.1.0\n"),
            "invalid header field (line 1)"
        );
        assert_eq!(
            error(b"A: 1\nno colon here\n"),
            "invalid header field (line 2)"
        );
        assert_eq!(
            error(b"\xef\xbb\xbfManifest-Version: 1.0\n"),
            "invalid header field name: \u{feff}Manifest-Version (line 1)"
        );
        assert_eq!(error(b" cont\n"), "misplaced continuation line (line 1)");
        let long = format!("A: {}\n", "x".repeat(509));
        assert_eq!(error(long.as_bytes()), "line too long (line 1)");
        assert_eq!(error(b"A: 1\n\nB: 2\n"), "invalid manifest format (line 3)");
        assert_eq!(
            error(b"A: 1\n\nName: x\nBad:x\n"),
            "invalid header field (line 4)"
        );
    }

    #[test]
    fn a_line_of_511_bytes_and_its_lf_fits_the_line_buffer() {
        let fits = format!("A: {}\nB: 2\n", "x".repeat(508));
        assert_eq!(value(&fits, "B").as_deref(), Some("2"));
    }

    #[test]
    fn a_cr_as_the_512th_byte_leaves_its_lf_to_end_the_section() {
        // 511 bytes and CR fill the line buffer; the LF alone is an empty line, and the next
        // header is then a name section without `Name:`.
        let split = format!("A: {}\r\nB: 2\r\n", "x".repeat(508));
        assert_eq!(error(split.as_bytes()), "invalid manifest format (line 3)");
        let last = format!("A: {}\r\n", "x".repeat(508));
        assert_eq!(value(&last, "A").map(|v| v.len()), Some(508));
    }

    #[test]
    fn a_crlf_across_the_8192_byte_buffer_is_one_line_end() {
        let mut m = String::new();
        while m.len() < BUFFER - 100 {
            m.push_str(&format!("H{}: {}\r\n", m.len(), "v".repeat(60)));
        }
        let pad = BUFFER - m.len() - "Z: \r".len();
        m.push_str(&format!("Z: {}\r\nB: 2\r\n", "z".repeat(pad)));
        assert_eq!(m.as_bytes()[BUFFER - 1], b'\r');
        // The JDK refills its buffer to take the LF with its CR.
        assert_eq!(value(&m, "B").as_deref(), Some("2"));
    }
}
