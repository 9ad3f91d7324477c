//! History: the full audit (`nmleaks git [--all-objects]`) and what a range of commits
//! introduces (`--range A..B`, `--since-commit A`).
//!
//! The audit runs in two phases, because almost no blob holds a key:
//!
//! 1. **Scan.** Every object in the object database is read once ([`super::objects`]), in
//!    parallel: blobs and commit and tag messages go through the matcher; in a partial clone,
//!    trees are checked for entries the database lacks (they are counted and reported).
//!    Nothing is known yet about commits or paths.
//! 2. **Map**, only if something was found. Commits reachable from every ref (branches,
//!    remote-tracking branches, tags, `refs/stash` and its parents, notes, HEAD; with
//!    `--all-objects` also every commit no ref reaches) are walked oldest first in topological
//!    order. Each tree is read once and remembers which key-holding blobs it contains and at
//!    which paths, so unchanged subtrees cost nothing. A location is reported where a commit
//!    introduces a key-holding blob at a path (no parent has that blob there), which is what
//!    `git log` shows. Each key also gets its [`Provenance`].
//!
//! Keys in objects no ref reaches are dropped unless `--all-objects`. A range scan reads only
//! the commits in the range, diffs each against its parents and scans the blobs they introduce.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Mutex;

use crossbeam_channel::Sender;
use git2::{Oid, Repository, Sort};

use super::objects::{self, Kind, Odb, Visitor};
use super::{GitError, OidMap, OidSet, commit_origin, display_path, message_start};
use crate::finding::{GitKind, GitOrigin, Hit, Origin, Provenance, Secret};
use crate::matcher::Matcher;
use crate::scan::Scanner;
use crate::source::{Event, Problem, Stats};

/// How to scan history.
#[derive(Debug, Clone)]
pub struct Options {
    /// Also report keys in objects that no ref reaches.
    pub all_objects: bool,
    /// Worker threads.
    pub threads: usize,
    /// Keep keys in snippets.
    pub show_secrets: bool,
}

/// The origin hits carry between scanning a blob and learning which commits hold it.
const UNMAPPED: Origin = Origin::Stdin;

/// Hits sent to the collector per event.
const BATCH: usize = 1024;

/// What phase 1 found, filled by all workers.
#[derive(Debug, Default)]
struct Found {
    /// Blobs holding a key, with their hits (origin [`UNMAPPED`]).
    blobs: Mutex<OidMap<Vec<Hit>>>,
    /// Commit and tag messages holding a key.
    messages: Mutex<OidMap<(Kind, Vec<Hit>)>>,
    /// Every commit in the database (for `--all-objects`).
    commits: Mutex<Vec<Oid>>,
    /// Objects that trees name but the database lacks.
    missing: Mutex<OidSet>,
}

/// One worker's phase-1 state: a scanner and buffers flushed to [`Found`] when dropped.
struct Worker<'a> {
    scanner: Scanner<'a>,
    found: &'a Found,
    odb: Option<&'a Odb>,
    stats: &'a Stats,
    hits: Vec<Hit>,
    commits: Vec<Oid>,
    missing: OidSet,
}

impl<'a> Worker<'a> {
    fn new(
        matcher: &'a Matcher,
        show_secrets: bool,
        found: &'a Found,
        odb: Option<&'a Odb>,
        stats: &'a Stats,
    ) -> Worker<'a> {
        Worker {
            scanner: Scanner::new(matcher, show_secrets),
            found,
            odb,
            stats,
            hits: Vec::new(),
            commits: Vec::new(),
            missing: OidSet::default(),
        }
    }
}

