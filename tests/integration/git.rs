//! `nmleaks git`: history audits, ranges and staged changes over real repositories built with
//! git2 in temp dirs. Every expected commit id, path and line below comes from how the test
//! built the repository, never from a previous run's output.

use std::fmt::Write as _;
use std::path::Path;

use git2::{Oid, Repository, Signature, Time};
use serde_json::Value;

use crate::util::{TestEnv, git_ok};

/// A repository under construction, with a clock so commits sort the same on every run.
struct TestRepo {
    env: TestEnv,
    repo: Repository,
    clock: i64,
}

impl TestRepo {
    fn new() -> TestRepo {
        let env = TestEnv::new();
        let repo = Repository::init(env.path("repo")).unwrap();
        TestRepo {
            env,
            repo,
            clock: 1_700_000_000,
        }
    }

    fn bare() -> TestRepo {
        let env = TestEnv::new();
        let repo = Repository::init_bare(env.path("repo.git")).unwrap();
        TestRepo {
            env,
            repo,
            clock: 1_700_000_000,
        }
    }

    fn key(&mut self) -> String {
        self.env.live_key()
    }

    fn sig(&mut self) -> Signature<'static> {
        self.clock += 60;
        Signature::new("Ada Tester", "ada@example.test", &Time::new(self.clock, 0)).unwrap()
    }

    /// An index holding `parent`'s tree with `changes` applied (`None` removes a path).
    fn index_from(&self, parent: Option<Oid>, changes: &[(&str, Option<&str>)]) -> git2::Index {
        let mut index = git2::Index::new().unwrap();
        if let Some(p) = parent {
            let tree = self.repo.find_commit(p).unwrap().tree().unwrap();
            index.read_tree(&tree).unwrap();
        }
        for (path, contents) in changes {
            match contents {
                Some(c) => {
                    let id = self.repo.blob(c.as_bytes()).unwrap();
                    index.add(&entry(path, id, 0o100_644)).unwrap();
                }
                None => index.remove_path(Path::new(path)).unwrap(),
            }
        }
        index
    }

    /// Commits `changes` on top of `parents[0]` (if any), updating `refname` if given.
    fn commit_to(
        &mut self,
        refname: Option<&str>,
        parents: &[Oid],
        changes: &[(&str, Option<&str>)],
        message: &str,
    ) -> Oid {
        let sig = self.sig();
        let mut index = self.index_from(parents.first().copied(), changes);
        let tree = index.write_tree_to(&self.repo).unwrap();
        let tree = self.repo.find_tree(tree).unwrap();
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p).unwrap())
            .collect();
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(refname, &sig, &sig, message, &tree, &parent_refs)
            .unwrap()
    }

    /// Commits on HEAD's branch and keeps the on-disk index in step (as `git commit` does).
    fn commit(&mut self, changes: &[(&str, Option<&str>)], message: &str) -> Oid {
        let head = self.head();
        let parents: Vec<Oid> = head.into_iter().collect();
        let id = self.commit_to(Some("HEAD"), &parents, changes, message);
        if !self.repo.is_bare() {
            let tree = self.repo.find_commit(id).unwrap().tree().unwrap();
            let mut index = self.repo.index().unwrap();
            index.read_tree(&tree).unwrap();
            index.write().unwrap();
        }
        id
    }

    fn head(&self) -> Option<Oid> {
        self.repo.head().ok().and_then(|h| h.target())
    }

    /// Stages `changes` in the repository's index without committing.
    fn stage(&self, changes: &[(&str, Option<&str>)]) {
        let mut index = self.repo.index().unwrap();
        for (path, contents) in changes {
            match contents {
                Some(c) => {
                    let id = self.repo.blob(c.as_bytes()).unwrap();
                    index.add(&entry(path, id, 0o100_644)).unwrap();
                }
                None => index.remove_path(Path::new(path)).unwrap(),
            }
        }
        index.write().unwrap();
    }

    fn run(&self, args: &[&str]) -> crate::util::Run {
        self.env.run(args)
    }
}

fn entry(path: &str, id: Oid, mode: u32) -> git2::IndexEntry {
    git2::IndexEntry {
        ctime: git2::IndexTime::new(0, 0),
        mtime: git2::IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

fn findings(json: &Value) -> &Vec<Value> {
    json["findings"].as_array().unwrap()
}

/// The one finding whose redacted key ends like `key`.
fn finding_for<'a>(json: &'a Value, key: &str) -> &'a Value {
    let tail = &key[key.len() - 4..];
    let matching: Vec<&Value> = findings(json)
        .iter()
        .filter(|f| f["key"].as_str().unwrap().ends_with(tail))
        .collect();
    assert_eq!(matching.len(), 1, "one finding for the key: {json:#}");
    matching[0]
}

