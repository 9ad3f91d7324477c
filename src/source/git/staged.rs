//! `nmleaks git --staged`: the pre-commit check.
//!
//! Scans exactly what the next commit will hold, read from the index (never the working
//! tree), and reports the keys that the staged content adds: a key in a staged blob that the
//! HEAD version of the same path does not hold. A path HEAD did not have is compared with
//! every blob the index removed, so a rename, or a key moved from a deleted file, is not new.
//! Keys are compared, not lines, so a moved line is not reported again. Before the first commit
//! HEAD is empty; deletions add nothing; submodule entries are not blobs of this repository
//! and are skipped; both sides of an unresolved conflict are scanned.
//!
//! The cost follows what is staged, not how many files are tracked: the index is read with
//! [`super::index`] and every directory whose cache-tree id equals HEAD's is skipped unread,
//! as `git diff --cached` does; a split index is merged with its shared index first. Objects
//! are read through [`super::store`] (a damaged one is reported, never a hang). Indexes that
//! reader leaves alone (sparse ones) go through libgit2's diff, but only after every tree of
//! HEAD has been read here: libgit2 then never meets a damaged object.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use crossbeam_channel::Sender;
use git2::{Delta, DiffOptions, FileMode, Oid, Repository};

use super::objects::Kind;
use super::store::{Check, ReadError, Reader, Store};
use super::{GitError, display_path, index, objects};
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

/// What the index changes relative to HEAD, before rename pooling.
#[derive(Debug, Default)]
struct Diff {
    /// `(path, staged blob, HEAD's blob at that path)`.
    changed: Vec<(String, Oid, Option<Oid>)>,
    /// Blobs of HEAD whose paths the index no longer has (rename and move sources).
    deleted: Vec<Oid>,
    /// `(path, one side's blob, HEAD's blob at that path)` of unresolved conflicts.
    conflicts: Vec<(String, Oid, Option<Oid>)>,
}

/// What is staged, ready to scan: the changes and the objects they name.
pub struct Staged {
    store: Store,
    /// Each staged path to scan.
    pub changes: Vec<Change>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("changes", &self.changes)
            .finish_non_exhaustive()
    }
}

/// What is staged relative to HEAD, without reading any staged blob yet.
///
/// `index_file` replaces the repository's index (a hook's `GIT_INDEX_FILE`).
///
/// # Errors
/// A bare repository, an unreadable index or HEAD.
pub fn changes(repo: &Repository, index_file: Option<PathBuf>) -> Result<Staged, GitError> {
    if repo.is_bare() {
        return Err(GitError::Bare {
            path: crate::sanitize::path(repo.path()),
        });
    }
    let store = Store::open(repo, Check::Layout);
    let changes = staged_changes(repo, &store, index_file)?;
    Ok(Staged { store, changes })
}

fn read_error(context: &str, e: &ReadError) -> GitError {
    GitError::Git {
        context: context.to_string(),
        message: e.to_string(),
    }
}

/// The tree of the commit `id` names (through tags).
fn tree_of(reader: &mut Reader<'_>, mut id: Oid) -> Result<Oid, ReadError> {
    for _ in 0..64 {
        let (kind, data) = reader.read(id)?;
        let next = match kind {
            Kind::Tree => return Ok(id),
            Kind::Commit => objects::Commit::parse(&data).tree,
            Kind::Tag => objects::tag_target(&data).0,
            Kind::Blob => None,
        };
        id = next.ok_or_else(|| ReadError::Damaged {
            id,
            reason: "it names no tree".to_string(),
        })?;
    }
    Err(ReadError::Damaged {
        id,
        reason: "a chain of more than 64 tags".to_string(),
    })
}

