//! Fuzzes the scanning pipeline: any bytes, scanned whole and scanned as a reader cut into
//! small chunks with short reads, must give the same keys at the same places, and every key
//! reported must start with its rule's prefix. Panics (index errors at chunk edges, UTF-16
//! decoding, line counting) are what libFuzzer looks for.
//!
//! The first two bytes choose the chunk size and the read size, so chunk boundaries and
//! read boundaries land everywhere; the rest is the input.

#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nmleaks::finding::{Hit, Origin};
use nmleaks::matcher::Matcher;
use nmleaks::scan::{Chunking, Scanner};

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| Matcher::new(nmleaks::rules::load(&[] as &[&str]).expect("built-in rules")))
}

/// A reader handing out at most `step` bytes per call.
struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(buf.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn places(hits: &[Hit]) -> Vec<(usize, u64, u64, u64, u64, String)> {
    let mut v: Vec<_> = hits
        .iter()
        .map(|h| {
            let l = &h.location;
            (
                h.rule,
                l.offset,
                l.len,
                l.line,
                l.column,
                h.secret.expose().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let (knobs, hay) = data.split_at(data.len().min(2));
    let chunk = 1 + usize::from(knobs.first().copied().unwrap_or(0));
    let step = 1 + usize::from(knobs.get(1).copied().unwrap_or(0));
    // Every key lies inside one run of letters, digits and '_' (NUL bytes skipped, for keys
    // in UTF-16 text): the overlap must exceed it and the 4 bytes the filters read after a
    // key, as `Chunking::overlap` requires. A longer estimate only makes chunks overlap more.
    let mut longest = 0;
    let mut run = 0;
    for &b in hay.iter().filter(|&&b| b != 0) {
        run = if b.is_ascii_alphanumeric() || b == b'_' {
            run + 1
        } else {
            0
        };
        longest = longest.max(run);
    }
    let chunking = Chunking {
        chunk,
        overlap: longest + 5,
    };
    let m = matcher();

    let mut whole = Vec::new();
    Scanner::new(m, false).scan_bytes(hay, &Origin::Stdin, &mut whole);
    let mut chunked = Vec::new();
    let read = Scanner::with_chunking(m, false, chunking)
        .scan_reader(Trickle(hay, step), &Origin::Stdin, &mut chunked)
        .expect("reading a slice cannot fail");
    assert_eq!(read, hay.len() as u64);
    assert_eq!(places(&whole), places(&chunked));
    for h in &whole {
        assert!(h.secret.expose().starts_with(&m.rules()[h.rule].prefix));
    }
});
