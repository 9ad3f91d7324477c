//! Release archives and the Action's download of them: `scripts/package.sh` packs the binary
//! under test as the release workflow does, a file server on 127.0.0.1 stands in for GitHub's
//! release downloads, and `scripts/action.sh install` (the Action's `version:` input) fetches,
//! checks and installs what it serves, or refuses it. Nothing reaches beyond this machine, and
//! no build runs: a stand-in for `cargo` records whether the script fell back to one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::util::{TestEnv, chmod};

/// The target the tests ask for (`NMLEAKS_RELEASE_TARGET`), whatever this machine is: the
/// archive only carries the binary under test, which the install then runs.
const TARGET: &str = "x86_64-unknown-linux-musl";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The version the binary under test reports: `nmleaks 0.1.0 (commit …, source …)`.
fn version() -> String {
    let out = Command::new(assert_cmd::cargo::cargo_bin("nmleaks"))
        .arg("--version")
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no version in {line:?}"))
        .to_string()
}

fn archive_name(version: &str) -> String {
    format!("nmleaks-{version}-{TARGET}.tar.gz")
}

/// Runs `scripts/package.sh TARGET binary out version` and returns the archive it printed.
fn package(binary: &Path, out: &Path, version: &str) -> PathBuf {
    let run = Command::new("bash")
        .arg(root().join("scripts/package.sh"))
        .arg(TARGET)
        .arg(binary)
        .arg(out)
        .arg(version)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "package.sh failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed = PathBuf::from(String::from_utf8(run.stdout).unwrap().trim());
    assert_eq!(printed, out.join(archive_name(version)));
    printed
}

fn sha256_hex(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Writes `dir/SHA256SUMS` as the release job does: one `sha256sum` line per file named.
fn write_sums(dir: &Path, names: &[&str]) {
    let sums = names.iter().fold(String::new(), |mut s, n| {
        let _ = writeln!(s, "{}  {n}", sha256_hex(&dir.join(n)));
        s
    });
    std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
}

/// A release download server on 127.0.0.1: `GET /<path>` answers the file `dir/<path>`, or
/// 404. Records the paths asked for; stops when dropped.
struct FileServer {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    fn start(dir: &Path) -> FileServer {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (asked, stop, dir) = (Arc::clone(&asked), Arc::clone(&stop), dir.to_path_buf());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(20)) else {
                        continue;
                    };
                    let path = req.url().trim_start_matches('/').to_string();
                    asked.lock().unwrap().push(path.clone());
                    let file = (!path.split('/').any(|p| p == ".." || p.is_empty()))
                        .then(|| std::fs::read(dir.join(&path)).ok())
                        .flatten();
                    let _ = match file {
                        Some(bytes) => req.respond(tiny_http::Response::from_data(bytes)),
                        None => req.respond(tiny_http::Response::empty(404)),
                    };
                }
            })
        };
        FileServer {
            port,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What one `action.sh install` did.
struct Install {
    code: i32,
    log: String,
    /// How many times the stand-in for `cargo install` ran.
    builds: usize,
    /// Where the binary goes.
    binary: PathBuf,
}

/// Runs `action.sh install` for `version` against the releases at `url`, with a stand-in for
/// `cargo` that records each call and installs the binary under test (as a real build of this
/// source would).
fn install(env: &TestEnv, url: &str, version: &str) -> Install {
    let dir = env.path("install");
    let (cargo, calls) = crate::util::fake_cargo(env);
    let runner_temp = env.path("runner_temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/action.sh"))
        .arg("install")
        .env("NMLEAKS_INSTALL_DIR", &dir)
        .env("NMLEAKS_VERSION", version)
        .env("NMLEAKS_RELEASE_URL", url)
        .env("NMLEAKS_RELEASE_TARGET", TARGET)
        .env("NMLEAKS_CARGO", &cargo)
        .env("GITHUB_ACTION_PATH", root())
        .env("RUNNER_TEMP", &runner_temp)
        .env_remove("NMLEAKS_BIN")
        .env_remove("GITHUB_PATH");
    // curl would send a request for 127.0.0.1 through a proxy of the calling environment.
    for proxy in crate::util::PROXY_VARS {
        cmd.env_remove(proxy);
    }
    let out = cmd.output().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&runner_temp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        leftovers.is_empty(),
        "the download left {leftovers:?} behind\n{log}"
    );
    Install {
        code: out.status.code().expect("exited"),
        log,
        builds: std::fs::read_to_string(&calls).map_or(0, |c| c.lines().count()),
        binary: dir.join("bin/nmleaks"),
    }
}

/// A release of this version for this target, published as the release workflow publishes it:
/// the archive of the binary under test, and SHA256SUMS naming it.
fn publish(env: &TestEnv, version: &str) -> PathBuf {
    let release = env.path(&format!("releases/v{version}"));
    package(&assert_cmd::cargo::cargo_bin("nmleaks"), &release, version);
    write_sums(&release, &[&archive_name(version)]);
    release
}

