//! Reading one object by id, with every read bounded, and without libgit2.
//!
//! libgit2 loops forever inflating a truncated loose object, and one damaged pack index makes
//! every read of its packed backend fail. So nmleaks reads objects itself:
//!
//! - **Loose objects** through a streaming zlib decoder (`zlib-rs`, via `gix-zlib`): the header's
//!   declared size is a hard limit on the output, a stream that ends early or runs long is
//!   damage, and every decoder call must make progress. A declared size no compressed stream of
//!   that length can hold is refused before anything is allocated.
//! - **Packs** through `gix-pack`, each pack a unit of its own: a pack whose index is missing,
//!   truncated or corrupt is a [`Store::problems`] entry and its objects are unreadable, while
//!   every other pack and every loose object is still read. Recently decoded delta results are
//!   kept (up to [`CACHE_BYTES`]) so that reading the versions of a tree newest first applies
//!   one delta per read.
//!
//! This module knows bytes and ids only; [`super::objects`] reads in bulk on top of it, and
//! the modes decide what to report. It is a little over 600 lines because opening packs as
//! units, the loose reader and the delta cache are one object store; split, each part would
//! reach into the others' private state.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use thiserror::Error;

use super::objects::Kind;

/// Decoded packed objects kept per reader, in bytes.
pub const CACHE_BYTES: usize = 64 << 20;

/// Why an object could not be read.
#[derive(Debug, Clone, Error)]
pub enum ReadError {
    /// No pack and no loose file holds it.
    #[error("object {0} is missing")]
    Missing(Oid),
    /// A pack or loose file holds it, but its bytes are damaged.
    #[error("object {id} cannot be read (corrupt?): {reason}")]
    Damaged {
        /// The object.
        id: Oid,
        /// What is wrong, sanitised.
        reason: String,
    },
}

impl ReadError {
    /// The object that could not be read.
    #[must_use]
    pub fn id(&self) -> Oid {
        match self {
            ReadError::Missing(id) | ReadError::Damaged { id, .. } => *id,
        }
    }
}

/// How much to check of each pack index when opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Its layout only (what a lookup needs): for `--staged`, which reads a handful of objects.
    Layout,
    /// Also its checksum and that it belongs to its pack: for the modes that read history.
    Full,
}

/// One pack and its index.
pub struct Pack {
    /// The pack and its index, opened.
    pub bundle: gix_pack::Bundle,
    /// The `.pack` file, for messages.
    pub path: PathBuf,
}

/// The object directories of one repository and its alternates, with their packs opened.
pub struct Store {
    dirs: Vec<PathBuf>,
    packs: Vec<Pack>,
    problems: Vec<String>,
    notes: Vec<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dirs", &self.dirs)
            .field("packs", &self.packs.len())
            .field("problems", &self.problems)
            .field("notes", &self.notes)
            .finish()
    }
}

impl Store {
    /// Opens the object directories of `repo` (its own, shared by linked worktrees, and its
    /// alternates) and every pack in them. Packs that cannot be used are listed in
    /// [`Store::problems`]; opening never fails.
    #[must_use]
    pub fn open(repo: &Repository, check: Check) -> Store {
        Store::open_with(repo, &[], check)
    }

    /// [`Store::open`] with `first` searched before the repository's own directories (and
    /// their alternates): a pre-receive hook's quarantine and the alternates git names for it.
    #[must_use]
    pub fn open_with(repo: &Repository, first: &[PathBuf], check: Check) -> Store {
        let dirs = object_dirs(repo, first);
        let mut packs = Vec::new();
        let (mut problems, mut notes) = (Vec::new(), Vec::new());
        for dir in &dirs {
            let dir = dir.join("pack");
            open_packs(&dir, check, &mut packs, &mut problems, &mut notes);
        }
        Store {
            dirs,
            packs,
            problems,
            notes,
        }
    }

    /// Packs that could not be opened, one sentence each (paths sanitised): their objects
    /// are not readable.
    #[must_use]
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Oddities that lose nothing by themselves, one sentence each: a pack index whose pack
    /// is gone (git ignores it too; `git repack` deletes the pack first, then its index).
    #[must_use]
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The packs that opened.
    #[must_use]
    pub fn packs(&self) -> &[Pack] {
        &self.packs
    }

