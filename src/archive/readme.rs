//! A patch archive's `README.txt` (SPEC §14): the header (`Patch ID`, `Applies To`,
//! `Associated JIRA`), the numbered installation instructions, and which of them
//! carbon-patch carries out itself and which are left to the operator (manual steps, in
//! the README's own words). Pure: text in, values out.

use serde::{Deserialize, Serialize};

/// What a README says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readme {
    /// `Patch ID`, e.g. `WSO2-CARBON-PATCH-4.4.0-0016`.
    pub id: String,
    /// `Applies To`, as written.
    pub applies_to: String,
    /// `Associated JIRA`: one id or address a line (continuation lines included).
    pub jira: Vec<String>,
    /// The installation instructions, each as written (marker included, lines joined).
    pub instructions: Vec<String>,
}

/// Why a README cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadmeError {
    /// A header field is missing or empty.
    Missing(&'static str),
    /// The Patch ID holds characters that cannot name a directory.
    BadId(String),
}

impl std::fmt::Display for ReadmeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadmeError::Missing(field) => write!(f, "its header has no `{field}`"),
            ReadmeError::BadId(id) => write!(
                f,
                "its Patch ID `{}` is not of letters, digits, `.`, `_` and `-` (at most 128)",
                crate::names::Shown(std::ffi::OsStr::new(id))
            ),
        }
    }
}

/// Parses a README. Header fields are `Name : value` lines (any spaces or tabs around the
/// colon, any case); `Associated JIRA` goes on over indented lines. Instructions are the
/// items after the line `INSTALLATION INSTRUCTIONS`: each starts with a marker such as
/// `(iii)`, `3.`, `3)` or `c)`, and runs until the next.
pub fn parse(text: &str) -> Result<Readme, ReadmeError> {
    let mut id = None;
    let mut applies_to = None;
    let mut jira = Vec::new();
    let mut in_jira = false;
    let mut instructions: Vec<String> = Vec::new();
    let mut in_instructions = false;
    for line in text.lines() {
        // What the README says reaches terminals, patches.log and JSON: no control
        // character of it does (a tab is a space; anything else is shown escaped).
        let line = &safe(line);
        let trimmed = line.trim();
        if in_instructions {
            if is_underline(trimmed) {
                continue;
            }
            if instruction_start(trimmed).is_some() {
                instructions.push(trimmed.to_string());
            } else if !trimmed.is_empty()
                && let Some(last) = instructions.last_mut()
            {
                last.push(' ');
                last.push_str(trimmed);
            }
            continue;
        }
        if trimmed.eq_ignore_ascii_case("INSTALLATION INSTRUCTIONS") {
            in_instructions = true;
            in_jira = false;
            continue;
        }
        if let Some((name, value)) = header_field(line) {
            in_jira = false;
            match name.as_str() {
                "patch id" => id = Some(value.to_string()),
                "applies to" => applies_to = Some(value.to_string()),
                "associated jira" | "associated jiras" => {
                    jira.extend(Some(value.to_string()).filter(|v| !v.is_empty()));
                    in_jira = true;
                }
                _ => {}
            }
            continue;
        }
        if in_jira && line.starts_with([' ', '\t']) && !trimmed.is_empty() {
            jira.push(trimmed.to_string());
        } else {
            in_jira = false;
        }
    }
    let id = id
        .filter(|v| !v.is_empty())
        .ok_or(ReadmeError::Missing("Patch ID"))?;
    if id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        || id.starts_with('.')
    {
        return Err(ReadmeError::BadId(id));
    }
    let applies_to = applies_to
        .filter(|v| !v.is_empty())
        .ok_or(ReadmeError::Missing("Applies To"))?;
    Ok(Readme {
        id,
        applies_to,
        jira,
        instructions,
    })
}

