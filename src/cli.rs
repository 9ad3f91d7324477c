//! Command-line flags: the boundary.
//!
//! clap's derive types describe the flags and nothing else; [`Cli::into_config`] turns them
//! into the plain [`crate::config::Config`] the engine reads, resolving terminal checks and
//! defaults on the way. No other module imports clap.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{
    BaselineChoice, BaselineCreate, BaselineOut, BaselineSource, Common, Config, ConfigChoice,
    Explicit, FailOn, Format, GitConfig, GitMode, Remote, ScanConfig, Token,
};
use crate::verify::{self, ApiUrl};

/// `0.1.0 (commit 0123456789ab, source 0123456789abcdef)`: the release, the git commit it was
/// built from (`unknown` outside a checkout) and a digest of its source (see `build.rs`), which
/// the GitHub Action compares before it trusts a cached build.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("NMLEAKS_COMMIT"),
    ", source ",
    env!("NMLEAKS_SOURCE_ID"),
    ")"
);

/// Finds leaked Nomotic API keys (`nm_live_…`) in files, standard input and git history.
#[derive(Debug, Parser)]
#[command(name = "nmleaks", version = VERSION, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files and directories (default: the current directory); `-` reads standard input.
    ///
    /// Exit codes: 0 nothing found, 1 keys found (those `--fail-on` selects), 2 an error (an
    /// error outranks findings), 101 a bug in nmleaks.
    Scan(ScanArgs),
    /// Scan a git repository: its whole history (default), the staged changes, or a range.
    ///
    /// `nmleaks git` audits every blob, commit message and tag message reachable from any ref
    /// (branches, remote-tracking branches, tags, the stash, notes, HEAD), each blob read once.
    /// `--staged` is the pre-commit check; `--range A..B` the pull-request check.
    ///
    /// Exit codes: 0 nothing found, 1 keys found, 2 an error (an error outranks findings),
    /// 101 a bug in nmleaks.
    Git(GitArgs),
    /// Audit the whole history of many repositories into one report: URLs (mirrored with the
    /// system git into --clone-dir, fetched again on later runs), paths, a --repos file, or
    /// every repository of a GitHub organisation or user.
    ///
    /// A key leaked in several repositories is one finding whose places name their
    /// repository; live keys in public repositories come first. A repository that cannot be
    /// cloned or read is reported with its reason and the audit goes on.
    ///
    /// Exit codes: 0 nothing found, 1 keys found, 2 an error (a repository failed, or part of
    /// one could not be read; an error outranks findings), 101 a bug in nmleaks.
    Audit(AuditArgs),
    /// Join JSON reports into one report, in any format: the reports of `nmleaks audit
    /// --shard K/N` run on N machines, or any nmleaks JSON reports.
    ///
    /// A key in several reports is one finding with the places and repositories of each;
    /// counts add up. Reports hold no keys, so the merged one shows them redacted and cannot
    /// verify them (verify in the audits).
    ///
    /// Exit codes: 0 nothing found, 1 keys found, 2 an error (a report unreadable, or one
    /// that counts errors of its own), 101 a bug in nmleaks.
    Merge(MergeArgs),
    /// Show or check the detection rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Manage the baseline: the keys already known, hidden from later scans.
    Baseline {
        #[command(subcommand)]
        command: BaselineCommand,
    },
    /// Install a git pre-commit hook that runs `nmleaks git --staged`, or with --pre-receive a
    /// server-side hook that runs `nmleaks git --pre-receive` (honours core.hooksPath; never
    /// replaces a hook nmleaks did not write unless --force).
    InstallHook {
        /// The repository (a bare one for --pre-receive), or any path inside it.
        #[arg(value_name = "REPO", default_value = ".")]
        repo: PathBuf,
        /// Replace an existing hook that nmleaks did not write.
        #[arg(long)]
        force: bool,
        /// Install the pre-receive hook (push protection on a git server) instead.
        #[arg(long)]
        pre_receive: bool,
    },
    /// Remove the hook that `install-hook` wrote (and no other).
    UninstallHook {
        /// The repository, or any path inside it.
        #[arg(value_name = "REPO", default_value = ".")]
        repo: PathBuf,
        /// Remove the pre-receive hook instead of the pre-commit hook.
        #[arg(long)]
        pre_receive: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BaselineCommand {
    /// Scan the working tree (or, with --git, --staged or --range, a repository) and write the
    /// fingerprint of every key found to the baseline, `.nmleaks-baseline.json` at the top of
    /// the repository by default, where `scan`, `git` and the hooks find it. Notes of keys
    /// already in that file are kept; --merge keeps its other entries too.
    Create(BaselineArgs),
}

/// `nmleaks baseline create`: what to scan, where the baseline goes. No report flags: the
/// baseline is the only output.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("mode").multiple(false))]
struct BaselineArgs {
    /// Files or directories to scan [default: .]; with --git, --staged or --range, the
    /// repository (one path).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Take the keys from the whole git history instead of the files (as `nmleaks git`).
    #[arg(long, group = "mode")]
    git: bool,
    /// Take the keys the staged changes add (as `nmleaks git --staged`): what a refused commit
    /// needs.
    #[arg(long, group = "mode")]
    staged: bool,
    /// Take the keys the commits in B but not in A introduce (as `nmleaks git --range`).
    #[arg(long, value_name = "A..B", group = "mode")]
    range: Option<String>,
    /// Take the keys from an nmleaks JSON report instead of scanning.
    #[arg(long, value_name = "FILE", group = "mode", conflicts_with_all = ["paths", "no_ignore", "follow"])]
    from_report: Option<PathBuf>,
    /// Write the baseline here [default: .nmleaks-baseline.json at the top of the repository,
    /// or of the current directory outside one]; `-` for standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Keep every entry already in the baseline file, adding the keys found (without it the
    /// file lists exactly the keys this scan found).
    #[arg(long)]
    merge: bool,
    /// Read the rules setting from FILE [default: .nmleaks.toml at the top of the repository].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read no config file.
    #[arg(long, conflicts_with = "config")]
    no_config: bool,
    /// Also scan files that .gitignore, .ignore or .nmleaksignore exclude.
    #[arg(long)]
    no_ignore: bool,
    /// Follow symbolic links.
    #[arg(short = 'L', long)]
    follow: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// List the rules in force (built-in plus --rules files).
    List {
        /// Load more rules from this TOML file (repeatable).
        #[arg(long = "rules", value_name = "FILE")]
        rules: Vec<PathBuf>,
    },
    /// Prove that every example of every rule is found and no negative example is.
    Check {
        /// Rules files to check as well as the built-in rules.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Files or directories to scan [default: .]; `-` for standard input.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also scan files that .gitignore, .ignore or .nmleaksignore exclude (audits).
    #[arg(long)]
    no_ignore: bool,
    /// Follow symbolic links.
    #[arg(short = 'L', long)]
    follow: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("mode").multiple(false))]
struct GitArgs {
    /// The repository, or any path inside it [default: `GIT_DIR`, else the current directory].
    #[arg(value_name = "REPO")]
    repo: Option<PathBuf>,
    /// Scan what the next commit will hold (the index, not the working tree) and report keys
    /// it adds relative to HEAD.
    #[arg(long, group = "mode")]
    staged: bool,
    /// Scan what the commits in B but not in A introduce (like `git log A..B`).
    #[arg(long, value_name = "A..B", group = "mode")]
    range: Option<String>,
    /// Short for --range A..HEAD.
    #[arg(long, value_name = "A", group = "mode")]
    since_commit: Option<String>,
    /// Also scan objects that no ref reaches (dangling blobs and commits left by a reset or
    /// rebase, still on disk and in backups).
    #[arg(long, group = "mode")]
    all_objects: bool,
    /// Where remote repositories (`nmleaks git URL`) are mirrored [default: nmleaks/repos in
    /// the user's cache directory]; a second run fetches into the same mirror.
    #[arg(long, value_name = "DIR")]
    clone_dir: Option<PathBuf>,
    /// A token for the remote's HTTPS host, sent as HTTP Basic credentials
    /// (`x-access-token:TOKEN`, as GitHub takes it). Without it, `GITHUB_TOKEN` is used for
    /// github.com only. Prefer the environment: an argument is visible to other users.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "NMLEAKS_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Run as a git server's pre-receive hook: read `old new ref` lines on standard input,
    /// scan what the push adds (the commits no existing ref reaches, new tags), read from
    /// git's quarantine, and reject the push (exit 1) when it adds a key. See
    /// `install-hook --pre-receive`.
    #[arg(long, group = "mode")]
    pre_receive: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// Repositories: URLs (https://, ssh://, git@host:path, file://) or paths on this machine.
    #[arg(value_name = "REPO")]
    repos: Vec<String>,
    /// Also audit the repositories FILE lists: one URL or path a line; blank lines and lines
    /// starting with `#` are skipped (repeatable).
    #[arg(long = "repos", value_name = "FILE")]
    repos_files: Vec<PathBuf>,
    /// Also audit every repository of this GitHub organisation, listed through the REST API
    /// (repeatable). Forks are left out unless --include-forks.
    #[arg(long, value_name = "ORG")]
    github_org: Vec<String>,
    /// Also audit every repository this GitHub user owns (repeatable).
    #[arg(long, value_name = "USER")]
    github_user: Vec<String>,
    /// The GitHub REST API (GitHub Enterprise Server: `https://HOST/api/v3`).
    #[arg(
        long,
        value_name = "URL",
        env = "NMLEAKS_GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    github_api_url: String,
    /// List forks too (--github-org, --github-user).
    #[arg(long)]
    include_forks: bool,
    /// Leave archived repositories out (they are audited by default: what they leaked is
    /// still there).
    #[arg(long)]
    exclude_archived: bool,
    /// Repositories cloned or fetched at once; their audits run one at a time on every
    /// thread (-j), so memory is one repository's audit.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Audit only the repositories of shard K of N (1 <= K <= N), chosen by a hash of each
    /// repository's URL: N machines with K = 1..N split an organisation; `nmleaks merge`
    /// joins their JSON reports.
    #[arg(long, value_name = "K/N", value_parser = crate::audit::Shard::parse)]
    shard: Option<crate::audit::Shard>,
    /// Go on with the last audit of the same repositories (and settings) that did not
    /// finish: the repositories it finished are not fetched or scanned again, their stored
    /// results are reported. Without it, a repository whose refs have not moved since its
    /// last audit is fetched but not scanned again either.
    #[arg(long)]
    resume: bool,
    /// Where remote repositories are mirrored [default: nmleaks/repos in the user's cache
    /// directory]; the next run fetches into the same mirrors.
    #[arg(long, value_name = "DIR")]
    clone_dir: Option<PathBuf>,
    /// A token for the GitHub API's host: sent to the API as a bearer token, and as HTTP
    /// Basic credentials (`x-access-token:TOKEN`) to the repositories on that host (github.com
    /// for api.github.com), never to another host (those get git's own credential helpers).
    /// Without it, `GITHUB_TOKEN` is used the same way.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "NMLEAKS_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// The JSON reports (`--format json`) to join.
    #[arg(value_name = "REPORT", required = true)]
    reports: Vec<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Every scanning command's flags: what the scan finds and how it is reported.
#[derive(Debug, Args)]
struct CommonArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
    /// Write the report to FILE instead of standard output (`-`: standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print keys in full. Without it every output shows `nm_live_…` and the last 4 characters.
    #[arg(long)]
    show_secrets: bool,
    /// When to colour the human report.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// Hide the keys listed in this baseline file [default: .nmleaks-baseline.json at the top
    /// of the repository, when it exists; see `nmleaks baseline create`].
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Read no baseline, not even .nmleaks-baseline.json.
    #[arg(long, conflicts_with = "baseline")]
    no_baseline: bool,
    /// Also write a SARIF report to FILE, whatever --format says (one scan, two reports).
    #[arg(long, value_name = "FILE")]
    sarif_file: Option<PathBuf>,
    /// Read settings from FILE [default: .nmleaks.toml at the top of the repository, when it
    /// exists]; flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Read no config file, not even .nmleaks.toml.
    #[arg(long, conflicts_with = "config")]
    no_config: bool,
    /// Print the findings only: no summary lines, on stdout or stderr (errors and warnings
    /// are still printed).
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Also say what was skipped and why (each path the ignore rules skipped), and print the
    /// result of a hook that passes.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    verify: VerifyArgs,
}

/// What the scan finds, whatever it reports: rules, threads, the limits.
#[derive(Debug, Args)]
struct EngineArgs {
    /// Hide keys in paths matching GLOB (gitignore syntax; repeatable). The paths are still
    /// read: a key verified live is reported anyway.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Report only keys in paths matching GLOB (gitignore syntax; repeatable).
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Trust nothing the scanned repository provides: read no .nmleaks.toml, .nmleaksignore
    /// or .nmleaks-baseline.json from it (for a third party's repository; with `scan`, add
    /// --no-ignore so its .gitignore hides nothing either).
    #[arg(long)]
    no_repo_config: bool,
    /// Load more rules from this TOML file (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Worker threads [default: all cores].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// List at most N distinct keys (those with the smallest fingerprints); more is an
    /// error (exit 2) that says how many were left out. Bounds memory on hostile input.
    #[arg(long, value_name = "N", default_value_t = 25_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    max_keys: u64,
    /// List at most N places per key (with and without an allow comment each; fewer when
    /// many keys share the 50,000 places listed in all); the rest are counted.
    #[arg(long, value_name = "N", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    max_locations: u64,
    #[command(flatten)]
    decode: DecodeArgs,
}

/// What nmleaks looks inside, and how far (see "What nmleaks looks inside" in the README).
#[derive(Debug, Args)]
#[command(next_help_heading = "Looking inside archives, compression and encodings")]
struct DecodeArgs {
    /// Scan raw bytes only: do not open archives (zip, tar) or compressed files (gzip, bzip2,
    /// xz, zstd), and do not decode base64 or hex.
    #[arg(long)]
    no_decode: bool,
    /// Open at most N layers of wrapping, each archive, compression and encoding counting one
    /// (base64 in base64 in a .tar.gz is 4).
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    max_decode_depth: u64,
    /// Inflate at most SIZE bytes per input file or blob (suffixes K, M, G: KiB, MiB, GiB);
    /// the rest of a larger one is reported as not scanned.
    #[arg(long, value_name = "SIZE", default_value = "4G", value_parser = parse_size)]
    max_decode_bytes: u64,
    /// Stop a compressed stream or archive member that inflates to more than N times its
    /// compressed size, once past 16 MiB (a decompression bomb); the archive's next member is
    /// still scanned.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(2..))]
    max_decode_ratio: u64,
    /// Scan at most N archive members per input file or blob.
    #[arg(long, value_name = "N", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_archive_members: u64,
}

impl DecodeArgs {
    fn into_decoding(self) -> crate::scan::Decoding {
        crate::scan::Decoding {
            enabled: !self.no_decode,
            max_depth: usize::try_from(self.max_decode_depth).unwrap_or(usize::MAX),
            max_bytes: self.max_decode_bytes,
            max_ratio: self.max_decode_ratio,
            max_members: self.max_archive_members,
        }
    }
}

/// `4G`, `512M`, `64K` or a count of bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "a size is a whole number with an optional K, M or G suffix".to_string())?;
    n.checked_shl(shift)
        .filter(|v| *v > 0 && v >> shift == n)
        .ok_or_else(|| "a size is at least 1 byte and at most 16 EiB".to_string())
}

