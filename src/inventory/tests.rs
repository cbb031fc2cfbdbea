//! Inventory unit tests: synthetic discoveries and trees, no filesystem.

use super::*;
use crate::discover::Entry;
use crate::metadata::JarList;
use crate::plan::tests::{entry_in, present, tree};
use crate::plan::{Present, Recorded, plan_apply};
use std::collections::BTreeSet;

fn entry(name: &str, kind: EntryKind, files: &[(&str, &str)]) -> Entry {
    entry_in("/home/repository/components/patches", name, kind, files)
}

fn inventory_of(
    discovery: &Discovery,
    observed: &Observed,
    last_run: Option<LastRun>,
    set_aside: &[SetAside],
) -> Inventory {
    inventory_with(discovery, observed, last_run, set_aside, &BTreeSet::new())
}

fn inventory_with(
    discovery: &Discovery,
    observed: &Observed,
    last_run: Option<LastRun>,
    set_aside: &[SetAside],
    singletons: &BTreeSet<String>,
) -> Inventory {
    let plan = plan_apply(discovery, observed);
    inventory(&Inputs {
        discovery,
        observed,
        plan: &plan,
        backup_problems: &[],
        metadata_problems: &[],
        backup_manifest: true,
        partial_backup: false,
        set_aside,
        last_run,
        paths: LayoutPaths {
            plugins: "repository/components/plugins".into(),
            patches: "repository/components/patches".into(),
            servicepacks: "repository/components/servicepacks".into(),
            ..LayoutPaths::default()
        },
        home: Path::new("/home"),
        singletons,
        kernel: None,
    })
}

fn states(inv: &Inventory) -> Vec<(String, EntryState)> {
    inv.entries
        .iter()
        .map(|e| (e.name.clone(), e.state))
        .collect()
}

/// Plugins as an apply of `discovery` on `base` leaves them, with its metadata.
fn applied(discovery: &Discovery, base: &[(&str, &str)]) -> Observed {
    let before = Observed {
        plugins: tree(base),
        backup: Some(tree(base)),
        recorded: Recorded::default(),
    };
    let plan = plan_apply(discovery, &before);
    let mut plugins = before.plugins.clone();
    for (target, p) in &plan.provided {
        let file = Present {
            size: p.size,
            md5: Some(p.md5),
        };
        plugins.insert(target.clone().into(), file);
    }
    let jars = JarList {
        jars: plan
            .provided
            .iter()
            .map(|(t, p)| (t.clone().into(), p.md5))
            .collect(),
        damaged: Vec::new(),
    };
    Observed {
        plugins,
        backup: before.backup,
        recorded: Recorded {
            applied_44: Some(plan.applied_list.clone()),
            applied_42: Some(plan.applied_list),
            jars: Some(jars),
            state: None,
            journal: None,
        },
    }
}

fn sample() -> Discovery {
    Discovery {
        service_pack: Some(entry(
            "servicepack001",
            EntryKind::ServicePack,
            &[("org.core_4.4.9.jar", "sp-core")],
        )),
        patches: vec![entry(
            "patch0004",
            EntryKind::Patch,
            &[
                ("org.core_4.4.9.jar", "p4-core"),
                ("org.ui_4.4.9.jar", "p4-ui"),
            ],
        )],
        covered: vec!["patch0001".into()],
        backup_present: true,
        ..Discovery::default()
    }
}

const BASE: &[(&str, &str)] = &[
    ("org.core_4.4.9.jar", "core"),
    ("org.ui_4.4.9.jar", "ui"),
    ("org.wso2.carbon.core_4.4.9.jar", "kernel"),
];

#[test]
fn an_applied_tree_needs_no_attention_and_shows_overrides() {
    let d = sample();
    let inv = inventory_of(&d, &applied(&d, BASE), None, &[]);
    assert_eq!(
        states(&inv),
        [
            ("servicepack001".into(), EntryState::Applied),
            ("patch0001".into(), EntryState::Covered),
            ("patch0004".into(), EntryState::Applied),
        ]
    );
    assert!(inv.attention.is_empty(), "{:?}", inv.attention);
    assert_eq!(inv.kernel.as_deref(), Some("4.4.9"));
    let core = &inv.bundles[0];
    assert_eq!(
        (core.target.as_str(), core.provider.as_str()),
        ("org.core_4.4.9.jar", "patch0004")
    );
    assert_eq!(core.overrides.len(), 1);
    assert_eq!(core.overrides[0].entry, "servicepack001");
    assert!(!core.overrides[0].same_content);
    assert!(core.replaces_original);
    assert_eq!(core.in_plugins, "ok");
    assert!(inv.conflicts.is_empty());
}

