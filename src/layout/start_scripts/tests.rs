//! Unit tests of reading start scripts: script texts in, `-D` options out.

use super::*;

use proptest::prelude::Strategy;

const HOME: &str = "/opt/wso2am";

fn scan_home(text: &str) -> Vec<(Property, Value, usize)> {
    scan(text, Path::new(HOME))
        .into_iter()
        .map(|f| (f.property, f.value, f.line))
        .collect()
}

fn path(p: &str) -> Value {
    Value::Path(PathBuf::from(p))
}

#[test]
fn a_script_without_moves_says_nothing() {
    let text = "#!/bin/sh\n$JAVACMD \\\n    -Dcarbon.home=\"$CARBON_HOME\" \\\n    -Dcarbon.registry.root=/ \\\n    -Dcarbon.repository.dir.path=\"$CARBON_HOME/repository\" \\\n    org.wso2.carbon.bootstrap.Bootstrap $*\n";
    assert_eq!(scan_home(text), vec![]);
}

#[test]
fn every_form_of_carbon_home_is_expanded() {
    let text = concat!(
        "java \\\n",
        "  -Dcarbon.patches.dir.path=\"$CARBON_HOME/p1\" \\\n",
        "  -Dcarbon.servicepacks.dir.path=$CARBON_HOME/s \\\n",
        "  -Dcarbon.components.dir.path=\"${CARBON_HOME}\"/c \\\n",
        "  \"-Dcarbon.repository=$CARBON_HOME/../r\" \\\n",
        "  Main\n",
    );
    assert_eq!(
        scan_home(text),
        vec![
            (Property::Patches, path("/opt/wso2am/p1"), 2),
            (Property::Servicepacks, path("/opt/wso2am/s"), 3),
            (Property::Components, path("/opt/wso2am/c"), 4),
            (Property::Repository, path("/opt/r"), 5),
        ]
    );
}

#[test]
fn relative_values_are_taken_from_the_scripts_home_and_dots_resolved() {
    let found = scan_home("java -Dcarbon.patches.dir.path=../shared/./patches/ x\n");
    assert_eq!(
        found,
        vec![(Property::Patches, path("/opt/shared/patches"), 1)]
    );
    let found = scan_home("java -Dcarbon.patches.dir.path='my patches' x\n");
    assert_eq!(
        found,
        vec![(Property::Patches, path("/opt/wso2am/my patches"), 1)]
    );
}

#[test]
fn an_enterprise_integrator_profile_climbs_from_its_own_home() {
    let text = "    -Dcarbon.patches.dir.path=\"$CARBON_HOME/../../patches\" \\\n    -Dcarbon.components.dir.path=\"$CARBON_HOME/../components\" \\\n";
    let found: Vec<_> = scan(text, Path::new("/opt/ei/wso2/broker"))
        .into_iter()
        .map(|f| (f.property, f.value))
        .collect();
    assert_eq!(
        found,
        vec![
            (Property::Patches, path("/opt/ei/patches")),
            (Property::Components, path("/opt/ei/wso2/components")),
        ]
    );
}

#[test]
fn other_variables_and_substitutions_are_unresolved() {
    for value in [
        "\"$PATCHES\"",
        "$PATCHES/x",
        "${PATCHES:-/srv/p}",
        "$(pwd)/p",
        "`pwd`/p",
        "\"$CARBON_HOMEX/p\"",
        "$1",
        "",
    ] {
        let text = format!("java -Dcarbon.patches.dir.path={value} Main\n");
        assert_eq!(
            scan_home(&text),
            vec![(Property::Patches, Value::Unresolved, 1)],
            "{value}"
        );
    }
}

#[test]
fn single_quotes_and_escapes_keep_a_dollar_literal() {
    assert_eq!(
        scan_home("java '-Dcarbon.patches.dir.path=/srv/$p' \\$x\n"),
        vec![(Property::Patches, path("/srv/$p"), 1)]
    );
    assert_eq!(
        scan_home("java -Dcarbon.patches.dir.path=/srv/\\$p\n"),
        vec![(Property::Patches, path("/srv/$p"), 1)]
    );
}

