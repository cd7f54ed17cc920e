//! Client-side flow control shared by every clone of a client: a cap on requests in flight,
//! optional pacing per rate-limit class, and a pause that a 429 imposes on every task of the
//! class, not just the one that received it.
//!
//! A call of a narrower class (order placement, spend) draws on the organization's default
//! budget as well as its own, as the API counts it ([`RateClass::drawn_from`]): it takes a
//! paced slot of each and waits out a pause of either. It goes at the later of its slots, so
//! when its own class holds it back, its default slot passes unused before it goes: the
//! default budget is spent no faster than its pace over time, but such a call can go within
//! one spacing of another default call, and a fixed minute window of the API can then count
//! one call more than the pace allows (a 429 the pause then absorbs). Pacing a narrower class
//! well below the default budget's cap leaves that room.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use geopera_types::RateClass;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::budget::{Budget, Reservation, CLASSES, MAX_ASKS, MAX_HOLD};
use crate::caller::{Caller, ThreadMark, ThreadMarks};
use crate::clock::Clock;

/// The most times a call takes its in-flight and paced slots before it goes, giving them back
/// each time a 429's pause began while it waited for them.
const ADMIT_ROUNDS: usize = 8;

#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) clock: Arc<dyn Clock>,
    in_flight: Option<Arc<Semaphore>>,
    /// Minimum spacing between two sends of a class, when pacing is on.
    spacing: [Option<Duration>; CLASSES],
    /// The paced slots of each class still free, on the clock.
    queues: Mutex<[Queue; CLASSES]>,
    /// Until when a class is paused after a 429, on the clock.
    paused_until: Mutex<[Duration; CLASSES]>,
    /// In-flight slots held or waited for by async calls on current-thread runtimes, by the
    /// thread that drives the runtime: only that thread can release them, and a slot freed
    /// elsewhere goes to a call queued before it, so a blocking call on that thread must not
    /// wait for one.
    on_thread: Arc<ThreadMarks>,
    /// A budget shared beyond this client, asked after the client's own pacing, if any.
    budget: Option<Arc<dyn Budget>>,
}

/// Leave to send: the in-flight slot, if the client caps them, released when dropped.
#[derive(Debug)]
pub(crate) struct Admission {
    _permit: Option<OwnedSemaphorePermit>,
    /// Set when the slot is held by an async call on a current-thread runtime.
    _on_thread: Option<ThreadMark>,
    /// Whether the call was held before it was let go (a pause, an in-flight slot, its
    /// paced turn, the shared budget): what it prepared before may have aged meanwhile.
    pub(crate) waited: bool,
}

/// The paced slots of one class not yet given to a call.
#[derive(Debug, Default)]
struct Queue {
    /// The slot after the last one given.
    next: Duration,
    /// Slots before `next` given back by calls that did not use them, earliest first.
    freed: Vec<Duration>,
}

impl Admission {
    /// Leave that holds no slot: the client caps nothing, or the request takes none.
    fn none() -> Self {
        Admission {
            _permit: None,
            _on_thread: None,
            waited: false,
        }
    }
}

impl Queue {
    /// Gives the earliest free slot not before `now`.
    fn take(&mut self, now: Duration, spacing: Duration) -> Duration {
        // A slot passed unused is lost, as when no call came: sent late, it would come closer
        // than `spacing` to the slot after it, which may be some other call's.
        self.freed.retain(|at| *at >= now);
        if !self.freed.is_empty() {
            return self.freed.remove(0);
        }
        let at = self.next.max(now);
        self.next = at + spacing;
        at
    }

    /// Takes back the slot at `at`, given to a call that did not use it.
    fn give_back(&mut self, at: Duration, spacing: Duration) {
        if at + spacing == self.next {
            // The last slot given, and any freed ones right before it: the queue steps back.
            self.next = at;
            while let Some(last) = self.freed.last() {
                if *last + spacing != self.next {
                    break;
                }
                self.next = *last;
                self.freed.pop();
            }
        } else {
            let place = self.freed.partition_point(|freed| *freed < at);
            self.freed.insert(place, at);
        }
    }
}

