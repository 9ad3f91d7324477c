//! The one matcher: prefilter, confirm, filter.
//!
//! 1. **Prefilter.** A literal search over raw bytes finds candidate offsets. When every rule's
//!    prefix shares a stem of three or more bytes (`nm_` for `nm_live_` and `nm_test_`), the
//!    stem is searched as a single pattern with `memchr::memmem` (one pattern keeps the SIMD
//!    fast path; several patterns in aho-corasick run several times slower) and each hit is
//!    checked against the full prefixes. Otherwise aho-corasick searches all prefixes at once.
//! 2. **Left boundary.** A prefix glued to a word on its left (`unm_live_`, `fm_nm_live_`) is
//!    an identifier, unless the glue is the tail of an escape sequence (`\n`, `\u0020`, `%20`,
//!    `%3D`, `\x20`): a key inside a JSON string or URL-encoded text is still a key. The
//!    filters weigh it: it only rejects a body shorter than a full key, since a full random
//!    body is a key whatever stands next to it.
//! 3. **Confirm.** The rule's regex, anchored at the hit, gives the key's extent.
//! 4. **Filter.** [`crate::filter`] drops placeholders, masked values, identifiers and bodies
//!    too regular to be random.
//!
//! It also proves rules: [`check`] runs every rule's `examples` and `negative_examples`
//! through a matcher (`nmleaks rules check`, and a unit test for the built-in rules).
//!
//! **Encoded keys.** Base64 of a prefix, at each of the three byte alignments, and hex of
//! it are literal strings too: [`Matcher::find_hinted`] searches them in the same pass as the
//! prefixes (one aho-corasick automaton; its SIMD literal searcher keeps it near memory speed)
//! and reports each as a [`Hint`], for [`crate::scan`] to decode the text around. Each base64
//! literal is searched in two halves, so that a line break that wrapped the text inside one
//! still leaves the other whole; base64 of base64 has literals of its own. A prefix shorter
//! than [`MIN_ENCODED_PREFIX`] bytes has no encoded literals (they would match everywhere).
//!
//! The matcher works on a byte slice and a range of start offsets within it, so that chunked
//! readers can pass overlap bytes as context without reporting a key twice. It knows nothing
//! about files, lines or output; [`crate::finding`] turns offsets into locations.

use std::ops::Range;

use aho_corasick::{AhoCorasick, Input, MatchKind};
use base64::Engine as _;
use memchr::memmem;

use crate::filter::Rejection;
use crate::rules::Rule;

/// How many bytes before a hit the left-boundary check may look at: the escape itself (up to
/// 6 bytes, `\u0020`) and the run of backslashes before it that decides whether its own
/// backslash is escaped. The check never looks further, so a chunked reader that keeps this
/// many bytes before each chunk judges every hit as a scan of the whole input would.
pub const LOOKBEHIND: usize = 32;

/// A confirmed key: `hay[start..end]`, found by rule number `rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the rule in [`Matcher::rules`].
    pub rule: usize,
    /// Offset of the key's first byte.
    pub start: usize,
    /// Offset one past the key's last byte.
    pub end: usize,
}

/// A shape-valid candidate and the filters' verdict, for `rules check` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The key's extent and rule.
    pub m: Match,
    /// `Ok` when it is reported, else why not.
    pub verdict: Result<(), Rejection>,
}

#[derive(Debug)]
enum Prefilter {
    /// All prefixes share `stem`: one memmem search, full prefixes checked at each hit.
    Stem(Box<memmem::Finder<'static>>),
    /// No usable common stem: aho-corasick over the distinct prefixes.
    Multi(AhoCorasick),
}

/// Prefixes shorter than this get no encoded literals: base64 of a 4-byte prefix at an odd
/// alignment is a 4-character string, which ordinary text holds by chance.
pub const MIN_ENCODED_PREFIX: usize = 5;

/// How the text at a [`Hint`] is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintKind {
    /// Base64: the literal starts `back` characters (line breaks not counted) after the start
    /// of a 4-character group of the encoded text, so decoding may start there.
    Base64 {
        /// Characters between the group's start and the literal.
        back: usize,
    },
    /// Hexadecimal, upper or lower case: the literal starts on a byte's first digit.
    Hex,
}

