//! The `nmleaks` binary: parse flags, run, map the outcome to an exit code.

use clap::Parser;
use nmleaks::ExitCode;

fn main() -> std::process::ExitCode {
    let cli = match nmleaks::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return nmleaks::cli::parse_failed(&e).into(),
    };
    match nmleaks::run(cli.into_config()) {
        Ok(code) => code.into(),
        Err(e) if is_broken_pipe(&e) => ExitCode::Clean.into(),
        Err(e) => {
            // Messages are sanitised where they are made; escaping again costs nothing and
            // keeps a raw control character out of the terminal whatever a lower layer did.
            nmleaks::messages::error(nmleaks::sanitize::text(&format!("{e:#}")));
            ExitCode::Error.into()
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
