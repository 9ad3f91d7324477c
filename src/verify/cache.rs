//! The verification cache: answers kept between runs, so pre-commit does not ask again.
//!
//! This module owns where entries live and what they hold. One small file per key and API
//! URL, named by a SHA-256 of both (domain-separated, so it is not the report's fingerprint),
//! holding the status and the time it was learnt, nothing else: no key, no path. Files are
//! written to a temporary name and renamed, so concurrent runs never read half an entry.
//! Only definite answers are kept (`live`, `live (insufficient scope)`, `revoked`); a live
//! answer is kept for [`LIVE_TTL`] at most, because the usual next step after finding a live
//! key is revoking it, and the next run must see that.
//!
//! The cache is a convenience: a directory that cannot be created, read or written costs
//! requests, never the scan.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::api::ApiUrl;
use super::{Status, Verification};
use crate::finding::Secret;

/// How long a live answer is trusted, whatever `--verify-cache-ttl` says.
pub const LIVE_TTL: Duration = Duration::from_secs(10 * 60);

/// The subdirectory for this entry format; bump it if the format changes.
const SUBDIR: &str = "verify-v1";

/// A cache directory and how long its entries are trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// The root (`NMLEAKS_CACHE_DIR`, or the user's cache directory plus `nmleaks`).
    pub dir: PathBuf,
    /// How long a `revoked` answer is trusted (live answers: the shorter of this and
    /// [`LIVE_TTL`]).
    pub ttl: Duration,
}

/// What one file holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// `live`, `live_insufficient_scope` or `revoked`.
    status: String,
    /// When the API gave the answer, seconds since the epoch.
    checked_at: u64,
}

/// An open cache.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    ttl: Duration,
    api: ApiUrl,
}

impl Cache {
    /// Opens (creating it if needed) the cache for answers from `api`.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn open(settings: &CacheSettings, api: &ApiUrl) -> anyhow::Result<Cache> {
        let dir = settings.dir.join(SUBDIR);
        create_private_dir(&dir).with_context(|| {
            format!(
                "cannot create the verification cache {}",
                crate::sanitize::path(&dir)
            )
        })?;
        // Tell backup tools this is a cache (https://bford.info/cachedir/).
        let tag = settings.dir.join("CACHEDIR.TAG");
        if !tag.exists() {
            let _ = fs::write(
                &tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n# nmleaks verification cache\n",
            );
        }
        Ok(Cache {
            dir,
            ttl: settings.ttl,
            api: api.clone(),
        })
    }

    /// A fresh answer for `key`, if one is kept.
    #[must_use]
    pub fn get(&self, key: &Secret, now: SystemTime) -> Option<Verification> {
        let text = fs::read_to_string(self.path(key)).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        let status = Status::from_cached(&entry.status)?;
        let learnt = SystemTime::UNIX_EPOCH + Duration::from_secs(entry.checked_at);
        // An entry from the future (a clock that went back) is not trusted.
        let age = now.duration_since(learnt).ok()?;
        (age < ttl_for(status, self.ttl)).then(|| Verification {
            http_status: status.http_status(),
            status,
            cached: true,
            detail: None,
        })
    }

    /// Keeps a definite answer for `key`; other answers are not kept.
    ///
    /// # Errors
    /// The entry cannot be written.
    pub fn put(&self, key: &Secret, status: Status, now: SystemTime) -> anyhow::Result<()> {
        let Some(code) = status.cacheable_code() else {
            return Ok(());
        };
        let entry = Entry {
            status: code.to_string(),
            checked_at: now
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        };
        let path = self.path(key);
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile::Builder::new()
                .prefix(".entry")
                .tempfile_in(&self.dir)?;
            serde_json::to_writer(&mut tmp, &entry)?;
            tmp.write_all(b"\n")?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().with_context(|| {
            format!(
                "cannot write to the verification cache {}",
                crate::sanitize::path(&self.dir)
            )
        })
    }

    fn path(&self, key: &Secret) -> PathBuf {
        self.dir
            .join(format!("{}.json", entry_name(&self.api, key)))
    }
}

/// How long an answer of `status` is trusted under a configured `ttl`.
#[must_use]
pub fn ttl_for(status: Status, ttl: Duration) -> Duration {
    if status.is_live() {
        ttl.min(LIVE_TTL)
    } else {
        ttl
    }
}

