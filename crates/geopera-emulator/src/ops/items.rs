//! `items.*`: the items of an organization's projects, kept in [`crate::resources`] with
//! their project as parent and their collection, if any, in the `collection_id` field (which
//! `collections.*` counts). An item's `bbox` and `geometry` are checked as the searches check
//! what they are given, since the searches match items by them.
//!
//! A new organization starts with a default project of 300 items ([`crate::starter`]) so
//! that paging can be exercised at once. An item's one asset, `data`, is derived from the
//! item rather than stored, since nothing in the emulator uploads files; only the band names
//! `items.set_asset_band_names` gives it are kept. `items.duplicate` copies them, and the
//! item's visualization profiles, to the copy. `items.list_expiring` and
//! `items.expire_batch` (the retention cron's system-wide operations) still answer samples:
//! nothing in the emulator expires.

use geopera_types::models::{
    AssetDeleteInput, AssetDownloadInput, DetectBandsInput, ItemAssetsInput, ItemCreateInput,
    ItemDeleteInput, ItemDuplicateInput, ItemGetInput, ItemLineageInput, ItemStacInput,
    ItemUpdateInput, ItemsByCollectionInput, ItemsListInput, SetBandNamesInput,
};
use geopera_types::rfc3339::format_date_time;
use geopera_types::JsonObject;
use serde_json::{json, Map, Value};

use super::projects::{require_role, Role};
use super::{trimmed_name, Ctx, Outcome, MAX_PAGE_SIZE};
use crate::catalog::{read_bbox, read_geometry};
use crate::error::ApiError;
use crate::resources::{page, Family, Resource, Resources, MAX_PER_ORG};
use crate::storage;

/// Where band names given to assets are kept; not part of the item as answered.
const BAND_NAMES: &str = "asset_band_names";
/// The key of the one asset every item has.
const DATA_ASSET: &str = "data";
/// The field marking the `data` asset deleted.
const ASSET_DELETED: &str = "data_asset_deleted";
/// How far `items.lineage` follows `duplicated_from_id`, as a guard against cycles.
const MAX_LINEAGE: usize = 100;

