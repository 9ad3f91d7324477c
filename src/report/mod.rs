//! Reporters: one writer per format over sorted findings.
//!
//! A [`Report`] is everything a writer may show: the findings (already grouped by key and
//! sorted), the rules they refer to and what the run covered. Writers never see a key unless
//! [`Report::show_secrets`] is set: they ask [`Report::key`] for its display form. Writing to
//! `--output FILE` goes through a temporary file renamed into place, so a failed run never
//! leaves a partial report behind; the report keeps the mode of a file it replaces, and a new
//! one gets the usual 0666 less the umask.

pub mod flat;
pub mod html;
pub mod human;
pub mod json;
pub mod read;
pub mod sarif;

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::finding::Finding;
use crate::rules::Rule;
use crate::suppress::Suppressed;

/// What a run covered, for summaries.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Files or blobs scanned.
    pub blobs: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Inputs that could not be scanned.
    pub errors: u64,
    /// Inputs skipped by design.
    pub warnings: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// What `--verify` did; `None` when it was not asked for.
    pub verification: Option<VerifySummary>,
    /// Distinct keys found but not listed (over `--max-keys`).
    pub keys_unlisted: u64,
    /// Places of those keys.
    pub locations_unlisted: u64,
    /// Keys found but not shown because `--status` left their status out.
    pub hidden_by_status: usize,
    /// Files and directories the ignore rules skipped (a working-tree scan).
    pub ignored: u64,
    /// `nmleaks audit`: how each repository went.
    pub audit: Option<AuditSummary>,
}

impl Summary {
    /// Adds what `other` scanned and counted (blobs, bytes, errors, warnings, keys and
    /// places left out): an audit's repositories, a merge's reports.
    pub fn add_counts(&mut self, other: &Summary) {
        self.blobs += other.blobs;
        self.bytes += other.bytes;
        self.errors += other.errors;
        self.warnings += other.warnings;
        self.keys_unlisted += other.keys_unlisted;
        self.locations_unlisted += other.locations_unlisted;
    }
}

/// How the repositories of an `nmleaks audit` went.
#[derive(Debug, Clone, Default)]
pub struct AuditSummary {
    /// Every repository the audit took, in the order it listed them.
    pub repositories: Vec<RepoOutcome>,
}

impl AuditSummary {
    /// Repositories audited to the end (with or without problems inside).
    #[must_use]
    pub fn audited(&self) -> usize {
        self.repositories
            .iter()
            .filter(|r| r.error.is_none())
            .count()
    }

    /// Repositories that could not be audited.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.repositories.len() - self.audited()
    }
}

/// One repository of an audit.
#[derive(Debug, Clone)]
pub struct RepoOutcome {
    /// The repository (a URL without credentials, or a path).
    pub name: String,
    /// Public, when its host said.
    pub public: Option<bool>,
    /// Why it could not be audited (cloned, fetched or opened); `None` when it was.
    pub error: Option<String>,
    /// Distinct keys it holds.
    pub keys: usize,
    /// Problems inside it (unreadable objects, damage), errors and warnings.
    pub problems: u64,
}

/// What a `--verify` run cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifySummary {
    /// The API base URL the keys were sent to.
    pub api: String,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Keys answered from the cache.
    pub cache_hits: usize,
}

/// The input of every writer.
#[derive(Debug)]
pub struct Report<'a> {
    /// The command, for machine outputs (`scan`).
    pub command: &'a str,
    /// Findings, sorted.
    pub findings: &'a [Finding],
    /// Findings (or locations) hidden by the baseline or an inline allow comment.
    pub suppressed: &'a [Suppressed],
    /// Rules, indexed by `Finding::rule`.
    pub rules: &'a [Rule],
    /// Print keys in full.
    pub show_secrets: bool,
    /// Coverage and problems.
    pub summary: Summary,
    /// The absolute directory that relative paths start from (SARIF's `%SRCROOT%`).
    pub root: std::path::PathBuf,
    /// `--quiet`: the human report lists the findings and nothing else.
    pub quiet: bool,
}

impl Report<'_> {
    /// What the report calls what it looks for: "Nomotic keys" with the built-in rules alone,
    /// "keys" once a rules file adds others.
    #[must_use]
    pub fn noun(&self) -> &'static str {
        if crate::rules::all_builtin(self.rules) {
            "Nomotic keys"
        } else {
            "keys"
        }
    }

    /// The key as it may be shown: in full with `--show-secrets`, else redacted.
    #[must_use]
    pub fn key(&self, f: &Finding) -> String {
        if self.show_secrets {
            f.secret.expose().to_string()
        } else {
            f.secret.redacted(self.rules[f.rule].prefix.len())
        }
    }

    /// The rule of a finding.
    #[must_use]
    pub fn rule(&self, f: &Finding) -> &Rule {
        &self.rules[f.rule]
    }

    /// How many places hold a key, over all findings.
    #[must_use]
    pub fn location_count(&self) -> u64 {
        self.findings.iter().map(Finding::location_count).sum()
    }
}