/// An encoded prefix (or an encoded encoded prefix) at `hay[at..]`: text to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// Offset of the literal's first byte.
    pub at: usize,
    /// How the text is encoded.
    pub kind: HintKind,
}

/// What [`Matcher::find_hinted`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A key in the clear.
    Key(Match),
    /// Encoded text that may hold one.
    Hint(Hint),
}

/// The prefixes and their encoded literals in one automaton.
#[derive(Debug)]
struct Hinted {
    ac: AhoCorasick,
    /// What each pattern is: `None` for a plain prefix (or the prefixes' common stem).
    kinds: Vec<Option<HintKind>>,
}

/// Prefilter plus compiled rules. Cheap to share between threads (`Sync`).
#[derive(Debug)]
pub struct Matcher {
    rules: Vec<Rule>,
    /// Distinct prefixes, each with the rules that use it.
    prefixes: Vec<(Vec<u8>, Vec<usize>)>,
    prefilter: Prefilter,
    /// `None` when no prefix is long enough to have encoded literals.
    hinted: Option<Hinted>,
}

impl Matcher {
    /// Builds the matcher for `rules` (at least one).
    ///
    /// # Panics
    /// If `rules` is empty or aho-corasick cannot be built (rule loading prevents both).
    #[must_use]
    pub fn new(rules: Vec<Rule>) -> Matcher {
        assert!(!rules.is_empty(), "a matcher needs at least one rule");
        let mut prefixes: Vec<(Vec<u8>, Vec<usize>)> = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let p = rule.prefix.as_bytes();
            match prefixes.iter_mut().find(|(q, _)| q == p) {
                Some((_, ids)) => ids.push(i),
                None => prefixes.push((p.to_vec(), vec![i])),
            }
        }
        let stem = prefixes
            .iter()
            .map(|(p, _)| p.as_slice())
            .reduce(common_prefix)
            .unwrap_or_default();
        let hinted = hinted(&prefixes, stem);
        let prefilter = if stem.len() >= 3 {
            Prefilter::Stem(Box::new(memmem::Finder::new(stem).into_owned()))
        } else {
            let ac = AhoCorasick::builder()
                .build(prefixes.iter().map(|(p, _)| p))
                .expect("rule prefixes are short literals");
            Prefilter::Multi(ac)
        };
        Matcher {
            rules,
            prefixes,
            prefilter,
            hinted,
        }
    }

    /// Like [`Matcher::find`], and also reports each encoded prefix as a [`Hint`]. Hints are
    /// reported up to `reach` bytes past `range` (the text they start may encode a key that
    /// starts inside it); keys only inside `range`.
    pub fn find_hinted(
        &self,
        hay: &[u8],
        range: Range<usize>,
        complete: bool,
        reach: usize,
        mut f: impl FnMut(Found),
    ) {
        let Some(hinted) = &self.hinted else {
            return self.find(hay, range, complete, |m| f(Found::Key(m)));
        };
        let start = range.start.min(hay.len());
        let end = range.end.min(hay.len());
        let hint_end = end.saturating_add(reach).min(hay.len());
        if start >= hint_end {
            return;
        }
        // Leftmost-first keeps aho-corasick on its SIMD searcher; searching again from one
        // past each hit finds overlapping occurrences too (hits are rare).
        let mut pos = start;
        while pos < hint_end {
            let input = Input::new(hay).span(pos..hay.len());
            let Some(hit) = hinted.ac.find(input) else {
                break;
            };
            let at = hit.start();
            if at >= hint_end {
                break;
            }
            pos = at + 1;
            match hinted.kinds[hit.pattern().as_usize()] {
                Some(kind) => f(Found::Hint(Hint { at, kind })),
                None if at < end => self.confirm_prefixes(hay, at, complete, &mut |c| {
                    if c.verdict.is_ok() {
                        f(Found::Key(c.m));
                    }
                }),
                None => {}
            }
        }
    }

    /// The rules, in the order match indices refer to.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Calls `f` for every key that starts inside `range`; bytes of `hay` outside `range` are
    /// context only. When `complete` is false, `hay` is a chunk cut short and a key running to
    /// its very end is left for the next chunk (the caller's overlap must exceed any key).
    pub fn find(&self, hay: &[u8], range: Range<usize>, complete: bool, mut f: impl FnMut(Match)) {
        self.candidates(hay, range, complete, |c| {
            if c.verdict.is_ok() {
                f(c.m);
            }
        });
    }

    /// Every key in `hay`, in order.
    #[must_use]
    pub fn find_all(&self, hay: &[u8]) -> Vec<Match> {
        let mut out = Vec::new();
        self.find(hay, 0..hay.len(), true, |m| out.push(m));
        out
    }

    /// Every shape-valid candidate in `hay` with the filters' verdict.
    #[must_use]
    pub fn explain(&self, hay: &[u8]) -> Vec<Candidate> {
        let mut out = Vec::new();
        self.candidates(hay, 0..hay.len(), true, |c| out.push(c));
        out
    }

    fn candidates(
        &self,
        hay: &[u8],
        range: Range<usize>,
        complete: bool,
        mut f: impl FnMut(Candidate),
    ) {
        let start = range.start.min(hay.len());
        let end = range.end.min(hay.len());
        if start >= end {
            return;
        }
        match &self.prefilter {
            Prefilter::Stem(finder) => {
                // Let a hit that starts at `end - 1` still be seen whole.
                let window_end = (end + finder.needle().len() - 1).min(hay.len());
                for hit in finder.find_iter(&hay[start..window_end]) {
                    self.confirm_prefixes(hay, start + hit, complete, &mut f);
                }
            }
            Prefilter::Multi(ac) => {
                let longest = self
                    .prefixes
                    .iter()
                    .map(|(p, _)| p.len())
                    .max()
                    .unwrap_or(1);
                let window_end = (end + longest - 1).min(hay.len());
                for hit in ac.find_overlapping_iter(&hay[start..window_end]) {
                    let at = start + hit.start();
                    if at < end {
                        let ids = &self.prefixes[hit.pattern().as_usize()].1;
                        self.confirm(hay, at, ids, complete, &mut f);
                    }
                }
            }
        }
    }

    /// At a hit of the prefixes' common stem: confirms the rules of each prefix there.
    fn confirm_prefixes(
        &self,
        hay: &[u8],
        at: usize,
        complete: bool,
        f: &mut impl FnMut(Candidate),
    ) {
        for (prefix, ids) in &self.prefixes {
            if hay[at..].starts_with(prefix) {
                self.confirm(hay, at, ids, complete, f);
            }
        }
    }

    fn confirm(
        &self,
        hay: &[u8],
        at: usize,
        ids: &[usize],
        complete: bool,
        f: &mut impl FnMut(Candidate),
    ) {
        let glued = !left_boundary_ok(hay, at);
        for &rule_ix in ids {
            let rule = &self.rules[rule_ix];
            let Some(m) = rule.anchored.find(&hay[at..]) else {
                continue;
            };
            let end = at + m.end();
            if !complete && end == hay.len() {
                continue;
            }
            let body = &hay[(at + rule.prefix.len()).min(end)..end];
            let after = &hay[end..(end + 4).min(hay.len())];
            f(Candidate {
                m: Match {
                    rule: rule_ix,
                    start: at,
                    end,
                },
                verdict: rule.filters.check(body, after, glued),
            });
        }
    }
}

