//! Optional key verification (`--verify`): asks the Nomotic API whether each distinct key works.
//!
//! What a verification means ([`Status`], [`Reason`], [`Verification`]) is finding data and
//! lives in [`crate::verdict`], beside the finding that carries it; this module owns how a run
//! of them goes: which findings are asked about (only keys of the built-in Nomotic rules, once per
//! distinct key), the cache consulted first, the `--max-verifications` budget, a few worker
//! threads sharing one rate limiter, retries after a 429 (and one retry on a new connection
//! when a kept-alive one was closed under a request), and the `--verify-deadline` that bounds
//! the whole network phase. Its parts:
//!
//! ```text
//!  verify_all ─► cache (status + time per hashed key) ─► budget ─► workers ─┐
//!                                                                           │ one limiter
//!        client: GET {api}/agents, Authorization: Bearer <key> ◄── retry ◄──┘ (429 pauses all)
//! ```
//!
//! The deadline is a limit like any other: however many keys, retries and waits, the phase
//! ends when it passes. No request starts after it, a wait that would end after it is not
//! waited, and a request in flight is cut off at it (ureq's global timeout). Keys without an
//! answer by then are `unknown (deadline passed)`, and one warning says how many.
//!
//! Nothing here runs without `--verify`: no client is built and no connection is made. The key
//! leaves [`Secret`] only for the `Authorization` header of the one request; every message,
//! error and `Debug` output here names the failure, never the key or the request headers.
//!
//! Reporters read the outcome from [`crate::finding::Finding::verification`]: a SARIF writer
//! maps [`Status::rank`] to `level` / `security-severity`; a suppression step must not hide a
//! finding whose [`Status::is_live`] is true.

pub mod api;
pub mod cache;
pub mod client;
pub mod limiter;
pub mod retry;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::finding::{Finding, Secret};
use crate::rules::Rule;

pub use crate::verdict::{Reason, Status, Verification};
pub use api::{ApiUrl, DEFAULT_API_URL};
pub use cache::CacheSettings;
pub use client::Timeouts;
pub use retry::RetryPolicy;

/// Requests a minute when `--verify-rate` is not given: the Free plan's limit.
pub const DEFAULT_RATE: u32 = 60;
/// How many requests may be in flight at once.
pub const WORKERS: usize = 4;
/// `--verify-connect-timeout` default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `--verify-read-timeout` default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// `--verify-cache-ttl` default.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// `--verify-deadline` default: the whole verification phase ends after this long. At the
/// default rate (60 a minute) that is 300 keys; more need a higher rate or a longer deadline.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5 * 60);
/// The longest `--verify-deadline` accepted.
pub const MAX_DEADLINE: Duration = Duration::from_secs(24 * 60 * 60);

/// Everything `--verify` was configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where keys are sent.
    pub api: ApiUrl,
    /// Requests a minute, for the whole process.
    pub rate_per_minute: u32,
    /// Requests in flight at once.
    pub workers: usize,
    /// Keys verified over the network at most; the rest are `unknown (budget)`.
    pub max_verifications: Option<u64>,
    /// Connect and read timeouts.
    pub timeouts: Timeouts,
    /// Retries after a 429 and the longest single wait.
    pub retry: RetryPolicy,
    /// How long the whole network phase may take; keys without an answer by then are
    /// `unknown (deadline passed)`.
    pub deadline: Duration,
    /// The cache; `None` with `--no-verify-cache` or when no cache directory is known.
    pub cache: Option<CacheSettings>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            api: ApiUrl::default(),
            rate_per_minute: DEFAULT_RATE,
            workers: WORKERS,
            max_verifications: None,
            timeouts: Timeouts {
                connect: DEFAULT_CONNECT_TIMEOUT,
                read: DEFAULT_READ_TIMEOUT,
            },
            retry: RetryPolicy::default(),
            deadline: DEFAULT_DEADLINE,
            cache: None,
        }
    }
}

/// Told how a verification run goes, for a progress line.
pub trait Observer: Sync {
    /// `requests` keys will be asked about over the network, taking about `estimate` at the
    /// configured rate; `deadline` ends the phase whatever is left.
    fn start(&self, requests: usize, estimate: Duration, deadline: Duration);
    /// `done` of `total` keys have an answer.
    fn progress(&self, done: usize, total: usize);
}

/// What a verification run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Keys answered from the cache.
    pub cache_hits: usize,
    /// Problems worth a line on stderr (cache unusable, why keys are unknown). No keys.
    pub warnings: Vec<String>,
}

