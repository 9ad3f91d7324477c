//! History: the full audit (`nmleaks git [--all-objects]`). What a range of commits
//! introduces (`--range A..B`, `--since-commit A`) is [`super::range`]'s, which shares this
//! file's phase-1 worker.
//!
//! The audit runs in three steps, because almost no blob holds a key:
//!
//! 1. **Scan.** Every object in the object database is read once ([`super::objects`]), in
//!    parallel: blobs and commit and tag messages go through the matcher; each commit's tree,
//!    parents and time are kept; in a partial clone, trees are checked for entries the database
//!    lacks (they are counted and reported). A pack that cannot be used and an object that
//!    cannot be read are reported, and the rest is still scanned.
//! 2. **Walk.** From every ref (branches, remote-tracking branches, tags, `refs/stash` and its
//!    parents, notes, HEAD; with `--all-objects` also every commit) the commits kept in step 1
//!    are walked (`graph.rs`), each ref as far as its history can be read: a missing or
//!    damaged parent ends that path only, and is reported. This always runs, so a ref whose
//!    commit no pack or loose file holds is an error even when no key was found. Submodule
//!    entries (gitlinks) at the refs' tips are named in one warning: their commits live in
//!    other repositories and were not audited.
//! 3. **Map**, only if something was found. The walked commits are visited oldest first in
//!    topological order. Each tree is read once and remembers which key-holding blobs it
//!    contains and at which paths, so unchanged subtrees cost nothing. A location is reported
//!    where a commit introduces a key-holding blob at a path (no parent has that blob there),
//!    which is what `git log` shows. Each key also gets its [`Provenance`].
//!
//! Keys in objects no ref reaches are dropped unless `--all-objects`, or unless history is
//! damaged: then a walk may have missed the commits that hold them, so a blob no walk placed
//! is reported with a location of its own ("location unknown: history is damaged", see
//! [`GitKind::Unplaced`]) and a message key with its commit. A range scan reads only the
//! commits in the range, diffs each against its parents and scans the blobs they introduce.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Sender;
use git2::{Oid, Repository};

use super::graph::{self, CommitRec, Commits};
use super::objects::{self, Kind, Odb, Visitor};
use super::store::{Check, ReadError, Reader, Store};
use super::{OidMap, OidSet, commit_origin, display_path, message_start};
use crate::finding::{GitKind, GitOrigin, Hit, Limits, Origin, Part, Provenance, Secret};
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
    /// What a blob's hits are compacted to while they wait for the blob's paths.
    pub limits: Limits,
}

/// The origin hits carry between scanning a blob and learning which commits hold it.
pub(super) const UNMAPPED: Origin = Origin::Stdin;

/// Hits sent to the collector per event.
pub(super) const BATCH: usize = 1024;

/// Submodule paths named in the warning; the rest are counted.
const SHOWN_SUBMODULES: usize = 10;

/// What phase 1 found, filled by all workers.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Blobs holding a key, with their hits (origin [`UNMAPPED`]).
    pub(super) blobs: Mutex<OidMap<Vec<Hit>>>,
    /// Commit and tag messages holding a key.
    messages: Mutex<OidMap<(Kind, Vec<Hit>)>>,
    /// Every commit in the database.
    commits: Mutex<Commits>,
    /// Objects that trees name but the database lacks.
    missing: Mutex<OidSet>,
    /// Some tree holds a submodule entry.
    gitlinks: AtomicBool,
    /// Tree entries whose names hold a key: `(tree, entry name, hits)` (part [`Part::Path`]).
    names: Mutex<Vec<NamedEntry>>,
    /// Keys left out of hit-dense blobs, `(digest, places)`, for the collector to count.
    pub(super) dropped: Mutex<Vec<([u8; 32], u64)>>,
}

/// A tree entry whose name holds a key: `(tree, entry name, hits)`.
type NamedEntry = (Oid, Vec<u8>, Vec<Hit>);

/// One worker's phase-1 state: a scanner and buffers flushed to [`Found`] when dropped.
pub(super) struct Worker<'a> {
    scanner: Scanner<'a>,
    limits: Limits,
    found: &'a Found,
    odb: Option<&'a Odb<'a>>,
    shallow: &'a OidSet,
    stats: &'a Stats,
    hits: Vec<Hit>,
    commits: Vec<(Oid, CommitRec)>,
    missing: OidSet,
    gitlinks: bool,
}