/// The automaton for [`Matcher::find_hinted`]: the plain prefixes (their stem when they share
/// one), then base64 and hex literals of every prefix long enough to have them.
fn hinted(prefixes: &[(Vec<u8>, Vec<usize>)], stem: &[u8]) -> Option<Hinted> {
    let mut patterns: Vec<Vec<u8>> = Vec::new();
    let mut kinds: Vec<Option<HintKind>> = Vec::new();
    if stem.len() >= 3 {
        patterns.push(stem.to_vec());
        kinds.push(None);
    } else {
        for (p, _) in prefixes {
            patterns.push(p.clone());
            kinds.push(None);
        }
    }
    let plain = patterns.len();
    // Literals of the same kind that start alike are searched as their common start (base64
    // of `nm_l` and `nm_t` at the same alignment start `bm1f`): fewer patterns keep the
    // automaton on its fastest (32-pattern) SIMD searcher, and decoding checks the rest.
    let mut add = |pattern: Vec<u8>, kind: HintKind| {
        let shortest = match kind {
            HintKind::Base64 { .. } => 4,
            HintKind::Hex => 6,
        };
        for (i, p) in patterns.iter_mut().enumerate().skip(plain) {
            if kinds[i] != Some(kind) {
                continue;
            }
            let common = p.iter().zip(&pattern).take_while(|(a, b)| a == b).count();
            if common == pattern.len().min(p.len()) || common >= shortest {
                p.truncate(common);
                return;
            }
        }
        patterns.push(pattern);
        kinds.push(Some(kind));
    };
    for (prefix, _) in prefixes {
        if prefix.len() < MIN_ENCODED_PREFIX {
            continue;
        }
        for (back, literal) in base64_literals(prefix) {
            // Halves: a line break inside the literal leaves one of them whole.
            let half = literal.len() / 2;
            if half >= MIN_ENCODED_PREFIX {
                add(literal[..half].to_vec(), HintKind::Base64 { back });
                add(
                    literal[half..].to_vec(),
                    HintKind::Base64 { back: back + half },
                );
            } else {
                add(literal.clone(), HintKind::Base64 { back });
            }
            // Base64 of that base64 (a Docker config inside a Kubernetes secret).
            for (back2, twice) in base64_literals(&literal) {
                if twice.len() >= 8 {
                    add(twice, HintKind::Base64 { back: back2 });
                }
            }
        }
        let hex = crate::finding::hex(prefix);
        add(hex.clone().into_bytes(), HintKind::Hex);
        add(hex.to_ascii_uppercase().into_bytes(), HintKind::Hex);
    }
    if patterns.len() == plain {
        return None;
    }
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostFirst)
        .build(&patterns)
        .expect("literals are short");
    Some(Hinted { ac, kinds })
}

