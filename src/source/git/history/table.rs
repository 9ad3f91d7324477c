//! The trees as phase 3 needs them, kept while phase 1 reads them once: for each tree, in
//! entry order, its subtrees, its submodule entries and its entries naming a key-holding
//! blob, and nothing else. The map then walks memory instead of reading every tree again.
//!
//! Only trees read after every blob has been scanned are kept (see
//! [`super::super::objects::Odb::read_all`]): the others, and any tree this table lacks, are
//! read by id as before, so the table only saves time and never changes a result.
//!
//! Memory: 8 bytes per subtree or submodule entry and per key-holding entry, plus about 40
//! bytes per tree for its slot, names interned once each.

use std::hash::{BuildHasherDefault, Hasher};

use git2::Oid;

use crate::source::git::objects::Odb;

use super::super::OidMap;

/// What an edge leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum To {
    /// A subtree.
    Tree,
    /// A blob that holds a key.
    Key,
    /// A submodule commit (a gitlink).
    Gitlink,
}

/// One kept tree entry: its name (interned), what it leads to, and its id as a position in
/// the object database ([`Odb::position`]): 8 bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Edge {
    /// Index into the names, with the kind in the top two bits.
    tagged: u32,
    /// The entry's position in the object database.
    child: u32,
}

const KIND_SHIFT: u32 = 30;
const NAME_MASK: u32 = (1 << KIND_SHIFT) - 1;

impl Edge {
    fn new(to: To, name: u32, child: u32) -> Edge {
        let kind = match to {
            To::Tree => 0,
            To::Key => 1,
            To::Gitlink => 2,
        };
        Edge {
            tagged: (kind << KIND_SHIFT) | (name & NAME_MASK),
            child,
        }
    }

    /// What the entry leads to.
    pub(super) fn to(self) -> To {
        match self.tagged >> KIND_SHIFT {
            0 => To::Tree,
            1 => To::Key,
            _ => To::Gitlink,
        }
    }

    fn name(self) -> u32 {
        self.tagged & NAME_MASK
    }

    /// The entry's id.
    pub(super) fn id(self, odb: &Odb<'_>) -> Oid {
        odb.at(self.child).unwrap_or(Oid::ZERO_SHA1)
    }
}

/// Names seen once each: `name -> index`, and the names by index.
#[derive(Debug, Default)]
struct Names {
    index: std::collections::HashMap<Box<[u8]>, u32, BuildHasherDefault<NameHasher>>,
    names: Vec<Box<[u8]>>,
}

impl Names {
    fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(NAME_MASK) & NAME_MASK;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }
}

/// The blobs that hold a key, with a filter on their ids' first two bytes that rules out
/// almost every other blob without hashing (8 KiB: one bit per prefix).
#[derive(Debug)]
pub(super) struct Keys {
    set: super::super::OidSet,
    prefixes: Box<[u64; 1024]>,
}

impl Keys {
    /// The filter over `set`.
    pub(super) fn new(set: super::super::OidSet) -> Keys {
        let mut prefixes = Box::new([0u64; 1024]);
        for id in &set {
            let p = prefix(id.as_bytes());
            prefixes[p >> 6] |= 1 << (p & 63);
        }
        Keys { set, prefixes }
    }

    fn may_hold(&self, raw: &[u8]) -> bool {
        let p = prefix(raw);
        self.prefixes[p >> 6] & (1 << (p & 63)) != 0
    }
}

fn prefix(raw: &[u8]) -> usize {
    usize::from(raw[0]) << 8 | usize::from(raw[1])
}

/// One worker's part of the table: the trees it read, their edges and the names they use.
#[derive(Debug, Default)]
pub(super) struct Part {
    trees: OidMap<(u32, u32)>,
    edges: Vec<Edge>,
    names: Names,
}