    /// Every loose object id in every object directory (from file names; nothing is read).
    #[must_use]
    pub fn loose_ids(&self) -> Vec<Oid> {
        let mut ids = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.len() != 2 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                    continue;
                }
                let Ok(files) = std::fs::read_dir(e.path()) else {
                    continue;
                };
                for f in files.flatten() {
                    let file = f.file_name();
                    if let Some(rest) = file.to_str()
                        && rest.len() == 38
                        && let Ok(id) = Oid::from_str(&format!("{name}{rest}"))
                    {
                        ids.push(id);
                    }
                }
            }
        }
        ids
    }

    /// Every object id an opened pack's index lists.
    #[must_use]
    pub fn packed_ids(&self) -> Vec<Oid> {
        let mut ids = Vec::new();
        for p in &self.packs {
            let index = &p.bundle.index;
            ids.extend(
                (0..index.num_objects())
                    .filter_map(|i| Oid::from_bytes(index.oid_at_index(i).as_bytes()).ok()),
            );
        }
        ids
    }

    /// The objects whose id starts with `hex` (at least 4 hex digits), at most two of them:
    /// for resolving an abbreviated id.
    #[must_use]
    pub fn with_prefix(&self, hex: &str) -> Vec<Oid> {
        let mut out: Vec<Oid> = Vec::new();
        let hex = hex.to_ascii_lowercase();
        if hex.len() < 4 || hex.len() > 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return out;
        }
        if let Ok(prefix) = gix_hash::Prefix::from_hex(&hex) {
            for p in &self.packs {
                let mut range = 0..0;
                if p.bundle
                    .index
                    .lookup_prefix(prefix, Some(&mut range))
                    .is_some()
                {
                    for i in range.take(2) {
                        if let Ok(id) = Oid::from_bytes(p.bundle.index.oid_at_index(i).as_bytes()) {
                            out.push(id);
                        }
                    }
                }
            }
        }
        for dir in &self.dirs {
            let Ok(files) = std::fs::read_dir(dir.join(&hex[..2])) else {
                continue;
            };
            for f in files.flatten() {
                if let Some(rest) = f.file_name().to_str()
                    && rest.len() == 38
                    && rest.starts_with(&hex[2..])
                    && let Ok(id) = Oid::from_str(&format!("{}{rest}", &hex[..2]))
                {
                    out.push(id);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out.truncate(2);
        out
    }

    /// A reader for one thread, keeping up to [`CACHE_BYTES`] of decoded objects.
    #[must_use]
    pub fn reader(&self) -> Reader<'_> {
        self.reader_with_cache(CACHE_BYTES)
    }

    /// A reader for one thread, keeping up to `bytes` of decoded objects: readers that run at
    /// once share [`CACHE_BYTES`] between them, so reading on more threads takes no more
    /// memory.
    #[must_use]
    pub fn reader_with_cache(&self, bytes: usize) -> Reader<'_> {
        Reader {
            store: self,
            pack_inflate: gix_zlib::Inflate::default(),
            loose_inflate: gix_zlib::Decompress::new(),
            cache: DeltaCache {
                limit: bytes,
                ..DeltaCache::default()
            },
            file: Vec::new(),
        }
    }

    fn loose_path(dir: &Path, id: Oid) -> PathBuf {
        let hex = id.to_string();
        dir.join(&hex[..2]).join(&hex[2..])
    }
}

/// Opens every pack in `dir` that has its index; a pack without one, or an index that fails
/// its checks, is a problem; an index without its pack is a note.
fn open_packs(
    dir: &Path,
    check: Check,
    packs: &mut Vec<Pack>,
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in &files {
        let ext = path.extension().and_then(|x| x.to_str());
        let shown = crate::sanitize::path(path);
        match ext {
            Some("pack") => {
                let index = path.with_extension("idx");
                if !index.is_file() {
                    problems.push(format!(
                        "{shown}: the pack has no index (.idx): none of its objects could be \
                         read or scanned (`git index-pack` rebuilds the index)"
                    ));
                    continue;
                }
                match open_pack(&index, path, check) {
                    Ok(bundle) => packs.push(Pack {
                        bundle,
                        path: path.clone(),
                    }),
                    Err(reason) => problems.push(format!(
                        "{}: the pack index is damaged ({reason}): none of the objects of \
                         {shown} could be read or scanned (`git index-pack` rebuilds the index)",
                        crate::sanitize::path(&index)
                    )),
                }
            }
            Some("idx") if !path.with_extension("pack").is_file() => {
                notes.push(format!(
                    "{shown}: a pack index without its pack, ignored (an object that only it \
                     lists is reported as missing where it is needed)"
                ));
            }
            _ => {}
        }
    }
}

