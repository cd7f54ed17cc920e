//! Operations that answer newline-delimited JSON (`catalog.search_stream`), read as a stream of
//! items while the answer arrives, so a long result never has to fit in memory.
//!
//! The request is retried like any other until the answer starts; once items are flowing, a
//! broken connection ends the stream with an error (a partial stream cannot be replayed).
//! Lines are split by `tokio-util`'s delimiter codec, bounded by the response-size cap: a line
//! that grows past it, or a run of blank lines longer than it, ends the stream with
//! [`Error::TooLarge`].

use std::future::ready;

use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use geopera_types::{Operation, OperationInfo};
use serde_json::Value;
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, FramedRead};
use tokio_util::io::StreamReader;

use crate::client::Client;
use crate::engine::Face;
use crate::paging::PageStream;
use crate::redact::Redactor;
use crate::request::CallOptions;
use crate::{Error, IntoRequest};

/// An operation that answers newline-delimited JSON: one JSON value per line, not one JSON
/// value. Its fluent [`Call`](crate::Call) is finished with
/// [`stream`](crate::Call::stream) or `stream_blocking`, which parse the lines as they arrive,
/// and its module in [`operations`](crate::operations) has the same two functions.
///
/// The generator implements it for the descriptor (in [`descriptors`](crate::descriptors)) of
/// every operation that [`answers_ndjson`](crate::OperationInfo::answers_ndjson), from the same
/// fact, and the modules' `stream` functions require it as the fluent one does, so a new
/// streaming operation of the contract gets `stream` without a line of hand-written code, and
/// an operation that answers one JSON value has no `stream` to call by mistake:
///
/// ```compile_fail,E0599
/// # async fn run(geopera: geopera::Geopera) {
/// // `catalog.search` answers one page, so its call has no `stream`.
/// let items = geopera.catalog().search(serde_json::json!({})).stream();
/// # }
/// ```
///
/// The trait is sealed: only the generated operations implement it. Reading lines from an
/// answer that is not NDJSON would fail on its first line, and a sealed trait can gain items
/// (an item type, say) without breaking anyone's code. Use it as a bound to accept any
/// streaming call:
///
/// ```no_run
/// use futures::TryStreamExt as _;
/// use geopera::{Call, NdjsonOperation};
///
/// async fn count<O: NdjsonOperation>(call: Call<O>) -> Result<usize, geopera::Error> {
///     call.stream().try_fold(0, |n, _| async move { Ok(n + 1) }).await
/// }
///
/// # async fn run(geopera: geopera::Geopera) -> Result<(), geopera::Error> {
/// let body = serde_json::json!({"host_name": "earthsearch-aws"});
/// let n = count(geopera.catalog().search_stream(body)).await?;
/// # Ok(()) }
/// ```
pub trait NdjsonOperation: Operation + Sealed {}

/// Keeps [`NdjsonOperation`] to the operations the generator marks; not nameable outside the
/// crate.
pub trait Sealed {}

/// The longest line of an answer: the client's response-size cap.
fn line_cap(client: &Client) -> usize {
    usize::try_from(client.settings.max_response_bytes).unwrap_or(usize::MAX)
}

/// Opens the answer through `face` and yields its items, each with the length of its line
/// (what the blocking hand-over weighs), ending after the first error.
async fn open(
    client: &Client,
    face: Face<'_>,
    info: &'static OperationInfo,
    prepared: Result<(Bytes, CallOptions), Error>,
) -> Result<impl Stream<Item = (Result<Value, Error>, usize)> + Send + 'static, Error> {
    let (payload, options) = prepared?;
    let opened = crate::engine::open(client, face, info, &options, payload).await?;
    let request_id = opened.request_id;
    let redactor = opened.redactor;
    let limit = line_cap(client);
    // The body's error rides inside the I/O error the reader needs, and is taken out again.
    let body = StreamReader::new(opened.body.map_err(std::io::Error::other));
    let codec = AnyDelimiterCodec::new_with_max_length(b"\n".to_vec(), Vec::new(), limit);
    // Bytes of blank lines since the last item: a line is bounded by the codec, but a server
    // sending nothing but line breaks would otherwise keep the next item from ever coming.
    let mut blank = 0usize;
    let items = FramedRead::new(body, codec)
        .filter_map(move |frame| {
            let bytes = frame.as_ref().map_or(0, Bytes::len);
            let item = item(info, &redactor, limit, &mut blank, frame);
            let item = item.map(|item| item.map_err(|error| error.with_request_id(&request_id)));
            ready(item.map(|item| (item, bytes)))
        })
        .scan(false, |failed, (item, bytes)| {
            let end = std::mem::replace(failed, item.is_err());
            ready((!end).then_some((item, bytes)))
        });
    Ok(items)
}

