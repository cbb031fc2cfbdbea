//! `--format json` on every subcommand: one JSON document on stdout with `schema_version`,
//! the command, the product home, the exit code and the warnings; snapshot-tested (temp
//! paths and log times redacted), and checked field by field where a script would look.

use crate::support::*;

use serde_json::Value;

/// Runs `<command> --format json [extra] HOME`, parses stdout, and checks the envelope.
#[track_caller]
fn json(env: &Env, command: &str, extra: &[&str], code: i32) -> (Value, String) {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let run = env.cmd(command, &args);
    run.code(code);
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document: {e}\n{}", run.stdout));
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["exit_code"], code);
    assert_eq!(doc["product_home"]["path"], env.home_str());
    assert_eq!(doc["product_home"]["source"], "argument");
    (doc, env.redact(&run.stdout))
}

#[test]
fn apply_json() {
    let env = Env::sample();
    let (doc, text) = json(&env, "apply", &[], 0);
    assert_eq!(doc["command"], "apply");
    assert_eq!(doc["dry_run"], false);
    assert_eq!(doc["backup"], "created");
    assert_eq!(doc["counts"]["written"], 8);
    assert_eq!(doc["verification"]["passed"], true);
    let core = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target"] == "org.wso2.carbon.core_4.4.9.jar")
        .expect("core is written");
    assert_eq!(core["action"], "write");
    assert_eq!(core["entry"], "patch0004");
    assert_eq!(
        core["source"],
        "repository/components/patches/patch0004/org.wso2.carbon.core_4.4.9.jar"
    );
    assert_eq!(
        core["new_md5"],
        Env::md5_of(
            &env.patches()
                .join("patch0004/org.wso2.carbon.core_4.4.9.jar")
        )
    );
    insta::assert_snapshot!("apply", text);
}

#[test]
fn plan_json_is_apply_dry_run() {
    let env = Env::sample();
    let (doc, text) = json(&env, "plan", &[], 0);
    assert_eq!(doc["command"], "apply");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["backup"], "create");
    assert_eq!(doc["verification"], Value::Null);
    insta::assert_snapshot!("plan", text);
}

#[test]
fn verify_json_passed_and_failed() {
    let env = Env::sample();
    env.apply().code(0);
    let (doc, text) = json(&env, "verify", &[], 0);
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["bundles"].as_array().unwrap().len(), 8);
    insta::assert_snapshot!("verify_passed", text);

    env.home.add_plugin(
        "org.wso2.carbon.ui_4.4.9.jar",
        &bundle_jar("org.wso2.carbon.ui;singleton:=true", "4.4.9", "tampered"),
    );
    let (doc, text) = json(&env, "verify", &[], 1);
    assert_eq!(doc["passed"], false);
    let problem = &doc["problems"][0];
    assert_eq!(problem["check"], "bundle");
    assert_eq!(problem["subject"], "org.wso2.carbon.ui_4.4.9.jar");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .ends_with(") has been patched with patch0004, but not applied")
    );
    insta::assert_snapshot!("verify_failed", text);
}

#[test]
fn rollback_json() {
    let env = Env::sample();
    env.apply().code(0);
    let (doc, text) = json(&env, "rollback", &[], 0);
    assert_eq!(doc["command"], "rollback");
    assert_eq!(doc["counts"]["restored"], 6);
    assert_eq!(doc["counts"]["archived"], 2);
    assert_eq!(
        doc["moved"][0]["to"],
        "repository/components/patches/.rolled-back/patch0001"
    );
    insta::assert_snapshot!("rollback", text);
}

#[test]
fn status_json_with_a_conflicting_patch() {
    let env = Env::sample();
    env.apply().code(0);
    env.home.add_patch_file(
        "patch0006",
        "org.wso2.carbon.core_4.4.10.jar",
        &bundle_jar("org.wso2.carbon.core", "4.4.10", "patch0006"),
    );
    let (doc, text) = json(&env, "status", &[], 1);
    assert_eq!(doc["command"], "status");
    assert_eq!(doc["conflicts"][0]["symbolic_name"], "org.wso2.carbon.core");
    assert_eq!(doc["conflicts"][0]["kind"], "versions");
    let states: Vec<(&str, &str)> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("servicepack001", "applied"),
            ("patch0001", "covered"),
            ("patch0002", "covered"),
            ("patch0003", "applied"),
            ("patch0004", "applied"),
            ("patch0005", "applied"),
            ("patch0006", "pending"),
        ]
    );
    assert_eq!(doc["last_run"]["outcome"], "verified");
    insta::assert_snapshot!("status", text);
}

#[test]
fn an_error_is_a_json_document_too() {
    let env = Env::empty();
    std::fs::remove_dir_all(env.plugins()).unwrap();
    let (doc, text) = json(&env, "apply", &[], 2);
    assert_eq!(doc["command"], "apply");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not a Carbon product")
    );
    assert!(!doc["error"]["hint"].as_str().unwrap().is_empty());
    insta::assert_snapshot!("error", text);
}

#[test]
fn json_is_only_on_stdout_and_ignores_quiet() {
    let env = Env::sample();
    let run = env.cmd("apply", &["--format", "json", "--quiet"]);
    run.code(0);
    serde_json::from_str::<Value>(&run.stdout).expect("the document is printed with --quiet");
    assert_eq!(run.stderr, "", "nothing but the document");
}
