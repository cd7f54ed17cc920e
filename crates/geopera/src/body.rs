//! Reading answers within the response-size cap.
//!
//! A body is read chunk by chunk into one buffer sized from `Content-Length` (up to a bound)
//! when the server sends one, and the read stops as soon as the cap would be passed, so an endless or huge
//! answer costs at most the cap in memory, never the process. reqwest's `bytes()` has no limit
//! and keeps every chunk until it copies them together, which is why it is not used.

use bytes::{Bytes, BytesMut};

use crate::bounds::{Bounds, Elapsed};

/// The cap unless configured otherwise: far above any JSON answer of the API (a full page of
/// 500 STAC items is a few megabytes), small enough that the bytes a hostile answer makes the
/// client hold stay bounded. What they decode into is larger: see
/// [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes).
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The body is longer than the cap (announced or as it arrived).
    TooLarge,
    /// The connection failed, timed out or the framing broke.
    Transport(reqwest::Error),
    /// A bound of the answer ran out between two chunks.
    Elapsed(crate::TimeoutLimit),
}

/// The most room reserved ahead of the bytes themselves: an announced length beyond it is
/// grown into as the bytes arrive, so a server that announces much and sends little costs
/// what it sent.
const MAX_RESERVED_AHEAD: usize = 4 * 1024 * 1024;

/// The room to reserve once a body turns out to come in several chunks: what the server
/// announced, if within the cap, up to [`MAX_RESERVED_AHEAD`].
fn expected_size(announced: Option<u64>, limit: u64) -> Result<usize, ReadError> {
    match announced {
        Some(length) if length > limit => Err(ReadError::TooLarge),
        Some(length) => Ok(usize::try_from(length)
            .unwrap_or(MAX_RESERVED_AHEAD)
            .min(MAX_RESERVED_AHEAD)),
        None => Ok(0),
    }
}

/// Adds a chunk to what was read so far, failing once the total passes `limit`. The first
/// chunk is kept as it is: a small answer usually arrives whole, and then needs neither a
/// copy nor a buffer. The buffer is allocated only when a second chunk comes (a thousand
/// calls in flight would otherwise each hold an unused buffer the size of their answer).
fn append(
    first: &mut Option<Bytes>,
    buffer: &mut BytesMut,
    chunk: Bytes,
    limit: u64,
    expected: usize,
) -> Result<(), ReadError> {
    let so_far = first.as_ref().map_or(buffer.len(), Bytes::len);
    if (so_far as u64).saturating_add(chunk.len() as u64) > limit {
        return Err(ReadError::TooLarge);
    }
    if let Some(whole) = first.take() {
        buffer.reserve(expected.max(whole.len() + chunk.len()));
        buffer.extend_from_slice(&whole);
        buffer.extend_from_slice(&chunk);
    } else if buffer.is_empty() {
        *first = Some(chunk);
    } else {
        buffer.extend_from_slice(&chunk);
    }
    Ok(())
}

/// Reads a whole answer, at most `limit` bytes, each chunk within `bounds`.
pub(crate) async fn read(
    response: &mut reqwest::Response,
    limit: u64,
    bounds: &Bounds,
) -> Result<Bytes, ReadError> {
    let expected = expected_size(response.content_length(), limit)?;
    let mut buffer = BytesMut::new();
    let mut first = None;
    while let Some(chunk) = bounds
        .step(response.chunk())
        .await
        .map_err(|Elapsed(limit)| ReadError::Elapsed(limit))?
        .map_err(ReadError::Transport)?
    {
        append(&mut first, &mut buffer, chunk, limit, expected)?;
    }
    Ok(first.unwrap_or_else(|| buffer.freeze()))
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
