//! What the vendor's API said about a key: [`Status`], [`Reason`] and [`Verification`].
//!
//! Finding data, beside [`crate::finding::Finding`] which carries it: reporters read it,
//! suppression never hides a key whose [`Status::is_live`] is true, and exit policy counts it.
//! How the API is asked lives in [`crate::verify`], a stage above; this module imports nothing
//! from the crate.

use std::fmt;

/// What the API said about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// HTTP 200: the key works.
    Live,
    /// HTTP 403 with the API's JSON: the key authenticates but lacks this endpoint's scope. It
    /// is a working credential.
    LiveInsufficientScope,
    /// HTTP 401: revoked, malformed or never valid (the API does not tell these apart).
    Revoked,
    /// No definite answer.
    Unknown(Reason),
}

/// Why a key's status is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Still HTTP 429 after the retries.
    RateLimited,
    /// HTTP 5xx.
    ServerError,
    /// A status the API does not document for this call (404, 418, …).
    UnexpectedStatus,
    /// HTTP 3xx: not followed, a redirect could carry the key elsewhere.
    Redirect,
    /// A 200, 401 or 403 whose body is not JSON (a captive portal, a proxy's error page).
    NotApiJson,
    /// Connecting or reading timed out.
    Timeout,
    /// The TLS handshake failed.
    Tls,
    /// The API host name did not resolve.
    Dns,
    /// The connection was refused, reset or closed.
    Connection,
    /// Another network failure.
    Network,
    /// `--max-verifications` was spent before this key.
    Budget,
    /// `--verify-deadline` passed before this key had an answer.
    Deadline,
    /// The key is of a rule from a `--rules` file: it is not sent to Nomotic.
    NotNomotic,
}

impl Reason {
    /// The stable code in machine outputs.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Reason::RateLimited => "rate_limited",
            Reason::ServerError => "server_error",
            Reason::UnexpectedStatus => "unexpected_status",
            Reason::Redirect => "redirect",
            Reason::NotApiJson => "not_api_json",
            Reason::Timeout => "timeout",
            Reason::Tls => "tls",
            Reason::Dns => "dns",
            Reason::Connection => "connection",
            Reason::Network => "network",
            Reason::Budget => "budget",
            Reason::Deadline => "deadline",
            Reason::NotNomotic => "not_nomotic",
        }
    }
}

impl Reason {
    /// Every reason, for reading codes back.
    const ALL: [Reason; 13] = [
        Reason::RateLimited,
        Reason::ServerError,
        Reason::UnexpectedStatus,
        Reason::Redirect,
        Reason::NotApiJson,
        Reason::Timeout,
        Reason::Tls,
        Reason::Dns,
        Reason::Connection,
        Reason::Network,
        Reason::Budget,
        Reason::Deadline,
        Reason::NotNomotic,
    ];

    /// The reason whose [`Reason::code`] is `code`.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::RateLimited => "rate limited",
            Reason::ServerError => "server error",
            Reason::UnexpectedStatus => "unexpected HTTP status",
            Reason::Redirect => "redirect not followed",
            Reason::NotApiJson => "not the API's JSON",
            Reason::Timeout => "timeout",
            Reason::Tls => "TLS failure",
            Reason::Dns => "DNS failure",
            Reason::Connection => "connection failed",
            Reason::Network => "network error",
            Reason::Budget => "budget",
            Reason::Deadline => "deadline passed",
            Reason::NotNomotic => "not a Nomotic rule",
        })
    }
}

impl Status {
    /// A working credential: `live` or `live (insufficient scope)`.
    #[must_use]
    pub fn is_live(self) -> bool {
        matches!(self, Status::Live | Status::LiveInsufficientScope)
    }

    /// How urgent: 2 live (either kind), 1 unknown, 0 revoked. For severities and sorting.
    #[must_use]
    pub fn rank(self) -> u8 {
        match self {
            Status::Live | Status::LiveInsufficientScope => 2,
            Status::Unknown(_) => 1,
            Status::Revoked => 0,
        }
    }

    /// The status a JSON report's `status` and `reason` codes name.
    #[must_use]
    pub fn from_codes(status: &str, reason: Option<&str>) -> Option<Status> {
        Some(match status {
            "live" => Status::Live,
            "live_insufficient_scope" => Status::LiveInsufficientScope,
            "revoked" => Status::Revoked,
            "unknown" => Status::Unknown(Reason::from_code(reason?)?),
            _ => return None,
        })
    }

    /// The stable code in machine outputs.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Status::Live => "live",
            Status::LiveInsufficientScope => "live_insufficient_scope",
            Status::Revoked => "revoked",
            Status::Unknown(_) => "unknown",
        }
    }

    /// The reason of an `unknown` status.
    #[must_use]
    pub fn reason(self) -> Option<Reason> {
        match self {
            Status::Unknown(r) => Some(r),
            _ => None,
        }
    }

    /// The HTTP status a definite answer comes from.
    #[must_use]
    pub fn http_status(self) -> Option<u16> {
        match self {
            Status::Live => Some(200),
            Status::LiveInsufficientScope => Some(403),
            Status::Revoked => Some(401),
            Status::Unknown(_) => None,
        }
    }

    /// What the status means, in a sentence fragment for people.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Status::Live => "the API accepted the key",
            Status::LiveInsufficientScope => {
                "the key authenticates but lacks the scope to list agents; it is a working credential"
            }
            Status::Revoked => {
                "revoked, malformed or never valid (the API's 401 does not tell these apart)"
            }
            Status::Unknown(_) => "no definite answer from the API",
        }
    }

    pub(crate) fn cacheable_code(self) -> Option<&'static str> {
        (!matches!(self, Status::Unknown(_))).then(|| self.code())
    }

    pub(crate) fn from_cached(code: &str) -> Option<Status> {
        match code {
            "live" => Some(Status::Live),
            "live_insufficient_scope" => Some(Status::LiveInsufficientScope),
            "revoked" => Some(Status::Revoked),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Live => f.write_str("live"),
            Status::LiveInsufficientScope => f.write_str("live (insufficient scope)"),
            Status::Revoked => f.write_str("revoked"),
            Status::Unknown(r) => write!(f, "unknown ({r})"),
        }
    }
}

/// The outcome of verifying one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// What the API said.
    pub status: Status,
    /// The HTTP status of the last response, if one came.
    pub http_status: Option<u16>,
    /// The answer came from the cache, not a request made by this run.
    pub cached: bool,
    /// For transport failures: what failed (`connection failed: connection refused`). Built
    /// from fixed words and error kinds; never holds a key.
    pub detail: Option<String>,
}

impl Verification {
    /// An `unknown` outcome with no HTTP answer.
    #[must_use]
    pub fn unknown(reason: Reason) -> Verification {
        Verification {
            status: Status::Unknown(reason),
            http_status: None,
            cached: false,
            detail: None,
        }
    }
}
