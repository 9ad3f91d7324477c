//! History: the full audit (`nmleaks git [--all-objects]`). What a range of commits
//! introduces (`--range A..B`, `--since-commit A`) is [`super::range`]'s, which shares this
//! file's phase-1 worker.
//!
//! The audit runs in three steps, because almost no blob holds a key:
//!
//! 1. **Scan.** Every object in the object database is read once ([`super::objects`]), in
//!    parallel: blobs and commit and tag messages go through the matcher; each commit's tree,
//!    parents and time are kept; in a partial clone, trees are checked for entries the database
//!    lacks (they are counted and reported). The trees that packs hold are read last, when
//!    every blob has been scanned, so each is kept as the map needs it ([`table`]: its
//!    subtrees, submodule entries and key-holding blobs, 8 bytes an entry, found by position)
//!    and step 3 walks memory instead of reading every tree again. A pack that cannot be used
//!    and an object that cannot be read are reported, and the rest is still scanned.
//! 2. **Walk.** From every ref (branches, remote-tracking branches, tags, `refs/stash` and its
//!    parents, notes, HEAD; with `--all-objects` also every commit) the commits kept in step 1
//!    are walked (`graph.rs`), each ref as far as its history can be read: a missing or
//!    damaged parent ends that path only, and is reported. This always runs, so a ref whose
//!    commit no pack or loose file holds is an error even when no key was found. Submodule
//!    entries (gitlinks) at the refs' tips are named in one warning: their commits live in
//!    other repositories and were not audited.
//! 3. **Map**, only if something was found. The walked commits are visited oldest first in
//!    topological order. Each tree is looked up once (in the table, or read by id when the
//!    table lacks it: a loose tree, one a pack could not decode) and remembers which
//!    key-holding blobs it contains and at which paths, so unchanged subtrees cost nothing. A
//!    location is reported where a commit introduces a key-holding blob at a path (no parent
//!    has that blob there), which is what `git log` shows. Each key also gets its
//!    [`crate::finding::Provenance`].
//!
//! Keys in objects no ref reaches are dropped unless `--all-objects`, or unless history is
//! damaged: then a walk may have missed the commits that hold them, so a blob no walk placed
//! is reported with a location of its own ("location unknown: history is damaged", see
//! [`GitKind::Unplaced`]) and a message key with its commit. A range scan reads only the
//! commits in the range, diffs each against its parents and scans the blobs they introduce.

mod map;
mod table;

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crossbeam_channel::Sender;
use git2::{Oid, Repository};

use self::map::Mapper;
use super::graph::{self, CommitRec, Commits};
use super::objects::{self, Kind, Odb, Visitor};
use super::store::{Check, Store};
use super::{OidMap, OidSet, display_path, message_start};
use crate::finding::{GitKind, GitOrigin, Hit, Limits, Origin, Part};
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
    /// What to look inside (archives, compression, encodings).
    pub decoding: crate::scan::Decoding,
    /// What a blob's hits are compacted to while they wait for the blob's paths.
    pub limits: Limits,
}

/// The origin hits carry between scanning a blob and learning which commits hold it.
pub(super) const UNMAPPED: Origin = Origin::Pending;

/// Sends the blobs' problems, sorted, each an error (part of a blob was not scanned).
pub(super) fn send_problems(mut problems: Vec<String>, tx: &Sender<Event>) {
    problems.sort();
    for p in problems {
        let _ = tx.send(Problem::error(p));
    }
}

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
    /// What could not be looked inside, per blob (a damaged archive, a bomb stopped).
    pub(super) problems: Mutex<Vec<String>>,
    /// The blobs holding a key, once every blob has been scanned; trees read after that are
    /// kept for the map ([`table`]).
    keys: OnceLock<table::Keys>,
    /// The workers' kept trees.
    tables: Mutex<Vec<table::Part>>,
    /// A blob holding a key was read after the trees began to be kept (a pack that deltas a
    /// blob against a tree): the table may lack it, so the map reads every tree by id.
    late: AtomicBool,
}

/// A tree entry whose name holds a key: `(tree, entry name, hits)`.
type NamedEntry = (Oid, Vec<u8>, Vec<Hit>);

/// One worker's phase-1 state: a scanner and buffers flushed to [`Found`] when dropped.
pub(super) struct Worker<'a> {
    scanner: Scanner<'a>,
    limits: Limits,
    found: &'a Found,
    odb: Option<&'a Odb<'a>>,
    /// The database whose trees are kept for the map (the full audit's).
    keep: Option<&'a Odb<'a>>,
    shallow: &'a OidSet,
    stats: &'a Stats,
    hits: Vec<Hit>,
    commits: Vec<(Oid, CommitRec)>,
    missing: OidSet,
    gitlinks: bool,
    table: table::Part,
}

impl<'a> Worker<'a> {
    pub(super) fn new(
        matcher: &'a Matcher,
        opts: &Options,
        found: &'a Found,
        odb: Option<&'a Odb<'a>>,
        keep: Option<&'a Odb<'a>>,
        shallow: &'a OidSet,
        stats: &'a Stats,
    ) -> Worker<'a> {
        Worker {
            scanner: Scanner::new(matcher, opts.show_secrets).decoding(opts.decoding),
            limits: opts.limits,
            found,
            odb,
            keep,
            shallow,
            stats,
            hits: Vec::new(),
            commits: Vec::new(),
            missing: OidSet::default(),
            gitlinks: false,
            table: table::Part::default(),
        }
    }
}

