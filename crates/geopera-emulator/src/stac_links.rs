//! `GET /collections/{collection_id}`: where the `collection` links of the emulator's STAC
//! items lead (a catalog feature's, and one that `items.get_stac` or `stac.search` answers),
//! so a STAC client that follows one gets the collection rather than 404.
//!
//! The catalog's collections are public, as its assets are. An organization's collection is
//! its own: the request runs through the pipeline as `stac.collections.list`, the operation
//! whose answer holds the same document, with the request's credentials, so it is
//! authenticated, rate limited and scoped as that operation is, and another organization's
//! collection is 404 as it is everywhere.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

use crate::error::{ApiError, ApiPath, Reply};
use crate::pipeline;
use crate::state::Shared;

/// The most of `stac.collections.list`'s answer read back; an organization's collections
/// are bounded, so a larger answer means something else went wrong.
const MOST_LISTING_BYTES: usize = 64 * 1024 * 1024;

pub(crate) async fn collection(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(document) = crate::catalog::collection_document(&id, &shared.base_url) {
        return Reply::json(StatusCode::OK, &document).into_response();
    }
    let request = pipeline::Request {
        id: "stac.collections.list",
        peer,
        method: &Method::POST,
        headers: &headers,
        body: Bytes::from_static(b"{}"),
    };
    let listing = pipeline::run(&shared, request, None).await;
    if listing.status() != StatusCode::OK {
        // Refused (unauthenticated, limited, missing scope, a fault): answered as the
        // operation was.
        return listing;
    }
    let body = match axum::body::to_bytes(listing.into_body(), MOST_LISTING_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            return ApiError::problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the organization's collections could not be read: {error}"),
            )
            .into_response()
        }
    };
    let found = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|mut listing| {
            let collections = listing.get_mut("collections")?.as_array_mut()?;
            let at = collections.iter().position(|c| c["id"] == id.as_str())?;
            Some(collections.swap_remove(at))
        });
    match found {
        Some(document) => Reply::json(StatusCode::OK, &document).into_response(),
        None => ApiError::not_found(format!("collection '{id}' not found")).into_response(),
    }
}