/// Verifies every finding in place: sets [`Finding::verification`] on each.
///
/// Only keys of the built-in rules are sent, each once. The order of findings is unchanged and
/// the result does not depend on thread timing (each answer goes to its own finding).
pub fn verify_all(
    findings: &mut [Finding],
    rules: &[Rule],
    settings: &Settings,
    observer: &dyn Observer,
) -> Outcome {
    let mut outcome = Outcome::default();
    let now = SystemTime::now();
    let cache = settings
        .cache
        .as_ref()
        .and_then(|c| match cache::Cache::open(c, &settings.api) {
            Ok(cache) => Some(cache),
            Err(e) => {
                outcome
                    .warnings
                    .push(format!("{e:#}; verifying without a cache"));
                None
            }
        });

    // Decide each finding's fate before any request: not ours, cached, or to ask.
    let mut todo: Vec<(usize, Secret)> = Vec::new();
    for (i, f) in findings.iter_mut().enumerate() {
        if !rules[f.rule].is_builtin() {
            f.verification = Some(Verification::unknown(Reason::NotNomotic));
        } else if let Some(hit) = cache.as_ref().and_then(|c| c.get(&f.secret, now)) {
            outcome.cache_hits += 1;
            f.verification = Some(hit);
        } else {
            todo.push((i, f.secret.clone()));
        }
    }
    // The budget goes to keys in report order, so which keys get it is reproducible.
    let budget = settings
        .max_verifications
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    if todo.len() > budget {
        for (i, _) in todo.drain(budget..) {
            findings[i].verification = Some(Verification::unknown(Reason::Budget));
        }
    }
    if todo.is_empty() {
        return outcome;
    }

    let client = client::Client::new(&settings.api, settings.timeouts);
    let limiter = limiter::Limiter::per_minute(settings.rate_per_minute);
    let estimate = limiter.interval() * u32::try_from(todo.len() - 1).unwrap_or(u32::MAX);
    observer.start(todo.len(), estimate, settings.deadline);
    let requests = AtomicU64::new(0);
    let started = Instant::now();
    // The CLI caps the deadline at a day; a library caller's absurd value means "no bound".
    let deadline = started.checked_add(settings.deadline);
    let answers = run_workers(&todo, settings.workers, deadline, observer, |secret| {
        check(
            &client,
            &limiter,
            settings.retry,
            deadline,
            secret,
            &requests,
        )
    });
    outcome.requests = requests.into_inner();
    let late = answers
        .iter()
        .filter(|v| v.status == Status::Unknown(Reason::Deadline))
        .count();

    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut cache_error = None;
    for ((i, secret), v) in todo.iter().zip(answers) {
        if let Some(detail) = &v.detail {
            *failures.entry(detail.clone()).or_default() += 1;
        }
        if let Some(c) = &cache
            && cache_error.is_none()
            && let Err(e) = c.put(secret, v.status, now)
        {
            cache_error = Some(format!("{e:#}"));
        }
        findings[*i].verification = Some(v);
    }
    outcome.warnings.extend(cache_error);
    if late > 0 {
        let s = if late == 1 { "" } else { "s" };
        outcome.warnings.push(format!(
            "verification stopped at its deadline ({} after it started; --verify-deadline): \
             {late} key{s} had no answer and {} reported unknown (deadline passed); \
             raise --verify-deadline or --verify-rate to verify more",
            show_duration(settings.deadline),
            if late == 1 { "is" } else { "are" }
        ));
    }
    for (detail, n) in failures {
        let s = if n == 1 { "" } else { "s" };
        outcome
            .warnings
            .push(format!("could not verify {n} key{s}: {detail}"));
    }
    outcome
}

/// Runs `work` over `todo` on up to `workers` threads; answers come back in `todo`'s order.
/// No key is started after `deadline`; those left are `unknown (deadline passed)`.
fn run_workers(
    todo: &[(usize, Secret)],
    workers: usize,
    deadline: Option<Instant>,
    observer: &dyn Observer,
    work: impl Fn(&Secret) -> Verification + Sync,
) -> Vec<Verification> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let answers: Mutex<Vec<Option<Verification>>> = Mutex::new(vec![None; todo.len()]);
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, todo.len()) {
            s.spawn(|| {
                loop {
                    if crate::interrupt::requested() || is_past(deadline) {
                        break;
                    }
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, secret)) = todo.get(j) else {
                        break;
                    };
                    let v = work(secret);
                    answers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[j] = Some(v);
                    observer.progress(done.fetch_add(1, Ordering::Relaxed) + 1, todo.len());
                }
            });
        }
    });
    answers
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        // Not started: the deadline passed (after Ctrl-C no report is written at all).
        .map(|v| v.unwrap_or_else(|| Verification::unknown(Reason::Deadline)))
        .collect()
}

