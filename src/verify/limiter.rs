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
    /// is clear that the slot comes after `deadline` (a free slot once the deadline has passed
    /// included): waiting for a slot that is too late would only delay the end of the run.
    #[must_use]
    pub fn acquire_by(&self, deadline: Option<Instant>) -> bool {
        loop {
            let wait = {
                let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                let ready = s.next.max(s.paused_until);
                // The request would leave at `ready` or now, whichever is later: a slot free
                // since before the deadline is still too late once the deadline has passed.
                if deadline.is_some_and(|d| ready.max(now) >= d) {
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

    /// The limiter's next slot and pause.
    fn slots(l: &Limiter) -> (Instant, Instant) {
        let s = l.state.lock().unwrap();
        (s.next, s.paused_until)
    }

    #[test]
    fn requests_are_spaced_by_the_interval() {
        let limiter = Limiter::per_minute(60_000 / 20); // 20 ms apart
        assert_eq!(limiter.interval(), Duration::from_millis(20));
        // Each slot is taken between the call and the return, so the gap between two slots
        // is at most the time from one call to the next return. Only a lower bound: a limiter
        // must never send faster than its rate, and a loaded machine can only widen the gaps.
        let mut calls_and_returns = Vec::new();
        for _ in 0..6 {
            let called = Instant::now();
            limiter.acquire();
            calls_and_returns.push((called, Instant::now()));
        }
        for w in calls_and_returns.windows(2) {
            let gap = w[1].1 - w[0].0;
            assert!(gap >= Duration::from_millis(20), "two slots {gap:?} apart");
        }
    }

    /// Told by where `acquire_by` puts the slots, not by a clock a loaded machine stretches:
    /// a slot before the deadline is granted, one after it refused without waiting.
    #[test]
    fn the_first_request_leaves_at_once_and_the_next_one_an_interval_later() {
        let limiter = Limiter::per_minute(1); // a minute apart
        let half_a_minute = Instant::now() + Duration::from_secs(30);
        assert!(
            limiter.acquire_by(Some(half_a_minute)),
            "the first slot is when the limiter was made, no interval after it"
        );
        assert!(
            !limiter.acquire_by(Some(half_a_minute)),
            "the second slot is a minute after the first"
        );
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
        let before = slots(&limiter);
        // Asked on a thread, so that a limiter that waited out the hour's pause fails here
        // after a minute rather than hanging the suite. A minute is no speed requirement:
        // "at once" is told by the answer coming at all before the pause ends.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| tx.send(limiter.acquire_by(Some(start + Duration::from_secs(1)))));
            let granted = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("refused without waiting out the pause");
            assert!(!granted, "a slot after the deadline is refused");
        });
        assert_eq!(slots(&limiter), before, "a refused slot is not taken");
    }

    /// A limiter whose next slot was free refused a deadline already passed only when that
    /// slot came after it: with the slot a few microseconds after the last request, a test
    /// preempted for a millisecond between the two calls saw the slot granted, and a request
    /// could leave after `--verify-deadline`.
    #[test]
    fn a_free_slot_is_refused_once_the_deadline_has_passed() {
        let limiter = Limiter::per_minute(1_000_000);
        let passed = Instant::now();
        assert!(
            !limiter.acquire_by(Some(passed)),
            "the first slot, free since the limiter was made"
        );
        assert!(limiter.acquire_by(Some(Instant::now() + Duration::from_secs(3600))));
        // Past the next slot (60 µs later) as well as the deadline: a preempted caller.
        std::thread::sleep(Duration::from_millis(1));
        let before = slots(&limiter);
        assert!(
            !limiter.acquire_by(Some(Instant::now())),
            "a slot in the past"
        );
        assert_eq!(slots(&limiter), before, "a refused slot is not taken");
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
