//! Where users run nmleaks before a commit: the plain git hook from `install-hook`, and the
//! hooks of `.pre-commit-hooks.yaml` run by the real pre-commit framework.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::{TestEnv, git_command, git_ok, path_with_bin};

fn init_repo(env: &TestEnv) {
    git_ok(env.root(), &["init", "-q"]);
    env.write("README.md", "demo\n");
    git_ok(env.root(), &["add", "README.md"]);
    git_ok(env.root(), &["commit", "-q", "-m", "first"]);
}

/// `git commit` with the binary under test on PATH; returns (success, stderr).
fn commit(dir: &Path, message: &str) -> (bool, String) {
    commit_with(dir, message, &[])
}

fn commit_with(dir: &Path, message: &str, envs: &[(&str, &std::ffi::OsStr)]) -> (bool, String) {
    let out = git_command(dir)
        .env("PATH", path_with_bin())
        .envs(envs.iter().copied())
        .args(["commit", "-q", "-m", message])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn install_hook_blocks_a_commit_that_adds_a_key_and_lets_a_clean_one_through() {
    let mut env = TestEnv::new();
    init_repo(&env);
    let run = env.run(&["install-hook"]).expect(0);
    assert!(
        run.stderr().contains(".git/hooks/pre-commit"),
        "{}",
        run.stderr()
    );
    let key = env.live_key();
    env.write("config.env", format!("NOMOTIC_API_KEY={key}\n"));
    git_ok(env.root(), &["add", "config.env"]);
    let (ok, out) = commit(env.root(), "add config");
    assert!(!ok, "the commit must be refused:\n{out}");
    assert!(out.contains("config.env:1:17"), "{out}");
    assert!(out.contains("commit blocked"), "{out}");
    assert!(
        out.contains("git commit --no-verify"),
        "says how to bypass once: {out}"
    );
    assert!(!out.contains(&key[8..]), "no key in the hook's output");
    env.write("config.env", "NOMOTIC_API_KEY=${NOMOTIC_API_KEY}\n");
    git_ok(env.root(), &["add", "config.env"]);
    let (ok, out) = commit(env.root(), "read the key from the environment");
    assert!(ok, "a clean commit passes:\n{out}");
    // Every clean commit used to print "no Nomotic keys found": a passing hook is silent.
    assert!(
        out.trim().is_empty(),
        "a clean commit through the hook prints nothing: {out:?}"
    );
}

/// The commit-refused advice is for a person at a refused commit: `git --staged` run by hand,
/// or for a report, prints the findings without it.
#[test]
fn staged_run_by_hand_prints_no_commit_advice() {
    let mut env = TestEnv::new();
    init_repo(&env);
    let key = env.live_key();
    env.write("config.env", format!("NOMOTIC_API_KEY={key}\n"));
    git_ok(env.root(), &["add", "config.env"]);
    for args in [
        &["git", "--staged"][..],
        &["git", "--staged", "--format", "sarif"],
    ] {
        let run = env.run(args).expect(1);
        assert!(
            !run.stderr().contains("commit blocked"),
            "{args:?}: {}",
            run.stderr()
        );
    }
}

/// After `cargo clean` or a moved build the binary the hook was installed with is gone: the
/// hook then runs the nmleaks on PATH, and with none there it refuses the commit in one line
/// that says how to fix it, never `exec: nmleaks: not found`.
#[test]
fn install_hook_survives_a_deleted_binary_through_path_and_says_how_to_fix_a_missing_one() {
    let mut env = TestEnv::new();
    init_repo(&env);
    let copy = env.path("build/nmleaks");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(crate::util::binary(), &copy).unwrap();
    // A binary just written may still be open in a child another test thread forked
    // meanwhile (it inherits the write descriptor until it execs): exec then fails with
    // ETXTBSY, for a moment. Wait that out, as cargo's own tests do.
    let out = loop {
        match env.command(&copy).arg("install-hook").output() {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => break other.unwrap(),
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&copy).unwrap();
    let key = env.live_key();
    env.write("config.env", format!("NOMOTIC_API_KEY={key}\n"));
    git_ok(env.root(), &["add", "config.env"]);
    // On PATH: the hook still scans, and refuses the key.
    let (ok, out) = commit(env.root(), "add config");
    assert!(!ok && out.contains("config.env:1:17"), "{out}");
    // Nowhere: refused, with the one line that says what to do.
    let bare = std::ffi::OsString::from("/usr/local/bin:/usr/bin:/bin");
    let out = git_command(env.root())
        .env("PATH", &bare)
        .args(["commit", "-q", "-m", "add config"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "an unchecked commit must not pass: {text}"
    );
    assert!(text.contains(nmleaks::hook::NOT_FOUND), "{text}");
}

#[test]
fn install_hook_leaves_a_foreign_hook_alone_unless_forced() {
    let env = TestEnv::new();
    init_repo(&env);
    let hook = env.path(".git/hooks/pre-commit");
    std::fs::write(&hook, "#!/bin/sh\necho mine\n").unwrap();
    let run = env.run(&["install-hook"]).expect(2);
    assert!(
        run.stderr().contains("was not written by nmleaks"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    env.run(&["uninstall-hook"]).expect(2);
    assert!(hook.exists(), "uninstall never removes a foreign hook");
    env.run(&["install-hook", "--force"]).expect(0);
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains("nmleaks git --staged")
    );
    env.run(&["install-hook"]).expect(0); // its own hook may be rewritten
    env.run(&["uninstall-hook"]).expect(0);
    assert!(!hook.exists());
}

#[test]
fn install_hook_honours_core_hooks_path() {
    let env = TestEnv::new();
    init_repo(&env);
    git_ok(env.root(), &["config", "core.hooksPath", "ci/hooks"]);
    std::fs::create_dir_all(env.path("sub/dir")).unwrap();
    env.run(&["install-hook", "sub/dir"]).expect(0);
    assert!(env.path("ci/hooks/pre-commit").is_file());
    assert!(!env.path(".git/hooks/pre-commit").exists());
    env.run(&["uninstall-hook"]).expect(0);
    assert!(!env.path("ci/hooks/pre-commit").exists());
}

#[test]
fn install_hook_outside_a_repository_is_one_clear_error() {
    let env = TestEnv::new();
    let run = env.run(&["install-hook"]).expect(2);
    assert!(
        run.stderr().contains("is not inside a git repository"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.stderr().lines().count(), 1);
}

/// The checkout of this repository, which `.pre-commit-hooks.yaml` describes.
fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A git repository holding the checkout's files as they are now (committed or not, ignored
/// files left out), so the hooks under test are this working copy's, as `pre-commit
/// try-repo` would take them. Made once per test run. Returns (path, commit).
fn snapshot_of_checkout() -> &'static (PathBuf, String) {
    static SNAPSHOT: OnceLock<(PathBuf, String)> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("nmleaks-hook-repo")
            .tempdir()
            .unwrap()
            .keep();
        let list = git_ok(
            checkout(),
            &[
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
        );
        for rel in list.split('\0').filter(|s| !s.is_empty()) {
            let from = checkout().join(rel);
            if !from.is_file() {
                continue; // deleted in the working copy
            }
            let to = dir.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
        git_ok(&dir, &["init", "-q"]);
        git_ok(&dir, &["add", "-A"]);
        git_ok(&dir, &["commit", "-q", "-m", "snapshot"]);
        let rev = git_ok(&dir, &["rev-parse", "HEAD"]).trim().to_string();
        (dir, rev)
    })
}

/// The pre-commit executable named by `var` (`NMLEAKS_PRE_COMMIT`: the newest release;
/// `NMLEAKS_PRE_COMMIT_OLDEST`: the oldest the manifest claims to support).
fn pre_commit_from(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: run the tests with `bash scripts/test.sh`, which installs the \
             pre-commit framework"
        )
    })
}

/// Installs this repository's hook `hook_id` with the pre-commit framework in a new repo and
/// checks a commit with a key is refused and one without passes. `path` is the `PATH` the
/// commit runs with.
fn framework_blocks_keys(hook_id: &str, path: &std::ffi::OsStr) {
    framework_blocks_keys_with("NMLEAKS_PRE_COMMIT", hook_id, path);
}

/// [`framework_blocks_keys`] with the pre-commit named by the environment variable `var`.
fn framework_blocks_keys_with(var: &str, hook_id: &str, path: &std::ffi::OsStr) {
    let pre_commit = pre_commit_from(var);
    let mut env = TestEnv::new();
    init_repo(&env);
    let (repo, rev) = snapshot_of_checkout();
    env.write(
        ".pre-commit-config.yaml",
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: {hook_id}\n",
            repo.display()
        ),
    );
    git_ok(env.root(), &["add", ".pre-commit-config.yaml"]);
    let home = env.path(".pre-commit-home");
    // The `language: rust` hook runs `cargo install` of the repository: build it without the
    // release profile's LTO (the hook's behaviour does not depend on it) in a target directory
    // kept between runs.
    let target = checkout().join("target/pre-commit-target");
    let envs: Vec<(&str, &std::ffi::OsStr)> = vec![
        ("PATH", path),
        ("PRE_COMMIT_HOME", home.as_os_str()),
        ("CARGO_TARGET_DIR", target.as_os_str()),
        ("CARGO_PROFILE_RELEASE_LTO", "false".as_ref()),
        ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16".as_ref()),
    ];
    let run_pc = |args: &[&str]| {
        Command::new(&pre_commit)
            .current_dir(env.root())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .envs(envs.iter().copied())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run_pc(&["install"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = env.live_key();
    env.write("settings.yaml", format!("nomotic:\n  key: {key}\n"));
    git_ok(env.root(), &["add", "settings.yaml"]);
    let (ok, out) = commit_with(env.root(), "add settings", &envs);
    assert!(!ok, "pre-commit must refuse the commit:\n{out}");
    assert!(out.contains("settings.yaml:2:8"), "{out}");
    assert!(!out.contains(&key[8..]), "redacted output");
    // A test value: the refusal's baseline advice, followed literally, lets it through.
    follow_the_baseline_advice(env.root(), &out);
    let (ok, out) = commit_with(env.root(), "a test key, baselined", &envs);
    assert!(ok, "the baselined key must pass:\n{out}");
    // Another key is still refused: the baseline lists keys, not files.
    let other = env.live_key();
    env.write("other.yaml", format!("key: {other}\n"));
    git_ok(env.root(), &["add", "other.yaml"]);
    let (ok, out) = commit_with(env.root(), "another key", &envs);
    assert!(!ok, "{out}");
    git_ok(env.root(), &["rm", "-q", "--cached", "other.yaml"]);
    env.write("settings.yaml", "nomotic:\n  key: ${NOMOTIC_KEY}\n");
    git_ok(env.root(), &["add", "settings.yaml"]);
    let (ok, out) = commit_with(env.root(), "settings from the environment", &envs);
    assert!(ok, "{out}");
    let log = git_ok(env.root(), &["log", "--oneline"]);
    assert_eq!(
        log.lines().count(),
        3,
        "the baselined and the clean commit landed: {log}"
    );
}

/// Runs the command the refusal message gives for adding a key to the baseline, as printed
/// (with nmleaks on PATH, as the message says it must be).
fn follow_the_baseline_advice(repo: &Path, refusal: &str) {
    let advice = refusal
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("nmleaks baseline create"))
        .unwrap_or_else(|| panic!("no baseline command in the refusal:\n{refusal}"));
    let out = Command::new("sh")
        .args(["-c", advice])
        .current_dir(repo)
        .env("PATH", path_with_bin())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{advice}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Following the refusal's advice ("add it to the baseline") did not unblock the commit:
/// the hook passed no `--baseline` and nothing found the file. The baseline at the
/// conventional place is now found by the hook, and the advice is one command that works.
#[test]
fn following_the_refusal_advice_to_baseline_a_key_unblocks_the_commit() {
    let mut env = TestEnv::new();
    init_repo(&env);
    env.run(&["install-hook"]).expect(0);
    let key = env.live_key();
    env.write("tests/fixture.env", format!("NOMOTIC_API_KEY={key}\n"));
    git_ok(env.root(), &["add", "tests/fixture.env"]);
    let (ok, out) = commit(env.root(), "fixture");
    assert!(!ok, "{out}");
    follow_the_baseline_advice(env.root(), &out);
    let baseline = std::fs::read_to_string(env.path(".nmleaks-baseline.json")).unwrap();
    assert!(!baseline.contains(&key[8..]), "the baseline holds no key");
    let (ok, out) = commit(env.root(), "fixture, baselined");
    assert!(ok, "{out}");
    let files = git_ok(env.root(), &["show", "--name-only", "--format=", "HEAD"]);
    assert!(files.contains(".nmleaks-baseline.json"), "{files}");
}

#[test]
fn pre_commit_framework_system_hook_blocks_keys() {
    framework_blocks_keys("nmleaks-system", &path_with_bin());
}

/// The manifest's `minimum_pre_commit_version` is a claim: the oldest version it names
/// (installed by `scripts/test-tools.sh` from the manifest itself) must run the hooks. 3.0.0
/// was claimed while `stages: [pre-commit]` needs 3.2.0, so Debian 12's 3.0.4 rejected it.
#[test]
fn pre_commit_framework_oldest_supported_version_runs_the_hooks() {
    let oldest = pre_commit_from("NMLEAKS_PRE_COMMIT_OLDEST");
    let version = Command::new(&oldest).arg("--version").output().unwrap();
    let manifest = std::fs::read_to_string(checkout().join(".pre-commit-hooks.yaml")).unwrap();
    let claimed: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("minimum_pre_commit_version:"))
        .map(|v| v.trim().trim_matches('"'))
        .collect();
    assert!(!claimed.is_empty());
    for v in &claimed {
        assert_eq!(
            String::from_utf8_lossy(&version.stdout).trim(),
            format!("pre-commit {v}"),
            "the oldest pre-commit installed is the one the manifest claims"
        );
    }
    framework_blocks_keys_with(
        "NMLEAKS_PRE_COMMIT_OLDEST",
        "nmleaks-system",
        &path_with_bin(),
    );
}

#[test]
fn pre_commit_framework_rust_hook_builds_and_blocks_keys() {
    // Without the binary under test on PATH: the hook must run the nmleaks it built.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let bin = crate::util::bin_dir();
    let without: Vec<PathBuf> = std::env::split_paths(&path).filter(|p| *p != bin).collect();
    assert!(
        without.iter().all(|d| !d.join("nmleaks").exists()),
        "an nmleaks on PATH would hide a broken build"
    );
    framework_blocks_keys("nmleaks", &std::env::join_paths(without).unwrap());
}

/// A directory outside the test's repository (and outside its tree), removed with the test.
fn outside_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("nmleaks-outside")
        .tempdir()
        .unwrap()
}

/// Asserts stderr is one `nmleaks: error:` line holding `says`.
fn one_error_line(run: &crate::util::Run, says: &str) {
    let err = run.stderr();
    assert_eq!(err.lines().count(), 1, "one sentence:\n{err}");
    assert!(err.starts_with("nmleaks: error: "), "{err}");
    assert!(err.contains(says), "{err}");
}

/// A dangling `pre-commit` link was written through: `install-hook` created the file it
/// named, wherever that was. It is refused unless `--force`, which replaces the link itself.
#[test]
fn install_hook_refuses_to_write_through_a_dangling_pre_commit_symlink_unless_forced() {
    let env = TestEnv::new();
    init_repo(&env);
    let outside = outside_dir();
    // The link's directory exists: writing through the link would succeed.
    let target = outside.path().join("pre-commit");
    let hook = env.path(".git/hooks/pre-commit");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &hook).unwrap();

    let run = env.run(&["install-hook"]).expect(2);
    one_error_line(&run, "is a symbolic link to");
    assert!(run.stderr().contains("--force"), "{}", run.stderr());
    assert!(!target.exists(), "nothing written");
    assert!(
        std::fs::symlink_metadata(&hook)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    env.run(&["install-hook", "--force"]).expect(0);
    let meta = std::fs::symlink_metadata(&hook).unwrap();
    assert!(meta.is_file(), "--force replaces the link with the hook");
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains("nmleaks git --staged")
    );
    assert!(
        !target.exists(),
        "still nothing written where the link pointed"
    );
}

