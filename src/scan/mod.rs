//! Bytes in, hits out: runs the matcher over one blob and turns offsets into locations.
//!
//! A blob arrives either whole (a git object) or as a reader (a file, stdin). Readers are
//! scanned in fixed-size windows with an overlap, so memory stays bounded whatever the file's
//! size and a key that straddles a window boundary is still found exactly once. It does not
//! know where blobs come from. One file a job:
//!
//! - `mod.rs`: the [`Scanner`]: binary detection, the raw pass and the decoded passes over a
//!   blob, hits with their locations, names (`scan_name`), the sink that hands hits on;
//! - `window.rs`: the one chunk-and-overlap loop, used by every pass over a stream;
//! - `lines.rs`: line and column counting (1-based; characters and UTF-16 code units, bytes in
//!   binary input);
//! - `snippet.rs`: the line around a key with every key on it redacted;
//! - `utf16.rs`: UTF-16 text, decoded beside the raw bytes;
//! - `container.rs`: archives and compressed streams, opened in place of their raw bytes
//!   (by magic bytes), within the [`Decoding`] limits;
//! - `encoded.rs`: base64 and hex, decoded around the matcher's hints.
//!
//! **Decoders plug in here.** A decoder turns a blob's bytes into other bytes to scan (UTF-16
//! into UTF-8 text, a gzip stream into what it holds, base64 into bytes) plus a way to place
//! what it finds: the line tracker's code-unit count, an archive member's path on the hit's
//! [`Inner`], a decoded byte's position in its text. Streams run through their own window and
//! the same `scan_region`, so chunking, lines, snippets and allow comments work unchanged;
//! encoded text is decoded inside `scan_region` from the hints the matcher's one pass gives,
//! so bytes that are neither archives nor encodings cost nothing more.
//! Allow comments are judged with [`crate::suppress::inline`] while the key's line is at hand,
//! and SARIF line hashes with [`crate::linehash`] while the blob is.

mod container;
mod encoded;
mod lines;
mod snippet;
mod utf16;
mod window;

use std::io::{self, Read, Seek};
use std::sync::Arc;

use memchr::memchr;

pub use self::container::Decoding;
use self::container::{Meter, Place, SNIFF, sniff};
use self::encoded::DECODE_REACH;

use self::lines::{LineTracker, count_chars, line_bounds};
use self::utf16::Decoder;
pub use self::utf16::{Utf16, utf16_encoding};
use self::window::{View, Window};

use crate::finding::{Hit, Inner, Layer, Location, Origin, Part, Secret, Unlisted};
use crate::matcher::{Found, HintKind, Match, Matcher};

/// Bytes read per chunk.
pub const CHUNK: usize = 4 << 20;
/// Bytes of each chunk scanned again at the start of the next: longer than any key.
pub const OVERLAP: usize = 64 << 10;

/// How a reader is cut into chunks: [`CHUNK`] and [`OVERLAP`] unless a test asks for others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// New bytes read per chunk (at least 1).
    pub chunk: usize,
    /// Bytes of each chunk scanned again at the start of the next. It must exceed the longest
    /// key plus the 4 bytes the filters look at after one; a longer "key" may be cut.
    pub overlap: usize,
}

impl Default for Chunking {
    fn default() -> Chunking {
        Chunking {
            chunk: CHUNK,
            overlap: OVERLAP,
        }
    }
}
/// A NUL byte in the first this-many bytes marks a blob as binary (as git and ripgrep do).
pub(crate) const BINARY_PROBE: usize = 8 << 10;

/// A UTF-16 blob in memory up to this size is decoded whole (its text lines then get SARIF
/// line hashes); a larger one is decoded window by window, so memory does not double.
const WHOLE_DECODE: usize = 64 << 20;

/// Hits a reader's scan hands on once it holds this many, when a sink is set.
pub const SINK_BATCH: usize = 256;

/// Where a reader's hits go while it is scanned ([`Scanner::set_sink`]).
struct Sink<'m>(Box<dyn FnMut(Vec<Hit>) + Send + 'm>);

impl std::fmt::Debug for Sink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// A key the matcher found in a window: in the clear, or decoded from the text at `m`.
#[derive(Debug, Clone)]
struct Spot {
    /// The key's span in the window (for a decoded key, the span of its encoding).
    m: Match,
    /// The decoded key and the encodings it was inside, outermost first.
    decoded: Option<Box<(String, Vec<Layer>)>>,
}

/// A key found in decoded bytes, placed in those bytes.
struct DecodedKey {
    start: usize,
    end: usize,
    rule: usize,
    key: String,
    layers: Vec<Layer>,
}

