//! The bytes one organization may keep in the emulator: every count is bounded elsewhere
//! (records per family, orders, keys, subscriptions), but a request body may carry 2 MiB, so
//! counts alone would let one organization hold tens of gigabytes of descriptions and
//! geometries. [`MAX_STORED_BYTES_PER_ORG`] bounds the sum.
//!
//! Measuring everything an organization holds costs what it holds, so it is not done on
//! every request: each organization has an estimate, its measured size plus the bytes of the
//! requests that changed its state since (a request stores no more than it was sent and
//! answered). Only when the estimate passes the budget is the organization measured again;
//! if the measure is over the budget too, requests that change state with a body larger than
//! [`SMALL_BODY_BYTES`] are refused until deletions bring it down. Smaller ones go on, so that
//! an organization can always delete, cancel and revoke to make room: the contract does not
//! say which operations delete (most need a `:write` scope, as creating does), and a small
//! body adds little (a small record, in a family whose count is capped).
//! `items.duplicate` is the exception: its small body stores a copy as large as the item it
//! names, so the copy's size is what is held to the budget. The answers kept for idempotency
//! keys are the other: a small body may ask for a large answer, so one larger than
//! [`SMALL_BODY_BYTES`] is not kept past the budget, and a retry under its key is answered 410
//! (the request ran; its answer is not kept) instead ([`keeps_answer`]).
//!
//! Past the budget, a measure is repeated only once the organization has changed since the
//! last one, and at most every [`REMEASURE_INTERVAL`]: each costs what the organization holds
//! (up to the budget) under the state lock, so repeated large requests must not buy one each.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::error::ApiError;
use crate::state::{Inner, Shared};

/// The most an organization's records, orders, keys, subscriptions and stored idempotent
/// answers may hold, as JSON: 64 MiB.
pub const MAX_STORED_BYTES_PER_ORG: usize = 64 << 20;

/// The largest body a request that changes state may carry once its organization is past its
/// budget: enough to name what to delete, cancel or revoke.
pub const SMALL_BODY_BYTES: usize = 4096;

/// How long an organization past its budget waits between two measures.
pub(crate) const REMEASURE_INTERVAL: Duration = Duration::from_secs(1);

/// Each organization's estimated size, for the ones measured since the emulator started.
#[derive(Debug, Default)]
pub(crate) struct Estimates(HashMap<String, Estimate>);

/// What is known of one organization's size.
#[derive(Debug)]
struct Estimate {
    /// Its last measure plus what was stored since.
    bytes: usize,
    /// Its last measure.
    measured: usize,
    /// When it was last measured (real time: the emulator's clock may stand still).
    measured_at: Instant,
    /// Whether a request changed it since (which may have deleted something).
    changed: bool,
}

/// Whether a request of `org` that changes state with a body of `body_bytes` may run:
/// measured on its organization's first such request since start, and again whenever the
/// estimate passes the budget.
///
/// # Errors
/// 409 when the organization holds more than [`MAX_STORED_BYTES_PER_ORG`] and the body is
/// larger than [`SMALL_BODY_BYTES`].
pub(crate) fn admit(shared: &Shared, org: &str, body_bytes: usize) -> Result<(), ApiError> {
    if body_bytes <= SMALL_BODY_BYTES {
        return Ok(());
    }
    match over_budget(&mut shared.lock(), org) {
        None => Ok(()),
        Some(measured) => Err(ApiError::conflict(format!(
            "the organization stores {measured} bytes, more than the emulator keeps for one \
             ({MAX_STORED_BYTES_PER_ORG}): delete records, orders or subscriptions first (a \
             request of at most {SMALL_BODY_BYTES} bytes still runs)"
        ))),
    }
}

