//! Bulk object reading: every object in the object database, each once, spread over threads.
//!
//! [`Odb::open`] lists what the repository holds (loose objects, packs, alternates);
//! [`Odb::read_all`] hands each object's kind, id and bytes to one [`Visitor`] per thread, and
//! [`read_ids`] does the same for a chosen set of ids. An object that cannot be read (corrupt,
//! missing from a partial clone) is reported as a problem and the reading goes on.
//!
//! Packs are read with gitoxide's pack traversal (`gix-pack`): it walks each pack in offset
//! order and resolves every delta chain once, from a tree of deltas built from the index, which
//! is several times faster than asking libgit2 for each object by id (a libgit2 read resolves
//! the object's whole delta chain, and its small delta-base cache misses in id order). Loose
//! objects, and any packed object the traversal could not decode, are read with libgit2, one
//! handle per worker (a `Repository` is not `Sync`); libgit2 then reports what is damaged.
//!
//! What to do with the bytes (scan blobs, parse trees) is the visitor's business.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Sender;
use git2::{ObjectType, Oid, Repository};

use super::{GitError, OidSet};
use crate::source::{Event, Problem};

/// The kinds of object a visitor sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// File contents.
    Blob,
    /// A directory listing.
    Tree,
    /// A commit.
    Commit,
    /// An annotated tag.
    Tag,
}

/// Receives objects on one worker thread.
pub trait Visitor: Send {
    /// One object's raw bytes (for trees, commits and tags: git's canonical encoding).
    fn visit(&mut self, kind: Kind, id: Oid, data: &[u8]);
}

/// The object database of one repository, as listed when opened.
#[derive(Debug)]
pub struct Odb {
    git_dir: PathBuf,
    /// Every object id, sorted.
    ids: Vec<Oid>,
    present: OidSet,
    /// `(index, pack)` file pairs, in the repository and its alternates.
    packs: Vec<(PathBuf, PathBuf)>,
}

impl Odb {
    /// Lists every object id the repository holds.
    ///
    /// # Errors
    /// The object database cannot be opened or listed.
    pub fn open(repo: &Repository) -> Result<Odb, GitError> {
        let odb = repo
            .odb()
            .map_err(|e| GitError::git("cannot open the object database", &e))?;
        let mut ids = Vec::new();
        odb.foreach(|id| {
            ids.push(*id);
            true
        })
        .map_err(|e| GitError::git("cannot list the object database", &e))?;
        // Listed once even if loose and packed, or in two packs; the pack traversal still
        // visits an object that two packs hold once per pack (rare: `git gc` leaves one).
        ids.sort_unstable();
        ids.dedup();
        let present = ids.iter().copied().collect();
        Ok(Odb {
            git_dir: repo.path().to_path_buf(),
            ids,
            present,
            packs: packs(repo),
        })
    }

    /// Whether the object database holds `id`.
    #[must_use]
    pub fn contains(&self, id: &Oid) -> bool {
        self.present.contains(id)
    }

    /// How many objects it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it holds no object.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Reads every object once, on `threads` workers, each with its own visitor from `make`:
    /// packs by traversal, then whatever is left (loose objects, undecodable entries) by id.
    pub fn read_all<V: Visitor>(
        &self,
        threads: usize,
        make: &(dyn Fn() -> V + Sync),
        tx: &Sender<Event>,
    ) {
        let mut visited = OidSet::default();
        for (index, pack) in &self.packs {
            traverse_pack(index, pack, threads, make, &mut visited);
        }
        let rest: Vec<Oid> = if visited.is_empty() {
            self.ids.clone()
        } else {
            self.ids
                .iter()
                .filter(|id| !visited.contains(id))
                .copied()
                .collect()
        };
        read_ids(&self.git_dir, &rest, threads, make, tx);
    }
}

/// The packs of the repository and its alternates: each `.idx` with its `.pack`, sorted.
fn packs(repo: &Repository) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for dir in object_dirs(repo) {
        let Ok(entries) = std::fs::read_dir(dir.join("pack")) else {
            continue;
        };
        for e in entries.flatten() {
            let index = e.path();
            if index.extension().is_some_and(|x| x == "idx") {
                let pack = index.with_extension("pack");
                if pack.is_file() {
                    out.push((index, pack));
                }
            }
        }
    }
    out.sort();
    out
}

