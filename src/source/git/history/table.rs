//! The trees as phase 3 needs them, kept while phase 1 reads them once: for each tree, in
//! entry order, its subtrees, its submodule entries and its entries naming a key-holding
//! blob, and nothing else. The map then walks memory instead of reading every tree again.
//!
//! Only trees read after every blob has been scanned are kept (see
//! [`super::super::objects::Odb::read_all`]): the others, and any tree this table lacks, are
//! read by id as before, so the table only saves time and never changes a result.
//!
//! Trees are found by their position in the object database, and their entries name their
//! subtrees by position too, so the map follows an entry without hashing an id.
//!
//! Memory: 8 bytes per subtree or submodule entry and per key-holding entry, 12 bytes per
//! object in the database for the slots (git/git: 7.2 million entries and 850,000 objects,
//! 68 MB), names interned once each, and a 96 KiB cache of positions per worker.

use std::hash::{BuildHasherDefault, Hasher};

use git2::Oid;

use crate::source::git::objects::Odb;

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

    /// The entry's position in the object database.
    pub(super) fn child(self) -> u32 {
        self.child
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
    set: std::collections::HashSet<[u8; 20], BuildHasherDefault<super::super::IdHasher>>,
    prefixes: Box<[u64; 1024]>,
}

impl Keys {
    /// The filter over `set`.
    pub(super) fn new(set: &super::super::OidSet) -> Keys {
        let mut prefixes = Box::new([0u64; 1024]);
        let mut raw = std::collections::HashSet::default();
        for id in set {
            let p = prefix(id.as_bytes());
            prefixes[p >> 6] |= 1 << (p & 63);
            if let Ok(r) = id.as_bytes().try_into() {
                raw.insert(r);
            }
        }
        Keys { set: raw, prefixes }
    }

    /// Whether the blob whose id is `raw` (20 bytes) holds a key.
    fn holds(&self, raw: &[u8]) -> bool {
        let p = prefix(raw);
        self.prefixes[p >> 6] & (1 << (p & 63)) != 0
            && raw
                .try_into()
                .is_ok_and(|r: [u8; 20]| self.set.contains(&r))
    }
}

fn prefix(raw: &[u8]) -> usize {
    usize::from(raw[0]) << 8 | usize::from(raw[1])
}

/// One worker's part of the table: the trees it read, their edges and the names they use.
#[derive(Debug, Default)]
pub(super) struct Part {
    /// `(tree's position in the object database, first edge, edges)`, a tree each.
    trees: Vec<(u32, u32, u32)>,
    edges: Vec<Edge>,
    names: Names,
    /// Some tree it kept holds a submodule entry.
    pub(super) gitlinks: bool,
    positions: Positions,
}

/// Subtree ids recently looked up, with their positions in the object database: most trees
/// name the same subtrees as the tree they were changed from (git/git's 382,000 trees have
/// 7 million subtree entries), and the database's map, 20 MiB for git/git, misses the cache
/// at nearly every lookup. A slot per value of an id's first 12 bits (96 KiB).
#[derive(Debug)]
struct Positions(Box<[([u8; 20], u32)]>);

impl Default for Positions {
    fn default() -> Self {
        Positions(vec![([0; 20], u32::MAX); 1 << 12].into_boxed_slice())
    }
}

impl Positions {
    /// The position of the object `raw` (20 bytes) in `odb`, if it holds it.
    fn get(&mut self, raw: &[u8], odb: &Odb<'_>) -> Option<u32> {
        let id: [u8; 20] = raw.try_into().ok()?;
        let slot = &mut self.0[usize::from(id[0]) << 4 | usize::from(id[1] >> 4)];
        if slot.1 != u32::MAX && slot.0 == id {
            return Some(slot.1);
        }
        let p = odb.position_of(raw)?;
        *slot = (id, p);
        Some(p)
    }
}

/// Flags the bytes of `x` that are zero, in their top bits. The lowest flag is exact: a
/// borrow can only flag a byte above a zero byte.
#[inline]
fn zeros64(x: u64) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    x.wrapping_sub(LOW) & !x & (LOW << 7)
}

