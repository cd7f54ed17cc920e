//! The success body of an image or XML answer, read as it arrives instead of whole.
//!
//! `send` reads a binary answer into a [`Binary`] within the response-size cap;
//! a caller that writes a large image to disk or hands it on wants the chunks as they come.
//! The request goes through the engine's `open` path, as NDJSON does: retried like any call
//! until an answer arrives, an error status still turned into its typed [`Error`]. Once the
//! body flows, the client's read timeout bounds each wait for a chunk, the response-size cap
//! does not apply (the caller decides how much to keep), and a broken connection ends the
//! stream with an error (a partial body cannot be replayed).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, TryStreamExt as _};
use geopera_types::{Binary, Operation, OperationInfo, OCTET_STREAM};
use http::HeaderMap;

use crate::client::Client;
use crate::engine::Face;
use crate::{Error, IntoRequest};

type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// A binary answer's body as a stream of chunks, with the content type and headers that came
/// before it; made by an operation's `stream_body`. Dropping it closes the connection.
///
/// The response-size cap ([`ClientBuilder::max_response_bytes`]) does not apply: the caller
/// decides how much to keep. The client's read timeout bounds each wait for a chunk, and a
/// broken connection ends the stream with an error.
///
/// [`ClientBuilder::max_response_bytes`]: crate::ClientBuilder::max_response_bytes
#[must_use = "a body stream reads nothing until it is polled"]
pub struct ByteStream {
    content_type: String,
    headers: HeaderMap,
    chunks: Chunks,
}

impl ByteStream {
    /// The `Content-Type` of the answer, e.g. `image/png`; `application/octet-stream` when it
    /// had none, as for [`Binary::content_type`].
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The answer's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteStream")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.as_mut().poll_next(cx)
    }
}

/// The content type a binary answer is reported with, as [`Binary`] decodes it.
fn content_type_of(headers: &HeaderMap) -> String {
    crate::engine::content_type(headers)
        .unwrap_or(OCTET_STREAM)
        .to_owned()
}

/// Opens the answer through `face` and hands its body over unread.
async fn open(
    client: &Client,
    face: Face<'_>,
    info: &'static OperationInfo,
    prepared: Result<(Bytes, crate::request::CallOptions), Error>,
) -> Result<ByteStream, Error> {
    let (payload, options) = prepared?;
    let opened = crate::engine::open(client, face, info, &options, payload).await?;
    let request_id = opened.request_id;
    let chunks = opened
        .body
        .map_err(move |error| error.with_request_id(&request_id));
    Ok(ByteStream {
        content_type: content_type_of(&opened.headers),
        headers: opened.headers,
        chunks: Box::pin(chunks),
    })
}

/// The success body of a binary operation, as it arrives.
pub(crate) async fn stream_body<O: Operation<Output = Binary>>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<ByteStream, Error> {
    let prepared = crate::runtime::prepare::<O>(client, body);
    open(client, client.async_face(), O::INFO, prepared).await
}

/// How many chunks the blocking reader thread may hold before the caller takes them.
#[cfg(feature = "blocking")]
const BLOCKING_BUFFER: usize = 16;

/// [`ByteStream`] for blocking code: an iterator of chunks, read as it is advanced; made by an
/// operation's `stream_body_blocking`. Dropping it ends the reader and closes the connection.
/// As for [`ByteStream`], the response-size cap does not apply.
#[cfg(feature = "blocking")]
pub struct BlockingByteStream {
    content_type: String,
    headers: HeaderMap,
    chunks: crate::blocking::Handed<Result<Bytes, Error>>,
}

#[cfg(feature = "blocking")]
impl BlockingByteStream {
    /// The `Content-Type` of the answer, as for [`ByteStream::content_type`].
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The answer's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

#[cfg(feature = "blocking")]
impl fmt::Debug for BlockingByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingByteStream")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "blocking")]
impl Iterator for BlockingByteStream {
    type Item = Result<Bytes, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks.next()
    }
}

/// [`stream_body`] for blocking code.
///
/// A connection stays with the runtime that drives it, so — as for NDJSON — the body is read
/// on a thread of its own by the blocking engine and handed over through bounded channels:
/// first the answer's headers (or the call's error), then the chunks.
#[cfg(feature = "blocking")]
pub(crate) fn stream_body_blocking<O: Operation<Output = Binary>>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Result<BlockingByteStream, Error> {
    let prepared = crate::runtime::prepare::<O>(client, body);
    let client = client.clone();
    // The thread that asked for the stream, not the reader's, is the one that waits.
    let caller = crate::caller::Caller::current();
    let (started, start) = std::sync::mpsc::sync_channel(1);
    let (mut chunks, receiver) = crate::blocking::handover(BLOCKING_BUFFER, usize::MAX);
    // A system out of threads (a container's `pids.max`) gets an error, not a panic.
    std::thread::Builder::new()
        .spawn(move || {
            let client = &client;
            let first = started.clone();
            let chunks_at = &mut chunks;
            let read = || {
                crate::blocking::run_here(&client.blocking, caller, |thread| async move {
                    match open(client, thread.face(), O::INFO, prepared).await {
                        Ok(mut stream) => {
                            let headers = std::mem::take(&mut stream.headers);
                            if started.send(Ok(headers)).is_err() {
                                return; // the caller is gone
                            }
                            // Until the body ends or the iterator is dropped, whichever comes first.
                            while let Some(chunk) = chunks_at.next_of(&mut stream).await {
                                if !chunks_at.send(chunk) {
                                    return;
                                }
                            }
                        }
                        Err(error) => {
                            let _ = started.send(Err(error));
                        }
                    }
                })
            };
            // A panic in the caller's code is resumed where the caller waits, as an async
            // stream's would be.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    let _ = first.send(Err(error));
                }
                Err(panic) => {
                    chunks.panicked(panic);
                    drop(first);
                }
            }
        })
        .map_err(|error| {
            Error::config(format!("cannot start a thread to read the body: {error}"))
        })?;
    let headers = match start.recv() {
        Ok(headers) => headers?,
        Err(_) => {
            receiver.resume_panic();
            return Err(Error::invalid(
                O::INFO.id,
                "the body reader stopped before the answer arrived",
            ));
        }
    };
    Ok(BlockingByteStream {
        content_type: content_type_of(&headers),
        headers,
        chunks: receiver,
    })
}