/// SHA-256 over a label, the API URL and the key, hex: an answer from a test server or a
/// staging API is never taken for the production API's.
fn entry_name(api: &ApiUrl, key: &Secret) -> String {
    let mut h = Sha256::new();
    h.update(b"nmleaks verification cache v1\0");
    h.update(api.as_str().as_bytes());
    h.update(b"\0");
    h.update(key.expose().as_bytes());
    crate::finding::hex(&h.finalize())
}

/// Creates `dir` and its parents; on Unix the directories nmleaks creates are private.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The user's cache directory for nmleaks: `$XDG_CACHE_HOME/nmleaks` or `~/.cache/nmleaks`
/// on Linux and other Unix, `~/Library/Caches/nmleaks` on macOS, `%LOCALAPPDATA%\nmleaks` on
/// Windows. `None` when the environment names no home.
#[must_use]
pub fn default_dir() -> Option<PathBuf> {
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = if cfg!(windows) {
        env_dir("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        env_dir("HOME").map(|h| h.join("Library").join("Caches"))
    } else {
        env_dir("XDG_CACHE_HOME").or_else(|| env_dir("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("nmleaks"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::Rng;
    use crate::verify::Reason;

    fn open(dir: &Path, ttl: Duration) -> Cache {
        let settings = CacheSettings {
            dir: dir.to_path_buf(),
            ttl,
        };
        Cache::open(&settings, &ApiUrl::default()).unwrap()
    }

    #[test]
    fn revoked_is_kept_for_the_ttl_and_live_only_briefly() {
        let tmp = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(86_400);
        let cache = open(tmp.path(), day);
        let mut rng = Rng::new(7);
        let (live, revoked) = (Secret::new(&rng.live_key()), Secret::new(&rng.live_key()));
        let t0 = SystemTime::now();
        cache.put(&live, Status::Live, t0).unwrap();
        cache.put(&revoked, Status::Revoked, t0).unwrap();

        let soon = t0 + Duration::from_secs(60);
        let got = cache.get(&live, soon).unwrap();
        assert_eq!((got.status, got.cached), (Status::Live, true));
        assert_eq!(got.http_status, Some(200));
        assert_eq!(cache.get(&revoked, soon).unwrap().status, Status::Revoked);

        let later = t0 + LIVE_TTL + Duration::from_secs(1);
        assert!(cache.get(&live, later).is_none(), "live expires early");
        assert!(cache.get(&revoked, later).is_some());
        assert!(cache.get(&revoked, t0 + day).is_none(), "revoked expires");
        assert!(
            cache.get(&revoked, t0 - Duration::from_secs(5)).is_none(),
            "entries from the future are not trusted"
        );
    }

    #[test]
    fn unknown_answers_are_not_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = open(tmp.path(), Duration::from_secs(3600));
        let key = Secret::new(&Rng::new(8).live_key());
        let now = SystemTime::now();
        cache
            .put(&key, Status::Unknown(Reason::Timeout), now)
            .unwrap();
        assert!(cache.get(&key, now).is_none());
    }

    #[test]
    fn entries_hold_status_and_time_only_and_are_per_api() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = open(tmp.path(), Duration::from_secs(3600));
        let raw = Rng::new(9).live_key();
        let key = Secret::new(&raw);
        let now = SystemTime::now();
        cache.put(&key, Status::Revoked, now).unwrap();
        let files: Vec<PathBuf> = fs::read_dir(tmp.path().join(SUBDIR))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        let text = fs::read_to_string(&files[0]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let fields: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["checked_at", "status"]);
        assert!(!text.contains(&raw[8..]) && !files[0].to_string_lossy().contains(&raw[8..]));
        assert!(
            !files[0].to_string_lossy().contains(key.fingerprint().hex()),
            "the file name is not the public fingerprint"
        );

        let other_api = Cache::open(
            &CacheSettings {
                dir: tmp.path().to_path_buf(),
                ttl: Duration::from_secs(3600),
            },
            &ApiUrl::parse("http://127.0.0.1:9/api").unwrap(),
        )
        .unwrap();
        assert!(other_api.get(&key, now).is_none());
    }

    #[test]
    fn a_corrupt_entry_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = open(tmp.path(), Duration::from_secs(3600));
        let key = Secret::new(&Rng::new(10).live_key());
        fs::write(cache.path(&key), "{not json").unwrap();
        assert!(cache.get(&key, SystemTime::now()).is_none());
        fs::write(cache.path(&key), r#"{"status":"unknown","checked_at":1}"#).unwrap();
        assert!(cache.get(&key, SystemTime::now()).is_none());
    }
}
