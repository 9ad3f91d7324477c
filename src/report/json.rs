//! The JSON report, schema version 1 (documented in the README).
//!
//! Stable field names; new fields may be added within a version, none removed or renamed.
//! Keys appear only in redacted form unless `--show-secrets`, and `secrets_shown` says which.
//! Each finding's `verification` is `null` unless `--verify` ran; then it holds the status
//! code, the reason of an `unknown`, the HTTP status and whether the answer came from cache.

use std::io::{self, Write};

use serde::Serialize;

use super::Report;
use crate::finding::{Finding, GitKind, Location, Origin};
use crate::suppress::Reason;
use crate::verdict::Verification;

/// The schema version written in every report.
pub const SCHEMA_VERSION: u32 = crate::finding::REPORT_SCHEMA_VERSION;

#[derive(Serialize)]
struct Doc<'a> {
    version: u32,
    tool: Tool,
    command: &'a str,
    secrets_shown: bool,
    findings: Vec<JsonFinding<'a>>,
    suppressed: Vec<JsonSuppressed<'a>>,
    summary: JsonSummary,
    /// `nmleaks audit`: every repository the audit took and how it went.
    #[serde(skip_serializing_if = "Option::is_none")]
    audit: Option<JsonAudit<'a>>,
}

#[derive(Serialize)]
struct JsonAudit<'a> {
    repositories_audited: usize,
    repositories_failed: usize,
    repositories: Vec<JsonRepoOutcome<'a>>,
}

#[derive(Serialize)]
struct JsonRepoOutcome<'a> {
    repository: String,
    /// `audited` or `failed`.
    status: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    /// `true`/`false` when its host said (a GitHub listing), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    public: Option<bool>,
    keys: usize,
    /// Errors and warnings inside it (unreadable objects, damage).
    problems: u64,
}

/// One repository that holds a key (`nmleaks audit`).
#[derive(Serialize)]
struct JsonExposure<'a> {
    repository: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    public: Option<bool>,
    #[serde(flatten)]
    provenance: JsonProvenance<'a>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    fingerprint: &'a str,
    rule_id: &'a str,
    rule_name: &'a str,
    severity: &'static str,
    key: String,
    location_count: u64,
    locations: Vec<JsonLocation>,
    verification: Option<JsonVerification>,
    /// `baseline` or `inline` when a suppression would hide a key verified live.
    #[serde(skip_serializing_if = "Option::is_none")]
    suppression_overridden: Option<&'static str>,
    /// See [`crate::finding::Provenance`] for the fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<JsonProvenance<'a>>,
    /// `nmleaks audit`: each repository that holds the key, with its own provenance
    /// (`first_commit_time` there starts its exposure window); absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    repositories: Vec<JsonExposure<'a>>,
}

#[derive(Serialize)]
struct JsonVerification {
    /// `live`, `live_insufficient_scope`, `revoked` or `unknown`.
    status: &'static str,
    /// For `unknown`: `rate_limited`, `server_error`, `timeout`, `budget`, …
    reason: Option<&'static str>,
    /// The last HTTP status the API answered with, if any.
    http_status: Option<u16>,
    /// The answer came from the verification cache.
    cached: bool,
    /// What the status means, for people.
    description: &'static str,
    /// For a network failure: what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

fn verification(v: &Verification) -> JsonVerification {
    JsonVerification {
        status: v.status.code(),
        reason: v.status.reason().map(crate::verdict::Reason::code),
        http_status: v.http_status,
        cached: v.cached,
        description: v.status.meaning(),
        detail: v.detail.clone(),
    }
}

#[derive(Serialize)]
struct JsonSuppressed<'a> {
    #[serde(flatten)]
    finding: JsonFinding<'a>,
    suppression: JsonSuppression<'a>,
}

#[derive(Serialize)]
struct JsonSuppression<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonProvenance<'a> {
    first_commit: Option<&'a str>,
    first_commit_time: Option<i64>,
    /// `first_commit_time` as RFC 3339 in UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_commit_time_rfc3339: Option<String>,
    commits: u64,
    at_head: bool,
    pushed: bool,
    history_damaged: bool,
}