/// An item's fields as stored, from what `items.create` was given; `stac_id` is `null` unless
/// given, for the caller to set to the item's id once it has one.
pub(crate) fn item_fields(input: &ItemCreateInput) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut put = |name: &str, value: Value| {
        fields.insert(name.to_owned(), value);
    };
    put("project_id", Value::from(input.project_id.as_str()));
    put("collection_id", json!(input.collection_id));
    put("stac_id", json!(input.stac_id));
    put("type", Value::from(input.r#type.as_str()));
    put("geometry", json!(input.geometry));
    put("bbox", json!(input.bbox));
    put("datetime", json!(input.datetime));
    put("start_datetime", json!(input.start_datetime));
    put("end_datetime", json!(input.end_datetime));
    put("cloud_cover", json!(input.cloud_cover));
    put("gsd", json!(input.gsd));
    put("name", Value::from(input.name.trim()));
    put("description", json!(input.description));
    put(
        "properties",
        json!(input.properties.clone().unwrap_or_default()),
    );
    put(
        "stac_extensions",
        json!(input.stac_extensions.clone().unwrap_or_default()),
    );
    put("lifecycle_state", Value::from("active"));
    for empty in [
        "expires_at",
        "archived_at",
        "previous_version_id",
        "duplicated_from_id",
        "deleted_at",
        "created_by",
    ] {
        put(empty, Value::Null);
    }
    put("order_id", json!(input.order_id));
    put("upload_id", json!(input.upload_id));
    put("job_id", json!(input.job_id));
    fields
}

pub(crate) fn create(ctx: &Ctx<'_>, input: ItemCreateInput) -> Outcome {
    trimmed_name(&input.name, "name")?;
    item_place(input.bbox.as_deref(), input.geometry.as_ref())?;
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    require_role(ctx, &inner.resources, &input.project_id, Role::Editor)?;
    if let Some(collection) = &input.collection_id {
        collection_in(&inner.resources, ctx.org, &input.project_id, collection)?;
    }
    let fields = item_fields(&input);
    let item = inner.resources.create(
        &mut inner.rng,
        Family::Item,
        ctx.org,
        Some(&input.project_id),
        now,
        fields,
    )?;
    // `create` minted its own id; the stac id follows it unless one was given.
    if input.stac_id.is_none() {
        let own = item.id.clone();
        item.set("stac_id", Some(own));
    }
    Ok(ctx.ok(&item_json(item)))
}

pub(crate) fn get(ctx: &Ctx<'_>, input: ItemGetInput) -> Outcome {
    let inner = ctx.lock_org();
    let item = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    Ok(ctx.ok(&json!({"item": item_json(item)})))
}

/// Changes the fields sent; a `collection_id` must name a collection of the item's project
/// (the contract cannot tell "not sent" from `null`, so an item leaves its collection only
/// when the collection is deleted).
pub(crate) fn update(ctx: &Ctx<'_>, input: ItemUpdateInput) -> Outcome {
    let name = input
        .name
        .as_deref()
        .map(|name| trimmed_name(name, "name"))
        .transpose()?;
    item_place(input.bbox.as_deref(), input.geometry.as_ref())?;
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let project = project_of(&inner.resources, ctx.org, &input.item_id)?;
    require_role(ctx, &inner.resources, &project, Role::Editor)?;
    if let Some(collection) = &input.collection_id {
        collection_in(&inner.resources, ctx.org, &project, collection)?;
    }
    let item = inner
        .resources
        .get_mut(Family::Item, ctx.org, None, &input.item_id)?;
    item.set("collection_id", input.collection_id);
    item.set("name", name);
    item.set("description", input.description);
    // A geometry moved without a box of its own leaves the old box behind, which no longer
    // bounds it: the item would be found where it was, and missed where it is. It is dropped,
    // and the searches read the geometry's own boxes.
    let moved_unboxed = input.geometry.is_some() && input.bbox.is_none();
    item.set("geometry", input.geometry);
    item.set("bbox", input.bbox);
    if moved_unboxed {
        item.set("bbox", Some(Value::Null));
    }
    item.set("datetime", input.datetime);
    item.set("cloud_cover", input.cloud_cover);
    item.set("gsd", input.gsd);
    item.set("properties", input.properties);
    item.set(
        "lifecycle_state",
        input.lifecycle_state.map(|s| s.as_str().to_owned()),
    );
    item.updated_at = now;
    Ok(ctx.ok(&item_json(item)))
}

/// Deletes the item and its visualization profiles.
pub(crate) fn delete(ctx: &Ctx<'_>, input: ItemDeleteInput) -> Outcome {
    let mut inner = ctx.lock_org();
    let project = project_of(&inner.resources, ctx.org, &input.item_id)?;
    require_role(ctx, &inner.resources, &project, Role::Editor)?;
    let removed = inner
        .resources
        .remove(Family::Item, ctx.org, None, &input.item_id)?;
    inner
        .resources
        .remove_children(Family::VisualizationProfile, ctx.org, &removed.id);
    Ok(ctx.ok(&json!({"ok": true, "id": removed.id})))
}

/// A project's items, oldest first, optionally only those of one collection or only those
/// in none (`uncollected` wins over `collection_id`).
pub(crate) fn list(ctx: &Ctx<'_>, input: ItemsListInput) -> Outcome {
    let inner = ctx.lock_org();
    inner
        .resources
        .get(Family::Project, ctx.org, None, &input.project_id)?;
    let wanted = match (&input.collection_id, input.uncollected) {
        (_, true) => Some(None),
        (Some(collection), false) => {
            collection_in(&inner.resources, ctx.org, &input.project_id, collection)?;
            Some(Some(collection.as_str()))
        }
        (None, false) => None,
    };
    let all: Vec<&Resource> = inner
        .resources
        .list(Family::Item, ctx.org, Some(&input.project_id))
        .into_iter()
        .filter(|item| wanted.is_none_or(|w| item.str("collection_id") == w))
        .collect();
    Ok(ctx.ok(&paged(all, input.limit, input.offset)))
}

pub(crate) fn list_by_collection(ctx: &Ctx<'_>, input: ItemsByCollectionInput) -> Outcome {
    let inner = ctx.lock_org();
    inner
        .resources
        .get(Family::Collection, ctx.org, None, &input.collection_id)?;
    let wanted = Some(input.collection_id.as_str());
    let all: Vec<&Resource> = inner
        .resources
        .list(Family::Item, ctx.org, None)
        .into_iter()
        .filter(|item| item.str("collection_id") == wanted)
        .collect();
    Ok(ctx.ok(&paged(all, input.limit, input.offset)))
}

pub(crate) fn list_assets(ctx: &Ctx<'_>, input: ItemAssetsInput) -> Outcome {
    let inner = ctx.lock_org();
    let item = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    let assets: Vec<Value> = if asset_deleted(item) {
        Vec::new()
    } else {
        vec![data_asset(ctx, item)?]
    };
    Ok(ctx.ok(&json!({"item_id": item.id, "total": assets.len(), "assets": assets})))
}

pub(crate) fn set_asset_band_names(ctx: &Ctx<'_>, input: SetBandNamesInput) -> Outcome {
    if input.band_names.iter().any(|b| b.trim().is_empty()) {
        return Err(ApiError::invalid(
            &["band_names"],
            "band names must not be empty",
        ));
    }
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let project = project_of(&inner.resources, ctx.org, &input.item_id)?;
    // "Project member access", the contract says, where its other item changes need an
    // editor: naming the bands is open to a viewer too.
    require_role(ctx, &inner.resources, &project, Role::Viewer)?;
    let item = inner
        .resources
        .get_mut(Family::Item, ctx.org, None, &input.item_id)?;
    check_asset(item, &input.asset_id)?;
    let mut names = item
        .fields
        .get(BAND_NAMES)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    names.insert(input.asset_id.clone(), json!(input.band_names));
    item.set(BAND_NAMES, Some(Value::Object(names)));
    item.updated_at = now;
    Ok(ctx.ok(&data_asset(ctx, item)?))
}

/// The item as a STAC 1.0.0 Feature, answered as `application/geo+json`.
pub(crate) fn get_stac(ctx: &Ctx<'_>, input: ItemStacInput) -> Outcome {
    let inner = ctx.lock_org();
    let item = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    let base = input.base_url.as_deref().unwrap_or(&ctx.shared.base_url);
    let feature = stac_feature(ctx, item, base)?;
    let mut reply = ctx.ok(&feature);
    reply.content_type = "application/geo+json";
    Ok(reply)
}

/// The item as a STAC 1.0.0 Feature whose links start at `base`; its asset's `href` is a
/// download link, as [`data_asset`] gives it.
///
/// # Errors
/// 500 when the emulator's base URL cannot take a path, which a running emulator's always can.
pub(crate) fn stac_feature(ctx: &Ctx<'_>, item: &Resource, base: &str) -> Result<Value, ApiError> {
    let base = base.trim_end_matches('/');
    let field = |name: &str| item.fields.get(name).cloned().unwrap_or(Value::Null);
    let mut properties = item
        .fields
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (stac, ours) in [
        ("datetime", "datetime"),
        ("start_datetime", "start_datetime"),
        ("end_datetime", "end_datetime"),
        ("eo:cloud_cover", "cloud_cover"),
        ("gsd", "gsd"),
        ("title", "name"),
        ("description", "description"),
    ] {
        let value = field(ours);
        if !value.is_null() || stac == "datetime" {
            properties.insert(stac.to_owned(), value);
        }
    }
    properties.insert("created".to_owned(), item.to_json()["created_at"].clone());
    properties.insert("updated".to_owned(), item.to_json()["updated_at"].clone());
    // Served by `crate::stac_links`, which a STAC client reaches with GET.
    let collection = item.str("collection_id");
    let self_href = match collection {
        Some(collection) => format!("{base}/collections/{collection}/items/{}", item.id),
        None => format!("{base}/items/{}", item.id),
    };
    let mut links = vec![json!({"rel": "self", "href": self_href, "type": "application/geo+json"})];
    if let Some(collection) = collection {
        links.push(json!({"rel": "collection", "href": format!("{base}/collections/{collection}"), "type": "application/json"}));
    }
    let assets = if asset_deleted(item) {
        json!({})
    } else {
        let mut asset = data_asset(ctx, item)?;
        // The key names it in `assets`; its `id` stays, which the asset operations take.
        if let Some(map) = asset.as_object_mut() {
            map.remove("key");
        }
        json!({DATA_ASSET: asset})
    };
    let mut feature = json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": field("stac_extensions"),
        "id": field("stac_id"),
        "geometry": field("geometry"),
        "properties": properties,
        "links": links,
        "assets": assets,
    });
    // STAC 1.0.0 wants a `bbox` with a geometry and none without, and `collection` a string
    // when given: an item whose geometry changed without its box (`items.update`) gets the
    // box of its geometry, and an item of no collection names none.
    let geometry = field("geometry");
    if let Some(map) = feature.as_object_mut() {
        if !geometry.is_null() {
            let bbox = match field("bbox") {
                Value::Null => {
                    crate::catalog::geometry_bbox(&geometry).map_or(Value::Null, |b| json!(b))
                }
                given => given,
            };
            if !bbox.is_null() {
                map.insert("bbox".to_owned(), bbox);
            }
        }
        if let Some(collection) = collection {
            map.insert("collection".to_owned(), json!(collection));
        }
    }
    Ok(feature)
}

