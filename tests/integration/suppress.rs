//! Suppressions: inline `nmleaks:allow` comments and baseline files.

use crate::util::{TestEnv, git_ok};

#[test]
fn inline_allow_hides_that_location_only() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.py", format!("KEY = '{key}'  # nmleaks:allow\n"));
    env.write("b.py", format!("KEY = '{key}'\n"));
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    let f = &json["findings"][0];
    assert_eq!(f["location_count"], 1);
    assert_eq!(f["locations"][0]["path"], "b.py");
    assert_eq!(json["suppressed"][0]["suppression"]["kind"], "inline");
    assert_eq!(json["suppressed"][0]["locations"][0]["path"], "a.py");
    std::fs::remove_file(env.path("b.py")).unwrap();
    let run = env.run(&["scan"]).expect(0);
    assert!(
        run.stdout()
            .contains("suppressed, not shown: 1 by nmleaks:allow"),
        "{}",
        run.stdout()
    );
}

#[test]
fn inline_allow_does_not_hide_a_second_key_added_to_the_line() {
    let mut env = TestEnv::new();
    let (old, new) = (env.live_key(), env.live_key());
    env.write("a.env", format!("K={old} # nmleaks:allow\n"));
    env.run(&["scan"]).expect(0);
    env.write("a.env", format!("K={old} J={new} # nmleaks:allow\n"));
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(
        json["summary"]["keys"], 2,
        "a bare allow covers a line with one key only"
    );
}

#[test]
fn inline_allow_can_name_keys_by_fingerprint_prefix() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    env.write("x.env", format!("A={a} B={b}\n"));
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    let fp_of = |i: usize| {
        json["findings"][i]["fingerprint"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()[..10]
            .to_string()
    };
    let (fa, fb) = (fp_of(0), fp_of(1));
    env.write("x.env", format!("A={a} B={b} # nmleaks:allow:{fa}\n"));
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(json["summary"]["keys"], 1);
    assert!(
        json["findings"][0]["fingerprint"]
            .as_str()
            .unwrap()
            .contains(&fb)
    );
    env.write("x.env", format!("A={a} B={b} # nmleaks:allow:{fa},{fb}\n"));
    env.run(&["scan"]).expect(0);
}

/// A bare `nmleaks:allow` on a line of two keys hides neither, and nothing said why: the
/// report now says so, with the fingerprint prefix that names each key.
#[test]
fn a_bare_allow_on_a_line_of_two_keys_says_why_it_hides_nothing_and_how_to_name_each() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    env.write("x.env", format!("A={a} B={b} # nmleaks:allow\n"));
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(json["summary"]["keys"], 2);
    let prefixes: Vec<String> = (0..2)
        .map(|i| {
            let f = &json["findings"][i];
            assert_eq!(f["locations"][0]["allow_ambiguous"], true);
            f["fingerprint"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()[..8]
                .to_string()
        })
        .collect();
    let human = env.run(&["scan"]).expect(1).stdout();
    for p in &prefixes {
        assert!(
            human.contains(&format!(
                "nmleaks:allow on this line hides none of its keys (it holds more than one): \
                 name each, this one as nmleaks:allow:{p}"
            )),
            "{human}"
        );
    }
    // Following the hint hides both.
    env.write(
        "x.env",
        format!(
            "A={a} B={b} # nmleaks:allow:{},{}\n",
            prefixes[0], prefixes[1]
        ),
    );
    env.run(&["scan"]).expect(0);
    // One key on an allowed line: hidden, no hint; no allow at all: no hint either.
    env.write("x.env", format!("A={a} # nmleaks:allow\nB={b}\n"));
    let human = env.run(&["scan"]).expect(1).stdout();
    assert!(!human.contains("hides none"), "{human}");
}

