//! Steps 2 and 3 of the audit: from refs to walked commits, and from key-holding blobs and
//! messages to commits, paths and provenance (see [`super`] for the whole picture).

use std::collections::BTreeMap;
use std::rc::Rc;

use crossbeam_channel::Sender;
use git2::{Oid, Repository};

use super::table::{Table, To};
use super::{BATCH, Named, SHOWN_SUBMODULES};
use crate::finding::{GitKind, GitOrigin, Hit, Origin, Provenance, Secret};
use crate::source::git::graph::{self, Commits};
use crate::source::git::objects::{self, Kind, Odb};
use crate::source::git::store::{CACHE_BYTES, ReadError, Reader, Store};
use crate::source::git::{
    GitError, OidMap, OidSet, blob_origin, commit_origin, display_path, git_message, tag_origin,
};
use crate::source::{Event, Problem};

/// Key-holding blobs under one tree: `(path, blob)`, paths relative to that tree.
pub(super) type Entries = Rc<[(String, Oid)]>;

/// [`Mapper::by_position`]: not looked at yet.
const UNKNOWN: u32 = 0;
/// [`Mapper::by_position`]: holds no key-holding blob.
const EMPTY: u32 = 1;
/// [`Mapper::by_position`]: `HELD + i` is `held[i]`.
const HELD: u32 = 2;

/// What a key has been seen in, while walking.
#[derive(Debug, Default)]
pub(super) struct KeyStats {
    first: Option<(Oid, i64)>,
    commits: u64,
    at_head: bool,
    pushed: bool,
}