/// `--verify` and its settings. Without `--verify` none of them makes a network call.
#[derive(Debug, Args)]
#[command(next_help_heading = "Verification")]
struct VerifyArgs {
    /// Ask the Nomotic API whether each distinct key is live: one `GET {api}/agents` per key
    /// with the key as a bearer token. Without it nmleaks makes no network call.
    #[arg(long)]
    verify: bool,
    /// Which findings make the exit code 1: `any` finding, keys verified `live` (including
    /// insufficient scope), or `unknown` (live or not proven revoked). `live` and `unknown`
    /// need --verify.
    #[arg(
        long,
        value_enum,
        value_name = "WHICH",
        requires_ifs = [("live", "verify"), ("unknown", "verify")]
    )]
    fail_on: Option<FailOnArg>,
    /// Report only keys of these statuses (comma-separated: live, unknown, revoked; `live`
    /// includes insufficient scope). Needs --verify. The exit code still follows --fail-on
    /// over every key; the summary counts the keys not shown.
    #[arg(
        long,
        value_enum,
        value_name = "STATUS,…",
        value_delimiter = ',',
        requires = "verify"
    )]
    status: Vec<StatusArg>,
    /// The Nomotic API base URL; https://, or http:// to a loopback host only.
    #[arg(
        long,
        value_name = "URL",
        env = "NMLEAKS_API_URL",
        default_value = verify::DEFAULT_API_URL,
        value_parser = parse_api_url
    )]
    api_url: ApiUrl,
    /// Requests per minute for the whole run: 60 on the Free plan, 500 Team, 2000 Business
    /// [default: 60, or the config file's `verify.rate` or `verify.plan`].
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    verify_rate: Option<u32>,
    /// Verify at most N keys over the network; the rest are reported `unknown (budget)`.
    #[arg(long, value_name = "N")]
    max_verifications: Option<u64>,
    /// Give up connecting (DNS, TCP, TLS) after this long: `500ms`, `5s`, `1m`.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    verify_connect_timeout: Duration,
    /// Give up waiting for the response (its head, then its body) after this long.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    verify_read_timeout: Duration,
    /// Retries of a key answered 429 (rate limited) before it is `unknown (rate limited)`.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(0..=20)
    )]
    verify_retries: u32,
    /// The longest single wait after a 429, whatever its Retry-After asks (at most 1h).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_max_wait)]
    verify_max_wait: Duration,
    /// The whole verification phase ends after this long (at most 24h), however many keys,
    /// retries and waits: keys without an answer by then are `unknown (deadline passed)`.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_deadline)]
    verify_deadline: Duration,
    /// How long a cached `revoked` answer is trusted (a `live` one: 10 minutes at most).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    verify_cache_ttl: Duration,
    /// Neither read nor write the verification cache.
    #[arg(long)]
    no_verify_cache: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusArg {
    Live,
    Unknown,
    Revoked,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FailOnArg {
    Live,
    Unknown,
    Any,
}

fn parse_api_url(s: &str) -> Result<ApiUrl, String> {
    ApiUrl::parse(s).map_err(|e| e.to_string())
}

/// `250ms`, `5s`, `2m`, `24h`, `7d`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 500ms, 5s, 2m, 24h or 7d"))?;
    let secs = |k: u64| Duration::from_secs(n.saturating_mul(k));
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(secs(1)),
        "m" => Ok(secs(60)),
        "h" => Ok(secs(3600)),
        "d" => Ok(secs(86_400)),
        _ => Err(format!(
            "{s:?} has an unknown unit; use ms, s, m, h or d (500ms, 5s, 2m, 24h, 7d)"
        )),
    }
}