/// `line` with tabs as spaces and every other control character escaped (`\u{1b}`).
fn safe(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => " ".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// `Name : value` at the start of a line (the name not indented), with the name in lower
/// case and inner whitespace squeezed.
fn header_field(line: &str) -> Option<(String, &str)> {
    if line.starts_with([' ', '\t']) {
        return None;
    }
    let (name, value) = line.split_once(':')?;
    let name: Vec<&str> = name.split_whitespace().collect();
    if name.is_empty() || name.len() > 3 || !name.iter().all(|w| w.chars().all(char::is_alphabetic))
    {
        return None;
    }
    Some((name.join(" ").to_lowercase(), value.trim()))
}

fn is_underline(line: &str) -> bool {
    !line.is_empty() && line.chars().all(|c| matches!(c, '-' | '=' | '_'))
}

/// The text after an instruction's marker (`(iv)`, `4.`, `4)`, `d)`), if the line starts one.
fn instruction_start(line: &str) -> Option<&str> {
    let (marker, rest) = if let Some(inner) = line.strip_prefix('(') {
        let close = inner.find(')')?;
        (&inner[..close], &inner[close + 1..])
    } else {
        let end = line.find(['.', ')'])?;
        (&line[..end], &line[end + 1..])
    };
    let roman = !marker.is_empty() && marker.chars().all(|c| "ivxlc".contains(c));
    let number =
        !marker.is_empty() && marker.len() <= 3 && marker.chars().all(|c| c.is_ascii_digit());
    let letter = marker.len() == 1 && marker.chars().all(|c| c.is_ascii_lowercase());
    ((roman || number || letter) && rest.starts_with([' ', '\t'])).then_some(rest.trim())
}

/// What carbon-patch does about one instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Stopping or starting the server: the operator's process around carbon-patch.
    Server,
    /// Copying or replacing files the archive holds: carbon-patch does it.
    Automated,
    /// Anything else (an edit described in prose, a file the archive does not hold): the
    /// operator must do it.
    Manual,
}

/// Classifies one instruction. `holds(name)` says whether the archive has a file (or the
/// patch directory) of that name. A copy or replace is automated only when every file it
/// names is in the archive.
pub fn classify(instruction: &str, holds: impl Fn(&str) -> bool) -> Step {
    let text = instruction_start(instruction).unwrap_or(instruction);
    let lower = text.to_lowercase();
    let first = lower.split_whitespace().next().unwrap_or("");
    if matches!(first, "shutdown" | "shut" | "stop" | "restart" | "start")
        && lower.contains("server")
        && !lower.contains("copy")
        && !lower.contains("replace")
    {
        return Step::Server;
    }
    if !matches!(
        first,
        "copy" | "replace" | "place" | "put" | "add" | "paste"
    ) {
        return Step::Manual;
    }
    // The file names it mentions: words with an extension, or patch directories.
    let names: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '"' | '\'' | '`'))
        .map(|w| w.trim_end_matches(['.', ':', ';']))
        .filter(|w| !w.contains('/') && !w.contains('<') && !w.is_empty())
        .filter(|w| is_file_name(w) || is_patch_dir(w))
        .collect();
    if !names.is_empty() && names.iter().all(|n| holds(n)) {
        Step::Automated
    } else {
        Step::Manual
    }
}