/// [`zeros64`] over sixteen bytes.
#[inline]
fn zeros128(x: u128) -> u128 {
    const LOW: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    x.wrapping_sub(LOW) & !x & (LOW << 7)
}

/// The offset of the first byte equal to `byte` in `data[from..]`, from `from`. Eight bytes
/// at a time without a call: names and modes are a few bytes long, and a call to `memchr`
/// per entry showed in profiles.
#[inline]
fn find_byte(data: &[u8], from: usize, byte: u8) -> Option<usize> {
    let pattern = 0x0101_0101_0101_0101 * u64::from(byte);
    let mut at = from;
    while let Some(chunk) = data.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let found = zeros64(u64::from_le_bytes(word) ^ pattern);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    memchr::memchr(byte, data.get(at..)?).map(|n| at + n)
}

/// The modes the table keeps, with the space after them, as the low bytes of a word.
const TREE_MODE: u64 = u64::from_le_bytes(*b"40000 \0\0");
const TREE_MODE_0: u64 = u64::from_le_bytes(*b"040000 \0");
const GITLINK_MODE: u64 = u64::from_le_bytes(*b"160000 \0");

/// What the table keeps of an entry whose mode is in the low bytes of `word` (the mode's
/// first eight bytes) and whose id is `raw`.
#[inline]
fn kept(word: u64, raw: &[u8], keys: &Keys) -> Option<To> {
    let (six, seven) = (word & 0xffff_ffff_ffff, word & 0xff_ffff_ffff_ffff);
    if six == TREE_MODE || seven == TREE_MODE_0 {
        Some(To::Tree)
    } else if seven == GITLINK_MODE {
        Some(To::Gitlink)
    } else if keys.holds(raw) {
        Some(To::Key)
    } else {
        None
    }
}

impl Part {
    /// Whether it keeps no tree.
    pub(super) fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// Keeps what `data`, the raw tree at `position` in `odb`, holds of use to the map;
    /// `keys` are the blobs that hold a key. Returns false when the tree is not kept (it names
    /// an object the database lacks: the map reads it by id).
    ///
    /// This runs on every entry of every tree in the repository (135 million in git/git), so
    /// it reads the encoding sixteen bytes at a time, and looks up an id only for the entries
    /// it keeps. An entry is `<mode> <name>\0<20-byte id>`, read as `objects::tree_entries`
    /// reads it: the mode ends at the first space in its first eight bytes, the name at the
    /// next zero byte, and a malformed entry ends the tree there.
    pub(super) fn add(&mut self, position: u32, data: &[u8], keys: &Keys, odb: &Odb<'_>) -> bool {
        const SPACES: u64 = 0x2020_2020_2020_2020;
        let start = self.edges.len();
        let mut at = 0;
        // The common case: a space in the first eight bytes and no zero byte before it, so the
        // first zero byte of the entry ends its name.
        while let Some(chunk) = data.get(at..at + 16) {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(chunk);
            let word = u128::from_le_bytes(bytes);
            let head = word as u64;
            let spaces = zeros64(head ^ SPACES);
            let zeros = zeros128(word);
            let sp = spaces.trailing_zeros() / 8;
            if spaces == 0 || (zeros as u64) & ((2u64 << (sp * 8)) - 1) != 0 {
                // No space, or a zero byte at or before it: the careful reading decides.
                break;
            }
            let nul = if zeros != 0 {
                at + (zeros.trailing_zeros() / 8) as usize
            } else {
                match find_byte(data, at + 16, 0) {
                    Some(n) => n,
                    None => break,
                }
            };
            let Some(raw) = data.get(nul + 1..nul + 21) else {
                break;
            };
            if let Some(to) = kept(head, raw, keys)
                && !self.edge(to, &data[at + sp as usize + 1..nul], raw, odb)
            {
                self.edges.truncate(start);
                return false;
            }
            at = nul + 21;
        }
        // The rest (a tree's last entries, and anything odd), a byte search at a time.
        while let Some(sp) = find_byte(&data[..data.len().min(at + 8)], at, b' ') {
            let Some(nul) = find_byte(data, sp + 1, 0) else {
                break;
            };
            let Some(raw) = data.get(nul + 1..nul + 21) else {
                break;
            };
            let mut head = [0u8; 8];
            head[..sp + 1 - at].copy_from_slice(&data[at..=sp]);
            if let Some(to) = kept(u64::from_le_bytes(head), raw, keys)
                && !self.edge(to, &data[sp + 1..nul], raw, odb)
            {
                self.edges.truncate(start);
                return false;
            }
            at = nul + 21;
        }
        if let (Ok(first), Ok(len)) = (
            u32::try_from(start),
            u32::try_from(self.edges.len() - start),
        ) {
            self.trees.push((position, first, len));
        }
        true
    }

