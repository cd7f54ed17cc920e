//! Walking paged operations as streams (async) or iterators (blocking).
//!
//! The generator marks each operation's paging style from its input fields (cursor
//! `limit`+`next`, `limit`+`offset`, `page`+`size`, `limit`+`page`); one [`Walker`] here
//! knows how to move each style forward and when to stop: on a short or empty page, on a page
//! past `totalPages`, when the cursor is absent, when a cursor repeats, when a page comes
//! back with the same items as one before it, or when a page's label or size shows that items
//! were skipped.
//! The last three are the API going wrong, and pages may be missing, so the walk ends with an
//! [`Error::RepeatedCursor`], [`Error::RepeatedPage`] or [`Error::SkippedPage`] item rather
//! than quietly.

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use geopera_types::{Operation, OperationInfo, Paging};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

#[cfg(feature = "blocking")]
use crate::caller::Caller;
use crate::client::Client;
use crate::cursors::CursorTrail;
use crate::engine::Face;
use crate::redact::Redactor;
use crate::request::CallOptions;
use crate::{Error, IntoRequest};

/// A stream of pages or items; dropping it stops the walk (and cancels a request in flight).
///
/// A paged operation's `pages` and `items` return one (their blocking forms iterate the same
/// way). What a walk yields when a page goes wrong, so that nothing is left out without a
/// word or a rule you can read here:
///
/// - An error answer, a timeout, a transport failure or an answer that is no JSON at all is
///   the walk's last item: nothing says where the next page is.
/// - A page that is JSON but does not fit the model (`pages` decodes each page as the
///   operation's output model, `items` of `catalog.search` as a
///   [`CatalogSearchOutput`](crate::models::CatalogSearchOutput)) is one
///   [`Error::Decode`] in that page's place, standing for all of its items, and the walk goes
///   on to the next page, which it found in the page's JSON.
/// - A page with no items where [`page_item_field`] looks for them (an object with no array
///   member, or with several none of which has one of the usual names), or that is neither an
///   object nor an array, counts as an empty page: the walk ends after it, with no error.
///   `pages` yields that page, whose members can be read; `items` yields nothing for it. The
///   contract leaves most paged operations' answers free-form, so such a page cannot be told
///   from an empty last page, and is not taken for the API going wrong.
///
/// A cursor sent again, a page answered again and a skipped page end the walk with an error
/// of their own; see [`PageWalk`].
pub type PageStream<T> = Pin<Box<dyn Stream<Item = Result<T, Error>> + Send>>;

/// Members that commonly hold a page's items, in the order [`page_item_field`] tries them;
/// for code that looks for a page's list by name as the SDK does (the CLI's tables).
pub const PAGE_ITEM_FIELDS: &[&str] = &["features", "items", "content", "results", "data"];

/// The member of a page object that holds its items: the first of [`PAGE_ITEM_FIELDS`] that
/// is an array, else the only array member. `None` when no member is an array, or several are
/// and none of them is one of those.
///
/// For code that reads pages in its own form (raw JSON, to keep the server's member order)
/// and must find the same items the SDK's streams yield.
///
/// ```
/// let page: serde_json::Map<String, serde_json::Value> =
///     serde_json::from_str(r#"{"type": "FeatureCollection", "features": [], "links": []}"#)?;
/// assert_eq!(geopera::page_item_field(&page), Some("features"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn page_item_field(page: &Map<String, Value>) -> Option<&str> {
    if let Some(field) = PAGE_ITEM_FIELDS
        .iter()
        .find(|field| page.get(**field).is_some_and(Value::is_array))
    {
        return Some(field);
    }
    let mut arrays = page.iter().filter(|(_, member)| member.is_array());
    match (arrays.next(), arrays.next()) {
        (Some((only, _)), None) => Some(only),
        _ => None,
    }
}

