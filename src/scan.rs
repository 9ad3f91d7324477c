//! Bytes in, hits out: runs the matcher over one blob and turns offsets into locations.
//!
//! A blob arrives either whole (a git object) or as a reader (a file, stdin). Readers are
//! scanned in fixed-size chunks with an overlap, so memory stays bounded whatever the file's
//! size and a key that straddles a chunk boundary is still found exactly once. This module
//! owns line and column counting (1-based; columns in characters and in UTF-16 code units,
//! in bytes for binary input), binary detection and the redacted snippet. It does not know
//! where blobs come from.

use std::io::{self, Read};

use memchr::{memchr, memmem, memrchr};

use crate::finding::{Hit, Location, Origin, Part, Secret, Unlisted};
use crate::matcher::{LOOKBEHIND, Match, Matcher};

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
const BINARY_PROBE: usize = 8 << 10;
/// A comment holding this on a key's line hides that location (`# nmleaks:allow`).
pub const ALLOW_MARKER: &str = "nmleaks:allow";
/// Bytes of context shown on each side of a key in a snippet.
const SNIPPET_CONTEXT: usize = 60;

/// Hits a reader's scan hands on once it holds this many, when a sink is set.
pub const SINK_BATCH: usize = 256;

/// Where a reader's hits go while it is scanned ([`Scanner::set_sink`]).
struct Sink<'m>(Box<dyn FnMut(Vec<Hit>) + Send + 'm>);

impl std::fmt::Debug for Sink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