    /// Keeps one entry; false when the database lacks what it names.
    fn edge(&mut self, to: To, name: &[u8], raw: &[u8], odb: &Odb<'_>) -> bool {
        let child = if to == To::Gitlink {
            self.gitlinks = true;
            0
        } else if let Some(p) = self.positions.get(raw, odb) {
            p
        } else {
            return false;
        };
        let name = self.names.intern(name);
        self.edges.push(Edge::new(to, name, child));
        true
    }

    /// The raw name of one of its edges.
    pub(super) fn name(&self, edge: Edge) -> &[u8] {
        self.names
            .names
            .get(edge.name() as usize)
            .map_or(&[][..], |n| n)
    }
}

/// Where a kept tree's edges are: its part, and the range of that part's edges.
#[derive(Debug, Clone, Copy)]
struct Slot {
    part: u32,
    start: u32,
    len: u32,
}

impl Slot {
    const NONE: Slot = Slot {
        part: u32::MAX,
        start: 0,
        len: 0,
    };
}

/// The kept trees of all workers, found by their position in the object database (12 bytes
/// an object). The parts keep their own edges and names: joining them would hold every edge
/// twice for a moment.
#[derive(Debug, Default)]
pub(super) struct Table {
    parts: Vec<Part>,
    slots: Vec<Slot>,
}

impl Table {
    /// The workers' parts, for a database of `objects` objects.
    pub(super) fn new(mut parts: Vec<Part>, objects: usize) -> Table {
        let mut slots = vec![Slot::NONE; objects];
        for (i, p) in parts.iter_mut().enumerate() {
            let part = u32::try_from(i).unwrap_or(u32::MAX);
            for (position, start, len) in std::mem::take(&mut p.trees) {
                if let Some(s) = slots.get_mut(position as usize) {
                    *s = Slot { part, start, len };
                }
            }
        }
        Table { parts, slots }
    }

    /// The kept entries of the tree at `position` and the part that holds their names, or
    /// `None` if the table does not hold it.
    pub(super) fn get(&self, position: u32) -> Option<(&Part, &[Edge])> {
        let s = self.slots.get(position as usize)?;
        let p = self.parts.get(s.part as usize)?;
        Some((
            p,
            p.edges.get(s.start as usize..(s.start + s.len) as usize)?,
        ))
    }
}

