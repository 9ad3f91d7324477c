//! Where bytes come from.
//!
//! Each source walks its input (a working tree, standard input, a git repository),
//! runs a [`crate::scan::Scanner`] per worker over every blob with its [`crate::finding::Origin`],
//! and sends what it finds to one collector over a bounded channel. Problems with a single
//! input (unreadable file, broken link, corrupt object) travel the same channel as
//! [`Event::Problem`]: they are reported and the walk goes on.

pub mod git;
pub mod github;
pub mod stdin;
pub mod worktree;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::finding::{Hit, Provenance, Secret};
use crate::scan::Scanner;

/// Sends what the scanner could not look inside in the input just scanned (`name`), one
/// error each: a damaged archive, a decompression bomb stopped at its limit.
pub fn send_scan_problems(
    scanner: &mut Scanner<'_>,
    name: &str,
    tx: &crossbeam_channel::Sender<Event>,
) {
    for p in scanner.take_problems() {
        let _ = tx.send(Problem::error(format!("{name}: {p}")));
    }
}

/// What a producer tells the collector.
#[derive(Debug)]
pub enum Event {
    /// Keys found in one blob.
    Hits(Vec<Hit>),
    /// Something could not be scanned, or was skipped.
    Problem(Problem),
    /// Where a key came from in git history (sent after the key's hits).
    Provenance(Secret, Provenance),
    /// Keys a source left out of a blob's hits to bound its memory (over `--max-keys` in one
    /// blob), as `(digest, places)`: counted as keys not listed.
    Dropped(Vec<([u8; 32], u64)>),
}

/// How much a problem weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Skipped by design (a FIFO, a symbolic link not followed); the exit code is unaffected.
    Warning,
    /// Part of the input was not scanned: the exit code becomes 2.
    Error,
    /// What `--verbose` asked to hear (a path the ignore rules skipped); counts for nothing.
    Note,
}

/// One line for stderr. The message is sanitised and never holds a key.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Weight.
    pub level: Level,
    /// What happened, naming the path.
    pub message: String,
}

impl Problem {
    /// An error: part of the input was not scanned.
    #[must_use]
    pub fn error(message: String) -> Event {
        Event::Problem(Problem {
            level: Level::Error,
            message,
        })
    }

    /// A warning: something was skipped by design.
    #[must_use]
    pub fn warning(message: String) -> Event {
        Event::Problem(Problem {
            level: Level::Warning,
            message,
        })
    }

    /// A note for `--verbose`: neither a warning nor an error.
    #[must_use]
    pub fn note(message: String) -> Event {
        Event::Problem(Problem {
            level: Level::Note,
            message,
        })
    }
}

/// Counters the producers bump and the progress line reads.
#[derive(Debug, Default)]
pub struct Stats {
    /// Files or blobs scanned.
    pub blobs: AtomicU64,
    /// Bytes scanned.
    pub bytes: AtomicU64,
    /// Files and directories the ignore rules skipped (the working tree only).
    pub ignored: AtomicU64,
}

impl Stats {
    /// Records one scanned blob of `bytes` bytes.
    pub fn add(&self, bytes: u64) {
        self.blobs.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Blobs and bytes so far.
    #[must_use]
    pub fn get(&self) -> (u64, u64) {
        (
            self.blobs.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}
