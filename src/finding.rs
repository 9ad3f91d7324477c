//! Findings: one distinct key with every place that holds it.
//!
//! This module owns the key's identity (a versioned SHA-256 fingerprint, never the key), its
//! redacted display, locations (path, line, column, byte offset, origin), and the grouping of
//! matches by key into a deterministic, sorted list. The key itself lives in [`Secret`], whose
//! `Debug` is redacted, so that no log, panic or error message can print it by accident.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The fingerprint scheme; bump the version if the hashing ever changes.
pub const FINGERPRINT_SCHEME: &str = "nmleaks/key-sha256/v1";

/// A key found in the input. Only [`Secret::expose`] returns it in full.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a key.
    #[must_use]
    pub fn new(key: &str) -> Secret {
        Secret(key.into())
    }

    /// The full key. Call only to print with `--show-secrets` or to send to the vendor's API.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `nm_live_…h7Qz`: the prefix, an ellipsis and the last four characters of the body.
    #[must_use]
    pub fn redacted(&self, prefix_len: usize) -> String {
        let key = &*self.0;
        let prefix_len = prefix_len.min(key.len());
        let body = &key[prefix_len..];
        let tail_start = body.len().saturating_sub(4);
        // Show no more than a quarter of a short body.
        let tail = if body.len() >= 16 {
            &body[tail_start..]
        } else {
            ""
        };
        format!("{}…{}", &key[..prefix_len], tail)
    }

    /// The stable fingerprint, `nmleaks/key-sha256/v1:<hex>`.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key: the prefix (up to the second '_') and the length.
        let shown = self.0.match_indices('_').nth(1).map_or(0, |(i, _)| i + 1);
        write!(f, "Secret({}…, {} chars)", &self.0[..shown], self.0.len())
    }
}

/// A key's identity: SHA-256 of the key bytes, hex, behind the scheme name.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fingerprint(pub String);

impl Fingerprint {
    /// The fingerprint of `key`.
    #[must_use]
    pub fn of(key: &str) -> Fingerprint {
        let digest = Sha256::digest(key.as_bytes());
        let mut s = String::with_capacity(FINGERPRINT_SCHEME.len() + 65);
        s.push_str(FINGERPRINT_SCHEME);
        s.push(':');
        for b in digest {
            use fmt::Write;
            let _ = write!(s, "{b:02x}");
        }
        Fingerprint(s)
    }

    /// The hex digest without the scheme.
    #[must_use]
    pub fn hex(&self) -> &str {
        self.0.rsplit(':').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a location's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// A file on disk (relative paths are relative to the current directory).
    File(PathBuf),
    /// Standard input.
    Stdin,
    /// A file in a git commit, or a commit's message (`path` is `None` for a message).
    Git(GitOrigin),
}

/// A place in git history.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GitOrigin {
    /// Commit time, seconds since the epoch (sorts history oldest first).
    pub time: i64,
    /// The commit id, hex.
    pub commit: String,
    /// The path in the commit; `None` for the commit message.
    pub path: Option<String>,
    /// The commit's author name.
    pub author: String,
    /// The commit's author email.
    pub email: String,
    /// The staged index (`git --staged`) rather than a commit.
    pub staged: bool,
    /// What kind of git object holds the key.
    pub kind: GitKind,
}

/// What kind of git object a [`GitOrigin`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GitKind {
    /// A file at `path` in the tree of commit `commit` (or in the index when `staged`).
    File,
    /// The message of commit `commit`; `path` is `None`.
    CommitMessage,
    /// The message of the annotated tag whose object id is in `commit`; `path` is `None`.
    TagMessage,
    /// A blob that no commit's tree holds: dangling (`--all-objects`) or named by a tag
    /// directly. `commit` holds the blob's own id, `path` the tag's name if a tag names it.
    Blob,
    /// A blob that holds a key but that no walk of a damaged history reached: a commit that
    /// could not be read may hold it, so where it is is unknown. `commit` holds the blob's id.
    Unplaced,
}

impl GitKind {
    /// The name used in machine outputs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GitKind::File => "file",
            GitKind::CommitMessage => "commit-message",
            GitKind::TagMessage => "tag-message",
            GitKind::Blob => "blob",
            GitKind::Unplaced => "location-unknown",
        }
    }
}