/// The archive holds the binary and the docs under one directory, its `.sha256` is a line
/// `sha256sum -c` accepts, and packing the same inputs again makes the same bytes (so a
/// published checksum can be reproduced).
#[test]
fn package_makes_one_directory_with_the_binary_and_docs_and_its_checksum() {
    let env = TestEnv::new();
    let version = version();
    let out = env.path("dist");
    let archive = package(&assert_cmd::cargo::cargo_bin("nmleaks"), &out, &version);
    let list = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(list.status.success());
    let dir = format!("nmleaks-{version}-{TARGET}");
    let listing = String::from_utf8(list.stdout).unwrap();
    let entries: Vec<&str> = listing.lines().collect();
    assert_eq!(
        entries.first(),
        Some(&format!("{dir}/").as_str()),
        "{listing}"
    );
    assert!(
        entries.iter().all(|e| e.starts_with(&format!("{dir}/"))),
        "an entry outside {dir}/: {listing}"
    );
    for file in ["nmleaks", "README.md", "CHANGELOG.md"] {
        assert!(
            entries.contains(&format!("{dir}/{file}").as_str()),
            "no {file}: {listing}"
        );
    }
    let line =
        std::fs::read_to_string(out.join(format!("{}.sha256", archive_name(&version)))).unwrap();
    assert_eq!(
        line,
        format!("{}  {}\n", sha256_hex(&archive), archive_name(&version))
    );
    let check = Command::new("sha256sum")
        .args(["--check", "--strict"])
        .arg(format!("{}.sha256", archive_name(&version)))
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    let first = std::fs::read(&archive).unwrap();
    let again = package(
        &assert_cmd::cargo::cargo_bin("nmleaks"),
        &env.path("again"),
        &version,
    );
    assert!(
        std::fs::read(again).unwrap() == first,
        "the same inputs packed twice differ"
    );
}

/// `version: X` downloads the release archive, checks it against SHA256SUMS and installs the
/// binary in it: no build.
#[test]
fn a_release_archive_that_matches_sha256sums_is_installed_without_a_build() {
    let env = TestEnv::new();
    let version = version();
    publish(&env, &version);
    let server = FileServer::start(&env.path("releases"));
    let run = install(&env, &server.url(), &version);
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.builds, 0, "a build ran: {}", run.log);
    assert!(
        run.log.contains("its SHA-256 checked against SHA256SUMS"),
        "{}",
        run.log
    );
    assert_eq!(
        server.asked(),
        [
            format!("v{version}/{}", archive_name(&version)),
            format!("v{version}/SHA256SUMS")
        ]
    );
    assert!(
        std::fs::read(&run.binary).unwrap()
            == std::fs::read(assert_cmd::cargo::cargo_bin("nmleaks")).unwrap(),
        "the installed binary is not the one packed"
    );
    let out = Command::new(&run.binary).arg("--version").output().unwrap();
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.starts_with(&format!("nmleaks {version} (")),
        "{shown}"
    );
}

/// An archive whose bytes are not those SHA256SUMS lists is refused before anything comes out
/// of it, however valid it is as an archive: exit 2, the mismatch named, no binary, no build.
/// So is an archive SHA256SUMS does not list at all.
#[test]
fn an_archive_that_differs_from_sha256sums_or_is_not_in_it_is_refused() {
    let env = TestEnv::new();
    let version = version();
    let release = publish(&env, &version);
    // Swapped after SHA256SUMS was written: a well-formed archive of another "nmleaks" that
    // reports the right version, so only the checksum can tell.
    let impostor = env.write(
        "impostor/nmleaks",
        format!(
            "#!/bin/sh\necho 'nmleaks {version} (commit 000000000000, source 0000000000000000)'\n"
        ),
    );
    chmod(&impostor, 0o755);
    package(&impostor, &release, &version);
    let server = FileServer::start(&env.path("releases"));
    let run = install(&env, &server.url(), &version);
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "::error title=nmleaks::SHA-256 checksum mismatch for {}",
            archive_name(&version)
        )),
        "{}",
        run.log
    );
    assert!(!run.binary.exists(), "a binary was installed: {}", run.log);
    assert_eq!(run.builds, 0, "it fell back to a build: {}", run.log);

    std::fs::write(
        release.join("SHA256SUMS"),
        format!(
            "{}  nmleaks-{version}-aarch64-unknown-linux-musl.tar.gz\n",
            sha256_hex(&release.join(archive_name(&version)))
        ),
    )
    .unwrap();
    let run = install(&env, &server.url(), &version);
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "SHA256SUMS lists no SHA-256 (or more than one) for {}",
            archive_name(&version)
        )),
        "{}",
        run.log
    );
    assert!(!run.binary.exists(), "a binary was installed: {}", run.log);
    assert_eq!(run.builds, 0, "it fell back to a build: {}", run.log);
}

/// No release of this version for this runner (HTTP 404 on the archive) is not an error: the
/// Action says so and builds from its own source, as it did before releases existed.
#[test]
fn no_release_archive_builds_from_source_with_a_notice() {
    let env = TestEnv::new();
    let version = version();
    std::fs::create_dir_all(env.path("releases")).unwrap();
    let server = FileServer::start(&env.path("releases"));
    let run = install(&env, &server.url(), &version);
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(
        run.log.contains(&format!(
            "::notice title=nmleaks::no release binary of nmleaks {version} for {TARGET}"
        )) && run.log.contains("building nmleaks from source"),
        "{}",
        run.log
    );
    assert_eq!(run.builds, 1, "{}", run.log);
    assert_eq!(
        server.asked(),
        [format!("v{version}/{}", archive_name(&version))]
    );
}
