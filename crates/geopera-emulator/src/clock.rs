//! The emulator's one source of time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2025-01-01T00:00:00Z, where a new [`ManualClock`] starts: on a minute boundary, so a test
/// knows it is at the start of a rate-limit window.
pub const DEFAULT_START_UNIX_SECS: i64 = 1_735_689_600;

/// The clock every time-dependent rule of the emulator reads: rate-limit windows, order
/// progress, key expiry and idempotency retention.
///
/// A clock is either frozen (the default: it moves only when [`advance`](Self::advance) or
/// [`set`](Self::set) is called) or [`system`](Self::system) (it follows the wall clock, plus
/// whatever was added with `advance`). Clones share the same time, so a test keeps one and
/// hands another to the emulator.
///
/// ```
/// use std::time::Duration;
/// use geopera_emulator::ManualClock;
///
/// let clock = ManualClock::new();
/// let before = clock.now_millis();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now_millis() - before, 90_000);
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Milliseconds added to the base.
    offset_ms: AtomicI64,
    /// Counts the moves that set the clock back, from a start of its own ([`SetBack`]).
    set_backs: std::sync::atomic::AtomicU64,
    /// The reading (Unix milliseconds) the last move back set the clock to; `i64::MAX` until
    /// one does.
    set_back_to_ms: AtomicI64,
    /// Whether time follows the wall clock (otherwise it stays at `base_ms`).
    ticking: bool,
    /// The frozen base time, in Unix milliseconds.
    base_ms: i64,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A frozen clock at [`DEFAULT_START_UNIX_SECS`].
    pub fn new() -> Self {
        Self::starting_at(DEFAULT_START_UNIX_SECS)
    }

    /// A frozen clock at the given Unix time in seconds.
    pub fn starting_at(unix_secs: i64) -> Self {
        ManualClock {
            inner: Arc::new(Inner {
                offset_ms: AtomicI64::new(0),
                set_backs: first_set_back_count(),
                set_back_to_ms: AtomicI64::new(i64::MAX),
                ticking: false,
                base_ms: unix_secs.saturating_mul(1000),
            }),
        }
    }

    /// A clock that follows the wall clock; [`advance`](Self::advance) still moves it ahead.
    pub fn system() -> Self {
        ManualClock {
            inner: Arc::new(Inner {
                offset_ms: AtomicI64::new(0),
                set_backs: first_set_back_count(),
                set_back_to_ms: AtomicI64::new(i64::MAX),
                ticking: true,
                base_ms: 0,
            }),
        }
    }

    /// Whether the clock follows the wall clock ([`system`](Self::system)) rather than
    /// staying where it was put.
    pub fn follows_wall_clock(&self) -> bool {
        self.inner.ticking
    }

    /// The current time in Unix milliseconds.
    pub fn now_millis(&self) -> i64 {
        self.base_millis()
            .saturating_add(self.inner.offset_ms.load(Ordering::SeqCst))
    }

    /// What the offset is added to: the wall clock, or the frozen base.
    fn base_millis(&self) -> i64 {
        if self.inner.ticking {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| {
                    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
                })
        } else {
            self.inner.base_ms
        }
    }

    /// The current time in whole Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Moves the clock forward (to the end of `i64` milliseconds at most, never round to
    /// the past).
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // Not `fetch_add`, which wraps.
        let _ = self
            .inner
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                Some(offset.saturating_add(millis))
            });
    }

    /// Moves the clock forward by `by` if it then reads `latest_ms` or earlier, and says
    /// whether it did: the check and the move are one step, so moves made at once cannot
    /// each pass the check and together pass `latest_ms`.
    pub(crate) fn advance_until(&self, by: Duration, latest_ms: i64) -> bool {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.inner
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |offset| {
                let lands = self
                    .base_millis()
                    .saturating_add(offset)
                    .saturating_add(millis);
                (lands <= latest_ms).then(|| offset.saturating_add(millis))
            })
            .is_ok()
    }

    /// Moves the clock to the given Unix time in seconds (forward or backward).
    pub fn set(&self, unix_secs: i64) {
        let target = unix_secs.saturating_mul(1000);
        let before = self.now_millis();
        // One store of the offset that lands on `target`, not a reading and an addition:
        // two sets at once would each add their difference to the other's result and leave
        // the clock at neither reading.
        self.inner
            .offset_ms
            .store(target.saturating_sub(self.base_millis()), Ordering::SeqCst);
        if target < before {
            self.note_set_back(target);
        }
    }

    /// Records a move back to `to_ms`: the reading first, then the count that says it
    /// changed.
    fn note_set_back(&self, to_ms: i64) {
        self.inner.set_back_to_ms.store(to_ms, Ordering::SeqCst);
        self.inner.set_backs.fetch_add(1, Ordering::SeqCst);
    }

    /// The moves back so far ([`SetBack`]).
    pub(crate) fn set_back(&self) -> SetBack {
        SetBack {
            count: self.inner.set_backs.load(Ordering::SeqCst),
            to_secs: self
                .inner
                .set_back_to_ms
                .load(Ordering::SeqCst)
                .div_euclid(1000),
        }
    }

    /// What the clock is moved by from its base, for [`restore_offset`](Self::restore_offset).
    pub(crate) fn offset(&self) -> i64 {
        self.inner.offset_ms.load(Ordering::SeqCst)
    }

    /// Puts back an offset [`offset`](Self::offset) read: a move that could not be kept is
    /// undone, a ticking clock keeping the time that passed meanwhile.
    pub(crate) fn restore_offset(&self, offset: i64) {
        let before = self.inner.offset_ms.swap(offset, Ordering::SeqCst);
        if offset < before {
            self.note_set_back(self.base_millis().saturating_add(offset));
        }
    }

    /// Seconds left until the current minute ends (1..=60), as `Retry-After` reports it.
    pub fn secs_to_minute_end(&self) -> i64 {
        let minute = crate::limits::millis(geopera_types::RateClass::WINDOW);
        crate::limits::secs_left(minute, self.now_millis())
    }
}

/// How often a clock was set back, and to what: what was stamped with its readings before a
/// move back may lie ahead of what happens after it. `count` starts from a value drawn from
/// the wall clock when the clock is made, so a count written to a state file by another run
/// never equals this run's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SetBack {
    /// Changes with every move back.
    pub(crate) count: u64,
    /// The reading (Unix seconds) the last move back set the clock to; `i64::MAX` divided
    /// down when none did.
    pub(crate) to_secs: i64,
}

/// The first count of a clock's moves back: the wall clock's nanoseconds, different for each
/// run (see [`SetBack`]).
fn first_set_back_count() -> std::sync::atomic::AtomicU64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    std::sync::atomic::AtomicU64::new(u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(0))
}

#[cfg(test)]
#[path = "clock_tests.rs"]
mod tests;
