//! An operation's request body, read only once its caller has passed the stages that need
//! none of it (authenticate, rate limit, authorize scope).
//!
//! Read before those, a body would let a client with no credentials, or one over its rate
//! limit, have the emulator hold up to the body limit in memory for the body deadline, on as
//! many connections as it likes, and so spend the budget every body shares
//! ([`crate::body_deadline`]), which answers keyed clients 503 meanwhile. A body never read is
//! drained as it arrives, counting against nothing, so that its client, which may be sending
//! it still, gets the answer rather than a reset connection.

use axum::body::{Body, BodyDataStream, HttpBody as _};
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

use crate::body_deadline::BodyShare;
use crate::error::ApiError;
use crate::uploads::next_chunk;

/// What becomes of a request whose body could not be read, for its error's detail.
const NOT_RUN: &str = "the request was not run";

/// A request body within the body limit, read at most once.
pub(crate) struct OpBody {
    state: State,
    limit: usize,
    share: Option<BodyShare>,
    expects_continue: bool,
}

enum State {
    Unread(Body),
    Read(Bytes),
    /// Failed to arrive, or thrown away.
    Spent,
}

impl OpBody {
    /// The body of a request with `headers`, to be read within `limit` bytes; `share` is its
    /// part in the bodies' budget, given up if the body is never read.
    ///
    /// # Errors
    ///
    /// 413 when the body announces more than `limit` bytes, before any of it is read.
    pub(crate) fn new(
        body: Body,
        headers: &HeaderMap,
        limit: usize,
        share: Option<BodyShare>,
    ) -> Result<Self, ApiError> {
        let declared = body.size_hint().lower();
        if usize::try_from(declared).map_or(true, |declared| declared > limit) {
            return Err(too_large(limit));
        }
        // A client that waits for `100 Continue` sends nothing unless asked; an answer
        // without the body then costs it nothing, and draining would ask for it.
        let expects_continue = headers
            .get(http::header::EXPECT)
            .is_some_and(|expect| expect.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        Ok(OpBody {
            state: State::Unread(body),
            limit,
            share,
            expects_continue,
        })
    }

    /// A body the emulator made itself, already whole (a STAC link's operation).
    pub(crate) fn whole(bytes: Bytes) -> Self {
        OpBody {
            state: State::Read(bytes),
            limit: usize::MAX,
            share: None,
            expects_continue: false,
        }
    }

    /// The whole body, read chunk by chunk rather than by axum's `Bytes` extractor, which
    /// would wait for a stalled body as long as the peer keeps the connection open: each
    /// chunk has [`BODY_IDLE_TIMEOUT`](crate::BODY_IDLE_TIMEOUT) to arrive. Read once;
    /// later calls return the same bytes.
    ///
    /// # Errors
    ///
    /// 413 past the limit, 408 for a body that stops arriving or passes its deadline, 503
    /// when the server holds its budget of bodies, 400 when it cannot be read; the body is
    /// then spent, and a later call says it was not read.
    pub(crate) async fn read(&mut self) -> Result<Bytes, ApiError> {
        match std::mem::replace(&mut self.state, State::Spent) {
            State::Unread(body) => {
                let bytes = read_within(body.into_data_stream(), self.limit).await?;
                self.state = State::Read(bytes.clone());
                Ok(bytes)
            }
            State::Read(bytes) => {
                self.state = State::Read(bytes.clone());
                Ok(bytes)
            }
            State::Spent => Err(ApiError::problem(
                StatusCode::BAD_REQUEST,
                format!("the body could not be read; {NOT_RUN}"),
            )),
        }
    }

    /// The bytes read, or none if the body was not read whole.
    pub(crate) fn bytes(&self) -> Bytes {
        match &self.state {
            State::Read(bytes) => bytes.clone(),
            State::Unread(_) | State::Spent => Bytes::new(),
        }
    }

    /// Drains a body that was never read, keeping none of it, up to the limit: its client
    /// then reads the answer on a connection that stays open, where closing with its bytes
    /// unread could reset the connection before the answer is read. A body that waits for
    /// `100 Continue` is not asked for; one past the limit is left, and its connection
    /// closed after the answer.
    pub(crate) async fn discard(mut self) {
        let State::Unread(body) = std::mem::replace(&mut self.state, State::Spent) else {
            return;
        };
        if self.expects_continue {
            return;
        }
        if let Some(share) = &self.share {
            share.release();
        }
        let mut stream = body.into_data_stream();
        let mut seen = 0usize;
        while let Ok(Some(chunk)) = next_chunk(&mut stream, NOT_RUN).await {
            seen = seen.saturating_add(chunk.len());
            if seen > self.limit {
                return;
            }
        }
    }
}

/// The whole of `stream`, within `limit` bytes.
async fn read_within(mut stream: BodyDataStream, limit: usize) -> Result<Bytes, ApiError> {
    let Some(first) = next_chunk(&mut stream, NOT_RUN).await? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(too_large(limit));
    }
    // Most bodies come in one chunk, which is kept as it is.
    let Some(mut chunk) = next_chunk(&mut stream, NOT_RUN).await? else {
        return Ok(first);
    };
    let mut whole = BytesMut::from(&first[..]);
    loop {
        if whole.len().saturating_add(chunk.len()) > limit {
            return Err(too_large(limit));
        }
        whole.extend_from_slice(&chunk);
        match next_chunk(&mut stream, NOT_RUN).await? {
            Some(more) => chunk = more,
            None => return Ok(whole.freeze()),
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than the emulator's limit of {limit} bytes"),
    )
}
