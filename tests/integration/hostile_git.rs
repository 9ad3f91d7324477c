//! Git repositories in odd states: each gets one clear sentence or a full scan, never a crash.
//! (Corrupt, truncated and missing objects, shallow and empty repositories are in git.rs.)

use std::path::{Path, PathBuf};

use crate::util::{TestEnv, chmod, git, git_ok};

/// A repository whose one commit adds a key in `app.env`.
fn repo_with_a_committed_key() -> (TestEnv, String) {
    let mut env = TestEnv::new();
    let key = env.live_key();
    let root = env.root().to_path_buf();
    git_ok(&root, &["init", "-q"]);
    env.write("app.env", format!("K={key}\n"));
    git_ok(&root, &["add", "-A"]);
    git_ok(&root, &["commit", "-q", "-m", "key"]);
    (env, key)
}

#[test]
fn a_directory_that_is_not_a_repository_is_one_sentence_and_exit_2() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("plain")).unwrap();
    let run = env.run(&["git", "plain"]).expect(2);
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    assert!(run.stderr().contains("plain"), "{}", run.stderr());
    assert!(run.stdout().is_empty());
    // A `.git` directory that holds no repository.
    env.write("broken/.git/HEAD", "not a ref\n");
    let run = env.run(&["git", "broken"]).expect(2);
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    assert!(run.stderr().contains("broken"), "{}", run.stderr());
}

#[test]
fn a_head_that_names_no_branch_still_scans_every_ref() {
    let (env, key) = repo_with_a_committed_key();
    let root = env.root().to_path_buf();
    git_ok(&root, &["branch", "-m", "feature"]);
    // HEAD now points at a branch that does not exist (an unborn branch beside real ones).
    git_ok(&root, &["symbolic-ref", "HEAD", "refs/heads/nothing-here"]);
    let json = env.run(&["git", "--format", "json"]).expect(1).json();
    let f = &json["findings"][0];
    assert_eq!(f["fingerprint"], nmleaks::finding::Fingerprint::of(&key).0);
    assert_eq!(f["location_count"], 1);
    assert_eq!(f["provenance"]["at_head"], false, "{json:#}");
    // --staged before the branch's first commit compares against nothing: the index adds it.
    env.run(&["git", "--staged"]).expect(1);
}

#[test]
fn a_missing_head_file_is_one_sentence_and_exit_2() {
    let (env, key) = repo_with_a_committed_key();
    std::fs::remove_file(env.path(".git/HEAD")).unwrap();
    let run = env.run(&["git", "."]).expect(2);
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
    assert!(!run.stderr().contains(&key[8..]));
}

/// The deadline a damaged repository gets before a run counts as hung.
const HANG: u64 = 60;

/// The path of the loose object `id` in the repository at `root`.
fn loose(root: &Path, id: &str) -> PathBuf {
    root.join(".git/objects").join(&id[..2]).join(&id[2..])
}

