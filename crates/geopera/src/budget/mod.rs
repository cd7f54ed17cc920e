//! Rate budgets shared beyond one client: the seam through which many processes of one
//! organization agree on how many calls go out per window.
//!
//! The API counts its per-minute budgets per organization, across all of its servers (calls
//! without credentials, [`RateClass::Unauthenticated`], per client address instead: a
//! budget shared by a fleet counts them as if it had one address, as behind one NAT). A
//! client paces itself and pauses after a 429 ([`ClientBuilder::pace`],
//! [`ClientBuilder::pace_documented_limits`]), and every clone in a process shares that; but
//! twenty processes pacing alone overrun the window together and then all stall on 429s until
//! it turns. A [`Budget`] given to [`ClientBuilder::budget`] is asked before every attempt
//! and told of every 429 the client would wait out (a `Retry-After` up to
//! [`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after); a longer one fails
//! only its own call), so one budget can hold for a whole fleet:
//!
//! - [`LocalBudget`]: fixed windows counted in this process (what a fleet falls back to);
//! - `RedisBudget` (feature `redis`): fixed windows counted in Redis by one atomic script per
//!   reservation, shared by every process that names the same organization.
//!
//! Without a budget nothing here runs: the client's own pacing and pauses are unchanged.
//!
//! [`ClientBuilder::pace`]: crate::ClientBuilder::pace
//! [`ClientBuilder::pace_documented_limits`]: crate::ClientBuilder::pace_documented_limits
//! [`ClientBuilder::budget`]: crate::ClientBuilder::budget

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use geopera_types::RateClass;

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::{RedisBudget, RedisBudgetBuilder};

/// A future a [`Budget`] answers with; boxed so that budgets can be trait objects.
pub type BudgetFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The answer to "may one call of this class go out now?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reservation {
    /// Yes: the call has been counted.
    Granted,
    /// Not yet: ask again after this long (nothing was counted).
    Wait(Duration),
}

/// The longest one attempt waits on a [`Budget`], in all: past it the attempt goes ahead,
/// and the API's own 429 guards what slips through. It is also the longest a 429 holds a
/// budget shared on Redis, and so the longest wait a reservation there can rightly answer.
/// An hour: the longest window a budget may count in, and far past the API's minute.
pub const MAX_HOLD: Duration = Duration::from_secs(3600);

/// How many times one attempt asks a [`Budget`] before it goes ahead regardless: each "not
/// yet" is a wait for a window to end, so this is patience for dozens of windows, and the
/// API's own 429 still guards what slips through.
pub const MAX_ASKS: usize = 64;

/// A rate budget consulted before every attempt a client makes.
///
/// Implementations must answer promptly and never fail: a budget that cannot reach its store
/// answers from a local one instead, because a call must not hang or error on account of
/// the pacing that was meant to help it.
///
/// The client's patience is bounded whatever a budget answers: an attempt asks at most
/// [`MAX_ASKS`] times and waits [`MAX_HOLD`] at most in all (a [`Reservation::Wait`] longer
/// than what is left of it is cut short), then goes ahead with a warning in the log. A call's
/// [`deadline`](crate::ClientBuilder::deadline) ends the wait sooner.
pub trait Budget: Send + Sync + fmt::Debug + 'static {
    /// Reserves one call of `class`, or says how long to wait before asking again.
    fn reserve(&self, class: RateClass) -> BudgetFuture<'_, Reservation>;

    /// The API answered a call of `class` with 429 and asked for `retry_after` of quiet, at
    /// most the client's [`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after).
    /// A sign-in request to the API's identity provider is a call of
    /// [`RateClass::Unauthenticated`] here: the API counts it so.
    fn limited(&self, class: RateClass, retry_after: Duration) -> BudgetFuture<'_, ()>;
}

/// How many classes per-class arrays hold.
pub(crate) const CLASSES: usize = RateClass::ALL.len();

