//! The progress line on stderr: drawn only when stderr is a terminal and the run has lasted
//! over a second, so quick runs and pipelines never see it.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before progress is shown.
const DELAY: Duration = Duration::from_secs(1);

/// A spinner with counts, hidden until [`DELAY`] has passed.
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
