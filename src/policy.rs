//! Exit policy: which findings make the exit code 1 (`--fail-on`).
//!
//! Settings say which policy is in force ([`crate::config`]); this module says what it means
//! for a finding, reading its verification. How outcomes merge (an error outranks findings)
//! is [`crate::exit`]'s.

use crate::finding::Finding;
use crate::verdict::Status;

/// `--fail-on`: which findings make the exit code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Keys verified live, with or without the scope to list agents.
    Live,
    /// Keys that are live or not proven revoked (an unverified key counts as unknown).
    Unknown,
    /// Every finding, verified or not.
    Any,
}

impl FailOn {
    /// Whether `f` makes the exit code 1 under this policy.
    #[must_use]
    pub fn fails(self, f: &Finding) -> bool {
        match (self, f.status()) {
            (FailOn::Any, _) | (FailOn::Unknown, None) => true,
            (FailOn::Live, s) => s.is_some_and(Status::is_live),
            (FailOn::Unknown, Some(s)) => s != Status::Revoked,
        }
    }
}
