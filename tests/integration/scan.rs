//! `nmleaks scan`: contexts keys live in, filters, walking rules, output and exit codes.

use crate::util::{ACME_RULES, TestEnv, locations};

/// Reference line and column (1-based, in characters) of the first `key` in `text`.
fn line_col(text: &str, key: &str) -> (u64, u64) {
    let at = text.find(key).expect("key planted");
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() as u64 + 1,
        before[line_start..].chars().count() as u64 + 1,
    )
}

/// The redacted form every output shows by default.
fn redacted(key: &str) -> String {
    format!("nm_live_…{}", &key[key.len() - 4..])
}

#[test]
fn finds_a_key_in_every_context_it_lives_in() {
    let mut env = TestEnv::new();
    let k: Vec<String> = (0..20).map(|_| env.live_key()).collect();
    let minified = format!(
        "{}var a={{k:\"{}\"}};{}",
        "x=1;".repeat(50_000),
        k[9],
        "y=2;".repeat(1000)
    );
    let cases: Vec<(&str, String)> = vec![
        (".env", format!("A=1\nNOMOTIC_API_KEY={}\n", k[0])),
        (
            "config.json",
            format!("{{\n  \"nomotic\": {{\"key\": \"{}\"}}\n}}\n", k[1]),
        ),
        ("values.yaml", format!("nomotic:\n  apiKey: {}\n", k[2])),
        ("settings.toml", format!("[nomotic]\nkey = \"{}\"\n", k[3])),
        ("client.rs", format!("const KEY: &str = \"{}\";\n", k[4])),
        (
            "deploy.sh",
            format!("#!/bin/sh\nexport NOMOTIC_KEY={}\n", k[5]),
        ),
        (
            "Dockerfile",
            format!("FROM alpine\nENV NOMOTIC_KEY={}\n", k[6]),
        ),
        (
            "call.sh",
            format!(
                "curl -H 'Authorization: Bearer {}' https://amp.nomotic.ai/api/v1/agents\n",
                k[7]
            ),
        ),
        (
            "link.txt",
            format!("https://example.test/cb?token={}&x=1\n", k[8]),
        ),
        ("bundle.min.js", minified.clone()),
        ("crlf.ini", format!("[a]\r\nkey={}\r\nb=2\r\n", k[10])),
        ("utf8.md", format!("# Clé d'accès 🔑 日本語: {}\n", k[11])),
        (
            "nb.ipynb",
            format!(
                "{{\"cells\": [{{\"source\": [\"import os\\n\", \"key = '{}'\\n\"]}}]}}\n",
                k[12]
            ),
        ),
        ("two.txt", format!("a={} b={}\n", k[13], k[14])),
        ("eof.txt", format!("last line key={}", k[15])),
        (
            "escaped.json",
            format!("{{\"log\": \"line one\\n{}\"}}\n", k[16]),
        ),
        ("encoded.txt", format!("Authorization=Bearer%20{}\n", k[17])),
    ];
    for (name, contents) in &cases {
        env.write(name, contents);
    }
    let mut binary = vec![0u8, 159, 146, 150, 0, 0];
    binary.extend_from_slice(k[18].as_bytes());
    binary.extend_from_slice(&[0, 1, 2]);
    env.write("blob.bin", &binary);

    let run = env.run(&["scan", "--format", "json"]).expect(1);
    let json = run.json();
    let found = locations(&json);
    // Case i holds key i; two.txt (case 13) holds keys 13 and 14, so later cases shift by one.
    let key_of = |i: usize| if i <= 13 { &k[i] } else { &k[i + 1] };
    for (i, (name, contents)) in cases.iter().enumerate() {
        let (line, col) = line_col(contents, key_of(i));
        assert!(
            found
                .iter()
                .any(|(p, l, c)| p == name && *l == line && *c == col),
            "{name}: want {line}:{col}, got {found:?}"
        );
    }
    let second = line_col(&cases[13].1, &k[14]);
    assert!(
        found.contains(&("two.txt".to_string(), second.0, second.1)),
        "second key on a line"
    );
    let bin = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap())
        .find(|l| l["path"] == "blob.bin")
        .expect("binary file reported");
    assert_eq!(bin["offset"], 6);
    assert_eq!(bin["binary"], true);
    assert!(bin.get("snippet").is_none(), "no snippet for binary");
    assert_eq!(json["summary"]["keys"], 19);
    for key in &k[..19] {
        run.assert_no_key(key);
    }
}

