//! Archives and compressed streams: found by their magic bytes, walked as streams, within
//! limits.
//!
//! A blob whose first bytes are gzip, bzip2, xz, zstd, tar or zip is opened and what it holds
//! is scanned in its place: a compressed stream's inflated bytes, an archive's members (and
//! their names), nested archives up to [`Decoding::max_depth`] layers. Everything streams:
//! a member goes through the same window as a file, so memory is the window per layer plus
//! each decoder's own state (the xz dictionary and the zstd window are capped), and a zip
//! that is not a file on disk (standard input, a member, a git blob in memory is read in
//! place) is spooled to a temporary file past [`SPOOL_IN_MEMORY`].
//!
//! **Limits**, all per outer input (one file, one blob, standard input): inflated bytes
//! ([`Decoding::max_bytes`]), inflated bytes per compressed byte once a stream passes
//! [`RATIO_FLOOR`] ([`Decoding::max_ratio`]), members ([`Decoding::max_members`]) and depth.
//! A stream over the ratio stops there and the archive's next member is still scanned; over
//! the byte or member limit, the rest of the input is left. Each stop, and each damaged
//! stream or member, is a problem the source reports (the input was only partly scanned).
//! A zip whose directory cannot be read is scanned as raw bytes instead.

use std::io::{self, BufRead, BufReader, Read, Seek};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::Scanner;
use crate::finding::{Hit, Inner, Layer, Origin, Part};

/// A zip read from a stream is kept in memory up to this size, then in a temporary file.
pub const SPOOL_IN_MEMORY: usize = 16 << 20;
/// The ratio limit applies once a stream has inflated this much: small files that compress
/// well are no bomb.
pub const RATIO_FLOOR: u64 = 16 << 20;
/// The xz decoder's memory limit (the dictionary of `xz -9` is 64 MiB).
pub const XZ_MEMORY: u64 = 96 << 20;
/// The largest zstd window accepted (`zstd -19` uses 8 MiB; `--long` up to 128 MiB).
pub const ZSTD_WINDOW: u64 = 32 << 20;
/// Bytes looked at to tell what a blob is (tar's magic is at offset 257).
pub(crate) const SNIFF: usize = 512;

/// What nmleaks looks inside, and how far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoding {
    /// Look inside at all (`--no-decode` turns it off).
    pub enabled: bool,
    /// Layers of wrapping opened, counting each compression, archive and encoding
    /// (`--max-decode-depth`).
    pub max_depth: usize,
    /// Inflated bytes per outer input (`--max-decode-bytes`).
    pub max_bytes: u64,
    /// Inflated bytes per compressed byte, per stream or member (`--max-decode-ratio`).
    pub max_ratio: u64,
    /// Archive members per outer input (`--max-archive-members`).
    pub max_members: u64,
}

impl Default for Decoding {
    fn default() -> Decoding {
        Decoding {
            enabled: true,
            max_depth: 8,
            max_bytes: 4 << 30,
            max_ratio: 100,
            max_members: 100_000,
        }
    }
}

impl Decoding {
    /// Nothing looked inside.
    #[must_use]
    pub fn off() -> Decoding {
        Decoding {
            enabled: false,
            ..Decoding::default()
        }
    }
}

/// What a blob's first bytes say it is.
pub(crate) fn sniff(head: &[u8]) -> Option<Layer> {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Some(Layer::Gzip)
    } else if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == *b"1AY&SY" || head[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
    {
        Some(Layer::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some(Layer::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Layer::Zstd)
    } else if head.starts_with(b"PK\x03\x04") {
        Some(Layer::Zip)
    } else if head.len() >= 263 && &head[257..262] == b"ustar" {
        Some(Layer::Tar)
    } else {
        None
    }
}

/// Which limit stopped a stream.
const HIT_NONE: u8 = 0;
const HIT_BYTES: u8 = 1;
const HIT_RATIO: u8 = 2;

/// The budget of one outer input, shared by the readers of all its layers.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    inflated: AtomicU64,
    members: AtomicU64,
    hit: AtomicU8,
}

impl Meter {
    fn exhausted(&self, d: &Decoding) -> bool {
        self.inflated.load(Ordering::Relaxed) >= d.max_bytes
            || self.members.load(Ordering::Relaxed) > d.max_members
    }
}

