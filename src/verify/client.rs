//! One HTTP exchange with the Nomotic API, and what its answer means.
//!
//! This module owns the request (`GET {api}/agents` with the key as a bearer token, nothing
//! else, no redirect followed, rustls with the platform's roots) and the reading of the
//! response into an [`Answer`]. Transport failures become a [`TransportError`] whose message
//! is built here from fixed words and the kind of failure: ureq's own error text is never
//! passed on whole, so no request detail (headers included) can reach a message. Retrying,
//! pacing and caching belong to the caller; what this module offers for retrying is the
//! [`TransportError::Dropped`] kind and [`Reuse::Never`], a request on a new connection.
//!
//! ureq keeps connections alive in a pool and probes one before reusing it, but a server may
//! close it between the probe and the request (an idle timeout shorter than the client's, a
//! load balancer that closes after each response). The request then fails with a reset or an
//! end of stream before any response: [`TransportError::Dropped`]. ureq does not say whether
//! a request went out on a pooled connection; [`Client::has_answered`] says whether one can
//! have (a connection joins the pool only after a response).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;
use ureq::tls::{RootCerts, TlsConfig, TlsProvider};

use super::api::ApiUrl;
use super::{Reason, Status, Verification};
use crate::finding::Secret;

/// The most of a response body read to decide whether it is the API's JSON.
const BODY_LIMIT: u64 = 256 * 1024;

/// Why no HTTP answer came back. The caller branches on it: each kind is a different
/// `unknown` reason.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Connecting, sending or receiving took longer than allowed.
    #[error("timed out ({0})")]
    Timeout(&'static str),
    /// The host name did not resolve.
    #[error("the API host name did not resolve")]
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The connection was refused, or failed after the response began.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The connection was reset or closed before any response came back: on a pooled
    /// connection, what a server that closed it meanwhile looks like. Worth one more try on a
    /// new connection.
    #[error("connection failed: {0} before a response")]
    Dropped(String),
    /// Anything else: a malformed response, a proxy failure.
    #[error("network error: {0}")]
    Other(String),
}

impl TransportError {
    /// The `unknown` reason this failure stands for.
    #[must_use]
    pub fn reason(&self) -> Reason {
        match self {
            TransportError::Timeout(_) => Reason::Timeout,
            TransportError::Dns => Reason::Dns,
            TransportError::Tls(_) => Reason::Tls,
            TransportError::Connection(_) | TransportError::Dropped(_) => Reason::Connection,
            TransportError::Other(_) => Reason::Network,
        }
    }
}

/// What one request came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A final answer for this key.
    Done(Verification),
    /// HTTP 429: try again after the server's `Retry-After`, if it sent one.
    RateLimited {
        /// The server's wait, uncapped.
        retry_after: Option<Duration>,
    },
}

/// Timeouts for one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Resolving the host and establishing TCP and TLS.
    pub connect: Duration,
    /// Sending the request, then receiving the response head, then its body (each).
    pub read: Duration,
}

/// Which connection a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// One from the pool if there is one (keep-alive), else a new one.
    Allowed,
    /// A new connection, whatever the pool holds.
    Never,
}

/// An HTTP client for the one endpoint nmleaks calls.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    url: String,
    /// A response has come back: from then on the pool may hold a connection.
    answered: AtomicBool,
}

