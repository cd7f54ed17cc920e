//! `--all`: every item of every page of a paged operation, one compact JSON document per line.
//!
//! Pages are walked as the SDK's `items` streams do (cursor `next`, `limit`/`offset`,
//! `page`/`size`, `limit`/`page`; stop on an empty or short page, past `totalPages`, without
//! a cursor, or — failing, exit 1 — when a cursor repeats), but by operation id and over the raw answers, so each
//! item is printed with the server's member order and number spelling. Each page is printed
//! as soon as it arrives; memory holds one page at a time.

use std::collections::BTreeMap;

use geopera::{CursorTrail, Geopera, Request};
use geopera_types::{OperationInfo, Paging};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::call::{self, Settings};
use crate::failure::{Failure, Outcome};
use crate::json;

/// Members that commonly hold a page's items, tried in this order (as the SDK does).
const ITEM_FIELDS: &[&str] = &["features", "items", "content", "results", "data"];

/// The raw items of one page.
fn items_of<'a>(raw: &'a str, page: &Value) -> Result<Vec<&'a RawValue>, serde_json::Error> {
    if page.is_array() {
        return serde_json::from_str(raw);
    }
    let Some(members) = page.as_object() else {
        return Ok(Vec::new());
    };
    let field = ITEM_FIELDS
        .iter()
        .copied()
        .find(|f| members.get(*f).is_some_and(Value::is_array))
        .map(str::to_owned)
        .or_else(|| {
            let mut arrays = members.iter().filter(|(_, v)| v.is_array());
            match (arrays.next(), arrays.next()) {
                (Some((name, _)), None) => Some(name.clone()),
                _ => None,
            }
        });
    let Some(field) = field else {
        return Ok(Vec::new());
    };
    let raw_members: BTreeMap<String, &'a RawValue> = serde_json::from_str(raw)?;
    match raw_members.get(&field) {
        Some(items) => serde_json::from_str(items.get()),
        None => Ok(Vec::new()),
    }
}

/// Calls the operation page after page and prints every item as it comes.
pub(crate) async fn walk(
    client: &Geopera,
    info: &'static OperationInfo,
    body: Value,
    settings: &Settings,
) -> Outcome {
    let Value::Object(mut body) = body else {
        return Err(Failure::usage("--all needs a JSON object body"));
    };
    let mut cursors = CursorTrail::new();
    let mut pages: u64 = 0;
    loop {
        let mut request = Request::new(Value::Object(body.clone()));
        if let Some(key) = &settings.idempotency_key {
            request = request.idempotency_key(key.clone());
        }
        let response = client
            .invoke_request(info.id, request)
            .await
            .map_err(|e| call::sdk_failure(info.id, client.client().base_url(), settings, &e))?;
        if !response.status.is_success() {
            return Err(call::api_failure(info.id, &response));
        }
        let raw = String::from_utf8_lossy(&response.content);
        let page: Value = serde_json::from_str(&raw)
            .map_err(|e| Failure::other(format!("a page of {} is not JSON: {e}", info.id)))?;
        let items = items_of(&raw, &page).map_err(|e| {
            Failure::other(format!(
                "a page of {} cannot be split into items: {e}",
                info.id
            ))
        })?;
        let mut lines: Vec<String> = Vec::with_capacity(items.len());
        for item in &items {
            match &settings.jq {
                // `--jq` filters each item; its results are printed as lines too.
                Some(expr) => lines.extend(
                    crate::jq::run(expr, item.get())?
                        .iter()
                        .map(|line| json::escape_controls(line).into_owned()),
                ),
                None => {
                    lines.push(json::compact(item.get()).unwrap_or_else(|| item.get().to_owned()))
                }
            }
        }
        if !lines.is_empty() {
            call::print(&lines.join("\n"))?;
        }
        pages += 1;
        match advance(info, &mut body, &page, items.len(), &mut cursors) {
            Next::Page => {}
            Next::End => return Ok(()),
            // What was printed stays printed; the exit code says it may not be everything.
            Next::Circle => {
                return Err(Failure::other(format!(
                    "{} sent a cursor it had already sent; stopped after {pages} pages instead \
                     of going round again, so later pages may be missing",
                    info.id
                )))
            }
        }
    }
}

fn as_i64(body: &Map<String, Value>, key: &str) -> Option<i64> {
    body.get(key).and_then(Value::as_i64)
}

/// Where a walk goes after a page.
enum Next {
    /// To the page the body now asks for.
    Page,
    /// Nowhere: that was the last page.
    End,
    /// Nowhere, although the server named a next page: its cursor came round again.
    Circle,
}

impl From<bool> for Next {
    fn from(more: bool) -> Self {
        if more {
            Next::Page
        } else {
            Next::End
        }
    }
}

/// Moves the body to the next page, if there is one.
fn advance(
    info: &OperationInfo,
    body: &mut Map<String, Value>,
    page: &Value,
    count: usize,
    cursors: &mut CursorTrail,
) -> Next {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    if count == 0 {
        return Next::End;
    }
    match info.paging {
        Paging::None => Next::End,
        Paging::Cursor => match page.get("next").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => {
                if !cursors.first_visit(next) {
                    return Next::Circle;
                }
                body.insert("next".into(), Value::String(next.to_owned()));
                Next::Page
            }
            _ => Next::End,
        },
        Paging::Offset => {
            let limit = as_i64(body, "limit").unwrap_or(count);
            let offset = as_i64(body, "offset").unwrap_or(0);
            body.insert("offset".into(), (offset + count).into());
            (count >= limit).into()
        }
        Paging::PageSize | Paging::LimitPage => {
            let per_page_key = if info.paging == Paging::PageSize {
                "size"
            } else {
                "limit"
            };
            let per_page = as_i64(body, per_page_key).unwrap_or(count);
            let current = as_i64(body, "page").unwrap_or(0);
            let total_pages = page.get("totalPages").and_then(Value::as_i64);
            body.insert("page".into(), (current + 1).into());
            (count >= per_page && total_pages.is_none_or(|total| current + 1 < total)).into()
        }
    }
}
