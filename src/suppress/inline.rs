//! The grammar of inline allow comments: `nmleaks:allow` and `nmleaks:allow:<prefixes>`.
//!
//! Pure functions over a line's bytes, so that the scanner can judge a key's line while it
//! still has it (the bytes are gone afterwards); applying the verdict, next to the baseline, is
//! [`super::apply`]'s. Imports nothing above the data floor.

use memchr::memmem;

use crate::finding::Secret;

/// A comment holding this on a key's line hides that location (`# nmleaks:allow`).
pub const ALLOW_MARKER: &str = "nmleaks:allow";

/// Whether `line` holds an allow comment at all (a fast first look).
#[must_use]
pub fn has_marker(line: &[u8]) -> bool {
    memmem::find(line, ALLOW_MARKER.as_bytes()).is_some()
}

/// Does an allow comment on `line` cover `secret`? `nmleaks:allow` alone covers the line's
/// key only when the line holds exactly one (so a key added later to an allowed line is still
/// reported); `nmleaks:allow:1a2b3c4d,5e6f7a8b` names keys by fingerprint prefixes (8 hex
/// digits or more, as the JSON report's `fingerprint` shows them).
#[must_use]
pub fn allows(line: &[u8], secret: &Secret, keys_on_line: usize) -> bool {
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
            // Hex digits are ASCII, so the slice is a str.
            .any(|hex| std::str::from_utf8(hex).is_ok_and(|h| fp.has_prefix(h)))
    })
}

/// Whether `line` holds a bare `nmleaks:allow` (no fingerprint list) that hides nothing
/// because the line holds `keys_on_line` > 1 keys: the report says so, and how to name each.
#[must_use]
pub fn bare_allow_with_several(line: &[u8], keys_on_line: usize) -> bool {
    let marker = ALLOW_MARKER.as_bytes();
    keys_on_line > 1
        && memmem::find_iter(line, marker).any(|at| !line[at + marker.len()..].starts_with(b":"))
}
