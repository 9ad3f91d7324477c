//! Where a key is: line and column counting over a stream of bytes, advanced forward only.
//!
//! Lines are 1-based; columns count characters and UTF-16 code units (SARIF's default), or
//! bytes in binary input. For text decoded from UTF-16 the tracker also counts code units,
//! which map an offset in the decoded text back to the blob's own bytes.

use memchr::{memchr, memrchr};

/// Line and column at an absolute offset, advanced forward only.
///
/// In binary input a "line" is what lies between two `\n` bytes and columns count bytes:
/// characters mean nothing there, and counting them cost more than the search itself (a
/// 5 GB file of zeros is one line).
#[derive(Debug, Clone)]
pub(crate) struct LineTracker {
    offset: u64,
    /// The 1-based line at `offset`.
    pub(crate) line: u64,
    /// Characters (bytes, in binary input) between the line start and `offset`.
    pub(crate) chars: u64,
    /// UTF-16 code units (bytes, in binary input) between the line start and `offset`.
    pub(crate) utf16: u64,
    /// Count bytes, not characters.
    pub(crate) binary: bool,
    /// For text decoded from UTF-16: UTF-16 code units between the start and `offset`, which
    /// give the offset in the blob itself (`bom + 2 * units`).
    pub(crate) units: Option<u64>,
    /// Bytes of byte-order mark before the decoded text.
    pub(crate) bom: u64,
}

impl LineTracker {
    pub(crate) fn new(binary: bool) -> LineTracker {
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
    pub(crate) fn decoded(bom: u64) -> LineTracker {
        LineTracker {
            units: Some(0),
            bom,
            ..LineTracker::new(false)
        }
    }

    /// Moves to absolute offset `to`; `hay` starts at absolute offset `base` and must hold
    /// every byte from the current offset to `to`.
    pub(crate) fn advance(&mut self, hay: &[u8], base: u64, to: u64) {
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
pub(crate) fn count_chars(bytes: &[u8]) -> (u64, u64) {
    if bytes.is_ascii() {
        return (bytes.len() as u64, bytes.len() as u64);
    }
    let chars = bytes.iter().filter(|&&b| !is_continuation(b)).count() as u64;
    let astral = bytes.iter().filter(|&&b| b >= 0xF0).count() as u64;
    (chars, chars + astral)
}

/// The line holding `hay[start..end]`, without its newline, as offsets into `hay`.
pub(crate) fn line_bounds(hay: &[u8], start: usize, end: usize) -> (usize, usize) {
    let line_start = memrchr(b'\n', &hay[..start]).map_or(0, |i| i + 1);
    let line_end = memchr(b'\n', &hay[end..]).map_or(hay.len(), |i| end + i);
    (line_start, line_end)
}

pub(crate) fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}
