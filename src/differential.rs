//! Differential property tests: the scanning pipeline against a slow reference.
//!
//! The pipeline is a literal prefilter, a regex anchored at each hit, a left-boundary rule
//! and filters, run over chunks that overlap, on worker threads. The reference here is
//! written independently and plainly: for each rule, its pattern as an ordinary unanchored
//! `regex::bytes::Regex` over the whole input, tried at every start (so overlapping
//! candidates are seen), the left-boundary rule written as one regex over the bytes before
//! the match, and the rule's filters judging the same body and following bytes. Filters are
//! pure functions with their own unit tests; what is proven here is the plumbing around them.
//!
//! Inputs are random bytes and text with keys, decoys (placeholders, masked values, glued
//! prefixes, short bodies) and escape sequences (`\n`, `\\n`, runs of backslashes, `%20`,
//! `\x20`, `\u0020`) planted at random places; they are scanned whole (`scan_bytes`), as a
//! reader with random short reads and random chunk sizes (`scan_reader`), and as files walked
//! by 1 to 4 threads. Every way must report exactly the reference's keys, with the same lines
//! and columns.

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::OnceLock;

use proptest::prelude::*;
use regex::bytes::{Regex, RegexBuilder};

use crate::finding::{Hit, Origin};
use crate::matcher::{LOOKBEHIND, Matcher};
use crate::scan::{Chunking, Scanner, is_binary};

/// One reported key: rule, byte offset, length, line, column, UTF-16 column.
type Found = (usize, u64, u64, u64, u64, u64);

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| Matcher::new(crate::rules::load(&[] as &[&str]).unwrap()))
}

/// Each rule's pattern compiled as a plain, unanchored regex.
fn plain_regexes() -> &'static [Regex] {
    static R: OnceLock<Vec<Regex>> = OnceLock::new();
    R.get_or_init(|| {
        matcher()
            .rules()
            .iter()
            .map(|r| {
                RegexBuilder::new(&r.pattern)
                    .unicode(false)
                    .build()
                    .unwrap()
            })
            .collect()
    })
}

/// The left-boundary rule: the byte before the prefix is not a word byte, or it ends an escape
/// (`\n`, `\x20`, `\u0020` whose backslash is not itself escaped, or `%20`). Backslashes are
/// counted back over at most [`LOOKBEHIND`] bytes: the rule's reach.
fn boundary_ok(hay: &[u8], at: usize) -> bool {
    static ESCAPE: OnceLock<Regex> = OnceLock::new();
    let escape = ESCAPE.get_or_init(|| {
        Regex::new(r"(?-u)(?:(?:\A|[^\\])(?:\\\\)*\\(?:[A-Za-z]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})|%[0-9A-Fa-f]{2})\z")
            .unwrap()
    });
    let Some(&prev) = at.checked_sub(1).map(|i| &hay[i]) else {
        return true;
    };
    !(prev.is_ascii_alphanumeric() || prev == b'_')
        || escape.is_match(&hay[at.saturating_sub(LOOKBEHIND)..at])
}

/// Line, column and UTF-16 column of offset `at`: in text, columns count characters (a byte
/// that does not continue a UTF-8 sequence starts one; a 4-byte sequence is two UTF-16
/// units); in binary input they count bytes.
#[allow(clippy::naive_bytecount)] // the reference stays plain on purpose
fn position(hay: &[u8], at: usize, binary: bool) -> (u64, u64, u64) {
    let before = &hay[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let tail = &before[start..];
    if binary {
        return (line, tail.len() as u64 + 1, tail.len() as u64 + 1);
    }
    let chars = tail.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64;
    let astral = tail.iter().filter(|&&b| b >= 0xF0).count() as u64;
    (line, chars + 1, chars + astral + 1)
}

/// Every key in `hay`, by the slow way.
fn reference(hay: &[u8]) -> BTreeSet<Found> {
    let binary = is_binary(hay);
    let mut out = BTreeSet::new();
    for (ix, (rule, re)) in matcher().rules().iter().zip(plain_regexes()).enumerate() {
        let mut from = 0;
        while let Some(m) = re.find_at(hay, from) {
            from = m.start() + 1;
            let glued = !boundary_ok(hay, m.start());
            let body = &hay[m.start() + rule.prefix.len()..m.end()];
            let after = &hay[m.end()..(m.end() + 4).min(hay.len())];
            if rule.filters.check(body, after, glued).is_ok() {
                let (line, col, col16) = position(hay, m.start(), binary);
                let len = (m.end() - m.start()) as u64;
                out.insert((ix, m.start() as u64, len, line, col, col16));
            }
        }
    }
    out
}

/// The longest run the rules' patterns match anywhere (accepted or not): the overlap must
/// exceed it, as [`Chunking::overlap`] documents.
fn longest_candidate(hay: &[u8]) -> usize {
    // Overlapping, as the reference searches: a candidate that starts inside another (the
    // `nm` that ends one body and begins the next prefix) counts too. `find_iter` skipped it,
    // and the chunk overlap came out shorter than a key the reference finds (the property
    // then failed on the test's own arithmetic, not the scanner's).
    let mut longest = 0;
    for re in plain_regexes() {
        let mut from = 0;
        while let Some(m) = re.find_at(hay, from) {
            longest = longest.max(m.len());
            from = m.start() + 1;
        }
    }
    longest
}

fn found(hits: &[Hit]) -> BTreeSet<Found> {
    hits.iter()
        .map(|h| {
            let l = &h.location;
            (h.rule, l.offset, l.len, l.line, l.column, l.column_utf16)
        })
        .collect()
}

/// A reader that hands out at most the next of `steps` bytes per call, cycling.
struct Jerky<'a> {
    data: &'a [u8],
    steps: Vec<usize>,
    n: usize,
}

