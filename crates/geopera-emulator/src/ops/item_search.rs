//! Searching the organization's own items: `items.search` (one project), `items.search_org`
//! (every project) and the STAC API face, `stac.search` and `stac.collections.list`.
//!
//! The filters are those of `catalog.search` applied to stored items: `bbox` or `intersects`
//! (by bounding boxes; not both, as in `catalog.search`), `datetime` (an instant or an
//! interval with open ends, met by the time an item covers), `collections`, `ids`, `type`,
//! and `query` on the numbers an item keeps (`cloud_cover` or `eo:cloud_cover`, and `gsd`). What the emulator cannot evaluate, a CQL2 `filter` or
//! `query` on other properties, is refused with 422 naming the member rather than ignored.

use std::cmp::Ordering;
use std::collections::HashSet;

use geopera_types::models::{OrgItemSearchInput, ProjectItemSearchInput, SearchInput};
use geopera_types::operations::StacCollectionsList;
use geopera_types::rfc3339::parse_date_time_nanos;
use geopera_types::{JsonObject, Operation};
use serde_json::{json, Value};

use super::items::stac_feature;
use super::{Ctx, Outcome, MAX_PAGE_SIZE};
use crate::catalog::{
    bbox_or_intersects, geometry_boxes, overlaps, read_bbox, read_intersects, split_antimeridian,
};
use crate::error::ApiError;
use crate::resources::{page, Family, Resource};

type StacCollectionsInput = <StacCollectionsList as Operation>::Input;

/// A date-time in Unix seconds and nanoseconds, as items' date-times are compared: to the
/// fraction of a second, which an item's may have.
type Instant = (i64, u32);

/// The filters of one search, read once.
#[derive(Default)]
struct Filter {
    /// The boxes an item must overlap one of: the `bbox` asked for, in two when it crosses
    /// the antimeridian, or those of the parts of `intersects`.
    bbox: Option<Vec<[f64; 4]>>,
    /// Inclusive bounds; `None` for an open end.
    start: Option<Instant>,
    end: Option<Instant>,
    dated: bool,
    /// Sets: an item is looked up in them, which costs the same however long the lists
    /// (a body of hundreds of thousands of ids, compared one by one with every item under
    /// the emulator's lock, held every other request for seconds).
    collections: Option<HashSet<String>>,
    ids: Option<HashSet<String>>,
    item_type: Option<String>,
    /// `(field, operator, bound)`.
    numbers: Vec<(&'static str, String, f64)>,
    /// The `sortby` clauses in order, each with whether it is descending; none keeps
    /// creation order.
    order: Vec<(SortKey, bool)>,
}

/// What a `sortby` clause sorts items by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SortKey {
    /// When the item was created: the order items are kept in.
    Created,
    /// The item's `datetime`, as an instant (offsets count, not the text).
    Datetime,
}

impl Filter {
    fn matches(&self, item: &Resource) -> bool {
        if let Some(ids) = &self.ids {
            let stac = item.str("stac_id");
            if !ids.contains(&item.id) && !stac.is_some_and(|stac| ids.contains(stac)) {
                return false;
            }
        }
        if let Some(collections) = &self.collections {
            if !item
                .str("collection_id")
                .is_some_and(|c| collections.contains(c))
            {
                return false;
            }
        }
        if let Some(kind) = &self.item_type {
            if item.str("type") != Some(kind.as_str()) {
                return false;
            }
        }
        if let Some(boxes) = &self.bbox {
            let held = item_boxes(item);
            if !boxes
                .iter()
                .any(|wanted| held.iter().any(|part| overlaps(wanted, part)))
            {
                return false;
            }
        }
        if self.dated {
            let Some((first, last)) = covered_time(item) else {
                return false;
            };
            if self.start.is_some_and(|s| last < s) || self.end.is_some_and(|e| first > e) {
                return false;
            }
        }
        self.numbers.iter().all(|(field, operator, bound)| {
            let Some(value) = item.fields.get(*field).and_then(Value::as_f64) else {
                return false;
            };
            match operator.as_str() {
                "lt" => value < *bound,
                "lte" => value <= *bound,
                "gt" => value > *bound,
                "gte" => value >= *bound,
                _ => (value - bound).abs() < f64::EPSILON,
            }
        })
    }
}