/// A hash of a tree entry's name from two 8-byte words (names are short, and a collision only
/// costs a compare); the standard `SipHash`, and then FNV-1a's byte at a time, showed in
/// profiles of the tree pass.
#[derive(Debug, Default)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w[..b.len()].copy_from_slice(b);
            u64::from_le_bytes(w)
        };
        let n = bytes.len();
        let (a, b) = if n > 8 {
            (word(&bytes[..8]), word(&bytes[n - 8..]))
        } else {
            (word(bytes), 0)
        };
        self.0 = (self.0.rotate_left(23) ^ a ^ b.rotate_left(31) ^ n as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::git::objects;

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

    /// A repository whose database holds a key blob, a plain blob and an empty subtree.
    fn database() -> (
        tempfile::TempDir,
        crate::source::git::store::Store,
        [Oid; 3],
    ) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = git2::Repository::init_bare(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let key = repo.blob(b"k").unwrap_or_else(|e| panic!("{e}"));
        let plain = repo.blob(b"p").unwrap_or_else(|e| panic!("{e}"));
        let sub = repo
            .treebuilder(None)
            .and_then(|b| b.write())
            .unwrap_or_else(|e| panic!("{e}"));
        let store =
            crate::source::git::store::Store::open(&repo, crate::source::git::store::Check::Full);
        (dir, store, [key, plain, sub])
    }

    #[test]
    fn table_keeps_subtrees_gitlinks_and_key_blobs_in_entry_order_and_nothing_else() {
        let (_dir, store, [key, plain, sub]) = database();
        let odb = Odb::open(&store);
        let keys = Keys::new(&std::iter::once(key).collect());
        let data = raw_tree(&[
            ("100644", "a.env", key),
            ("100644", "b.txt", plain),
            ("160000", "mod", id(7)),
            ("40000", "sub", sub),
            ("100755", "c.env", key),
        ]);
        let mut part = Part::default();
        assert!(part.add(1, &data, &keys, &odb));
        assert!(part.gitlinks);
        let table = Table::new(vec![part], odb.len());
        let (part, edges) = table.get(1).unwrap_or_else(|| panic!("tree kept"));
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
        assert!(!part.add(2, &raw_tree(&[("40000", "gone", id(9))]), &keys, &odb));
        assert!(Table::new(vec![part], odb.len()).get(2).is_none());
        assert!(table.get(0).is_none());
        assert!(table.get(7).is_none(), "a position past the database");
    }

    /// The table reads tree entries by hand, sixteen bytes at a time: it must split every
    /// tree exactly as `objects::tree_entries` does, whatever the names' lengths (the
    /// word-wise search crosses word boundaries), odd modes, and a tree cut anywhere.
    #[test]
    fn table_reads_entries_exactly_as_the_tree_parser_does() {
        let (_dir, store, [key, _, sub]) = database();
        let odb = Odb::open(&store);
        let keys = Keys::new(&std::iter::once(key).collect());
        let modes = [
            "100644", "40000", "100755", "040000", "644", "100664", "160000",
        ];
        let mut entries: Vec<(String, String, Oid)> = Vec::new();
        for n in 1..40 {
            let name: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            let mode = modes[n % modes.len()];
            let target = match mode {
                "40000" | "040000" => sub,
                "160000" => id(5),
                _ if n % 3 == 0 => key,
                // An id full of spaces and zero bytes: only the name's end counts.
                _ => Oid::from_bytes(&[if n % 2 == 0 { 0 } else { b' ' }; 20]).unwrap_or(key),
            };
            entries.push((mode.to_string(), name, target));
        }
        let borrowed: Vec<(&str, &str, Oid)> = entries
            .iter()
            .map(|(m, n, i)| (m.as_str(), n.as_str(), *i))
            .collect();
        let data = raw_tree(&borrowed);
        for cut in 0..=data.len() {
            let data = &data[..cut];
            let want: Vec<(To, Vec<u8>)> = objects::tree_entries(data)
                .filter_map(|(mode, name, id)| {
                    let to = if objects::is_gitlink_mode(mode) {
                        To::Gitlink
                    } else if objects::is_tree_mode(mode) {
                        To::Tree
                    } else if id == key {
                        To::Key
                    } else {
                        return None;
                    };
                    Some((to, name.to_vec()))
                })
                .collect();
            let mut part = Part::default();
            assert!(part.add(0, data, &keys, &odb));
            let table = Table::new(vec![part], odb.len());
            let (part, edges) = table.get(0).unwrap_or_else(|| panic!("tree kept"));
            let got: Vec<(To, Vec<u8>)> = edges
                .iter()
                .map(|&e| (e.to(), part.name(e).to_vec()))
                .collect();
            assert_eq!(got, want, "cut at {cut}");
        }
    }

    #[test]
    fn find_byte_finds_the_first_one_at_any_offset() {
        let mut data = vec![b'x'; 40];
        for at in 0..40 {
            data[at] = 0;
            for from in 0..=40 {
                let want = memchr::memchr(0, &data[from..]).map(|n| from + n);
                assert_eq!(find_byte(&data, from, 0), want, "zero at {at}, from {from}");
            }
            data[at] = b'x';
        }
        // Bytes just above and below the one searched for are no match.
        assert_eq!(find_byte(&[0x1f, 0x21, 0xa0, 0x20], 0, b' '), Some(3));
    }
}
