//! The config file `.nmleaks.toml`, `--exclude`/`--include`, and what a config may never do:
//! hide a key verified live, or be trusted in a third party's repository when told not to.

use std::collections::HashMap;

use crate::api::{ApiServer, Reply};
use crate::util::{ACME_RULES, TestEnv, git_ok};

/// The fingerprint prefix (16 hex digits) of `key`, as `nmleaks:allow:` and `allow` take it.
fn prefix(key: &str) -> String {
    nmleaks::finding::Fingerprint::of(key).hex()[..16].to_string()
}

/// A repository with a config file: extra rules, an exclude, an allowed key and a baseline
/// elsewhere than the default. Returns (env, vendor key, allowed key, baselined key, token).
fn configured() -> (TestEnv, String, String, String, String) {
    let mut env = TestEnv::new();
    git_ok(env.root(), &["init", "-q"]);
    let (vendored, allowed, known) = (env.live_key(), env.live_key(), env.live_key());
    let token = format!("acme_{}", env.rng.base62(30));
    env.write("security/acme.toml", ACME_RULES);
    env.write("vendor/lib/conf.env", format!("K={vendored}\n"));
    env.write("tests/fixture.env", format!("K={allowed}\n"));
    env.write("app/known.env", format!("K={known}\n"));
    env.write("app/acme.txt", &token);
    env.run(&[
        "baseline",
        "create",
        "--no-config",
        "-o",
        "security/baseline.json",
        "app/known.env",
    ])
    .expect(0);
    env.write(
        ".nmleaks.toml",
        format!(
            "rules = [\"security/acme.toml\"]\nexclude = [\"vendor/\", \"security/\"]\n\
             baseline = \"security/baseline.json\"\nallow = [\"{}\"]\n",
            prefix(&allowed)
        ),
    );
    git_ok(env.root(), &["add", "."]);
    git_ok(env.root(), &["commit", "-q", "-m", "all"]);
    (env, vendored, allowed, known, token)
}