/// One worker's scanner: a matcher reference and a reusable chunk buffer.
#[derive(Debug)]
pub struct Scanner<'m> {
    matcher: &'m Matcher,
    show_secrets: bool,
    chunking: Chunking,
    buf: Vec<u8>,
    found: Vec<Match>,
    sink: Option<Sink<'m>>,
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
            buf: Vec::new(),
            found: Vec::new(),
            sink: None,
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
        // A blob in memory keeps all its hits: its line hashes are attached below.
        let sink = self.sink.take();
        self.scan_blob(bytes, origin, out);
        self.sink = sink;
    }

    fn scan_blob(&mut self, bytes: &[u8], origin: &Origin, out: &mut Vec<Hit>) {
        let binary = is_binary(bytes);
        let mut lines = LineTracker::new(binary);
        let first = out.len();
        let all = 0..bytes.len();
        self.scan_region(bytes, all, true, 0, binary, &mut lines, origin, out);
        if let Some(enc) = utf16_encoding(bytes, binary) {
            let mut decoder = Decoder::new(enc);
            let mut text = Vec::new();
            decoder.push(bytes, &mut text);
            decoder.finish(&mut text);
            let mut lines = LineTracker::decoded(decoder.bom);
            let from = out.len();
            let all = 0..text.len();
            self.scan_region(&text, all, true, 0, false, &mut lines, origin, out);
            let new = &mut out[from..];
            let numbers: Vec<u64> = new.iter().map(|h| h.location.line).collect();
            let hashes = crate::report::linehash::line_hashes(&text, &numbers);
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
            let hashes = crate::report::linehash::line_hashes(bytes, &lines);
            for (hit, hash) in new.iter_mut().zip(hashes) {
                hit.location.line_hash = hash;
            }
        }
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
                    line_hash: None,
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
        let mut buf = std::mem::take(&mut self.buf);
        let Chunking { chunk, overlap } = self.chunking;
        // The first chunk holds at least the binary probe, so that "a NUL in the first
        // 8 KiB" means the same whatever the chunk size (the default chunk is far larger).
        buf.resize((chunk + overlap + LOOKBEHIND).max(BINARY_PROBE), 0);
        let result = self.scan_chunks(&mut reader, &mut buf, origin, out);
        self.buf = buf;
        result
    }

    fn scan_chunks(
        &mut self,
        reader: &mut impl Read,
        buf: &mut [u8],
        origin: &Origin,
        out: &mut Vec<Hit>,
    ) -> io::Result<u64> {
        let mut carry = 0; // bytes kept at the front of `buf` from the previous chunk
        let mut report_from = 0; // keys starting before this were reported already
        let mut base = 0u64; // absolute offset of buf[0]
        let Chunking { chunk, overlap } = self.chunking;
        let mut lines = None;
        let mut decoded: Option<Decoded> = None;
        loop {
            let limit = if lines.is_none() {
                buf.len()
            } else {
                chunk + overlap + LOOKBEHIND
            };
            let (n, status) = fill(reader, &mut buf[carry..limit]);
            crate::interrupt::checkpoint().map_err(io::Error::other)?;
            // A read error ends the blob where it struck: what was read before it is scanned
            // (its keys reported), then the error is returned.
            let (eof, failure) = match status {
                Ok(eof) => (eof, None),
                Err(e) => (true, Some(e)),
            };
            let len = carry + n;
            let lines = lines.get_or_insert_with(|| {
                let binary = is_binary(&buf[..len]);
                decoded =
                    utf16_encoding(&buf[..len], binary).map(|enc| Decoded::new(enc, self.chunking));
                LineTracker::new(binary)
            });
            let binary = lines.binary;
            if let Some(d) = &mut decoded {
                d.feed(self, &buf[carry..len], eof, origin, out);
            }
            let commit = if eof { len } else { len - overlap };
            let hay = &buf[..len];
            self.scan_region(
                hay,
                report_from..commit,
                eof,
                base,
                binary,
                lines,
                origin,
                out,
            );
            if eof {
                return failure.map_or(Ok(base + len as u64), Err);
            }
            lines.advance(hay, base, base + commit as u64);
            let keep = commit - LOOKBEHIND;
            buf.copy_within(keep..len, 0);
            carry = len - keep;
            report_from = LOOKBEHIND;
            base += keep as u64;
        }
    }

    #[allow(clippy::too_many_arguments)] // one private call path; a struct would only rename them
    fn scan_region(
        &mut self,
        hay: &[u8],
        range: std::ops::Range<usize>,
        complete: bool,
        base: u64,
        binary: bool,
        lines: &mut LineTracker,
        origin: &Origin,
        out: &mut Vec<Hit>,
    ) {
        self.found.clear();
        let found = &mut self.found;
        self.matcher.find(hay, range, complete, |m| found.push(m));
        // Aho-corasick reports by end offset; line counting needs starts in order.
        found.sort_unstable_by_key(|m| (m.start, m.rule));
        // The line of the previous key: hit-dense lines are measured once, not once a key.
        let mut current: Option<LineInfo> = None;
        for (i, m) in self.found.iter().enumerate() {
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
            let key = String::from_utf8_lossy(&hay[m.start..m.end]);
            let info = match current {
                Some(info) if info.start <= m.start && m.end <= info.end => info,
                _ => {
                    let (start, end) = line_bounds(hay, m.start, m.end);
                    let line = &hay[start..end];
                    let info = LineInfo {
                        start,
                        end,
                        marker: memmem::find(line, ALLOW_MARKER.as_bytes()).is_some(),
                        keys: self.found[i..].iter().take_while(|o| o.start < end).count()
                            + self.found[..i]
                                .iter()
                                .rev()
                                .take_while(|o| o.start >= start)
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
            let secret = Secret::new(&key);
            let inline_allow = info.marker && allows(line, &secret, info.keys);
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
                    line_hash: None,
                },
                unlisted: Unlisted::default(),
            });
        }
    }

    /// The spans, relative to the line starting at `line_start`, of the keys the matcher
    /// found near key number `i` (within [`REDACT_REACH`] of it): redacted exactly as found,
    /// whatever characters a rule's pattern allows.
    fn found_spans(
        &self,
        i: usize,
        line_start: usize,
        line_end: usize,
    ) -> Vec<(usize, usize, usize)> {
        let m = self.found[i];
        let lo = m.start.saturating_sub(REDACT_REACH).max(line_start);
        let hi = (m.end + REDACT_REACH).min(line_end);
        let first = self.found.partition_point(|o| o.start < lo);
        // A long key that starts before the reach may still run into the window.
        let before = first.saturating_sub(8);
        self.found[before..]
            .iter()
            .filter(|o| o.start >= line_start && o.end > lo)
            .take_while(|o| o.start < hi)
            .map(|o| {
                let plen = self.matcher.rules()[o.rule].prefix.len();
                (o.start - line_start, o.end.min(line_end) - line_start, plen)
            })
            .collect()
    }

    /// The key's line (`line[start..end]` is the key), cut to some context each side, with
    /// every key on it redacted: the spans the matcher found (`found`, relative to the line)
    /// and every other candidate of any rule near the window.
    fn snippet(
        &self,
        line: &[u8],
        start: usize,
        end: usize,
        found: &[(usize, usize, usize)],
    ) -> String {
        // A CRLF line's `\r` is its ending, not text to escape (a key never holds one).
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut from = start.saturating_sub(SNIPPET_CONTEXT);
        let mut to = (end + SNIPPET_CONTEXT).min(line.len());
        while from > 0 && is_continuation(line[from]) {
            from -= 1;
        }
        while to < line.len() && is_continuation(line[to]) {
            to += 1;
        }
        let mut text = String::new();
        if from > 0 {
            text.push('…');
        }
        text.push_str(&self.redact_window(line, from..to, found));
        if to < line.len() {
            text.push('…');
        }
        text.trim_end().to_string()
    }

    /// Sanitises `line[window]`, replacing every key that touches the window by its redacted
    /// form: the matcher's own spans (`found`), every candidate any rule's pattern matches
    /// (placeholders too), and every prefix followed by 8 or more letters and digits. Spans are
    /// measured up to [`REDACT_REACH`] bytes beyond the window, so a key cut by the window's
    /// edge is still redacted whole; the cost per key is bounded whatever the line's length.
    fn redact_window(
        &self,
        line: &[u8],
        window: std::ops::Range<usize>,
        found: &[(usize, usize, usize)],
    ) -> String {
        if self.show_secrets {
            return crate::sanitize::bytes(&line[window]);
        }
        let lo = window.start.saturating_sub(REDACT_REACH);
        let hi = (window.end + REDACT_REACH).min(line.len());
        let region = &line[lo..hi];
        let mut spans: Vec<(usize, usize, usize)> = found.to_vec();
        for c in self.matcher.explain(region) {
            let plen = self.matcher.rules()[c.m.rule].prefix.len();
            spans.push((lo + c.m.start, lo + c.m.end, plen));
        }
        for rule in self.matcher.rules() {
            let prefix = rule.prefix.as_bytes();
            for at in memmem::find_iter(region, prefix) {
                let body = &region[at + prefix.len()..];
                let n = body
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .unwrap_or(body.len());
                if n >= 8 {
                    spans.push((lo + at, lo + at + prefix.len() + n, prefix.len()));
                }
            }
        }
        spans.sort_unstable();
        let mut out = String::new();
        let mut pos = window.start;
        for (s, e, plen) in spans {
            if e <= pos || s >= window.end {
                continue;
            }
            out.push_str(&crate::sanitize::bytes(&line[pos..s.max(pos)]));
            let run = String::from_utf8_lossy(&line[s..e]);
            out.push_str(&crate::sanitize::redact_key(&run, plen));
            pos = e;
        }
        if pos < window.end {
            out.push_str(&crate::sanitize::bytes(&line[pos..window.end]));
        }
        out
    }
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