#[test]
fn comments_and_similar_names_are_not_options() {
    let text = concat!(
        "# -Dcarbon.patches.dir.path=/commented\n",
        "    #-Dcarbon.patches.dir.path=/commented/too \\\n",
        "echo x # -Dcarbon.servicepacks.dir.path=/trailing\n",
        "java -Dcarbon.patches.dir.path.old=/no -Dcarbon.repository.dir.path=/no \\\n",
        "  -Xcarbon.patches.dir.path=/no -Dcarbon.patches.dir.pat=/no \\\n",
        "  x-Dcarbon.patches.dir.path=/no echo#-Dcarbon.components.dir.path=/no\n",
    );
    assert_eq!(scan_home(text), vec![]);
}

#[test]
fn options_inside_an_assignment_end_at_a_blank() {
    let text = concat!(
        "JAVA_OPTS=\"$JAVA_OPTS -Dcarbon.patches.dir.path=/srv/p -Dx=1\"\n",
        "export EXTRA='-Dcarbon.servicepacks.dir.path=/srv/s'\n",
        "NODE=\"-Dcarbon.components.dir.path=$CARBON_HOME/c -Dy\"\n",
    );
    assert_eq!(
        scan_home(text),
        vec![
            (Property::Patches, path("/srv/p"), 1),
            (Property::Servicepacks, path("/srv/s"), 2),
            (Property::Components, path("/opt/wso2am/c"), 3),
        ]
    );
}

#[test]
fn line_numbers_follow_continuations_and_multiline_strings() {
    let text = "a \\\n b \"x\ny\" \\\n  -Dcarbon.patches.dir.path=/p\n";
    assert_eq!(scan_home(text), vec![(Property::Patches, path("/p"), 4)]);
}

#[test]
fn a_backslash_right_after_a_quote_continues_the_line() {
    let text = "    -Dconf.location=\"$CARBON_HOME/conf\"\\\n    -Dcarbon.patches.dir.path=\"$CARBON_HOME/patches\" \\\n";
    assert_eq!(
        scan_home(text),
        vec![(Property::Patches, path("/opt/wso2am/patches"), 2)]
    );
}

#[test]
fn the_text_of_the_option_is_kept_for_messages() {
    let found = scan("  -Dcarbon.patches.dir.path=\"$P\" \\\n", Path::new(HOME));
    assert_eq!(found[0].text, "-Dcarbon.patches.dir.path=\"$P\"");
}

#[test]
fn unterminated_quotes_and_odd_bytes_do_not_panic() {
    for text in [
        "\"",
        "'",
        "$",
        "${",
        "$(",
        "`",
        "\\",
        "-Dcarbon.patches.dir.path=\"",
        "-Dcarbon.patches.dir.path=${",
        "x=\"-Dcarbon.repository=",
        "$((1+2)) )",
        "-Dcarbon.patches.dir.path=$(a (b) c",
        "é-Dcarbon.patches.dir.path=/x ü",
    ] {
        let _ = scan(text, Path::new(HOME));
    }
}

#[test]
fn normalize_stays_at_root() {
    assert_eq!(
        normalize(Path::new("/a"), Path::new("../../../x")),
        Path::new("/x")
    );
    assert_eq!(
        normalize(Path::new("/a"), Path::new("/b/./c/..")),
        Path::new("/b")
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Whatever a script holds (shell's special characters and the options' own words mixed
    /// at random), reading it never panics, and every path found is absolute with `.` and
    /// `..` resolved, on a line the text has.
    #[test]
    fn any_text_reads_without_panic_into_clean_paths(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(vec![
                    "-Dcarbon.patches.dir.path=", "-Dcarbon.repository=", "$CARBON_HOME",
                    "${CARBON_HOME}", "$X", "${X", "$(", ")", "`", "\"", "'", "\\", "\\\n",
                    "\n", " ", "#", "=", "/", "..", ".", "a", "JAVA_OPTS=", ";", "é",
                ]).prop_map(String::from),
                "[ -~]{0,6}",
            ],
            0..40,
        ),
    ) {
        let text: String = parts.concat();
        let lines = text.matches('\n').count() + 1;
        for found in scan(&text, Path::new(HOME)) {
            proptest::prop_assert!(found.line >= 1 && found.line <= lines);
            if let Value::Path(path) = &found.value {
                proptest::prop_assert!(path.is_absolute(), "{path:?}");
                proptest::prop_assert!(
                    path.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))),
                    "{path:?}"
                );
            }
        }
    }
}
