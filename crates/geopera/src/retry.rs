//! When to try a call again, and how long to wait first.
//!
//! | failure | read-only operation | other operation with an `Idempotency-Key` | other operation without |
//! |---|---|---|---|
//! | 429 (the request was not executed) | retry after `Retry-After` | retry | retry |
//! | connection refused / not established (nothing was sent) | retry | retry | retry |
//! | timeout, reset after sending, truncated answer | retry | retry | **no** |
//! | 500, 502, 503, 504 | retry | retry | **no** |
//! | anything else (4xx, success) | no | no | no |
//!
//! A followed redirect is an answer from the API to the call's own request, which may have
//! run: a refused connection or a 429 past it proves nothing, and so is retried only where
//! a timeout would be.
//!
//! Operations that are not read-only get an SDK-generated `Idempotency-Key` (a UUID v4, one per
//! logical call, the same on every attempt) unless the caller gave one or switched automatic
//! keys off, so by default every failure in the table is retried safely. The class of each
//! operation is in its descriptor ([`OperationInfo::retry`](geopera_types::OperationInfo)) and
//! in the `retry` row of its module's documentation.

use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::HeaderMap;

/// The statuses the retry loop and [`Error::is_retryable`](crate::Error::is_retryable) treat
/// as transient: one list, kept with the operation descriptors the emulator reads too.
pub(crate) use geopera_types::TRANSIENT_STATUSES;

/// Whether `status` is one of [`TRANSIENT_STATUSES`].
pub(crate) fn is_transient(status: http::StatusCode) -> bool {
    TRANSIENT_STATUSES.contains(&status.as_u16())
}

/// How a client retries failed attempts.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying). Default 2.
    pub max_retries: u32,
    /// The backoff before the first retry. Default 200 ms.
    pub initial_backoff: Duration,
    /// The longest backoff between two attempts. Default 10 s.
    pub max_backoff: Duration,
    /// The longest `Retry-After` the client waits out; a longer one fails the call at once:
    /// with [`Error::RateLimited`](crate::Error::RateLimited) on a 429, with the answer's own
    /// error on a 5xx. Default 60 s (one rate-limit window of the API).
    pub max_retry_after: Duration,
    /// Whether operations with side effects get an SDK-generated `Idempotency-Key`. Default
    /// `true`.
    pub auto_idempotency_keys: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
            auto_idempotency_keys: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// Sets [`RetryPolicy::max_retries`].
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets [`RetryPolicy::initial_backoff`] and [`RetryPolicy::max_backoff`].
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Sets [`RetryPolicy::max_retry_after`].
    #[must_use]
    pub fn max_retry_after(mut self, ceiling: Duration) -> Self {
        self.max_retry_after = ceiling;
        self
    }

    /// Sets [`RetryPolicy::auto_idempotency_keys`].
    #[must_use]
    pub fn auto_idempotency_keys(mut self, enabled: bool) -> Self {
        self.auto_idempotency_keys = enabled;
        self
    }

    /// Whether the client waits out a pause the API asked for: retrying after it, pausing the
    /// class, telling a shared budget. A longer one ends the call at once and holds nothing.
    pub(crate) fn waits_out(&self, wait: Duration) -> bool {
        wait <= self.max_retry_after
    }

    /// The backoff before retry number `retry` (1-based): exponential, capped, with full
    /// jitter so that many clients do not retry in lockstep.
    pub(crate) fn backoff_for(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        jittered(ceiling)
    }
}

/// A pause drawn between half and all of `ceiling`: spread out so that many clients (or
/// waiters) do not act in lockstep, but never instant. Retries and waiters both pause this way.
pub(crate) fn jittered(ceiling: Duration) -> Duration {
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(millis / 2 + fastrand::u64(0..=millis / 2))
}

/// What the retry loop does after an attempt.
#[derive(Debug, PartialEq)]
pub(crate) enum Decision {
    /// Hand the outcome to the caller.
    Finish,
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// The API asked for a wait longer than the policy allows.
    TooLongToWait(Duration),
}

/// What happened in one attempt, as far as retrying cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// An answer with this status, to the call's own request.
    Status(u16),
    /// A 429 that came past a followed redirect. It says nothing ran only of the request it
    /// answers; the API answered the call's own request, which may have run.
    LimitedPastRedirect,
    /// No connection could be made; the request was never sent.
    NotSent,
    /// The request may have reached the server: a timeout, a reset, a cut-off answer.
    Ambiguous,
    /// A 409 to a keyed call an earlier attempt of which may still be running (it ended
    /// [`Outcome::Ambiguous`] or with a transient status): the API holds the key's claim
    /// while its first request runs, and answers a retry under it 409 meanwhile, though the
    /// work is neither refused nor done. Once it ends, a retry is replayed its answer.
    KeyInUse,
    /// A failure that repeating cannot fix.
    Fatal,
}