/// [`admit`] for a request that stores a copy of `copied_bytes` of what the organization
/// holds, whatever the size of its own body: a copy of a large record is as large as a
/// request that sent it, so a small body naming it must not let the copies pass the budget.
///
/// # Errors
/// 409 when the organization holds more than [`MAX_STORED_BYTES_PER_ORG`] and the copy is
/// larger than [`SMALL_BODY_BYTES`].
pub(crate) fn admit_copy(
    inner: &mut Inner,
    org: &str,
    copied_bytes: usize,
) -> Result<(), ApiError> {
    if copied_bytes <= SMALL_BODY_BYTES {
        return Ok(());
    }
    match over_budget(inner, org) {
        None => Ok(()),
        Some(measured) => Err(ApiError::conflict(format!(
            "the organization stores {measured} bytes, more than the emulator keeps for one \
             ({MAX_STORED_BYTES_PER_ORG}), and the copy would add {copied_bytes}: delete \
             records, orders or subscriptions first"
        ))),
    }
}

/// Whether an answer of `weight` bytes may be kept for replays of its idempotency key: one
/// no larger than a small body always, a larger one while `org` is within the budget. Kept
/// answers count toward what an organization stores, and a small body can ask for a large
/// answer (an update of a large item answers the item): kept whatever their size, such
/// answers under fresh keys grew the emulator's memory by the answer's size with each
/// request, for a day, with no body large enough to meet the budget's check.
pub(crate) fn keeps_answer(inner: &mut Inner, org: &str, weight: usize) -> bool {
    weight <= SMALL_BODY_BYTES || over_budget(inner, org).is_none()
}

/// What `org` was last measured to hold, when that is past the budget.
fn over_budget(inner: &mut Inner, org: &str) -> Option<usize> {
    let now = Instant::now();
    let measured = match inner.stored.0.get(org) {
        Some(known) if known.bytes <= MAX_STORED_BYTES_PER_ORG => return None,
        // Past the budget at the last measure, and too soon or too little since to measure
        // again.
        Some(known)
            if known.measured > MAX_STORED_BYTES_PER_ORG
                && (!known.changed
                    || now.duration_since(known.measured_at) < REMEASURE_INTERVAL) =>
        {
            known.measured
        }
        _ => {
            let bytes = measure(inner, org);
            let known = Estimate {
                bytes,
                measured: bytes,
                measured_at: now,
                changed: false,
            };
            inner.stored.0.insert(org.to_owned(), known);
            bytes
        }
    };
    (measured > MAX_STORED_BYTES_PER_ORG).then_some(measured)
}

/// Adds what a request that changed `org`'s state was sent and answered to its estimate (of
/// an organization already measured: the first measure counts everything).
pub(crate) fn note(shared: &Shared, org: &str, bytes: usize) {
    if let Some(known) = shared.lock().stored.0.get_mut(org) {
        known.bytes = known.bytes.saturating_add(bytes);
        known.changed = true;
    }
}

/// What `org` holds, as the JSON of each thing it stores.
fn measure(inner: &Inner, org: &str) -> usize {
    let records: usize = inner.resources.of_org(org).map(json_len).sum();
    let orders: usize = inner
        .orders
        .values()
        .filter(|order| order.org == org)
        .map(|order| order.id.len() + order.display_name.len() + json_len(&order.detail))
        .sum();
    let keys: usize = inner
        .credentials
        .values()
        .filter(|key| key.org == org)
        .map(|key| {
            key.id.len() + key.name.len() + key.grants.iter().map(String::len).sum::<usize>()
        })
        .sum();
    let subscriptions: usize = inner
        .webhooks
        .subscriptions
        .values()
        .filter(|subscription| subscription.org == org)
        .map(json_len)
        .sum();
    records + orders + keys + subscriptions + inner.claims.stored_bytes(org)
}

/// The length of `value`'s JSON, counted as it is written rather than kept.
pub(crate) fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    /// Counts bytes written, keeping none.
    struct Counter(usize);

    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let mut counter = Counter(0);
    // Writing to a counter cannot fail; a value that cannot be written counts as nothing.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}
