//! A panic is a bug in nmleaks: one fixed line on stderr, exit code 101, never the panic's
//! own message.
//!
//! Rust's default panic hook prints the payload, and a payload holds whatever the failing code
//! had in hand: an `expect` message, a formatted value, a line of a scanned file, a key.
//! [`install`] (the first thing `main` does) replaces that hook with [`MESSAGE`] plus the place
//! in nmleaks' source where the panic happened (a file and line of the program, never data).
//! The line is printed once, however many threads the panic takes down with it (a worker's
//! panic resurfaces in the thread that waits for it).
//!
//! The exit code is 101, Rust's own for a panic: a panic on the main thread exits with it
//! anyway, and a panic on the command's thread reaches `main` as [`Panicked`], which maps to
//! [`crate::ExitCode::Bug`]. It is not 2 on purpose: 2 says part of the input or the
//! configuration was bad, and a bug is neither.

use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a panic prints, whatever its payload.
pub const MESSAGE: &str = "internal error (a bug): the run stopped; please report it";

static REPORTED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread runs third-party code on hostile input inside [`contained`].
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, a third-party decoder working on input from a scanned repository, so that a
/// panic in it (a bug in that crate, which a crafted archive may trigger) is not the end of
/// the run: it returns `None`, prints nothing, and the caller reports the input as not
/// scanned. nmleaks' own code is not run this way: its panics stay bugs that stop the run.
pub fn contained<R>(f: impl FnOnce() -> R) -> Option<R> {
    let was = CONTAINED.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(was));
    result.ok()
}

/// In debug builds, panics when `NMLEAKS_DEBUG_DECODER_PANIC` names `what` (an archive
/// member's path): the tests' way to make a decoder fail as a crafted archive could.
///
/// # Panics
/// When asked to, as said.
pub fn debug_decoder_trigger(what: &str) {
    #[cfg(debug_assertions)]
    assert!(
        std::env::var_os("NMLEAKS_DEBUG_DECODER_PANIC").is_none_or(|v| v != what),
        "a decoder failed on {what}"
    );
    #[cfg(not(debug_assertions))]
    let _ = what;
}

/// The command stopped because it panicked; [`MESSAGE`] is already on stderr.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{MESSAGE}")]
pub struct Panicked;

/// Replaces the panic hook for the whole process (see the module docs).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        if CONTAINED.with(std::cell::Cell::get) {
            return;
        }
        if !REPORTED.swap(true, Ordering::SeqCst) {
            crate::messages::note(line(info));
        }
    }));
}

/// The line for one panic: [`MESSAGE`] and where it happened; the payload is never read.
fn line(info: &PanicHookInfo<'_>) -> String {
    match info.location() {
        Some(at) => format!(
            "{MESSAGE} (at {}:{})",
            crate::sanitize::text(at.file()),
            at.line()
        ),
        None => MESSAGE.to_string(),
    }
}

/// Panics, with the value of `NMLEAKS_DEBUG_PANIC` as its payload, when that variable is set:
/// how the integration tests prove, on the real binary with the hook `main` installs, that a
/// payload (which could hold a key) never reaches stderr and that the exit code is 101. It is
/// compiled into debug builds only, which is what the tests run: a release build reads no
/// such variable, so no user can trip it, and the hook is the same code in both. (A unit test
/// would have to swap the process-wide hook under the test harness's other threads.)
///
/// # Panics
/// In a debug build, when `NMLEAKS_DEBUG_PANIC` is set: that is its purpose.
pub fn debug_trigger() {
    #[cfg(debug_assertions)]
    if let Some(payload) = std::env::var_os("NMLEAKS_DEBUG_PANIC") {
        panic!("{}", payload.to_string_lossy());
    }
}
