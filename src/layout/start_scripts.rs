//! The places a start script moves (SPEC §2), read from its text — never run. Since kernel
//! 4.4.12 the java command line of `bin/wso2server.sh` (and of every Enterprise Integrator
//! profile's `wso2/<profile>/bin/wso2server.sh`) may carry `-Dcarbon.patches.dir.path=`,
//! `-Dcarbon.servicepacks.dir.path=`, `-Dcarbon.components.dir.path=` and
//! `-Dcarbon.repository=`; the runtime's patch applier reads exactly these.
//!
//! The text is split into shell words as `sh` would (quotes, backslashes, comments, line
//! continuations), and each word holding `-Dcarbon.<property>=` gives a value: the rest of
//! the word on a command line (`-Dcarbon.patches.dir.path="$CARBON_HOME/patches"`), up to the
//! next blank inside an assignment that is word-split where it is used
//! (`JAVA_OPTS="$JAVA_OPTS -Dcarbon.patches.dir.path=/srv/patches"`). Only `$CARBON_HOME`
//! (`${CARBON_HOME}`, quoted or not) is expanded, to the script's own home: the directory
//! above its `bin/`, which is what the script sets CARBON_HOME to. Any other expansion
//! (`$X`, `${X:-y}`, `$(...)`, backquotes) leaves the value [`Value::Unresolved`]: carbon-patch
//! cannot know it. A relative value is taken from the script's home (the script `cd`s there
//! before starting java), and every path comes back absolute with `.` and `..` resolved by
//! name.
//!
//! Pure: text in, findings out; the caller reads the files through the tree layer.

use std::path::{Component, Path, PathBuf};

/// A property of the java command line that moves a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// `carbon.components.dir.path`: plugins, patches, service packs and `default/` below it.
    Components,
    /// `carbon.patches.dir.path`.
    Patches,
    /// `carbon.servicepacks.dir.path`.
    Servicepacks,
    /// `carbon.repository`: the whole `repository` (components, unless moved themselves, and logs).
    Repository,
}

impl Property {
    /// Every property, in the order places are decided.
    pub const ALL: [Property; 4] = [
        Property::Components,
        Property::Patches,
        Property::Servicepacks,
        Property::Repository,
    ];

    /// The system property's name, e.g. `carbon.patches.dir.path`.
    pub fn name(self) -> &'static str {
        match self {
            Property::Components => "carbon.components.dir.path",
            Property::Patches => "carbon.patches.dir.path",
            Property::Servicepacks => "carbon.servicepacks.dir.path",
            Property::Repository => "carbon.repository",
        }
    }

    fn from_name(name: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What a `-D` option of a script says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An absolute path, `$CARBON_HOME` expanded, `.` and `..` resolved by name.
    Path(PathBuf),
    /// A value carbon-patch cannot know without running the script (another variable, a
    /// command substitution) or that names nothing (empty).
    Unresolved,
}

/// One `-Dcarbon.<property>=<value>` found in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub property: Property,
    pub value: Value,
    /// The line (from 1) the word starts on.
    pub line: usize,
    /// The option as written in the script (quotes and all), for messages.
    pub text: String,
}

/// Every `-D` option moving a place in the script `text`, in the order written; `home` is
/// the script's CARBON_HOME (absolute).
pub fn scan(text: &str, home: &Path) -> Vec<Found> {
    let home_text = home.to_string_lossy();
    let mut found = Vec::new();
    for word in words(text) {
        for (at, assignment) in option_starts(&word.chars) {
            let Some((property, value_at)) = property_at(&word.chars, at) else {
                continue;
            };
            let end = if assignment {
                word.chars[value_at..]
                    .iter()
                    .position(|c| c.c.is_whitespace())
                    .map_or(word.chars.len(), |n| value_at + n)
            } else {
                word.chars.len()
            };
            let value = &word.chars[value_at..end];
            let value = if value.is_empty() || value.iter().any(|c| c.unresolved) {
                Value::Unresolved
            } else {
                let text: String = value
                    .iter()
                    .map(|c| {
                        if c.home {
                            home_text.to_string()
                        } else {
                            c.c.to_string()
                        }
                    })
                    .collect();
                Value::Path(normalize(home, Path::new(&text)))
            };
            found.push(Found {
                property,
                value,
                line: word.line,
                text: word.raw.trim().to_string(),
            });
        }
    }
    found
}

