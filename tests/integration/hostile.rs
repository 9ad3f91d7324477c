//! Hostile input: each case gets one clear line on stderr naming the path, the rest of the scan
//! completes with every other key reported, and the documented exit code.
//!
//! Permissions do not bite root, and CI runs as root: cases about unreadable files run the
//! binary as `nobody` ([`TestEnv::run_unprivileged`]). Cases that need root to set up (a device
//! node) say why they are skipped when they cannot be.

#![cfg(unix)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nmleaks::finding::Fingerprint;
use serde_json::Value;

use crate::util::{Run, TestEnv, binary, chmod};

/// Whether the JSON report lists `key` (by fingerprint: the report never holds the key).
fn has(json: &Value, key: &str) -> bool {
    let fp = Fingerprint::of(key).0;
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["fingerprint"] == fp.as_str())
}

/// Asserts that stderr is exactly one line, `nmleaks: {level}: {path}: …`, and returns it.
fn one_problem(run: &Run, level: &str, path: &str) -> String {
    let err = run.stderr();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr:\n{err}");
    let want = format!("nmleaks: {level}: {path}: ");
    assert!(lines[0].starts_with(&want), "want {want:?}…, got:\n{err}");
    lines[0].to_string()
}

/// Asserts that stderr is one line starting `nmleaks: error: ` and naming `what`, and that the
/// run printed no report: the form of every configuration error.
fn one_sentence_error(run: &Run, what: &str) -> String {
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "one line on stderr:\n{err}");
    assert!(err.starts_with("nmleaks: error: "), "{err}");
    assert!(err.contains(what), "names {what}: {err}");
    assert!(run.stdout().is_empty(), "no report: {}", run.stdout());
    err
}

/// No byte of `text` is an escape, a C1 control or a bidi control.
fn assert_inert(what: &str, text: &str) {
    let bad = text
        .chars()
        .find(|&c| c == '\u{1b}' || ('\u{80}'..='\u{9f}').contains(&c) || is_bidi(c));
    assert!(bad.is_none(), "{what} holds {bad:?} raw:\n{text:?}");
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Runs `cmd` with stdout piped, reads one line, closes the pipe and waits: `nmleaks … | head -1`.
fn first_line_then_close(mut cmd: std::process::Command) -> (String, std::process::Output) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // The reader is dropped here: every later write to stdout fails with EPIPE.
    let out = child.wait_with_output().unwrap();
    (line, out)
}

#[test]
fn a_file_without_read_permission_is_an_error_and_the_rest_is_scanned() {
    let mut env = TestEnv::new();
    let (ok, locked, deep) = (env.live_key(), env.live_key(), env.live_key());
    env.write("ok.txt", format!("K={ok}\n"));
    env.write("locked.txt", format!("K={locked}\n"));
    env.write("sub/deep.txt", format!("K={deep}\n"));
    env.open_to_all();
    chmod(&env.path("locked.txt"), 0o000);
    let run = env
        .run_unprivileged(&["scan", "--format", "json"])
        .expect(2);
    let line = one_problem(&run, "error", "locked.txt");
    assert!(
        line.contains("cannot read") && line.contains("Permission denied"),
        "{line}"
    );
    let json = run.json();
    assert!(has(&json, &ok) && has(&json, &deep), "{json:#}");
    assert!(!has(&json, &locked));
    assert_eq!(json["summary"]["errors"], 1);
}

#[test]
fn a_directory_without_read_or_execute_permission_is_an_error_and_the_rest_is_scanned() {
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..4).map(|_| env.live_key()).collect();
    env.write("a.txt", &keys[0]);
    env.write("closed/b.txt", &keys[1]);
    env.write("listable/c.txt", &keys[2]);
    env.write("z/d.txt", &keys[3]);
    env.open_to_all();
    // Neither read nor execute: not even the names inside can be listed.
    chmod(&env.path("closed"), 0o000);
    // Read without execute: names can be listed, but no file inside can be opened.
    chmod(&env.path("listable"), 0o644);
    let run = env
        .run_unprivileged(&["scan", "--format", "json"])
        .expect(2);
    let err = run.stderr();
    let mut lines: Vec<&str> = err.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("nmleaks: error: closed: ") && lines[0].contains("Permission denied")
    );
    assert!(
        lines[1].starts_with("nmleaks: error: listable/c.txt: cannot read"),
        "{err}"
    );
    let json = run.json();
    assert!(has(&json, &keys[0]) && has(&json, &keys[3]));
    assert!(!has(&json, &keys[1]) && !has(&json, &keys[2]));
    chmod(&env.path("closed"), 0o755);
    chmod(&env.path("listable"), 0o755);
}