/// How an attempt ended, in the words a log line or a notice gives it.
impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Status(status) => write!(f, "HTTP {status}"),
            Outcome::LimitedPastRedirect => f.write_str("HTTP 429 after a redirect"),
            Outcome::NotSent => f.write_str("no connection"),
            Outcome::Ambiguous => f.write_str("no complete answer"),
            Outcome::KeyInUse => f.write_str("HTTP 409 while an earlier attempt may still run"),
            Outcome::Fatal => f.write_str("failed"),
        }
    }
}

/// Decides what follows attempt number `attempt` (1-based).
pub(crate) fn decide(
    policy: &RetryPolicy,
    max_retries: u32,
    outcome: Outcome,
    retry_after: Option<Duration>,
    safe: bool,
    attempt: u32,
) -> Decision {
    let retries_left = attempt <= max_retries;
    let backoff = || policy.backoff_for(attempt);
    match outcome {
        Outcome::LimitedPastRedirect if !safe => Decision::Finish,
        Outcome::Status(429) | Outcome::LimitedPastRedirect => match retry_after {
            Some(wait) if !policy.waits_out(wait) => Decision::TooLongToWait(wait),
            _ if !retries_left => Decision::Finish,
            Some(wait) => Decision::RetryAfter(wait),
            None => Decision::RetryAfter(backoff()),
        },
        _ if !retries_left => Decision::Finish,
        Outcome::NotSent => Decision::RetryAfter(backoff()),
        Outcome::Ambiguous if safe => Decision::RetryAfter(backoff()),
        Outcome::KeyInUse => match retry_after {
            Some(wait) if !policy.waits_out(wait) => Decision::Finish,
            Some(wait) => Decision::RetryAfter(wait),
            None => Decision::RetryAfter(backoff()),
        },
        Outcome::Status(code) if safe && TRANSIENT_STATUSES.contains(&code) => match retry_after {
            // The server asked for a longer pause than the policy allows: a retry sooner
            // would only be answered the same, so its answer is the outcome, at once.
            Some(wait) if !policy.waits_out(wait) => Decision::Finish,
            Some(wait) => Decision::RetryAfter(wait),
            None => Decision::RetryAfter(backoff()),
        },
        _ => Decision::Finish,
    }
}

/// The wait a 429 asks for: its `Retry-After`, or — when the server sent none — the rest of
/// the current rate window, since the API's windows are aligned to the clock
/// ([`RateClass::WINDOW`](geopera_types::RateClass::WINDOW)).
pub(crate) fn wait_of_429(headers: &HeaderMap) -> Duration {
    retry_after(headers).unwrap_or_else(|| {
        let window = geopera_types::RateClass::WINDOW.as_secs();
        let into_window = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() % window);
        Duration::from_secs(window - into_window)
    })
}

/// The wait a `Retry-After` asks for, from now: see [`read_retry_after`].
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    read_retry_after(headers).map(|asked| asked.wait)
}

/// A `Retry-After` as read: the wait, and where it counts from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RetryAfter {
    /// How long to wait.
    pub(crate) wait: Duration,
    /// Whether the header was an HTTP date, which names an instant: the wait counts from when
    /// the header was read. Delta-seconds count from the answer (RFC 9110, section 10.2.3),
    /// which the engine dates by when it came (`crate::clock::Sent`).
    pub(crate) dated: bool,
}

/// Reads `Retry-After` as delta-seconds or an HTTP date.
///
/// A number of seconds too large for any clock is still a wait — the longest one — never a
/// missing header: the server asked for a very long pause, and the call must fail fast rather
/// than retry at once.
///
/// An answer with more than one (a gateway adding its own `Retry-After: 0` before the API's,
/// or a proxy joining them into one line, `5, 30`) is read for the longest wait among them:
/// the first alone could end a pause the API asked for at once.
pub(crate) fn read_retry_after(headers: &HeaderMap) -> Option<RetryAfter> {
    headers
        .get_all(RETRY_AFTER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| {
            let value = value.trim();
            // A joined list of delta-seconds; an HTTP date has commas of its own.
            let joined = value.contains(',')
                && value
                    .split(',')
                    .all(|part| part.trim().bytes().all(|b| b.is_ascii_digit()));
            let parts: Vec<&str> = if joined {
                value.split(',').map(str::trim).collect()
            } else {
                vec![value]
            };
            parts.into_iter().filter_map(one_retry_after)
        })
        .max_by_key(|read| read.wait)
}

/// One `Retry-After` value.
fn one_retry_after(value: &str) -> Option<RetryAfter> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(RetryAfter {
            wait: Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX)),
            dated: false,
        });
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(RetryAfter {
        wait: when
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
        dated: true,
    })
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