/// The items of one page: those of [`page_item_field`], or the page itself when it is an
/// array.
pub(crate) fn items_of(page: Value) -> Vec<Value> {
    match page {
        Value::Array(items) => items,
        Value::Object(mut members) => match page_item_field(&members).map(str::to_owned) {
            Some(field) => match members.remove(&field) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The items of a page where [`items_of`] finds them, without taking it apart.
fn items_in(page: &Value) -> Option<&Vec<Value>> {
    match page {
        Value::Array(items) => Some(items),
        Value::Object(members) => page_item_field(members)
            .and_then(|field| members.get(field))
            .and_then(Value::as_array),
        _ => None,
    }
}

/// How many items a page holds, counted where [`items_of`] finds them.
fn count_items(page: &Value) -> usize {
    items_in(page).map_or(0, Vec::len)
}

/// Where a page walk is, for code that fetches the pages itself: the body of the next request,
/// moved on page by page in the operation's paging style, and whether the walk is over.
///
/// The SDK's page streams walk with one; it is public so that a walk made by hand (over raw
/// answers, or through another transport) moves and stops exactly as they do: cursor `next`,
/// `limit`/`offset`, `page`/`size` or `limit`/`page`, stopping on an empty or short page, past
/// `totalPages`, or without a cursor. A page is short when it holds fewer items than the page
/// size asked for, or than the smaller one the answer says the server applied (its `limit` or
/// `size`, or the STAC `context.limit`). A cursor that comes round again also stops the walk, and
/// [`advance`](Self::advance) reports it as [`Error::RepeatedCursor`], since the server named a
/// next page that the walk does not fetch; a walk answered a page it was answered before (its
/// first and last item unchanged) stops with [`Error::RepeatedPage`], since the server ignored
/// where it asked to go on from (an `offset`, a `page`, or a cursor it handed out itself); and
/// a walk by page number whose page labels show it skipped a page, or whose later page is
/// larger than its first, stops with [`Error::SkippedPage`]. Past the largest `offset` or
/// `page` a body can hold, a walk ends.
///
/// ```
/// use geopera::PageWalk;
/// use serde_json::json;
///
/// let search = geopera::descriptors::find("catalog.search").expect("a paged operation");
/// let body = json!({"host_name": "earthsearch-aws", "limit": 2});
/// let mut walk = PageWalk::new(search, body.as_object().cloned().unwrap_or_default());
///
/// walk.advance(&json!({"features": [{"id": "a"}, {"id": "b"}], "next": "c2"}), 2)?;
/// assert_eq!(walk.next_body().map(|body| &body["next"]), Some(&json!("c2")));
/// walk.advance(&json!({"features": [{"id": "c"}], "next": null}), 1)?;
/// assert!(walk.next_body().is_none(), "no cursor: the walk is over");
/// # Ok::<(), geopera::Error>(())
/// ```
#[derive(Debug)]
pub struct PageWalk {
    info: &'static OperationInfo,
    body: Map<String, Value>,
    done: bool,
    /// Pages moved past so far.
    pages: u64,
    cursors: CursorTrail,
    /// The pages answered so far, each told by its first and last item, to tell a page
    /// answered again: after the one before it, or after others in a circle.
    answered: CursorTrail,
    /// Set when the first page asked for as page 0 was answered as page 1.
    counts_from_one: bool,
    /// How many items a full page held in the first page of a walk by page number: page `n`
    /// starts `n` of these in, whatever size a later answer claims.
    first_page_size: Option<i64>,
}

/// How many items a full page holds, which a page must hold not to be the last: what the
/// body asked for, or fewer when the answer says the server served fewer a page. A server
/// caps the page size (the contract bounds few of them), and a page it filled to its cap is
/// not short: read against the size asked for, it would end the walk with items left
/// unread. A size the answer gives above the one asked for is not believed, and without
/// either, any page counts as full and only an empty one ends the walk.
fn full_page(asked: Option<i64>, answered: Option<&Value>, count: i64) -> i64 {
    let answered = answered.and_then(Value::as_i64).filter(|size| *size > 0);
    match (asked, answered) {
        (Some(asked), Some(answered)) => asked.min(answered),
        (Some(size), None) | (None, Some(size)) => size,
        (None, None) => count,
    }
}

/// A paging number of the body as the API reads it: an integral float (`5.0`) is that
/// integer, as the validator lets it through; read as missing, the walk would step from 0
/// while the server served from 5, and print pages twice.
fn as_i64(body: &Map<String, Value>, key: &str) -> Option<i64> {
    let value = body.get(key)?;
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e18)
            .and_then(|float| format!("{float:.0}").parse().ok())
    })
}