/// How far beyond a snippet's window keys are looked for, so that one cut by the window's
/// edge is still redacted whole, while the cost per key stays bounded on a line of any length
/// with any number of keys. Keys the matcher found are redacted by their own spans.
const REDACT_REACH: usize = 256;

/// A UTF-16 encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16 {
    /// Little-endian (Windows' "Unicode": PowerShell 5 redirections, .reg exports).
    Le,
    /// Big-endian.
    Be,
}

/// Whether a blob that starts with `start` is UTF-16 text, and which: a byte-order mark says
/// so (`FF FE` little-endian, `FE FF` big-endian); without one, binary-looking input (a NUL in
/// the probe) whose 2-byte units are at least half a printable ASCII character or whitespace
/// followed by a NUL is little-endian UTF-16. Text without NULs never needs the second look.
#[must_use]
pub fn utf16_encoding(start: &[u8], binary: bool) -> Option<Utf16> {
    if start.starts_with(&[0xFF, 0xFE]) {
        return Some(Utf16::Le);
    }
    if start.starts_with(&[0xFE, 0xFF]) {
        return Some(Utf16::Be);
    }
    if !binary {
        return None;
    }
    let probe = &start[..start.len().min(BINARY_PROBE)];
    let units = probe.len() / 2;
    let ascii = probe
        .chunks_exact(2)
        .filter(|u| {
            u[1] == 0 && (matches!(u[0], b'\t' | b'\n' | b'\r') || (0x20..0x7F).contains(&u[0]))
        })
        .count();
    // Generous on purpose: a wrong guess costs one decoding pass, never a key, since the
    // blob's own bytes are scanned as well.
    (units >= 8 && ascii * 2 >= units).then_some(Utf16::Le)
}

