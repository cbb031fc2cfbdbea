//! The JSON form: one document on stdout per run, with `schema_version`, the command, the
//! product home, the exit code, the warnings and the command's own fields (docs/json.md).

use serde::Serialize;

use super::{Body, ProductHome, Report, SCHEMA_VERSION};
use crate::cli::Config;
use crate::error::Error;

#[derive(Serialize)]
struct Document<'a, T: Serialize> {
    schema_version: u32,
    command: &'a str,
    product_home: &'a ProductHome,
    /// Who ran: the product's owner when carbon-patch, started as root, switched to it.
    run_as: crate::privilege::RunAs,
    exit_code: u8,
    warnings: &'a [String],
    #[serde(flatten)]
    body: &'a T,
}

fn to_text<T: Serialize>(value: &T) -> String {
    // Plain structs of strings, numbers and digests: serialising cannot fail.
    let mut text = serde_json::to_string_pretty(value).expect("report serialises");
    text.push('\n');
    text
}

/// The document of a finished run.
pub fn render(report: &Report, warnings: &[String], code: u8) -> String {
    fn doc<'a, T: Serialize>(
        report: &'a Report,
        warnings: &'a [String],
        code: u8,
        body: &'a T,
    ) -> String {
        to_text(&Document {
            schema_version: SCHEMA_VERSION,
            command: report.command,
            product_home: &report.product_home,
            run_as: crate::privilege::current(),
            exit_code: code,
            warnings,
            body,
        })
    }
    match &report.body {
        Body::Apply(b) => doc(report, warnings, code, b),
        Body::Verify(b) => doc(report, warnings, code, b),
        Body::Rollback(b) => doc(report, warnings, code, b),
        Body::Status(b) => doc(report, warnings, code, b.as_ref()),
        Body::History(b) => doc(report, warnings, code, b),
        Body::Archives(b) => doc(report, warnings, code, b.as_ref()),
        Body::Pack(b) => doc(report, warnings, code, b.as_ref()),
        Body::Drift(b) => doc(report, warnings, code, b.as_ref()),
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: ErrorInfo,
}

#[derive(Serialize)]
struct ErrorInfo {
    message: String,
    causes: Vec<String>,
    hint: String,
}

/// The document of a run that stopped with an error (exit 2 or 3): the same envelope, with
/// `error` (message, causes, hint) instead of the command's fields.
pub fn error_document(config: &Config, error: &Error, warnings: &[String]) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    to_text(&Document {
        schema_version: SCHEMA_VERSION,
        command: config.command.name(),
        product_home: &super::product_home(config),
        run_as: crate::privilege::current(),
        exit_code: error.exit_code(),
        warnings,
        body: &ErrorBody {
            error: ErrorInfo {
                message: error.to_string(),
                causes,
                hint: error.hint().to_string(),
            },
        },
    })
}
