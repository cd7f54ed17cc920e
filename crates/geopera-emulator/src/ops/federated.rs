//! `catalog.federated_search`: one search across the catalog's sources, answered with how
//! many matches each source gave.
//!
//! The sources are the catalog's two hosts, the open archive and the commercial one; a
//! source id the catalog does not know is reported in `sources` with an error (once, however
//! often it is named) rather than refused, as a federation reports a source that failed; more
//! than [`MAX_UNKNOWN_SOURCES`] of them are refused, as an answer reporting each would be
//! many times the size of the request.
//! `data_types` keeps items of those kinds: the catalog holds `optical` and `sar`.

use std::collections::HashSet;

use geopera_types::JsonObject;
use serde_json::{json, Value};

use super::{Ctx, Outcome};
use crate::catalog::{Search, COMMERCIAL_HOST, PUBLIC_HOST};
use crate::error::ApiError;

/// The most source ids the catalog does not know one search may name.
pub(crate) const MAX_UNKNOWN_SOURCES: usize = 100;

/// The sources, with the titles answered for them.
const SOURCES: [(&str, &str); 2] = [
    (PUBLIC_HOST, "Open archive (Sentinel, Landsat)"),
    (COMMERCIAL_HOST, "Geopera commercial archive"),
];

pub(crate) fn search(ctx: &Ctx<'_>, mut body: JsonObject) -> Outcome {
    // The sources are chosen here, not by the single-host rule of `catalog.search`; and
    // the operation has no pages, so a `next` (which it does not declare) is ignored as any
    // undeclared member is, not read as a page of some `catalog.search`.
    body.remove("host_name");
    body.remove("next");
    // Sets: every catalog item is looked up in them, which costs the same however long the
    // lists; compared one by one, a body of a million ids cost seconds of a worker thread.
    let wanted: Option<HashSet<String>> =
        body.get("source_ids").and_then(Value::as_array).map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        });
    // Kinds of data the catalog does not hold match nothing, as a source it does not know.
    let kinds: Option<HashSet<String>> =
        body.get("data_types")
            .and_then(Value::as_array)
            .map(|kinds| {
                kinds
                    .iter()
                    .filter_map(|kind| kind.as_str().map(str::to_ascii_lowercase))
                    .collect()
            });
    // In the order named, so that the answer lists them as asked.
    let mut unknown: Vec<&str> = Vec::new();
    if let Some(Value::Array(ids)) = body.get("source_ids") {
        let mut seen = HashSet::new();
        for id in ids.iter().filter_map(Value::as_str) {
            if !SOURCES.iter().any(|(known, _)| *known == id) && seen.insert(id) {
                unknown.push(id);
            }
        }
    }
    if unknown.len() > MAX_UNKNOWN_SOURCES {
        return Err(ApiError::invalid(
            &["source_ids"],
            format!(
                "source_ids names {} sources the catalog does not know; a search names at \
                 most {MAX_UNKNOWN_SOURCES}",
                unknown.len()
            ),
        ));
    }
    let unknown: Vec<String> = unknown.into_iter().map(str::to_owned).collect();
    let search = Search::parse(&Value::Object(body), ctx.shared.seed)?;
    let chosen = |source: &str| wanted.as_ref().is_none_or(|ids| ids.contains(source));
    let of_kind = |kind: &str| kinds.as_ref().is_none_or(|kinds| kinds.contains(kind));
    let matches: Vec<_> = search
        .all(&ctx.shared.catalog)
        .into_iter()
        .filter(|item| chosen(item.source()) && of_kind(item.data_type()))
        .collect();
    let mut sources: Vec<Value> = SOURCES
        .iter()
        .filter(|(id, _)| chosen(id))
        .map(|(id, title)| {
            let count = matches.iter().filter(|item| item.source() == *id).count();
            json!({"source_id": id, "title": title, "count": count, "error": null})
        })
        .collect();
    for unknown in &unknown {
        sources.push(json!({
            "source_id": unknown,
            "title": unknown,
            "count": 0,
            "error": "unknown source",
        }));
    }
    let features: Vec<Value> = matches
        .iter()
        .take(search.limit)
        .map(|item| item.to_feature(&ctx.shared.base_url))
        .collect();
    Ok(ctx.ok(&json!({
        "type": "FeatureCollection",
        "numberReturned": features.len(),
        "features": features,
        "sources": sources,
    })))
}
