//! Errors typed at the seams where a caller branches on the kind.
//!
//! Orchestration code uses `anyhow` with context; these types are for the places that must
//! tell one failure from another (a bad rules file is a usage error, exit 2, before any scan
//! starts). No error here ever carries a key: messages name paths, rule ids and line numbers.

use thiserror::Error;

/// A rules file that cannot be used.
#[derive(Debug, Error)]
pub enum RuleError {
    /// The file could not be read.
    #[error("cannot read rules file {source_name}: {error}")]
    Read {
        /// The file, sanitised for display.
        source_name: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not valid TOML or not of the rules schema.
    #[error("rules file {source_name} is not valid: {message}")]
    Syntax {
        /// The file, sanitised for display.
        source_name: String,
        /// What the TOML parser said.
        message: String,
    },
    /// The file holds no `[[rules]]`.
    #[error("rules file {source_name} defines no [[rules]]")]
    Empty {
        /// The file, sanitised for display.
        source_name: String,
    },
    /// A rule is well-formed TOML but not a usable rule.
    #[error("rule {id} in {source_name} is not valid: {message}")]
    Invalid {
        /// The file, sanitised for display.
        source_name: String,
        /// The rule's id.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// Two rules share an id.
    #[error("rule id {id} (in {source_name}) is defined twice; rule ids must be unique")]
    DuplicateId {
        /// The id.
        id: String,
        /// Where the second definition is.
        source_name: String,
    },
}

/// A failure that stops a command before it does its work: exit code 2 with one sentence.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct UsageError(pub String);
