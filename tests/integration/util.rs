//! Test harness: a temp directory to build trees in, and a runner for the binary.

#![allow(dead_code)] // each test module uses a different part

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use nmleaks::testkeys::Rng;

/// A temporary tree plus a key generator, and a cache directory of its own outside the tree
/// (so no test ever reads or writes the user's verification cache).
pub struct TestEnv {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    pub rng: Rng,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv::seeded(1)
    }

    pub fn seeded(seed: u64) -> TestEnv {
        TestEnv {
            dir: tempfile::Builder::new()
                .prefix("nmleaks-test")
                .tempdir()
                .unwrap(),
            cache: tempfile::Builder::new()
                .prefix("nmleaks-cache")
                .tempdir()
                .unwrap(),
            rng: Rng::new(seed),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The verification cache directory runs use (`NMLEAKS_CACHE_DIR`).
    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Writes `contents` to `rel`, creating parent directories.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub fn live_key(&mut self) -> String {
        self.rng.live_key()
    }

    /// Runs `nmleaks args…` in the tree's root.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, b"")
    }

    /// Runs `nmleaks args…` in `dir` (a directory of the tree).
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        let out = Command::from_std(self.command(&binary()))
            .current_dir(dir)
            .args(args)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap();
        Run(out)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        self.run_with_env(args, stdin, &[])
    }

    /// Runs with extra environment variables. The API URL and proxies of the calling
    /// environment are removed: nothing a test runs can reach beyond this machine.
    pub fn run_with_env(&self, args: &[&str], stdin: &[u8], vars: &[(&str, &str)]) -> Run {
        let mut cmd = Command::from_std(self.command(&binary()));
        for (k, v) in vars {
            cmd.env(k, v);
        }
        // A run that hangs (a FIFO opened, a lock never released) fails instead of hanging.
        let out = cmd
            .args(args)
            .write_stdin(stdin.to_vec())
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap();
        Run(out)
    }

    /// Runs `nmleaks args…` and fails the test if it has not exited after `secs` seconds
    /// (then it is killed): the guard for inputs that once made it spin forever. The bound is
    /// generous on purpose; it says "did not hang", never "was fast".
    pub fn run_or_hang(&self, args: &[&str], secs: u64) -> Run {
        use std::io::Read as _;
        let mut child = self
            .command(&binary())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Drain both pipes on their own threads so a full pipe cannot stall the child.
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = out.read_to_end(&mut b);
            b
        });
        let err = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = err.read_to_end(&mut b);
            b
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nmleaks {args:?} did not finish within {secs} s: it hangs");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Run(Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        })
    }

    /// A command running `program` in the tree's root with the environment every run gets:
    /// for tests that spawn the binary themselves (to signal it, or to close its pipes).
    pub fn command(&self, program: &Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.current_dir(self.root())
            .env_remove("NO_COLOR")
            .env_remove("NMLEAKS_API_URL")
            // Tests may run inside a git hook; its repository is not theirs.
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_WORK_TREE")
            // Tokens of the calling environment (CI's GITHUB_TOKEN) never reach a test's
            // servers, and the GitHub API is always one the test names.
            .env_remove("GITHUB_TOKEN")
            .env_remove("NMLEAKS_TOKEN")
            .env_remove("NMLEAKS_GITHUB_API_URL")
            .env("NMLEAKS_TEST", "1")
            .env("NMLEAKS_CACHE_DIR", self.cache_dir());
        for proxy in PROXY_VARS {
            cmd.env_remove(proxy);
        }
        cmd
    }

    /// Runs `nmleaks args…` as a user that file permissions apply to. Root reads every file
    /// whatever its mode, and the tests run as root in CI: then the binary runs as `nobody`
    /// (uid and gid 65534, no supplementary groups) through util-linux's `setpriv`. The tree
    /// must be readable by that user: call [`TestEnv::open_to_all`] before closing the one
    /// file or directory under test.
    pub fn run_unprivileged(&self, args: &[&str]) -> Run {
        let mut cmd = if is_root() {
            let mut cmd = self.command(Path::new("setpriv"));
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(self.shared_binary());
            cmd
        } else {
            self.command(&binary())
        };
        let out = Command::from_std(std::mem::replace(&mut cmd, std::process::Command::new("")))
            .args(args)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .expect("setpriv (util-linux) runs");
        Run(out)
    }

    /// The binary, linked (or copied) into this test's own cache directory, made world-readable,
    /// so that an unprivileged user can run it wherever the checkout lives.
    fn shared_binary(&self) -> PathBuf {
        let to = self.cache_dir().join("nmleaks-bin");
        if !to.exists() {
            chmod(self.cache_dir(), 0o755);
            if std::fs::hard_link(binary(), &to).is_err() {
                std::fs::copy(binary(), &to).unwrap();
            }
            chmod(&to, 0o755);
        }
        to
    }

    /// Makes the whole tree readable (and its directories enterable) by every user.
    #[cfg(unix)]
    pub fn open_to_all(&self) {
        fn walk(p: &Path) {
            let meta = std::fs::symlink_metadata(p).unwrap();
            if meta.file_type().is_symlink() {
                return;
            }
            let mode = if meta.is_dir() { 0o755 } else { 0o644 };
            chmod(p, mode);
            if meta.is_dir() {
                for e in std::fs::read_dir(p).unwrap() {
                    walk(&e.unwrap().path());
                }
            }
        }
        walk(self.root());
    }
}

