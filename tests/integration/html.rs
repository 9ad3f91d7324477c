//! `--format html`, opened in a real headless browser (Debian's Chromium, installed by
//! `scripts/test-tools.sh`): the table renders every key, filtering works, nothing is loaded
//! from anywhere, and text from the scanned repository stays text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::api::{ApiServer, Reply};
use crate::util::{TestEnv, git_ok};

fn chromium() -> String {
    std::env::var("NMLEAKS_CHROMIUM").unwrap_or_else(|_| {
        panic!("NMLEAKS_CHROMIUM is not set: run the tests with `bash scripts/test.sh`, which installs Chromium")
    })
}

/// Headless Chromium with the flags that keep it off the network and alone (its own profile).
fn browser(profile: &Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The DOM after the page's script ran on `url`.
fn dom(profile: &Path, url: &str) -> String {
    let out = browser(profile)
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Fingerprints of the rows the page shows (not `hidden`).
fn shown_rows(dom: &str) -> Vec<String> {
    dom.match_indices("<tr class=\"key")
        .filter_map(|(i, _)| {
            let tag = &dom[i..i + dom[i..].find('>').unwrap()];
            (!tag.contains(" hidden")).then(|| {
                let at = tag.find("data-fingerprint=\"").unwrap() + 18;
                tag[at..at + tag[at..].find('"').unwrap()].to_string()
            })
        })
        .collect()
}

#[test]
fn the_html_report_renders_every_key_filters_in_a_real_browser_and_loads_nothing() {
    let mut env = TestEnv::new();
    git_ok(env.root(), &["init", "-q"]);
    let (live, revoked, unknown) = (env.live_key(), env.live_key(), env.live_key());
    env.write("app/live.env", format!("K={live}\n"));
    env.write("app/old.env", format!("K={revoked}\n"));
    // A name chosen by whoever wrote the repository must stay text.
    let hostile = "<img src=x onerror=alert(1)>.env";
    env.write(hostile, format!("K={unknown}\n"));
    git_ok(env.root(), &["add", "."]);
    git_ok(env.root(), &["commit", "-q", "-m", "keys"]);
    let server = ApiServer::by_key(HashMap::from([
        (live.clone(), Reply::json(200, r#"{"agents": []}"#)),
        (revoked.clone(), Reply::json(401, "{}")),
        (unknown.clone(), Reply::json(500, "{}")),
    ]));
    let report = env.path("report.html");
    let api = server.url();
    env.run(&crate::util::verifying(
        "git",
        &api,
        &["--format", "html", "-o", report.to_str().unwrap()],
    ))
    .expect(1);
    let html = std::fs::read_to_string(&report).unwrap();
    for k in [&live, &revoked, &unknown] {
        assert!(!html.contains(&k[8..]), "a key in the HTML");
    }
    // Self-contained: nothing to fetch, and a policy that forbids fetching anything.
    assert!(html.contains("default-src 'none'"));
    for external in [
        "<script src",
        "<link",
        "@import",
        "url(",
        "src=\"http",
        "href=\"http",
    ] {
        assert!(!html.contains(external), "{external} in the report");
    }
    let profile = env.path("chromium-profile");
    let url = format!("file://{}", report.display());
    let fp = |k: &str| nmleaks::finding::Fingerprint::of(k).0;
    let all = dom(&profile, &url);
    let mut rows = shown_rows(&all);
    rows.sort();
    let mut want = vec![fp(&live), fp(&revoked), fp(&unknown)];
    want.sort();
    assert_eq!(rows, want, "every key is a row");
    assert!(all.contains("3 of 3 keys shown"), "the script ran");
    assert!(!all.contains("<img"), "the hostile name became markup");
    assert!(all.contains("&lt;img src=x onerror=alert(1)&gt;.env"));
    assert_eq!(
        shown_rows(&dom(&profile, &format!("{url}#status=live"))),
        [fp(&live)]
    );
    assert_eq!(
        shown_rows(&dom(&profile, &format!("{url}#status=revoked"))),
        [fp(&revoked)]
    );
    let by_text = dom(&profile, &format!("{url}#q=old.env"));
    assert_eq!(shown_rows(&by_text), [fp(&revoked)]);
    assert!(by_text.contains("1 of 3 keys shown"));
    // A screenshot from this run, kept under target/ for a person to look at.
    let shot: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/html-report.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let out = browser(&profile)
        .arg("--window-size=1400,800")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
}