/// Incremental UTF-16 to UTF-8: bytes go in as they are read, in pieces of any length.
/// Unpaired surrogates and a final odd byte become U+FFFD. A leading byte-order mark is
/// dropped (its length is kept in `bom`, for offsets).
#[derive(Debug)]
struct Decoder {
    enc: Utf16,
    /// The first byte of a unit whose second has not arrived.
    odd: Option<u8>,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    /// Whether the first unit was seen (a byte-order mark is dropped there).
    started: bool,
    /// Bytes of byte-order mark dropped: 0 or 2.
    bom: u64,
}

impl Decoder {
    fn new(enc: Utf16) -> Decoder {
        Decoder {
            enc,
            odd: None,
            high: None,
            started: false,
            bom: 0,
        }
    }

    fn push(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) {
        if let (Some(a), Some(&b)) = (self.odd, bytes.first()) {
            self.odd = None;
            self.unit([a, b], out);
            bytes = &bytes[1..];
        }
        let mut units = bytes.chunks_exact(2);
        for u in &mut units {
            self.unit([u[0], u[1]], out);
        }
        if let [last] = units.remainder() {
            self.odd = Some(*last);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.high.take().is_some() || self.odd.take().is_some() {
            push_char(char::REPLACEMENT_CHARACTER, out);
        }
    }

    fn unit(&mut self, pair: [u8; 2], out: &mut Vec<u8>) {
        let u = match self.enc {
            Utf16::Le => u16::from_le_bytes(pair),
            Utf16::Be => u16::from_be_bytes(pair),
        };
        if !self.started {
            self.started = true;
            if u == 0xFEFF {
                self.bom = 2;
                return;
            }
        }
        if let Some(high) = self.high.take() {
            if (0xDC00..0xE000).contains(&u) {
                let c = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                push_char(
                    char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER),
                    out,
                );
                return;
            }
            push_char(char::REPLACEMENT_CHARACTER, out);
        }
        if (0xD800..0xDC00).contains(&u) {
            self.high = Some(u);
        } else {
            push_char(
                char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER),
                out,
            );
        }
    }
}

fn push_char(c: char, out: &mut Vec<u8>) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// The UTF-8 text of a UTF-16 blob, scanned in chunks as it is decoded, beside the scan of
/// the blob's own bytes (which still finds ASCII keys in it: a mixed file loses nothing).
#[derive(Debug)]
struct Decoded {
    decoder: Decoder,
    chunking: Chunking,
    /// Decoded text not yet scanned to the end (the overlap of the last chunk, then new text).
    buf: Vec<u8>,
    /// Text decoded from the latest raw bytes.
    fresh: Vec<u8>,
    report_from: usize,
    base: u64,
    lines: LineTracker,
}

impl Decoded {
    fn new(enc: Utf16, chunking: Chunking) -> Decoded {
        Decoded {
            decoder: Decoder::new(enc),
            chunking,
            buf: Vec::new(),
            fresh: Vec::new(),
            report_from: 0,
            base: 0,
            lines: LineTracker::decoded(0),
        }
    }