/// A copy of the item, by default in the same project and collection, that names its source
/// in `duplicated_from_id`.
pub(crate) fn duplicate(ctx: &Ctx<'_>, input: ItemDuplicateInput) -> Outcome {
    let name = input
        .new_name
        .as_deref()
        .map(|name| trimmed_name(name, "new_name"))
        .transpose()?;
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let inner = &mut *inner;
    let source = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?
        .clone();
    let source_project = source.str("project_id").unwrap_or_default();
    let project = input.target_project_id.as_deref().unwrap_or(source_project);
    require_role(ctx, &inner.resources, source_project, Role::Editor)?;
    require_role(ctx, &inner.resources, project, Role::Editor)?;
    let collection = match &input.target_collection_id {
        Some(wanted) => {
            collection_in(&inner.resources, ctx.org, project, wanted)?;
            Some(wanted.as_str())
        }
        None if project == source_project => source.str("collection_id"),
        None => None,
    };
    // The copy is as large as its source, however few bytes the request naming it sends.
    storage::admit_copy(inner, ctx.org, storage::json_len(&source))?;
    // Its visualization profiles come with it, so all of them must fit before anything is
    // made: a copy left without them would be half made.
    let profiles: Vec<Resource> = inner
        .resources
        .list(Family::VisualizationProfile, ctx.org, Some(&source.id))
        .into_iter()
        .cloned()
        .collect();
    let held = inner.resources.count(Family::VisualizationProfile, ctx.org);
    if held.saturating_add(profiles.len()) > MAX_PER_ORG {
        return Err(ApiError::invalid(
            &["item_id"],
            format!(
                "the item's {} visualization profiles would pass the organization's bound of \
                 {MAX_PER_ORG}; delete some first",
                profiles.len()
            ),
        ));
    }
    let mut fields = source.fields.clone();
    // Band names are kept by asset id, which is the item's: the copy's data asset takes the
    // source's under its own id below.
    let band_names = fields
        .remove(BAND_NAMES)
        .and_then(|names| names.get(asset_id(&source.id)).cloned());
    fields.insert("project_id".to_owned(), Value::from(project));
    fields.insert("collection_id".to_owned(), json!(collection));
    let name = name.unwrap_or_else(|| format!("{} (copy)", source.str("name").unwrap_or_default()));
    fields.insert("name".to_owned(), Value::from(name));
    fields.insert(
        "duplicated_from_id".to_owned(),
        Value::from(source.id.as_str()),
    );
    fields.insert("lifecycle_state".to_owned(), Value::from("active"));
    let copy = inner.resources.create(
        &mut inner.rng,
        Family::Item,
        ctx.org,
        Some(project),
        now,
        fields,
    )?;
    let own = copy.id.clone();
    copy.set("stac_id", Some(own.clone()));
    if let Some(names) = band_names {
        copy.set(BAND_NAMES, Some(json!({ asset_id(&own): names })));
    }
    for profile in profiles {
        let mut fields = profile.fields;
        fields.insert("item_id".to_owned(), Value::from(own.as_str()));
        inner.resources.create(
            &mut inner.rng,
            Family::VisualizationProfile,
            ctx.org,
            Some(&own),
            now,
            fields,
        )?;
    }
    let copy = inner.resources.get(Family::Item, ctx.org, None, &own)?;
    Ok(ctx.ok(&item_json(copy)))
}

