//! The JUnit XML form of `verify`, so CI systems show a patch that is not applied as a failing
//! test: one test case per bundle the patch level provides, per entry of the apply order, and
//! per check (backup, metadata).

use std::fmt::Write;

use super::{Problem, VerifyReport};
use crate::cli::Config;
use crate::error::Error;

struct Case {
    class: &'static str,
    name: String,
    failures: Vec<(&'static str, String)>,
}

/// The JUnit document of a verification.
pub fn verify(report: &VerifyReport) -> String {
    let about = |check: &str, subject: &str| -> Vec<(&'static str, String)> {
        report
            .problems
            .iter()
            .filter(|p| p.check == check && p.subject.as_deref() == Some(subject))
            .map(|p: &Problem| (p.check, p.message.clone()))
            .collect()
    };
    let mut bundles: Vec<Case> = report
        .bundles
        .iter()
        .map(|b| Case {
            class: "bundles",
            name: format!("{} from {}", b.target, b.entry),
            failures: about("bundle", &b.target),
        })
        .collect();
    // Bundles no entry provides any more, but that plugins still hold wrongly.
    for problem in report.problems.iter().filter(|p| p.check == "bundle") {
        let subject = problem.subject.as_deref().unwrap_or_default();
        if !report.bundles.iter().any(|b| b.target == subject) {
            bundles.push(Case {
                class: "bundles",
                name: subject.to_string(),
                failures: vec![("bundle", problem.message.clone())],
            });
        }
    }
    let mut entries: Vec<Case> = report
        .apply_order
        .iter()
        .map(|e| Case {
            class: "entries",
            name: e.name.clone(),
            failures: about("pending", &e.name),
        })
        .collect();
    for problem in report.problems.iter().filter(|p| p.check == "reverted") {
        entries.push(Case {
            class: "entries",
            name: problem.subject.clone().unwrap_or_default(),
            failures: vec![("reverted", problem.message.clone())],
        });
    }
    let check = |name: &str| Case {
        class: "checks",
        name: name.to_string(),
        failures: report
            .problems
            .iter()
            .filter(|p| p.check == name)
            .map(|p| (p.check, p.message.clone()))
            .collect(),
    };
    let checks = vec![check("backup"), check("metadata")];
    document(&[
        ("bundles", bundles),
        ("entries", entries),
        ("checks", checks),
    ])
}

/// A JUnit document for a verify that could not run: one test case with the error.
pub fn error_document(_config: &Config, error: &Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(message, ": {cause}");
        source = cause.source();
    }
    let _ = write!(message, " (hint: {})", error.hint());
    document(&[(
        "run",
        vec![Case {
            class: "run",
            name: "carbon-patch verify".into(),
            failures: vec![("error", message)],
        }],
    )])
}

fn document(suites: &[(&str, Vec<Case>)]) -> String {
    let tests: usize = suites.iter().map(|(_, cases)| cases.len()).sum();
    let failures = |cases: &[Case]| cases.iter().filter(|c| !c.failures.is_empty()).count();
    let failed: usize = suites.iter().map(|(_, cases)| failures(cases)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"carbon-patch verify\" tests=\"{tests}\" failures=\"{failed}\" errors=\"0\">"
    );
    for (suite, cases) in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
            cases.len(),
            failures(cases)
        );
        for case in cases {
            let head = format!(
                "    <testcase classname=\"carbon-patch.{}\" name=\"{}\"",
                case.class,
                escape(&case.name)
            );
            if case.failures.is_empty() {
                let _ = writeln!(out, "{head}/>");
                continue;
            }
            let _ = writeln!(out, "{head}>");
            for (kind, message) in &case.failures {
                let message = escape(message);
                let _ = writeln!(
                    out,
                    "      <failure type=\"{kind}\" message=\"{message}\">{message}</failure>"
                );
            }
            let _ = writeln!(out, "    </testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escapes text for an XML attribute or element; characters XML 1.0 cannot hold at all
/// (most control characters) become U+FFFD.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_xml_well_formed() {
        assert_eq!(
            escape("a<b>&\"c'\u{1}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\u{fffd}"
        );
    }
}
