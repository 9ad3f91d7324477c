//! Reading git's index file (`.git/index`): its entries and its cache-tree extension.
//!
//! The staged check must not grow with the number of tracked files, and libgit2's index
//! loader does: it re-hashes the whole file with collision-detecting SHA-1 and builds a hash
//! map of every entry. This reader only splits the file into entries (versions 2, 3 and 4)
//! and parses the `TREE` extension, the tree id git keeps for every directory whose entries
//! have not changed since the index last matched a tree. With it, [`super::staged`] skips
//! every unchanged directory without reading HEAD's tree for it, as `git diff --cached` does.
//!
//! A split index (`git update-index --split-index`, or `core.splitIndex`) keeps most entries
//! in a shared index file (`$GIT_DIR/sharedindex.<id>`) and only the changes in `.git/index`:
//! its `link` extension names the shared file and holds two EWAH bitmaps, the shared entries
//! deleted and the shared entries replaced (by this file's first entries, whose names are
//! empty). [`Index::link`] carries it and [`merge_split`] builds the whole index from both files,
//! as git's `merge_base_index` does.
//!
//! It leaves what it does not know to libgit2: sparse indexes (`sdir`) and any file it cannot
//! parse are [`Unsupported`], and the caller falls back.

use git2::Oid;

/// One index entry. Its path lives in [`Index::paths`] (one buffer for all entries: a
/// hundred thousand small allocations cost more than the rest of the parse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where the path is in [`Index::paths`]; `/`-separated, as git stores it.
    pub path: std::ops::Range<usize>,
    /// The staged blob (or the submodule commit, for mode `160000`), raw.
    pub id: [u8; 20],
    /// The file mode (`0o100644`, `0o100755`, `0o120000`, `0o160000`).
    pub mode: u32,
    /// 0 when merged; 1, 2, 3 for the base, ours and theirs of an unresolved conflict.
    pub stage: u8,
    /// `git add -N`: a placeholder, nothing staged yet.
    pub intent_to_add: bool,
}

/// A directory in the cache tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheTree {
    /// The directory's name (empty for the root).
    pub name: Vec<u8>,
    /// When valid: how many index entries the directory covers and its tree id.
    pub valid: Option<(usize, Oid)>,
    /// Subdirectories, in index order.
    pub children: Vec<CacheTree>,
}

/// What the reader found.
#[derive(Debug, Clone)]
pub struct Index {
    /// Entries in index order (sorted by path, then stage).
    pub entries: Vec<Entry>,
    /// Every entry's path, back to back.
    pub paths: Vec<u8>,
    /// The cache tree, if the index has one.
    pub tree: Option<CacheTree>,
    /// The `link` extension of a split index: the entries above are only the changes to it.
    pub link: Option<Link>,
}

/// A split index's `link` extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The id of the shared index (`sharedindex.<hex>`).
    pub shared: [u8; 20],
    /// Positions of shared entries that are deleted, ascending.
    pub delete: Vec<usize>,
    /// Positions of shared entries replaced by this file's first entries, ascending.
    pub replace: Vec<usize>,
}

impl Link {
    /// The shared index file's name, or `None` when the id is all zeros (not split).
    #[must_use]
    pub fn shared_file(&self) -> Option<String> {
        if self.shared == [0; 20] {
            return None;
        }
        Oid::from_bytes(&self.shared)
            .ok()
            .map(|id| format!("sharedindex.{id}"))
    }
}

/// An index this reader leaves to libgit2, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub &'static str);