/// `(commit, path, line)` of each location of a finding.
fn places(f: &Value) -> Vec<(String, String, u64)> {
    f["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["git"]["commit"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
                l["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The scan reports the unreadable object `bad`, exits 2, and still reports `key` where it
/// was added (in `k.env` of commit `at`).
fn assert_corrupt_object_reported(t: &TestRepo, bad: Oid, key: &str, at: Oid) {
    let run = t.run(&["git", "--format", "json", "repo"]).expect(2);
    let err = run.stderr();
    assert!(
        err.contains(&format!("object {bad} cannot be read")),
        "{err}"
    );
    assert_eq!(
        places(finding_for(&run.json(), key)),
        [(at.to_string(), "k.env".to_string(), 1)]
    );
}

fn json_run(t: &TestRepo, args: &[&str], code: i32) -> Value {
    let mut all = vec!["git", "--format", "json"];
    all.extend_from_slice(args);
    t.run(&all).expect(code).json()
}

#[test]
fn a_key_added_then_removed_is_found_where_it_was_added_and_not_at_head() {
    let mut t = TestRepo::new();
    let key = t.key();
    t.commit(&[("app/config.env", Some("A=1\n"))], "start");
    let added = t.commit(
        &[("app/config.env", Some(&format!("A=1\nNOMOTIC_KEY={key}\n")))],
        "add config",
    );
    t.commit(&[("app/config.env", Some("A=1\n"))], "remove the key");
    let json = json_run(&t, &["repo"], 1);
    let f = finding_for(&json, &key);
    assert_eq!(
        places(f),
        [(added.to_string(), "app/config.env".to_string(), 2)]
    );
    let loc = &f["locations"][0];
    assert_eq!(loc["column"], 13);
    assert_eq!(loc["git"]["author"], "Ada Tester");
    assert_eq!(loc["git"]["email"], "ada@example.test");
    let time = t.repo.find_commit(added).unwrap().time().seconds();
    assert_eq!(loc["git"]["time"], time);
    let p = &f["provenance"];
    assert_eq!(p["first_commit"], added.to_string());
    assert_eq!(p["first_commit_time"], time);
    assert_eq!(p["commits"], 1);
    assert_eq!(p["at_head"], false);
    assert_eq!(p["pushed"], false, "no remote-tracking ref");

    let run = t.run(&["git", "repo"]).expect(1);
    run.assert_no_key(&key);
    let out = run.stdout();
    let short = &added.to_string()[..12];
    assert!(
        out.contains(&format!("{short}:app/config.env:2:13")),
        "{out}"
    );
    assert!(out.contains(&format!("introduced in {short}")), "{out}");
    assert!(out.contains("not at HEAD"), "{out}");
}

#[test]
fn a_key_in_a_file_later_deleted_is_found() {
    let mut t = TestRepo::new();
    let key = t.key();
    let added = t.commit(&[("secrets/.env", Some(&format!("K={key}\n")))], "oops");
    t.commit(
        &[("secrets/.env", None), ("README", Some("hi\n"))],
        "delete",
    );
    let json = json_run(&t, &["repo"], 1);
    let f = finding_for(&json, &key);
    assert_eq!(
        places(f),
        [(added.to_string(), "secrets/.env".to_string(), 1)]
    );
    assert_eq!(f["provenance"]["at_head"], false);
}

#[test]
fn a_key_only_on_an_unmerged_branch_or_a_detached_head_is_found() {
    let mut t = TestRepo::new();
    let (on_branch, detached) = (t.key(), t.key());
    let base = t.commit(&[("a.txt", Some("a\n"))], "base");
    let feature = t.commit_to(
        Some("refs/heads/feature"),
        &[base],
        &[("b.txt", Some(&format!("{on_branch}\n")))],
        "feature work",
    );
    let loose = t.commit_to(
        None,
        &[base],
        &[("c.txt", Some(&format!("{detached}\n")))],
        "detached work",
    );
    t.repo.set_head_detached(loose).unwrap();
    let json = json_run(&t, &["repo"], 1);
    assert_eq!(
        places(finding_for(&json, &on_branch)),
        [(feature.to_string(), "b.txt".to_string(), 1)]
    );
    let f = finding_for(&json, &detached);
    assert_eq!(places(f), [(loose.to_string(), "c.txt".to_string(), 1)]);
    assert_eq!(f["provenance"]["at_head"], true, "HEAD is detached at it");
}

#[test]
fn keys_reachable_only_from_a_tag_and_in_tag_messages_are_found() {
    let mut t = TestRepo::new();
    let (in_file, in_tag_message) = (t.key(), t.key());
    let base = t.commit(&[("a.txt", Some("a\n"))], "base");
    let tagged = t.commit_to(
        None,
        &[base],
        &[("release.cfg", Some(&format!("key={in_file}\n")))],
        "release build",
    );
    let sig = t.sig();
    let target = t.repo.find_object(tagged, None).unwrap();
    let tag = t
        .repo
        .tag(
            "v1.0",
            &target,
            &sig,
            &format!("Release 1.0\n\nbuilt with {in_tag_message}\n"),
            false,
        )
        .unwrap();
    let json = json_run(&t, &["repo"], 1);
    assert_eq!(
        places(finding_for(&json, &in_file)),
        [(tagged.to_string(), "release.cfg".to_string(), 1)]
    );
    let f = finding_for(&json, &in_tag_message);
    let loc = &f["locations"][0];
    assert_eq!(loc["git"]["object"], "tag-message");
    assert_eq!(loc["git"]["commit"], tag.to_string());
    assert_eq!(loc["line"], 3);
}

#[test]
fn a_key_in_a_commit_message_is_located_by_commit_and_line() {
    let mut t = TestRepo::new();
    let key = t.key();
    t.commit(&[("a.txt", Some("a\n"))], "base");
    let c = t.commit(
        &[("a.txt", Some("b\n"))],
        &format!("Fix login\n\nTried with {key} locally\n"),
    );
    let json = json_run(&t, &["repo"], 1);
    let f = finding_for(&json, &key);
    let loc = &f["locations"][0];
    assert_eq!(loc["git"]["commit"], c.to_string());
    assert_eq!(loc["git"]["commit_message"], true);
    assert_eq!(loc["git"]["object"], "commit-message");
    assert_eq!(
        (loc["line"].as_u64(), loc["column"].as_u64()),
        (Some(3), Some(12))
    );
    assert_eq!(f["provenance"]["at_head"], true);
    let run = t.run(&["git", "repo"]).expect(1);
    run.assert_no_key(&key);
    assert!(
        run.stdout()
            .contains(&format!("{} (commit message):3:12", &c.to_string()[..12])),
        "{}",
        run.stdout()
    );
}

#[test]
fn a_key_in_a_stash_is_found() {
    let mut t = TestRepo::new();
    let key = t.key();
    t.commit(&[("settings.ini", Some("[a]\n"))], "base");
    t.env
        .write("repo/settings.ini", format!("[a]\nkey={key}\n"));
    let sig = t.sig();
    let stash = t.repo.stash_save(&sig, "wip", None).unwrap();
    assert_eq!(
        std::fs::read_to_string(t.env.path("repo/settings.ini")).unwrap(),
        "[a]\n",
        "the stash took the change out of the working tree"
    );
    t.run(&["scan", "repo"]).expect(0);
    let json = json_run(&t, &["repo"], 1);
    let f = finding_for(&json, &key);
    assert_eq!(
        places(f),
        [(stash.to_string(), "settings.ini".to_string(), 2)]
    );
}

#[test]
fn a_dangling_blob_is_reported_only_with_all_objects() {
    let mut t = TestRepo::new();
    let key = t.key();
    t.commit(&[("a.txt", Some("a\n"))], "base");
    // `git add` then `git reset`: the blob stays in the object database, no ref reaches it.
    let blob = t.repo.blob(format!("x\nk={key}\n").as_bytes()).unwrap();
    let json = json_run(&t, &["repo"], 0);
    assert!(findings(&json).is_empty());
    let json = json_run(&t, &["--all-objects", "repo"], 1);
    let f = finding_for(&json, &key);
    let loc = &f["locations"][0];
    assert_eq!(loc["git"]["object"], "blob");
    assert_eq!(loc["git"]["commit"], blob.to_string());
    assert_eq!(loc["line"], 2);
    assert_eq!(f["provenance"]["first_commit"], Value::Null);
}

#[test]
fn a_commit_left_behind_by_a_reset_is_found_only_with_all_objects() {
    let mut t = TestRepo::new();
    let key = t.key();
    let base = t.commit(&[("a.txt", Some("a\n"))], "base");
    let lost = t.commit(&[("a.txt", Some(&format!("{key}\n")))], "oops");
    // `git reset --hard base` on HEAD's branch, whatever init.defaultBranch named it.
    let branch = t.repo.head().unwrap().name().unwrap().to_string();
    t.repo.reference(&branch, base, true, "reset").unwrap();
    // Only the reflog remembers `lost`; drop it, as expiry would.
    let _ = std::fs::remove_dir_all(t.repo.path().join("logs"));
    let refs: Vec<(String, Oid)> = t
        .repo
        .references()
        .unwrap()
        .map(|r| {
            let r = r.unwrap();
            (r.name().unwrap().to_string(), r.target().unwrap())
        })
        .collect();
    assert_eq!(refs, [(branch, base)], "no ref reaches the lost commit");
    json_run(&t, &["repo"], 0);
    let json = json_run(&t, &["--all-objects", "repo"], 1);
    assert_eq!(
        places(finding_for(&json, &key)),
        [(lost.to_string(), "a.txt".to_string(), 1)]
    );
}

#[test]
fn the_same_key_in_300_commits_is_one_finding_with_300_locations() {
    let mut t = TestRepo::new();
    let key = t.key();
    t.commit(&[("counter.txt", Some("n=0\n"))], "start");
    let mut ids = Vec::new();
    for i in 1..=300 {
        let text = format!("n={i}\nkey={key}\n");
        ids.push(t.commit(&[("counter.txt", Some(&text))], &format!("bump {i}")));
    }
    let json = json_run(&t, &["repo"], 1);
    assert_eq!(findings(&json).len(), 1);
    let f = finding_for(&json, &key);
    assert_eq!(f["location_count"], 300);
    let mut got: Vec<String> = places(f).into_iter().map(|p| p.0).collect();
    got.sort();
    let mut want: Vec<String> = ids.iter().map(Oid::to_string).collect();
    want.sort();
    assert_eq!(got, want, "each commit that changed the file is a location");
    assert_eq!(f["provenance"]["first_commit"], ids[0].to_string());
    assert_eq!(f["provenance"]["commits"], 300);
    assert_eq!(f["provenance"]["at_head"], true);
}

#[test]
fn a_key_unchanged_across_commits_is_located_once_and_counted_in_each() {
    let mut t = TestRepo::new();
    let key = t.key();
    let added = t.commit(&[("k.env", Some(&format!("K={key}\n")))], "add");
    for i in 0..4 {
        t.commit(&[("other.txt", Some(&format!("{i}\n")))], "unrelated");
    }
    let json = json_run(&t, &["repo"], 1);
    let f = finding_for(&json, &key);
    assert_eq!(places(f), [(added.to_string(), "k.env".to_string(), 1)]);
    assert_eq!(f["provenance"]["commits"], 5);
}

#[test]
fn pushed_says_whether_a_remote_tracking_ref_reaches_a_commit_that_holds_the_key() {
    let mut t = TestRepo::new();
    let (pushed, local) = (t.key(), t.key());
    let c1 = t.commit(&[("a.env", Some(&format!("{pushed}\n")))], "one");
    t.repo
        .reference("refs/remotes/origin/main", c1, true, "fetch")
        .unwrap();
    t.commit(&[("b.env", Some(&format!("{local}\n")))], "two");
    let json = json_run(&t, &["repo"], 1);
    assert_eq!(finding_for(&json, &pushed)["provenance"]["pushed"], true);
    assert_eq!(finding_for(&json, &local)["provenance"]["pushed"], false);
    let out = t.run(&["git", "repo"]).stdout();
    assert!(out.contains("revoke the key"), "{out}");
    assert!(out.contains("rewrite history before pushing"), "{out}");
}

#[test]
fn a_key_first_committed_on_a_local_branch_and_later_pushed_is_pushed() {
    // The key is first committed on a branch no remote has, then again on the branch that
    // was pushed: it has left the machine, whatever its first commit says.
    let mut t = TestRepo::new();
    let key = t.key();
    let base = t.commit(&[("a.txt", Some("a\n"))], "base");
    let local = t.commit_to(
        Some("refs/heads/local-only"),
        &[base],
        &[("draft.env", Some(&format!("K={key}\n")))],
        "draft",
    );
    let pushed = t.commit(&[("app.env", Some(&format!("KEY={key}\n")))], "ship it");
    t.repo
        .reference("refs/remotes/origin/main", pushed, true, "push")
        .unwrap();
    let json = json_run(&t, &["repo"], 1);
    let p = &finding_for(&json, &key)["provenance"];
    assert_eq!(p["first_commit"], local.to_string(), "{json:#}");
    assert_eq!(p["pushed"], true, "{json:#}");
    let out = t.run(&["git", "repo"]).stdout();
    assert!(out.contains("revoke the key"), "{out}");
    assert!(!out.contains("rewrite history before pushing"), "{out}");
}

#[test]
fn a_key_in_git_notes_is_found() {
    let mut t = TestRepo::new();
    let key = t.key();
    let c = t.commit(&[("a.txt", Some("a\n"))], "base");
    let sig = t.sig();
    let note_commit_before = t.repo.find_reference("refs/notes/commits").ok();
    assert!(note_commit_before.is_none());
    t.repo
        .note(&sig, &sig, None, c, &format!("deployed with {key}"), false)
        .unwrap();
    let json = json_run(&t, &["repo"], 1);
    let f = finding_for(&json, &key);
    // The notes tree names each note by the commit it annotates.
    assert_eq!(places(f)[0].1, c.to_string());
}

#[test]
fn staged_reports_keys_the_index_adds_and_never_reads_the_working_tree() {
    let mut t = TestRepo::new();
    let (old, new, unstaged) = (t.key(), t.key(), t.key());
    t.commit(&[("a.env", Some(&format!("OLD={old}\n")))], "base");
    t.stage(&[("a.env", Some(&format!("OLD={old}\nNEW={new}\n")))]);
    t.env.write("repo/untracked.env", format!("{unstaged}\n"));
    let json = json_run(&t, &["--staged", "repo"], 1);
    assert_eq!(findings(&json).len(), 1, "only the added key: {json:#}");
    let f = finding_for(&json, &new);
    let loc = &f["locations"][0];
    assert_eq!(loc["path"], "a.env");
    assert_eq!(loc["line"], 2);
    assert_eq!(loc["git"]["staged"], true);
    assert!(f.get("provenance").is_none());
    let run = t.run(&["git", "--staged", "repo"]).expect(1);
    run.assert_no_key(&new).assert_no_key(&old);
    assert!(run.stdout().contains("a.env:2:5"), "{}", run.stdout());
}

#[test]
fn staged_removal_and_moved_lines_are_not_reported() {
    let mut t = TestRepo::new();
    let (a, b) = (t.key(), t.key());
    t.commit(
        &[
            ("one.env", Some(&format!("x=1\nA={a}\ny=2\n"))),
            ("two.env", Some(&format!("B={b}\n"))),
        ],
        "base",
    );
    // Remove B's line, move A's line to the top.
    t.stage(&[
        ("one.env", Some(&format!("A={a}\nx=1\ny=2\n"))),
        ("two.env", Some("B=\n")),
    ]);
    let run = t.run(&["git", "--staged", "repo"]).expect(0);
    assert!(run.stdout().contains("no Nomotic keys found"));
    // Deleting the file is a removal too.
    t.stage(&[("two.env", None)]);
    t.run(&["git", "--staged", "repo"]).expect(0);
}

#[test]
fn staged_renames_are_not_new_keys_but_copies_into_new_files_are() {
    let mut t = TestRepo::new();
    let key = t.key();
    let body = format!("# settings\nKEY={key}\nmore=1\nand=2\n");
    t.commit(&[("old/name.env", Some(&body))], "base");
    t.stage(&[("old/name.env", None), ("new/name.env", Some(&body))]);
    t.run(&["git", "--staged", "repo"]).expect(0);
    // Undo the rename; copy the key into a new file instead.
    t.stage(&[
        ("new/name.env", None),
        ("old/name.env", Some(&body)),
        ("copy.env", Some(&format!("{key}\n"))),
    ]);
    let json = json_run(&t, &["--staged", "repo"], 1);
    assert_eq!(places_staged(&json), ["copy.env"]);
}

fn places_staged(json: &Value) -> Vec<String> {
    findings(json)
        .iter()
        .flat_map(|f| f["locations"].as_array().unwrap())
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn staged_works_before_the_first_commit_and_skips_submodules_and_scans_binaries() {
    let mut t = TestRepo::new();
    let (a, b) = (t.key(), t.key());
    let mut binary = vec![0u8, 1, 2, 0];
    binary.extend_from_slice(b.as_bytes());
    let bin = t.repo.blob(&binary).unwrap();
    let mut index = t.repo.index().unwrap();
    index.add(&entry("bin/app.dat", bin, 0o100_644)).unwrap();
    // A submodule entry names a commit of another repository: there is no blob to read.
    let gitlink = Oid::from_str("1234567890123456789012345678901234567890").unwrap();
    index.add(&entry("vendor/lib", gitlink, 0o160_000)).unwrap();
    index.write().unwrap();
    t.stage(&[("first.env", Some(&format!("{a}\n")))]);
    let run = t
        .run(&["git", "--staged", "--format", "json", "repo"])
        .expect(1);
    let err = run.stderr();
    assert!(
        !err.contains("nmleaks: error") && !err.contains("nmleaks: warning"),
        "the submodule entry is skipped silently: {err}"
    );
    let json = run.json();
    let mut paths = places_staged(&json);
    paths.sort();
    assert_eq!(paths, ["bin/app.dat", "first.env"]);
}

#[test]
fn staged_conflicts_scan_both_sides_with_a_warning() {
    let mut t = TestRepo::new();
    let key = t.key();
    t.commit(&[("c.env", Some("base\n"))], "base");
    let ours = t.repo.blob(b"ours\n").unwrap();
    let theirs = t.repo.blob(format!("theirs {key}\n").as_bytes()).unwrap();
    let mut index = t.repo.index().unwrap();
    index.remove_path(Path::new("c.env")).unwrap();
    // An unresolved merge: stages 2 (ours) and 3 (theirs), no stage 0.
    index.add(&stage_entry("c.env", ours, 2)).unwrap();
    index.add(&stage_entry("c.env", theirs, 3)).unwrap();
    assert!(index.has_conflicts());
    index.write().unwrap();
    let run = t.run(&["git", "--staged", "repo"]).expect(1);
    assert!(
        run.stderr().contains("c.env: unresolved merge conflict"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().contains("c.env:1:8"), "{}", run.stdout());
}

fn stage_entry(path: &str, id: Oid, stage: u16) -> git2::IndexEntry {
    let mut e = entry(path, id, 0o100_644);
    e.flags = stage << 12;
    e
}

#[test]
fn staged_in_a_bare_repository_is_a_usage_error() {
    let t = TestRepo::bare();
    let run = t.run(&["git", "--staged", "repo.git"]).expect(2);
    assert!(run.stderr().contains("bare repository"), "{}", run.stderr());
}

#[test]
fn range_scans_what_the_commits_introduce() {
    let mut t = TestRepo::new();
    let (before, in_file, in_message) = (t.key(), t.key(), t.key());
    let base = t.commit(&[("base.env", Some(&format!("{before}\n")))], "base");
    let c2 = t.commit(
        &[("feature.env", Some(&format!("x\n{in_file}\n")))],
        "feature",
    );
    let c3 = t.commit(
        &[("other.txt", Some("o\n"))],
        &format!("notes\n\nused {in_message}\n"),
    );
    let range = format!("{base}..{c3}");
    for args in [
        vec!["--range", range.as_str(), "repo"],
        vec!["--since-commit", &base.to_string()[..10], "repo"],
    ] {
        let json = json_run(&t, &args, 1);
        assert_eq!(findings(&json).len(), 2, "{json:#}");
        assert_eq!(
            places(finding_for(&json, &in_file)),
            [(c2.to_string(), "feature.env".to_string(), 2)]
        );
        let m = &finding_for(&json, &in_message)["locations"][0];
        assert_eq!(m["git"]["commit"], c3.to_string());
        assert_eq!(m["line"], 3);
    }
    // Only the message after c2; nothing after c3.
    let json = json_run(&t, &["--range", &format!("{c2}..{c3}"), "repo"], 1);
    assert_eq!(findings(&json).len(), 1);
    finding_for(&json, &in_message);
    json_run(&t, &["--range", &format!("{c3}..HEAD"), "repo"], 0);
}

#[test]
fn a_bad_range_is_a_usage_error() {
    let mut t = TestRepo::new();
    let c = t.commit(&[("a.txt", Some("a\n"))], "base");
    let run = t.run(&["git", "--range", &c.to_string(), "repo"]).expect(2);
    assert!(
        run.stderr().contains("wants two revisions"),
        "{}",
        run.stderr()
    );
    let run = t.run(&["git", "--range", "nope..HEAD", "repo"]).expect(2);
    assert!(run.stderr().contains("nope..HEAD"), "{}", run.stderr());
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    t.run(&["git", "--staged", "--range", "a..b", "repo"])
        .expect(2);
}

#[test]
fn bare_repositories_linked_worktrees_and_subdirectories_are_opened() {
    let mut t = TestRepo::bare();
    let key = t.key();
    let c = t.commit(&[("deep/dir/k.env", Some(&format!("{key}\n")))], "add");
    let json = json_run(&t, &["repo.git"], 1);
    assert_eq!(
        places(finding_for(&json, &key)),
        [(c.to_string(), "deep/dir/k.env".to_string(), 1)]
    );

    let mut w = TestRepo::new();
    let key = w.key();
    let c = w.commit(&[("deep/dir/k.env", Some(&format!("{key}\n")))], "add");
    let wt_path = w.env.path("linked");
    w.repo.worktree("linked", &wt_path, None).unwrap();
    assert!(
        wt_path.join(".git").is_file(),
        "a linked worktree has a .git file"
    );
    std::fs::create_dir_all(w.env.path("repo/deep/dir")).unwrap();
    std::fs::create_dir_all(w.env.path("linked/deep")).unwrap();
    for repo_arg in ["linked", "repo/deep/dir", "linked/deep"] {
        let json = json_run(&w, &[repo_arg], 1);
        assert_eq!(
            places(finding_for(&json, &key)),
            [(c.to_string(), "deep/dir/k.env".to_string(), 1)],
            "{repo_arg}"
        );
    }
    let run = w.run(&["git", "not-a-repo"]).expect(2);
    assert!(
        run.stderr().contains("not a git repository"),
        "{}",
        run.stderr()
    );
}

#[test]
fn an_empty_repository_is_clean() {
    let t = TestRepo::new();
    let run = t.run(&["git", "repo"]).expect(0);
    assert!(run.stdout().contains("no Nomotic keys found"));
    t.run(&["git", "--staged", "repo"]).expect(0);
    t.run(&["git", "--all-objects", "repo"]).expect(0);
}

/// The path of a loose object.
fn loose_path(t: &TestRepo, id: Oid) -> std::path::PathBuf {
    let hex = id.to_string();
    t.repo
        .path()
        .join("objects")
        .join(&hex[..2])
        .join(&hex[2..])
}

#[test]
fn a_missing_blob_is_counted_and_reported_and_the_scan_goes_on() {
    let mut t = TestRepo::new();
    let key = t.key();
    t.commit(&[("lost.txt", Some("contents fetched on demand\n"))], "one");
    let c2 = t.commit(&[("k.env", Some(&format!("{key}\n")))], "two");
    let lost = t.repo.revparse_single("HEAD:lost.txt").unwrap().id();
    // What a partial clone (`git clone --filter=blob:none`) looks like: a promisor remote in
    // the config, and trees that name blobs the object database lacks.
    let mut config = t.repo.config().unwrap();
    config
        .set_str("remote.origin.url", "https://example.test/repo.git")
        .unwrap();
    config.set_bool("remote.origin.promisor", true).unwrap();
    config
        .set_str("remote.origin.partialclonefilter", "blob:none")
        .unwrap();
    std::fs::remove_file(loose_path(&t, lost)).unwrap();
    let run = t.run(&["git", "--format", "json", "repo"]).expect(2);
    let err = run.stderr();
    assert!(err.contains("1 object named by a tree is missing"), "{err}");
    assert!(err.contains(&lost.to_string()), "{err}");
    let json = run.json();
    assert_eq!(json["summary"]["errors"], 1);
    assert_eq!(
        places(finding_for(&json, &key)),
        [(c2.to_string(), "k.env".to_string(), 1)]
    );
    run.assert_no_key(&key);
}

#[test]
fn a_corrupt_object_is_reported_and_the_scan_goes_on() {
    let mut t = TestRepo::new();
    let key = t.key();
    t.commit(&[("bad.txt", Some("will be damaged\n"))], "one");
    let c2 = t.commit(&[("k.env", Some(&format!("{key}\n")))], "two");
    let bad = t.repo.revparse_single("HEAD:bad.txt").unwrap().id();
    let path = loose_path(&t, bad);
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).unwrap();
    std::fs::write(&path, b"this is not zlib").unwrap();
    assert_corrupt_object_reported(&t, bad, &key, c2);
}

#[test]
fn a_shallow_clone_says_history_is_cut_off() {
    let mut t = TestRepo::new();
    let (old, new) = (t.key(), t.key());
    t.commit(&[("old.env", Some(&format!("{old}\n")))], "one");
    let c2 = t.commit(&[("new.env", Some(&format!("{new}\n")))], "two");
    std::fs::write(t.repo.path().join("shallow"), format!("{c2}\n")).unwrap();
    let run = t.run(&["git", "--format", "json", "repo"]);
    assert!(run.stderr().contains("shallow clone"), "{}", run.stderr());
    let json = run.expect(1).json();
    let f = finding_for(&json, &new);
    assert_eq!(f["provenance"]["first_commit"], c2.to_string());
}

#[test]
fn git_output_is_identical_across_thread_counts() {
    let mut t = TestRepo::new();
    for i in 0..40 {
        let key = t.key();
        t.commit(
            &[(&format!("d{}/f{i}.env", i % 5), Some(&format!("k={key}\n")))],
            &format!("c{i}"),
        );
    }
    let one = t
        .run(&["git", "-j", "1", "--format", "json", "repo"])
        .expect(1)
        .stdout();
    let two = t
        .run(&["git", "-j", "3", "--format", "json", "repo"])
        .expect(1)
        .stdout();
    assert_eq!(one, two);
}

/// Packs every object into one pack (with deltas, as `git gc` would) and deletes the loose
/// copies, so the scan reads the pack.
fn pack_everything(t: &TestRepo) {
    let odb = t.repo.odb().unwrap();
    let mut ids = Vec::new();
    odb.foreach(|id| {
        ids.push(*id);
        true
    })
    .unwrap();
    let mut pb = t.repo.packbuilder().unwrap();
    for &id in &ids {
        pb.insert_object(id, None).unwrap();
    }
    let objects = t.repo.path().join("objects");
    pb.write(&objects.join("pack"), 0o644).unwrap();
    let mut removed = 0;
    for e in std::fs::read_dir(&objects).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            removed += std::fs::read_dir(e.path()).unwrap().count();
            std::fs::remove_dir_all(e.path()).unwrap();
        }
    }
    // Else the scan after this would read the loose objects again, and a test comparing it
    // with the scan before would pass without ever reading a pack.
    assert_eq!(
        removed,
        ids.len(),
        "every object was loose, and is now only in the pack"
    );
}

#[test]
fn a_packed_repository_reports_exactly_what_its_loose_objects_did() {
    let mut t = TestRepo::new();
    let keys: Vec<String> = (0..4).map(|_| t.key()).collect();
    let mut text = String::new();
    for i in 0..30 {
        // A growing file: the pack stores most versions as deltas of each other.
        writeln!(text, "line {i} of a long enough file to be worth a delta").unwrap();
        if i == 10 {
            writeln!(text, "KEY={}", keys[0]).unwrap();
        }
        let message = if i == 20 {
            format!("commit {i}\n\nwith {}\n", keys[1])
        } else {
            format!("commit {i}")
        };
        t.commit(&[("grow.txt", Some(&text))], &message);
    }
    let head = t.head().unwrap();
    let sig = t.sig();
    let target = t.repo.find_object(head, None).unwrap();
    t.repo
        .tag("v1", &target, &sig, &format!("tagged {}\n", keys[2]), false)
        .unwrap();
    t.repo.blob(format!("{}\n", keys[3]).as_bytes()).unwrap();
    let loose = json_run(&t, &["--all-objects", "repo"], 1);
    assert_eq!(loose["summary"]["keys"], 4, "{loose:#}");
    pack_everything(&t);
    let packs = std::fs::read_dir(t.repo.path().join("objects/pack"))
        .unwrap()
        .count();
    assert_eq!(packs, 2, "one .pack and its .idx");
    let packed = json_run(&t, &["--all-objects", "repo"], 1);
    assert_eq!(loose, packed);
}

#[test]
fn range_locates_a_side_branch_key_at_its_commit_not_at_the_merge() {
    let mut t = TestRepo::new();
    let key = t.key();
    let base = t.commit(&[("a.txt", Some("a\n"))], "base");
    let side_text = format!("K={key}\n");
    let side = t.commit_to(
        Some("refs/heads/side"),
        &[base],
        &[("side.env", Some(&side_text))],
        "side",
    );
    let main = t.commit(&[("b.txt", Some("b\n"))], "main");
    // The merge's tree is main's plus side.env: it holds the key but does not introduce it.
    let merge = t.commit_to(
        Some("HEAD"),
        &[main, side],
        &[("side.env", Some(&side_text))],
        "merge side",
    );
    for args in [
        vec!["--range", &format!("{base}..{merge}"), "repo"],
        vec!["repo"],
    ] {
        let json = json_run(&t, &args, 1);
        assert_eq!(
            places(finding_for(&json, &key)),
            [(side.to_string(), "side.env".to_string(), 1)],
            "{args:?}"
        );
    }
}

#[test]
fn staged_compares_only_changed_directories_in_every_index_version() {
    for version in [2, 3, 4] {
        let mut t = TestRepo::new();
        let (moved, kept, added, deep) = (t.key(), t.key(), t.key(), t.key());
        let mut files: Vec<(String, String)> = (0..40)
            .map(|i| {
                (
                    format!("dir{:02}/sub/f{i}.txt", i % 8),
                    format!("plain {i}\n"),
                )
            })
            .collect();
        files.push(("old/secret.env".into(), format!("M={moved}\n")));
        files.push(("keep/k.env".into(), format!("K={kept}\n")));
        files.push(("was_file".into(), "x\n".into()));
        let changes: Vec<(&str, Option<&str>)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), Some(c.as_str())))
            .collect();
        t.commit(&changes, "base");
        t.stage(&[
            // The key moves from a deleted directory to a new file: not new.
            ("old/secret.env", None),
            ("new/place.env", Some(&format!("# moved\nM={moved}\n"))),
            // A modified file elsewhere gains a key: new.
            ("dir03/sub/f3.txt", Some(&format!("plain 3\nA={added}\n"))),
            // A file becomes a directory.
            ("was_file", None),
            ("was_file/inner.env", Some(&format!("{deep}\n"))),
        ]);
        let mut index = t.repo.index().unwrap();
        index.set_version(version).unwrap();
        index.write().unwrap();
        let json = json_run(&t, &["--staged", "repo"], 1);
        let mut got = places_staged(&json);
        got.sort();
        assert_eq!(
            got,
            ["dir03/sub/f3.txt", "was_file/inner.env"],
            "index version {version}"
        );
    }
}

