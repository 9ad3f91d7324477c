//! Filters that tell a key from something shaped like one.
//!
//! The matcher hands every regex-confirmed candidate here with its body (the part after the
//! prefix) and the bytes that follow it. This module owns the judgement "placeholder, masked
//! value, identifier or too regular to be random": it knows nothing about files, rules files or
//! output. Each check is a pure function over bytes so the reasons can be unit tested and shown
//! by `nmleaks rules check`.

use serde::Deserialize;

/// Per-rule settings, read from the `[rules.filters]` table of a rules file.
///
/// A setting a rules file leaves out is off: a rule finds what its pattern matches, and its
/// author turns on the filters it wants. The built-in Nomotic rules spell out theirs
/// ([`FilterSettings::nomotic`]); a `--rules` file never inherits them, so a rule for short
/// tokens finds them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSettings {
    /// Bodies shorter than this are placeholders (default 0: no minimum).
    #[serde(default)]
    pub min_body_len: usize,
    /// Shannon entropy (bits per character) below which a body is too regular to be random
    /// (default 0: off).
    #[serde(default)]
    pub min_entropy: f64,
    /// Case-insensitive words that mark a template or documentation value (default none).
    #[serde(default)]
    pub placeholder_words: Vec<String>,
    /// Reject one repeated character or a short repeated cycle (default off).
    #[serde(default)]
    pub reject_repetitive: bool,
    /// Reject runs of consecutive characters (`0123…`, `abcd…`) (default off).
    #[serde(default)]
    pub reject_sequential: bool,
    /// Reject letter-only bodies shaped like words (`ProductionApiKey…`) (default off).
    #[serde(default)]
    pub reject_identifiers: bool,
    /// Reject masked displays (`…****`, `…••••`, `…...`, `xxxxxx`) (default off).
    #[serde(default)]
    pub reject_masked: bool,
    /// A body at least this long that passes the checks on the body itself is a key whatever
    /// surrounds it: a masked-looking tail (`**` of Markdown bold, `...` after a logged key)
    /// and a prefix glued to a word on its left only reject shorter bodies, which are
    /// truncated displays and identifiers far more often than keys (default 0: surroundings
    /// never reject).
    #[serde(default)]
    pub full_body_len: usize,
}

impl Default for FilterSettings {
    /// Every filter off: what a rules file gets for the settings it leaves out.
    fn default() -> Self {
        FilterSettings {
            min_body_len: 0,
            min_entropy: 0.0,
            placeholder_words: Vec::new(),
            reject_repetitive: false,
            reject_sequential: false,
            reject_identifiers: false,
            reject_masked: false,
            full_body_len: 0,
        }
    }
}

impl FilterSettings {
    /// What the built-in Nomotic rules set (`rules/nomotic.toml` spells it out): bodies of 24
    /// characters or more, 2.5 bits of entropy per character, every shape check on, full
    /// bodies of 32.
    #[must_use]
    pub fn nomotic() -> FilterSettings {
        FilterSettings {
            min_body_len: 24,
            min_entropy: 2.5,
            placeholder_words: Vec::new(),
            reject_repetitive: true,
            reject_sequential: true,
            reject_identifiers: true,
            reject_masked: true,
            full_body_len: 32,
        }
    }
}

/// Why a candidate is not a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The body is shorter than the rule's minimum.
    TooShort,
    /// The body holds a placeholder word.
    Placeholder,
    /// The value is shown masked (`****`, `••••`, `xxxxxx`, a trailing ellipsis).
    Masked,
    /// The body's characters are too evenly repeated to be random.
    LowEntropy,
    /// One character repeated or a short cycle.
    Repetitive,
    /// A run of consecutive characters.
    Sequential,
    /// A letter-only body shaped like words.
    Identifier,
    /// A short body whose prefix is glued to a word on its left (`unm_live_…`).
    Glued,
}

impl Rejection {
    /// A short lower-case name for messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::TooShort => "too short",
            Rejection::Placeholder => "placeholder",
            Rejection::Masked => "masked",
            Rejection::LowEntropy => "low entropy",
            Rejection::Repetitive => "repetitive",
            Rejection::Sequential => "sequential",
            Rejection::Identifier => "identifier",
            Rejection::Glued => "glued prefix",
        }
    }
}