/// `core.hooksPath` naming a directory outside the repository (a shared or global hooks
/// directory, or `../elsewhere`) was followed: the hook landed where it runs for other
/// repositories too. It is refused unless `--force`.
#[test]
fn install_hook_refuses_a_core_hooks_path_outside_the_repository_unless_forced() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path("repo")).unwrap();
    let repo = env.path("repo");
    git_ok(&repo, &["init", "-q"]);
    let outside = outside_dir();
    let shared = outside.path().join("hooks");
    for hooks_path in [
        shared.to_str().unwrap(),
        // Relative to the work tree, and out of it.
        "../shared-hooks",
    ] {
        git_ok(&repo, &["config", "core.hooksPath", hooks_path]);
        let run = env.run(&["install-hook", "repo"]).expect(2);
        one_error_line(&run, "core.hooksPath");
        assert!(
            run.stderr().contains("outside the repository"),
            "{}",
            run.stderr()
        );
        assert!(!shared.exists(), "nothing written, not even the directory");
        assert!(!env.path("shared-hooks").exists(), "nothing written");
    }
    git_ok(
        &repo,
        &["config", "core.hooksPath", shared.to_str().unwrap()],
    );
    env.run(&["install-hook", "repo", "--force"]).expect(0);
    assert!(
        std::fs::read_to_string(shared.join("pre-commit"))
            .unwrap()
            .contains("nmleaks git --staged")
    );
    // Inside the repository, through `..` that stays in it: no --force needed.
    git_ok(&repo, &["config", "core.hooksPath", "sub/../ci/hooks"]);
    env.run(&["install-hook", "repo"]).expect(0);
    assert!(env.path("repo/ci/hooks/pre-commit").is_file());
}