/// The offset of `id` in a version-2 pack index (`.idx`): header, fan-out table, sorted ids,
/// CRCs, then 4-byte offsets (the packs made here are far below 2 GiB).
fn pack_offset(idx: &[u8], id: Oid) -> usize {
    let be32 = |at: usize| u32::from_be_bytes(idx[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(&idx[..8], b"\xfftOc\0\0\0\x02", "a version-2 index");
    let n = be32(8 + 255 * 4);
    let ids = 8 + 256 * 4;
    let pos = (0..n)
        .find(|&i| &idx[ids + i * 20..ids + i * 20 + 20] == id.as_bytes())
        .expect("id in the pack");
    be32(ids + n * 20 + n * 4 + pos * 4)
}

#[test]
fn a_corrupt_packed_object_is_reported_and_the_scan_goes_on() {
    let mut t = TestRepo::new();
    let key = t.key();
    // Random text no other blob resembles, so nothing is stored as a delta of it.
    let noise = t.env.rng.base62(4000);
    t.commit(&[("noise.txt", Some(&noise))], "one");
    let c2 = t.commit(&[("k.env", Some(&format!("{key}\n")))], "two");
    let bad = t.repo.revparse_single("HEAD:noise.txt").unwrap().id();
    pack_everything(&t);
    let dir = t.repo.path().join("objects/pack");
    let find = |ext: &str| {
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == ext))
            .unwrap()
    };
    let offset = pack_offset(&std::fs::read(find("idx")).unwrap(), bad);
    let pack = find("pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    // Past the object's header, inside its zlib stream.
    for b in &mut bytes[offset + 8..offset + 40] {
        *b ^= 0x5a;
    }
    let mut perms = std::fs::metadata(&pack).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&pack, perms).unwrap();
    std::fs::write(&pack, bytes).unwrap();
    assert_corrupt_object_reported(&t, bad, &key, c2);
}

