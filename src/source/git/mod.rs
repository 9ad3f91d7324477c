//! Git repositories as sources: opening one as people have it, and what the three modes share.
//!
//! - [`history`]: `nmleaks git [--all-objects]` (every object) and `--range A..B` (what a
//!   range of commits introduces). Blobs are scanned first, each once; only blobs that hold a
//!   key are mapped back to commits and paths.
//! - [`staged`]: `nmleaks git --staged`, the index against HEAD, for pre-commit hooks.
//! - [`objects`]: bulk reading of every object in the object database, in parallel, and the
//!   parsers of raw trees, commits and tags.
//! - [`store`]: reading one object by id, every read bounded (a damaged loose object or pack
//!   index is reported, never a hang or the end of the audit).
//! - `graph`: walking commits around damage, topological order, what a range holds.
//! - [`push`]: `--pre-receive`, what a push adds, read from git's quarantine.
//! - [`remote`]: `nmleaks git URL`, a mirror of a remote repository made with the system git.
//! - [`index`]: reading git's index file (split indexes too) and its cache tree, for `--staged`.
//!
//! This module owns opening a repository (a work tree, a bare repository, a linked worktree, a
//! subdirectory of any of them, or what `GIT_DIR` names in a hook), the typed errors callers
//! branch on, and building a [`GitOrigin`] for a commit. git2 (without default features: local
//! repositories only, no network, no OpenSSL) reads refs, config and the repository layout;
//! it never reads an object, because libgit2 hangs on a truncated loose object and fails every
//! read once one pack index is damaged.

pub(crate) mod graph;
pub mod history;
pub mod index;
pub mod objects;
pub mod push;
pub mod range;
pub mod remote;
pub mod staged;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use git2::{Oid, Repository};
use thiserror::Error;

use crate::finding::{GitKind, GitOrigin};
use crate::sanitize;

/// A failure that stops a git command before it scans anything.
#[derive(Debug, Error)]
pub enum GitError {
    /// No repository at or above the path.
    #[error("{path}: not a git repository (or any parent up to the file system's root): {message}")]
    NotARepository {
        /// The path, sanitised.
        path: String,
        /// What libgit2 said.
        message: String,
    },
    /// A revision or range that does not resolve.
    #[error("{spec}: not a revision or range in this repository: {message}")]
    BadRevision {
        /// What the user gave, sanitised.
        spec: String,
        /// What libgit2 said.
        message: String,
    },
    /// `--range` got a single revision.
    #[error(
        "{spec}: --range wants two revisions, A..B, or revisions to include and ^revisions to \
         exclude, B ^A (or use --since-commit A)"
    )]
    NotARange {
        /// What the user gave, sanitised.
        spec: String,
    },
    /// The repository has no working index (bare) but `--staged` was asked for.
    #[error("{path}: a bare repository has no staged changes")]
    Bare {
        /// The repository, sanitised.
        path: String,
    },
    /// Any other libgit2 failure while setting up.
    #[error("{context}: {message}")]
    Git {
        /// What was being done.
        context: String,
        /// What libgit2 said.
        message: String,
    },
}

impl GitError {
    /// Wraps a libgit2 error with what was being done.
    pub(crate) fn git(context: impl Into<String>, e: &git2::Error) -> GitError {
        GitError::Git {
            context: context.into(),
            message: git_message(e),
        }
    }
}

/// What libgit2 said, escaped and with keys redacted: the one way a libgit2 error reaches a
/// message.
pub(crate) fn git_message(e: &git2::Error) -> String {
    sanitize::text(e.message())
}