/// Where the item came from (following `duplicated_from_id` and `previous_version_id`,
/// nearest first) and the items copied from it.
pub(crate) fn lineage(ctx: &Ctx<'_>, input: ItemLineageInput) -> Outcome {
    let inner = ctx.lock_org();
    let item = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    let source_of = |item: &Resource| {
        item.str("duplicated_from_id")
            .or_else(|| item.str("previous_version_id"))
            .map(str::to_owned)
    };
    let mut ancestors = Vec::new();
    let mut next = source_of(item);
    while let Some(id) = next.take() {
        if ancestors.len() >= MAX_LINEAGE {
            break;
        }
        match inner.resources.get(Family::Item, ctx.org, None, &id) {
            Ok(parent) => {
                ancestors.push(lineage_entry(parent));
                next = source_of(parent);
            }
            // The source was deleted: the chain ends with its id alone.
            Err(_) => ancestors.push(json!({"id": id, "deleted": true})),
        }
    }
    let descendants: Vec<Value> = inner
        .resources
        .list(Family::Item, ctx.org, None)
        .into_iter()
        .filter(|other| source_of(other).as_deref() == Some(item.id.as_str()))
        .map(lineage_entry)
        .collect();
    Ok(ctx.ok(&json!({
        "item_id": item.id,
        "ancestors": ancestors,
        "descendants": descendants,
    })))
}