impl Read for Jerky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let step = self.steps[self.n % self.steps.len()];
        self.n += 1;
        let k = self.data.len().min(buf.len()).min(step);
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

/// One piece of an input.
fn segment() -> impl Strategy<Value = Vec<u8>> {
    let body = "[A-Za-z0-9]{16,40}";
    let key = (prop_oneof![Just("nm_live_"), Just("nm_test_")], body)
        .prop_map(|(p, b)| format!("{p}{b}").into_bytes());
    let escape = prop_oneof![
        Just("\\n"),
        Just("\\\\n"),
        Just("\\\\\\n"),
        Just("\\\\\\\\\\\\\\\\n"),
        Just("%20"),
        Just("%3D"),
        Just("%zz"),
        Just("\\x20"),
        Just("\\\\x20"),
        Just("\\u0020"),
        Just("\\\\u0020"),
        Just("\\u00"),
        Just("u"),
        Just("fm_"),
        Just("_"),
    ];
    let decoy = prop_oneof![
        Just("nm_live_your_key_here".to_string()),
        Just("nm_live_YOURKEYHEREYOURKEYHEREYOURKEYHERE".to_string()),
        Just("nm_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_string()),
        Just("nm_live_abcdefghijklmnopqrstuvwxyzABCDEF".to_string()),
        Just("nm_live_".to_string()),
        Just("nm_".to_string()),
        body.prop_map(|b| format!("nm_live_{b}****")),
        body.prop_map(|b| format!("nm_live_{b}…")),
        body.prop_map(|b| format!("unm_live_{b}")),
    ];
    prop_oneof![
        3 => key.clone(),
        2 => (escape, key).prop_map(|(e, k)| [e.as_bytes(), &k].concat()),
        2 => decoy.prop_map(String::into_bytes),
        2 => proptest::collection::vec(any::<u8>(), 0..24),
        3 => "[a-z0-9 =:'\"\\n\\r\\t{}é😀]{0,24}".prop_map(String::into_bytes),
    ]
}

/// An input: segments joined, sometimes with a NUL up front (binary), sometimes after 8 KiB
/// of plain text (past the binary probe, which the first chunk always holds whole, so that
/// the chunks after it are small ones).
fn input() -> impl Strategy<Value = Vec<u8>> {
    let pad = prop_oneof![3 => Just(0usize), 1 => 8000usize..8400];
    (
        proptest::collection::vec(segment(), 0..40),
        any::<bool>(),
        pad,
    )
        .prop_map(|(parts, binary, pad)| {
            let mut out = if binary { vec![0u8] } else { Vec::new() };
            out.extend(b"pad text\n".iter().cycle().take(pad));
            out.extend(parts.concat());
            // A byte-order mark would make the blob UTF-16 text: the property below.
            if out.starts_with(&[0xFF, 0xFE]) || out.starts_with(&[0xFE, 0xFF]) {
                out.insert(0, b' ');
            }
            out
        })
}

/// Bytes that may stand next to a key: anything, including masking characters, Markdown,
/// ellipses, word characters glued to the prefix, and other keys' prefixes.
fn surrounding() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"**".to_vec()),
        Just(b"...".to_vec()),
        Just("…".as_bytes().to_vec()),
        Just("•••".as_bytes().to_vec()),
        Just(b"xxxxxx".to_vec()),
        Just(b"nm_live_".to_vec()),
        Just(b"u".to_vec()),
        Just(b"_".to_vec()),
        "[A-Za-z0-9_]{0,6}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..12),
    ];
    proptest::collection::vec(piece, 0..4).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A random 32-character body is a key whatever surrounds it: the filters judge masking,
    /// truncation and glued prefixes on the body, never on the neighbours alone.
    #[test]
    fn random_keys_with_random_surroundings_are_always_found(
        before in surrounding(),
        after in surrounding(),
        seed in any::<u64>(),
        live in any::<bool>(),
    ) {
        let mut rng = crate::testkeys::Rng::new(seed);
        let key = if live { rng.live_key() } else { rng.test_key() };
        // Word characters right after the key would make a longer body, a candidate of its
        // own (`nm_live_…xxxxxx` is a masked display): keep the key's own body whole.
        let sep: &[u8] = if after.first().is_some_and(u8::is_ascii_alphanumeric) { b"-" } else { b"" };
        let hay = [before.as_slice(), key.as_bytes(), sep, after.as_slice()].concat();
        let at = before.len();
        let found = matcher().find_all(&hay);
        prop_assert!(
            found.iter().any(|m| m.start == at && m.end == at + key.len()),
            "key not found in {:?}", String::from_utf8_lossy(&hay)
        );
    }

    #[test]
    fn scan_bytes_finds_what_the_reference_finds(hay in input()) {
        let mut hits = Vec::new();
        Scanner::new(matcher(), false).scan_bytes(&hay, &Origin::Stdin, &mut hits);
        prop_assert_eq!(found(&hits), reference(&hay));
    }

    #[test]
    fn chunked_reads_find_what_the_reference_finds(
        hay in input(),
        chunk in 1usize..200,
        extra in 0usize..64,
        steps in proptest::collection::vec(1usize..50, 1..4),
    ) {
        let chunking = Chunking { chunk, overlap: longest_candidate(&hay) + 5 + extra };
        let mut hits = Vec::new();
        let reader = Jerky { data: &hay, steps, n: 0 };
        let n = Scanner::with_chunking(matcher(), false, chunking)
            .scan_reader(reader, &Origin::Stdin, &mut hits)
            .unwrap();
        prop_assert_eq!(n, hay.len() as u64);
        prop_assert_eq!(found(&hits), reference(&hay));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn walked_files_on_any_number_of_threads_find_what_the_reference_finds(
        files in proptest::collection::vec(input(), 1..6),
        threads in 1usize..5,
        chunk in 1usize..200,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let overlap = files.iter().map(|f| longest_candidate(f)).max().unwrap_or(0) + 5;
        for (i, f) in files.iter().enumerate() {
            std::fs::write(dir.path().join(format!("f{i}")), f).unwrap();
        }
        let opts = crate::source::worktree::WalkOptions {
            no_ignore: true,
            follow: false,
            threads,
            show_secrets: false,
            decoding: crate::scan::Decoding::default(),
            strip_dot: false,
            chunking: Chunking { chunk, overlap },
            verbose: false,
            repo_ignore_file: true,
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let stats = crate::source::Stats::default();
        crate::source::worktree::walk(&[dir.path().to_path_buf()], &opts, matcher(), &stats, &tx);
        drop(tx);
        let mut by_file = vec![Vec::new(); files.len()];
        for event in rx {
            match event {
                crate::source::Event::Hits(hits) => {
                    for h in hits {
                        let Origin::File(p) = &h.location.origin else { unreachable!() };
                        let name = p.file_name().unwrap().to_string_lossy();
                        let i: usize = name[1..].parse().unwrap();
                        by_file[i].push(h);
                    }
                }
                crate::source::Event::Problem(p) => prop_assert!(false, "{}", p.message),
                crate::source::Event::Provenance(..) | crate::source::Event::Dropped(_) => {
                    prop_assert!(false, "a walk has no history and drops no key");
                }
            }
        }
        for (f, hits) in files.iter().zip(&by_file) {
            prop_assert_eq!(found(hits), reference(f));
        }
    }

    #[test]
    fn keys_in_utf16_text_are_found_where_the_decoded_reference_finds_them(
        parts in proptest::collection::vec(
            prop_oneof![
                "[a-z0-9 =:\\n\\r\\t'é日😀]{0,20}",
                ("(\\\\n|%20|u)?", "[A-Za-z0-9]{20,40}").prop_map(|(e, b)| format!("{e}nm_live_{b}")),
            ],
            0..20,
        ),
        bom in any::<bool>(),
        chunk in 1usize..120,
        step in 1usize..40,
    ) {
        let text: String = parts.concat();
        let mut bytes: Vec<u8> = if bom { vec![0xFF, 0xFE] } else { Vec::new() };
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        // Without a mark the text must look like UTF-16: mostly ASCII (decided once, here).
        let is_utf16 = crate::scan::utf16_encoding(&bytes, is_binary(&bytes)).is_some();
        prop_assume!(is_utf16);
        let want: BTreeSet<Found> = reference(text.as_bytes())
            .into_iter()
            .map(|(rule, at, len, line, col, col16)| {
                let units = text[..at as usize].encode_utf16().count() as u64;
                let bom_len = if bom { 2 } else { 0 };
                (rule, bom_len + 2 * units, 2 * len, line, col, col16)
            })
            .collect();
        let chunking = Chunking { chunk, overlap: 2 * longest_candidate(text.as_bytes()) + 10 };
        let mut hits = Vec::new();
        let reader = Jerky { data: &bytes, steps: vec![step], n: 0 };
        Scanner::with_chunking(matcher(), false, chunking)
            .scan_reader(reader, &Origin::Stdin, &mut hits)
            .unwrap();
        // The raw pass finds nothing in UTF-16 text: every hit is the decoded text's.
        prop_assert_eq!(found(&hits), want.clone());
        let mut whole = Vec::new();
        Scanner::new(matcher(), false).scan_bytes(&bytes, &Origin::Stdin, &mut whole);
        prop_assert_eq!(found(&whole), want);
    }
}
