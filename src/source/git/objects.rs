//! Bulk object reading, and parsing the raw objects the modes need.
//!
//! [`Odb::open`] lists what the repository holds (loose objects by file name, packed objects
//! by their index; alternates too); [`Odb::read_all`] hands each object's kind, id and bytes to
//! one [`Visitor`] per thread, and [`read_ids`] does the same for a chosen set of ids. An object
//! that cannot be read (damaged, missing from a partial clone) is reported as a problem, its id
//! is returned to the caller, and the reading goes on.
//!
//! Packs are read with gitoxide's pack traversal (`gix-pack`): it walks each pack in offset
//! order and resolves every delta chain once, from a tree of deltas built from the index, which
//! is several times faster than reading each object by id (each read resolves the object's whole
//! delta chain). Loose objects, and any packed object the traversal could not decode, are read
//! by id through [`super::store`], whose every read is bounded.
//!
//! What to do with the bytes (scan blobs, parse trees) is the visitor's business; the parsers
//! at the end of this file (`tree_entries`, `Commit::parse`, `tag_target`) read git's
//! canonical encodings without libgit2.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Sender;
use git2::Oid;

use super::OidSet;
use super::store::{Pack, ReadError, Store};
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
pub struct Odb<'s> {
    store: &'s Store,
    /// Every object id, sorted.
    ids: Vec<Oid>,
    /// Every object id's bytes, with its position in `ids`. Keyed by the bytes rather than
    /// [`Oid`], whose comparison is a call into libgit2: this map answers a lookup for every
    /// subtree entry of every tree.
    present: Present,
    /// Each pack's entries for the two passes, taken by [`Odb::read_all`].
    passes: std::sync::Mutex<Vec<Passes>>,
}

