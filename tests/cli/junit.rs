//! `verify --format junit`: one test case per bundle, per entry of the apply order and per
//! check (backup, metadata), in well-formed JUnit XML that a CI system can read.

use crate::support::*;

/// (classname, name, failure messages) of every test case, after checking the counts.
#[track_caller]
fn cases(xml: &str) -> Vec<(String, String, Vec<String>)> {
    let doc =
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("well-formed XML: {e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let mut found = Vec::new();
    let mut failures = 0;
    for suite in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(
            suite.attribute("tests"),
            Some(cases.len().to_string().as_str())
        );
        for case in cases {
            let messages: Vec<String> = case
                .children()
                .filter(|n| n.has_tag_name("failure"))
                .map(|f| f.attribute("message").unwrap_or_default().to_string())
                .collect();
            failures += usize::from(!messages.is_empty());
            found.push((
                case.attribute("classname").unwrap_or_default().to_string(),
                case.attribute("name").unwrap_or_default().to_string(),
                messages,
            ));
        }
    }
    assert_eq!(
        root.attribute("tests"),
        Some(found.len().to_string().as_str())
    );
    assert_eq!(
        root.attribute("failures"),
        Some(failures.to_string().as_str())
    );
    found
}

#[test]
fn a_verified_tree_is_all_passing_test_cases() {
    let env = Env::sample();
    env.apply().code(0);
    let run = env.cmd("verify", &["--format", "junit"]);
    run.code(0);
    let found = cases(&run.stdout);
    let names: Vec<(&str, &str)> = found
        .iter()
        .map(|(c, n, _)| (c.as_str(), n.as_str()))
        .collect();
    assert_eq!(names.len(), 8 + 4 + 2, "{names:?}");
    assert!(names.contains(&(
        "carbon-patch.bundles",
        "org.wso2.carbon.core_4.4.9.jar from patch0004"
    )));
    assert!(names.contains(&("carbon-patch.entries", "servicepack001")));
    assert!(names.contains(&("carbon-patch.checks", "backup")));
    assert!(names.contains(&("carbon-patch.checks", "metadata")));
    assert!(found.iter().all(|(_, _, f)| f.is_empty()));
}

#[test]
fn a_tampered_bundle_is_a_failing_test_case_in_the_runtimes_words() {
    let env = Env::sample();
    env.apply().code(0);
    env.home.add_plugin(
        "org.wso2.carbon.ui_4.4.9.jar",
        &bundle_jar(
            "org.wso2.carbon.ui;singleton:=true",
            "4.4.9",
            "tampered <&>",
        ),
    );
    let run = env.cmd("verify", &["--format", "junit"]);
    run.code(1);
    let failed: Vec<_> = cases(&run.stdout)
        .into_iter()
        .filter(|(_, _, f)| !f.is_empty())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (class, name, messages) = &failed[0];
    assert_eq!(
        (class.as_str(), name.as_str()),
        (
            "carbon-patch.bundles",
            "org.wso2.carbon.ui_4.4.9.jar from patch0004"
        )
    );
    let md5 = Env::md5_of(&env.patches().join("patch0004/org.wso2.carbon.ui_4.4.9.jar"));
    assert_eq!(
        messages,
        &[format!(
            "org.wso2.carbon.ui_4.4.9.jar(MD5: {md5}) has been patched with patch0004, but not applied"
        )]
    );
}

#[test]
fn before_apply_pending_entries_and_the_backup_fail() {
    let env = Env::sample();
    let run = env.cmd("verify", &["--format", "junit"]);
    run.code(1);
    let failed: Vec<(String, String)> = cases(&run.stdout)
        .into_iter()
        .filter(|(_, _, f)| !f.is_empty())
        .map(|(c, n, _)| (c, n))
        .collect();
    for expected in [
        ("carbon-patch.entries", "servicepack001"),
        ("carbon-patch.entries", "patch0005"),
        ("carbon-patch.checks", "backup"),
        (
            "carbon-patch.bundles",
            "org.wso2.carbon.ui_4.4.9.jar from patch0004",
        ),
    ] {
        assert!(
            failed.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {failed:?}"
        );
    }
}

#[test]
fn an_error_is_a_junit_document_with_one_failing_case() {
    let env = Env::empty();
    std::fs::remove_dir_all(env.plugins()).unwrap();
    let run = env.cmd("verify", &["--format", "junit"]);
    run.code(2).stderr_has("hint: ");
    let found = cases(&run.stdout);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].2[0].contains("is not a Carbon product"),
        "{found:?}"
    );
}

#[test]
fn junit_is_only_for_verify() {
    let env = Env::sample();
    let run = env.cmd("status", &["--format", "junit"]);
    run.code(2).stderr_has("invalid value 'junit'");
}