impl Visitor for Worker<'_> {
    fn visit(&mut self, kind: Kind, id: Oid, data: &[u8]) {
        match kind {
            Kind::Blob => {
                self.scanner.scan_bytes(data, &UNMAPPED, &mut self.hits);
                self.stats.add(data.len() as u64);
                let problems = self.scanner.take_problems();
                if !problems.is_empty() {
                    lock(&self.found.problems).extend(problems.into_iter().map(|p| {
                        format!(
                            "blob {id} (`git log --all --find-object={id}` names its commits): {p}"
                        )
                    }));
                }
                if self.hits.len() > self.limits.max_locations {
                    // A hit-dense blob: hold what the report can list, count the rest.
                    let dropped = crate::finding::compact_hits(&mut self.hits, self.limits);
                    if !dropped.is_empty() {
                        lock(&self.found.dropped).extend(dropped);
                    }
                }
                if !self.hits.is_empty() {
                    if self.found.keys.get().is_some() {
                        self.found.late.store(true, Ordering::Relaxed);
                    }
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
                // Keeping a tree reads its every entry, gitlinks among them.
                let mut kept = false;
                if let (Some(keys), Some(odb)) = (self.found.keys.get(), self.keep)
                    && let Some(position) = odb.position(&id)
                {
                    kept = self.table.add(position, data, keys, odb);
                    self.gitlinks |= self.table.gitlinks;
                }
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
                    && !kept
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
        let part = std::mem::take(&mut self.table);
        if !part.is_empty() {
            lock(&self.found.tables).push(part);
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
    let make = || Worker::new(matcher, opts, &found, check, Some(&odb), &shallow, stats);
    // Once every blob is scanned, the trees that packs hold are read and kept for the map.
    let mut between = || {
        let keys: OidSet = lock(&found.blobs).keys().copied().collect();
        // No blob holds a key: the map has no blob to place, so the trees are not kept (a
        // key in a message or an entry name alone has the map read the trees it needs).
        if !keys.is_empty() {
            let _ = found.keys.set(table::Keys::new(&keys));
        }
    };
    let unreadable = odb.read_all(opts.threads, &make, &mut between, tx);
    let Found {
        blobs,
        messages,
        commits,
        missing,
        gitlinks,
        names,
        dropped,
        problems,
        keys: _,
        tables,
        late,
    } = found;
    let table = (!late.into_inner()).then(|| table::Table::new(into_inner(tables), odb.len()));
    send_problems(into_inner(problems), tx);
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
        by_position: Vec::new(),
        held: Vec::new(),
        empty: Rc::from(Vec::new()),
        keys: BTreeMap::new(),
        out: Vec::new(),
        signatures: OidMap::default(),
        named: &named,
        table: table.as_ref(),
    };
    let roots = mapper.roots();
    let walked = mapper.walk(&roots, partial, &mut missing);
    report_missing(&missing, tx);
    if gitlinks.into_inner() {
        mapper.submodules(&store, &roots, opts.threads);
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
    // What libgit2 lists, and what the ref store holds by name whether libgit2 can read it or
    // not (a loose ref file or a packed-refs line with a name git refuses is still a name in
    // the repository): each name once.
    let mut names: std::collections::BTreeMap<Vec<u8>, String> = std::collections::BTreeMap::new();
    if let Ok(refs) = repo.references() {
        for r in refs.flatten() {
            let target = r.target().map(|id| id.to_string()).unwrap_or_default();
            names.insert(r.name_bytes().to_vec(), target);
        }
    }
    let common = repo.commondir();
    for raw in stored_ref_names(common) {
        names.entry(raw).or_default();
    }
    let mut scanner = Scanner::new(matcher, show_secrets);
    let mut out = Vec::new();
    for (raw, target) in names {
        if !scanner.holds_key(&raw) {
            continue;
        }
        let origin = Origin::Git(GitOrigin {
            repo: None,
            time: 0,
            commit: target,
            path: Some(crate::sanitize::bytes(&raw)),
            author: String::new(),
            email: String::new(),
            staged: false,
            kind: GitKind::Ref,
        });
        scanner.scan_name(&raw, 0, &origin, Part::RefName, &mut out);
    }
    if !out.is_empty() {
        let _ = tx.send(Event::Hits(out));
    }
}

/// The names of the refs stored in `git_dir`: loose files under `refs/` (at most 100,000,
/// 64 levels deep) and the lines of `packed-refs` (at most 64 MiB of them), read as bytes.
fn stored_ref_names(git_dir: &std::path::Path) -> Vec<Vec<u8>> {
    fn walk(dir: &std::path::Path, prefix: &[u8], depth: usize, out: &mut Vec<Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if out.len() >= 100_000 {
                return;
            }
            let name = e.file_name();
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(name.as_encoded_bytes());
            match e.file_type() {
                Ok(t) if t.is_dir() && depth < 64 => walk(&e.path(), &full, depth + 1, out),
                Ok(t) if t.is_file() => out.push(full),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(&git_dir.join("refs"), b"refs", 0, &mut out);
    if let Ok(text) = crate::textfile::read_bytes(&git_dir.join("packed-refs"), 64 << 20) {
        for line in text.split(|&b| b == b'\n') {
            // `<id> <name>`; `#` starts the header, `^` a peeled tag's target.
            if let Some(name) = line
                .get(41..)
                .filter(|_| !line.starts_with(b"#") && !line.starts_with(b"^"))
            {
                out.push(name.to_vec());
            }
        }
    }
    out
}
