//! Walking paged operations as streams (async) or iterators (blocking).
//!
//! The generator marks each operation's paging style from its input fields (cursor
//! `limit`+`next`, `limit`+`offset`, `page`+`size`, `limit`+`page`); one [`Walker`] here
//! knows how to move each style forward and when to stop: on a short or empty page, on a page
//! past `totalPages`, when the cursor is absent, or when a cursor repeats. The last of these is
//! the API going wrong, and more pages may lie beyond it, so the walk ends with an
//! [`Error::RepeatedCursor`] item rather than quietly.

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use geopera_types::{Operation, OperationInfo, Paging};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::cursors::CursorTrail;
use crate::engine::Face;
#[cfg(feature = "blocking")]
use crate::limiter::Caller;
use crate::redact::Redactor;
use crate::request::CallOptions;
use crate::{Error, IntoRequest};

/// A stream of pages or items; dropping it stops the walk (and cancels a request in flight).
pub type PageStream<T> = Pin<Box<dyn Stream<Item = Result<T, Error>> + Send>>;

/// Members that commonly hold a page's items, tried in this order.
const ITEM_FIELDS: &[&str] = &["features", "items", "content", "results", "data"];

/// The items of one page: the first well-known array member, else the only array member, else
/// the page itself when it is an array.
pub(crate) fn items_of(page: Value) -> Vec<Value> {
    match page {
        Value::Array(items) => items,
        Value::Object(mut members) => {
            for field in ITEM_FIELDS {
                if let Some(Value::Array(_)) = members.get(*field) {
                    if let Some(Value::Array(items)) = members.remove(*field) {
                        return items;
                    }
                }
            }
            let arrays: Vec<String> = members
                .iter()
                .filter(|(_, v)| v.is_array())
                .map(|(k, _)| k.clone())
                .collect();
            match arrays.as_slice() {
                [only] => match members.remove(only) {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

fn count_items(page: &Value) -> usize {
    items_of(page.clone()).len()
}

/// Where a walk is: the body of the next request and whether there is one.
pub(crate) struct Walker {
    pub(crate) info: &'static OperationInfo,
    body: Map<String, Value>,
    done: bool,
    /// Pages moved past so far.
    pages: u64,
    /// Set when the walk stopped on a repeated cursor: the error that ends it.
    repeated: Option<Error>,
    cursors: CursorTrail,
    redactor: Redactor,
}

fn as_i64(body: &Map<String, Value>, key: &str) -> Option<i64> {
    body.get(key).and_then(Value::as_i64)
}

impl Walker {
    pub(crate) fn new<O: Operation>(
        client: &Client,
        body: impl IntoRequest<O::Input>,
    ) -> Result<(Self, CallOptions), Error> {
        let info = O::INFO;
        let (json, options) = crate::runtime::checked::<O>(client, body)?;
        let Value::Object(body) = json else {
            return Err(Error::invalid(
                info.id,
                "a paged body must be a JSON object",
            ));
        };
        Ok((
            Walker {
                info,
                body,
                done: false,
                pages: 0,
                repeated: None,
                cursors: CursorTrail::new(),
                redactor: Redactor::for_call(client, &options),
            },
            options,
        ))
    }

    /// The body of the next request, or `None` when the walk is over.
    pub(crate) fn next_body(&self) -> Option<Result<Bytes, Error>> {
        if self.done {
            return None;
        }
        Some(
            serde_json::to_vec(&self.body)
                .map(Bytes::from)
                .map_err(|e| Error::unserializable(self.info.id, &e)),
        )
    }

    /// Moves past `page`.
    pub(crate) fn advance(&mut self, page: &Value) {
        self.pages += 1;
        let count = i64::try_from(count_items(page)).unwrap_or(i64::MAX);
        if count == 0 {
            self.done = true;
            return;
        }
        match self.info.paging {
            Paging::None => self.done = true,
            Paging::Cursor => match page.get("next").and_then(Value::as_str) {
                Some(next) if !next.is_empty() && self.cursors.first_visit(next) => {
                    self.body
                        .insert("next".into(), Value::String(next.to_owned()));
                }
                Some(next) if !next.is_empty() => {
                    tracing::warn!(
                        operation_id = self.info.id,
                        pages = self.pages,
                        "the API repeated a cursor; stopping"
                    );
                    self.repeated = Some(Error::repeated_cursor(self.info.id, self.pages));
                    self.done = true;
                }
                _ => self.done = true,
            },
            Paging::Offset => {
                let limit = as_i64(&self.body, "limit").unwrap_or(count);
                let offset = as_i64(&self.body, "offset").unwrap_or(0);
                self.body.insert("offset".into(), (offset + count).into());
                self.done = count < limit;
            }
            Paging::PageSize | Paging::LimitPage => {
                let per_page_key = if self.info.paging == Paging::PageSize {
                    "size"
                } else {
                    "limit"
                };
                let per_page = as_i64(&self.body, per_page_key).unwrap_or(count);
                let current = as_i64(&self.body, "page").unwrap_or(0);
                let total_pages = page.get("totalPages").and_then(Value::as_i64);
                self.body.insert("page".into(), (current + 1).into());
                self.done =
                    count < per_page || total_pages.is_some_and(|total| current + 1 >= total);
            }
        }
    }
}

async fn fetch(
    client: &Client,
    face: Face<'_>,
    walker: &Walker,
    options: &CallOptions,
    body: Bytes,
) -> Result<(Value, String), Error> {
    let raw = crate::engine::execute(client, face, walker.info, options, body).await?;
    let response = crate::engine::classify::<Value>(client, walker.info, raw)?;
    let request_id = response.request_id.clone();
    Ok((response.into_result()?, request_id))
}

/// Turns a fetched page into what the stream yields.
type Convert<T> = fn(Value) -> Result<T, (Value, serde_json::Error)>;

fn decode_error(
    walker: &Walker,
    request_id: &str,
    page: &Value,
    source: serde_json::Error,
) -> Error {
    walker
        .redactor
        .error(Error::decode(
            walker.info.id,
            http::StatusCode::OK,
            page.to_string().as_bytes(),
            source,
        ))
        .with_request_id(request_id)
}

fn typed<T: DeserializeOwned>(page: Value) -> Result<T, (Value, serde_json::Error)> {
    T::deserialize(&page).map_err(|e| (page, e))
}

fn listed(page: Value) -> Result<Vec<Value>, (Value, serde_json::Error)> {
    Ok(items_of(page))
}

enum Walk {
    Ready(Client, Box<Walker>, CallOptions),
    Failed(Error),
    Done,
}

impl Walk {
    fn start<O: Operation>(client: &Client, body: impl IntoRequest<O::Input>) -> Self {
        match Walker::new::<O>(client, body) {
            Ok((walker, options)) => Walk::Ready(client.clone(), Box::new(walker), options),
            Err(error) => Walk::Failed(error),
        }
    }
}

/// One step of a walk: the next page through `face` (the client's own when `None`), and the
/// state after it. Async streams and blocking iterators both walk with it.
async fn step<T>(
    state: Walk,
    convert: Convert<T>,
    face: Option<Face<'_>>,
) -> Option<(Result<T, Error>, Walk)> {
    match state {
        Walk::Done => None,
        Walk::Failed(error) => Some((Err(error), Walk::Done)),
        Walk::Ready(client, mut walker, options) => {
            let body = match walker.next_body()? {
                Ok(body) => body,
                Err(error) => return Some((Err(error), Walk::Done)),
            };
            let face = face.unwrap_or_else(|| client.async_face());
            match fetch(&client, face, &walker, &options, body).await {
                Err(error) => Some((Err(error), Walk::Done)),
                Ok((page, request_id)) => {
                    walker.advance(&page);
                    let item = convert(page)
                        .map_err(|(page, e)| decode_error(&walker, &request_id, &page, e));
                    // The page is yielded first; the error that stops the walk comes after it.
                    let next = match walker.repeated.take() {
                        Some(error) => Walk::Failed(error.with_request_id(&request_id)),
                        None => Walk::Ready(client, walker, options),
                    };
                    Some((item, next))
                }
            }
        }
    }
}

fn walk<T: Send + 'static>(start: Walk, convert: Convert<T>) -> PageStream<T> {
    Box::pin(futures::stream::unfold(start, move |state| {
        step(state, convert, None)
    }))
}

/// Every page of a paged operation, decoded as its output model.
pub(crate) fn pages<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> PageStream<O::Output>
where
    O::Output: DeserializeOwned,
{
    walk(Walk::start::<O>(client, body), typed::<O::Output>)
}

/// How a paged operation's output model splits into the items `items()` yields: typed items
/// where the model types them ([`StacItem`](crate::models::StacItem) for catalog pages), JSON
/// values otherwise.
pub(crate) trait PageItems {
    /// One item.
    type Item: Send + 'static;
    /// The items of one page.
    fn split(page: Value) -> Result<Vec<Self::Item>, (Value, serde_json::Error)>;
}

impl PageItems for Value {
    type Item = Value;
    fn split(page: Value) -> Result<Vec<Value>, (Value, serde_json::Error)> {
        listed(page)
    }
}

impl PageItems for crate::models::CatalogSearchOutput {
    type Item = crate::models::StacItem;
    fn split(page: Value) -> Result<Vec<Self::Item>, (Value, serde_json::Error)> {
        typed::<Self>(page).map(|page| page.features)
    }
}

impl PageItems for crate::models::FeatureCollectionOutput {
    type Item = Value;
    fn split(page: Value) -> Result<Vec<Value>, (Value, serde_json::Error)> {
        listed(page)
    }
}

/// The item type of operation `O`'s pages.
pub(crate) type ItemOf<O> = <<O as Operation>::Output as PageItems>::Item;

/// Every item of every page of a paged operation.
pub(crate) fn items<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> PageStream<ItemOf<O>>
where
    O::Output: PageItems,
{
    use futures::StreamExt as _;
    let pages = walk(
        Walk::start::<O>(client, body),
        <O::Output as PageItems>::split,
    );
    Box::pin(
        pages
            .map(|page| match page {
                Ok(items) => futures::stream::iter(items.into_iter().map(Ok)).left_stream(),
                Err(error) => futures::stream::iter(std::iter::once(Err(error))).right_stream(),
            })
            .flatten(),
    )
}

/// The blocking form of a page walk: an iterator that fetches as it is advanced.
#[cfg(feature = "blocking")]
pub struct BlockingPages<T> {
    state: Walk,
    convert: Convert<T>,
}

#[cfg(feature = "blocking")]
impl<T> std::fmt::Debug for BlockingPages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPages").finish_non_exhaustive()
    }
}

#[cfg(feature = "blocking")]
impl<T: Send + 'static> Iterator for BlockingPages<T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let state = std::mem::replace(&mut self.state, Walk::Done);
        let client = match state {
            Walk::Ready(ref client, ..) => client.clone(),
            Walk::Failed(error) => return Some(Err(error)),
            Walk::Done => return None,
        };
        let convert = self.convert;
        let stepped = crate::blocking::run(&client, Caller::current(), move |thread| async move {
            step(state, convert, Some(thread.face())).await
        });
        match stepped {
            Ok(Some((item, next))) => {
                self.state = next;
                Some(item)
            }
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        }
    }
}

/// [`pages`] for blocking code.
#[cfg(feature = "blocking")]
pub(crate) fn pages_blocking<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> BlockingPages<O::Output>
where
    O::Output: DeserializeOwned,
{
    BlockingPages {
        state: Walk::start::<O>(client, body),
        convert: typed::<O::Output>,
    }
}

/// [`items`] for blocking code.
#[cfg(feature = "blocking")]
pub(crate) fn items_blocking<O: Operation>(
    client: &Client,
    body: impl IntoRequest<O::Input>,
) -> impl Iterator<Item = Result<ItemOf<O>, Error>>
where
    O::Output: PageItems,
{
    let pages = BlockingPages {
        state: Walk::start::<O>(client, body),
        convert: <O::Output as PageItems>::split,
    };
    pages.flat_map(|page| match page {
        Ok(items) => items.into_iter().map(Ok).collect::<Vec<_>>(),
        Err(error) => vec![Err(error)],
    })
}

#[cfg(test)]
#[path = "paging_tests.rs"]
mod tests;
