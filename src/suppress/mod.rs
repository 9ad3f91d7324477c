//! Suppressions: the baseline file and inline `nmleaks:allow` comments.
//!
//! A baseline lists the fingerprints of keys already known (`nmleaks baseline create`); it
//! hides exactly those keys wherever they appear, so moving lines or files never invalidates
//! it, and a different key on the same line is still reported. An inline allow comment hides
//! the one location on its line. This module owns the baseline format (versioned JSON: no
//! keys, no line numbers) and the split of findings into active and suppressed ones; it does
//! not decide exit codes or formats. The grammar of allow comments is in [`inline`], which the
//! scanner applies to a key's line while it has it.

pub mod inline;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::UsageError;
use crate::finding::{Finding, Fingerprint, Unlisted};
use crate::rules::Rule;

/// The baseline format version this nmleaks reads and writes.
pub const BASELINE_VERSION: u32 = 1;

/// A baseline file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Format version ([`BASELINE_VERSION`]).
    pub version: u32,
    /// Known keys, sorted by fingerprint.
    pub entries: Vec<BaselineEntry>,
}

/// One known key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineEntry {
    /// The key's fingerprint (`nmleaks/key-sha256/v1:…`).
    pub fingerprint: Fingerprint,
    /// The rule that found it, for people reading the file.
    pub rule_id: String,
    /// The redacted key, for people reading the file.
    pub redacted: String,
    /// Why the key is accepted; kept when the baseline is created again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Baseline {
    /// Reads and validates a baseline file.
    ///
    /// # Errors
    /// A one-sentence [`UsageError`] naming the file: unreadable, not JSON of this schema,
    /// another version, or a malformed fingerprint.
    pub fn load(path: &Path) -> Result<Baseline, UsageError> {
        let shown = crate::sanitize::path(path);
        let text = crate::textfile::read(path, crate::textfile::MAX_LEN)
            .map_err(|e| UsageError(format!("cannot read baseline file {shown}: {e}")))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            let e = crate::sanitize::echoed(&e.to_string());
            UsageError(format!("baseline file {shown} is not valid JSON: {e}"))
        })?;
        if value.get("findings").is_some() && value.get("tool").is_some() {
            return Baseline::from_report(&value, &shown);
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(BASELINE_VERSION)) {
            let found =
                version.map_or_else(|| "no version".to_string(), |v| format!("version {v}"));
            return Err(UsageError(format!(
                "baseline file {shown} has {found}; this nmleaks reads version {BASELINE_VERSION} \
                 (create it again with `nmleaks baseline create`)"
            )));
        }
        let baseline: Baseline = serde_json::from_value(value).map_err(|e| {
            // serde quotes the offending value, which may be a key pasted into a note.
            let e = crate::sanitize::echoed(&e.to_string());
            UsageError(format!(
                "baseline file {shown} is not a valid nmleaks baseline: {e}"
            ))
        })?;
        baseline.check_and_sort(&shown)
    }

    /// The fingerprints of every key in an nmleaks JSON report (`--format json`), active and
    /// suppressed: what gitleaks users pass as a baseline. Only fingerprints are taken; a
    /// report written with `--show-secrets` gives no key to the baseline either.
    fn from_report(value: &serde_json::Value, shown: &str) -> Result<Baseline, UsageError> {
        let not_report = |why: &str| {
            UsageError(format!(
                "{shown} is neither an nmleaks baseline nor an nmleaks JSON report: {why}"
            ))
        };
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(crate::finding::REPORT_SCHEMA_VERSION)) {
            return Err(not_report(&format!(
                "report schema version {}, this nmleaks reads {}",
                version.map_or_else(|| "missing".to_string(), |v| v.to_string()),
                crate::finding::REPORT_SCHEMA_VERSION
            )));
        }
        let shown_in_full = value
            .get("secrets_shown")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true);
        let mut entries = Vec::new();
        for list in ["findings", "suppressed"] {
            let Some(items) = value.get(list).and_then(serde_json::Value::as_array) else {
                return Err(not_report(&format!("`{list}` is not a list")));
            };
            for f in items {
                let field = |k: &str| f.get(k).and_then(serde_json::Value::as_str);
                let (Some(fp), Some(rule)) = (field("fingerprint"), field("rule_id")) else {
                    return Err(not_report("a finding without fingerprint or rule_id"));
                };
                let key = field("key").unwrap_or("");
                let redacted = if shown_in_full {
                    // Keys are ASCII; never copy one in full into the baseline.
                    format!("…{}", &key[key.len().saturating_sub(4)..])
                } else {
                    key.to_string()
                };
                entries.push(BaselineEntry {
                    fingerprint: Fingerprint(fp.to_string()),
                    rule_id: crate::sanitize::text(rule),
                    redacted: crate::sanitize::hide_keys_in(&crate::sanitize::text(&redacted)),
                    note: None,
                });
            }
        }
        Baseline {
            version: BASELINE_VERSION,
            entries,
        }
        .check_and_sort(shown)
    }

    /// Checks every fingerprint's form, then sorts and dedups the entries by it.
    fn check_and_sort(mut self, shown: &str) -> Result<Baseline, UsageError> {
        for entry in &self.entries {
            let ok = entry
                .fingerprint
                .0
                .strip_prefix(crate::finding::FINGERPRINT_SCHEME)
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
            if !ok {
                return Err(UsageError(format!(
                    "baseline file {shown} holds a malformed fingerprint; expected {}:<64 hex digits>",
                    crate::finding::FINGERPRINT_SCHEME
                )));
            }
        }
        self.entries
            .sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        self.entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        Ok(self)
    }

    /// A baseline of `findings` (without notes: [`Baseline::merged`] keeps those of a previous
    /// baseline).
    #[must_use]
    pub fn of(findings: &[&Finding], rules: &[Rule]) -> Baseline {
        let mut entries: Vec<BaselineEntry> = findings
            .iter()
            .map(|f| BaselineEntry {
                fingerprint: f.fingerprint.clone(),
                rule_id: rules[f.rule].id.clone(),
                redacted: f.secret.redacted(rules[f.rule].prefix.len()),
                note: None,
            })
            .collect();
        entries.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        Baseline {
            version: BASELINE_VERSION,
            entries,
        }
    }

    /// These entries with the notes `previous` has for the same keys, and with `keep_all` every
    /// other entry of `previous` too.
    #[must_use]
    pub fn merged(mut self, previous: Option<&Baseline>, keep_all: bool) -> Baseline {
        if let Some(prev) = previous {
            for e in &mut self.entries {
                if e.note.is_none() {
                    e.note = prev.entry(&e.fingerprint).and_then(|p| p.note.clone());
                }
            }
            if keep_all {
                self.entries.extend(prev.entries.iter().cloned());
            }
        }
        self.entries
            .sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        self.entries.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        self
    }

    /// The entry for `fp`, if the baseline lists it.
    fn entry(&self, fp: &Fingerprint) -> Option<&BaselineEntry> {
        // Entries are sorted by `load` and `of`.
        self.entries
            .binary_search_by(|e| e.fingerprint.cmp(fp))
            .ok()
            .map(|i| &self.entries[i])
    }
}

