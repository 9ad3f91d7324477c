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
    ///
    /// Works on characters, never on byte offsets into the key: a custom rule's key may hold
    /// multibyte characters (`mbk_…€€`), and slicing inside one would panic with the key in
    /// the panic message.
    #[must_use]
    pub fn redacted(&self, prefix_len: usize) -> String {
        crate::sanitize::redact_key(&self.0, prefix_len)
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

/// Which part of an origin holds a key: its content, or one of the names around it. A key in a
/// name is a finding like any other (a file named after a key publishes the key as surely as
/// its content would), and the name is shown redacted wherever it is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Clone, PartialEq, Eq)]
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
            Origin::Git(g) if self.part == Part::Author => {
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

    fn sort_key(&self) -> (&Origin, Part, u64) {
        (&self.origin, self.part, self.offset)
    }
}

/// The first 12 hex digits of an object id.
#[must_use]
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Places of a key that a report counts but does not list: beyond `--max-locations`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    /// Where the key came from in history (full `nmleaks git` audits only).
    pub provenance: Option<Provenance>,
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
    fn compact(&mut self, max: usize) {
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

/// How much the collector holds, whatever the input: every count of places stays exact, but
/// only so many keys, and places per key, are kept to be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct keys listed (`--max-keys`); the keys with the smallest fingerprints are kept.
    pub max_keys: usize,
    /// Places listed per key, with and without an allow comment each (`--max-locations`).
    pub max_locations: usize,
}

impl Limits {
    /// Places listed in all: the per-key limit shrinks when many keys share this budget (to
    /// `budget / keys`, never below one place per key), so that memory stays bounded when
    /// every one of many keys is in many places.
    #[must_use]
    pub fn budget(self) -> usize {
        self.max_locations.max(LOCATION_BUDGET)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_keys: 25_000,
            max_locations: 1_000,
        }
    }
}

/// Places listed in all, at least: see [`Limits::budget`].
pub const LOCATION_BUDGET: usize = 50_000;

/// Distinct keys beyond `max_keys` counted exactly; past this many the count is a lower bound
/// (counting them all would cost memory for each).
pub const DROPPED_COUNTED: usize = 1_000_000;

/// What the collector could not keep: the report says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overflow {
    /// Distinct keys found but not listed (over `max_keys`).
    pub keys: u64,
    /// `keys` is a lower bound: more than [`DROPPED_COUNTED`] keys were left out.
    pub keys_at_least: bool,
    /// Places of those keys (exact).
    pub key_locations: u64,
    /// Keys listed with fewer places than they have.
    pub capped_keys: u64,
    /// The most places listed for one key: `max_locations`, or less when many keys share the
    /// budget.
    pub per_key: usize,
}

/// The first 16 bytes of a digest.
fn short(digest: &[u8; 32]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(b)
}

/// SHA-256 digests are uniformly random: their low 64 bits are a good hash already.
#[derive(Debug, Default, Clone, Copy)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// Bounds the hits of one blob that a source holds until it knows the blob's paths (git):
/// per key, the first `max_locations` places with and without an allow comment (by offset;
/// the rest counted in the last kept hit's [`Hit::unlisted`]), and at most `max_keys` keys,
/// those with the smallest fingerprints, as the collector would keep. Returns the keys left
/// out, as `(digest, places)`, for the collector to count ([`Collector::add_dropped`]).
#[must_use]
pub fn compact_hits(hits: &mut Vec<Hit>, limits: Limits) -> Vec<([u8; 32], u64)> {
    let max = limits.max_locations.max(1);
    let mut keyed: Vec<([u8; 32], Hit)> = hits
        .drain(..)
        .map(|h| (Fingerprint::digest(h.secret.expose()), h))
        .collect();
    keyed.sort_by(|(a, x), (b, y)| {
        (a, x.location.inline_allow, x.location.offset).cmp(&(
            b,
            y.location.inline_allow,
            y.location.offset,
        ))
    });
    let mut dropped = Vec::new();
    let mut keys = 0;
    let mut i = 0;
    while i < keyed.len() {
        let digest = keyed[i].0;
        let end = i + keyed[i..].iter().take_while(|(d, _)| *d == digest).count();
        keys += 1;
        if keys > limits.max_keys.max(1) {
            let places = keyed[i..end]
                .iter()
                .map(|(_, h)| 1 + h.unlisted.total())
                .sum();
            dropped.push((digest, places));
        } else {
            for allowed in [false, true] {
                let group: Vec<&Hit> = keyed[i..end]
                    .iter()
                    .map(|(_, h)| h)
                    .filter(|h| h.location.inline_allow == allowed)
                    .collect();
                let extra: u64 = group.iter().skip(max).map(|h| 1 + h.unlisted.total()).sum();
                let kept = group.len().min(max);
                for (n, h) in group.into_iter().take(kept).enumerate() {
                    let mut h = h.clone();
                    if n + 1 == kept && extra > 0 {
                        if allowed {
                            h.unlisted.allowed += extra;
                        } else {
                            h.unlisted.plain += extra;
                        }
                    }
                    hits.push(h);
                }
            }
        }
        i = end;
    }
    dropped
}

