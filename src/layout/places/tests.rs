//! Unit tests of deciding the places: what wins, agreement, warnings.

use super::*;

fn said(script: &str, line: usize, property: Property, value: Value) -> Said {
    Said {
        script: script.into(),
        owner: 0,
        found: start_scripts::Found {
            property,
            value,
            line,
            text: format!("-D{}=...", property.name()),
        },
    }
}

fn decide(home: &str, requested: Requested<'_>, found: Vec<Said>) -> Result<Places> {
    let mut map: BTreeMap<Property, Vec<Said>> = BTreeMap::new();
    for one in found {
        map.entry(one.found.property).or_default().push(one);
    }
    Places::decide(Path::new(home), requested, map, Vec::new())
}

#[test]
fn defaults_are_below_the_repository() {
    let places = Places::defaults(Path::new("/p"));
    assert_eq!(
        places.components.path,
        Path::new("/p/repository/components")
    );
    assert_eq!(
        places.patches.path,
        Path::new("/p/repository/components/patches")
    );
    assert_eq!(places.servicepacks.source, Source::Default);
    assert_eq!(places.repository.path, Path::new("/p/repository"));
}

#[test]
fn a_moved_repository_carries_components_and_below() {
    let places = decide(
        "/p",
        Requested {
            repository: Some(OsStr::new("/srv/repo")),
            ..Requested::default()
        },
        vec![said(
            "bin/a.sh",
            3,
            Property::Repository,
            Value::Path("/else".into()),
        )],
    )
    .unwrap();
    assert_eq!(places.repository.path, Path::new("/srv/repo"));
    assert_eq!(
        places.repository.source,
        Source::Environment {
            variable: "CARBON_REPOSITORY"
        }
    );
    assert_eq!(
        places.patches.path,
        Path::new("/srv/repo/components/patches")
    );
}

#[test]
fn a_relative_environment_value_is_taken_from_product_home() {
    let places = decide(
        "/p",
        Requested {
            repository: Some(OsStr::new("../r")),
            ..Requested::default()
        },
        vec![],
    )
    .unwrap();
    assert_eq!(places.repository.path, Path::new("/r"));
}

#[test]
fn options_win_over_scripts_and_scripts_over_defaults() {
    let places = decide(
        "/p",
        Requested {
            patches: Some(Path::new("cli/patches")),
            ..Requested::default()
        },
        vec![
            said("bin/a.sh", 1, Property::Patches, Value::Path("/x".into())),
            said(
                "bin/a.sh",
                2,
                Property::Components,
                Value::Path("/c".into()),
            ),
        ],
    )
    .unwrap();
    assert_eq!(places.patches.path, Path::new("cli/patches"));
    assert_eq!(
        places.patches.source,
        Source::Option {
            option: "--patches-dir"
        }
    );
    assert_eq!(places.servicepacks.path, Path::new("/c/servicepacks"));
    assert_eq!(
        places.components.source.to_string(),
        "-Dcarbon.components.dir.path in bin/a.sh line 2"
    );
}

#[test]
fn a_place_inside_product_home_is_named_from_home_as_given() {
    let places = decide(
        "/p/",
        Requested::default(),
        vec![said(
            "bin/a.sh",
            1,
            Property::Patches,
            Value::Path("/p/patches".into()),
        )],
    )
    .unwrap();
    assert_eq!(places.patches.path, Path::new("/p/patches"));
}

#[test]
fn scripts_that_agree_are_one_place() {
    let places = decide(
        "/p",
        Requested::default(),
        vec![
            said(
                "bin/integrator.sh",
                9,
                Property::Patches,
                Value::Path("/p/patches".into()),
            ),
            said(
                "wso2/broker/bin/wso2server.sh",
                7,
                Property::Patches,
                Value::Path("/p/patches".into()),
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        places.patches.source.to_string(),
        "-Dcarbon.patches.dir.path in bin/integrator.sh line 9"
    );
}

#[test]
fn scripts_that_disagree_are_bad_input_naming_both() {
    let err = decide(
        "/p",
        Requested::default(),
        vec![
            said(
                "bin/integrator.sh",
                9,
                Property::Patches,
                Value::Path("/p/patches".into()),
            ),
            said(
                "wso2/broker/bin/wso2server.sh",
                7,
                Property::Patches,
                Value::Path("/q".into()),
            ),
        ],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("bin/integrator.sh line 9 names `/p/patches`"),
        "{text}"
    );
    assert!(
        text.contains("wso2/broker/bin/wso2server.sh line 7 names: `/q`"),
        "{text}"
    );
    assert!(err.hint().contains("--patches-dir"), "{}", err.hint());
    assert_eq!(err.exit_code(), crate::exit_codes::BAD_INPUT);
}

#[test]
fn an_option_settles_what_the_scripts_disagree_on() {
    let places = decide(
        "/p",
        Requested {
            servicepacks: Some(Path::new("/s")),
            ..Requested::default()
        },
        vec![
            said(
                "bin/a.sh",
                1,
                Property::Servicepacks,
                Value::Path("/x".into()),
            ),
            said(
                "bin/b.sh",
                1,
                Property::Servicepacks,
                Value::Path("/y".into()),
            ),
        ],
    )
    .unwrap();
    assert_eq!(places.servicepacks.path, Path::new("/s"));
}

#[test]
fn an_unknown_value_is_a_warning_and_leaves_the_default() {
    let places = decide(
        "/p",
        Requested::default(),
        vec![said("bin/a.sh", 4, Property::Patches, Value::Unresolved)],
    )
    .unwrap();
    assert_eq!(places.patches.source, Source::Default);
    assert_eq!(places.warnings.len(), 1);
    assert!(
        places.warnings[0]
            .starts_with("bin/a.sh line 4: `-Dcarbon.patches.dir.path=...` is not used")
    );
}
