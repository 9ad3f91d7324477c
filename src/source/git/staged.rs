//! `nmleaks git --staged`: the pre-commit check.
//!
//! Scans exactly what the next commit will hold, read from the index (never the working
//! tree), and reports the keys that the staged content adds: a key in a staged blob that the
//! HEAD version of the same path (or, for a rename, of the path it came from) does not hold.
//! Keys are compared, not lines, so a moved line is not reported again. Before the first commit
//! HEAD is empty; deletions add nothing; submodule entries are not blobs of this repository
//! and are skipped; both sides of an unresolved conflict are scanned. Only the changed entries
//! are read, so the cost follows what is staged, not how many files are tracked (beyond the
//! diff of index against HEAD, which git2 makes from the index and HEAD's trees).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crossbeam_channel::Sender;
use git2::{Delta, DiffFindOptions, DiffOptions, FileMode, Oid, Repository};

use super::{GitError, display_path};
use crate::finding::{GitKind, GitOrigin, Hit, Origin, Secret};
use crate::matcher::Matcher;
use crate::scan::Scanner;
use crate::source::{Event, Problem, Stats};

/// One staged path to scan.
#[derive(Debug, Clone)]
pub struct Change {
    /// The path, escaped for display.
    pub path: String,
    /// The staged blob.
    pub new: Oid,
    /// HEAD's blobs whose keys are not new here (the same path, or a rename's source).
    pub old: Vec<Oid>,
    /// One side of an unresolved conflict.
    pub conflict: bool,
}

/// What is staged relative to HEAD, without reading any blob yet.
///
/// `index_file` replaces the repository's index (a hook's `GIT_INDEX_FILE`).
///
/// # Errors
/// A bare repository, an unreadable index or HEAD.
pub fn changes(repo: &Repository, index_file: Option<PathBuf>) -> Result<Vec<Change>, GitError> {
    if repo.is_bare() {
        return Err(GitError::Bare {
            path: crate::sanitize::path(repo.path()),
        });
    }
    let index = match index_file {
        Some(p) => git2::Index::open(&p),
        None => repo.index(),
    }
    .map_err(|e| GitError::git("cannot read the index", &e))?;
    let head = match repo.head() {
        Ok(h) => Some(
            h.peel_to_tree()
                .map_err(|e| GitError::git("cannot read HEAD's tree", &e))?,
        ),
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            None
        }
        Err(e) => return Err(GitError::git("cannot read HEAD", &e)),
    };
    let mut opts = DiffOptions::new();
    opts.include_typechange(true);
    let mut diff = repo
        .diff_tree_to_index(head.as_ref(), Some(&index), Some(&mut opts))
        .map_err(|e| GitError::git("cannot compare the index with HEAD", &e))?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))
        .map_err(|e| GitError::git("cannot detect renames", &e))?;
    let mut out = Vec::new();
    for delta in diff.deltas() {
        if matches!(delta.status(), Delta::Deleted | Delta::Conflicted) {
            continue;
        }
        let new = delta.new_file();
        if new.mode() == FileMode::Commit || new.id().is_zero() {
            continue;
        }
        let Some(path) = new.path_bytes() else {
            continue;
        };
        let old = delta.old_file();
        let old = (!old.id().is_zero() && old.mode() != FileMode::Commit).then(|| old.id());
        out.push(Change {
            path: display_path(path),
            new: new.id(),
            old: old.into_iter().collect(),
            conflict: false,
        });
    }
    if index.has_conflicts() {
        let conflicts = index
            .conflicts()
            .map_err(|e| GitError::git("cannot read the index's conflicts", &e))?;
        for c in conflicts {
            let c = c.map_err(|e| GitError::git("cannot read the index's conflicts", &e))?;
            let sides = [c.our, c.their];
            for entry in sides.into_iter().flatten() {
                if entry.mode == u32::from(FileMode::Commit) {
                    continue;
                }
                let old = head
                    .as_ref()
                    .and_then(|t| {
                        t.get_path(std::path::Path::new(&bytes_path(&entry.path)))
                            .ok()
                    })
                    .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
                    .map(|e| e.id());
                out.push(Change {
                    path: display_path(&entry.path),
                    new: entry.id,
                    old: old.into_iter().collect(),
                    conflict: true,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(unix)]
fn bytes_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn bytes_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

/// Scans each change and reports the keys it adds.
pub fn scan(
    repo: &Repository,
    changes: &[Change],
    matcher: &Matcher,
    show_secrets: bool,
    stats: &Stats,
    tx: &Sender<Event>,
) {
    let mut scanner = Scanner::new(matcher, show_secrets);
    let mut warned = BTreeSet::new();
    let mut out: Vec<Hit> = Vec::new();
    for change in changes {
        if change.conflict && warned.insert(change.path.clone()) {
            let _ = tx.send(Problem::warning(format!(
                "{}: unresolved merge conflict; both staged sides were scanned",
                change.path
            )));
        }
        let origin = Origin::Git(GitOrigin {
            time: 0,
            commit: String::new(),
            path: Some(change.path.clone()),
            author: String::new(),
            email: String::new(),
            staged: true,
            kind: GitKind::File,
        });
        let mut hits = Vec::new();
        match repo.find_blob(change.new) {
            Ok(blob) => {
                scanner.scan_bytes(blob.content(), &origin, &mut hits);
                stats.add(blob.size() as u64);
            }
            Err(e) => {
                let _ = tx.send(Problem::error(format!(
                    "{}: staged {}",
                    change.path,
                    super::objects::unreadable(change.new, &e)
                )));
                continue;
            }
        }
        if hits.is_empty() {
            continue;
        }
        let before = old_keys(repo, &change.old, &mut scanner, &change.path, tx);
        out.extend(hits.into_iter().filter(|h| !before.contains(&h.secret)));
    }
    if !out.is_empty() {
        let _ = tx.send(Event::Hits(out));
    }
}

/// The keys HEAD's versions hold.
fn old_keys(
    repo: &Repository,
    old: &[Oid],
    scanner: &mut Scanner<'_>,
    path: &str,
    tx: &Sender<Event>,
) -> BTreeSet<Secret> {
    let mut keys = BTreeSet::new();
    let mut hits = Vec::new();
    for &id in old {
        match repo.find_blob(id) {
            Ok(blob) => scanner.scan_bytes(blob.content(), &Origin::Stdin, &mut hits),
            Err(e) => {
                // Without HEAD's version every key looks new: say so, and report them all.
                let _ = tx.send(Problem::error(format!(
                    "{path}: HEAD's {}",
                    super::objects::unreadable(id, &e)
                )));
            }
        }
    }
    keys.extend(hits.into_iter().map(|h| h.secret));
    keys
}