impl Client {
    /// A client for `api`. No connection is made until [`Client::check`].
    #[must_use]
    pub fn new(api: &ApiUrl, timeouts: Timeouts) -> Client {
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::PlatformVerifier)
            .build();
        let mut config = ureq::Agent::config_builder()
            // Every status is an answer to classify, not an error.
            .http_status_as_error(false)
            // A redirect could carry the key to another host: it is an answer, not followed.
            .max_redirects(0)
            .user_agent(concat!("nmleaks/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .tls_config(tls)
            .timeout_resolve(Some(timeouts.connect))
            .timeout_connect(Some(timeouts.connect))
            .timeout_send_request(Some(timeouts.read))
            .timeout_recv_response(Some(timeouts.read))
            .timeout_recv_body(Some(timeouts.read));
        if api.is_loopback() {
            // A proxy from the environment never sees a key meant for this machine.
            config = config.proxy(None);
        }
        Client {
            agent: config.build().new_agent(),
            url: api.agents(),
            answered: AtomicBool::new(false),
        }
    }

    /// Whether a response has come back on this client, so that a request may have gone out
    /// on a pooled connection. Before the first response every connection is new.
    #[must_use]
    pub fn has_answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// Asks the API about `key`: one `GET {api}/agents` on a connection `reuse` allows, cut
    /// off at `deadline` if it is still running then.
    ///
    /// # Errors
    /// A [`TransportError`] when no HTTP response came back (or its body could not be read).
    pub fn check(
        &self,
        key: &Secret,
        deadline: Option<Instant>,
        reuse: Reuse,
    ) -> Result<Answer, TransportError> {
        let mut request = self
            .agent
            .get(&self.url)
            .header("Authorization", format!("Bearer {}", key.expose()))
            .header("Accept", "application/json");
        if deadline.is_some() || reuse == Reuse::Never {
            let mut config = request.config();
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                config = config.timeout_global(Some(left));
            }
            if reuse == Reuse::Never {
                // Every pooled connection is too old for this request: ureq opens a new one
                // (and pools that one afterwards as usual).
                config = config.max_idle_age(Duration::ZERO);
            }
            request = config.build();
        }
        let mut response = request.call().map_err(transport_error)?;
        self.answered.store(true, Ordering::Relaxed);
        let status = response.status().as_u16();
        if status == 429 {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| super::retry::parse_retry_after(v, SystemTime::now()));
            return Ok(Answer::RateLimited { retry_after });
        }
        let json_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_media_type);
        let needs_body = matches!(status, 200 | 401 | 403) && json_type;
        let json_body = needs_body && {
            let body = read_prefix(response.body_mut(), BODY_LIMIT)?;
            is_json(&body, BODY_LIMIT)
        };
        Ok(Answer::Done(classify(status, json_body)))
    }
}

/// The meaning of an HTTP status, given whether the body is the API's JSON.
#[must_use]
pub fn classify(status: u16, api_json: bool) -> Verification {
    let s = match status {
        200 | 401 | 403 if !api_json => Status::Unknown(Reason::NotApiJson),
        200 => Status::Live,
        403 => Status::LiveInsufficientScope,
        401 => Status::Revoked,
        429 => Status::Unknown(Reason::RateLimited),
        300..=399 => Status::Unknown(Reason::Redirect),
        500..=599 => Status::Unknown(Reason::ServerError),
        _ => Status::Unknown(Reason::UnexpectedStatus),
    };
    Verification {
        status: s,
        http_status: Some(status),
        cached: false,
        detail: None,
    }
}

/// `application/json` or any `…/…+json`, parameters ignored.
fn is_json_media_type(value: &str) -> bool {
    let media = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.contains('/') && media.ends_with("+json"))
}

/// Up to `limit` bytes of the body (more is not needed to judge it).
fn read_prefix(body: &mut ureq::Body, limit: u64) -> Result<Vec<u8>, TransportError> {
    use std::io::Read;
    let mut out = Vec::new();
    body.as_reader()
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| match transport_error(ureq::Error::from(e)) {
            // The response had begun: the request was answered, trying again would not help.
            TransportError::Dropped(kind) => TransportError::Connection(kind),
            other => other,
        })?;
    Ok(out)
}

/// The body is JSON, or (when cut at `limit`) a valid beginning of JSON.
fn is_json(body: &[u8], limit: u64) -> bool {
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Ok(_) => true,
        Err(e) => body.len() as u64 >= limit && e.is_eof(),
    }
}

/// Maps ureq's error to fixed words plus the failure's kind. ureq's text is not passed on
/// except for I/O and TLS kinds, whose messages name the failure, never the request.
fn transport_error(e: ureq::Error) -> TransportError {
    use std::io::ErrorKind;
    match e {
        ureq::Error::Timeout(t) => TransportError::Timeout(match t {
            ureq::Timeout::Resolve | ureq::Timeout::Connect => "connect",
            _ => "read",
        }),
        ureq::Error::HostNotFound => TransportError::Dns,
        ureq::Error::Tls(msg) => TransportError::Tls(msg.to_string()),
        ureq::Error::Rustls(r) => TransportError::Tls(r.to_string()),
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => TransportError::Timeout("read"),
            // Reset or closed by the other end (writing the request, or waiting for the
            // response): a pooled connection the server had closed looks like this.
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => TransportError::Dropped(io.kind().to_string()),
            ErrorKind::ConnectionRefused
            | ErrorKind::NotConnected
            | ErrorKind::AddrNotAvailable
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable => TransportError::Connection(io.kind().to_string()),
            // rustls reports handshake failures as invalid data wrapping its own error, whose
            // text names the failure ("invalid peer certificate: UnknownIssuer").
            ErrorKind::InvalidData => TransportError::Tls(io.to_string()),
            // The system resolver's failures come without a kind of their own ("failed to
            // lookup address information: …"): said as the DNS failure they are, not as
            // "uncategorized error".
            _ if is_dns_failure(&io.to_string()) => TransportError::Dns,
            _ => TransportError::Other(crate::sanitize::text(&io.to_string())),
        },
        ureq::Error::ConnectionFailed => TransportError::Connection("no connection".into()),
        ureq::Error::Protocol(_) => TransportError::Other("malformed HTTP response".into()),
        ureq::Error::LargeResponseHeader(..) => {
            TransportError::Other("response header too large".into())
        }
        ureq::Error::ConnectProxyFailed(_) | ureq::Error::InvalidProxyUrl => {
            TransportError::Other("proxy failed".into())
        }
        _ => TransportError::Other("request failed".into()),
    }
}