    /// Decodes `raw` (the next bytes of the blob) and scans every full chunk of text; at
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
        let Chunking { chunk, overlap } = self.chunking;
        let full = chunk + overlap + LOOKBEHIND;
        let mut fresh = &self.fresh[..];
        loop {
            let take = fresh.len().min(full - self.buf.len());
            self.buf.extend_from_slice(&fresh[..take]);
            fresh = &fresh[take..];
            if self.buf.len() < full {
                break;
            }
            // A full chunk: scan it and keep its overlap, as `scan_chunks` does.
            let len = self.buf.len();
            let commit = len - overlap;
            let range = self.report_from..commit;
            let hay = &self.buf[..];
            scanner.scan_region(
                hay,
                range,
                false,
                self.base,
                false,
                &mut self.lines,
                origin,
                out,
            );
            self.lines
                .advance(hay, self.base, self.base + commit as u64);
            let keep = commit - LOOKBEHIND;
            self.buf.drain(..keep);
            self.report_from = LOOKBEHIND;
            self.base += keep as u64;
        }
        if eof {
            let hay = &self.buf[..];
            let range = self.report_from..hay.len();
            scanner.scan_region(
                hay,
                range,
                true,
                self.base,
                false,
                &mut self.lines,
                origin,
                out,
            );
        }
    }
}

/// Does an allow comment on `line` cover `secret`? `nmleaks:allow` alone covers the line's
/// key only when the line holds exactly one (so a key added later to an allowed line is still
/// reported); `nmleaks:allow:1a2b3c4d,5e6f7a8b` names keys by fingerprint prefixes (8 hex
/// digits or more, as the JSON report's `fingerprint` shows them).
fn allows(line: &[u8], secret: &Secret, keys_on_line: usize) -> bool {
    let fp = secret.fingerprint();
    let marker = ALLOW_MARKER.as_bytes();
    memmem::find_iter(line, marker).any(|at| {
        let rest = &line[at + marker.len()..];
        let Some(list) = rest.strip_prefix(b":") else {
            return keys_on_line == 1;
        };
        list.split(|&b| b == b',')
            .map(|item| {
                let n = item.iter().take_while(|b| b.is_ascii_hexdigit()).count();
                &item[..n]
            })
            .take_while(|hex| !hex.is_empty())
            .any(|hex| hex.len() >= 8 && fp.hex().as_bytes().starts_with(&hex.to_ascii_lowercase()))
    })
}

