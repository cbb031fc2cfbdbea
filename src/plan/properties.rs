//! Property tests of the planner (issue 3 §4, the stable-Rust twin of
//! `fuzz/fuzz_targets/planner.rs`): random discoveries, plugins, backups and metadata
//! (damaged or lying included) never make it panic, and its plans keep SPEC §5 and §12:
//! carried out on a model of plugins they reach the desired state, touch nothing else,
//! never lose content that exists nowhere else, are idempotent, and a rollback after them
//! gives back the backup. Deterministic: a fixed seed, no failure files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use super::*;
use crate::discover::{Entry, SourceFile};
use crate::metadata::{self, Placed, STATE_SCHEMA_VERSION};

/// Every target a case can name: top-level bundles, a nested file, a plain file.
const TARGETS: &[&str] = &[
    "a_1.jar",
    "b_1.jar",
    "c_1.jar",
    "d_1.jar",
    "exploded_1.0/e.class",
    "f.txt",
];
/// Patch names, some of different lengths so byte-wise order matters.
const PATCHES: &[&str] = &[
    "patch0001",
    "patch0002",
    "patch0010",
    "patch10000",
    "patch2000",
];
const PACKS: &[&str] = &["servicepack001", "servicepack9"];
/// Names a damaged or hand-edited applied list may hold besides real ones.
const ODD_NAMES: &[&str] = &["patch0000", "patch00", "", "garbage \u{fffd}"];

/// Contents are told apart by a small variant number, so cases often share content.
const VARIANTS: u8 = 4;

/// Target index → content variant.
type Files = BTreeMap<usize, u8>;

fn md5_of(variant: u8) -> Md5Digest {
    Md5Digest::of_bytes(format!("content {variant}").as_bytes())
}

/// Variants 0 and 1 have one size, 2 and 3 another: sizes alone tell some contents apart,
/// not all, so plans meet both cases.
fn size_of(variant: u8) -> u64 {
    100 + u64::from(variant / 2)
}

/// The size of the variant with digest `md5`.
fn size_of_md5(md5: Md5Digest) -> u64 {
    (0..VARIANTS).find(|&v| md5_of(v) == md5).map_or(0, size_of)
}

/// Trees as a survey reads them for `purpose`: every digest dropped, then only those
/// [`digests_needed`] asks for read back.
fn as_surveyed(full: &Observed, discovery: &Discovery, purpose: Purpose) -> Observed {
    let mut lazy = full.clone();
    let unread = |tree: &mut Listing| {
        tree.values_mut().for_each(|file| file.md5 = None);
    };
    unread(&mut lazy.plugins);
    lazy.backup.iter_mut().for_each(unread);
    for (tree, target) in digests_needed(purpose, discovery, &lazy) {
        let (from, to) = match tree {
            Tree::Plugins => (Some(&full.plugins), Some(&mut lazy.plugins)),
            Tree::Backup => (full.backup.as_ref(), lazy.backup.as_mut()),
        };
        let md5 = from.and_then(|f| f.get(&target)).and_then(|f| f.md5);
        if let Some(file) = to.and_then(|t| t.get_mut(&target)) {
            file.md5 = md5;
        }
    }
    lazy
}

/// A model tree as a survey for `purpose` reads it.
fn surveyed(
    plugins: &Model,
    backup: Option<&Model>,
    recorded: Recorded,
    discovery: &Discovery,
    purpose: Purpose,
) -> Observed {
    let full = Observed {
        plugins: present(plugins),
        backup: backup.map(present),
        recorded,
    };
    as_surveyed(&full, discovery, purpose)
}

fn present(model: &Model) -> Listing {
    model
        .iter()
        .map(|(t, m)| {
            let file = Present {
                size: size_of_md5(*m),
                md5: Some(*m),
            };
            (t.clone(), file)
        })
        .collect()
}

fn files() -> impl Strategy<Value = Files> {
    proptest::collection::btree_map(0..TARGETS.len(), 0..VARIANTS, 0..=TARGETS.len())
}

fn names_pool() -> Vec<&'static str> {
    PATCHES
        .iter()
        .chain(PACKS)
        .chain(ODD_NAMES)
        .copied()
        .collect()
}

