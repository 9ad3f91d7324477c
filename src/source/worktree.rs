//! A working tree, walked in parallel with the `ignore` crate.
//!
//! Honours `.gitignore`, `.ignore` and `.nmleaksignore` (gitignore syntax) unless
//! `--no-ignore`; scans hidden files (`.env` is where keys live); never enters `.git/` (history
//! is [`crate::source`]'s git side). Symbolic links are not followed unless `--follow`; a path
//! named on the command line is followed either way. Anything that is not a regular file (a
//! FIFO, a socket, a device) is skipped with a warning, since opening a FIFO would block.
//!
//! A key in a file's or directory's name is a finding of its own ([`Part::Path`]).
//!
//! Problems are one line each, naming the path: a file or directory that cannot be read, an
//! unreadable ignore file (whose patterns are then not applied) and a broken link under
//! `--follow` are errors; a link loop (its target is walked anyway) and a file deleted while
//! the scan runs (nothing is left to scan) are warnings.

use std::fs::File;
use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;
use ignore::{WalkBuilder, WalkState};

use super::{Event, Problem, Stats};
use crate::finding::{Origin, Part};
use crate::matcher::Matcher;
use crate::sanitize;
use crate::scan::{Chunking, Scanner};

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
    /// What to look inside (archives, compression, encodings).
    pub decoding: crate::scan::Decoding,
    /// Show paths under `.` without the `./` prefix.
    pub strip_dot: bool,
    /// How files are cut into chunks ([`Chunking::default`] but in tests).
    pub chunking: Chunking,
    /// Say what was skipped and why (`--verbose`): each path the ignore rules skipped.
    pub verbose: bool,
    /// Honour `.nmleaksignore` files (off with `--no-repo-config`).
    pub repo_ignore_file: bool,
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
        builder.hidden(false);
        if opts.repo_ignore_file {
            builder.add_custom_ignore_filename(IGNORE_FILE);
        }
    }
    let counting = !opts.no_ignore && skipped::start();
    builder.build_parallel().run(|| {
        let mut scanner = Scanner::with_chunking(matcher, opts.show_secrets, opts.chunking)
            .decoding(opts.decoding);
        let sink = tx.clone();
        scanner.set_sink(move |hits| {
            let _ = sink.send(Event::Hits(hits));
        });
        let tx = tx.clone();
        Box::new(move |entry| {
            if crate::interrupt::requested() {
                return WalkState::Quit;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let _ = tx.send(walk_problem(&err, opts.strip_dot));
                    return WalkState::Continue;
                }
            };
            if let Some(err) = entry.error() {
                let _ = tx.send(walk_problem(err, opts.strip_dot));
            }
            let path = entry.path();
            if scan_name(&mut scanner, path, opts.strip_dot, &tx).is_err() {
                return WalkState::Quit;
            }
            let Some(ft) = entry.file_type() else {
                return WalkState::Continue;
            };
            if ft.is_dir() {
                return WalkState::Continue;
            }
            let explicit = entry.depth() == 0;
            if ft.is_symlink() && !explicit {
                if std::fs::metadata(path).is_err() {
                    let msg = format!(
                        "{}: broken symbolic link, skipped",
                        shown(path, opts.strip_dot)
                    );
                    let _ = tx.send(Problem::warning(msg));
                }
                return WalkState::Continue;
            }
            scan_file(&mut scanner, path, ft.is_file(), explicit, opts, stats, &tx)
        })
    });
    if counting {
        let (count, listed) = skipped::finish();
        stats
            .ignored
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        if opts.verbose {
            for p in &listed {
                let shown = shown(Path::new(p), opts.strip_dot);
                let _ = tx.send(Problem::note(format!("skipped by ignore rules: {shown}")));
            }
            if count > listed.len() as u64 {
                let _ = tx.send(Problem::note(format!(
                    "skipped by ignore rules: {} more not listed",
                    count - listed.len() as u64
                )));
            }
        }
    }
}

/// What the ignore rules skipped, counted through the `ignore` crate's own log: the crate
/// decides what is ignored (nested `.gitignore`s, `.ignore`, `.nmleaksignore`, git's
/// excludes), and its debug log line `ignoring PATH: Ignore(…)` is the only place it says
/// so. A logger that keeps only those lines is installed for the walk; if the process has
/// another logger, nothing is counted (and the summary says nothing rather than a wrong 0).
mod skipped {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    /// Paths kept for `--verbose`; the rest are counted.
    const LISTED_MAX: usize = 1000;

    static ACTIVE: AtomicBool = AtomicBool::new(false);
    static COUNT: AtomicU64 = AtomicU64::new(0);
    static LISTED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    static COUNTER: Counter = Counter;

    struct Counter;

