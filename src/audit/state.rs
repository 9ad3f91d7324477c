//! What an audit remembers between runs: one file per repository under
//! `CLONE_DIR/audits/`, written atomically (a temporary file renamed into place) as each
//! repository finishes, so that Ctrl-C or a crash keeps every repository already done.
//!
//! A stored result holds the repository's findings as the report shows them, keys redacted
//! (a finding read back knows its key only by that form and is never verified), its refs'
//! digest, a digest of what decides the result (nmleaks' version and source, the rules, the
//! decoding and listing limits) and the run it belongs to. `nmleaks audit` reuses it when the
//! repository's refs have not moved and the settings are the same; `--resume` reuses the
//! results of the run it resumes without even fetching. Nothing is stored with
//! `--show-secrets` (the snippets would hold keys), or for a repository that had errors
//! (part of it was not read: the next run tries again).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::finding::{Finding, Fingerprint, Location, Provenance, Secret, Unlisted};
use crate::rules::Rule;

/// Bumped when the stored form changes; other files are ignored (and replaced).
const FORMAT: u32 = 1;

/// The most bytes one stored result may take (the report's own limits keep it far below).
const FILE_LIMIT: u64 = 256 << 20;

/// The most problems (warnings, notes) a result may carry to be stored.
pub const MAX_PROBLEMS: usize = 100;

/// One repository's result.
#[derive(Debug, Serialize, Deserialize)]
pub struct Stored {
    format: u32,
    /// The repository ([`super::Target::name`]), any key in it redacted (the file's name,
    /// a digest of the whole name, tells two such repositories apart).
    pub repository: String,
    /// The run that wrote it.
    pub run: String,
    /// [`settings_digest`] of the run that wrote it.
    pub settings: String,
    /// [`crate::source::git::tips_digest`] of the repository it read.
    pub tips: String,
    /// Blobs scanned.
    pub blobs: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// The warnings and notes the scan printed, printed again when the result is reused.
    pub problems: Vec<StoredProblem>,
    /// The findings, grouped by key.
    pub findings: Vec<StoredFinding>,
}

/// A warning or note of a stored result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredProblem {
    /// A warning (else a note).
    pub warning: bool,
    /// What was printed.
    pub message: String,
}

/// A finding as stored: the key redacted.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredFinding {
    fingerprint: String,
    rule: String,
    key: String,
    locations: Vec<Location>,
    unlisted: Unlisted,
    provenance: Option<Provenance>,
}

impl Stored {
    /// A result to store.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        repository: &str,
        run: &str,
        settings: &str,
        tips: &str,
        (blobs, bytes): (u64, u64),
        problems: Vec<StoredProblem>,
        findings: &[Finding],
        rules: &[Rule],
    ) -> Stored {
        Stored {
            format: FORMAT,
            repository: crate::sanitize::hide_keys_in(repository),
            run: run.to_string(),
            settings: settings.to_string(),
            tips: tips.to_string(),
            blobs,
            bytes,
            problems,
            findings: findings
                .iter()
                .map(|f| StoredFinding {
                    fingerprint: f.fingerprint.0.clone(),
                    rule: rules[f.rule].id.clone(),
                    key: f.secret.redacted(rules[f.rule].prefix.len()),
                    locations: f.locations.iter().map(redacted).collect(),
                    unlisted: f.unlisted,
                    provenance: f.provenance.clone(),
                })
                .collect(),
        }
    }

    /// The findings back, each key known by its redacted form only; `None` if a finding's
    /// rule is not among `rules` (then the result cannot be reused).
    #[must_use]
    pub fn findings(&self, rules: &[Rule]) -> Option<Vec<Finding>> {
        self.findings
            .iter()
            .map(|f| {
                Some(Finding {
                    fingerprint: Fingerprint(f.fingerprint.clone()),
                    rule: rules.iter().position(|r| r.id == f.rule)?,
                    secret: Secret::from_redacted(&f.key),
                    locations: f.locations.clone(),
                    unlisted: f.unlisted,
                    verification: None,
                    suppression_overridden: None,
                    provenance: f.provenance.clone(),
                    exposure: Vec::new(),
                })
            })
            .collect()
    }
}

