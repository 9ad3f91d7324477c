//! The GitHub Action: `scripts/action.sh` run the way action.yml runs it, with the Actions
//! environment faked (event payload, output and summary files), against real repositories.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{ACME_RULES, TestEnv, git_ok};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/action.sh")
}

/// What one run of `action.sh scan` left behind.
struct ActionRun {
    code: i32,
    stdout: String,
    outputs: String,
    summary: String,
}

impl ActionRun {
    fn output(&self, name: &str) -> String {
        self.outputs
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no output {name} in {}", self.outputs))
            .to_string()
    }
}

fn run_action(
    env: &TestEnv,
    event: &str,
    payload: &serde_json::Value,
    inputs: &[(&str, &str)],
) -> ActionRun {
    let event_path = env.path("event.json");
    std::fs::write(&event_path, payload.to_string()).unwrap();
    let outputs = env.path("github_output");
    let summary = env.path("step_summary");
    let _ = std::fs::remove_file(&outputs);
    let _ = std::fs::remove_file(&summary);
    let tmp = env.path("runner_temp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .arg("scan")
        .current_dir(env.path("repo"))
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("RUNNER_TEMP", &tmp)
        .env("NMLEAKS_BIN", assert_cmd::cargo::cargo_bin("nmleaks"))
        .env("NMLEAKS_CACHE_DIR", env.path("cache"))
        .env("INPUT_SARIF_FILE", env.path("out.sarif"));
    for (k, v) in inputs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    ActionRun {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        outputs: std::fs::read_to_string(&outputs).unwrap_or_default(),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
    }
}

/// A repository with a clean first commit, then a commit adding a key on a branch.
/// Returns (env, key, base sha, head sha).
fn repo_with_key_commit() -> (TestEnv, String, String, String) {
    let mut env = TestEnv::new();
    let repo = env.path("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git_ok(&repo, &["init", "-q"]);
    env.write("repo/README.md", "demo\n");
    git_ok(&repo, &["add", "."]);
    git_ok(&repo, &["commit", "-q", "-m", "first"]);
    let base = git_ok(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    let key = env.live_key();
    env.write(
        "repo/app/config.py",
        format!("import os\nKEY = \"{key}\"\n"),
    );
    git_ok(&repo, &["add", "."]);
    git_ok(&repo, &["commit", "-q", "-m", "add config"]);
    let head = git_ok(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    (env, key, base, head)
}

fn assert_no_key(run: &ActionRun, key: &str) {
    for (name, text) in [
        ("log", &run.stdout),
        ("outputs", &run.outputs),
        ("summary", &run.summary),
    ] {
        assert!(!text.contains(&key[8..]), "{name} holds the key:\n{text}");
    }
}

#[test]
fn pull_request_scans_base_to_head_and_reports_what_it_adds() {
    let (env, key, base, head) = repo_with_key_commit();
    let payload =
        serde_json::json!({"pull_request": {"base": {"sha": base}, "head": {"sha": head}}});
    let run = run_action(&env, "pull_request", &payload, &[]);
    assert_eq!(
        run.code, 0,
        "the scan step records the exit code, the last step fails: {}",
        run.stdout
    );
    assert_eq!(run.output("mode"), "range");
    assert_eq!(run.output("exit-code"), "1");
    assert_eq!(run.output("findings"), "1");
    assert_eq!(run.output("live"), "0");
    assert!(run.output("sarif-file").ends_with("out.sarif"));
    assert!(
        run.stdout.contains(&format!("git --range {base}..{head}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("::error file=app/config.py,line=2,col=8,title=Nomotic live API key::"),
        "{}",
        run.stdout
    );
    assert!(
        run.summary.contains("1 Nomotic key(s) found"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains(&format!("nm_live_…{}", &key[key.len() - 4..]))
    );
    assert_no_key(&run, &key);
    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("out.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 1);
}

#[test]
fn push_to_an_existing_branch_scans_before_to_after() {
    let (env, key, base, head) = repo_with_key_commit();
    let run = run_action(
        &env,
        "push",
        &serde_json::json!({"before": base, "after": head}),
        &[],
    );
    assert_eq!(run.output("mode"), "range");
    assert!(run.stdout.contains(&format!("--range {base}..{head}")));
    assert_eq!(run.output("findings"), "1");
    assert_no_key(&run, &key);
    // A push whose range adds nothing.
    let run = run_action(
        &env,
        "push",
        &serde_json::json!({"before": head, "after": head}),
        &[],
    );
    assert_eq!(run.output("findings"), "0");
    assert_eq!(run.output("exit-code"), "0");
}

#[test]
fn push_to_the_default_branch_and_schedule_audit_the_whole_history_and_upload_it_whole() {
    let (env, key, base, _) = repo_with_key_commit();
    // The key is removed again: only history still holds it.
    env.write(
        "repo/app/config.py",
        "import os\nKEY = os.environ[\"NOMOTIC_KEY\"]\n",
    );
    git_ok(
        &env.path("repo"),
        &["commit", "-qam", "read the key from the environment"],
    );
    let tip = git_ok(&env.path("repo"), &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    for (event, payload) in [
        (
            "push",
            serde_json::json!({"before": base, "after": tip, "ref": "refs/heads/main",
                               "repository": {"default_branch": "main"}}),
        ),
        ("schedule", serde_json::json!({})),
        ("workflow_dispatch", serde_json::json!({})),
    ] {
        let run = run_action(&env, event, &payload, &[]);
        assert_eq!(run.output("mode"), "history", "{event}");
        assert_eq!(run.output("findings"), "1", "{event}: {}", run.stdout);
        // The whole result set: uploaded under the one category alerts live in.
        assert_eq!(run.output("category"), "nmleaks", "{event}");
        assert_eq!(run.output("upload"), "true", "{event}");
        assert_no_key(&run, &key);
    }
}

/// A range is only part of a branch's history: uploaded as the branch's result set, it would
/// close every alert it does not repeat. A pull request's range is whole; a push's is not.
#[test]
fn a_push_range_is_not_uploaded_as_the_branch_result_set_but_a_pull_request_is() {
    let (env, _key, base, head) = repo_with_key_commit();
    let run = run_action(
        &env,
        "push",
        &serde_json::json!({"before": base, "after": head, "ref": "refs/heads/topic",
                           "repository": {"default_branch": "main"}}),
        &[],
    );
    assert_eq!(run.output("mode"), "range");
    assert_eq!(run.output("upload"), "false", "{}", run.stdout);
    assert_eq!(run.output("category"), "nmleaks-range");
    assert!(
        run.stdout.contains("is not uploaded by default"),
        "{}",
        run.stdout
    );
    let payload =
        serde_json::json!({"pull_request": {"base": {"sha": base}, "head": {"sha": head}}});
    let run = run_action(&env, "pull_request", &payload, &[]);
    assert_eq!(
        (
            run.output("category").as_str(),
            run.output("upload").as_str()
        ),
        ("nmleaks", "true")
    );
}

/// After a force-push `before` is gone from the repository: the Action used to fail asking for
/// `fetch-depth: 0`, which cannot help. It now scans what the push made reachable that no
/// other branch reaches, and says so; a key only on another branch is not this push's.
#[test]
fn force_push_scans_what_no_other_branch_reaches_instead_of_failing() {
    let (mut env, key, base, _head) = repo_with_key_commit();
    let repo = env.path("repo");
    // Another branch holds a key of its own; the pushed branch is rewritten from `base`.
    let other_key = env.live_key();
    git_ok(&repo, &["checkout", "-q", "-b", "other"]);
    env.write("repo/other.env", format!("K={other_key}\n"));
    git_ok(&repo, &["add", "."]);
    git_ok(&repo, &["commit", "-q", "-m", "other"]);
    git_ok(&repo, &["checkout", "-q", "-b", "topic", &base]);
    let new_key = env.live_key();
    env.write("repo/new.env", format!("K={new_key}\n"));
    git_ok(&repo, &["add", "."]);
    git_ok(&repo, &["commit", "-q", "-m", "rewritten"]);
    let after = git_ok(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    // The old tip of `topic` was never fetched: it is not in the repository.
    let gone = "1234567890abcdef1234567890abcdef12345678";
    let payload = serde_json::json!({"before": gone, "after": after, "ref": "refs/heads/topic",
                                     "repository": {"default_branch": "main"}});
    let run = run_action(&env, "push", &payload, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.output("mode"), "range", "{}", run.stdout);
    assert!(run.stdout.contains("a force-push"), "{}", run.stdout);
    assert!(!run.stdout.contains("fetch-depth"), "{}", run.stdout);
    assert_eq!(run.output("findings"), "1", "{}", run.stdout);
    let report = std::fs::read_to_string(env.path("runner_temp/nmleaks-report.json")).unwrap();
    assert!(report.contains("new.env"), "{report}");
    assert!(
        !report.contains("other.env") && !report.contains("config.py"),
        "{report}"
    );
    for k in [&key, &other_key, &new_key] {
        assert_no_key(&run, k);
    }
    // A new branch: the same question, with no `before` at all.
    let zeros = "0".repeat(40);
    let payload = serde_json::json!({"before": zeros, "after": after, "ref": "refs/heads/topic"});
    let run = run_action(&env, "push", &payload, &[]);
    assert_eq!(run.output("mode"), "range", "{}", run.stdout);
    assert!(
        run.stdout.contains("the push created the branch"),
        "{}",
        run.stdout
    );
    assert_eq!(run.output("findings"), "1", "{}", run.stdout);
}

#[test]
fn other_events_scan_the_files_and_explicit_modes_win() {
    let (env, key, _, _) = repo_with_key_commit();
    let run = run_action(&env, "issue_comment", &serde_json::json!({}), &[]);
    assert_eq!(run.output("mode"), "files");
    assert_eq!(run.output("findings"), "1");
    let run = run_action(
        &env,
        "pull_request",
        &serde_json::json!({}),
        &[("INPUT_MODE", "history")],
    );
    assert_eq!(run.output("mode"), "history");
    assert_no_key(&run, &key);
}

#[test]
fn a_shallow_clone_is_detected_for_history_modes() {
    let (env, _, _, _) = repo_with_key_commit();
    let src = format!("file://{}", env.path("repo").display());
    let shallow = env.path("shallow");
    let out = Command::new("git")
        .args(["clone", "-q", "--depth", "1", &src])
        .arg(&shallow)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::rename(env.path("repo"), env.path("full")).unwrap();
    std::fs::rename(&shallow, env.path("repo")).unwrap();
    let run = run_action(&env, "schedule", &serde_json::json!({}), &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("::error title=nmleaks::the checkout is shallow"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("fetch-depth: 0"));
}

#[test]
fn show_secrets_in_args_is_refused() {
    let (env, key, _, _) = repo_with_key_commit();
    let run = run_action(
        &env,
        "schedule",
        &serde_json::json!({}),
        &[("INPUT_ARGS", "--show-secrets")],
    );
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("--show-secrets is refused"));
    assert_no_key(&run, &key);
}

/// Every `${{ inputs.X }}` in action.yml is a declared input, and every `INPUT_*` variable the
/// script reads is set by action.yml's scan step.
#[test]
fn action_yml_declares_every_input_it_and_the_script_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("action.yml")).unwrap();
    let doc = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
    let declared: BTreeSet<String> = doc["inputs"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    for (name, input) in doc["inputs"].as_hash().unwrap() {
        assert!(
            input["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name:?} undocumented"
        );
        assert!(!input["default"].is_badvalue(), "{name:?} has no default");
    }
    let used: BTreeSet<String> = text
        .match_indices("inputs.")
        .map(|(i, _)| {
            text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect()
        })
        .collect();
    let undeclared: Vec<_> = used.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "action.yml reads undeclared inputs {undeclared:?}"
    );

    let script = std::fs::read_to_string(root.join("scripts/action.sh")).unwrap();
    let read: BTreeSet<String> = script
        .match_indices("INPUT_")
        .map(|(i, _)| {
            script[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|v| v.len() > "INPUT_".len()) // `INPUT_*` in prose
        .collect();
    let steps = doc["runs"]["steps"].as_vec().unwrap();
    let set: BTreeSet<String> = steps
        .iter()
        .filter_map(|s| s["env"].as_hash())
        .flat_map(|h| h.keys().map(|k| k.as_str().unwrap().to_string()))
        .collect();
    let missing: Vec<_> = read.iter().filter(|v| !set.contains(*v)).collect();
    assert!(
        missing.is_empty(),
        "the script reads {missing:?}, which action.yml never sets"
    );
    for var in set.iter().filter(|v| v.starts_with("INPUT_")) {
        let input = var["INPUT_".len()..].to_ascii_lowercase().replace('_', "-");
        assert!(declared.contains(&input), "{var} maps to no input");
    }
    for output in ["findings", "live", "sarif-file"] {
        assert!(
            !doc["outputs"][output]["value"].is_badvalue(),
            "output {output}"
        );
    }
}

/// `args` is split as a shell splits words, never on every space: a rules file whose path holds
/// a space, quoted, reaches nmleaks as one argument (before, it was split in two and the run
/// failed with a missing file). An unbalanced quote is one clear error.
#[test]
fn quoted_args_with_spaces_reach_nmleaks_as_one_argument() {
    let (mut env, _key, _, _) = repo_with_key_commit();
    env.write("repo/my rules/extra.toml", ACME_RULES);
    let token = format!("acme_{}", env.rng.base62(30));
    env.write("repo/acme.txt", &token);
    let repo = env.path("repo");
    git_ok(&repo, &["add", "."]);
    git_ok(&repo, &["commit", "-q", "-m", "acme"]);
    let run = run_action(
        &env,
        "schedule",
        &serde_json::json!({}),
        &[("INPUT_ARGS", "--rules 'my rules/extra.toml'")],
    );
    assert_eq!(
        (run.code, run.output("exit-code").as_str()),
        (0, "1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("file=acme.txt,line=1,col=1,title=Acme token"),
        "the rules file was loaded: {}",
        run.stdout
    );
    let run = run_action(
        &env,
        "schedule",
        &serde_json::json!({}),
        &[("INPUT_ARGS", "--rules 'my rules/extra.toml")],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains("unbalanced quote"), "{}", run.stdout);
}

/// `nmleaks --version` names the commit and the source digest, and the digest is the one
/// `action.sh source-id` computes from the checkout: the Action's cache check rests on the
/// two agreeing.
#[test]
fn version_names_the_commit_and_the_source_digest_the_action_computes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(assert_cmd::cargo::cargo_bin("nmleaks"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(out.stdout).unwrap();
    let digest = version
        .trim()
        .strip_suffix(')')
        .and_then(|v| v.rsplit_once("source "))
        .map_or_else(
            || panic!("no source digest in {version:?}"),
            |(_, d)| d.to_string(),
        );
    assert_eq!(digest.len(), 16, "{version}");
    let out = Command::new("bash")
        .arg(script())
        .arg("source-id")
        .env("GITHUB_ACTION_PATH", root)
        .env_remove("GITHUB_OUTPUT")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("nmleaks source {digest}"),
        "build.rs and action.sh digest the source differently"
    );
    if root.join(".git").exists() {
        let head = git_ok(root, &["rev-parse", "--short=12", "HEAD"]);
        assert!(
            version.contains(&format!("(commit {}, ", head.trim())),
            "{version}"
        );
    }
}

/// A cached binary from another version of the action is replaced, never run: the cache key
/// used to be constant, so after an upgrade the old build kept running silently. A cached
/// binary of this source is used as is.
#[test]
fn a_cached_binary_from_another_source_is_rebuilt_not_run() {
    let env = TestEnv::new();
    let dir = env.path("install");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let stale = dir.join("bin/nmleaks");
    std::fs::write(
        &stale,
        "#!/bin/sh\necho 'nmleaks 0.0.9 (commit 000000000000, source 0123456789abcdef)'\n",
    )
    .unwrap();
    crate::util::chmod(&stale, 0o755);
    // A stand-in for `cargo install`, which installs the binary under test (built from this
    // very source).
    let (cargo, calls) = crate::util::fake_cargo(&env);
    let install = || {
        let out = Command::new("bash")
            .arg(script())
            .arg("install")
            .env("NMLEAKS_INSTALL_DIR", &dir)
            .env("NMLEAKS_VERSION", "source")
            .env("NMLEAKS_CARGO", &cargo)
            .env("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR"))
            .env_remove("NMLEAKS_BIN")
            .env_remove("GITHUB_PATH")
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        log
    };
    let log = install();
    assert!(
        log.contains("is not the one this action wants") && log.contains("building nmleaks"),
        "{log}"
    );
    assert_eq!(std::fs::read_to_string(&calls).unwrap().lines().count(), 1);
    let log = install();
    assert!(log.contains("nmleaks found in the cache"), "{log}");
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap().lines().count(),
        1,
        "a matching cached build was built again"
    );
}