/// One worker's scanner: a matcher reference and reusable chunk buffers.
#[derive(Debug)]
pub struct Scanner<'m> {
    matcher: &'m Matcher,
    show_secrets: bool,
    chunking: Chunking,
    /// Window buffers, one per layer being scanned (an archive member inside a stream).
    bufs: Vec<Vec<u8>>,
    found: Vec<Spot>,
    sink: Option<Sink<'m>>,
    decoding: Decoding,
    /// The current outer input's budget.
    meter: Arc<Meter>,
    /// What the current outer input could not be scanned for (see [`Scanner::take_problems`]).
    problems: Vec<String>,
    /// Where inside the outer input the bytes being scanned are.
    inner: Option<Arc<Inner>>,
    /// Layers above the bytes being scanned.
    depth: usize,
    /// The first bytes of a file, read to tell what it is (reused).
    head: Vec<u8>,
}

impl<'m> Scanner<'m> {
    /// A scanner over `matcher`; `show_secrets` keeps keys in snippets in full.
    #[must_use]
    pub fn new(matcher: &'m Matcher, show_secrets: bool) -> Scanner<'m> {
        Scanner::with_chunking(matcher, show_secrets, Chunking::default())
    }

    /// A scanner that cuts readers into chunks as `chunking` says: for tests and fuzzing, which
    /// need many chunk boundaries in small inputs. Production code uses [`Scanner::new`].
    ///
    /// # Panics
    /// If `chunking.chunk` is 0.
    #[doc(hidden)]
    #[must_use]
    pub fn with_chunking(
        matcher: &'m Matcher,
        show_secrets: bool,
        chunking: Chunking,
    ) -> Scanner<'m> {
        assert!(chunking.chunk > 0, "a chunk reads at least one byte");
        Scanner {
            matcher,
            show_secrets,
            chunking,
            bufs: Vec::new(),
            found: Vec::new(),
            sink: None,
            decoding: Decoding::default(),
            meter: Arc::default(),
            problems: Vec::new(),
            inner: None,
            depth: 0,
            head: Vec::new(),
        }
    }

