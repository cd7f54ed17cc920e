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
use crate::redact::Redactor;
use crate::request::CallOptions;
use crate::{Error, IntoRequest};

/// Parses one NDJSON line; blank lines are skipped. A line that does not parse is quoted in
/// the error, without the call's credentials.
fn parse_line(
    info: &'static OperationInfo,
    redactor: &Redactor,
    line: &[u8],
) -> Option<Result<Value, Error>> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return None;
    }
    Some(serde_json::from_slice(trimmed).map_err(|source| {
        redactor.error(Error::Decode {
            operation_id: info.id,
            status: http::StatusCode::OK,
            excerpt: crate::error::excerpt(trimmed),
            source,
        })
    }))
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
    Flowing(Box<Flow>),
    Done,
}

/// An answer being read.
struct Flow {
    response: reqwest::Response,
    /// The bytes of a line not yet complete.
    buffer: BytesMut,
    /// The longest line allowed.
    limit: u64,
    redactor: Redactor,
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
                                crate::runtime::open(&client, info, &options, payload)
                                    .await
                                    .map(|response| {
                                        (response, Redactor::for_call(&client, &options))
                                    })
                            }
                            Err(error) => Err(error),
                        };
                        match opened {
                            Ok((response, redactor)) => Read::Flowing(Box::new(Flow {
                                response,
                                buffer: BytesMut::new(),
                                limit: client.settings.max_response_bytes,
                                redactor,
                            })),
                            Err(error) => return Some((Err(error), Read::Done)),
                        }
                    }
                    Read::Flowing(mut flow) => {
                        if let Some(line) = next_line(&mut flow.buffer) {
                            match parse_line(info, &flow.redactor, &line) {
                                Some(item) => return Some((item, Read::Flowing(flow))),
                                None => Read::Flowing(flow),
                            }
                        } else if flow.buffer.len() as u64 > flow.limit {
                            return Some((Err(line_too_long(info, flow.limit)), Read::Done));
                        } else {
                            match flow.response.chunk().await {
                                Ok(Some(chunk)) => {
                                    flow.buffer.extend_from_slice(&chunk);
                                    Read::Flowing(flow)
                                }
                                Ok(None) => {
                                    let rest = flow.buffer.split().freeze();
                                    return parse_line(info, &flow.redactor, &rest)
                                        .map(|item| (item, Read::Done));
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
            redactor: Redactor::for_call(&client, &options),
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
                parse_line(info, &lines.redactor, &rest)
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
    redactor: Redactor,
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
            if let Some(item) = parse_line(self.info, &self.redactor, &line) {
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
            parse_line(info, &Redactor::default(), &first).and_then(Result::ok),
            Some(serde_json::json!({"a": 1}))
        );
        let blank = next_line(&mut buffer).expect("a line");
        assert!(parse_line(info, &Redactor::default(), &blank).is_none());
        assert!(next_line(&mut buffer).is_some());
        assert!(
            next_line(&mut buffer).is_none(),
            "an incomplete line waits for more"
        );
    }
}