/// A filter set with its placeholder words lower-cased once.
#[derive(Debug, Clone)]
pub struct Filters {
    settings: FilterSettings,
    words: Vec<Vec<u8>>,
}

impl Filters {
    /// Prepares `settings` for repeated use.
    #[must_use]
    pub fn new(settings: FilterSettings) -> Filters {
        let words = settings
            .placeholder_words
            .iter()
            .filter(|w| !w.is_empty())
            .map(|w| w.to_ascii_lowercase().into_bytes())
            .collect();
        Filters { settings, words }
    }

    /// Judges a candidate: `body` is the match after the literal prefix, `after` the bytes
    /// that follow the match in the input (possibly empty), `glued` whether the prefix is
    /// glued to a word on its left. The neighbours (`after`, `glued`) only count against a
    /// body shorter than `full_body_len`: a full random body is a key whatever surrounds it.
    ///
    /// # Errors
    /// The first reason the candidate is not a key.
    pub fn check(&self, body: &[u8], after: &[u8], glued: bool) -> Result<(), Rejection> {
        let s = &self.settings;
        if body.len() < s.min_body_len {
            return Err(Rejection::TooShort);
        }
        let short = body.len() < s.full_body_len;
        if glued && short {
            return Err(Rejection::Glued);
        }
        if s.reject_masked && ((short && is_masked_tail(after)) || has_mask_run(body)) {
            return Err(Rejection::Masked);
        }
        if self.words.iter().any(|w| contains_ignore_case(body, w)) {
            return Err(Rejection::Placeholder);
        }
        if s.reject_repetitive && is_repetitive(body) {
            return Err(Rejection::Repetitive);
        }
        if s.reject_sequential && is_sequential(body) {
            return Err(Rejection::Sequential);
        }
        if s.reject_identifiers && is_identifier(body) {
            return Err(Rejection::Identifier);
        }
        if shannon_entropy(body) < s.min_entropy {
            return Err(Rejection::LowEntropy);
        }
        Ok(())
    }
}

fn contains_ignore_case(hay: &[u8], needle_lower: &[u8]) -> bool {
    hay.windows(needle_lower.len())
        .any(|w| w.eq_ignore_ascii_case(needle_lower))
}

/// A masked display continues after the visible characters: `****`, `••••`, `…`, `...`.
fn is_masked_tail(after: &[u8]) -> bool {
    after.starts_with(b"**")
        || after.starts_with("•".as_bytes())
        || after.starts_with("…".as_bytes())
        || after.starts_with(b"...")
}

/// Six or more of the same masking character in a row (`xxxxxx`, `XXXXXX`, `000000`).
fn has_mask_run(body: &[u8]) -> bool {
    body.chunk_by(|a, b| a == b)
        .any(|run| run.len() >= 6 && matches!(run[0], b'x' | b'X' | b'0'))
}

/// One character repeated throughout, or a cycle of period at most half the length.
#[must_use]
pub fn is_repetitive(body: &[u8]) -> bool {
    if body.is_empty() {
        return false;
    }
    if body.chunk_by(|a, b| a == b).any(|run| run.len() >= 8) {
        return true;
    }
    (1..=body.len() / 2).any(|p| body.iter().zip(&body[p..]).all(|(a, b)| a == b))
}

/// Runs of consecutive characters: half or more of the neighbouring pairs step by one
/// (`0123456789abcdef…` counts the `9`→`a` jump as a break), or a run of ten.
#[must_use]
pub fn is_sequential(body: &[u8]) -> bool {
    if body.len() < 2 {
        return false;
    }
    let steps = body
        .windows(2)
        .filter(|w| w[1].wrapping_sub(w[0]) == 1 || w[0].wrapping_sub(w[1]) == 1)
        .count();
    if steps * 2 >= body.len() - 1 {
        return true;
    }
    let mut run = 1;
    for w in body.windows(2) {
        if w[1].wrapping_sub(w[0]) == 1 {
            run += 1;
            if run >= 10 {
                return true;
            }
        } else {
            run = 1;
        }
    }
    false
}

