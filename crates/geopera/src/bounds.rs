//! The time bounds of one attempt's answer — the attempt's timeout (cut to the deadline) and
//! the read timeout — kept by the call engine rather than by the HTTP client.
//!
//! Why not reqwest's `timeout` and `read_timeout`: reqwest arms a new timer for the wait for
//! the head and another for every frame of the body, besides the one for the whole request,
//! which cost a lone call or a blocking one 2–5 % of its calls per second (BENCHMARKS.md,
//! "The code before the one engine"); and its read timeout runs from the start
//! of the request, so an upload whose bytes take longer to send than the read timeout is cut
//! off while it is making progress. Here an ordinary call arms one timer: when the attempt must
//! be over before the read timeout could have run out once, only the attempt's bound can end it
//! first, and only that one is kept.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use tokio::time::Instant;

use crate::TimeoutLimit;

/// When an answer must be complete, and how long it may go quiet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    /// The end of the attempt; `None` when only reads are bounded.
    until: Option<Instant>,
    /// Which bound `until` is: the attempt's own timeout or what is left before the deadline.
    until_is: TimeoutLimit,
    /// The longest wait for the head, and then between two chunks; `None` when `until` always
    /// comes first.
    quiet: Option<Duration>,
}

/// A bound ran out; which one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Elapsed(pub(crate) TimeoutLimit);

impl Bounds {
    /// The bounds of an attempt that starts now. `attempt` is the attempt's timeout or the time
    /// left before the deadline, whichever is shorter (`until_is` says which), `quiet` the
    /// read timeout.
    pub(crate) fn starting_now(
        attempt: Option<Duration>,
        until_is: TimeoutLimit,
        quiet: Option<Duration>,
    ) -> Bounds {
        let now = Instant::now();
        // A bound too far away to count (`Duration::MAX`) is no bound, not an overflow.
        let until = attempt.and_then(|t| now.checked_add(t));
        // Reads are at most `attempt` apart when the whole attempt takes at most `attempt`.
        let quiet = quiet.filter(|quiet| until.is_none() || attempt.is_some_and(|t| t > *quiet));
        Bounds {
            until,
            until_is,
            quiet,
        }
    }

    /// The single instant that bounds the whole attempt, and which bound it is, when no read
    /// timeout needs watching: one timer around everything instead of one per read.
    pub(crate) fn whole(&self) -> Option<(Instant, TimeoutLimit)> {
        match self.quiet {
            None => self.until.map(|until| (until, self.until_is)),
            Some(_) => None,
        }
    }

    /// Nothing to watch: for the steps of an attempt that already runs inside
    /// [`Bounds::whole`], and for requests bounded by a timeout of their own.
    pub(crate) fn none() -> Bounds {
        Bounds {
            until: None,
            until_is: TimeoutLimit::Attempt,
            quiet: None,
        }
    }

    /// Runs one wait for the answer — its head, or its next chunk — within the bounds.
    pub(crate) async fn step<F: Future>(&self, wait: F) -> Result<F::Output, Elapsed> {
        let quiet_until = self.quiet.and_then(|q| Instant::now().checked_add(q));
        let (at, limit) = match (self.until, quiet_until) {
            (Some(until), Some(quiet)) if quiet < until => (quiet, TimeoutLimit::Read),
            (Some(until), _) => (until, self.until_is),
            (None, Some(quiet)) => (quiet, TimeoutLimit::Read),
            (None, None) => return Ok(wait.await),
        };
        tokio::time::timeout_at(at, wait)
            .await
            .map_err(|_| Elapsed(limit))
    }
}

/// Why a chunk of a body that is read as it arrives did not come.
#[derive(Debug)]
pub(crate) enum BodyFailure {
    Transport(reqwest::Error),
    Elapsed(TimeoutLimit),
}

/// The chunks of a body read as a stream, each within `bounds`; the stream ends after the first
/// failure.
pub(crate) fn chunks(
    response: reqwest::Response,
    bounds: Bounds,
) -> impl Stream<Item = Result<Bytes, BodyFailure>> + Send + 'static {
    futures::stream::unfold(Some(response.bytes_stream()), move |body| async move {
        let mut body = body?;
        match bounds.step(body.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
            Ok(Some(Err(error))) => Some((Err(BodyFailure::Transport(error)), None)),
            Ok(None) => None,
            Err(Elapsed(limit)) => Some((Err(BodyFailure::Elapsed(limit)), None)),
        }
    })
}

#[cfg(test)]
#[path = "bounds_tests.rs"]
mod tests;
