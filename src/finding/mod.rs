//! Findings: one distinct key with every place that holds it.
//!
//! This module owns the key's identity (a versioned SHA-256 fingerprint, never the key), its
//! redacted display, locations (path, line, column, byte offset, origin), and the grouping of
//! matches by key into a deterministic, sorted list within bounds (`collect.rs`: the
//! [`Collector`] and its [`Limits`]). The key itself lives in [`Secret`], whose
//! `Debug` is redacted, so that no log, panic or error message can print it by accident.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

mod collect;

pub use collect::{Collector, DROPPED_COUNTED, LOCATION_BUDGET, Limits, Overflow, compact_hits};

/// The schema version of the JSON report (`report::json`), which `--baseline` also reads.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The fingerprint scheme; bump the version if the hashing ever changes.
pub const FINGERPRINT_SCHEME: &str = "nmleaks/key-sha256/v1";

/// A key found in the input. Only [`Secret::expose`] returns it in full.
///
/// A finding read back from a stored audit result or a JSON report has no key at hand, only
/// its redacted form ([`Secret::from_redacted`]): such a secret is never sent anywhere
/// ([`Secret::is_known`] says which), and shows that form whatever is asked.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Secret {
    text: Box<str>,
    redacted_only: bool,
}

impl Secret {
    /// Wraps a key.
    #[must_use]
    pub fn new(key: &str) -> Secret {
        Secret {
            text: key.into(),
            redacted_only: false,
        }
    }

    /// A key known only by its redacted form (`nm_live_…h7Qz`), as a report shows it.
    #[must_use]
    pub fn from_redacted(shown: &str) -> Secret {
        Secret {
            text: shown.into(),
            redacted_only: true,
        }
    }

    /// Whether the key itself is at hand (else only its redacted form is).
    #[must_use]
    pub fn is_known(&self) -> bool {
        !self.redacted_only
    }

    /// The full key (the redacted form when only that is known). Call only to print with
    /// `--show-secrets` or to send to the vendor's API.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `nm_live_…h7Qz`: the prefix, an ellipsis and the last four characters of the body.
    ///
    /// Works on characters, never on byte offsets into the key: a custom rule's key may hold
    /// multibyte characters (`mbk_…€€`), and slicing inside one would panic with the key in
    /// the panic message.
    #[must_use]
    pub fn redacted(&self, prefix_len: usize) -> String {
        if self.redacted_only {
            return self.text.to_string();
        }
        crate::sanitize::redact_key(&self.text, prefix_len)
    }

    /// The stable fingerprint, `nmleaks/key-sha256/v1:<hex>`. Only for a known key: a
    /// finding read back keeps the fingerprint it was stored with.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.text)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.redacted_only {
            return write!(f, "Secret(redacted {})", self.text);
        }
        // Never the key: the prefix (up to the second '_') and the length.
        let shown = self
            .text
            .match_indices('_')
            .nth(1)
            .map_or(0, |(i, _)| i + 1);
        write!(
            f,
            "Secret({}…, {} chars)",
            &self.text[..shown],
            self.text.len()
        )
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
        Fingerprint::from_digest(&Fingerprint::digest(key))
    }

    /// The SHA-256 of `key`: the fingerprint's value, as bytes.
    #[must_use]
    pub fn digest(key: &str) -> [u8; 32] {
        Sha256::digest(key.as_bytes()).into()
    }

    /// The fingerprint whose value is `digest`.
    #[must_use]
    pub fn from_digest(digest: &[u8; 32]) -> Fingerprint {
        Fingerprint(format!("{FINGERPRINT_SCHEME}:{}", hex(digest)))
    }

    /// The hex digest without the scheme.
    #[must_use]
    pub fn hex(&self) -> &str {
        self.0.rsplit(':').next().unwrap_or(&self.0)
    }

    /// Whether `prefix` names this fingerprint: 8 to 64 hex digits (either case) that its hex
    /// digest starts with, optionally after the scheme (`nmleaks/key-sha256/v1:`), as
    /// `nmleaks:allow:` and the config file's `allow` take them.
    #[must_use]
    pub fn has_prefix(&self, prefix: &str) -> bool {
        let p = strip_scheme(prefix);
        is_prefix_form(p) && self.hex().starts_with(&p.to_ascii_lowercase())
    }
}