impl<'a> Worker<'a> {
    pub(super) fn new(
        matcher: &'a Matcher,
        opts: &Options,
        found: &'a Found,
        odb: Option<&'a Odb<'a>>,
        shallow: &'a OidSet,
        stats: &'a Stats,
    ) -> Worker<'a> {
        Worker {
            scanner: Scanner::new(matcher, opts.show_secrets),
            limits: opts.limits,
            found,
            odb,
            shallow,
            stats,
            hits: Vec::new(),
            commits: Vec::new(),
            missing: OidSet::default(),
            gitlinks: false,
        }
    }
}

impl Visitor for Worker<'_> {
    fn visit(&mut self, kind: Kind, id: Oid, data: &[u8]) {
        match kind {
            Kind::Blob => {
                self.scanner.scan_bytes(data, &UNMAPPED, &mut self.hits);
                self.stats.add(data.len() as u64);
                if self.hits.len() > self.limits.max_locations {
                    // A hit-dense blob: hold what the report can list, count the rest.
                    let dropped = crate::finding::compact_hits(&mut self.hits, self.limits);
                    if !dropped.is_empty() {
                        lock(&self.found.dropped).extend(dropped);
                    }
                }
                if !self.hits.is_empty() {
                    let hits = std::mem::take(&mut self.hits);
                    lock(&self.found.blobs).insert(id, hits);
                }
            }
            Kind::Commit | Kind::Tag => {
                if kind == Kind::Commit {
                    let shallow = self.shallow.contains(&id);
                    self.commits.push((id, CommitRec::parse(data, shallow)));
                }
                let start = message_start(data);
                scan_signatures(&mut self.scanner, &data[..start], &mut self.hits);
                let message = &data[start..];
                self.scanner.scan_bytes(message, &UNMAPPED, &mut self.hits);
                if !self.hits.is_empty() {
                    let hits = std::mem::take(&mut self.hits);
                    lock(&self.found.messages).insert(id, (kind, hits));
                }
            }
            Kind::Tree => {
                if self.scanner.holds_key(data) {
                    for (_, name, _) in objects::tree_entries(data) {
                        let mut hits = Vec::new();
                        self.scanner
                            .scan_name(name, 0, &UNMAPPED, Part::Path, &mut hits);
                        if !hits.is_empty() {
                            lock(&self.found.names).push((id, name.to_vec(), hits));
                        }
                    }
                }
                // A cheap search first: the mode of a gitlink entry.
                if !self.gitlinks
                    && memchr::memmem::find(data, b"160000 ").is_some()
                    && objects::tree_entries(data)
                        .any(|(mode, _, _)| objects::is_gitlink_mode(mode))
                {
                    self.gitlinks = true;
                }
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
        lock(&self.found.commits).extend(self.commits.drain(..));
        lock(&self.found.missing).extend(self.missing.drain());
        if self.gitlinks {
            self.found.gitlinks.store(true, Ordering::Relaxed);
        }
    }
}

/// Scans the author, committer and tagger lines of a commit's or tag's headers (names and
/// emails): a key there is a finding of [`Part::Author`].
pub(super) fn scan_signatures(scanner: &mut Scanner<'_>, headers: &[u8], out: &mut Vec<Hit>) {
    for line in headers.split(|&b| b == b'\n') {
        let value = [&b"author "[..], b"committer ", b"tagger "]
            .iter()
            .find_map(|p| line.strip_prefix(*p));
        if let Some(value) = value {
            scanner.scan_name(value, 0, &UNMAPPED, Part::Author, out);
        }
    }
}

/// Locks a mutex, taking the data even if another worker panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The full audit: every object scanned once, every ref's history walked around damage, keys
/// mapped to the commits that introduced them, each with its provenance.
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
    let store = Store::open(repo, Check::Full);
    for p in store.problems() {
        let _ = tx.send(Problem::error(p.clone()));
    }
    for n in store.notes() {
        let _ = tx.send(Problem::warning(n.clone()));
    }
    let odb = Odb::open(&store);
    let shallow = graph::shallow_commits(repo);
    let found = Found::default();
    // Only a partial clone lacks objects by design, and there every tree is checked so the
    // blobs that were never fetched are counted. Elsewhere a tree that no ref reaches may
    // name objects long pruned, which is no reason to fail; a missing object that the scan
    // needs is reported when reading it fails.
    let partial = super::is_partial_clone(repo);
    let check = partial.then_some(&odb);
    let make = || Worker::new(matcher, opts, &found, check, &shallow, stats);
    let unreadable = odb.read_all(opts.threads, &make, tx);
    let Found {
        blobs,
        messages,
        commits,
        missing,
        gitlinks,
        names,
        dropped,
    } = found;
    let dropped = into_inner(dropped);
    if !dropped.is_empty() {
        let _ = tx.send(Event::Dropped(dropped));
    }
    let commits = into_inner(commits);
    let mut missing = into_inner(missing);
    let (mut blobs, messages) = (into_inner(blobs), into_inner(messages));
    let named = place_names(into_inner(names), &mut blobs);
    ref_names(repo, matcher, opts.show_secrets, tx);
    let mut mapper = Mapper {
        repo,
        reader: store.reader(),
        odb: &odb,
        commits: &commits,
        blobs: &blobs,
        messages: &messages,
        unreadable: &unreadable,
        tx,
        damaged: !store.problems().is_empty() || !unreadable.is_empty(),
        reported: OidSet::default(),
        memo: OidMap::default(),
        empty: Rc::from(Vec::new()),
        keys: BTreeMap::new(),
        out: Vec::new(),
        signatures: OidMap::default(),
        named: &named,
    };
    let roots = mapper.roots();
    let walked = mapper.walk(&roots, partial, &mut missing);
    report_missing(&missing, tx);
    if gitlinks.into_inner() {
        mapper.submodules(&roots);
    }
    if blobs.is_empty() && messages.is_empty() {
        return;
    }
    mapper.run(opts.all_objects, &roots, walked);
}