/// The number a STAC page gives itself in `context.page`.
fn page_label(page: &Value) -> Option<i64> {
    page.get("context")
        .and_then(|context| context.get("page"))
        .and_then(Value::as_i64)
}

impl PageWalk {
    /// A walk of the operation `info` describes, whose first request sends `body`.
    pub fn new(info: &'static OperationInfo, body: Map<String, Value>) -> Self {
        let mut cursors = CursorTrail::new();
        // A walk resumed from a cursor has followed that one already: a page that names it
        // as the next one sends the walk back to where it stands.
        if info.paging == Paging::Cursor {
            if let Some(resumed) = body
                .get("next")
                .and_then(Value::as_str)
                .filter(|next| !next.is_empty())
            {
                cursors.first_visit(resumed);
            }
        }
        PageWalk {
            info,
            body,
            done: false,
            pages: 0,
            cursors,
            answered: CursorTrail::new(),
            counts_from_one: false,
            first_page_size: None,
        }
    }

    /// The body of the next request, or `None` when the walk is over.
    pub fn next_body(&self) -> Option<&Map<String, Value>> {
        (!self.done).then_some(&self.body)
    }

    /// How many pages the walk has moved past.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Moves past `page`, the answer to [`next_body`](Self::next_body), which held `items`
    /// items (where [`page_item_field`] finds them).
    ///
    /// # Errors
    ///
    /// [`Error::RepeatedCursor`] when `page` names a cursor this walk has followed before, the
    /// one its first body resumed from included: the walk is over, though the server pointed
    /// past this page. [`Error::RepeatedPage`] when `page` holds the same items as a page
    /// before it: the walk is over, and `page` is not counted. [`Error::SkippedPage`] when
    /// `page`'s label shows that the page before it was never asked for, or when `page` holds
    /// (or says it holds) more items than the walk's first page, so that it starts past items
    /// never asked for: the walk is over, and `page` is counted.
    pub fn advance(&mut self, page: &Value, items: usize) -> Result<(), Error> {
        if self.done {
            // No request was due, so `page` answers none of this walk's: nothing moves.
            return Ok(());
        }
        self.pages += 1;
        let count = i64::try_from(items).unwrap_or(i64::MAX);
        // An empty page is the end, but its label can still show that the page before it was
        // never asked for; ending quietly there would lose that page without a word.
        if self.shows_a_skipped_page(page) {
            self.done = true;
            return Err(Error::skipped_page(self.info.id, self.pages));
        }
        if count == 0 {
            self.done = true;
            return Ok(());
        }
        match self.info.paging {
            Paging::None => self.done = true,
            Paging::Cursor => {
                // A cursor that is no text is no cursor to follow, but it says there is more:
                // ending the walk as if it were absent would drop those pages without a word.
                let next = match page.get("next") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(next)) => Some(next.as_str()).filter(|n| !n.is_empty()),
                    Some(other) => {
                        self.done = true;
                        return Err(unreadable_cursor(self.info.id, page, other));
                    }
                };
                // A fresh cursor does not make a fresh page: a server that hands out new
                // cursors to the same items would otherwise be walked for ever. The page is
                // looked at first, so a page answered again is never yielded, whatever its
                // cursor.
                self.refuse_a_repeat(page)?;
                if next.is_some_and(|next| !self.cursors.first_visit(next)) {
                    self.done = true;
                    return Err(Error::repeated_cursor(self.info.id, self.pages));
                }
                match next {
                    Some(next) => {
                        self.body
                            .insert("next".into(), Value::String(next.to_owned()));
                    }
                    None => self.done = true,
                }
            }
            Paging::Offset => {
                self.refuse_a_repeat(page)?;
                let limit = full_page(as_i64(&self.body, "limit"), page.get("limit"), count);
                // A negative offset is served from 0, as the API clamps it: stepping from it
                // would read the first items again.
                let offset = as_i64(&self.body, "offset").unwrap_or(0).max(0);
                // No page lies past the largest offset a body can name.
                match offset.checked_add(count) {
                    Some(next) => {
                        self.body.insert("offset".into(), next.into());
                        self.done = count < limit;
                    }
                    None => self.done = true,
                }
            }
            Paging::PageSize | Paging::LimitPage => {
                self.refuse_a_repeat(page)?;
                let per_page_key = if self.info.paging == Paging::PageSize {
                    "size"
                } else {
                    "limit"
                };
                let context = page.get("context");
                let echoed = page
                    .get(per_page_key)
                    .or_else(|| context.and_then(|context| context.get(per_page_key)));
                let per_page = full_page(as_i64(&self.body, per_page_key), echoed, count);
                // Page numbers count pages of the first page's size, which is what it held
                // when it held more than asked for (a server with a smallest page): a later
                // page that holds more, or says it holds more, starts further in than the walk
                // stands, and the items between were never read. (A smaller one may be the
                // short last page of a server that echoes how many items it sent.)
                let first_page_size = *self.first_page_size.get_or_insert(per_page.max(count));
                if per_page.max(count) > first_page_size {
                    self.done = true;
                    return Err(Error::skipped_page(self.info.id, self.pages));
                }
                // A negative page is the first, as the API clamps it.
                let current = as_i64(&self.body, "page").unwrap_or(0).max(0);
                let total_pages = page.get("totalPages").and_then(Value::as_i64);
                let labelled = page_label(page);
                // A STAC search counts pages from 1 and answers page 0 as page 1, saying so
                // in `context.page`: the next page is the one after the page answered, or the
                // first would be read twice. Only the first page asked for as page 0 can be
                // answered so; any other answer moves one page on, so a server can never send
                // the walk backwards (a server that only labels its pages from 1 was caught by
                // `shows_a_skipped_page` above).
                let answered = labelled
                    .filter(|answered| current == 0 && *answered == 1)
                    .unwrap_or(current);
                self.counts_from_one |= answered != current;
                // No page lies past the largest number a body can name.
                match answered.checked_add(1) {
                    Some(next) => {
                        // `totalPages` counts pages from 1, and a server numbering them from 1
                        // names its last page `totalPages`, not one less: the place of the page
                        // answered is its own number then, else the number after it.
                        let place = if self.counts_from_one { answered } else { next };
                        self.body.insert("page".into(), next.into());
                        self.done =
                            count < per_page || total_pages.is_some_and(|total| place >= total);
                    }
                    None => self.done = true,
                }
            }
        }
        Ok(())
    }

    /// Whether `page` is labelled one past the page asked for in a walk whose first page was
    /// answered as page 1. A STAC search does that to page 0 only; a server that counts its
    /// pages from 0 but labels them from 1 looks the same on the first page and shows itself
    /// on the next, whose label says the page between them was skipped.
    fn shows_a_skipped_page(&self, page: &Value) -> bool {
        let by_number = matches!(self.info.paging, Paging::PageSize | Paging::LimitPage);
        let current = as_i64(&self.body, "page").unwrap_or(0);
        by_number
            && self.counts_from_one
            && page_label(page).is_some_and(|label| Some(label) == current.checked_add(1))
    }

    /// Ends the walk with [`Error::RepeatedPage`] when `page` holds the same items as a page
    /// before it, told by its first and last item: a server that ignores `offset` or `page`,
    /// or mints a new cursor for the same page, answers it again for ever — or goes round two
    /// or more pages in turn.
    fn refuse_a_repeat(&mut self, page: &Value) -> Result<(), Error> {
        let Some(ends) = items_in(page).and_then(|items| Some((items.first()?, items.last()?)))
        else {
            return Ok(());
        };
        // The two items as JSON text are the page's name in the trail, which keeps only a
        // fingerprint of it; a `Value` always serializes, so a failure cannot happen and
        // would only leave the page unremembered.
        let Ok(name) = serde_json::to_string(&ends) else {
            return Ok(());
        };
        if self.answered.first_visit(&name) {
            return Ok(());
        }
        self.done = true;
        self.pages -= 1;
        Err(Error::repeated_page(self.info.id, self.pages))
    }
}