/// The time an item covers, first and last instant: `start_datetime` to `end_datetime` where
/// it has them (STAC's range for an item whose `datetime` is null, or that spans a time), else
/// its `datetime` alone. A search's interval meets an item that overlaps it at all, as STAC API
/// servers match ranged items; an item with neither is matched by no dated search. A range
/// written end first is read as the time between its two ends.
fn covered_time(item: &Resource) -> Option<(Instant, Instant)> {
    let read = |name| item.str(name).and_then(parse_date_time_nanos);
    let at = read("datetime");
    let first = read("start_datetime").or(at)?;
    let last = read("end_datetime").or(at)?;
    Some((first.min(last), first.max(last)))
}

/// The boxes an item covers: its own `bbox` (which may cross the antimeridian), else its
/// geometry's, a part at a time ([`geometry_boxes`]): a geometry cut at the antimeridian read
/// as one box spanned every longitude of its latitudes, and matched every search there.
fn item_boxes(item: &Resource) -> Vec<[f64; 4]> {
    let listed: Option<Vec<f64>> = item
        .fields
        .get("bbox")
        .and_then(Value::as_array)
        .map(|b| b.iter().filter_map(Value::as_f64).collect());
    match listed.as_deref() {
        Some([w, s, e, n]) | Some([w, s, _, e, n, _]) => split_antimeridian([*w, *s, *e, *n]),
        _ => item
            .fields
            .get("geometry")
            .map(geometry_boxes)
            .unwrap_or_default()
            .into_iter()
            .flat_map(split_antimeridian)
            .collect(),
    }
}

/// Reads `bbox` as `catalog.search` does ([`read_bbox`]), as the boxes it covers.
fn read_boxes(bbox: Option<&[f64]>) -> Result<Option<Vec<[f64; 4]>>, ApiError> {
    bbox.map(|numbers| read_bbox(numbers).map(split_antimeridian))
        .transpose()
}

/// Reads `datetime`: an instant, or `start/end` with `..` or nothing for an open end, not
/// ending before it starts.
fn read_datetime(filter: &mut Filter, text: Option<&str>) -> Result<(), ApiError> {
    let Some(text) = text else { return Ok(()) };
    let refuse = || {
        ApiError::invalid(
            &["datetime"],
            "datetime is an RFC 3339 instant or an interval 'start/end' ('..' for an open end)",
        )
    };
    let bound = |part: &str| -> Result<Option<Instant>, ApiError> {
        if part.is_empty() || part == ".." {
            Ok(None)
        } else {
            parse_date_time_nanos(part).map(Some).ok_or_else(refuse)
        }
    };
    match text.split_once('/') {
        Some((start, end)) => {
            filter.start = bound(start)?;
            filter.end = bound(end)?;
            // Bounds given the wrong way round match nothing, which would read as "no
            // items" rather than as the mistake it is.
            if let (Some(start), Some(end)) = (filter.start, filter.end) {
                if start > end {
                    return Err(ApiError::invalid(
                        &["datetime"],
                        "datetime's interval ends before it starts",
                    ));
                }
            }
        }
        None => {
            let at = parse_date_time_nanos(text).ok_or_else(refuse)?;
            filter.start = Some(at);
            filter.end = Some(at);
        }
    }
    filter.dated = true;
    Ok(())
}

/// Reads `query`: `{"cloud_cover" | "eo:cloud_cover" | "gsd": {"lt" | "lte" | "gt" | "gte" |
/// "eq": number}}`.
fn read_query(filter: &mut Filter, query: Option<&JsonObject>) -> Result<(), ApiError> {
    for (name, conditions) in query.into_iter().flatten() {
        let field = match name.as_str() {
            "cloud_cover" | "eo:cloud_cover" => "cloud_cover",
            "gsd" => "gsd",
            _ => {
                return Err(ApiError::invalid(
                    &["query", name],
                    "the emulator searches items by cloud_cover (eo:cloud_cover) and gsd only",
                ))
            }
        };
        let Some(conditions) = conditions.as_object() else {
            return Err(ApiError::invalid(
                &["query", name],
                "a condition is an object such as {\"lt\": 10}",
            ));
        };
        for (written, bound) in conditions {
            let operator = written.to_ascii_lowercase();
            let known = ["lt", "lte", "gt", "gte", "eq"].contains(&operator.as_str());
            let Some(bound) = bound.as_f64().filter(|_| known) else {
                // The location names the member as it was sent, so it can be found in the body.
                return Err(ApiError::invalid(
                    &["query", name, written],
                    "operators are lt, lte, gt, gte and eq, each with a number",
                ));
            };
            filter.numbers.push((field, operator, bound));
        }
    }
    Ok(())
}