fn staged_changes(
    repo: &Repository,
    store: &Store,
    index_file: Option<PathBuf>,
) -> Result<Vec<Change>, GitError> {
    let mut reader = store.reader();
    let head = match repo.head() {
        Ok(h) => match h.target() {
            Some(id) => Some(
                tree_of(&mut reader, id).map_err(|e| read_error("cannot read HEAD's tree", &e))?,
            ),
            None => None,
        },
        Err(e)
            if e.code() == git2::ErrorCode::UnbornBranch
                || e.code() == git2::ErrorCode::NotFound =>
        {
            None
        }
        Err(e) => return Err(GitError::git("cannot read HEAD", &e)),
    };
    let path = index_file
        .clone()
        .unwrap_or_else(|| repo.path().join("index"));
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        // No index yet (nothing was ever staged): nothing to add.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(GitError::Git {
                context: format!("cannot read the index {}", crate::sanitize::path(&path)),
                message: e.to_string(),
            });
        }
    };
    let diff = if let Ok(idx) = index::parse(&bytes) {
        let idx = with_shared_index(repo, idx)?;
        let mut w = Walker {
            reader: &mut reader,
            index: &idx,
            i: 0,
            diff: Diff::default(),
        };
        w.dir(idx.tree.as_ref(), head, b"")
            .map_err(|e| read_error("cannot compare the index with HEAD", &e))?;
        w.diff
    } else {
        // Sparse indexes: libgit2 reads what it can, once HEAD's trees are known to be sound.
        if let Some(tree) = head {
            check_trees(&mut reader, tree, 0)
                .map_err(|e| read_error("cannot read HEAD's tree", &e))?;
        }
        libgit2_diff(repo, index_file, head)?
    };
    Ok(pool(diff))
}

/// The whole index of a split index (`git update-index --split-index`): its shared part is
/// `sharedindex.<id>` in the git directory, as git looks for it.
fn with_shared_index(repo: &Repository, idx: index::Index) -> Result<index::Index, GitError> {
    let Some(name) = idx.link.as_ref().and_then(index::Link::shared_file) else {
        return Ok(idx);
    };
    let path = repo.path().join(&name);
    let shown = crate::sanitize::path(&path);
    let bytes = std::fs::read(&path).map_err(|e| GitError::Git {
        context: format!("cannot read the shared index {shown} of this split index"),
        message: e.to_string(),
    })?;
    let shared = index::parse(&bytes).map_err(|e| GitError::Git {
        context: format!("cannot read the shared index {shown}"),
        message: e.0.to_string(),
    })?;
    index::merge_split(idx, &shared).map_err(|e| GitError::Git {
        context: format!("cannot read the split index with {shown}"),
        message: e.0.to_string(),
    })
}

/// Gives each added path (no HEAD version) every deleted blob as its possible source: a
/// rename or a move between files keeps its keys, and a key is new only if HEAD held it
/// nowhere that this change removed or replaced.
fn pool(diff: Diff) -> Vec<Change> {
    let mut out = Vec::with_capacity(diff.changed.len() + diff.conflicts.len());
    for (path, new, old) in diff.changed {
        let old = match old {
            Some(o) => vec![o],
            None => diff.deleted.clone(),
        };
        out.push(Change {
            path,
            new,
            old,
            conflict: false,
        });
    }
    for (path, new, old) in diff.conflicts {
        out.push(Change {
            path,
            new,
            old: old.into_iter().collect(),
            conflict: true,
        });
    }
    out
}

