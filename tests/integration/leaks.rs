//! No key leaks: every command and format, over a corpus of planted keys, with and without
//! `--verify` against a loopback API that fails in every way it can, prints no key, and no
//! 12-character slice of one, to stdout, stderr, report files or the verification cache,
//! unless `--show-secrets` asks for keys in the report. Nothing panics.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::{ApiServer, Reply};
use crate::util::{Run, TestEnv};

/// Every 12-character window of the body of each key (the part after the prefix).
fn slices(keys: &[String]) -> Vec<String> {
    keys.iter()
        .flat_map(|k| {
            let body = &k[k.find('_').map_or(0, |i| i + 1)..];
            let body = &body[body.find('_').map_or(0, |i| i + 1)..];
            (0..=body.len().saturating_sub(12)).map(move |i| body[i..i + 12].to_string())
        })
        .collect()
}

/// Panics if `text` holds any slice.
fn assert_clean(what: &str, text: &str, slices: &[String]) {
    if let Some(s) = slices.iter().find(|s| text.contains(s.as_str())) {
        panic!("{what} holds part of a key ({s}):\n{text}");
    }
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A corpus of keys in the places keys live, in files, a binary, UTF-16, an allowed line,
/// an ignored file, and a rules file's examples. Returns the keys.
fn corpus(env: &mut TestEnv) -> Vec<String> {
    let mut keys: Vec<String> = (0..8).map(|_| env.live_key()).collect();
    keys.push(env.rng.test_key());
    keys.push(format!("nm_live_{}", env.rng.hex(32)));
    let acme = format!("acme_{}", env.rng.base62(30));
    let k = |i: usize| keys[i].clone();
    env.write(
        "app/.env",
        format!("NOMOTIC_API_KEY={}\nOTHER={}\n", k(0), k(1)),
    );
    env.write(
        "app/config.json",
        format!("{{\"key\": \"{}\", \"log\": \"x\\n{}\"}}\n", k(2), k(0)),
    );
    env.write(
        "app/link.txt",
        format!("https://x.test/?auth=Bearer%20{}\n", k(3)),
    );
    env.write(
        "app/allowed.py",
        format!("K = '{}'  # nmleaks:allow\n", k(4)),
    );
    let mut bin = vec![0u8, 1, 2];
    bin.extend_from_slice(k(5).as_bytes());
    env.write("assets/blob.bin", bin);
    let utf16: Vec<u8> = format!("\u{feff}key={}\r\n", k(6))
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    env.write("win/settings.ps1", utf16);
    env.write("dev.env", format!("A={} B={}\n", k(8), k(9)));
    env.write("docs/acme.txt", format!("token {acme}\n"));
    env.write(
        "acme.toml",
        format!(
            r#"[[rules]]
id = "acme-token"
name = "Acme token"
description = "An Acme token."
severity = "low"
security_severity = "3.0"
prefix = "acme_"
pattern = "acme_[A-Za-z0-9]{{24,}}"
examples = ["token {acme}", "{}"]
negative_examples = ["{acme}x"]
"#,
            k(7)
        ),
    );
    keys.push(acme);
    keys
}

/// A stand-in API answering each of the first nine keys in a different way: 200, 401, 403,
/// 429 (after every retry), 500, too slow, a redirect, an HTML page with 200 and with 403.
fn failing_api(live: &[String]) -> ApiServer {
    // One answer of each kind, by key.
    let agents = r#"{"agents": [], "total": 0}"#;
    ApiServer::by_key(HashMap::from([
        (live[0].clone(), Reply::json(200, agents)),
        (
            live[1].clone(),
            Reply::json(401, r#"{"error":"unauthorized"}"#),
        ),
        (
            live[2].clone(),
            Reply::json(403, r#"{"error":"insufficient_scope"}"#),
        ),
        (
            live[3].clone(),
            Reply::json(429, "{}").header("Retry-After", "1"),
        ),
        (live[4].clone(), Reply::json(500, "{}")),
        (
            live[5].clone(),
            Reply::json(200, agents).delayed(Duration::from_secs(3)),
        ),
        (
            live[6].clone(),
            Reply::json(302, "{}").header("Location", "http://127.0.0.1:9/x"),
        ),
        (live[7].clone(), Reply::html(200)),
        (live[8].clone(), Reply::html(403)),
    ]))
}

/// Asserts that the report of a `--verify` run holds every status and reason the stand-in
/// API can cause.
fn assert_every_answer_came_back(json: &serde_json::Value) {
    let mut seen: Vec<String> = ["findings", "suppressed"]
        .iter()
        .flat_map(|list| json[list].as_array().unwrap().iter())
        .filter(|f| f["verification"].is_object())
        .map(|f| {
            let v = &f["verification"];
            format!(
                "{} {}",
                v["status"].as_str().unwrap(),
                v["reason"].as_str().unwrap_or("-")
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    for want in [
        "live -",
        "revoked -",
        "live_insufficient_scope -",
        "unknown rate_limited",
        "unknown server_error",
        "unknown timeout",
        "unknown redirect",
        "unknown not_api_json",
        "unknown not_nomotic",
    ] {
        assert!(seen.contains(&want.to_string()), "{want} not in {seen:?}");
    }
}

#[test]
fn no_command_or_format_prints_a_key_unless_asked() {
    let mut env = TestEnv::new();
    let keys = corpus(&mut env);
    let slices = slices(&keys);
    let server = failing_api(&keys[..10]);
    let api = server.url();
    let verify: Vec<&str> = vec![
        "--verify",
        "--api-url",
        &api,
        "--verify-rate",
        "60000",
        "--verify-read-timeout",
        "300ms",
        "--verify-retries",
        "1",
        "--verify-max-wait",
        "50ms",
    ];

    env.run(&["baseline", "create", "app", "-o", "baseline.json"])
        .expect(0);
    let mut runs: Vec<(String, Run)> = Vec::new();
    let mut record = |name: String, run: Run| {
        assert!(
            !run.stderr().contains("panicked"),
            "{name} panicked: {}",
            run.stderr()
        );
        runs.push((name, run));
    };
    for format in ["human", "json", "sarif"] {
        for (n, extra) in [&[][..], &verify[..], &["--baseline", "baseline.json"][..]]
            .into_iter()
            .enumerate()
        {
            let out = format!("out-{format}-{n}.report");
            let mut args = vec!["scan", "--rules", "acme.toml", "--format", format];
            args.extend_from_slice(extra);
            let run = env.run(&args);
            assert!(run.code() <= 1, "{args:?}: {}", run.stderr());
            record(format!("{args:?}"), run);
            args.extend_from_slice(&["-o", &out]);
            record(format!("{args:?}"), env.run(&args));
            let text = std::fs::read_to_string(env.path(&out)).unwrap();
            assert_clean(&format!("report file of {args:?}"), &text, &slices);
        }
    }
    let stdin = std::fs::read(env.path("app/.env")).unwrap();
    record(
        "scan -".into(),
        env.run_with_stdin(&["scan", "-", "--format", "json"], &stdin),
    );
    record(
        "rules list".into(),
        env.run(&["rules", "list", "--rules", "acme.toml"]),
    );
    record(
        "rules check".into(),
        env.run(&["rules", "check", "acme.toml"]),
    );
    env.write(
        "bad.toml",
        format!("[[rules]]\nexamples = \"{}\"\n", keys[0]),
    );
    record(
        "scan with a rules file that fails to parse".into(),
        env.run(&["scan", "--rules", "bad.toml"]),
    );
    record(
        "baseline create".into(),
        env.run(&["baseline", "create", "-o", "baseline2.json"]),
    );
    // The API really failed in each way: every status and reason came back.
    let json = runs
        .iter()
        .find(|(name, _)| name.contains("\"json\", \"--verify\"") && !name.contains("-o"))
        .map(|(_, run)| run.json())
        .unwrap();
    assert_every_answer_came_back(&json);
    for (name, run) in &runs {
        assert_clean(&format!("stdout of {name}"), &run.stdout(), &slices);
        assert_clean(&format!("stderr of {name}"), &run.stderr(), &slices);
    }
    for file in ["baseline.json", "baseline2.json"] {
        let text = std::fs::read_to_string(env.path(file)).unwrap();
        assert_clean(file, &text, &slices);
    }
    let cached = files(env.cache_dir());
    assert!(
        cached.len() >= 3,
        "definite answers were cached: {cached:?}"
    );
    for p in cached {
        assert_clean("a cache file name", &p.to_string_lossy(), &slices);
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        assert_clean("a cache file", &text, &slices);
    }
}

#[test]
fn show_secrets_prints_the_keys_in_the_report_and_nowhere_else() {
    let mut env = TestEnv::new();
    let keys = corpus(&mut env);
    let slices = slices(&keys);
    let server = failing_api(&keys[..10]);
    let api = server.url();
    let verify = [
        "--verify",
        "--api-url",
        &api,
        "--verify-rate",
        "60000",
        "--verify-read-timeout",
        "300ms",
        "--verify-retries",
        "1",
        "--verify-max-wait",
        "50ms",
    ];
    // The check above can fail: with --show-secrets the report holds the keys.
    for format in ["human", "json", "sarif"] {
        let mut args = vec!["scan", "--show-secrets", "--rules", "acme.toml"];
        args.extend_from_slice(&["--format", format]);
        args.extend_from_slice(&verify);
        let run = env.run(&args).expect(1);
        let out = run.stdout();
        let shown = keys.iter().filter(|k| out.contains(k.as_str())).count();
        // The allowed key is suppressed, so not shown; every other key is.
        assert!(
            shown >= keys.len() - 1,
            "--show-secrets shows the keys ({format}): {shown}"
        );
        assert_clean("stderr with --show-secrets", &run.stderr(), &slices);
    }
}

/// A rules file for `acme_` keys whose pattern is `pattern` (TOML-escaped).
fn acme_rules(env: &TestEnv, pattern: &str, example: &str) {
    env.write(
        "acme.toml",
        format!(
            r#"[[rules]]
id = "acme-token"
name = "Acme token"
description = "An Acme token."
severity = "low"
security_severity = "3.0"
prefix = "acme_"
pattern = "{pattern}"
examples = ["{example}"]
[rules.filters]
min_body_len = 8
"#
        ),
    );
}

/// Regression: the snippet redaction only hid a prefix followed by 8 or more letters or
/// digits, so a custom rule's key with a dash early in its body was printed in full.
#[test]
fn custom_rule_keys_with_dashes_are_redacted_in_snippets() {
    let mut env = TestEnv::new();
    let key = format!("acme_ab-{}", env.rng.base62(30));
    acme_rules(&env, "acme_[A-Za-z0-9_-]{30,}", &key);
    env.write("conf.txt", format!("token = \"{key}\" # prod\n"));
    let slices = slices(&[key.replace("acme_", "acme_x_")]);
    for format in ["human", "json", "sarif"] {
        let run = env
            .run(&[
                "scan",
                "--rules",
                "acme.toml",
                "--format",
                format,
                "conf.txt",
            ])
            .expect(1);
        assert_clean(&format!("{format} report"), &run.stdout(), &slices);
        assert_clean(&format!("{format} stderr"), &run.stderr(), &slices);
        assert!(run.stdout().contains("acme_…"), "{}", run.stdout());
    }
}

/// Regression: a custom rule whose pattern matches multibyte characters made redaction slice
/// inside one and panic, printing the key body in the panic message and losing the report.
#[test]
fn a_custom_key_ending_in_multibyte_characters_does_not_panic() {
    let env = TestEnv::new();
    let key = "mbk_Q7rT9kLm2XpV8nBw4ZcY6hJ\u{20ac}\u{20ac}";
    env.write(
        "mbk.toml",
        r#"[[rules]]
id = "mbk-token"
name = "MBK token"
description = "A token."
severity = "low"
security_severity = "3.0"
prefix = "mbk_"
pattern = "mbk_[^\\s\"]{20,}"
examples = ["v=mbk_Q7rT9kLm2XpV8nBw4ZcY6hJ€€"] # nmleaks:allow
"#,
    );
    env.write("v.txt", format!("v={key}\n"));
    for format in ["human", "json", "sarif"] {
        let run = env
            .run(&["scan", "--rules", "mbk.toml", "--format", format, "v.txt"])
            .expect(1);
        assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
        assert_clean(
            &format!("{format} output"),
            &format!("{}{}", run.stdout(), run.stderr()),
            &["Q7rT9kLm2XpV".to_string()],
        );
    }
}

/// Regression: a key echoed from the command line (a missing path, a bad `--range`, an
/// unknown flag's value, `--api-url`), from a `.nmleaksignore` line that is not a valid glob,
/// or from a rules file's rule name and description was printed in full.
#[test]
fn keys_echoed_from_flags_paths_ignore_files_and_rules_are_redacted() {
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..6).map(|_| env.live_key()).collect();
    let slices = slices(&keys);
    crate::util::git_ok(env.root(), &["init", "-q"]);
    env.write("a.txt", "nothing here\n");
    crate::util::git_ok(env.root(), &["add", "a.txt"]);
    crate::util::git_ok(env.root(), &["commit", "-qm", "one"]);
    env.write(".nmleaksignore", format!("{{{}\n", keys[3]));
    env.write(
        "named.toml",
        format!(
            r#"[[rules]]
id = "named"
name = "Named after {}"
description = "Holds {} in its description."
severity = "low"
security_severity = "3.0"
prefix = "zzq_"
pattern = "zzq_[A-Za-z0-9]{{24,}}"
examples = ["zzq_Q7rT9kLm2XpV8nBw4ZcY6hJd"]
"#,
            keys[4], keys[4]
        ),
    );
    env.write("k.txt", "zzq_Q7rT9kLm2XpV8nBw4ZcY6hJd\n");
    let api = format!("http://127.0.0.1:9/{}", keys[5]);
    let runs = [
        env.run(&["scan", &format!("missing-{}.txt", keys[0])])
            .expect(2),
        env.run(&["git", "--range", &format!("{}..HEAD", keys[1])])
            .expect(2),
        env.run(&["scan", &format!("--bogus={}", keys[2])])
            .expect(2),
        env.run(&["scan", "."]),
        env.run(&["scan", "--rules", "named.toml", "k.txt"])
            .expect(1),
        env.run(&["scan", "--rules", "named.toml", "--format", "json", "k.txt"])
            .expect(1),
        env.run(&[
            "scan",
            "--rules",
            "named.toml",
            "--format",
            "sarif",
            "k.txt",
        ])
        .expect(1),
        env.run(&[
            "scan",
            "--verify",
            "--api-url",
            &api,
            "--format",
            "json",
            "k.txt",
        ]),
    ];
    for (i, run) in runs.iter().enumerate() {
        assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
        assert_clean(&format!("stdout of run {i}"), &run.stdout(), &slices);
        assert_clean(&format!("stderr of run {i}"), &run.stderr(), &slices);
    }
    // The messages still say what was wrong, with the key redacted.
    assert!(
        runs[0].stderr().contains("missing-nm_live_…"),
        "{}",
        runs[0].stderr()
    );
    assert!(runs[2].stderr().contains("--bogus"), "{}", runs[2].stderr());
    assert!(
        runs[3].stderr().contains("error parsing glob"),
        "{}",
        runs[3].stderr()
    );
    assert!(runs[4].stdout().contains("named"), "{}", runs[4].stdout());
}

/// Regression: a key in a file or directory name was printed in full in every format
/// (SARIF's `uri` too) and was not a finding.
#[test]
fn keys_in_file_and_directory_names_are_findings_and_redacted() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    let slices = slices(&[a.clone(), b.clone()]);
    env.write(&format!("dir-{a}/inner.txt"), "nothing\n");
    env.write(&format!("{b}.env"), "nothing\n");
    env.write("plain.txt", "nothing\n");
    let json = env.run(&["scan", "--format", "json"]).expect(1);
    assert_clean("json", &json.stdout(), &slices);
    let json = json.json();
    assert_eq!(json["summary"]["keys"], 2, "{json}");
    // The key in the directory's name is reported once, at the directory.
    assert_eq!(json["summary"]["locations"], 2, "{json}");
    for f in json["findings"].as_array().unwrap() {
        assert_eq!(f["locations"][0]["part"], "path", "{f}");
    }
    for format in ["human", "sarif"] {
        let run = env.run(&["scan", "--format", format]).expect(1);
        assert_clean(format, &run.stdout(), &slices);
        assert_clean(format, &run.stderr(), &slices);
    }
    let human = env.run(&["scan"]).expect(1).stdout();
    assert!(human.contains("(in the path)"), "{human}");
    env.run(&["scan", "--format", "sarif", "-o", "names.sarif"])
        .expect(1);
    let problems = crate::util::sarif_problems(&env.path("names.sarif"));
    assert!(problems.is_empty(), "validator: {problems:#?}");
    // Asked for, the names are shown in full.
    let shown = env.run(&["scan", "--show-secrets"]).expect(1).stdout();
    assert!(shown.contains(&a) && shown.contains(&b), "{shown}");
}

/// Regression: keys in git author, committer and tagger names and emails, in branch and tag
/// names, and in the paths of committed files were printed in full and were not findings.
#[test]
fn keys_in_git_authors_refs_and_paths_are_findings_and_redacted() {
    use crate::util::{git_command, git_ok};
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..7).map(|_| env.live_key()).collect();
    let slices = slices(&keys);
    let root = env.root().to_path_buf();
    git_ok(&root, &["init", "-q"]);
    env.write("README", "nothing\n");
    env.write(&format!("conf/{}.env", keys[3]), "nothing\n");
    git_ok(&root, &["add", "-A"]);
    let commit = git_command(&root)
        .env("GIT_AUTHOR_NAME", format!("dev {}", keys[0]))
        .env(
            "GIT_COMMITTER_EMAIL",
            format!("{}@ci.example.test", keys[1]),
        )
        .args(["commit", "-qm", "one"])
        .output()
        .unwrap();
    assert!(commit.status.success(), "{commit:?}");
    git_ok(&root, &["branch", &format!("feature/{}", keys[2])]);
    let tag = git_command(&root)
        .env("GIT_COMMITTER_NAME", format!("release {}", keys[4]))
        .args(["tag", "-a", "v1", "-m", "release"])
        .output()
        .unwrap();
    assert!(tag.status.success(), "{tag:?}");
    git_ok(&root, &["tag", &format!("t-{}", keys[5])]);
    // A ref file whose name git refuses (`..`), written by hand: still a name in the repository.
    let head = git_ok(&root, &["rev-parse", "HEAD"]);
    env.write(
        &format!(".git/refs/heads/broken..{}", keys[6]),
        format!("{}\n", head.trim()),
    );

    // The broken ref is damage (exit 2), and its name a finding like the others.
    let run = env.run(&["git", "--format", "json"]).expect(2);
    assert!(
        run.stderr().contains("refs/heads/broken..nm_live_…"),
        "{}",
        run.stderr()
    );
    assert_clean("json", &run.stdout(), &slices);
    assert_clean("stderr", &run.stderr(), &slices);
    let json = run.json();
    let mut parts: Vec<(String, String)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let l = &f["locations"][0];
            (
                l["part"].as_str().unwrap_or("content").to_string(),
                l["git"]["object"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        [
            ("author", "commit-message"),
            ("author", "commit-message"),
            ("author", "tag-message"),
            ("path", "file"),
            ("ref-name", "ref"),
            ("ref-name", "ref"),
            ("ref-name", "ref"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string())),
        "{json}"
    );
    for format in ["human", "sarif"] {
        let run = env.run(&["git", "--format", format]).expect(2);
        assert_clean(format, &run.stdout(), &slices);
    }
    let human = env.run(&["git"]).expect(2).stdout();
    assert!(human.contains("(author or committer)"), "{human}");
    assert!(human.contains("refs/heads/feature/nm_live_…"), "{human}");
    env.run(&["git", "--format", "sarif", "-o", "git-names.sarif"])
        .expect(2);
    let problems = crate::util::sarif_problems(&env.path("git-names.sarif"));
    assert!(problems.is_empty(), "validator: {problems:#?}");
    // A range reports the keys in the authors and the new paths of its commits too.
    env.write(&format!("more/{}/x.txt", keys[5]), "nothing\n");
    git_ok(&root, &["add", "-A"]);
    let second = git_command(&root)
        .env("GIT_AUTHOR_NAME", format!("dev {}", keys[0]))
        .args(["commit", "-qm", "two"])
        .output()
        .unwrap();
    assert!(second.status.success(), "{second:?}");
    let range = env
        .run(&["git", "--range", "HEAD~1..HEAD", "--format", "json"])
        .expect(1);
    assert_clean("range", &range.stdout(), &slices);
    let json = range.json();
    let mut found: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["locations"][0]["part"].as_str().unwrap().to_string())
        .collect();
    found.sort();
    assert_eq!(found, ["author", "path"], "{json}");
}
