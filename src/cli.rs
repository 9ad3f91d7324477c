//! Command-line flags: the boundary.
//!
//! clap's derive types describe the flags and nothing else; [`Cli::into_config`] turns them
//! into the plain [`crate::config::Config`] the engine reads, resolving terminal checks and
//! defaults on the way. No other module imports clap.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Common, Config, Format, GitConfig, GitMode, ScanConfig};

/// Finds leaked Nomotic API keys (`nm_live_…`) in files, standard input and git history.
#[derive(Debug, Parser)]
#[command(name = "nmleaks", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files and directories (default: the current directory); `-` reads standard input.
    ///
    /// Exit codes: 0 nothing found, 1 keys found, 2 an error (an error outranks findings).
    Scan(ScanArgs),
    /// Scan a git repository: its whole history (default), the staged changes, or a range.
    ///
    /// `nmleaks git` audits every blob, commit message and tag message reachable from any ref
    /// (branches, remote-tracking branches, tags, the stash, notes, HEAD), each blob read once.
    /// `--staged` is the pre-commit check; `--range A..B` the pull-request check.
    ///
    /// Exit codes: 0 nothing found, 1 keys found, 2 an error (an error outranks findings).
    Git(GitArgs),
    /// Show or check the detection rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
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
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print keys in full. Without it every output shows `nm_live_…` and the last 4 characters.
    #[arg(long)]
    show_secrets: bool,
    /// Load more rules from this TOML file (repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Worker threads [default: all cores].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// When to colour the human report.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

impl CommonArgs {
    fn into_common(self) -> Common {
        let to_terminal = self.output.is_none() && std::io::stdout().is_terminal();
        let color = match self.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                to_terminal
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        };
        let threads = self.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            usize::from,
        );
        Common {
            rules: self.rules,
            format: match self.format {
                FormatArg::Human => Format::Human,
                FormatArg::Json => Format::Json,
            },
            output: self.output,
            show_secrets: self.show_secrets,
            color,
            threads,
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }
}

impl Cli {
    /// Resolves flags and environment into the engine's settings.
    #[must_use]
    pub fn into_config(self) -> Config {
        match self.command {
            Command::Scan(a) => {
                let stdin = a.paths.iter().any(|p| p.as_os_str() == "-");
                let mut paths: Vec<PathBuf> = a
                    .paths
                    .iter()
                    .filter(|p| p.as_os_str() != "-")
                    .cloned()
                    .collect();
                // Like ripgrep: no path means the current directory, shown without `./`.
                let implicit_root = a.paths.is_empty();
                if implicit_root {
                    paths.push(PathBuf::from("."));
                }
                Config::Scan(ScanConfig {
                    common: a.common.into_common(),
                    paths,
                    stdin,
                    no_ignore: a.no_ignore,
                    follow: a.follow,
                    implicit_root,
                })
            }
            Command::Git(a) => {
                let mode = if a.staged {
                    GitMode::Staged
                } else if let Some(range) = a.range {
                    GitMode::Range(range)
                } else if let Some(since) = a.since_commit {
                    GitMode::Range(format!("{since}..HEAD"))
                } else {
                    GitMode::History {
                        all_objects: a.all_objects,
                    }
                };
                // A hook's index (`git commit <paths>` stages into a temporary one); only
                // when the repository is the hook's own, found through the environment.
                let index_file = std::env::var_os("GIT_INDEX_FILE")
                    .filter(|v| !v.is_empty() && a.repo.is_none())
                    .map(PathBuf::from);
                Config::Git(GitConfig {
                    common: a.common.into_common(),
                    repo: a.repo,
                    mode,
                    index_file,
                })
            }
            Command::Rules {
                command: RulesCommand::List { rules },
            } => Config::RulesList { rules },
            Command::Rules {
                command: RulesCommand::Check { files },
            } => Config::RulesCheck { files },
        }
    }
}