#[test]
fn staged_reads_a_split_index() {
    use crate::util::git_ok;
    // `git update-index --split-index` keeps most entries in `sharedindex.<id>`; `.git/index`
    // then holds only what changed since (new entries, and replacements with empty names).
    let mut env = TestEnv::new();
    let (added, modified) = (env.live_key(), env.live_key());
    let root = env.root().to_path_buf();
    git_ok(&root, &["init", "-q"]);
    for i in 0..20 {
        env.write(&format!("src/f{i}.txt"), format!("plain {i}\n"));
    }
    env.write("config.env", "A=1\n");
    git_ok(&root, &["add", "-A"]);
    git_ok(&root, &["commit", "-q", "-m", "base"]);
    git_ok(&root, &["update-index", "--split-index"]);
    assert!(
        std::fs::read_dir(root.join(".git")).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("sharedindex.")),
        "the index is split"
    );
    // Clean: nothing staged.
    env.run(&["git", "--staged", "."]).expect(0);
    // A new file and a modified tracked file, each with a key.
    env.write("new.env", format!("K={added}\n"));
    env.write("config.env", format!("A=1\nB={modified}\n"));
    env.write("src/f3.txt", "changed, no key\n");
    git_ok(&root, &["add", "new.env", "config.env", "src/f3.txt"]);
    let run = env
        .run(&["git", "--staged", "--format", "json", "."])
        .expect(1);
    let json = run.json();
    let mut got = places_staged(&json);
    got.sort();
    assert_eq!(got, ["config.env", "new.env"], "{json:#}");
    // Committed, the same split index holds no new key.
    git_ok(&root, &["commit", "-q", "-m", "more"]);
    env.run(&["git", "--staged", "."]).expect(0);
    // A deletion in the split index is no key either.
    git_ok(&root, &["rm", "-q", "--cached", "new.env"]);
    env.run(&["git", "--staged", "."]).expect(0);
}

