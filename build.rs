//! Build facts for `nmleaks --version`: the git commit the binary was built from (when the
//! source is a git checkout) and a digest of the source itself.
//!
//! The digest is what the GitHub Action compares before it trusts a cached binary: an action
//! runs from a downloaded copy of its repository that holds no `.git`, so the commit alone
//! cannot say which source a cached build came from. `scripts/action.sh source-id` computes the
//! same digest in the shell: SHA-256 over the lines `sha256sum` prints (`<hex>  <path>`) for
//! every file of [`SOURCES`], sorted by path as bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What a build is made of: files and directories, relative to the package root. Keep in
/// step with `source_files` in `scripts/action.sh`.
const SOURCES: &[&str] = &["Cargo.lock", "Cargo.toml", "build.rs", "rules", "src"];

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut files = Vec::new();
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
        collect(&root, Path::new(s), &mut files);
    }
    files.sort();
    let mut listing = String::new();
    for rel in &files {
        let data = std::fs::read(root.join(rel)).expect("a source file is readable");
        let _ = writeln!(listing, "{}  {rel}", hex(&Sha256::digest(&data)));
    }
    let digest = hex(&Sha256::digest(listing.as_bytes()));
    println!("cargo:rustc-env=NMLEAKS_SOURCE_ID={}", &digest[..16]);
    println!("cargo:rustc-env=NMLEAKS_COMMIT={}", commit(&root));
}

/// Every file under `rel` (or `rel` itself), as `/`-separated paths.
fn collect(root: &Path, rel: &Path, out: &mut Vec<String>) {
    let path = root.join(rel);
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(&path) else {
            return;
        };
        for e in entries.flatten() {
            collect(root, &rel.join(e.file_name()), out);
        }
    } else if path.is_file() {
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        out.push(parts.join("/"));
    }
}

/// The commit of the checkout, from `git rev-parse`, or `unknown` outside a git checkout.
/// `NMLEAKS_BUILD_COMMIT` overrides it (a release build from a source archive).
fn commit(root: &Path) -> String {
    println!("cargo:rerun-if-env-changed=NMLEAKS_BUILD_COMMIT");
    if let Some(c) = std::env::var("NMLEAKS_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
    {
        return c;
    }
    let git = root.join(".git");
    if !git.exists() {
        return "unknown".to_string();
    }
    // A new commit moves HEAD or the branch it names.
    for f in ["HEAD", "packed-refs"] {
        println!("cargo:rerun-if-changed=.git/{f}");
    }
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
        && let Some(r) = head.trim().strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{r}");
    }
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
