//! `nmleaks git URL`: a remote repository, mirrored into a cache directory with the system
//! `git`, so that credential helpers, SSH keys, proxies and `GIT_ASKPASS` work as the user
//! has them.
//!
//! The mirror is a bare repository per URL (`--clone-dir`, by default `nmleaks/repos` in the
//! user's cache directory) that fetches every ref of the remote into `refs/remotes/origin/`:
//! everything the audit finds there was pushed, and provenance says so. The first run clones
//! (into a temporary directory renamed when complete: a failed clone leaves nothing); later
//! runs fetch, pruning refs the remote deleted. This module only runs `git init`, `git config`
//! and `git fetch` on directories it made; nothing of the remote's is ever run.
//!
//! A token (`--token`, or `GITHUB_TOKEN` for github.com only, so that it never goes to
//! another host) reaches git as an HTTP header through git's environment-variable config
//! (`GIT_CONFIG_COUNT`, scoped to the URL's host): never in a child's arguments, never in the
//! URL written to the mirror's config, never in a message. Credentials written into the URL
//! itself (`https://user:secret@host/…`) are taken out of it the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::GitError;

/// Whether `s`, which names nothing on this machine, reads as a git remote: `scheme://…`, or
/// git's scp-like `user@host:path` (a colon before any slash).
#[must_use]
pub fn looks_remote(s: &str) -> bool {
    if Path::new(s).exists() {
        return false;
    }
    if let Some((scheme, _)) = s.split_once("://") {
        return !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    }
    match (s.find(':'), s.find('/')) {
        (Some(colon), slash) => {
            colon > 0 && slash.is_none_or(|sl| colon < sl) && s[..colon].contains('@')
        }
        _ => false,
    }
}

/// `scheme://user:secret@host/…` as `scheme://***@host/…`: a URL's credentials are never
/// echoed.
#[must_use]
pub fn without_credentials(url: &str) -> String {
    match split_credentials(url) {
        (clean, Some(_)) => {
            let (scheme, rest) = clean.split_once("://").unwrap_or(("", &clean));
            format!("{scheme}://***@{rest}")
        }
        (clean, None) => clean,
    }
}

/// The URL without its `user:password@`, and the credentials that were there.
fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (
                format!("{scheme}://{}", &rest[at + 1..]),
                Some((user.to_string(), pass.to_string())),
            )
        }
        None => (url.to_string(), None),
    }
}

/// Where the mirror of `url` lives under `root`: a readable name plus a digest of the URL
/// (without credentials), so two URLs never share a mirror.
fn mirror_dir(root: &Path, url: &str) -> PathBuf {
    root.join(format!("{}.git", file_stem(url)))
}

/// A file name for what `name` (a URL or a path) names: its last component with any key in it
/// redacted, plain characters only (never starting with a dot), then 16 hex digits of the
/// SHA-256 of the whole name, so that two names never share a file: `app-0123456789abcdef`.
#[must_use]
pub fn file_stem(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let hex = crate::finding::hex(&digest[..8]);
    // A repository named after a key must not name a directory after it.
    let name = crate::sanitize::hide_keys_in(name);
    let last: String = name
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .trim_end_matches(".git")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .take(40)
        .collect();
    let last = if last.is_empty() || last.starts_with('.') {
        format!("repo{last}")
    } else {
        last
    };
    format!("{last}-{hex}")
}

/// A mirror made or brought up to date.
#[derive(Debug)]
pub struct Mirror {
    /// The bare repository.
    pub dir: PathBuf,
    /// The URL as shown (credentials hidden).
    pub shown: String,
    /// Whether this run cloned it (else it fetched).
    pub cloned: bool,
    /// The remote's refs were the mirror's already: nothing was fetched.
    pub up_to_date: bool,
}

