//! What each operation does once a request has passed authentication, limits, scope checks
//! and validation.

use std::collections::BTreeMap;

use bytes::Bytes;
use geopera_types::sample::sample;
use geopera_types::{OperationInfo, Shape};
use http::header::{HeaderName, HeaderValue, LOCATION};
use http::StatusCode;
use serde_json::{json, Value};

use crate::catalog::{bbox_area_km2, geometry_area_km2, Search, MIN_AREA_KM2};
use crate::clock::rfc3339;
use crate::error::{ApiError, Reply};
use crate::rng::{fnv, Rng};
use crate::scopes::check_new_key;
use crate::state::{Order, OrderKind, Shared};

/// Open data is free; delivering it costs this much per km².
pub const OPEN_DATA_AUD_PER_KM2: f64 = 0.001;
/// Items every project holds for `items.list`.
pub const PROJECT_ITEMS: usize = 300;
/// The largest page `orders.list` and `items.list` answer; larger requests get this many.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The organization, or `ip:<addr>` when unauthenticated.
    pub org: String,
    /// The grants of the credential used.
    pub grants: Vec<String>,
}

/// Runs an operation.
///
/// # Errors
/// Domain failures (unknown resources, conflicts, insufficient credits) as [`ApiError`].
pub fn execute(
    shared: &Shared,
    caller: &Caller,
    op: &'static OperationInfo,
    body: &Value,
) -> Result<Reply, ApiError> {
    let status = StatusCode::from_u16(op.success_status).unwrap_or(StatusCode::OK);
    let ok = |value: Value| Ok(Reply::json(status, &value));
    match op.id {
        "catalog.search" => {
            let search = Search::parse(body, shared.seed)?;
            let page = search.run(&shared.catalog, shared.seed);
            ok(page.to_json(&shared.base_url))
        }
        "catalog.search_stream" => {
            let search = Search::parse(body, shared.seed)?;
            let mut out = Vec::new();
            for item in search.all(&shared.catalog) {
                if serde_json::to_writer(&mut out, &item.to_feature(&shared.base_url)).is_ok() {
                    out.push(b'\n');
                }
            }
            Ok(Reply {
                status,
                content_type: "application/x-ndjson",
                headers: Vec::new(),
                body: Bytes::from(out),
            })
        }
        "catalog.image.quicklook" | "catalog.image.thumbnail" => image_redirect(shared, op, body),
        "orders.archive.estimate" => {
            let priced = price_archive(shared, body);
            ok(json!({
                "groups": priced.groups,
                "errors": priced.errors,
                "total_aud": aud(priced.credits),
                "total_credits": priced.credits,
            }))
        }
        "orders.tasking.estimate" => {
            let priced = price_tasking(body);
            ok(json!({
                "groups": priced.groups,
                "errors": priced.errors,
                "totalAud": aud(priced.credits),
                "totalCredits": priced.credits,
            }))
        }
        "orders.archive.place" => {
            let priced = price_archive(shared, body);
            if priced.groups.is_empty() || !priced.errors.is_empty() {
                return Err(ApiError::invalid(
                    &["captures"],
                    "captures must list at least one known capture id",
                ));
            }
            place(shared, caller, status, OrderKind::Archive, body, priced)
        }
        "orders.tasking.place" => {
            let priced = price_tasking(body);
            if priced.groups.is_empty() || !priced.errors.is_empty() {
                return Err(ApiError::invalid(
                    &["groups"],
                    "groups must each have a polygon geometry",
                ));
            }
            place(shared, caller, status, OrderKind::Tasking, body, priced)
        }
        "orders.place" => {
            let product = body
                .get("dataProduct")
                .and_then(Value::as_str)
                .unwrap_or("order");
            let area = body
                .get("featureCollection")
                .and_then(geometry_area_km2)
                .unwrap_or(0.0)
                .max(MIN_AREA_KM2);
            let credits = to_credits(area * tasking_rate(product));
            let priced = Priced {
                groups: vec![
                    json!({"dataProduct": product, "areaKm2": round2(area), "totalCredits": credits}),
                ],
                errors: Vec::new(),
                credits,
            };
            place(shared, caller, status, OrderKind::Generic, body, priced)
        }
        "orders.get" => {
            let id = body
                .get("order_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let now = shared.clock.now_secs();
            let mut inner = shared.lock();
            inner.org(&caller.org, shared.seed, now);
            match inner.orders.get(id).filter(|order| order.org == caller.org) {
                Some(order) => ok(order_json(order, now)),
                None => Err(ApiError::not_found(format!("order '{id}' not found"))),
            }
        }
        "orders.list" => Ok(list_orders(shared, caller, status, body)),
        "orders.cancel" => {
            let id = body
                .get("order_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let now = shared.clock.now_secs();
            let mut inner = shared.lock();
            inner.org(&caller.org, shared.seed, now);
            let Some(order) = inner
                .orders
                .get_mut(id)
                .filter(|order| order.org == caller.org)
            else {
                return Err(ApiError::not_found(format!("order '{id}' not found")));
            };
            match order.status(now) {
                "fulfilled" => Err(ApiError::conflict(format!(
                    "order '{id}' is fulfilled and can no longer be cancelled"
                ))),
                "cancelled" => Err(ApiError::conflict(format!(
                    "order '{id}' is already cancelled"
                ))),
                _ => {
                    order.cancelled_at = Some(now);
                    let refund = order.total_credits;
                    let reply =
                        json!({"orderId": id, "status": "cancelled", "refundedCredits": refund});
                    let org = inner.org(&caller.org, shared.seed, now);
                    org.balance_credits = org.balance_credits.saturating_add(refund);
                    ok(reply)
                }
            }
        }
        "api_keys.create" => {
            let name = body.get("name").and_then(Value::as_str).unwrap_or("key");
            let new_key = check_new_key(&caller.grants, body)?;
            let now = shared.clock.now_secs();
            let expires_at = new_key
                .lifetime_days
                .map(|days| now.saturating_add(days.saturating_mul(86_400)));
            let grants = new_key.grants;
            let (secret, key) = shared.create_key(&caller.org, name, grants, expires_at);
            ok(json!({
                "id": key.id,
                "key": secret,
                "prefix": key.prefix,
                "name": key.name,
                "permissions": key.grants,
                "expires_at": key.expires_at.map(rfc3339),
                "created_at": rfc3339(key.created_at),
            }))
        }
        "api_keys.list" => {
            let inner = shared.lock();
            let mut keys: Vec<_> = inner
                .credentials
                .values()
                .filter(|key| key.org == caller.org && !key.session)
                .collect();
            keys.sort_by(|a, b| {
                a.created_at
                    .cmp(&b.created_at)
                    .then_with(|| a.id.cmp(&b.id))
            });
            let keys: Vec<Value> = keys
                .into_iter()
                .map(|key| {
                    json!({
                        "id": key.id,
                        "prefix": key.prefix,
                        "name": key.name,
                        "permissions": key.grants,
                        "expires_at": key.expires_at.map(rfc3339),
                        "created_at": rfc3339(key.created_at),
                        "revoked": key.revoked,
                    })
                })
                .collect();
            ok(json!({"total": keys.len(), "keys": keys}))
        }
        "api_keys.revoke" => {
            let id = body
                .get("key_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut inner = shared.lock();
            let found = inner
                .credentials
                .values_mut()
                .find(|key| key.id == id && key.org == caller.org && !key.session);
            match found {
                Some(key) => {
                    key.revoked = true;
                    ok(json!({"ok": true, "id": id}))
                }
                None => Err(ApiError::not_found(format!("API key '{id}' not found"))),
            }
        }
        "billing.credits.balance" => {
            let now = shared.clock.now_secs();
            let mut inner = shared.lock();
            let balance = inner.org(&caller.org, shared.seed, now).balance_credits;
            ok(json!({
                "organization_id": caller.org,
                "credits": balance,
                "balance_credits": balance,
                "balance_aud": aud(balance),
                "currency": "AUD",
            }))
        }
        "billing.topup" => {
            let credits = if let Some(credits) = body.get("credits").and_then(Value::as_i64) {
                credits
            } else if let Some(amount) = ["amount_aud", "amountAud", "amount"]
                .iter()
                .find_map(|name| body.get(*name).and_then(Value::as_f64))
            {
                to_credits(amount)
            } else {
                return Err(ApiError::invalid(
                    &["amount_aud"],
                    "give amount_aud (A$) or credits",
                ));
            };
            if !(1..=1_000_000_000).contains(&credits) {
                return Err(ApiError::invalid(
                    &["amount_aud"],
                    "the amount must be positive and at most A$10,000,000",
                ));
            }
            let now = shared.clock.now_secs();
            let mut inner = shared.lock();
            let topup_id = format!("top_{}", inner.rng.hex(8));
            let org = inner.org(&caller.org, shared.seed, now);
            org.balance_credits = org.balance_credits.saturating_add(credits);
            let balance = org.balance_credits;
            ok(json!({
                "id": topup_id,
                "credits_added": credits,
                "amount_aud": aud(credits),
                "balance_credits": balance,
                "balance_aud": aud(balance),
                "currency": "AUD",
                "created_at": rfc3339(now),
            }))
        }
        "items.list" => Ok(list_project_items(shared, status, body)),
        "webhooks.drain" => ok(json!({"drained": 0, "remaining": 0})),
        _ => {
            let value = match op.output.resolve() {
                Shape::Any => json!({"ok": true, "operation_id": op.id}),
                _ => sample(op.output, shared.seed ^ fnv(op.id)),
            };
            let mut reply = Reply::json(status, &value);
            if op.id == "items.get_stac" {
                reply.content_type = "application/geo+json";
            }
            Ok(reply)
        }
    }
}

fn image_redirect(shared: &Shared, op: &OperationInfo, body: &Value) -> Result<Reply, ApiError> {
    let id = body
        .get("image_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if shared.catalog.get(id).is_none() {
        return Err(ApiError::not_found(format!("image '{id}' not found")));
    }
    let kind = if op.id.ends_with("thumbnail") {
        "thumbnail"
    } else {
        "quicklook"
    };
    let location = format!("{}/assets/{kind}/{id}.png", shared.base_url);
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

struct Priced {
    groups: Vec<Value>,
    errors: Vec<Value>,
    credits: i64,
}

fn aud(credits: i64) -> f64 {
    credits as f64 / 100.0
}

fn to_credits(aud: f64) -> i64 {
    (aud * 100.0).round().clamp(0.0, 1e15) as i64
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn price_archive(shared: &Shared, body: &Value) -> Priced {
    let split = body
        .get("splitByDate")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let captures = body
        .get("captures")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut groups: BTreeMap<(String, String), (Vec<String>, f64, i64)> = BTreeMap::new();
    let mut errors = Vec::new();
    for (index, capture) in captures.iter().enumerate() {
        let id = capture
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(item) = shared.catalog.get(id) else {
            errors.push(json!({"index": index, "id": id, "message": "unknown capture id"}));
            continue;
        };
        let area = capture
            .get("geometry")
            .and_then(geometry_area_km2)
            .unwrap_or_else(|| bbox_area_km2(&item.bbox));
        let credits = match item.price_aud_per_km2 {
            Some(price) => to_credits(area.max(MIN_AREA_KM2) * price),
            None => to_credits(area * OPEN_DATA_AUD_PER_KM2),
        };
        let date = if split {
            rfc3339(item.datetime)[..10].to_owned()
        } else {
            String::new()
        };
        let entry = groups
            .entry((item.collection().to_owned(), date))
            .or_default();
        entry.0.push(id.to_owned());
        entry.1 += area;
        entry.2 = entry.2.saturating_add(credits);
    }
    let mut total: i64 = 0;
    let groups = groups
        .into_iter()
        .map(|((collection, date), (ids, area, credits))| {
            total = total.saturating_add(credits);
            let mut group = json!({
                "collection": collection,
                "captures": ids,
                "area_km2": round2(area),
                "total_aud": aud(credits),
                "total_credits": credits,
            });
            if let (false, Some(object)) = (date.is_empty(), group.as_object_mut()) {
                object.insert("date".into(), json!(date));
            }
            group
        })
        .collect();
    Priced {
        groups,
        errors,
        credits: total,
    }
}

fn tasking_rate(product: &str) -> f64 {
    let product = product.to_ascii_lowercase();
    if product.contains("sar") {
        6.0
    } else if product.contains("vhr") || product.contains("30cm") || product.contains("50cm") {
        14.0
    } else {
        9.0
    }
}

fn price_tasking(body: &Value) -> Priced {
    let requested = body
        .get("groups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    let mut total: i64 = 0;
    for (index, group) in requested.iter().enumerate() {
        let product = ["product", "dataProduct", "sensor"]
            .iter()
            .find_map(|name| group.get(*name).and_then(Value::as_str))
            .unwrap_or("optical");
        let geometry = ["geometry", "aoi", "featureCollection"]
            .iter()
            .find_map(|name| group.get(*name));
        let Some(area) = geometry
            .and_then(geometry_area_km2)
            .filter(|area| *area > 0.0)
        else {
            errors.push(json!({"index": index, "message": "group needs a polygon geometry"}));
            continue;
        };
        let billed = area.max(MIN_AREA_KM2);
        let credits = to_credits(billed * tasking_rate(product));
        total = total.saturating_add(credits);
        groups.push(json!({
            "index": index,
            "product": product,
            "areaKm2": round2(area),
            "billedAreaKm2": round2(billed),
            "totalAud": aud(credits),
            "totalCredits": credits,
        }));
    }
    Priced {
        groups,
        errors,
        credits: total,
    }
}

fn place(
    shared: &Shared,
    caller: &Caller,
    status: StatusCode,
    kind: OrderKind,
    body: &Value,
    priced: Priced,
) -> Result<Reply, ApiError> {
    let now = shared.clock.now_secs();
    let mut inner = shared.lock();
    let balance = inner.org(&caller.org, shared.seed, now).balance_credits;
    if priced.credits > balance {
        return Err(ApiError::problem(
            StatusCode::PAYMENT_REQUIRED,
            format!(
                "insufficient credits: the order costs {} credits, the balance is {balance}",
                priced.credits
            ),
        ));
    }
    let id = format!("ord_{}", inner.rng.hex(10));
    let display_name = ["displayName", "name"]
        .iter()
        .find_map(|name| body.get(*name).and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned();
    let order = Order {
        id: id.clone(),
        org: caller.org.clone(),
        kind,
        display_name,
        created_at: now,
        cancelled_at: None,
        total_credits: priced.credits,
        detail: json!({"groups": priced.groups}),
    };
    let mut reply = order_json(&order, now);
    if let Some(object) = reply.as_object_mut() {
        object.insert("order_id".into(), json!(id));
        object.insert("total_aud".into(), json!(aud(priced.credits)));
        object.insert("total_credits".into(), json!(priced.credits));
    }
    inner.orders.insert(id.clone(), order);
    let org = inner.org(&caller.org, shared.seed, now);
    org.balance_credits -= priced.credits;
    org.orders.push(id);
    Ok(Reply::json(status, &reply))
}

fn order_json(order: &Order, now: i64) -> Value {
    let status = order.status(now);
    let mut value = json!({
        "orderId": order.id,
        "type": order.kind.name(),
        "status": status,
        "displayName": order.display_name,
        "createdAt": rfc3339(order.created_at),
        "updatedAt": rfc3339(order.cancelled_at.unwrap_or(now.min(order.created_at + 3600))),
        "totalAud": aud(order.total_credits),
        "totalCredits": order.total_credits,
    });
    if let (Some(object), Some(detail)) = (value.as_object_mut(), order.detail.as_object()) {
        for (key, member) in detail {
            object.insert(key.clone(), member.clone());
        }
    }
    value
}

fn list_orders(shared: &Shared, caller: &Caller, status: StatusCode, body: &Value) -> Reply {
    // The contract bounds neither number, so out-of-range values are clamped, not refused.
    let page = body.get("page").and_then(Value::as_i64).unwrap_or(0).max(0);
    let size = body
        .get("size")
        .and_then(Value::as_i64)
        .unwrap_or(20)
        .clamp(1, MAX_PAGE_SIZE);
    let wanted_status = body.get("status").and_then(Value::as_str);
    let wanted_type = body.get("type").and_then(Value::as_str);
    let ascending = body
        .get("sort")
        .and_then(Value::as_str)
        .is_some_and(|sort| sort.ends_with(",asc"));
    let now = shared.clock.now_secs();
    let mut inner = shared.lock();
    let ids = inner.org(&caller.org, shared.seed, now).orders.clone();
    let mut orders: Vec<Value> = ids
        .iter()
        .filter_map(|id| inner.orders.get(id))
        .filter(|order| {
            wanted_status.is_none_or(|wanted| order.status(now).eq_ignore_ascii_case(wanted))
        })
        .filter(|order| {
            wanted_type.is_none_or(|wanted| order.kind.name().eq_ignore_ascii_case(wanted))
        })
        .map(|order| order_json(order, now))
        .collect();
    if !ascending {
        orders.reverse();
    }
    let total = orders.len() as i64;
    let start = usize::try_from(page.saturating_mul(size)).unwrap_or(usize::MAX);
    let content: Vec<Value> = orders.into_iter().skip(start).take(size as usize).collect();
    Reply::json(
        status,
        &json!({
            "content": content,
            "page": page,
            "size": size,
            "totalElements": total,
            "totalPages": (total + size - 1) / size,
        }),
    )
}

fn list_project_items(shared: &Shared, status: StatusCode, body: &Value) -> Reply {
    let project = body
        .get("project_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // As for `orders.list`: unbounded in the contract, so clamped here.
    let limit = body
        .get("limit")
        .and_then(Value::as_i64)
        .unwrap_or(100)
        .clamp(1, MAX_PAGE_SIZE);
    let offset = body
        .get("offset")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0);
    let collection = body.get("collection_id").and_then(Value::as_str);
    let uncollected = body
        .get("uncollected")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut rng = Rng::new(shared.seed ^ fnv(project));
    let tag = rng.hex(4);
    let start = crate::clock::DEFAULT_START_UNIX_SECS;
    let collections = ["col_optical", "col_radar", "col_dem"];
    let all: Vec<Value> = (0..PROJECT_ITEMS)
        .map(|n| {
            let collection_id = (n % 4 != 3).then(|| collections[n % 4 % 3]);
            json!({
                "id": format!("itm_{tag}_{n:04}"),
                "project_id": project,
                "collection_id": collection_id,
                "name": format!("item {n}"),
                "created_at": rfc3339(start - (n as i64) * 3600),
                "size_bytes": 1_000_000 + (rng.next() % 50_000_000),
            })
        })
        .filter(|item| match (uncollected, collection) {
            (true, _) => item["collection_id"].is_null(),
            (false, Some(wanted)) => item["collection_id"] == wanted,
            (false, None) => true,
        })
        .collect();
    let total = all.len();
    let items: Vec<Value> = all
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(limit as usize)
        .collect();
    Reply::json(
        status,
        &json!({"items": items, "total": total, "limit": limit, "offset": offset}),
    )
}