/// Paced slots given to a call, one per budget it draws on, given back when dropped unless
/// the call [went](Slots::used) with them.
///
/// A freed slot goes to the next call that asks, while the calls already waiting keep the
/// (later) slots they were given: pacing stays exact, since every slot lies one spacing or
/// more from any other, and no call waits longer than it was told when it asked. Moving every
/// later call up one slot instead would wake them all at each call given up; handing slots out
/// only as they come (each waiter racing for the next one on waking) would lose the order in
/// which calls asked, and a call could lose every race.
#[derive(Debug)]
struct Slots<'a> {
    limiter: &'a Limiter,
    taken: [Option<Duration>; CLASSES],
}

impl Slots<'_> {
    /// The call went: its slots are spent.
    fn used(mut self) {
        self.taken = [None; CLASSES];
    }
}

impl Drop for Slots<'_> {
    fn drop(&mut self) {
        if self.taken.iter().all(Option::is_none) {
            return;
        }
        let mut queues = self
            .limiter
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (at, (queue, spacing)) in self
            .taken
            .iter()
            .zip(queues.iter_mut().zip(self.limiter.spacing))
        {
            if let (Some(at), Some(spacing)) = (at, spacing) {
                queue.give_back(*at, spacing);
            }
        }
    }
}

/// Why a call was not admitted.
#[derive(Debug)]
pub(crate) enum Refused {
    /// A blocking call would wait for an in-flight slot only its own thread can give back.
    WouldDeadlock,
    /// The wait the call was given (a 429's pause, its paced slot, the shared budget's answer)
    /// ends at or after its deadline: it could only time out, so it does now, and a paced slot
    /// it took goes to a call that can use it.
    PastDeadline,
}

/// Until when a call may still be sent, on the limiter's clock; `None` for a call without
/// a deadline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendBy(pub(crate) Option<Duration>);

impl SendBy {
    /// Whether a wait until `at` leaves the call no time to be sent.
    fn outlived_by(self, at: Duration) -> Result<(), Refused> {
        match self.0 {
            Some(deadline) if at >= deadline => Err(Refused::PastDeadline),
            _ => Ok(()),
        }
    }
}