impl Visitor for Worker<'_> {
    fn visit(&mut self, kind: Kind, id: Oid, data: &[u8]) {
        match kind {
            Kind::Blob => {
                self.scanner.scan_bytes(data, &UNMAPPED, &mut self.hits);
                self.stats.add(data.len() as u64);
                if !self.hits.is_empty() {
                    let hits = std::mem::take(&mut self.hits);
                    lock(&self.found.blobs).insert(id, hits);
                }
            }
            Kind::Commit | Kind::Tag => {
                if kind == Kind::Commit {
                    self.commits.push(id);
                }
                let message = &data[message_start(data)..];
                self.scanner.scan_bytes(message, &UNMAPPED, &mut self.hits);
                if !self.hits.is_empty() {
                    let hits = std::mem::take(&mut self.hits);
                    lock(&self.found.messages).insert(id, (kind, hits));
                }
            }
            Kind::Tree => {
                if let Some(odb) = self.odb {
                    for (mode, _, entry) in objects::tree_entries(data) {
                        if !objects::is_gitlink_mode(mode) && !odb.contains(&entry) {
                            self.missing.insert(entry);
                        }
                    }
                }
            }
        }
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        lock(&self.found.commits).append(&mut self.commits);
        lock(&self.found.missing).extend(self.missing.drain());
    }
}

/// Locks a mutex, taking the data even if another worker panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The full audit: every object scanned once, keys mapped to the commits that introduced
/// them, each with its provenance.
pub fn audit(
    repo: &Repository,
    opts: &Options,
    matcher: &Matcher,
    stats: &Stats,
    tx: &Sender<Event>,
) {
    if repo.is_shallow() {
        let _ = tx.send(Problem::warning(
            "shallow clone: history is cut off at the shallow boundary; keys in older commits \
             were not scanned (run `git fetch --unshallow` to audit everything)"
                .to_string(),
        ));
    }
    let odb = match Odb::open(repo) {
        Ok(odb) => odb,
        Err(e) => {
            let _ = tx.send(Problem::error(e.to_string()));
            return;
        }
    };
    let found = Found::default();
    // Only a partial clone lacks objects by design, and there every tree is checked so the
    // blobs that were never fetched are counted. Elsewhere a tree that no ref reaches may
    // name objects long pruned, which is no reason to fail; a missing object that the scan
    // needs is reported when reading it fails.
    let check = super::is_partial_clone(repo).then_some(&odb);
    let make = || Worker::new(matcher, opts.show_secrets, &found, check, stats);
    odb.read_all(opts.threads, &make, tx);
    let Found {
        blobs,
        messages,
        commits,
        missing,
    } = found;
    report_missing(&into_inner(missing), tx);
    let (blobs, messages) = (into_inner(blobs), into_inner(messages));
    if blobs.is_empty() && messages.is_empty() {
        return;
    }
    let mut commits = into_inner(commits);
    commits.sort_unstable();
    Mapper::new(repo, &blobs, &messages, tx).run(opts.all_objects, &commits);
}

/// A mutex's data, even if a worker panicked while holding it.
fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One problem for all missing objects: how many, and a few ids to look up.
fn report_missing(missing: &OidSet, tx: &Sender<Event>) {
    if missing.is_empty() {
        return;
    }
    let mut ids: Vec<String> = missing.iter().map(Oid::to_string).collect();
    ids.sort_unstable();
    let shown = ids.len().min(5);
    let more = if ids.len() > shown { ", …" } else { "" };
    let (n, what) = match ids.len() {
        1 => (1, "object named by a tree is"),
        n => (n, "objects named by trees are"),
    };
    let _ = tx.send(Problem::error(format!(
        "{n} {what} missing (this is a partial clone: they were never fetched) and not \
         scanned: {}{more}",
        ids[..shown].join(", ")
    )));
}

/// Key-holding blobs under one tree: `(path, blob)`, paths relative to that tree.
type Entries = Rc<[(String, Oid)]>;

/// What a key has been seen in, while walking.
#[derive(Debug, Default)]
struct KeyStats {
    first: Option<(Oid, i64)>,
    commits: u64,
    at_head: bool,
}

