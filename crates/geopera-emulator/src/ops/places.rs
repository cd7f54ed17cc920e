//! The places given to operations that answer samples: they compute nothing from them, yet a
//! `bbox` or a geometry there is held to the rules the searches and items keep, as the API
//! refuses a place off the globe whatever it then computes.
//!
//! `catalog.granule_points` takes its `bbox` as the searches read one ([`read_bbox`]) and its
//! `clip_polygon` as an area ([`read_polygons`]); `cog.statistics` its `geometry` as an item's
//! ([`read_geometry`]). The contract types the `bbox` of `analytics.band_math` and
//! `analytics.calculate_index` as an object with no members named, so only the edges it
//! names are checked ([`read_edges`]).

use geopera_types::operations as op;
use geopera_types::Operation;
use serde_json::Value;

use crate::catalog::{read_bbox, read_geometry, read_polygons};
use crate::error::ApiError;

/// A check of a schema-valid body.
type Check = fn(&Value) -> Result<(), ApiError>;

/// The operations answering samples whose places are checked, with their checks.
const CHECKS: &[(&str, Check)] = &[
    (op::CatalogGranulePoints::INFO.id, granule_points),
    (op::AnalyticsBandMath::INFO.id, edges_of_bbox),
    (op::AnalyticsCalculateIndex::INFO.id, edges_of_bbox),
    (op::CogStatistics::INFO.id, cog_statistics),
];

/// Checks the places in the body of `operation_id`, an operation answering a sample.
///
/// # Errors
/// 422 at the field whose place breaks its rule.
pub(crate) fn check(operation_id: &str, body: &Value) -> Result<(), ApiError> {
    CHECKS
        .iter()
        .find(|(id, _)| *id == operation_id)
        .map_or(Ok(()), |(_, check)| check(body))
}

fn granule_points(body: &Value) -> Result<(), ApiError> {
    let numbers: Vec<f64> = body
        .get("bbox")
        .and_then(Value::as_array)
        .and_then(|numbers| numbers.iter().map(Value::as_f64).collect())
        .unwrap_or_default();
    read_bbox(&numbers)?;
    if let Some(polygon) = body.get("clip_polygon").filter(|value| !value.is_null()) {
        read_polygons(polygon).map_err(|message| ApiError::invalid(&["clip_polygon"], message))?;
    }
    Ok(())
}

fn edges_of_bbox(body: &Value) -> Result<(), ApiError> {
    body.get("bbox").map_or(Ok(()), read_edges)
}

fn cog_statistics(body: &Value) -> Result<(), ApiError> {
    let geometry = body.get("geometry").unwrap_or(&Value::Null);
    read_geometry(geometry).map_err(|message| ApiError::invalid(&["geometry"], message))
}

/// The edges of an object `bbox`, by the names the contract gives a bbox's numbers
/// (`catalog.granule_points`: west, south, east, north).
const EDGES: [&str; 4] = ["west", "south", "east", "north"];

/// Reads an object `bbox` by the edges it names: one naming none of [`EDGES`] says nothing
/// the emulator can check and is let be; one naming any must name all four as numbers,
/// which are held to the rule of a `bbox` of numbers ([`read_bbox`]).
///
/// # Errors
/// 422 at `bbox`.
fn read_edges(bbox: &Value) -> Result<(), ApiError> {
    if !EDGES.iter().any(|edge| bbox.get(edge).is_some()) {
        return Ok(());
    }
    let numbers: Option<Vec<f64>> = EDGES
        .iter()
        .map(|edge| bbox.get(edge).and_then(Value::as_f64))
        .collect();
    let Some(numbers) = numbers else {
        return Err(ApiError::invalid(
            &["bbox"],
            "a bbox that names its edges names all four, west, south, east and north, as numbers",
        ));
    };
    read_bbox(&numbers).map(drop)
}