/// A mutex's data, even if a worker panicked while holding it.
pub(super) fn into_inner<T>(m: Mutex<T>) -> T {
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
    pushed: bool,
}

/// Where the walk starts: what each ref points at, peeled.
#[derive(Debug, Default)]
struct Roots {
    /// `(ref, commit)`.
    commits: Vec<(String, Oid)>,
    remote_commits: Vec<(String, Oid)>,
    tags: OidSet,
    trees: Vec<(String, Oid)>,
    blobs: Vec<(String, Oid)>,
    head: Option<Oid>,
}

/// Steps 2 and 3: from refs to walked commits, and from key-holding blobs and messages to
/// commits, paths and provenance.
struct Mapper<'a> {
    repo: &'a Repository,
    reader: Reader<'a>,
    odb: &'a Odb<'a>,
    commits: &'a Commits,
    blobs: &'a OidMap<Vec<Hit>>,
    messages: &'a OidMap<(Kind, Vec<Hit>)>,
    /// Objects phase 1 could not read (and reported).
    unreadable: &'a OidSet,
    tx: &'a Sender<Event>,
    /// Some part of history could not be read: a walk may have missed commits.
    damaged: bool,
    /// Objects this step could not read (and reported).
    reported: OidSet,
    memo: OidMap<Entries>,
    empty: Entries,
    keys: BTreeMap<Secret, KeyStats>,
    out: Vec<Hit>,
    /// Author and time of commits that hold a key, read once each.
    signatures: OidMap<(String, String, i64)>,
    /// Tree entries whose names hold a key.
    named: &'a Named,
}

