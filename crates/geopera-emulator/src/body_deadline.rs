//! A bound on how long a request body may take to arrive as a whole, for every route but the
//! upload `PUT`s.
//!
//! Each chunk of an operation's body has [`BODY_IDLE_TIMEOUT`](crate::BODY_IDLE_TIMEOUT) to
//! arrive, but a peer sending one byte just inside it would hold a request, its connection and
//! up to the body limit of memory for as long as it liked; and the sign-in and control routes
//! read their bodies with axum's `Bytes` extractor, which waits for a stalled body as long as
//! the connection stays open. Here every such body gets one deadline from when its handler
//! first reads it: at once for the sign-in and control routes, after authentication for an
//! operation (whose injected latency may come first, see below). Upload `PUT`s are left out: a large file may rightly take hours, so they get a
//! deadline proportional to their size instead (`crate::uploads`), besides the idle timeout.
//!
//! Why a body wrapper rather than a timeout around the whole request: an operation's answer
//! may be held back on purpose by an injected latency fault, up to ten minutes; only the
//! time spent waiting for the client is bounded here.
//!
//! The same wrapper counts the bytes of every body it passes against one [`BodyBudget`] for
//! the whole server. The deadline bounds how long a body is held, not how many are: a client
//! stalling bodies just short of their end on many connections, or on the streams of one
//! HTTP/2 connection (200 each), would otherwise have the emulator hold up to the body limit
//! for every one of them.
//!
//! A body its handler throws away unread, as an operation's is when its caller is refused
//! before the body is needed, holds no memory: [`BodyShare::release`] gives its bytes back
//! and it counts no more, while its deadline still holds.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use bytes::Bytes;
use tokio::time::Sleep;

/// The longest a request body other than an upload's may take to arrive, from when its handler
/// first reads it; a body still arriving after it fails, and its request with it (408 for an
/// operation).
pub const BODY_DEADLINE: Duration = Duration::from_secs(60);

/// The error a body reports once [`BODY_DEADLINE`] has passed.
#[derive(Debug)]
pub(crate) struct BodyDeadlinePassed;

impl fmt::Display for BodyDeadlinePassed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the body did not arrive within {} s",
            BODY_DEADLINE.as_secs()
        )
    }
}

impl std::error::Error for BodyDeadlinePassed {}

/// How many bodies of the full body limit the server holds at once while they arrive; the
/// bytes of all bodies being read share that budget (sign-in forms share one of their own,
/// as large).
pub const BODIES_HELD_AT_ONCE: usize = 64;

/// The seconds a request refused for the [`BodyBudget`] is told to wait.
pub(crate) const BUDGET_RETRY_AFTER_SECS: u64 = 1;

/// The error a body reports when the server already holds its [`BodyBudget`] in bodies.
#[derive(Debug)]
pub(crate) struct BodyBudgetSpent;

impl fmt::Display for BodyBudgetSpent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the emulator is holding as many request bodies as it will at once; \
             retry in a moment",
        )
    }
}

impl std::error::Error for BodyBudgetSpent {}

/// The bytes of request bodies being read, across every connection, and how many may be.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    held: AtomicUsize,
    cap: usize,
}

impl BodyBudget {
    /// Room for [`BODIES_HELD_AT_ONCE`] bodies of `body_limit` bytes.
    pub(crate) fn for_limit(body_limit: usize) -> Arc<Self> {
        Arc::new(BodyBudget {
            held: AtomicUsize::new(0),
            cap: body_limit.saturating_mul(BODIES_HELD_AT_ONCE),
        })
    }

    /// Takes `bytes` from the budget, unless that would pass the cap.
    fn take(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|total| *total <= self.cap)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Whether a body's read error is, or was caused by, an `E`.
fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<E>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// Whether a body's read error is, or was caused by, [`BodyDeadlinePassed`].
pub(crate) fn is_deadline(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<BodyDeadlinePassed>(error)
}

/// Whether a body's read error is, or was caused by, [`BodyBudgetSpent`].
pub(crate) fn is_over_budget(error: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<BodyBudgetSpent>(error)
}

/// Gives `request`'s body [`BODY_DEADLINE`] from now, and counts its bytes against the
/// server's [`BodyBudget`] until it is dropped or its [`BodyShare`] (in the request's
/// extensions) is released (a middleware).
pub(crate) async fn bound(
    axum::extract::State(budget): axum::extract::State<Arc<BodyBudget>>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (mut parts, body) = request.into_parts();
    let share = BodyShare::default();
    parts.extensions.insert(share.clone());
    let body = Body::new(Bounded {
        inner: body,
        deadline: None,
        held: Held {
            budget,
            bytes: 0,
            share,
        },
    });
    next.run(Request::from_parts(parts, body)).await
}

/// One body's part in the [`BodyBudget`], for the handler that reads the body.
#[derive(Clone, Debug, Default)]
pub(crate) struct BodyShare(Arc<AtomicBool>);

impl BodyShare {
    /// Says the body's bytes are thrown away as they arrive: it gives back what it holds at
    /// its next read and counts nothing after.
    pub(crate) fn release(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn released(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A body that fails once its deadline has passed, or once its bytes would pass the budget.
struct Bounded {
    inner: Body,
    /// Set at the first read: an operation's body is first read after its injected latency,
    /// which is the emulator's wait, not the client's.
    deadline: Option<Pin<Box<Sleep>>>,
    held: Held,
}

/// The bytes one body has taken from the budget, given back when it is dropped or released.
struct Held {
    budget: Arc<BodyBudget>,
    bytes: usize,
    share: BodyShare,
}

impl Held {
    /// Counts `size` more bytes, unless the budget has no room for them; a released body
    /// gives back what it held and counts nothing.
    fn take(&mut self, size: usize) -> bool {
        if self.share.released() {
            self.budget.give_back(std::mem::take(&mut self.bytes));
            return true;
        }
        if !self.budget.take(size) {
            return false;
        }
        self.bytes += size;
        true
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

impl HttpBody for Bounded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            let size = match &frame {
                Some(Ok(frame)) => frame.data_ref().map_or(0, Bytes::len),
                _ => 0,
            };
            if !self.held.take(size) {
                return Poll::Ready(Some(Err(axum::Error::new(BodyBudgetSpent))));
            }
            return Poll::Ready(frame);
        }
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(BODY_DEADLINE)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyDeadlinePassed)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[path = "body_deadline_tests.rs"]
mod tests;