/// Sorting by `datetime` (or `properties.datetime`) or `created`, in either direction, by
/// each clause in turn; any other field is refused rather than ignored, as the emulator keeps
/// no other order to sort by.
fn read_sort(filter: &mut Filter, clauses: &[(String, String)]) -> Result<(), ApiError> {
    for (field, direction) in clauses {
        let unsigned = field.strip_prefix(['+', '-']).unwrap_or(field);
        let key = match unsigned {
            "datetime" | "properties.datetime" => SortKey::Datetime,
            "created" => SortKey::Created,
            _ => {
                return Err(ApiError::invalid(
                    &["sortby"],
                    "the emulator sorts items by datetime or created only",
                ))
            }
        };
        // A field written with STAC's GET sign (`-datetime`) is sorted as its sign says, which
        // the clause's `direction` (`asc` unless given) would otherwise turn round unseen.
        let descending = match field.chars().next() {
            Some('-') => true,
            Some('+') => false,
            _ => direction.eq_ignore_ascii_case("desc"),
        };
        // A key sorted by already breaks every tie it can; past it, only ties on it are left,
        // which it cannot break again. Kept, a body of a hundred thousand clauses was walked
        // on every tie of the sort, under the emulator's lock.
        if filter.order.iter().all(|(kept, _)| *kept != key) {
            filter.order.push((key, descending));
        }
    }
    Ok(())
}

/// A `format` other than GeoJSON or STAC is refused rather than ignored. Its features are
/// STAC items either way, which serve both.
fn read_format(format: Option<&str>) -> Result<(), ApiError> {
    match format {
        None | Some("geojson" | "json" | "stac") => Ok(()),
        Some(_) => Err(ApiError::invalid(
            &["format"],
            "the emulator answers GeoJSON or STAC only",
        )),
    }
}

struct Common<'a> {
    bbox: Option<&'a [f64]>,
    datetime: Option<&'a str>,
    collections: Option<&'a Vec<String>>,
    item_type: Option<String>,
    query: Option<&'a JsonObject>,
    sortby: Vec<(String, String)>,
    format: Option<&'a str>,
}

fn read(common: Common<'_>) -> Result<Filter, ApiError> {
    let mut filter = Filter {
        bbox: read_boxes(common.bbox)?,
        collections: common
            .collections
            .map(|listed| listed.iter().cloned().collect()),
        item_type: common.item_type,
        ..Filter::default()
    };
    read_datetime(&mut filter, common.datetime)?;
    read_query(&mut filter, common.query)?;
    read_sort(&mut filter, &common.sortby)?;
    read_format(common.format)?;
    Ok(filter)
}

fn sort_pairs(
    sortby: Option<&Vec<std::collections::BTreeMap<String, String>>>,
) -> Vec<(String, String)> {
    sortby
        .into_iter()
        .flatten()
        .map(|clause| {
            (
                clause.get("field").cloned().unwrap_or_default(),
                clause
                    .get("direction")
                    .cloned()
                    .unwrap_or_else(|| "asc".to_owned()),
            )
        })
        .collect()
}

/// The [`Common`] filters of `items.search` and `items.search_org`, whose inputs are two
/// generated types with the same members.
macro_rules! filters_of {
    ($input:expr) => {
        Common {
            bbox: $input.bbox.as_deref(),
            datetime: $input.datetime.as_deref(),
            collections: $input.collections.as_ref(),
            item_type: $input.r#type.map(|t| t.to_string()),
            query: $input.query.as_ref(),
            sortby: sort_pairs($input.sortby.as_ref()),
            format: $input.format.as_deref(),
        }
    };
}