#[test]
fn baseline_hides_known_keys_wherever_they_move_but_not_a_new_key_on_the_same_line() {
    let mut env = TestEnv::new();
    let (known, new) = (env.live_key(), env.live_key());
    env.write("app/config.env", format!("A=1\nKEY={known}\n"));
    let run = env
        .run(&["baseline", "create", "-o", "nmleaks-baseline.json"])
        .expect(0);
    assert!(run.stderr().contains("lists 1 key"), "{}", run.stderr());
    let text = std::fs::read_to_string(env.path("nmleaks-baseline.json")).unwrap();
    assert!(!text.contains(&known[8..]), "no key in the baseline");
    assert!(
        !text.contains("\"line\""),
        "no line numbers in the baseline"
    );

    env.run(&["scan", "--baseline", "nmleaks-baseline.json"])
        .expect(0);
    // Moved to another file and line: still hidden.
    std::fs::remove_file(env.path("app/config.env")).unwrap();
    env.write("moved/other.yaml", format!("x: 1\ny: 2\nkey: {known}\n"));
    let run = env
        .run(&["scan", "--baseline", "nmleaks-baseline.json"])
        .expect(0);
    assert!(
        run.stdout().contains("1 by the baseline"),
        "{}",
        run.stdout()
    );
    // A different key on the same line is reported.
    env.write(
        "moved/other.yaml",
        format!("x: 1\ny: 2\nkey: {known} {new}\n"),
    );
    let json = env
        .run(&[
            "scan",
            "--baseline",
            "nmleaks-baseline.json",
            "--format",
            "json",
        ])
        .expect(1)
        .json();
    assert_eq!(json["summary"]["keys"], 1);
    assert_eq!(json["findings"][0]["locations"][0]["column"], 7 + 40);
    assert_eq!(json["suppressed"][0]["suppression"]["kind"], "baseline");
}

#[test]
fn baseline_create_keeps_notes_of_known_keys() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    env.write("a.env", format!("K={a}\n"));
    env.run(&["baseline", "create"]).expect(0);
    let path = env.path(".nmleaks-baseline.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["entries"][0]["note"] = "rotated 2026-11; test fixture".into();
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    env.write("b.env", format!("K={b}\n"));
    env.run(&["baseline", "create"]).expect(0);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["note"] == "rotated 2026-11; test fixture")
            .count(),
        1
    );
    let json = env
        .run(&[
            "scan",
            "--baseline",
            ".nmleaks-baseline.json",
            "--format",
            "json",
        ])
        .expect(0)
        .json();
    let notes: Vec<&str> = json["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["suppression"]["note"].as_str())
        .collect();
    assert_eq!(notes, ["rotated 2026-11; test fixture"]);
}

#[test]
fn a_bad_baseline_is_one_sentence_and_exit_2() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.env", &key);
    let cases = [
        ("not-json.json", "{ nope", "is not valid JSON"),
        (
            "v9.json",
            r#"{"version": 9, "entries": []}"#,
            "has version 9; this nmleaks reads version 1",
        ),
        ("noversion.json", r#"{"entries": []}"#, "has no version"),
        (
            "badfp.json",
            r#"{"version": 1, "entries": [{"fingerprint": "x", "rule_id": "r", "redacted": "r"}]}"#,
            "malformed fingerprint",
        ),
    ];
    for (name, text, want) in cases {
        env.write(name, text);
        let run = env.run(&["scan", "--baseline", name]).expect(2);
        let err = run.stderr();
        assert!(err.contains(want), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            run.stdout().is_empty(),
            "no scan output before a usage error"
        );
    }
    let run = env.run(&["scan", "--baseline", "missing.json"]).expect(2);
    assert!(
        run.stderr()
            .contains("cannot read baseline file missing.json")
    );
}

#[test]
fn nmleaksignore_applies_to_git_history_and_staged_modes() {
    let mut env = TestEnv::new();
    let (fixture, real) = (env.live_key(), env.live_key());
    let root = env.root().to_path_buf();
    crate::util::git_ok(&root, &["init", "-q"]);
    env.write(".nmleaksignore", "fixtures/\n");
    env.write("fixtures/key.txt", format!("{fixture}\n"));
    env.write("src/app.py", format!("KEY = '{real}'\n"));
    crate::util::git_ok(&root, &["add", "-A"]);
    crate::util::git_ok(&root, &["commit", "-q", "-m", "keys"]);
    let json = env.run(&["git", "--format", "json"]).expect(1).json();
    let paths: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap())
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["src/app.py"], "{json:#}");
    env.write(
        "fixtures/other.txt",
        format!("{}\n", env.rng.clone().live_key()),
    );
    crate::util::git_ok(&root, &["add", "-A"]);
    env.run(&["git", "--staged"]).expect(0);
}