impl Limiter {
    pub(crate) fn new(
        clock: Arc<dyn Clock>,
        max_in_flight: Option<usize>,
        per_minute: &[(RateClass, u32)],
        budget: Option<Arc<dyn Budget>>,
    ) -> Self {
        let mut spacing = [None; CLASSES];
        for (class, cap) in per_minute {
            if *cap > 0 {
                spacing[class.index()] = Some(RateClass::WINDOW / *cap);
            }
        }
        Limiter {
            clock,
            // Beyond the semaphore's own bound, `Semaphore::new` panics.
            in_flight: max_in_flight
                .map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS)))),
            spacing,
            queues: Mutex::default(),
            paused_until: Mutex::new([Duration::ZERO; CLASSES]),
            on_thread: Arc::default(),
            budget,
        }
    }

    /// Until when a call of `class` is held by a 429's pause of a budget it draws on, if it
    /// still is.
    pub(crate) fn paused_until(&self, class: RateClass) -> Option<Duration> {
        let paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let until = class
            .drawn_from()
            .iter()
            .map(|drawn| paused[drawn.index()])
            .max()
            .unwrap_or_default();
        (until > self.clock.now()).then_some(until)
    }

    /// Takes the next free paced slot of every paced budget a call of `class` draws on; the
    /// call goes at the latest of them, `None` when that is now. Each budget keeps its own
    /// queue: a slot of the default budget is not held back behind a narrower class's, at
    /// the cost of a default slot taken a little before the call that uses it.
    fn reserve_slot(&self, class: RateClass) -> (Option<Duration>, Slots<'_>) {
        let mut slots = Slots {
            limiter: self,
            taken: [None; CLASSES],
        };
        let drawn = class.drawn_from();
        if drawn
            .iter()
            .all(|budget| self.spacing[budget.index()].is_none())
        {
            // Unpaced, the common case: no lock, no clock.
            return (None, slots);
        }
        let now = self.clock.now();
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let mut latest = None;
        for budget in drawn {
            let Some(spacing) = self.spacing[budget.index()] else {
                continue;
            };
            let at = queues[budget.index()].take(now, spacing);
            slots.taken[budget.index()] = Some(at);
            latest = latest.max(Some(at));
        }
        (latest.filter(|at| *at > now), slots)
    }

    #[cfg(test)]
    fn wait_for(&self, class: RateClass) -> Duration {
        let now = self.clock.now();
        let paused = self.paused_until(class).unwrap_or(now);
        let (slot, slots) = self.reserve_slot(class);
        slots.used();
        paused.max(slot.unwrap_or(now)).saturating_sub(now)
    }

    /// Waits until no 429's pause holds a call of `class`; a few rounds at most, should pauses
    /// keep being extended. Says whether it waited.
    async fn wait_out_pauses(
        &self,
        operation_id: &str,
        class: RateClass,
        send_by: SendBy,
    ) -> Result<bool, Refused> {
        let mut waited = false;
        for _ in 0..8 {
            let Some(until) = self.paused_until(class) else {
                break;
            };
            send_by.outlived_by(until)?;
            held(
                operation_id,
                class,
                "rate_limited",
                until.saturating_sub(self.clock.now()),
            );
            self.clock.sleep_until(until).await;
            waited = true;
        }
        Ok(waited)
    }

    /// Takes an in-flight slot, if the client caps them, waiting for one when all are taken;
    /// says whether it waited.
    ///
    /// # Errors
    ///
    /// See [`Limiter::admit`].
    async fn take_in_flight(
        self: &Arc<Self>,
        blocking: Option<Caller>,
    ) -> Result<(Admission, bool), Refused> {
        let none = Admission::none;
        let Some(semaphore) = &self.in_flight else {
            return Ok((none(), false));
        };
        // A call whose task runs on a current-thread runtime is counted from before it waits:
        // the semaphore hands a freed slot to the calls queued first, and the task runs only
        // on that runtime's thread. Blocking calls too, where their work runs on such a
        // runtime (the I/O thread's, a calling thread's own): code of theirs (a waiter's or an
        // upload's callback) can make a blocking call that stops that thread.
        let on_thread = Caller::current()
            .runtime_thread()
            .map(|thread| self.on_thread.mark(thread));
        let (permit, waited) = match semaphore.clone().try_acquire_owned() {
            Ok(permit) => (permit, false),
            Err(TryAcquireError::NoPermits) => {
                let stopped = blocking.and_then(Caller::runtime_thread);
                if stopped.is_some_and(|thread| self.on_thread.marked(thread)) {
                    return Err(Refused::WouldDeadlock);
                }
                match semaphore.clone().acquire_owned().await {
                    Ok(permit) => (permit, true),
                    Err(_) => return Ok((none(), true)),
                }
            }
            // Never closed.
            Err(TryAcquireError::Closed) => return Ok((none(), false)),
        };
        let admission = Admission {
            _permit: Some(permit),
            _on_thread: on_thread,
            waited: false,
        };
        Ok((admission, waited))
    }

    /// Waits until a request of `class` may be sent; the admission bounds requests in flight.
    /// `blocking` is the thread a blocking call stops, if this is one; `send_by` is the call's
    /// deadline.
    ///
    /// Pauses are waited out before the in-flight slot is taken: a call held by a 429 has
    /// nothing in flight. Paced slots and the shared budget are asked after it, since each is
    /// spent when given: taken first, a slot could wait behind the in-flight cap and be used
    /// long after its time, together with the slots after it, which nothing held back —
    /// sends closer than the pacing allows.
    ///
    /// # Errors
    ///
    /// [`Refused::WouldDeadlock`]: every slot is taken and one is held, or waited for, by an
    /// async call on the current-thread runtime of the thread a blocking call stops: waiting
    /// would stop the only thread that can use it and give it back.
    /// [`Refused::PastDeadline`]: a wait of known length would end at or past `send_by`, as Go's
    /// `rate.Limiter.Wait` refuses a wait its context's deadline would cut short. A wait for an
    /// in-flight slot has no known length and is left to the deadline itself.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        operation_id: &str,
        class: RateClass,
        blocking: Option<Caller>,
        send_by: SendBy,
    ) -> Result<Admission, Refused> {
        self.admit_with(operation_id, class, Some(blocking), send_by)
            .await
    }

    /// Waits until a request of `class` that takes no in-flight slot may be sent: a 429's
    /// pause, the class's pacing and the shared budget hold it as they hold a call.
    ///
    /// Why no slot: a sign-in request is made for a call, which takes its own; and when the
    /// call's credential is renewed after it was let go (its wait outlasted the credential),
    /// the call holds that slot, and under a cap of one the sign-in would wait for itself. It
    /// is still counted, as the API counts it: against the budget of calls without
    /// credentials, per client address.
    ///
    /// # Errors
    ///
    /// [`Refused::PastDeadline`]: a wait of known length would end at or past `send_by`.
    pub(crate) async fn pace(
        self: &Arc<Self>,
        operation_id: &str,
        class: RateClass,
        send_by: SendBy,
    ) -> Result<(), Refused> {
        self.admit_with(operation_id, class, None, send_by)
            .await
            .map(drop)
    }

    /// [`Limiter::admit`], taking an in-flight slot when `slot` holds the thread a blocking
    /// call stops (`Some(None)` for an async call), none when it is `None`.
    async fn admit_with(
        self: &Arc<Self>,
        operation_id: &str,
        class: RateClass,
        slot: Option<Option<Caller>>,
        send_by: SendBy,
    ) -> Result<Admission, Refused> {
        // A pause may begin or be extended while the call waits for its in-flight slot or its
        // paced slot (another task got a 429): both were taken for a budget the API has since
        // said is spent, so both are given back, the pause is waited out holding neither, and
        // they are taken again after it. A few rounds at most. A shared budget's hold is such
        // a pause, made by another process: it too is waited out holding neither slot.
        let mut round = 1;
        let mut held_up = false;
        let mut budget_asks = BudgetAsks::default();
        let (mut admission, slots) = loop {
            held_up |= self.wait_out_pauses(operation_id, class, send_by).await?;
            let (admission, waited) = match slot {
                Some(blocking) => self.take_in_flight(blocking).await?,
                None => (Admission::none(), false),
            };
            let (at, slots) = self.reserve_slot(class);
            if let Some(at) = at {
                // Dropped on the way out, `slots` gives the slot back.
                send_by.outlived_by(at)?;
                held(
                    operation_id,
                    class,
                    "paced",
                    at.saturating_sub(self.clock.now()),
                );
                self.clock.sleep_until(at).await;
            }
            // With nothing waited for since the look at pauses above, none can have begun.
            let waited = waited || at.is_some();
            held_up |= waited;
            if round < ADMIT_ROUNDS && waited && self.paused_until(class).is_some() {
                round += 1;
                continue;
            }
            let Some(budget) = &self.budget else {
                break (admission, slots);
            };
            match budget_asks
                .ask(budget.as_ref(), class, self.clock.now())
                .await
            {
                Turn::Granted => break (admission, slots),
                Turn::Wait(wait) => {
                    let until = budget_asks.until(self.clock.now(), wait);
                    send_by.outlived_by(until)?;
                    // Both slots given back before the wait, taken again after it.
                    drop((admission, slots));
                    held(
                        operation_id,
                        class,
                        "shared_budget",
                        until.saturating_sub(self.clock.now()),
                    );
                    self.clock.sleep_until(until).await;
                    held_up = true;
                }
                Turn::GaveUp => {
                    tracing::warn!(
                        ?class,
                        asks = budget_asks.asks,
                        waited = ?budget_asks.held(self.clock.now()),
                        "the shared rate budget granted no call in as many asks or as long a \
                         wait as a call gives it: sending anyway, as the API's own rate limit \
                         still guards it"
                    );
                    held_up = true;
                    break (admission, slots);
                }
            }
        };
        slots.used();
        admission.waited = held_up;
        Ok(admission)
    }

    /// Tells the shared budget, if there is one, that the API answered 429.
    pub(crate) async fn tell_limited(&self, class: RateClass, retry_after: Duration) {
        if let Some(budget) = &self.budget {
            budget.limited(class, retry_after).await;
        }
    }

    /// Whether a shared budget is to be told of 429s.
    pub(crate) fn has_budget(&self) -> bool {
        self.budget.is_some()
    }

    /// Holds back every send of `class` until `until` on the clock, after the API answered 429.
    pub(crate) fn pause_until(&self, class: RateClass, until: Duration) {
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if paused[class.index()] < until {
            paused[class.index()] = until;
            tracing::debug!(
                ?class,
                ?until,
                "rate limited: pausing every call of this class"
            );
        }
    }
}