/// Opens the repository that holds `path`, searching upwards like git does. With no path,
/// honours `GIT_DIR` and friends first (a hook runs with them set), then the current directory.
///
/// # Errors
/// [`GitError::NotARepository`] when no repository is found.
pub fn open(path: Option<&Path>) -> Result<Repository, GitError> {
    // nmleaks reads objects itself (see `store`); should libgit2 read one, it need not
    // re-hash it (git does not on ordinary reads either).
    git2::opts::strict_hash_verification(false);
    let result = match path {
        Some(p) => Repository::open_ext(
            p,
            git2::RepositoryOpenFlags::empty(),
            std::iter::empty::<&std::ffi::OsStr>(),
        ),
        None => Repository::open_from_env(),
    };
    result.map_err(|e| GitError::NotARepository {
        path: sanitize::path(path.unwrap_or(Path::new("."))),
        message: git_message(&e),
    })
}

/// A digest of every ref and what it points at (HEAD included): equal digests mean the
/// history an audit reads is the same. `nmleaks audit` reuses a repository's stored result
/// while its digest stays the same.
///
/// # Errors
/// The refs cannot be listed.
pub fn tips_digest(repo: &Repository) -> Result<String, GitError> {
    use sha2::{Digest, Sha256};
    let listing = |e: git2::Error| GitError::git("listing the refs", &e);
    let mut tips: Vec<Vec<u8>> = Vec::new();
    for r in repo.references().map_err(listing)? {
        let r = r.map_err(listing)?;
        let mut line = r.name_bytes().to_vec();
        line.push(0);
        match (r.target(), r.symbolic_target_bytes()) {
            (Some(id), _) => line.extend_from_slice(id.as_bytes()),
            (None, Some(t)) => line.extend_from_slice(t),
            (None, None) => {}
        }
        tips.push(line);
    }
    if let Ok(head) = repo.find_reference("HEAD") {
        let mut line = b"HEAD\0".to_vec();
        line.extend_from_slice(head.symbolic_target_bytes().unwrap_or_default());
        if let Some(id) = head.target() {
            line.extend_from_slice(id.as_bytes());
        }
        tips.push(line);
    }
    tips.sort();
    let mut h = Sha256::new();
    for t in &tips {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t);
    }
    Ok(crate::finding::hex(&h.finalize()))
}

/// Whether the repository is a partial clone: objects may be missing by design, fetched
/// from a promisor remote on demand (`git clone --filter=…`).
pub(crate) fn is_partial_clone(repo: &Repository) -> bool {
    let Ok(config) = repo.config() else {
        return false;
    };
    if config.get_string("extensions.partialclone").is_ok() {
        return true;
    }
    let promisor = config
        .entries(Some(r"remote\..*\.promisor"))
        .ok()
        .is_some_and(|mut entries| {
            let mut any = false;
            while let Some(Ok(e)) = entries.next() {
                any |= e.value().is_ok_and(|v| {
                    matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1")
                });
            }
            any
        });
    promisor
        || std::fs::read_dir(repo.commondir().join("objects/pack")).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "promisor"))
        })
}

/// The origin of a key in commit `id` (by `author` <`email`>, committed at `time`): in the
/// file at `path`, or in its message when `None`.
pub(crate) fn commit_origin(
    id: Oid,
    author: String,
    email: String,
    time: i64,
    path: Option<String>,
) -> GitOrigin {
    GitOrigin {
        repo: None,
        time,
        commit: id.to_string(),
        kind: if path.is_some() {
            GitKind::File
        } else {
            GitKind::CommitMessage
        },
        path,
        author,
        email,
        staged: false,
    }
}

/// The origin of a blob no commit holds (or that a ref or tag names directly: `tag` is that
/// name).
pub(crate) fn blob_origin(blob: Oid, tag: Option<String>) -> GitOrigin {
    GitOrigin {
        repo: None,
        time: 0,
        commit: blob.to_string(),
        path: tag,
        author: String::new(),
        email: String::new(),
        staged: false,
        kind: GitKind::Blob,
    }
}

