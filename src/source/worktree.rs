//! A working tree, walked in parallel with the `ignore` crate.
//!
//! Honours `.gitignore`, `.ignore` and `.nmleaksignore` (gitignore syntax) unless
//! `--no-ignore`; scans hidden files (`.env` is where keys live); never enters `.git/` (history
//! is [`crate::source`]'s git side). Symbolic links are not followed unless `--follow`; a path
//! named on the command line is followed either way. Anything that is not a regular file (a
//! FIFO, a socket, a device) is skipped with a warning, since opening a FIFO would block.

use std::fs::File;
use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;
use ignore::{WalkBuilder, WalkState};

use super::{Event, Problem, Stats};
use crate::finding::Origin;
use crate::matcher::Matcher;
use crate::sanitize;
use crate::scan::Scanner;

/// The name of nmleaks' own ignore file.
pub const IGNORE_FILE: &str = ".nmleaksignore";

/// How to walk.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Scan what ignore files exclude.
    pub no_ignore: bool,
    /// Follow symbolic links.
    pub follow: bool,
    /// Worker threads.
    pub threads: usize,
    /// Keep keys in snippets.
    pub show_secrets: bool,
    /// Show paths under `.` without the `./` prefix.
    pub strip_dot: bool,
}

/// Walks `paths` and scans every regular file, sending hits and problems to `tx`.
pub fn walk(
    paths: &[PathBuf],
    opts: &WalkOptions,
    matcher: &Matcher,
    stats: &Stats,
    tx: &Sender<Event>,
) {
    let Some((first, rest)) = paths.split_first() else {
        return;
    };
    let mut builder = WalkBuilder::new(first);
    for p in rest {
        builder.add(p);
    }
    builder
        .threads(opts.threads)
        .follow_links(opts.follow)
        .require_git(false)
        .filter_entry(|e| e.file_name() != ".git");
    if opts.no_ignore {
        builder.standard_filters(false);
    } else {
        builder
            .hidden(false)
            .add_custom_ignore_filename(IGNORE_FILE);
    }
    builder.build_parallel().run(|| {
        let mut scanner = Scanner::new(matcher, opts.show_secrets);
        let tx = tx.clone();
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let _ = tx.send(Problem::error(walk_error(&err)));
                    return WalkState::Continue;
                }
            };
            if let Some(err) = entry.error() {
                let _ = tx.send(Problem::error(walk_error(err)));
            }
            let path = entry.path();
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            if ft.is_dir() {
                return WalkState::Continue;
            }
            let explicit = entry.depth() == 0;
            if ft.is_symlink() && !explicit {
                if std::fs::metadata(path).is_err() {
                    let msg = format!("{}: broken symbolic link, skipped", sanitize::path(path));
                    let _ = tx.send(Problem::warning(msg));
                }
                return WalkState::Continue;
            }
            scan_file(&mut scanner, path, ft.is_file(), opts.strip_dot, stats, &tx)
        })
    });
}

fn scan_file(
    scanner: &mut Scanner<'_>,
    path: &Path,
    regular: bool,
    strip_dot: bool,
    stats: &Stats,
    tx: &Sender<Event>,
) -> WalkState {
    // A symbolic link named on the command line: judge what it points to.
    let regular = regular
        || match std::fs::metadata(path) {
            Ok(m) => m.is_file(),
            Err(e) => {
                let msg = format!("{}: cannot follow link: {e}", sanitize::path(path));
                let _ = tx.send(Problem::error(msg));
                return WalkState::Continue;
            }
        };
    if !regular {
        let msg = format!(
            "{}: not a regular file (FIFO, socket or device), skipped",
            sanitize::path(path)
        );
        let _ = tx.send(Problem::warning(msg));
        return WalkState::Continue;
    }
    let shown = if strip_dot {
        path.strip_prefix(".").unwrap_or(path)
    } else {
        path
    };
    let origin = Origin::File(shown.to_path_buf());
    let mut hits = Vec::new();
    let result = File::open(path).and_then(|f| scanner.scan_reader(f, &origin, &mut hits));
    if !hits.is_empty() && tx.send(Event::Hits(hits)).is_err() {
        return WalkState::Quit;
    }
    match result {
        Ok(n) => stats.add(n),
        Err(e) => {
            let msg = format!("{}: cannot read: {e}", sanitize::path(path));
            let _ = tx.send(Problem::error(msg));
        }
    }
    WalkState::Continue
}

/// One line for an error from the walker, with its path sanitised.
fn walk_error(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { path, err } => {
            format!("{}: {}", sanitize::path(path), walk_error(err))
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error(err)
        }
        ignore::Error::Loop { child, .. } => {
            format!("{}: symbolic link loop, skipped", sanitize::path(child))
        }
        ignore::Error::Io(e) => e.to_string(),
        ignore::Error::Partial(errs) => errs.iter().map(walk_error).collect::<Vec<_>>().join("; "),
        other => sanitize::text(&other.to_string()),
    }
}