/// A letter-only body made of words: all lower case (`thisisnotakey…`), or capitalised words
/// of three letters or more (`ProductionApiKey…`). Random base62 is almost never letter-only
/// *and* free of short runs between capitals.
#[must_use]
pub fn is_identifier(body: &[u8]) -> bool {
    if !body.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    // Split before each capital: every word must be at least three letters long.
    let mut word_len = 0;
    for (i, &b) in body.iter().enumerate() {
        if b.is_ascii_uppercase() && i > 0 {
            if word_len < 3 {
                return false;
            }
            word_len = 0;
        }
        word_len += 1;
    }
    word_len >= 3
}

/// Shannon entropy of the byte distribution, in bits per byte.
#[must_use]
pub fn shannon_entropy(body: &[u8]) -> f64 {
    if body.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in body {
        counts[b as usize] += 1;
    }
    #[allow(clippy::cast_precision_loss)] // lengths here are far below 2^52
    let n = body.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::Rng;

    fn filters() -> Filters {
        Filters::new(FilterSettings {
            placeholder_words: vec!["yourkey".into(), "example".into(), "changeme".into()],
            ..FilterSettings::nomotic()
        })
    }

    #[test]
    fn random_base62_and_hex_bodies_are_keys() {
        let f = filters();
        let mut rng = Rng::new(1);
        for _ in 0..20_000 {
            let b = rng.base62(32);
            assert_eq!(
                f.check(b.as_bytes(), b"", false),
                Ok(()),
                "base62 body rejected"
            );
            let h = rng.hex(32);
            assert_eq!(
                f.check(h.as_bytes(), b"", false),
                Ok(()),
                "hex body rejected"
            );
            let s = rng.base62(24);
            assert_eq!(
                f.check(s.as_bytes(), b"\n", false),
                Ok(()),
                "24-char body rejected"
            );
        }
    }

    #[test]
    fn each_filter_names_its_reason() {
        let f = filters();
        let cases: &[(&str, &str, Rejection)] = &[
            ("abc", "", Rejection::TooShort),
            ("Q7rT9kLm2XpV8nBw4ZcY6hJd", "****", Rejection::Masked),
            ("Q7rT9kLm2XpV8nBw4ZcY6hJd", "•••", Rejection::Masked),
            ("Q7rT9kLm2XpV8nBw4ZcY6hJd", "...", Rejection::Masked),
            ("Q7rT9kLmxxxxxxxxxxxxxxxxxxxx", "", Rejection::Masked),
            ("YOURKEYHEREYOURKEYHERE1234", "", Rejection::Placeholder),
            ("Q7rT9kLmEXAMPLE2XpV8nBw4ZcY6", "", Rejection::Placeholder),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "", Rejection::Repetitive),
            ("abcabcabcabcabcabcabcabcabca", "", Rejection::Repetitive),
            ("a1B2c3D4a1B2c3D4a1B2c3D4a1B2", "", Rejection::Repetitive),
            ("0123456789abcdefghijklmnopqr", "", Rejection::Sequential),
            ("zyxwvutsrqponmlkjihgfedcba98", "", Rejection::Sequential),
            (
                "ProductionApiKeyForBillingService",
                "",
                Rejection::Identifier,
            ),
            ("thisisjustalongidentifiername", "", Rejection::Identifier),
            ("aaccaaccacacacccaaacccaacac1", "", Rejection::LowEntropy),
        ];
        for (body, after, want) in cases {
            assert_eq!(
                f.check(body.as_bytes(), after.as_bytes(), false),
                Err(*want),
                "body {body}"
            );
        }
        assert_eq!(
            f.check(b"Q7rT9kLm2XpV8nBw4ZcY6hJd", b"", true),
            Err(Rejection::Glued)
        );
    }

    /// Regression: `**nm_live_…**` (Markdown bold), a full key followed by `...` or `…` in a
    /// log line, or glued to a word on its left, was dropped as masked or as an identifier.
    #[test]
    fn full_random_bodies_are_keys_whatever_their_neighbours() {
        let f = filters();
        let mut rng = Rng::new(7);
        for _ in 0..2_000 {
            let body = rng.base62(32);
            for after in ["**", "...", "…", "•••", "****", ""] {
                for glued in [false, true] {
                    assert_eq!(
                        f.check(body.as_bytes(), after.as_bytes(), glued),
                        Ok(()),
                        "after {after:?}, glued {glued}"
                    );
                }
            }
        }
    }

    #[test]
    fn entropy_of_uniform_and_single_symbol() {
        assert!(shannon_entropy(b"aaaa").abs() < 1e-9);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
    }
}