/// Where the walk starts: what each ref points at, peeled.
#[derive(Debug, Default)]
struct Roots {
    commits: Vec<Oid>,
    remote_commits: Vec<Oid>,
    tags: OidSet,
    trees: Vec<(String, Oid)>,
    blobs: Vec<(String, Oid)>,
    head: Option<Oid>,
}

/// Phase 2: from key-holding blobs and messages to commits, paths and provenance.
struct Mapper<'a> {
    repo: &'a Repository,
    odb: Option<git2::Odb<'a>>,
    blobs: &'a OidMap<Vec<Hit>>,
    messages: &'a OidMap<(Kind, Vec<Hit>)>,
    tx: &'a Sender<Event>,
    memo: OidMap<Entries>,
    empty: Entries,
    keys: BTreeMap<Secret, KeyStats>,
    out: Vec<Hit>,
}

impl<'a> Mapper<'a> {
    fn new(
        repo: &'a Repository,
        blobs: &'a OidMap<Vec<Hit>>,
        messages: &'a OidMap<(Kind, Vec<Hit>)>,
        tx: &'a Sender<Event>,
    ) -> Mapper<'a> {
        Mapper {
            repo,
            odb: repo.odb().ok(),
            blobs,
            messages,
            tx,
            memo: OidMap::default(),
            empty: Rc::from(Vec::new()),
            keys: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    fn problem(&self, message: String) {
        let _ = self.tx.send(Problem::error(message));
    }

    fn emit(&mut self, hits: &[Hit], origin: &GitOrigin) {
        for h in hits {
            let mut h = h.clone();
            h.location.origin = Origin::Git(origin.clone());
            self.out.push(h);
        }
        if self.out.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.out.is_empty() {
            let _ = self.tx.send(Event::Hits(std::mem::take(&mut self.out)));
        }
    }

    /// Reads every ref and peels it to what it finally names.
    fn roots(&self) -> Roots {
        let mut roots = Roots::default();
        let refs = match self.repo.references() {
            Ok(refs) => refs,
            Err(e) => {
                self.problem(format!(
                    "cannot list refs: {}",
                    crate::sanitize::text(e.message())
                ));
                return roots;
            }
        };
        let mut named: Vec<(String, Oid)> = Vec::new();
        for r in refs {
            match r {
                Ok(r) => {
                    let name = crate::sanitize::bytes(r.name_bytes());
                    match r.resolve().ok().and_then(|r| r.target()) {
                        Some(id) => named.push((name, id)),
                        None => self.problem(format!("ref {name} points at nothing, skipped")),
                    }
                }
                Err(e) => self.problem(format!(
                    "cannot read a ref: {}",
                    crate::sanitize::text(e.message())
                )),
            }
        }
        // HEAD, detached or not (when attached, its branch is among the refs as well).
        if let Ok(head) = self.repo.head()
            && let Some(id) = head.target()
        {
            named.push(("HEAD".to_string(), id));
            roots.head = head.peel_to_commit().ok().map(|c| c.id());
        }
        for (name, id) in named {
            self.peel(&name, id, &mut roots);
        }
        roots
    }

    fn peel(&self, name: &str, mut id: Oid, roots: &mut Roots) {
        let remote = name.starts_with("refs/remotes/");
        // Tags may name tags; bound the chain in case of a cycle in a damaged repository.
        for _ in 0..64 {
            let obj = match self.repo.find_object(id, None) {
                Ok(obj) => obj,
                Err(e) => {
                    self.problem(format!(
                        "ref {name}: {}",
                        objects::unreadable(id, &e).replace("object", "target")
                    ));
                    return;
                }
            };
            match obj.kind() {
                Some(git2::ObjectType::Tag) => {
                    roots.tags.insert(id);
                    match obj.as_tag() {
                        Some(tag) => id = tag.target_id(),
                        None => return,
                    }
                }
                Some(git2::ObjectType::Commit) => {
                    roots.commits.push(id);
                    if remote {
                        roots.remote_commits.push(id);
                    }
                    return;
                }
                Some(git2::ObjectType::Tree) => {
                    roots.trees.push((name.to_string(), id));
                    return;
                }
                Some(git2::ObjectType::Blob) => {
                    roots.blobs.push((name.to_string(), id));
                    return;
                }
                _ => return,
            }
        }
    }

    /// The key-holding blobs under `tree`, read once per tree.
    fn entries(&mut self, tree: Oid) -> Entries {
        if let Some(e) = self.memo.get(&tree) {
            return e.clone();
        }
        let data = match self.odb.as_ref().map(|odb| odb.read(tree)) {
            Some(Ok(obj)) => obj.data().to_vec(),
            Some(Err(e)) => {
                self.problem(objects::unreadable(tree, &e));
                Vec::new()
            }
            None => Vec::new(),
        };
        let mut out = Vec::new();
        for (mode, name, id) in objects::tree_entries(&data) {
            if objects::is_gitlink_mode(mode) {
                continue;
            }
            if objects::is_tree_mode(mode) {
                let sub = self.entries(id);
                if !sub.is_empty() {
                    let dir = display_path(name);
                    out.extend(sub.iter().map(|(p, b)| (format!("{dir}/{p}"), *b)));
                }
            } else if self.blobs.contains_key(&id) {
                out.push((display_path(name), id));
            }
        }
        let e: Entries = if out.is_empty() {
            self.empty.clone()
        } else {
            Rc::from(out)
        };
        self.memo.insert(tree, e.clone());
        e
    }

    fn run(&mut self, all_objects: bool, odb_commits: &[Oid]) {
        let roots = self.roots();
        let mut walk = match self.repo.revwalk() {
            Ok(w) => w,
            Err(e) => {
                self.problem(format!(
                    "cannot walk history: {}",
                    crate::sanitize::text(e.message())
                ));
                return;
            }
        };
        let _ = walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME | Sort::REVERSE);
        let mut pushed = OidSet::default();
        let starts = roots.commits.iter().chain(if all_objects {
            odb_commits.iter()
        } else {
            [].iter()
        });
        for &id in starts {
            if pushed.insert(id)
                && let Err(e) = walk.push(id)
            {
                self.problem(format!(
                    "cannot walk from commit {id}: {}",
                    crate::sanitize::text(e.message())
                ));
            }
        }
        let mut order = Vec::new();
        for step in walk {
            match step {
                Ok(id) => order.push(id),
                Err(e) => {
                    self.problem(format!(
                        "history walk stopped early (a commit is missing or damaged): {}",
                        crate::sanitize::text(e.message())
                    ));
                    break;
                }
            }
        }
        // Read the trees newest first: a pack stores the newest version of a tree whole and
        // older ones as deltas against it, so in this order each read applies one delta to a
        // base libgit2 has just cached (oldest first rebuilds long chains again and again).
        for &id in order.iter().rev() {
            if let Ok(c) = self.repo.find_commit(id) {
                self.entries(c.tree_id());
            }
        }
        let mut trees: OidMap<Oid> = OidMap::default();
        let mut reached = OidSet::default();
        for &id in &order {
            self.visit_commit(id, roots.head, &mut trees, &mut reached);
        }
        for (name, tree) in &roots.trees {
            self.visit_tagged_tree(name, *tree, &mut reached);
        }
        for (name, blob) in &roots.blobs {
            if let Some(hits) = self.blobs.get(blob) {
                reached.insert(*blob);
                self.emit(hits, &blob_origin(*blob, Some(name.clone())));
            }
        }
        if all_objects {
            let mut unreached: Vec<Oid> = self
                .blobs
                .keys()
                .filter(|b| !reached.contains(b))
                .copied()
                .collect();
            unreached.sort_unstable();
            for blob in unreached {
                self.emit(&self.blobs[&blob], &blob_origin(blob, None));
            }
        }
        self.tag_messages(all_objects, &roots.tags);
        self.flush();
        self.provenance(&roots.remote_commits);
    }

