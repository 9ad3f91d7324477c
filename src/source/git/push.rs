//! `nmleaks git --pre-receive`: push protection on a git server.
//!
//! A `pre-receive` hook reads one `old new ref` line per updated ref on standard input, while
//! the pushed objects sit in git's quarantine directory (`GIT_OBJECT_DIRECTORY`, with the
//! repository's own objects in `GIT_ALTERNATE_OBJECT_DIRECTORIES`). This module reads those
//! lines, opens the object store the hook environment names, and works out what the push
//! adds: the commits reachable from the new tips that no existing ref reaches (so a new
//! branch, a force-push and a tag are all "the new commits"; a deleted ref adds nothing), and
//! the annotated tags it creates. The commits are then scanned like a range ([`super::range`]);
//! the tags' messages here. Deciding to reject, and the audited bypass, are the caller's.

use std::io::BufRead;
use std::path::PathBuf;

use crossbeam_channel::Sender;
use git2::{Oid, Repository};

use super::graph;
use super::objects::{self, Kind};
use super::range::RangeScan;
use super::store::{Check, Reader, Store};
use super::{GitError, OidSet};
use crate::finding::Origin;
use crate::scan::Scanner;
use crate::source::{Event, Problem};

/// At most this many ref updates are read from one push (git sends one line per ref).
pub const MAX_UPDATES: usize = 100_000;

/// A line of the hook's input longer than this is no ref update (two ids, a space each, and
/// a ref name).
const MAX_LINE: u64 = 8192;

/// How deep a chain of tags pointing at tags is followed.
const MAX_TAG_DEPTH: usize = 16;

/// One line of a pre-receive hook's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The ref's value before the push (zero: the push creates it).
    pub old: Oid,
    /// Its value after (zero: the push deletes it).
    pub new: Oid,
    /// The ref, as git names it (`refs/heads/main`).
    pub name: String,
}

/// Reads `old new ref` lines (git's pre-receive input).
///
/// # Errors
/// A line that is not two ids and a ref name, or more than [`MAX_UPDATES`] lines: the input
/// is not a hook's, and scanning part of a push would be a false all-clear.
pub fn read_updates(input: impl BufRead) -> Result<Vec<RefUpdate>, GitError> {
    let bad = |n: usize, why: &str| GitError::Git {
        context: "--pre-receive".to_string(),
        message: format!(
            "line {n} of standard input is not `old-id new-id ref` as git gives a pre-receive \
             hook: {why}"
        ),
    };
    let mut updates = Vec::new();
    let mut input = input;
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        // Bounded: at most MAX_LINE + 1 bytes are read for one line, whatever comes in.
        let read = std::io::Read::take(&mut input, MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| GitError::Git {
                context: "--pre-receive: cannot read standard input".to_string(),
                message: crate::sanitize::text(&e.to_string()),
            })?;
        if read == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if read as u64 > MAX_LINE {
            return Err(bad(n, "it is too long"));
        }
        let text = String::from_utf8_lossy(&line);
        let line = text.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if updates.len() == MAX_UPDATES {
            return Err(bad(n, "more ref updates than nmleaks reads from one push"));
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad(n, "too few fields"));
        };
        let id = |s: &str| {
            (s.len() == 40)
                .then(|| Oid::from_str(s).ok())
                .flatten()
                .ok_or_else(|| bad(n, "an id is not 40 hex digits"))
        };
        updates.push(RefUpdate {
            old: id(old)?,
            new: id(new)?,
            name: crate::sanitize::text(name),
        });
    }
    Ok(updates)
}

/// What a push adds, resolved: its new commits (scanned as a range) and new tags.
pub struct PushScan {
    /// The new commits, in a form [`super::range::range`] scans.
    pub range: RangeScan,
    /// Annotated tags the push creates or moves: `(tag object, ref name)`.
    pub tags: Vec<(Oid, String)>,
    /// Blobs a pushed ref names directly (a tag of a blob): `(blob, ref name)`.
    pub blobs: Vec<(Oid, String)>,
    /// What could not be worked out, one sentence each (reported as errors).
    pub problems: Vec<String>,
}

impl std::fmt::Debug for PushScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushScan")
            .field("commits", &self.range.commits().len())
            .field("tags", &self.tags)
            .field("problems", &self.problems)
            .finish_non_exhaustive()
    }
}