/// A place as it may be written to disk: every key in the names around it (a file or
/// directory name, an author, a ref or tag name, an archive member) replaced by its redacted
/// form, as every report shows them. Snippets are redacted already (nothing is stored with
/// `--show-secrets`).
fn redacted(l: &Location) -> Location {
    let hide = crate::sanitize::hide_keys_in;
    let mut l = l.clone();
    match &mut l.origin {
        crate::finding::Origin::Git(g) => {
            g.author = hide(&g.author);
            g.email = hide(&g.email);
            g.path = g.path.as_deref().map(hide);
        }
        crate::finding::Origin::File(p) => {
            *p = hide(&p.to_string_lossy()).into();
        }
        crate::finding::Origin::Stdin | crate::finding::Origin::Pending => {}
    }
    if let Some(inner) = &l.inner
        && let Some(member) = &inner.member
    {
        let mut i = (**inner).clone();
        i.member = Some(hide(member));
        l.inner = Some(std::sync::Arc::new(i));
    }
    l.snippet = l.snippet.as_deref().map(hide);
    l
}

/// A digest of everything besides the repository that decides an audit's findings: nmleaks'
/// version and source, the rules, what is looked inside and the listing limits.
#[must_use]
pub fn settings_digest(
    version: &str,
    rules: &[Rule],
    decoding: &crate::scan::Decoding,
    limits: crate::finding::Limits,
) -> String {
    let mut h = Sha256::new();
    h.update(version.as_bytes());
    for r in rules {
        for part in [&r.id, &r.prefix, &r.pattern, &r.name] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
    h.update(format!("{decoding:?} {limits:?}").as_bytes());
    crate::finding::hex(&h.finalize())
}

/// The results of the audits that used one clone directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store under `clone_dir`.
    #[must_use]
    pub fn new(clone_dir: &Path) -> Store {
        Store {
            dir: clone_dir.join("audits"),
        }
    }

    /// The file of `repository`: a readable name plus a digest of the whole name.
    fn file(&self, repository: &str) -> PathBuf {
        self.dir.join(format!(
            "{}.json",
            crate::source::git::remote::file_stem(repository)
        ))
    }

    /// The stored result of `repository`, if there is a readable one of this format.
    #[must_use]
    pub fn load(&self, repository: &str) -> Option<Stored> {
        let bytes = crate::textfile::read_bytes(&self.file(repository), FILE_LIMIT).ok()?;
        let stored: Stored = serde_json::from_slice(&bytes).ok()?;
        (stored.format == FORMAT && stored.repository == crate::sanitize::hide_keys_in(repository))
            .then_some(stored)
    }

    /// Stores `result` as the result of `repository`, replacing any earlier one: written to a
    /// temporary file in the same directory (readable by its owner only) and renamed into
    /// place.
    ///
    /// # Errors
    /// The directory or the file cannot be written.
    pub fn save(&self, repository: &str, result: &Stored) -> std::io::Result<()> {
        use std::io::Write as _;
        std::fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".result-")
            .tempfile_in(&self.dir)?;
        serde_json::to_writer(&mut tmp, result)?;
        tmp.flush()?;
        tmp.persist(self.file(repository)).map_err(|e| e.error)?;
        Ok(())
    }

    /// The run this audit belongs to: with `resume`, the last run over the same
    /// repositories and settings (a new one if there is none); else a new one, recorded so
    /// that `--resume` can find it.
    ///
    /// # Errors
    /// The run's file cannot be written.
    pub fn run_id(
        &self,
        names: &[String],
        settings: &str,
        resume: bool,
    ) -> std::io::Result<String> {
        let mut h = Sha256::new();
        let mut sorted: Vec<&String> = names.iter().collect();
        sorted.sort();
        for n in sorted {
            h.update((n.len() as u64).to_le_bytes());
            h.update(n.as_bytes());
        }
        h.update(settings.as_bytes());
        let file = self
            .dir
            .join(format!("run-{}", crate::finding::hex(&h.finalize()[..8])));
        if resume
            && let Ok(id) = crate::textfile::read(&file, 1024)
            && !id.trim().is_empty()
        {
            return Ok(id.trim().to_string());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let id = crate::finding::hex(
            &Sha256::digest(format!(
                "{}.{} {}",
                now.as_secs(),
                now.subsec_nanos(),
                std::process::id()
            ))[..8],
        );
        std::fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".run-")
            .tempfile_in(&self.dir)?;
        std::io::Write::write_all(&mut tmp, id.as_bytes())?;
        tmp.persist(&file).map_err(|e| e.error)?;
        Ok(id)
    }
}