#[test]
fn submodule_commits_not_audited_are_named_in_a_warning() {
    use crate::util::git_ok;
    let mut env = TestEnv::new();
    let key = env.live_key();
    let root = env.root().to_path_buf();
    git_ok(&root, &["init", "-q"]);
    env.write("README", "hello\n");
    git_ok(&root, &["add", "-A"]);
    git_ok(&root, &["commit", "-q", "-m", "base"]);
    let base = git_ok(&root, &["rev-parse", "HEAD"]).trim().to_string();
    // Submodule entries (gitlinks) name commits of other repositories.
    for path in ["vendor/lib", "third_party/sdk"] {
        let info = format!("160000,{},{path}", "ab".repeat(20));
        git_ok(&root, &["update-index", "--add", "--cacheinfo", &info]);
    }
    env.write("k.env", format!("K={key}\n"));
    git_ok(&root, &["add", "k.env"]);
    git_ok(&root, &["commit", "-q", "-m", "add submodules"]);
    let range = format!("{base}..HEAD");
    for args in [
        vec!["git", "--format", "json", "."],
        vec!["git", "--range", range.as_str(), "--format", "json", "."],
    ] {
        let run = env.run(&args).expect(1);
        let err = run.stderr();
        let warning: Vec<&str> = err.lines().filter(|l| l.contains("submodule")).collect();
        assert_eq!(warning.len(), 1, "{args:?}: {err}");
        for want in [
            "third_party/sdk",
            "vendor/lib",
            "nmleaks git third_party/sdk",
            "not audited",
        ] {
            assert!(warning[0].contains(want), "{args:?}: {want}: {err}");
        }
        let json = run.json();
        assert_eq!(json["summary"]["warnings"], 1, "{args:?}: {json:#}");
        assert_eq!(findings(&json).len(), 1, "the key is still found");
    }
    // A range that changes no submodule says nothing about them.
    let run = env.run(&["git", "--range", "HEAD..HEAD", "."]).expect(0);
    assert!(!run.stderr().contains("submodule"), "{}", run.stderr());
}