/// The directories that hold this repository's objects: its own (shared by linked worktrees)
/// and its alternates, recursively.
fn object_dirs(repo: &Repository) -> Vec<PathBuf> {
    let mut dirs = vec![repo.commondir().join("objects")];
    let mut i = 0;
    while i < dirs.len() && dirs.len() < 64 {
        let alternates = dirs[i].join("info").join("alternates");
        if let Ok(text) = std::fs::read_to_string(&alternates) {
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let p = Path::new(line);
                let p = if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    dirs[i].join(p)
                };
                if !dirs.contains(&p) {
                    dirs.push(p);
                }
            }
        }
        i += 1;
    }
    dirs
}

/// A visitor that the pack traversal may clone for each of its threads: a clone is a fresh
/// visitor from the factory.
struct PerThread<'a, V> {
    visitor: V,
    make: &'a (dyn Fn() -> V + Sync),
}

impl<V: Visitor> PerThread<'_, V> {
    // A method, so the traversal's closure captures (and clones) the whole `PerThread`.
    fn visit(&mut self, kind: Kind, id: Oid, data: &[u8]) {
        self.visitor.visit(kind, id, data);
    }
}

impl<V> Clone for PerThread<'_, V> {
    fn clone(&self) -> Self {
        PerThread {
            visitor: (self.make)(),
            make: self.make,
        }
    }
}

/// Traverses one pack, adding the ids it handed to a visitor to `visited`. A pack gitoxide
/// cannot open, or entries it cannot decode, are left for libgit2 to read (and report).
fn traverse_pack<V: Visitor>(
    index_path: &Path,
    pack_path: &Path,
    threads: usize,
    make: &(dyn Fn() -> V + Sync),
    visited: &mut OidSet,
) {
    let Ok(index) = gix_pack::index::File::at(index_path, gix_hash::Kind::Sha1) else {
        return;
    };
    let Ok(pack) = gix_pack::data::File::at(pack_path, gix_hash::Kind::Sha1) else {
        return;
    };
    let seen: Vec<AtomicBool> = (0..index.num_objects())
        .map(|_| AtomicBool::new(false))
        .collect();
    let mut worker = PerThread {
        visitor: make(),
        make,
    };
    let options = gix_pack::index::traverse::Options {
        traversal: gix_pack::index::traverse::Algorithm::DeltaTreeLookup,
        thread_limit: Some(threads.max(1)),
        // Checksums cost a SHA-1 over every object; a damaged entry is skipped here and
        // read (and reported) by libgit2 afterwards.
        check: gix_pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerificationAndNoAbortOnDecodeError,
        alloc_limit_bytes: None,
        make_pack_lookup_cache: || gix_pack::cache::Never,
    };
    let interrupt = AtomicBool::new(false);
    // On error the objects not yet seen fall back to libgit2.
    let (index_ref, seen_ref) = (&index, &seen);
    let _ = index.traverse(
        &pack,
        &mut gix_utils::progress::Discard,
        &interrupt,
        move |kind,
              data: &[u8],
              entry: &gix_pack::index::Entry,
              _: &dyn gix_utils::progress::Progress| {
            let kind = match kind {
                gix_object::Kind::Blob => Kind::Blob,
                gix_object::Kind::Tree => Kind::Tree,
                gix_object::Kind::Commit => Kind::Commit,
                gix_object::Kind::Tag => Kind::Tag,
            };
            if let Ok(id) = Oid::from_bytes(entry.oid.as_slice()) {
                worker.visit(kind, id, data);
                if let Some(i) = index_ref.lookup(entry.oid) {
                    seen_ref[i as usize].store(true, Ordering::Relaxed);
                }
            }
            Ok(())
        },
        options,
    );
    for (i, s) in seen.iter().enumerate() {
        if s.load(Ordering::Relaxed)
            && let Ok(id) = Oid::from_bytes(index.oid_at_index(i as u32).as_bytes())
        {
            visited.insert(id);
        }
    }
}