pub(crate) fn search(ctx: &Ctx<'_>, input: ProjectItemSearchInput) -> Outcome {
    let filter = read(filters_of!(input))?;
    let inner = ctx.lock_org();
    inner
        .resources
        .get(Family::Project, ctx.org, None, &input.project_id)?;
    let found = matching(&inner.resources, ctx.org, Some(&input.project_id), &filter);
    let base = input.base_url.as_deref().unwrap_or(&ctx.shared.base_url);
    Ok(ctx.ok(&collection_page(
        ctx,
        found,
        (input.limit, MAX_PAGE_SIZE),
        input.offset,
        base,
    )?))
}

pub(crate) fn search_org(ctx: &Ctx<'_>, input: OrgItemSearchInput) -> Outcome {
    let filter = read(filters_of!(input))?;
    let inner = ctx.lock_org();
    let found = matching(&inner.resources, ctx.org, None, &filter);
    let base = input.base_url.as_deref().unwrap_or(&ctx.shared.base_url);
    Ok(ctx.ok(&collection_page(
        ctx,
        found,
        (input.limit, MAX_PAGE_SIZE),
        input.offset,
        base,
    )?))
}

/// The largest `limit` of a `stac.search` page: the contract's own maximum for it, as a
/// client may ask for that many and reads a shorter page as the last. The work stays bounded:
/// an organization holds at most [`MAX_PER_ORG`](crate::resources::MAX_PER_ORG) items.
pub(crate) fn stac_page_limit() -> i64 {
    page_limit(&geopera_types::schemas::SEARCH_INPUT)
}

/// The largest `limit` the contract lets a search of `schema` ask for, read from the generated
/// schema so the two cannot drift; [`MAX_PAGE_SIZE`] only if the contract ever drops the bound.
pub(crate) fn page_limit(schema: &geopera_types::Schema) -> i64 {
    schema
        .number_bounds("limit")
        .and_then(|bounds| bounds.maximum)
        .map_or(MAX_PAGE_SIZE, |maximum| maximum as i64)
}

/// The STAC API item search over the organization's items, paged by `page` (from 1) and
/// `limit` (up to [`stac_page_limit`]).
pub(crate) fn stac_search(ctx: &Ctx<'_>, input: SearchInput) -> Outcome {
    if input.filter.is_some() {
        return Err(ApiError::invalid(
            &["filter"],
            "the emulator does not evaluate CQL2 filters; use bbox, datetime, ids or collections",
        ));
    }
    bbox_or_intersects(input.bbox.is_some(), input.intersects.is_some())?;
    let around = input
        .intersects
        .as_ref()
        .map(|geometry| read_intersects(&Value::Object(geometry.clone())))
        .transpose()?;
    let sortby: Vec<(String, String)> = input
        .sortby
        .iter()
        .flatten()
        .map(|clause| (clause.field.clone(), clause.direction.clone()))
        .collect();
    let mut filter = read(Common {
        bbox: input.bbox.as_deref(),
        datetime: input.datetime.as_deref(),
        collections: input.collections.as_ref(),
        item_type: None,
        query: None,
        sortby,
        format: None,
    })?;
    filter.ids = input
        .ids
        .as_ref()
        .map(|listed| listed.iter().cloned().collect());
    if let Some(around) = around {
        filter.bbox = Some(around);
    }
    let inner = ctx.lock_org();
    let found = matching(&inner.resources, ctx.org, None, &filter);
    let max = stac_page_limit();
    let limit = input.limit.clamp(1, max);
    let offset = (input.page.max(1) - 1).saturating_mul(limit);
    let base = if input.base_url.is_empty() {
        ctx.shared.base_url.as_str()
    } else {
        input.base_url.as_str()
    };
    let mut answer = collection_page(ctx, found, (limit, max), offset, base)?;
    answer["context"] = json!({
        "page": input.page.max(1),
        "limit": limit,
        "matched": answer["numberMatched"],
        "returned": answer["numberReturned"],
    });
    let mut reply = ctx.ok(&answer);
    reply.content_type = "application/geo+json";
    Ok(reply)
}

