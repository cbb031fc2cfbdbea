//! Planner unit tests: synthetic discoveries and trees, no filesystem.

use super::*;
use crate::discover::{Entry, SourceFile};
use crate::metadata::{Placed, STATE_SCHEMA_VERSION};
use std::path::Path;

/// The digest of `text` (test fixtures use short texts as file contents).
pub(crate) fn md5(text: &str) -> Md5Digest {
    Md5Digest::of_bytes(text.as_bytes())
}

fn entry(name: &str, kind: EntryKind, files: &[(&str, &str)]) -> Entry {
    entry_in("", name, kind, files)
}

/// An entry named `name` in the directory `parent`, whose files are `(target, content)`.
pub(crate) fn entry_in(parent: &str, name: &str, kind: EntryKind, files: &[(&str, &str)]) -> Entry {
    Entry {
        name: name.to_string(),
        kind,
        dir: PathBuf::from(parent).join(name),
        files: files
            .iter()
            .map(|(target, content)| SourceFile {
                target: Target::from(*target),
                source: PathBuf::from(name).join(target),
                own_name: PathBuf::from(target),
                md5: md5(content),
                size: content.len() as u64,
            })
            .collect(),
    }
}

/// A plugins or backup tree of `(target, content)` files, every digest read.
pub(crate) fn tree(files: &[(&str, &str)]) -> Listing {
    files
        .iter()
        .map(|(t, c)| (Target::from(*t), present(c)))
        .collect()
}

/// A file holding `content`, its digest read.
pub(crate) fn present(content: &str) -> Present {
    Present {
        size: content.len() as u64,
        md5: Some(md5(content)),
    }
}

fn discovery(service_pack: Option<Entry>, patches: Vec<Entry>) -> Discovery {
    Discovery {
        service_pack,
        patches,
        backup_present: true,
        ..Discovery::default()
    }
}

fn kinds(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.actions
        .iter()
        .map(|a| {
            let kind = match a.kind {
                ActionKind::Write { .. } => "write",
                ActionKind::Restore { .. } => "restore",
                ActionKind::Archive => "archive",
            };
            (a.target.display().to_string(), kind)
        })
        .collect()
}

#[test]
fn digests_are_read_only_where_sizes_agree() {
    // Sizes: "sp-core" 7 vs "core" 4; "p3-ui" 5 vs "ui-2" 4 in plugins, "ui-1" 4 in the backup;
    // "same" 4 both; "gone" was placed by an earlier apply and is provided no more.
    let d = discovery(
        Some(entry(
            "servicepack001",
            EntryKind::ServicePack,
            &[("core_1.jar", "sp-core"), ("same_1.jar", "same")],
        )),
        vec![entry(
            "patch0003",
            EntryKind::Patch,
            &[("ui_1.jar", "p3-ui")],
        )],
    );
    let unread = |files: &[(&str, &str)]| {
        let mut tree = tree(files);
        tree.values_mut().for_each(|f| f.md5 = None);
        tree
    };
    let mut observed = Observed {
        plugins: unread(&[
            ("core_1.jar", "core"),
            ("ui_1.jar", "ui-2"),
            ("same_1.jar", "same"),
            ("gone_1.jar", "gone"),
        ]),
        backup: Some(unread(&[
            ("core_1.jar", "core"),
            ("ui_1.jar", "ui-1"),
            ("gone_1.jar", "gone"),
        ])),
        recorded: Recorded::default(),
    };
    observed.recorded.state = Some(State {
        schema_version: STATE_SCHEMA_VERSION,
        placed: BTreeMap::from([(
            "gone_1.jar".to_string(),
            Placed {
                md5: md5("gone"),
                entry: "patch0002".into(),
            },
        )]),
    });
    let needed = |purpose, observed: &Observed| {
        digests_needed(purpose, &d, observed)
            .into_iter()
            .map(|(tree, t)| (tree, t.display().to_string()))
            .collect::<Vec<_>>()
    };
    // apply: core differs from its provider by size, and plugins' core is the backup's
    // size: both read to know whether the old content is kept elsewhere. ui is read on
    // both sides for the same reason; same equals its provider's size; gone will be
    // restored from the backup, which must be read, and compared with plugins.
    assert_eq!(
        needed(Purpose::Apply, &observed),
        [
            (Tree::Plugins, "core_1.jar".into()),
            (Tree::Backup, "core_1.jar".into()),
            (Tree::Plugins, "gone_1.jar".into()),
            (Tree::Backup, "gone_1.jar".into()),
            (Tree::Plugins, "same_1.jar".into()),
            (Tree::Plugins, "ui_1.jar".into()),
            (Tree::Backup, "ui_1.jar".into()),
        ]
    );
    // rollback: every backup copy it may restore, and plugins' files of the same size.
    assert_eq!(
        needed(Purpose::Rollback, &observed),
        [
            (Tree::Plugins, "core_1.jar".into()),
            (Tree::Backup, "core_1.jar".into()),
            (Tree::Plugins, "gone_1.jar".into()),
            (Tree::Backup, "gone_1.jar".into()),
            (Tree::Plugins, "ui_1.jar".into()),
            (Tree::Backup, "ui_1.jar".into()),
        ]
    );
    // Without a backup, only what a provider's size matches is read.
    observed.backup = None;
    assert_eq!(
        needed(Purpose::Apply, &observed),
        [(Tree::Plugins, "same_1.jar".into())]
    );
}

