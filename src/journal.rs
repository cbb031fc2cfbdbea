//! The journal (SPEC §6.4): before its first write, `apply` or `rollback` records in the
//! metadata dir which operation it is and every file it may place in plugins; the record
//! is removed once the run's metadata is written. A later run that finds a journal knows
//! an operation was interrupted: it finishes (or, for a rollback after an apply, undoes)
//! it first, and treats every file the journal names as carbon-patch's own, so a file an
//! interrupted apply added is archived, not mistaken for a foreign one.
//!
//! This module owns the record and its wording; `execute` writes and removes it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::metadata::{self, Placed, STATE_SCHEMA_VERSION};

/// Which operation a journal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `carbon-patch apply`.
    Apply,
    /// `carbon-patch rollback`.
    Rollback,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Apply => "apply",
            Operation::Rollback => "rollback",
        })
    }
}

/// An operation in progress (or interrupted, when a later run finds it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// [`STATE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What was running.
    pub operation: Operation,
    /// The process that ran it.
    pub pid: u32,
    /// The processes of the interrupted operations it took over, latest first: their
    /// temporary files are carbon-patch's own too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_pids: Vec<u32>,
    /// When it started, in the log's time format (for the operator only).
    pub started: String,
    /// Target (see [`metadata::encode_path`]) → what the operation may place there.
    pub placing: BTreeMap<String, Placed>,
}

impl Journal {
    /// A journal for `operation` by this process, now, placing `placing` plus whatever an
    /// interrupted earlier operation (`earlier`) may have placed and not yet recorded.
    pub fn begin<'a>(
        operation: Operation,
        placing: impl IntoIterator<Item = (&'a PathBuf, Placed)>,
        earlier: Option<&Journal>,
    ) -> Journal {
        let mut all: BTreeMap<String, Placed> =
            earlier.map(|j| j.placing.clone()).unwrap_or_default();
        all.extend(
            placing
                .into_iter()
                .map(|(t, p)| (metadata::encode_path(t), p)),
        );
        Journal {
            schema_version: STATE_SCHEMA_VERSION,
            operation,
            pid: std::process::id(),
            earlier_pids: earlier
                .map(|j| j.pids().take(64).collect())
                .unwrap_or_default(),
            started: crate::log::now(),
            placing: all,
        }
    }

    /// The processes whose temporary files this journal vouches for: its own, then those
    /// of the operations it took over.
    pub fn pids(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.pid).chain(self.earlier_pids.iter().copied())
    }

    /// The targets the journal names, as paths.
    pub fn targets(&self) -> impl Iterator<Item = (PathBuf, &Placed)> {
        self.placing
            .iter()
            .filter_map(|(k, v)| Some((metadata::decode_path(k)?, v)))
    }

    /// "an apply started 2026-11-21 10:15:02,123 (pid 4242) did not finish".
    pub fn unfinished(&self) -> String {
        format!(
            "{} {} started {} (pid {}) did not finish",
            article(self.operation),
            self.operation,
            self.started,
            self.pid
        )
    }
}

fn article(operation: Operation) -> &'static str {
    match operation {
        Operation::Apply => "an",
        Operation::Rollback => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Md5Digest;

    fn placed(entry: &str) -> Placed {
        Placed {
            md5: Md5Digest::from_hex("0123456789abcdef0123456789abcdef").unwrap(),
            entry: entry.to_string(),
        }
    }

    #[test]
    fn a_new_journal_keeps_what_an_interrupted_one_may_have_placed() {
        let a = PathBuf::from("a_1.0.jar");
        let b = PathBuf::from("b_1.0.jar");
        let earlier = Journal::begin(Operation::Apply, [(&a, placed("patch0001"))], None);
        let journal = Journal::begin(
            Operation::Apply,
            [(&b, placed("patch0002"))],
            Some(&earlier),
        );
        let targets: Vec<PathBuf> = journal.targets().map(|(t, _)| t).collect();
        assert_eq!(targets, vec![a, b]);
    }

    #[test]
    fn it_round_trips_through_json_and_names_the_operation() {
        let journal = Journal::begin(Operation::Rollback, [], None);
        let parsed: Journal = metadata::parse_json(&metadata::render_json(&journal)).unwrap();
        assert_eq!(parsed, journal);
        assert!(
            parsed
                .unfinished()
                .starts_with(&format!("a rollback started {}", journal.started))
        );
    }
}
