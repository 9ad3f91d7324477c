//! Reading JSON reports back (`nmleaks merge`): the inverse of [`super::json`], for reports
//! of schema version 1.
//!
//! A report holds no key, so a finding read back knows its key only by its redacted form
//! ([`crate::finding::Secret::from_redacted`]): it is shown that way in every format and
//! never verified. What a report does not carry is not invented: a place's line hash
//! (SARIF's `primaryLocationLineHash`) is absent, and places the report counted but did not
//! list stay counted.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::error::UsageError;
use crate::finding::{
    Exposure, Finding, Fingerprint, GitKind, GitOrigin, Inner, Layer, Location, Origin, Part,
    Provenance, Secret, Unlisted,
};
use crate::rules::Rule;
use crate::suppress::{Reason, Suppressed};
use crate::verdict::{Status, Verification};

/// The most bytes a report may take: the report's own limits keep one far below.
pub const REPORT_LIMIT: u64 = 1 << 30;

#[derive(Deserialize)]
struct Doc {
    version: u32,
    command: String,
    findings: Vec<JFinding>,
    #[serde(default)]
    suppressed: Vec<JSuppressed>,
    summary: JSummary,
    #[serde(default)]
    audit: Option<JAudit>,
}

#[derive(Deserialize)]
struct JFinding {
    fingerprint: String,
    rule_id: String,
    key: String,
    location_count: u64,
    locations: Vec<JLocation>,
    verification: Option<JVerification>,
    #[serde(default)]
    suppression_overridden: Option<String>,
    #[serde(default)]
    provenance: Option<JProvenance>,
    #[serde(default)]
    repositories: Vec<JExposure>,
}

#[derive(Deserialize)]
struct JSuppressed {
    #[serde(flatten)]
    finding: JFinding,
    suppression: JSuppression,
}