impl<'s> Odb<'s> {
    /// Lists every object id `store` holds: loose files and the indexes of the packs that
    /// opened (a pack that did not is one of [`Store::problems`]). Meanwhile another thread
    /// sorts each pack's entries into the two passes of [`Odb::read_all`].
    #[must_use]
    pub fn open(store: &'s Store) -> Odb<'s> {
        let (ids, present, passes) = std::thread::scope(|s| {
            let passes = s.spawn(|| store.packs().iter().map(split_by_kind).collect());
            let (ids, present) = list(store);
            let passes = passes
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (ids, present, passes)
        });
        Odb {
            store,
            ids,
            present,
            passes: std::sync::Mutex::new(passes),
        }
    }

    /// Whether the object database holds `id`.
    #[must_use]
    pub fn contains(&self, id: &Oid) -> bool {
        self.position_of(id.as_bytes()).is_some()
    }

    /// A small number for `id` while this database is open, if it holds it.
    #[must_use]
    pub fn position(&self, id: &Oid) -> Option<u32> {
        self.position_of(id.as_bytes())
    }

    /// [`Odb::position`] of an id given as its 20 bytes.
    #[must_use]
    pub fn position_of(&self, id: &[u8]) -> Option<u32> {
        self.present.get(&raw(id)?).copied()
    }

    /// The id at `position`.
    #[must_use]
    pub fn at(&self, position: u32) -> Option<Oid> {
        self.ids.get(position as usize).copied()
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

    /// Reads every object once, on `threads` workers, each with its own visitor from `make`,
    /// in two passes: first everything but the trees that packs hold (packs by traversal,
    /// then whatever is left, loose objects and undecodable entries, by id), then `between`
    /// runs, then those trees (by traversal, and what it left by id). So a visitor that sees a
    /// packed tree knows every blob already: git deltas an object only against another of its
    /// kind, so each pack splits into chains of trees and chains of the rest, and the two
    /// passes together decode what one traversal would. Returns the ids that could not be
    /// read (each already reported).
    pub fn read_all<V: Visitor>(
        &self,
        threads: usize,
        make: &(dyn Fn() -> V + Sync),
        between: &mut dyn FnMut(),
        tx: &Sender<Event>,
    ) -> OidSet {
        // By position in `ids`: what a traversal read, and the trees left for the second pass.
        let mut visited = vec![false; self.ids.len()];
        let mut later = vec![false; self.ids.len()];
        let mut trees = Vec::new();
        let mut passes = std::mem::take(
            &mut *self
                .passes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if passes.len() != self.store.packs().len() {
            // Taken by an earlier reading.
            passes = self.store.packs().iter().map(split_by_kind).collect();
        }
        for (pack, (tree_entries, rest)) in self.store.packs().iter().zip(passes) {
            for e in &tree_entries {
                let id = pack.bundle.index.oid_at_index(e.position);
                if let Some(p) = self.position_of(id.as_bytes()) {
                    later[p as usize] = true;
                }
            }
            // The trees' delta tree is built beside the rest's, on a thread of its own.
            let (rest, tree_delta) = std::thread::scope(|s| {
                let trees = s.spawn(|| delta_tree(pack, tree_entries));
                let rest = delta_tree(pack, rest);
                let trees = trees
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e));
                (rest, trees)
            });
            if let Some(rest) = rest {
                traverse_pack(pack, rest, threads, make, &mut |id| {
                    self.mark(&mut visited, id);
                });
            }
            trees.push((pack, tree_delta));
        }
        let rest: Vec<Oid> = self
            .ids
            .iter()
            .zip(visited.iter().zip(&later))
            .filter(|(_, (v, l))| !**v && !**l)
            .map(|(id, _)| *id)
            .collect();
        let mut failed = read_ids(self.store, &rest, threads, make, tx);
        drop(rest);
        between();
        visited.fill(false);
        for (pack, tree) in trees {
            if let Some(tree) = tree {
                traverse_pack(pack, tree, threads, make, &mut |id| {
                    self.mark(&mut visited, id);
                });
            }
        }
        // Sorted: `ids` is.
        let rest: Vec<Oid> = self
            .ids
            .iter()
            .zip(visited.iter().zip(&later))
            .filter(|(_, (v, l))| **l && !**v)
            .map(|(id, _)| *id)
            .collect();
        failed.extend(read_ids(self.store, &rest, threads, make, tx));
        failed
    }

    /// Marks `id` (20 bytes) in `bits`, a flag per position.
    fn mark(&self, bits: &mut [bool], id: &[u8]) {
        if let Some(p) = self.position_of(id) {
            bits[p as usize] = true;
        }
    }
}

/// The 20 bytes of an id, if it has 20.
fn raw(id: &[u8]) -> Option<[u8; 20]> {
    id.try_into().ok()
}

/// Every object id `store` holds, sorted and each once, and the map from id to position.
fn list(store: &Store) -> (Vec<Oid>, Present) {
    let mut ids = store.loose_ids();
    ids.extend(store.packed_ids());
    // Listed once even if loose and packed, or in two packs; the pack traversal still
    // visits an object that two packs hold once per pack (rare: `git gc` leaves one).
    // By their bytes: `Oid`'s comparisons are calls into libgit2, 20 million of them to sort
    // git/git's ids. One pack's index is sorted already.
    if !ids.is_sorted_by(|a, b| a.as_bytes() <= b.as_bytes()) {
        ids.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    }
    ids.dedup_by(|a, b| a.as_bytes() == b.as_bytes());
    let mut present = HashMap::with_capacity_and_hasher(ids.len(), BuildHasherDefault::default());
    for (i, id) in ids.iter().enumerate() {
        if let (Some(id), Ok(i)) = (raw(id.as_bytes()), u32::try_from(i)) {
            present.insert(id, i);
        }
    }
    (ids, present)
}

/// Object ids by their bytes, with their positions.
type Present = HashMap<[u8; 20], u32, BuildHasherDefault<super::IdHasher>>;

/// A pack's entries for the two passes of [`Odb::read_all`]: its trees, and the rest.
type Passes = (Vec<Entry>, Vec<Entry>);

/// Where a pack's first entry is: after its 12-byte header (`PACK`, version, count).
const FIRST_ENTRY: u64 = 12;

/// The position of the marker entry [`traverse_pack`] adds: no entry of the index.
const MARKER: u32 = u32::MAX;

/// A pack entry as the traversal carries it: where it is and its position in the index,
/// which gives its id and marks it seen without a lookup. 16 bytes: the delta trees hold one
/// per object (with the id as well, 40 bytes, git/git's audit peaked about 15 MiB higher).
#[derive(Debug)]
struct Entry {
    pack_offset: u64,
    position: u32,
}

/// Splits a pack's index entries, in pack order, into the trees and the rest, by the kind of
/// each delta chain's base. An entry whose kind cannot be worked out (a damaged header, a base
/// the pack lacks) is in neither: it is read by id with the rest.
fn split_by_kind(pack: &Pack) -> (Vec<Entry>, Vec<Entry>) {
    const UNKNOWN: u8 = 0;
    const TREE: u8 = 1;
    const OTHER: u8 = 2;
    let index = &pack.bundle.index;
    let data = &pack.bundle.pack;
    let mut entries: Vec<Entry> = index
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            Some(Entry {
                pack_offset: e.pack_offset,
                position: u32::try_from(i).ok()?,
            })
        })
        .collect();
    entries.sort_unstable_by_key(|e| e.pack_offset);
    let at = |offset: u64| {
        entries
            .binary_search_by_key(&offset, |e| e.pack_offset)
            .ok()
    };
    let mut kinds = vec![UNKNOWN; entries.len()];
    // Ref-deltas may name a base later in the pack: `(entry, base entry)`, resolved after.
    let mut pending: Vec<(usize, usize)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        use gix_pack::data::entry::Header;
        let Ok(entry) = data.entry(e.pack_offset) else {
            continue;
        };
        kinds[i] = match entry.header {
            Header::Tree => TREE,
            Header::Blob | Header::Commit | Header::Tag => OTHER,
            Header::OfsDelta { base_distance } => {
                match Header::verified_base_pack_offset(e.pack_offset, base_distance).and_then(at) {
                    Some(b) if b < i => kinds[b],
                    _ => UNKNOWN,
                }
            }
            Header::RefDelta { base_id } => {
                match index
                    .lookup(base_id)
                    .map(|x| index.pack_offset_at_index(x))
                    .and_then(at)
                {
                    Some(b) if b < i => kinds[b],
                    Some(b) => {
                        pending.push((i, b));
                        UNKNOWN
                    }
                    None => UNKNOWN,
                }
            }
        };
    }
    // Each round settles at least one link of a chain of forward ref-deltas, or nothing moves.
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|&(i, b)| {
            if kinds[b] == UNKNOWN {
                return true;
            }
            kinds[i] = kinds[b];
            false
        });
        if pending.len() == before {
            break;
        }
    }
    // Settling a ref-delta may settle the offset-deltas built on it, which come later.
    for i in 0..entries.len() {
        if kinds[i] == UNKNOWN
            && let Ok(entry) = data.entry(entries[i].pack_offset)
            && let gix_pack::data::entry::Header::OfsDelta { base_distance } = entry.header
            && let Some(b) = gix_pack::data::entry::Header::verified_base_pack_offset(
                entries[i].pack_offset,
                base_distance,
            )
            .and_then(at)
            && b < i
        {
            kinds[i] = kinds[b];
        }
    }
    let (mut trees, mut rest) = (Vec::new(), Vec::new());
    for (e, k) in entries.into_iter().zip(kinds) {
        match k {
            TREE => trees.push(e),
            OTHER => rest.push(e),
            _ => {}
        }
    }
    (trees, rest)
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