impl Mapper<'_> {
    fn problem(&self, message: String) {
        let _ = self.tx.send(Problem::error(message));
    }

    /// Reports an object this step could not read, once, unless phase 1 already did.
    fn unreadable(&mut self, context: &str, e: &ReadError) {
        self.damaged = true;
        if !self.unreadable.contains(&e.id()) && self.reported.insert(e.id()) {
            self.problem(format!("{context}{}", objects::unreadable(e)));
        }
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
    fn roots(&mut self) -> Roots {
        let mut roots = Roots::default();
        let repo_refs = match self.odb_repo_refs() {
            Ok(r) => r,
            Err(message) => {
                self.damaged = true;
                self.problem(message);
                return roots;
            }
        };
        for (name, target) in repo_refs {
            if let Some(id) = target {
                let commit = self.peel(&name, id, &mut roots);
                if name == "HEAD" {
                    roots.head = commit;
                }
            } else {
                self.damaged = true;
                self.problem(format!("ref {name} points at nothing, skipped"));
            }
        }
        roots
    }

    /// Every ref with what it resolves to, then HEAD (detached or not).
    fn odb_repo_refs(&self) -> Result<Vec<(String, Option<Oid>)>, String> {
        let repo = self.repo;
        let refs = repo
            .references()
            .map_err(|e| format!("cannot list refs: {}", crate::sanitize::text(e.message())))?;
        let mut named = Vec::new();
        for r in refs {
            match r {
                Ok(r) => {
                    let name = crate::sanitize::bytes(r.name_bytes());
                    named.push((name, r.resolve().ok().and_then(|r| r.target())));
                }
                Err(e) => self.problem(format!(
                    "cannot read a ref: {}",
                    crate::sanitize::text(e.message())
                )),
            }
        }
        // When HEAD is attached, its branch is among the refs as well.
        if let Ok(head) = repo.head()
            && let Some(id) = head.target()
        {
            named.push(("HEAD".to_string(), Some(id)));
        }
        Ok(named)
    }

    /// Follows `id` through tags to what it names, recording it in `roots`; returns the
    /// commit it ends at, if any.
    fn peel(&mut self, name: &str, mut id: Oid, roots: &mut Roots) -> Option<Oid> {
        let remote = name.starts_with("refs/remotes/");
        // Tags may name tags; bound the chain in case of a cycle in a damaged repository.
        for _ in 0..64 {
            let (kind, data) = match self.reader.read(id) {
                Ok(obj) => obj,
                Err(e) => {
                    self.damaged = true;
                    // One line per object, even when several refs name it (HEAD and its branch).
                    if self.reported.insert(id) {
                        self.problem(format!(
                            "ref {name}: {}",
                            objects::unreadable(&e).replacen("object", "target", 1)
                        ));
                    }
                    return None;
                }
            };
            match kind {
                Kind::Tag => {
                    roots.tags.insert(id);
                    id = objects::tag_target(&data).0?;
                }
                Kind::Commit => {
                    roots.commits.push((name.to_string(), id));
                    if remote {
                        roots.remote_commits.push((name.to_string(), id));
                    }
                    return Some(id);
                }
                Kind::Tree => {
                    roots.trees.push((name.to_string(), id));
                    return None;
                }
                Kind::Blob => {
                    roots.blobs.push((name.to_string(), id));
                    return None;
                }
            }
        }
        None
    }

    /// Walks every ref's history as far as it can be read, reporting each commit whose
    /// parents or tree are missing or damaged. Returns the commits reached.
    fn walk(&mut self, roots: &Roots, partial: bool, missing: &mut OidSet) -> OidSet {
        let (reached, broken) = graph::reachable(self.commits, &roots.commits);
        for b in &broken {
            self.damaged = true;
            let why = |p: &Oid| {
                if self.unreadable.contains(p) || self.reported.contains(p) {
                    "cannot be read"
                } else if self.odb.contains(p) {
                    "is not a commit"
                } else {
                    "is missing"
                }
            };
            let message = match b.parents.as_slice() {
                [p] => format!(
                    "commit {} (reached from {}): its parent {p} {}; the history behind it was \
                     not walked",
                    b.commit,
                    b.via,
                    why(p)
                ),
                [p, ..] => format!(
                    "commit {} (reached from {}): {} of its parents are missing or cannot be \
                     read (the first, {p}, {}); the history behind them was not walked",
                    b.commit,
                    b.via,
                    b.parents.len(),
                    why(p)
                ),
                [] => continue,
            };
            self.problem(message);
        }
        let mut ids: Vec<&Oid> = reached.iter().collect();
        ids.sort_unstable();
        for id in ids {
            match self.commits[id].tree {
                Some(t) if self.odb.contains(&t) => {}
                Some(t) if partial => {
                    missing.insert(t);
                }
                Some(t) => {
                    self.damaged = true;
                    self.problem(format!(
                        "commit {id}: its tree {t} is missing; the files of this commit were not \
                         scanned"
                    ));
                }
                None => {
                    self.damaged = true;
                    self.problem(format!(
                        "commit {id} names no tree; the files of this commit were not scanned"
                    ));
                }
            }
        }
        for (name, id) in &roots.commits {
            if !self.commits.contains_key(id) {
                // Read as a commit by `peel` just now, but not by phase 1: it appeared since.
                self.damaged = true;
                self.problem(format!("ref {name}: commit {id} was not scanned"));
            }
        }
        reached
    }

    /// Warns once about the submodules at the refs' tips: their commits were not audited.
    fn submodules(&mut self, roots: &Roots) {
        let mut memo: OidMap<Rc<[String]>> = OidMap::default();
        let mut paths: Vec<String> = Vec::new();
        let tips = roots
            .commits
            .iter()
            .filter_map(|(_, c)| self.commits.get(c).and_then(|c| c.tree))
            .chain(roots.trees.iter().map(|(_, t)| *t))
            .collect::<Vec<_>>();
        for tree in tips {
            paths.extend(self.gitlinks_under(tree, &mut memo, 0).iter().cloned());
        }
        paths.sort_unstable();
        paths.dedup();
        let message = if paths.is_empty() {
            "some trees in this repository hold submodule entries (gitlinks) that no ref's \
             tip has: their commits are in other repositories and were not audited"
                .to_string()
        } else {
            let n = paths.len();
            let shown = paths[..n.min(SHOWN_SUBMODULES)].join(", ");
            let more = if n > SHOWN_SUBMODULES {
                format!(" and {} more", n - SHOWN_SUBMODULES)
            } else {
                String::new()
            };
            format!(
                "{n} submodule{s} not audited (their commits are in other repositories): \
                 {shown}{more}; audit each with `nmleaks git {first}`",
                s = if n == 1 { "" } else { "s" },
                first = paths[0]
            )
        };
        let _ = self.tx.send(Problem::warning(message));
    }

    fn gitlinks_under(
        &mut self,
        tree: Oid,
        memo: &mut OidMap<Rc<[String]>>,
        depth: usize,
    ) -> Rc<[String]> {
        if let Some(p) = memo.get(&tree) {
            return p.clone();
        }
        let mut out = Vec::new();
        if depth < 4096
            && let Ok((Kind::Tree, data)) = self.reader.read(tree)
        {
            for (mode, name, id) in objects::tree_entries(&data) {
                if objects::is_gitlink_mode(mode) {
                    out.push(display_path(name));
                } else if objects::is_tree_mode(mode) {
                    let dir = display_path(name);
                    let sub = self.gitlinks_under(id, memo, depth + 1);
                    out.extend(sub.iter().map(|p| format!("{dir}/{p}")));
                }
            }
        }
        let paths: Rc<[String]> = Rc::from(out);
        memo.insert(tree, paths.clone());
        paths
    }

    /// The key-holding blobs under `tree`, read once per tree.
    fn entries(&mut self, tree: Oid) -> Entries {
        if let Some(e) = self.memo.get(&tree) {
            return e.clone();
        }
        let data = match self.reader.read(tree) {
            Ok((Kind::Tree, data)) => data,
            Ok(_) => {
                self.damaged = true;
                if self.reported.insert(tree) {
                    self.problem(format!("object {tree} is named as a tree but is not one"));
                }
                Vec::new()
            }
            Err(e) => {
                self.unreadable("", &e);
                Vec::new()
            }
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
        // Entries whose names hold a key, as the stand-in ids their hits are kept under.
        if let Some(list) = self.named.by_tree.get(&tree) {
            out.extend(list.iter().cloned());
        }
        let e: Entries = if out.is_empty() {
            self.empty.clone()
        } else {
            Rc::from(out)
        };
        self.memo.insert(tree, e.clone());
        e
    }

    fn run(&mut self, all_objects: bool, roots: &Roots, reached: OidSet) {
        let nodes: OidSet = if all_objects {
            self.commits.keys().copied().collect()
        } else {
            reached
        };
        let order = graph::topo_order(self.commits, &nodes);
        // Pushed means any commit holding the key is reachable from a remote-tracking ref.
        let remote = if roots.remote_commits.is_empty() {
            OidSet::default()
        } else {
            graph::reachable(self.commits, &roots.remote_commits).0
        };
        // Read the trees newest first: a pack stores the newest version of a tree whole and
        // older ones as deltas against it, so in this order each read applies one delta to a
        // base just cached (oldest first rebuilds long chains again and again).
        for id in order.iter().rev() {
            if let Some(t) = self.commits[id].tree {
                self.entries(t);
            }
        }
        let mut reached = OidSet::default();
        for &id in &order {
            self.visit_commit(id, roots.head, &remote, &mut reached);
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
        if all_objects || self.damaged {
            let mut unreached: Vec<Oid> = self
                .blobs
                .keys()
                .filter(|b| !reached.contains(b))
                .copied()
                .collect();
            unreached.sort_unstable();
            for blob in unreached {
                let origin = match self.named.stand_ins.get(&blob) {
                    // A name in a tree no walk reached: name the tree and the entry.
                    Some((tree, name)) => GitOrigin {
                        kind: if self.damaged {
                            GitKind::Unplaced
                        } else {
                            GitKind::File
                        },
                        ..blob_origin(*tree, Some(name.clone()))
                    },
                    None if self.damaged => unplaced_origin(blob),
                    None => blob_origin(blob, None),
                };
                self.emit(&self.blobs[&blob], &origin);
            }
        }
        if self.damaged {
            // Messages of commits no walk reached: their place is known, their refs are not.
            let mut unwalked: Vec<Oid> = self
                .messages
                .iter()
                .filter(|(id, (kind, _))| *kind == Kind::Commit && !nodes.contains(*id))
                .map(|(id, _)| *id)
                .collect();
            unwalked.sort_unstable();
            for id in unwalked {
                let origin = self.origin(id, None);
                self.emit(&self.messages[&id].1, &origin);
            }
        }
        self.tag_messages(all_objects || self.damaged, &roots.tags);
        self.flush();
        self.provenance();
    }

    /// The origin of a key in commit `id`: in its file at `path`, or in its message.
    fn origin(&mut self, id: Oid, path: Option<String>) -> GitOrigin {
        if !self.signatures.contains_key(&id) {
            let sig = match self.reader.read(id) {
                Ok((Kind::Commit, data)) => {
                    let c = objects::Commit::parse(&data);
                    (
                        String::from_utf8_lossy(c.author.name).into_owned(),
                        String::from_utf8_lossy(c.author.email).into_owned(),
                        c.time,
                    )
                }
                _ => (
                    String::new(),
                    String::new(),
                    self.commits.get(&id).map_or(0, |c| c.time),
                ),
            };
            self.signatures.insert(id, sig);
        }
        let (author, email, time) = self.signatures[&id].clone();
        commit_origin(id, author, email, time, path)
    }

    fn visit_commit(&mut self, id: Oid, head: Option<Oid>, remote: &OidSet, reached: &mut OidSet) {
        let commits = self.commits;
        let rec = &commits[&id];
        let here = match rec.tree {
            Some(t) => self.entries(t),
            None => self.empty.clone(),
        };
        let parents: Vec<Entries> = rec
            .parents
            .iter()
            .filter_map(|p| commits.get(p).and_then(|c| c.tree))
            .map(|t| self.entries(t))
            .collect();
        let mut holds: Vec<Secret> = Vec::new();
        for (path, blob) in here.iter() {
            reached.insert(*blob);
            let hits = &self.blobs[blob];
            holds.extend(hits.iter().map(|h| h.secret.clone()));
            let introduced = parents
                .iter()
                .all(|p| !p.iter().any(|(pp, pb)| pp == path && pb == blob));
            if introduced {
                let origin = self.origin(id, Some(path.clone()));
                self.emit(hits, &origin);
            }
        }
        if let Some((Kind::Commit, hits)) = self.messages.get(&id) {
            holds.extend(hits.iter().map(|h| h.secret.clone()));
            let origin = self.origin(id, None);
            self.emit(hits, &origin);
        }
        holds.sort_unstable();
        holds.dedup();
        for secret in holds {
            let k = self.keys.entry(secret).or_default();
            k.commits += 1;
            k.first.get_or_insert((id, rec.time));
            k.at_head |= head == Some(id);
            k.pushed |= remote.contains(&id);
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

    fn tag_messages(&mut self, all: bool, reachable: &OidSet) {
        let mut tags: Vec<Oid> = self
            .messages
            .iter()
            .filter(|(id, (kind, _))| *kind == Kind::Tag && (all || reachable.contains(*id)))
            .map(|(id, _)| *id)
            .collect();
        tags.sort_unstable();
        for id in tags {
            let (time, author, email) = match self.reader.read(id) {
                Ok((Kind::Tag, data)) => {
                    let tagger = objects::tag_target(&data).1;
                    (
                        tagger.time,
                        String::from_utf8_lossy(tagger.name).into_owned(),
                        String::from_utf8_lossy(tagger.email).into_owned(),
                    )
                }
                _ => Default::default(),
            };
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

    /// Sends each key's provenance.
    fn provenance(&mut self) {
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
                pushed: k.pushed,
                history_damaged: self.damaged,
            };
            let _ = self.tx.send(Event::Provenance(secret, provenance));
        }
    }
}

/// Tree entries whose names hold a key, placed like key-holding blobs: each entry gets a
/// stand-in id under which its hits are kept in the blob map, so the walk finds it at every
/// path and commit where the entry appears, and reports it where a commit introduces it.
#[derive(Debug, Default)]
struct Named {
    /// `tree -> (entry name for display, stand-in id)`.
    by_tree: OidMap<Vec<(String, Oid)>>,
    /// `stand-in id -> (tree, entry name for display)`.
    stand_ins: OidMap<(Oid, String)>,
}

/// Gives each named entry its stand-in id (from a hash of the tree id and the name, which no
/// real object shares) and adds its hits to `blobs`.
fn place_names(entries: Vec<NamedEntry>, blobs: &mut OidMap<Vec<Hit>>) -> Named {
    use sha2::Digest;
    let mut named = Named::default();
    for (tree, name, hits) in entries {
        let mut h = sha2::Sha256::new();
        h.update(b"nmleaks tree entry name\0");
        h.update(tree.as_bytes());
        h.update(&name);
        let digest = h.finalize();
        let Ok(id) = Oid::from_bytes(&digest[..20]) else {
            continue;
        };
        let shown = display_path(&name);
        named
            .by_tree
            .entry(tree)
            .or_default()
            .push((shown.clone(), id));
        named.stand_ins.insert(id, (tree, shown));
        blobs.insert(id, hits);
    }
    named
}

/// Reports keys in ref names (branches, tags, remote-tracking branches, notes…): a finding of
/// [`Part::RefName`] whose origin names the ref (redacted) and what it points at.
fn ref_names(repo: &Repository, matcher: &Matcher, show_secrets: bool, tx: &Sender<Event>) {
    let Ok(refs) = repo.references() else {
        return;
    };
    let mut scanner = Scanner::new(matcher, show_secrets);
    let mut out = Vec::new();
    for r in refs.flatten() {
        let raw = r.name_bytes();
        if !scanner.holds_key(raw) {
            continue;
        }
        let origin = Origin::Git(GitOrigin {
            time: 0,
            commit: r.target().map(|id| id.to_string()).unwrap_or_default(),
            path: Some(crate::sanitize::bytes(raw)),
            author: String::new(),
            email: String::new(),
            staged: false,
            kind: GitKind::Ref,
        });
        scanner.scan_name(raw, 0, &origin, Part::RefName, &mut out);
    }
    if !out.is_empty() {
        let _ = tx.send(Event::Hits(out));
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

/// The origin of a key-holding blob that no walk reached in a damaged history.
fn unplaced_origin(blob: Oid) -> GitOrigin {
    GitOrigin {
        kind: GitKind::Unplaced,
        ..blob_origin(blob, None)
    }
}