/// Parses an index file's bytes.
///
/// # Errors
/// [`Unsupported`] for versions other than 2 to 4, split or sparse indexes, and anything
/// malformed.
pub fn parse(data: &[u8]) -> Result<Index, Unsupported> {
    const BAD: Unsupported = Unsupported("malformed index");
    if data.len() < 12 + 20 || &data[..4] != b"DIRC" {
        return Err(BAD);
    }
    let version = be32(data, 4).ok_or(BAD)?;
    if !(2..=4).contains(&version) {
        return Err(Unsupported("index version"));
    }
    let count = be32(data, 8).ok_or(BAD)? as usize;
    let body = &data[..data.len() - 20]; // the trailing checksum is not verified
    let mut at = 12;
    let mut entries = Vec::with_capacity(count);
    let mut paths: Vec<u8> = Vec::with_capacity(count * 24);
    let mut prev = 0..0;
    for _ in 0..count {
        let start = at;
        let mode = be32(body, start + 24).ok_or(BAD)?;
        let id: [u8; 20] = body
            .get(start + 40..start + 60)
            .ok_or(BAD)?
            .try_into()
            .map_err(|_| BAD)?;
        let flags = be16(body, start + 60).ok_or(BAD)?;
        at = start + 62;
        let mut intent_to_add = false;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return Err(BAD);
            }
            let ext = be16(body, at).ok_or(BAD)?;
            intent_to_add = ext & 0x2000 != 0;
            at += 2;
        }
        let from = paths.len();
        if version == 4 {
            let (strip, used) = varint(body.get(at..).ok_or(BAD)?).ok_or(BAD)?;
            at += used;
            let nul = memchr::memchr(0, body.get(at..).ok_or(BAD)?).ok_or(BAD)?;
            let keep = prev.len().checked_sub(strip).ok_or(BAD)?;
            paths.extend_from_within(prev.start..prev.start + keep);
            paths.extend_from_slice(&body[at..at + nul]);
            at += nul + 1;
        } else {
            let nul = memchr::memchr(0, body.get(at..).ok_or(BAD)?).ok_or(BAD)?;
            paths.extend_from_slice(&body[at..at + nul]);
            // Entries are padded with 1 to 8 NULs to a multiple of eight bytes.
            at = start + ((at - start + nul + 8) & !7);
        }
        if mode & 0o170_000 == 0o040_000 {
            return Err(Unsupported("sparse index"));
        }
        let path = from..paths.len();
        prev = path.clone();
        entries.push(Entry {
            path,
            id,
            mode,
            stage: ((flags >> 12) & 3) as u8,
            intent_to_add,
        });
    }
    let mut tree = None;
    let mut link = None;
    while at + 8 <= body.len() {
        let sig = &body[at..at + 4];
        let size = be32(body, at + 4).ok_or(BAD)? as usize;
        let ext = body.get(at + 8..at + 8 + size).ok_or(BAD)?;
        match sig {
            b"TREE" => {
                let mut rest = ext;
                if !rest.is_empty() {
                    tree = Some(cache_tree(&mut rest).ok_or(BAD)?);
                }
            }
            b"link" => link = Some(parse_link(ext).ok_or(Unsupported("malformed split index"))?),
            b"sdir" => return Err(Unsupported("sparse index")),
            // An upper-case first letter marks an optional extension; others must be known.
            s if s[0].is_ascii_uppercase() => {}
            _ => return Err(Unsupported("unknown required index extension")),
        }
        at += 8 + size;
    }
    Ok(Index {
        entries,
        paths,
        tree,
        link,
    })
}

fn parse_link(ext: &[u8]) -> Option<Link> {
    let shared: [u8; 20] = ext.get(..20)?.try_into().ok()?;
    let rest = &ext[20..];
    let (delete, replace) = if rest.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let (delete, used) = ewah(rest)?;
        let (replace, _) = ewah(&rest[used..])?;
        (delete, replace)
    };
    Some(Link {
        shared,
        delete,
        replace,
    })
}

/// The set bits of a git EWAH bitmap (`ewah/ewah_io.c`), ascending, and the bytes it used:
/// bit count, word count, that many 64-bit words, the last run-length word's position. Each
/// run-length word holds a running bit (bit 0), a run of 64-bit words of that bit (bits 1 to
/// 32) and how many literal words follow it (bits 33 to 63).
fn ewah(data: &[u8]) -> Option<(Vec<usize>, usize)> {
    let bits = be32(data, 0)? as usize;
    let words = be32(data, 4)? as usize;
    let used = words.checked_mul(8)?.checked_add(12)?;
    let body = data.get(8..used - 4)?;
    be32(data, used - 4)?; // the last run-length word's position: present, not needed
    let word = |i: usize| -> Option<u64> {
        Some(u64::from_be_bytes(
            body.get(i * 8..i * 8 + 8)?.try_into().ok()?,
        ))
    };
    let mut out = Vec::new();
    let (mut pos, mut i) = (0usize, 0usize);
    while i < words {
        let rlw = word(i)?;
        i += 1;
        let run = ((rlw >> 1) & 0xffff_ffff) as usize;
        let literals = (rlw >> 33) as usize;
        let run_end = pos.saturating_add(run.saturating_mul(64));
        if rlw & 1 == 1 {
            out.extend(pos..run_end.min(bits));
        }
        pos = run_end;
        for _ in 0..literals {
            let w = word(i)?;
            i += 1;
            out.extend((0..64).filter(|b| w >> b & 1 == 1).map(|b| pos + b));
            pos = pos.saturating_add(64);
        }
    }
    out.retain(|&b| b < bits);
    Some((out, used))
}