/// Keys reported (active) by a JSON report: their rule ids, sorted.
fn active_rules(json: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn the_config_file_is_read_by_scan_git_and_the_hooks_and_flags_override_it() {
    let (mut env, vendored, _allowed, _known, _token) = configured();
    for cmd in [&["scan"][..], &["git"]] {
        let json = env
            .run(&[cmd, &["--format", "json"]].concat())
            .expect(1)
            .json();
        // Only the Acme token is left: the rules file came from the config.
        assert_eq!(active_rules(&json), ["acme-token"], "{cmd:?}: {json:#}");
        let kinds: Vec<&str> = json["suppressed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["suppression"]["kind"].as_str().unwrap())
            .collect();
        for k in ["excluded", "config-allow", "baseline"] {
            assert!(kinds.contains(&k), "{cmd:?}: {kinds:?}");
        }
    }
    // --no-config: none of it applies (the default baseline path holds nothing).
    let json = env
        .run(&["scan", "--no-config", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(active_rules(&json).len(), 3, "{json:#}");
    // --config FILE instead; and flags add to the file's lists.
    env.write("other.toml", "exclude = [\"app/\"]\n");
    let json = env
        .run(&[
            "scan",
            "--config",
            "other.toml",
            "--exclude",
            "tests/",
            "--format",
            "json",
        ])
        .expect(1)
        .json();
    assert_eq!(
        active_rules(&json),
        ["nomotic-live-api-key"],
        "only vendor/ is left: {json:#}"
    );
    // The hook reads it too: a commit adding a key under vendor/ passes.
    env.run(&["install-hook"]).expect(0);
    let more = env.rng.live_key();
    env.write("vendor/more.env", format!("K={more}\n"));
    git_ok(env.root(), &["add", "vendor/more.env"]);
    let out = crate::util::git_command(env.root())
        .env("PATH", crate::util::path_with_bin())
        .args(["commit", "-q", "-m", "vendored"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = vendored;
}

/// Nothing in a config hides a key `--verify` found live: it is reported, with the reason it
/// would have been hidden.
#[test]
fn nothing_in_a_config_hides_a_key_verified_live() {
    let (env, vendored, allowed, known, _token) = configured();
    let server = ApiServer::by_key(HashMap::from([
        (vendored.clone(), Reply::json(200, r#"{"agents": []}"#)),
        (allowed.clone(), Reply::json(200, r#"{"agents": []}"#)),
        (known.clone(), Reply::json(200, r#"{"agents": []}"#)),
    ]));
    let url = server.url();
    let json = env
        .run(&crate::util::verifying("scan", &url, &["--format", "json"]))
        .expect(1)
        .json();
    let overridden: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["suppression_overridden"].as_str())
        .collect();
    let mut o = overridden.clone();
    o.sort_unstable();
    assert_eq!(o, ["baseline", "config-allow", "excluded"], "{json:#}");
    let human = env
        .run(&crate::util::verifying("scan", &url, &[]))
        .expect(1)
        .stdout();
    assert!(
        human.contains("(not hidden by an exclude: the key is live)"),
        "{human}"
    );
    assert!(
        human.contains("(not hidden by the config's allow list: the key is live)"),
        "{human}"
    );
}

/// Auditing a third party's repository: `--no-repo-config` reads none of its
/// `.nmleaks.toml`, `.nmleaksignore` or baseline, which a hostile repository could fill to
/// hide its keys.
#[test]
fn no_repo_config_trusts_nothing_the_audited_repository_provides() {
    let mut env = TestEnv::new();
    git_ok(env.root(), &["init", "-q"]);
    let (a, b, c) = (env.live_key(), env.live_key(), env.live_key());
    env.write("a.env", format!("K={a}\n"));
    env.write("b.env", format!("K={b}\n"));
    env.write("c.env", format!("K={c}\n"));
    env.write(".nmleaks.toml", "exclude = [\"a.env\"]\n");
    env.write(".nmleaksignore", "b.env\n");
    env.run(&["baseline", "create", "--no-config", "c.env"])
        .expect(0);
    git_ok(env.root(), &["add", "."]);
    git_ok(env.root(), &["commit", "-q", "-m", "hostile"]);
    env.run(&["git"]).expect(0);
    let json = env
        .run(&["git", "--no-repo-config", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(json["summary"]["keys"], 3, "{json:#}");
    let json = env
        .run(&["scan", "--no-repo-config", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(json["summary"]["keys"], 3, "{json:#}");
}

/// `--include` reports only keys under the paths it names; `--exclude` hides those it names.
#[test]
fn include_and_exclude_take_gitignore_globs() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    env.write("src/app.py", format!("K='{a}'\n"));
    env.write("docs/guide.md", format!("K={b}\n"));
    let json = env
        .run(&["scan", "--include", "src/**", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(json["findings"][0]["locations"][0]["path"], "src/app.py");
    assert_eq!(json["summary"]["keys"], 1);
    let json = env
        .run(&["scan", "--exclude", "*.md", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(json["findings"][0]["locations"][0]["path"], "src/app.py");
    env.run(&["scan", "--exclude", "*.md", "--exclude", "src/"])
        .expect(0);
}

/// A config file with an unknown setting or a bad value is one sentence, with its line, and
/// exit 2; never silently ignored.
#[test]
fn a_bad_config_file_is_one_sentence_with_its_line_and_exit_2() {
    let env = TestEnv::new();
    env.write("a.txt", "x\n");
    env.write(
        ".nmleaks.toml",
        "exclude = [\"vendor/\"]\nexlcude = [\"x\"]\n",
    );
    let run = env.run(&["scan"]).expect(2);
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "config file .nmleaks.toml is not valid: line 2, column 1: unknown field `exlcude`"
        ),
        "{err}"
    );
    env.write(".nmleaks.toml", "allow = [\"xyz\"]\n");
    let run = env.run(&["scan"]).expect(2);
    assert!(
        run.stderr()
            .contains("allow entry xyz is not a fingerprint"),
        "{}",
        run.stderr()
    );
    env.run(&["scan", "--no-config"]).expect(0);
    let run = env.run(&["scan", "--config", "missing.toml"]).expect(2);
    assert!(
        run.stderr()
            .contains("config file missing.toml does not exist"),
        "{}",
        run.stderr()
    );
}

/// With `--verify`, the config's plan sets the rate and its fail-on the policy; without
/// `--verify` its fail-on is not applied (`live` would then never fail: a false all-clear).
#[test]
fn the_config_sets_fail_on_and_the_rate_only_with_verify() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.env", format!("K={key}\n"));
    env.write(
        ".nmleaks.toml",
        "fail-on = \"live\"\n[verify]\nplan = \"business\"\n",
    );
    env.run(&["scan"]).expect(1);
    let server = ApiServer::by_key(HashMap::from([(key.clone(), Reply::json(401, "{}"))]));
    // Revoked, and the config's fail-on is live: exit 0; the flag overrides it.
    env.run(&[
        "scan",
        "--verify",
        "--api-url",
        &server.url(),
        "--no-verify-cache",
    ])
    .expect(0);
    env.run(&[
        "scan",
        "--verify",
        "--api-url",
        &server.url(),
        "--no-verify-cache",
        "--fail-on",
        "any",
    ])
    .expect(1);
}