fn open_pack(index: &Path, pack: &Path, check: Check) -> Result<gix_pack::Bundle, String> {
    let text = |e: &dyn std::fmt::Display| crate::sanitize::text(&e.to_string());
    let index = gix_pack::index::File::at(index, gix_hash::Kind::Sha1).map_err(|e| text(&e))?;
    let pack = gix_pack::data::File::at(pack, gix_hash::Kind::Sha1).map_err(|e| text(&e))?;
    if check == Check::Full {
        index
            .verify_checksum(
                &mut gix_utils::progress::Discard,
                &std::sync::atomic::AtomicBool::new(false),
            )
            .map_err(|_| "its checksum does not match its contents".to_string())?;
        if index.pack_checksum() != pack.checksum() {
            return Err("it does not belong to the pack beside it".to_string());
        }
        if pack.num_objects() != index.num_objects() {
            return Err(format!(
                "it lists {} objects, the pack holds {}",
                index.num_objects(),
                pack.num_objects()
            ));
        }
    }
    Ok(gix_pack::Bundle { pack, index })
}

/// The directories that hold this repository's objects: its own (shared by linked worktrees)
/// and its alternates, recursively.
fn object_dirs(repo: &Repository, first: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for d in first
        .iter()
        .cloned()
        .chain([repo.commondir().join("objects")])
    {
        let same = |p: &PathBuf| {
            p == &d || std::fs::canonicalize(p).ok() == std::fs::canonicalize(&d).ok()
        };
        if !dirs.iter().any(same) {
            dirs.push(d);
        }
    }
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

/// Reads objects for one thread: its own decoders, cache and buffers.
pub struct Reader<'a> {
    store: &'a Store,
    pack_inflate: gix_zlib::Inflate,
    loose_inflate: gix_zlib::Decompress,
    cache: DeltaCache,
    file: Vec<u8>,
}

impl Reader<'_> {
    /// Reads `id` into `out` (replacing its contents) and returns its kind. Packs are tried
    /// first, then loose files (as git does); a damaged copy in one place does not hide a
    /// good copy in another.
    ///
    /// # Errors
    /// [`ReadError::Missing`] when nothing holds it, [`ReadError::Damaged`] when every copy
    /// is damaged.
    pub fn read_into(&mut self, id: Oid, out: &mut Vec<u8>) -> Result<Kind, ReadError> {
        let mut damage: Option<String> = None;
        let key = gix_hash::oid::from_bytes_unchecked(id.as_bytes());
        for p in &self.store.packs {
            let Some(i) = p.bundle.index.lookup(key) else {
                continue;
            };
            match p
                .bundle
                .get_object_by_index(i, out, &mut self.pack_inflate, &mut self.cache)
            {
                Ok((data, _)) => return Ok(kind_of(data.kind)),
                Err(e) => {
                    damage.get_or_insert_with(|| {
                        format!(
                            "in {}: {}",
                            crate::sanitize::path(&p.path),
                            crate::sanitize::text(&e.to_string())
                        )
                    });
                }
            }
        }
        for dir in &self.store.dirs {
            let path = Store::loose_path(dir, id);
            self.file.clear();
            match std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut self.file))
            {
                Ok(_) => match inflate_loose(&self.file, &mut self.loose_inflate, out) {
                    Ok(kind) => return Ok(kind),
                    Err(reason) => {
                        damage.get_or_insert_with(|| format!("loose object: {reason}"));
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    damage.get_or_insert_with(|| format!("loose object: {e}"));
                }
            }
        }
        Err(match damage {
            Some(reason) => ReadError::Damaged { id, reason },
            None => ReadError::Missing(id),
        })
    }

    /// The size `id` declares, from its pack entry's or loose file's header, without
    /// inflating the object (for a delta entry, the delta's size). `None` when nothing holds
    /// it or the header cannot be read: reading it then says why.
    pub fn size_hint(&mut self, id: Oid) -> Option<u64> {
        let key = gix_hash::oid::from_bytes_unchecked(id.as_bytes());
        for p in &self.store.packs {
            if let Some(i) = p.bundle.index.lookup(key) {
                let offset = p.bundle.index.pack_offset_at_index(i);
                return p
                    .bundle
                    .pack
                    .entry(offset)
                    .ok()
                    .map(|e| e.decompressed_size);
            }
        }
        for dir in &self.store.dirs {
            let path = Store::loose_path(dir, id);
            let Ok(mut f) = std::fs::File::open(&path) else {
                continue;
            };
            let mut start = [0u8; 256];
            let n = std::io::Read::read(&mut f, &mut start).ok()?;
            self.loose_inflate.reset();
            let mut head = [0u8; 40];
            let _ = self.loose_inflate.decompress(
                &start[..n],
                &mut head,
                gix_zlib::FlushDecompress::None,
            );
            let got = self.loose_inflate.total_out() as usize;
            let nul = memchr::memchr(0, &head[..got])?;
            let header = std::str::from_utf8(&head[..nul]).ok()?;
            return header.split_once(' ')?.1.parse().ok();
        }
        None
    }

    /// Reads `id` into a new buffer.
    ///
    /// # Errors
    /// As [`Reader::read_into`].
    pub fn read(&mut self, id: Oid) -> Result<(Kind, Vec<u8>), ReadError> {
        let mut out = Vec::new();
        let kind = self.read_into(id, &mut out)?;
        Ok((kind, out))
    }
}