    /// Sets what the scanner looks inside (archives, compression, encodings) and its limits.
    #[must_use]
    pub fn decoding(mut self, decoding: Decoding) -> Scanner<'m> {
        self.decoding = decoding;
        self
    }

    /// The parts of the inputs scanned since the last call that were not scanned in full (a
    /// damaged archive, a decompression bomb stopped at its limit), each a sanitised sentence
    /// naming the place inside the input; the source names the input.
    pub fn take_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.problems)
    }

    /// Starts the budget of a new outer input.
    fn new_input(&mut self) {
        self.meter = Arc::default();
        self.inner = None;
        self.depth = 0;
    }

    fn container(&self, head: &[u8]) -> Option<Layer> {
        if self.decoding.enabled && self.decoding.max_depth > 0 {
            sniff(head)
        } else {
            None
        }
    }

    /// Hands the hits of a reader's scan to `sink` in batches of [`SINK_BATCH`] as they are
    /// found, so that a hit-dense file (a log with a key on every line) never piles up its
    /// hits in memory; what is left at the end stays in the caller's `out`.
    pub fn set_sink(&mut self, sink: impl FnMut(Vec<Hit>) + Send + 'm) {
        self.sink = Some(Sink(Box::new(sink)));
    }

    /// Scans a blob held in memory, appending hits to `out`.
    pub fn scan_bytes(&mut self, bytes: &[u8], origin: &Origin, out: &mut Vec<Hit>) {
        self.new_input();
        if let Some(layer) = self.container(bytes) {
            let problems = self.problems.len();
            self.contain(|s| {
                let outer = Place::outer();
                if layer == Layer::Zip {
                    // A damaged directory is a problem of its own: the raw bytes below.
                    let _ = s.walk_zip(io::Cursor::new(bytes), origin, &outer.wrapped(layer), out);
                } else {
                    s.open_stream(layer, &mut &bytes[..], origin, &outer, out);
                }
            });
            if self.read_in_full(problems) {
                return;
            }
        }
        // A blob in memory keeps all its hits: its line hashes are attached below.
        let sink = self.sink.take();
        self.scan_blob(bytes, origin, out);
        self.sink = sink;
    }

    /// Whether the input being scanned was read in full inside, no problem recorded since
    /// there were `problems`. Otherwise (a damaged stream or directory, a limit, a decoder that
    /// failed) its raw bytes are scanned too, where they are at hand: what could not be read
    /// inside may still be in the clear (a stored member, a tar's members past the limit).
    fn read_in_full(&mut self, problems: usize) -> bool {
        if self.problems.len() == problems {
            return true;
        }
        self.inner = None;
        self.depth = 0;
        false
    }

    /// Scans a file: like [`Scanner::scan_reader`], but a zip is read through its directory
    /// in place rather than spooled, and a container not read in full is scanned again as
    /// raw bytes (see [`Scanner::scan_bytes`]).
    ///
    /// # Errors
    /// The file's read error; hits found before it stay in `out`.
    pub fn scan_file(
        &mut self,
        mut file: std::fs::File,
        origin: &Origin,
        out: &mut Vec<Hit>,
    ) -> io::Result<u64> {
        // Most files are small: read whole in one call, they are scanned as a blob in memory,
        // which costs no more reads than a scan that never looks inside.
        let mut head = std::mem::take(&mut self.head);
        head.resize(BINARY_PROBE, 0);
        let (n, status) = fill(&mut file, &mut head);
        if status.is_err() || n < head.len() {
            self.scan_bytes(&head[..n], origin, out);
            self.head = head;
            return status.map(|_| n as u64);
        }
        let layer = self.container(&head[..n]);
        let result = match layer {
            None => self.scan_reader(io::Cursor::new(&head[..n]).chain(file), origin, out),
            Some(layer) => {
                let mut raw = file.try_clone()?;
                let problems = self.problems.len();
                let result = if layer == Layer::Zip {
                    self.new_input();
                    file.rewind()?;
                    let inside = Place::outer().wrapped(layer);
                    // A damaged directory is a problem of its own: the raw bytes below.
                    self.contain(|s| drop(s.walk_zip(file, origin, &inside, out)));
                    raw.metadata().map(|m| m.len())
                } else {
                    self.scan_reader(io::Cursor::new(&head[..n]).chain(file), origin, out)
                };
                if !self.read_in_full(problems) {
                    raw.rewind()?;
                    self.scan_plain(&mut raw, origin, 0, out)?;
                }
                result
            }
        };
        self.head = head;
        result
    }

    fn scan_blob(&mut self, bytes: &[u8], origin: &Origin, out: &mut Vec<Hit>) {
        let binary = is_binary(bytes);
        let mut lines = LineTracker::new(binary);
        let first = out.len();
        let all = View {
            hay: bytes,
            range: 0..bytes.len(),
            complete: true,
            base: 0,
        };
        self.scan_region(&all, binary, &mut lines, origin, out);
        if let Some(enc) = utf16_encoding(bytes, binary)
            && bytes.len() > WHOLE_DECODE
        {
            // Too large to decode whole beside itself: decode and scan window by window
            // (the decoded text's lines go without SARIF line hashes).
            self.hash_raw_lines(bytes, binary, &mut out[first..]);
            let mut decoded = Decoded::new(enc, self.chunking);
            let mut pieces = bytes.chunks(CHUNK).peekable();
            while let Some(piece) = pieces.next() {
                decoded.feed(self, piece, pieces.peek().is_none(), origin, out);
            }
            return;
        }
        if let Some(enc) = utf16_encoding(bytes, binary) {
            let mut decoder = Decoder::new(enc);
            let mut text = Vec::new();
            decoder.push(bytes, &mut text);
            decoder.finish(&mut text);
            let mut lines = LineTracker::decoded(decoder.bom);
            let from = out.len();
            let all = View {
                hay: &text,
                range: 0..text.len(),
                complete: true,
                base: 0,
            };
            self.scan_region(&all, false, &mut lines, origin, out);
            let new = &mut out[from..];
            let numbers: Vec<u64> = new.iter().map(|h| h.location.line).collect();
            let hashes = crate::linehash::line_hashes(&text, &numbers);
            for (hit, hash) in new.iter_mut().zip(hashes) {
                hit.location.line_hash = hash;
            }
            // Only the raw pass's text hits are hashed below, against the raw bytes.
            let from_text: Vec<Hit> = out.drain(from..).collect();
            self.hash_raw_lines(bytes, binary, &mut out[first..]);
            out.extend(from_text);
            return;
        }
        self.hash_raw_lines(bytes, binary, &mut out[first..]);
    }

    /// The blob is in memory now and may not be later (git): hash the key lines for SARIF.
    #[allow(clippy::unused_self)] // a step of scan_bytes, kept beside it
    fn hash_raw_lines(&self, bytes: &[u8], binary: bool, new: &mut [Hit]) {
        if !new.is_empty() && !binary {
            let lines: Vec<u64> = new.iter().map(|h| h.location.line).collect();
            let hashes = crate::linehash::line_hashes(bytes, &lines);
            for (hit, hash) in new.iter_mut().zip(hashes) {
                hit.location.line_hash = hash;
            }
        }
    }

    /// Whether `bytes` hold any key at all: a cheap first look (the prefilter, then the rules)
    /// before a source takes a structure apart to place it (a tree's entry names).
    #[must_use]
    pub fn holds_key(&self, bytes: &[u8]) -> bool {
        let mut any = false;
        self.matcher
            .find(bytes, 0..bytes.len(), true, |_| any = true);
        any
    }

    /// Scans a name that belongs to `origin` (`part`: a path, an author, a ref name) and
    /// appends a hit for each key in it that starts at or after byte `from` (for a path, its
    /// last component: a key in a directory's name is reported once, at the directory). The
    /// location's offset and column count in the name; its snippet is the whole name, with
    /// every key redacted unless `--show-secrets`.
    pub fn scan_name(
        &mut self,
        name: &[u8],
        from: usize,
        origin: &Origin,
        part: Part,
        out: &mut Vec<Hit>,
    ) {
        for m in self.matcher.find_all(name) {
            if m.start < from {
                continue;
            }
            let (chars, utf16) = count_chars(&name[..m.start]);
            let key = String::from_utf8_lossy(&name[m.start..m.end]);
            out.push(Hit {
                rule: m.rule,
                secret: Secret::new(&key),
                location: Location {
                    origin: origin.clone(),
                    part,
                    line: 1,
                    column: chars + 1,
                    column_utf16: utf16 + 1,
                    offset: m.start as u64,
                    len: (m.end - m.start) as u64,
                    binary: false,
                    snippet: Some(if self.show_secrets {
                        crate::sanitize::bytes(name)
                    } else {
                        self.redact_window(
                            name,
                            0..name.len(),
                            &[(m.start, m.end, self.matcher.rules()[m.rule].prefix.len())],
                        )
                    }),
                    inline_allow: false,
                    allow_ambiguous: false,
                    line_hash: None,
                    inner: self.inner.clone(),
                },
                unlisted: Unlisted::default(),
            });
        }
    }

    /// Scans everything `reader` yields, in chunks, appending hits to `out` as they are found.
    /// A read error midway ends the scan where it struck: the bytes read before it are
    /// scanned and their keys kept. Returns the bytes read.
    ///
    /// # Errors
    /// The reader's error; hits found before it stay in `out`.
    pub fn scan_reader(
        &mut self,
        mut reader: impl Read,
        origin: &Origin,
        out: &mut Vec<Hit>,
    ) -> io::Result<u64> {
        self.new_input();
        let mut head = [0u8; SNIFF];
        let (n, status) = fill(&mut reader, &mut head);
        if let Err(e) = status {
            let mut partial = &head[..n];
            self.scan_plain(&mut partial, origin, 0, out)?;
            return Err(e);
        }
        let mut chained = io::Cursor::new(&head[..n]).chain(reader);
        let Some(layer) = self.container(&head[..n]) else {
            return self.scan_plain(&mut chained, origin, 0, out);
        };
        // The outer reader's own failure is told apart from a decoder's.
        let mut counted = Failing {
            inner: chained,
            count: 0,
            error: None,
        };
        self.contain(|s| s.open_stream(layer, &mut counted, origin, &Place::outer(), out));
        match counted.error {
            Some(e) => Err(e),
            None => Ok(counted.count),
        }
    }

    /// Scans a reader's bytes as they are (no container opened at this level), in windows.
    fn scan_plain(
        &mut self,
        reader: &mut dyn Read,
        origin: &Origin,
        depth: usize,
        out: &mut Vec<Hit>,
    ) -> io::Result<u64> {
        // The first window holds at least the binary probe, so that "a NUL in the first
        // 8 KiB" means the same whatever the chunk size (the default chunk is far larger).
        let buf = self.bufs.pop().unwrap_or_default();
        let mut window = Window::new(self.chunking, BINARY_PROBE, buf);
        let saved = std::mem::replace(&mut self.depth, depth);
        let result = self.scan_windows(reader, &mut window, origin, out);
        self.depth = saved;
        self.bufs.push(window.into_buffer());
        result
    }

    fn scan_windows(
        &mut self,
        reader: &mut dyn Read,
        window: &mut Window,
        origin: &Origin,
        out: &mut Vec<Hit>,
    ) -> io::Result<u64> {
        let mut lines: Option<LineTracker> = None;
        let mut decoded: Option<Decoded> = None;
        loop {
            let (n, status) = fill(reader, window.spare());
            window.filled(n);
            crate::interrupt::checkpoint().map_err(io::Error::other)?;
            // A read error ends the blob where it struck: what was read before it is scanned
            // (its keys reported), then the error is returned.
            let (eof, failure) = match status {
                Ok(eof) => (eof, None),
                Err(e) => (true, Some(e)),
            };
            let lines = lines.get_or_insert_with(|| {
                let binary = is_binary(window.bytes());
                decoded = utf16_encoding(window.bytes(), binary)
                    .map(|enc| Decoded::new(enc, self.chunking));
                LineTracker::new(binary)
            });
            let binary = lines.binary;
            if let Some(d) = &mut decoded {
                let fresh = &window.bytes()[window.bytes().len() - n..];
                d.feed(self, fresh, eof, origin, out);
            }
            let mut scan = |v: View<'_>| {
                self.scan_region(&v, binary, lines, origin, out);
                if !v.complete {
                    lines.advance(v.hay, v.base, v.base + v.range.end as u64);
                }
            };
            if eof {
                window.finish(&mut scan);
                return failure.map_or(Ok(window.end()), Err);
            }
            window.slide(&mut scan);
        }
    }

    /// Finds the keys starting in `v.range` and appends a hit for each, with its line,
    /// column, snippet and allow comment: keys in the clear, and keys decoded from the
    /// encoded text the matcher's hints point at.
    fn scan_region(
        &mut self,
        v: &View<'_>,
        binary: bool,
        lines: &mut LineTracker,
        origin: &Origin,
        out: &mut Vec<Hit>,
    ) {
        let (hay, base) = (v.hay, v.base);
        self.found.clear();
        let found = &mut self.found;
        if self.decoding.enabled && self.depth < self.decoding.max_depth {
            let mut hints = Vec::new();
            self.matcher
                .find_hinted(hay, v.range.clone(), v.complete, HINT_REACH, |f| match f {
                    Found::Key(m) => found.push(Spot { m, decoded: None }),
                    Found::Hint(h) => hints.push(h),
                });
            if !hints.is_empty() {
                self.decode_hints(hay, &v.range, &hints);
            }
        } else {
            self.matcher.find(hay, v.range.clone(), v.complete, |m| {
                found.push(Spot { m, decoded: None });
            });
        }
        // Aho-corasick reports by end offset; line counting needs starts in order.
        self.found
            .sort_unstable_by_key(|s| (s.m.start, s.m.rule, s.decoded.is_some()));
        // The line of the previous key: hit-dense lines are measured once, not once a key.
        let mut current: Option<LineInfo> = None;
        for i in 0..self.found.len() {
            let spot = &self.found[i];
            let m = spot.m;
            let at = base + m.start as u64;
            lines.advance(hay, base, at);
            // Decoded UTF-16: offsets and lengths are in the blob's own bytes, two per unit.
            let (offset, len) = match lines.units {
                None => (at, (m.end - m.start) as u64),
                Some(units) => (
                    lines.bom + 2 * units,
                    2 * count_chars(&hay[m.start..m.end]).1,
                ),
            };
            let (secret, inner) = match &spot.decoded {
                None => (
                    Secret::new(&String::from_utf8_lossy(&hay[m.start..m.end])),
                    self.inner.clone(),
                ),
                Some(d) => {
                    let mut inner = self.inner.as_deref().cloned().unwrap_or_default();
                    inner.chain.extend_from_slice(&d.1);
                    (Secret::new(&d.0), Some(Arc::new(inner)))
                }
            };
            let info = match current {
                Some(info) if info.start <= m.start && m.end <= info.end => info,
                _ => {
                    let (start, end) = line_bounds(hay, m.start, m.end);
                    let line = &hay[start..end];
                    let info = LineInfo {
                        start,
                        end,
                        marker: crate::suppress::inline::has_marker(line),
                        keys: self.found[i..]
                            .iter()
                            .take_while(|o| o.m.start < end)
                            .count()
                            + self.found[..i]
                                .iter()
                                .rev()
                                .take_while(|o| o.m.start >= start)
                                .count(),
                    };
                    current = Some(info);
                    info
                }
            };
            let line = &hay[info.start..info.end];
            let snippet = (!binary).then(|| {
                let spans = self.found_spans(i, info.start, info.end);
                self.snippet(line, m.start - info.start, m.end - info.start, &spans)
            });
            let (inline_allow, allow_ambiguous) = allow_state(line, &secret, info);
            if out.len() >= SINK_BATCH
                && let Some(Sink(sink)) = &mut self.sink
            {
                sink(std::mem::take(out));
            }
            out.push(Hit {
                rule: m.rule,
                secret,
                location: Location {
                    origin: origin.clone(),
                    part: Part::Content,
                    line: lines.line,
                    column: lines.chars + 1,
                    column_utf16: lines.utf16 + 1,
                    offset,
                    len,
                    binary,
                    snippet,
                    inline_allow,
                    allow_ambiguous,
                    line_hash: None,
                    inner,
                },
                unlisted: Unlisted::default(),
            });
        }
    }

    /// Decodes the text at each hint and adds the keys it holds whose encoding starts inside
    /// `range` (a key is reported by the window its encoding starts in, whichever hint found
    /// it), each once.
    fn decode_hints(
        &mut self,
        hay: &[u8],
        range: &std::ops::Range<usize>,
        hints: &[crate::matcher::Hint],
    ) {
        let level = self.depth + 1;
        // The spans of the keys decoded so far, by start: a hint inside one is that key's
        // own text again (the other half of its prefix), and is not decoded twice; a key is
        // added once, however many hints' stretches hold it.
        let mut seen: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
        for &hint in hints {
            if seen
                .range(..=hint.at)
                .next_back()
                .is_some_and(|(_, &end)| end > hint.at)
            {
                continue;
            }
            let Some(d) = encoded::decode(hay, hint) else {
                continue;
            };
            let mut keys = Vec::new();
            self.keys_in(&d.bytes, level, &mut keys);
            for k in keys {
                let (start, end) = d.span(k.start, k.end);
                if !range.contains(&start) || seen.insert(start, end).is_some() {
                    continue;
                }
                let mut layers = vec![layer_of(hint.kind)];
                layers.extend(k.layers);
                self.found.push(Spot {
                    m: Match {
                        rule: k.rule,
                        start,
                        end,
                    },
                    decoded: Some(Box::new((k.key, layers))),
                });
            }
        }
    }

    /// The keys in decoded bytes at `level` layers down: in the clear, or encoded again.
    fn keys_in(&self, bytes: &[u8], level: usize, out: &mut Vec<DecodedKey>) {
        let mut hints = Vec::new();
        self.matcher
            .find_hinted(bytes, 0..bytes.len(), true, 0, |f| match f {
                Found::Key(m) => out.push(DecodedKey {
                    start: m.start,
                    end: m.end,
                    rule: m.rule,
                    key: String::from_utf8_lossy(&bytes[m.start..m.end]).into_owned(),
                    layers: Vec::new(),
                }),
                Found::Hint(h) => hints.push(h),
            });
        if level >= self.decoding.max_depth {
            return;
        }
        for hint in hints {
            let Some(d) = encoded::decode(bytes, hint) else {
                continue;
            };
            let mut inner = Vec::new();
            self.keys_in(&d.bytes, level + 1, &mut inner);
            for mut k in inner {
                if out.iter().any(|o| o.key == k.key) {
                    continue;
                }
                (k.start, k.end) = d.span(k.start, k.end);
                k.layers.insert(0, layer_of(hint.kind));
                out.push(k);
            }
        }
    }
}