/// Groups hits by key. Feed it in any order; [`Collector::finish`] sorts.
///
/// Memory is bounded by [`Limits`], whatever the hit density: at most `max_keys` findings;
/// places held in all stay under about `3 × budget + 2 × max_keys` (each key is compacted to
/// its share of the budget as it grows, and all are when the total passes `3 × budget`); and
/// 16 bytes plus a hash set's overhead for each of at most [`DROPPED_COUNTED`] keys beyond
/// `max_keys`. Which keys and places are kept depends only on the input, never on the order
/// of arrival: the keys with the smallest fingerprints, and each key's first places in
/// report order.
#[derive(Debug, Default)]
pub struct Collector {
    limits: Limits,
    by_key: BTreeMap<[u8; 32], Finding>,
    /// Places held in `by_key`.
    held: usize,
    /// The first 16 bytes of the digests of keys evicted or refused (every one is larger than
    /// every key in `by_key`), to count them: up to [`DROPPED_COUNTED`].
    dropped: std::collections::HashSet<u128, std::hash::BuildHasherDefault<DigestHasher>>,
    dropped_more: bool,
    dropped_locations: u64,
    provenance: BTreeMap<Secret, Provenance>,
}

impl Collector {
    /// An empty collector with the default limits.
    #[must_use]
    pub fn new() -> Collector {
        Collector::default()
    }

