//! Ctrl-C: stop within a second, say so in one line, exit 130.
//!
//! A SIGINT handler (from the `ctrlc` crate) sets a process-wide flag and wakes the main
//! thread. The command itself runs on a thread of its own. The walker checks the flag before
//! each file and the chunked reader before each chunk, so a scan stops at once; the collector
//! stops printing problems, and no report is written, since a report of part of the input
//! would read as an all-clear for the rest (a report being written to `-o FILE` is dropped
//! with its temporary file). The main thread gives the command [`GRACE`] to wind down, then
//! returns [`ExitCode::Interrupted`] whatever the command is blocked in (a read from a silent
//! standard input, a verification request): returning from `main` ends the process and its
//! threads.
//!
//! The flag is global because a signal is: one process, one Ctrl-C. Library callers that never
//! call [`run`] never install the handler, and the flag stays unset.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{bounded, select};

use crate::config::Config;
use crate::exit::ExitCode;

/// How long the command may take to wind down after Ctrl-C before the process ends anyway.
pub const GRACE: Duration = Duration::from_millis(500);

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed: long-running stages check this and stop.
#[must_use]
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// What a stage returns when it stopped because of Ctrl-C.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Fails with [`Interrupted`] once Ctrl-C was pressed: a checkpoint between stages.
///
/// # Errors
/// Ctrl-C was pressed.
pub fn checkpoint() -> Result<(), Interrupted> {
    if requested() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// Runs `config` with a Ctrl-C handler installed (see the module docs).
///
/// # Errors
/// What [`crate::app::run`] returns; or the command's thread could not be started, or it
/// panicked ([`crate::bug::Panicked`]).
pub fn run(config: Config) -> anyhow::Result<ExitCode> {
    let (signal_tx, signal_rx) = bounded::<()>(1);
    let installed = ctrlc::set_handler(move || {
        REQUESTED.store(true, Ordering::SeqCst);
        let _ = signal_tx.try_send(());
    });
    if installed.is_err() {
        // Another handler is installed (an embedding program's): leave SIGINT to it.
        return crate::app::run(config);
    }
    let (done_tx, done_rx) = bounded(1);
    std::thread::Builder::new()
        .name("nmleaks-run".into())
        // The main thread's usual stack: the command ran there before Ctrl-C support.
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = done_tx.send(crate::app::run(config));
        })?;
    let finished = select! {
        recv(done_rx) -> r => Some(r),
        recv(signal_rx) -> _ => None,
    };
    let outcome = match finished {
        Some(r) => r,
        // Let the command notice and drop what it holds (a temporary report file).
        None => done_rx
            .recv_timeout(GRACE)
            .map_err(|_| crossbeam_channel::RecvError),
    };
    match outcome {
        Ok(Err(e)) if e.is::<Interrupted>() => {}
        // Finished (or failed on its own) before it noticed Ctrl-C: that outcome stands.
        Ok(result) => return result,
        // The command's thread ended without an outcome: it panicked, and the panic hook has
        // already said so (in one line without the payload).
        Err(_) if !requested() => return Err(crate::bug::Panicked.into()),
        Err(_) => {}
    }
    crate::messages::note("interrupted: the run did not finish and no report was written");
    Ok(ExitCode::Interrupted)
}