/// A walk of the SDK's streams: the [`PageWalk`], and what its errors must not show.
pub(crate) struct Walker {
    pub(crate) info: &'static OperationInfo,
    walk: PageWalk,
    /// Set when the walk stopped on a repeated cursor: the error that ends it.
    repeated: Option<Error>,
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
                walk: PageWalk::new(info, body),
                repeated: None,
            },
            options,
        ))
    }

    /// The body of the next request, or `None` when the walk is over.
    pub(crate) fn next_body(&self) -> Option<Result<Bytes, Error>> {
        let body = self.walk.next_body()?;
        Some(
            serde_json::to_vec(body)
                .map(Bytes::from)
                .map_err(|e| Error::unserializable(self.info.id, &e)),
        )
    }

    /// Moves past `page`; an error that quotes it hides what `redactor` hides.
    pub(crate) fn advance(&mut self, page: &Value, redactor: &Redactor) {
        if let Err(error) = self.walk.advance(page, count_items(page)) {
            let error = redactor.error(error);
            // The kind alone: the error may quote the page, and bodies are never recorded.
            tracing::warn!(
                operation_id = self.info.id,
                pages = self.walk.pages(),
                kind = ?error.kind(),
                "a page walk ends early; its last item is the error that says why"
            );
            self.repeated = Some(error);
        }
    }
}

