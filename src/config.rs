//! The settings the rest of the crate reads.
//!
//! [`crate::cli`] turns flags into a [`Config`]; nothing past this point sees clap. Decisions
//! that depend on the environment (is stdout a terminal, how many cores) are made once, here,
//! so the engine is plain data in, findings out.

use std::path::PathBuf;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text for people: `path:line:col`, rule, redacted key.
    Human,
    /// The documented JSON schema (`version` 1).
    Json,
    /// SARIF 2.1.0 for GitHub code scanning.
    Sarif,
}

/// Settings shared by every scanning command.
#[derive(Debug, Clone)]
pub struct Common {
    /// Rules files loaded after the built-in rules.
    pub rules: Vec<PathBuf>,
    /// Report format.
    pub format: Format,
    /// Write the report here (atomically) instead of stdout.
    pub output: Option<PathBuf>,
    /// Print keys in full.
    pub show_secrets: bool,
    /// Colour the human report.
    pub color: bool,
    /// Worker threads.
    pub threads: usize,
    /// Stderr is a terminal: progress and the final summary line may be drawn.
    pub stderr_tty: bool,
    /// Hide the keys listed in this baseline file.
    pub baseline: Option<PathBuf>,
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

/// What to run.
#[derive(Debug, Clone)]
pub enum Config {
    /// Scan files, directories and standard input.
    Scan(ScanConfig),
    /// Scan like `Scan`, then write the fingerprints of every key found to `common.output`.
    BaselineCreate(ScanConfig),
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
}