/// The characters of base64 text that `bytes` fix whatever bytes surround them, at each of
/// the three alignments, as `(back, literal)`: `back` characters of the 4-character group the
/// literal starts in come before it. URL-safe twins are added where the alphabets differ.
pub fn base64_literals(bytes: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    for align in 0..3 {
        let mut buf = vec![0u8; align];
        buf.extend_from_slice(bytes);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&buf);
        // Characters whose six bits lie wholly inside `bytes`.
        let first = (8 * align).div_ceil(6);
        let last = 8 * (align + bytes.len()) / 6;
        if last <= first {
            continue;
        }
        let literal = encoded.as_bytes()[first..last].to_vec();
        let url: Vec<u8> = literal
            .iter()
            .map(|&c| match c {
                b'+' => b'-',
                b'/' => b'_',
                c => c,
            })
            .collect();
        if url != literal {
            out.push((first, url));
        }
        out.push((first, literal));
    }
    out
}

fn common_prefix<'a>(a: &'a [u8], b: &[u8]) -> &'a [u8] {
    let n = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    &a[..n]
}

/// Is the byte before `at` a boundary? A word character there makes the prefix part of an
/// identifier, unless that character ends an escape sequence.
fn left_boundary_ok(hay: &[u8], at: usize) -> bool {
    let Some(&prev) = at.checked_sub(1).and_then(|i| hay.get(i)) else {
        return true;
    };
    if !(prev.is_ascii_alphanumeric() || prev == b'_') {
        return true;
    }
    let hex = |i: usize| hay[i].is_ascii_hexdigit();
    // `\n`, `\t`, `\r`: a backslash escape whose backslash is not itself escaped.
    let floor = at.saturating_sub(LOOKBEHIND);
    let escapes = |i: usize| escapes(&hay[floor..=i]);
    if at >= 2 && hay[at - 2] == b'\\' && prev.is_ascii_alphabetic() && escapes(at - 2) {
        return true;
    }
    // `%20`, `%3D`: URL encoding.
    if at >= 3 && hay[at - 3] == b'%' && hex(at - 2) && hex(at - 1) {
        return true;
    }
    // `\x20`.
    if at >= 4 && hay[at - 4] == b'\\' && hay[at - 3] == b'x' && hex(at - 2) && hex(at - 1) {
        return escapes(at - 4);
    }
    // `\u0020`.
    if at >= 6 && hay[at - 6] == b'\\' && hay[at - 5] == b'u' && (at - 4..at).all(hex) {
        return escapes(at - 6);
    }
    false
}

