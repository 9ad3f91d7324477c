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
    found.sort();
    assert!(
        found.contains(&PathBuf::from(".github/workflows/release.yml")),
        "{found:?}"
    );
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