/// Turns one frame into an item; a line that does not parse is quoted in the error without the
/// call's credentials. Blank lines (a server's keep-alive) are skipped and counted in `blank`,
/// and more of them in a row than the response-size cap ends the stream as an oversized line
/// would.
fn item(
    info: &'static OperationInfo,
    redactor: &Redactor,
    limit: usize,
    blank: &mut usize,
    frame: Result<Bytes, AnyDelimiterCodecError>,
) -> Option<Result<Value, Error>> {
    let line = match frame {
        Ok(line) => line,
        Err(AnyDelimiterCodecError::MaxChunkLengthExceeded) => {
            return Some(Err(Error::too_large(info.id, limit as u64)))
        }
        Err(AnyDelimiterCodecError::Io(error)) => return Some(Err(broken(info, error))),
    };
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        // The line and its line break.
        *blank = blank.saturating_add(line.len()).saturating_add(1);
        return (*blank > limit).then(|| Err(Error::too_large(info.id, limit as u64)));
    }
    *blank = 0;
    Some(geopera_types::json::from_slice(trimmed).map_err(|source| {
        redactor.error(Error::decode(
            info.id,
            http::StatusCode::OK,
            trimmed,
            source,
        ))
    }))
}

/// The error of a stream that broke while being read.
fn broken(info: &'static OperationInfo, error: std::io::Error) -> Error {
    match error.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(error)) => *error,
        // Every error of the reader is the body's own; anything else is reported as it is.
        Some(Err(other)) => Error::invalid(info.id, format!("the stream broke: {other}")),
        None => Error::invalid(info.id, "the stream broke"),
    }
}

/// The items of an NDJSON answer, parsed as they arrive. Bound by the marker, so a generated
/// module cannot stream an operation whose fluent call would not.
pub(crate) fn stream<O: NdjsonOperation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> PageStream<Value> {
    let prepared = crate::runtime::prepare::<O>(client, body);
    let client = client.clone();
    let opened = async move { open(&client, client.async_face(), O::INFO, prepared).await };
    Box::pin(
        futures::stream::once(opened)
            .map(|opened| match opened {
                Ok(items) => items.map(|(item, _)| item).left_stream(),
                Err(error) => futures::stream::once(ready(Err(error))).right_stream(),
            })
            .flatten(),
    )
}

/// How many parsed items the blocking reader thread may hold before the caller takes them.
#[cfg(feature = "blocking")]
const BLOCKING_BUFFER: usize = 64;

/// [`stream`] for blocking code: an iterator that reads the answer as it is advanced.
///
/// A connection stays with the runtime that drives it, so the answer is read on a thread of its
/// own — the same stream as the async one, run by the blocking engine — and handed over
/// through a bounded channel. The iterator works from any thread; dropping it ends the reader.
///
/// The channel holds at most [`BLOCKING_BUFFER`] items and at most one line cap's worth of
/// their lines (or one line): a line may be as long as the cap, so a count alone would let a
/// server that outpaces its caller make the reader hold that many caps. With the line being
/// handed over and the one being read, a stream holds about three caps at most.
#[cfg(feature = "blocking")]
pub(crate) fn stream_blocking<O: NdjsonOperation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Box<dyn Iterator<Item = Result<Value, Error>> + Send> {
    let prepared = crate::runtime::prepare::<O>(client, body);
    let client = client.clone();
    // The thread that asked for the stream, not the reader's, is the one that waits.
    let caller = crate::caller::Caller::current();
    let (mut items, receiver) = crate::blocking::handover(BLOCKING_BUFFER, line_cap(&client));
    // A system out of threads (a container's `pids.max`) gets an error item, not a panic.
    let reader = std::thread::Builder::new().spawn(move || {
        let client = &client;
        let handing = &mut items;
        let read = || {
            crate::blocking::run_here(&client.blocking, caller, |thread| async move {
                let opened = open(client, thread.face(), O::INFO, prepared);
                match handing.unless_gone(opened).await {
                    Some(Ok(stream)) => {
                        let mut stream = std::pin::pin!(stream);
                        // Until the answer ends or the iterator is dropped, whichever comes first.
                        while let Some((item, bytes)) = handing.next_of(&mut stream).await {
                            if !handing.send_weighed(item, bytes).await {
                                return;
                            }
                        }
                    }
                    Some(Err(error)) => {
                        handing.send(Err(error));
                    }
                    // Dropped before the answer started: the request and its retries stop here.
                    None => {}
                }
            })
        };
        // A panic in the caller's code (its credentials provider, its clock) is resumed where
        // the caller takes the items, as an async stream's would be.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                items.send(Err(error));
            }
            Err(panic) => items.panicked(panic),
        }
    });
    match reader {
        Ok(_) => Box::new(receiver),
        Err(error) => Box::new(std::iter::once(Err(Error::config(format!(
            "cannot start a thread to read the stream: {error}"
        ))))),
    }
}

#[cfg(test)]
#[path = "ndjson_tests.rs"]
mod tests;
