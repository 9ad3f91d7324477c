//! Flat reports, one record per place: `--format jsonl` (one JSON object a line, what
//! `jq` pipelines read) and `--format csv` (for spreadsheets).
//!
//! Both carry the same columns, in [`COLUMNS`] order: the key's fingerprint (its identity), rule,
//! redacted key and status, then where it is. Keys are redacted as in every format. A CSV cell
//! that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
//! carriage return) is written with a leading `'`: a file name or git author chosen by whoever
//! wrote the scanned repository must not become a formula in an auditor's spreadsheet.

use std::io::{self, Write};

use serde::Serialize;

use super::Report;
use crate::finding::{Finding, Location, Origin};

/// The columns of both formats, in order.
pub const COLUMNS: &[&str] = &[
    "fingerprint",
    "rule_id",
    "severity",
    "key",
    "status",
    "path",
    "line",
    "column",
    "member",
    "commit",
    "author",
    "email",
    "time",
    "object",
    "repository",
];

#[derive(Serialize)]
struct Row<'a> {
    fingerprint: &'a str,
    rule_id: &'a str,
    severity: &'static str,
    key: String,
    /// `live`, `live_insufficient_scope`, `revoked`, `unknown`, or `not_verified`.
    status: &'static str,
    path: String,
    line: u64,
    column: u64,
    /// The archive member that holds the key (empty when none does).
    member: String,
    commit: String,
    author: String,
    email: String,
    /// RFC 3339, UTC (empty without a commit time).
    time: String,
    /// `file`, `commit-message`, `tag-message`, `blob`, `location-unknown`, `ref`, or `file`
    /// for files on disk.
    object: &'static str,
    /// `nmleaks audit`: the repository that holds the place (empty otherwise).
    repository: String,
}

fn row<'a>(r: &'a Report<'_>, f: &'a Finding, loc: &Location) -> Row<'a> {
    let rule = r.rule(f);
    let (commit, author, email, time, object) = match &loc.origin {
        Origin::Git(g) => (
            g.commit.clone(),
            crate::sanitize::text(&g.author),
            crate::sanitize::text(&g.email),
            if g.time > 0 {
                crate::timefmt::rfc3339(g.time)
            } else {
                String::new()
            },
            g.kind.as_str(),
        ),
        _ => Default::default(),
    };
    let path = match &loc.origin {
        Origin::Git(g) if g.path.is_none() => String::new(),
        Origin::Git(g) => g
            .path
            .as_deref()
            .map(crate::sanitize::text)
            .unwrap_or_default(),
        Origin::File(p) => crate::sanitize::path(p),
        Origin::Stdin => "<stdin>".to_string(),
        Origin::Pending => String::new(),
    };
    Row {
        fingerprint: &f.fingerprint.0,
        rule_id: &rule.id,
        severity: rule.severity.as_str(),
        key: r.key(f),
        status: f
            .status()
            .map_or("not_verified", crate::verdict::Status::code),
        path,
        line: loc.line,
        column: loc.column,
        member: loc
            .inner
            .as_ref()
            .and_then(|i| i.member.as_deref())
            .map(crate::sanitize::text)
            .unwrap_or_default(),
        commit,
        author,
        email,
        time,
        object: if object.is_empty() { "file" } else { object },
        repository: match &loc.origin {
            Origin::Git(g) => g
                .repo
                .as_deref()
                .map(crate::sanitize::text)
                .unwrap_or_default(),
            _ => String::new(),
        },
    }
}

fn rows<'a>(r: &'a Report<'_>) -> impl Iterator<Item = Row<'a>> {
    r.findings
        .iter()
        .flat_map(move |f| f.locations.iter().map(move |l| row(r, f, l)))
}

/// Writes one JSON object per listed place, one a line.
///
/// # Errors
/// Writing to `w` failed.
pub fn write_jsonl(r: &Report<'_>, w: &mut dyn Write) -> io::Result<()> {
    for row in rows(r) {
        serde_json::to_writer(&mut *w, &row)?;
        writeln!(w)?;
    }
    Ok(())
}

/// Writes a header and one CSV record per listed place (RFC 4180).
///
/// # Errors
/// Writing to `w` failed.
pub fn write_csv(r: &Report<'_>, w: &mut dyn Write) -> io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(COLUMNS).map_err(io::Error::other)?;
    for row in rows(r) {
        let cells = [
            row.fingerprint.to_string(),
            row.rule_id.to_string(),
            row.severity.to_string(),
            row.key,
            row.status.to_string(),
            row.path,
            row.line.to_string(),
            row.column.to_string(),
            row.member,
            row.commit,
            row.author,
            row.email,
            row.time,
            row.object.to_string(),
            row.repository,
        ];
        out.write_record(cells.iter().map(|c| defuse(c).into_owned()))
            .map_err(io::Error::other)?;
    }
    out.flush()
}

/// `'=cmd` for a cell a spreadsheet would evaluate (OWASP's advice on CSV injection).
fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_defused() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx"] {
            assert!(defuse(bad).starts_with('\''), "{bad:?}");
        }
        for ok in ["src/app.py", "nm_live_…PAnF", "Ada Lovelace", ""] {
            assert_eq!(defuse(ok), ok);
        }
    }
}
