//! `GET` routes for the links in the emulator's STAC documents, which a STAC client follows
//! with `GET` while every operation is `POST`: a collection (`/collections/{c}`), its items
//! (`/collections/{c}/items`) and one of them (`/collections/{c}/items/{i}`), and an item in
//! no collection (`/items/{i}`), which STAC API has no path for, as items live in
//! collections there; it answers any of the organization's items, so that its link keeps
//! resolving once the item is put in a collection.
//!
//! The catalog's collections are public, as its assets are. An organization's collections
//! and items are its own: each request runs through the pipeline as the operation whose answer
//! holds the same document (`stac.collections.list`, `stac.search` limited to the collection,
//! `items.get_stac`), with the request's credentials, so it is authenticated, rate limited
//! and scoped as that operation is, and another organization's collection or item is 404 as
//! it is everywhere. The documents' links start at the emulator's own address, never at one
//! the request names.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiPath, Reply};
use crate::op_body::OpBody;
use crate::pipeline;
use crate::state::Shared;

/// The most of an operation's answer read back; the organization's collections and a page
/// of its items are bounded, so a larger answer means something else went wrong.
const MOST_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// What a `GET` needs to run an operation as its caller.
struct Caller {
    shared: Arc<Shared>,
    peer: SocketAddr,
    headers: HeaderMap,
}

impl Caller {
    fn new(shared: Arc<Shared>, peer: SocketAddr, headers: HeaderMap) -> Self {
        Caller {
            shared,
            peer,
            headers,
        }
    }

    /// Runs `operation` with `body` as the caller; its JSON answer when it answered 200, else
    /// its answer as it is (refused, limited, missing scope, not found, a fault).
    async fn run(&self, operation: &'static str, body: &Value) -> Result<Value, Response> {
        let mut body = OpBody::whole(Bytes::from(body.to_string()));
        let request = pipeline::Request {
            id: operation,
            peer: self.peer,
            method: &Method::POST,
            headers: &self.headers,
            body: &mut body,
        };
        let answer = pipeline::run(&self.shared, request, None).await;
        if answer.status() != StatusCode::OK {
            return Err(answer);
        }
        let (parts, body) = answer.into_parts();
        let bytes = match axum::body::to_bytes(body, MOST_ANSWER_BYTES).await {
            Ok(bytes) => bytes,
            Err(error) => {
                return Err(ApiError::problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the answer of {operation} could not be read: {error}"),
                )
                .into_response())
            }
        };
        // An injected fault that spoiled the body reaches the client as it was made.
        serde_json::from_slice(&bytes)
            .map_err(|_| Response::from_parts(parts, axum::body::Body::from(bytes)))
    }
}

fn geo_json(document: &Value) -> Response {
    let mut reply = Reply::json(StatusCode::OK, document);
    reply.content_type = "application/geo+json";
    reply.into_response()
}

/// `GET /collections/{collection_id}`.
pub(crate) async fn collection(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(document) = crate::catalog::collection_document(&id, &shared.base_url) {
        return Reply::json(StatusCode::OK, &document).into_response();
    }
    let caller = Caller::new(shared, peer, headers);
    match held_collection(&caller, &id).await {
        Ok(document) => Reply::json(StatusCode::OK, &document).into_response(),
        Err(answer) => answer,
    }
}

/// The organization's collection `id` as `stac.collections.list` answers it to `caller`.
///
/// # Errors
/// 404 when the organization holds no such collection, another organization's included;
/// the operation's own answer when it refused.
async fn held_collection(caller: &Caller, id: &str) -> Result<Value, Response> {
    let mut listing = caller.run("stac.collections.list", &json!({})).await?;
    listing
        .get_mut("collections")
        .and_then(Value::as_array_mut)
        .and_then(|collections| {
            let at = collections.iter().position(|c| c["id"] == id)?;
            Some(collections.swap_remove(at))
        })
        .ok_or_else(|| ApiError::not_found(format!("collection '{id}' not found")).into_response())
}

