//! Ctrl-C as a flag: a leaf utility that imports nothing from the crate.
//!
//! A SIGINT handler (from the `ctrlc` crate, installed by [`install`]) sets a process-wide
//! flag and wakes whoever waits on the channel it returns ([`crate::app::run`], which runs the
//! command on a thread of its own and gives it [`GRACE`] to wind down). The walker checks the
//! flag before each file and the chunked reader before each chunk, so a scan stops at once;
//! stages between them call [`checkpoint`].
//!
//! The flag is global because a signal is: one process, one Ctrl-C. Library callers that never
//! call [`install`] never get a handler, and the flag stays unset.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, bounded};

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

/// Installs the SIGINT handler: it sets the flag and sends on the returned channel (which
/// the caller waits on beside its work). `None` when another handler is installed already
/// (an embedding program's): SIGINT is then left to it.
#[must_use]
pub fn install() -> Option<Receiver<()>> {
    let (signal_tx, signal_rx) = bounded::<()>(1);
    ctrlc::set_handler(move || {
        REQUESTED.store(true, Ordering::SeqCst);
        let _ = signal_tx.try_send(());
    })
    .ok()
    .map(|()| signal_rx)
}