#[test]
fn range_sides_follow_each_merges_parents_in_their_order() {
    // `M^1`, `M^2` and `M~1` name parents in the order the merge lists them. Two merges, one
    // listing the parents in id order and one not, so that sorting them would be caught.
    for swap in [false, true] {
        let mut t = TestRepo::new();
        let (on_main, on_side) = (t.key(), t.key());
        let base = t.commit(&[("a.txt", Some("a\n"))], "base");
        let side = t.commit_to(
            Some("refs/heads/side"),
            &[base],
            &[("side.env", Some(&format!("{on_side}\n")))],
            "side",
        );
        let main = t.commit(&[("main.env", Some(&format!("{on_main}\n")))], "main");
        let parents = if swap { [side, main] } else { [main, side] };
        let merge = t.commit_to(
            None,
            &parents,
            &[
                ("main.env", Some(&format!("{on_main}\n"))),
                ("side.env", Some(&format!("{on_side}\n"))),
            ],
            "merge",
        );
        // What the first parent lacks is what the second brought, and the other way round.
        let (first_brought, second_brought) = if swap {
            (&on_side, &on_main)
        } else {
            (&on_main, &on_side)
        };
        for (spec, brought) in [
            (format!("{merge}^1..{merge}"), second_brought),
            (format!("{merge}~1..{merge}"), second_brought),
            (format!("{merge}^2..{merge}"), first_brought),
        ] {
            let json = json_run(&t, &["--range", &spec, "repo"], 1);
            assert_eq!(findings(&json).len(), 1, "{spec}: {json:#}");
            finding_for(&json, brought);
        }
    }
}