/// The organization's collections as STAC collections.
pub(crate) fn stac_collections(ctx: &Ctx<'_>, input: StacCollectionsInput) -> Outcome {
    let inner = ctx.lock_org();
    let base = input.base_url.trim_end_matches('/');
    let base = if base.is_empty() {
        ctx.shared.base_url.as_str()
    } else {
        base
    };
    let collections: Vec<Value> = inner
        .resources
        .list(Family::Collection, ctx.org, None)
        .into_iter()
        .map(|collection| {
            json!({
                "type": "Collection",
                "stac_version": "1.0.0",
                "id": collection.id,
                "title": collection.fields.get("name"),
                "description": collection.fields.get("description").cloned().filter(|d| !d.is_null()).unwrap_or(Value::from("")),
                "license": "proprietary",
                "extent": {"spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
                           "temporal": {"interval": [[null, null]]}},
                "links": [{"rel": "self", "type": "application/json",
                           "href": format!("{base}/collections/{}", collection.id)},
                          {"rel": "items", "type": "application/geo+json",
                           "href": format!("{base}/collections/{}/items", collection.id)}],
            })
        })
        .collect();
    Ok(ctx.ok(&json!({"collections": collections, "links": []})))
}

/// The matching items of the organization (in `project`, when named), sorted by the
/// filter's clauses (see [`sorted`]), else in creation order.
fn matching<'a>(
    resources: &'a crate::resources::Resources,
    org: &str,
    project: Option<&str>,
    filter: &Filter,
) -> Vec<&'a Resource> {
    let found: Vec<&Resource> = resources
        .list(Family::Item, org, project)
        .into_iter()
        .filter(|item| filter.matches(item))
        .collect();
    sorted(found, &filter.order)
}

/// `found` (in creation order) sorted by `order`, each clause deciding what the ones before
/// it left tied; `desc` turns a clause around. An item covering a span with no `datetime` sorts
/// at its `start_datetime`, as STAC API servers place it. Items with neither readable come
/// after the dated ones in either direction, as they have no place among them. The sort is
/// stable, so what every clause leaves tied stays in creation order.
fn sorted<'a>(found: Vec<&'a Resource>, order: &[(SortKey, bool)]) -> Vec<&'a Resource> {
    if order.is_empty() {
        return found;
    }
    // (creation position, instant): each item's datetime is parsed once, not per comparison.
    let mut keyed: Vec<(usize, Option<Instant>, &Resource)> = found
        .into_iter()
        .enumerate()
        .map(|(position, item)| {
            let at = ["datetime", "start_datetime"]
                .into_iter()
                .find_map(|name| item.str(name).and_then(parse_date_time_nanos));
            (position, at, item)
        })
        .collect();
    keyed.sort_by(|a, b| {
        order
            .iter()
            .map(|&(key, descending)| {
                let turn = |ordering: Ordering| {
                    if descending {
                        ordering.reverse()
                    } else {
                        ordering
                    }
                };
                match key {
                    SortKey::Created => turn(a.0.cmp(&b.0)),
                    SortKey::Datetime => match (a.1, b.1) {
                        (Some(x), Some(y)) => turn(x.cmp(&y)),
                        (Some(_), None) => Ordering::Less,
                        (None, Some(_)) => Ordering::Greater,
                        (None, None) => Ordering::Equal,
                    },
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    keyed.into_iter().map(|(_, _, item)| item).collect()
}

/// One page of `found` as a FeatureCollection; `limit` is the page size asked for and the
/// largest one the operation answers.
///
/// # Errors
/// As [`stac_feature`].
fn collection_page(
    ctx: &Ctx<'_>,
    found: Vec<&Resource>,
    (limit, max): (i64, i64),
    offset: i64,
    base: &str,
) -> Result<Value, ApiError> {
    let (items, _, _, total) = page(found, limit, offset, max);
    let features: Vec<Value> = items
        .into_iter()
        .map(|item| stac_feature(ctx, item, base))
        .collect::<Result<_, _>>()?;
    Ok(json!({
        "type": "FeatureCollection",
        "numberMatched": total,
        "numberReturned": features.len(),
        "features": features,
    }))
}

#[cfg(test)]
#[path = "item_search_tests.rs"]
mod tests;
