//! Push protection: `nmleaks install-hook --pre-receive` on a bare repository, and real
//! `git push`es to it (git runs the hook with the pushed objects in its quarantine directory).

use std::path::PathBuf;

use crate::util::{TestEnv, git, git_ok};

/// A bare "server" with the pre-receive hook, and a clone to push from, holding one clean
/// commit already on the server.
struct Server {
    env: TestEnv,
    bare: PathBuf,
    work: PathBuf,
}

impl Server {
    fn new() -> Server {
        let env = TestEnv::new();
        let bare = env.path("server.git");
        git_ok(env.root(), &["init", "-q", "--bare", "server.git"]);
        env.run(&["install-hook", "--pre-receive", "server.git"])
            .expect(0);
        git_ok(env.root(), &["clone", "-q", "server.git", "work"]);
        let work = env.path("work");
        env.write("work/README.md", "demo\n");
        git_ok(&work, &["add", "."]);
        git_ok(&work, &["commit", "-q", "-m", "first"]);
        let s = Server { env, bare, work };
        let (ok, out) = s.push(&["origin", "HEAD:main"]);
        assert!(ok, "a clean first push is accepted: {out}");
        s
    }

    /// Commits `text` at `file` in the work clone.
    fn commit(&self, file: &str, text: &str, message: &str) -> String {
        self.env.write(&format!("work/{file}"), text);
        git_ok(&self.work, &["add", "."]);
        git_ok(&self.work, &["commit", "-q", "-m", message]);
        git_ok(&self.work, &["rev-parse", "HEAD"])
            .trim()
            .to_string()
    }