#[derive(Deserialize)]
struct JSuppression {
    kind: String,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
struct JVerification {
    status: String,
    reason: Option<String>,
    http_status: Option<u16>,
    cached: bool,
    #[serde(default)]
    detail: Option<String>,
}

#[derive(Deserialize, Clone)]
struct JProvenance {
    first_commit: Option<String>,
    first_commit_time: Option<i64>,
    commits: u64,
    at_head: bool,
    pushed: bool,
    history_damaged: bool,
}

#[derive(Deserialize)]
struct JExposure {
    repository: String,
    #[serde(default)]
    public: Option<bool>,
    #[serde(flatten)]
    provenance: JProvenance,
}

#[derive(Deserialize)]
struct JLocation {
    #[serde(default)]
    repository: Option<String>,
    path: String,
    #[serde(default)]
    part: Option<String>,
    line: u64,
    column: u64,
    column_utf16: u64,
    offset: u64,
    length: u64,
    binary: bool,
    #[serde(default)]
    snippet: Option<String>,
    #[serde(default)]
    git: Option<JGit>,
    #[serde(default)]
    inside: Option<JInside>,
    #[serde(default)]
    allow_ambiguous: bool,
}

#[derive(Deserialize)]
struct JGit {
    commit: String,
    author: String,
    email: String,
    time: i64,
    staged: bool,
    object: String,
}

#[derive(Deserialize)]
struct JInside {
    #[serde(default)]
    member: Option<String>,
    chain: Vec<String>,
}

#[derive(Deserialize)]
struct JSummary {
    #[serde(default)]
    keys_unlisted: u64,
    #[serde(default)]
    locations_unlisted: u64,
    blobs_scanned: u64,
    bytes_scanned: u64,
    errors: u64,
    warnings: u64,
}

#[derive(Deserialize)]
struct JAudit {
    repositories: Vec<JRepo>,
}

#[derive(Deserialize)]
struct JRepo {
    repository: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    public: Option<bool>,
    keys: usize,
    problems: u64,
}

/// One JSON report, read back.
#[derive(Debug)]
pub struct Read {
    /// The command that wrote it (`audit`, `git-history`, `scan`…).
    pub command: String,
    /// Its findings.
    pub findings: Vec<Finding>,
    /// What it reported as suppressed.
    pub suppressed: Vec<Suppressed>,
    /// Its summary's counts (and an audit's repositories).
    pub summary: super::Summary,
}

/// Reads the JSON report at `path`; `rules` are the rules its findings may name.
///
/// # Errors
/// One sentence naming the file: unreadable, not an nmleaks JSON report of schema version
/// 1, or naming a rule not among `rules`.
pub fn read(path: &Path, rules: &[Rule]) -> Result<Read, UsageError> {
    let shown = crate::sanitize::path(path);
    let bytes = crate::textfile::read_bytes(path, REPORT_LIMIT)
        .map_err(|e| UsageError(format!("{shown}: cannot read it: {e}")))?;
    let doc: Doc = serde_json::from_slice(&bytes).map_err(|e| {
        UsageError(format!(
            "{shown}: not an nmleaks JSON report ({})",
            crate::sanitize::echoed(&e.to_string())
        ))
    })?;
    if doc.version != crate::finding::REPORT_SCHEMA_VERSION {
        return Err(UsageError(format!(
            "{shown}: a JSON report of schema version {}, this nmleaks reads version {}",
            doc.version,
            crate::finding::REPORT_SCHEMA_VERSION
        )));
    }
    let bad = |what: &str| UsageError(format!("{shown}: {what}"));
    let findings = doc
        .findings
        .into_iter()
        .map(|f| finding(f, rules).map_err(|e| bad(&e)))
        .collect::<Result<Vec<_>, _>>()?;
    let suppressed = doc
        .suppressed
        .into_iter()
        .map(|s| {
            let reason = match s.suppression.kind.as_str() {
                "baseline" => Reason::Baseline(s.suppression.note),
                "inline" => Reason::Inline,
                "config-allow" => Reason::Allowed,
                "excluded" => Reason::Excluded,
                k => {
                    return Err(bad(&format!(
                        "unknown suppression {}",
                        crate::sanitize::echoed(k)
                    )));
                }
            };
            let inline = matches!(reason, Reason::Inline);
            let mut finding = finding(s.finding, rules).map_err(|e| bad(&e))?;
            for l in &mut finding.locations {
                l.inline_allow = inline;
            }
            Ok(Suppressed { finding, reason })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let summary = super::Summary {
        blobs: doc.summary.blobs_scanned,
        bytes: doc.summary.bytes_scanned,
        errors: doc.summary.errors,
        warnings: doc.summary.warnings,
        keys_unlisted: doc.summary.keys_unlisted,
        locations_unlisted: doc.summary.locations_unlisted,
        audit: doc.audit.map(|a| super::AuditSummary {
            repositories: a
                .repositories
                .into_iter()
                .map(|r| super::RepoOutcome {
                    name: r.repository,
                    public: r.public,
                    error: r.error,
                    keys: r.keys,
                    problems: r.problems,
                })
                .collect(),
        }),
        ..super::Summary::default()
    };
    Ok(Read {
        command: doc.command,
        findings,
        suppressed,
        summary,
    })
}

fn provenance(p: JProvenance) -> Provenance {
    Provenance {
        first_commit: p.first_commit,
        first_commit_time: p.first_commit_time,
        commits: p.commits,
        at_head: p.at_head,
        pushed: p.pushed,
        history_damaged: p.history_damaged,
    }
}

fn finding(f: JFinding, rules: &[Rule]) -> Result<Finding, String> {
    let rule = rules
        .iter()
        .position(|r| r.id == f.rule_id)
        .ok_or_else(|| {
            format!(
                "a finding of rule {}, which is not among the rules in force (give its file with \
             --rules)",
                crate::sanitize::echoed(&f.rule_id)
            )
        })?;
    if !f
        .fingerprint
        .starts_with(crate::finding::FINGERPRINT_SCHEME)
    {
        return Err("a finding without an nmleaks fingerprint".to_string());
    }
    let locations = f
        .locations
        .into_iter()
        .map(location)
        .collect::<Result<Vec<_>, _>>()?;
    let unlisted = Unlisted {
        plain: f.location_count.saturating_sub(locations.len() as u64),
        allowed: 0,
    };
    let verification = f
        .verification
        .map(|v| {
            Ok::<_, String>(Verification {
                status: Status::from_codes(&v.status, v.reason.as_deref()).ok_or_else(|| {
                    "a verification status this nmleaks does not know".to_string()
                })?,
                http_status: v.http_status,
                cached: v.cached,
                detail: v.detail,
            })
        })
        .transpose()?;
    let suppression_overridden = match f.suppression_overridden.as_deref() {
        None => None,
        Some("baseline") => Some("baseline"),
        Some("inline") => Some("inline"),
        Some("config-allow") => Some("config-allow"),
        Some("excluded") => Some("excluded"),
        Some(_) => return Err("an unknown suppression_overridden".to_string()),
    };
    Ok(Finding {
        fingerprint: Fingerprint(f.fingerprint),
        rule,
        secret: Secret::from_redacted(&f.key),
        locations,
        unlisted,
        verification,
        suppression_overridden,
        provenance: f.provenance.map(provenance),
        exposure: f
            .repositories
            .into_iter()
            .map(|e| Exposure {
                repository: Arc::from(e.repository.as_str()),
                public: e.public,
                provenance: provenance(e.provenance),
            })
            .collect(),
    })
}

fn location(l: JLocation) -> Result<Location, String> {
    let part = match l.part.as_deref() {
        None => Part::Content,
        Some(p) => [Part::Path, Part::Author, Part::RefName]
            .into_iter()
            .find(|k| k.as_str() == p)
            .ok_or_else(|| "a place of an unknown part".to_string())?,
    };
    let origin = match l.git {
        Some(g) => {
            let kind = [
                GitKind::File,
                GitKind::CommitMessage,
                GitKind::TagMessage,
                GitKind::Blob,
                GitKind::Unplaced,
                GitKind::Ref,
            ]
            .into_iter()
            .find(|k| k.as_str() == g.object)
            .ok_or_else(|| "a place in an unknown kind of git object".to_string())?;
            Origin::Git(GitOrigin {
                repo: l.repository.as_deref().map(Arc::from),
                time: g.time,
                commit: g.commit,
                path: (!l.path.is_empty()).then_some(l.path),
                author: g.author,
                email: g.email,
                staged: g.staged,
                kind,
            })
        }
        None if l.path == "<stdin>" => Origin::Stdin,
        None => Origin::File(l.path.into()),
    };
    let inner = l
        .inside
        .map(|i| {
            let chain = i
                .chain
                .iter()
                .map(|c| {
                    [
                        Layer::Gzip,
                        Layer::Bzip2,
                        Layer::Xz,
                        Layer::Zstd,
                        Layer::Tar,
                        Layer::Zip,
                        Layer::Base64,
                        Layer::Hex,
                    ]
                    .into_iter()
                    .find(|k| k.name() == c)
                    .ok_or_else(|| "a place inside an unknown wrapping".to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, String>(Arc::new(Inner {
                member: i.member,
                chain,
            }))
        })
        .transpose()?;
    Ok(Location {
        origin,
        part,
        line: l.line,
        column: l.column,
        column_utf16: l.column_utf16,
        offset: l.offset,
        len: l.length,
        binary: l.binary,
        snippet: l.snippet,
        inline_allow: false,
        allow_ambiguous: l.allow_ambiguous,
        line_hash: None,
        inner,
    })
}