/// Counts the bytes read through it.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A decoder's output, stopped at the outer input's byte budget and the stream's ratio.
struct Limited<R> {
    inner: R,
    meter: Arc<Meter>,
    decoding: Decoding,
    /// Compressed bytes consumed so far (or the member's compressed size).
    compressed: Arc<AtomicU64>,
    out: u64,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let d = &self.decoding;
        let left = d
            .max_bytes
            .saturating_sub(self.meter.inflated.load(Ordering::Relaxed));
        if left == 0 {
            self.meter.hit.store(HIT_BYTES, Ordering::Relaxed);
            return Err(io::Error::other("decode limit reached"));
        }
        let cap = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..cap])?;
        self.out += n as u64;
        self.meter.inflated.fetch_add(n as u64, Ordering::Relaxed);
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
        if self.out > RATIO_FLOOR && self.out / compressed > d.max_ratio {
            self.meter.hit.store(HIT_RATIO, Ordering::Relaxed);
            return Err(io::Error::other("decode ratio reached"));
        }
        Ok(n)
    }
}

/// Concatenated zstd frames, one after another (as `zstd` and `cat a.zst b.zst` write them).
struct ZstdFrames<R> {
    source: R,
    frame: ruzstd::decoding::FrameDecoder,
    started: bool,
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::BlockDecodingStrategy;
        loop {
            if !self.started {
                if self.source.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                self.frame.set_max_window_size(ZSTD_WINDOW);
                self.frame
                    .reset(&mut self.source)
                    .map_err(io::Error::other)?;
                self.started = true;
            }
            while self.frame.can_collect() == 0 && !self.frame.is_finished() {
                self.frame
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(io::Error::other)?;
            }
            let n = self.frame.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if self.frame.is_finished() {
                self.started = false;
            }
        }
    }
}

/// Where a layer is and what it is part of, as a scan of its members goes down.
#[derive(Clone)]
pub(crate) struct Place {
    pub inner: Inner,
    pub depth: usize,
}

impl Place {
    /// The outer input itself.
    pub fn outer() -> Place {
        Place {
            inner: Inner::default(),
            depth: 0,
        }
    }

    /// Inside `layer` here: one layer deeper.
    pub fn wrapped(&self, layer: Layer) -> Place {
        Place {
            inner: self.inner.wrapped(layer),
            depth: self.depth + 1,
        }
    }

    /// Member `name` of the archive here (the same depth: the archive was the layer).
    pub fn member(&self, name: &str) -> Place {
        Place {
            inner: self.inner.member(name),
            depth: self.depth,
        }
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(member) = &self.inner.member {
            s.push_str(&crate::sanitize::text(member));
            s.push_str(": ");
        }
        if !self.inner.chain.is_empty() {
            s.push_str("inside ");
            s.push_str(&self.inner.chain_text());
            s.push_str(": ");
        }
        s
    }
}

fn mib(n: u64) -> String {
    format!("{} MiB", n >> 20)
}

