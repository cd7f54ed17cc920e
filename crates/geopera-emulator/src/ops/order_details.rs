//! What an order carries beyond its status: tags, the coverage of its groups and, once it is
//! fulfilled, its deliverables.
//!
//! Deliverables are JSON descriptors whose URLs point at the emulator's asset route, signed
//! and expiring ([`crate::downloads`]), as the API hands out short-lived signed URLs and never
//! the bytes themselves: a link kept too long, or one built by hand, is refused.

use geopera_types::models::{
    CoverageInput, OrderAssetsInput, OrderUpdateInput, TaskingGroupsInput,
};
use geopera_types::orders::OrderStatus;
use geopera_types::rfc3339::format_date_time;
use serde_json::{json, Value};

use super::orders::order_json;
use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::records::{Order, HISTORY};

/// The most tags one order carries, and the longest tag.
const MAX_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 100;

/// Patches an order's tags. Tags left out (or `null`, which the typed input cannot tell apart)
/// are left as they are, as a merge patch leaves a member it does not name; `[]` clears them.
pub(crate) fn update(ctx: &Ctx<'_>, input: OrderUpdateInput) -> Outcome {
    let tags = input.tags;
    check_tags(tags.as_deref().unwrap_or_default())?;
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    inner.org(ctx.org, ctx.shared.seed, now);
    let order = inner
        .orders
        .get_mut(&input.order_id)
        .filter(|order| order.org == ctx.org)
        .ok_or_else(|| not_found(&input.order_id))?;
    if let Some(tags) = tags {
        // A history order given tags stays history: no notification of its long-past
        // fulfilment, no tasking study for it.
        if !order.detail.is_object() {
            order.detail = json!({ HISTORY: true });
        }
        if let Some(detail) = order.detail.as_object_mut() {
            detail.insert("tags".to_owned(), json!(tags));
        }
    }
    Ok(ctx.ok(&order_json(order, now)))
}

/// The bounds of an order's tags, given when it is placed or updated.
///
/// # Errors
/// 422 at `tags` for more than [`MAX_TAGS`], or at the tag that is empty, longer than
/// [`MAX_TAG_CHARS`], or one `orders.list`'s comma-separated `tags` filter could never name:
/// with a comma in it, or white space at either end (the filter's members are trimmed).
pub(super) fn check_tags(tags: &[String]) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            &["tags"],
            format!("an order carries at most {MAX_TAGS} tags"),
        ));
    }
    if let Some(index) = tags
        .iter()
        .position(|tag| tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS)
    {
        return Err(ApiError::invalid_item(
            "tags",
            index,
            format!("a tag is 1 to {MAX_TAG_CHARS} characters"),
        ));
    }
    if let Some(index) = tags
        .iter()
        .position(|tag| tag.contains(',') || tag.trim() != tag)
    {
        return Err(ApiError::invalid_item(
            "tags",
            index,
            "a tag holds no comma and no white space at either end, so that orders.list's \
             tags filter can name it",
        ));
    }
    Ok(())
}

/// One descriptor per delivered capture once the order is fulfilled; none before.
pub(crate) fn list_assets(ctx: &Ctx<'_>, input: OrderAssetsInput) -> Outcome {
    let now = ctx.now();
    let shared = ctx.shared;
    with_order(ctx, &input.order_id, |order| {
        let status = order.status(now);
        let mut assets = Vec::new();
        if status == OrderStatus::Fulfilled {
            for (n, capture) in captures(order).enumerate() {
                let file = format!("{capture}.tif");
                let (href, expires) = shared.download_key.link(
                    &shared.base_url,
                    &["order", &order.id, &file],
                    now,
                )?;
                assets.push(json!({
                    "asset_id": format!("{}_{n}", order.id),
                    "capture_id": capture,
                    "media_type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "href": href,
                    "expires_at": format_date_time(expires),
                }));
            }
        }
        Ok(json!({"order_id": order.id, "status": status, "total": assets.len(), "assets": assets}))
    })
}

/// The area the order's groups cover, summed.
pub(crate) fn coverage(ctx: &Ctx<'_>, input: CoverageInput) -> Outcome {
    with_order(ctx, &input.order_id, |order| {
        let groups = groups(order);
        let area: f64 = groups.iter().map(area_of).sum();
        Ok(json!({
            "order_id": order.id,
            "group_count": groups.len(),
            "area_km2": (area * 100.0).round() / 100.0,
        }))
    })
}

pub(crate) fn coverage_groups(ctx: &Ctx<'_>, input: CoverageInput) -> Outcome {
    with_order(ctx, &input.order_id, |order| {
        let groups = groups(order);
        Ok(json!({"order_id": order.id, "total": groups.len(), "groups": groups}))
    })
}

pub(crate) fn tasking_groups(ctx: &Ctx<'_>, input: TaskingGroupsInput) -> Outcome {
    with_order(ctx, &input.order_id, |order| {
        let groups = groups(order);
        Ok(json!({"order_id": order.id, "total": groups.len(), "groups": groups}))
    })
}

/// Answers `answer(order)` for the caller's order `id`.
fn with_order(
    ctx: &Ctx<'_>,
    id: &str,
    answer: impl FnOnce(&Order) -> Result<Value, ApiError>,
) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.shared.lock();
    inner.org(ctx.org, ctx.shared.seed, now);
    let order = inner
        .orders
        .get(id)
        .filter(|order| order.org == ctx.org)
        .ok_or_else(|| not_found(id))?;
    Ok(ctx.ok(&answer(order)?))
}

fn groups(order: &Order) -> Vec<Value> {
    order
        .detail
        .get("groups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A group's area under either spelling the pricing writes.
fn area_of(group: &Value) -> f64 {
    ["area_km2", "areaKm2"]
        .iter()
        .find_map(|name| group.get(*name).and_then(Value::as_f64))
        .unwrap_or(0.0)
}

/// The capture ids of an archive order, or one synthetic capture per tasking group.
fn captures(order: &Order) -> impl Iterator<Item = String> + '_ {
    let groups = order.detail.get("groups").and_then(Value::as_array);
    groups
        .into_iter()
        .flatten()
        .enumerate()
        .flat_map(|(n, group)| {
            let listed: Vec<String> = group
                .get("captures")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(|id| id.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if listed.is_empty() {
                vec![format!("{}-capture-{n}", order.id)]
            } else {
                listed
            }
        })
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("order '{id}' not found"))
}