/// `GET /collections/{collection_id}/items?page=P&limit=L`: one page of the collection's
/// items as an ItemCollection, paged as `stac.search` pages (from 1, `limit` clamped to its
/// bounds), with a `next` link while items remain. A collection the organization does not
/// hold is 404, as `GET /collections/{collection_id}` answers it, rather than a page with no
/// items, which would tell a mistyped id from an empty collection only by the count. Only a
/// page matching nothing asks whether the collection is held, as a second run of the
/// pipeline (`stac.collections.list`), which counts against the rate limit as a call. A
/// collection of the catalog is paged from `catalog.search` ([`catalog_items`]).
pub(crate) async fn collection_items(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiPath(id): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (page, limit) = match paging(uri.query()) {
        Ok(paging) => paging,
        Err(refused) => return refused.into_response(),
    };
    if let Some(host) = crate::catalog::collection_host(&id) {
        let caller = Caller::new(shared, peer, headers);
        return catalog_items(&caller, host, &id, (page, limit)).await;
    }
    let mut search = json!({"collections": [id]});
    if let Some(page) = page {
        search["page"] = page.into();
    }
    if let Some(limit) = limit {
        // Clamped here, as the route promises: passed on whole, a larger one would be refused
        // by the search's checks at `["body", "limit"]`, though this request has no body.
        search["limit"] = limit.min(crate::ops::item_search::stac_page_limit()).into();
    }
    let caller = Caller::new(shared, peer, headers);
    let mut answer = match caller.run("stac.search", &search).await {
        Ok(answer) => answer,
        Err(answer) => return answer,
    };
    let page = answer["context"]["page"].as_i64().unwrap_or(1);
    let limit = answer["context"]["limit"].as_i64().unwrap_or(1);
    let matched = answer["numberMatched"].as_i64().unwrap_or(0);
    if matched == 0 {
        if let Err(answer) = held_collection(&caller, &id).await {
            return answer;
        }
    }
    let links = match page_links(&caller.shared.base_url, &id, (page, limit), matched) {
        Ok(links) => links,
        Err(broken) => return broken.into_response(),
    };
    answer["links"] = links;
    geo_json(&answer)
}

/// How many of a catalog collection's items a page holds when the request does not say: as
/// many as a page of the organization's own items holds by default.
const CATALOG_PAGE_DEFAULT: i64 = 10;

/// A page of the catalog's collection `id` (served by `host`), paged as the organization's
/// own collections are: `catalog.search` for the caller through the pipeline, started at the
/// page's first match by the token a page ending there would have handed out, `limit` held
/// to that operation's bounds. Its `next` token is left out: the page links to the next page.
/// A collection the organization could search by `catalog.search` is public to it, so its
/// items were listed by `stac.search`, which holds only the organization's own: none.
async fn catalog_items(
    caller: &Caller,
    host: &str,
    id: &str,
    (page, limit): (Option<i64>, Option<i64>),
) -> Response {
    let page = page.unwrap_or(1);
    let limit = limit
        .unwrap_or(CATALOG_PAGE_DEFAULT)
        .min(crate::ops::item_search::page_limit(
            &geopera_types::schemas::CATALOG_SEARCH_INPUT,
        ));
    let mut search = json!({"host_name": host, "collections": [id], "limit": limit});
    let offset =
        usize::try_from(page.saturating_sub(1).saturating_mul(limit)).unwrap_or(usize::MAX);
    if offset > 0 {
        match crate::catalog::token_at(&search, offset, caller.shared.seed) {
            Some(token) => search["next"] = token.into(),
            None => {
                return ApiError::problem(StatusCode::BAD_REQUEST, "no such page").into_response()
            }
        }
    }
    let mut answer = match caller.run("catalog.search", &search).await {
        Ok(answer) => answer,
        Err(answer) => return answer,
    };
    let matched = answer["numberMatched"].as_i64().unwrap_or(0);
    if let Some(members) = answer.as_object_mut() {
        members.remove("next");
        members.insert(
            "context".to_owned(),
            json!({"page": page, "limit": limit, "matched": matched,
                   "returned": members.get("numberReturned").cloned().unwrap_or(Value::Null)}),
        );
    }
    let links = match page_links(&caller.shared.base_url, id, (page, limit), matched) {
        Ok(links) => links,
        Err(broken) => return broken.into_response(),
    };
    answer["links"] = links;
    geo_json(&answer)
}