/// The error for a page whose `next` is neither text nor null: a decode error, as the page's
/// typed model gives one, so raw and typed walks fail alike, but naming the member.
fn unreadable_cursor(operation_id: &'static str, page: &Value, next: &Value) -> Error {
    let kind = match next {
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Array(_) => "an array",
        _ => "an object",
    };
    let source = <serde_json::Error as serde::de::Error>::custom(format!(
        "the cursor `next` is {kind}, not text, so the pages after this one cannot be asked for"
    ));
    let body = serde_json::to_vec(page).unwrap_or_default();
    Error::decode(operation_id, http::StatusCode::OK, &body, source)
}

/// A page as it came, with what its decoding errors need: the call's request id, and the
/// credentials it was asked with (a provider's token included), which they must not show.
struct Fetched {
    page: Value,
    request_id: String,
    redactor: Redactor,
}

async fn fetch(
    client: &Client,
    face: Face<'_>,
    walker: &Walker,
    options: &CallOptions,
    body: Bytes,
) -> Result<Fetched, Error> {
    let raw = crate::engine::execute(client, face, walker.info, options, body).await?;
    let redactor = raw.redactor.clone();
    let response = crate::engine::classify::<Value>(client, walker.info, raw)?;
    let request_id = response.request_id.clone();
    Ok(Fetched {
        page: response.into_result()?,
        request_id,
        redactor,
    })
}

/// Turns a fetched page into what the stream yields.
type Convert<T> = fn(Value) -> Result<T, (Value, serde_json::Error)>;

fn decode_error(
    walker: &Walker,
    request_id: &str,
    redactor: &Redactor,
    page: &Value,
    source: serde_json::Error,
) -> Error {
    redactor
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
                Ok(Fetched {
                    page,
                    request_id,
                    redactor,
                }) => {
                    walker.advance(&page, &redactor);
                    let stop = walker.repeated.take();
                    // A page answered again holds nothing new: the error takes its place.
                    if let Some(error @ Error::RepeatedPage { .. }) = stop {
                        return Some((Err(error.with_request_id(&request_id)), Walk::Done));
                    }
                    let item = convert(page).map_err(|(page, e)| {
                        decode_error(&walker, &request_id, &redactor, &page, e)
                    });
                    // A page with a repeated cursor is new: it is yielded first, and the error
                    // that stops the walk comes after it.
                    let next = match stop {
                        // A cursor that is no text fails a typed page too: one fault, one
                        // error, the walk's, which names the member.
                        Some(error @ Error::Decode { .. }) if item.is_err() => {
                            return Some((Err(error.with_request_id(&request_id)), Walk::Done));
                        }
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

/// Pages that hand out signed links (lists of jobs, whose outputs carry them): each item keeps
/// them out of `Debug` as the page does.
impl PageItems for crate::models::DownloadLinks {
    type Item = crate::models::DownloadLinks;
    fn split(page: Value) -> Result<Vec<Self::Item>, (Value, serde_json::Error)> {
        listed(page).map(|items| items.into_iter().map(Self::Item::from).collect())
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

/// The blocking form of a page walk: an iterator that fetches as it is advanced. It yields
/// what the async [`PageStream`] does, also when a page goes wrong (see there).
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
        let stepped = crate::blocking::run(
            &client.blocking,
            Caller::current(),
            move |thread| async move { step(state, convert, Some(thread.face())).await },
        );
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
