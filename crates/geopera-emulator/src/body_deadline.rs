//! A bound on how long a request body may take to arrive as a whole, for every route but the
//! upload `PUT`s.
//!
//! Each chunk of an operation's body has [`BODY_IDLE_TIMEOUT`](crate::BODY_IDLE_TIMEOUT) to
//! arrive, but a peer sending one byte just inside it would hold a request, its connection and
//! up to the body limit of memory for as long as it liked; and the sign-in and control routes
//! read their bodies with axum's `Bytes` extractor, which waits for a stalled body as long as
//! the connection stays open. Here every such body gets one deadline from the start of its
//! request. Upload `PUT`s are left out: a large file may rightly take hours, so they get a
//! deadline proportional to their size instead (`crate::uploads`), besides the idle timeout.
//!
//! Why a body wrapper rather than a timeout around the whole request: an operation's answer
//! may be held back on purpose by an injected latency fault, up to ten minutes; only the
//! time spent waiting for the client is bounded here.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use bytes::Bytes;
use tokio::time::Sleep;

/// The longest a request body other than an upload's may take to arrive, from the start of
/// its request; a body still arriving after it fails, and its request with it (408 for an
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

/// Whether a body's read error is, or was caused by, [`BodyDeadlinePassed`].
pub(crate) fn is_deadline(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if error.is::<BodyDeadlinePassed>() {
            return true;
        }
        next = error.source();
    }
    false
}

/// Gives `request`'s body [`BODY_DEADLINE`] from now (a middleware).
pub(crate) async fn bound(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let body = Body::new(Bounded {
        inner: body,
        deadline: Box::pin(tokio::time::sleep(BODY_DEADLINE)),
    });
    next.run(Request::from_parts(parts, body)).await
}

/// A body that fails once its deadline has passed.
struct Bounded {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
}

impl HttpBody for Bounded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
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