/// Serialises the tests that load both cores for seconds (gigabyte scans) with the tests that
/// measure time (request pacing): on a 2-core machine one would skew the other.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets the permission bits of `p`.
#[cfg(unix)]
pub fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nmleaks"))
}

/// Whether this process runs as root (from `/proc/self/status`; false where that is absent).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// A rules file of one custom rule (`acme-token`, prefix `acme_`) with a proving example, for
/// tests that load extra rules.
pub const ACME_RULES: &str = r#"
[[rules]]
id = "acme-token"
name = "Acme token"
description = "An Acme token."
severity = "low"
security_severity = "3.0"
prefix = "acme_"
pattern = "acme_[A-Za-z0-9]{24,}"
examples = ["acme_Q7rT9kLm2XpV8nBw4ZcY6hJdQ7"]
"#;

/// The proxy variables of the calling environment, which a test removes so that nothing it
/// runs can reach beyond this machine.
pub const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// `CMD --verify --api-url API` at a rate that costs a test nothing, without the cache, then
/// `rest`: the arguments of a verifying run against a test's server.
pub fn verifying<'a>(cmd: &'a str, api: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        cmd,
        "--verify",
        "--api-url",
        api,
        "--verify-rate",
        "60000",
        "--no-verify-cache",
    ];
    args.extend_from_slice(rest);
    args
}

/// A stand-in for `cargo` in `env` that records each call (one line of arguments in the
/// returned log) and installs the binary under test at `--root`, as a real `cargo install`
/// of this source would. Returns (the program, the log).
pub fn fake_cargo(env: &TestEnv) -> (PathBuf, PathBuf) {
    let calls = env.path("cargo-calls");
    let cargo = env.path("fake-cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
             mkdir -p \"$root/bin\" && cp '{}' \"$root/bin/nmleaks\"\n",
            calls.display(),
            binary().display()
        ),
    )
    .unwrap();
    chmod(&cargo, 0o755);
    (cargo, calls)
}

/// A finished run.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exited normally")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            )
        })
    }
    /// Asserts the exit code, showing both streams on failure.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    /// Asserts that no part of `key` past its prefix appears in stdout or stderr.
    pub fn assert_no_key(&self, key: &str) -> &Run {
        let body = &key[8..];
        for (name, s) in [("stdout", self.stdout()), ("stderr", self.stderr())] {
            assert!(!s.contains(body), "{name} holds the key:\n{s}");
            assert!(
                !s.contains(&body[..12]),
                "{name} holds part of the key:\n{s}"
            );
        }
        self
    }
}

/// The `(path, line, column)` of every location in a JSON report, in report order.
pub fn locations(json: &serde_json::Value) -> Vec<(String, u64, u64)> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap().iter())
        .map(|l| {
            (
                l["path"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap(),
                l["column"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Runs Microsoft's SARIF Multitool (installed by `scripts/test-tools.sh`, path in
/// `NMLEAKS_SARIF_MULTITOOL`) with GitHub's and SARIF's rules over `file`, and returns every
/// problem it reports (the tool exits 0 either way; its findings are the results it writes).
pub fn sarif_problems(file: &Path) -> Vec<String> {
    let tool = std::env::var_os("NMLEAKS_SARIF_MULTITOOL").expect(
        "NMLEAKS_SARIF_MULTITOOL is not set: run the tests with `bash scripts/test.sh`, \
         which installs the SARIF validator",
    );
    let out = file.with_extension("validation.sarif");
    let status = std::process::Command::new(tool)
        .arg("validate")
        .arg(file)
        .arg("-o")
        .arg(&out)
        .args(["--rule-kind", "Gh;Sarif", "--level", "Error;Warning"])
        .args(["--log", "ForceOverwrite"])
        .output()
        .expect("the SARIF Multitool runs");
    assert!(
        status.status.success(),
        "Sarif.Multitool failed: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let runs = log["runs"]
        .as_array()
        .expect("the validator's log has runs");
    assert!(!runs.is_empty(), "the validator's log has no run: {log}");
    runs.iter()
        .flat_map(|run| {
            // A run without `results` is a validator that did not judge, not a clean file.
            run["results"]
                .as_array()
                .unwrap_or_else(|| panic!("the validator's run has no results: {run}"))
                .clone()
        })
        .map(|r| format!("{} {}: {}", r["ruleId"], r["level"], r["message"]))
        .collect()
}

/// `git` in `dir` with a fixed identity and no user or system configuration.
pub fn git_command(dir: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.test")
        .env("GIT_COMMITTER_NAME", "Test Author")
        .env("GIT_COMMITTER_EMAIL", "author@example.test")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ]);
    cmd
}

/// Runs `git args…` in `dir` (see [`git_command`]).
pub fn git(dir: &Path, args: &[&str]) -> Output {
    git_command(dir).args(args).output().expect("git runs")
}

/// Like [`git`], asserting success.
pub fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The directory holding the `nmleaks` binary under test, for `PATH`.
pub fn bin_dir() -> PathBuf {
    assert_cmd::cargo::cargo_bin("nmleaks")
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `PATH` with the binary under test first.
pub fn path_with_bin() -> std::ffi::OsString {
    let mut paths = vec![bin_dir()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}