    fn visit_commit(
        &mut self,
        id: Oid,
        head: Option<Oid>,
        trees: &mut OidMap<Oid>,
        reached: &mut OidSet,
    ) {
        let commit = match self.repo.find_commit(id) {
            Ok(c) => c,
            Err(e) => {
                self.problem(objects::unreadable(id, &e));
                return;
            }
        };
        let tree = commit.tree_id();
        trees.insert(id, tree);
        let here = self.entries(tree);
        let mut parents = Vec::new();
        for p in commit.parent_ids() {
            let ptree = trees.get(&p).copied().or_else(|| {
                // Not walked (a shallow boundary): read it if it is there at all.
                self.repo.find_commit(p).ok().map(|c| c.tree_id())
            });
            if let Some(t) = ptree {
                parents.push(self.entries(t));
            }
        }
        let mut holds: Vec<Secret> = Vec::new();
        for (path, blob) in here.iter() {
            reached.insert(*blob);
            let hits = &self.blobs[blob];
            holds.extend(hits.iter().map(|h| h.secret.clone()));
            let introduced = parents
                .iter()
                .all(|p| !p.iter().any(|(pp, pb)| pp == path && pb == blob));
            if introduced {
                self.emit(hits, &commit_origin(&commit, Some(path.clone())));
            }
        }
        if let Some((Kind::Commit, hits)) = self.messages.get(&id) {
            holds.extend(hits.iter().map(|h| h.secret.clone()));
            self.emit(hits, &commit_origin(&commit, None));
        }
        holds.sort_unstable();
        holds.dedup();
        let time = commit.time().seconds();
        for secret in holds {
            let k = self.keys.entry(secret).or_default();
            k.commits += 1;
            k.first.get_or_insert((id, time));
            k.at_head |= head == Some(id);
        }
    }