    impl log::Log for Counter {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.target().starts_with("ignore::walk")
        }

        fn log(&self, record: &log::Record<'_>) {
            if !ACTIVE.load(Ordering::Relaxed) || !self.enabled(record.metadata()) {
                return;
            }
            let text = record.args().to_string();
            let Some(rest) = text.strip_prefix("ignoring ") else {
                return;
            };
            let Some(end) = rest.find(": Ignore(") else {
                return;
            };
            COUNT.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut listed) = LISTED.lock()
                && listed.len() < LISTED_MAX
            {
                listed.push(rest[..end].to_string());
            }
        }

        fn flush(&self) {}
    }

    /// Starts counting; false when another logger owns the process.
    pub(super) fn start() -> bool {
        let _ = log::set_logger(&COUNTER);
        let ours = std::ptr::eq(
            std::ptr::from_ref(log::logger()).cast::<()>(),
            std::ptr::from_ref(&COUNTER).cast::<()>(),
        );
        if ours {
            COUNT.store(0, Ordering::Relaxed);
            if let Ok(mut l) = LISTED.lock() {
                l.clear();
            }
            log::set_max_level(log::LevelFilter::Debug);
            ACTIVE.store(true, Ordering::Relaxed);
        }
        ours
    }

    /// Stops counting: how many entries were skipped, and the first of their paths, sorted.
    pub(super) fn finish() -> (u64, Vec<String>) {
        ACTIVE.store(false, Ordering::Relaxed);
        log::set_max_level(log::LevelFilter::Off);
        let mut listed = LISTED
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        listed.sort();
        (COUNT.load(Ordering::Relaxed), listed)
    }
}

/// Reports a key in the last component of `path` (a file's or a directory's name): a key in
/// a directory's name is reported once, at the directory. Fails when the collector is gone.
fn scan_name(
    scanner: &mut Scanner<'_>,
    path: &Path,
    strip_dot: bool,
    tx: &Sender<Event>,
) -> Result<(), ()> {
    let shown = strip(path, strip_dot);
    let bytes = shown.as_os_str().as_encoded_bytes();
    let name_len = shown.file_name().map_or(0, |n| n.as_encoded_bytes().len());
    let mut hits = Vec::new();
    scanner.scan_name(
        bytes,
        bytes.len() - name_len,
        &Origin::File(shown.to_path_buf()),
        Part::Path,
        &mut hits,
    );
    if hits.is_empty() || tx.send(Event::Hits(hits)).is_ok() {
        Ok(())
    } else {
        Err(())
    }
}

fn scan_file(
    scanner: &mut Scanner<'_>,
    path: &Path,
    regular: bool,
    explicit: bool,
    opts: &WalkOptions,
    stats: &Stats,
    tx: &Sender<Event>,
) -> WalkState {
    // A symbolic link named on the command line: judge what it points to.
    let regular = regular
        || match std::fs::metadata(path) {
            Ok(m) => m.is_file(),
            Err(e) => {
                let msg = format!("{}: cannot follow link: {e}", shown(path, opts.strip_dot));
                let _ = tx.send(Problem::error(msg));
                return WalkState::Continue;
            }
        };
    if !regular {
        let msg = format!(
            "{}: not a regular file ({}), skipped",
            shown(path, opts.strip_dot),
            kind_of(path)
        );
        let _ = tx.send(Problem::warning(msg));
        return WalkState::Continue;
    }
    let origin = Origin::File(strip(path, opts.strip_dot).to_path_buf());
    let mut hits = Vec::new();
    let result = File::open(path).and_then(|f| scanner.scan_file(f, &origin, &mut hits));
    if !hits.is_empty() && tx.send(Event::Hits(hits)).is_err() {
        return WalkState::Quit;
    }
    super::send_scan_problems(scanner, &shown(path, opts.strip_dot), tx);
    match result {
        Ok(n) => stats.add(n),
        Err(e) => {
            let _ = tx.send(read_problem(path, &e, explicit, opts));
        }
    }
    WalkState::Continue
}

/// The problem of a file that could not be opened or read.
fn read_problem(path: &Path, e: &std::io::Error, explicit: bool, opts: &WalkOptions) -> Event {
    let shown = shown(path, opts.strip_dot);
    // Listed by the walk, gone when opened: a file deleted while the scan ran. Its bytes no
    // longer exist, so nothing is left unscanned. A path named on the command line must exist.
    if e.kind() == std::io::ErrorKind::NotFound && !explicit {
        return Problem::warning(format!(
            "{shown}: vanished before it could be read, skipped"
        ));
    }
    let is_ignore_file = path
        .file_name()
        .is_some_and(|n| n == IGNORE_FILE || n == ".gitignore" || n == ".ignore");
    if is_ignore_file && !opts.no_ignore {
        // The ignore crate drops read errors of ignore files: say what that means.
        return Problem::error(format!(
            "{shown}: cannot read: {e}; its patterns were not applied, so files it would \
             exclude were scanned"
        ));
    }
    Problem::error(format!("{shown}: cannot read: {e}"))
}