#[derive(Serialize)]
struct JsonLocation {
    /// `nmleaks audit`: the repository that holds this place.
    #[serde(skip_serializing_if = "Option::is_none")]
    repository: Option<String>,
    path: String,
    /// Where in the origin the key is, when not in its content: `path`, `author`, `ref-name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    part: Option<&'static str>,
    line: u64,
    column: u64,
    column_utf16: u64,
    offset: u64,
    length: u64,
    binary: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    git: Option<JsonGit>,
    /// Present when the key was found inside the file: in an archive member, a compressed
    /// stream or encoded text. `line`, `column` and `offset` then count in the member (or the
    /// decompressed bytes) that holds the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    inside: Option<JsonInside>,
    /// Present (true) when the line's bare `nmleaks:allow` hides nothing because the line
    /// holds several keys: each must be named, `nmleaks:allow:<fingerprint prefix>`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allow_ambiguous: bool,
}

#[derive(Serialize)]
struct JsonInside {
    /// The member's path in the archive; nested archives' members joined with `!`.
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<String>,
    /// The wrappings from the outside in: `gzip`, `bzip2`, `xz`, `zstd`, `tar`, `zip`,
    /// `base64`, `hex`.
    chain: Vec<&'static str>,
}

#[derive(Serialize)]
struct JsonGit {
    commit: String,
    author: String,
    email: String,
    time: i64,
    /// `time` as RFC 3339 in UTC (`2026-12-02T03:04:05Z`); absent when there is no time (the
    /// staged index, a blob no commit holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    time_rfc3339: Option<String>,
    commit_message: bool,
    staged: bool,
    /// `file`, `commit-message`, `tag-message`, `blob` or `location-unknown` (see [`GitKind`]).
    object: &'static str,
}

#[derive(Serialize)]
struct JsonSummary {
    keys: usize,
    /// Distinct keys found beyond `--max-keys` and not listed.
    #[serde(skip_serializing_if = "is_zero")]
    keys_unlisted: u64,
    /// Places of those keys.
    #[serde(skip_serializing_if = "is_zero")]
    locations_unlisted: u64,
    /// Keys found but not listed because `--status` left their status out.
    #[serde(skip_serializing_if = "is_zero")]
    hidden_by_status: u64,
    /// Files and directories the ignore rules skipped (a working-tree scan).
    #[serde(skip_serializing_if = "is_zero")]
    ignored: u64,
    locations: u64,
    blobs_scanned: u64,
    bytes_scanned: u64,
    suppressed: usize,
    errors: u64,
    warnings: u64,
    verification: Option<JsonVerifySummary>,
}

#[derive(Serialize)]
struct JsonVerifySummary {
    api_url: String,
    requests: u64,
    cache_hits: usize,
}

fn location(loc: &Location) -> JsonLocation {
    let (path, git) = match &loc.origin {
        Origin::File(p) => (crate::sanitize::path(p), None),
        Origin::Stdin => ("<stdin>".to_string(), None),
        Origin::Pending => ("<location not yet mapped>".to_string(), None),
        Origin::Git(g) => (
            g.path
                .as_deref()
                .map(crate::sanitize::text)
                .unwrap_or_default(),
            Some(JsonGit {
                commit: g.commit.clone(),
                author: crate::sanitize::text(&g.author),
                email: crate::sanitize::text(&g.email),
                time: g.time,
                time_rfc3339: (g.time > 0).then(|| crate::timefmt::rfc3339(g.time)),
                commit_message: g.kind == GitKind::CommitMessage,
                staged: g.staged,
                object: g.kind.as_str(),
            }),
        ),
    };
    JsonLocation {
        repository: match &loc.origin {
            Origin::Git(g) => g.repo.as_deref().map(crate::sanitize::text),
            _ => None,
        },
        path,
        part: (loc.part != crate::finding::Part::Content).then(|| loc.part.as_str()),
        line: loc.line,
        column: loc.column,
        column_utf16: loc.column_utf16,
        offset: loc.offset,
        length: loc.len,
        binary: loc.binary,
        snippet: loc.snippet.clone(),
        git,
        inside: loc.inner.as_ref().map(|i| JsonInside {
            member: i.member.as_deref().map(crate::sanitize::text),
            chain: i.chain.iter().map(|l| l.name()).collect(),
        }),
        allow_ambiguous: loc.allow_ambiguous,
    }
}

