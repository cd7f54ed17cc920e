//! `provenance.get`: the graph of where the organization's items came from and what was made
//! from them, walked from one entity.
//!
//! An item points upstream at the item it was duplicated from or replaces, and at the order,
//! upload or job that produced it (the ids it was created with); everything pointing at an
//! entity is downstream of it. A root may be any of the contract's kinds (`item`, `order`,
//! `processing_job`, `collection`, `project`) or an `upload` or `clip_job`; a collection or
//! project leads down to the items it holds. `job` names either kind of job, as earlier
//! answers called them. The walk stops at `max_depth` hops (the contract's bounds,
//! checked before) and at [`MAX_NODES`] nodes, so a long chain answers in bounded time. Nodes
//! and edges carry the hops from the root (an edge those of its far end); a source deleted
//! since is still a node, named by the id its item keeps.

use std::collections::{HashSet, VecDeque};

use geopera_types::models::LineageGetInput;
use serde_json::{json, Value};

use super::{Ctx, Outcome};
use crate::error::ApiError;
use crate::resources::{Family, Resources};
use crate::state::Inner;

/// The most nodes one answer holds.
pub const MAX_NODES: usize = 500;

/// The item fields that name where it came from, each with the kind of entity it names
/// (`job_id`'s kind is told by the job it names: [`kind_named`]).
const UPSTREAM_FIELDS: [(&str, &str); 5] = [
    ("duplicated_from_id", "item"),
    ("previous_version_id", "item"),
    ("order_id", "order"),
    ("upload_id", "upload"),
    ("job_id", PROCESSING_JOB),
];

/// The item fields that name what holds it: walked down from a collection or project, never
/// up from an item (every item has a project, which is no part of where it came from).
const CONTAINER_FIELDS: [(&str, &str); 2] =
    [("collection_id", "collection"), ("project_id", "project")];

const PROCESSING_JOB: &str = "processing_job";
const CLIP_JOB: &str = "clip_job";