/// `--verify-max-wait`: a duration of at most [`verify::retry::MAX_WAIT_LIMIT`].
fn parse_max_wait(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > verify::retry::MAX_WAIT_LIMIT {
        return Err(format!(
            "{} is more than {}, the longest nmleaks waits after a 429 (the whole \
             verification is bounded by --verify-deadline)",
            s.trim(),
            hours(verify::retry::MAX_WAIT_LIMIT)
        ));
    }
    Ok(d)
}

/// `--verify-deadline`: a duration of at most [`verify::MAX_DEADLINE`].
fn parse_deadline(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > verify::MAX_DEADLINE {
        return Err(format!(
            "{} is more than {}, the longest verification deadline nmleaks accepts",
            s.trim(),
            hours(verify::MAX_DEADLINE)
        ));
    }
    Ok(d)
}

/// `24h`: a whole number of hours as the flags take it.
fn hours(d: Duration) -> String {
    format!("{}h", d.as_secs() / 3600)
}

impl VerifyArgs {
    fn into_settings(self) -> (Option<Box<verify::Settings>>, FailOn) {
        let fail_on = match self.fail_on {
            Some(FailOnArg::Live) => FailOn::Live,
            Some(FailOnArg::Unknown) => FailOn::Unknown,
            Some(FailOnArg::Any) | None => FailOn::Any,
        };
        if !self.verify {
            return (None, fail_on);
        }
        // NMLEAKS_CACHE_DIR moves the cache (tests point it at a temporary directory).
        let cache_dir = std::env::var_os("NMLEAKS_CACHE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(verify::cache::default_dir);
        let cache = match cache_dir {
            Some(dir) if !self.no_verify_cache => Some(verify::CacheSettings {
                dir,
                ttl: self.verify_cache_ttl,
            }),
            _ => None,
        };
        let settings = verify::Settings {
            api: self.api_url,
            rate_per_minute: self.verify_rate.unwrap_or(verify::DEFAULT_RATE),
            workers: verify::WORKERS,
            max_verifications: self.max_verifications,
            timeouts: verify::Timeouts {
                connect: self.verify_connect_timeout,
                read: self.verify_read_timeout,
            },
            retry: verify::RetryPolicy {
                retries: self.verify_retries,
                max_wait: self.verify_max_wait,
            },
            deadline: self.verify_deadline,
            cache,
        };
        (Some(Box::new(settings)), fail_on)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Human,
    Json,
    Sarif,
    Jsonl,
    Csv,
    Html,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

impl CommonArgs {
    fn into_common(self) -> Common {
        // `-o -` is standard output, as a path argument `-` is standard input.
        let output = self.output.filter(|p| !is_dash(p));
        let to_terminal = output.is_none() && std::io::stdout().is_terminal();
        let color = match self.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                to_terminal
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        };
        let status_filter = (!self.verify.status.is_empty()).then(|| {
            let mut by_rank = [false; 3];
            for s in &self.verify.status {
                by_rank[match s {
                    StatusArg::Revoked => 0,
                    StatusArg::Unknown => 1,
                    StatusArg::Live => 2,
                }] = true;
            }
            by_rank
        });
        let explicit = Explicit {
            fail_on: self.verify.fail_on.is_some(),
            verify_rate: self.verify.verify_rate.is_some(),
        };
        let (verify, fail_on) = self.verify.into_settings();
        let config = config_choice(self.config, self.no_config);
        let baseline = match (self.baseline, self.no_baseline) {
            (_, true) => BaselineChoice::Off,
            (Some(p), false) => BaselineChoice::File(p),
            (None, false) => BaselineChoice::Conventional,
        };
        Common {
            verify,
            fail_on,
            format: match self.format {
                FormatArg::Human => Format::Human,
                FormatArg::Json => Format::Json,
                FormatArg::Sarif => Format::Sarif,
                FormatArg::Jsonl => Format::Jsonl,
                FormatArg::Csv => Format::Csv,
                FormatArg::Html => Format::Html,
            },
            output,
            show_secrets: self.show_secrets,
            color,
            baseline,
            sarif_file: self.sarif_file,
            status_filter,
            quiet: self.quiet,
            verbose: self.verbose,
            explicit,
            config,
            ..self.engine.into_common()
        }
    }
}

impl EngineArgs {
    /// The engine's settings, with the report's at their plain defaults (no baseline, no
    /// verification): what `baseline create` runs with.
    fn into_common(self) -> Common {
        let threads = self.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            usize::from,
        );
        Common {
            verify: None,
            fail_on: FailOn::Any,
            rules: self.rules,
            format: Format::Json,
            output: None,
            show_secrets: false,
            color: false,
            threads,
            stderr_tty: std::io::stderr().is_terminal(),
            baseline: BaselineChoice::Off,
            sarif_file: None,
            limits: crate::finding::Limits {
                max_keys: usize::try_from(self.max_keys).unwrap_or(usize::MAX),
                max_locations: usize::try_from(self.max_locations).unwrap_or(usize::MAX),
            },
            decoding: self.decode.into_decoding(),
            in_hook: false,
            status_filter: None,
            quiet: false,
            verbose: false,
            explicit: Explicit::default(),
            config: ConfigChoice::Conventional,
            excludes: self.exclude,
            includes: self.include,
            allow: Vec::new(),
            no_repo_config: self.no_repo_config,
        }
    }
}

impl ScanArgs {
    fn into_scan_config(self) -> ScanConfig {
        scan_config(
            self.common.into_common(),
            &self.paths,
            self.no_ignore,
            self.follow,
        )
    }
}

fn scan_config(common: Common, given: &[PathBuf], no_ignore: bool, follow: bool) -> ScanConfig {
    let stdin = given.iter().any(|p| is_dash(p));
    let mut paths: Vec<PathBuf> = given.iter().filter(|p| !is_dash(p)).cloned().collect();
    // Like ripgrep: no path means the current directory, shown without `./`.
    let implicit_root = given.is_empty();
    if implicit_root {
        paths.push(PathBuf::from("."));
    }
    ScanConfig {
        common,
        paths,
        stdin,
        no_ignore,
        follow,
        implicit_root,
    }
}

/// A hook's index (`git commit <paths>` stages into a temporary one); only when the
/// repository is the hook's own, found through the environment.
fn hook_index(repo: Option<&PathBuf>) -> Option<PathBuf> {
    std::env::var_os("GIT_INDEX_FILE")
        .filter(|v| !v.is_empty() && repo.is_none())
        .map(PathBuf::from)
}

impl BaselineArgs {
    fn into_config(self) -> Result<BaselineCreate, clap::Error> {
        let mut common = self.engine.into_common();
        common.config = config_choice(self.config, self.no_config);
        let output = match self.output {
            Some(p) if is_dash(&p) => BaselineOut::Stdout,
            Some(p) => BaselineOut::File(p),
            None => BaselineOut::Conventional,
        };
        let mode = if self.staged {
            Some(GitMode::Staged)
        } else if let Some(r) = self.range {
            Some(GitMode::Range(r))
        } else if self.git {
            Some(GitMode::History { all_objects: false })
        } else {
            None
        };
        let source = match mode {
            None if self.from_report.is_some() => {
                BaselineSource::Report(self.from_report.unwrap_or_default())
            }
            None => BaselineSource::Files(scan_config(
                common,
                &self.paths,
                self.no_ignore,
                self.follow,
            )),
            Some(mode) => {
                if self.paths.len() > 1 {
                    return Err(clap::Error::raw(
                        clap::error::ErrorKind::TooManyValues,
                        "baseline create --git, --staged and --range take one path: the repository\n",
                    ));
                }
                let repo = self.paths.into_iter().next();
                BaselineSource::Git(GitConfig {
                    common,
                    index_file: hook_index(repo.as_ref()),
                    repo,
                    remote: None,
                    mode,
                    range_flag: "--range",
                })
            }
        };
        Ok(BaselineCreate {
            source,
            output,
            merge: self.merge,
        })
    }
}

impl AuditArgs {
    fn into_config(self) -> crate::config::AuditConfig {
        let mut common = self.common.into_common();
        // An audit takes third parties' repositories: none of them configures its own audit.
        common.no_repo_config = true;
        let github = self
            .github_org
            .into_iter()
            .map(crate::source::github::Owner::Org)
            .chain(
                self.github_user
                    .into_iter()
                    .map(crate::source::github::Owner::User),
            )
            .collect();
        crate::config::AuditConfig {
            common,
            repos: self.repos,
            repos_files: self.repos_files,
            github,
            github_api_url: self.github_api_url,
            include_forks: self.include_forks,
            exclude_archived: self.exclude_archived,
            jobs: usize::from(self.jobs),
            clone_dir: self.clone_dir.or_else(crate::audit::default_clone_dir),
            token: self.token.filter(|t| !t.is_empty()).map(Token),
            github_token: std::env::var("GITHUB_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .map(Token),
            shard: self.shard,
            resume: self.resume,
        }
    }
}

/// `--config FILE` / `--no-config` / neither (the conventional `.nmleaks.toml`).
fn config_choice(file: Option<PathBuf>, none: bool) -> ConfigChoice {
    match (file, none) {
        (_, true) => ConfigChoice::Off,
        (Some(p), false) => ConfigChoice::File(p),
        (None, false) => ConfigChoice::Conventional,
    }
}

fn hook_kind(pre_receive: bool) -> crate::hook::Kind {
    if pre_receive {
        crate::hook::Kind::PreReceive
    } else {
        crate::hook::Kind::PreCommit
    }
}

/// `-`: standard input or output, never a file of that name (`./-` names one).
fn is_dash(p: &std::path::Path) -> bool {
    p.as_os_str() == "-"
}

/// Prints what clap says about flags it could not parse (or `--help`, `--version`) and
/// returns the exit code: 2 for a usage error, 0 for help and version.
///
/// An error echoes what was typed, so a flag typed with an escape sequence or a bidi control
/// would reach the terminal raw: such text is printed plain, with those characters escaped.
/// Other text keeps clap's styling. Nothing here panics, whatever happened to stdout and
/// stderr.
#[must_use]
pub fn parse_failed(e: &clap::Error) -> crate::ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return crate::ExitCode::Clean;
    }
    // clap drops escape sequences from plain text but prints them raw when it styles its
    // output for a terminal; so the arguments decide, not the rendered text. An argument
    // holding a key is echoed redacted.
    crate::rules::install_builtin_redaction();
    let hostile = std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        a.chars().any(crate::sanitize::needs_escape) || crate::sanitize::holds_key(a.as_bytes())
    });
    if hostile {
        let plain = e.render().to_string();
        let escaped: Vec<String> = plain
            .trim_end()
            .lines()
            .map(crate::sanitize::text)
            .collect();
        crate::messages::line(format_args!("{}", escaped.join("\n")));
    } else {
        let _ = e.print();
    }
    crate::ExitCode::Error
}