#[test]
fn a_broken_symlink_is_a_warning_unless_followed_then_an_error() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    std::os::unix::fs::symlink(env.path("gone"), env.path("dangling")).unwrap();
    let run = env.run(&["scan", "--format", "json"]).expect(1);
    let line = one_problem(&run, "warning", "dangling");
    assert!(line.ends_with("broken symbolic link, skipped"), "{line}");
    assert!(has(&run.json(), &key));
    // Asked to follow links, nmleaks cannot follow this one: part of what was asked is missing.
    let run = env.run(&["scan", "--follow", "--format", "json"]).expect(2);
    let line = one_problem(&run, "error", "dangling");
    assert!(line.contains("broken symbolic link"), "{line}");
    assert!(has(&run.json(), &key));
}

#[test]
fn a_symlink_loop_under_follow_is_a_warning_and_every_key_is_reported_once() {
    let mut env = TestEnv::new();
    let (top, inner) = (env.live_key(), env.live_key());
    env.write("top.txt", &top);
    env.write("a/b/inner.txt", &inner);
    std::os::unix::fs::symlink("../..", env.path("a/b/up")).unwrap();
    let run = env.run(&["scan", "--follow", "--format", "json"]).expect(1);
    let line = one_problem(&run, "warning", "a/b/up");
    assert!(line.contains("symbolic link loop"), "{line}");
    let json = run.json();
    assert!(has(&json, &top) && has(&json, &inner));
    assert_eq!(
        json["summary"]["locations"], 2,
        "the loop adds no place: {json:#}"
    );
}

#[test]
fn a_fifo_is_skipped_with_a_warning_and_never_opened() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    let status = std::process::Command::new("mkfifo")
        .arg(env.path("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    // Opening a FIFO with no writer blocks forever; the run's timeout would catch that.
    let run = env.run(&["scan", "--follow", "--format", "json"]).expect(1);
    let line = one_problem(&run, "warning", "pipe");
    assert!(
        line.contains("not a regular file (a FIFO), skipped"),
        "{line}"
    );
    assert!(has(&run.json(), &key));
}

#[test]
fn a_device_file_is_skipped_with_a_warning() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    // A character device like /dev/zero (1, 5): reading it would never end.
    let made = std::process::Command::new("mknod")
        .arg(env.path("zero"))
        .args(["c", "1", "5"])
        .output()
        .unwrap();
    // A test that cannot make its device must fail, never pass without its case: the suite
    // runs as root (CI does), where mknod works.
    assert!(
        made.status.success(),
        "mknod failed (this test needs root with CAP_MKNOD): {}",
        String::from_utf8_lossy(&made.stderr).trim()
    );
    let run = env.run(&["scan", "--format", "json"]).expect(1);
    let line = one_problem(&run, "warning", "zero");
    assert!(
        line.contains("not a regular file (a character device), skipped"),
        "{line}"
    );
    assert!(has(&run.json(), &key));
}