fn kind_of(k: gix_object::Kind) -> Kind {
    match k {
        gix_object::Kind::Blob => Kind::Blob,
        gix_object::Kind::Tree => Kind::Tree,
        gix_object::Kind::Commit => Kind::Commit,
        gix_object::Kind::Tag => Kind::Tag,
    }
}

/// The largest expansion a zlib stream allows (deflate's limit is about 1032:1), plus room
/// for a header: a loose object declaring more than this is damaged, whatever it holds.
fn max_inflated(compressed: usize) -> u64 {
    (compressed as u64)
        .saturating_mul(1032)
        .saturating_add(1024)
}

/// Inflates a loose object file (`zlib("<kind> <size>\0<data>")`) into `out`, the declared
/// size a hard limit. Terminates for any input: each decoder call must consume input or
/// produce output, and the output never grows past the declared size plus one byte.
pub(crate) fn inflate_loose(
    raw: &[u8],
    z: &mut gix_zlib::Decompress,
    out: &mut Vec<u8>,
) -> Result<Kind, String> {
    use gix_zlib::{FlushDecompress, Status};
    z.reset();
    out.clear();
    let mut head = [0u8; 40];
    let status = z
        .decompress(raw, &mut head, FlushDecompress::None)
        .map_err(|_| "not a zlib stream".to_string())?;
    let got = z.total_out() as usize;
    let Some(nul) = memchr::memchr(0, &head[..got]) else {
        return Err(if got < head.len() && status != Status::StreamEnd {
            "truncated (it ends inside its header)".to_string()
        } else {
            "no object header".to_string()
        });
    };
    let header = std::str::from_utf8(&head[..nul]).map_err(|_| "bad object header")?;
    let (kind, size) = header.split_once(' ').ok_or("bad object header")?;
    let kind = match kind {
        "blob" => Kind::Blob,
        "tree" => Kind::Tree,
        "commit" => Kind::Commit,
        "tag" => Kind::Tag,
        _ => return Err("unknown object type".to_string()),
    };
    let size: u64 = size
        .parse()
        .ok()
        .filter(|_| size.bytes().all(|b| b.is_ascii_digit()))
        .ok_or("bad size in the object header")?;
    if size > max_inflated(raw.len()) {
        return Err(format!(
            "it declares {size} bytes, more than {} compressed bytes can hold",
            raw.len()
        ));
    }
    let size = usize::try_from(size).map_err(|_| "too large")?;
    // One byte more than declared, so that a stream that runs long is seen.
    out.try_reserve_exact(size + 1)
        .map_err(|_| format!("cannot allocate {size} bytes"))?;
    let already = &head[nul + 1..got];
    if already.len() > size {
        return Err(format!("longer than its declared {size} bytes"));
    }
    out.extend_from_slice(already);
    out.resize(size + 1, 0);
    let mut filled = already.len();
    let mut status = status;
    while status != Status::StreamEnd && filled < out.len() {
        let (before_in, before_out) = (z.total_in(), z.total_out());
        let input = raw.get(before_in as usize..).unwrap_or_default();
        status = z
            .decompress(input, &mut out[filled..], FlushDecompress::None)
            .map_err(|_| "the zlib stream is corrupt".to_string())?;
        let produced = (z.total_out() - before_out) as usize;
        filled += produced;
        if produced == 0 && z.total_in() == before_in {
            break; // no progress: the input is used up
        }
    }
    if filled > size {
        return Err(format!("longer than its declared {size} bytes"));
    }
    out.truncate(filled);
    if status != Status::StreamEnd {
        return Err(if filled == size {
            "truncated: its zlib stream ends before its checksum".to_string()
        } else {
            format!("truncated: its zlib stream ends after {filled} of {size} bytes")
        });
    }
    if filled != size {
        return Err(format!("it declares {size} bytes but holds {filled}"));
    }
    Ok(kind)
}

