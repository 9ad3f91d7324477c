//! `nmleaks git URL`: remote repositories mirrored with the system git, over real smart HTTP
//! (`git http-backend` on 127.0.0.1, [`crate::gitserver`]); nothing reaches the internet.

use crate::gitserver::GitServer;
use crate::util::{TestEnv, git_ok};

/// A bare repository `served/NAME.git` with one commit per file (its work clone is
/// `work/served-NAME`).
fn served(env: &TestEnv, name: &str, files: &[(&str, String)]) -> std::path::PathBuf {
    crate::gitserver::bare_repo(env, "served", name, files)
}

fn json_of(env: &TestEnv, args: &[&str]) -> (i32, serde_json::Value, String) {
    let run = env.run(&[args, &["--format", "json"]].concat());
    let code = run.code();
    (
        code,
        serde_json::from_str(&run.stdout()).unwrap_or_default(),
        run.stderr(),
    )
}

#[test]
fn a_remote_url_is_mirrored_audited_as_pushed_and_fetched_again_on_the_next_run() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    served(
        &env,
        "app",
        &[
            ("README.md", "hi\n".into()),
            ("app.env", format!("K={key}\n")),
        ],
    );
    let server = GitServer::start(&env.path("served"), None);
    let clones = env.path("clones");
    let url = server.url("app.git");
    let args = ["git", url.as_str(), "--clone-dir", clones.to_str().unwrap()];
    let (code, json, err) = json_of(&env, &args);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("nmleaks: cloned {url} into ")),
        "{err}"
    );
    let f = &json["findings"][0];
    assert_eq!(f["locations"][0]["path"], "app.env");
    // Everything reachable from the remote's refs was pushed.
    assert_eq!(f["provenance"]["pushed"], true, "{json:#}");
    // HEAD follows the remote's default branch.
    assert_eq!(f["provenance"]["at_head"], true, "{json:#}");
    // A new commit on the server: the next run fetches into the same mirror and sees it.
    let other = env.live_key();
    let work = env.path("work/served-app");
    std::fs::write(work.join("more.env"), format!("K={other}\n")).unwrap();
    git_ok(&work, &["add", "."]);
    git_ok(&work, &["commit", "-q", "-m", "more"]);
    git_ok(&work, &["push", "-q", "origin", "HEAD:main"]);
    let (code, json, err) = json_of(&env, &args);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nmleaks: fetched "), "{err}");
    assert_eq!(json["summary"]["keys"], 2, "{json:#}");
    let mirrors: Vec<_> = std::fs::read_dir(&clones).unwrap().flatten().collect();
    assert_eq!(mirrors.len(), 1, "one mirror per URL: {mirrors:?}");
    // A file:// URL needs no server.
    let file_url = format!("file://{}", env.path("served/app.git").display());
    let (code, json, err) = json_of(
        &env,
        &["git", &file_url, "--clone-dir", clones.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(json["summary"]["keys"], 2);
}

/// A token reaches the server and nothing else: not the arguments of any git that nmleaks
/// runs (a `git` on PATH records them), not the mirror on disk, not the output.
#[test]
fn a_token_reaches_the_server_but_never_argv_disk_or_output() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    served(&env, "private", &[("x.env", format!("K={key}\n"))]);
    let token = format!("tok{}", env.rng.base62(24));
    let server = GitServer::start(&env.path("served"), Some(&token));
    let clones = env.path("clones");
    let url = server.url("private.git");
    // A git that logs its arguments (and every process's command line), then runs the real
    // one.
    let git = crate::gitserver::logging_git(&env);
    let run = |extra: &[(&str, &str)]| {
        let mut vars = vec![("PATH", git.path.as_str())];
        vars.extend_from_slice(extra);
        env.run_with_env(
            &[
                "git",
                &url,
                "--clone-dir",
                clones.to_str().unwrap(),
                "--format",
                "json",
            ],
            b"",
            &vars,
        )
    };
    // Without the token: refused by the server, one error, nothing left behind.
    let failed = run(&[]);
    assert_eq!(failed.code(), 2, "{}", failed.stderr());
    assert!(
        failed.stderr().contains("git fetch failed"),
        "{}",
        failed.stderr()
    );
    let ok = run(&[("NMLEAKS_TOKEN", &token)]);
    assert_eq!(ok.code(), 1, "{}", ok.stderr());
    assert!(ok.stdout().contains("x.env"));
    let argv = git.text();
    assert!(argv.contains("fetch"), "the wrapper saw the runs: {argv}");
    for (what, text) in [
        ("argv", argv),
        ("stdout", ok.stdout()),
        ("stderr", ok.stderr()),
    ] {
        assert!(!text.contains(&token), "the token is in {what}");
    }
    crate::gitserver::assert_nothing_under_holds(&clones, &token);
}