/// Where the walk starts: what each ref points at, peeled.
#[derive(Debug, Default)]
pub(super) struct Roots {
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
pub(super) struct Mapper<'a> {
    pub(super) repo: &'a Repository,
    pub(super) reader: Reader<'a>,
    pub(super) odb: &'a Odb<'a>,
    pub(super) commits: &'a Commits,
    pub(super) blobs: &'a OidMap<Vec<Hit>>,
    pub(super) messages: &'a OidMap<(Kind, Vec<Hit>)>,
    /// Objects phase 1 could not read (and reported).
    pub(super) unreadable: &'a OidSet,
    pub(super) tx: &'a Sender<Event>,
    /// Some part of history could not be read: a walk may have missed commits.
    pub(super) damaged: bool,
    /// Objects this step could not read (and reported).
    pub(super) reported: OidSet,
    /// [`Mapper::entries`] of trees the object database lacks.
    pub(super) memo: OidMap<Entries>,
    /// [`Mapper::entries`] of the others, by position (sized by [`Mapper::run`]): 4 bytes an
    /// object, [`UNKNOWN`], [`EMPTY`], or an index into `held` plus [`HELD`]. Small, because
    /// the map looks up every subtree entry of every tree here (7 million in git/git).
    pub(super) by_position: Vec<u32>,
    /// The non-empty [`Mapper::entries`] of trees in the object database.
    pub(super) held: Vec<Entries>,
    pub(super) empty: Entries,
    pub(super) keys: BTreeMap<Secret, KeyStats>,
    pub(super) out: Vec<Hit>,
    /// Author and time of commits that hold a key, read once each.
    pub(super) signatures: OidMap<(String, String, i64)>,
    /// Tree entries whose names hold a key.
    pub(super) named: &'a Named,
    /// The trees phase 1 kept, read from memory instead of the repository.
    pub(super) table: Option<&'a Table>,
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
    pub(super) fn roots(&mut self) -> Roots {
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
            .map_err(|e| GitError::git("cannot list refs", &e).to_string())?;
        let mut named = Vec::new();
        for r in refs {
            match r {
                Ok(r) => {
                    let name = crate::sanitize::bytes(r.name_bytes());
                    named.push((name, r.resolve().ok().and_then(|r| r.target())));
                }
                Err(e) => self.problem(format!("cannot read a ref: {}", git_message(&e))),
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
    pub(super) fn walk(&mut self, roots: &Roots, partial: bool, missing: &mut OidSet) -> OidSet {
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
        // By bytes (the same order): `Oid`'s comparison is a call into libgit2.
        ids.sort_unstable_by_key(|id| id.as_bytes());
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
    /// The tips are shared among `threads` threads, each reading trees with its own reader
    /// and its share of [`CACHE_BYTES`] (a full cache each cost rails/rails 130 MiB of peak
    /// memory): without a table (no blob holds a key) every tip's trees are read by id, 8,500
    /// of them for git/git's 1,000 tags.
    pub(super) fn submodules(&mut self, store: &Store, roots: &Roots, threads: usize) {
        let tips: Vec<Oid> = roots
            .commits
            .iter()
            .filter_map(|(_, c)| self.commits.get(c).and_then(|c| c.tree))
            .chain(roots.trees.iter().map(|(_, t)| *t))
            .collect();
        let per = tips.len().div_ceil(threads.max(1)).max(1);
        let (table, odb) = (self.table, self.odb);
        let mut paths: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = tips
                .chunks(per)
                .map(|chunk| {
                    s.spawn(move || {
                        let mut links = Gitlinks {
                            reader: store.reader_with_cache(CACHE_BYTES / threads.max(1)),
                            table,
                            odb,
                            memo: OidMap::default(),
                        };
                        let mut out = Vec::new();
                        for &tree in chunk {
                            out.extend(links.under(tree, 0).iter().cloned());
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
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

    /// The key-holding blobs under `tree`, read once per tree.
    fn entries(&mut self, tree: Oid) -> Entries {
        if let Some(p) = self.odb.position(&tree) {
            return self.entries_at(p);
        }
        if let Some(e) = self.memo.get(&tree) {
            return e.clone();
        }
        let out = self.read_entries(tree);
        let e = self.keep(tree, out);
        self.memo.insert(tree, e.clone());
        e
    }

    /// [`Mapper::entries`] of the tree at `position` in the object database: from the table
    /// when it holds the tree (its subtrees by position, no id hashed), else read by id.
    fn entries_at(&mut self, position: u32) -> Entries {
        match self.by_position.get(position as usize) {
            Some(&EMPTY) => return self.empty.clone(),
            Some(&i) if i >= HELD => return self.held[(i - HELD) as usize].clone(),
            _ => {}
        }
        let tree = self.odb.at(position).unwrap_or(Oid::ZERO_SHA1);
        let out = if let Some((table, edges)) = self.table.and_then(|t| t.get(position)) {
            let mut out = Vec::new();
            for &e in edges {
                match e.to() {
                    To::Tree => {
                        // Most subtrees hold no key, and are known not to by now.
                        if self.by_position.get(e.child() as usize) == Some(&EMPTY) {
                            continue;
                        }
                        let sub = self.entries_at(e.child());
                        if !sub.is_empty() {
                            let dir = display_path(table.name(e));
                            out.extend(sub.iter().map(|(p, b)| (format!("{dir}/{p}"), *b)));
                        }
                    }
                    To::Key => out.push((display_path(table.name(e)), e.id(self.odb))),
                    To::Gitlink => {}
                }
            }
            out
        } else {
            self.read_entries(tree)
        };
        let e = self.keep(tree, out);
        let state = if e.is_empty() {
            EMPTY
        } else {
            self.held.push(e.clone());
            u32::try_from(self.held.len() - 1 + HELD as usize).unwrap_or(UNKNOWN)
        };
        if let Some(slot) = self.by_position.get_mut(position as usize) {
            *slot = state;
        }
        e
    }

    /// The key-holding blobs under `tree`, read by id (the table lacks it).
    fn read_entries(&mut self, tree: Oid) -> Vec<(String, Oid)> {
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
        out
    }

    /// The key-holding blobs found under `tree`, with its entries whose names hold a key (as
    /// the stand-in ids their hits are kept under).
    fn keep(&self, tree: Oid, mut out: Vec<(String, Oid)>) -> Entries {
        if let Some(list) = self.named.by_tree.get(&tree) {
            out.extend(list.iter().cloned());
        }
        if out.is_empty() {
            self.empty.clone()
        } else {
            Rc::from(out)
        }
    }

    pub(super) fn run(&mut self, all_objects: bool, roots: &Roots, reached: OidSet) {
        let nodes: OidSet = if all_objects {
            self.commits.keys().copied().collect()
        } else {
            reached
        };
        self.by_position = vec![UNKNOWN; self.odb.len()];
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
                        repo: None,
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
        // What the parents hold, as one set: comparing every entry with every parent entry
        // was quadratic in the key-holding blobs under a tree (1,000 keys: 5 s). A parent
        // holding exactly what this commit holds (the common case) settles it at once.
        let unchanged = parents
            .iter()
            .any(|p| Rc::ptr_eq(p, &here) || p[..] == here[..]);
        let before: std::collections::HashSet<(&str, Oid)> = if unchanged {
            std::collections::HashSet::new()
        } else {
            parents
                .iter()
                .flat_map(|p| p.iter().map(|(path, blob)| (path.as_str(), *blob)))
                .collect()
        };
        for (path, blob) in here.iter() {
            reached.insert(*blob);
            let hits = &self.blobs[blob];
            holds.extend(hits.iter().map(|h| h.secret.clone()));
            let introduced = !unchanged && !before.contains(&(path.as_str(), *blob));
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
                repo: None,
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
            let data = match self.reader.read(id) {
                Ok((Kind::Tag, data)) => data,
                _ => Vec::new(),
            };
            let origin = tag_origin(id, &data);
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

/// Finds the submodule entries (gitlinks) under trees, for [`Mapper::submodules`]: in the
/// table when it holds a tree, else by reading it. A tree that cannot be read holds none here
/// (the map reports it when it needs it).
struct Gitlinks<'a> {
    reader: Reader<'a>,
    table: Option<&'a Table>,
    odb: &'a Odb<'a>,
    /// The paths under each tree seen.
    memo: OidMap<Rc<[String]>>,
}

impl Gitlinks<'_> {
    /// The paths of the gitlinks under `tree`, `depth` levels below a tip (at most 4,096).
    fn under(&mut self, tree: Oid, depth: usize) -> Rc<[String]> {
        if let Some(p) = self.memo.get(&tree) {
            return p.clone();
        }
        let mut out = Vec::new();
        let kept = self
            .table
            .zip(self.odb.position(&tree))
            .and_then(|(t, p)| t.get(p));
        if let Some((table, edges)) = kept {
            for &e in edges {
                match e.to() {
                    To::Gitlink => out.push(display_path(table.name(e))),
                    To::Tree if depth < 4096 => {
                        let dir = display_path(table.name(e));
                        let sub = self.under(e.id(self.odb), depth + 1);
                        out.extend(sub.iter().map(|p| format!("{dir}/{p}")));
                    }
                    _ => {}
                }
            }
        } else if depth < 4096
            && let Ok((Kind::Tree, data)) = self.reader.read(tree)
        {
            for (mode, name, id) in objects::tree_entries(&data) {
                if objects::is_gitlink_mode(mode) {
                    out.push(display_path(name));
                } else if objects::is_tree_mode(mode) {
                    let dir = display_path(name);
                    let sub = self.under(id, depth + 1);
                    out.extend(sub.iter().map(|p| format!("{dir}/{p}")));
                }
            }
        }
        let paths: Rc<[String]> = Rc::from(out);
        self.memo.insert(tree, paths.clone());
        paths
    }
}

/// The origin of a key-holding blob that no walk reached in a damaged history.
fn unplaced_origin(blob: Oid) -> GitOrigin {
    GitOrigin {
        repo: None,
        kind: GitKind::Unplaced,
        ..blob_origin(blob, None)
    }
}