#[test]
fn stdin_is_scanned_with_a_dash() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    let run = env
        .run_with_stdin(&["scan", "-"], format!("one\ntwo {key}\n").as_bytes())
        .expect(1);
    assert!(run.stdout().contains(&format!(
        "<stdin>:2:5: nomotic-live-api-key {}",
        redacted(&key)
    )));
    run.assert_no_key(&key);
}

#[test]
fn placeholders_masked_values_and_identifiers_are_not_reported() {
    let env = TestEnv::new();
    let lines = [
        "Authorization: Bearer nm_live_your_key_here",
        "NOMOTIC_API_KEY=nm_live_...",
        "NOMOTIC_API_KEY=nm_live_<YOUR_KEY>",
        "NOMOTIC_API_KEY=nm_live_${NOMOTIC_KEY}",
        "key: nm_live_{{ .Values.key }}",
        "key: nm_live_REPLACE_ME",
        "key: nm_live_EXAMPLEEXAMPLEEXAMPLEEXAMPLE",
        "key: nm_live_CHANGEMEchangemeCHANGEMEchangeme",
        "key: nm_live_************************",
        "key: nm_live_••••••••••••••••••••",
        "key: nm_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "key: nm_live_aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "key: nm_live_abababababababababababababab",
        "key: nm_live_0123456789abcdefghijklmnopqrstuv",
        "key: nm_live_abcdefghijklmnopqrstuvwxyzABCD",
        "key: nm_live_ProductionApiKeyForBillingService",
        "key: nm_live_Q7rT9kLm2Xp",
        "unm_live_Q7rT9kLm2XpV8nBw4ZcY6hJd",
        "key: nm_live_Q7rT9kLm2XpV8nBw4ZcY6hJd****",
        "key: nm_live_Q7rT9kLm2XpV8nBw4ZcY6hJd...",
        "git push fm_nm_live_pushed_tip",
        "NM_LIVE_KEY=1",
    ];
    env.write("docs.md", lines.join("\n"));
    let run = env.run(&["scan"]).expect(0);
    assert!(
        run.stdout().contains("no Nomotic keys found"),
        "{}",
        run.stdout()
    );
}

/// Regression: the masking filter read the characters after a key, so a full random key in
/// Markdown bold, followed by `...` or `…` in a log line, or glued to a word, was dropped.
#[test]
fn full_keys_next_to_masking_characters_are_reported() {
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..5).map(|_| env.rng.live_key()).collect();
    let text = format!(
        "Use **{}** in production.\nINFO key={}... retrying\nINFO key={}\u{2026}\n\
         blob=AAAA{}\n| `{}` |\n",
        keys[0], keys[1], keys[2], keys[3], keys[4]
    );
    env.write("notes.md", text);
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(json["summary"]["keys"], 5, "{json}");
}

#[test]
fn random_base62_and_hex_bodies_are_keys() {
    let mut env = TestEnv::new();
    let b62 = format!("nm_live_{}", env.rng.base62(32));
    let hex = format!("nm_live_{}", env.rng.hex(32));
    env.write("k.txt", format!("{b62}\n{hex}\n"));
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(json["summary"]["keys"], 2);
}

#[test]
fn test_keys_are_reported_under_their_own_rule_at_lower_severity() {
    let mut env = TestEnv::new();
    let key = env.rng.test_key();
    env.write("dev.env", format!("K={key}\n"));
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(json["findings"][0]["rule_id"], "nomotic-test-api-key");
    assert_eq!(json["findings"][0]["severity"], "medium");
}