/// `prefix` without a leading `nmleaks/key-sha256/v1:`.
fn strip_scheme(prefix: &str) -> &str {
    prefix
        .strip_prefix(FINGERPRINT_SCHEME)
        .map_or(prefix, |r| r.trim_start_matches(':'))
}

/// Whether `prefix` (with or without the scheme) has the form of a fingerprint prefix: 8 to
/// 64 hex digits.
#[must_use]
pub fn is_prefix_form(prefix: &str) -> bool {
    let p = strip_scheme(prefix);
    (8..=64).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `bytes` as lower-case hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a location's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Origin {
    /// A file on disk (relative paths are relative to the current directory).
    File(PathBuf),
    /// Standard input.
    Stdin,
    /// Not known yet: a blob's hits while its source works out where the blob is (a git blob
    /// before the walk finds its commits and paths). A source replaces it before the hits
    /// reach the collector; a report shows `<location not yet mapped>` should one slip through.
    Pending,
    /// A file in a git commit, or a commit's message (`path` is `None` for a message).
    Git(GitOrigin),
}

/// A place in git history.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct GitOrigin {
    /// The repository that holds the commit, as the user named it (a URL without its
    /// credentials, or a path): set by `nmleaks audit`, which reports many repositories at
    /// once; `None` for a single repository's scan. First, so that an audit's places sort by
    /// repository.
    pub repo: Option<Arc<str>>,
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
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
    /// A ref (branch, tag, remote-tracking branch…) whose name holds a key: `path` is the
    /// ref's name (redacted), `commit` what it points at (empty if nothing).
    Ref,
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
            GitKind::Ref => "ref",
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Which part of an origin holds a key: its content, or one of the names around it. A key in a
/// name is a finding like any other (a file named after a key publishes the key as surely as
/// its content would), and the name is shown redacted wherever it is printed.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum Part {
    /// The bytes of the file, blob or message.
    #[default]
    Content,
    /// The file's path: a file or directory name (offsets and columns count in the path).
    Path,
    /// A commit's author or committer, or a tag's tagger: name or email.
    Author,
    /// A ref's name: a branch, tag or other ref.
    RefName,
}

impl Part {
    /// The name used in machine outputs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Content => "content",
            Part::Path => "path",
            Part::Author => "author",
            Part::RefName => "ref-name",
        }
    }

    /// How a report says where the key is, for names: `in the file name`.
    #[must_use]
    pub fn phrase(self) -> Option<&'static str> {
        match self {
            Part::Content => None,
            Part::Path => Some("in the path"),
            Part::Author => Some("in the author"),
            Part::RefName => Some("in the ref name"),
        }
    }
}

/// One place that holds a key. Its `Debug` shows the snippet's length, not its text: with
/// `--show-secrets` the snippet holds the key in full.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// Where the bytes came from.
    pub origin: Origin,
    /// Which part of the origin holds the key (its content unless a name does).
    pub part: Part,
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
    /// The key's line carries a bare `nmleaks:allow` that hides nothing, because the line
    /// holds more than one key (each must then be named by its fingerprint prefix).
    pub allow_ambiguous: bool,
    /// GitHub's `primaryLocationLineHash` for the key's line, when the scanned bytes were at
    /// hand (blobs from git); for files on disk the SARIF writer computes it from the file.
    pub line_hash: Option<String>,
    /// The key was found inside the origin's bytes: in an archive member, a decompressed
    /// stream or encoded text. Line, column and offset then count in the innermost bytes
    /// that hold the text (the member; for encoded text, the text that holds the encoding).
    pub inner: Option<Arc<Inner>>,
}

/// One wrapping a key was found inside.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Layer {
    /// A gzip stream.
    Gzip,
    /// A bzip2 stream.
    Bzip2,
    /// An xz stream.
    Xz,
    /// A zstd stream.
    Zstd,
    /// A tar archive.
    Tar,
    /// A zip archive (and what is built on it: jar, docx, whl…).
    Zip,
    /// Base64 text (standard or URL-safe alphabet).
    Base64,
    /// Hexadecimal text.
    Hex,
}

impl Layer {
    /// The name reports use: `gzip`, `tar`, `base64`…
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Layer::Gzip => "gzip",
            Layer::Bzip2 => "bzip2",
            Layer::Xz => "xz",
            Layer::Zstd => "zstd",
            Layer::Tar => "tar",
            Layer::Zip => "zip",
            Layer::Base64 => "base64",
            Layer::Hex => "hex",
        }
    }
}