/// Writes with `render` to `output`, or to stdout when `None`. A file is written to a
/// temporary sibling and renamed into place only when `render` succeeds, so a failed run
/// leaves no partial report. A symbolic link is followed and the file it names is replaced.
/// A path that exists and is not a regular file (`/dev/stdout`, `/dev/null`, a FIFO) is
/// written to directly: renaming over it would replace a device or a pipe with a plain file.
///
/// A stream whose reader went away (`nmleaks scan | head -1`) ends the writing and is not an
/// error: nobody is left to read the rest. The caller goes on and its exit code still reports
/// what the run found; that code, not the report, is what CI reads under `set -o pipefail`.
///
/// # Errors
/// The file cannot be created, written or renamed; or stdout fails (other than its reader
/// going away).
pub fn emit(
    output: Option<&Path>,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    crate::interrupt::checkpoint()?;
    let Some(path) = output else {
        return write_stream(io::stdout().lock(), render)
            .context("cannot write the report to standard output");
    };
    let shown = crate::sanitize::path(path);
    // Through a symbolic link to the file it names (a dangling link is replaced).
    let resolved = std::fs::canonicalize(path);
    let path = resolved.as_deref().unwrap_or(path);
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("cannot write report to {shown}"))?;
        write_stream(file, render).with_context(|| format!("cannot write report to {shown}"))?;
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = temp_file_for(path, dir)
        .map_err(without_temp_path)
        .with_context(|| format!("cannot write report to {shown}"))?;
    {
        let mut w = io::BufWriter::new(tmp.as_file_mut());
        render(&mut w).with_context(|| format!("cannot write report to {shown}"))?;
        w.flush()
            .with_context(|| format!("cannot write report to {shown}"))?;
    }
    // Ctrl-C while the report was rendered: drop it (and its temporary file), not a part.
    crate::interrupt::checkpoint()?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write report to {shown}"))?;
    Ok(())
}

/// `e` without the name of the temporary file tempfile adds to it (`… at path
/// ".nmleaks-reportXXXXXX"`): the user named the report, not the temporary file.
fn without_temp_path(e: io::Error) -> io::Error {
    // tempfile's wrapper type is private: its message is the io error's, then the path.
    let text = e.to_string();
    match text.rfind(" at path \"") {
        Some(i) => io::Error::new(e.kind(), text[..i].to_string()),
        None => e,
    }
}

/// The temporary file a report to `path` is written to before it is renamed over `path`,
/// with the mode the report is to have, set before a byte is written: that of the file it
/// replaces (its permission bits; a report is no program, so no set-id or sticky bit), else
/// what any program's new file gets, 0666 less the umask (the file is created with 0666 and
/// the kernel applies the umask, which cannot be read without `unsafe`). tempfile's own 0600
/// would lock a group out of a report it was meant to read.
fn temp_file_for(path: &Path, dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let replaced = std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".nmleaks-report");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if replaced.is_none() {
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
    }
    let tmp = builder.tempfile_in(dir)?;
    if let Some(meta) = replaced {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let bits = meta.permissions().mode() & 0o777;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(bits))?;
        }
        #[cfg(not(unix))]
        tmp.as_file().set_permissions(meta.permissions())?;
    }
    Ok(tmp)
}

/// Renders into a stream (stdout, a pipe, a device), buffered. A broken pipe stops the
/// writing and counts as done (see [`emit`]); what is still buffered is dropped unwritten.
fn write_stream(
    stream: impl Write,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut w = io::BufWriter::new(stream);
    match render(&mut w).and_then(|()| w.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            // Not flushed again on drop: the reader is gone.
            let _ = w.into_parts();
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream whose reader goes away after `room` bytes.
    struct ClosesAfter {
        room: usize,
        writes_after_close: usize,
    }

    impl Write for ClosesAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                self.writes_after_close += 1;
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_that_goes_away_ends_the_writing_without_an_error() {
        let mut stream = ClosesAfter {
            room: 100,
            writes_after_close: 0,
        };
        let mut lines = 0;
        let r = write_stream(&mut stream, |w| {
            for _ in 0..100_000 {
                writeln!(w, "a line of the report")?;
                lines += 1;
            }
            Ok(())
        });
        assert!(r.is_ok(), "{r:?}");
        assert!(
            lines < 100_000,
            "rendering stopped at the first failed write"
        );
        assert_eq!(
            stream.writes_after_close, 1,
            "no retry after the pipe closed"
        );
    }

    #[test]
    fn other_write_errors_are_still_errors() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("no space left on device"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let r = write_stream(Full, |w| writeln!(w, "x"));
        assert!(r.is_err());
    }
}
