//! Escaping of untrusted text before it reaches a terminal or a report.
//!
//! File names and file contents are attacker-controlled: an ANSI escape in a file name can
//! rewrite the terminal, a bidi control can make a line read differently from what it is.
//! Every path and snippet passes through here on its way out: control characters (C0, DEL, C1),
//! bidi and other invisible format characters become `\u{…}`, bytes that are not UTF-8 become
//! `\xNN`. Ordinary text, including CJK and emoji, is kept.
//!
//! Every text that passes through here also has its keys redacted, unless `--show-secrets`:
//! a key in a file name, a ref name, an author, a flag's value or a rules file's rule name is
//! shown as `nm_live_…h7Qz` wherever it is printed. The patterns are the rules' own, installed
//! once the rules are loaded ([`install_redaction`]); a process-wide setting, as the output
//! it protects is.

use std::fmt::Write;
use std::path::Path;
use std::sync::{Arc, RwLock};

use regex::bytes::Regex;

/// The keys to hide in displayed text: each rule's pattern and its prefix length.
#[derive(Debug)]
struct Redaction {
    patterns: Vec<(Regex, usize)>,
    show_secrets: bool,
}

static REDACTION: RwLock<Option<Arc<Redaction>>> = RwLock::new(None);

/// Sets the patterns whose matches [`path`], [`bytes`], [`text`] and [`echoed`] redact
/// (`(pattern, prefix length)`, unanchored); with `show_secrets` nothing is redacted.
pub fn install_redaction(patterns: Vec<(Regex, usize)>, show_secrets: bool) {
    let r = Arc::new(Redaction {
        patterns,
        show_secrets,
    });
    *REDACTION
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
}

fn redaction() -> Option<Arc<Redaction>> {
    REDACTION
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .filter(|r| !r.show_secrets && !r.patterns.is_empty())
}

/// Whether `text` holds a key of an installed pattern (redaction on or off).
#[must_use]
pub fn holds_key(text: &[u8]) -> bool {
    REDACTION
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
        .is_some_and(|r| r.patterns.iter().any(|(re, _)| re.is_match(text)))
}

/// Raw bytes (a path segment on its way into a URI) with every key of the installed patterns
/// replaced by its redacted form, UTF-8 encoded; other bytes are kept as they are.
#[must_use]
pub fn hide_keys_in_bytes(b: &[u8]) -> Vec<u8> {
    let Some(r) = redaction() else {
        return b.to_vec();
    };
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (re, plen) in &r.patterns {
        spans.extend(re.find_iter(b).map(|m| (m.start(), m.end(), *plen)));
    }
    spans.sort_unstable();
    let mut out = Vec::with_capacity(b.len());
    let mut pos = 0;
    for (start, end, plen) in spans {
        if end <= pos {
            continue;
        }
        let start = start.max(pos);
        out.extend_from_slice(&b[pos..start]);
        let key = String::from_utf8_lossy(&b[start..end]);
        out.extend_from_slice(redact_key(&key, plen).as_bytes());
        pos = end;
    }
    out.extend_from_slice(&b[pos..]);
    out
}

/// `s` with every key of the installed patterns redacted, and nothing else changed: the last
/// pass over every line written to stderr.
#[must_use]
pub fn hide_keys_in(s: &str) -> String {
    hide_keys(s.to_string())
}

/// `s` with every key of the installed patterns redacted.
fn hide_keys(s: String) -> String {
    let Some(r) = redaction() else {
        return s;
    };
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (re, plen) in &r.patterns {
        spans.extend(
            re.find_iter(s.as_bytes())
                .map(|m| (m.start(), m.end(), *plen)),
        );
    }
    if spans.is_empty() {
        return s;
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    for (start, end, plen) in spans {
        // Matches of a byte regex may end inside a character; widen to whole characters.
        let mut start = start.max(pos);
        let mut end = end;
        while !s.is_char_boundary(start) {
            start -= 1;
        }
        while !s.is_char_boundary(end) {
            end += 1;
        }
        if end <= pos {
            continue;
        }
        out.push_str(&s[pos..start]);
        out.push_str(&redact_key(&s[start..end], plen));
        pos = end;
    }
    out.push_str(&s[pos..]);
    out
}

/// A path for display: the escaped bytes of the OS string.
#[must_use]
pub fn path(p: &Path) -> String {
    bytes(p.as_os_str().as_encoded_bytes())
}

/// Escapes bytes that may not be UTF-8.
#[must_use]
pub fn bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        push_escaped(&mut out, chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    hide_keys(out)
}

/// Escapes a string.
#[must_use]
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    hide_keys(out)
}