/// Where inside its origin a key was found.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Inner {
    /// The member's path inside the archive; the paths of nested archives' members are joined
    /// with `!` (`inner.zip!app/.env`). `None` when no archive holds the key (a compressed file,
    /// encoded text).
    pub member: Option<String>,
    /// The wrappings from the outside in (`gzip`, `tar`, `base64`).
    pub chain: Vec<Layer>,
}

impl Inner {
    /// `gzip > tar > base64`.
    #[must_use]
    pub fn chain_text(&self) -> String {
        let names: Vec<&str> = self.chain.iter().map(|l| l.name()).collect();
        names.join(" > ")
    }

    /// The same place one wrapping deeper.
    #[must_use]
    pub fn wrapped(&self, layer: Layer) -> Inner {
        let mut inner = self.clone();
        inner.chain.push(layer);
        inner
    }

    /// The same place inside member `path` of the archive it names last.
    #[must_use]
    pub fn member(&self, path: &str) -> Inner {
        let member = match &self.member {
            Some(outer) => format!("{outer}!{path}"),
            None => path.to_string(),
        };
        Inner {
            member: Some(member),
            chain: self.chain.clone(),
        }
    }
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
            .field("part", &self.part)
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
            .field("allow_ambiguous", &self.allow_ambiguous)
            .field("line_hash", &self.line_hash)
            .field("inner", &self.inner.as_ref().map(|i| i.chain_text()))
            .finish()
    }
}

impl Location {
    /// The display path: a file path, `<stdin>`, or `commit:path` for history, then
    /// `!member` for a key inside an archive (`release/app.tar.gz!app/.env`).
    #[must_use]
    pub fn display_path(&self) -> String {
        let outer = self.outer_path();
        match self.inner.as_ref().and_then(|i| i.member.as_deref()) {
            Some(member) => format!("{outer}!{}", crate::sanitize::text(member)),
            None => outer,
        }
    }

    /// How the key was wrapped, `gzip > tar > base64`, if it was.
    #[must_use]
    pub fn wrapping(&self) -> Option<String> {
        self.inner
            .as_ref()
            .filter(|i| !i.chain.is_empty())
            .map(|i| i.chain_text())
    }

    /// The display path of the origin itself, without any archive member; in an audit of
    /// many repositories, after the repository's name.
    fn outer_path(&self) -> String {
        match &self.origin {
            Origin::Git(g) if g.repo.is_some() => format!(
                "{} {}",
                crate::sanitize::text(g.repo.as_deref().unwrap_or_default()),
                origin_path(&self.origin, self.part)
            ),
            origin => origin_path(origin, self.part),
        }
    }

    pub(crate) fn sort_key(&self) -> (&Origin, Part, Option<&Inner>, u64) {
        (&self.origin, self.part, self.inner.as_deref(), self.offset)
    }
}