    /// `git push args…`: (accepted, what the pusher saw).
    fn push(&self, args: &[&str]) -> (bool, String) {
        let out = git(&self.work, &[&["push"], args].concat());
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    /// What the server's `refname` points at (empty if nothing).
    fn server_ref(&self, refname: &str) -> String {
        let out = git(&self.bare, &["rev-parse", "-q", "--verify", refname]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn assert_redacted(out: &str, key: &str) {
    assert!(!out.contains(&key[8..]), "a key reached the pusher:\n{out}");
}

#[test]
fn pre_receive_rejects_a_push_that_adds_a_key_and_accepts_a_clean_one() {
    let mut s = Server::new();
    let before = s.server_ref("main");
    let key = s.env.live_key();
    let commit = s.commit("app/.env", &format!("NOMOTIC_API_KEY={key}\n"), "add env");
    let (ok, out) = s.push(&["origin", "HEAD:main"]);
    assert!(!ok, "the push must be rejected:\n{out}");
    // The key was found in the pushed objects, which only the quarantine holds: an error
    // ("could not be fully checked") would mean the quarantine was not read.
    assert!(
        out.contains("push rejected: it adds a Nomotic API key"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}:app/.env:1:17", &commit[..12])),
        "{out}"
    );
    assert!(out.contains("pre-receive hook declined"), "{out}");
    assert_redacted(&out, &key);
    assert_eq!(s.server_ref("main"), before, "the server did not move");
    assert!(
        git(&s.bare, &["cat-file", "-e", &commit]).status.code() != Some(0),
        "the rejected objects did not land on the server"
    );
    // Taking the key out of the commit (amend) makes the push clean.
    s.commit("app/.env", "NOMOTIC_API_KEY=${NOMOTIC_API_KEY}\n", "env");
    git_ok(&s.work, &["reset", "-q", "--soft", "HEAD~2"]);
    git_ok(&s.work, &["commit", "-q", "-m", "add env without the key"]);
    let (ok, out) = s.push(&["origin", "HEAD:main"]);
    assert!(ok, "{out}");
    assert_ne!(s.server_ref("main"), before);
}

/// New branches, tags, deletions and force-pushes: what a push adds is what no ref on the
/// server reaches yet, whatever the kind of update.
#[test]
fn pre_receive_handles_new_branches_tags_deletions_and_force_pushes() {
    let mut s = Server::new();
    let base = s.server_ref("main");
    // A new branch with a key in a new commit.
    let key = s.env.live_key();
    s.commit("k.txt", &format!("{key}\n"), "key");
    let (ok, out) = s.push(&["origin", "HEAD:refs/heads/topic"]);
    assert!(!ok && out.contains("push rejected"), "{out}");
    assert_eq!(s.server_ref("refs/heads/topic"), "");
    // A new branch at a commit the server already has adds nothing.
    let (ok, out) = s.push(&["origin", &format!("{base}:refs/heads/copy")]);
    assert!(ok, "{out}");
    // An annotated tag whose message holds a key.
    git_ok(&s.work, &["reset", "-q", "--hard", &base]);
    let tag_key = s.env.live_key();
    git_ok(
        &s.work,
        &[
            "tag",
            "-a",
            "v1",
            "-m",
            &format!("release\n\ntoken {tag_key}\n"),
        ],
    );
    let (ok, out) = s.push(&["origin", "refs/tags/v1"]);
    assert!(!ok && out.contains("push rejected"), "{out}");
    assert_redacted(&out, &tag_key);
    // A lightweight tag of a commit the server has, and a deletion, are accepted.
    git_ok(&s.work, &["tag", "-f", "v2"]);
    let (ok, out) = s.push(&["origin", "refs/tags/v2"]);
    assert!(ok, "{out}");
    let (ok, out) = s.push(&["origin", ":refs/heads/copy"]);
    assert!(ok, "{out}");
    assert_eq!(s.server_ref("refs/heads/copy"), "");
    // A force-push that rewrites main onto a commit with a key is rejected...
    let forced_key = s.env.live_key();
    git_ok(&s.work, &["checkout", "-q", "--orphan", "rewrite"]);
    s.commit("new.env", &format!("K={forced_key}\n"), "rewritten history");
    let (ok, out) = s.push(&["--force", "origin", "HEAD:main"]);
    assert!(!ok && out.contains("push rejected"), "{out}");
    assert_redacted(&out, &forced_key);
    assert_eq!(s.server_ref("main"), base);
    // ...and one onto clean commits is accepted.
    git_ok(&s.work, &["checkout", "-q", "--orphan", "clean"]);
    git_ok(&s.work, &["rm", "-q", "-r", "--cached", "."]);
    std::fs::remove_file(s.work.join("new.env")).unwrap();
    s.commit("clean.txt", "nothing here\n", "clean rewrite");
    let (ok, out) = s.push(&["--force", "origin", "HEAD:main"]);
    assert!(ok, "{out}");
    for k in [&key, &tag_key, &forced_key] {
        assert_redacted(&out, k);
    }
}

/// The audited bypass: `git push -o nmleaks.skip=REASON` is refused unless the server allows
/// it; when allowed, the push goes through and the bypass is logged with its reason, the
/// refs and the keys' fingerprints (never the keys).
#[test]
fn pre_receive_skip_option_is_off_by_default_and_logged_when_on() {
    let mut s = Server::new();
    git_ok(&s.bare, &["config", "receive.advertisePushOptions", "true"]);
    let key = s.env.live_key();
    s.commit("fixture.env", &format!("K={key}\n"), "fixture");
    let skip = [
        "-o",
        "nmleaks.skip=a test fixture, not a real key",
        "origin",
        "HEAD:main",
    ];
    let (ok, out) = s.push(&skip);
    assert!(!ok, "{out}");
    assert!(out.contains("nmleaks.skip is off on this server"), "{out}");
    git_ok(&s.bare, &["config", "nmleaks.allowSkip", "true"]);
    let (ok, out) = s.push(&["-o", "nmleaks.skip=", "origin", "HEAD:main"]);
    assert!(!ok && out.contains("needs a reason"), "{out}");
    let (ok, out) = s.push(&skip);
    assert!(ok, "{out}");
    assert!(
        out.contains("push accepted without the check's verdict"),
        "{out}"
    );
    assert_redacted(&out, &key);
    let log = std::fs::read_to_string(s.bare.join("nmleaks-skips.log")).unwrap();
    let entry: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(entry["reason"], "a test fixture, not a real key");
    assert_eq!(entry["refs"][0]["ref"], "refs/heads/main");
    assert_eq!(entry["keys"].as_array().unwrap().len(), 1);
    assert!(
        entry["keys"][0]
            .as_str()
            .unwrap()
            .starts_with("nmleaks/key-sha256/v1:")
    );
    assert!(!log.contains(&key[8..]));
}

/// Run by hand with input that is not a hook's, the check is one sentence and exit 2: it
/// must never read as "nothing found".
#[test]
fn pre_receive_input_that_is_not_a_hooks_is_one_sentence_and_exit_2() {
    let s = Server::new();
    let run = s
        .env
        .run_with_stdin(&["git", "--pre-receive", "server.git"], b"main\n");
    let run = run.expect(2);
    assert!(
        run.stderr().contains("is not `old-id new-id ref`"),
        "{}",
        run.stderr()
    );
    assert!(!run.stdout().contains("no Nomotic keys found"));
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
}
