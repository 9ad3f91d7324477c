//! Snapshots (insta) of each report format over one fixed tree: they pin the shapes users
//! and tools parse. Keys come from a fixed seed, so fingerprints and redacted forms are
//! stable; the temporary root is filtered out.

use crate::util::TestEnv;

/// A fixed tree: a key in two places, a development key, a binary file, an inline allow.
fn tree() -> TestEnv {
    let mut env = TestEnv::seeded(42);
    let live = env.live_key();
    let other = env.live_key();
    let dev = env.rng.test_key();
    env.write(".env", format!("NOMOTIC_API_KEY={live}\n"));
    env.write(
        "src/client.py",
        format!("import os\nKEY = \"{live}\"\nDOCS = \"nm_live_your_key_here\"\n"),
    );
    env.write("scripts/dev.sh", format!("export NOMOTIC_DEV_KEY={dev}\n"));
    let mut bin = b"\x00\x01BIN:".to_vec();
    bin.extend_from_slice(other.as_bytes());
    env.write("assets/blob.bin", bin);
    env.write("docs/example.md", format!("`{other}` # nmleaks:allow\n"));
    env
}

fn normalise(env: &TestEnv, text: &str) -> String {
    let root = std::fs::canonicalize(env.root()).unwrap();
    text.replace(&format!("file://{}/", root.display()), "file://[ROOT]/")
        .replace(env!("CARGO_PKG_VERSION"), "[VERSION]")
}

#[test]
fn human_report_shape() {
    let env = tree();
    let run = env.run(&["scan", "--color", "never"]).expect(1);
    insta::assert_snapshot!("human", normalise(&env, &run.stdout()));
}

#[test]
fn json_report_shape() {
    let env = tree();
    let run = env.run(&["scan", "--format", "json"]).expect(1);
    insta::assert_snapshot!("json", normalise(&env, &run.stdout()));
}

#[test]
fn sarif_report_shape() {
    let env = tree();
    let run = env.run(&["scan", "--format", "sarif"]).expect(1);
    insta::assert_snapshot!("sarif", normalise(&env, &run.stdout()));
}