/// Times in JSON were epoch integers only; RFC 3339 strings sit beside them, as `date -u`
/// prints the same instant.
#[test]
fn json_times_carry_rfc3339_beside_the_epoch() {
    let mut env = TestEnv::new();
    git_ok(env.root(), &["init", "-q"]);
    let key = env.live_key();
    env.write("a.env", format!("K={key}\n"));
    git_ok(env.root(), &["add", "."]);
    git_ok(env.root(), &["commit", "-q", "-m", "k"]);
    let ct = git_ok(env.root(), &["log", "-1", "--format=%ct"])
        .trim()
        .to_string();
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{ct}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let want = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let json = env.run(&["git", "--format", "json"]).expect(1).json();
    let f = &json["findings"][0];
    assert_eq!(f["locations"][0]["git"]["time"].to_string(), ct);
    assert_eq!(f["locations"][0]["git"]["time_rfc3339"], want.as_str());
    assert_eq!(f["provenance"]["first_commit_time_rfc3339"], want.as_str());
    // The staged index has no time: no string for one.
    let other = env.live_key();
    env.write("b.env", format!("K={other}\n"));
    git_ok(env.root(), &["add", "b.env"]);
    let json = env
        .run(&["git", "--staged", "--format", "json"])
        .expect(1)
        .json();
    assert!(
        json["findings"][0]["locations"][0]["git"]
            .get("time_rfc3339")
            .is_none()
    );
}

