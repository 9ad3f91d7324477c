//! Messages a user reads when something is wrong: one clear sentence each, naming what the
//! user typed and nothing of nmleaks' insides.

use crate::util::{TestEnv, git_ok};

/// One line on stderr, exit 2, holding `says`.
fn one_error(run: &crate::util::Run, says: &str) {
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("nmleaks: error: "), "{err}");
    assert!(err.contains(says), "{err:?} does not say {says:?}");
}

/// `-o` into a missing directory named the temporary file (`.nmleaks-report19EfC6`).
#[test]
fn an_unwritable_report_names_only_the_users_path_not_the_temporary_file() {
    let env = TestEnv::new();
    env.write("a.txt", "nothing\n");
    let run = env.run(&["scan", "-o", "missing/report.json"]).expect(2);
    one_error(
        &run,
        "cannot write report to missing/report.json: No such file or directory",
    );
    assert!(
        !run.stderr().contains(".nmleaks-report"),
        "{}",
        run.stderr()
    );
}

/// `--since-commit nonexist` blamed `--range`, which the user never typed.
#[test]
fn a_bad_since_commit_names_the_flag_the_user_typed() {
    let env = TestEnv::new();
    git_ok(env.root(), &["init", "-q"]);
    env.write("a.txt", "x\n");
    git_ok(env.root(), &["add", "."]);
    git_ok(env.root(), &["commit", "-q", "-m", "x"]);
    let run = env.run(&["git", "--since-commit", "nonexist"]).expect(2);
    one_error(&run, "--since-commit: ");
    assert!(!run.stderr().contains("--range"), "{}", run.stderr());
}

/// `nmleaks git https://…` said "failed to resolve path": a URL is not a path. It is now
/// mirrored; one that cannot be reached is one error naming it, its credentials hidden.
#[test]
fn an_unreachable_remote_url_is_one_error_without_echoing_credentials() {
    let env = TestEnv::new();
    let clones = env.path("clones");
    // Port 1 on loopback: refused at once, nothing leaves the machine.
    let run = env
        .run(&[
            "git",
            "http://user:s3cr3t-token@127.0.0.1:1/org/repo.git",
            "--clone-dir",
            clones.to_str().unwrap(),
        ])
        .expect(2);
    one_error(
        &run,
        "http://***@127.0.0.1:1/org/repo.git: git fetch failed",
    );
    assert!(!run.stderr().contains("s3cr3t"), "{}", run.stderr());
    assert!(!run.stderr().contains("failed to resolve path"));
    // Nothing half-made is left behind.
    let left: Vec<_> = std::fs::read_dir(&clones).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A rules file that is not valid TOML said what was wrong but not where.
#[test]
fn a_bad_rules_file_names_the_line_and_column() {
    let env = TestEnv::new();
    env.write(
        "rules.toml",
        "[[rules]]\nid = \"x\"\nprefix = \"acme_\"\npattern = \n",
    );
    let run = env.run(&["scan", "--rules", "rules.toml"]).expect(2);
    one_error(
        &run,
        "rules file rules.toml is not valid: line 4, column 11:",
    );
}

/// A `--rules` file inherited the Nomotic filters (bodies of 24 characters or more, entropy):
/// a rule for short tokens found nothing and said "no Nomotic keys found". A rules file's
/// omitted filters are off, and with other rules loaded the messages say "keys".
#[test]
fn a_rules_file_for_short_tokens_finds_them_and_messages_say_keys() {
    let env = TestEnv::new();
    env.write(
        "short.toml",
        r#"
[[rules]]
id = "acme-pin"
name = "Acme PIN token"
description = "A short Acme token."
severity = "low"
security_severity = "3.0"
prefix = "acme_"
pattern = "acme_[a-z0-9]{8}"
examples = ["acme_k3j9x2q1"]
"#,
    );
    env.write("app.cfg", "token = acme_k3j9x2q1\n");
    let json = env
        .run(&[
            "scan",
            "--rules",
            "short.toml",
            "--format",
            "json",
            "app.cfg",
        ])
        .expect(1)
        .json();
    assert_eq!(json["findings"][0]["rule_id"], "acme-pin");
    env.write("app.cfg", "token = none\n");
    let run = env
        .run(&["scan", "--rules", "short.toml", "app.cfg"])
        .expect(0);
    assert_eq!(run.stdout().trim(), "no keys found");
    let run = env.run(&["scan", "app.cfg"]).expect(0);
    assert_eq!(run.stdout().trim(), "no Nomotic keys found");
}