/// Bytes past a window's range that hints are looked for in: the text of a key whose
/// encoding starts inside the range may be found by a hint just after it.
const HINT_REACH: usize = 2 * DECODE_REACH;

fn layer_of(kind: HintKind) -> Layer {
    match kind {
        HintKind::Base64 { .. } => Layer::Base64,
        HintKind::Hex => Layer::Hex,
    }
}

/// A reader whose own failure is kept, so that it is told apart from a decoder's.
struct Failing<R> {
    inner: R,
    count: u64,
    error: Option<io::Error>,
}

impl<R: Read> Read for Failing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count += n as u64;
                Ok(n)
            }
            Err(e) => {
                let shown = io::Error::new(e.kind(), e.to_string());
                self.error = Some(e);
                Err(shown)
            }
        }
    }
}

/// Whether an allow comment on `line` hides `secret`, and whether a bare one hides nothing
/// because the line holds several keys.
fn allow_state(line: &[u8], secret: &Secret, info: LineInfo) -> (bool, bool) {
    if !info.marker {
        return (false, false);
    }
    let allowed = crate::suppress::inline::allows(line, secret, info.keys);
    let ambiguous = !allowed && crate::suppress::inline::bare_allow_with_several(line, info.keys);
    (allowed, ambiguous)
}