#[test]
fn first_apply_backs_up_and_writes_what_differs() {
    let d = discovery(
        Some(entry(
            "servicepack001",
            EntryKind::ServicePack,
            &[("core_1.jar", "sp-core"), ("new_1.jar", "sp-new")],
        )),
        vec![entry(
            "patch0003",
            EntryKind::Patch,
            &[("ui_1.jar", "p3-ui"), ("same_1.jar", "same")],
        )],
    );
    let observed = Observed {
        plugins: tree(&[
            ("core_1.jar", "core"),
            ("ui_1.jar", "ui"),
            ("same_1.jar", "same"),
            ("other_1.jar", "o"),
        ]),
        backup: None,
        recorded: Recorded::default(),
    };
    let plan = plan_apply(&d, &observed);
    assert!(plan.create_backup);
    assert_eq!(
        kinds(&plan),
        [
            ("core_1.jar".into(), "write"),
            ("new_1.jar".into(), "write"),
            ("ui_1.jar".into(), "write")
        ]
    );
    assert_eq!(plan.unchanged, [Path::new("same_1.jar")]);
    assert!(
        plan.actions.iter().all(|a| !a.keep_old),
        "plugins content is in the new backup"
    );
    assert_eq!(
        plan.events,
        [
            Event::NewServicePack("servicepack001".into()),
            Event::NewPatch("patch0003".into())
        ]
    );
    assert_eq!(
        plan.applied_list,
        ["servicepack001", "patch0000", "patch0003"]
    );
    assert!(plan.foreign.is_empty());
}

#[test]
fn later_entries_win() {
    let d = discovery(
        Some(entry(
            "servicepack001",
            EntryKind::ServicePack,
            &[("core_1.jar", "sp")],
        )),
        vec![
            entry("patch0003", EntryKind::Patch, &[("core_1.jar", "p3")]),
            entry("patch0004", EntryKind::Patch, &[("core_1.jar", "p4")]),
        ],
    );
    let observed = Observed {
        plugins: tree(&[("core_1.jar", "orig")]),
        backup: None,
        ..Observed::default()
    };
    let plan = plan_apply(&d, &observed);
    assert_eq!(plan.provided[Path::new("core_1.jar")].entry, "patch0004");
    assert_eq!(plan.provided[Path::new("core_1.jar")].md5, md5("p4"));
    assert_eq!(plan.actions.len(), 1);
}

fn applied_state(entries: &[(&str, &str, &str)]) -> Recorded {
    let mut state = State {
        schema_version: STATE_SCHEMA_VERSION,
        ..State::default()
    };
    let mut jars = JarList::default();
    let mut applied = vec!["patch0000".to_string()];
    for (target, content, entry) in entries {
        state.placed.insert(
            target.to_string(),
            Placed {
                md5: md5(content),
                entry: entry.to_string(),
            },
        );
        jars.jars.insert(Target::from(*target), md5(content));
        if !applied.contains(&entry.to_string()) {
            applied.push(entry.to_string());
        }
    }
    Recorded {
        applied_44: Some(applied),
        jars: Some(jars),
        state: Some(state),
        ..Recorded::default()
    }
}