/// Mirrors `url` under `root`: clones it the first time, fetches after.
///
/// # Errors
/// [`GitError::Git`] with git's own words (sanitised, credentials hidden) when git cannot be
/// run or the clone or fetch fails.
pub fn mirror(url: &str, root: &Path, token: Option<&str>) -> Result<Mirror, GitError> {
    let (clean, creds) = split_credentials(url);
    let shown = without_credentials(url);
    let secrets: Vec<String> = creds
        .iter()
        .flat_map(|(u, p)| [u.clone(), p.clone()])
        .chain(token.map(str::to_string))
        .filter(|s| s.len() >= 4)
        .collect();
    let fail = |what: &str, detail: &str| GitError::Git {
        context: format!("{shown}: {what}"),
        message: hide(&crate::sanitize::text(detail.trim()), &secrets),
    };
    std::fs::create_dir_all(root)
        .map_err(|e| fail("cannot create the clone directory", &e.to_string()))?;
    let dir = mirror_dir(root, &clean);
    // The header for the password: the token, else the URL's own.
    let auth = token
        .map(|t| ("x-access-token".to_string(), t.to_string()))
        .or(creds.filter(|(_, p)| !p.is_empty()));
    let git = |dir: &Path, args: &[&str]| -> Result<Vec<u8>, GitError> {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(dir).args(args);
        git_env(&mut cmd, &clean, auth.as_ref());
        let out = cmd
            .output()
            .map_err(|e| fail("cannot run git", &e.to_string()))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        let err = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = last[last.len().saturating_sub(3)..].join("; ");
        Err(fail(&format!("git {} failed", args[0]), &tail))
    };
    // What the remote has: its refs, and the branch its HEAD names.
    let advertised = |dir: &Path| -> Result<Advertised, GitError> {
        Ok(parse_ls_remote(&git(
            dir,
            &["ls-remote", "--symref", "origin"],
        )?))
    };
    // HEAD follows the remote's default branch, so that "still at HEAD" means at the tip of
    // the remote's default branch.
    let set_head = |dir: &Path, head: Option<&str>| -> Result<(), GitError> {
        let Some(branch) = head.and_then(|h| h.strip_prefix("refs/")) else {
            return Ok(());
        };
        let target = format!("refs/remotes/origin/{branch}");
        let current = std::fs::read_to_string(dir.join("HEAD")).unwrap_or_default();
        if current.trim() != format!("ref: {target}") {
            git(dir, &["symbolic-ref", "HEAD", &target])?;
        }
        Ok(())
    };
    if dir.join("HEAD").is_file() {
        // One round trip when nothing moved: the remote's refs, compared with the mirror's.
        let remote = advertised(&dir)?;
        let up_to_date = remote.refs == mirrored_refs(&dir);
        if !up_to_date {
            git(&dir, &["fetch", "--prune", "--quiet", "origin"])?;
        }
        set_head(&dir, remote.head.as_deref())?;
        return Ok(Mirror {
            dir,
            shown,
            cloned: false,
            up_to_date,
        });
    }
    let stem = format!(
        ".{}.partial-",
        dir.file_name().unwrap_or_default().to_string_lossy()
    );
    remove_abandoned(root, &stem);
    let partial = root.join(format!("{stem}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let made = (|| {
        std::fs::create_dir_all(&partial)
            .map_err(|e| fail("cannot create the mirror", &e.to_string()))?;
        git(&partial, &["init", "--bare", "--quiet"])?;
        git(&partial, &["config", "remote.origin.url", &clean])?;
        git(
            &partial,
            &[
                "config",
                "remote.origin.fetch",
                "+refs/*:refs/remotes/origin/*",
            ],
        )?;
        git(&partial, &["fetch", "--prune", "--quiet", "origin"])?;
        set_head(&partial, advertised(&partial)?.head.as_deref())?;
        std::fs::rename(&partial, &dir)
            .map_err(|e| fail("cannot move the mirror into place", &e.to_string()))
    })();
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    Ok(Mirror {
        dir,
        shown,
        cloned: true,
        up_to_date: false,
    })
}

/// Removes the clones into `root` that a run which is gone left half done
/// (`STEM<pid>`, a clone stopped by Ctrl-C or a crash): on Linux, those whose process no
/// longer exists (`/proc/<pid>`); elsewhere none, since another run may still be cloning.
fn remove_abandoned(root: &Path, stem: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(stem))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// What `git ls-remote --symref origin` says: each ref (but HEAD and peeled tags) as the
/// mirror's refspec maps it (`refs/X` to `refs/remotes/origin/X`), with its id, and the ref
/// HEAD names.
#[derive(Debug, Default, PartialEq, Eq)]
struct Advertised {
    refs: std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
    head: Option<String>,
}

fn parse_ls_remote(out: &[u8]) -> Advertised {
    let mut a = Advertised::default();
    for line in out.split(|&b| b == b'\n') {
        let Some(tab) = line.iter().position(|&b| b == b'\t') else {
            continue;
        };
        let (left, name) = (&line[..tab], &line[tab + 1..]);
        if let Some(target) = left.strip_prefix(b"ref: ") {
            if name == b"HEAD" {
                a.head = Some(String::from_utf8_lossy(target).into_owned());
            }
            continue;
        }
        if name.ends_with(b"^{}") {
            continue;
        }
        if let Some(rest) = name.strip_prefix(b"refs/") {
            let mut local = b"refs/remotes/origin/".to_vec();
            local.extend_from_slice(rest);
            a.refs.insert(local, left.to_vec());
        }
    }
    a
}