    fn visit_tagged_tree(&mut self, name: &str, tree: Oid, reached: &mut OidSet) {
        let here = self.entries(tree);
        for (path, blob) in here.iter() {
            reached.insert(*blob);
            let origin = GitOrigin {
                time: 0,
                commit: tree.to_string(),
                path: Some(format!("{}:{path}", crate::sanitize::text(name))),
                author: String::new(),
                email: String::new(),
                staged: false,
                kind: GitKind::File,
            };
            self.emit(&self.blobs[blob], &origin);
        }
    }

    fn tag_messages(&mut self, all_objects: bool, reachable: &OidSet) {
        let mut tags: Vec<Oid> = self
            .messages
            .iter()
            .filter(|(id, (kind, _))| {
                *kind == Kind::Tag && (all_objects || reachable.contains(*id))
            })
            .map(|(id, _)| *id)
            .collect();
        tags.sort_unstable();
        for id in tags {
            let (time, author, email) = self
                .repo
                .find_tag(id)
                .ok()
                .and_then(|t| {
                    t.tagger().map(|s| {
                        (
                            s.when().seconds(),
                            String::from_utf8_lossy(s.name_bytes()).into_owned(),
                            String::from_utf8_lossy(s.email_bytes()).into_owned(),
                        )
                    })
                })
                .unwrap_or_default();
            let origin = GitOrigin {
                time,
                commit: id.to_string(),
                path: None,
                author,
                email,
                staged: false,
                kind: GitKind::TagMessage,
            };
            self.emit(&self.messages[&id].1, &origin);
        }
    }

