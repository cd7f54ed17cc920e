//! Per-minute request budgets: their caps, and the counters of the current windows.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use geopera_types::RateClass;

/// Requests allowed per fixed 60-second window, per budget; `None` means unlimited.
///
/// Windows are aligned to the minute of the emulator's clock. Authenticated calls count per
/// organization, unauthenticated ones per client IP. Every authenticated call counts against
/// the default budget and, for order placement and other spend operations, against that
/// budget too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Every authenticated call ([`RateClass::Default`]).
    pub default_per_min: Option<u32>,
    /// `orders.archive.place`, `orders.tasking.place`, `orders.place`
    /// ([`RateClass::OrderPlacement`]).
    pub order_placement_per_min: Option<u32>,
    /// Other operations that spend ([`RateClass::Spend`]).
    pub spend_per_min: Option<u32>,
    /// Calls without credentials, per client IP ([`RateClass::Unauthenticated`]), and the
    /// sign-in endpoints.
    pub unauthenticated_per_min: Option<u32>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::documented()
    }
}

impl RateLimits {
    /// The API's documented caps, as `geopera-types` states them
    /// ([`RateClass::documented_per_minute`]).
    pub fn documented() -> Self {
        RateLimits {
            default_per_min: Some(RateClass::Default.documented_per_minute()),
            order_placement_per_min: Some(RateClass::OrderPlacement.documented_per_minute()),
            spend_per_min: Some(RateClass::Spend.documented_per_minute()),
            unauthenticated_per_min: Some(RateClass::Unauthenticated.documented_per_minute()),
        }
    }

    /// No limits at all.
    pub fn off() -> Self {
        RateLimits {
            default_per_min: None,
            order_placement_per_min: None,
            spend_per_min: None,
            unauthenticated_per_min: None,
        }
    }

    /// The same cap for every budget.
    pub fn uniform(per_min: u32) -> Self {
        RateLimits {
            default_per_min: Some(per_min),
            order_placement_per_min: Some(per_min),
            spend_per_min: Some(per_min),
            unauthenticated_per_min: Some(per_min),
        }
    }

    /// The cap of `class`'s budget, if it is limited.
    pub fn cap(&self, class: RateClass) -> Option<u32> {
        match class {
            RateClass::Default => self.default_per_min,
            RateClass::OrderPlacement => self.order_placement_per_min,
            RateClass::Spend => self.spend_per_min,
            RateClass::Unauthenticated => self.unauthenticated_per_min,
            // A class `geopera-types` adds is counted nowhere until it gets a field here; a
            // test that every class of `RateClass::ALL` has a documented cap catches it.
            _ => None,
        }
    }
}

/// Who a budget is counted for: an organization, a client address or a single key.
pub(crate) type Counted = String;

/// Calls counted per (who, budget, window); windows are numbered from the Unix epoch.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    counts: HashMap<(Counted, &'static str, i64), u32>,
    /// The window the counters were last pruned in: pruned once per window at most, as
    /// pruning within one frees nothing, and more than [`Self::PRUNE_ABOVE`] live counters
    /// (that many callers within a minute) would otherwise cost every call a pass over all.
    pruned_in: i64,
}

impl Windows {
    /// Past windows are forgotten once this many counters pile up, so memory stays bounded
    /// however many organizations and keys call.
    const PRUNE_ABOVE: usize = 10_000;

    /// Counts one call against every budget, unless one of them is already spent in
    /// `window`; then nothing is counted and the call is refused.
    pub(crate) fn admit(&mut self, budgets: &[(Counted, &'static str, u32)], window: i64) -> bool {
        if self.counts.len() > Self::PRUNE_ABOVE && self.pruned_in != window {
            self.counts.retain(|(_, _, at), _| *at >= window);
            self.pruned_in = window;
        }
        let over = budgets.iter().any(|(who, budget, cap)| {
            self.counts
                .get(&(who.clone(), *budget, window))
                .is_some_and(|count| count >= cap)
        });
        if over {
            return false;
        }
        for (who, budget, _) in budgets {
            *self
                .counts
                .entry((who.clone(), *budget, window))
                .or_insert(0) += 1;
        }
        true
    }
}

/// Counts one request against every one of `budgets` in the current window of the emulator's
/// clock: the one engine behind the API's limits and the sign-in endpoints'.
///
/// # Errors
/// When a budget is spent: the whole seconds, rounded up and at least 1, to the window's end,
/// so a client that waits that long (the 429's `Retry-After`) is in the next window.
pub(crate) fn admit(
    shared: &crate::state::Shared,
    budgets: &[(Counted, &'static str, u32)],
) -> Result<(), i64> {
    if budgets.is_empty() {
        return Ok(());
    }
    let length = shared.rate_window_ms;
    let now = shared.clock.now_millis();
    let window = now.div_euclid(length);
    if shared.lock().windows.admit(budgets, window) {
        return Ok(());
    }
    Err(secs_left(length, now))
}

/// What a 429 of the rate limits asks a client to wait at this moment: the whole seconds,
/// rounded up and at least 1, to the end of the current window.
pub(crate) fn secs_to_window_end(shared: &crate::state::Shared) -> i64 {
    secs_left(shared.rate_window_ms, shared.clock.now_millis())
}

/// A window's length in milliseconds, as the counters keep it; saturates far beyond any
/// window a caller could mean.
pub(crate) fn millis(window: std::time::Duration) -> i64 {
    i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
}

/// Whole seconds, rounded up and at least 1, from `now` to the end of its window of `length`
/// milliseconds: a client that waits that long is in the next window.
pub(crate) fn secs_left(length: i64, now: i64) -> i64 {
    ((length - now.rem_euclid(length) + 999) / 1000).max(1)
}

/// Who a request without credentials from `ip` is counted as: the same budget for the API's
/// anonymous operations and the sign-in endpoints, as the API counts unauthenticated traffic
/// per client IP.
pub(crate) fn anonymous(ip: IpAddr) -> Counted {
    format!("ip:{ip}")
}

/// The budget requests without credentials from `ip` draw from, if it is limited.
pub(crate) fn anonymous_budget(
    limits: &RateLimits,
    ip: IpAddr,
) -> Option<(Counted, &'static str, u32)> {
    let class = RateClass::Unauthenticated;
    limits
        .cap(class)
        .map(|cap| (anonymous(ip), class.name(), cap))
}

/// A `--rate-limits` value that is not `default`, `off` or `N/min`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid rate limits {0:?}: expected default, off or N/min")]
pub struct RateLimitsError(String);

impl FromStr for RateLimits {
    type Err = RateLimitsError;

    /// Reads `default`, `off` or `N/min` (the same cap for every budget).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "default" | "documented" => Ok(Self::documented()),
            "off" | "none" => Ok(Self::off()),
            other => other
                .trim_end_matches("/min")
                .parse::<u32>()
                .ok()
                .filter(|cap| *cap > 0)
                .map(Self::uniform)
                .ok_or_else(|| RateLimitsError(text.to_owned())),
        }
    }
}

impl fmt::Display for RateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |cap: Option<u32>| cap.map_or("off".to_owned(), |cap| format!("{cap}/min"));
        write!(
            f,
            "default {}, order placement {}, spend {}, unauthenticated {}",
            show(self.default_per_min),
            show(self.order_placement_per_min),
            show(self.spend_per_min),
            show(self.unauthenticated_per_min)
        )
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
