//! Lines for stderr: problems, notes and the final error, written without ever panicking.
//!
//! `eprintln!` panics when stderr is a pipe whose reader has gone (`nmleaks scan 2>&1 | head
//! -1`), and a panic there cannot even print its own message: the process dies with exit code
//! 101. Every line nmleaks writes to stderr goes through here instead, and a failed write is
//! dropped: once nobody reads stderr, nobody misses the line. Callers pass text that is
//! already sanitised (paths through [`crate::sanitize`]) and never holds a key; as a last
//! guard, every line has the keys of the rules in force redacted once more before it is written.

use std::fmt::Display;
use std::io::Write;

/// `nmleaks: {text}`.
pub fn note(text: impl Display) {
    line(format_args!("nmleaks: {text}"));
}

/// `nmleaks: warning: {text}`: something was skipped by design.
pub fn warning(text: impl Display) {
    line(format_args!("nmleaks: warning: {text}"));
}

/// `nmleaks: error: {text}`: part of the input was not scanned, or the run failed.
pub fn error(text: impl Display) {
    line(format_args!("nmleaks: error: {text}"));
}

/// Writes one line to stderr, ignoring failure.
pub fn line(args: std::fmt::Arguments<'_>) {
    let text = crate::sanitize::hide_keys_in(&args.to_string());
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(text.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}