/// The delta tree gix traverses, for `entries` (sorted by pack offset, each chain whole) of
/// one pack; `None` when it cannot be built (the entries are then read by id).
fn delta_tree(pack: &Pack, entries: Vec<Entry>) -> Option<DeltaTree> {
    if entries.is_empty() {
        return None;
    }
    let index = &pack.bundle.index;
    let interrupt = AtomicBool::new(false);
    // gix reads the entries' headers in one pass that starts right after the pack's header,
    // at the pack's first entry, whatever the first offset given: a list that starts further
    // in (the trees' pass, whose first tree is rarely the pack's first object) has every
    // header read from the wrong place, and the delta tree fails or is wrong. So such a list
    // starts with the pack's first entry as a marker, which the traversal skips.
    let marker = (entries.first().map(|e| e.pack_offset) != Some(FIRST_ENTRY)).then_some(Entry {
        pack_offset: FIRST_ENTRY,
        position: MARKER,
    });
    gix_pack::cache::delta::Tree::from_offsets_in_pack(
        pack.bundle.pack.path(),
        marker.into_iter().chain(entries),
        &|e: &Entry| e.pack_offset,
        &|id| Ok(index.lookup(id).map(|i| index.pack_offset_at_index(i))),
        &mut gix_utils::progress::Discard,
        &interrupt,
        index.object_hash(),
    )
    .ok()
}