/// The audit keeps the trees it reads from packs and maps keys from memory; loose trees, and
/// trees the kept table lacks, are read by id. Both roads must give the same report: the same
/// history audited loose, packed, and half packed half loose.
#[test]
fn audit_of_packed_trees_reports_what_the_loose_audit_reports() {
    let mut t = TestRepo::new();
    let (k1, k2, k3) = (t.key(), t.key(), t.key());
    let deep = format!("NOMOTIC_API_KEY={k1}\n");
    let other = format!("token: {k2}\n");
    let base = t.commit(
        &[
            ("README", Some("hello\n")),
            ("src/app/config/prod.env", Some(deep.as_str())),
        ],
        "config",
    );
    t.commit(&[("docs/notes.txt", Some("notes\n"))], "docs");
    // The same blob at a second path, then gone from the first, then back.
    t.commit(&[("deploy/k8s/secret.env", Some(deep.as_str()))], "copy");
    t.commit(&[("src/app/config/prod.env", None)], "remove");
    t.commit(
        &[("src/app/config/prod.env", Some(deep.as_str()))],
        "restore",
    );
    let side = t.commit_to(
        Some("refs/heads/side"),
        &[base],
        &[("side/deeper/still/token.yml", Some(other.as_str()))],
        "side",
    );
    let head = t.head().unwrap();
    t.commit_to(Some("HEAD"), &[head, side], &[], "merge side");
    let audit = |t: &TestRepo| {
        let run = t.run(&["git", "repo"]);
        assert_eq!(run.code(), 1, "{}", run.stderr());
        run.stdout()
    };
    let loose = audit(&t);
    for path in [
        "src/app/config/prod.env",
        "deploy/k8s/secret.env",
        "side/deeper/still/token.yml",
    ] {
        assert!(loose.contains(path), "{path} missing from:\n{loose}");
    }
    let repo_dir = t.env.path("repo");
    git_ok(&repo_dir, &["gc", "-q"]);
    let objects = git_ok(&repo_dir, &["count-objects", "-v"]);
    assert!(objects.contains("count: 0\n"), "{objects}");
    assert_eq!(audit(&t), loose, "packed audit differs from the loose one");
    // New loose commits on top of the pack: their trees are read by id, the rest kept.
    let third = format!("K={k3}\n");
    t.commit(
        &[
            ("src/app/config/dev.env", Some(third.as_str())),
            ("deploy/k8s/secret.env", None),
        ],
        "more",
    );
    let mixed = audit(&t);
    assert!(mixed.contains("src/app/config/dev.env"), "{mixed}");
    git_ok(&repo_dir, &["repack", "-q", "-a", "-d"]);
    assert_eq!(
        audit(&t),
        mixed,
        "repacked audit differs from the half-loose one"
    );
}