    /// Sends each key's provenance; computes which commits remote-tracking refs reach only
    /// if some key has a first commit.
    fn provenance(&mut self, remote_commits: &[Oid]) {
        let mut remote = OidSet::default();
        if self.keys.values().any(|k| k.first.is_some()) && !remote_commits.is_empty() {
            remote = self.reachable_from(remote_commits);
        }
        // Keys seen only outside commits (tag messages, unreachable blobs) have no first commit.
        let mut secrets: Vec<Secret> = self
            .blobs
            .values()
            .flatten()
            .map(|h| h.secret.clone())
            .collect();
        secrets.extend(
            self.messages
                .values()
                .flat_map(|(_, h)| h.iter().map(|h| h.secret.clone())),
        );
        secrets.sort_unstable();
        secrets.dedup();
        for secret in secrets {
            let k = self.keys.remove(&secret).unwrap_or_default();
            let provenance = Provenance {
                first_commit: k.first.map(|(id, _)| id.to_string()),
                first_commit_time: k.first.map(|(_, t)| t),
                commits: k.commits,
                at_head: k.at_head,
                pushed: k.first.is_some_and(|(id, _)| remote.contains(&id)),
            };
            let _ = self.tx.send(Event::Provenance(secret, provenance));
        }
    }

    fn reachable_from(&self, starts: &[Oid]) -> OidSet {
        let mut set = OidSet::default();
        let Ok(mut walk) = self.repo.revwalk() else {
            return set;
        };
        for &id in starts {
            let _ = walk.push(id);
        }
        set.extend(walk.map_while(Result::ok));
        set
    }
}

/// The origin of a blob no commit holds (or that a tag names directly).
fn blob_origin(blob: Oid, tag: Option<String>) -> GitOrigin {
    GitOrigin {
        time: 0,
        commit: blob.to_string(),
        path: tag,
        author: String::new(),
        email: String::new(),
        staged: false,
        kind: GitKind::Blob,
    }
}

/// The commits of a range, oldest first: what `git log A..B` lists.
///
/// # Errors
/// A spec that does not resolve, or is not a range.
pub fn resolve_range(repo: &Repository, spec: &str) -> Result<Vec<Oid>, GitError> {
    let shown = crate::sanitize::text(spec);
    let rs = repo.revparse(spec).map_err(|e| GitError::BadRevision {
        spec: shown.clone(),
        message: crate::sanitize::text(e.message()),
    })?;
    let (Some(from), Some(to)) = (rs.from(), rs.to()) else {
        return Err(GitError::NotARange { spec: shown });
    };
    if !rs.mode().contains(git2::RevparseMode::RANGE) {
        return Err(GitError::NotARange { spec: shown });
    }
    let walk_err = |e: git2::Error| GitError::BadRevision {
        spec: shown.clone(),
        message: crate::sanitize::text(e.message()),
    };
    let mut walk = repo.revwalk().map_err(walk_err)?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .map_err(walk_err)?;
    walk.push(to.id()).map_err(walk_err)?;
    if rs.mode().contains(git2::RevparseMode::MERGE_BASE) {
        // A...B: commits on either side since they diverged.
        walk.push(from.id()).map_err(walk_err)?;
        if let Ok(base) = repo.merge_base(from.id(), to.id()) {
            walk.hide(base).map_err(walk_err)?;
        }
    } else {
        walk.hide(from.id()).map_err(walk_err)?;
    }
    walk.collect::<Result<Vec<_>, _>>().map_err(walk_err)
}