/// Whether `deadline` has passed (`None`: there is none).
fn is_past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// `300s`, `2s`, `1500ms`: a duration as the flags take it.
fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Verifies one key: paced by `limiter`, retried on 429 as `policy` says, never past
/// `deadline`.
fn check(
    client: &client::Client,
    limiter: &limiter::Limiter,
    policy: RetryPolicy,
    deadline: Option<Instant>,
    key: &Secret,
    requests: &AtomicU64,
) -> Verification {
    let mut attempt = 0;
    let mut reuse = client::Reuse::Allowed;
    // The HTTP status of the last answer, for a key the deadline then cuts off (a 429).
    let mut last_status = None;
    let too_late = |http_status| Verification {
        http_status,
        ..Verification::unknown(Reason::Deadline)
    };
    loop {
        if !limiter.acquire_by(deadline) {
            return too_late(last_status);
        }
        requests.fetch_add(1, Ordering::Relaxed);
        match client.check(key, deadline, reuse) {
            Ok(client::Answer::Done(v)) => return v,
            Ok(client::Answer::RateLimited { retry_after }) => {
                if attempt >= policy.retries {
                    return Verification {
                        http_status: Some(429),
                        ..Verification::unknown(Reason::RateLimited)
                    };
                }
                last_status = Some(429);
                let wait = policy.delay(attempt, retry_after);
                limiter.pause_until(Instant::now() + wait);
                attempt += 1;
            }
            // Reset or closed before any response, maybe on a pooled connection the server had
            // closed meanwhile: once more, on a new connection (a paced request like any other;
            // a GET of a listing is safe to repeat). A second failure is the answer.
            Err(client::TransportError::Dropped(_))
                if reuse == client::Reuse::Allowed && client.has_answered() =>
            {
                reuse = client::Reuse::Never;
            }
            // Cut off by the deadline, not by the server being slow.
            Err(client::TransportError::Timeout(_)) if is_past(deadline) => {
                return too_late(None);
            }
            Err(e) => {
                return Verification {
                    detail: Some(scrub(&e.to_string(), key)),
                    ..Verification::unknown(e.reason())
                };
            }
        }
    }
}