/// Does the backslash that ends `before` start an escape (an odd run of backslashes ends
/// there)? Only the bytes of `before` are counted: the caller bounds it to [`LOOKBEHIND`].
fn escapes(before: &[u8]) -> bool {
    let run = before.iter().rev().take_while(|&&b| b == b'\\').count();
    run % 2 == 1
}

/// Proves each rule's examples against a matcher built from all of `rules`: every example
/// yields a key of its rule covering the whole example key, no negative example yields a key
/// of its rule. Returns one line per failure; messages name rules and example numbers, never
/// the example text (an example is key-shaped).
#[must_use]
pub fn check(rules: &[Rule]) -> Vec<String> {
    let matcher = Matcher::new(rules.to_vec());
    let mut failures = Vec::new();
    for (ix, rule) in rules.iter().enumerate() {
        if rule.examples.is_empty() {
            failures.push(format!(
                "rule {} ({}) has no examples: a rule must prove it finds something",
                rule.id, rule.source
            ));
        }
        for (n, example) in rule.examples.iter().enumerate() {
            let candidates = matcher.explain(example.as_bytes());
            let mine: Vec<_> = candidates.iter().filter(|c| c.m.rule == ix).collect();
            if !mine.iter().any(|c| c.verdict.is_ok()) {
                let why = match mine.first() {
                    Some(c) => match c.verdict {
                        Err(r) => format!("dropped by the {} filter", r.as_str()),
                        Ok(()) => unreachable!("an accepted candidate was found"),
                    },
                    None => "not matched by the prefix and pattern".to_string(),
                };
                failures.push(format!(
                    "rule {} ({}): example {} is not found: {why}",
                    rule.id,
                    rule.source,
                    n + 1
                ));
            }
        }
        for (n, example) in rule.negative_examples.iter().enumerate() {
            let found = matcher
                .find_all(example.as_bytes())
                .iter()
                .any(|m| m.rule == ix);
            if found {
                failures.push(format!(
                    "rule {} ({}): negative example {} is reported as a key",
                    rule.id,
                    rule.source,
                    n + 1
                ));
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::Rng;
    use std::fmt::Write as _;

    fn matcher() -> Matcher {
        Matcher::new(crate::rules::load(&[] as &[&str]).unwrap())
    }

    fn keys(m: &Matcher, hay: &str) -> Vec<String> {
        m.find_all(hay.as_bytes())
            .iter()
            .map(|k| hay[k.start..k.end].to_string())
            .collect()
    }

    /// Base64 of a prefix at every byte alignment, wrapped at any column, and hex in either
    /// case: each gives a hint in the same pass that finds the plain keys.
    #[test]
    fn encoded_prefixes_are_hints_at_every_alignment_and_wrap() {
        use base64::Engine as _;
        let m = matcher();
        let key = Rng::new(30).live_key();
        for lead in ["", "a", "ab", "abc"] {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{lead}{key}"));
            // Any width from the literal's own length up (76: `base64`; 64: PEM, openssl).
            for wrap in [usize::MAX, 76, 64, 33, 10] {
                let text: Vec<u8> = enc
                    .as_bytes()
                    .chunks(wrap.min(enc.len()))
                    .collect::<Vec<_>>()
                    .join(&b"\n"[..]);
                let mut hints = 0;
                m.find_hinted(&text, 0..text.len(), true, 0, |f| {
                    if let Found::Hint(h) = f {
                        assert!(matches!(h.kind, HintKind::Base64 { .. }));
                        hints += 1;
                    }
                });
                assert!(hints > 0, "lead {lead:?}, wrapped at {wrap}");
            }
        }
        for hex in [
            key.bytes().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            }),
            key.bytes().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02X}");
                s
            }),
        ] {
            let mut found = Vec::new();
            m.find_hinted(hex.as_bytes(), 0..hex.len(), true, 0, |f| found.push(f));
            assert!(found.contains(&Found::Hint(Hint {
                at: 0,
                kind: HintKind::Hex
            })));
        }
        // The plain key is found as before, and text without any gives nothing.
        let mut plain = Vec::new();
        m.find_hinted(key.as_bytes(), 0..key.len(), true, 0, |f| plain.push(f));
        assert_eq!(
            plain,
            [Found::Key(Match {
                rule: 0,
                start: 0,
                end: key.len()
            })]
        );
        let mut none = 0;
        let prose = b"An ordinary sentence with no key in it, of some length.";
        m.find_hinted(prose, 0..prose.len(), true, 0, |_| none += 1);
        assert_eq!(none, 0);
    }

    /// aho-corasick's fastest literal searcher takes at most 32 patterns; past that it falls
    /// back to one that scans half as fast (seen: 7 against 11 GB/s), a cost on every byte.
    #[test]
    fn builtin_rules_and_their_encodings_fit_the_fast_searcher() {
        let m = matcher();
        let n = m.hinted.as_ref().map_or(0, |h| h.kinds.len());
        assert!((20..=32).contains(&n), "{n} patterns");
    }

    #[test]
    fn builtin_rules_share_a_stem_and_use_memmem() {
        assert!(matches!(matcher().prefilter, Prefilter::Stem(_)));
    }

    #[test]
    fn left_boundary_rejects_glued_short_bodies_but_accepts_escapes() {
        let m = matcher();
        let key = Rng::new(3).live_key();
        // A 24-character body: long enough to be a key, short of a full one.
        let short = &key[..key.len() - 8];
        assert!(keys(&m, &format!("u{short}")).is_empty());
        assert!(keys(&m, &format!("fm_{short}")).is_empty());
        assert!(
            keys(&m, &format!("\\\\n{short} ")).is_empty(),
            "escaped backslash, then n"
        );
        // Regression: a full random key glued to a word is still a key.
        assert_eq!(keys(&m, &format!("u{key}")), vec![key.clone()]);
        assert_eq!(keys(&m, &format!("fm_{key}")), vec![key.clone()]);
        for ctx in [
            "\\n", "\\t", "\\r", "%20", "%3D", "%3d", "\\x20", "\\u0020", "=", " ", "\"",
        ] {
            assert_eq!(
                keys(&m, &format!("a{ctx}{key}")),
                vec![key.clone()],
                "after {ctx}"
            );
        }
        assert_eq!(keys(&m, &key), vec![key.clone()], "at offset 0");
    }

    #[test]
    fn body_ends_at_first_character_outside_the_set() {
        let m = matcher();
        let key = Rng::new(4).live_key();
        assert_eq!(keys(&m, &format!("{key}_suffix")), vec![key.clone()]);
        assert_eq!(keys(&m, &format!("{key}-x")), vec![key.clone()]);
        assert_eq!(keys(&m, &format!("'{key}'")), vec![key]);
    }

    #[test]
    fn two_keys_on_a_line_and_both_rules() {
        let m = matcher();
        let mut rng = Rng::new(5);
        let (a, b) = (rng.live_key(), rng.test_key());
        let found = m.find_all(format!("{a},{b}").as_bytes());
        assert_eq!(found.len(), 2);
        assert_eq!(m.rules()[found[0].rule].id, "nomotic-live-api-key");
        assert_eq!(m.rules()[found[1].rule].id, "nomotic-test-api-key");
    }

    #[test]
    fn range_limits_starts_and_incomplete_chunks_defer_keys_at_the_cut() {
        let m = matcher();
        let key = Rng::new(6).live_key();
        let hay = format!("xx {key} yy");
        let start = 3;
        let mut got = Vec::new();
        m.find(hay.as_bytes(), 0..start, true, |k| got.push(k));
        assert!(
            got.is_empty(),
            "key starts at the range end: not this range's"
        );
        m.find(hay.as_bytes(), start..start + 1, true, |k| got.push(k));
        assert_eq!(got.len(), 1);
        let cut = &hay.as_bytes()[..start + key.len()];
        got.clear();
        m.find(cut, 0..cut.len(), false, |k| got.push(k));
        assert!(
            got.is_empty(),
            "a key touching the end of an incomplete chunk waits"
        );
    }

    #[test]
    fn aho_corasick_path_is_used_without_a_common_stem() {
        let extra = r#"
[[rules]]
id = "other"
name = "Other"
description = "d"
severity = "low"
security_severity = "3.0"
prefix = "zz_key_"
pattern = "zz_key_[A-Za-z0-9]{24,}"
"#;
        let mut rules = crate::rules::parse(crate::rules::BUILTIN, "builtin").unwrap();
        rules.extend(crate::rules::parse(extra, "extra").unwrap());
        let m = Matcher::new(rules);
        assert!(matches!(m.prefilter, Prefilter::Multi(_)));
        let mut rng = Rng::new(7);
        let (a, b) = (rng.live_key(), format!("zz_key_{}", rng.base62(30)));
        assert_eq!(keys(&m, &format!("{a} {b}")), vec![a, b]);
    }

    #[test]
    fn builtin_rules_prove_their_examples() {
        let rules = crate::rules::load(&[] as &[&str]).unwrap();
        assert!(
            rules
                .iter()
                .all(|r| !r.examples.is_empty() && !r.negative_examples.is_empty())
        );
        assert_eq!(check(&rules), Vec::<String>::new());
    }

    #[test]
    fn check_reports_a_failing_example_without_printing_it() {
        let text = r#"
[[rules]]
id = "weak"
name = "Weak"
description = "d"
severity = "low"
security_severity = "2.0"
prefix = "wk_"
pattern = "wk_[a-z]{4,}"
examples = ["wk_aaaaaaaaaaaa"]
negative_examples = ["wk_qzmvkrtpxe"]
[rules.filters]
min_body_len = 4
reject_repetitive = true
"#;
        let rules = crate::rules::parse(text, "weak.toml").unwrap();
        let failures = check(&rules);
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(failures[0].contains("example 1 is not found"));
        assert!(failures[0].contains("repetitive filter"), "{failures:?}");
        assert!(failures[1].contains("negative example 1 is reported"));
        assert!(
            failures
                .iter()
                .all(|f| !f.contains("aaaa") && !f.contains("qzmv"))
        );
    }
}