/// A delta tree over a pack's entries.
type DeltaTree = gix_pack::cache::delta::Tree<Entry>;

/// Traverses the delta chains of `tree` (from [`delta_tree`]) in one pack, passing the ids it
/// handed to a visitor to `visited`. Entries gitoxide cannot decode are left for
/// [`read_ids`] to read (and report).
fn traverse_pack<V: Visitor>(
    pack: &Pack,
    tree: DeltaTree,
    threads: usize,
    make: &(dyn Fn() -> V + Sync),
    visited: &mut dyn FnMut(&[u8]),
) {
    let index = &pack.bundle.index;
    let data = &pack.bundle.pack;
    let interrupt = AtomicBool::new(false);
    let seen: Vec<AtomicBool> = (0..index.num_objects())
        .map(|_| AtomicBool::new(false))
        .collect();
    let mut worker = PerThread {
        visitor: make(),
        make,
    };
    let seen_ref = &seen;
    // On error (a damaged entry, an object over the allocation limit) the objects not yet
    // seen are read by id. No checksums: they cost a SHA-1 over every object, and a damaged
    // entry is read (and reported) by id afterwards.
    let _ = tree.traverse(
        |slice, pack: &gix_pack::data::File| pack.entry_slice(slice),
        data,
        data.pack_end() as u64,
        move |e: &mut Entry,
              _: &dyn gix_utils::progress::Progress,
              ctx: gix_pack::cache::delta::traverse::Context<'_>| {
            if e.position == MARKER {
                return Ok(());
            }
            let kind = match ctx.entry.header.as_kind() {
                Some(gix_object::Kind::Blob) => Kind::Blob,
                Some(gix_object::Kind::Tree) => Kind::Tree,
                Some(gix_object::Kind::Commit) => Kind::Commit,
                Some(gix_object::Kind::Tag) => Kind::Tag,
                None => return Ok(()),
            };
            if let Ok(id) = Oid::from_bytes(index.oid_at_index(e.position).as_bytes()) {
                worker.visit(kind, id, ctx.decompressed);
                if let Some(s) = seen_ref.get(e.position as usize) {
                    s.store(true, Ordering::Relaxed);
                }
            }
            Ok(())
        },
        gix_pack::cache::delta::traverse::Options {
            object_progress: Box::new(gix_utils::progress::Discard),
            size_progress: &mut gix_utils::progress::Discard,
            thread_limit: Some(threads.max(1)),
            should_interrupt: &interrupt,
            object_hash: index.object_hash(),
            // Larger objects are left for `read_ids`, which reads them one at a time.
            alloc_limit_bytes: Some(usize::try_from(BIG_OBJECT).unwrap_or(usize::MAX)),
        },
    );
    for (i, s) in seen.iter().enumerate() {
        if s.load(Ordering::Relaxed) {
            visited(index.oid_at_index(i as u32).as_bytes());
        }
    }
}

/// Reads the objects `ids` from `store` (each once; duplicates are the caller's to avoid) on
/// `threads` workers. Returns the ids that could not be read (each already reported).
pub fn read_ids<V: Visitor>(
    store: &Store,
    ids: &[Oid],
    threads: usize,
    make: &(dyn Fn() -> V + Sync),
    tx: &Sender<Event>,
) -> OidSet {
    let mut failed = OidSet::default();
    if ids.is_empty() {
        return failed;
    }
    let per = ids.len().div_ceil(threads.max(1));
    let mut deferred: Vec<Oid> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(per)
            .map(|chunk| {
                let tx = tx.clone();
                s.spawn(move || read_chunk(store, chunk, make(), &tx, true))
            })
            .collect();
        for h in handles {
            if let Ok((f, d)) = h.join() {
                failed.extend(f);
                deferred.extend(d);
            }
        }
    });
    // Objects over BIG_OBJECT, one at a time: memory holds one of them, not one per thread.
    deferred.sort_unstable();
    let (f, _) = read_chunk(store, &deferred, make(), tx, false);
    failed.extend(f);
    failed
}

