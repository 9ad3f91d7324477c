//! How long to wait after a 429, and how many times to try again.
//!
//! This module owns the arithmetic: reading `Retry-After` (delta-seconds or an HTTP date),
//! capping it, and exponential backoff with jitter for when the server says nothing or keeps
//! refusing. Making every worker wait is [`super::limiter`]'s job.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

/// The first backoff step; each retry doubles it (before the cap and jitter).
const BACKOFF_BASE: Duration = Duration::from_secs(1);

/// The longest `--verify-max-wait` accepted. A longer single wait is never useful: the
/// vendor's limits are per minute, and the whole phase is bounded by `--verify-deadline`.
pub const MAX_WAIT_LIMIT: Duration = Duration::from_secs(60 * 60);

/// When and how often to retry a rate-limited request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first 429 (so `retries + 1` requests at most for one key).
    pub retries: u32,
    /// No single wait is longer than this, whatever `Retry-After` says.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `attempt` (0 for the first retry): the server's
    /// `Retry-After` if it gave one, or the jittered exponential backoff if that is longer;
    /// never more than [`RetryPolicy::max_wait`].
    #[must_use]
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = BACKOFF_BASE
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
            .min(self.max_wait);
        // "Equal jitter": half fixed, half random, so waits never collapse to zero and workers
        // that were refused together do not come back together.
        let jittered = backoff / 2 + backoff.mul_f64(0.5 * unit_random());
        retry_after
            .unwrap_or_default()
            .min(self.max_wait)
            .max(jittered)
    }
}

/// Reads a `Retry-After` value: delta-seconds or an HTTP date (past dates mean no wait).
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long numbers saturate; the cap applies later.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// A number in `[0, 1)`. Jitter needs no cryptography: std's per-process random hash keys are
/// enough, mixed with the clock so two calls differ.
fn unit_random() -> f64 {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    h.write_u32(nanos);
    // 53 random bits make an exact f64 fraction.
    #[allow(clippy::cast_precision_loss)] // 53 bits fit an f64 mantissa exactly
    let fraction = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(
            parse_retry_after(" 7 ", at(0)),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after("0", at(0)), Some(Duration::ZERO));
        assert!(parse_retry_after("99999999999999999999999", at(0)).is_some());
        assert_eq!(parse_retry_after("-3", at(0)), None);
        assert_eq!(parse_retry_after("soon", at(0)), None);
        assert_eq!(parse_retry_after("", at(0)), None);
    }

    #[test]
    fn retry_after_as_an_http_date_in_all_three_formats() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example date).
        let now = at(784_111_777 - 30);
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(date, now),
                Some(Duration::from_secs(30)),
                "{date}"
            );
        }
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(784_111_777 + 5)),
            Some(Duration::ZERO),
            "a date in the past means retry now"
        );
    }

    #[test]
    fn retry_after_is_capped_and_honoured_when_longer_than_backoff() {
        let policy = RetryPolicy {
            retries: 3,
            max_wait: Duration::from_secs(10),
        };
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(10)
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_within_the_cap() {
        let policy = RetryPolicy {
            retries: 10,
            max_wait: Duration::from_secs(6),
        };
        for _ in 0..50 {
            let d0 = policy.delay(0, None);
            assert!(d0 >= Duration::from_millis(500) && d0 <= Duration::from_secs(1));
            let d2 = policy.delay(2, None);
            assert!(d2 >= Duration::from_secs(2) && d2 <= Duration::from_secs(4));
            let d9 = policy.delay(9, None);
            assert!(d9 >= Duration::from_secs(3) && d9 <= Duration::from_secs(6));
            assert!(policy.delay(u32::MAX, None) <= Duration::from_secs(6));
        }
        let distinct: std::collections::HashSet<Duration> =
            (0..20).map(|_| policy.delay(1, None)).collect();
        assert!(distinct.len() > 1, "jitter varies the wait");
    }
}