/// Whether an I/O error's text is the system resolver's (glibc, musl, macOS, Windows).
fn is_dns_failure(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "lookup address",
        "name or service not known",
        "name resolution",
        "nodename nor servname",
        "no such host",
        "no address associated",
    ]
    .iter()
    .any(|p| t.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_mean_what_the_vendor_says() {
        assert_eq!(classify(200, true).status, Status::Live);
        assert_eq!(classify(403, true).status, Status::LiveInsufficientScope);
        assert_eq!(classify(401, true).status, Status::Revoked);
        assert_eq!(
            classify(500, true).status,
            Status::Unknown(Reason::ServerError)
        );
        assert_eq!(
            classify(503, false).status,
            Status::Unknown(Reason::ServerError)
        );
        assert_eq!(
            classify(302, false).status,
            Status::Unknown(Reason::Redirect)
        );
        assert_eq!(
            classify(404, true).status,
            Status::Unknown(Reason::UnexpectedStatus)
        );
        assert_eq!(classify(404, true).http_status, Some(404));
    }

    #[test]
    fn an_answer_that_is_not_the_apis_json_is_unknown_never_live() {
        for status in [200, 401, 403] {
            assert_eq!(
                classify(status, false).status,
                Status::Unknown(Reason::NotApiJson),
                "{status}"
            );
        }
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/problem+json"));
        assert!(!is_json_media_type("text/html; charset=utf-8"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("+json"));
    }

    #[test]
    fn json_bodies_whole_or_cut_at_the_limit() {
        assert!(is_json(br#"{"agents": []}"#, 1024));
        assert!(is_json(b" [1, 2] ", 1024));
        assert!(!is_json(b"<html><body>Forbidden</body></html>", 1024));
        assert!(!is_json(b"", 1024));
        assert!(
            !is_json(br#"{"agents": ["#, 1024),
            "short and cut: not JSON"
        );
        assert!(
            is_json(br#"{"agents": [1, 2, "#, 16),
            "cut at the limit: valid so far"
        );
        assert!(!is_json(b"<html><body>Forbid", 16));
    }

    #[test]
    fn transport_errors_map_to_reasons() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            transport_error(ureq::Error::Io(refused)).reason(),
            Reason::Connection
        );
        assert_eq!(
            transport_error(ureq::Error::HostNotFound).reason(),
            Reason::Dns
        );
        for kind in [
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::UnexpectedEof,
            std::io::ErrorKind::BrokenPipe,
        ] {
            let e = transport_error(ureq::Error::Io(kind.into()));
            assert!(matches!(e, TransportError::Dropped(_)), "{kind:?}: {e:?}");
            assert_eq!(e.reason(), Reason::Connection);
        }
        assert_eq!(
            transport_error(ureq::Error::Timeout(ureq::Timeout::RecvResponse)).reason(),
            Reason::Timeout
        );
        assert_eq!(
            transport_error(ureq::Error::BadUri("x".into())).reason(),
            Reason::Network
        );
    }

    /// Without a network, `--verify` said "network error: uncategorized error": the system
    /// resolver's failure has no I/O kind of its own. It is a DNS failure, and other
    /// uncategorised failures say what they are.
    #[test]
    fn a_resolver_failure_is_said_as_dns_not_uncategorized() {
        for text in [
            "failed to lookup address information: Temporary failure in name resolution",
            "failed to lookup address information: Name or service not known",
            "failed to lookup address information: nodename nor servname provided, or not known",
        ] {
            let e = transport_error(ureq::Error::Io(std::io::Error::other(text)));
            assert_eq!(e.reason(), Reason::Dns, "{text}");
            assert_eq!(e.to_string(), TransportError::Dns.to_string());
        }
        let e = transport_error(ureq::Error::Io(std::io::Error::other(
            "socket quota exceeded",
        )));
        assert_eq!(e.to_string(), "network error: socket quota exceeded");
        assert!(!e.to_string().contains("uncategorized"));
    }
}