#[test]
fn no_change_writes_nothing_and_logs_no_event() {
    let d = discovery(
        None,
        vec![entry("patch0003", EntryKind::Patch, &[("ui_1.jar", "p3")])],
    );
    let observed = Observed {
        plugins: tree(&[("ui_1.jar", "p3"), ("core_1.jar", "core")]),
        backup: Some(tree(&[("ui_1.jar", "ui"), ("core_1.jar", "core")])),
        recorded: applied_state(&[("ui_1.jar", "p3", "patch0003")]),
    };
    let plan = plan_apply(&d, &observed);
    assert!(!plan.writes_plugins());
    assert!(plan.events.is_empty(), "{:?}", plan.events);
}

#[test]
fn removing_a_patch_restores_replaced_and_archives_added() {
    // patch0003 replaced ui and added extra; it is gone now.
    let d = discovery(None, vec![]);
    let observed = Observed {
        plugins: tree(&[
            ("ui_1.jar", "p3"),
            ("extra_1.jar", "p3-extra"),
            ("core_1.jar", "core"),
        ]),
        backup: Some(tree(&[("ui_1.jar", "ui"), ("core_1.jar", "core")])),
        recorded: applied_state(&[
            ("ui_1.jar", "p3", "patch0003"),
            ("extra_1.jar", "p3-extra", "patch0003"),
        ]),
    };
    let plan = plan_apply(&d, &observed);
    assert_eq!(
        kinds(&plan),
        [
            ("extra_1.jar".into(), "archive"),
            ("ui_1.jar".into(), "restore")
        ]
    );
    assert!(
        plan.actions.iter().all(|a| a.keep_old),
        "patched content is not in the backup: keep it"
    );
    assert_eq!(plan.events, [Event::Reverted("patch0003".into())]);
    assert_eq!(plan.applied_list, ["patch0000"]);
}

#[test]
fn a_file_removed_from_an_applied_patch_is_noticed() {
    let d = discovery(
        None,
        vec![entry("patch0003", EntryKind::Patch, &[("ui_1.jar", "p3")])],
    );
    let observed = Observed {
        plugins: tree(&[("ui_1.jar", "p3"), ("extra_1.jar", "p3-extra")]),
        backup: Some(tree(&[("ui_1.jar", "ui")])),
        recorded: applied_state(&[
            ("ui_1.jar", "p3", "patch0003"),
            ("extra_1.jar", "p3-extra", "patch0003"),
        ]),
    };
    let plan = plan_apply(&d, &observed);
    assert_eq!(kinds(&plan), [("extra_1.jar".into(), "archive")]);
    assert_eq!(plan.events, [Event::Removed("extra_1.jar".into())]);
}

#[test]
fn a_changed_and_an_added_file_in_an_applied_patch_are_events() {
    let d = discovery(
        None,
        vec![entry(
            "patch0003",
            EntryKind::Patch,
            &[("ui_1.jar", "p3-v2"), ("more_1.jar", "m")],
        )],
    );
    let observed = Observed {
        plugins: tree(&[("ui_1.jar", "p3")]),
        backup: Some(tree(&[("ui_1.jar", "ui")])),
        recorded: applied_state(&[("ui_1.jar", "p3", "patch0003")]),
    };
    let plan = plan_apply(&d, &observed);
    assert_eq!(
        plan.events,
        [
            Event::Added("more_1.jar".into()),
            Event::Updated("ui_1.jar".into())
        ]
    );
    assert_eq!(
        kinds(&plan),
        [("more_1.jar".into(), "write"), ("ui_1.jar".into(), "write")]
    );
    let ui = plan
        .actions
        .iter()
        .find(|a| a.target == Path::new("ui_1.jar"))
        .unwrap();
    assert!(ui.keep_old, "the old patched ui exists nowhere else");
}

#[test]
fn foreign_files_are_left_alone_and_reported() {
    let d = discovery(None, vec![]);
    let observed = Observed {
        plugins: tree(&[("core_1.jar", "core"), ("dropin_1.jar", "x")]),
        backup: Some(tree(&[("core_1.jar", "core")])),
        recorded: applied_state(&[]),
    };
    let plan = plan_apply(&d, &observed);
    assert!(plan.actions.is_empty());
    assert_eq!(plan.foreign, [Path::new("dropin_1.jar")]);
}

