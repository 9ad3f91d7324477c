//! The progress line on stderr: drawn only when stderr is a terminal and the run has lasted
//! over a second, so quick runs and pipelines never see it. Verification, which the rate limit
//! can make slow, gets its own line ([`VerifyProgress`]) and, when it will take a while, one
//! note saying so even without a terminal.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before progress is shown.
const DELAY: Duration = Duration::from_secs(1);

/// A spinner with counts, hidden until `DELAY` has passed.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    start: Instant,
}

impl Progress {
    /// A progress line that may appear if `enabled` (stderr is a terminal).
    #[must_use]
    pub fn new(enabled: bool) -> Progress {
        Progress {
            bar: None,
            enabled,
            start: Instant::now(),
        }
    }

    /// Updates the counts, creating the line once the delay has passed.
    pub fn update(&mut self, blobs: u64, bytes: u64, keys: usize) {
        if !self.enabled || self.start.elapsed() < DELAY {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        bar.set_message(format!(
            "{blobs} scanned, {}, {keys} keys",
            indicatif::HumanBytes(bytes)
        ));
        bar.tick();
    }

    /// Runs `f` (which prints to stderr) without tearing the progress line.
    pub fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Removes the line.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// A verification run takes at least this long before nmleaks says how long it will take.
const SLOW_VERIFICATION: Duration = Duration::from_secs(10);

/// Progress of `--verify`: a counter on a terminal, a note when the rate makes it slow.
#[derive(Debug)]
pub struct VerifyProgress {
    enabled: bool,
    rate_per_minute: u32,
    bar: OnceLock<ProgressBar>,
}

impl VerifyProgress {
    /// A progress line drawn if `enabled` (stderr is a terminal).
    #[must_use]
    pub fn new(enabled: bool, rate_per_minute: u32) -> VerifyProgress {
        VerifyProgress {
            enabled,
            rate_per_minute,
            bar: OnceLock::new(),
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

impl crate::verify::Observer for VerifyProgress {
    fn start(&self, requests: usize, estimate: Duration, deadline: Duration) {
        if estimate > deadline {
            crate::messages::note(format_args!(
                "verifying {requests} keys at {} requests a minute takes about {}s, longer \
                 than the {}s deadline (--verify-deadline): keys not verified by then will be \
                 unknown (deadline passed)",
                self.rate_per_minute,
                estimate.as_secs(),
                deadline.as_secs()
            ));
        } else if estimate >= SLOW_VERIFICATION {
            crate::messages::note(format_args!(
                "verifying {requests} keys at {} requests a minute takes about {}s",
                self.rate_per_minute,
                estimate.as_secs()
            ));
        }
        if self.enabled {
            let bar =
                ProgressBar::with_draw_target(Some(requests as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} verifying keys {pos}/{len}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            let _ = self.bar.set(bar);
        }
    }

    fn progress(&self, done: usize, _total: usize) {
        if let Some(bar) = self.bar.get() {
            bar.set_position(done as u64);
        }
    }
}
