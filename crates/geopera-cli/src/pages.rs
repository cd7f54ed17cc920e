//! `--all`: every item of every page of a paged operation, one compact JSON document per line.
//!
//! Pages are walked with the SDK's `PageWalk`, so they move and stop as its `items` streams
//! do (a cursor that repeats ends the walk with an error, exit 1), and items are found where
//! `page_item_field` says; but by operation id and over the raw answers, so each item is
//! printed with the server's member order and number spelling. Each page is printed as soon as
//! it arrives; memory holds one page at a time.

use std::collections::BTreeMap;

use geopera::{Geopera, PageWalk, Request};
use geopera_types::OperationInfo;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::call::{self, Settings};
use crate::failure::{Failure, Outcome};
use crate::json;

/// The raw items of one page; `Ok(None)` when the page holds no list of items at all, which
/// is not an empty page but an answer the walk cannot read.
fn items_of<'a>(
    raw: &'a str,
    page: &Value,
) -> Result<Option<Vec<&'a RawValue>>, serde_json::Error> {
    if page.is_array() {
        return serde_json::from_str(raw).map(Some);
    }
    let Some(field) = page.as_object().and_then(geopera::page_item_field) else {
        return Ok(None);
    };
    let raw_members: BTreeMap<String, &'a RawValue> = serde_json::from_str(raw)?;
    match raw_members.get(field) {
        Some(items) => serde_json::from_str(items.get()).map(Some),
        None => Ok(None),
    }
}

/// Calls the operation page after page and prints every item as it comes.
pub(crate) async fn walk(
    client: &Geopera,
    info: &'static OperationInfo,
    body: Value,
    settings: &Settings,
) -> Outcome {
    let Value::Object(body) = body else {
        return Err(Failure::usage("--all needs a JSON object body"));
    };
    let mut walk = PageWalk::new(info, body);
    while let Some(body) = walk.next_body() {
        // No `--idempotency-key`: `--all` refuses it, as one key cannot name every page.
        let request = Request::new(Value::Object(body.clone()));
        let response = call::answer(client, info.id, request)
            .await
            .map_err(|e| call::sdk_failure(info.id, client.client().base_url(), settings, &e))?;
        if !response.status.is_success() {
            return Err(call::api_failure(info.id, &response));
        }
        let raw = std::str::from_utf8(&response.content)
            .map_err(|e| call::not_utf8(&format!("a page of {}", info.id), &e))?;
        // Read into a tree with lone surrogates replaced, in as many bytes: each item is then
        // printed from the answer as it came, at the same place.
        let readable = json::lone_surrogates_replaced(raw);
        let page: Value = serde_json::from_str(&readable)
            .map_err(|e| Failure::other(format!("a page of {} is not JSON: {e}", info.id)))?;
        let items = items_of(&readable, &page)
            .map_err(|e| {
                Failure::other(format!(
                    "a page of {} cannot be split into items: {e}",
                    info.id
                ))
            })?
            .ok_or_else(|| {
                Failure::other(format!(
                    "a page of {} holds no list of items, so --all cannot walk it",
                    info.id
                ))
            })?;
        // A page answered again ends the walk with an error before it is printed twice; a
        // cursor that came round again ends it after its page, which is new, is printed.
        // Either way what was printed stays printed, and the exit code says it may not be
        // everything.
        let items: Vec<&str> = items
            .iter()
            .map(|item| {
                let at = (item.get().as_ptr() as usize).wrapping_sub(readable.as_ptr() as usize);
                raw.get(at..at.saturating_add(item.get().len()))
                    .unwrap_or(item.get())
            })
            .collect();
        let moved = walk.advance(&page, items.len());
        if let Err(error @ geopera::Error::RepeatedPage { .. }) = &moved {
            return Err(Failure::other(error.to_string()));
        }
        let printed = match &settings.jq {
            // `--jq` filters each item; its results are printed as lines, as they come.
            Some(expr) => items.iter().try_for_each(|item| {
                call::warn_repeated_before_jq(item);
                crate::jq::run(expr, item, |line| {
                    call::print(&json::escape_controls(&line))
                })
            }),
            None => {
                let lines: Vec<String> = items
                    .iter()
                    .map(|item| json::compact(item).unwrap_or_else(|| (*item).to_owned()))
                    .collect();
                if lines.is_empty() {
                    Ok(())
                } else {
                    call::print(&lines.join("\n"))
                }
            }
        };
        // With its causes: a decode error names what was wrong with the page only there. Known
        // before the page was printed, it outlives a quiet stop there (stdout closed, `halt`).
        let moved = moved.map_err(|e| Failure::other(crate::failure::chain(&e)));
        Failure::known_after_printing(printed, moved)?;
    }
    Ok(())
}