/// The kind of the entity `id` that a field of kind `kind` names: a job id names a clip job
/// when the organization has one of that id, else a processing job (one deleted since
/// included); any other kind is the field's own.
fn kind_named(inner: &Inner, org: &str, kind: &'static str, id: &str) -> &'static str {
    if kind == PROCESSING_JOB && inner.resources.get(Family::ClipJob, org, None, id).is_ok() {
        CLIP_JOB
    } else {
        kind
    }
}

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
    // The pipeline held `max_depth` to the contract's bounds: a walk as deep as asked.
    let depth = input.max_depth.max(1);
    let asked = input.entity_type.to_ascii_lowercase();
    let mut inner = ctx.lock_org();
    crate::uploads::expire_idle(&mut inner, Some(ctx.org), ctx.shared.clock.now_millis());
    let kind = match asked.as_str() {
        "job" | PROCESSING_JOB | CLIP_JOB => {
            kind_named(&inner, ctx.org, PROCESSING_JOB, &input.entity_id).to_owned()
        }
        _ => asked,
    };
    let now_secs = ctx.shared.clock.now_secs();
    let root = node(&inner, ctx.org, &kind, &input.entity_id, now_secs).ok_or_else(|| {
        ApiError::not_found(format!(
            "{} '{}' not found",
            input.entity_type, input.entity_id
        ))
    })?;
    let mut seen: HashSet<(String, String)> =
        HashSet::from([(kind.clone(), input.entity_id.clone())]);
    let mut nodes = vec![json!({"entity_type": kind, "entity_id": input.entity_id, "depth": 0})];
    // Walking both ways finds each edge from both of its ends; it is listed once.
    let mut listed: HashSet<Edge> = HashSet::new();
    let mut edges = Vec::new();
    let mut queue = VecDeque::from([(kind, input.entity_id.clone(), 0i64)]);
    while let Some((kind, id, hops)) = queue.pop_front() {
        if hops >= depth {
            continue;
        }
        // Each edge with the end it leads to from here.
        let mut next: Vec<(Edge, String, String)> = Vec::new();
        if up && kind == "item" {
            if let Ok(item) = inner.resources.get(Family::Item, ctx.org, None, &id) {
                for (field, other) in UPSTREAM_FIELDS {
                    if let Some(source) = item.str(field) {
                        let other = kind_named(&inner, ctx.org, other, source);
                        let edge = Edge::new(other, source, "item", &id, field);
                        next.push((edge, other.to_owned(), source.to_owned()));
                    }
                }
            }
        }
        if down {
            for item in inner.resources.list(Family::Item, ctx.org, None) {
                for (field, other) in UPSTREAM_FIELDS.into_iter().chain(CONTAINER_FIELDS) {
                    if item.str(field) == Some(id.as_str())
                        && kind_named(&inner, ctx.org, other, &id) == kind
                    {
                        let edge = Edge::new(&kind, &id, "item", &item.id, field);
                        next.push((edge, "item".to_owned(), item.id.clone()));
                    }
                }
            }
        }
        for (edge, other_kind, other_id) in next {
            let end = (other_kind, other_id);
            if !seen.contains(&end) {
                // Past the node cap an edge would lead to no listed node.
                if nodes.len() >= MAX_NODES {
                    continue;
                }
                nodes.push(json!({"entity_type": end.0, "entity_id": end.1, "depth": hops + 1}));
                queue.push_back((end.0.clone(), end.1.clone(), hops + 1));
                seen.insert(end);
            }
            if listed.insert(edge.clone()) {
                edges.push(edge.to_json(hops + 1));
            }
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

/// One link of the graph: `dst` was made from `src` (`relation` is how).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Edge {
    src: (String, String),
    dst: (String, String),
    relation: &'static str,
}

impl Edge {
    fn new(
        src_kind: &str,
        src_id: &str,
        dst_kind: &str,
        dst_id: &str,
        field: &'static str,
    ) -> Self {
        Edge {
            src: (src_kind.to_owned(), src_id.to_owned()),
            dst: (dst_kind.to_owned(), dst_id.to_owned()),
            relation: field.trim_end_matches("_id"),
        }
    }

    /// The edge as the answer lists it, `depth` hops from the root at its far end.
    fn to_json(&self, depth: i64) -> Value {
        json!({
            "depth": depth,
            "src_type": self.src.0,
            "src_id": self.src.1,
            "dst_type": self.dst.0,
            "dst_id": self.dst.1,
            "relation": self.relation,
        })
    }
}

/// The entity as the answer's root names it, if the organization has it: its kind and id,
/// and its name and status where it has them (the root's members are all text).
fn node(inner: &Inner, org: &str, kind: &str, id: &str, now_secs: i64) -> Option<Value> {
    let described = |id: &str, name: Option<&str>, status: Option<&str>| {
        let mut root = serde_json::Map::new();
        root.insert("entity_type".to_owned(), json!(kind));
        root.insert("entity_id".to_owned(), json!(id));
        for (member, text) in [("name", name), ("status", status)] {
            if let Some(text) = text {
                root.insert(member.to_owned(), json!(text));
            }
        }
        Value::Object(root)
    };
    let record = |resources: &Resources, family: Family| {
        resources
            .get(family, org, None, id)
            .ok()
            .map(|r| described(&r.id, r.str("name"), r.str("status")))
    };
    // A job's status is not kept but follows from the clock, as its own answers give it.
    let job = |resources: &Resources, family: Family| {
        resources.get(family, org, None, id).ok().map(|r| {
            let status = crate::jobs::status(r, now_secs).wire();
            described(&r.id, r.str("name"), Some(status.as_str()))
        })
    };
    match kind {
        "item" => record(&inner.resources, Family::Item),
        "upload" => record(&inner.resources, Family::Upload),
        PROCESSING_JOB => job(&inner.resources, Family::ProcessingJob),
        CLIP_JOB => job(&inner.resources, Family::ClipJob),
        "collection" => record(&inner.resources, Family::Collection),
        "project" => record(&inner.resources, Family::Project),
        "order" => inner
            .orders
            .get(id)
            .filter(|order| order.org == org)
            .map(|order| {
                let status = order.status(now_secs);
                described(&order.id, Some(&order.display_name), Some(status.as_str()))
            }),
        _ => None,
    }
}