/// Where a key came from in history, for `nmleaks git` without `--staged` or `--range`.
///
/// In the JSON report this is the `provenance` object of a finding:
/// - `first_commit`: the oldest commit, in topological order, that holds the key in its tree or
///   message (the commit that introduced it); `null` if only objects no commit reaches hold it.
/// - `first_commit_time`: that commit's time, seconds since the epoch (`null` with it).
/// - `commits`: how many scanned commits hold the key in their tree or message.
/// - `at_head`: whether HEAD's commit still holds it (tree or message).
/// - `pushed`: whether any commit that holds it (not only the first) is reachable from a
///   remote-tracking ref (`refs/remotes/…`): the key has left this machine, so revoke it.
///   `false` means only local refs (or nothing) reach the commits that hold it: rewriting
///   them before pushing still keeps it private.
/// - `history_damaged`: part of history could not be read (a missing or damaged commit, tree
///   or pack), so the walk may have missed commits that hold the key: the other fields are
///   what the readable history shows, and the key is treated as pushed in the advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The commit that introduced the key, hex.
    pub first_commit: Option<String>,
    /// That commit's time, seconds since the epoch.
    pub first_commit_time: Option<i64>,
    /// Commits whose tree or message holds the key.
    pub commits: u64,
    /// HEAD's commit holds the key.
    pub at_head: bool,
    /// A commit that holds the key is reachable from a remote-tracking ref.
    pub pushed: bool,
    /// Part of history could not be read: the walk may have missed commits.
    pub history_damaged: bool,
}

/// One place that holds a key. Its `Debug` shows the snippet's length, not its text: with
/// `--show-secrets` the snippet holds the key in full.
#[derive(Clone, PartialEq, Eq)]
pub struct Location {
    /// Where the bytes came from.
    pub origin: Origin,
    /// 1-based line.
    pub line: u64,
    /// 1-based column in characters (Unicode scalar values).
    pub column: u64,
    /// 1-based column in UTF-16 code units (SARIF's default).
    pub column_utf16: u64,
    /// Byte offset of the key's first byte.
    pub offset: u64,
    /// Length of the key in bytes (keys are ASCII, so also in characters).
    pub len: u64,
    /// The input looked binary: show the offset, no snippet.
    pub binary: bool,
    /// The line around the key with every key on it redacted (or in full with
    /// `--show-secrets`); `None` for binary input.
    pub snippet: Option<String>,
    /// The key's line carries an inline `nmleaks:allow` comment.
    pub inline_allow: bool,
    /// GitHub's `primaryLocationLineHash` for the key's line, when the scanned bytes were at
    /// hand (blobs from git); for files on disk the SARIF writer computes it from the file.
    pub line_hash: Option<String>,
}

/// Stands in for a text in `Debug` output: `<N chars>`.
struct Length(usize);

impl fmt::Debug for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} chars>", self.0)
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("origin", &self.origin)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("column_utf16", &self.column_utf16)
            .field("offset", &self.offset)
            .field("len", &self.len)
            .field("binary", &self.binary)
            .field(
                "snippet",
                &self.snippet.as_ref().map(|s| Length(s.chars().count())),
            )
            .field("inline_allow", &self.inline_allow)
            .field("line_hash", &self.line_hash)
            .finish()
    }
}

impl Location {
    /// The display path: a file path, `<stdin>`, or `commit:path` for history.
    #[must_use]
    pub fn display_path(&self) -> String {
        match &self.origin {
            Origin::File(p) => crate::sanitize::path(p),
            Origin::Stdin => "<stdin>".to_string(),
            Origin::Git(g) => match (g.kind, &g.path) {
                (GitKind::File, Some(p)) if g.staged => crate::sanitize::text(p),
                (GitKind::File, Some(p)) => {
                    format!("{}:{}", short_id(&g.commit), crate::sanitize::text(p))
                }
                (GitKind::TagMessage, _) => format!("{} (tag message)", short_id(&g.commit)),
                (GitKind::Blob, Some(tag)) => format!(
                    "{} (blob named by tag {})",
                    short_id(&g.commit),
                    crate::sanitize::text(tag)
                ),
                (GitKind::Blob, None) => format!("{} (unreachable blob)", short_id(&g.commit)),
                (GitKind::Unplaced, _) => format!(
                    "{} (blob; location unknown: history is damaged)",
                    short_id(&g.commit)
                ),
                (GitKind::File | GitKind::CommitMessage, _) => {
                    format!("{} (commit message)", short_id(&g.commit))
                }
            },
        }
    }

    fn sort_key(&self) -> (&Origin, u64) {
        (&self.origin, self.offset)
    }
}

/// The first 12 hex digits of an object id.
#[must_use]
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// One distinct key and all its locations, sorted.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The key's identity.
    pub fingerprint: Fingerprint,
    /// Index of the rule in the matcher's rules.
    pub rule: usize,
    /// The key (redacted in every output unless `--show-secrets`).
    pub secret: Secret,
    /// Every place, sorted by origin then offset.
    pub locations: Vec<Location>,
    /// What the Nomotic API said about the key; `None` unless `--verify` ran.
    pub verification: Option<crate::verify::Verification>,
    /// The baseline or an allow comment would hide this key, but it was verified live, so it
    /// is reported anyway: `baseline` or `inline`.
    pub suppression_overridden: Option<&'static str>,
    /// Where the key came from in history (full `nmleaks git` audits only).
    pub provenance: Option<Provenance>,
}

