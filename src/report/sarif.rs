//! SARIF 2.1.0 that GitHub code scanning accepts.
//!
//! One run per report, its `runAutomationDetails.id` naming the mode (`nmleaks/scan/`,
//! `nmleaks/git-history/`, …). One result per distinct key: GitHub only uses a result's first
//! location, so the first place is the primary location and the others are
//! `relatedLocations`, capped (the count left out is in `properties`). Paths are relative to
//! `%SRCROOT%` (the scan root, or the repository's work tree), given in
//! `run.originalUriBaseIds`. Columns are in UTF-16 code units (SARIF's default `columnKind`).
//! `partialFingerprints` carries `primaryLocationLineHash` (see [`crate::linehash`]) and the
//! key fingerprint; no snippet is written, so no key reaches the file. Suppressed keys are
//! results with a `suppressions` entry (`external` for the baseline, `inSource` for an allow
//! comment). GitHub's limits are kept: over 25,000 results, 1,000 locations per result or
//! 10 MB, results are cut and a `toolExecutionNotifications` entry says what was cut.
//!
//! **Why plain serde structs, not `serde-sarif`.** The `sarif` family's `serde-sarif` (0.8)
//! is the complete typed model of the 2.1.0 schema, generated from it, with builders. It was
//! weighed for what SARIF is about to carry (paths inside archives as logical locations, one
//! run per repository with `versionControlProvenance` in an organisation audit) and declined,
//! for reasons that hold for that growth too:
//! - every string in this file must pass through nmleaks' redaction and escaping, and the
//!   size caps are measured as the file is built; with a complete model any of its several
//!   hundred optional string fields is one more place a key could slip through unreviewed;
//! - GitHub reads properties the schema leaves open (`security-severity`, `precision`,
//!   `tags`), which a generated model holds as untyped maps anyway;
//! - field order and omitted fields are part of the snapshot tests and of byte-stable output;
//! - the additions ahead are a handful of small structs here (`logicalLocations`,
//!   `versionControlProvenance`), each validated by the SARIF Multitool in the tests.
//!
//! Revisit if nmleaks ever reads SARIF (a baseline from another tool's report), where a
//! complete model pays.
//!
//! The file is about 700 lines because the subset of the schema and its one writer belong
//! together: each struct is written by one function next to it, and GitHub's limits are
//! applied as the results are built.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::Report;
use crate::finding::{FINGERPRINT_SCHEME, Finding, GitKind, Location, Origin};
use crate::linehash::line_hashes;
use crate::rules::Rule;
use crate::suppress::Reason;