#[test]
fn one_finding_per_key_with_every_location_sorted() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    env.write("z.txt", format!("{a}\n"));
    env.write("a.txt", format!("x\n{a}\n{b}\n"));
    env.write("m/n.txt", format!("{b} {a}\n"));
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    let f = json["findings"].as_array().unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(f[0]["location_count"], 3);
    assert_eq!(
        locations(&json),
        [
            ("a.txt".to_string(), 2, 1),
            ("m/n.txt".to_string(), 1, 42),
            ("z.txt".to_string(), 1, 1),
            ("a.txt".to_string(), 3, 1),
            ("m/n.txt".to_string(), 1, 1),
        ]
    );
    let fp = f[0]["fingerprint"].as_str().unwrap();
    assert!(fp.starts_with("nmleaks/key-sha256/v1:") && fp.len() == 22 + 64);
}

#[test]
fn output_is_identical_across_runs_and_thread_counts() {
    let mut env = TestEnv::new();
    for i in 0..200 {
        let key = env.live_key();
        env.write(
            &format!("d{}/f{i}.txt", i % 7),
            format!("k={key}\nagain {key}\n"),
        );
    }
    let one = env
        .run(&["scan", "-j", "1", "--format", "json"])
        .expect(1)
        .stdout();
    for threads in ["2", "8"] {
        for _ in 0..2 {
            let other = env
                .run(&["scan", "-j", threads, "--format", "json"])
                .expect(1)
                .stdout();
            assert_eq!(one, other, "differs with {threads} threads");
        }
    }
    let human1 = env.run(&["scan", "-j", "1"]).stdout();
    assert_eq!(human1, env.run(&["scan", "-j", "4"]).stdout());
}

#[test]
fn keys_are_redacted_everywhere_unless_show_secrets() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.env", format!("K={key}\n"));
    for format in ["human", "json"] {
        let run = env.run(&["scan", "--format", format]).expect(1);
        run.assert_no_key(&key);
        assert!(run.stdout().contains(&redacted(&key)));
        let shown = env
            .run(&["scan", "--format", format, "--show-secrets"])
            .expect(1);
        assert!(
            shown.stdout().contains(&key),
            "--show-secrets prints the key"
        );
    }
}

#[test]
fn gitignore_ignore_and_nmleaksignore_are_honoured_and_no_ignore_audits() {
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..5).map(|_| env.live_key()).collect();
    env.write(".gitignore", "build/\n");
    env.write(".ignore", "*.log\n");
    env.write(".nmleaksignore", "# test fixtures\nfixtures/\n");
    env.write("build/out.txt", &keys[0]);
    env.write("app.log", &keys[1]);
    env.write("fixtures/key.txt", &keys[2]);
    env.write(".env", &keys[3]);
    env.write(".git/config", &keys[4]);
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    let paths: Vec<String> = locations(&json).into_iter().map(|l| l.0).collect();
    assert_eq!(
        paths,
        [".env"],
        "hidden files scanned, ignored ones and .git/ not"
    );
    let json = env
        .run(&["scan", "--no-ignore", "--format", "json"])
        .expect(1)
        .json();
    let mut paths: Vec<String> = locations(&json).into_iter().map(|l| l.0).collect();
    paths.sort();
    assert_eq!(
        paths,
        [".env", "app.log", "build/out.txt", "fixtures/key.txt"]
    );
}