/// `path` made absolute from `home` when relative, with `.` and `..` resolved by name (the
/// way `Paths.get(..).normalize()` does; `..` above `/` stays at `/`).
pub fn normalize(home: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        home.join(path)
    };
    let mut out = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// One character of a word after quote removal, with where it came from.
#[derive(Debug, Clone, Copy)]
struct Char {
    c: char,
    /// Stands for an expansion of CARBON_HOME (`c` is a placeholder).
    home: bool,
    /// Stands for an expansion carbon-patch cannot know (`c` is a placeholder).
    unresolved: bool,
}

impl Char {
    fn plain(c: char) -> Char {
        Char {
            c,
            home: false,
            unresolved: false,
        }
    }
}

/// A shell word: its characters after quote removal, the line it starts on, and its text.
#[derive(Debug)]
struct Word {
    chars: Vec<Char>,
    line: usize,
    raw: String,
}

/// Where `-Dcarbon.` options may start in a word: at its start (an argument), or after a
/// blank that was quoted (inside a string word-split later), or right after the `=` of an
/// assignment (`JAVA_OPTS="-Dcarbon..."`). The flag says whether the value ends at a blank.
fn option_starts(chars: &[Char]) -> Vec<(usize, bool)> {
    let mut starts = vec![(0, false)];
    if let Some(eq) = assignment_end(chars) {
        starts[0] = (eq + 1, true);
    }
    for (i, pair) in chars.windows(2).enumerate() {
        if pair[0].c.is_whitespace() && !pair[0].home && !pair[0].unresolved {
            starts.push((i + 1, true));
        }
    }
    starts
}

/// The index of the `=` when the word is an assignment `NAME=...`.
fn assignment_end(chars: &[Char]) -> Option<usize> {
    let eq = chars
        .iter()
        .position(|c| c.c == '=' && !c.home && !c.unresolved)?;
    let name = &chars[..eq];
    let valid = !name.is_empty()
        && name
            .iter()
            .all(|c| !c.home && !c.unresolved && (c.c.is_ascii_alphanumeric() || c.c == '_'))
        && !name[0].c.is_ascii_digit();
    valid.then_some(eq)
}

/// The property of a `-D<name>=` at `at`, and where its value starts.
fn property_at(chars: &[Char], at: usize) -> Option<(Property, usize)> {
    let rest = chars.get(at..)?;
    let mut name = String::new();
    for (i, c) in rest.iter().enumerate() {
        if c.home || c.unresolved || c.c.is_whitespace() {
            return None;
        }
        if c.c == '=' {
            let property = Property::from_name(name.strip_prefix("-D")?)?;
            return Some((property, at + i + 1));
        }
        name.push(c.c);
        if !"-Dcarbon.".starts_with(&name) && !name.starts_with("-Dcarbon.") {
            return None;
        }
    }
    None
}

/// Characters that end an unquoted word (blanks and the shell's operators).
fn ends_word(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | ';' | '&' | '|' | '(' | ')' | '<' | '>'
    )
}

/// Splits `text` into shell words.
fn words(text: &str) -> Vec<Word> {
    let chars: Vec<char> = text.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        at: 0,
        line: 1,
    };
    let mut words = Vec::new();
    loop {
        lexer.skip_blanks();
        if lexer.at >= chars.len() {
            return words;
        }
        if chars[lexer.at] == '#' {
            while lexer.at < chars.len() && chars[lexer.at] != '\n' {
                lexer.at += 1;
            }
            continue;
        }
        words.push(lexer.word());
    }
}

