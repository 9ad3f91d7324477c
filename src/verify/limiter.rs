//! The process-wide request pacing: one limiter that every verification worker goes through.
//!
//! This module owns when a request may leave: no sooner than one interval (a minute divided
//! by the configured rate) after the previous one, and never while a pause is in force. A
//! pause is what a 429 asks for: [`Limiter::pause_until`] holds back every worker, not just
//! the one that was told to wait. [`Limiter::acquire_by`] gives up at once when the next slot
//! comes after a deadline. Deciding how long to pause is [`super::retry`]'s job.
//!
//! Requests are spaced evenly rather than allowed in bursts: a burst of a whole minute's
//! allowance at start-up is within "60 per minute" by some counting and not by others, and
//! the API's window is not documented.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Spaces requests at a fixed rate and honours pauses.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The earliest time the next request may leave.
    next: Instant,
    /// No request leaves before this (a 429's wait).
    paused_until: Instant,
}

impl Limiter {
    /// A limiter allowing `per_minute` requests a minute (at least one).
    #[must_use]
    pub fn per_minute(per_minute: u32) -> Limiter {
        let now = Instant::now();
        Limiter {
            interval: Duration::from_secs(60) / per_minute.max(1),
            state: Mutex::new(State {
                next: now,
                paused_until: now,
            }),
        }
    }

    /// The spacing between two requests.
    #[must_use]
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Blocks until a request may leave, and takes that slot.
    pub fn acquire(&self) {
        let _ = self.acquire_by(None);
    }

    /// Like [`Limiter::acquire`], but gives up (returns `false`, takes no slot) as soon as it
    /// is clear that the slot comes after `deadline`: waiting for a slot that is too late
    /// would only delay the end of the run.
    #[must_use]
    pub fn acquire_by(&self, deadline: Option<Instant>) -> bool {
        loop {
            let wait = {
                let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                let ready = s.next.max(s.paused_until);
                if deadline.is_some_and(|d| ready >= d) {
                    return false;
                }
                if ready <= now {
                    // Spacing counts from when the request really leaves, so a late wake-up
                    // can only lower the rate, never raise it.
                    s.next = now + self.interval;
                    return true;
                }
                ready - now
            };
            // Sleep without holding the lock, then look again: a pause may have started.
            std::thread::sleep(wait);
        }
    }

    /// Holds back every request until `until` (a later pause already in force is kept).
    pub fn pause_until(&self, until: Instant) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.paused_until = s.paused_until.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spaced_by_the_interval() {
        let limiter = Limiter::per_minute(60_000 / 20); // 20 ms apart
        assert_eq!(limiter.interval(), Duration::from_millis(20));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..6 {
            limiter.acquire();
            times.push(start.elapsed());
        }
        assert!(times[0] < Duration::from_millis(15), "first is immediate");
        for w in times.windows(2) {
            assert!(
                w[1].saturating_sub(w[0]) >= Duration::from_millis(20),
                "{times:?}"
            );
        }
    }

    #[test]
    fn a_pause_holds_back_every_thread() {
        let limiter = Limiter::per_minute(1_000_000);
        let start = Instant::now();
        limiter.pause_until(start + Duration::from_millis(80));
        let done: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        limiter.acquire();
                        start.elapsed()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            done.iter().all(|d| *d >= Duration::from_millis(80)),
            "{done:?}"
        );
    }

    #[test]
    fn a_slot_after_the_deadline_is_refused_at_once_and_not_taken() {
        let limiter = Limiter::per_minute(1_000_000);
        let start = Instant::now();
        limiter.pause_until(start + Duration::from_secs(3600));
        assert!(!limiter.acquire_by(Some(start + Duration::from_secs(1))));
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "refused without waiting out the pause"
        );
        let limiter = Limiter::per_minute(1_000_000);
        assert!(limiter.acquire_by(Some(Instant::now() + Duration::from_secs(3600))));
        let passed = Instant::now();
        assert!(
            !limiter.acquire_by(Some(passed)),
            "a deadline already passed"
        );
    }

    #[test]
    fn a_shorter_pause_does_not_cut_a_longer_one() {
        let limiter = Limiter::per_minute(1_000_000);
        let start = Instant::now();
        limiter.pause_until(start + Duration::from_millis(60));
        limiter.pause_until(start + Duration::from_millis(10));
        limiter.acquire();
        assert!(start.elapsed() >= Duration::from_millis(60));
    }
}