/// The display path of an origin, its repository aside.
fn origin_path(origin: &Origin, part: Part) -> String {
    match origin {
        Origin::File(p) => crate::sanitize::path(p),
        Origin::Stdin => "<stdin>".to_string(),
        Origin::Pending => "<location not yet mapped>".to_string(),
        Origin::Git(g) if part == Part::Author => {
            let who = if g.kind == GitKind::TagMessage {
                "tagger"
            } else {
                "author or committer"
            };
            format!("{} ({who})", short_id(&g.commit))
        }
        Origin::Git(g) => match (g.kind, &g.path) {
            (GitKind::Ref, p) => format!(
                "{} (ref)",
                crate::sanitize::text(p.as_deref().unwrap_or_default())
            ),
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

/// The first 12 hex digits of an object id.
#[must_use]
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Places of a key that a report counts but does not list: beyond `--max-locations`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unlisted {
    /// Places without an inline allow comment.
    pub plain: u64,
    /// Places whose line carries `nmleaks:allow`.
    pub allowed: u64,
}

impl Unlisted {
    /// Both counts added.
    #[must_use]
    pub fn total(self) -> u64 {
        self.plain + self.allowed
    }
}

/// One distinct key and its locations, sorted.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The key's identity.
    pub fingerprint: Fingerprint,
    /// Index of the rule in the matcher's rules.
    pub rule: usize,
    /// The key (redacted in every output unless `--show-secrets`).
    pub secret: Secret,
    /// The places listed, sorted by origin then offset: every place, or the first
    /// `--max-locations` with and without an allow comment when there are more.
    pub locations: Vec<Location>,
    /// Places counted but not listed (see [`Finding::location_count`]).
    pub unlisted: Unlisted,
    /// What the Nomotic API said about the key; `None` unless `--verify` ran.
    pub verification: Option<crate::verdict::Verification>,
    /// The baseline or an allow comment would hide this key, but it was verified live, so it
    /// is reported anyway: `baseline` or `inline`.
    pub suppression_overridden: Option<&'static str>,
    /// Where the key came from in history (full `nmleaks git` audits only). For
    /// `nmleaks audit`, over every repository that holds the key (see [`Finding::exposure`]).
    pub provenance: Option<Provenance>,
    /// `nmleaks audit`: each repository that holds the key, with its own provenance; empty
    /// for a single repository's scan.
    pub exposure: Vec<Exposure>,
}

/// One repository that holds a key, in an audit of many (`nmleaks audit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// The repository, as [`GitOrigin::repo`] names it.
    pub repository: Arc<str>,
    /// Whether the repository is public, when its host said (the GitHub API's visibility);
    /// `None` when nothing said (a URL or a path given by hand).
    pub public: Option<bool>,
    /// The key's provenance in this repository alone. Its `first_commit_time` is the start
    /// of the exposure window: the repository's remote refs reach every commit audited, so
    /// the key has been there since that commit was pushed (at the earliest, its time).
    pub provenance: Provenance,
}

impl Finding {
    /// The verification status, if the key was verified: what reporters and policies read.
    #[must_use]
    pub fn status(&self) -> Option<crate::verdict::Status> {
        self.verification.as_ref().map(|v| v.status)
    }

    /// Every place that holds the key, listed or not.
    #[must_use]
    pub fn location_count(&self) -> u64 {
        self.locations.len() as u64 + self.unlisted.total()
    }

    /// Sorts and deduplicates the locations, then keeps the first `max` with and the first
    /// `max` without an allow comment, counting the rest in [`Finding::unlisted`]. Which
    /// places are kept depends only on the input, never on the order they arrived in.
    pub(crate) fn compact(&mut self, max: usize) {
        self.locations
            .sort_by(|a, b| (a.inline_allow, a.sort_key()).cmp(&(b.inline_allow, b.sort_key())));
        self.locations.dedup_by(|a, b| a.sort_key() == b.sort_key());
        let allowed_from = self.locations.partition_point(|l| !l.inline_allow);
        let allowed = self.locations.len() - allowed_from;
        if allowed > max {
            self.unlisted.allowed += (allowed - max) as u64;
            self.locations.truncate(allowed_from + max);
        }
        if allowed_from > max {
            self.unlisted.plain += (allowed_from - max) as u64;
            self.locations.drain(max..allowed_from);
        }
        self.locations
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
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
    /// More places of the same key in the same blob, counted but not listed (a source that
    /// holds a blob's hits until it knows the blob's paths keeps them bounded this way).
    pub unlisted: Unlisted,
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
            part: Part::Content,
            line: 3,
            column: 5,
            column_utf16: 5,
            offset: 40,
            len: 40,
            binary: false,
            // What `--show-secrets` puts in a snippet.
            snippet: Some(format!("KEY={key}")),
            inline_allow: false,
            allow_ambiguous: false,
            line_hash: None,
            inner: None,
        };
        let hit = Hit {
            rule: 0,
            secret: secret.clone(),
            location: location.clone(),
            unlisted: Unlisted::default(),
        };
        let mut collector = Collector::new();
        collector.add(hit.clone());
        let (findings, _) = collector.finish();
        let outcome = crate::suppress::apply(findings.clone(), &crate::suppress::Hiding::default());
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
                    part: Part::Content,
                    line: 1,
                    column: 1,
                    column_utf16: 1,
                    offset: 0,
                    len: 40,
                    binary: false,
                    snippet: None,
                    inline_allow: false,
                    allow_ambiguous: false,
                    line_hash: None,
                    inner: None,
                },
                unlisted: Unlisted::default(),
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
