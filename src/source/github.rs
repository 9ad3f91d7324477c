//! The repositories of a GitHub organisation or user, listed through the GitHub REST API
//! (`nmleaks audit --github-org ORG`, `--github-user USER`; `--github-api-url` for GitHub
//! Enterprise Server).
//!
//! One `GET {api}/orgs/{org}/repos` (or `/users/{user}/repos`; `/user/repos` when the token is
//! the user's own, which lists the private ones too) of 100 repositories a page,
//! following the `Link: <…>; rel="next"` header, and only to the API's own scheme, host and
//! port: a token is never sent anywhere else. Bounded: a page's body is read up to
//! [`PAGE_LIMIT`] bytes and at most [`MAX_PAGES`] pages are followed, each request within the
//! timeouts; more is an error, never a silently shorter list. Errors are built from fixed
//! words and what the API said of itself (its status, its rate-limit headers): never from the
//! request, which carries the token.

use std::time::Duration;

use serde::Deserialize;

/// Whose repositories to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// An organisation's (`GET /orgs/{org}/repos?type=all`).
    Org(String),
    /// A user's own (`GET /users/{user}/repos?type=owner`).
    User(String),
}

impl Owner {
    fn path(&self) -> String {
        match self {
            Owner::Org(o) => format!("orgs/{}/repos?type=all&per_page=100", encode(o)),
            Owner::User(u) => format!("users/{}/repos?type=owner&per_page=100", encode(u)),
        }
    }

    /// `organisation acme`, `user someone`: how messages name it.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Owner::Org(o) => format!("organisation {}", crate::sanitize::text(o)),
            Owner::User(u) => format!("user {}", crate::sanitize::text(u)),
        }
    }
}

/// The most bytes of one page's body that are read: 100 repositories take about 600 KB.
pub const PAGE_LIMIT: u64 = 16 << 20;

/// The most pages followed: 100,000 repositories.
pub const MAX_PAGES: usize = 1_000;

/// One repository the API listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// `owner/name`.
    pub full_name: String,
    /// The HTTPS clone URL.
    pub clone_url: String,
    /// Visible to everyone (`visibility` is `public`, or `private` is false).
    pub public: bool,
    /// A fork of another repository.
    pub fork: bool,
    /// Archived (read-only).
    pub archived: bool,
}

#[derive(Deserialize)]
struct ApiRepo {
    full_name: String,
    clone_url: String,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    fork: bool,
    #[serde(default)]
    archived: bool,
}

/// Why a listing failed: one sentence.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GithubError(pub String);

/// Lists every repository of `owner` at `api` (`https://api.github.com`, or a GitHub
/// Enterprise Server's `https://HOST/api/v3`), with `token` as a bearer token if given.
///
/// # Errors
/// The API refused (401, 403, 404, a rate limit: the error says which, and when the limit
/// resets), answered something that is not a list of repositories, sent more than
/// [`MAX_PAGES`] pages or a page over [`PAGE_LIMIT`], pointed its next page at another host,
/// or could not be reached.
pub fn list(api: &str, owner: &Owner, token: Option<&str>) -> Result<Vec<Repo>, GithubError> {
    let api = api.trim_end_matches('/');
    let origin = origin_of(api)
        .filter(|o| o.starts_with("https://") || is_loopback(o))
        .ok_or_else(|| {
            GithubError(format!(
                "--github-api-url {}: not an https:// URL (http:// only to a loopback host: a \
                 token must not cross a network in the clear)",
                crate::sanitize::echoed(api)
            ))
        })?;
    let agent = agent(&origin);
    let who = owner.describe();
    // `/users/{user}/repos` lists a user's public repositories only, even to the user: with
    // the user's own token, `/user/repos` lists the private ones too.
    let own = match (owner, token) {
        (Owner::User(u), Some(t)) => {
            authenticated_login(&agent, api, t).is_some_and(|l| l.eq_ignore_ascii_case(u))
        }
        _ => false,
    };
    let mut url = if own {
        format!("{api}/user/repos?affiliation=owner&per_page=100")
    } else {
        format!("{api}/{}", owner.path())
    };
    let mut repos = Vec::new();
    for page in 1..=MAX_PAGES {
        let mut request = agent
            .get(&url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let mut response = request.call().map_err(|e| {
            GithubError(format!(
                "listing the repositories of {who}: the GitHub API at {} could not be reached \
                 ({})",
                crate::sanitize::text(&origin),
                reach_error(&e)
            ))
        })?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(GithubError(refusal(
                &who,
                status,
                response.headers(),
                token.is_some(),
            )));
        }
        let next = response
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_link);
        let body = response
            .body_mut()
            .with_config()
            .limit(PAGE_LIMIT)
            .read_to_vec()
            .map_err(|_| {
                GithubError(format!(
                    "listing the repositories of {who}: page {page} could not be read whole \
                     (cut off, or over {} MiB)",
                    PAGE_LIMIT >> 20
                ))
            })?;
        let listed: Vec<ApiRepo> = serde_json::from_slice(&body).map_err(|_| {
            GithubError(format!(
                "listing the repositories of {who}: page {page} is not a list of repositories"
            ))
        })?;
        repos.extend(listed.into_iter().map(|r| Repo {
            public: match r.visibility.as_deref() {
                Some(v) => v == "public",
                None => !r.private,
            },
            full_name: r.full_name,
            clone_url: r.clone_url,
            fork: r.fork,
            archived: r.archived,
        }));
        match next {
            None => return Ok(repos),
            Some(n) if origin_of(&n).as_deref() == Some(origin.as_str()) => url = n,
            Some(_) => {
                return Err(GithubError(format!(
                    "listing the repositories of {who}: the API's next page is on another host; \
                     not followed (the token goes to {} only)",
                    crate::sanitize::text(&origin)
                )));
            }
        }
    }
    Err(GithubError(format!(
        "listing the repositories of {who}: more than {MAX_PAGES} pages of repositories"
    )))
}