impl Part {
    /// Whether it keeps no tree.
    pub(super) fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// Keeps what `data`, the raw tree `id`, holds of use to the map; `keys` are the blobs
    /// that hold a key. This runs on every entry of every tree in the repository (145 million
    /// in git/git), so it reads the encoding by hand and builds an id only for the entries it
    /// keeps or that pass the filter.
    pub(super) fn add(&mut self, id: Oid, mut data: &[u8], keys: &Keys, odb: &Odb<'_>) {
        let start = self.edges.len();
        // `<mode> <name>\0<20-byte id>`, as `objects::tree_entries` reads it; a malformed
        // entry ends the tree there as it does there.
        while let Some(sp) = data.iter().take(8).position(|&b| b == b' ') {
            let mode = &data[..sp];
            let Some(nul) = memchr::memchr(0, &data[sp + 1..]).map(|n| sp + 1 + n) else {
                break;
            };
            let Some(raw) = data.get(nul + 1..nul + 21) else {
                break;
            };
            // Compared byte by byte: a slice pattern would call memcmp for every entry.
            let to = match *mode {
                [b'1', b'6', b'0', b'0', b'0', b'0'] => Some(To::Gitlink),
                [b'4', b'0', b'0', b'0', b'0'] | [b'0', b'4', b'0', b'0', b'0', b'0'] => {
                    Some(To::Tree)
                }
                _ if keys.may_hold(raw) => Some(To::Key),
                _ => None,
            };
            if let Some(to) = to
                && let Ok(entry) = Oid::from_bytes(raw)
                && (to != To::Key || keys.set.contains(&entry))
            {
                let child = if to == To::Gitlink {
                    0
                } else if let Some(p) = odb.position(&entry) {
                    p
                } else {
                    // An entry the database lacks: the map reads this tree by id, and
                    // reports what it cannot read as it always has.
                    self.edges.truncate(start);
                    return;
                };
                let name = self.names.intern(&data[sp + 1..nul]);
                self.edges.push(Edge::new(to, name, child));
            }
            data = &data[nul + 21..];
        }
        if let (Ok(start), Ok(len)) = (
            u32::try_from(start),
            u32::try_from(self.edges.len() - start),
        ) {
            self.trees.insert(id, (start, len));
        }
    }

    /// The raw name of one of its edges.
    pub(super) fn name(&self, edge: Edge) -> &[u8] {
        self.names
            .names
            .get(edge.name() as usize)
            .map_or(&[][..], |n| n)
    }
}

/// The kept trees of all workers. A tree is looked up in each part in turn: there are as
/// many parts as workers, and joining them would hold every edge twice for a moment.
#[derive(Debug, Default)]
pub(super) struct Table {
    parts: Vec<Part>,
}

impl Table {
    /// The workers' parts, as they are.
    pub(super) fn new(parts: Vec<Part>) -> Table {
        Table { parts }
    }

    /// The kept entries of `tree` and the part that holds their names, or `None` if the
    /// table does not hold it.
    pub(super) fn get(&self, tree: &Oid) -> Option<(&Part, &[Edge])> {
        self.parts.iter().find_map(|p| {
            let &(start, len) = p.trees.get(tree)?;
            Some((p, p.edges.get(start as usize..(start + len) as usize)?))
        })
    }
}

/// FNV-1a over a tree entry's name (names are short, and a collision only costs a compare);
/// the standard `SipHash` showed in profiles of the tree pass.
#[derive(Debug, Default)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_tree(entries: &[(&str, &str, Oid)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (mode, name, id) in entries {
            out.extend_from_slice(mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            out.extend_from_slice(id.as_bytes());
        }
        out
    }

    fn id(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap_or(Oid::ZERO_SHA1)
    }

    #[test]
    fn table_keeps_subtrees_gitlinks_and_key_blobs_in_entry_order_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = git2::Repository::init_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        // Objects the database holds: a key blob, a plain blob, a subtree.
        let key = repo.blob(b"k").unwrap_or_else(|e| panic!("{e}"));
        let plain = repo.blob(b"p").unwrap_or_else(|e| panic!("{e}"));
        let sub = repo
            .treebuilder(None)
            .and_then(|b| b.write())
            .unwrap_or_else(|e| panic!("{e}"));
        let store =
            crate::source::git::store::Store::open(&repo, crate::source::git::store::Check::Full);
        let odb = Odb::open(&store);
        let keys = Keys::new(std::iter::once(key).collect());
        let data = raw_tree(&[
            ("100644", "a.env", key),
            ("100644", "b.txt", plain),
            ("160000", "mod", id(7)),
            ("40000", "sub", sub),
            ("100755", "c.env", key),
        ]);
        let mut part = Part::default();
        part.add(id(1), &data, &keys, &odb);
        let table = Table::new(vec![part]);
        let (part, edges) = table.get(&id(1)).unwrap_or_else(|| panic!("tree kept"));
        let got: Vec<(To, &[u8], Option<Oid>)> = edges
            .iter()
            .map(|&e| {
                let id = (e.to() != To::Gitlink).then(|| e.id(&odb));
                (e.to(), part.name(e), id)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (To::Key, &b"a.env"[..], Some(key)),
                (To::Gitlink, &b"mod"[..], None),
                (To::Tree, &b"sub"[..], Some(sub)),
                (To::Key, &b"c.env"[..], Some(key)),
            ]
        );
        // A tree naming a subtree the database lacks is not kept: the map reads it by id.
        let mut part = Part::default();
        part.add(id(2), &raw_tree(&[("40000", "gone", id(9))]), &keys, &odb);
        assert!(Table::new(vec![part]).get(&id(2)).is_none());
        assert!(table.get(&id(3)).is_none());
    }
}
