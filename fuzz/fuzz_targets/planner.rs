//! Fuzz target: the planner (SPEC §5, §8, §12) on structured inputs decoded from the fuzz
//! bytes with `arbitrary`: any discovery, plugins, backup and (damaged, lying) metadata.
//! No panic; carried out on a model of plugins the plan reaches the desired state, touches
//! only what it may, keeps content that exists nowhere else, and is idempotent.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use arbitrary::Arbitrary;
use carbon_patch::digest::Md5Digest;
use carbon_patch::discover::{Discovery, Entry, EntryKind, SourceFile};
use carbon_patch::metadata::{JarList, Placed, STATE_SCHEMA_VERSION, State, encode_path};
use carbon_patch::plan::{ActionKind, Observed, Plan, Present, Recorded, Target, plan_apply};
use libfuzzer_sys::fuzz_target;

const TARGETS: &[&str] = &[
    "a_1.jar",
    "b_1.jar",
    "c_1.jar",
    "dir/d.class",
    "e.txt",
    "f_1.jar",
];
const NAMES: &[&str] = &[
    "servicepack001",
    "servicepack9",
    "patch0000",
    "patch0001",
    "patch0002",
    "patch10000",
    "patch2000",
    "",
    "patch00",
];

/// Small numbers pick targets, contents and names, so inputs collide often.
#[derive(Debug, Arbitrary)]
struct Input {
    pack: Option<Vec<(u8, u8)>>,
    patches: BTreeMap<u8, Vec<(u8, u8)>>,
    plugins: Vec<(u8, u8)>,
    backup: Option<Vec<(u8, u8)>>,
    applied_44: Option<Vec<u8>>,
    applied_42: Option<Vec<u8>>,
    jars: Option<Vec<(u8, u8)>>,
    state: Option<Vec<(u8, u8, u8)>>,
}

fn target(n: u8) -> PathBuf {
    PathBuf::from(TARGETS[usize::from(n) % TARGETS.len()])
}

fn name(n: u8) -> &'static str {
    NAMES[usize::from(n) % NAMES.len()]
}

fn md5(n: u8) -> Md5Digest {
    Md5Digest::of_bytes(&[n % 5])
}

/// A file of one byte whose digest is `md5`, read (every content here has the same size,
/// so the planner always compares digests).
fn present(md5: Md5Digest) -> Present {
    Present {
        size: 1,
        md5: Some(md5),
    }
}

fn tree(files: &[(u8, u8)]) -> BTreeMap<Target, Present> {
    files
        .iter()
        .map(|&(t, c)| (Target::from(target(t)), present(md5(c))))
        .collect()
}

fn entry(name: &str, kind: EntryKind, files: &[(u8, u8)]) -> Entry {
    // One file per target, as discovery guarantees (two are refused as a clash).
    let files: BTreeMap<PathBuf, u8> = files.iter().map(|&(t, c)| (target(t), c)).collect();
    Entry {
        name: name.to_string(),
        kind,
        dir: PathBuf::from(name),
        files: files
            .into_iter()
            .map(|(t, c)| SourceFile {
                source: PathBuf::from(name).join(&t),
                own_name: t.clone(),
                target: Target::from(t),
                md5: md5(c),
                size: 1,
            })
            .collect(),
    }
}

type Model = BTreeMap<Target, Md5Digest>;

fn model(tree: &BTreeMap<Target, Present>) -> Model {
    tree.iter()
        .filter_map(|(t, p)| Some((t.clone(), p.md5?)))
        .collect()
}

fn carry_out(plan: &Plan, plugins: &Model, backup: &Model) -> Model {
    let mut after = plugins.clone();
    let mut seen = BTreeSet::new();
    for action in &plan.actions {
        let t = &action.target;
        assert!(seen.insert(t.clone()), "{t:?} planned twice");
        let old = plugins.get(t).copied();
        assert_eq!(action.old.and_then(|o| o.md5), old);
        assert_eq!(
            action.keep_old,
            old.is_some() && old != backup.get(t).copied()
        );
        match &action.kind {
            ActionKind::Write { md5, .. } => {
                assert_eq!(plan.provided.get(t).map(|p| p.md5), Some(*md5));
                after.insert(t.clone().into(), *md5);
            }
            ActionKind::Restore { md5 } => {
                let copy = *backup.get(t).expect("a restore reads the backup's copy");
                assert!(md5.is_none_or(|m| m == copy));
                after.insert(t.clone().into(), copy);
            }
            ActionKind::Archive => assert!(after.remove(t).is_some(), "archive of a missing {t:?}"),
        }
    }
    after
}

