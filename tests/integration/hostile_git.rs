//! Git repositories in odd states: each gets one clear sentence or a full scan, never a crash.
//! (Corrupt, truncated and missing objects, shallow and empty repositories are in git.rs.)

use crate::util::{TestEnv, git_ok};

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