/// The HTTP client for the API at `origin`: no redirects (one could carry the token to
/// another host), fixed timeouts, no proxy for a loopback API.
fn agent(origin: &str) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // A redirect could carry the token to another host.
        .max_redirects(0)
        .user_agent(concat!("nmleaks/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_recv_body(Some(Duration::from_secs(60)));
    if is_loopback(origin) {
        config = config.proxy(None);
    }
    config.build().new_agent()
}

/// The login the token belongs to (`GET /user`), if the API says.
fn authenticated_login(agent: &ureq::Agent, api: &str, token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct User {
        login: String,
    }
    let mut response = agent
        .get(&format!("{api}/user"))
        .header("Accept", "application/vnd.github+json")
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .ok()?;
    if response.status().as_u16() != 200 {
        return None;
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .ok()?;
    serde_json::from_slice::<User>(&body).ok().map(|u| u.login)
}

/// What a non-200 answer means, in one sentence.
fn refusal(who: &str, status: u16, headers: &ureq::http::HeaderMap, has_token: bool) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    let resets = header("x-ratelimit-reset")
        .and_then(|v| v.parse::<i64>().ok())
        .map(|t| format!(" (it resets at {})", crate::timefmt::rfc3339(t)))
        .unwrap_or_default();
    let hint = if has_token {
        ""
    } else {
        "; give a token with --token or GITHUB_TOKEN"
    };
    match status {
        401 => format!("listing the repositories of {who}: the GitHub API refused the token (401)"),
        403 | 429 if exhausted || header("retry-after").is_some() => format!(
            "listing the repositories of {who}: the GitHub API's rate limit is exhausted{resets}{hint}"
        ),
        403 => {
            format!("listing the repositories of {who}: the GitHub API denied access (403){hint}")
        }
        404 => format!(
            "listing the repositories of {who}: the GitHub API knows no such {} (404){hint}",
            who.split(' ').next().unwrap_or("owner")
        ),
        s => format!("listing the repositories of {who}: the GitHub API answered HTTP {s}"),
    }
}

/// The URL of `rel="next"` in a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains('@')).then(|| format!("{scheme}://{host}"))
}

fn is_loopback(origin: &str) -> bool {
    let host = origin.split_once("://").map_or(origin, |(_, h)| h);
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Whether `clone_url` is on the host a token for `api` belongs to: the API's own host, or
/// github.com for api.github.com. Other clone URLs get no token.
#[must_use]
pub fn token_belongs(api: &str, clone_url: &str) -> bool {
    let host = |u: &str| {
        origin_of(u).map(|o| {
            let h = o
                .split_once("://")
                .map_or(o.clone(), |(_, h)| h.to_string());
            h.rsplit_once(':')
                .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
                .map_or(h.clone(), |(h, _)| h.to_string())
        })
    };
    match (host(api), host(clone_url)) {
        (Some(a), Some(c)) => a == c || (a == "api.github.com" && c == "github.com"),
        _ => false,
    }
}

/// What kind of failure kept the API out of reach, in fixed words.
fn reach_error(e: &ureq::Error) -> &'static str {
    match e {
        ureq::Error::Timeout(_) => "timed out",
        ureq::Error::HostNotFound => "host not found",
        ureq::Error::Io(_) | ureq::Error::ConnectionFailed => "connection failed",
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS failed",
        _ => "the request failed",
    }
}

/// Percent-encodes a path segment (owner names are plain, but the name comes from the user).
fn encode(s: &str) -> String {
    use std::fmt::Write as _;
    s.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let link = "<https://api.github.com/organizations/1/repos?page=2>; rel=\"next\", \
                    <https://api.github.com/organizations/1/repos?page=5>; rel=\"last\"";
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/organizations/1/repos?page=2")
        );
        assert_eq!(
            next_link("<https://x/?page=1>; rel=\"prev\", <https://x/?page=1>; rel=\"first\""),
            None
        );
    }

    #[test]
    fn a_token_for_the_api_goes_to_its_own_host_only() {
        assert!(token_belongs(
            "https://api.github.com",
            "https://github.com/o/r.git"
        ));
        assert!(token_belongs(
            "https://ghe.example/api/v3",
            "https://ghe.example/o/r.git"
        ));
        assert!(token_belongs(
            "http://127.0.0.1:4000/api",
            "http://127.0.0.1:5000/o/r.git"
        ));
        assert!(!token_belongs(
            "https://api.github.com",
            "https://evil.example/o/r.git"
        ));
        assert!(!token_belongs("https://ghe.example", "git@ghe.example:o/r"));
    }

    #[test]
    fn the_api_is_https_or_on_this_machine() {
        for bad in ["http://ghe.example/api/v3", "ftp://x", "ghe.example"] {
            let e = list(bad, &Owner::Org("o".into()), Some("t")).unwrap_err();
            assert!(e.0.contains("not an https:// URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn owner_names_are_encoded_in_the_path() {
        assert_eq!(
            Owner::Org("a b/../c".into()).path(),
            "orgs/a%20b%2F..%2Fc/repos?type=all&per_page=100"
        );
    }
}
