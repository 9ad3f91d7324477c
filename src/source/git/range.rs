//! `nmleaks git --range A..B` and `--since-commit A`: what a range of commits introduces.
//!
//! The range is resolved and walked without libgit2 reading any object (`graph.rs`).
//! Each commit's message and signatures are scanned, its tree is diffed against its parents'
//! (subtrees with the same id skipped unread, so the cost follows what changed), and each blob
//! a commit adds or changes relative to every parent is read once with the audit's phase-1
//! worker ([`super::history`]) and reported at every commit and path that introduces it. A
//! name a commit introduces that holds a key is reported too.

use crossbeam_channel::Sender;
use git2::{Oid, Repository};

use super::graph;
use super::history::{BATCH, Found, Options, UNMAPPED, Worker, into_inner, scan_signatures};
use super::objects::{self, Kind};
use super::store::{Check, ReadError, Reader, Store};
use super::{GitError, OidMap, OidSet, commit_origin, display_path, message_start};
use crate::finding::{GitKind, GitOrigin, Hit, Origin, Part};
use crate::matcher::Matcher;
use crate::scan::Scanner;
use crate::source::{Event, Problem, Stats};

/// A range to scan: its commits, resolved and walked without libgit2 reading any object.
pub struct RangeScan {
    store: Store,
    /// The commits, oldest first in topological order.
    commits: Vec<Oid>,
    /// Commits the walk could not read, one sentence each.
    problems: Vec<String>,
}

impl std::fmt::Debug for RangeScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeScan")
            .field("commits", &self.commits.len())
            .field("problems", &self.problems)
            .finish_non_exhaustive()
    }
}

impl RangeScan {
    /// A range of `commits` (oldest first, topological order) read from `store`, with the
    /// walk's `problems`.
    pub(crate) fn from_parts(store: Store, commits: Vec<Oid>, problems: Vec<String>) -> RangeScan {
        RangeScan {
            store,
            commits,
            problems,
        }
    }

    /// The object store the range reads.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The commits, oldest first: what `git log --topo-order --reverse A..B` lists.
    #[must_use]
    pub fn commits(&self) -> &[Oid] {
        &self.commits
    }
}

/// Resolves `A..B` (commits reachable from `B`, not from `A`), `A...B` (reachable from
/// either, not from both; an empty side is `HEAD`), or a list of revisions as `git rev-list`
/// takes them, `B ^A1 ^A2` (reachable from any revision without `^`, from none with it: what a
/// push adds that no other branch holds). A commit the walk cannot read ends its path and is
/// reported when the range is scanned.
///
/// # Errors
/// A spec that is not a range, or a revision that does not resolve to a commit.
pub fn resolve_range(repo: &Repository, spec: &str) -> Result<RangeScan, GitError> {
    let shown = crate::sanitize::text(spec);
    let words: Vec<&str> = spec.split_whitespace().collect();
    let list = words.len() > 1 || words.iter().any(|w| w.starts_with('^'));
    let store = Store::open(repo, Check::Full);
    let mut commits = graph::CommitReader::new(&store, graph::shallow_commits(repo));
    let mut side = |rev: &str| {
        let rev = if rev.is_empty() { "HEAD" } else { rev };
        graph::resolve(repo, &store, &mut commits, rev).map_err(|e| GitError::BadRevision {
            spec: shown.clone(),
            message: crate::sanitize::text(&e.0),
        })
    };
    let (mut to, mut hide, mut symmetric) = (Vec::new(), Vec::new(), false);
    if list {
        for w in &words {
            match w.strip_prefix('^') {
                Some(h) if !h.is_empty() => hide.push(side(h)?),
                Some(_) => return Err(GitError::NotARange { spec: shown }),
                None if w.contains("..") => return Err(GitError::NotARange { spec: shown }),
                None => to.push(side(w)?),
            }
        }
        if to.is_empty() {
            return Err(GitError::NotARange { spec: shown });
        }
    } else if let Some((a, b)) = spec.split_once("...") {
        (to, hide, symmetric) = (vec![side(b)?], vec![side(a)?], true);
    } else if let Some((a, b)) = spec.split_once("..") {
        (to, hide) = (vec![side(b)?], vec![side(a)?]);
    } else {
        return Err(GitError::NotARange { spec: shown });
    }
    let (mut order, mut failed) = graph::range(&mut commits, &to, &hide);
    if symmetric {
        let (other, f) = graph::range(&mut commits, &hide, &to);
        order.extend(other);
        failed.extend(f);
    }
    let mut problems: Vec<String> = failed
        .iter()
        .map(|e| {
            format!(
                "{}; the history behind it was not walked",
                objects::unreadable(e).trim_end_matches("; it was not scanned")
            )
        })
        .collect();
    problems.dedup();
    drop(commits);
    Ok(RangeScan {
        store,
        commits: order,
        problems,
    })
}