fn finding<'a>(r: &'a Report<'_>, f: &'a Finding) -> JsonFinding<'a> {
    let rule = r.rule(f);
    JsonFinding {
        fingerprint: &f.fingerprint.0,
        rule_id: &rule.id,
        rule_name: &rule.name,
        severity: rule.severity.as_str(),
        key: r.key(f),
        location_count: f.location_count(),
        locations: f.locations.iter().map(location).collect(),
        verification: f.verification.as_ref().map(verification),
        suppression_overridden: f.suppression_overridden,
        provenance: f.provenance.as_ref().map(provenance),
        repositories: f
            .exposure
            .iter()
            .map(|e| JsonExposure {
                repository: crate::sanitize::text(&e.repository),
                public: e.public,
                provenance: provenance(&e.provenance),
            })
            .collect(),
    }
}

fn provenance(p: &crate::finding::Provenance) -> JsonProvenance<'_> {
    JsonProvenance {
        first_commit: p.first_commit.as_deref(),
        first_commit_time: p.first_commit_time,
        first_commit_time_rfc3339: p.first_commit_time.map(crate::timefmt::rfc3339),
        commits: p.commits,
        at_head: p.at_head,
        pushed: p.pushed,
        history_damaged: p.history_damaged,
    }
}

/// Writes the JSON report (pretty-printed, one trailing newline).
///
/// # Errors
/// Writing to `w` failed.
pub fn write(r: &Report<'_>, w: &mut dyn Write) -> io::Result<()> {
    let doc = Doc {
        version: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        command: r.command,
        secrets_shown: r.show_secrets,
        findings: r.findings.iter().map(|f| finding(r, f)).collect(),
        suppressed: r
            .suppressed
            .iter()
            .map(|s| JsonSuppressed {
                finding: finding(r, &s.finding),
                suppression: JsonSuppression {
                    kind: s.reason.kind(),
                    note: match &s.reason {
                        Reason::Baseline(note) => note.as_deref(),
                        Reason::Inline | Reason::Allowed | Reason::Excluded => None,
                    },
                },
            })
            .collect(),
        summary: JsonSummary {
            keys: r.findings.len(),
            keys_unlisted: r.summary.keys_unlisted,
            locations_unlisted: r.summary.locations_unlisted,
            hidden_by_status: r.summary.hidden_by_status as u64,
            ignored: r.summary.ignored,
            locations: r.location_count(),
            blobs_scanned: r.summary.blobs,
            bytes_scanned: r.summary.bytes,
            suppressed: r.suppressed.len(),
            errors: r.summary.errors,
            warnings: r.summary.warnings,
            verification: r.summary.verification.as_ref().map(|v| JsonVerifySummary {
                api_url: crate::sanitize::text(&v.api),
                requests: v.requests,
                cache_hits: v.cache_hits,
            }),
        },
        audit: r.summary.audit.as_ref().map(|a| JsonAudit {
            repositories_audited: a.audited(),
            repositories_failed: a.failed(),
            repositories: a
                .repositories
                .iter()
                .map(|o| JsonRepoOutcome {
                    repository: crate::sanitize::text(&o.name),
                    status: if o.error.is_some() {
                        "failed"
                    } else {
                        "audited"
                    },
                    error: o.error.as_deref(),
                    public: o.public,
                    keys: o.keys,
                    problems: o.problems,
                })
                .collect(),
        }),
    };
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}
