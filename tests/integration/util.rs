//! Test harness: a temp directory to build trees in, and a runner for the binary.

#![allow(dead_code)] // each test module uses a different part

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use nmleaks::testkeys::Rng;

/// A temporary tree plus a key generator.
pub struct TestEnv {
    dir: tempfile::TempDir,
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
            rng: Rng::new(seed),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
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

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let out = Command::cargo_bin("nmleaks")
            .unwrap()
            .current_dir(self.root())
            .env_remove("NO_COLOR")
            // Tests may run inside a git hook; its repository is not theirs.
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_WORK_TREE")
            .env("NMLEAKS_TEST", "1")
            .args(args)
            .write_stdin(stdin.to_vec())
            .output()
            .unwrap();
        Run(out)
    }
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