/// Reads the objects `ids` of the repository at `git_dir` (each once; duplicates are the
/// caller's to avoid) on `threads` workers.
pub fn read_ids<V: Visitor>(
    git_dir: &Path,
    ids: &[Oid],
    threads: usize,
    make: &(dyn Fn() -> V + Sync),
    tx: &Sender<Event>,
) {
    if ids.is_empty() {
        return;
    }
    let per = ids.len().div_ceil(threads.max(1));
    std::thread::scope(|s| {
        for chunk in ids.chunks(per) {
            let tx = tx.clone();
            s.spawn(move || read_chunk(git_dir, chunk, make(), &tx));
        }
    });
}

fn read_chunk<V: Visitor>(git_dir: &Path, ids: &[Oid], mut visitor: V, tx: &Sender<Event>) {
    let cannot = |e: &git2::Error| {
        let _ = tx.send(Problem::error(format!(
            "cannot open the object database: {}",
            crate::sanitize::text(e.message())
        )));
    };
    let repo = match Repository::open(git_dir) {
        Ok(repo) => repo,
        Err(e) => return cannot(&e),
    };
    let odb = match repo.odb() {
        Ok(odb) => odb,
        Err(e) => {
            let _ = tx.send(Problem::error(format!(
                "cannot open the object database: {}",
                crate::sanitize::text(e.message())
            )));
            return;
        }
    };
    for &id in ids {
        match odb.read(id) {
            Ok(obj) => {
                let kind = match obj.kind() {
                    ObjectType::Blob => Kind::Blob,
                    ObjectType::Tree => Kind::Tree,
                    ObjectType::Commit => Kind::Commit,
                    ObjectType::Tag => Kind::Tag,
                    ObjectType::Any => continue,
                };
                visitor.visit(kind, id, obj.data());
            }
            Err(e) => {
                let _ = tx.send(Problem::error(unreadable(id, &e)));
            }
        }
    }
}

/// The problem line for an object that cannot be read.
pub(crate) fn unreadable(id: Oid, e: &git2::Error) -> String {
    if e.code() == git2::ErrorCode::NotFound {
        format!("object {id} is missing; it was not scanned")
    } else {
        format!(
            "object {id} cannot be read (corrupt?): {}; it was not scanned",
            crate::sanitize::text(e.message())
        )
    }
}

/// The entries of a raw tree object: `(mode, name, id)`. Stops at the first malformed entry.
pub(crate) fn tree_entries(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], Oid)> {
    std::iter::from_fn(move || {
        let sp = memchr::memchr(b' ', data)?;
        let nul = sp + 1 + memchr::memchr(0, &data[sp + 1..])?;
        let id = Oid::from_bytes(data.get(nul + 1..nul + 21)?).ok()?;
        let entry = (&data[..sp], &data[sp + 1..nul], id);
        data = &data[nul + 21..];
        Some(entry)
    })
}

/// A tree entry's mode names a subtree.
pub(crate) fn is_tree_mode(mode: &[u8]) -> bool {
    mode == b"40000" || mode == b"040000"
}

/// A tree entry's mode names a submodule commit (not an object of this repository).
pub(crate) fn is_gitlink_mode(mode: &[u8]) -> bool {
    mode == b"160000"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_entries_parse_git_tree_encoding() {
        let a = [1u8; 20];
        let b = [2u8; 20];
        let mut raw = b"100644 a.txt\0".to_vec();
        raw.extend_from_slice(&a);
        raw.extend_from_slice(b"40000 dir\0");
        raw.extend_from_slice(&b);
        let got: Vec<_> = tree_entries(&raw).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, b"a.txt");
        assert_eq!(got[0].2, Oid::from_bytes(&a).unwrap());
        assert!(is_tree_mode(got[1].0) && !is_gitlink_mode(got[1].0));
        // Truncated id: the entry is dropped, not misread.
        assert_eq!(tree_entries(&raw[..raw.len() - 1]).count(), 1);
    }
}