/// Objects declaring more than this many bytes are read one at a time, after the others (the
/// pack traversal leaves them alone too): phase 1 then holds at most one object this large,
/// plus objects under the limit on each thread, whatever the repository holds.
pub const BIG_OBJECT: u64 = 64 << 20;

/// Reads `ids` with one reader and visitor; with `defer_big`, objects over [`BIG_OBJECT`] are
/// not read but returned. Returns the ids that could not be read, and those deferred.
fn read_chunk<V: Visitor>(
    store: &Store,
    ids: &[Oid],
    mut visitor: V,
    tx: &Sender<Event>,
    defer_big: bool,
) -> (Vec<Oid>, Vec<Oid>) {
    let mut reader = store.reader();
    let mut buf = Vec::new();
    let mut failed = Vec::new();
    let mut deferred = Vec::new();
    for &id in ids {
        if defer_big && reader.size_hint(id).is_some_and(|n| n > BIG_OBJECT) {
            deferred.push(id);
            continue;
        }
        match reader.read_into(id, &mut buf) {
            Ok(kind) => visitor.visit(kind, id, &buf),
            Err(e) => {
                failed.push(id);
                let _ = tx.send(Problem::error(unreadable(&e)));
            }
        }
        if buf.capacity() > BIG_OBJECT as usize {
            // Do not keep a big object's buffer for the small ones that follow.
            buf = Vec::new();
        }
    }
    (failed, deferred)
}

/// The problem line for an object that cannot be read.
pub(crate) fn unreadable(e: &ReadError) -> String {
    format!("{e}; it was not scanned")
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

/// A person and a time, from a commit's `author` or `committer` or a tag's `tagger` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Signature<'a> {
    pub name: &'a [u8],
    pub email: &'a [u8],
    /// Seconds since the epoch (0 when unparsable).
    pub time: i64,
}

impl<'a> Signature<'a> {
    /// `Name <email> 1700000000 +0100`; lenient, as git is when reading.
    fn parse(line: &'a [u8]) -> Signature<'a> {
        let lt = memchr::memchr(b'<', line);
        let gt = memchr::memrchr(b'>', line);
        let (name, email, rest) = match (lt, gt) {
            (Some(lt), Some(gt)) if lt < gt => (&line[..lt], &line[lt + 1..gt], &line[gt + 1..]),
            _ => (line, &b""[..], &b""[..]),
        };
        let name = name.strip_suffix(b" ").unwrap_or(name);
        let time = std::str::from_utf8(rest)
            .ok()
            .and_then(|r| r.split_ascii_whitespace().next())
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        Signature { name, email, time }
    }
}

/// The headers of a raw commit object that history needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Commit<'a> {
    pub tree: Option<Oid>,
    /// In the order the commit lists them, duplicates kept.
    pub parents: Vec<Oid>,
    pub author: Signature<'a>,
    /// The committer's time (what `git log` sorts by).
    pub time: i64,
}

impl<'a> Commit<'a> {
    /// Parses the header lines up to the blank line before the message. Unknown headers and
    /// continuation lines (a signature) are skipped; a malformed id is left out.
    pub fn parse(data: &'a [u8]) -> Commit<'a> {
        let mut c = Commit::default();
        for line in header_lines(data) {
            if let Some(hex) = line.strip_prefix(b"tree ") {
                c.tree = c.tree.or_else(|| hex_id(hex));
            } else if let Some(hex) = line.strip_prefix(b"parent ") {
                c.parents.extend(hex_id(hex));
            } else if let Some(sig) = line.strip_prefix(b"author ") {
                c.author = Signature::parse(sig);
            } else if let Some(sig) = line.strip_prefix(b"committer ") {
                c.time = Signature::parse(sig).time;
            }
        }
        c
    }
}

/// What a raw tag object names, and who tagged it.
pub(crate) fn tag_target(data: &[u8]) -> (Option<Oid>, Signature<'_>) {
    let (mut target, mut tagger) = (None, Signature::default());
    for line in header_lines(data) {
        if let Some(hex) = line.strip_prefix(b"object ") {
            target = target.or_else(|| hex_id(hex));
        } else if let Some(sig) = line.strip_prefix(b"tagger ") {
            tagger = Signature::parse(sig);
        }
    }
    (target, tagger)
}

/// The header lines of a commit or tag (up to the first blank line).
fn header_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = memchr::memmem::find(data, b"\n\n").unwrap_or(data.len());
    data[..end].split(|&b| b == b'\n')
}