/// Builds the whole index of a split index: `front` (the `.git/index` file, with its
/// [`Index::link`]) applied to `shared` (the shared index file), as git's `merge_base_index`
/// does: replaced shared entries take the front's first entries (keeping their names),
/// deleted ones go, and the front's other entries are added in order (replacing an entry of
/// the same path and stage; a merged entry replaces the path's conflict stages). The front's
/// cache tree describes the result.
///
/// # Errors
/// [`Unsupported`] for a link that does not fit the shared index.
pub fn merge_split(front: Index, shared: &Index) -> Result<Index, Unsupported> {
    const BAD: Unsupported = Unsupported("the split index does not match its shared index");
    let Some(link) = &front.link else {
        return Ok(front);
    };
    if link.replace.len() > front.entries.len()
        || link
            .replace
            .iter()
            .chain(&link.delete)
            .any(|&p| p >= shared.entries.len())
    {
        return Err(BAD);
    }
    let mut merged: Vec<(Vec<u8>, Entry)> =
        Vec::with_capacity(shared.entries.len() + front.entries.len());
    let mut replaced = link.replace.iter().peekable();
    let mut deleted = link.delete.iter().peekable();
    let mut taken = 0;
    for (pos, e) in shared.entries.iter().enumerate() {
        let is_deleted = deleted.next_if_eq(&&pos).is_some();
        if replaced.next_if_eq(&&pos).is_some() {
            if is_deleted {
                return Err(BAD);
            }
            let by = &front.entries[taken];
            taken += 1;
            if !by.path.is_empty() {
                return Err(BAD);
            }
            merged.push((shared.path(e).to_vec(), by.clone()));
        } else if !is_deleted {
            merged.push((shared.path(e).to_vec(), e.clone()));
        }
    }
    let mut adds: Vec<(Vec<u8>, Entry)> = Vec::with_capacity(front.entries.len() - taken);
    for e in &front.entries[taken..] {
        let path = front.path(e).to_vec();
        if path.is_empty() {
            return Err(BAD);
        }
        adds.push((path, e.clone()));
    }
    adds.sort_by(|a, b| (&a.0, a.1.stage).cmp(&(&b.0, b.1.stage)));
    // Both lists are sorted by path then stage: merge them one path at a time.
    let mut out: Vec<(Vec<u8>, Entry)> = Vec::with_capacity(merged.len() + adds.len());
    let (mut i, mut j) = (0, 0);
    while i < merged.len() || j < adds.len() {
        let path = match (merged.get(i), adds.get(j)) {
            (Some(m), Some(a)) => m.0.as_slice().min(a.0.as_slice()),
            (Some(m), None) => m.0.as_slice(),
            (None, Some(a)) => a.0.as_slice(),
            (None, None) => break,
        };
        let i_end = i + merged[i..].iter().take_while(|m| m.0 == path).count();
        let j_end = j + adds[j..].iter().take_while(|a| a.0 == path).count();
        let (old, new) = (&merged[i..i_end], &adds[j..j_end]);
        if new.iter().any(|a| a.1.stage == 0) {
            out.extend(new.iter().cloned());
        } else {
            for stage in 0..4 {
                let pick = new.iter().find(|a| a.1.stage == stage);
                out.extend(
                    pick.or_else(|| old.iter().find(|m| m.1.stage == stage))
                        .cloned(),
                );
            }
        }
        (i, j) = (i_end, j_end);
    }
    let merged = out;
    let mut paths = Vec::with_capacity(merged.iter().map(|(p, _)| p.len()).sum());
    let entries = merged
        .into_iter()
        .map(|(p, mut e)| {
            let from = paths.len();
            paths.extend_from_slice(&p);
            e.path = from..paths.len();
            e
        })
        .collect();
    Ok(Index {
        entries,
        paths,
        tree: front.tree,
        link: None,
    })
}

impl Index {
    /// An entry's path.
    #[must_use]
    pub fn path(&self, e: &Entry) -> &[u8] {
        &self.paths[e.path.clone()]
    }
}

