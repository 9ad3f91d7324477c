//! `nmleaks audit`: many repositories into one report, over real smart HTTP (`git
//! http-backend` on 127.0.0.1, [`crate::gitserver`]) and a fake GitHub REST API on 127.0.0.1
//! that paginates with `Link` headers and refuses on request. Nothing reaches the internet.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

use crate::gitserver::{GitServer, assert_nothing_under_holds, bare_repo as bare, logging_git};
use crate::util::{TestEnv, git_ok};

/// One repository as the fake API lists it.
struct Listed {
    name: &'static str,
    clone_url: String,
    private: bool,
    fork: bool,
    archived: bool,
}

/// A fake GitHub REST API: `GET /api/orgs/acme/repos` (and `/api/user/repos`, for `/api/user`,
/// the token's user, `someone`) lists
/// `repos` two a page (so three pages for five), with `Link: <…>; rel="next"`; only with `Authorization: Bearer TOKEN`
/// when a token is set (else 401). `/api/orgs/missing/repos` answers 404,
/// `/api/orgs/limited/repos` 403 with the rate limit exhausted. Counts the requests.
struct FakeGithub {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    handle: Option<JoinHandle<()>>,
}

impl FakeGithub {
    fn start(repos: &[Listed], token: Option<String>) -> FakeGithub {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (flag, count) = (stop.clone(), requests.clone());
        let pages: Vec<String> = repos
            .chunks(2)
            .map(|chunk| {
                let items: Vec<serde_json::Value> = chunk
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "full_name": format!("acme/{}", r.name),
                            "clone_url": r.clone_url,
                            "private": r.private,
                            "visibility": if r.private { "private" } else { "public" },
                            "fork": r.fork,
                            "archived": r.archived,
                        })
                    })
                    .collect();
                serde_json::to_string(&items).unwrap()
            })
            .collect();
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Ok(Some(req)) = server.recv_timeout(std::time::Duration::from_millis(50))
                else {
                    continue;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let url = req.url().to_string();
                let authorized = token.as_ref().is_none_or(|t| {
                    req.headers().iter().any(|h| {
                        h.field.equiv("Authorization") && h.value.as_str() == format!("Bearer {t}")
                    })
                });
                let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k, v).unwrap();
                let resp = if url.starts_with("/api/orgs/missing/") {
                    tiny_http::Response::from_string("{\"message\":\"Not Found\"}")
                        .with_status_code(404)
                } else if url.starts_with("/api/orgs/limited/") {
                    tiny_http::Response::from_string("{\"message\":\"API rate limit exceeded\"}")
                        .with_status_code(403)
                        .with_header(header("x-ratelimit-remaining", "0"))
                        .with_header(header("x-ratelimit-reset", "1800000000"))
                } else if !authorized {
                    tiny_http::Response::from_string("{\"message\":\"Bad credentials\"}")
                        .with_status_code(401)
                } else if url == "/api/user" {
                    tiny_http::Response::from_string("{\"login\":\"someone\"}")
                        .with_header(header("Content-Type", "application/json"))
                } else if url.starts_with("/api/orgs/acme/repos")
                    || url.starts_with("/api/user/repos")
                {
                    let base = url.split('?').next().unwrap_or_default().to_string();
                    let page: usize = ["?page=", "&page="]
                        .iter()
                        .find_map(|m| url.split_once(m))
                        .and_then(|(_, p)| p.split('&').next()?.parse().ok())
                        .unwrap_or(1);
                    let body = pages.get(page - 1).cloned().unwrap_or_else(|| "[]".into());
                    let mut resp = tiny_http::Response::from_string(body)
                        .with_header(header("Content-Type", "application/json"));
                    if page < pages.len() {
                        resp = resp.with_header(header(
                            "Link",
                            &format!(
                                "<http://127.0.0.1:{port}{base}?per_page=2&page={}>; \
                                 rel=\"next\", <http://127.0.0.1:{port}{base}?\
                                 per_page=2&page={}>; rel=\"last\"",
                                page + 1,
                                pages.len()
                            ),
                        ));
                    }
                    resp
                } else {
                    tiny_http::Response::from_string("{}").with_status_code(404)
                };
                let _ = req.respond(resp);
            }
        });
        FakeGithub {
            port,
            stop,
            requests,
            handle: Some(handle),
        }
    }

    fn api(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The repositories of the JSON report's `audit` section: name → (status, keys).
fn outcomes(json: &serde_json::Value) -> Vec<(String, String, u64)> {
    json["audit"]["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["repository"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["keys"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
#[allow(clippy::too_many_lines)] // one organisation, every kind of repository in it
fn an_organisation_is_listed_page_by_page_and_audited_into_one_report_without_leaking_the_token() {
    let mut env = TestEnv::new();
    let shared = env.live_key();
    let own = env.live_key();
    let secret_key = env.live_key();
    let archived_key = env.live_key();
    let fork_key = env.live_key();
    bare(
        &env,
        "public",
        "app",
        &[("app.env", format!("K={shared}\n"))],
    );
    bare(
        &env,
        "public",
        "lib",
        &[
            ("README.md", "lib\n".into()),
            ("conf.env", format!("K={shared}\nL={own}\n")),
        ],
    );
    bare(&env, "public", "empty", &[]);
    bare(
        &env,
        "public",
        "old",
        &[("x.env", format!("K={archived_key}\n"))],
    );
    bare(
        &env,
        "public",
        "fork",
        &[("f.env", format!("K={fork_key}\n"))],
    );
    bare(
        &env,
        "private",
        "vault",
        &[("v.env", format!("K={secret_key}\n"))],
    );
    let token = format!("tok{}", env.rng.base62(24));
    let public = GitServer::start(&env.path("public"), None);
    let private = GitServer::start(&env.path("private"), Some(&token));
    let listed = |name, server: &GitServer, private, fork, archived| Listed {
        name,
        clone_url: server.url(&format!("{name}.git")),
        private,
        fork,
        archived,
    };
    let api = FakeGithub::start(
        &[
            listed("app", &public, false, false, false),
            listed("lib", &public, false, false, false),
            listed("vault", &private, true, false, false),
            listed("gone", &public, false, false, false),
            listed("empty", &public, false, false, false),
            listed("old", &public, false, false, true),
            listed("fork", &public, false, true, false),
        ],
        Some(token.clone()),
    );
    let git = logging_git(&env);
    let clones = env.path("clones");
    let run = env.run_with_env(
        &[
            "audit",
            "--github-org",
            "acme",
            "--github-api-url",
            &api.api(),
            "--clone-dir",
            clones.to_str().unwrap(),
            "--format",
            "json",
        ],
        b"",
        &[("PATH", &git.path), ("GITHUB_TOKEN", &token)],
    );
    let (out, err) = (run.stdout(), run.stderr());
    // The missing repository failed: the audit went on, and the exit code says a part failed.
    assert_eq!(run.code(), 2, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Four pages of two (seven repositories) were followed; the fork is left out by default.
    assert!(api.requests.load(Ordering::Relaxed) >= 4, "{err}");
    assert!(
        err.contains("organisation acme: 7 repositories listed; left out: 1 fork"),
        "{err}"
    );
    let got = outcomes(&json);
    let url = |s: &GitServer, n: &str| s.url(&format!("{n}.git"));
    let expect = [
        (url(&public, "app"), "audited", 1),
        (url(&public, "lib"), "audited", 2),
        (url(&private, "vault"), "audited", 1),
        (url(&public, "gone"), "failed", 0),
        (url(&public, "empty"), "audited", 0),
        (url(&public, "old"), "audited", 1),
    ];
    let mut expect: Vec<(String, String, u64)> = expect
        .iter()
        .map(|(u, s, k)| (u.clone(), (*s).to_string(), *k))
        .collect();
    // Listed by name, whatever order the API listed them in.
    expect.sort();
    assert_eq!(got, expect, "{err}");
    assert_eq!(json["audit"]["repositories_failed"], 1);
    assert!(
        err.contains(&format!("{}: git fetch failed", url(&public, "gone"))),
        "{err}"
    );
    // The key in two repositories is one finding with a place in each, both public.
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 4, "{json:#}");
    let fp = |key: &str| nmleaks::finding::Fingerprint::of(key).0;
    let cross = findings
        .iter()
        .find(|f| f["fingerprint"] == fp(&shared))
        .unwrap();
    let repos: Vec<&str> = cross["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repository"].as_str().unwrap())
        .collect();
    assert_eq!(repos, [url(&public, "app"), url(&public, "lib")]);
    assert!(
        cross["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["public"] == true && r["pushed"] == true)
    );
    let places: Vec<(&str, &str)> = cross["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["repository"].as_str().unwrap(),
                l["path"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            (url(&public, "app").as_str(), "app.env"),
            (url(&public, "lib").as_str(), "conf.env")
        ]
    );
    // The private repository is reported as such; the fork's key was never looked at.
    let vault = findings
        .iter()
        .find(|f| f["fingerprint"] == fp(&secret_key))
        .unwrap();
    assert_eq!(vault["repositories"][0]["public"], false);
    assert!(!findings.iter().any(|f| f["fingerprint"] == fp(&fork_key)));
    // No key and no token anywhere: output, git's arguments, any process's command line
    // while git ran, the clone directory.
    let argv = git.text();
    assert!(argv.contains("fetch"), "{argv}");
    for text in [&out, &err, &argv] {
        assert!(!text.contains(&token), "the token leaked");
        for key in [&shared, &own, &secret_key, &archived_key] {
            assert!(!text.contains(key.as_str()), "a key leaked");
        }
    }
    assert_nothing_under_holds(&clones, &token);

    // --exclude-archived leaves the archived repository out; --include-forks takes the fork.
    let run = env.run_with_env(
        &[
            "audit",
            "--github-org",
            "acme",
            "--github-api-url",
            &api.api(),
            "--clone-dir",
            clones.to_str().unwrap(),
            "--exclude-archived",
            "--include-forks",
            "--format",
            "json",
        ],
        b"",
        &[("GITHUB_TOKEN", &token)],
    );
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let names: Vec<String> = outcomes(&json).into_iter().map(|(n, _, _)| n).collect();
    assert!(names.contains(&url(&public, "fork")), "{names:?}");
    assert!(!names.contains(&url(&public, "old")), "{names:?}");

    // A user's repositories, listed with the user's own token (so private ones too: the
    // private repository is audited); the HTML report lists the repositories, the failed one
    // with its reason.
    let html = env.path("audit.html");
    let run = env.run_with_env(
        &[
            "audit",
            "--github-user",
            "someone",
            "--github-api-url",
            &api.api(),
            "--clone-dir",
            clones.to_str().unwrap(),
            "--format",
            "html",
            "-o",
            html.to_str().unwrap(),
        ],
        b"",
        &[("GITHUB_TOKEN", &token)],
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("user someone: 7 repositories listed"),
        "{}",
        run.stderr()
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>Repositories</h2>"), "{page}");
    assert!(
        page.contains(&format!(
            "<code>{}</code></td><td>audited</td><td>no</td>",
            url(&private, "vault")
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<code>{}</code></td><td>failed</td>",
            url(&public, "gone")
        )),
        "{page}"
    );
    assert!(page.contains("in 2 repositories: "), "{page}");
    assert!(!page.contains(&token) && !page.contains(&shared[8..]));
}

#[test]
fn api_refusals_are_one_sentence_each_and_fail_the_audit() {
    let env = TestEnv::new();
    let api = FakeGithub::start(&[], Some("right".into()));
    let clones = env.path("clones");
    for (org, token, said) in [
        ("acme", "wrong", "the GitHub API refused the token (401)"),
        (
            "missing",
            "right",
            "the GitHub API knows no such organisation (404)",
        ),
        (
            "limited",
            "right",
            "the GitHub API's rate limit is exhausted (it resets at 2027-01-15T08:00:00Z)",
        ),
    ] {
        let run = env.run_with_env(
            &[
                "audit",
                "--github-org",
                org,
                "--github-api-url",
                &api.api(),
                "--clone-dir",
                clones.to_str().unwrap(),
            ],
            b"",
            &[("NMLEAKS_TOKEN", token)],
        );
        let err = run.stderr();
        assert_eq!(run.code(), 2, "{org}: {err}");
        assert!(
            err.contains(&format!(
                "nmleaks: error: listing the repositories of organisation {org}: {said}"
            )),
            "{org}: {err}"
        );
        // Never an all-clear: the report says nothing was audited and why.
        assert!(
            !run.stdout().contains("no Nomotic keys found\n"),
            "{}",
            run.stdout()
        );
        assert!(!err.contains("wrong") && !err.contains("right"), "{err}");
    }
}

#[test]
fn repositories_from_arguments_and_a_file_are_audited_once_each_and_a_missing_one_is_reported() {
    let mut env = TestEnv::new();
    let shared = env.live_key();
    let a = bare(&env, "local", "a", &[("a.env", format!("K={shared}\n"))]);
    let b = bare(&env, "local", "b", &[("b.env", format!("K={shared}\n"))]);
    let list = env.write(
        "repos.txt",
        format!(
            "# the team's repositories\n{}\n\n  {}  \n/no/such/repository\n",
            a.display(),
            b.display()
        ),
    );
    let run = env.run(&[
        "audit",
        a.to_str().unwrap(),
        "--repos",
        list.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let json = run.json();
    let got: Vec<(String, String, u64)> = outcomes(&json);
    assert_eq!(got.len(), 3, "a given twice is audited once: {got:?}");
    let missing = got
        .iter()
        .find(|(n, _, _)| n == "/no/such/repository")
        .unwrap();
    assert_eq!(missing.1, "failed");
    assert_eq!(json["findings"].as_array().unwrap().len(), 1);
    assert_eq!(json["findings"][0]["location_count"], 2);
    // The human report names the repository of each place and tallies the repositories.
    let run = env.run(&["audit", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let out = run.stdout();
    assert!(out.contains(&format!("{} ", a.display())), "{out}");
    assert!(out.contains("in 2 repositories: "), "{out}");
    assert!(
        out.contains("repositories: 2 audited, 0 failed (of 2)"),
        "{out}"
    );
    // Nothing to audit is a usage error, one sentence.
    let run = env.run(&["audit"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("nmleaks audit needs repositories"),
        "{}",
        run.stderr()
    );
}

/// The `[i/n] NAME: …` progress line of `url` on stderr.
fn progress_of<'a>(err: &'a str, url: &str) -> &'a str {
    err.lines()
        .find(|l| l.contains(&format!("] {url}: ")))
        .unwrap_or_else(|| panic!("no line for {url}: {err}"))
}

#[test]
fn an_unmoved_repository_is_not_scanned_again_and_resume_skips_what_the_last_run_finished() {
    let mut env = TestEnv::new();
    let (k1, k2, k3) = (env.live_key(), env.live_key(), env.live_key());
    bare(&env, "served", "a", &[("a.env", format!("K={k1}\n"))]);
    bare(&env, "served", "b", &[("b.env", format!("K={k2}\n"))]);
    let server = GitServer::start(&env.path("served"), None);
    let (a, b) = (server.url("a.git"), server.url("b.git"));
    let clones = env.path("clones");
    let args = [
        "audit",
        a.as_str(),
        b.as_str(),
        "--clone-dir",
        clones.to_str().unwrap(),
        "--format",
        "json",
    ];
    let first = env.run(&args);
    assert_eq!(first.code(), 1, "{}", first.stderr());
    assert!(progress_of(&first.stderr(), &a).contains("(cloned"));
    // Nothing moved: each remote's refs are asked for (one round trip), nothing is fetched,
    // nothing is scanned, and the report is the same.
    let git = logging_git(&env);
    let second = env.run_with_env(&args, b"", &[("PATH", &git.path)]);
    let calls = git.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.ends_with("ls-remote --symref origin")),
        "{calls:?}"
    );
    assert_eq!(second.code(), 1, "{}", second.stderr());
    for url in [&a, &b] {
        assert!(
            progress_of(&second.stderr(), url).contains("1 key (unchanged"),
            "{}",
            second.stderr()
        );
    }
    assert_eq!(second.stdout(), first.stdout());
    // A push to b: b is scanned again, a is not.
    let work = env.path("work/served-b");
    std::fs::write(work.join("c.env"), format!("K={k3}\n")).unwrap();
    git_ok(&work, &["add", "."]);
    git_ok(&work, &["commit", "-q", "-m", "c"]);
    git_ok(&work, &["push", "-q", "origin", "HEAD:main"]);
    let third = env.run(&args);
    assert_eq!(third.code(), 1, "{}", third.stderr());
    assert!(progress_of(&third.stderr(), &a).contains("(unchanged"));
    assert!(progress_of(&third.stderr(), &b).contains("2 keys (fetched"));
    assert_eq!(third.json()["findings"].as_array().unwrap().len(), 3);
    // The server is gone. --resume reports what the last run finished without fetching;
    // without it, the fetches fail.
    drop(server);
    let resumed = env.run(&[&args[..], &["--resume"]].concat());
    assert_eq!(resumed.code(), 1, "{}", resumed.stderr());
    for url in [&a, &b] {
        assert!(progress_of(&resumed.stderr(), url).contains("(resumed"));
    }
    assert_eq!(resumed.stdout(), third.stdout());
    let offline = env.run(&args);
    assert_eq!(offline.code(), 2, "{}", offline.stderr());
    assert_eq!(offline.json()["audit"]["repositories_failed"], 2);
    // What the audits stored holds no key.
    for key in [&k1, &k2, &k3] {
        assert_nothing_under_holds(&clones.join("audits"), &key[8..]);
    }
}

#[test]
fn three_shards_merged_equal_one_unsharded_audit_byte_for_byte() {
    let mut env = TestEnv::new();
    let shared = env.live_key();
    let mut repos = Vec::new();
    for i in 0..9 {
        let own = env.live_key();
        let mut files = vec![(format!("own{i}.env"), format!("K={own}\n"))];
        if i % 3 == 0 {
            files.push(("shared.env".to_string(), format!("S={shared}\n")));
        }
        let files: Vec<(&str, String)> =
            files.iter().map(|(f, t)| (f.as_str(), t.clone())).collect();
        repos.push(bare(&env, "local", &format!("r{i}"), &files));
    }
    let names: Vec<&str> = repos.iter().map(|r| r.to_str().unwrap()).collect();
    let audit = |extra: &[&str], clones: &str| {
        let dir = env.path(clones);
        let mut args = vec!["audit", "--clone-dir", dir.to_str().unwrap()];
        args.extend_from_slice(&names);
        args.extend_from_slice(extra);
        env.run(&args)
    };
    for format in ["json", "human"] {
        let whole = audit(&["--format", format], &format!("whole-{format}"));
        assert_eq!(whole.code(), 1, "{}", whole.stderr());
        let mut parts = Vec::new();
        let mut audited = 0;
        for k in 1..=3 {
            let which = format!("{k}/3");
            let run = audit(
                &["--shard", &which, "--format", "json"],
                &format!("shard{k}-{format}"),
            );
            assert!(matches!(run.code(), 0 | 1), "{}", run.stderr());
            audited += run.json()["audit"]["repositories"]
                .as_array()
                .unwrap()
                .len();
            parts.push(env.write(&format!("shard{k}-{format}.json"), run.stdout()));
        }
        // Every repository in exactly one shard.
        assert_eq!(audited, 9);
        let mut args = vec!["merge", "--format", format];
        let paths: Vec<&str> = parts.iter().map(|p| p.to_str().unwrap()).collect();
        args.extend_from_slice(&paths);
        let merged = env.run(&args);
        assert_eq!(merged.code(), 1, "{}", merged.stderr());
        assert_eq!(merged.stdout(), whole.stdout(), "{format}");
    }
    // The key of three repositories is one finding of three repositories.
    let dir = env.path("again");
    let mut args = vec![
        "audit",
        "--clone-dir",
        dir.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(&names);
    let json = env.run(&args).json();
    let fp = nmleaks::finding::Fingerprint::of(&shared).0;
    let f = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fingerprint"] == fp)
        .unwrap();
    assert_eq!(f["repositories"].as_array().unwrap().len(), 3);
}

#[test]
fn merge_refuses_what_is_not_a_report_and_what_reports_cannot_hold() {
    let env = TestEnv::new();
    let bad = env.write("bad.json", "{\"findings\": 3}");
    let run = env.run(&["merge", bad.to_str().unwrap()]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr()
            .contains("bad.json: not an nmleaks JSON report"),
        "{}",
        run.stderr()
    );
    let empty = env.write(
        "empty.json",
        env.run(&["scan", "--format", "json", "bad.json"]).stdout(),
    );
    let run = env.run(&["merge", "--show-secrets", empty.to_str().unwrap()]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("JSON reports hold no keys"),
        "{}",
        run.stderr()
    );
    let run = env.run(&["merge", empty.to_str().unwrap(), empty.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
}

#[test]
fn a_key_in_many_repositories_is_verified_once_and_live_keys_in_public_repositories_come_first() {
    use crate::api::{ApiServer, Reply};
    let mut env = TestEnv::new();
    let (live_public, live_private, revoked) = (env.live_key(), env.live_key(), env.live_key());
    // Listed first and holding the revoked key, so only the ranking can put it last.
    bare(
        &env,
        "public",
        "aaa",
        &[("r.env", format!("K={revoked}\n"))],
    );
    bare(
        &env,
        "public",
        "zzz",
        &[
            ("r.env", format!("K={revoked}\n")),
            ("l.env", format!("K={live_public}\n")),
        ],
    );
    bare(
        &env,
        "public",
        "mmm",
        &[("p.env", format!("K={live_private}\n"))],
    );
    let git = GitServer::start(&env.path("public"), None);
    let listed = |name, private| Listed {
        name,
        clone_url: git.url(&format!("{name}.git")),
        private,
        fork: false,
        archived: false,
    };
    let github = FakeGithub::start(
        &[
            listed("aaa", false),
            listed("mmm", true),
            listed("zzz", false),
        ],
        None,
    );
    let nomotic = ApiServer::by_key(
        [
            (live_public.clone(), Reply::json(200, r#"{"agents":[]}"#)),
            (live_private.clone(), Reply::json(200, r#"{"agents":[]}"#)),
        ]
        .into_iter()
        .collect(),
    );
    let clones = env.path("clones");
    let api = github.api();
    let nomotic_url = nomotic.url();
    let args = crate::util::verifying(
        "audit",
        &nomotic_url,
        &[
            "--github-org",
            "acme",
            "--github-api-url",
            &api,
            "--clone-dir",
            clones.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let run = env.run(&args);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let json = run.json();
    let order: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap().to_string())
        .collect();
    let fp = |k: &str| nmleaks::finding::Fingerprint::of(k).0;
    assert_eq!(order, [fp(&live_public), fp(&live_private), fp(&revoked)]);
    assert_eq!(json["findings"][2]["verification"]["status"], "revoked");
    assert_eq!(
        json["findings"][2]["repositories"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Three keys, three requests: the key of two repositories was sent once.
    assert_eq!(nomotic.seen().len(), 3);
    nomotic.assert_only_agents_calls();
    // A second run verifies again: results with keys are not reused, their keys were stored
    // redacted; the repositories are scanned again.
    let again = env.run(&args);
    assert_eq!(again.code(), 1, "{}", again.stderr());
    assert!(!again.stderr().contains("(unchanged"), "{}", again.stderr());
    assert_eq!(again.json()["findings"], json["findings"]);
    assert_eq!(nomotic.seen().len(), 6);
}

#[test]
fn ctrl_c_keeps_the_repositories_that_finished_and_resume_goes_on_from_there() {
    let mut env = TestEnv::new();
    let (k1, k2) = (env.live_key(), env.live_key());
    let a = bare(&env, "local", "a", &[("a.env", format!("K={k1}\n"))]);
    bare(&env, "served", "b", &[("b.env", format!("K={k2}\n"))]);
    let open = Arc::new(AtomicBool::new(false));
    let server = GitServer::start_gated(&env.path("served"), None, open.clone());
    let b = server.url("b.git");
    let clones = env.path("clones");
    let args = [
        "audit",
        a.to_str().unwrap(),
        b.as_str(),
        "--jobs",
        "1",
        "--clone-dir",
        clones.to_str().unwrap(),
        "--format",
        "json",
    ];
    let child = env
        .command(&crate::util::binary())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The signal to wait for: a's result is stored (b's fetch now hangs on the server).
    let audits = clones.join("audits");
    let stored = || {
        std::fs::read_dir(&audits)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("a-"))
    };
    let start = std::time::Instant::now();
    while !stored() {
        assert!(start.elapsed().as_secs() < 60, "a was never stored");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("nmleaks: interrupted"), "{err}");
    assert!(out.stdout.is_empty(), "no report of part of the audit");
    // The server answers again; --resume does not scan a again, and audits b. A clone that
    // a run which is gone left half done is removed (here one of a process id no process can
    // have: over the kernel's pid_max).
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mirror_name = format!(".{}.git", nmleaks::source::git::remote::file_stem(&b));
    let abandoned = clones.join(format!("{mirror_name}.partial-{}", pid_max + 1));
    std::fs::create_dir_all(abandoned.join("objects")).unwrap();
    open.store(true, Ordering::Relaxed);
    let resumed = env.run(&[&args[..], &["--resume"]].concat());
    assert_eq!(resumed.code(), 1, "{}", resumed.stderr());
    let err = resumed.stderr();
    assert!(
        progress_of(&err, &a.display().to_string()).contains("(resumed"),
        "{err}"
    );
    assert!(progress_of(&err, &b).contains("(cloned"), "{err}");
    assert_eq!(resumed.json()["findings"].as_array().unwrap().len(), 2);
    assert!(!abandoned.exists(), "a half-done clone left behind");
    assert!(clones.join(&mirror_name[1..]).join("HEAD").is_file());
}

#[test]
fn a_token_goes_to_the_github_apis_host_only_even_for_repositories_given_by_hand() {
    let mut env = TestEnv::new();
    let key = env.live_key();
    bare(&env, "private", "vault", &[("v.env", format!("K={key}\n"))]);
    let token = format!("tok{}", env.rng.base62(24));
    let server = GitServer::start(&env.path("private"), Some(&token));
    let api = FakeGithub::start(&[], None);
    let on_api_host = server.url("vault.git");
    // The same server under another host name: not the API's host, so no token.
    let elsewhere = on_api_host.replace("127.0.0.1", "localhost");
    let clones = env.path("clones");
    let run = env.run_with_env(
        &[
            "audit",
            &on_api_host,
            &elsewhere,
            "--github-api-url",
            &api.api(),
            "--clone-dir",
            clones.to_str().unwrap(),
            "--format",
            "json",
        ],
        b"",
        &[("NMLEAKS_TOKEN", &token)],
    );
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let got = outcomes(&run.json());
    let status = |url: &str| {
        got.iter()
            .find(|(n, _, _)| n == url)
            .map(|(_, s, _)| s.clone())
            .unwrap()
    };
    assert_eq!(status(&on_api_host), "audited");
    assert_eq!(status(&elsewhere), "failed");
    assert!(!run.stderr().contains(&token) && !run.stdout().contains(&token));
}

/// A regression test: a stored result serialised each place as found, so a key in an
/// author's name, a file name or a tag name reached the clone directory in full, and a
/// repository named after a key named its mirror and its stored result after it.
#[test]
#[allow(clippy::too_many_lines)] // every name a key can hide in, in every output of an audit
fn keys_in_names_are_stored_redacted_and_reused_as_reported() {
    use crate::util::git_command;
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..5).map(|_| env.live_key()).collect();
    let work = env.path("work/named");
    std::fs::create_dir_all(work.join("conf")).unwrap();
    git_ok(&work, &["init", "-q"]);
    std::fs::write(work.join(format!("conf/{}.env", keys[0])), "nothing\n").unwrap();
    std::fs::write(work.join("a.env"), format!("K={}\n", keys[1])).unwrap();
    git_ok(&work, &["add", "-A"]);
    let commit = git_command(&work)
        .env("GIT_AUTHOR_NAME", format!("dev {}", keys[2]))
        .args(["commit", "-qm", "one"])
        .output()
        .unwrap();
    assert!(commit.status.success(), "{commit:?}");
    git_ok(&work, &["tag", &format!("t-{}", keys[3])]);
    // Served as a repository named after a key.
    let bare = env.path(&format!("served/{}.git", keys[4]));
    std::fs::create_dir_all(&bare).unwrap();
    git_ok(&bare, &["init", "-q", "--bare"]);
    git_ok(
        &work,
        &["push", "-q", bare.to_str().unwrap(), "HEAD:main", "--tags"],
    );
    let server = GitServer::start(&env.path("served"), None);
    let url = server.url(&format!("{}.git", keys[4]));
    let clones = env.path("clones");
    let args = [
        "audit",
        url.as_str(),
        "--clone-dir",
        clones.to_str().unwrap(),
        "--format",
        "json",
    ];
    let first = env.run(&args);
    assert_eq!(first.code(), 1, "{}", first.stderr());
    assert_eq!(first.json()["findings"].as_array().unwrap().len(), 4);
    let second = env.run(&args);
    assert!(
        second.stderr().contains("(unchanged"),
        "{}",
        second.stderr()
    );
    assert_eq!(second.stdout(), first.stdout());
    // The HTML report names the repository (under its key, in the table) redacted.
    let html = env.path("named.html");
    let page = env.run(&[
        "audit",
        url.as_str(),
        "--clone-dir",
        clones.to_str().unwrap(),
        "--format",
        "html",
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(page.code(), 1, "{}", page.stderr());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>Repositories</h2>"), "{page}");
    for key in &keys {
        assert!(!page.contains(&key[8..]), "the HTML report shows a key");
    }
    // A repository named after a key that cannot be fetched: its error names it redacted.
    let gone = server.url(&format!("{}-gone.git", keys[4]));
    let failed = env.run(&[
        "audit",
        gone.as_str(),
        "--clone-dir",
        clones.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(failed.code(), 2, "{}", failed.stderr());
    let error = failed.json()["audit"]["repositories"][0]["error"].clone();
    assert!(
        error.as_str().unwrap().contains("git fetch failed"),
        "{error}"
    );
    assert!(
        !failed.stdout().contains(&keys[4][8..]),
        "{}",
        failed.stdout()
    );
    for key in &keys[..4] {
        assert_nothing_under_holds(&clones.join("audits"), &key[8..]);
    }
    for key in &keys {
        for run in [&first, &second] {
            assert!(!run.stdout().contains(&key[8..]) && !run.stderr().contains(&key[8..]));
        }
    }
    // No name under the clone directory holds 12 characters of the repository's key.
    let body = &keys[4][8..];
    for dir in [clones.clone(), clones.join("audits")] {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            for i in 0..=body.len() - 12 {
                assert!(
                    !name.contains(&body[i..i + 12]),
                    "a file is named after the key: {name}"
                );
            }
        }
    }
}

/// A regression test: the audit's summary counted only the keys its own merge left out, not
/// those each repository's scan left out under `--max-keys`, and said fewer keys were
/// missing than were.
#[test]
fn keys_left_out_in_each_repository_are_counted_in_the_audit() {
    let mut env = TestEnv::new();
    let keys: Vec<String> = (0..4).map(|_| env.live_key()).collect();
    let a = bare(
        &env,
        "local",
        "a",
        &[("a.env", format!("K={}\nL={}\n", keys[0], keys[1]))],
    );
    let b = bare(
        &env,
        "local",
        "b",
        &[("b.env", format!("K={}\nL={}\n", keys[2], keys[3]))],
    );
    let clones = env.path("clones");
    let run = env.run(&[
        "audit",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--max-keys",
        "1",
        "--clone-dir",
        clones.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let json = run.json();
    // Four keys, one listed: each repository left one out, the merge one more.
    assert_eq!(json["findings"].as_array().unwrap().len(), 1);
    assert_eq!(json["summary"]["keys_unlisted"], 3, "{:#}", json["summary"]);
}