fn hex_id(hex: &[u8]) -> Option<Oid> {
    if hex.len() != 40 {
        return None;
    }
    Oid::from_str(std::str::from_utf8(hex).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the objects it is shown.
    struct Count<'a>(&'a std::sync::atomic::AtomicUsize);

    impl Visitor for Count<'_> {
        fn visit(&mut self, _: Kind, _: Oid, _: &[u8]) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A regression test: gix reads the delta tree's headers from the pack's first entry on,
    /// whatever offset the list starts at, so the trees' pass of a pack whose first object is
    /// not a tree (rails/rails: every pack git writes starts with a commit) built no delta tree
    /// and its 788,586 trees were all read by id, 2.7 s more than reading them once.
    #[test]
    fn the_trees_pass_traverses_a_pack_whose_first_object_is_no_tree() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@example.test"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        };
        git(&["init", "-q"]);
        // Trees that delta against each other: one directory of many files, changed often.
        for round in 0..12 {
            for f in 0..40 {
                let p = dir.path().join(format!("d/e/f{f}.txt"));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, format!("{f} {}\n", round * (f % 3))).unwrap();
            }
            git(&["add", "-A"]);
            git(&["commit", "-q", "-m", &format!("round {round}")]);
        }
        git(&["repack", "-adq", "--window=50", "--depth=50"]);
        let repo = git2::Repository::open(dir.path()).unwrap();
        let store = Store::open(&repo, super::super::store::Check::Full);
        let pack = &store.packs()[0];
        let (trees, _) = split_by_kind(pack);
        assert!(trees.len() > 20, "{} trees", trees.len());
        assert_ne!(
            trees[0].pack_offset, FIRST_ENTRY,
            "the pack starts with a commit"
        );
        let expected = trees.len();
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let visited = std::sync::atomic::AtomicUsize::new(0);
        let make = || Count(&visited);
        let tree = delta_tree(pack, trees).expect("a delta tree of the trees");
        traverse_pack(pack, tree, 2, &make, &mut |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(
            visited.load(Ordering::Relaxed),
            expected,
            "every tree visited"
        );
        assert_eq!(
            seen.load(Ordering::Relaxed),
            expected,
            "every tree marked seen"
        );
    }

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

    #[test]
    fn commit_and_tag_headers_parse_without_libgit2() {
        let t = "1".repeat(40);
        let (p1, p2) = ("2".repeat(40), "3".repeat(40));
        let raw = format!(
            "tree {t}\nparent {p1}\nparent {p2}\nauthor Ada Tester <ada@example.test> 1700000060 +0100\n\
             committer C <c@x> 1700000120 +0000\ngpgsig -----BEGIN\n parent {t}\n\nparent {t}\n"
        );
        let c = Commit::parse(raw.as_bytes());
        assert_eq!(c.tree, Oid::from_str(&t).ok());
        let want: Vec<Oid> = [&p1, &p2]
            .iter()
            .map(|p| Oid::from_str(p).unwrap())
            .collect();
        assert_eq!(
            c.parents, want,
            "a continuation line or the message is no parent"
        );
        assert_eq!(c.author.name, b"Ada Tester");
        assert_eq!(c.author.email, b"ada@example.test");
        assert_eq!((c.author.time, c.time), (1_700_000_060, 1_700_000_120));
        let tag = format!("object {p1}\ntype commit\ntag v1\ntagger T <t@x> 5 +0000\n\nmsg\n");
        let (target, tagger) = tag_target(tag.as_bytes());
        assert_eq!(target, Oid::from_str(&p1).ok());
        assert_eq!((tagger.name, tagger.time), (&b"T"[..], 5));
    }
}