/// Scans what the commits of `scan` (from [`resolve_range`]) introduce: each blob that a
/// commit adds or changes relative to all its parents, and each commit message.
pub fn range(
    repo: &Repository,
    scan: &RangeScan,
    opts: &Options,
    matcher: &Matcher,
    stats: &Stats,
    tx: &Sender<Event>,
) {
    let store = &scan.store;
    for p in store.problems().iter().chain(&scan.problems) {
        let _ = tx.send(Problem::error(p.clone()));
    }
    for n in store.notes() {
        let _ = tx.send(Problem::warning(n.clone()));
    }
    let mut scanner = Scanner::new(matcher, opts.show_secrets).decoding(opts.decoding);
    let Introduced {
        messages: out,
        files: introduced,
        origins,
    } = introduced(repo, scan, &mut scanner, tx);
    if !out.is_empty() {
        let _ = tx.send(Event::Hits(out));
    }
    let mut blobs: Vec<Oid> = introduced.iter().map(|(_, _, b)| *b).collect();
    blobs.sort_unstable();
    blobs.dedup();
    let found = Found::default();
    let no_shallow = OidSet::default();
    let make = || Worker::new(matcher, opts, &found, None, None, &no_shallow, stats);
    objects::read_ids(store, &blobs, opts.threads, &make, tx);
    super::history::send_problems(into_inner(found.problems), tx);
    let dropped = into_inner(found.dropped);
    if !dropped.is_empty() {
        let _ = tx.send(Event::Dropped(dropped));
    }
    let holding = into_inner(found.blobs);
    if holding.is_empty() {
        return;
    }
    let mut out = Vec::new();
    for (commit, path, blob) in introduced {
        let Some(hits) = holding.get(&blob) else {
            continue;
        };
        let origin = Origin::Git(GitOrigin {
            repo: None,
            path: Some(path),
            kind: GitKind::File,
            ..origins[&commit].clone()
        });
        out.extend(hits.iter().map(|h| {
            let mut h = h.clone();
            h.location.origin = origin.clone();
            h
        }));
        if out.len() >= BATCH {
            let _ = tx.send(Event::Hits(std::mem::take(&mut out)));
        }
    }
    if !out.is_empty() {
        let _ = tx.send(Event::Hits(out));
    }
}

/// What the commits of a range introduce: hits in their messages, `(commit, path, blob)` of
/// the files they add or change, and each commit's origin.
struct Introduced {
    messages: Vec<Hit>,
    files: Vec<(Oid, String, Oid)>,
    origins: OidMap<GitOrigin>,
}