impl Finding {
    /// The verification status, if the key was verified: what reporters and policies read.
    #[must_use]
    pub fn status(&self) -> Option<crate::verify::Status> {
        self.verification.as_ref().map(|v| v.status)
    }
}

/// One match on its way to the collector.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Index of the rule in the matcher's rules.
    pub rule: usize,
    /// The key.
    pub secret: Secret,
    /// Where it is.
    pub location: Location,
}

/// Groups hits by key. Feed it in any order; [`Collector::finish`] sorts.
#[derive(Debug, Default)]
pub struct Collector {
    by_key: BTreeMap<Secret, Finding>,
    provenance: BTreeMap<Secret, Provenance>,
}

impl Collector {
    /// An empty collector.
    #[must_use]
    pub fn new() -> Collector {
        Collector::default()
    }

    /// Adds one hit.
    pub fn add(&mut self, hit: Hit) {
        let Hit {
            rule,
            secret,
            location,
        } = hit;
        self.by_key
            .entry(secret)
            .or_insert_with_key(|s| Finding {
                fingerprint: s.fingerprint(),
                rule,
                secret: s.clone(),
                locations: Vec::new(),
                verification: None,
                suppression_overridden: None,
                provenance: None,
            })
            .locations
            .push(location);
    }

    /// Records where a key came from; kept only if some hit holds the key.
    pub fn set_provenance(&mut self, secret: Secret, provenance: Provenance) {
        self.provenance.insert(secret, provenance);
    }

    /// How many distinct keys so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no key was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The findings: locations sorted and deduplicated, findings ordered by their first
    /// location, then fingerprint. The order depends only on the input, never on threads.
    #[must_use]
    pub fn finish(mut self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .by_key
            .into_iter()
            .map(|(secret, mut f)| {
                f.provenance = self.provenance.remove(&secret);
                f.locations.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
                f.locations.dedup_by(|a, b| a.sort_key() == b.sort_key());
                f
            })
            .collect();
        out.sort_by(|a, b| {
            let ka = a.locations.first().map(Location::sort_key);
            let kb = b.locations.first().map(Location::sort_key);
            ka.cmp(&kb).then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::Rng;

    #[test]
    fn redaction_keeps_prefix_and_last_four() {
        let key = Rng::new(1).live_key();
        let s = Secret::new(&key);
        let r = s.redacted("nm_live_".len());
        assert_eq!(r, format!("nm_live_…{}", &key[key.len() - 4..]));
        assert!(!r.contains(&key[8..20]));
    }

    /// Every 12-character window of the key's body: none may appear in a `Debug`.
    fn assert_hidden(dbg: &str, key: &str) {
        let body = &key[8..];
        for i in 0..=body.len() - 12 {
            assert!(
                !dbg.contains(&body[i..i + 12]),
                "Debug shows the key: {dbg}"
            );
        }
    }

    #[test]
    fn debug_of_every_type_holding_a_key_hides_it_even_in_a_full_snippet() {
        let key = Rng::new(5).live_key();
        let secret = Secret::new(&key);
        let location = Location {
            origin: Origin::File(PathBuf::from("a.env")),
            line: 3,
            column: 5,
            column_utf16: 5,
            offset: 40,
            len: 40,
            binary: false,
            // What `--show-secrets` puts in a snippet.
            snippet: Some(format!("KEY={key}")),
            inline_allow: false,
            line_hash: None,
        };
        let hit = Hit {
            rule: 0,
            secret: secret.clone(),
            location: location.clone(),
        };
        let mut collector = Collector::new();
        collector.add(hit.clone());
        let findings = collector.finish();
        let outcome = crate::suppress::apply(findings.clone(), None);
        for dbg in [
            format!("{secret:?}"),
            format!("{location:?}"),
            format!("{hit:?}"),
            format!("{findings:?}"),
            format!("{findings:#?}"),
            format!("{outcome:?}"),
            format!("{:?}", crate::source::Event::Hits(vec![hit.clone()])),
        ] {
            assert_hidden(&dbg, &key);
        }
        assert!(format!("{location:?}").contains("snippet: Some(<44 chars>)"));
    }

    #[test]
    fn debug_never_prints_the_key() {
        let key = Rng::new(2).live_key();
        let dbg = format!(
            "{:?}",
            Hit {
                rule: 0,
                secret: Secret::new(&key),
                location: Location {
                    origin: Origin::Stdin,
                    line: 1,
                    column: 1,
                    column_utf16: 1,
                    offset: 0,
                    len: 40,
                    binary: false,
                    snippet: None,
                    inline_allow: false,
                    line_hash: None,
                },
            }
        );
        assert!(!dbg.contains(&key[8..]), "{dbg}");
        assert!(dbg.contains("nm_live_…"));
    }

    #[test]
    fn fingerprint_is_versioned_sha256() {
        // SHA-256 of "abc" is a published test vector (FIPS 180-2).
        assert_eq!(
            Fingerprint::of("abc").0,
            "nmleaks/key-sha256/v1:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
