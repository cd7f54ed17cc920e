//! `orders.*`: pricing, placing, reading, listing and cancelling orders.

use std::collections::{BTreeMap, HashSet};

use geopera_types::models::{
    ArchiveEstimateInput, EstimateInput, OrderCancelInput, OrderGetInput, OrderPlaceInput,
    OrdersListInput, TaskingEstimateInput,
};
use geopera_types::orders::OrderStatus;
use geopera_types::{JsonObject, LocItem, ValidationError};
use http::StatusCode;
use serde_json::{json, Value};

use super::ledger::Reason;
use super::{aud, comma_listed, numbered_page, spring_sorted, to_credits, Ctx, Outcome};
use crate::catalog::{
    area_km2, bbox_area_km2, coverage_of_box, edge_count, enclosed_km2, extent_overlaps, read_area,
    read_polygons, Item, Polygons, MIN_AREA_KM2,
};
use crate::error::{value_error, ApiError};
use crate::records::{Order, OrderKind, FEASIBILITY, HISTORY, QUOTATION};
use crate::state::{Inner, Shared};
use crate::webhooks::{order_event, ORDER_CANCELLED};
use geopera_types::rfc3339::format_date_time;

/// Open data is free; delivering it costs this much per km².
pub const OPEN_DATA_AUD_PER_KM2: f64 = 0.001;

/// The most orders an organization holds, its starting history included. A new order past it
/// retires the oldest that has ended (fulfilled or cancelled): no operation deletes orders,
/// and without a bound a script placing orders in a loop would grow the emulator's memory and
/// state file for as long as it runs.
pub const MAX_ORDERS_PER_ORG: usize = crate::resources::MAX_PER_ORG;

pub(crate) fn archive_estimate(ctx: &Ctx<'_>, input: ArchiveEstimateInput) -> Outcome {
    let captures = objects(input.captures);
    let priced = price_archive(ctx.shared, &captures, input.split_by_date.unwrap_or(false))?;
    Ok(ctx.ok(&json!({
        "groups": priced.groups,
        "errors": priced.errors,
        "total_aud": aud(priced.credits),
        "total_credits": priced.credits,
    })))
}

/// The contract leaves the body free-form; it is read as an archive estimate's.
pub(crate) fn archive_place(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let captures = array(&body, "captures");
    let split = body
        .get("splitByDate")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let priced = price_archive(ctx.shared, &captures, split)?;
    if priced.groups.is_empty() || !priced.errors.is_empty() {
        let first = priced
            .errors
            .first()
            .and_then(|error| error["message"].as_str())
            .unwrap_or("no capture listed");
        return Err(ApiError::invalid(
            &["captures"],
            format!("captures must list known capture ids, each once: {first}"),
        ));
    }
    let name = display_name(&body);
    place_order(ctx, OrderKind::Archive, Named::of(name, &body), priced)
}

pub(crate) fn tasking_estimate(ctx: &Ctx<'_>, input: TaskingEstimateInput) -> Outcome {
    let priced = price_tasking(&objects(input.groups));
    Ok(ctx.ok(&json!({
        "groups": priced.groups,
        "errors": priced.errors,
        "totalAud": aud(priced.credits),
        "totalCredits": priced.credits,
    })))
}

/// The contract leaves the body free-form; it is read as a tasking estimate's.
pub(crate) fn tasking_place(ctx: &Ctx<'_>, body: JsonObject) -> Outcome {
    let priced = price_tasking(&array(&body, "groups"));
    if priced.groups.is_empty() || !priced.errors.is_empty() {
        let first = priced
            .errors
            .first()
            .and_then(|error| error["message"].as_str())
            .unwrap_or("group needs a polygon geometry");
        return Err(ApiError::invalid(
            &["groups"],
            format!(
                "groups must each have a polygon geometry a tasking request can cover: {first}"
            ),
        ));
    }
    let name = display_name(&body);
    place_order(ctx, OrderKind::Tasking, Named::of(name, &body), priced)
}