/// The mirror's refs under `refs/remotes/origin/` with their ids (hex), as
/// [`parse_ls_remote`] lists the remote's; empty if the mirror cannot be read (then it is
/// fetched).
fn mirrored_refs(dir: &Path) -> std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
    let mut refs = std::collections::BTreeMap::new();
    let Ok(repo) = git2::Repository::open_bare(dir) else {
        return refs;
    };
    let Ok(iter) = repo.references_glob("refs/remotes/origin/*") else {
        return refs;
    };
    for r in iter.flatten() {
        if let Some(id) = r.target() {
            refs.insert(r.name_bytes().to_vec(), id.to_string().into_bytes());
        }
    }
    refs
}

/// The environment git runs with: no prompt unless a person is at a terminal, no hook
/// environment of a calling git, and the credentials as a header scoped to the URL's host.
fn git_env(cmd: &mut Command, url: &str, auth: Option<&(String, String)>) {
    use base64::Engine as _;
    use std::io::IsTerminal as _;
    for v in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    ] {
        cmd.env_remove(v);
    }
    if !std::io::stdin().is_terminal() {
        cmd.env("GIT_TERMINAL_PROMPT", "0");
    }
    let Some((user, pass)) = auth else {
        return;
    };
    // `http.<url>.extraHeader` applies to that URL's host (and paths under it) only.
    let Some((scheme, rest)) = url.split_once("://") else {
        return;
    };
    if scheme != "https" && scheme != "http" {
        return;
    }
    let host = rest.split('/').next().unwrap_or(rest);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    cmd.env("GIT_CONFIG_COUNT", "1")
        .env(
            "GIT_CONFIG_KEY_0",
            format!("http.{scheme}://{host}/.extraHeader"),
        )
        .env(
            "GIT_CONFIG_VALUE_0",
            format!("Authorization: Basic {basic}"),
        );
}

/// `text` with each secret replaced by `***`.
fn hide(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
}

/// The token for `url`: `--token` for any host, else `GITHUB_TOKEN` for github.com only.
#[must_use]
pub fn token_for(url: &str, explicit: Option<&str>) -> Option<String> {
    if let Some(t) = explicit.filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    let host = url
        .split_once("://")
        .map(|(_, r)| r.split('/').next().unwrap_or(r))?;
    let host = host.rsplit('@').next().unwrap_or(host);
    (host == "github.com")
        .then(|| std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_out_of_urls_and_are_never_shown() {
        assert_eq!(
            without_credentials("https://x-access-token:ghp_s3cr3t@github.com/o/r.git"),
            "https://***@github.com/o/r.git"
        );
        let (clean, creds) = split_credentials("https://u:p@h/x");
        assert_eq!(clean, "https://h/x");
        assert_eq!(creds, Some(("u".into(), "p".into())));
        assert_eq!(
            without_credentials("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
    }

    #[test]
    fn remotes_are_told_from_paths() {
        for r in [
            "https://h/o/r.git",
            "ssh://git@h/o/r",
            "git@h:o/r.git",
            "file:///tmp/x",
        ] {
            assert!(looks_remote(r), "{r}");
        }
        for p in ["repo", "./a:b", "dir/x@y:z", "C"] {
            assert!(!looks_remote(p), "{p}");
        }
    }

    #[test]
    fn ls_remote_is_read_as_the_mirror_maps_it() {
        let out = b"ref: refs/heads/main\tHEAD\n\
            1111111111111111111111111111111111111111\tHEAD\n\
            1111111111111111111111111111111111111111\trefs/heads/main\n\
            2222222222222222222222222222222222222222\trefs/tags/v1\n\
            3333333333333333333333333333333333333333\trefs/tags/v1^{}\n";
        let a = parse_ls_remote(out);
        assert_eq!(a.head.as_deref(), Some("refs/heads/main"));
        let refs: Vec<(&[u8], &[u8])> = a
            .refs
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        assert_eq!(
            refs,
            [
                (
                    &b"refs/remotes/origin/heads/main"[..],
                    &b"1111111111111111111111111111111111111111"[..]
                ),
                (
                    &b"refs/remotes/origin/tags/v1"[..],
                    &b"2222222222222222222222222222222222222222"[..]
                ),
            ]
        );
    }

    #[test]
    fn github_token_goes_to_github_only() {
        assert_eq!(
            token_for("https://gitlab.example/o/r", Some("t1")).as_deref(),
            Some("t1")
        );
        // Without --token, another host never gets GITHUB_TOKEN (whatever it holds).
        assert_eq!(token_for("https://gitlab.example/o/r", None), None);
    }
}
