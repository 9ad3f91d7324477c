//! A git server on 127.0.0.1 for the tests: `git http-backend` (git's own smart-HTTP CGI
//! program) behind a small HTTP server in the test process, optionally asking for a token.
//! Nothing here listens beyond loopback.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// A running server; stops when dropped.
pub struct GitServer {
    port: u16,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl GitServer {
    /// Serves the repositories under `root` (`http://127.0.0.1:PORT/NAME.git`). With
    /// `token`, every request must carry HTTP Basic credentials whose password is the token
    /// (as GitHub takes `x-access-token:TOKEN`); others get 401.
    pub fn start(root: &Path, token: Option<&str>) -> GitServer {
        GitServer::start_gated(root, token, Arc::new(AtomicBool::new(true)))
    }

    /// As [`GitServer::start`], holding every request until `open` is set: a server that
    /// hangs until the test lets it answer.
    pub fn start_gated(root: &Path, token: Option<&str>, open: Arc<AtomicBool>) -> GitServer {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let (root, token, flag) = (root.to_path_buf(), token.map(str::to_string), stop.clone());
        let exec = String::from_utf8(
            Command::new("git")
                .arg("--exec-path")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let backend = PathBuf::from(exec.trim()).join("git-http-backend");
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Ok(Some(req)) = server.recv_timeout(std::time::Duration::from_millis(50))
                else {
                    continue;
                };
                while !open.load(Ordering::Relaxed) && !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                serve(req, &root, &backend, token.as_deref());
            }
        });
        GitServer {
            port,
            stop,
            handle: Some(handle),
        }
    }

    /// The URL of repository `name` (`repo.git`).
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn authorized(req: &tiny_http::Request, token: Option<&str>) -> bool {
    use base64::Engine as _;
    let Some(token) = token else {
        return true;
    };
    req.headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .and_then(|h| h.value.as_str().strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .is_some_and(|creds| creds.split_once(':').is_some_and(|(_, pw)| pw == token))
}

/// Runs one request through `git http-backend` as CGI.
fn serve(mut req: tiny_http::Request, root: &Path, backend: &Path, token: Option<&str>) {
    if !authorized(&req, token) {
        let resp = tiny_http::Response::from_string("authentication required")
            .with_status_code(401)
            .with_header(
                tiny_http::Header::from_bytes("WWW-Authenticate", "Basic realm=\"test\"").unwrap(),
            );
        let _ = req.respond(resp);
        return;
    }
    let url = req.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let header = |name: &str| {
        let name = name.to_ascii_lowercase();
        headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    let _ = req.as_reader().read_to_end(&mut body);
    let mut child = Command::new(backend)
        .env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", req.method().as_str())
        .env("CONTENT_TYPE", header("Content-Type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env(
            "HTTP_CONTENT_ENCODING",
            header("Content-Encoding").unwrap_or_default(),
        )
        .env("GIT_PROTOCOL", header("Git-Protocol").unwrap_or_default())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    // CGI output: headers, a blank line, the body.
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        let _ =
            req.respond(tiny_http::Response::from_string("bad CGI output").with_status_code(500));
        return;
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("Status") {
            status = v
                .split(' ')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(500);
        } else if let Ok(h) = tiny_http::Header::from_bytes(k.trim(), v) {
            headers.push(h);
        }
    }
    let mut resp =
        tiny_http::Response::from_data(raw[end + sep..].to_vec()).with_status_code(status);
    for h in headers {
        resp.add_header(h);
    }
    let _ = req.respond(resp);
}

/// A bare repository `ROOT/NAME.git` (under the test's tree) pushed from a work clone,
/// `work/ROOT-NAME`, with one commit per file; none: an empty repository.
pub fn bare_repo(
    env: &crate::util::TestEnv,
    root: &str,
    name: &str,
    files: &[(&str, String)],
) -> PathBuf {
    use crate::util::git_ok;
    let bare = env.path(&format!("{root}/{name}.git"));
    std::fs::create_dir_all(&bare).unwrap();
    git_ok(&bare, &["init", "-q", "--bare"]);
    if files.is_empty() {
        return bare;
    }
    let work = env.path(&format!("work/{root}-{name}"));
    git_ok(
        env.root(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    for (file, text) in files {
        std::fs::write(work.join(file), text).unwrap();
        git_ok(&work, &["add", "."]);
        git_ok(&work, &["commit", "-q", "-m", file]);
    }
    git_ok(&work, &["push", "-q", "origin", "HEAD:main"]);
    bare
}

/// A `git` on PATH that logs, before running the real git, its arguments (one line to
/// `argv.log`, one write each, so that gits running at once never cut each other's line) and
/// the command line of every process on the machine at that moment (`/proc/*/cmdline`, to
/// `procs.log`).
pub struct LoggingGit {
    /// `PATH` with the logging git first.
    pub path: String,
    argv: PathBuf,
    procs: PathBuf,
}

impl LoggingGit {
    /// The arguments of each git run so far, a line each.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.argv)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Everything logged: the arguments and every process's command line.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.argv).unwrap_or_default()
            + &std::fs::read_to_string(&self.procs).unwrap_or_default()
    }
}

pub fn logging_git(env: &crate::util::TestEnv) -> LoggingGit {
    let real = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let (argv, procs) = (env.path("argv.log"), env.path("procs.log"));
    std::fs::write(
        bin.join("git"),
        format!(
            "#!/bin/sh
printf '%s\\n' \"$*\" >> '{argv}'\n\
             for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < \"$f\" 2>/dev/null; echo; done \
             >> '{procs}'\nexec '{real}' \"$@\"\n",
            argv = argv.display(),
            procs = procs.display(),
            real = real.trim()
        ),
    )
    .unwrap();
    crate::util::chmod(&bin.join("git"), 0o755);
    LoggingGit {
        path: format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        argv,
        procs,
    }
}

/// Fails if any file under `dir` holds `secret` (a token, a key's body).
pub fn assert_nothing_under_holds(dir: &Path, secret: &str) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            assert_nothing_under_holds(&p, secret);
        } else if let Ok(bytes) = std::fs::read(&p) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{} holds it",
                p.display()
            );
        }
    }
}