#[test]
fn pending_changed_broken_and_gone_entries_need_attention() {
    let d = sample();
    let mut observed = applied(&d, BASE);
    // patch0002 was applied, and its directory is gone.
    for list in [
        &mut observed.recorded.applied_44,
        &mut observed.recorded.applied_42,
    ] {
        list.as_mut().unwrap().push("patch0002".into());
    }
    // Someone replaced the service pack's only winning bundle... none: it is overridden.
    // Replace patch0004's ui in plugins by hand: broken.
    observed
        .plugins
        .insert("org.ui_4.4.9.jar".into(), present("hand"));
    let mut d2 = d.clone();
    // A new patch, and a file added to the service pack since it was applied: changed.
    d2.patches.push(entry(
        "patch0005",
        EntryKind::Patch,
        &[("org.new_1.0.0.jar", "p5")],
    ));
    d2.service_pack = Some(entry(
        "servicepack001",
        EntryKind::ServicePack,
        &[
            ("org.core_4.4.9.jar", "sp-core"),
            ("org.extra_1.0.0.jar", "sp-extra"),
        ],
    ));
    let inv = inventory_of(&d2, &observed, None, &[]);
    let found = states(&inv);
    assert!(
        found.contains(&("servicepack001".into(), EntryState::Changed)),
        "{found:?}"
    );
    assert!(
        found.contains(&("patch0004".into(), EntryState::Broken)),
        "{found:?}"
    );
    assert!(
        found.contains(&("patch0005".into(), EntryState::Pending)),
        "{found:?}"
    );
    assert!(
        found.contains(&("patch0002".into(), EntryState::Gone)),
        "{found:?}"
    );
    let sp = inv
        .entries
        .iter()
        .find(|e| e.name == "servicepack001")
        .unwrap();
    assert_eq!(sp.details, ["org.extra_1.0.0.jar has been added"]);
    let p4 = inv.entries.iter().find(|e| e.name == "patch0004").unwrap();
    assert_eq!(p4.details, ["org.ui_4.4.9.jar in plugins differs"]);
    for name in ["servicepack001", "patch0004", "patch0005", "patch0002"] {
        assert!(
            inv.attention
                .iter()
                .any(|a| a.starts_with(&format!("{name} is "))),
            "{name} in {:?}",
            inv.attention
        );
    }
}

#[test]
fn two_versions_of_one_bundle_are_a_conflict_by_symbolic_name() {
    let mut d = sample();
    d.patches.push(entry(
        "patch0006",
        EntryKind::Patch,
        &[("org.core_4.4.10.jar", "p6-core")],
    ));
    let inv = inventory_of(&d, &applied(&sample(), BASE), None, &[]);
    assert_eq!(inv.conflicts.len(), 1, "{:?}", inv.conflicts);
    let c = &inv.conflicts[0];
    assert_eq!((c.kind, c.symbolic_name.as_str()), ("versions", "org.core"));
    let versions: Vec<(&str, Vec<String>)> = c
        .versions
        .iter()
        .map(|v| (v.version.as_str(), v.from.clone()))
        .collect();
    assert_eq!(
        versions,
        [
            (
                "4.4.9",
                vec![
                    "patch0000".to_string(),
                    "servicepack001".into(),
                    "patch0004".into()
                ]
            ),
            ("4.4.10", vec!["patch0006".to_string()]),
        ],
        "4.4.10 sorts after 4.4.9 as OSGi versions do, not as text"
    );
    // Not a singleton: loaded side by side, told but no reason for attention.
    assert!(!c.needs_attention);
    assert!(!inv.attention.iter().any(|a| a.contains("clash")));

    let singletons = BTreeSet::from(["org.core".to_string()]);
    let inv = inventory_with(&d, &applied(&sample(), BASE), None, &[], &singletons);
    let c = &inv.conflicts[0];
    assert_eq!((c.kind, c.needs_attention), ("singleton", true));
    assert!(inv.attention.iter().any(|a| a.contains("clash")));
}

#[test]
fn a_patch_shipping_an_older_version_is_named() {
    let mut d = sample();
    d.patches.push(entry(
        "patch0006",
        EntryKind::Patch,
        &[("org.ui_4.4.8.jar", "p6-ui")],
    ));
    let inv = inventory_of(&d, &applied(&sample(), BASE), None, &[]);
    assert_eq!(inv.conflicts.len(), 1);
    assert_eq!(inv.conflicts[0].kind, "older");
    assert!(
        inv.conflicts[0]
            .message
            .starts_with("patch0006 ships org.ui 4.4.8, older than 4.4.9 already there"),
        "{}",
        inv.conflicts[0].message
    );
}