fn lineage_entry(item: &Resource) -> Value {
    json!({
        "id": item.id,
        "name": item.str("name"),
        "project_id": item.str("project_id"),
        "type": item.str("type"),
        "created_at": item.to_json()["created_at"],
    })
}

/// The project an item of the organization is in.
///
/// # Errors
/// 404 for an unknown item, or one of another organization.
pub(super) fn project_of(resources: &Resources, org: &str, item: &str) -> Result<String, ApiError> {
    Ok(resources
        .get(Family::Item, org, None, item)?
        .str("project_id")
        .unwrap_or_default()
        .to_owned())
}

/// An item as answered: without what the emulator keeps for itself (its assets' band names,
/// which `items.list_assets` answers; whether its data asset was deleted).
pub(crate) fn item_json(item: &Resource) -> Value {
    let mut out = item.to_json();
    if let Some(map) = out.as_object_mut() {
        map.remove(BAND_NAMES);
        map.remove(ASSET_DELETED);
    }
    out
}

/// One page of items as `items.list` answers it.
fn paged(all: Vec<&Resource>, limit: i64, offset: i64) -> Value {
    // Unbounded in the contract, so clamped here as for `orders.list`.
    let (items, limit, offset, total) = page(all, limit, offset, MAX_PAGE_SIZE);
    let items: Vec<Value> = items.into_iter().map(item_json).collect();
    json!({"items": items, "total": total, "limit": limit, "offset": offset})
}

/// The collection, when it belongs to `project`.
///
/// # Errors
/// 404 otherwise, as for any record of another project or organization.
fn collection_in<'a>(
    resources: &'a Resources,
    org: &str,
    project: &str,
    collection: &str,
) -> Result<&'a Resource, ApiError> {
    resources.get(Family::Collection, org, Some(project), collection)
}

/// An item's `bbox` is read as the searches read the boxes they are given ([`read_bbox`]),
/// and its `geometry` must be a GeoJSON geometry on the globe ([`read_geometry`]): the
/// searches match items by them and TileJSON answers the box as its bounds, so one off the
/// globe would be kept only to mislead them.
///
/// # Errors
/// 422 at `bbox` or `geometry`, saying which rule it breaks.
fn item_place(bbox: Option<&[f64]>, geometry: Option<&JsonObject>) -> Result<(), ApiError> {
    if let Some(bbox) = bbox {
        read_bbox(bbox)?;
    }
    if let Some(geometry) = geometry {
        read_geometry(&Value::Object(geometry.clone()))
            .map_err(|message| ApiError::invalid(&["geometry"], message))?;
    }
    Ok(())
}