/// Cuts the loose object `id` to `len` bytes (git writes them read-only).
fn truncate_loose(root: &Path, id: &str, len: u64) {
    let path = loose(root, id);
    chmod(&path, 0o644);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// `c0` (a README), `c1` (`victim.txt`, `dir/inner.txt`, `old.env` with `keys[0]`), `c2`
/// (`k.env` with `keys[1]`) on `main`, all loose.
struct Damaged {
    env: TestEnv,
    keys: Vec<String>,
    c0: String,
    c2: String,
}

impl Damaged {
    fn new() -> Damaged {
        let mut env = TestEnv::new();
        let keys = vec![env.live_key(), env.live_key(), env.live_key()];
        let root = env.root().to_path_buf();
        git_ok(&root, &["init", "-q"]);
        env.write("README", "hello\n");
        git_ok(&root, &["add", "-A"]);
        git_ok(&root, &["commit", "-q", "-m", "c0"]);
        env.write("victim.txt", "a file that will be damaged\n");
        env.write(
            "dir/inner.txt",
            "a file in a directory that will be damaged\n",
        );
        env.write("old.env", format!("OLD={}\n", keys[0]));
        git_ok(&root, &["add", "-A"]);
        git_ok(&root, &["commit", "-q", "-m", "c1"]);
        env.write("k.env", format!("K={}\n", keys[1]));
        git_ok(&root, &["add", "-A"]);
        git_ok(&root, &["commit", "-q", "-m", "c2"]);
        let rev = |r: &str| git_ok(&root, &["rev-parse", r]).trim().to_string();
        let (c0, c2) = (rev("HEAD~2"), rev("HEAD"));
        Damaged { env, keys, c0, c2 }
    }

    fn root(&self) -> PathBuf {
        self.env.root().to_path_buf()
    }

    fn id(&self, rev: &str) -> String {
        git_ok(&self.root(), &["rev-parse", rev]).trim().to_string()
    }

    fn size(&self, id: &str) -> u64 {
        std::fs::metadata(loose(&self.root(), id)).unwrap().len()
    }
}

/// Whether the JSON report holds a finding for `key`.
fn holds(json: &serde_json::Value, key: &str) -> bool {
    let fp = nmleaks::finding::Fingerprint::of(key).0;
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["fingerprint"] == fp.as_str())
}

#[test]
fn truncated_loose_object_does_not_hang() {
    // A blob, a tree and a commit, each cut to 2 bytes, 20 bytes and one byte short: every
    // git mode reports the object and still reports the keys it can reach.
    for (what, rev) in [
        ("blob", "HEAD~1:victim.txt"),
        ("tree", "HEAD~1:dir"),
        ("commit", "HEAD~1"),
    ] {
        // `None`: one byte short of the object's own size, measured on the repository that is
        // cut (a commit holds the time it was made, so its compressed size varies by a byte
        // from one repository to the next).
        for cut in [Some(2), Some(20), None] {
            let d = Damaged::new();
            let bad = d.id(rev);
            let real = d.size(&bad);
            let len = cut.unwrap_or(real - 1);
            truncate_loose(&d.root(), &bad, len);
            let case = format!("{what} {bad} cut to {len} of {real} bytes");
            let range = format!("{}..HEAD", d.c0);
            for args in [
                vec!["git", "--format", "json", "."],
                vec!["git", "--all-objects", "--format", "json", "."],
                vec!["git", "--range", &range, "--format", "json", "."],
            ] {
                let run = d.env.run_or_hang(&args, HANG).expect(2);
                let err = run.stderr();
                assert!(
                    err.contains(&format!("object {bad} cannot be read")),
                    "{case} {args:?}: {err}"
                );
                assert!(
                    holds(&run.json(), &d.keys[1]),
                    "{case} {args:?}: the key in k.env is lost\n{err}"
                );
                run.assert_no_key(&d.keys[1]);
            }
            // `--staged` reads HEAD's version of a changed path: stage a change that makes it
            // read the damaged blob or tree.
            if what != "commit" {
                let staged = if what == "blob" {
                    "victim.txt"
                } else {
                    "dir/inner.txt"
                };
                d.env.write(staged, format!("N={}\n", d.keys[2]));
                git_ok(&d.root(), &["add", staged]);
                let run = d.env.run_or_hang(&["git", "--staged", "."], HANG).expect(2);
                assert!(
                    run.stderr().contains(&bad),
                    "{case} --staged: {}",
                    run.stderr()
                );
            }
        }
    }
    // `--staged` reads HEAD's commit first.
    let d = Damaged::new();
    let head = d.c2.clone();
    truncate_loose(&d.root(), &head, 20);
    let run = d.env.run_or_hang(&["git", "--staged", "."], HANG).expect(2);
    assert!(run.stderr().contains(&head), "{}", run.stderr());
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
}

