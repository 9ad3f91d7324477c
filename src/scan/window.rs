//! The sliding window over a stream of bytes: the one chunk-and-overlap loop.
//!
//! Bytes are appended at the window's end (read into its spare room, or copied in); each time
//! it is full, the bytes whose keys were not reported yet are handed to a scan, then all but
//! the last [`Chunking::overlap`] bytes and the [`LOOKBEHIND`] before them are dropped, so that
//! a key straddling the cut is seen whole in the next window and reported exactly once, and
//! the left-boundary check sees the bytes before each key as a scan of the whole stream would.
//! Both the scan of a reader's raw bytes and the scan of decoded text run on it; it knows
//! nothing about keys, lines or files.

use std::ops::Range;

use super::Chunking;
use crate::matcher::LOOKBEHIND;

/// What one scan of a window sees.
#[derive(Debug)]
pub(crate) struct View<'a> {
    /// The window's bytes.
    pub hay: &'a [u8],
    /// Where keys may start that were not reported yet; the rest of `hay` is context.
    pub range: Range<usize>,
    /// The stream ends in this window: a key may run to its very end.
    pub complete: bool,
    /// The absolute offset of `hay[0]` in the stream.
    pub base: u64,
}

/// A window of at most `chunk + overlap + LOOKBEHIND` bytes (the first may be larger).
#[derive(Debug)]
pub(crate) struct Window {
    buf: Vec<u8>,
    len: usize,
    report_from: usize,
    base: u64,
    full: usize,
    overlap: usize,
    slid: bool,
}

impl Window {
    /// A window cut as `chunking` says, whose first fill holds at least `first` bytes (so a
    /// probe of the stream's start sees as much whatever the chunk size), reusing `buf`'s
    /// allocation.
    pub fn new(chunking: Chunking, first: usize, mut buf: Vec<u8>) -> Window {
        let full = chunking.chunk + chunking.overlap + LOOKBEHIND;
        // Reused as it is: only the bytes a read fills are ever looked at, so a buffer of the
        // right size is not cleared again (zeroing 4 MiB per file cost more than scanning a
        // tree of small files).
        let size = full.max(first);
        if buf.len() != size {
            buf.resize(size, 0);
        }
        Window {
            buf,
            len: 0,
            report_from: 0,
            base: 0,
            full,
            overlap: chunking.overlap,
            slid: false,
        }
    }

    /// Gives the allocation back, for the next stream.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    fn limit(&self) -> usize {
        if self.slid { self.full } else { self.buf.len() }
    }

    /// The room left before the window is full: read into it, then [`Window::filled`].
    pub fn spare(&mut self) -> &mut [u8] {
        let limit = self.limit();
        &mut self.buf[self.len..limit]
    }

    /// Takes `n` bytes written into [`Window::spare`].
    pub fn filled(&mut self, n: usize) {
        self.len += n;
    }

    /// The bytes in the window.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Whether the window has no spare room: [`Window::slide`] it.
    pub fn is_full(&self) -> bool {
        self.len == self.limit()
    }

    /// Copies `bytes` in, sliding (and scanning) each time the window fills.
    pub fn extend(&mut self, mut bytes: &[u8], mut scan: impl FnMut(View<'_>)) {
        while !bytes.is_empty() {
            let room = self.spare();
            let take = room.len().min(bytes.len());
            room[..take].copy_from_slice(&bytes[..take]);
            self.filled(take);
            bytes = &bytes[take..];
            if self.is_full() {
                self.slide(&mut scan);
            }
        }
    }

    /// Scans a full window up to its overlap (keys running into the overlap are left for the
    /// next window), then keeps the overlap and the lookbehind before it.
    pub fn slide(&mut self, scan: impl FnOnce(View<'_>)) {
        debug_assert!(self.is_full(), "only a full window slides");
        let commit = self.len - self.overlap;
        scan(View {
            hay: &self.buf[..self.len],
            range: self.report_from..commit,
            complete: false,
            base: self.base,
        });
        let keep = commit - LOOKBEHIND;
        self.buf.copy_within(keep..self.len, 0);
        self.len -= keep;
        self.report_from = LOOKBEHIND;
        self.base += keep as u64;
        self.slid = true;
    }

    /// Scans what is left at the end of the stream, to its very end.
    pub fn finish(&mut self, scan: impl FnOnce(View<'_>)) {
        scan(View {
            hay: &self.buf[..self.len],
            range: self.report_from..self.len,
            complete: true,
            base: self.base,
        });
    }

    /// The absolute offset one past the window's last byte: the bytes seen so far.
    pub fn end(&self) -> u64 {
        self.base + self.len as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: every new window zeroed its 4 MiB buffer, which made a tree of small files
    /// cost 4 MiB of memset each (a 200-file scan took 2.9 s in a debug build, 0.06 s without).
    #[test]
    fn a_reused_buffer_of_the_right_size_is_not_cleared_again() {
        let chunking = Chunking {
            chunk: 100,
            overlap: 64,
        };
        let w = Window::new(chunking, 0, vec![7u8; 100 + 64 + LOOKBEHIND]);
        let buf = w.into_buffer();
        assert!(buf.iter().all(|&b| b == 7), "the buffer was written over");
        assert_eq!(
            Window::new(chunking, 0, Vec::new()).into_buffer().len(),
            196
        );
    }

    /// Every byte offset of a stream is in exactly one scanned range, whatever the pieces it
    /// arrives in, and each range's window holds the lookbehind and overlap around it.
    #[test]
    fn every_offset_is_reported_once_with_its_context() {
        let stream: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        for (chunk, overlap, piece) in [(1, 40, 7), (100, 64, 1), (333, 64, 4999), (4096, 100, 10)]
        {
            let mut w = Window::new(Chunking { chunk, overlap }, 0, Vec::new());
            let mut seen = Vec::new();
            let mut check = |v: View<'_>| {
                for i in v.range.clone() {
                    let abs = v.base + i as u64;
                    assert_eq!(u64::from(v.hay[i]), abs % 251);
                    seen.push(abs);
                }
                if !v.complete {
                    assert!(v.hay.len() - v.range.end >= overlap);
                }
                assert!(v.base == 0 || v.range.start >= LOOKBEHIND);
            };
            for p in stream.chunks(piece) {
                w.extend(p, &mut check);
            }
            w.finish(&mut check);
            assert_eq!(seen, (0..stream.len() as u64).collect::<Vec<_>>());
            assert_eq!(w.end(), stream.len() as u64);
        }
    }
}