/// Belt and braces: a message never holds the key, whatever a lower layer put in it.
fn scrub(message: &str, key: &Secret) -> String {
    message.replace(key.expose(), "<key>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::Rng;

    #[test]
    fn statuses_read_as_the_issue_words_them() {
        assert_eq!(Status::Live.to_string(), "live");
        assert_eq!(
            Status::LiveInsufficientScope.to_string(),
            "live (insufficient scope)"
        );
        assert_eq!(Status::Revoked.to_string(), "revoked");
        assert_eq!(
            Status::Unknown(Reason::Budget).to_string(),
            "unknown (budget)"
        );
        assert!(
            Status::Revoked
                .meaning()
                .contains("revoked, malformed or never valid")
        );
    }

    #[test]
    fn insufficient_scope_is_live_and_live_outranks_unknown_outranks_revoked() {
        assert!(Status::Live.is_live() && Status::LiveInsufficientScope.is_live());
        assert!(!Status::Revoked.is_live() && !Status::Unknown(Reason::Timeout).is_live());
        assert!(Status::LiveInsufficientScope.rank() > Status::Unknown(Reason::Tls).rank());
        assert!(Status::Unknown(Reason::Tls).rank() > Status::Revoked.rank());
    }

    #[test]
    fn only_definite_answers_round_trip_through_the_cache_codes() {
        for s in [Status::Live, Status::LiveInsufficientScope, Status::Revoked] {
            assert_eq!(Status::from_cached(s.cacheable_code().unwrap()), Some(s));
        }
        assert_eq!(Status::Unknown(Reason::Timeout).cacheable_code(), None);
    }

    #[test]
    fn scrub_removes_the_key_from_a_message() {
        let key = Secret::new(&Rng::new(3).live_key());
        let msg = format!("failed: Authorization: Bearer {}", key.expose());
        let clean = scrub(&msg, &key);
        assert!(!clean.contains(key.expose()));
        assert!(clean.ends_with("Bearer <key>"));
    }

    /// Fails if any 12-character window of the key's body is in `shown`.
    fn assert_hidden(what: &str, shown: &str, key: &str) {
        let body = &key["nm_live_".len()..];
        for i in 0..=body.len() - 12 {
            assert!(
                !shown.contains(&body[i..i + 12]),
                "{what} shows the key: {shown}"
            );
        }
    }

    /// A port on 127.0.0.1 whose every connection `serve` handles on a thread of its own.
    fn serving(serve: fn(std::net::TcpStream)) -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        port
    }

    struct Quiet;
    impl Observer for Quiet {
        fn start(&self, _: usize, _: Duration, _: Duration) {}
        fn progress(&self, _: usize, _: usize) {}
    }

    /// The key leaves [`Secret`] for one request header; the errors that request meets, the
    /// [`Outcome`] of a run whose every request failed, and the findings it leaves behind
    /// must not carry it into a log or a `{:?}` in a panic message.
    #[test]
    fn debug_of_an_outcome_and_errors_never_show_the_key() {
        use std::io::{Read, Write};
        let raw = Rng::new(4).live_key();
        let key = Secret::new(&raw);

        // The transport errors a request to the key's API really meets.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        // Plain HTTP where TLS is expected: the handshake fails.
        let plain = serving(|mut s| {
            let _ = s.read(&mut [0u8; 512]);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        });
        // Reads the request (with the key in it) and never answers, until the client gives up.
        let silent = serving(|mut s| {
            let _ = std::io::copy(&mut s, &mut std::io::sink());
        });
        let timeouts = Timeouts {
            connect: Duration::from_secs(30),
            // The server never answers, so any read timeout ends in a timeout error.
            read: Duration::from_millis(200),
        };
        let mut errors = Vec::new();
        for (url, reason) in [
            (format!("http://127.0.0.1:{closed}/v1"), Reason::Connection),
            (format!("https://127.0.0.1:{plain}/v1"), Reason::Tls),
            (format!("http://127.0.0.1:{silent}/v1"), Reason::Timeout),
        ] {
            let client = client::Client::new(&ApiUrl::parse(&url).unwrap(), timeouts);
            let e = client
                .check(&key, None, client::Reuse::Allowed)
                .unwrap_err();
            assert_eq!(e.reason(), reason, "{url}: {e:?}");
            errors.push(e);
        }

        // A run over a finding of the key: the cache cannot be opened (its directory is a
        // file) and the API's port is closed, so the outcome holds a warning for each.
        let cache_file = tempfile::NamedTempFile::new().unwrap();
        let settings = Settings {
            api: ApiUrl::parse(&format!("http://127.0.0.1:{closed}/v1")).unwrap(),
            rate_per_minute: 60_000,
            timeouts,
            cache: Some(CacheSettings {
                dir: cache_file.path().to_path_buf(),
                ttl: DEFAULT_CACHE_TTL,
            }),
            ..Settings::default()
        };
        let rules = crate::rules::load(&[] as &[&str]).unwrap();
        let mut collector = crate::finding::Collector::new();
        collector.add(crate::finding::Hit {
            rule: 0,
            secret: key.clone(),
            location: crate::finding::Location {
                origin: crate::finding::Origin::Stdin,
                part: crate::finding::Part::Content,
                line: 1,
                column: 5,
                column_utf16: 5,
                offset: 4,
                len: 40,
                binary: false,
                snippet: None,
                inline_allow: false,
                allow_ambiguous: false,
                line_hash: None,
                inner: None,
            },
            unlisted: crate::finding::Unlisted::default(),
        });
        let (mut findings, _) = collector.finish();
        let outcome = verify_all(&mut findings, &rules, &settings, &Quiet);
        assert_eq!(outcome.requests, 1, "{outcome:?}");
        assert_eq!(outcome.warnings.len(), 2, "{outcome:?}");
        assert!(
            outcome.warnings[0].contains("verification cache"),
            "{outcome:?}"
        );
        assert!(
            outcome.warnings[1].contains("could not verify 1 key"),
            "{outcome:?}"
        );
        let v = findings[0].verification.clone().unwrap();
        assert_eq!(v.status, Status::Unknown(Reason::Connection));

        // A lower layer that did put the key in a message: scrubbed before it is kept.
        let scrubbed = Verification {
            detail: Some(scrub(&format!("x {raw}"), &key)),
            ..Verification::unknown(Reason::Tls)
        };
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        for (what, shown) in [
            ("the outcome", format!("{outcome:?}")),
            ("the outcome, pretty", format!("{outcome:#?}")),
            ("the errors", format!("{errors:?}")),
            ("the errors' messages", format!("{texts:?}")),
            ("the verification", format!("{v:?}")),
            ("the findings", format!("{findings:?}")),
            ("a scrubbed verification", format!("{scrubbed:?}")),
            ("the key", format!("{key:?}")),
        ] {
            assert_hidden(what, &shown, &raw);
        }
    }
}