#[test]
fn files_deleted_while_the_scan_runs_are_skipped_without_an_error() {
    let mut env = TestEnv::new();
    let mut kept = Vec::new();
    for i in 0..600 {
        let key = env.live_key();
        env.write(&format!("d{}/f{i}.txt", i % 6), format!("K={key}\n"));
        if i % 2 == 0 {
            kept.push(key);
        }
    }
    let child = env
        .command(&binary())
        .args(["scan", "-j", "2", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Delete the odd files while the walk runs. Which of them the walk lists before they go
    // depends on timing; whatever it is, a deleted file is no error and no kept key is lost.
    for i in (1..600).step_by(2) {
        let _ = std::fs::remove_file(env.path(&format!("d{}/f{i}.txt", i % 6)));
    }
    let out = child.wait_with_output().unwrap();
    let run = Run(out);
    let run = run.expect(1);
    for line in run.stderr().lines() {
        assert!(
            line.starts_with("nmleaks: warning: ")
                && line.ends_with("vanished before it could be read, skipped"),
            "{line}"
        );
    }
    let json = run.json();
    for key in &kept {
        assert!(has(&json, key), "a key in a file never deleted is reported");
    }
}

/// The peak resident memory of a child process, read from `/proc/<pid>/status` (`VmHWM`)
/// every few milliseconds until it exits; `None` where Linux's /proc is absent.
fn peak_rss_kib(mut child: std::process::Child) -> (std::process::Output, Option<u64>) {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = None;
    while child.try_wait().unwrap().is_none() {
        if let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = hwm.or(peak);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (child.wait_with_output().unwrap(), peak)
}

/// A sparse file of `size` bytes (no disk blocks but the one written) holding `text` at `at`.
fn sparse_file(path: &Path, size: u64, at: u64, text: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    f.write_all_at(text, at).unwrap();
}

#[test]
fn a_5_gb_sparse_file_is_scanned_to_its_end_in_bounded_memory() {
    let _serial = crate::util::heavy();
    let mut env = TestEnv::new();
    let (deep, other) = (env.live_key(), env.live_key());
    let size: u64 = 5 << 30;
    let at = size - 200;
    sparse_file(
        &env.path("disk.img"),
        size,
        at,
        format!("\nK={deep}\n").as_bytes(),
    );
    let small = format!("K={other}\n");
    env.write("small.txt", &small);
    let child = env
        .command(&binary())
        .args(["scan", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (out, peak) = peak_rss_kib(child);
    let run = Run(out).expect(1);
    let json = run.json();
    assert!(has(&json, &deep) && has(&json, &other));
    assert_eq!(json["summary"]["bytes_scanned"], size + small.len() as u64);
    let loc = location_of(&json, &deep);
    // Zeros make the file binary: located by byte offset; lines split at `\n` bytes.
    assert_eq!(loc["offset"], at + 3);
    assert_eq!(loc["binary"], true);
    assert_eq!(
        (loc["line"].as_u64(), loc["column"].as_u64()),
        (Some(2), Some(3))
    );
    if let Some(kib) = peak {
        eprintln!("peak RSS scanning a 5 GiB file: {kib} KiB");
        assert!(
            kib < 100 << 10,
            "memory is bounded by the chunk size, not the file: {kib} KiB"
        );
    }
}

#[test]
fn two_hundred_nested_directories_are_walked_to_the_bottom() {
    let mut env = TestEnv::new();
    let (top, bottom) = (env.live_key(), env.live_key());
    let deep = format!("{}k.txt", "d/".repeat(200));
    env.write("top.txt", &top);
    env.write(&deep, format!("K={bottom}\n"));
    let run = env.run(&["scan", "--format", "json"]).expect(1);
    assert!(run.stderr().is_empty(), "{}", run.stderr());
    let json = run.json();
    assert!(has(&json, &top) && has(&json, &bottom));
    let paths: Vec<String> = crate::util::locations(&json)
        .into_iter()
        .map(|l| l.0)
        .collect();
    assert!(paths.contains(&deep), "{paths:?}");
}

#[test]
fn file_names_that_are_not_utf8_are_shown_escaped_in_every_format() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff.txt");
    std::fs::write(env.root().join(name), format!("K={a}\n")).unwrap();
    let dir = std::ffi::OsStr::from_bytes(b"dir\xfe");
    std::fs::create_dir(env.root().join(dir)).unwrap();
    std::fs::write(env.root().join(dir).join("k.txt"), format!("K={b}\n")).unwrap();

    let human = env.run(&["scan"]).expect(1);
    assert!(human.stderr().is_empty(), "{}", human.stderr());
    let out = human.stdout();
    assert!(out.contains("caf\\xe9-\\xff.txt:1:3: "), "{out}");
    assert!(out.contains("dir\\xfe/k.txt:1:3: "), "{out}");

    let json = env.run(&["scan", "--format", "json"]).expect(1).json();
    assert!(has(&json, &a) && has(&json, &b));
    let paths: Vec<String> = crate::util::locations(&json)
        .into_iter()
        .map(|l| l.0)
        .collect();
    assert!(
        paths.contains(&"caf\\xe9-\\xff.txt".to_string()),
        "{paths:?}"
    );

    env.run(&["scan", "--format", "sarif", "-o", "out.sarif"])
        .expect(1);
    let sarif = std::fs::read_to_string(env.path("out.sarif")).unwrap();
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let uris: Vec<String> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].to_string())
        .collect();
    // RFC 3986: a byte outside the unreserved set is percent-encoded.
    assert!(
        uris.iter()
            .any(|u| u.to_ascii_uppercase().contains("CAF%E9-%FF.TXT")),
        "{uris:?}"
    );
    assert!(
        uris.iter()
            .any(|u| u.to_ascii_uppercase().contains("DIR%FE/K.TXT")),
        "{uris:?}"
    );
}

#[test]
fn escape_and_bidi_characters_in_names_and_contents_never_reach_the_terminal_raw() {
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    let evil = "evil\u{1b}[31m\u{202e}txt.exe\u{2066}";
    env.write(
        &format!("{evil}/note.txt"),
        format!("x=\u{1b}]0;title\u{7}\u{1b}[2J\u{9b}1m\u{200f}{a} # \u{202e}\u{2067}\n"),
    );
    let locked = "locked\u{1b}[5m\u{202e}.txt";
    env.write(locked, format!("K={b}\n"));
    env.open_to_all();
    chmod(&env.path(locked), 0o000);
    for format in ["human", "json", "sarif"] {
        for color in ["never", "auto"] {
            let run = env
                .run_unprivileged(&["scan", "--format", format, "--color", color])
                .expect(2);
            assert_inert(&format!("{format} stdout"), &run.stdout());
            assert_inert("stderr", &run.stderr());
            assert!(
                run.stderr()
                    .contains("locked\\u{1b}[5m\\u{202e}.txt: cannot read"),
                "the unreadable file is named, escaped: {}",
                run.stderr()
            );
        }
    }
    // With colour forced on, the only escapes are nmleaks' own SGR sequences (ESC [ … m).
    let run = env
        .run_unprivileged(&["scan", "--color", "always"])
        .expect(2);
    let out = run.stdout();
    assert!(out.contains("\u{1b}["), "colour was asked for: {out:?}");
    let sgr = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap();
    assert_inert(
        "coloured stdout without its SGR sequences",
        &sgr.replace_all(&out, ""),
    );
    chmod(&env.path(locked), 0o644);
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The JSON location of `key`'s first place.
fn location_of(json: &Value, key: &str) -> Value {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fingerprint"] == Fingerprint::of(key).0.as_str())
        .map_or_else(
            || panic!("key not reported: {json:#}"),
            |f| f["locations"][0].clone(),
        )
}

#[test]
fn a_utf16le_text_file_holding_a_key_is_found_at_its_line_and_column() {
    let mut env = TestEnv::new();
    let (a, b, c) = (env.live_key(), env.live_key(), env.live_key());
    // What Windows PowerShell 5's `>` writes: UTF-16LE with a byte-order mark, CRLF lines.
    let before = "\u{feff}# exported settings\r\n$env:NOMOTIC_API_KEY = \"";
    let text = format!("{before}{a}\"\r\n");
    env.write("settings.ps1", utf16le(&text));
    // No byte-order mark; and an ASCII line appended by another tool.
    let mut mixed = utf16le(&format!("[nomotic]\r\nkey={b}\r\n"));
    let c_at = mixed.len() + 1;
    mixed.extend_from_slice(format!("\n{c}\n").as_bytes());
    env.write("mixed.ini", &mixed);
    let run = env.run(&["scan", "--format", "json"]).expect(1);
    let json = run.json();
    run.assert_no_key(&a);
    let loc = location_of(&json, &a);
    let column = "$env:NOMOTIC_API_KEY = \"".chars().count() as u64 + 1;
    assert_eq!(
        (loc["line"].as_u64(), loc["column"].as_u64()),
        (Some(2), Some(column))
    );
    assert_eq!(
        loc["offset"],
        utf16le(before).len(),
        "offsets count the file's own bytes"
    );
    assert_eq!(loc["length"], 2 * a.len());
    assert_eq!(loc["binary"], false);
    let tail = &a[a.len() - 4..];
    assert_eq!(
        loc["snippet"],
        format!("$env:NOMOTIC_API_KEY = \"nm_live_…{tail}\"")
    );
    let loc = location_of(&json, &b);
    assert_eq!(
        (loc["line"].as_u64(), loc["column"].as_u64()),
        (Some(2), Some(5))
    );
    let loc = location_of(&json, &c);
    assert_eq!(
        (loc["offset"].as_u64(), loc["binary"].as_bool()),
        (Some(c_at as u64), Some(true))
    );
    let human = env.run(&["scan", "settings.ps1"]).expect(1).stdout();
    assert!(
        human.contains(&format!(
            "settings.ps1:2:{column}: nomotic-live-api-key nm_live_…{tail}"
        )),
        "{human}"
    );
}

#[test]
fn an_unreadable_nmleaksignore_is_an_error_and_its_patterns_do_not_hide_keys() {
    let mut env = TestEnv::new();
    let (listed, other) = (env.live_key(), env.live_key());
    env.write(".nmleaksignore", "fixtures/\n");
    env.write("fixtures/k.txt", &listed);
    env.write("app.env", &other);
    env.open_to_all();
    chmod(&env.path(".nmleaksignore"), 0o000);
    let run = env
        .run_unprivileged(&["scan", "--format", "json"])
        .expect(2);
    let line = one_problem(&run, "error", ".nmleaksignore");
    assert!(
        line.contains("cannot read") && line.contains("patterns were not applied"),
        "{line}"
    );
    let json = run.json();
    // Fail safe: patterns that cannot be read hide nothing.
    assert!(has(&json, &listed) && has(&json, &other));
}

#[test]
fn an_invalid_rules_file_stops_the_run_with_one_sentence() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    env.write("syntax.toml", "[[rules]\nid = 'x'\n");
    env.write("unknown.toml", "[[rules]]\nid = 'x'\nsurprise = 1\n");
    // A parser error that quotes the value: here a key-shaped one with an escape sequence.
    env.write(
        "quoted.toml",
        format!("[[rules]]\nid = \"x\"\nexamples = \"{key}\\u001b[2J\"\n"),
    );
    env.write("huge.toml", vec![b'#'; (64 << 20) + 1]);
    for (file, what) in [
        ("syntax.toml", "rules file syntax.toml is not valid"),
        ("unknown.toml", "rules file unknown.toml is not valid"),
        ("quoted.toml", "rules file quoted.toml is not valid"),
        ("huge.toml", "larger than 64 MiB"),
        ("missing.toml", "cannot read rules file missing.toml"),
    ] {
        for args in [
            &["scan", "--rules", file][..],
            &["rules", "list", "--rules", file][..],
            &["rules", "check", file][..],
        ] {
            let run = env.run(args).expect(2);
            let err = one_sentence_error(&run, what);
            run.assert_no_key(&key);
            assert_inert("stderr", &err);
        }
    }
    // /dev/zero never ends: the read stops at the cap instead of filling memory.
    let run = env.run(&["scan", "--rules", "/dev/zero"]).expect(2);
    one_sentence_error(&run, "larger than 64 MiB");
}

#[test]
fn an_invalid_baseline_stops_the_run_with_one_sentence() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    let fp = Fingerprint::of(&key).0;
    env.write("not-json.json", "{ version: 1");
    env.write("version.json", r#"{"version": 7, "entries": []}"#);
    env.write(
        "bad-fp.json",
        r#"{"version": 1, "entries": [{"fingerprint": "sha1:00", "rule_id": "x", "redacted": "x"}]}"#,
    );
    // A key pasted in as a field name: the parser quotes the unknown field.
    env.write(
        "quoted.json",
        format!(r#"{{"version": 1, "entries": [{{"fingerprint": "{fp}", "rule_id": "x", "redacted": "x", "{key}": 1}}]}}"#),
    );
    for (file, what) in [
        (
            "not-json.json",
            "baseline file not-json.json is not valid JSON",
        ),
        ("version.json", "baseline file version.json has version 7"),
        ("bad-fp.json", "malformed fingerprint"),
        (
            "quoted.json",
            "baseline file quoted.json is not a valid nmleaks baseline",
        ),
        ("missing.json", "cannot read baseline file missing.json"),
        ("/dev/zero", "larger than 64 MiB"),
    ] {
        let run = env.run(&["scan", "--baseline", file]).expect(2);
        one_sentence_error(&run, what);
        run.assert_no_key(&key);
    }
}

#[test]
fn unknown_flags_are_a_usage_error_even_when_they_hold_escape_sequences() {
    let env = TestEnv::new();
    let run = env.run(&["scan", "--no-such-flag"]).expect(2);
    assert!(
        run.stderr()
            .starts_with("error: unexpected argument '--no-such-flag'"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().is_empty());
    let run = env.run(&["scan", "--\u{1b}[2J\u{202e}x"]).expect(2);
    assert!(
        run.stderr().contains("unexpected argument"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("\\u{202e}"),
        "escaped, not dropped: {}",
        run.stderr()
    );
    assert_inert("stderr", &run.stderr());
    let run = env.run(&["frobnicate"]).expect(2);
    assert!(
        run.stderr().contains("unrecognized subcommand"),
        "{}",
        run.stderr()
    );
}

#[test]
fn an_output_path_that_cannot_be_written_is_an_error_and_leaves_no_file() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    std::fs::create_dir(env.path("ro")).unwrap();
    env.open_to_all();
    // No such directory.
    let run = env
        .run(&["scan", "k.txt", "-o", "nowhere/report.json"])
        .expect(2);
    one_sentence_error(&run, "cannot write report to nowhere/report.json");
    assert!(!env.path("nowhere").exists());
    // A directory the user may not write to.
    chmod(&env.path("ro"), 0o555);
    for args in [
        &["scan", "k.txt", "--format", "json", "-o", "ro/report.json"][..],
        &["baseline", "create", "k.txt", "-o", "ro/baseline.json"][..],
    ] {
        let run = env.run_unprivileged(args).expect(2);
        one_sentence_error(&run, "cannot write report to ro/");
    }
    assert_eq!(
        std::fs::read_dir(env.path("ro")).unwrap().count(),
        0,
        "no partial or temporary file"
    );
    // A directory in place of the file.
    std::fs::create_dir(env.path("taken")).unwrap();
    let run = env.run(&["scan", "k.txt", "-o", "taken"]).expect(2);
    one_sentence_error(&run, "cannot write report to taken");
    assert_eq!(std::fs::read_dir(env.path("taken")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(env.root())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".nmleaks-report")
            })
            .count(),
        0,
        "no temporary file left in the tree"
    );
}

#[test]
fn an_output_path_that_is_a_fifo_a_device_or_a_link_is_written_through_not_replaced() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    // A FIFO: the report goes to its reader, and the FIFO stays a FIFO.
    let fifo = env.path("report.pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    env.run(&["scan", "k.txt", "--format", "json", "-o", "report.pipe"])
        .expect(1);
    // Checked before joining: had the FIFO been renamed over, its reader would wait forever.
    assert!(is_fifo(&fifo), "the FIFO is still a FIFO");
    let text = reader.join().unwrap();
    assert!(has(&serde_json::from_str(&text).unwrap(), &key));
    // A link: the file it names is replaced, the link stays.
    env.write("real.json", "old");
    std::os::unix::fs::symlink("real.json", env.path("link.json")).unwrap();
    env.run(&["scan", "k.txt", "--format", "json", "-o", "link.json"])
        .expect(1);
    assert!(
        std::fs::symlink_metadata(env.path("link.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(env.path("real.json"))
            .unwrap()
            .contains("\"findings\"")
    );
    // A device (like `-o /dev/null` run as root): written to, never renamed over.
    let made = std::process::Command::new("mknod")
        .arg(env.path("null"))
        .args(["c", "1", "3"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "mknod failed (this test needs root with CAP_MKNOD): {}",
        String::from_utf8_lossy(&made.stderr).trim()
    );
    for args in [
        &["scan", "k.txt", "-o", "null"][..],
        &["baseline", "create", "k.txt", "-o", "null"][..],
    ] {
        let run = env.run(args);
        assert!(run.code() < 2, "{}", run.stderr());
        assert!(
            is_char_device(&env.path("null")),
            "{args:?} left the device a device"
        );
    }
}

fn is_char_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_char_device()
}

fn is_fifo(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p).unwrap().file_type().is_fifo()
}

/// A tree whose human report is far larger than a pipe's buffer (64 KiB), and whose scan
/// prints many warnings, so both streams meet a closed pipe.
fn noisy_tree(env: &mut TestEnv) {
    let keys: Vec<String> = (0..1500).map(|_| env.live_key()).collect();
    env.write("keys.txt", keys.join("\n"));
    std::fs::create_dir(env.path("links")).unwrap();
    for i in 0..1500 {
        std::os::unix::fs::symlink(env.path("gone"), env.path(&format!("links/l{i}"))).unwrap();
    }
}

/// `nmleaks … | head -1` under `set -o pipefail`: the reader goes away after one line and the
/// report stops there, but the exit code still says what the run found (1 for keys, 2 for an
/// error). A linter whose exit code turned 0 on a closed pipe would let CI pass a leak. Every
/// command that writes a report to stdout, in every format, and `-o -` and `-o /dev/stdout`.
#[test]
fn a_closed_stdout_stops_the_report_but_the_exit_code_still_reports_the_findings() {
    let mut env = TestEnv::new();
    noisy_tree(&mut env);
    crate::util::git_ok(env.root(), &["init", "-q"]);
    crate::util::git_ok(env.root(), &["add", "keys.txt"]);
    crate::util::git_ok(env.root(), &["commit", "-q", "-m", "keys"]);
    let cases: &[(&[&str], i32)] = &[
        (&["scan", "keys.txt"], 1),
        (&["scan", "keys.txt", "--format", "json"], 1),
        (&["scan", "keys.txt", "--format", "sarif"], 1),
        (&["scan", "keys.txt", "--format", "json", "-o", "-"], 1),
        (&["scan", "keys.txt", "-o", "/dev/stdout"], 1),
        (&["git", "."], 1),
        (&["git", ".", "--format", "json"], 1),
        (&["git", ".", "--format", "sarif"], 1),
        (&["baseline", "create", "keys.txt", "-o", "-"], 0),
        // An error outranks findings, closed pipe or not (a path that does not exist). One
        // error only: stderr is read after the run, and must not fill its pipe.
        (&["scan", "keys.txt", "no-such-file"], 2),
    ];
    for (args, want) in cases {
        let mut cmd = env.command(&binary());
        cmd.args(*args);
        let (first, out) = first_line_then_close(cmd);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !first.is_empty(),
            "{args:?} wrote a report to stdout; stderr: {err}"
        );
        assert_eq!(out.status.code(), Some(*want), "{args:?}; stderr: {err}");
        for line in err.lines() {
            assert!(line.starts_with("nmleaks: "), "{args:?}: {line}");
            let lower = line.to_ascii_lowercase();
            assert!(
                !lower.contains("pipe") && !lower.contains("panicked"),
                "no line about the closed pipe itself: {args:?}: {line}"
            );
            if *want < 2 {
                assert!(!line.starts_with("nmleaks: error"), "{args:?}: {line}");
            }
        }
    }
    assert!(
        !env.path("-").exists(),
        "`-o -` is standard output, not a file named -"
    );
}

#[test]
fn stderr_into_a_closed_pipe_never_panics() {
    let mut env = TestEnv::new();
    noisy_tree(&mut env);
    // `nmleaks scan 2>&1 | head -1`: warnings and the report share the pipe head closed.
    let script = r#""$0" scan 2>&1 | head -1 >/dev/null; echo "${PIPESTATUS[0]}""#;
    let out = env
        .command(Path::new("bash"))
        .args(["-c", script])
        .arg(binary())
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // 101 is Rust's exit code for a panic (here: `eprintln!` failing on the closed pipe); 1
    // says the keys were found, however little of the report was read.
    assert_eq!(
        code,
        "1",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends SIGINT to `pid` with `kill -INT`.
fn interrupt(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until process `pid` catches SIGINT (its Ctrl-C handler is installed: bit 2 of
/// `SigCgt` in `/proc/PID/status`) and, if `file` is given, has it open: the readiness signal
/// the Ctrl-C tests wait for instead of sleeping.
fn wait_until_ready(pid: u32, file: Option<&Path>) {
    let start = Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (2 - 1)) != 0);
        let open = file.is_none_or(|f| {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == f))
        });
        if caught && open {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "process {pid} never got ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for `child` at most `limit`; returns its output and how long it took.
fn wait_at_most(
    mut child: std::process::Child,
    limit: Duration,
) -> (std::process::Output, Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), start.elapsed())
}

#[test]
fn ctrl_c_during_a_long_scan_stops_it_and_writes_no_report() {
    let _serial = crate::util::heavy();
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("a.txt", &key);
    // 16 GiB of zeros take seconds to read even at GB/s.
    sparse_file(&env.path("huge.img"), 16 << 30, 0, b"x");
    let child = env
        .command(&binary())
        .args(["scan", "--format", "json", "-o", "report.json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let huge = std::fs::canonicalize(env.path("huge.img")).unwrap();
    wait_until_ready(child.id(), Some(&huge));
    interrupt(child.id());
    // The run gives itself half a second to wind down; the bound is generous for a loaded
    // machine, and still far below the time the 16 GiB scan would take.
    let (out, took) = wait_at_most(child, Duration::from_secs(30));
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    assert_eq!(out.status.code(), Some(130));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("nmleaks: interrupted"), "{err}");
    let left: Vec<String> = std::fs::read_dir(env.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("report"))
        .collect();
    assert!(left.is_empty(), "no report, no temporary file: {left:?}");
}

#[test]
fn ctrl_c_stops_a_read_from_a_silent_stdin_within_a_second() {
    let env = TestEnv::new();
    let mut child = env
        .command(&binary())
        .args(["scan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nothing is written to stdin and it stays open: the read blocks until Ctrl-C.
    let _stdin = child.stdin.take();
    wait_until_ready(child.id(), None);
    interrupt(child.id());
    // Nothing but Ctrl-C ends this run: that it ends at all is the point; the bound is
    // generous for a loaded machine.
    let (out, took) = wait_at_most(child, Duration::from_secs(30));
    assert!(took < Duration::from_secs(5), "stopped after {took:?}");
    assert_eq!(out.status.code(), Some(130));
    assert!(out.stdout.is_empty(), "no report of part of the input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("nmleaks: interrupted"), "{err}");
}

/// Regression: every place of every key was held in memory (about 540 bytes a place), so a
/// log with a key on each of a million lines peaked at 550 MB. Places beyond the per-key
/// limit are counted, not listed, and the run says so.
#[test]
fn a_hit_dense_log_lists_a_bounded_number_of_places_with_exact_counts() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    let allowed = env.live_key();
    let mut text = String::new();
    let mut key_lines = Vec::new();
    let mut line = 0u64;
    for i in 0..5_000 {
        let _ = writeln!(text, "{i} {key}");
        line += 1;
        key_lines.push(line);
        if i % 2 == 0 {
            let _ = writeln!(text, "{i} {allowed} # nmleaks:allow");
            line += 1;
        }
    }
    env.write("app.log", text);
    let run = env
        .run(&["scan", "--max-locations", "10", "--format", "json"])
        .expect(1);
    let json = run.json();
    assert_eq!(json["summary"]["keys"], 1, "{json}");
    assert_eq!(json["summary"]["locations"], 5_000);
    let f = &json["findings"][0];
    assert_eq!(f["location_count"], 5_000);
    assert_eq!(f["locations"].as_array().unwrap().len(), 10);
    // The first ten places in report order, whatever order the hits came in.
    let lines: Vec<u64> = f["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, key_lines[..10]);
    // The allowed key is hidden whole: all 2,500 of its places carry the comment.
    assert_eq!(json["summary"]["suppressed"], 1);
    let warning = run.stderr();
    assert_eq!(warning.lines().count(), 1, "{warning}");
    assert!(warning.starts_with("nmleaks: warning: "), "{warning}");
    assert!(warning.contains("more than 10 places"), "{warning}");
    assert_eq!(json["summary"]["warnings"], 1);
}

/// More distinct keys than `--max-keys`: the report lists the limit, says how many more there
/// are, and the run is incomplete (exit 2), never an all-clear for the rest.
#[test]
fn more_distinct_keys_than_max_keys_is_an_error_that_says_how_many() {
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..30).map(|_| env.live_key()).collect();
    env.write("keys.txt", keys.join("\n"));
    let run = env
        .run(&["scan", "--max-keys", "10", "--format", "json"])
        .expect(2);
    let json = run.json();
    assert_eq!(json["summary"]["keys"], 10, "{json}");
    assert_eq!(json["summary"]["keys_unlisted"], 20);
    assert_eq!(json["summary"]["locations_unlisted"], 20);
    assert_eq!(json["summary"]["errors"], 1);
    let error = run.stderr();
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.starts_with("nmleaks: error: "), "{error}");
    assert!(
        error.contains("20 more distinct keys (20 places)") && error.contains("--max-keys"),
        "{error}"
    );
    // The keys listed are the same whatever the thread count.
    let one = env
        .run(&["scan", "--max-keys", "10", "--format", "json", "-j", "1"])
        .json();
    assert_eq!(one["findings"], json["findings"]);
}

/// A panic's payload holds whatever the failing code had in hand, a key included; Rust's
/// default hook prints it (and a backtrace with `RUST_BACKTRACE`). nmleaks prints one fixed
/// line instead, once, and exits 101. The panic is raised on a producer thread, the way a bug
/// in a scanner would be, through a switch that only debug builds (the tests') compile in.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "release builds have no NMLEAKS_DEBUG_PANIC switch"
)]
fn a_panic_prints_one_fixed_line_without_its_payload_and_exits_101() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    let payload = format!("called `Option::unwrap()` on a line holding {key}");
    for args in [
        &["scan", "k.txt"][..],
        &["scan", "k.txt", "--format", "json"][..],
    ] {
        let run = env
            .run_with_env(
                args,
                b"",
                &[("NMLEAKS_DEBUG_PANIC", &payload), ("RUST_BACKTRACE", "1")],
            )
            .expect(101);
        let err = run.stderr();
        assert_eq!(err.lines().count(), 1, "one line:\n{err}");
        assert!(
            err.starts_with(
                "nmleaks: internal error (a bug): the run stopped; please report it (at src/"
            ),
            "{err}"
        );
        assert!(
            !err.contains("unwrap") && !err.contains("panicked"),
            "{err}"
        );
        run.assert_no_key(&key);
        assert!(run.stdout().is_empty(), "no report of a run that stopped");
    }
}

/// The mode bits of `p` (the file a link names, for a link).
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// `-o` writes a temporary file and renames it over the report, and the temporary file's
/// 0600 became the report's mode: a report shared with a group, written over or through a
/// link, stopped being readable by it. The mode of a file it replaces is kept; a new file gets
/// what any program's new file gets, 0666 less the umask.
#[test]
fn a_report_written_over_a_file_or_through_a_link_keeps_that_files_mode() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    env.write("k.txt", &key);
    env.write("kept.json", "old");
    chmod(&env.path("kept.json"), 0o664);
    env.write("real.json", "old");
    chmod(&env.path("real.json"), 0o640);
    std::os::unix::fs::symlink("real.json", env.path("link.json")).unwrap();
    env.write("baseline.json", r#"{"version": 1, "entries": []}"#);
    chmod(&env.path("baseline.json"), 0o644);
    env.run(&["scan", "k.txt", "-o", "kept.json"]).expect(1);
    env.run(&["scan", "k.txt", "--format", "json", "-o", "link.json"])
        .expect(1);
    env.run(&["baseline", "create", "k.txt", "-o", "baseline.json"])
        .expect(0);
    assert_eq!(
        mode(&env.path("kept.json")),
        0o664,
        "not narrowed by the umask either"
    );
    assert_eq!(mode(&env.path("real.json")), 0o640);
    assert!(
        std::fs::read_to_string(env.path("real.json"))
            .unwrap()
            .contains("findings")
    );
    assert_eq!(mode(&env.path("baseline.json")), 0o644);

    for (umask, want) in [("022", 0o644), ("027", 0o640), ("077", 0o600)] {
        let name = format!("new-{umask}.json");
        let out = env
            .command(Path::new("sh"))
            .args([
                "-c",
                &format!("umask {umask}; exec \"$0\" scan k.txt -o {name}"),
            ])
            .arg(binary())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            mode(&env.path(&name)),
            want,
            "a new report under umask {umask}"
        );
    }
}
