//! `catalog.*`: searching the synthetic catalog and its image redirects.

use bytes::Bytes;
use geopera_types::models::ImageAssetInput;
use geopera_types::operations as op;
use geopera_types::{JsonObject, LocItem, Operation as _};
use http::header::{HeaderName, HeaderValue, LOCATION};
use http::StatusCode;
use serde_json::{json, Value};

use super::{Ctx, Outcome};
use crate::catalog::Search;
use crate::error::{ApiError, Reply};

/// One page of matches.
pub(crate) fn search(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let search = Search::parse(&Value::Object(body), ctx.shared.seed)?;
    let page = search.run(&ctx.shared.catalog, ctx.shared.seed);
    Ok(Reply {
        status: ctx.status(),
        content_type: "application/json",
        headers: Vec::new(),
        body: Bytes::from(page.write(&ctx.shared.features)),
    })
}

/// Every match, one GeoJSON feature per line; from where the `next` token's page starts
/// when the body gives one, and the first `limit` of them when it gives a limit, as a page
/// would hold.
///
/// The contract leaves the body free-form, but it is a search's: it is checked as
/// `catalog.search` checks its own, bar the host, which a stream may leave out, and a `null`
/// limit, which streams every match. Unchecked, a
/// filter of another type (`"collections": "sentinel-1-grd"`, a text where a list belongs)
/// was read as no filter, and every item streamed.
pub(crate) fn search_stream(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let limited = body.get("limit").is_some_and(|limit| !limit.is_null());
    let body = Value::Object(body);
    let at = |field: &str| [LocItem::from("body"), LocItem::from(field)];
    // A `null` limit streams every match, where a page must have one.
    let unlimited = body.get("limit").is_some_and(Value::is_null);
    let failures: Vec<_> = geopera_types::validate::validate(op::CatalogSearch::INFO.input, &body)
        .into_iter()
        .filter(|failure| !(failure.r#type == "missing" && failure.loc == at("host_name")))
        .filter(|failure| !(unlimited && failure.loc == at("limit")))
        .collect();
    if !failures.is_empty() {
        return Err(ApiError::Validation(failures));
    }
    let search = Search::parse(&body, ctx.shared.seed)?;
    let most = if limited { search.limit } else { usize::MAX };
    let mut out = Vec::new();
    for item in search
        .all(&ctx.shared.catalog)
        .into_iter()
        .skip(search.offset)
        .take(most)
    {
        if serde_json::to_writer(&mut out, &item.to_feature(&ctx.shared.base_url)).is_ok() {
            out.push(b'\n');
        }
    }
    Ok(Reply {
        status: ctx.status(),
        content_type: geopera_types::NDJSON,
        headers: Vec::new(),
        body: Bytes::from(out),
    })
}

pub(crate) fn quicklook(ctx: &Ctx<'_>, input: ImageAssetInput) -> Outcome {
    image_redirect(ctx, &input.image_id, "quicklook")
}

pub(crate) fn thumbnail(ctx: &Ctx<'_>, input: ImageAssetInput) -> Outcome {
    image_redirect(ctx, &input.image_id, "thumbnail")
}

/// A 307 to the image on the emulator's own asset route, as the API redirects to its CDN.
fn image_redirect(ctx: &Ctx<'_>, id: &str, kind: &str) -> Outcome {
    if ctx.shared.catalog.get(id).is_none() {
        return Err(ApiError::not_found(format!("image '{id}' not found")));
    }
    let location = format!("{}/assets/{kind}/{id}.png", ctx.shared.base_url);
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.push((LOCATION, value));
    }
    Ok(Reply {
        status: StatusCode::TEMPORARY_REDIRECT,
        content_type: "application/json",
        headers,
        body: Bytes::from(serde_json::to_vec(&json!({"location": location})).unwrap_or_default()),
    })
}