/// What a path that is not a regular file is, for the message that skips it.
fn kind_of(path: &Path) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(ft) = std::fs::metadata(path).map(|m| m.file_type()) {
            if ft.is_fifo() {
                return "a FIFO";
            }
            if ft.is_socket() {
                return "a socket";
            }
            if ft.is_char_device() {
                return "a character device";
            }
            if ft.is_block_device() {
                return "a block device";
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    "neither a file nor a directory"
}

/// The problem of an error from the walker. A symbolic link loop (under `--follow`) is a
/// warning: the loop leads back to a directory the walk is already scanning, so nothing is
/// missed. Everything else means part of the tree was not scanned.
fn walk_problem(err: &ignore::Error, strip_dot: bool) -> Event {
    if is_loop(err) {
        Problem::warning(walk_error(err, strip_dot))
    } else {
        Problem::error(walk_error(err, strip_dot))
    }
}

fn is_loop(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::Loop { .. } => true,
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => is_loop(err),
        _ => false,
    }
}

/// `path` as reports show it: without the `./` of the implicit root.
fn strip(path: &Path, strip_dot: bool) -> &Path {
    if strip_dot {
        path.strip_prefix(".").unwrap_or(path)
    } else {
        path
    }
}

/// `path` for a message: as reports show it, sanitised.
fn shown(path: &Path, strip_dot: bool) -> String {
    sanitize::path(strip(path, strip_dot))
}

/// One line for an error from the walker, with its path shown as reports show it.
fn walk_error(err: &ignore::Error, strip_dot: bool) -> String {
    match err {
        ignore::Error::WithPath { path, err } => {
            let dangling = err.io_error().is_some_and(|e| {
                e.kind() == std::io::ErrorKind::NotFound
                    && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
            });
            if dangling {
                format!(
                    "{}: broken symbolic link (its target does not exist)",
                    shown(path, strip_dot)
                )
            } else {
                format!("{}: {}", shown(path, strip_dot), walk_error(err, strip_dot))
            }
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error(err, strip_dot)
        }
        ignore::Error::Loop { child, .. } => {
            format!("{}: symbolic link loop, skipped", shown(child, strip_dot))
        }
        ignore::Error::Io(e) => e.to_string(),
        ignore::Error::Partial(errs) => errs
            .iter()
            .map(|e| walk_error(e, strip_dot))
            .collect::<Vec<_>>()
            .join("; "),
        other => sanitize::text(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Level;

    fn opts() -> WalkOptions {
        WalkOptions {
            no_ignore: false,
            follow: false,
            threads: 1,
            show_secrets: false,
            decoding: crate::scan::Decoding::default(),
            strip_dot: true,
            chunking: Chunking::default(),
            verbose: false,
            repo_ignore_file: true,
        }
    }

    fn problem(e: Event) -> (Level, String) {
        match e {
            Event::Problem(p) => (p.level, p.message),
            Event::Hits(_) | Event::Provenance(..) | Event::Dropped(_) => panic!("not a problem"),
        }
    }

    #[test]
    fn a_file_gone_before_it_is_opened_is_a_warning_unless_named_on_the_command_line() {
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        let (level, msg) = problem(read_problem(Path::new("./d/f.txt"), &gone, false, &opts()));
        assert_eq!(level, Level::Warning);
        assert_eq!(msg, "d/f.txt: vanished before it could be read, skipped");
        let (level, _) = problem(read_problem(Path::new("f.txt"), &gone, true, &opts()));
        assert_eq!(level, Level::Error, "a path the user named must exist");
    }

    #[test]
    fn an_unreadable_ignore_file_says_its_patterns_were_not_applied() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let (level, msg) = problem(read_problem(
            Path::new("./.nmleaksignore"),
            &denied,
            false,
            &opts(),
        ));
        assert_eq!(level, Level::Error);
        assert!(msg.starts_with(".nmleaksignore: cannot read: "), "{msg}");
        assert!(
            msg.ends_with("its patterns were not applied, so files it would exclude were scanned")
        );
        let audit = WalkOptions {
            no_ignore: true,
            ..opts()
        };
        let (_, msg) = problem(read_problem(
            Path::new("./.gitignore"),
            &denied,
            false,
            &audit,
        ));
        assert!(
            !msg.contains("patterns"),
            "--no-ignore applies none anyway: {msg}"
        );
    }
}