/// Reads each commit of `scan`, scans its message and diffs its tree against its parents'.
fn introduced(
    repo: &Repository,
    scan: &RangeScan,
    scanner: &mut Scanner<'_>,
    tx: &Sender<Event>,
) -> Introduced {
    let mut commits = graph::CommitReader::new(&scan.store, graph::shallow_commits(repo));
    let mut introduced: Vec<(Oid, String, Oid)> = Vec::new();
    let mut origins: OidMap<GitOrigin> = OidMap::default();
    let mut submodules: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut failed: Vec<ReadError> = Vec::new();
    let mut out = Vec::new();
    for &id in &scan.commits {
        let raw = match commits.reader().read(id) {
            Ok((Kind::Commit, raw)) => raw,
            Ok(_) => continue,
            Err(e) => {
                let _ = tx.send(Problem::error(objects::unreadable(&e)));
                continue;
            }
        };
        let c = objects::Commit::parse(&raw);
        let origin = commit_origin(
            id,
            String::from_utf8_lossy(c.author.name).into_owned(),
            String::from_utf8_lossy(c.author.email).into_owned(),
            c.time,
            None,
        );
        let mut hits = Vec::new();
        let start = message_start(&raw);
        scan_signatures(scanner, &raw[..start], &mut hits);
        scanner.scan_bytes(&raw[start..], &UNMAPPED, &mut hits);
        let message_origin = Origin::Git(origin.clone());
        out.extend(hits.into_iter().map(|mut h| {
            h.location.origin = message_origin.clone();
            h
        }));
        origins.insert(id, origin);
        let Some(tree) = c.tree else {
            let _ = tx.send(Problem::error(format!(
                "commit {id} names no tree; its files were not scanned"
            )));
            continue;
        };
        // A parent that cannot be read is left out: its files then count as introduced here.
        let mut parents: Vec<Option<Oid>> = Vec::new();
        for p in &c.parents {
            match commits.get(*p) {
                Ok(rec) => parents.push(rec.tree),
                Err(e) => failed.push(e),
            }
        }
        if parents.is_empty() {
            parents.push(None);
        }
        let mut names = Vec::new();
        let holds_key = |b: &[u8]| scanner.holds_key(b);
        let mut diff = Diff {
            reader: commits.reader(),
            failed: &mut failed,
            submodules: &mut submodules,
            holds_key: &holds_key,
            names: &mut names,
        };
        let paths = diff.introduced_by(tree, &parents);
        introduced.extend(paths.into_iter().map(|(p, b)| (id, p, b)));
        // A name this commit introduces (new against every parent) that holds a key.
        for (path, raw) in names {
            let origin = Origin::Git(GitOrigin {
                repo: None,
                path: Some(path),
                kind: GitKind::File,
                ..origins[&id].clone()
            });
            scanner.scan_name(&raw, 0, &origin, Part::Path, &mut out);
        }
    }
    failed.sort_by_key(ReadError::id);
    failed.dedup_by_key(|e| e.id());
    for e in &failed {
        let _ = tx.send(Problem::error(objects::unreadable(e)));
    }
    if !submodules.is_empty() {
        let n = submodules.len();
        let paths: Vec<&str> = submodules.iter().map(String::as_str).collect();
        let _ = tx.send(Problem::warning(format!(
            "{n} submodule{s} changed in this range (their commits are in other repositories \
             and were not audited): {}; audit each with `nmleaks git {}`",
            paths.join(", "),
            paths[0],
            s = if n == 1 { "" } else { "s" },
        )));
    }
    Introduced {
        messages: out,
        files: introduced,
        origins,
    }
}

/// What a tree entry is, for comparing two trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Tree,
    Gitlink,
    File,
}

/// Tree comparison for a range: what a commit introduces.
struct Diff<'r, 'a> {
    reader: &'r mut Reader<'a>,
    /// Trees that could not be read (the caller reports them).
    failed: &'r mut Vec<ReadError>,
    /// Submodule paths whose commit a tree changes.
    submodules: &'r mut std::collections::BTreeSet<String>,
    /// Whether a name holds a key (the scanner's first look).
    holds_key: &'r dyn Fn(&[u8]) -> bool,
    /// Entries new at their path whose names hold a key: `(path, raw name)`.
    names: &'r mut Vec<(String, Vec<u8>)>,
}