#[derive(Debug, Clone)]
struct Case {
    pack: Option<(usize, Files)>,
    /// Patch name → files; a BTreeMap of `String` iterates in byte-wise order, the apply order.
    patches: BTreeMap<String, Files>,
    plugins: Files,
    backup: Option<Files>,
    applied_44: Option<Vec<&'static str>>,
    applied_42: Option<Vec<&'static str>>,
    jars: Option<Files>,
    /// Target → (variant, entry name).
    state: Option<BTreeMap<usize, (u8, &'static str)>>,
}

fn case() -> impl Strategy<Value = Case> {
    let pool = names_pool();
    let name = proptest::sample::select(pool.clone());
    let list = proptest::option::of(proptest::collection::vec(name.clone(), 0..6));
    (
        proptest::option::of((0..PACKS.len(), files())),
        proptest::collection::btree_map(
            proptest::sample::select(PATCHES).prop_map(String::from),
            files(),
            0..4,
        ),
        files(),
        proptest::option::of(files()),
        list.clone(),
        list,
        proptest::option::of(files()),
        proptest::option::of(proptest::collection::btree_map(
            0..TARGETS.len(),
            (0..VARIANTS, name),
            0..=TARGETS.len(),
        )),
    )
        .prop_map(
            |(pack, patches, plugins, backup, applied_44, applied_42, jars, state)| Case {
                pack,
                patches,
                plugins,
                backup,
                applied_44,
                applied_42,
                jars,
                state,
            },
        )
}

fn entry(name: &str, kind: EntryKind, files: &Files) -> Entry {
    Entry {
        name: name.to_string(),
        kind,
        dir: PathBuf::from(name),
        files: files
            .iter()
            .map(|(&t, &v)| SourceFile {
                target: Target::from(TARGETS[t]),
                source: PathBuf::from(name).join(TARGETS[t]),
                own_name: PathBuf::from(TARGETS[t]),
                md5: md5_of(v),
                size: size_of(v),
            })
            .collect(),
    }
}

fn tree(files: &Files) -> Listing {
    files
        .iter()
        .map(|(&t, &v)| {
            (
                Target::from(TARGETS[t]),
                Present {
                    size: size_of(v),
                    md5: Some(md5_of(v)),
                },
            )
        })
        .collect()
}

/// A tree as target → digest, the model carried through the plan's actions.
type Model = BTreeMap<Target, Md5Digest>;

fn model(tree: &Listing) -> Model {
    tree.iter()
        .filter_map(|(t, p)| Some((t.clone(), p.md5?)))
        .collect()
}

impl Case {
    fn discovery(&self) -> Discovery {
        Discovery {
            service_pack: self
                .pack
                .as_ref()
                .map(|(n, f)| entry(PACKS[*n], EntryKind::ServicePack, f)),
            patches: self
                .patches
                .iter()
                .map(|(n, f)| entry(n, EntryKind::Patch, f))
                .collect(),
            backup_present: self.backup.is_some(),
            ..Discovery::default()
        }
    }

