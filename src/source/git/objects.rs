//! Bulk object reading: every object in the object database, each once, spread over threads.
//!
//! [`Odb::open`] lists what the repository holds (loose objects, packs, alternates);
//! [`Odb::read_all`] hands each object's kind, id and bytes to one [`Visitor`] per thread, and
//! [`read_ids`] does the same for a chosen set of ids. Each worker opens its own
//! libgit2 handle (a `Repository` is not `Sync`). An object that cannot be read (corrupt,
//! missing from a partial clone) is reported as a problem and the reading goes on.
//!
//! What to do with the bytes (scan blobs, parse trees) is the visitor's business.

use std::path::{Path, PathBuf};

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
    ids: Vec<Oid>,
    present: OidSet,
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
        // A loose copy of a packed object, or an object in two packs, is read once.
        ids.sort_unstable();
        ids.dedup();
        let present = ids.iter().copied().collect();
        Ok(Odb {
            git_dir: repo.path().to_path_buf(),
            ids,
            present,
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

    /// Reads every object once, on `threads` workers, each with its own visitor from `make`.
    pub fn read_all<V: Visitor>(
        &self,
        threads: usize,
        make: &(dyn Fn() -> V + Sync),
        tx: &Sender<Event>,
    ) {
        read_ids(&self.git_dir, &self.ids, threads, make, tx);
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