/// The line holding `hay[start..end]`, without its newline, as offsets into `hay`.
fn line_bounds(hay: &[u8], start: usize, end: usize) -> (usize, usize) {
    let line_start = memrchr(b'\n', &hay[..start]).map_or(0, |i| i + 1);
    let line_end = memchr(b'\n', &hay[end..]).map_or(hay.len(), |i| end + i);
    (line_start, line_end)
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Whether the start of a blob holds a NUL byte.
#[must_use]
pub fn is_binary(bytes: &[u8]) -> bool {
    memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some()
}

/// Reads until `buf` is full or the reader is exhausted; returns the count and whether the
/// end was reached, or the error that stopped the reading after `n` bytes.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> (usize, io::Result<bool>) {
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

/// Line and column at an absolute offset, advanced forward only.
///
/// In binary input a "line" is what lies between two `\n` bytes and columns count bytes:
/// characters mean nothing there, and counting them cost more than the search itself (a
/// 5 GB file of zeros is one line).
#[derive(Debug, Clone)]
struct LineTracker {
    offset: u64,
    line: u64,
    /// Characters (bytes, in binary input) between the line start and `offset`.
    chars: u64,
    /// UTF-16 code units (bytes, in binary input) between the line start and `offset`.
    utf16: u64,
    /// Count bytes, not characters.
    binary: bool,
    /// For text decoded from UTF-16: UTF-16 code units between the start and `offset`, which
    /// give the offset in the blob itself (`bom + 2 * units`).
    units: Option<u64>,
    /// Bytes of byte-order mark before the decoded text.
    bom: u64,
}

impl LineTracker {
    fn new(binary: bool) -> LineTracker {
        LineTracker {
            offset: 0,
            line: 1,
            chars: 0,
            utf16: 0,
            binary,
            units: None,
            bom: 0,
        }
    }

    /// A tracker over text decoded from UTF-16 that started after a `bom`-byte mark.
    fn decoded(bom: u64) -> LineTracker {
        LineTracker {
            units: Some(0),
            bom,
            ..LineTracker::new(false)
        }
    }

    /// Moves to absolute offset `to`; `hay` starts at absolute offset `base` and must hold
    /// every byte from the current offset to `to`.
    fn advance(&mut self, hay: &[u8], base: u64, to: u64) {
        if to <= self.offset {
            return;
        }
        let from = usize::try_from(self.offset - base).expect("offset within the chunk");
        let to_rel = usize::try_from(to - base).expect("offset within the chunk");
        let span = &hay[from..to_rel];
        if let Some(units) = &mut self.units {
            *units += count_chars(span).1;
        }
        let newlines = bytecount::count(span, b'\n') as u64;
        let tail = if newlines > 0 {
            self.line += newlines;
            self.chars = 0;
            self.utf16 = 0;
            &span[memrchr(b'\n', span).map_or(0, |i| i + 1)..]
        } else {
            span
        };
        let (chars, utf16) = if self.binary {
            (tail.len() as u64, tail.len() as u64)
        } else {
            count_chars(tail)
        };
        self.chars += chars;
        self.utf16 += utf16;
        self.offset = to;
    }
}

/// Characters and UTF-16 code units in UTF-8 bytes (each invalid byte counts as one).
fn count_chars(bytes: &[u8]) -> (u64, u64) {
    if bytes.is_ascii() {
        return (bytes.len() as u64, bytes.len() as u64);
    }
    let chars = bytes.iter().filter(|&&b| !is_continuation(b)).count() as u64;
    let astral = bytes.iter().filter(|&&b| b >= 0xF0).count() as u64;
    (chars, chars + astral)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::Rng;

    fn matcher() -> Matcher {
        Matcher::new(crate::rules::load(&[] as &[&str]).unwrap())
    }

    /// A reader that returns at most `step` bytes per call, to exercise short reads.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
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
    fn utf16_is_recognised_by_its_mark_or_by_nul_interleaved_ascii() {
        let text = utf16le("# settings for the deploy script\r\n");
        assert_eq!(
            utf16_encoding(&[0xFF, 0xFE, b'a', 0], true),
            Some(Utf16::Le)
        );
        assert_eq!(
            utf16_encoding(&[0xFE, 0xFF, 0, b'a'], false),
            Some(Utf16::Be)
        );
        assert_eq!(utf16_encoding(&text, is_binary(&text)), Some(Utf16::Le));
        assert_eq!(
            utf16_encoding(&[0u8; 4096], true),
            None,
            "zeros are not text"
        );
        assert_eq!(
            utf16_encoding(b"plain ascii text, long enough", false),
            None
        );
        let mut noisy = text.clone();
        noisy.extend_from_slice(&[0xC3, 0x28, 0x00, 0x01, 0x02, 0x03].repeat(40));
        assert_eq!(utf16_encoding(&noisy, true), None, "mostly not ASCII units");
    }

    #[test]
    fn the_decoder_joins_units_and_surrogates_split_across_pushes() {
        let text = "a😀b\u{e9}";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(utf16le(text));
        bytes.extend_from_slice(&[0x00, 0xD8]); // a lone high surrogate at the end
        for cut in 0..bytes.len() {
            let mut d = Decoder::new(Utf16::Le);
            let mut out = Vec::new();
            d.push(&bytes[..cut], &mut out);
            d.push(&bytes[cut..], &mut out);
            d.finish(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("{text}\u{fffd}"),
                "cut {cut}"
            );
            assert_eq!(d.bom, 2);
        }
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