    fn observed(&self) -> Observed {
        let list = |l: &Option<Vec<&str>>| {
            l.as_ref()
                .map(|l| l.iter().map(|s| s.to_string()).collect())
        };
        Observed {
            plugins: tree(&self.plugins),
            backup: self.backup.as_ref().map(tree),
            recorded: Recorded {
                applied_44: list(&self.applied_44),
                applied_42: list(&self.applied_42),
                journal: None,
                jars: self.jars.as_ref().map(|j| JarList {
                    jars: model(&tree(j)),
                    damaged: Vec::new(),
                }),
                state: self.state.as_ref().map(|s| State {
                    schema_version: STATE_SCHEMA_VERSION,
                    placed: s
                        .iter()
                        .map(|(&t, &(v, e))| {
                            (
                                TARGETS[t].to_string(),
                                Placed {
                                    md5: md5_of(v),
                                    entry: e.to_string(),
                                },
                            )
                        })
                        .collect(),
                }),
            },
        }
    }
}

/// SPEC §5's overlay: the backup, then every entry of the apply order, later ones winning.
fn overlay(backup: &Model, discovery: &Discovery) -> Model {
    let mut desired = backup.clone();
    for entry in discovery.order() {
        for file in &entry.files {
            desired.insert(file.target.clone(), file.md5);
        }
    }
    desired
}

/// Carries `plan` out on `plugins`, checking each action against what it may do. `backup`
/// is the backup the actions restore from.
fn carry_out(
    plan: &Plan,
    discovery: &Discovery,
    plugins: &Model,
    backup: &Model,
) -> Result<Model, TestCaseError> {
    let mut after = plugins.clone();
    let mut seen = BTreeSet::new();
    let sources: BTreeMap<(&str, &Path), (&Path, Md5Digest)> = discovery
        .order()
        .flat_map(|e| {
            e.files.iter().map(move |f| {
                (
                    (e.name.as_str(), f.target.as_path()),
                    (f.source.as_path(), f.md5),
                )
            })
        })
        .collect();
    for action in &plan.actions {
        let target = &action.target;
        prop_assert!(seen.insert(target.clone()), "{target:?} planned twice");
        prop_assert!(
            target.is_relative()
                && target
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{target:?} would leave plugins"
        );
        let old = plugins.get(target).copied();
        prop_assert_eq!(
            action.old.map(|o| o.size),
            old.map(size_of_md5),
            "old size of {:?}",
            target
        );
        if let Some(read) = action.old.and_then(|o| o.md5) {
            prop_assert_eq!(Some(read), old, "old digest of {:?}", target);
        }
        prop_assert_eq!(
            action.keep_old,
            old.is_some() && old != backup.get(target).copied(),
            "content of {:?} that exists nowhere else must be kept",
            target
        );
        match &action.kind {
            ActionKind::Write { entry, source, md5 } => {
                let provider = sources.get(&(entry.as_str(), target.as_path()));
                prop_assert_eq!(
                    provider,
                    Some(&(source.as_path(), *md5)),
                    "a write copies a file its entry provides"
                );
                after.insert(target.clone().into(), *md5);
            }
            ActionKind::Restore { md5 } => {
                let copy = backup.get(target).copied();
                prop_assert!(
                    copy.is_some(),
                    "restore of {target:?}, which the backup lacks"
                );
                if let Some(read) = md5 {
                    prop_assert_eq!(copy, Some(*read), "restore from the backup");
                }
                after.extend(copy.map(|c| (target.clone().into(), c)));
            }
            ActionKind::Archive => {
                prop_assert!(
                    after.remove(target).is_some(),
                    "archive of {target:?}, which is not in plugins"
                );
            }
        }
    }
    for target in &plan.unchanged {
        prop_assert!(!seen.contains(target), "{target:?} unchanged and acted on");
    }
    Ok(after)
}

/// What an apply records for `plan` (SPEC §9), as the next run reads it.
fn recorded_after(plan: &Plan, applied: Vec<String>) -> Recorded {
    Recorded {
        applied_44: Some(applied.clone()),
        applied_42: Some(applied),
        journal: None,
        jars: Some(JarList {
            jars: plan
                .provided
                .iter()
                .map(|(t, p)| (t.clone().into(), p.md5))
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
                        metadata::encode_path(t),
                        Placed {
                            md5: p.md5,
                            entry: p.entry.clone(),
                        },
                    )
                })
                .collect(),
        }),
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x0ca7_b0c5_0005),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn apply_reaches_the_desired_state_and_touches_nothing_else(case in case()) {
        let discovery = case.discovery();
        let observed = as_surveyed(&case.observed(), &discovery, Purpose::Apply);
        let plan = plan_apply(&discovery, &observed);
        let full = case.observed();
        let plugins = model(&full.plugins);
        // Without a backup, the one apply makes is a copy of plugins as they are.
        prop_assert_eq!(plan.create_backup, observed.backup.is_none());
        let backup = full.backup.as_ref().map_or_else(|| plugins.clone(), model);
        let after = carry_out(&plan, &discovery, &plugins, &backup)?;

        let desired = overlay(&backup, &discovery);
        let placed = observed.recorded.placed();
        for target in after.keys().chain(plugins.keys()).chain(desired.keys()) {
            let provided = plan.provided.contains_key(target.as_path());
            if provided || placed.contains_key(target) {
                // What the apply order provides, or (placed before, provided no more) the
                // backup's version or nothing.
                prop_assert_eq!(after.get(target), desired.get(target), "{:?}", target);
            } else {
                // Not ours to touch: backup files nothing patches, and foreign files.
                prop_assert_eq!(after.get(target), plugins.get(target), "{:?}", target);
            }
        }
        // prePatchedJARs.txt is exactly what the apply order provides.
        let provided: Model = plan.provided.iter().map(|(t, p)| (t.clone().into(), p.md5)).collect();
        prop_assert_eq!(&provided, &overlay(&Model::new(), &discovery));
        // The applied list: the service pack, then patch0000 and the patches, byte-wise.
        let mut patches: Vec<String> = discovery.patches.iter().map(|e| e.name.clone()).collect();
        patches.push(layout::BACKUP_NAME.to_string());
        patches.sort();
        let expected: Vec<String> = discovery
            .service_pack
            .iter()
            .map(|e| e.name.clone())
            .chain(patches)
            .collect();
        prop_assert_eq!(&plan.applied_list, &expected);
        // Foreign files are neither in the backup, nor provided, nor placed, nor acted on.
        for target in &plan.foreign {
            prop_assert!(plugins.contains_key(target));
            prop_assert!(!backup.contains_key(target) && !provided.contains_key(target));
            prop_assert!(!placed.contains_key(target));
            prop_assert!(plan.actions.iter().all(|a| &a.target != target));
        }

        // Idempotent: the next apply, reading what this one recorded, has nothing to do.
        let mut discovery_after = discovery.clone();
        discovery_after.backup_present = true;
        let recorded = recorded_after(&plan, plan.applied_list.clone());
        let observed_after =
            surveyed(&after, Some(&backup), recorded.clone(), &discovery_after, Purpose::Apply);
        let again = plan_apply(&discovery_after, &observed_after);
        prop_assert!(again.actions.is_empty(), "second apply acts: {:?}", again.actions);
        prop_assert!(again.events.is_empty(), "second apply sees changes: {:?}", again.events);
        prop_assert!(!again.create_backup);

        // Rollback after it gives back the backup wherever patches were, and keeps the rest.
        let observed_after =
            surveyed(&after, Some(&backup), recorded, &discovery_after, Purpose::Rollback);
        let rollback = plan_rollback(&discovery_after, &observed_after, Vec::new());
        let rollback = rollback.expect("a backup exists");
        let rolled = carry_out(&rollback, &discovery_after, &after, &backup)?;
        for target in rolled.keys().chain(after.keys()).chain(backup.keys()) {
            if provided.contains_key(target) || placed.contains_key(target) {
                prop_assert_eq!(rolled.get(target), backup.get(target), "{:?}", target);
            } else {
                prop_assert_eq!(rolled.get(target), plugins.get(target), "{:?}", target);
            }
        }
        prop_assert_eq!(&rollback.applied_list, &vec![layout::BACKUP_NAME.to_string()]);
        prop_assert!(rollback.provided.is_empty());

        // And a second rollback, once the entries are hidden and the metadata says so, is a no-op.
        let empty = Discovery { backup_present: true, ..Discovery::default() };
        let recorded = recorded_after(&rollback, rollback.applied_list.clone());
        let observed_rolled = surveyed(&rolled, Some(&backup), recorded, &empty, Purpose::Rollback);
        let twice = plan_rollback(&empty, &observed_rolled, Vec::new()).expect("a backup exists");
        prop_assert!(twice.actions.is_empty(), "{:?}", twice.actions);
    }

    #[test]
    fn rollback_from_any_state_gives_back_the_backup_and_keeps_the_rest(case in case()) {
        let discovery = case.discovery();
        let full = case.observed();
        let observed = as_surveyed(&full, &discovery, Purpose::Rollback);
        let Some(plan) = plan_rollback(&discovery, &observed, Vec::new()) else {
            prop_assert!(observed.backup.is_none());
            return Ok(());
        };
        let plugins = model(&full.plugins);
        let backup = full.backup.as_ref().map(model).unwrap_or_default();
        let after = carry_out(&plan, &discovery, &plugins, &backup)?;
        let touched = targets_of_interest(&discovery, &observed.recorded);
        for target in after.keys().chain(plugins.keys()).chain(backup.keys()) {
            if touched.contains(target) {
                prop_assert_eq!(after.get(target), backup.get(target), "{:?}", target);
            } else {
                prop_assert_eq!(after.get(target), plugins.get(target), "{:?}", target);
            }
        }
    }

    #[test]
    fn digests_a_survey_leaves_unread_never_change_a_plan(case in case()) {
        let discovery = case.discovery();
        let full = case.observed();
        // An apply's survey holds every digest a rollback needs (apply finishes an
        // interrupted rollback with it).
        let for_apply = as_surveyed(&full, &discovery, Purpose::Apply);
        prop_assert_eq!(digests_needed(Purpose::Rollback, &discovery, &for_apply), vec![]);
        let hide = vec![PathBuf::from("patch0001")];
        let plans = [
            (plan_apply(&discovery, &full), plan_apply(&discovery, &as_surveyed(&full, &discovery, Purpose::Apply))),
            (
                plan_rollback(&discovery, &full, hide.clone()).unwrap_or_default(),
                plan_rollback(&discovery, &as_surveyed(&full, &discovery, Purpose::Rollback), hide)
                    .unwrap_or_default(),
            ),
        ];
        for (read_all, lazy) in plans {
            // The same plan, except that an old file's digest may be unread when its size
            // differs, and so may a rollback's restored one.
            let unread = |plan: &Plan| {
                let mut plan = plan.clone();
                for action in &mut plan.actions {
                    action.old.iter_mut().for_each(|o| o.md5 = None);
                    if let ActionKind::Restore { md5 } = &mut action.kind {
                        *md5 = None;
                    }
                }
                format!("{plan:?}")
            };
            prop_assert_eq!(unread(&read_all), unread(&lazy));
            for (a, b) in read_all.actions.iter().zip(&lazy.actions) {
                let read = [(a.old.and_then(|o| o.md5), b.old.and_then(|o| o.md5)), (a.kind.md5(), b.kind.md5())];
                for (all, lazy) in read {
                    prop_assert!(lazy.is_none() || all == lazy, "a digest read differs: {:?} {:?}", all, lazy);
                }
            }
            if lazy.hide.is_empty() {
                // apply reads every digest it restores, to check the restored file.
                let unchecked = lazy.actions.iter().find(|a| a.kind == ActionKind::Restore { md5: None });
                prop_assert!(unchecked.is_none(), "an unread restore in apply: {:?}", unchecked);
            }
        }
    }
}