/// The one redacted form of a key: its first `prefix_len` bytes (moved back to a character
/// boundary), an ellipsis, and the last four characters of the rest when the rest has at least
/// 16 characters (never more than a quarter of a short body). Counts characters, so a key with
/// multibyte characters cannot make it slice inside one.
#[must_use]
pub fn redact_key(key: &str, prefix_len: usize) -> String {
    let mut cut = prefix_len.min(key.len());
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    let (prefix, body) = key.split_at(cut);
    let chars = body.chars().count();
    let mut out = String::with_capacity(prefix.len() + 8);
    push_escaped(&mut out, prefix);
    out.push('…');
    if chars >= 16 {
        let tail: String = body.chars().skip(chars - 4).collect();
        push_escaped(&mut out, &tail);
    }
    out
}

/// Runs of this many ASCII letters and digits or more are hidden by [`echoed`].
const ECHO_RUN: usize = 16;

/// Escapes a message that may quote the content of a file (a TOML or JSON parser's message:
/// "invalid type: string \"…\""), and hides every run of 16 or more ASCII letters and digits
/// but its last four characters, since such a run may be a key body quoted from a rules file
/// or a baseline note. Words of prose are shorter than that.
#[must_use]
pub fn echoed(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let run = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
        if run >= ECHO_RUN {
            out.push('…');
            out.push_str(&rest[run - 4..run]);
            rest = &rest[run..];
        } else {
            let plain = run
                + rest[run..]
                    .find(|c: char| c.is_ascii_alphanumeric())
                    .unwrap_or(rest.len() - run);
            push_escaped(&mut out, &rest[..plain]);
            rest = &rest[plain..];
        }
    }
    hide_keys(out)
}

fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

/// Control characters, bidi controls and invisible format characters.
#[must_use]
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_ansi_bidi_and_invalid_bytes_but_keeps_cjk_and_emoji() {
        assert_eq!(text("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(text("x\u{202E}y\u{2066}"), "x\\u{202e}y\\u{2066}");
        assert_eq!(text("tab\there\r\n"), "tab\\u{9}here\\u{d}\\u{a}");
        assert_eq!(text("日本語 😀"), "日本語 😀");
        assert_eq!(bytes(b"ok\xff\xfe.txt"), "ok\\xff\\xfe.txt");
    }

    /// Regression: a custom rule's key ending in multibyte characters made redaction slice
    /// inside a character and panic, with the key body in the panic message.
    #[test]
    fn redacting_a_key_with_multibyte_characters_does_not_panic() {
        let key = "mbk_Q7rT9kLm2XpV8nBw4ZcY6hJ€€";
        assert_eq!(redact_key(key, 4), "mbk_…hJ€€");
        // A prefix length inside a character moves back to its start.
        assert_eq!(redact_key("é_abc", 1), "…");
        assert_eq!(redact_key("nm_live_short", 8), "nm_live_…");
    }

    #[test]
    fn echoed_parser_messages_hide_long_runs_and_escape_controls() {
        let key = crate::testkeys::Rng::new(9).live_key();
        let msg = format!("invalid type: string \"{key}\u{1b}[2J\", expected a sequence");
        let shown = echoed(&msg);
        assert_eq!(
            shown,
            format!(
                "invalid type: string \"nm_live_…{}\\u{{1b}}[2J\", expected a sequence",
                &key[key.len() - 4..]
            )
        );
        assert_eq!(
            echoed("rule x at line 3, column 7"),
            "rule x at line 3, column 7"
        );
        assert_eq!(echoed("日本 abc"), "日本 abc");
    }
}