/// The links of one page of collection `id`'s items: itself, the collection, and the next
/// page while `matched` items reach past this one.
fn page_links(
    base: &str,
    id: &str,
    (page, limit): (i64, i64),
    matched: i64,
) -> Result<Value, ApiError> {
    let items = ["collections", id, "items"];
    let at = |rel: &str, page: i64| -> Result<Value, ApiError> {
        let query = [("page", page.to_string()), ("limit", limit.to_string())];
        let href = href(base, &items, &query)?;
        Ok(json!({"rel": rel, "type": "application/geo+json", "href": href}))
    };
    let collection = href(base, &["collections", id], &[])?;
    let mut links = vec![
        at("self", page)?,
        json!({"rel": "collection", "type": "application/json", "href": collection}),
    ];
    if page.saturating_mul(limit) < matched {
        links.push(at("next", page.saturating_add(1))?);
    }
    Ok(Value::Array(links))
}

/// `GET /collections/{collection_id}/items/{item_id}`: the item as `items.get_stac` answers
/// it, when it is in that collection; one URL per item.
pub(crate) async fn collection_item(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiPath((collection, item)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match stac_item(Caller::new(shared, peer, headers), &item).await {
        Ok(feature) if feature["collection"] == collection.as_str() => geo_json(&feature),
        Ok(_) => ApiError::not_found(format!(
            "item '{item}' not found in collection '{collection}'"
        ))
        .into_response(),
        Err(answer) => answer,
    }
}

/// `GET /items/{item_id}`: the item as `items.get_stac` answers it.
pub(crate) async fn item(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiPath(item): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    match stac_item(Caller::new(shared, peer, headers), &item).await {
        Ok(feature) => geo_json(&feature),
        Err(answer) => answer,
    }
}

/// The organization's item `item` as `items.get_stac` answers it to `caller`.
async fn stac_item(caller: Caller, item: &str) -> Result<Value, Response> {
    caller
        .run("items.get_stac", &json!({"item_id": item}))
        .await
}

/// The `page` and `limit` of an items page, each a whole number from 1 when given. Any other
/// parameter is refused rather than ignored: a filter (`bbox`, `datetime`) left out would
/// answer items the client asked not to see.
fn paging(query: Option<&str>) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let mut page = None;
    let mut limit = None;
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match name.as_ref() {
            "page" => &mut page,
            "limit" => &mut limit,
            _ => {
                return Err(ApiError::problem(
                    StatusCode::BAD_REQUEST,
                    "a collection's items are paged by 'page' and 'limit' only; search with \
                     stac.search",
                ))
            }
        };
        let number = value.parse::<i64>().ok().filter(|n| *n >= 1);
        match (number, slot.is_some()) {
            (Some(number), false) => *slot = Some(number),
            _ => {
                return Err(ApiError::problem(
                    StatusCode::BAD_REQUEST,
                    format!("'{name}' is given once, as a whole number from 1"),
                ))
            }
        }
    }
    Ok((page, limit))
}

/// `base` with `segments` each escaped as one path segment and `query` form-encoded, so a
/// collection id from the request's path stays one segment of the link.
///
/// # Errors
/// 500 when the base URL cannot take a path, which a running emulator's always can.
fn href(base: &str, segments: &[&str], query: &[(&str, String)]) -> Result<String, ApiError> {
    let broken = |why: String| ApiError::problem(StatusCode::INTERNAL_SERVER_ERROR, why);
    let mut url = url::Url::parse(base)
        .map_err(|e| broken(format!("the emulator's base URL is not a URL: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| broken("the emulator's base URL cannot take a path".to_owned()))?
        .pop_if_empty()
        .extend(segments);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url.into())
}