/// Reads every tree under `tree`, so that libgit2 reading them afterwards meets no damage.
fn check_trees(reader: &mut Reader<'_>, tree: Oid, depth: usize) -> Result<(), ReadError> {
    let (_, data) = reader.read(tree)?;
    if depth < 4096 {
        for (mode, _, id) in objects::tree_entries(&data) {
            if objects::is_tree_mode(mode) {
                check_trees(reader, id, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Reads a tree that HEAD names.
fn read_tree(reader: &mut Reader<'_>, id: Oid) -> Result<Vec<u8>, ReadError> {
    match reader.read(id)? {
        (Kind::Tree, data) => Ok(data),
        _ => Err(ReadError::Damaged {
            id,
            reason: "it is named as a tree but is not one".to_string(),
        }),
    }
}

/// Walks the index and HEAD's tree together, skipping each directory whose cache-tree id
/// equals HEAD's tree for it: only changed directories are read.
struct Walker<'r, 'a> {
    reader: &'r mut Reader<'a>,
    index: &'r index::Index,
    i: usize,
    diff: Diff,
}

impl Walker<'_, '_> {
    fn dir(
        &mut self,
        node: Option<&index::CacheTree>,
        head: Option<Oid>,
        prefix: &[u8],
    ) -> Result<(), ReadError> {
        let obj = head.map(|t| read_tree(self.reader, t)).transpose()?;
        let listed: Vec<(&[u8], bool, Oid)> = obj
            .as_ref()
            .map(|o| {
                objects::tree_entries(o)
                    .filter(|(mode, _, _)| !objects::is_gitlink_mode(mode))
                    .map(|(mode, name, id)| (name, objects::is_tree_mode(mode), id))
                    .collect()
            })
            .unwrap_or_default();
        let by_name: HashMap<&[u8], usize> = listed
            .iter()
            .enumerate()
            .map(|(i, (n, _, _))| (*n, i))
            .collect();
        let mut seen = vec![false; listed.len()];
        let index = self.index;
        while let Some(e) = index.entries.get(self.i) {
            let Some(rest) = index.path(e).strip_prefix(prefix) else {
                break;
            };
            if let Some(slash) = memchr::memchr(b'/', rest) {
                let name = &rest[..slash];
                let child = node.and_then(|n| n.children.iter().find(|c| c.name == name));
                let head_child = by_name.get(name).and_then(|&i| {
                    let (_, is_tree, id) = listed[i];
                    is_tree.then(|| {
                        seen[i] = true;
                        id
                    })
                });
                if let (Some((count, id)), Some(h)) = (child.and_then(|c| c.valid), head_child)
                    && id == h
                    && count > 0
                {
                    self.i += count;
                    continue;
                }
                let mut sub = prefix.to_vec();
                sub.extend_from_slice(name);
                sub.push(b'/');
                let before = self.i;
                self.dir(child, head_child, &sub)?;
                if self.i == before {
                    self.i += 1; // cannot happen for a sorted index; never loop
                }
            } else {
                let head_file = by_name.get(rest).and_then(|&i| {
                    let (_, is_tree, id) = listed[i];
                    (!is_tree).then(|| {
                        seen[i] = true;
                        id
                    })
                });
                self.file(e, head_file);
                self.i += 1;
            }
        }
        for (i, (_, is_tree, id)) in listed.iter().enumerate() {
            if !seen[i] {
                if *is_tree {
                    self.deleted_tree(*id)?;
                } else {
                    self.diff.deleted.push(*id);
                }
            }
        }
        Ok(())
    }

    fn file(&mut self, e: &index::Entry, head: Option<Oid>) {
        if e.mode == 0o160_000 || e.intent_to_add {
            return; // a submodule's commit, or a placeholder with nothing staged
        }
        if e.stage == 0 && head.is_some_and(|h| h.as_bytes() == e.id) {
            return;
        }
        let (Ok(id), path) = (Oid::from_bytes(&e.id), display_path(self.index.path(e))) else {
            return;
        };
        match e.stage {
            0 => self.diff.changed.push((path, id, head)),
            2 | 3 => self.diff.conflicts.push((path, id, head)),
            _ => {} // the merge base is not what the next commit holds
        }
    }

    fn deleted_tree(&mut self, tree: Oid) -> Result<(), ReadError> {
        let obj = read_tree(self.reader, tree)?;
        for (mode, _, id) in objects::tree_entries(&obj) {
            if objects::is_tree_mode(mode) {
                self.deleted_tree(id)?;
            } else if !objects::is_gitlink_mode(mode) {
                self.diff.deleted.push(id);
            }
        }
        Ok(())
    }
}

/// The same comparison through libgit2, for indexes [`index::parse`] leaves to it.
fn libgit2_diff(
    repo: &Repository,
    index_file: Option<PathBuf>,
    head: Option<Oid>,
) -> Result<Diff, GitError> {
    let index = match index_file {
        Some(p) => git2::Index::open(&p),
        None => repo.index(),
    }
    .map_err(|e| GitError::git("cannot read the index", &e))?;
    let head_tree = head
        .map(|t| repo.find_tree(t))
        .transpose()
        .map_err(|e| GitError::git("cannot read HEAD's tree", &e))?;
    let mut opts = DiffOptions::new();
    opts.include_typechange(true);
    let diff = repo
        .diff_tree_to_index(head_tree.as_ref(), Some(&index), Some(&mut opts))
        .map_err(|e| GitError::git("cannot compare the index with HEAD", &e))?;
    let mut out = Diff::default();
    for delta in diff.deltas() {
        let (old, new) = (delta.old_file(), delta.new_file());
        let old_blob = (!old.id().is_zero() && old.mode() != FileMode::Commit).then(|| old.id());
        match delta.status() {
            Delta::Conflicted => {}
            Delta::Deleted => out.deleted.extend(old_blob),
            _ => {
                if new.mode() == FileMode::Commit || new.id().is_zero() {
                    continue;
                }
                if let Some(path) = new.path_bytes() {
                    out.changed.push((display_path(path), new.id(), old_blob));
                }
            }
        }
    }
    if index.has_conflicts() {
        let conflicts = index
            .conflicts()
            .map_err(|e| GitError::git("cannot read the index's conflicts", &e))?;
        for c in conflicts {
            let c = c.map_err(|e| GitError::git("cannot read the index's conflicts", &e))?;
            for entry in [c.our, c.their].into_iter().flatten() {
                if entry.mode == u32::from(FileMode::Commit) {
                    continue;
                }
                let old = head_tree
                    .as_ref()
                    .and_then(|t| t.get_path(&bytes_path(&entry.path)).ok())
                    .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
                    .map(|e| e.id());
                out.conflicts
                    .push((display_path(&entry.path), entry.id, old));
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
    staged: &Staged,
    matcher: &Matcher,
    show_secrets: bool,
    decoding: crate::scan::Decoding,
    stats: &Stats,
    tx: &Sender<Event>,
) {
    for p in staged.store.problems().iter().chain(staged.store.notes()) {
        // Only the objects read below matter here; a failed read is an error of its own.
        let _ = tx.send(Problem::warning(p.clone()));
    }
    let mut reader = staged.store.reader();
    let mut scanner = Scanner::new(matcher, show_secrets).decoding(decoding);
    let mut warned = BTreeSet::new();
    let mut out: Vec<Hit> = Vec::new();
    let mut buf = Vec::new();
    for change in &staged.changes {
        if change.conflict && warned.insert(change.path.clone()) {
            let _ = tx.send(Problem::warning(format!(
                "{}: unresolved merge conflict; both staged sides were scanned",
                change.path
            )));
        }
        let origin = Origin::Git(GitOrigin {
            repo: None,
            time: 0,
            commit: String::new(),
            path: Some(change.path.clone()),
            author: String::new(),
            email: String::new(),
            staged: true,
            kind: GitKind::File,
        });
        let mut hits = Vec::new();
        match reader.read_into(change.new, &mut buf) {
            Ok(_) => {
                scanner.scan_bytes(&buf, &origin, &mut hits);
                stats.add(buf.len() as u64);
                crate::source::send_scan_problems(&mut scanner, &change.path, tx);
            }
            Err(e) => {
                let _ = tx.send(Problem::error(format!(
                    "{}: staged {}",
                    change.path,
                    objects::unreadable(&e)
                )));
                continue;
            }
        }
        if hits.is_empty() {
            continue;
        }
        let before = old_keys(&mut reader, &change.old, &mut scanner, &change.path, tx);
        out.extend(hits.into_iter().filter(|h| !before.contains(&h.secret)));
    }
    if !out.is_empty() {
        let _ = tx.send(Event::Hits(out));
    }
}

/// The keys HEAD's versions hold.
fn old_keys(
    reader: &mut Reader<'_>,
    old: &[Oid],
    scanner: &mut Scanner<'_>,
    path: &str,
    tx: &Sender<Event>,
) -> BTreeSet<Secret> {
    let mut keys = BTreeSet::new();
    let mut hits = Vec::new();
    let mut buf = Vec::new();
    for &id in old {
        match reader.read_into(id, &mut buf) {
            Ok(_) => scanner.scan_bytes(&buf, &Origin::Pending, &mut hits),
            Err(e) => {
                // Without HEAD's version every key looks new: say so, and report them all.
                let _ = tx.send(Problem::error(format!(
                    "{path}: HEAD's {}",
                    objects::unreadable(&e)
                )));
            }
        }
    }
    // HEAD's versions only tell which keys are old: a part of one that could not be looked
    // inside makes its keys look new, and they are reported.
    drop(scanner.take_problems());
    keys.extend(hits.into_iter().map(|h| h.secret));
    keys
}