#[test]
fn a_path_named_explicitly_shows_as_given() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("sub/a.txt", &key);
    let json = env
        .run(&["scan", "./sub", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(locations(&json)[0].0, "./sub/a.txt");
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed_unless_asked_and_broken_ones_are_reported() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("outside/k.txt", format!("{key}\n"));
    std::fs::create_dir_all(env.path("tree")).unwrap();
    std::os::unix::fs::symlink(env.path("outside/k.txt"), env.path("tree/link.txt")).unwrap();
    std::os::unix::fs::symlink(env.path("nowhere"), env.path("tree/broken")).unwrap();
    let run = env.run(&["scan", "tree"]).expect(0);
    assert!(
        run.stderr()
            .contains("tree/broken: broken symbolic link, skipped"),
        "{}",
        run.stderr()
    );
    let run = env.run(&["scan", "--follow", "tree"]).expect(2);
    assert!(
        run.stdout().contains("tree/link.txt:1:1"),
        "{}",
        run.stdout()
    );
    assert!(run.stderr().contains("tree/broken"), "{}", run.stderr());
}

#[cfg(unix)]
#[test]
fn a_fifo_is_skipped_with_a_warning_and_does_not_block() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    let fifo = env.path("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let run = env.run(&["scan"]).expect(1);
    assert!(
        run.stderr().contains("pipe: not a regular file"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_missing_path_is_an_error_but_other_results_are_kept() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    let run = env.run(&["scan", "k.txt", "missing-dir"]).expect(2);
    assert!(run.stderr().contains("missing-dir"), "{}", run.stderr());
    assert!(run.stdout().contains("k.txt:1:1"), "{}", run.stdout());
}

#[test]
fn invalid_flags_and_rules_files_exit_2_with_one_sentence() {
    let env = TestEnv::new();
    let run = env.run(&["scan", "--no-such-flag"]).expect(2);
    assert!(
        run.stderr()
            .starts_with("error: unexpected argument '--no-such-flag'")
    );
    env.write("bad.toml", "[[rules]]\nid = 3\n");
    let run = env.run(&["scan", "--rules", "bad.toml"]).expect(2);
    let err = run.stderr();
    assert!(
        err.starts_with("nmleaks: error: rules file bad.toml is not valid"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let run = env.run(&["scan", "--rules", "missing.toml"]).expect(2);
    assert!(run.stderr().contains("cannot read rules file missing.toml"));
}

#[test]
fn extra_rules_files_add_rules() {
    let mut env = TestEnv::new();
    env.write("extra.toml", ACME_RULES);
    let token = format!("acme_{}", env.rng.base62(30));
    env.write("a.txt", &token);
    let json = env
        .run(&["scan", "--rules", "extra.toml", "--format", "json", "a.txt"])
        .expect(1)
        .json();
    assert_eq!(json["findings"][0]["rule_id"], "acme-token");
    env.run(&["rules", "check", "extra.toml"]).expect(0);
}

#[test]
fn rules_check_fails_on_a_broken_example() {
    let env = TestEnv::new();
    env.write(
        "weak.toml",
        r#"
[[rules]]
id = "weak"
name = "Weak"
description = "d"
severity = "low"
security_severity = "2.0"
prefix = "wk_"
pattern = "wk_[a-z0-9]{24,}"
examples = ["wk_aaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
[rules.filters]
reject_repetitive = true
"#,
    );
    let run = env.run(&["rules", "check", "weak.toml"]).expect(1);
    assert!(
        run.stdout()
            .contains("FAIL rule weak (weak.toml): example 1 is not found"),
        "{}",
        run.stdout()
    );
    assert!(!run.stdout().contains("aaaaaaaa"));
}

#[test]
fn output_file_is_written_and_stdout_stays_empty() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.txt", &key);
    let run = env
        .run(&["scan", "a.txt", "--format", "json", "-o", "out/report.json"])
        .expect(2);
    assert!(
        run.stderr()
            .contains("cannot write report to out/report.json"),
        "{}",
        run.stderr()
    );
    std::fs::create_dir(env.path("out")).unwrap();
    let run = env
        .run(&["scan", "a.txt", "--format", "json", "-o", "out/report.json"])
        .expect(1);
    assert!(run.stdout().is_empty());
    let text = std::fs::read_to_string(env.path("out/report.json")).unwrap();
    assert!(text.contains("\"version\": 1") && !text.contains(&key[8..]));
    let leftovers = std::fs::read_dir(env.path("out")).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file left behind");
}

#[test]
fn control_and_bidi_characters_in_paths_and_lines_are_escaped() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write(
        "evil\u{1b}[31m\u{202e}.txt",
        format!("x=\u{1b}[2J\u{2066}{key}\n"),
    );
    let run = env.run(&["scan", "--color", "never"]).expect(1);
    let out = run.stdout();
    assert!(
        !out.contains('\u{1b}') && !out.contains('\u{202e}') && !out.contains('\u{2066}'),
        "{out:?}"
    );
    assert!(out.contains("evil\\u{1b}[31m\\u{202e}.txt:1:"), "{out}");
    assert!(out.contains("x=\\u{1b}[2J\\u{2066}nm_live_…"), "{out}");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.txt", &key);
    assert!(
        !env.run(&["scan"]).stdout().contains('\u{1b}'),
        "not a terminal: no colour"
    );
    assert!(
        env.run(&["scan", "--color", "always"])
            .stdout()
            .contains("\u{1b}[")
    );
    // On a real terminal (a pseudo-terminal from util-linux's `script`): colour by default,
    // none with NO_COLOR or --color never, and the summary line on stderr.
    let tty = on_a_terminal(&env, &["scan"], None);
    assert!(tty.contains("\u{1b}["), "a terminal gets colour: {tty:?}");
    assert!(tty.contains("1 key;"), "and the summary line: {tty:?}");
    let plain = on_a_terminal(&env, &["scan"], Some("1"));
    assert!(!plain.contains("\u{1b}["), "NO_COLOR: {plain:?}");
    let never = on_a_terminal(&env, &["scan", "--color", "never"], None);
    assert!(!never.contains("\u{1b}["), "--color never: {never:?}");
}

/// Runs nmleaks with stdout and stderr on a pseudo-terminal (`script -qec CMD /dev/null`),
/// `NO_COLOR` set to `no_color` or unset, and returns what the terminal showed.
fn on_a_terminal(env: &TestEnv, args: &[&str], no_color: Option<&str>) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let bin = crate::util::binary();
    let mut line = quote(&bin.to_string_lossy());
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(env.root())
        .env("TERM", "xterm-256color")
        .env("NMLEAKS_CACHE_DIR", env.cache_dir())
        .stdin(std::process::Stdio::null());
    match no_color {
        Some(v) => cmd.env("NO_COLOR", v),
        None => cmd.env_remove("NO_COLOR"),
    };
    let out = cmd
        .output()
        .expect("util-linux's `script` runs the command on a terminal");
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{out:?}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_large_file_is_scanned_in_bounded_chunks_and_keys_at_the_cut_are_found() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    // 12 MiB of text lines with a key near the end of each 4 MiB chunk and at the very end.
    let mut data = Vec::with_capacity(13 << 20);
    let line = [b'.'; 63];
    let mut at_chunk = 0;
    while data.len() < 12 << 20 {
        data.extend_from_slice(&line);
        data.push(b'\n');
        if data.len() >= (4 << 20) * (at_chunk + 1) - 30 && at_chunk < 2 {
            data.extend_from_slice(a.as_bytes());
            data.push(b'\n');
            at_chunk += 1;
        }
    }
    data.extend_from_slice(b.as_bytes());
    env.write("big.log", &data);
    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert_eq!(json["findings"][0]["location_count"], 2);
    assert_eq!(json["findings"][1]["location_count"], 1);
    assert_eq!(json["summary"]["bytes_scanned"], data.len());
}

#[cfg(unix)]
#[test]
fn a_summary_line_ends_the_run_on_a_terminal_only() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.env", format!("K={key}\n"));
    // Not a terminal: no summary on stderr.
    let run = env.run(&["scan"]).expect(1);
    assert!(!run.stderr().contains("scanned"), "{}", run.stderr());
    // Under a pseudo-terminal (util-linux `script`), the last line sums the run up.
    let bin = assert_cmd::cargo::cargo_bin("nmleaks");
    let out = std::process::Command::new("script")
        .current_dir(env.root())
        .args(["-q", "-e", "-c"])
        .arg(format!("{} scan --color never", bin.display()))
        .arg("/dev/null")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    // "1 scanned" had no noun: files for `scan`, blobs for `git`.
    assert!(
        last.starts_with("nmleaks: 1 key; 1 file scanned,"),
        "{text}"
    );
    assert!(!text.contains(&key[8..]));
    crate::util::git_ok(env.root(), &["init", "-q"]);
    crate::util::git_ok(env.root(), &["add", "."]);
    crate::util::git_ok(env.root(), &["commit", "-q", "-m", "k"]);
    let out = std::process::Command::new("script")
        .current_dir(env.root())
        .args(["-q", "-e", "-c"])
        .arg(format!("{} git --color never", bin.display()))
        .arg("/dev/null")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    assert!(
        last.starts_with("nmleaks: 1 key; 1 blob scanned,"),
        "{text}"
    );
}

/// The README promises that scanning this repository comes out clean: tests build their keys
/// at run time. A unit test with a key written out broke that promise unnoticed.
#[test]
fn this_repository_scans_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = TestEnv::new();
    let run = env.run_in(root, &["scan", "--color", "never", "--no-baseline"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
}

/// `--format jsonl`: one flat object per place, what jq pipelines read; `--format csv` the
/// same columns for spreadsheets, with cells a spreadsheet would run as formulas defused.
#[test]
fn jsonl_and_csv_list_one_flat_record_per_place_redacted() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    env.write("one.env", format!("A={a}\nB={b}\n"));
    env.write("=HYPERLINK(1).env", format!("A={a}\n"));
    let out = env.run(&["scan", "--format", "jsonl"]).expect(1).stdout();
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert!(
            r["fingerprint"]
                .as_str()
                .unwrap()
                .starts_with("nmleaks/key-sha256/v1:")
        );
        assert_eq!(r["status"], "not_verified");
        assert_eq!(r["object"], "file");
    }
    assert!(
        rows.iter()
            .any(|r| r["path"] == "one.env" && r["line"] == 2)
    );
    let csv = env.run(&["scan", "--format", "csv"]).expect(1).stdout();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "fingerprint,rule_id,severity,key,status,path,line,column,member,commit,author,email,time,object,repository"
    );
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), 3, "{csv}");
    assert!(
        csv.contains(",'=HYPERLINK(1).env,"),
        "a formula-shaped name is defused: {csv}"
    );
    for k in [&a, &b] {
        assert!(!out.contains(&k[8..]) && !csv.contains(&k[8..]));
    }
}