/// Reports that a call of `operation_id` waits `wait` before it is sent, and why: `reason` is
/// `rate_limited` (a 429's pause), `paced` (its turn under the client's pacing) or
/// `shared_budget` (the budget shared beyond the client). A debug event, like the engine's
/// `retrying`, and for the same readers: a program that tells its user why nothing seems to
/// happen (a shared budget spent by the rest of a fleet can hold a call for most of a minute).
fn held(operation_id: &str, class: RateClass, reason: &'static str, wait: Duration) {
    tracing::debug!(
        operation_id,
        ?class,
        reason,
        ?wait,
        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        "held"
    );
}

/// What a shared budget said of one ask for a call.
enum Turn {
    /// The call may go.
    Granted,
    /// Ask again after this wait ([`BudgetAsks::until`] bounds it).
    Wait(Duration),
    /// It granted nothing in [`MAX_ASKS`] answers or [`MAX_HOLD`] of waiting: the call goes.
    GaveUp,
}

/// A call's asks of a shared budget, bounded in number and time because a budget is the
/// user's code or a store anyone may write to: one answering "wait" for ever would hold the
/// call for ever, and one answering 59 minutes 64 times would hold it for two and a half
/// days. Going ahead is what a budget that cannot answer does too ([`Budget`]).
#[derive(Default)]
struct BudgetAsks {
    /// When the first ask was made; the hold is counted from it, not from the call's earlier
    /// waits (for its in-flight slot, its pause, its pacing).
    started: Option<Duration>,
    asks: usize,
}

impl BudgetAsks {
    /// Asks `budget` once more for a call of `class`, at `now`.
    async fn ask(&mut self, budget: &dyn Budget, class: RateClass, now: Duration) -> Turn {
        if self.asks >= MAX_ASKS {
            return Turn::GaveUp;
        }
        self.asks += 1;
        let started = *self.started.get_or_insert(now);
        match budget.reserve(class).await {
            Reservation::Granted => Turn::Granted,
            // Asked once more as the hold runs out, in case it grants then.
            Reservation::Wait(_) if now >= started.saturating_add(MAX_HOLD) => Turn::GaveUp,
            Reservation::Wait(wait) => Turn::Wait(wait),
        }
    }

    /// When a wait of `wait` asked for at `now` ends, no later than [`MAX_HOLD`] after the
    /// first ask.
    fn until(&self, now: Duration, wait: Duration) -> Duration {
        let started = self.started.unwrap_or(now);
        now.saturating_add(wait)
            .min(started.saturating_add(MAX_HOLD))
    }

    /// How long since the first ask.
    fn held(&self, now: Duration) -> Duration {
        now.saturating_sub(self.started.unwrap_or(now))
    }
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