/// The object directories a hook runs with: the quarantine (`GIT_OBJECT_DIRECTORY`) first,
/// then `GIT_ALTERNATE_OBJECT_DIRECTORIES` (the repository's own objects among them). Empty
/// outside a hook: the repository's own directories are used then.
#[must_use]
pub fn hook_object_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("GIT_OBJECT_DIRECTORY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .collect();
    if let Some(alt) = std::env::var_os("GIT_ALTERNATE_OBJECT_DIRECTORIES") {
        dirs.extend(std::env::split_paths(&alt).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs
}

/// Works out what `updates` add to `repo`: commits reachable from the new values and from no
/// ref the repository has now (git has not moved any ref yet while a pre-receive hook runs).
///
/// # Errors
/// None today beyond what [`GitError`] carries for a future unreadable ref list; objects that
/// cannot be read are [`PushScan::problems`].
pub fn resolve_push(repo: &Repository, updates: &[RefUpdate]) -> Result<PushScan, GitError> {
    let store = Store::open_with(repo, &hook_object_dirs(), Check::Layout);
    let mut reader = store.reader();
    let mut problems = Vec::new();
    let (mut to, mut tags, mut blobs) = (Vec::new(), Vec::new(), Vec::new());
    for u in updates.iter().filter(|u| !u.new.is_zero()) {
        match peel(&mut reader, u.new, &mut tags, &u.name) {
            Ok(Peeled::Commit(c)) => to.push(c),
            Ok(Peeled::Blob(b)) => blobs.push((b, u.name.clone())),
            Ok(Peeled::Tree(t)) => problems.push(format!(
                "{}: the push points it at tree {t}, which nmleaks does not scan on its own; \
                 the push was not fully checked",
                u.name
            )),
            Err(e) => problems.push(format!(
                "{}: {}; the push was not fully checked",
                u.name,
                e.trim_end_matches("; it was not scanned")
            )),
        }
    }
    // Every ref as it is before the push: what they reach is in the repository already.
    let mut hide = Vec::new();
    let mut seen = OidSet::default();
    let refs = repo
        .references()
        .map_err(|e| GitError::git("cannot list the repository's refs", &e))?;
    for r in refs.flatten() {
        let Some(id) = r.resolve().ok().and_then(|r| r.target()) else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        // A ref that does not lead to a commit (a tag of a blob) hides nothing.
        if let Ok(Peeled::Commit(c)) = peel(&mut reader, id, &mut Vec::new(), "") {
            hide.push(c);
        }
    }
    drop(reader);
    let mut commits = graph::CommitReader::new(&store, graph::shallow_commits(repo));
    let (order, failed) = graph::range(&mut commits, &to, &hide);
    drop(commits);
    problems.extend(failed.iter().map(|e| {
        format!(
            "{}; the history behind it was not walked",
            objects::unreadable(e).trim_end_matches("; it was not scanned")
        )
    }));
    Ok(PushScan {
        range: RangeScan::from_parts(store, order, Vec::new()),
        tags,
        blobs,
        problems,
    })
}

enum Peeled {
    Commit(Oid),
    Blob(Oid),
    Tree(Oid),
}

/// Follows `id` through annotated tags (each pushed to `tags` with `name`) to what it names.
fn peel(
    reader: &mut Reader<'_>,
    mut id: Oid,
    tags: &mut Vec<(Oid, String)>,
    name: &str,
) -> Result<Peeled, String> {
    for _ in 0..MAX_TAG_DEPTH {
        match reader.read(id) {
            Ok((Kind::Commit, _)) => return Ok(Peeled::Commit(id)),
            Ok((Kind::Blob, _)) => return Ok(Peeled::Blob(id)),
            Ok((Kind::Tree, _)) => return Ok(Peeled::Tree(id)),
            Ok((Kind::Tag, data)) => {
                tags.push((id, name.to_string()));
                id = objects::tag_target(&data)
                    .0
                    .ok_or_else(|| format!("tag {id} names no object"))?;
            }
            Err(e) => return Err(objects::unreadable(&e)),
        }
    }
    Err(format!("tag {id} is more than {MAX_TAG_DEPTH} tags deep"))
}

/// Scans everything `push` adds: its commits as a range, its tags' messages, the blobs its
/// refs name.
pub fn scan(
    repo: &Repository,
    push: &PushScan,
    opts: &super::history::Options,
    matcher: &crate::matcher::Matcher,
    stats: &crate::source::Stats,
    tx: &Sender<Event>,
) {
    let mut scanner = Scanner::new(matcher, opts.show_secrets).decoding(opts.decoding);
    scan_extras(push, &mut scanner, tx);
    super::range::range(repo, &push.range, opts, matcher, stats, tx);
}

/// Scans the tag objects and blobs a push adds (its commits go through the range scan).
fn scan_extras(push: &PushScan, scanner: &mut Scanner<'_>, tx: &Sender<Event>) {
    for p in &push.problems {
        let _ = tx.send(Problem::error(p.clone()));
    }
    let mut reader = push.range.store().reader();
    let mut out = Vec::new();
    for (id, _name) in &push.tags {
        let Ok((Kind::Tag, data)) = reader.read(*id) else {
            continue;
        };
        let origin = Origin::Git(super::tag_origin(*id, &data));
        scanner.scan_bytes(&data, &origin, &mut out);
        crate::source::send_scan_problems(scanner, &format!("tag {id}"), tx);
    }
    for (id, name) in &push.blobs {
        match reader.read(*id) {
            Ok((_, data)) => {
                let origin = Origin::Git(super::blob_origin(*id, Some(name.clone())));
                scanner.scan_bytes(&data, &origin, &mut out);
                crate::source::send_scan_problems(scanner, &format!("blob {id}"), tx);
            }
            Err(e) => {
                let _ = tx.send(Problem::error(objects::unreadable(&e)));
            }
        }
    }
    if !out.is_empty() {
        let _ = tx.send(Event::Hits(out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_read_as_git_writes_them_and_anything_else_is_refused() {
        let a = "a".repeat(40);
        let z = "0".repeat(40);
        let input = format!("{z} {a} refs/heads/new branch\n{a} {z} refs/tags/v1\n\n");
        let u = read_updates(input.as_bytes()).unwrap();
        assert_eq!(u.len(), 2);
        assert!(u[0].old.is_zero() && u[1].new.is_zero());
        assert_eq!(u[0].name, "refs/heads/new branch");
        for bad in [
            "x y z\n",
            &format!("{a} {a}\n"),
            &format!("{a} {} r\n", "b".repeat(39)),
        ] {
            assert!(read_updates(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    /// An endless line (a hook fed something that is not git's input) is refused after a few
    /// kilobytes, never read whole into memory.
    #[test]
    fn an_endless_line_is_refused_without_reading_it_all() {
        let endless = std::io::repeat(b'a');
        let e = read_updates(std::io::BufReader::new(endless)).unwrap_err();
        assert!(e.to_string().contains("too long"), "{e}");
    }
}
