//! `nmleaks audit`: many repositories, one report.
//!
//! This module owns what an audit adds to a single repository's: the list of repositories
//! (arguments, a `--repos` file, a GitHub listing), its stable split into shards (`--shard
//! K/N`), the merge of each repository's findings into one finding per key (each place naming
//! its repository, each key listing the repositories that hold it with their own
//! provenance), and the order an auditor reads them in: live keys in public repositories
//! first. It is plain data in and out; `app` runs the repositories and reports.

pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::UsageError;
use crate::finding::{Exposure, Finding, Limits, Origin, Overflow, Provenance};

/// One repository to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL or path as the user gave it (a URL may hold credentials: never shown).
    pub spec: String,
    /// How reports name it: the URL without credentials, or the path.
    pub name: String,
    /// A URL to mirror, or a repository on this machine.
    pub remote: bool,
    /// Public, when the host said (a GitHub listing); `None` otherwise.
    pub public: Option<bool>,
    /// The token for its host, if one belongs there.
    pub token: Option<String>,
}

impl Target {
    /// A repository named on the command line or in a `--repos` file.
    #[must_use]
    pub fn given(spec: &str, token: Option<String>) -> Target {
        let remote = crate::source::git::remote::looks_remote(spec);
        let name = if remote {
            crate::source::git::remote::without_credentials(spec)
        } else {
            crate::sanitize::path(Path::new(spec))
        };
        Target {
            spec: spec.to_string(),
            name,
            remote,
            public: None,
            token: if remote { token } else { None },
        }
    }
}

/// The most bytes a `--repos` file may hold (a million URLs fit).
pub const REPOS_FILE_LIMIT: u64 = 64 << 20;

/// The repositories a `--repos` file lists: one URL or path a line; blank lines and lines
/// whose first non-blank character is `#` are skipped.
///
/// # Errors
/// The file cannot be read, is not UTF-8 or is larger than [`REPOS_FILE_LIMIT`].
pub fn read_repos_file(path: &Path) -> Result<Vec<String>, UsageError> {
    let text = crate::textfile::read(path, REPOS_FILE_LIMIT).map_err(|e| {
        UsageError(format!(
            "--repos {}: cannot read it: {e}",
            crate::sanitize::path(path)
        ))
    })?;
    Ok(parse_repos(&text))
}

fn parse_repos(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `--shard K/N`: 1 ≤ K ≤ N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This machine's shard, 1-based.
    pub k: u32,
    /// How many shards there are.
    pub n: u32,
}

impl Shard {
    /// Parses `K/N`.
    ///
    /// # Errors
    /// Not two whole numbers with 1 ≤ K ≤ N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s}: a shard is K/N with 1 <= K <= N (say 2/5)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }

    /// Whether the repository named `name` falls in this shard: the first 8 bytes of the
    /// SHA-256 of its name (a URL without credentials), modulo N, is K-1. The same name lands
    /// in the same shard on every machine and every run.
    #[must_use]
    pub fn holds(self, name: &str) -> bool {
        let d = Sha256::digest(name.as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        u64::from_be_bytes(b) % u64::from(self.n) == u64::from(self.k - 1)
    }
}

/// Drops repeated repositories (by name), keeping the first in its place; what a GitHub
/// listing said of its visibility is kept whichever came first (a URL given by hand comes
/// before the listings that also hold it).
#[must_use]
pub fn dedup(targets: Vec<Target>) -> Vec<Target> {
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<Target> = Vec::with_capacity(targets.len());
    for t in targets {
        if let Some(&i) = at.get(&t.name) {
            let kept = &mut out[i];
            kept.public = kept.public.or(t.public);
            if kept.token.is_none() {
                kept.token = t.token;
            }
        } else {
            at.insert(t.name.clone(), out.len());
            out.push(t);
        }
    }
    out
}

/// One repository's findings, as its own audit reported them.
#[derive(Debug)]
pub struct RepoFindings {
    /// The repository's name ([`Target::name`]).
    pub repo: Arc<str>,
    /// Public, when known.
    pub public: Option<bool>,
    /// Its findings, grouped by key.
    pub findings: Vec<Finding>,
}

/// Joins each repository's findings into one finding per key: the places of every
/// repository (each naming its repository), one [`Exposure`] per repository, and a
/// provenance over all of them (see [`join`]).
#[must_use]
pub fn merge(repos: Vec<RepoFindings>, limits: Limits) -> (Vec<Finding>, Overflow) {
    let mut all = Vec::new();
    for r in repos {
        for mut f in r.findings {
            for loc in &mut f.locations {
                if let Origin::Git(g) = &mut loc.origin {
                    g.repo = Some(r.repo.clone());
                }
            }
            if f.exposure.is_empty() {
                f.exposure.push(Exposure {
                    repository: r.repo.clone(),
                    public: r.public,
                    provenance: f.provenance.clone().unwrap_or(Provenance {
                        first_commit: None,
                        first_commit_time: None,
                        commits: 0,
                        at_head: false,
                        pushed: false,
                        history_damaged: false,
                    }),
                });
            }
            all.push(f);
        }
    }
    join(all, limits)
}

/// One finding per key out of findings that may share keys (of several repositories, or of
/// several reports): their places joined, their repositories joined (a repository listed
/// twice, by two reports of it, counts once), the provenance recomputed over the
/// repositories (the earliest first commit, commits added up, at HEAD or pushed or damaged
/// anywhere), and the most urgent verification kept. Keeps at most `limits.max_keys` keys
/// (the smallest fingerprints, as a single scan would) and shares the places listed as the
/// collector does; what is left out is counted in the returned [`Overflow`]. The order is a
/// single scan's: by first place, then fingerprint.
#[must_use]
pub fn join(findings: Vec<Finding>, limits: Limits) -> (Vec<Finding>, Overflow) {
    let mut by_key: BTreeMap<crate::finding::Fingerprint, Finding> = BTreeMap::new();
    for mut f in findings {
        match by_key.entry(f.fingerprint.clone()) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(f);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let m = o.get_mut();
                m.locations.append(&mut f.locations);
                m.unlisted.plain += f.unlisted.plain;
                m.unlisted.allowed += f.unlisted.allowed;
                let rank = |f: &Finding| f.status().map(crate::verdict::Status::rank);
                if rank(&f) > rank(m) {
                    m.verification = f.verification.take();
                }
                for e in f.exposure {
                    if !m.exposure.iter().any(|x| x.repository == e.repository) {
                        m.exposure.push(e);
                    }
                }
                if m.provenance.is_none() {
                    m.provenance = f.provenance;
                }
            }
        }
    }
    let mut overflow = Overflow::default();
    let max_keys = limits.max_keys.max(1);
    // The smallest fingerprints stay, as a single scan keeps them.
    if let Some(first_left_out) = by_key.keys().nth(max_keys).cloned() {
        for (_, f) in by_key.split_off(&first_left_out) {
            overflow.keys += 1;
            overflow.key_locations += f.location_count();
        }
    }
    let per_key = (limits.budget() / by_key.len().max(1)).clamp(1, limits.max_locations.max(1));
    overflow.per_key = per_key;
    let mut out: Vec<Finding> = by_key
        .into_values()
        .map(|mut f| {
            f.exposure.sort_by(|a, b| a.repository.cmp(&b.repository));
            if !f.exposure.is_empty() {
                f.provenance = Some(combined(&f.exposure));
            }
            f.compact(per_key);
            if f.unlisted.total() > 0 {
                overflow.capped_keys += 1;
            }
            f
        })
        .collect();
    out.sort_by(|a, b| {
        let ka = a.locations.first().map(crate::finding::Location::sort_key);
        let kb = b.locations.first().map(crate::finding::Location::sort_key);
        ka.cmp(&kb).then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
    (out, overflow)
}

/// The provenance of a key over every repository that holds it.
fn combined(exposure: &[Exposure]) -> Provenance {
    let first = exposure
        .iter()
        .filter(|e| e.provenance.first_commit_time.is_some())
        .min_by_key(|e| e.provenance.first_commit_time);
    Provenance {
        first_commit: first.and_then(|e| e.provenance.first_commit.clone()),
        first_commit_time: first.and_then(|e| e.provenance.first_commit_time),
        commits: exposure.iter().map(|e| e.provenance.commits).sum(),
        at_head: exposure.iter().any(|e| e.provenance.at_head),
        pushed: exposure.iter().any(|e| e.provenance.pushed),
        history_damaged: exposure.iter().any(|e| e.provenance.history_damaged),
    }
}

/// Whether any repository that holds the key is public.
#[must_use]
pub fn in_public(f: &Finding) -> bool {
    f.exposure.iter().any(|e| e.public == Some(true))
}

/// Orders an audit's findings as an auditor fixes them: live keys in public repositories,
/// then other live keys, then keys whose status is unknown, then the rest; within each,
/// public before private, then keys in more repositories first, then the usual order
/// (first place, fingerprint). The sort is stable.
pub fn rank(findings: &mut [Finding]) {
    findings.sort_by_key(|f| {
        let status = f.status().map_or(0, crate::verdict::Status::rank);
        (
            std::cmp::Reverse((status == 2 && in_public(f), status, in_public(f))),
            std::cmp::Reverse(f.exposure.len()),
        )
    });
}

/// The clone directory's default: `nmleaks/repos` in the user's cache directory.
#[must_use]
pub fn default_clone_dir() -> Option<PathBuf> {
    crate::verify::cache::default_dir().map(|d| d.join("repos"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repos_file_skips_blank_lines_and_comments() {
        let text = "# the platform team\nhttps://h/a.git\n\n   # moved\n  ../b  \n";
        assert_eq!(parse_repos(text), vec!["https://h/a.git", "../b"]);
    }

    #[test]
    fn shards_split_every_repository_into_exactly_one() {
        let names: Vec<String> = (0..500)
            .map(|i| format!("https://h/org/r{i}.git"))
            .collect();
        let n = 3;
        let mut counts = [0; 3];
        for name in &names {
            let holders: Vec<u32> = (1..=n).filter(|&k| Shard { k, n }.holds(name)).collect();
            assert_eq!(holders.len(), 1, "{name}");
            counts[(holders[0] - 1) as usize] += 1;
        }
        // A hash, not a round robin: each shard gets a fair share.
        assert!(counts.iter().all(|&c| c > 120), "{counts:?}");
    }

    #[test]
    fn a_repository_given_by_hand_and_listed_keeps_what_the_listing_said() {
        let mut listed = Target::given("https://h/org/app.git", Some("t".into()));
        listed.public = Some(true);
        let got = dedup(vec![
            Target::given("https://h/org/app.git", None),
            Target::given("../lib", None),
            listed,
        ]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "https://h/org/app.git");
        assert_eq!(got[0].public, Some(true));
        assert_eq!(got[0].token.as_deref(), Some("t"));
        assert_eq!(got[1].name, "../lib");
    }

    #[test]
    fn shard_flags_are_checked() {
        assert_eq!(Shard::parse("2/5"), Ok(Shard { k: 2, n: 5 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