struct Lexer<'a> {
    chars: &'a [char],
    at: usize,
    line: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    /// Skips what separates words: blanks, line ends, operators, line continuations.
    fn skip_blanks(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == '\\' && self.peek(1) == Some('\n') {
                self.at += 2;
                self.line += 1;
            } else if ends_word(c) {
                if c == '\n' {
                    self.line += 1;
                }
                self.at += 1;
            } else {
                return;
            }
        }
    }

    /// Reads one word from the current position (not a blank, not a comment).
    fn word(&mut self) -> Word {
        let start = self.at;
        let line = self.line;
        let mut chars = Vec::new();
        while let Some(c) = self.peek(0) {
            match c {
                c if ends_word(c) => break,
                '\\' => match self.peek(1) {
                    Some('\n') => {
                        self.at += 2;
                        self.line += 1;
                    }
                    Some(next) => {
                        chars.push(Char::plain(next));
                        self.at += 2;
                    }
                    None => self.at += 1,
                },
                '\'' => {
                    self.at += 1;
                    while let Some(c) = self.peek(0) {
                        self.at += 1;
                        if c == '\'' {
                            break;
                        }
                        if c == '\n' {
                            self.line += 1;
                        }
                        chars.push(Char::plain(c));
                    }
                }
                '"' => {
                    self.at += 1;
                    self.double_quoted(&mut chars);
                }
                '$' => self.expansion(&mut chars),
                '`' => {
                    self.at += 1;
                    self.skip_to('`');
                    chars.push(unresolved());
                }
                c => {
                    chars.push(Char::plain(c));
                    self.at += 1;
                }
            }
        }
        Word {
            chars,
            line,
            raw: self.chars[start..self.at].iter().collect(),
        }
    }

    /// The inside of `"..."`, up to and past its closing quote.
    fn double_quoted(&mut self, chars: &mut Vec<Char>) {
        while let Some(c) = self.peek(0) {
            match c {
                '"' => {
                    self.at += 1;
                    return;
                }
                '\\' => match self.peek(1) {
                    Some('\n') => {
                        self.at += 2;
                        self.line += 1;
                    }
                    Some(next @ ('$' | '`' | '"' | '\\')) => {
                        chars.push(Char::plain(next));
                        self.at += 2;
                    }
                    _ => {
                        chars.push(Char::plain('\\'));
                        self.at += 1;
                    }
                },
                '$' => self.expansion(chars),
                '`' => {
                    self.at += 1;
                    self.skip_to('`');
                    chars.push(unresolved());
                }
                c => {
                    if c == '\n' {
                        self.line += 1;
                    }
                    chars.push(Char::plain(c));
                    self.at += 1;
                }
            }
        }
    }

    /// A `$` and what follows it: CARBON_HOME, or something carbon-patch cannot know, or
    /// a plain `$` when nothing that expands follows.
    fn expansion(&mut self, chars: &mut Vec<Char>) {
        const HOME: &str = "CARBON_HOME";
        let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
        self.at += 1;
        match self.peek(0) {
            Some('{') => {
                let start = self.at + 1;
                self.at += 1;
                self.skip_to('}');
                let inside: String = self.chars[start..self.at.saturating_sub(1).max(start)]
                    .iter()
                    .collect();
                chars.push(if inside == HOME { home() } else { unresolved() });
            }
            Some('(') => {
                let mut depth = 0usize;
                while let Some(c) = self.peek(0) {
                    self.at += 1;
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        '\n' => self.line += 1,
                        _ => {}
                    }
                }
                chars.push(unresolved());
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.at;
                while self.peek(0).is_some_and(is_name) {
                    self.at += 1;
                }
                let name: String = self.chars[start..self.at].iter().collect();
                chars.push(if name == HOME { home() } else { unresolved() });
            }
            Some(c) if c.is_ascii_digit() || "*@#?$!-".contains(c) => {
                self.at += 1;
                chars.push(unresolved());
            }
            _ => chars.push(Char::plain('$')),
        }
    }

    /// Moves past the next `end` (or to the end of the text).
    fn skip_to(&mut self, end: char) {
        while let Some(c) = self.peek(0) {
            self.at += 1;
            if c == '\n' {
                self.line += 1;
            }
            if c == end {
                return;
            }
        }
    }
}

fn home() -> Char {
    Char {
        c: '\u{0}',
        home: true,
        unresolved: false,
    }
}

fn unresolved() -> Char {
    Char {
        c: '$',
        home: false,
        unresolved: true,
    }
}

#[cfg(test)]
mod tests;