fuzz_target!(|input: Input| {
    let patches: BTreeMap<&str, &Vec<(u8, u8)>> = input
        .patches
        .iter()
        .map(|(n, f)| (PATCHES_ONLY[usize::from(*n) % PATCHES_ONLY.len()], f))
        .collect();
    let discovery = Discovery {
        service_pack: input
            .pack
            .as_ref()
            .map(|f| entry("servicepack001", EntryKind::ServicePack, f)),
        patches: patches
            .iter()
            .map(|(n, f)| entry(n, EntryKind::Patch, f))
            .collect(),
        backup_present: input.backup.is_some(),
        ..Discovery::default()
    };
    let list = |l: &Option<Vec<u8>>| {
        l.as_ref()
            .map(|l| l.iter().map(|&n| name(n).to_string()).collect())
    };
    let observed = Observed {
        plugins: tree(&input.plugins),
        backup: input.backup.as_deref().map(tree),
        recorded: Recorded {
            journal: None,
            applied_44: list(&input.applied_44),
            applied_42: list(&input.applied_42),
            jars: input.jars.as_deref().map(|j| JarList {
                jars: model(&tree(j)),
                damaged: Vec::new(),
            }),
            state: input.state.as_ref().map(|s| State {
                schema_version: STATE_SCHEMA_VERSION,
                placed: s
                    .iter()
                    .map(|&(t, c, e)| {
                        (
                            encode_path(&target(t)),
                            Placed {
                                md5: md5(c),
                                entry: name(e).to_string(),
                            },
                        )
                    })
                    .collect(),
            }),
        },
    };

    let plan = plan_apply(&discovery, &observed);
    let plugins = model(&observed.plugins);
    let backup = observed
        .backup
        .as_ref()
        .map_or_else(|| plugins.clone(), model);
    let after = carry_out(&plan, &plugins, &backup);
    let placed = observed.recorded.placed();
    let provided: Vec<Target> = plan.provided.keys().cloned().map(Target::from).collect();
    for t in after.keys().chain(plugins.keys()).chain(&provided) {
        if let Some(p) = plan.provided.get(t.as_path()) {
            assert_eq!(after.get(t), Some(&p.md5));
        } else if placed.contains_key(t) {
            assert_eq!(after.get(t), backup.get(t));
        } else {
            assert_eq!(
                after.get(t),
                plugins.get(t),
                "{t:?} is not the plan's to touch"
            );
        }
    }

    // Idempotent: what the apply records, read back, leaves nothing to do.
    let mut discovery = discovery;
    discovery.backup_present = true;
    let read_back = |m: &Model| m.iter().map(|(t, d)| (t.clone(), present(*d))).collect();
    let again = plan_apply(
        &discovery,
        &Observed {
            plugins: read_back(&after),
            backup: Some(read_back(&backup)),
            recorded: Recorded {
                journal: None,
                applied_44: Some(plan.applied_list.clone()),
                applied_42: Some(plan.applied_list.clone()),
                jars: Some(JarList {
                    jars: plan
                        .provided
                        .iter()
                        .map(|(t, p)| (Target::from(t.clone()), p.md5))
                        .collect(),
                    damaged: Vec::new(),
                }),
                state: Some(State {
                    schema_version: STATE_SCHEMA_VERSION,
                    placed: plan
                        .provided
                        .iter()
                        .map(|(t, p)| {
                            (
                                encode_path(t),
                                Placed {
                                    md5: p.md5,
                                    entry: p.entry.clone(),
                                },
                            )
                        })
                        .collect(),
                }),
            },
        },
    );
    assert!(
        again.actions.is_empty() && again.events.is_empty(),
        "{again:?}"
    );
});

/// Patch directory names (the backup is never a patch).
const PATCHES_ONLY: &[&str] = &["patch0001", "patch0002", "patch10000", "patch2000"];