/// The line that holds a key, measured once for all the keys on it.
#[derive(Debug, Clone, Copy)]
struct LineInfo {
    /// Offsets of the line in the haystack, without its newline.
    start: usize,
    end: usize,
    /// The line holds an allow marker.
    marker: bool,
    /// Keys the matcher found on the line.
    keys: usize,
}

/// The UTF-8 text of a UTF-16 blob, scanned in windows as it is decoded, beside the scan of
/// the blob's own bytes (which still finds ASCII keys in it: a mixed file loses nothing).
#[derive(Debug)]
struct Decoded {
    decoder: Decoder,
    window: Window,
    /// Text decoded from the latest raw bytes.
    fresh: Vec<u8>,
    lines: LineTracker,
}

impl Decoded {
    fn new(enc: Utf16, chunking: Chunking) -> Decoded {
        Decoded {
            decoder: Decoder::new(enc),
            window: Window::new(chunking, 0, Vec::new()),
            fresh: Vec::new(),
            lines: LineTracker::decoded(0),
        }
    }

    /// Decodes `raw` (the next bytes of the blob) and scans every full window of text; at
    /// `eof`, scans the rest.
    fn feed(
        &mut self,
        scanner: &mut Scanner<'_>,
        raw: &[u8],
        eof: bool,
        origin: &Origin,
        out: &mut Vec<Hit>,
    ) {
        self.fresh.clear();
        self.decoder.push(raw, &mut self.fresh);
        if eof {
            self.decoder.finish(&mut self.fresh);
        }
        self.lines.bom = self.decoder.bom;
        let lines = &mut self.lines;
        let mut scan = |v: View<'_>| {
            scanner.scan_region(&v, false, lines, origin, out);
            if !v.complete {
                lines.advance(v.hay, v.base, v.base + v.range.end as u64);
            }
        };
        self.window.extend(&self.fresh, &mut scan);
        if eof {
            self.window.finish(&mut scan);
        }
    }
}