impl Cli {
    /// Resolves flags and environment into the engine's settings.
    ///
    /// # Errors
    /// A combination of flags clap cannot check by itself, as a clap usage error.
    pub fn into_config(self) -> Result<Config, clap::Error> {
        Ok(match self.command {
            Command::Scan(a) => Config::Scan(a.into_scan_config()),
            Command::Baseline {
                command: BaselineCommand::Create(a),
            } => Config::BaselineCreate(a.into_config()?),
            Command::Git(a) => {
                let mode = if a.staged {
                    GitMode::Staged
                } else if a.pre_receive {
                    GitMode::PreReceive
                } else if let Some(range) = a.range {
                    GitMode::Range(range)
                } else if let Some(since) = &a.since_commit {
                    GitMode::Range(format!("{since}..HEAD"))
                } else {
                    GitMode::History {
                        all_objects: a.all_objects,
                    }
                };
                // A remote URL: mirrored first (the app does it), then audited.
                let remote = a
                    .repo
                    .as_ref()
                    .and_then(|r| r.to_str())
                    .filter(|r| crate::source::git::remote::looks_remote(r))
                    .map(|url| Remote {
                        token: crate::source::git::remote::token_for(url, a.token.as_deref())
                            .map(Token),
                        url: url.to_string(),
                        clone_dir: a.clone_dir.clone().or_else(crate::audit::default_clone_dir),
                    });
                let repo = if remote.is_some() { None } else { a.repo };
                let index_file = hook_index(repo.as_ref());
                // git sets GIT_INDEX_FILE for the hooks of `git commit`; a pre-receive hook
                // is a hook by definition.
                let in_hook = a.pre_receive
                    || (a.staged
                        && std::env::var_os("GIT_INDEX_FILE").is_some_and(|v| !v.is_empty()));
                Config::Git(GitConfig {
                    common: Common {
                        in_hook,
                        ..a.common.into_common()
                    },
                    repo,
                    remote,
                    mode,
                    index_file,
                    range_flag: if a.since_commit.is_some() {
                        "--since-commit"
                    } else {
                        "--range"
                    },
                })
            }
            Command::Audit(a) => Config::Audit(a.into_config()),
            Command::Merge(a) => Config::Merge(crate::config::MergeConfig {
                common: a.common.into_common(),
                reports: a.reports,
            }),
            Command::InstallHook {
                repo,
                force,
                pre_receive,
            } => Config::InstallHook {
                repo,
                force,
                kind: hook_kind(pre_receive),
            },
            Command::UninstallHook { repo, pre_receive } => Config::UninstallHook {
                repo,
                kind: hook_kind(pre_receive),
            },
            Command::Rules {
                command: RulesCommand::List { rules },
            } => Config::RulesList { rules },
            Command::Rules {
                command: RulesCommand::Check { files },
            } => Config::RulesCheck { files },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_or_mean_seconds() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "s", "5 x", "1.5s", "-1s", "5sec"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn waits_and_deadlines_have_a_ceiling() {
        assert_eq!(parse_max_wait("1h"), Ok(Duration::from_secs(3600)));
        let e = parse_max_wait("7d").unwrap_err();
        assert!(e.starts_with("7d is more than 1h"), "{e}");
        assert_eq!(parse_deadline("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_deadline("25h").unwrap_err().contains("more than 24h"));
        assert!(parse_deadline("99999999999999999999d").is_err());
    }
}