/// Decoded packed objects by `(pack, offset)`, the oldest dropped past `limit` bytes.
#[derive(Default)]
struct DeltaCache {
    map: HashMap<(u32, u64), (gix_object::Kind, Vec<u8>, usize)>,
    order: VecDeque<(u32, u64)>,
    bytes: usize,
    limit: usize,
}

impl gix_pack::cache::DecodeEntry for DeltaCache {
    fn put(
        &mut self,
        pack_id: u32,
        offset: u64,
        data: &[u8],
        kind: gix_object::Kind,
        compressed_size: usize,
    ) {
        if data.len() > self.limit / 8 || self.map.contains_key(&(pack_id, offset)) {
            return;
        }
        self.bytes += data.len();
        self.map
            .insert((pack_id, offset), (kind, data.to_vec(), compressed_size));
        self.order.push_back((pack_id, offset));
        while self.bytes > self.limit {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, d, _)) = self.map.remove(&old) {
                self.bytes -= d.len();
            }
        }
    }

    fn get(
        &mut self,
        pack_id: u32,
        offset: u64,
        out: &mut Vec<u8>,
    ) -> Option<(gix_object::Kind, usize)> {
        let (kind, data, compressed) = self.map.get(&(pack_id, offset))?;
        out.clear();
        out.extend_from_slice(data);
        Some((*kind, *compressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zlib stream of `payload`, as git writes a loose object.
    fn deflate(payload: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut w =
            gix_zlib::stream::deflate::Write::new(Vec::new(), gix_zlib::Compression::BEST_SPEED);
        w.write_all(payload).unwrap();
        w.flush().unwrap();
        w.into_inner()
    }

    fn inflate(raw: &[u8]) -> Result<(Kind, Vec<u8>), String> {
        let mut out = Vec::new();
        let kind = inflate_loose(raw, &mut gix_zlib::Decompress::new(), &mut out)?;
        Ok((kind, out))
    }

    #[test]
    fn a_loose_object_inflates_to_its_declared_size() {
        assert_eq!(
            inflate(&deflate(b"blob 6\0hello\n")),
            Ok((Kind::Blob, b"hello\n".to_vec()))
        );
        assert_eq!(inflate(&deflate(b"tree 0\0")), Ok((Kind::Tree, Vec::new())));
    }

    #[test]
    fn truncated_loose_objects_of_every_length_are_damage_not_a_hang() {
        let mut payload = b"blob 20000\0".to_vec();
        payload.extend((0..5000u32).flat_map(u32::to_le_bytes));
        let raw = deflate(&payload);
        assert!(inflate(&raw).is_ok());
        let mut z = gix_zlib::Decompress::new();
        let mut out = Vec::new();
        for len in 0..raw.len() {
            let got = inflate_loose(&raw[..len], &mut z, &mut out);
            assert!(got.is_err(), "length {len} of {}", raw.len());
        }
    }

    #[test]
    fn a_size_that_lies_is_damage() {
        for forged in [
            &b"blob 10\0abc"[..],
            b"blob 2\0abc",
            b"blob 99999999999\0abc",
            b"blob -1\0abc",
            b"blob +3\0abc",
            b"nope 3\0abc",
            b"blob3abc",
        ] {
            assert!(inflate(&deflate(forged)).is_err(), "{forged:?}");
        }
        assert!(inflate(b"not zlib at all").is_err());
        assert!(inflate(b"").is_err());
    }
}