/// A data product over an area, with the tags it is given (kept as `orders.update` keeps
/// them, and found by `orders.list`'s `tags` filter).
pub(crate) fn place(ctx: &Ctx<'_>, input: OrderPlaceInput) -> Outcome {
    let tags = input.tags.unwrap_or_default();
    super::order_details::check_tags(&tags)?;
    let priced = price_product(&input.data_product, input.feature_collection)?;
    let workspace = Some(input.workspace_id).filter(|id| !id.is_empty());
    let named = Named {
        display_name: input.display_name,
        workspace,
        tags,
    };
    place_order(ctx, OrderKind::Generic, named, priced)
}

/// The workspace a free-form order body names, which its order keeps for filters.
fn workspace(body: &JsonObject) -> Option<String> {
    body.get("workspaceId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// What `orders.place` would charge for the same product and area.
pub(crate) fn estimate(ctx: &Ctx<'_>, input: EstimateInput) -> Outcome {
    let priced = price_product(&input.data_product, input.feature_collection)?;
    Ok(ctx.ok(&json!({
        "groups": priced.groups,
        "totalAud": aud(priced.credits),
        "totalCredits": priced.credits,
    })))
}

/// A data product over a feature collection's area (at least the minimum area, which is also
/// what no feature collection buys), at the product's tasking rate.
///
/// # Errors
/// 422 at `featureCollection` when it is not polygons on the globe: what is not an area, or
/// is off the globe, would otherwise be priced as some other area (or as the minimum).
fn price_product(product: &str, features: Option<JsonObject>) -> Result<Priced, ApiError> {
    let area = match features {
        None => 0.0,
        Some(features) => area_km2(&Value::Object(features)).map_err(|why| {
            ApiError::invalid(
                &["featureCollection"],
                format!("featureCollection must hold the polygons to order: {why}"),
            )
        })?,
    }
    .max(MIN_AREA_KM2);
    let credits = to_credits(area * tasking_rate(product));
    Ok(Priced {
        groups: vec![
            json!({"dataProduct": product, "areaKm2": round2(area), "totalCredits": credits}),
        ],
        errors: Vec::new(),
        credits,
    })
}

pub(crate) fn get(ctx: &Ctx<'_>, input: OrderGetInput) -> Outcome {
    let id = input.order_id;
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    inner.org(ctx.org, ctx.shared.seed, now);
    match inner.orders.get(&id).filter(|order| order.org == ctx.org) {
        Some(order) => Ok(ctx.ok(&order_json(order, now))),
        None => Err(ApiError::not_found(format!("order '{id}' not found"))),
    }
}

/// The fields `orders.list` sorts by, as its answers name them.
const SORTABLE: [&str; 6] = [
    "createdAt",
    "updatedAt",
    "displayName",
    "status",
    "type",
    "totalCredits",
];

/// The caller's orders that pass every filter given, sorted by `sort` (`field` or
/// `field,asc|desc`, as Spring reads it), a page at a time. The list filters (`orderIds`,
/// `tags`, `dataProductIds`) are comma-separated and keep an order that has any of them;
/// `displayName` keeps names containing it, in any case. An order records the workspace
/// and data products its body named, and no sub-status, so a filter by one of those keeps
/// only orders that have it. A `sort` field it cannot sort by sorts by `createdAt`.
pub(crate) fn list(ctx: &Ctx<'_>, input: OrdersListInput) -> Outcome {
    let ids = comma_listed(input.order_ids.as_deref());
    let tags = comma_listed(input.tags.as_deref());
    let products = comma_listed(input.data_product_ids.as_deref());
    let name = input
        .display_name
        .as_deref()
        .map(str::to_lowercase)
        .filter(|name| !name.is_empty());
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    let kept = inner.org(ctx.org, ctx.shared.seed, now).orders.clone();
    let text = |order: &Order, key: &str| {
        order
            .detail
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let same = |wanted: Option<&str>, has: Option<String>| {
        wanted.is_none_or(|wanted| has.is_some_and(|has| has.eq_ignore_ascii_case(wanted)))
    };
    let orders: Vec<&Order> = kept
        .iter()
        .filter_map(|id| inner.orders.get(id))
        .filter(|order| same(input.status.as_deref(), Some(order.status(now).to_string())))
        .filter(|order| same(input.r#type.as_deref(), Some(order.kind.name().to_owned())))
        .filter(|order| same(input.sub_status.as_deref(), text(order, "subStatus")))
        .filter(|order| {
            input
                .workspace_id
                .as_deref()
                .is_none_or(|wanted| text(order, "workspaceId").as_deref() == Some(wanted))
        })
        .filter(|order| {
            ids.as_ref()
                .is_none_or(|ids| ids.contains(&order.id.as_str()))
        })
        .filter(|order| {
            name.as_ref()
                .is_none_or(|name| order.display_name.to_lowercase().contains(name))
        })
        .filter(|order| tags.as_ref().is_none_or(|tags| any_of(order, "tags", tags)))
        .filter(|order| {
            products
                .as_ref()
                .is_none_or(|products| data_products(order).any(|p| products.contains(&p)))
        })
        .collect();
    let answered = orders.iter().map(|order| order_json(order, now)).collect();
    let sorted = spring_sorted(answered, &input.sort, &SORTABLE);
    let page = numbered_page(sorted, input.page, input.size);
    Ok(ctx.ok(&page))
}

/// Whether the order's `key` (a list of text) holds any of `wanted`.
fn any_of(order: &Order, key: &str, wanted: &HashSet<&str>) -> bool {
    order
        .detail
        .get(key)
        .and_then(Value::as_array)
        .is_some_and(|held| {
            held.iter()
                .any(|held| held.as_str().is_some_and(|h| wanted.contains(&h)))
        })
}

/// The data products an order bought, as its groups name them.
fn data_products(order: &Order) -> impl Iterator<Item = &str> {
    order
        .detail
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|group| {
            // A tasking group names its product `product` (it may be sent as `sensor`).
            ["dataProduct", "product"]
                .iter()
                .find_map(|name| group.get(*name).and_then(Value::as_str))
        })
}

pub(crate) fn cancel(ctx: &Ctx<'_>, input: OrderCancelInput) -> Outcome {
    let mut inner = ctx.shared.lock();
    let reply = cancel_order(ctx, &mut inner, &input.order_id)?;
    Ok(ctx.ok(&reply))
}

/// Cancels the caller's order `id`, refunding it in full and telling subscribers, and answers
/// as `orders.cancel` does. Shared with a rejected tasking quotation, which ends its order the
/// same way.
///
/// # Errors
/// 404 for an unknown or another organization's order; 409 once it is fulfilled or
/// cancelled, and for an order of the starting history.
pub(super) fn cancel_order(ctx: &Ctx<'_>, inner: &mut Inner, id: &str) -> Result<Value, ApiError> {
    let now = ctx.now();
    inner.org(ctx.org, ctx.shared.seed, now);
    let Some(order) = inner
        .orders
        .get_mut(id)
        .filter(|order| order.org == ctx.org)
    else {
        return Err(ApiError::not_found(format!("order '{id}' not found")));
    };
    // An order of the organization's starting history was never charged, and every one of
    // them ended long before the emulator's first start: one that reads as open only because
    // the clock was set back before it ended is not to be cancelled, nor refunded.
    if order.is_history() {
        return Err(ApiError::conflict(format!(
            "order '{id}' is of the organization's history, which has ended; it cannot be \
             cancelled"
        )));
    }
    match order.status(now) {
        OrderStatus::Fulfilled => Err(ApiError::conflict(format!(
            "order '{id}' is fulfilled and can no longer be cancelled"
        ))),
        OrderStatus::Cancelled => Err(ApiError::conflict(format!(
            "order '{id}' is already cancelled"
        ))),
        _ => {
            order.cancelled_at = Some(now);
            let refund = order.charged_credits();
            let event = order_event(ORDER_CANCELLED, order, &OrderStatus::Cancelled, now);
            inner.emit(&event, ctx.shared.clock.now_millis());
            inner.move_credits(ctx.org, ctx.shared.seed, now, refund, Reason::Refund, id);
            Ok(json!({"orderId": id, "status": OrderStatus::Cancelled, "refundedCredits": refund}))
        }
    }
}

/// Typed list members as the JSON the pricing reads.
fn objects(items: Option<Vec<JsonObject>>) -> Vec<Value> {
    items
        .unwrap_or_default()
        .into_iter()
        .map(Value::Object)
        .collect()
}

/// A free-form body's list member; anything else reads as empty.
fn array(body: &JsonObject, name: &str) -> Vec<Value> {
    body.get(name)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn display_name(body: &JsonObject) -> String {
    ["displayName", "name"]
        .iter()
        .find_map(|name| body.get(*name).and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned()
}

struct Priced {
    groups: Vec<Value>,
    errors: Vec<Value>,
    credits: i64,
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Prices archive captures for both `orders.archive.estimate` and `orders.archive.place`, so
/// that an order is charged what its estimate said. Unknown and repeated ids are listed as
/// errors (the estimate shows them; placing refuses them).
///
/// # Errors
/// 422 at each capture whose `geometry` is not a Polygon or MultiPolygon on the globe that
/// overlaps the capture: it sets the price, so a point or an area elsewhere would buy the
/// whole capture at the minimum price.
fn price_archive(shared: &Shared, captures: &[Value], split: bool) -> Result<Priced, ApiError> {
    let mut groups: BTreeMap<(String, String), (Vec<String>, f64, i64)> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut refused = Vec::new();
    let mut listed = std::collections::HashSet::new();
    // Every area of interest is read first: measured against its capture, the work of all of
    // them shares one bound, as one area's does. A null geometry, like an absent one, asks
    // for the whole capture.
    let aois: Vec<Option<Result<Polygons, String>>> = captures
        .iter()
        .map(|capture| {
            capture
                .get("geometry")
                .filter(|geometry| !geometry.is_null())
                .map(read_polygons)
        })
        .collect();
    let request_edges: usize = aois.iter().flatten().flatten().map(|p| edge_count(p)).sum();
    for ((index, capture), aoi) in captures.iter().enumerate().zip(aois) {
        let id = capture
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let aoi = match aoi {
            None => None,
            Some(Ok(polygons)) => Some(polygons),
            Some(Err(message)) => {
                refused.push(geometry_refused(index, message));
                continue;
            }
        };
        let Some(item) = shared.catalog.get(id) else {
            errors.push(json!({"index": index, "id": id, "message": "unknown capture id"}));
            continue;
        };
        // One capture is one purchase: listed twice, it would be priced and charged twice.
        if !listed.insert(id) {
            errors.push(json!({"index": index, "id": id, "message": "capture listed twice"}));
            continue;
        }
        let area = match capture_area_km2(item, aoi.as_ref(), request_edges) {
            Ok(area) => area,
            Err(message) => {
                refused.push(geometry_refused(index, message));
                continue;
            }
        };
        let credits = match item.price_aud_per_km2 {
            Some(price) => to_credits(area.max(MIN_AREA_KM2) * price),
            None => to_credits(area * OPEN_DATA_AUD_PER_KM2),
        };
        let date = if split {
            format_date_time(item.datetime)[..10].to_owned()
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
    if !refused.is_empty() {
        return Err(ApiError::Validation(refused));
    }
    Ok(Priced {
        groups,
        errors,
        credits: total,
    })
}

/// The area a capture is bought for: the whole capture without an area of interest, else the
/// share of the footprint the area of interest covers (see [`coverage_of_box`]) times the
/// whole capture's area. Footprints are their bounding boxes (see [`Item::bbox`]). Pricing by
/// coverage means area outside the footprint is never charged for, polygons that overlap or
/// repeat are charged once, holes and twisted rings cannot cancel area, and an area of interest
/// covering the whole footprint costs exactly what the whole capture does, never more.
///
/// # Errors
/// Why an area of interest that covers none of the footprint cannot be bought: its extent
/// (see [`extent_overlaps`]) has no area in common with the footprint. One whose extent does is
/// bought even when its coverage is too small for the rows to see, for the minimum area.
///
/// `request_edges` are the edges of every area of interest the request measures, which share
/// one bound of work ([`coverage_of_box`]).
fn capture_area_km2(
    item: &Item,
    aoi: Option<&Polygons>,
    request_edges: usize,
) -> Result<f64, String> {
    let whole = bbox_area_km2(&item.bbox);
    let Some(polygons) = aoi else {
        return Ok(whole);
    };
    if extent_overlaps(polygons, &item.bbox) {
        return Ok(coverage_of_box(polygons, &item.bbox, request_edges) * whole);
    }
    let [west, south, east, north] = item.bbox;
    Err(format!(
        "the geometry does not overlap the footprint of capture '{}' \
         ([{west}, {south}, {east}, {north}] as [west, south, east, north])",
        item.id
    ))
}

/// A 422 at `captures[index].geometry`.
fn geometry_refused(index: usize, message: String) -> ValidationError {
    value_error(
        vec![
            LocItem::from("body"),
            LocItem::from("captures"),
            LocItem::from(index),
            LocItem::from("geometry"),
        ],
        message,
    )
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

fn price_tasking(requested: &[Value]) -> Priced {
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    let mut total: i64 = 0;
    // Every group's area is read first, as a tasking feasibility check reads its area, so
    // both measure alike: measured, the work of all of them shares one bound, as one area's
    // does.
    let areas: Vec<Result<Polygons, String>> = requested
        .iter()
        .map(|group| {
            ["geometry", "aoi", "featureCollection"]
                .iter()
                .find_map(|name| group.get(*name))
                .ok_or_else(|| "it has none".to_owned())
                .and_then(read_area)
        })
        .collect();
    let request_edges: usize = areas.iter().flatten().map(|p| edge_count(p)).sum();
    for ((index, group), polygons) in requested.iter().enumerate().zip(&areas) {
        let product = ["product", "dataProduct", "sensor"]
            .iter()
            .find_map(|name| group.get(*name).and_then(Value::as_str))
            .unwrap_or("optical");
        let area = polygons
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|polygons| enclosed_km2(polygons, request_edges));
        let area = match area {
            Ok(area) => area,
            Err(why) => {
                errors.push(json!({
                    "index": index,
                    "message": format!("group needs a polygon geometry: {why}"),
                }));
                continue;
            }
        };
        // What `feasibility_check` calls infeasible cannot be ordered either.
        if area > super::tasking::MAX_TASKING_AREA_KM2 {
            errors.push(json!({
                "index": index,
                "message": format!(
                    "the area of {} km² exceeds the {} km² one tasking request may cover",
                    round2(area),
                    super::tasking::MAX_TASKING_AREA_KM2
                ),
            }));
            continue;
        }
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

/// Retires the organization's oldest ended order when it holds [`MAX_ORDERS_PER_ORG`]; 409
/// when every one of them is still in progress.
fn make_room_for_an_order(
    inner: &mut Inner,
    org: &str,
    seed: u64,
    now_ms: i64,
) -> Result<(), ApiError> {
    let now = now_ms.div_euclid(1000);
    if inner.org(org, seed, now).orders.len() < MAX_ORDERS_PER_ORG {
        return Ok(());
    }
    let held = inner
        .orgs
        .get(org)
        .map_or(&[][..], |account| &account.orders);
    let orders = &inner.orders;
    let ended = held.iter().position(|id| {
        orders
            .get(id)
            .is_none_or(|order| order.status(now).is_final())
    });
    let Some(index) = ended else {
        return Err(ApiError::problem(
            StatusCode::CONFLICT,
            format!(
                "the organization holds {MAX_ORDERS_PER_ORG} orders, none of them fulfilled or \
                 cancelled; cancel one or wait for one to be fulfilled"
            ),
        ));
    };
    // A sweep finds the events of the orders still kept: one fulfilled since the last sweep
    // gives its `order.fulfilled` before it is retired, or it would never be sent.
    inner.sweep(now_ms);
    let retired = inner.org_mut(org, seed, now).orders.remove(index);
    inner.orders.remove(&retired);
    Ok(())
}

/// Charges the organization and records the order (with the workspace its body named), or
/// 402 when its balance falls short.
/// What an order's body names beside what it buys, which the order keeps for `orders.list`'s
/// filters.
struct Named {
    display_name: String,
    workspace: Option<String>,
    tags: Vec<String>,
}

impl Named {
    /// The name and workspace of a free-form order body, which carries no tags.
    fn of(display_name: String, body: &JsonObject) -> Self {
        Named {
            display_name,
            workspace: workspace(body),
            tags: Vec::new(),
        }
    }
}

fn place_order(ctx: &Ctx<'_>, kind: OrderKind, named: Named, priced: Priced) -> Outcome {
    let Named {
        display_name,
        workspace,
        tags,
    } = named;
    let mut inner = ctx.shared.lock();
    // Read under the lock, as every sweep's (`make_room_for_an_order` may sweep).
    let now_ms = ctx.shared.clock.now_millis();
    let now = now_ms.div_euclid(1000);
    let balance = inner.org(ctx.org, ctx.shared.seed, now).balance_credits;
    if priced.credits > balance {
        return Err(ApiError::problem(
            StatusCode::PAYMENT_REQUIRED,
            format!(
                "insufficient credits: the order costs {} credits, the balance is {balance}",
                priced.credits
            ),
        ));
    }
    make_room_for_an_order(&mut inner, ctx.org, ctx.shared.seed, now_ms)?;
    let id = format!("ord_{}", inner.rng.hex(10));
    let mut order = Order {
        id: id.clone(),
        org: ctx.org.to_owned(),
        kind,
        display_name,
        created_at: now,
        cancelled_at: None,
        total_credits: priced.credits,
        detail: json!({"groups": priced.groups}),
    };
    if let Some(detail) = order.detail.as_object_mut() {
        if let Some(workspace) = workspace {
            detail.insert("workspaceId".to_owned(), json!(workspace));
        }
        if !tags.is_empty() {
            detail.insert("tags".to_owned(), json!(tags));
        }
    }
    let mut reply = order_json(&order, now);
    if let Some(object) = reply.as_object_mut() {
        object.insert("order_id".into(), json!(id));
        object.insert("total_aud".into(), json!(aud(priced.credits)));
        object.insert("total_credits".into(), json!(priced.credits));
    }
    inner.orders.insert(id.clone(), order);
    inner.move_credits(
        ctx.org,
        ctx.shared.seed,
        now,
        -priced.credits,
        Reason::Order,
        &id,
    );
    inner.org_mut(ctx.org, ctx.shared.seed, now).orders.push(id);
    Ok(ctx.ok(&reply))
}

pub(super) fn order_json(order: &Order, now: i64) -> Value {
    let status = order.status(now);
    let mut value = json!({
        "orderId": order.id,
        "type": order.kind.name(),
        "status": status,
        "displayName": order.display_name,
        "createdAt": format_date_time(order.created_at),
        "updatedAt": format_date_time(order.updated_at(now)),
        "totalAud": aud(order.total_credits),
        "totalCredits": order.total_credits,
    });
    if let (Some(object), Some(detail)) = (value.as_object_mut(), order.detail.as_object()) {
        let internal = |key: &str| [HISTORY, FEASIBILITY, QUOTATION].contains(&key);
        for (key, member) in detail.iter().filter(|(key, _)| !internal(key)) {
            object.insert(key.clone(), member.clone());
        }
    }
    value
}