/// A gitignored `.env` holding a key was skipped silently and the scan said "no Nomotic keys
/// found". Skipping ignored files stays the default, but the summary says how many were
/// skipped and that `--no-ignore` scans them; `--verbose` names them.
#[test]
fn files_skipped_by_ignore_rules_are_counted_and_no_ignore_scans_them() {
    let mut env = TestEnv::new();
    crate::util::git_ok(env.root(), &["init", "-q"]);
    env.write(".gitignore", ".env\nbuild/\n");
    let key = env.live_key();
    env.write(".env", format!("NOMOTIC_API_KEY={key}\n"));
    env.write("build/out.txt", "x\n");
    env.write("app.py", "print('hi')\n");
    let out = env.run(&["scan"]).expect(0).stdout();
    assert!(
        out.contains(
            "2 files or directories skipped by ignore rules (.gitignore, .ignore, .nmleaksignore): \
             --no-ignore scans them"
        ),
        "{out}"
    );
    let json = env.run(&["scan", "--format", "json"]).expect(0).json();
    assert_eq!(json["summary"]["ignored"], 2);
    let run = env.run(&["scan", "--verbose"]).expect(0);
    assert!(
        run.stderr()
            .contains("nmleaks: skipped by ignore rules: .env\n"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("skipped by ignore rules: build\n"),
        "{}",
        run.stderr()
    );
    let json = env
        .run(&["scan", "--no-ignore", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(json["summary"]["keys"], 1);
    assert!(json["summary"].get("ignored").is_none());
}

/// `--quiet` prints the findings and nothing else; an error is still said.
#[test]
fn quiet_prints_findings_only() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.env", format!("K={key}\n"));
    let out = env.run(&["scan", "-q"]).expect(1).stdout();
    assert_eq!(
        out.lines().count(),
        2,
        "the finding and its line, no summary: {out}"
    );
    assert!(out.starts_with("a.env:1:3: nomotic-live-api-key"), "{out}");
    std::fs::remove_file(env.path("a.env")).unwrap();
    let run = env.run(&["scan", "-q"]).expect(0);
    assert_eq!(run.stdout(), "");
    let run = env.run(&["scan", "-q", "missing"]).expect(2);
    assert!(run.stderr().contains("missing"), "{}", run.stderr());
    env.run(&["scan", "-q", "-v"]).expect(2);
}