/// `scan` and `git` read `.nmleaks-baseline.json` at the top of the repository without a
/// flag, from any directory inside it; `--baseline` overrides it, `--no-baseline` disables
/// it, and a broken one is one sentence and exit 2, never silently ignored.
#[test]
fn the_conventional_baseline_is_found_by_scan_and_git_and_no_baseline_disables_it() {
    let mut env = TestEnv::new();
    git_ok(env.root(), &["init", "-q"]);
    let key = env.live_key();
    env.write("app/config.env", format!("K={key}\n"));
    git_ok(env.root(), &["add", "."]);
    git_ok(env.root(), &["commit", "-q", "-m", "key"]);
    // Created from a subdirectory: it goes to the top of the repository.
    let sub = env.path("app");
    let run = env.run_in(&sub, &["baseline", "create"]).expect(0);
    assert!(
        run.stderr().contains(".nmleaks-baseline.json lists 1 key"),
        "{}",
        run.stderr()
    );
    assert!(env.path(".nmleaks-baseline.json").is_file());
    for args in [
        &["scan"][..],
        &["git"],
        &["git", "--since-commit", "HEAD~0"],
    ] {
        let json = env.run_in(&sub, &[args, &["--format", "json"]].concat());
        let json = json.expect(0).json();
        assert_eq!(json["findings"].as_array().unwrap().len(), 0, "{args:?}");
    }
    let json = env.run(&["git", "--format", "json"]).expect(0).json();
    assert_eq!(json["suppressed"].as_array().unwrap().len(), 1);
    env.run(&["scan", "--no-baseline"]).expect(1);
    env.run(&["git", "--no-baseline"]).expect(1);
    env.write("empty.json", r#"{"version": 1, "entries": []}"#);
    env.run(&["scan", "--baseline", "empty.json"]).expect(1);
    let run = env
        .run(&["scan", "--baseline", "x", "--no-baseline"])
        .expect(2);
    assert!(
        run.stderr().contains("cannot be used with"),
        "{}",
        run.stderr()
    );
    env.write(".nmleaks-baseline.json", "{ not json");
    let run = env.run(&["scan"]).expect(2);
    assert!(
        run.stderr()
            .contains(".nmleaks-baseline.json is not valid JSON"),
        "{}",
        run.stderr()
    );
    env.run(&["scan", "--no-baseline"]).expect(1);
}

/// `baseline create` takes keys from history, a range or the staged changes, not only from
/// the files: a key deleted from the tree but still in history can be baselined.
#[test]
fn baseline_create_works_from_history_a_range_and_the_staged_changes() {
    let mut env = TestEnv::new();
    git_ok(env.root(), &["init", "-q"]);
    env.write("README.md", "demo\n");
    git_ok(env.root(), &["add", "."]);
    git_ok(env.root(), &["commit", "-q", "-m", "first"]);
    let old = env.live_key();
    env.write("old.env", format!("K={old}\n"));
    git_ok(env.root(), &["add", "."]);
    git_ok(env.root(), &["commit", "-q", "-m", "old key"]);
    git_ok(env.root(), &["rm", "-q", "old.env"]);
    git_ok(env.root(), &["commit", "-q", "-m", "removed"]);
    let entries = |env: &TestEnv| -> usize {
        let text = std::fs::read_to_string(env.path(".nmleaks-baseline.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc["entries"].as_array().unwrap().len()
    };
    env.run(&["baseline", "create"]).expect(0);
    assert_eq!(entries(&env), 0, "the files hold no key");
    env.run(&["git"]).expect(1);
    env.run(&["baseline", "create", "--git"]).expect(0);
    assert_eq!(entries(&env), 1);
    env.run(&["git"]).expect(0);
    // A range holding only the removal introduces no key.
    env.run(&["baseline", "create", "--range", "HEAD~1..HEAD"])
        .expect(0);
    assert_eq!(entries(&env), 0);
    env.run(&["baseline", "create", "--range", "HEAD~2..HEAD"])
        .expect(0);
    assert_eq!(entries(&env), 1);
    // --staged: the key the next commit adds; --merge keeps the history key.
    let new = env.live_key();
    env.write("new.env", format!("K={new}\n"));
    git_ok(env.root(), &["add", "new.env"]);
    env.run(&["baseline", "create", "--staged", "--merge"])
        .expect(0);
    assert_eq!(entries(&env), 2);
    env.run(&["git", "--staged"]).expect(0);
    // Without --merge the file lists exactly what this scan found.
    env.run(&["baseline", "create", "--staged"]).expect(0);
    assert_eq!(entries(&env), 1);
    env.run(&["git"]).expect(1);
    let text = std::fs::read_to_string(env.path(".nmleaks-baseline.json")).unwrap();
    assert!(!text.contains(&old[8..]) && !text.contains(&new[8..]));
}

/// `baseline create --help` lists only what applies to writing a baseline.
#[test]
fn baseline_create_help_lists_no_report_flags() {
    let env = TestEnv::new();
    let run = env.run(&["baseline", "create", "--help"]).expect(0);
    let help = run.stdout();
    for flag in [
        "--format",
        "--sarif-file",
        "--show-secrets",
        "--color",
        "--verify",
        "--fail-on",
    ] {
        assert!(!help.contains(flag), "{flag} in:\n{help}");
    }
    for flag in [
        "--git", "--staged", "--range", "--merge", "--output", "--rules",
    ] {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
}

/// gitleaks users pass a JSON report as the baseline: nmleaks reads its own JSON report where
/// a baseline goes, and `baseline create --from-report` turns one into a baseline, taking only
/// fingerprints (never a key, even from a `--show-secrets` report).
#[test]
fn a_json_report_is_accepted_as_a_baseline_and_by_baseline_create_from_report() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    env.write("a.env", format!("K={a}\n"));
    env.write("b.py", format!("KEY = '{b}'  # nmleaks:allow\n"));
    env.run(&["scan", "--format", "json", "-o", "report.json"])
        .expect(1);
    env.run(&[
        "scan",
        "--show-secrets",
        "--format",
        "json",
        "-o",
        "full.json",
    ])
    .expect(1);
    env.run(&["scan", "--baseline", "report.json"]).expect(0);
    env.run(&["scan", "--baseline", "full.json"]).expect(0);
    // Moved and copied, the keys stay hidden; a new key does not.
    env.write("c.env", format!("COPY={a}\n"));
    env.run(&["scan", "--baseline", "report.json"]).expect(0);
    let c = env.live_key();
    env.write("d.env", format!("NEW={c}\n"));
    env.run(&["scan", "--baseline", "report.json"]).expect(1);
    let run = env
        .run(&["baseline", "create", "--from-report", "full.json"])
        .expect(0);
    assert!(
        run.stderr().contains("lists 2 keys from the report"),
        "{}",
        run.stderr()
    );
    let text = std::fs::read_to_string(env.path(".nmleaks-baseline.json")).unwrap();
    for k in [&a, &b] {
        assert!(
            !text.contains(&k[8..]),
            "a key went into the baseline: {text}"
        );
    }
    std::fs::remove_file(env.path("d.env")).unwrap();
    env.run(&["scan"]).expect(0);
    // Something that is neither is one sentence, exit 2.
    env.write(
        "other.json",
        r#"{"tool": {"name": "gitleaks"}, "findings": 3}"#,
    );
    let run = env.run(&["scan", "--baseline", "other.json"]).expect(2);
    assert!(
        run.stderr()
            .contains("is neither an nmleaks baseline nor an nmleaks JSON report"),
        "{}",
        run.stderr()
    );
}