    /// An empty collector holding at most what `limits` say.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Collector {
        Collector {
            limits: Limits {
                max_keys: limits.max_keys.max(1),
                max_locations: limits.max_locations.max(1),
            },
            ..Collector::default()
        }
    }

    /// Places listed per key now: `max_locations`, or the key's share of the budget.
    fn per_key(&self) -> usize {
        self.per_key_after(0)
    }

    /// [`Collector::per_key`] once `new` more keys are held.
    fn per_key_after(&self, new: usize) -> usize {
        let keys = (self.by_key.len() + new).max(1);
        (self.limits.budget() / keys).clamp(1, self.limits.max_locations)
    }

    fn drop_key(&mut self, digest: &[u8; 32], places: u64) {
        self.dropped_locations += places;
        if self.dropped.len() < DROPPED_COUNTED {
            self.dropped.insert(short(digest));
        } else if !self.dropped.contains(&short(digest)) {
            self.dropped_more = true;
        }
    }

    /// Adds one hit.
    pub fn add(&mut self, hit: Hit) {
        let Hit {
            rule,
            secret,
            location,
            unlisted,
        } = hit;
        let digest = Fingerprint::digest(secret.expose());
        if !self.by_key.contains_key(&digest) && self.by_key.len() >= self.limits.max_keys {
            let largest = self.by_key.last_key_value().map(|(k, _)| *k);
            if largest.is_some_and(|l| digest > l) {
                self.drop_key(&digest, 1 + unlisted.total());
                return;
            }
            if let Some((evicted, f)) = self.by_key.pop_last() {
                self.held -= f.locations.len();
                self.drop_key(&evicted, f.location_count());
            }
        }
        let per_key = self.per_key_after(usize::from(!self.by_key.contains_key(&digest)));
        let f = self.by_key.entry(digest).or_insert_with(|| Finding {
            fingerprint: Fingerprint::from_digest(&digest),
            rule,
            secret,
            // Most keys have one place: no room for more until a second one comes.
            locations: Vec::with_capacity(1),
            unlisted: Unlisted::default(),
            verification: None,
            suppression_overridden: None,
            provenance: None,
        });
        f.locations.push(location);
        f.unlisted.plain += unlisted.plain;
        f.unlisted.allowed += unlisted.allowed;
        self.held += 1;
        if f.locations.len() >= 4 * per_key {
            let before = f.locations.len();
            f.compact(per_key);
            self.held -= before - f.locations.len();
        }
        if self.held > 3 * self.limits.budget() {
            self.compact_all(per_key);
        }
    }

    fn compact_all(&mut self, per_key: usize) {
        self.held = 0;
        for f in self.by_key.values_mut() {
            f.compact(per_key);
            self.held += f.locations.len();
        }
    }

    /// Counts keys a source left out before they reached the collector
    /// ([`compact_hits`]): as keys not listed, with their places.
    pub fn add_dropped(&mut self, dropped: &[([u8; 32], u64)]) {
        for (digest, places) in dropped {
            if !self.by_key.contains_key(digest) {
                self.drop_key(digest, *places);
            }
        }
    }

    /// Records where a key came from; kept only if some hit holds the key.
    pub fn set_provenance(&mut self, secret: Secret, provenance: Provenance) {
        self.provenance.insert(secret, provenance);
    }

    /// How many distinct keys so far (listed or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key.len() + self.dropped.len()
    }

    /// Whether no key was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty() && self.dropped.is_empty()
    }

    /// The findings: locations sorted and deduplicated, findings ordered by their first
    /// location, then fingerprint. The order depends only on the input, never on threads.
    /// Also what did not fit the limits.
    #[must_use]
    pub fn finish(mut self) -> (Vec<Finding>, Overflow) {
        let per_key = self.per_key();
        let mut overflow = Overflow {
            keys: self.dropped.len() as u64,
            keys_at_least: self.dropped_more,
            key_locations: self.dropped_locations,
            capped_keys: 0,
            per_key,
        };
        let mut out: Vec<Finding> = self
            .by_key
            .into_values()
            .map(|mut f| {
                f.provenance = self.provenance.remove(&f.secret);
                f.compact(per_key);
                if f.unlisted.total() > 0 {
                    overflow.capped_keys += 1;
                }
                f
            })
            .collect();
        out.sort_by(|a, b| {
            let ka = a.locations.first().map(Location::sort_key);
            let kb = b.locations.first().map(Location::sort_key);
            ka.cmp(&kb).then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        (out, overflow)
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
            line_hash: None,
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
                    part: Part::Content,
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
                unlisted: Unlisted::default(),
            }
        );
        assert!(!dbg.contains(&key[8..]), "{dbg}");
        assert!(dbg.contains("nm_live_…"));
    }

    fn hit(key: &str, offset: u64, allowed: bool) -> Hit {
        Hit {
            rule: 0,
            secret: Secret::new(key),
            location: Location {
                origin: Origin::File(PathBuf::from("f")),
                part: Part::Content,
                line: offset + 1,
                column: 1,
                column_utf16: 1,
                offset,
                len: 40,
                binary: false,
                snippet: None,
                inline_allow: allowed,
                line_hash: None,
            },
            unlisted: Unlisted::default(),
        }
    }

    /// What a collector with `limits` keeps: (fingerprint, listed offsets, place count).
    fn kept(limits: Limits, hits: &[Hit]) -> (Vec<(String, Vec<u64>, u64)>, Overflow) {
        let mut c = Collector::with_limits(limits);
        for h in hits {
            c.add(h.clone());
        }
        let (findings, overflow) = c.finish();
        let out = findings
            .iter()
            .map(|f| {
                let offsets = f.locations.iter().map(|l| l.offset).collect();
                (f.fingerprint.0.clone(), offsets, f.location_count())
            })
            .collect();
        (out, overflow)
    }

    /// Regression for unbounded memory: a hit-dense input made the collector hold every
    /// place of every key. It now holds at most its limits, keeps exact counts, and keeps the
    /// same keys and places whatever order the hits arrive in.
    #[test]
    fn the_collector_is_bounded_exact_and_independent_of_arrival_order() {
        let mut rng = Rng::new(31);
        let keys: Vec<String> = (0..40).map(|_| rng.live_key()).collect();
        let mut hits = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            for j in 0..(i as u64 % 7 + 1) * 5 {
                hits.push(hit(k, j * 100 + i as u64, j % 3 == 0));
            }
        }
        let limits = Limits {
            max_keys: 10,
            max_locations: 4,
        };
        let (want, overflow) = kept(limits, &hits);
        assert_eq!(want.len(), 10);
        assert_eq!(overflow.keys, 30);
        let listed: u64 = want.iter().map(|(_, _, n)| n).sum();
        assert_eq!(listed + overflow.key_locations, hits.len() as u64);
        // The keys kept are those with the smallest fingerprints.
        let mut fps: Vec<String> = keys.iter().map(|k| Fingerprint::of(k).0).collect();
        fps.sort();
        let mut got: Vec<String> = want.iter().map(|(f, _, _)| f.clone()).collect();
        got.sort();
        assert_eq!(got, fps[..10]);
        for (_, offsets, n) in &want {
            assert!(offsets.len() <= 8 && (offsets.len() as u64) <= *n);
        }
        for seed in 0..20 {
            let mut shuffled = hits.clone();
            let mut r = Rng::new(seed);
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, r.below(i + 1));
            }
            assert_eq!(kept(limits, &shuffled).0, want, "seed {seed}");
        }
    }

    #[test]
    fn many_keys_share_the_location_budget_but_keep_one_place_each() {
        let mut rng = Rng::new(32);
        let keys: Vec<String> = (0..LOCATION_BUDGET / 1000 * 3)
            .map(|_| rng.live_key())
            .collect();
        let mut hits = Vec::new();
        for k in &keys {
            for j in 0..600 {
                hits.push(hit(k, j, false));
            }
        }
        let (kept, overflow) = kept(Limits::default(), &hits);
        assert_eq!(kept.len(), keys.len());
        assert_eq!(overflow.per_key, LOCATION_BUDGET / keys.len());
        assert!(
            kept.iter()
                .all(|(_, o, n)| o.len() == overflow.per_key && *n == 600)
        );
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