/// The origin of annotated tag `id`'s message, from its raw object `data` (the tagger and
/// time; empty when the object could not be read).
pub(crate) fn tag_origin(id: Oid, data: &[u8]) -> GitOrigin {
    let tagger = objects::tag_target(data).1;
    GitOrigin {
        repo: None,
        time: tagger.time,
        commit: id.to_string(),
        path: None,
        author: String::from_utf8_lossy(tagger.name).into_owned(),
        email: String::from_utf8_lossy(tagger.email).into_owned(),
        staged: false,
        kind: GitKind::TagMessage,
    }
}

/// A git path for display and reports: invalid UTF-8 and control characters escaped.
pub(crate) fn display_path(bytes: &[u8]) -> String {
    sanitize::bytes(bytes)
}

/// Where the message starts in a raw commit or tag object (after the headers' blank line).
pub(crate) fn message_start(raw: &[u8]) -> usize {
    memchr::memmem::find(raw, b"\n\n").map_or(raw.len(), |i| i + 2)
}

/// Object ids are uniformly random: their first eight bytes are a good hash already.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `Oid` hashes its 20 bytes in one call (after a length prefix on some paths); keep
        // the first eight bytes of the longest write.
        if bytes.len() >= 8 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[..8]);
            self.0 = u64::from_le_bytes(b);
        } else {
            for &x in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(x);
            }
        }
    }
}

/// A map keyed by object id.
pub type OidMap<V> = HashMap<Oid, V, BuildHasherDefault<IdHasher>>;
/// A set of object ids.
pub type OidSet = HashSet<Oid, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_starts_after_the_blank_line() {
        let raw = b"tree 1\nauthor a\n\nsubject\n\nbody\n";
        assert_eq!(&raw[message_start(raw)..], b"subject\n\nbody\n");
        assert_eq!(message_start(b"no message"), 10);
    }

    /// What a hash table keyed by object ids sees: hashbrown (std's `HashMap`) picks a bucket
    /// from the low bits of the hash and keeps the top 7 bits as a tag to compare within a
    /// group. A hasher that hashed the length prefix `Oid` writes, or the wrong bytes, would
    /// put every id in one bucket; a set would still hold them all, only slowly.
    #[test]
    fn id_hasher_spreads_object_ids() {
        use std::hash::BuildHasher;
        const IDS: usize = 16_384;
        let build = BuildHasherDefault::<IdHasher>::default();
        // Real object ids (SHA-1 of git's blob encoding) of blobs that differ in one counter,
        // as the ids of a repository's many small files are.
        let hashes: Vec<u64> = (0..IDS)
            .map(|i| {
                let id = Oid::hash_object(git2::ObjectType::Blob, format!("{i}\n").as_bytes());
                build.hash_one(id.unwrap())
            })
            .collect();
        assert_eq!(
            hashes.iter().collect::<HashSet<_>>().len(),
            IDS,
            "distinct ids hash to distinct values"
        );
        // 256 buckets from the lowest byte (a table of 256 buckets), from the next byte (what a
        // table of 64k buckets adds), and 128 tags from the top 7 bits: 64 or 128 ids expected
        // in each. The ids are fixed, so the counts are too; the bound of half to twice the
        // mean fails a hasher that ignores those bits (all in one bucket, the rest empty), and
        // is far wider than a uniform hash strays (Poisson(64) is below 32 or above 128 with
        // a probability under 1e-5).
        let spread = |what: &str, buckets: usize, bucket: &dyn Fn(u64) -> usize| {
            let mut counts = vec![0usize; buckets];
            for &h in &hashes {
                counts[bucket(h)] += 1;
            }
            let mean = IDS / buckets;
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(
                *lo >= mean / 2 && *hi <= mean * 2,
                "{what}: {buckets} buckets hold {lo} to {hi} ids each, {mean} expected"
            );
        };
        spread("low byte", 256, &|h| (h & 0xff) as usize);
        spread("second byte", 256, &|h| ((h >> 8) & 0xff) as usize);
        spread("top 7 bits", 128, &|h| (h >> 57) as usize);
    }
}
