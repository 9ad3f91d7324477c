//! The API base URL keys are sent to, validated before any key goes near it.
//!
//! This module owns one decision: where a key may be sent. `https://` anywhere; plain `http://`
//! only to a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`), which is what tests use. No
//! user information, query or fragment: the URL is a base, `/agents` is appended to it.
//! Building and sending the request is [`super::client`]'s job.

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

/// The vendor's production API.
pub const DEFAULT_API_URL: &str = "https://amp.nomotic.ai/api/v1";

/// Why an API URL is refused. Messages quote the URL: it holds no key.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ApiUrlError {
    /// Not `http://` or `https://`.
    #[error("the API URL must start with https:// (got {0:?})")]
    Scheme(String),
    /// Plain HTTP to a host that is not this machine.
    #[error(
        "plain http:// would send keys unencrypted; it is allowed only to a loopback host (got {0:?})"
    )]
    PlainHttp(String),
    /// No host, or a host with characters a host cannot hold.
    #[error("the API URL has no valid host (got {0:?})")]
    Host(String),
    /// `user@`, `?query` or `#fragment`.
    #[error("the API URL must not hold user information, a query or a fragment (got {0:?})")]
    Extra(String),
}

/// A validated API base URL without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl {
    base: String,
    loopback: bool,
}

impl ApiUrl {
    /// Validates `url`.
    ///
    /// # Errors
    /// An [`ApiUrlError`] saying what is wrong.
    pub fn parse(url: &str) -> Result<ApiUrl, ApiUrlError> {
        let trimmed = url.trim().trim_end_matches('/');
        let lower = trimmed.to_ascii_lowercase();
        let (https, rest) = if lower.starts_with("https://") {
            (true, &trimmed["https://".len()..])
        } else if lower.starts_with("http://") {
            (false, &trimmed["http://".len()..])
        } else {
            return Err(ApiUrlError::Scheme(url.to_string()));
        };
        if rest.contains(['@', '?', '#']) {
            return Err(ApiUrlError::Extra(url.to_string()));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let host = host_of(authority).ok_or_else(|| ApiUrlError::Host(url.to_string()))?;
        let loopback = is_loopback(host);
        if !https && !loopback {
            return Err(ApiUrlError::PlainHttp(url.to_string()));
        }
        Ok(ApiUrl {
            base: trimmed.to_string(),
            loopback,
        })
    }

    /// The one endpoint nmleaks calls: `{api}/agents`, a read-only listing.
    #[must_use]
    pub fn agents(&self) -> String {
        format!("{}/agents", self.base)
    }

    /// The host is this machine (no proxy is used for it).
    #[must_use]
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// The base URL as given, without a trailing slash.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.base
    }
}

impl Default for ApiUrl {
    fn default() -> ApiUrl {
        ApiUrl {
            base: DEFAULT_API_URL.to_string(),
            loopback: false,
        }
    }
}

impl fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// The host part of `host[:port]` or `[v6]:port`; `None` if empty or malformed.
fn host_of(authority: &str) -> Option<&str> {
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        h
    } else {
        authority.split(':').next()?
    };
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
    ok.then_some(host)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_the_default_is_the_vendors_api() {
        let api = ApiUrl::parse("https://amp.nomotic.ai/api/v1/").unwrap();
        assert_eq!(api.agents(), "https://amp.nomotic.ai/api/v1/agents");
        assert_eq!(ApiUrl::default(), api);
        assert!(!api.is_loopback());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8080/api/v1",
            "http://127.3.2.1/x",
            "http://localhost:1",
            "http://[::1]:9/api",
        ] {
            let api = ApiUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(api.is_loopback(), "{ok}");
        }
        for bad in [
            "http://amp.nomotic.ai/api/v1",
            "http://10.0.0.1/",
            "http://localhost.evil.test/",
            "http://127.0.0.1.evil.test/",
        ] {
            assert!(
                matches!(ApiUrl::parse(bad), Err(ApiUrlError::PlainHttp(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn other_schemes_credentials_queries_and_empty_hosts_are_refused() {
        assert!(matches!(
            ApiUrl::parse("ftp://x/"),
            Err(ApiUrlError::Scheme(_))
        ));
        assert!(matches!(
            ApiUrl::parse("amp.nomotic.ai"),
            Err(ApiUrlError::Scheme(_))
        ));
        for bad in [
            "https://u:p@amp.nomotic.ai/",
            "https://amp.nomotic.ai/?a=1",
            "https://amp.nomotic.ai/#x",
        ] {
            assert!(
                matches!(ApiUrl::parse(bad), Err(ApiUrlError::Extra(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            ApiUrl::parse("https:///api"),
            Err(ApiUrlError::Host(_))
        ));
    }
}
