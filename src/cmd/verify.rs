//! `verify` (SPEC §7): read-only; compares plugins, the backup and the metadata with the
//! patch level and names every problem, in the runtime's words where it has them.

use std::path::Path;

use crate::Output;
use crate::cli::Config;
use crate::digest::Md5Digest;
use crate::error::Result;
use crate::exit_codes;
use crate::guard;
use crate::layout::Layout;
use crate::plan::{ActionKind, Event, Plan, Target, plan_apply};
use crate::report::{self, Problem};
use crate::survey::Survey;

/// Runs `verify`.
pub fn run(config: &Config) -> Result<Output> {
    let layout = super::layout(config)?;
    // Held while reading, so an apply or rollback cannot change the tree under us.
    let _shared = guard::shared(&layout, config.wait)?;
    let survey = super::resurvey(config, &layout)?;
    let plan = plan_apply(&survey.discovery, &survey.observed);
    let mut problems = problems(&layout, &survey, &plan);
    let installed = crate::installed::load(&layout)?;
    problems.extend(
        crate::installed::problems(&layout, &installed)
            .into_iter()
            .map(|(subject, message)| Problem::resource(subject, message)),
    );
    let code = if problems.is_empty() {
        exit_codes::SUCCESS
    } else {
        exit_codes::PROBLEMS
    };
    let text = report::verify(
        config,
        &survey.discovery,
        &plan,
        &survey.observed,
        &problems,
    );
    Ok(Output {
        text,
        warnings: survey.warnings,
        code,
    })
}

/// The runtime's message for a bundle whose plugins copy is not the provider's
/// (`PatchUtils.checkMD5Checksum`): no space before the parenthesis, one after `MD5:`.
pub fn not_applied(target: &Path, md5: Md5Digest, entry: &str) -> String {
    format!(
        "{}(MD5: {md5}) has been patched with {entry}, but not applied",
        target.display()
    )
}

/// Every way the tree differs from its patch level; empty when all holds.
pub fn problems(layout: &Layout, survey: &Survey, plan: &Plan) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(journal) = &survey.observed.recorded.journal {
        problems.push(Problem::unfinished(format!(
            "{}: run `carbon-patch {}` to finish it",
            journal.unfinished(),
            journal.operation
        )));
    }
    if survey.observed.backup.is_none() {
        problems.push(Problem::backup(format!(
            "the backup `{}` is missing",
            layout.display(&layout.backup)
        )));
    }
    problems.extend(survey.backup_problems.iter().cloned().map(Problem::backup));
    for event in &plan.events {
        match event {
            Event::NewServicePack(name) | Event::NewPatch(name) => {
                problems.push(Problem::entry(
                    "pending",
                    name,
                    format!("{name} is pending: it has not been applied"),
                ));
            }
            Event::Reverted(name) => {
                let present = [&layout.patches, &layout.servicepacks]
                    .iter()
                    .any(|d| d.join(name).is_dir());
                problems.push(Problem::entry(
                    "reverted",
                    name,
                    if present {
                        format!("{name} was applied, but it is no longer in the apply order")
                    } else {
                        format!("{name} was applied, but its directory is gone")
                    },
                ));
            }
            Event::Updated(_) | Event::Added(_) | Event::Removed(_) => {}
        }
    }
    for action in &plan.actions {
        let target = action.target.display();
        problems.push(Problem::bundle(
            &action.target,
            match &action.kind {
                ActionKind::Write { entry, md5, .. } => not_applied(&action.target, *md5, entry),
                ActionKind::Restore { .. } => {
                    format!("{target} differs from the backup, and no patch provides it any more")
                }
                ActionKind::Archive => {
                    format!(
                        "{target} was placed by an earlier apply, and no patch provides it any more"
                    )
                }
            },
        ));
    }
    let explained = plan
        .events
        .iter()
        .any(|e| e.is_pending() || matches!(e, Event::Reverted(_)));
    if !explained {
        problems.extend(
            metadata_problems(layout, survey, plan)
                .into_iter()
                .map(Problem::metadata),
        );
    }
    problems
}

/// Disagreements between the metadata files and the patch level.
fn metadata_problems(layout: &Layout, survey: &Survey, plan: &Plan) -> Vec<String> {
    let recorded = &survey.observed.recorded;
    let mut problems = survey.metadata_problems.clone();
    let expected: Vec<(&Path, Md5Digest)> = plan
        .provided
        .iter()
        .map(|(t, p)| (t.as_path(), p.md5))
        .collect();
    let matches = recorded.jars.as_ref().is_some_and(|list| {
        list.jars.len() == expected.len()
            && expected
                .iter()
                .all(|(t, md5)| list.jars.get(&Target::from(*t)) == Some(md5))
    });
    if !matches && (recorded.jars.is_some() || !expected.is_empty()) {
        problems.push(format!(
            "`{}` does not match the bundles the patches provide",
            layout.display(&layout.jar_list)
        ));
    }
    for (path, list) in [
        (&layout.applied_list_44, &recorded.applied_44),
        (&layout.applied_list_42, &recorded.applied_42),
    ] {
        if list.as_ref() != Some(&plan.applied_list) && survey.observed.backup.is_some() {
            problems.push(format!(
                "`{}` does not list the applied entries ({})",
                layout.display(path),
                plan.applied_list.join(", ")
            ));
        }
    }
    problems
}
