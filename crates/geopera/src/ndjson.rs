//! Operations that answer newline-delimited JSON (`catalog.search_stream`), read as a stream of
//! items while the answer arrives, so a long result never has to fit in memory.
//!
//! The request is retried like any other until the answer starts; once items are flowing, a
//! broken connection ends the stream with an error (a partial stream cannot be replayed).

use bytes::{Buf as _, Bytes, BytesMut};
use geopera_types::{Operation, OperationInfo};
use serde_json::Value;

use crate::client::Client;
use crate::paging::PageStream;
use crate::request::CallOptions;
use crate::{Error, IntoRequest};

/// Parses one NDJSON line; blank lines are skipped.
fn parse_line(info: &'static OperationInfo, line: &[u8]) -> Option<Result<Value, Error>> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(trimmed).map_err(|source| Error::Decode {
            operation_id: info.id,
            status: http::StatusCode::OK,
            excerpt: crate::error::excerpt(trimmed),
            source,
        }),
    )
}

/// Splits the next complete line off the buffer.
fn next_line(buffer: &mut BytesMut) -> Option<Bytes> {
    let end = buffer.iter().position(|b| *b == b'\n')?;
    let line = buffer.split_to(end).freeze();
    buffer.advance(1);
    Some(line)
}

enum Read {
    Start(Client, Result<(Bytes, CallOptions), Error>),
    /// The answer, the bytes of a line not yet complete, and the longest line allowed.
    Flowing(reqwest::Response, BytesMut, u64),
    Done,
}

/// The error for a line that grew past the response-size cap without ending.
fn line_too_long(info: &'static OperationInfo, limit: u64) -> Error {
    Error::too_large(info.id, limit)
}

/// The items of an NDJSON answer, parsed as they arrive.
pub(crate) fn stream<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> PageStream<Value> {
    let info = O::INFO;
    let prepared = crate::runtime::prepare::<O>(client, body);
    Box::pin(futures::stream::unfold(
        Read::Start(client.clone(), prepared),
        move |mut state| async move {
            loop {
                state = match state {
                    Read::Done => return None,
                    Read::Start(client, prepared) => {
                        let opened = match prepared {
                            Ok((payload, options)) => {
                                crate::runtime::open(&client, info, &options, payload).await
                            }
                            Err(error) => Err(error),
                        };
                        let limit = client.settings.max_response_bytes;
                        match opened {
                            Ok(response) => Read::Flowing(response, BytesMut::new(), limit),
                            Err(error) => return Some((Err(error), Read::Done)),
                        }
                    }
                    Read::Flowing(mut response, mut buffer, limit) => {
                        if let Some(line) = next_line(&mut buffer) {
                            match parse_line(info, &line) {
                                Some(item) => {
                                    return Some((item, Read::Flowing(response, buffer, limit)))
                                }
                                None => Read::Flowing(response, buffer, limit),
                            }
                        } else if buffer.len() as u64 > limit {
                            return Some((Err(line_too_long(info, limit)), Read::Done));
                        } else {
                            match response.chunk().await {
                                Ok(Some(chunk)) => {
                                    buffer.extend_from_slice(&chunk);
                                    Read::Flowing(response, buffer, limit)
                                }
                                Ok(None) => {
                                    let rest = buffer.split().freeze();
                                    return parse_line(info, &rest).map(|item| (item, Read::Done));
                                }
                                Err(error) => {
                                    return Some((
                                        Err(Error::from_reqwest(info.id, error)),
                                        Read::Done,
                                    ))
                                }
                            }
                        }
                    }
                };
            }
        },
    ))
}

/// How many parsed items the blocking reader thread may hold before the caller takes them.
#[cfg(feature = "blocking")]
const BLOCKING_BUFFER: usize = 64;

/// [`stream`] for blocking code: an iterator that reads the answer as it is advanced.
///
/// The answer is read on a thread of its own and handed over through a bounded channel, so the
/// iterator works from any thread, inside an async runtime too; dropping it ends the reader.
#[cfg(feature = "blocking")]
pub(crate) fn stream_blocking<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> Box<dyn Iterator<Item = Result<Value, Error>> + Send> {
    let info = O::INFO;
    let prepared = match crate::runtime::prepare::<O>(client, body) {
        Ok(prepared) => prepared,
        Err(error) => return Box::new(std::iter::once(Err(error))),
    };
    let client = client.clone();
    // The thread that asked for the stream, not the reader's, decides whether waiting for an
    // in-flight slot could deadlock.
    let caller = crate::limiter::Caller::current();
    let (items, receiver) = std::sync::mpsc::sync_channel(BLOCKING_BUFFER);
    std::thread::spawn(move || {
        let (payload, options) = prepared;
        let mut response =
            match crate::runtime::open_blocking(&client, info, &options, payload, caller) {
                Ok(response) => response,
                Err(error) => {
                    let _ = items.send(Err(error));
                    return;
                }
            };
        let mut lines = Lines {
            info,
            items,
            buffer: BytesMut::new(),
            limit: client.settings.max_response_bytes,
            ended: false,
        };
        // `copy_to` keeps reqwest's own error for a broken or stalled answer.
        let copied = response.copy_to(&mut lines);
        if lines.ended {
            return; // the iterator was dropped, a line failed, or one grew past the cap
        }
        let last = match copied {
            Ok(_) => {
                let rest = lines.buffer.split().freeze();
                parse_line(info, &rest)
            }
            Err(error) => Some(Err(Error::from_reqwest(info.id, error))),
        };
        if let Some(item) = last {
            let _ = lines.items.send(item);
        }
    });
    Box::new(receiver.into_iter())
}

/// Splits a blocking answer into parsed lines as it is copied in, handing each to the
/// iterator; it refuses more input once the iterator is gone or a line has failed.
#[cfg(feature = "blocking")]
struct Lines {
    info: &'static OperationInfo,
    items: std::sync::mpsc::SyncSender<Result<Value, Error>>,
    buffer: BytesMut,
    limit: u64,
    ended: bool,
}

#[cfg(feature = "blocking")]
impl Lines {
    /// Hands one item over; `false` when reading should stop.
    fn hand_over(&mut self, item: Result<Value, Error>) -> bool {
        let failed = item.is_err();
        if self.items.send(item).is_err() || failed {
            self.ended = true;
        }
        !self.ended
    }
}

#[cfg(feature = "blocking")]
impl std::io::Write for Lines {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let stop = || std::io::Error::other("the stream's reader stopped");
        if self.ended {
            return Err(stop());
        }
        self.buffer.extend_from_slice(data);
        while let Some(line) = next_line(&mut self.buffer) {
            if let Some(item) = parse_line(self.info, &line) {
                if !self.hand_over(item) {
                    return Err(stop());
                }
            }
        }
        if self.buffer.len() as u64 > self.limit {
            self.hand_over(Err(line_too_long(self.info, self.limit)));
            self.ended = true;
            return Err(stop());
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_blank_ones_skipped() {
        let mut buffer = BytesMut::from(&b"{\"a\":1}\n\n{\"b\":2}\n{\"c\""[..]);
        let info = geopera_types::operations::find("catalog.search_stream").expect("known");
        let first = next_line(&mut buffer).expect("a line");
        assert_eq!(
            parse_line(info, &first).and_then(Result::ok),
            Some(serde_json::json!({"a": 1}))
        );
        let blank = next_line(&mut buffer).expect("a line");
        assert!(parse_line(info, &blank).is_none());
        assert!(next_line(&mut buffer).is_some());
        assert!(
            next_line(&mut buffer).is_none(),
            "an incomplete line waits for more"
        );
    }
}