impl Diff<'_, '_> {
    /// `(path, blob)` that `tree` adds or changes relative to every parent tree (`None`: an
    /// empty tree, for a root commit). Deletions and submodule entries are not blobs of this
    /// repository.
    fn introduced_by(&mut self, tree: Oid, parents: &[Option<Oid>]) -> Vec<(String, Oid)> {
        let mut per_parent: Vec<Vec<(String, Oid)>> = Vec::new();
        let mut names_per_parent: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
        for parent in parents {
            let mut changed = Vec::new();
            let mark = self.names.len();
            self.changed_blobs(*parent, tree, "", &mut changed);
            changed.sort_unstable();
            per_parent.push(changed);
            let mut names: Vec<_> = self.names.drain(mark..).collect();
            names.sort_unstable();
            names_per_parent.push(names);
        }
        // Names too: only those new against every parent are this commit's.
        let mut names = names_per_parent.swap_remove(0);
        names.retain(|e| names_per_parent.iter().all(|o| o.binary_search(e).is_ok()));
        self.names.extend(names);
        let mut first = per_parent.swap_remove(0);
        first.retain(|e| {
            per_parent
                .iter()
                .all(|other| other.binary_search(e).is_ok())
        });
        first
    }

    fn read_tree(&mut self, id: Oid) -> Option<Vec<u8>> {
        match self.reader.read(id) {
            Ok((Kind::Tree, data)) => Some(data),
            Ok(_) => {
                self.failed.push(ReadError::Damaged {
                    id,
                    reason: "it is named as a tree but is not one".to_string(),
                });
                None
            }
            Err(e) => {
                self.failed.push(e);
                None
            }
        }
    }

    /// The blobs in tree `new` that tree `old` does not hold at the same path, with their
    /// paths under `prefix`. Subtrees with the same id are skipped unread: the cost follows
    /// what changed, not the size of the tree. An old tree that cannot be read counts as
    /// empty (everything under it is scanned); a new one is skipped (and reported).
    fn changed_blobs(
        &mut self,
        old: Option<Oid>,
        new: Oid,
        prefix: &str,
        out: &mut Vec<(String, Oid)>,
    ) {
        if old == Some(new) {
            return;
        }
        let Some(new_data) = self.read_tree(new) else {
            return;
        };
        let old_data = old.and_then(|o| self.read_tree(o)).unwrap_or_default();
        let kind = |mode: &[u8]| {
            if objects::is_tree_mode(mode) {
                EntryKind::Tree
            } else if objects::is_gitlink_mode(mode) {
                EntryKind::Gitlink
            } else {
                EntryKind::File
            }
        };
        let before: std::collections::HashMap<&[u8], (EntryKind, Oid)> =
            objects::tree_entries(&old_data)
                .map(|(mode, name, id)| (name, (kind(mode), id)))
                .collect();
        for (mode, name, id) in objects::tree_entries(&new_data) {
            let prev = before.get(name).copied();
            let path = if prefix.is_empty() {
                display_path(name)
            } else {
                format!("{prefix}/{}", display_path(name))
            };
            if prev.is_none() && (self.holds_key)(name) {
                self.names.push((path.clone(), name.to_vec()));
            }
            match kind(mode) {
                EntryKind::Gitlink => {
                    if prev != Some((EntryKind::Gitlink, id)) {
                        self.submodules.insert(path);
                    }
                }
                EntryKind::Tree => {
                    let prev_tree = prev
                        .filter(|(k, _)| *k == EntryKind::Tree)
                        .map(|(_, id)| id);
                    self.changed_blobs(prev_tree, id, &path, out);
                }
                EntryKind::File => {
                    if prev != Some((EntryKind::File, id)) {
                        out.push((path, id));
                    }
                }
            }
        }
    }
}