/// Whether `assets.delete` removed the item's `data` asset.
pub(crate) fn asset_deleted(item: &Resource) -> bool {
    item.fields
        .get(ASSET_DELETED)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// That `asset` is the item's live `data` asset.
///
/// # Errors
/// 404 for any other id, and once the asset is deleted.
fn check_asset(item: &Resource, asset: &str) -> Result<(), ApiError> {
    if asset != asset_id(&item.id) || asset_deleted(item) {
        return Err(ApiError::not_found(format!(
            "asset '{asset}' not found on item '{}'",
            item.id
        )));
    }
    Ok(())
}

/// A short-lived download descriptor for the asset, never its bytes.
pub(crate) fn download_asset(ctx: &Ctx<'_>, input: AssetDownloadInput) -> Outcome {
    let now = ctx.now();
    let inner = ctx.lock_org();
    let item = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    check_asset(item, &input.asset_id)?;
    let (url, expires) = data_link(ctx, item, now)?;
    Ok(ctx.ok(&json!({
        "item_id": item.id,
        "asset_id": input.asset_id,
        "url": url,
        "expires_at": format_date_time(expires),
        "media_type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "file_name": format!("{}_{DATA_ASSET}.tif", item.id),
    })))
}

/// Removes the item's `data` asset; the item stays.
pub(crate) fn delete_asset(ctx: &Ctx<'_>, input: AssetDeleteInput) -> Outcome {
    let now = ctx.now();
    let mut inner = ctx.lock_org();
    let project = project_of(&inner.resources, ctx.org, &input.item_id)?;
    require_role(ctx, &inner.resources, &project, Role::Editor)?;
    let item = inner
        .resources
        .get_mut(Family::Item, ctx.org, None, &input.item_id)?;
    check_asset(item, &input.asset_id)?;
    item.set(ASSET_DELETED, Some(true));
    item.updated_at = now;
    Ok(ctx.ok(&json!({"id": input.asset_id, "deleted": true})))
}

/// Band names for the asset from what the item says about its sensor: four bands for
/// sub-metre imagery, the common multispectral set otherwise.
pub(crate) fn detect_bands(ctx: &Ctx<'_>, input: DetectBandsInput) -> Outcome {
    let inner = ctx.lock_org();
    let item = inner
        .resources
        .get(Family::Item, ctx.org, None, &input.item_id)?;
    check_asset(item, &input.asset_id)?;
    let fine = item
        .fields
        .get("gsd")
        .and_then(Value::as_f64)
        .is_some_and(|gsd| gsd <= 1.0);
    let suggested: &[&str] = if fine {
        &["red", "green", "blue", "nir"]
    } else {
        &["blue", "green", "red", "nir", "swir16", "swir22"]
    };
    let current = item
        .fields
        .get(BAND_NAMES)
        .and_then(|names| names.get(&input.asset_id))
        .cloned()
        .unwrap_or_else(|| json!([]));
    Ok(ctx.ok(&json!({
        "suggested_band_names": suggested,
        "current_band_names": current,
        "method": if fine { "resolution" } else { "multispectral-default" },
    })))
}

/// The id of the item's `data` asset.
fn asset_id(item: &str) -> String {
    let tail = item.split_once('_').map_or(item, |(_, tail)| tail);
    format!("ast_{tail}")
}

/// A signed link to the item's `data` file, valid from `now`, and when it expires: served
/// while the item and its asset last, to whoever holds the link, as the API's storage serves
/// it.
fn data_link(ctx: &Ctx<'_>, item: &Resource, now: i64) -> Result<(String, i64), ApiError> {
    let file = format!("{DATA_ASSET}.tif");
    ctx.shared
        .download_key
        .link(&ctx.shared.base_url, &["downloads", &item.id, &file], now)
}

/// The item's `data` asset as `items.list_assets` answers it. Its `href` is a download link
/// as `items.asset.download` hands out, so that what is listed can be fetched: the item's
/// file is the organization's, never served at a public path.
///
/// # Errors
/// 500 when the emulator's base URL cannot take a path, which a running emulator's always can.
fn data_asset(ctx: &Ctx<'_>, item: &Resource) -> Result<Value, ApiError> {
    let id = asset_id(&item.id);
    let band_names = item
        .fields
        .get(BAND_NAMES)
        .and_then(|names| names.get(&id))
        .cloned()
        .unwrap_or(Value::Null);
    let (href, _) = data_link(ctx, item, ctx.now())?;
    Ok(json!({
        "id": id,
        "item_id": item.id,
        "key": DATA_ASSET,
        "href": href,
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "roles": ["data"],
        "band_names": band_names,
    }))
}
