//! The one seam through which the SDK reads time and waits: retry backoff, `Retry-After`,
//! deadlines and client-side pacing all go through a [`Clock`], so tests (or simulations) can
//! drive time instead of sleeping.
//!
//! Waits are expressed as instants on the clock ("until 60 s from its origin") rather than as
//! durations, so that many tasks waiting for the same moment — say, the end of a rate-limit
//! window — wait for one moment, whatever order they are woken in.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A source of monotonic time and of waits.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Time elapsed since an arbitrary, fixed origin.
    fn now(&self) -> Duration;
    /// Waits until [`Clock::now`] reaches `at`. Blocking calls wait through this too: they run
    /// the same async engine on their own thread.
    fn sleep_until(&self, at: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// When a request went, to tell when its answer came on the client's clock: when it went
/// plus the round trip as it really took, unless the clock has not come that far. Not simply
/// the clock read once the answer is in, which a clock of the caller's own may have moved
/// meanwhile for other calls (a test's, which jumps to each wake-up) and would then push this
/// request's `Retry-After` as far; nor past that reading, which a clock that moves only when
/// told to (a simulation's) would never reach, so a wait it was told to end would go on.
pub(crate) struct Sent {
    at: Duration,
    real: Instant,
}

impl Sent {
    /// A request going now.
    pub(crate) fn now(clock: &dyn Clock) -> Self {
        Sent {
            at: clock.now(),
            real: Instant::now(),
        }
    }

    /// When its answer came on `clock` (the one it went by), read now that it has.
    pub(crate) fn answered_at(&self, clock: &dyn Clock) -> Duration {
        self.at
            .saturating_add(self.real.elapsed())
            .min(clock.now())
            .max(self.at)
    }
}

/// Real time: `Instant` and Tokio's timer (the default).
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep_until(&self, at: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        match self.origin.checked_add(at) {
            Some(deadline) => Box::pin(tokio::time::sleep_until(deadline.into())),
            // Past the end of the platform's time (a server's `Retry-After` of 2^64 s, added
            // with saturation): that moment never comes, and a deadline ends the wait first.
            None => Box::pin(std::future::pending()),
        }
    }
}