/// Why a finding is hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Its fingerprint is in the baseline (with the entry's note).
    Baseline(Option<String>),
    /// Its locations carry `nmleaks:allow`.
    Inline,
    /// The config file's `allow` lists its fingerprint (a known test key).
    Allowed,
    /// Its locations are in paths `--exclude` (or the config's `exclude`) names, or outside
    /// every `--include`.
    Excluded,
}

impl Reason {
    /// `baseline`, `inline`, `config-allow` or `excluded`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Baseline(_) => "baseline",
            Reason::Inline => "inline",
            Reason::Allowed => "config-allow",
            Reason::Excluded => "excluded",
        }
    }
}

/// What the user and the repository's config hide, besides inline comments: applied by
/// [`apply`], after verification, so that none of it hides a key verified live.
#[derive(Default)]
pub struct Hiding<'a> {
    /// The baseline.
    pub baseline: Option<&'a Baseline>,
    /// Fingerprint prefixes (8 hex digits or more) or whole fingerprints of allowed keys.
    pub allow: &'a [String],
    /// Whether a location's path is excluded (`--exclude`, `--include`, the config's).
    pub excluded: Option<&'a dyn Fn(&crate::finding::Location) -> bool>,
}

impl std::fmt::Debug for Hiding<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hiding")
            .field("baseline", &self.baseline.map(|b| b.entries.len()))
            .field("allow", &self.allow.len())
            .field("excluded", &self.excluded.is_some())
            .finish()
    }
}

