//! The `nmleaks` binary: parse flags, run, map the outcome to an exit code.

use clap::Parser;
use nmleaks::ExitCode;

fn main() -> std::process::ExitCode {
    // Before anything can panic: a panic prints one fixed line, never its payload.
    nmleaks::bug::install();
    let cli = match nmleaks::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return nmleaks::cli::parse_failed(&e).into(),
    };
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(e) => return nmleaks::cli::parse_failed(&e).into(),
    };
    match nmleaks::run(config) {
        // A closed stdout (`| head -1`) is no error here: `report::emit` stops writing and
        // the code still says what was found.
        Ok(code) => code.into(),
        // The panic hook printed the one line there is to say.
        Err(e) if e.is::<nmleaks::bug::Panicked>() => ExitCode::Bug.into(),
        Err(e) => {
            // Messages are sanitised where they are made; escaping again costs nothing and
            // keeps a raw control character out of the terminal whatever a lower layer did.
            nmleaks::messages::error(nmleaks::sanitize::text(&format!("{e:#}")));
            ExitCode::Error.into()
        }
    }
}
