//! `provenance.get`: the graph of where the organization's items came from and what was made
//! from them, walked from one entity.
//!
//! An item points upstream at the item it was duplicated from or replaces, and at the order,
//! upload or job that produced it (the ids it was created with); everything pointing at an
//! entity is downstream of it. The walk stops at `max_depth` hops (1 to
//! [`MAX_DEPTH`]) and at [`MAX_NODES`] nodes, so a long chain answers in bounded time.

use std::collections::{HashSet, VecDeque};

use geopera_types::models::LineageGetInput;
use serde_json::{json, Value};

use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::{Family, Resources};
use crate::state::Inner;

/// The deepest walk answered.
pub const MAX_DEPTH: i64 = 10;
/// The most nodes one answer holds.
pub const MAX_NODES: usize = 500;

/// The kinds of entity the graph holds, with the item field that names each upstream.
const UPSTREAM_FIELDS: [(&str, &str); 5] = [
    ("duplicated_from_id", "item"),
    ("previous_version_id", "item"),
    ("order_id", "order"),
    ("upload_id", "upload"),
    ("job_id", "job"),
];

pub(crate) fn get(ctx: &Ctx<'_>, input: LineageGetInput) -> Outcome {
    let direction = input.direction.to_ascii_lowercase();
    let (up, down) = match direction.as_str() {
        "up" => (true, false),
        "down" => (false, true),
        "both" => (true, true),
        // The contract's pattern admits nothing else; this answers if it ever loosens.
        _ => {
            return Err(ApiError::invalid(
                &["direction"],
                "direction is up, down or both",
            ))
        }
    };
    let depth = input.max_depth.clamp(1, MAX_DEPTH);
    let kind = input.entity_type.to_ascii_lowercase();
    let mut inner = ctx.lock_org();
    crate::uploads::expire_idle(&mut inner, Some(ctx.org), ctx.shared.clock.now_millis());
    let root = node(&inner, ctx.org, &kind, &input.entity_id).ok_or_else(|| {
        ApiError::not_found(format!(
            "{} '{}' not found",
            input.entity_type, input.entity_id
        ))
    })?;
    let mut seen: HashSet<(String, String)> =
        HashSet::from([(kind.clone(), input.entity_id.clone())]);
    let mut nodes = vec![root.clone()];
    let mut edges = Vec::new();
    let mut queue = VecDeque::from([(kind, input.entity_id.clone(), 0i64)]);
    while let Some((kind, id, hops)) = queue.pop_front() {
        if hops >= depth {
            continue;
        }
        let mut next: Vec<(String, String, Value)> = Vec::new();
        if up && kind == "item" {
            if let Ok(item) = inner.resources.get(Family::Item, ctx.org, None, &id) {
                for (field, other) in UPSTREAM_FIELDS {
                    if let Some(source) = item.str(field) {
                        let edge = json!({"from": {"type": other, "id": source}, "to": {"type": "item", "id": id}, "relation": field.trim_end_matches("_id")});
                        next.push((other.to_owned(), source.to_owned(), edge));
                    }
                }
            }
        }
        if down {
            for item in inner.resources.list(Family::Item, ctx.org, None) {
                for (field, other) in UPSTREAM_FIELDS {
                    if other == kind && item.str(field) == Some(id.as_str()) {
                        let edge = json!({"from": {"type": kind, "id": id}, "to": {"type": "item", "id": item.id}, "relation": field.trim_end_matches("_id")});
                        next.push(("item".to_owned(), item.id.clone(), edge));
                    }
                }
            }
        }
        for (other_kind, other_id, edge) in next {
            edges.push(edge);
            if nodes.len() >= MAX_NODES || !seen.insert((other_kind.clone(), other_id.clone())) {
                continue;
            }
            // A source that was deleted still appears, marked so.
            nodes.push(
                node(&inner, ctx.org, &other_kind, &other_id).unwrap_or_else(
                    || json!({"type": other_kind, "id": other_id, "deleted": true}),
                ),
            );
            queue.push_back((other_kind, other_id, hops + 1));
        }
    }
    Ok(ctx.ok(&json!({
        "root": root,
        "direction": direction,
        "max_depth": depth,
        "nodes": nodes,
        "edges": edges,
    })))
}

/// The entity as a node, if the organization has it.
fn node(inner: &Inner, org: &str, kind: &str, id: &str) -> Option<Value> {
    let record = |resources: &Resources, family: Family| {
        resources
            .get(family, org, None, id)
            .ok()
            .map(|r| json!({"type": kind, "id": r.id, "name": r.fields.get("name"), "status": r.fields.get("status")}))
    };
    match kind {
        "item" => record(&inner.resources, Family::Item),
        "upload" => record(&inner.resources, Family::Upload),
        "job" => record(&inner.resources, Family::ProcessingJob)
            .or_else(|| record(&inner.resources, Family::ClipJob)),
        "order" => inner
            .orders
            .get(id)
            .filter(|order| order.org == org)
            .map(|order| json!({"type": "order", "id": order.id, "name": order.display_name})),
        _ => None,
    }
}