/// GitHub's limit on results per run.
pub const MAX_RESULTS: usize = 25_000;
/// GitHub's limit on locations per result; one of them is the primary location.
pub const MAX_LOCATIONS: usize = 1_000;
/// GitHub's limit is 10 MB gzipped; nmleaks keeps the uncompressed file under it, which is
/// stricter and needs no compressor.
pub const MAX_BYTES: usize = 10_000_000;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFO_URI: &str = "https://github.com/nmleaks/nmleaks";
const SRCROOT: &str = "%SRCROOT%";

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    automation_details: AutomationDetails,
    original_uri_base_ids: BTreeMap<&'static str, ArtifactLocation>,
    invocations: Vec<Invocation<'a>>,
    results: &'a [SarifResult],
    column_kind: &'static str,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    full_name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<SarifRule<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule<'a> {
    id: &'a str,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    help_uri: String,
    default_configuration: Configuration,
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties<'a> {
    tags: [&'static str; 3],
    precision: &'static str,
    #[serde(rename = "security-severity")]
    security_severity: &'a str,
    #[serde(rename = "problem.severity")]
    problem_severity: &'static str,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tool_execution_notifications: &'a [Notification],
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<SarifLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<SarifLocation>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    properties: ResultProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    fingerprint: String,
    location_count: u64,
    related_locations_omitted: u64,
    /// `live`, `live_insufficient_scope`, `revoked`, `unknown`; absent without --verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification_reason: Option<String>,
    #[serde(rename = "security-severity")]
    security_severity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppression_overridden: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    /// The member of an archive (or the decoded text) the key is in: the physical location
    /// stays the outer file, which GitHub can open.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<LocationProperties>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    fully_qualified_name: String,
    kind: &'static str,
}

/// Where inside the outer file a key is, as a person would look for it:
/// `app.tar.gz!app/.env:3:17 (gzip > tar)`; `None` for a key in the file's own text.
fn inside(loc: &Location) -> Option<String> {
    let chain = loc.wrapping()?;
    let at = if loc.binary {
        format!("byte {}", loc.offset)
    } else {
        format!("{}:{}", loc.line, loc.column)
    };
    Some(format!("{}:{at} (inside {chain})", loc.display_path()))
}

/// Whether the location's line and column count in the outer file itself (encoded text in
/// it), rather than in a member or a decompressed stream.
fn in_outer_text(loc: &Location) -> bool {
    loc.inner.as_ref().is_none_or(|i| {
        i.chain.iter().all(|l| {
            matches!(
                l,
                crate::finding::Layer::Base64 | crate::finding::Layer::Hex
            )
        })
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationProperties {
    /// `nmleaks audit`: the repository that holds the place.
    #[serde(skip_serializing_if = "Option::is_none")]
    repository: Option<String>,
    commit: String,
    author: String,
    commit_time: i64,
    commit_message: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Region {
    #[serde(skip_serializing_if = "Option::is_none")]
    start_line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    byte_length: Option<u64>,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<String>,
}

/// The lower of a rule's security severity and `max`, written as GitHub expects ("7.0").
fn capped(rule_severity: &str, max: f64) -> String {
    let v = rule_severity.parse::<f64>().unwrap_or(max).min(max);
    format!("{v:.1}")
}

/// Rule names in SARIF are `PascalCase` identifiers (`NomoticLiveApiKey`).
fn pascal(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn rule(r: &Rule) -> SarifRule<'_> {
    let todo = "Treat the key as compromised: revoke it in the Nomotic dashboard (Settings → API Keys), \
        create a replacement with the same scope, and update the integration to read it from an \
        environment variable or a secrets manager. Then remove the key from the code; if it was \
        committed, it stays in git history until that is rewritten, so revoking it comes first.";
    SarifRule {
        id: &r.id,
        name: pascal(&r.id),
        short_description: Text {
            text: r.name.clone(),
        },
        full_description: Text {
            text: r.description.clone(),
        },
        help: Help {
            text: format!("{}\n\n{todo}", r.description),
            markdown: format!(
                "{}\n\n**What to do.** Revoke the key in the Nomotic dashboard under \
                 **Settings → API Keys** (revocation is immediate), create a replacement with \
                 the same scope, and have the integration read it from an environment variable \
                 or a secrets manager. Remove the key from the code; a committed key stays in \
                 git history until that is rewritten, so revoke it first.\n\n\
                 Suppress a known, harmless key with a `nmleaks:allow` comment on its line or a \
                 baseline (`nmleaks baseline create`).",
                r.description
            ),
        },
        help_uri: format!("{INFO_URI}#rules"),
        default_configuration: Configuration { level: "error" },
        properties: RuleProperties {
            tags: ["security", "secret", "external/cwe/cwe-798"],
            precision: "very-high",
            security_severity: &r.security_severity,
            problem_severity: "error",
        },
    }
}

/// A path as a SARIF URI reference: `/`-separated, percent-encoded, relative to `%SRCROOT%`
/// when it lies under `root`, else an absolute `file://` URI.
fn artifact(path: &Path, root: &Path) -> ArtifactLocation {
    let rel = if path.is_absolute() {
        path.strip_prefix(root).ok()
    } else {
        Some(path)
    };
    match rel {
        Some(rel) => ArtifactLocation {
            uri: segments(rel).join("/"),
            uri_base_id: Some(SRCROOT),
        },
        None => ArtifactLocation {
            uri: format!("file://{}", encode_path(path)),
            uri_base_id: None,
        },
    }
}

/// `/`-less, percent-encoded URI segments of a path (`..` kept; root and `.` dropped).
fn segments(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            // A key in a file name is redacted here too: the URI then names no file GitHub
            // can open, which is the price of never publishing the key (README: Output).
            Component::Normal(s) => Some(encode(&crate::sanitize::hide_keys_in_bytes(
                s.as_encoded_bytes(),
            ))),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

/// An absolute path as the path part of a `file://` URI.
fn encode_path(path: &Path) -> String {
    segments(path)
        .iter()
        .fold(String::new(), |acc, s| acc + "/" + s)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn location(loc: &Location, root: &Path, id: Option<usize>) -> SarifLocation {
    let (artifact_location, properties) = match &loc.origin {
        Origin::File(p) => (artifact(p, root), None),
        Origin::Stdin => (
            ArtifactLocation {
                uri: "stdin".to_string(),
                uri_base_id: Some(SRCROOT),
            },
            None,
        ),
        Origin::Pending => (
            ArtifactLocation {
                uri: "location-not-yet-mapped".to_string(),
                uri_base_id: Some(SRCROOT),
            },
            None,
        ),
        Origin::Git(g) => (
            match (&g.path, g.kind) {
                // No walk placed the blob: name it after its id.
                (_, GitKind::Unplaced) => ArtifactLocation {
                    uri: format!("{}.location-unknown", g.commit),
                    uri_base_id: Some(SRCROOT),
                },
                // A ref is no file either: name it after what it points at.
                (_, GitKind::Ref) => ArtifactLocation {
                    uri: format!("{}.ref-name", g.commit),
                    uri_base_id: Some(SRCROOT),
                },
                (Some(p), _) => artifact(Path::new(p), root),
                // A commit message has no file; name it after the commit.
                (None, _) => ArtifactLocation {
                    uri: format!("{}.commit-message", g.commit),
                    uri_base_id: Some(SRCROOT),
                },
            },
            (!g.staged).then(|| LocationProperties {
                repository: g.repo.as_deref().map(crate::sanitize::text),
                commit: g.commit.clone(),
                author: crate::sanitize::text(&g.author),
                commit_time: g.time,
                commit_message: g.path.is_none(),
            }),
        ),
    };
    let region = if !in_outer_text(loc) {
        // Line and column count inside a member: GitHub is shown the outer file, from its
        // start, and the logical location and message say where inside it to look.
        Region {
            start_line: Some(1),
            ..Region::default()
        }
    } else if loc.binary {
        Region {
            byte_offset: Some(loc.offset),
            byte_length: Some(loc.len),
            ..Region::default()
        }
    } else {
        Region {
            start_line: Some(loc.line),
            start_column: Some(loc.column_utf16),
            end_line: Some(loc.line),
            end_column: Some(loc.column_utf16 + loc.len),
            ..Region::default()
        }
    };
    let inside = inside(loc);
    let message = match &loc.origin {
        Origin::Git(g) if g.kind == GitKind::Unplaced => Some(Text {
            text: format!(
                "Blob {}: location unknown: history is damaged, and no commit that could be \
                 read holds this blob.",
                g.commit
            ),
        }),
        _ => inside.as_ref().map(|text| Text {
            text: format!("Found at {text}."),
        }),
    };
    let logical_locations = inside
        .map(|name| LogicalLocation {
            fully_qualified_name: name,
            kind: "resource",
        })
        .into_iter()
        .collect();
    SarifLocation {
        id,
        physical_location: PhysicalLocation {
            artifact_location,
            region,
        },
        logical_locations,
        message,
        properties,
    }
}

/// Line hashes of primary locations in files on disk, each file read and hashed once.
/// (Blobs from git carry their hash already: their content may not be on disk.)
type FileLineHashes = HashMap<(PathBuf, u64), String>;

/// Files larger than this get no line hash from nmleaks: hashing reads the whole file into
/// memory, and GitHub's upload computes a missing hash from the checked-out file itself.
const MAX_HASHED_FILE: u64 = 64 << 20;

fn file_line_hashes<'f>(primaries: impl Iterator<Item = &'f Location>) -> FileLineHashes {
    file_line_hashes_up_to(primaries, MAX_HASHED_FILE)
}

fn file_line_hashes_up_to<'f>(
    primaries: impl Iterator<Item = &'f Location>,
    max_len: u64,
) -> FileLineHashes {
    let mut wanted: BTreeMap<&Path, Vec<u64>> = BTreeMap::new();
    for loc in primaries {
        if let (Origin::File(p), false, None, crate::finding::Part::Content, true) = (
            &loc.origin,
            loc.binary,
            &loc.line_hash,
            loc.part,
            in_outer_text(loc),
        ) {
            wanted.entry(p).or_default().push(loc.line);
        }
    }
    let mut out = HashMap::new();
    for (path, lines) in wanted {
        if std::fs::metadata(path).map_or(true, |m| m.len() > max_len) {
            continue;
        }
        let Ok(content) = std::fs::read(path) else {
            continue;
        };
        for (line, hash) in lines.iter().zip(line_hashes(&content, &lines)) {
            if let Some(hash) = hash {
                out.insert((path.to_path_buf(), *line), hash);
            }
        }
    }
    out
}

/// The line hash of a primary location: computed by the source, or from the file on disk.
fn line_hash(loc: &Location, files: &FileLineHashes) -> Option<String> {
    // A key in a name has no line of content to hash; one in a member no line of the file.
    if loc.binary || loc.part != crate::finding::Part::Content || !in_outer_text(loc) {
        return None;
    }
    if let Some(h) = &loc.line_hash {
        return Some(h.clone());
    }
    match &loc.origin {
        Origin::File(p) => files.get(&(p.clone(), loc.line)).cloned(),
        _ => None,
    }
}

/// The places of a key after its first, as related locations, up to GitHub's cap (the cut
/// is said in a notification).
fn related(
    r: &Report<'_>,
    f: &Finding,
    key: &str,
    notes: &mut Vec<Notification>,
) -> Vec<SarifLocation> {
    let places = f.location_count();
    let related: Vec<SarifLocation> = f.locations[1..]
        .iter()
        .take(MAX_LOCATIONS - 1)
        .enumerate()
        .map(|(i, l)| {
            let mut s = location(l, &r.root, Some(i + 1));
            let at = inside(l)
                .map(|t| format!(" Found at {t}."))
                .unwrap_or_default();
            s.message = Some(Text {
                text: format!("The same key, place {} of {places}.{at}", i + 2),
            });
            s
        })
        .collect();
    let omitted = places - 1 - related.len() as u64;
    if omitted > 0 {
        notes.push(Notification {
            level: "warning",
            message: Text {
                text: format!(
                    "Key {key} is in {places} places; GitHub accepts {MAX_LOCATIONS} locations \
                     per result, so {omitted} were left out of this file."
                ),
            },
        });
    }
    related
}

fn result(
    r: &Report<'_>,
    f: &Finding,
    suppression: Option<&Reason>,
    files: &FileLineHashes,
    notes: &mut Vec<Notification>,
) -> SarifResult {
    let rule = r.rule(f);
    let key = r.key(f);
    let places = f.location_count();
    let primary = &f.locations[0];
    let related = related(r, f, &key, notes);
    let omitted = places - 1 - related.len() as u64;
    let mut partial = BTreeMap::new();
    if let Some(h) = line_hash(primary, files) {
        partial.insert("primaryLocationLineHash", h);
    }
    partial.insert(FINGERPRINT_SCHEME, f.fingerprint.hex().to_string());
    let also = match places - 1 {
        0 => String::new(),
        1 => " The same key is in 1 more place.".to_string(),
        n => format!(" The same key is in {n} more places."),
    };
    // Live (or not verified) keys are errors at the rule's severity; a key the API could not
    // judge ranks next; a revoked key is a note: rewrite history at leisure.
    let status = f.status();
    let (level, security_severity) = match status {
        None => ("error", rule.security_severity.clone()),
        Some(s) if s.is_live() => ("error", rule.security_severity.clone()),
        Some(crate::verdict::Status::Unknown(_)) => {
            ("warning", capped(&rule.security_severity, 7.0))
        }
        Some(_) => ("note", capped(&rule.security_severity, 2.0)),
    };
    SarifResult {
        rule_id: rule.id.clone(),
        rule_index: f.rule,
        level,
        message: Text {
            text: format!(
                "{} {key} found{}{}. Revoke it in Settings → API Keys and rotate it.{also}",
                rule.name,
                primary
                    .part
                    .phrase()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
                status
                    .map(|s| format!(" (verified: {s})"))
                    .unwrap_or_default()
            ) + &inside(primary)
                .map(|t| format!(" Found at {t}."))
                .unwrap_or_default(),
        },
        locations: vec![location(primary, &r.root, None)],
        related_locations: related,
        partial_fingerprints: partial,
        suppressions: suppression
            .map(|reason| match reason {
                Reason::Baseline(note) => Suppression {
                    kind: "external",
                    justification: Some(
                        note.clone()
                            .unwrap_or_else(|| "listed in the nmleaks baseline".to_string()),
                    ),
                },
                Reason::Inline => Suppression {
                    kind: "inSource",
                    justification: Some("nmleaks:allow comment on the line".to_string()),
                },
                Reason::Allowed => Suppression {
                    kind: "external",
                    justification: Some("allowed in the nmleaks config file".to_string()),
                },
                Reason::Excluded => Suppression {
                    kind: "external",
                    justification: Some("in a path the scan excludes".to_string()),
                },
            })
            .into_iter()
            .collect(),
        properties: ResultProperties {
            fingerprint: f.fingerprint.0.clone(),
            location_count: places,
            related_locations_omitted: omitted,
            verification: status.map(crate::verdict::Status::code),
            verification_reason: status
                .and_then(crate::verdict::Status::reason)
                .map(|r| r.to_string()),
            security_severity,
            suppression_overridden: f.suppression_overridden,
        },
    }
}

/// Writes the SARIF log.
///
/// # Errors
/// Writing to `w` failed.
pub fn write(r: &Report<'_>, w: &mut dyn Write) -> io::Result<()> {
    let mut notes = Vec::new();
    let active = r.findings.iter().map(|f| (f, None));
    let hidden = r.suppressed.iter().map(|s| (&s.finding, Some(&s.reason)));
    let all: Vec<(&Finding, Option<&Reason>)> = active.chain(hidden).collect();
    let files = file_line_hashes(all.iter().map(|(f, _)| &f.locations[0]));
    let mut results: Vec<SarifResult> = all
        .into_iter()
        .map(|(f, reason)| result(r, f, reason, &files, &mut notes))
        .collect();
    if results.len() > MAX_RESULTS {
        notes.push(Notification {
            level: "warning",
            message: Text {
                text: format!(
                    "{} results found; GitHub accepts {MAX_RESULTS} per run, so {} were left \
                     out of this file. Use --format json for the full list.",
                    results.len(),
                    results.len() - MAX_RESULTS
                ),
            },
        });
        results.truncate(MAX_RESULTS);
    }
    if r.summary.errors > 0 {
        notes.push(Notification {
            level: "error",
            message: Text {
                text: format!(
                    "{} inputs could not be scanned (see the messages nmleaks printed on stderr); \
                     keys in them are not reported.",
                    r.summary.errors
                ),
            },
        });
    }
    let mut bytes = render(r, &results, &notes)?;
    // Cut results until the file fits GitHub's size limit.
    let total = results.len();
    let mut cut_note = None;
    while bytes.len() > MAX_BYTES && results.len() > 1 {
        let keep = (results.len() * MAX_BYTES / bytes.len() * 9 / 10).clamp(1, results.len() - 1);
        results.truncate(keep);
        if cut_note.take().is_some() {
            notes.pop();
        }
        notes.push(Notification {
            level: "warning",
            message: Text {
                text: format!(
                    "The SARIF file would exceed GitHub's 10 MB limit; {} of {total} results \
                     were left out. Use --format json for the full list.",
                    total - results.len()
                ),
            },
        });
        cut_note = Some(());
        bytes = render(r, &results, &notes)?;
    }
    w.write_all(&bytes)?;
    writeln!(w)
}

fn render(r: &Report<'_>, results: &[SarifResult], notes: &[Notification]) -> io::Result<Vec<u8>> {
    let mut root_uri = format!("file://{}", encode_path(&r.root));
    root_uri.push('/');
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "nmleaks",
                    full_name: concat!("nmleaks ", env!("CARGO_PKG_VERSION")),
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: INFO_URI,
                    rules: r.rules.iter().map(rule).collect(),
                },
            },
            automation_details: AutomationDetails {
                id: format!("nmleaks/{}/", r.command),
            },
            original_uri_base_ids: BTreeMap::from([(
                SRCROOT,
                ArtifactLocation {
                    uri: root_uri,
                    uri_base_id: None,
                },
            )]),
            invocations: vec![Invocation {
                execution_successful: r.summary.errors == 0,
                tool_execution_notifications: notes,
            }],
            results,
            column_kind: "utf16CodeUnits",
        }],
    };
    Ok(serde_json::to_vec_pretty(&log)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_over_the_cap_are_not_read_for_line_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        let loc = Location {
            part: crate::finding::Part::Content,
            origin: Origin::File(path.clone()),
            line: 2,
            column: 1,
            column_utf16: 1,
            offset: 4,
            len: 3,
            binary: false,
            snippet: None,
            inline_allow: false,
            allow_ambiguous: false,
            line_hash: None,
            inner: None,
        };
        let hashed = file_line_hashes_up_to(std::iter::once(&loc), 8);
        assert!(hashed.contains_key(&(path.clone(), 2)), "8 bytes: hashed");
        let skipped = file_line_hashes_up_to(std::iter::once(&loc), 7);
        assert!(skipped.is_empty(), "over the cap: left to GitHub");
    }
}