impl Scanner<'_> {
    /// A decoder's output under this input's budget; `compressed` counts what it consumed.
    fn limited<R: Read>(&self, inner: R, compressed: Arc<AtomicU64>) -> Limited<R> {
        Limited {
            inner,
            meter: self.meter.clone(),
            decoding: self.decoding,
            compressed,
            out: 0,
        }
    }

    /// Records that part of the input was not scanned.
    fn problem(&mut self, place: &Place, what: &str) {
        let msg = format!("{}{}", place.describe(), crate::sanitize::text(what));
        self.problems.push(msg);
    }

    /// Words the stop of a stream at `place`, after `err`.
    fn stopped(&mut self, place: &Place, err: &io::Error) {
        let d = self.decoding;
        match self.meter.hit.swap(HIT_NONE, Ordering::Relaxed) {
            HIT_BYTES => self.problem(
                place,
                &format!(
                    "stopped at the decode limit of {} inflated bytes per input \
                     (--max-decode-bytes); the rest of this input was not scanned",
                    mib(d.max_bytes)
                ),
            ),
            HIT_RATIO => self.problem(
                place,
                &format!(
                    "stopped: it inflates more than {} times its compressed size, a \
                     decompression bomb (--max-decode-ratio); the rest of it was not scanned",
                    d.max_ratio
                ),
            ),
            _ => self.problem(
                place,
                &format!("damaged or truncated, the rest of it was not scanned: {err}"),
            ),
        }
    }

    /// Runs `f`, a walk of an outer input's container, so that a panic in a decoder crate
    /// on a crafted archive ends that input's walk (reported as a problem: it was not scanned
    /// in full) rather than the run.
    pub(crate) fn contain(&mut self, f: impl FnOnce(&mut Self)) {
        if crate::bug::contained(|| f(&mut *self)).is_none() {
            self.inner = None;
            self.depth = 0;
            self.problem(
                &Place::outer(),
                "a decoder failed on this archive or compressed file (a bug in it, which the \
                 file may have been made to trigger); the rest of it was not scanned",
            );
        }
    }

    /// Scans a stream that [`sniff`] says is `layer`, in place of its raw bytes.
    pub(crate) fn open_stream(
        &mut self,
        layer: Layer,
        reader: &mut dyn Read,
        origin: &Origin,
        place: &Place,
        out: &mut Vec<Hit>,
    ) {
        let inside = place.wrapped(layer);
        match layer {
            Layer::Tar => self.walk_tar(reader, origin, &inside, out),
            Layer::Zip => self.spool_zip(reader, origin, place, &inside, out),
            _ => {
                let count = Arc::new(AtomicU64::new(0));
                let counted = Counted {
                    inner: &mut *reader,
                    count: count.clone(),
                };
                let decoder: Box<dyn Read + '_> = match layer {
                    Layer::Gzip => Box::new(flate2::read::MultiGzDecoder::new(counted)),
                    Layer::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(counted)),
                    Layer::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
                        counted,
                        true,
                        (XZ_MEMORY >> 10) as u32,
                    )),
                    _ => Box::new(ZstdFrames {
                        source: BufReader::new(counted),
                        frame: ruzstd::decoding::FrameDecoder::new(),
                        started: false,
                    }),
                };
                let mut limited = self.limited(decoder, count);
                let result = self.read_member(&mut limited, origin, &inside, out);
                if let Err(e) = result {
                    self.stopped(&inside, &e);
                }
            }
        }
    }

    /// Scans what `reader` holds at `place`: a nested container opened, anything else
    /// scanned as text or binary. Errors are the reader's (a decoder's damage or limit).
    pub(crate) fn read_member(
        &mut self,
        reader: &mut dyn Read,
        origin: &Origin,
        place: &Place,
        out: &mut Vec<Hit>,
    ) -> io::Result<()> {
        let mut head = [0u8; SNIFF];
        let (n, status) = super::fill(reader, &mut head);
        status?;
        let mut layer = sniff(&head[..n]);
        if let Some(l) = layer
            && place.depth >= self.decoding.max_depth
        {
            let max = self.decoding.max_depth;
            self.problem(
                place,
                &format!(
                    "holds {} data that was not opened: {max} layers deep is the limit \
                     (--max-decode-depth); its raw bytes were scanned",
                    l.name()
                ),
            );
            layer = None;
        }
        let mut chained = io::Cursor::new(&head[..n]).chain(reader);
        if let Some(layer) = layer {
            self.open_stream(layer, &mut chained, origin, place, out);
            return Ok(());
        }
        let saved = self.inner.replace(Arc::new(place.inner.clone()));
        let result = self.scan_plain(&mut chained, origin, place.depth, out);
        self.inner = saved;
        result.map(|_| ())
    }

    /// Counts a member against the limit; false when the limit is passed.
    fn count_member(&mut self, place: &Place) -> bool {
        let n = self.meter.members.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.decoding.max_members {
            if n == self.decoding.max_members + 1 {
                let max = self.decoding.max_members;
                self.problem(
                    place,
                    &format!(
                        "stopped after {max} archive members (--max-archive-members); \
                         the rest of this input was not scanned"
                    ),
                );
            }
            return false;
        }
        true
    }

    /// Scans a member's path for keys, then its content.
    fn member(
        &mut self,
        name: &str,
        reader: &mut dyn Read,
        origin: &Origin,
        archive: &Place,
        out: &mut Vec<Hit>,
    ) -> io::Result<()> {
        crate::bug::debug_decoder_trigger(name);
        let place = archive.member(name);
        let saved = self.inner.replace(Arc::new(place.inner.clone()));
        self.scan_name(name.as_bytes(), 0, origin, Part::Path, out);
        self.inner = saved;
        self.read_member(reader, origin, &place, out)
    }

    fn walk_tar(
        &mut self,
        reader: &mut dyn Read,
        origin: &Origin,
        place: &Place,
        out: &mut Vec<Hit>,
    ) {
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(entries) => entries,
            Err(e) => return self.problem(place, &format!("damaged tar: {e}")),
        };
        for entry in entries {
            if self.meter.exhausted(&self.decoding) {
                break;
            }
            let mut entry = match entry {
                Ok(entry) => entry,
                // A limit stopped the stream under the archive, and was said where it struck.
                Err(_) if self.meter.hit.swap(HIT_NONE, Ordering::Relaxed) != HIT_NONE => break,
                Err(e) => {
                    self.problem(
                        place,
                        &format!("damaged or truncated tar, the rest was not scanned: {e}"),
                    );
                    break;
                }
            };
            if !self.count_member(place) {
                break;
            }
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if let Err(e) = self.member(&name, &mut entry, origin, place, out) {
                self.stopped(&place.member(&name), &e);
                if self.meter.exhausted(&self.decoding) {
                    break;
                }
            }
        }
    }

    /// A zip read from a stream: spooled (its directory is at its end), then walked.
    fn spool_zip(
        &mut self,
        reader: &mut dyn Read,
        origin: &Origin,
        outer: &Place,
        place: &Place,
        out: &mut Vec<Hit>,
    ) {
        let mut spool = tempfile::spooled_tempfile(SPOOL_IN_MEMORY);
        let left = self
            .decoding
            .max_bytes
            .saturating_sub(self.meter.inflated.load(Ordering::Relaxed));
        match io::copy(&mut reader.take(left.saturating_add(1)), &mut spool) {
            Ok(n) if n > left => {
                self.meter.hit.store(HIT_BYTES, Ordering::Relaxed);
                let e = io::Error::other("decode limit reached");
                return self.stopped(place, &e);
            }
            Ok(n) => {
                self.meter.inflated.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => return self.stopped(place, &e),
        }
        if let Err(e) = spool.rewind() {
            return self.stopped(place, &e);
        }
        if let Err(mut spool) = self.walk_zip(spool, origin, place, out) {
            // Not a zip after all, or its directory is damaged: its raw bytes, then.
            let _ = spool.rewind();
            let saved = self.inner.replace(Arc::new(outer.inner.clone()));
            let _ = self.scan_plain(&mut spool, origin, outer.depth, out);
            self.inner = saved;
        }
    }

    /// Walks a zip's members. When the directory cannot be read, hands the reader back so
    /// that its raw bytes can be scanned instead.
    pub(crate) fn walk_zip<R: Read + Seek>(
        &mut self,
        reader: R,
        origin: &Origin,
        place: &Place,
        out: &mut Vec<Hit>,
    ) -> Result<(), R> {
        let mut reader = reader;
        // Open on a borrow, so the reader is still ours when the directory is damaged.
        let mut zip = match zip::ZipArchive::new(&mut reader) {
            Ok(zip) => zip,
            Err(e) => {
                self.problem(
                    place,
                    &format!("damaged zip, scanned as raw bytes instead: {e}"),
                );
                return Err(reader);
            }
        };
        for i in 0..zip.len() {
            if self.meter.exhausted(&self.decoding) {
                break;
            }
            if !self.count_member(place) {
                break;
            }
            let listed = match zip.name_for_index(i) {
                Some(Ok(name)) => name.into_owned(),
                _ => format!("<member {}>", i + 1),
            };
            let mut file = match zip.by_index(i) {
                Ok(file) => file,
                Err(e) => {
                    // An encrypted member, or one compressed with a method not built in
                    // (zstd, PPMd): named, so that it can be checked by hand.
                    self.problem(
                        &place.member(&listed),
                        &format!("could not be read, so was not scanned: {e}"),
                    );
                    continue;
                }
            };
            if file.is_dir() {
                continue;
            }
            let name = listed;
            let compressed = Arc::new(AtomicU64::new(file.compressed_size()));
            let mut limited = self.limited(&mut file, compressed);
            let result = self.member(&name, &mut limited, origin, place, out);
            if let Err(e) = result {
                self.stopped(&place.member(&name), &e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_name_the_format_and_plain_text_is_none() {
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Some(Layer::Gzip));
        assert_eq!(sniff(b"BZh91AY&SY...."), Some(Layer::Bzip2));
        assert_eq!(sniff(b"BZh is a word"), None);
        assert_eq!(
            sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]),
            Some(Layer::Xz)
        );
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Some(Layer::Zstd));
        assert_eq!(sniff(b"PK\x03\x04rest"), Some(Layer::Zip));
        let mut tar = vec![0u8; 512];
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(sniff(&tar), Some(Layer::Tar));
        assert_eq!(sniff(b"nm_live_ plain text"), None);
    }
}
