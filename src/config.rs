//! The settings the rest of the crate reads.
//!
//! [`crate::cli`] turns flags into a [`Config`]; nothing past this point sees clap. Decisions
//! that depend on the environment (is stdout a terminal, how many cores) are made once, here,
//! so the engine is plain data in, findings out.

use std::path::PathBuf;

pub use crate::policy::FailOn;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text for people: `path:line:col`, rule, redacted key.
    Human,
    /// The documented JSON schema (`version` 1).
    Json,
    /// SARIF 2.1.0 for GitHub code scanning.
    Sarif,
    /// One JSON object per place, one a line.
    Jsonl,
    /// One CSV record per place, with a header.
    Csv,
    /// One self-contained HTML page for an audit.
    Html,
}

/// Settings shared by every scanning command.
#[derive(Debug, Clone)]
pub struct Common {
    /// Rules files loaded after the built-in rules.
    pub rules: Vec<PathBuf>,
    /// Report format.
    pub format: Format,
    /// Write the report here (atomically) instead of stdout (`None`: stdout; `-o -` too).
    pub output: Option<PathBuf>,
    /// Print keys in full.
    pub show_secrets: bool,
    /// Colour the human report.
    pub color: bool,
    /// Worker threads.
    pub threads: usize,
    /// Stderr is a terminal: progress and the final summary line may be drawn.
    pub stderr_tty: bool,
    /// Which baseline hides known keys.
    pub baseline: BaselineChoice,
    /// Also write SARIF here.
    pub sarif_file: Option<PathBuf>,
    /// `--verify` and its settings; `None` means no network call at all.
    pub verify: Option<Box<crate::verify::Settings>>,
    /// Which findings make the exit code 1.
    pub fail_on: FailOn,
    /// How many keys, and places per key, the report lists (`--max-keys`, `--max-locations`).
    pub limits: crate::finding::Limits,
    /// What to look inside (archives, compression, base64, hex) and the limits of it.
    pub decoding: crate::scan::Decoding,
    /// Run by a git hook (`git --staged` with git's `GIT_INDEX_FILE` set, or `--pre-receive`):
    /// a clean run prints nothing, and a refused commit gets the advice.
    pub in_hook: bool,
    /// `--status`: which statuses are reported, indexed by [`crate::verdict::Status::rank`]
    /// (revoked, unknown, live); `None`: all.
    pub status_filter: Option<[bool; 3]>,
    /// `--quiet`: findings only, no summary.
    pub quiet: bool,
    /// `--verbose`: also say what was skipped and why.
    pub verbose: bool,
    /// Which settings were given as flags, so the config file does not override them.
    pub explicit: Explicit,
    /// Which config file to read.
    pub config: ConfigChoice,
    /// `--exclude` globs (gitignore syntax), then the config file's.
    pub excludes: Vec<String>,
    /// `--include` globs, then the config file's.
    pub includes: Vec<String>,
    /// Fingerprint prefixes of allowed keys (the config file's `allow`).
    pub allow: Vec<String>,
    /// `--no-repo-config`: read no `.nmleaks.toml`, `.nmleaksignore` or baseline from the
    /// scanned repository.
    pub no_repo_config: bool,
}

/// Settings given as flags (a config file fills in only the others).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Explicit {
    /// `--fail-on`.
    pub fail_on: bool,
    /// `--verify-rate`.
    pub verify_rate: bool,
}

/// The file name of the config file found without being named, next to the baseline.
pub const CONFIG_FILE: &str = ".nmleaks.toml";

/// Which config file a scan reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChoice {
    /// [`CONFIG_FILE`] at the top of the repository, when it exists.
    Conventional,
    /// This file (`--config`), which must exist.
    File(PathBuf),
    /// None (`--no-config`).
    Off,
}

/// The file name of the baseline `scan`, `git` and the hooks read without being told, at the
/// top of the repository (its work tree; its git directory when bare), or of the current
/// directory outside one.
pub const BASELINE_FILE: &str = ".nmleaks-baseline.json";

/// Which baseline a scan reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineChoice {
    /// [`BASELINE_FILE`] at the top of the repository, when it exists.
    Conventional,
    /// This file (`--baseline`), which must exist.
    File(PathBuf),
    /// None (`--no-baseline`).
    Off,
}

/// Where `baseline create` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineOut {
    /// [`BASELINE_FILE`] at the top of the repository.
    Conventional,
    /// This file.
    File(PathBuf),
    /// Standard output (`-o -`).
    Stdout,
}

/// What `baseline create` scans.
#[derive(Debug, Clone)]
pub enum BaselineSource {
    /// Files, as `nmleaks scan`.
    Files(ScanConfig),
    /// A repository, as `nmleaks git` (history, `--staged` or `--range`).
    Git(GitConfig),
    /// The keys of an nmleaks JSON report (`--from-report`), without scanning.
    Report(PathBuf),
}

