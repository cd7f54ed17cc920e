//! `items.*`: the items of a project, synthesized from the project id.

use geopera_types::models::{ItemStacInput, ItemsListInput};
use serde_json::{json, Value};

use super::{sample_output, Ctx, Outcome, MAX_PAGE_SIZE};
use crate::clock::DEFAULT_START_UNIX_SECS;
use crate::rng::{fnv, Rng};
use geopera_types::rfc3339::format_date_time;

/// Items every project holds for `items.list`.
pub const PROJECT_ITEMS: usize = 300;

pub(crate) fn list(ctx: &Ctx<'_>, input: ItemsListInput) -> Outcome {
    let project = input.project_id.as_str();
    // As for `orders.list`: unbounded in the contract, so clamped here.
    let limit = input.limit.clamp(1, MAX_PAGE_SIZE);
    let offset = input.offset.max(0);
    let collection = input.collection_id.as_deref();
    let uncollected = input.uncollected;
    let mut rng = Rng::new(ctx.shared.seed ^ fnv(project));
    let tag = rng.hex(4);
    let collections = ["col_optical", "col_radar", "col_dem"];
    let all: Vec<Value> = (0..PROJECT_ITEMS)
        .map(|n| {
            let collection_id = (n % 4 != 3).then(|| collections[n % 4 % 3]);
            json!({
                "id": format!("itm_{tag}_{n:04}"),
                "project_id": project,
                "collection_id": collection_id,
                "name": format!("item {n}"),
                "created_at": format_date_time(DEFAULT_START_UNIX_SECS - (n as i64) * 3600),
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
    Ok(ctx.ok(&json!({"items": items, "total": total, "limit": limit, "offset": offset})))
}

/// A sample STAC item, answered as GeoJSON the way the API types it.
pub(crate) fn get_stac(ctx: &Ctx<'_>, _input: ItemStacInput) -> Outcome {
    let mut reply = ctx.ok(&sample_output(ctx));
    reply.content_type = "application/geo+json";
    Ok(reply)
}