/// One cache-tree node and, recursively, its children.
fn cache_tree(data: &mut &[u8]) -> Option<CacheTree> {
    let nul = memchr::memchr(0, data)?;
    let name = data[..nul].to_vec();
    let nl = nul + 1 + memchr::memchr(b'\n', &data[nul + 1..])?;
    let header = std::str::from_utf8(&data[nul + 1..nl]).ok()?;
    let (count, subtrees) = header.split_once(' ')?;
    let count: i64 = count.parse().ok()?;
    let subtrees: usize = subtrees.parse().ok()?;
    *data = &data[nl + 1..];
    let valid = if count >= 0 {
        let id = Oid::from_bytes(data.get(..20)?).ok()?;
        *data = &data[20..];
        Some((usize::try_from(count).ok()?, id))
    } else {
        None
    };
    let mut children = Vec::with_capacity(subtrees.min(4096));
    for _ in 0..subtrees {
        children.push(cache_tree(data)?);
    }
    Some(CacheTree {
        name,
        valid,
        children,
    })
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// git's offset varint (index v4 path compression): each continuation adds one before
/// shifting, so every value has exactly one encoding.
fn varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    let mut c = *b.first()?;
    let mut val = usize::from(c & 127);
    while c & 128 != 0 {
        i += 1;
        c = *b.get(i)?;
        val = val.checked_add(1)?.checked_shl(7)? | usize::from(c & 127);
    }
    Some((val, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_matches_gits_encoding() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        assert_eq!(varint(&[0x7f]), Some((127, 1)));
        // 128 is encoded as 0x80 0x00 in git's offset encoding.
        assert_eq!(varint(&[0x80, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0x80]), None);
    }

    /// Writes an index with libgit2 in each version and reads it back here.
    #[test]
    fn reads_what_libgit2_writes_in_versions_2_to_4() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let paths = ["a.txt", "dir/a.txt", "dir/ab.txt", "dir/sub/x", "z"];
        let mut index = repo.index().unwrap();
        for (i, p) in paths.iter().enumerate() {
            let id = repo.blob(format!("{i}").as_bytes()).unwrap();
            let e = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: 0o100_644,
                uid: 0,
                gid: 0,
                file_size: 0,
                id,
                flags: 0,
                flags_extended: 0,
                path: p.as_bytes().to_vec(),
            };
            index.add(&e).unwrap();
        }
        let tree = index.write_tree().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        for version in [2, 3, 4] {
            index.read_tree(&tree).unwrap();
            index.set_version(version).unwrap();
            index.write().unwrap();
            let parsed = parse(&std::fs::read(dir.path().join(".git/index")).unwrap())
                .unwrap_or_else(|e| panic!("version {version}: {e:?}"));
            let want: Vec<(Vec<u8>, Oid)> = index.iter().map(|e| (e.path, e.id)).collect();
            let got: Vec<(Vec<u8>, Oid)> = parsed
                .entries
                .iter()
                .map(|e| (parsed.path(e).to_vec(), Oid::from_bytes(&e.id).unwrap()))
                .collect();
            assert_eq!(got, want, "version {version}");
            let root = parsed.tree.expect("a cache tree after read_tree");
            assert_eq!(root.valid, Some((paths.len(), tree.id())));
            assert_eq!(root.children[0].name, b"dir");
        }
    }

    #[test]
    fn ewah_bitmaps_decode_as_git_writes_them() {
        // 130 bits: a run of one word of ones, then one literal word with bits 1 and 3.
        let mut b = Vec::new();
        b.extend_from_slice(&130u32.to_be_bytes());
        b.extend_from_slice(&2u32.to_be_bytes());
        b.extend_from_slice(&((1u64 << 33) | (1 << 1) | 1).to_be_bytes());
        b.extend_from_slice(&0b1010u64.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        let (bits, used) = ewah(&b).unwrap();
        let mut want: Vec<usize> = (0..64).collect();
        want.extend([65, 67]);
        assert_eq!((bits, used), (want, b.len()));
        assert_eq!(ewah(&b[..b.len() - 1]), None, "truncated");
    }

    #[test]
    fn rejects_what_it_does_not_read() {
        assert_eq!(parse(b"nope").unwrap_err(), Unsupported("malformed index"));
        let mut v5 = b"DIRC\0\0\0\x05\0\0\0\0".to_vec();
        v5.extend_from_slice(&[0; 20]);
        assert_eq!(parse(&v5).unwrap_err(), Unsupported("index version"));
    }
}
