//! Snippets: the line around a key, cut to some context, with every key on it redacted.
//!
//! Redaction hides the exact spans the matcher found (whatever characters a rule's pattern
//! allows), every other candidate of any rule near the window, and every prefix followed by 8
//! or more letters and digits, all within a bounded reach, so the cost per key never grows with
//! the line's length or the number of keys on it.

use memchr::memmem;

use super::Scanner;
use super::lines::is_continuation;

/// Bytes of context shown on each side of a key in a snippet.
pub(crate) const SNIPPET_CONTEXT: usize = 60;

/// How far beyond a snippet's window keys are looked for, so that one cut by the window's
/// edge is still redacted whole, while the cost per key stays bounded on a line of any length
/// with any number of keys. Keys the matcher found are redacted by their own spans.
const REDACT_REACH: usize = 256;

impl Scanner<'_> {
    /// The spans, relative to the line starting at `line_start`, of the keys the matcher
    /// found near key number `i` (within [`REDACT_REACH`] of it): redacted exactly as found,
    /// whatever characters a rule's pattern allows.
    pub(super) fn found_spans(
        &self,
        i: usize,
        line_start: usize,
        line_end: usize,
    ) -> Vec<(usize, usize, usize)> {
        let m = self.found[i].m;
        let lo = m.start.saturating_sub(REDACT_REACH).max(line_start);
        let hi = (m.end + REDACT_REACH).min(line_end);
        let first = self.found.partition_point(|o| o.m.start < lo);
        // A long key that starts before the reach may still run into the window.
        let before = first.saturating_sub(8);
        self.found[before..]
            .iter()
            .filter(|o| o.m.start >= line_start && o.m.end > lo)
            .take_while(|o| o.m.start < hi)
            .map(|o| {
                // Encoded text shows no prefix: all of it is the key.
                let plen = if o.decoded.is_some() {
                    0
                } else {
                    self.matcher.rules()[o.m.rule].prefix.len()
                };
                (
                    o.m.start - line_start,
                    o.m.end.min(line_end) - line_start,
                    plen,
                )
            })
            .collect()
    }

    /// The key's line (`line[start..end]` is the key), cut to some context each side, with
    /// every key on it redacted: the spans the matcher found (`found`, relative to the line)
    /// and every other candidate of any rule near the window.
    pub(super) fn snippet(
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
    pub(super) fn redact_window(
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