#[test]
fn swapping_the_service_pack_is_reverted_plus_new() {
    let d = discovery(
        Some(entry(
            "servicepack002",
            EntryKind::ServicePack,
            &[("core_1.jar", "sp2")],
        )),
        vec![],
    );
    let observed = Observed {
        plugins: tree(&[("core_1.jar", "sp1")]),
        backup: Some(tree(&[("core_1.jar", "core")])),
        recorded: Recorded {
            applied_44: Some(vec!["servicepack001".into(), "patch0000".into()]),
            ..applied_state(&[("core_1.jar", "sp1", "servicepack001")])
        },
    };
    let plan = plan_apply(&d, &observed);
    assert_eq!(
        plan.events,
        [
            Event::Reverted("servicepack001".into()),
            Event::NewServicePack("servicepack002".into())
        ]
    );
    assert_eq!(kinds(&plan), [("core_1.jar".into(), "write")]);
}

#[test]
fn rollback_restores_touched_archives_added_and_keeps_foreign() {
    let d = discovery(
        None,
        vec![entry(
            "patch0003",
            EntryKind::Patch,
            &[("ui_1.jar", "p3"), ("extra_1.jar", "e")],
        )],
    );
    let observed = Observed {
        plugins: tree(&[
            ("ui_1.jar", "p3"),
            ("extra_1.jar", "e"),
            ("core_1.jar", "core"),
            ("dropin_1.jar", "d"),
        ]),
        backup: Some(tree(&[("ui_1.jar", "ui"), ("core_1.jar", "core")])),
        recorded: applied_state(&[
            ("ui_1.jar", "p3", "patch0003"),
            ("extra_1.jar", "e", "patch0003"),
        ]),
    };
    let plan = plan_rollback(&d, &observed, vec![PathBuf::from("patch0003")]).unwrap();
    assert_eq!(
        kinds(&plan),
        [
            ("extra_1.jar".into(), "archive"),
            ("ui_1.jar".into(), "restore")
        ]
    );
    assert_eq!(plan.foreign, [Path::new("dropin_1.jar")]);
    assert_eq!(plan.applied_list, ["patch0000"]);
    assert!(plan.provided.is_empty());
}

#[test]
fn rollback_without_backup_is_refused() {
    let observed = Observed {
        plugins: tree(&[("a_1.jar", "a")]),
        backup: None,
        ..Observed::default()
    };
    assert!(plan_rollback(&discovery(None, vec![]), &observed, vec![]).is_none());
}

#[test]
fn runtime_applied_tree_without_our_state_uses_the_jar_list() {
    // The server applied patch0003 before; carbon-patch has no state file of its own.
    let d = discovery(None, vec![]);
    let mut recorded = applied_state(&[("extra_1.jar", "e", "patch0003")]);
    recorded.state = None;
    let observed = Observed {
        plugins: tree(&[("extra_1.jar", "e")]),
        backup: Some(tree(&[])),
        recorded,
    };
    let plan = plan_apply(&d, &observed);
    assert_eq!(kinds(&plan), [("extra_1.jar".into(), "archive")]);
    // Without our state the entry that placed it is unknown, so the removal is logged too.
    assert_eq!(
        plan.events,
        [
            Event::Reverted("patch0003".into()),
            Event::Removed("extra_1.jar".into())
        ]
    );
}

#[test]
fn event_wording_is_the_runtimes() {
    assert_eq!(
        Event::NewServicePack("servicepack001".into()).to_string(),
        "New service pack available - servicepack001"
    );
    assert_eq!(
        Event::NewPatch("patch0003".into()).to_string(),
        "New patch available - patch0003"
    );
    assert_eq!(
        Event::Reverted("patch0002".into()).to_string(),
        "patch0002 has been reverted"
    );
    assert_eq!(
        Event::Updated("a_1.jar".into()).to_string(),
        "a_1.jar has been updated"
    );
    assert_eq!(
        Event::Added("a_1.jar".into()).to_string(),
        "a_1.jar has been added"
    );
}