/// Writes a raw commit object (as `git hash-object --literally` does) and returns its id.
fn raw_commit(root: &Path, text: &str) -> String {
    let file = root.join("raw-commit.txt");
    std::fs::write(&file, text).unwrap();
    let id = git_ok(
        root,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            "--literally",
            "raw-commit.txt",
        ],
    );
    std::fs::remove_file(file).unwrap();
    id.trim().to_string()
}

fn commit_text(tree: &str, parents: &[String], message: &str) -> String {
    use std::fmt::Write as _;
    let mut t = format!("tree {tree}\n");
    for p in parents {
        writeln!(t, "parent {p}").unwrap();
    }
    t.push_str("author A <a@example.test> 1700000000 +0000\n");
    write!(
        t,
        "committer A <a@example.test> 1700000000 +0000\n\n{message}\n"
    )
    .unwrap();
    t
}

#[test]
fn a_branch_whose_tip_names_a_missing_parent_hides_no_key() {
    let (env, key) = repo_with_a_committed_key();
    let root = env.root().to_path_buf();
    let main = git_ok(&root, &["rev-parse", "HEAD"]).trim().to_string();
    let tree = git_ok(&root, &["rev-parse", "HEAD^{tree}"])
        .trim()
        .to_string();
    let missing = "1".repeat(40);
    let broken = raw_commit(
        &root,
        &commit_text(&tree, std::slice::from_ref(&missing), "broken"),
    );
    git_ok(&root, &["update-ref", "refs/heads/broken", &broken]);
    for args in [
        vec!["git", "--format", "json", "."],
        vec!["git", "--all-objects", "--format", "json", "."],
    ] {
        let run = env.run_or_hang(&args, HANG).expect(2);
        let err = run.stderr();
        assert!(
            err.contains(&format!(
                "commit {broken} (reached from refs/heads/broken): its parent {missing} is missing"
            )),
            "{args:?}: {err}"
        );
        let json = run.json();
        let f = &json["findings"][0];
        assert_eq!(
            f["fingerprint"],
            nmleaks::finding::Fingerprint::of(&key).0,
            "{json:#}"
        );
        let commits: Vec<&str> = f["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["git"]["commit"].as_str().unwrap())
            .collect();
        assert!(commits.contains(&main.as_str()), "{args:?}: {json:#}");
        assert_eq!(f["provenance"]["at_head"], true, "{json:#}");
        assert_eq!(f["provenance"]["history_damaged"], true, "{json:#}");
    }
}

#[test]
fn a_commit_with_100000_parents_hides_no_key() {
    let (env, key) = repo_with_a_committed_key();
    let root = env.root().to_path_buf();
    let main = git_ok(&root, &["rev-parse", "HEAD"]).trim().to_string();
    let tree = git_ok(&root, &["rev-parse", "HEAD^{tree}"])
        .trim()
        .to_string();
    // 100,000 parents no repository holds: one line says so, the key at main's HEAD is found.
    let fake: Vec<String> = (0..100_000u32)
        .map(|i| format!("{:040x}", u128::from(i) + 1))
        .collect();
    let many = raw_commit(&root, &commit_text(&tree, &fake, "many"));
    // Written by hand: `git update-ref` takes seconds to look for 100,000 missing parents.
    std::fs::write(root.join(".git/refs/heads/many"), format!("{many}\n")).unwrap();
    let run = env
        .run_or_hang(&["git", "--format", "json", "."], HANG)
        .expect(2);
    let err = run.stderr();
    assert!(err.contains("100000 of its parents are missing"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let json = run.json();
    assert_eq!(
        json["findings"][0]["fingerprint"],
        nmleaks::finding::Fingerprint::of(&key).0
    );
    // 100,000 lines naming the one real parent: nothing is damaged.
    let same = vec![main.clone(); 100_000];
    let fan = raw_commit(&root, &commit_text(&tree, &same, "fan"));
    std::fs::write(root.join(".git/refs/heads/many"), format!("{fan}\n")).unwrap();
    let json = env
        .run_or_hang(&["git", "--format", "json", "."], HANG)
        .expect(1)
        .json();
    let f = &json["findings"][0];
    assert_eq!(f["provenance"]["first_commit"], main.as_str(), "{json:#}");
    assert_eq!(f["provenance"]["history_damaged"], false, "{json:#}");
}

#[test]
fn a_key_no_walk_can_place_is_reported_with_location_unknown() {
    // c1 adds the key, c2 deletes it, c3 changes something else; c2 is lost. No walk from
    // main reaches c1, so where the key is cannot be said, but it is still reported.
    let mut env = TestEnv::new();
    let key = env.live_key();
    let root = env.root().to_path_buf();
    git_ok(&root, &["init", "-q"]);
    env.write("k.env", format!("K={key}\n"));
    git_ok(&root, &["add", "-A"]);
    git_ok(&root, &["commit", "-q", "-m", "c1"]);
    let c1 = git_ok(&root, &["rev-parse", "HEAD"]).trim().to_string();
    let blob = git_ok(&root, &["rev-parse", "HEAD:k.env"])
        .trim()
        .to_string();
    git_ok(&root, &["rm", "-q", "k.env"]);
    git_ok(&root, &["commit", "-q", "-m", "c2"]);
    let c2 = git_ok(&root, &["rev-parse", "HEAD"]).trim().to_string();
    env.write("other.txt", "x\n");
    git_ok(&root, &["add", "-A"]);
    git_ok(&root, &["commit", "-q", "-m", "c3"]);
    std::fs::remove_file(loose(&root, &c2)).unwrap();

    let run = env
        .run_or_hang(&["git", "--format", "json", "."], HANG)
        .expect(2);
    assert!(
        run.stderr()
            .contains(&format!("its parent {c2} is missing")),
        "{}",
        run.stderr()
    );
    let json = run.json();
    let f = &json["findings"][0];
    assert_eq!(
        f["fingerprint"],
        nmleaks::finding::Fingerprint::of(&key).0,
        "{json:#}"
    );
    let loc = &f["locations"][0];
    assert_eq!(loc["git"]["object"], "location-unknown", "{json:#}");
    assert_eq!(loc["git"]["commit"], blob.as_str());
    assert_eq!(f["provenance"]["history_damaged"], true);

    let run = env.run_or_hang(&["git", "."], HANG).expect(2);
    run.assert_no_key(&key);
    let out = run.stdout();
    assert!(
        out.contains("location unknown: history is damaged"),
        "{out}"
    );
    assert!(out.contains("revoke the key"), "{out}");

    let run = env
        .run_or_hang(&["git", "--format", "sarif", "."], HANG)
        .expect(2);
    let sarif: serde_json::Value = serde_json::from_slice(&run.0.stdout).unwrap();
    let loc = &sarif["runs"][0]["results"][0]["locations"][0];
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uri"],
        format!("{blob}.location-unknown"),
        "{sarif:#}"
    );
    assert!(
        loc["message"]["text"]
            .as_str()
            .unwrap()
            .contains("location unknown"),
        "{sarif:#}"
    );
    let file = root.join("damaged.sarif");
    std::fs::write(&file, &run.0.stdout).unwrap();
    let problems = crate::util::sarif_problems(&file);
    assert!(problems.is_empty(), "{problems:#?}");

    // Every commit is a start with --all-objects: c1 is found.
    let json = env
        .run_or_hang(&["git", "--all-objects", "--format", "json", "."], HANG)
        .expect(2)
        .json();
    let f = &json["findings"][0];
    assert_eq!(f["locations"][0]["git"]["commit"], c1.as_str(), "{json:#}");
    assert_eq!(f["provenance"]["first_commit"], c1.as_str(), "{json:#}");
}

/// The packs in the repository at `root`, by file name.
fn pack_files(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join(".git/objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_damaged_pack_index_is_one_damaged_pack_not_the_end_of_the_audit() {
    for damage in ["truncated", "corrupt"] {
        // Pack A holds c1 (keys[0]), pack B holds c2 (keys[1]), c3 (keys[2]) is loose.
        let mut env = TestEnv::new();
        let keys = [env.live_key(), env.live_key(), env.live_key()];
        let root = env.root().to_path_buf();
        git_ok(&root, &["init", "-q"]);
        env.write("a.env", format!("A={}\n", keys[0]));
        git_ok(&root, &["add", "-A"]);
        git_ok(&root, &["commit", "-q", "-m", "c1"]);
        git_ok(&root, &["repack", "-q", "-d"]);
        let pack_a = pack_files(&root);
        assert_eq!(pack_a.len(), 1);
        env.write("b.env", format!("B={}\n", keys[1]));
        git_ok(&root, &["add", "-A"]);
        git_ok(&root, &["commit", "-q", "-m", "c2"]);
        git_ok(&root, &["repack", "-q", "-d"]);
        assert_eq!(pack_files(&root).len(), 2);
        env.write("c.env", format!("C={}\n", keys[2]));
        git_ok(&root, &["add", "-A"]);
        git_ok(&root, &["commit", "-q", "-m", "c3"]);
        let idx = pack_a[0].with_extension("idx");
        chmod(&idx, 0o644);
        let mut bytes = std::fs::read(&idx).unwrap();
        if damage == "truncated" {
            bytes.truncate(bytes.len() / 2);
        } else {
            // Inside the table of object ids.
            for b in &mut bytes[8 + 256 * 4..8 + 256 * 4 + 10] {
                *b ^= 0x5a;
            }
        }
        std::fs::write(&idx, bytes).unwrap();
        let run = env
            .run_or_hang(&["git", "--format", "json", "."], HANG)
            .expect(2);
        let err = run.stderr();
        assert!(err.contains("the pack index is damaged"), "{damage}: {err}");
        let json = run.json();
        assert!(
            holds(&json, &keys[1]),
            "{damage}: the key in the healthy pack is lost\n{err}"
        );
        assert!(
            holds(&json, &keys[2]),
            "{damage}: the loose key is lost\n{err}"
        );
    }
}

#[test]
fn a_pack_without_its_index_is_an_error_not_an_all_clear() {
    let env = TestEnv::new();
    let root = env.root().to_path_buf();
    git_ok(&root, &["init", "-q"]);
    env.write("README", "no key here\n");
    git_ok(&root, &["add", "-A"]);
    git_ok(&root, &["commit", "-q", "-m", "c1"]);
    git_ok(&root, &["gc", "-q"]);
    let head = git_ok(&root, &["rev-parse", "HEAD"]).trim().to_string();
    let pack = &pack_files(&root)[0];
    std::fs::remove_file(pack.with_extension("idx")).unwrap();
    assert!(
        !git(&root, &["fsck"]).status.success(),
        "git says the repository is broken"
    );
    let run = env.run_or_hang(&["git", "."], HANG).expect(2);
    let err = run.stderr();
    assert!(err.contains("the pack has no index"), "{err}");
    assert!(err.contains(&format!("target {head} is missing")), "{err}");
    assert!(
        run.stdout().contains("in what could be read"),
        "not an all-clear: {}",
        run.stdout()
    );
}

/// Runs `nmleaks ARGS` in `dir` through Python's `resource` module and returns the exit code
/// and the peak resident set of the run, in bytes (Linux reports `ru_maxrss` in KiB).
fn peak_rss(env: &TestEnv, args: &[&str]) -> (i32, u64) {
    let script = "import resource, subprocess, sys\n\
                  r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n\
                  print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(crate::util::binary())
        .args(args)
        .current_dir(env.root())
        .env("NMLEAKS_CACHE_DIR", env.cache_dir())
        .output()
        .expect("python3 runs (it measures the peak memory)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let code = words
        .next()
        .and_then(|w| w.parse().ok())
        .expect("an exit code");
    let kib: u64 = words
        .next()
        .and_then(|w| w.parse().ok())
        .expect("a peak RSS");
    (code, kib * 1024)
}

/// Regression: every git blob was read whole on each thread at once, so two 2 GB blobs in a
/// 12 MB `.git` peaked at 4.1 GB. Objects over 64 MiB are now read one at a time, after the
/// others: the peak holds one of them, not one per thread.
#[test]
fn large_blobs_are_read_one_at_a_time() {
    const SIZE: usize = 200 << 20;
    let _serial = crate::util::heavy();
    let mut env = TestEnv::new();
    let (a, b) = (env.live_key(), env.live_key());
    let root = env.root().to_path_buf();
    git_ok(&root, &["init", "-q"]);
    for (name, key) in [("one.img", &a), ("two.img", &b)] {
        // Zeros compress to almost nothing: the repository stays small, the blobs do not.
        let mut data = vec![0u8; SIZE];
        data[SIZE - 100..SIZE - 100 + key.len()].copy_from_slice(key.as_bytes());
        env.write(name, &data);
    }
    git_ok(&root, &["add", "-A"]);
    git_ok(&root, &["commit", "-q", "-m", "images"]);
    for f in ["one.img", "two.img"] {
        std::fs::remove_file(env.path(f)).unwrap();
    }
    // Loose, then packed (where the pack traversal would decode both on two threads at once).
    for packed in [false, true] {
        if packed {
            // No deltas: each blob is whole in the pack, as two unrelated large files are.
            git_ok(&root, &["repack", "-adfq", "--window=0"]);
        }
        let (code, peak) = peak_rss(&env, &["git", "--format", "json", "-j", "2"]);
        assert_eq!(code, 1, "both keys are found (packed: {packed})");
        let json = env.run(&["git", "--format", "json"]).expect(1).json();
        assert_eq!(json["summary"]["keys"], 2, "{json}");
        // One 200 MiB blob and the scan's own buffers; both at once would be over 400 MiB.
        assert!(
            peak < 330 << 20,
            "peak RSS {} MiB for two {} MiB blobs (packed: {packed})",
            peak >> 20,
            SIZE >> 20
        );
    }
}

/// Regression: a hit-dense blob's hits were all held from the scan of every object until the
/// commits were walked. They are compacted per blob to what the report lists, with exact
/// counts, and keys beyond `--max-keys` in one blob are still counted.
#[test]
fn a_hit_dense_blob_in_history_is_held_bounded_with_exact_counts() {
    use std::fmt::Write as _;
    let mut env = TestEnv::new();
    let key = env.live_key();
    let others: Vec<String> = (0..30).map(|_| env.live_key()).collect();
    let root = env.root().to_path_buf();
    git_ok(&root, &["init", "-q"]);
    let mut text = String::new();
    for i in 0..5_000 {
        let _ = writeln!(text, "{i} {key}");
    }
    env.write("app.log", &text);
    env.write("keys.txt", others.join("\n"));
    git_ok(&root, &["add", "-A"]);
    git_ok(&root, &["commit", "-q", "-m", "logs"]);
    let run = env
        .run(&[
            "git",
            "--max-locations",
            "10",
            "--max-keys",
            "11",
            "--format",
            "json",
        ])
        .expect(2);
    let json = run.json();
    assert_eq!(json["summary"]["keys"], 11, "{json}");
    assert_eq!(json["summary"]["keys_unlisted"], 20, "{json}");
    assert_eq!(json["summary"]["locations_unlisted"], 20, "{json}");
    let dense = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["location_count"] == 5_000)
        .unwrap_or_else(|| panic!("the dense key is listed with all its places counted: {json}"));
    assert_eq!(dense["locations"].as_array().unwrap().len(), 10);
    assert_eq!(dense["locations"][0]["line"], 1);
}