impl Hiding<'_> {
    fn allows(&self, fp: &Fingerprint) -> bool {
        self.allow.iter().any(|a| fp.has_prefix(a))
    }
}

/// A hidden finding (or the hidden locations of one).
#[derive(Debug, Clone)]
pub struct Suppressed {
    /// The key and the hidden locations.
    pub finding: Finding,
    /// Why.
    pub reason: Reason,
}

/// Findings split by suppression.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Reported and counted for the exit code.
    pub active: Vec<Finding>,
    /// Hidden; shown as dismissed in SARIF, with the reason in JSON, as a count in text.
    pub suppressed: Vec<Suppressed>,
}

/// Splits `findings`: a baseline match or a config `allow` hides the whole key; an exclude
/// hides the locations in excluded paths, and an inline allow its own location, the key
/// staying active wherever else it appears. A key verified live is never hidden: it stays
/// active with a note of the suppression that was overridden.
#[must_use]
pub fn apply(findings: Vec<Finding>, hiding: &Hiding<'_>) -> Outcome {
    let mut out = Outcome::default();
    for mut f in findings {
        let listed = hiding
            .baseline
            .is_some_and(|b| b.entry(&f.fingerprint).is_some());
        let allowed = hiding.allows(&f.fingerprint);
        let is_excluded = |l: &crate::finding::Location| hiding.excluded.is_some_and(|x| x(l));
        if f.status().is_some_and(crate::verdict::Status::is_live) {
            f.suppression_overridden = if listed {
                Some("baseline")
            } else if allowed {
                Some("config-allow")
            } else if f.locations.iter().any(&is_excluded) {
                Some("excluded")
            } else if f.locations.iter().any(|l| l.inline_allow) {
                Some("inline")
            } else {
                None
            };
            out.active.push(f);
            continue;
        }
        if let Some(entry) = hiding.baseline.and_then(|b| b.entry(&f.fingerprint)) {
            out.suppressed.push(Suppressed {
                reason: Reason::Baseline(entry.note.clone()),
                finding: f,
            });
            continue;
        }
        if allowed {
            out.suppressed.push(Suppressed {
                reason: Reason::Allowed,
                finding: f,
            });
            continue;
        }
        // The collector lists up to its limit of each kind, so a kind with places unlisted
        // always has places listed too.
        let unlisted = f.unlisted;
        let (excluded, rest): (Vec<_>, Vec<_>) = f.locations.drain(..).partition(&is_excluded);
        if !excluded.is_empty() {
            out.suppressed.push(Suppressed {
                finding: Finding {
                    locations: excluded,
                    unlisted: Unlisted::default(),
                    ..f.clone()
                },
                reason: Reason::Excluded,
            });
        }
        let (allowed, kept): (Vec<_>, Vec<_>) = rest.into_iter().partition(|l| l.inline_allow);
        if !allowed.is_empty() {
            out.suppressed.push(Suppressed {
                finding: Finding {
                    locations: allowed,
                    unlisted: Unlisted {
                        plain: 0,
                        allowed: unlisted.allowed,
                    },
                    ..f.clone()
                },
                reason: Reason::Inline,
            });
        }
        if !kept.is_empty() {
            f.locations = kept;
            f.unlisted = Unlisted {
                plain: unlisted.plain,
                allowed: 0,
            };
            out.active.push(f);
        }
    }
    out
}