fn is_file_name(word: &str) -> bool {
    match word.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && (2..=10).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && ext.chars().any(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// `patch0016`: a patch directory's name.
pub fn is_patch_dir(name: &str) -> bool {
    name.strip_prefix("patch")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WSO2: &str = r#"Patch ID        :  WSO2-CARBON-PATCH-4.2.0-0008
Applies To      :  WSO2 CARBON-4.2.0
Associated JIRA :   https://wso2.org/jira/browse/CARBON-14769
                    https://wso2.org/jira/browse/CARBON-14796

DESCRIPTION
-----------
This patch fixes the issues above.

INSTALLATION INSTRUCTIONS
-------------------------

(i)   Shutdown the server, if you have already started.

(ii)  Copy the wso2carbon-version.txt file to <CARBON_SERVER>/bin.

(iii) Copy the patch0008 to  <CARBON_SERVER>/repository/components/patches/

(iv)  Replace carbon.xml file on <CARBON_SERVER>/repository/conf with file provided
      inside WSO2-CARBON-PATCH-4.2.0-0008/repository/conf

(v)   Add the following to <CARBON_SERVER>/repository/conf/axis2/axis2.xml:
      <parameter name="x">true</parameter>

(vi)  Restart the server with :
        Linux/Unix :  sh wso2server.sh
        Windows    :  wso2server.bat
"#;

    #[test]
    fn the_header_and_every_instruction_are_read_as_written() {
        let readme = parse(WSO2).unwrap();
        assert_eq!(readme.id, "WSO2-CARBON-PATCH-4.2.0-0008");
        assert_eq!(readme.applies_to, "WSO2 CARBON-4.2.0");
        assert_eq!(
            readme.jira,
            [
                "https://wso2.org/jira/browse/CARBON-14769",
                "https://wso2.org/jira/browse/CARBON-14796"
            ]
        );
        assert_eq!(readme.instructions.len(), 6);
        assert_eq!(
            readme.instructions[3],
            "(iv)  Replace carbon.xml file on <CARBON_SERVER>/repository/conf with file provided \
             inside WSO2-CARBON-PATCH-4.2.0-0008/repository/conf"
        );
        assert!(readme.instructions[5].starts_with("(vi)  Restart the server with : Linux/Unix"));
    }

    #[test]
    fn copies_of_files_the_archive_holds_are_automated_and_the_rest_is_manual() {
        let readme = parse(WSO2).unwrap();
        let held = ["wso2carbon-version.txt", "patch0008", "carbon.xml"];
        let steps: Vec<Step> = readme
            .instructions
            .iter()
            .map(|i| classify(i, |n| held.contains(&n)))
            .collect();
        assert_eq!(
            steps,
            [
                Step::Server,
                Step::Automated,
                Step::Automated,
                Step::Automated,
                Step::Manual,
                Step::Server
            ]
        );
        // A replace naming a file the archive lacks is the operator's to do.
        assert_eq!(
            classify(
                "(iv) Replace axis2.xml and tenant-axis2.xml on <CARBON_SERVER>/repository/conf/axis2",
                |n| n == "axis2.xml"
            ),
            Step::Manual
        );
    }

    #[test]
    fn header_fields_may_be_separated_by_tabs() {
        let readme =
            parse("Patch ID\t:\tWSO2-CARBON-PATCH-4.2.0-0006\nApplies To\t:\tWSO2 CARBON-4.2.0\n")
                .unwrap();
        assert_eq!(readme.id, "WSO2-CARBON-PATCH-4.2.0-0006");
        assert_eq!(readme.applies_to, "WSO2 CARBON-4.2.0");
    }

    #[test]
    fn no_control_character_of_the_readme_comes_through() {
        let readme = parse(
            "Patch ID : WSO2-CARBON-PATCH-4.4.0-0001\nApplies To : carbon \u{1b}[2J4.4.0\n\
             INSTALLATION INSTRUCTIONS\n(i) Edit carbon.xml\u{7}\n",
        )
        .unwrap();
        assert_eq!(readme.applies_to, "carbon \\u{1b}[2J4.4.0");
        assert_eq!(readme.instructions, ["(i) Edit carbon.xml\\u{7}"]);
    }

    #[test]
    fn a_header_without_an_id_or_applies_to_is_refused() {
        assert_eq!(
            parse("Applies To : CARBON 4.4.0\n"),
            Err(ReadmeError::Missing("Patch ID"))
        );
        assert_eq!(
            parse("Patch ID : WSO2-CARBON-PATCH-4.4.0-0001\n"),
            Err(ReadmeError::Missing("Applies To"))
        );
        assert!(matches!(
            parse("Patch ID : ../../etc\nApplies To: x\n"),
            Err(ReadmeError::BadId(_))
        ));
    }

    #[test]
    fn markers_of_every_common_form_start_an_instruction() {
        for line in ["(i) Copy", "(xii) Copy", "1. Copy", "12) Copy", "a) Copy"] {
            assert_eq!(instruction_start(line), Some("Copy"), "{line}");
        }
        for line in [
            "Linux/Unix : sh",
            "e.g. this",
            "(note) x",
            "version 4.4.0 is",
        ] {
            assert_eq!(instruction_start(line), None, "{line}");
        }
    }
}