/// `nmleaks baseline create`.
#[derive(Debug, Clone)]
pub struct BaselineCreate {
    /// What to scan.
    pub source: BaselineSource,
    /// Where the baseline goes.
    pub output: BaselineOut,
    /// Keep the entries already in the file as well as the keys found.
    pub merge: bool,
}

/// `nmleaks scan`.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Shared settings.
    pub common: Common,
    /// Files and directories to walk.
    pub paths: Vec<PathBuf>,
    /// Also read standard input (`-` was given).
    pub stdin: bool,
    /// Ignore `.gitignore`, `.ignore` and `.nmleaksignore`.
    pub no_ignore: bool,
    /// Follow symbolic links.
    pub follow: bool,
    /// No path was given: walk `.` and show paths without the `./` prefix.
    pub implicit_root: bool,
}

/// `nmleaks git`: which part of a repository to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitMode {
    /// Every object reachable from a ref (`all_objects`: every object in the database).
    History {
        /// Also scan objects that no ref reaches.
        all_objects: bool,
    },
    /// The index against HEAD.
    Staged,
    /// What the commits of a range introduce (`A..B`; `--since-commit A` is `A..HEAD`).
    Range(String),
    /// What a push adds, as a server's pre-receive hook (ref updates on standard input).
    PreReceive,
}

/// `nmleaks git`.
#[derive(Debug, Clone)]
pub struct GitConfig {
    /// Shared settings.
    pub common: Common,
    /// The repository or a path inside it; `None`: `GIT_DIR` or the current directory.
    pub repo: Option<PathBuf>,
    /// What to scan.
    pub mode: GitMode,
    /// The index file to read for `--staged` instead of the repository's (`GIT_INDEX_FILE`,
    /// which git sets for hooks of `git commit <paths>`); only when no `REPO` was given.
    pub index_file: Option<PathBuf>,
    /// The flag that named the range (`--range` or `--since-commit`), for its errors.
    pub range_flag: &'static str,
    /// A remote repository to mirror and audit (then `repo` is `None`).
    pub remote: Option<Remote>,
}

/// `nmleaks git URL`.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The URL as given (it may hold credentials: never shown).
    pub url: String,
    /// Where mirrors live; `None` when no cache directory can be found.
    pub clone_dir: Option<PathBuf>,
    /// The token for the URL's host.
    pub token: Option<Token>,
}

/// `nmleaks audit`: many repositories, one report.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Shared settings (`no_repo_config` is always set: no audited repository's own
    /// `.nmleaks.toml`, `.nmleaksignore` or baseline is read).
    pub common: Common,
    /// Repositories named as arguments.
    pub repos: Vec<String>,
    /// `--repos` files (the app reads them, so that a bad one is one sentence).
    pub repos_files: Vec<PathBuf>,
    /// `--github-org` and `--github-user`: whose repositories to list.
    pub github: Vec<crate::source::github::Owner>,
    /// The GitHub REST API's base URL.
    pub github_api_url: String,
    /// List forks too.
    pub include_forks: bool,
    /// Leave archived repositories out.
    pub exclude_archived: bool,
    /// Repositories fetched at once.
    pub jobs: usize,
    /// Where mirrors live; `None` when no cache directory can be found.
    pub clone_dir: Option<PathBuf>,
    /// `--token` (or `NMLEAKS_TOKEN`).
    pub token: Option<Token>,
    /// `GITHUB_TOKEN`, for the GitHub API and the clone URLs on its host.
    pub github_token: Option<Token>,
    /// `--shard K/N`.
    pub shard: Option<crate::audit::Shard>,
    /// `--resume`: reuse the results of the interrupted run without fetching.
    pub resume: bool,
}

/// `nmleaks merge`: JSON reports joined into one.
#[derive(Debug, Clone)]
pub struct MergeConfig {
    /// Report settings (no verification, no keys: reports hold none).
    pub common: Common,
    /// The JSON reports.
    pub reports: Vec<PathBuf>,
}

/// A token, which no `Debug` output shows.
#[derive(Clone)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub enum Config {
    /// Scan files, directories and standard input.
    Scan(ScanConfig),
    /// Scan files or a repository, then write the fingerprints of every key found.
    BaselineCreate(BaselineCreate),
    /// Scan a git repository's history, staged changes or a range of commits.
    Git(GitConfig),
    /// Audit the history of many repositories into one report.
    Audit(AuditConfig),
    /// Join JSON reports into one.
    Merge(MergeConfig),
    /// List the rules in force.
    RulesList {
        /// Extra rules files.
        rules: Vec<PathBuf>,
    },
    /// Prove each rule's examples and negative examples.
    RulesCheck {
        /// Rules files to check in addition to the built-in rules.
        files: Vec<PathBuf>,
    },
    /// Write a git hook.
    InstallHook {
        /// A path inside the repository.
        repo: PathBuf,
        /// Replace a hook nmleaks did not write.
        force: bool,
        /// Which hook.
        kind: crate::hook::Kind,
    },
    /// Remove nmleaks' own hook.
    UninstallHook {
        /// A path inside the repository.
        repo: PathBuf,
        /// Which hook.
        kind: crate::hook::Kind,
    },
}