#[test]
fn rolled_back_entries_are_listed_with_where_they_went() {
    let d = Discovery::default();
    let observed = Observed {
        plugins: tree(BASE),
        backup: Some(tree(BASE)),
        recorded: Recorded {
            applied_44: Some(vec!["patch0000".into()]),
            ..Recorded::default()
        },
    };
    let aside = [SetAside {
        name: "patch0004".into(),
        kind: EntryKind::Patch,
        path: "repository/components/patches/.rolled-back/patch0004".into(),
    }];
    let inv = inventory_of(&d, &observed, None, &aside);
    assert_eq!(states(&inv), [("patch0004".into(), EntryState::RolledBack)]);
    assert_eq!(
        inv.entries[0].path.as_deref(),
        Some("repository/components/patches/.rolled-back/patch0004")
    );
    assert!(inv.attention.is_empty(), "{:?}", inv.attention);
}

#[test]
fn bundle_names_split_at_the_first_underscore_before_a_version() {
    let split = split_bundle_name;
    assert_eq!(
        split(Path::new("org.foo_1.0.0.jar")),
        Some(("org.foo", "1.0.0"))
    );
    assert_eq!(
        split(Path::new("my_bundle_2.1.jar")),
        Some(("my_bundle", "2.1"))
    );
    assert_eq!(
        split(Path::new("org.eclipse.osgi_3.10.2.v20150203-1939.jar")),
        Some(("org.eclipse.osgi", "3.10.2.v20150203-1939"))
    );
    assert_eq!(
        split(Path::new("org.foo_1.0.0.v2015_01.jar")),
        Some(("org.foo", "1.0.0.v2015_01"))
    );
    assert_eq!(split(Path::new("registry-core-fix.jar")), None);
    assert_eq!(split(Path::new("dir/org.foo_1.0.0.jar")), None);
    assert_eq!(split(Path::new("org.foo_1.0.0.txt")), None);
    assert!(Version::parse("4.4.10") > Version::parse("4.4.9"));
    assert!(Version::parse("1.0.0.b") > Version::parse("1.0.0.a"));
}

#[test]
fn ordering_traps_name_the_surprising_pairs() {
    assert_eq!(
        ordering_traps(&["patch10000", "patch2000"]),
        [
            "patch10000 comes before patch2000: names are compared byte by byte, as the server does, not as numbers"
        ]
    );
    assert!(ordering_traps(&["patch0001", "patch0002"]).is_empty());
    assert_eq!(ordering_traps(&["servicepack10", "servicepack9"]).len(), 1);
}

fn line(time: &str, level: &str, category: &str, message: &str) -> String {
    format!("[{time}] {level:>5} {{{category}}} -  {message}")
}

#[test]
fn the_last_run_is_read_from_the_log() {
    const RT: &str = "org.wso2.carbon.server.util.PatchUtils";
    let mut lines = vec![
        line(
            "2026-01-01 10:00:00,000",
            "INFO",
            RT,
            "Checking for patch changes ...",
        ),
        line(
            "2026-01-01 10:00:00,100",
            "INFO",
            RT,
            "Patch changes detected ",
        ),
        line(
            "2026-01-01 10:00:01,000",
            "INFO",
            RT,
            "Patch verification successfully completed",
        ),
    ];
    let run = last_run(&lines).unwrap();
    assert_eq!(
        (
            run.kind,
            run.outcome,
            run.started.as_str(),
            run.ended.as_str()
        ),
        (
            "apply",
            "verified",
            "2026-01-01 10:00:00,000",
            "2026-01-01 10:00:01,000"
        )
    );
    lines.push(line(
        "2026-01-02 09:00:00,000",
        "INFO",
        "carbon-patch",
        "Rolling back plugins to patch0000",
    ));
    lines.push(line(
        "2026-01-02 09:00:00,500",
        "ERROR",
        "carbon-patch",
        "rollback stopped: failed to move `x`; run it again to finish",
    ));
    let run = last_run(&lines).unwrap();
    assert_eq!((run.kind, run.outcome), ("rollback", "stopped"));
    assert!(run.last_message.starts_with("rollback stopped"));
    assert_eq!(last_run(&["garbage"]), None);
    let no_change = [
        line("t", "INFO", RT, "Checking for patch changes ..."),
        line("t", "INFO", RT, "Patch verification successfully completed"),
    ];
    assert_eq!(last_run(&no_change).unwrap().outcome, "no_change");
}
