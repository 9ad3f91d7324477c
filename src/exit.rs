//! Exit codes, in one place.
//!
//! `0` nothing found, `1` keys found, `2` an error (a bad flag, rules file or baseline, or a
//! part of the input that could not be read), `101` a bug (a panic, Rust's code for one; see
//! [`crate::bug`]), `130` interrupted by Ctrl-C (128 + SIGINT, as shells report it; no report
//! is written). An error outranks findings: a scan that found
//! keys but could not read every file exits 2, because its "all clear" elsewhere is not proven.
//! An interruption outranks everything: the run did not finish.

/// What the process reports to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// The scan completed and found nothing to report.
    Clean = 0,
    /// The scan completed and found keys.
    Findings = 1,
    /// Something failed: usage, configuration, or part of the input.
    Error = 2,
    /// nmleaks panicked: a bug, not a problem with the input. The run stopped.
    Bug = 101,
    /// Ctrl-C stopped the run before it finished.
    Interrupted = 130,
}

impl ExitCode {
    /// Combines two outcomes: the more serious wins.
    #[must_use]
    pub fn merge(self, other: ExitCode) -> ExitCode {
        self.max(other)
    }

    /// The numeric code.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode::{Clean, Error, Findings};

    #[test]
    fn codes_are_documented_values() {
        assert_eq!((Clean.code(), Findings.code(), Error.code()), (0, 1, 2));
        assert_eq!(super::ExitCode::Interrupted.code(), 130);
        assert_eq!(
            super::ExitCode::Bug.code(),
            101,
            "Rust's own exit code for a panic"
        );
    }

    #[test]
    fn an_interruption_outranks_everything() {
        use super::ExitCode::Interrupted;
        for other in [Clean, Findings, Error] {
            assert_eq!(other.merge(Interrupted), Interrupted);
            assert_eq!(Interrupted.merge(other), Interrupted);
        }
    }

    #[test]
    fn an_error_outranks_findings_and_findings_outrank_clean() {
        assert_eq!(Findings.merge(Error), Error);
        assert_eq!(Error.merge(Findings), Error);
        assert_eq!(Clean.merge(Findings), Findings);
        assert_eq!(Clean.merge(Clean), Clean);
    }
}