/// Milliseconds since the Unix epoch: windows align to the wall clock, as the API's do.
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A budget counted in this process: fixed windows aligned to the wall clock (the minute, by
/// default), a cap per class, and a pause after a 429 that holds every call of the class.
///
/// On its own it is what a single process needs; it is also what `RedisBudget` falls back to
/// while Redis cannot be reached.
#[derive(Debug)]
pub struct LocalBudget {
    window_ms: u64,
    caps: [Option<u32>; CLASSES],
    state: Mutex<LocalState>,
}

#[derive(Debug, Default)]
struct LocalState {
    /// The window each counter belongs to, and its count.
    used: [(u64, u32); CLASSES],
    /// Unix milliseconds until which a class is held after a 429.
    blocked_until: [u64; CLASSES],
    /// How long the hold that ends at `blocked_until` was asked for, in milliseconds: a hold
    /// further ahead than that means the wall clock was set back since it began.
    held_for: [u64; CLASSES],
}

impl LocalBudget {
    /// The API's documented caps ([`RateClass::documented_per_minute`]) over one-minute
    /// windows.
    pub fn documented() -> Self {
        let mut caps = [None; CLASSES];
        for class in RateClass::ALL {
            caps[class.index()] = Some(class.documented_per_minute());
        }
        Self::with_caps(RateClass::WINDOW, caps)
    }

    /// The given caps per `window`; a class without a cap is not counted.
    pub(crate) fn with_caps(window: Duration, caps: [Option<u32>; CLASSES]) -> Self {
        LocalBudget {
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1),
            caps,
            state: Mutex::new(LocalState::default()),
        }
    }

    /// Counts calls of `class` in windows of this length instead of a minute (for tests that
    /// shorten the emulator's windows too).
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        self
    }

    /// Allows `per_window` calls of `class` per window; 0 lifts the cap.
    #[must_use]
    pub fn cap(mut self, class: RateClass, per_window: u32) -> Self {
        self.caps[class.index()] = (per_window > 0).then_some(per_window);
        self
    }

    /// The reservation, answered at once.
    pub(crate) fn reserve_now(&self, class: RateClass) -> Reservation {
        self.reserve_at(class, unix_millis())
    }

    /// [`reserve_now`](Self::reserve_now) at `now`, in Unix milliseconds.
    fn reserve_at(&self, class: RateClass, now: u64) -> Reservation {
        let index = now / self.window_ms;
        let window_end = (index + 1).saturating_mul(self.window_ms);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let budgets = class.drawn_from();
        for c in budgets {
            // The wall clock was set back since the hold began (a correction, a virtual
            // machine resumed): the hold starts again now, no longer than it was asked for,
            // rather than lasting as long again as the clock went back.
            let s = c.index();
            let latest_end = now.saturating_add(state.held_for[s]);
            if state.blocked_until[s] > latest_end {
                state.blocked_until[s] = latest_end;
            }
        }
        let blocked = budgets
            .iter()
            .map(|c| state.blocked_until[c.index()])
            .max()
            .unwrap_or(0);
        if blocked > now {
            return Reservation::Wait(Duration::from_millis(blocked - now));
        }
        for c in budgets {
            let (at, used) = state.used[c.index()];
            if let Some(cap) = self.caps[c.index()] {
                if at == index && used >= cap {
                    return Reservation::Wait(Duration::from_millis(window_end - now));
                }
            }
        }
        count_in(&mut state, budgets, index);
        Reservation::Granted
    }

    /// Counts a call of `class` granted elsewhere (by a shared budget this one stands in for
    /// when that cannot answer), in the window of now: falling back within the window, this
    /// one then knows what was already spent of it.
    #[cfg(feature = "redis")]
    pub(crate) fn count_now(&self, class: RateClass) {
        let index = unix_millis() / self.window_ms;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        count_in(&mut state, class.drawn_from(), index);
    }

    /// Holds calls of `class` for `retry_after`.
    pub(crate) fn limited_now(&self, class: RateClass, retry_after: Duration) {
        self.limited_at(class, retry_after, unix_millis());
    }

    /// [`limited_now`](Self::limited_now) at `now`, in Unix milliseconds.
    fn limited_at(&self, class: RateClass, retry_after: Duration, now: u64) {
        let hold = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX);
        let until = now.saturating_add(hold);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let s = class.index();
        if until >= state.blocked_until[s] {
            state.blocked_until[s] = until;
            state.held_for[s] = hold;
        }
    }
}

/// One more call in window `index` of each of `budgets`.
fn count_in(state: &mut LocalState, budgets: &[RateClass], index: u64) {
    for c in budgets {
        let counter = &mut state.used[c.index()];
        if counter.0 == index {
            counter.1 = counter.1.saturating_add(1);
        } else {
            *counter = (index, 1);
        }
    }
}

impl Default for LocalBudget {
    fn default() -> Self {
        Self::documented()
    }
}

impl Budget for LocalBudget {
    fn reserve(&self, class: RateClass) -> BudgetFuture<'_, Reservation> {
        let answer = self.reserve_now(class);
        Box::pin(std::future::ready(answer))
    }

    fn limited(&self, class: RateClass, retry_after: Duration) -> BudgetFuture<'_, ()> {
        self.limited_now(class, retry_after);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