/// Scans what `commits` (from [`resolve_range`]) introduce: each blob that a commit adds or
/// changes relative to all its parents, and each commit message.
pub fn range(
    repo: &Repository,
    commits: &[Oid],
    opts: &Options,
    matcher: &Matcher,
    stats: &Stats,
    tx: &Sender<Event>,
) {
    let odb = match repo.odb() {
        Ok(odb) => odb,
        Err(e) => {
            let _ = tx.send(Problem::error(
                GitError::git("cannot open the object database", &e).to_string(),
            ));
            return;
        }
    };
    let mut scanner = Scanner::new(matcher, opts.show_secrets);
    let mut introduced: Vec<(Oid, String, Oid)> = Vec::new();
    let mut out = Vec::new();
    for &id in commits {
        let commit = match repo.find_commit(id) {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Problem::error(objects::unreadable(id, &e)));
                continue;
            }
        };
        let mut hits = Vec::new();
        let raw = commit.message_raw_bytes();
        scanner.scan_bytes(raw, &UNMAPPED, &mut hits);
        let origin = Origin::Git(commit_origin(&commit, None));
        out.extend(hits.into_iter().map(|mut h| {
            h.location.origin = origin.clone();
            h
        }));
        match introduced_by(&odb, &commit) {
            Ok(paths) => introduced.extend(paths.into_iter().map(|(p, b)| (id, p, b))),
            Err(e) => {
                let _ = tx.send(Problem::error(format!(
                    "commit {id}: cannot diff against its parents: {}",
                    crate::sanitize::text(e.message())
                )));
            }
        }
    }
    if !out.is_empty() {
        let _ = tx.send(Event::Hits(out));
    }
    let mut blobs: Vec<Oid> = introduced.iter().map(|(_, _, b)| *b).collect();
    blobs.sort_unstable();
    blobs.dedup();
    let found = Found::default();
    let make = || Worker::new(matcher, opts.show_secrets, &found, None, stats);
    objects::read_ids(repo.path(), &blobs, opts.threads, &make, tx);
    let holding = into_inner(found.blobs);
    if holding.is_empty() {
        return;
    }
    let mut out = Vec::new();
    for (commit, path, blob) in introduced {
        let Some(hits) = holding.get(&blob) else {
            continue;
        };
        let Ok(c) = repo.find_commit(commit) else {
            continue;
        };
        let origin = Origin::Git(commit_origin(&c, Some(path)));
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

/// `(path, blob)` that `commit` adds or changes relative to every parent (all of a root
/// commit's files). Submodule entries and deletions are not blobs of this repository.
fn introduced_by(
    odb: &git2::Odb<'_>,
    commit: &git2::Commit<'_>,
) -> Result<Vec<(String, Oid)>, git2::Error> {
    let tree = commit.tree_id();
    let parents: Vec<Option<Oid>> = if commit.parent_count() == 0 {
        vec![None]
    } else {
        commit.parents().map(|p| Some(p.tree_id())).collect()
    };
    let mut per_parent: Vec<Vec<(String, Oid)>> = Vec::new();
    for parent in parents {
        let mut changed = Vec::new();
        changed_blobs(odb, parent, tree, "", &mut changed)?;
        changed.sort_unstable();
        per_parent.push(changed);
    }
    let mut first = per_parent.swap_remove(0);
    first.retain(|e| {
        per_parent
            .iter()
            .all(|other| other.binary_search(e).is_ok())
    });
    Ok(first)
}

/// The blobs in tree `new` that tree `old` does not hold at the same path, with their paths
/// under `prefix`. Subtrees with the same id are skipped unread: the cost follows what
/// changed, not the size of the tree.
fn changed_blobs(
    odb: &git2::Odb<'_>,
    old: Option<Oid>,
    new: Oid,
    prefix: &str,
    out: &mut Vec<(String, Oid)>,
) -> Result<(), git2::Error> {
    if old == Some(new) {
        return Ok(());
    }
    let new_obj = odb.read(new)?;
    let old_obj = old.map(|o| odb.read(o)).transpose()?;
    let before: std::collections::HashMap<&[u8], (bool, Oid)> = old_obj
        .as_ref()
        .map(|o| {
            objects::tree_entries(o.data())
                .map(|(mode, name, id)| (name, (objects::is_tree_mode(mode), id)))
                .collect()
        })
        .unwrap_or_default();
    for (mode, name, id) in objects::tree_entries(new_obj.data()) {
        if objects::is_gitlink_mode(mode) {
            continue;
        }
        let prev = before.get(name).copied();
        let path = if prefix.is_empty() {
            display_path(name)
        } else {
            format!("{prefix}/{}", display_path(name))
        };
        if objects::is_tree_mode(mode) {
            let prev_tree = prev.filter(|(is_tree, _)| *is_tree).map(|(_, id)| id);
            changed_blobs(odb, prev_tree, id, &path, out)?;
        } else if prev != Some((false, id)) {
            out.push((path, id));
        }
    }
    Ok(())
}