/// Whether the start of a blob holds a NUL byte.
#[must_use]
pub fn is_binary(bytes: &[u8]) -> bool {
    memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some()
}

/// Reads until `buf` is full or the reader is exhausted; returns the count and whether the
/// end was reached, or the error that stopped the reading after `n` bytes.
fn fill(reader: &mut (impl Read + ?Sized), buf: &mut [u8]) -> (usize, io::Result<bool>) {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => return (n, Ok(true)),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Err(e)),
        }
    }
    (n, Ok(false))
}

#[cfg(test)]
mod tests {
    use super::snippet::SNIPPET_CONTEXT;
    use super::*;
    use crate::matcher::LOOKBEHIND;
    use crate::testkeys::{Rng, Trickle};

    fn matcher() -> Matcher {
        Matcher::new(crate::rules::load(&[] as &[&str]).unwrap())
    }

    #[test]
    fn keys_straddling_chunk_boundaries_are_found_once_with_right_lines() {
        let m = matcher();
        let mut rng = Rng::new(11);
        // Keys that straddle each place where a chunk is cut (the buffer's end) and where
        // the next chunk starts reporting (the commit point), on lines of 100 bytes.
        let lb = LOOKBEHIND;
        let starts = [
            CHUNK + lb - 20,
            CHUNK + OVERLAP + lb - 20,
            2 * CHUNK + lb,
            2 * CHUNK + OVERLAP + lb - 1,
        ];
        let mut data = Vec::new();
        let mut want = Vec::new();
        let mut line = 1u64;
        for start in starts {
            while data.len() + 100 <= start {
                data.extend_from_slice(&[b'a'; 99]);
                data.push(b'\n');
                line += 1;
            }
            data.resize(start, b' ');
            let col = (start - data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)) as u64;
            let key = rng.live_key();
            want.push((key.clone(), line, start as u64, col + 1));
            data.extend_from_slice(key.as_bytes());
            data.push(b'\n');
            line += 1;
        }
        data.extend_from_slice(b"tail");
        for step in [usize::MAX, 7919] {
            let mut out = Vec::new();
            let mut s = Scanner::new(&m, true);
            let n = s
                .scan_reader(Trickle(&data, step), &Origin::Stdin, &mut out)
                .unwrap();
            assert_eq!(n, data.len() as u64);
            let got: Vec<_> = out
                .iter()
                .map(|h| {
                    let l = &h.location;
                    (h.secret.expose().to_string(), l.line, l.offset, l.column)
                })
                .collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn columns_count_characters_and_utf16_units() {
        let m = matcher();
        let key = Rng::new(12).live_key();
        let text = format!("first\r\né😀日 {key}\n");
        let mut out = Vec::new();
        Scanner::new(&m, false).scan_bytes(text.as_bytes(), &Origin::Stdin, &mut out);
        let loc = &out[0].location;
        assert_eq!((loc.line, loc.column, loc.column_utf16), (2, 5, 6));
        assert!(!loc.binary);
        assert_eq!(
            loc.snippet.as_deref(),
            Some(format!("é😀日 nm_live_…{}", &key[key.len() - 4..]).as_str())
        );
    }

    #[test]
    fn binary_blobs_have_offsets_but_no_snippet() {
        let m = matcher();
        let key = Rng::new(13).live_key();
        let mut data = vec![0u8, 1, 2, 3];
        data.extend_from_slice(key.as_bytes());
        let mut out = Vec::new();
        Scanner::new(&m, false).scan_bytes(&data, &Origin::Stdin, &mut out);
        assert_eq!(out[0].location.offset, 4);
        assert!(out[0].location.binary && out[0].location.snippet.is_none());
    }

    /// A reader that yields `data`, then fails: a file truncated or removed under the reader
    /// (on NFS, `ESTALE`), or a disk error.
    struct Failing<'a>(&'a [u8]);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("stale file handle"));
            }
            let n = self.0.len().min(buf.len()).min(1000);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_read_that_fails_midway_keeps_the_keys_found_before_it() {
        let m = matcher();
        let mut rng = Rng::new(18);
        let (a, b) = (rng.live_key(), rng.live_key());
        let text = format!("{a}\n{}\n{b}\n", "x".repeat(5000));
        let chunking = Chunking {
            chunk: 100,
            overlap: 64,
        };
        let mut out = Vec::new();
        let err = Scanner::with_chunking(&m, false, chunking)
            .scan_reader(Failing(text.as_bytes()), &Origin::Stdin, &mut out)
            .unwrap_err();
        assert_eq!(err.to_string(), "stale file handle");
        let got: Vec<&str> = out.iter().map(|h| h.secret.expose()).collect();
        // Both, though the error struck inside the first (8 KiB) chunk.
        assert_eq!(got, [a.as_str(), b.as_str()]);
        // A file that shrank is one that ends sooner: scanned to its new end, no error.
        let mut out = Vec::new();
        let n = Scanner::with_chunking(&m, false, chunking)
            .scan_reader(&text.as_bytes()[..a.len() + 10], &Origin::Stdin, &mut out)
            .unwrap();
        assert_eq!((n, out.len()), (a.len() as u64 + 10, 1));
    }

    #[test]
    fn a_crlf_line_ending_is_not_part_of_the_snippet() {
        let m = matcher();
        let key = Rng::new(15).live_key();
        let mut out = Vec::new();
        let text = format!("a=1\r\nk={key}\r\n");
        Scanner::new(&m, true).scan_bytes(text.as_bytes(), &Origin::Stdin, &mut out);
        assert_eq!(
            out[0].location.snippet.as_deref(),
            Some(format!("k={key}").as_str())
        );
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn keys_in_utf16_text_are_found_across_chunk_boundaries_with_offsets_in_the_blob() {
        let m = matcher();
        let mut rng = Rng::new(16);
        let mut text = String::from("\u{feff}");
        let mut want = Vec::new();
        for i in 0..40 {
            text.push_str(&"é😀 ".repeat(i % 5));
            let key = rng.live_key();
            let line = text.matches('\n').count() as u64 + 1;
            // Columns as an editor shows them: the byte-order mark is no character.
            let line_text = &text[text.rfind('\n').map_or(0, |n| n + 1)..];
            let col = line_text.trim_start_matches('\u{feff}').chars().count() as u64 + 1;
            let before = text.encode_utf16().count() as u64 * 2;
            want.push((key.clone(), line, col, before, key.len() as u64 * 2));
            text.push_str(&key);
            text.push_str(if i % 3 == 0 { "\r\n" } else { " " });
        }
        let bytes = utf16le(&text);
        let chunkings = [
            Chunking {
                chunk: 97,
                overlap: 64,
            },
            Chunking {
                chunk: 1,
                overlap: 50,
            },
            Chunking::default(),
        ];
        for chunking in chunkings {
            for step in [usize::MAX, 3] {
                let mut out = Vec::new();
                let mut s = Scanner::with_chunking(&m, true, chunking);
                s.scan_reader(Trickle(&bytes, step), &Origin::Stdin, &mut out)
                    .unwrap();
                let got: Vec<_> = out
                    .iter()
                    .map(|h| {
                        let l = &h.location;
                        (
                            h.secret.expose().to_string(),
                            l.line,
                            l.column,
                            l.offset,
                            l.len,
                        )
                    })
                    .collect();
                assert_eq!(got, want, "{chunking:?}, reads of {step}");
                assert!(
                    out.iter()
                        .all(|h| !h.location.binary && h.location.snippet.is_some())
                );
            }
        }
        let mut out = Vec::new();
        Scanner::new(&m, true).scan_bytes(&bytes, &Origin::Stdin, &mut out);
        assert_eq!(out.len(), want.len());
        assert!(out.iter().all(|h| h.location.line_hash.is_some()));
    }

    #[test]
    fn an_ascii_key_appended_to_a_utf16_file_is_still_found() {
        let m = matcher();
        let key = Rng::new(17).live_key();
        let mut bytes = utf16le("\u{feff}written by one tool\r\n");
        let at = bytes.len() as u64;
        bytes.extend_from_slice(key.as_bytes());
        let mut out = Vec::new();
        Scanner::new(&m, false)
            .scan_reader(&bytes[..], &Origin::Stdin, &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].location.offset, out[0].location.binary), (at, true));
    }

    #[test]
    fn snippet_redacts_every_key_on_the_line_even_when_cut() {
        let m = matcher();
        let mut rng = Rng::new(14);
        let (a, b) = (rng.live_key(), rng.live_key());
        let pad = "p".repeat(SNIPPET_CONTEXT - 10);
        let text = format!("{a}{pad} {b}");
        let mut out = Vec::new();
        Scanner::new(&m, false).scan_bytes(text.as_bytes(), &Origin::Stdin, &mut out);
        for hit in &out {
            let snip = hit.location.snippet.as_deref().unwrap();
            assert!(
                !snip.contains(&a[8..20]) && !snip.contains(&b[8..20]),
                "{snip}"
            );
            assert!(!snip.contains(&b[8..14]), "no part of a cut key: {snip}");
        }
    }
}
