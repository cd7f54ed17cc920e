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
    Flowing(reqwest::Response, BytesMut),
    Done,
}

/// The items of an NDJSON answer, parsed as they arrive.
pub(crate) fn stream<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> PageStream<Value> {
    let info = O::INFO;
    let prepared = crate::runtime::prepare::<O>(body);
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
                        match opened {
                            Ok(response) => Read::Flowing(response, BytesMut::new()),
                            Err(error) => return Some((Err(error), Read::Done)),
                        }
                    }
                    Read::Flowing(mut response, mut buffer) => {
                        if let Some(line) = next_line(&mut buffer) {
                            match parse_line(info, &line) {
                                Some(item) => return Some((item, Read::Flowing(response, buffer))),
                                None => Read::Flowing(response, buffer),
                            }
                        } else {
                            match response.chunk().await {
                                Ok(Some(chunk)) => {
                                    buffer.extend_from_slice(&chunk);
                                    Read::Flowing(response, buffer)
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
    use std::io::BufRead as _;
    let info = O::INFO;
    let prepared = match crate::runtime::prepare::<O>(body) {
        Ok(prepared) => prepared,
        Err(error) => return Box::new(std::iter::once(Err(error))),
    };
    let client = client.clone();
    let (items, receiver) = std::sync::mpsc::sync_channel(BLOCKING_BUFFER);
    std::thread::spawn(move || {
        let (payload, options) = prepared;
        let response = match crate::runtime::open_blocking(&client, info, &options, payload) {
            Ok(response) => response,
            Err(error) => {
                let _ = items.send(Err(error));
                return;
            }
        };
        for line in std::io::BufReader::new(response).split(b'\n') {
            let item = match line {
                Ok(line) => parse_line(info, &line),
                Err(error) => Some(Err(Error::invalid(
                    info.id,
                    format!("the stream broke: {error}"),
                ))),
            };
            let stop = matches!(item, Some(Err(_)));
            if let Some(item) = item {
                if items.send(item).is_err() || stop {
                    return; // the iterator was dropped, or the stream failed
                }
            }
        }
    });
    Box::new(receiver.into_iter())
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
